"""numbamosaic: fast, frugal reprojection and mosaicking with Numba kernels.

A drop-in for astropy reproject's API::

    from numbamosaic import reproject_interp, reproject_exact, reproject_adaptive
    from numbamosaic import reproject_and_coadd, find_optimal_celestial_wcs

Importing the package compiles nothing; kernels compile on first use and are
cached on disk.
"""

from . import _threads  # noqa: F401  (selects a thread-safe Numba threading layer)
from .interpolation import reproject_interp

__version__ = "0.1.0"

__all__ = ["reproject_interp", "__version__"]
