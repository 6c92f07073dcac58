"""numbamosaic: fast, frugal reprojection and mosaicking with Numba kernels.

A drop-in for astropy reproject's API::

    from numbamosaic import reproject_interp, reproject_exact, reproject_adaptive
    from numbamosaic import reproject_and_coadd, find_optimal_celestial_wcs

Importing the package compiles nothing; kernels compile on first use and are
cached on disk.
"""

from . import _threads  # noqa: F401  (selects a thread-safe Numba threading layer)
from .interpolation import reproject_interp
from .mosaic import MosaicMemoryError, MosaicPlan, find_optimal_celestial_wcs, plan_mosaic, reproject_and_coadd

__version__ = "0.1.0"


def __getattr__(name):
    # reproject_exact / reproject_adaptive live in their own modules, imported on first use
    if name == "reproject_exact":
        from .exact import reproject_exact

        return reproject_exact
    if name == "reproject_adaptive":
        from .adaptive import reproject_adaptive

        return reproject_adaptive
    raise AttributeError(f"module 'numbamosaic' has no attribute {name!r}")


__all__ = [
    "reproject_interp",
    "reproject_exact",
    "reproject_adaptive",
    "reproject_and_coadd",
    "find_optimal_celestial_wcs",
    "plan_mosaic",
    "MosaicPlan",
    "MosaicMemoryError",
    "__version__",
]
