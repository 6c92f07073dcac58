"""WCS sanity check shared by every entry point.

A WCS whose reference values are NaN, whose linear part is singular, or which
wcslib's ``wcsset`` rejects, makes every transform NaN: without a check the
result is an all-blank output and no error.  :func:`check_wcs` rejects such a
WCS up front with a ``ValueError`` naming the argument (input index and file).

References: Greisen & Calabretta 2002, A&A 395, 1061 (Paper I: CRPIXj,
PCi_j/CDi_j, CDELTi, CRVALi); wcslib's ``wcsset`` (Calabretta).
"""

import re

import numpy as np

_WCSLIB_LOCATION = re.compile(r"^ERROR \d+ in \w+\(\) at line \d+ of file .*:$")


def _wcslib_message(exc):
    """wcslib's explanation without its C file / line references."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    text = [ln.rstrip(".") for ln in lines if ln and not _WCSLIB_LOCATION.match(ln)]
    return "; ".join(dict.fromkeys(text)) or type(exc).__name__


def check_wcs(wcs, name):
    """Raise ``ValueError`` naming ``name`` unless ``wcs`` is usable.

    For an :class:`astropy.wcs.WCS` (also wrapped as a high-level WCS):
    ``wcsset`` must succeed, CRVAL, CRPIX and CDELT must be finite and the
    linear part (PC x CDELT or CD) of the celestial axes must be finite and
    invertible.  Other APE-14 WCS objects are not inspected (they have no
    such parameters).

    Parameters
    ----------
    wcs : astropy.wcs.WCS or APE-14 WCS
    name : str
        How the caller names the argument, e.g. ``"input_data[3] ('a.fits')"``.
    """
    from astropy.wcs import WCS

    w = wcs if isinstance(wcs, WCS) else getattr(wcs, "low_level_wcs", None)
    if not isinstance(w, WCS):
        return
    prm = w.wcs
    try:
        prm.set()
    except Exception as exc:  # wcslib errors (WcsError is a ValueError) and anything astropy raises
        raise ValueError(f"{name}: invalid WCS: {_wcslib_message(exc)}") from None
    checks = [("CRVAL", prm.crval), ("CRPIX", prm.crpix)]
    if not prm.has_cd():  # with CD, CDELT is ignored (and astropy warns when it is read)
        checks.append(("CDELT", prm.cdelt))
    for key, values in checks:
        values = np.asarray(values, dtype=float)
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{name}: invalid WCS: {key} must be finite, got {values.tolist()}")
    try:
        # a 2-axis WCS is its own image plane: its celestial sub-WCS (a deep copy, ~0.1 ms) would
        # hold the same matrix with rows and columns at most swapped, which changes neither its
        # finiteness, its largest element nor |det|
        cel = w if w.naxis == 2 or not w.has_celestial else w.celestial
        if cel.naxis != 2:
            return  # not a 2-D image plane here: the callers' axis checks report it
        m = np.asarray(cel.pixel_scale_matrix, dtype=float)
    except Exception as exc:
        raise ValueError(f"{name}: invalid WCS: {exc}") from None
    if m.shape != (2, 2) or not np.all(np.isfinite(m)):
        raise ValueError(f"{name}: invalid WCS: the linear part (CD, or PC x CDELT) must be a finite 2x2 matrix, got {m.tolist()}")
    scale = float(np.abs(m).max())
    det = float(m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])
    if scale == 0.0 or abs(det) <= 1e-12 * scale * scale:
        raise ValueError(
            f"{name}: invalid WCS: the linear part (CD, or PC x CDELT) {m.tolist()} is singular (determinant {det:.3g})"
        )
