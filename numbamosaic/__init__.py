"""numbamosaic: fast, frugal reprojection and mosaicking with Numba kernels.

A drop-in for astropy reproject's API::

    from numbamosaic import reproject_interp, reproject_exact, reproject_adaptive
    from numbamosaic import reproject_and_coadd, find_optimal_celestial_wcs

Importing the package compiles nothing; kernels compile on first use and are
cached on disk (``numbamosaic.warmup()`` compiles them ahead of time).
"""

from . import _cache  # noqa: F401  (first: scopes Numba's cache for numbamosaic's functions, see _cache)
from ._version import __version__
from .adaptive import reproject_adaptive
from .exact import reproject_exact
from .interpolation import reproject_interp
from .mosaic import (
    MosaicMemoryError,
    MosaicPlan,
    MosaicProducts,
    find_optimal_celestial_wcs,
    mosaic_to_fits,
    plan_mosaic,
    reproject_and_coadd,
)


#: public names imported on first use (module relative to the package)
_LAZY = {
    "reproject_to_healpix": ".healpix",
    "reproject_from_healpix": ".healpix",
    "reproject_to_hips": ".hips",
    "mosaic_to_hips": ".hips",
    "reproject_from_hips": ".hips",
    "hips_as_dask_array": ".hips",
    "coadd_hips": ".hips",
    "warmup": "._warmup",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'numbamosaic' has no attribute {name!r}")


__all__ = [
    "reproject_interp",
    "reproject_exact",
    "reproject_adaptive",
    "reproject_and_coadd",
    "reproject_to_healpix",
    "reproject_from_healpix",
    "reproject_to_hips",
    "mosaic_to_hips",
    "reproject_from_hips",
    "hips_as_dask_array",
    "coadd_hips",
    "mosaic_to_fits",
    "warmup",
    "find_optimal_celestial_wcs",
    "plan_mosaic",
    "MosaicPlan",
    "MosaicMemoryError",
    "MosaicProducts",
    "__version__",
]
