"""HEALPix maps: reproject's ``reproject_to_healpix`` / ``reproject_from_healpix``
on fused Numba kernels."""

from ._core import parse_coord_system, reproject_from_healpix, reproject_to_healpix

__all__ = ["reproject_to_healpix", "reproject_from_healpix", "parse_coord_system"]
