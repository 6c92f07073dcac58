"""Errors of the native WCS engine."""


class UnsupportedWCS(Exception):
    """The WCS cannot be evaluated natively; use the astropy fallback."""
