"""Mosaic engine: planner, threaded tile driver, background matching, output WCS."""

from ._coadd import plan_mosaic, reproject_and_coadd
from ._plan import MosaicMemoryError, MosaicPlan
from ._products import Context, MosaicProducts
from ._tofits import mosaic_to_fits


def find_optimal_celestial_wcs(*args, **kwargs):
    """Optimal output WCS and shape for a set of inputs (see ``_optimal_wcs``)."""
    from ._optimal_wcs import find_optimal_celestial_wcs as impl

    return impl(*args, **kwargs)


try:  # keep the real docstring when the module is present
    from ._optimal_wcs import find_optimal_celestial_wcs as _impl

    find_optimal_celestial_wcs.__doc__ = _impl.__doc__
    del _impl
except ImportError:  # pragma: no cover
    pass

__all__ = ["reproject_and_coadd", "mosaic_to_fits", "plan_mosaic", "MosaicPlan", "MosaicMemoryError", "MosaicProducts", "Context", "find_optimal_celestial_wcs"]
