"""Mosaic engine: planner, threaded tile driver, background matching, output WCS."""

from ._coadd import plan_mosaic, reproject_and_coadd
from ._optimal_wcs import find_optimal_celestial_wcs
from ._plan import MosaicMemoryError, MosaicPlan
from ._products import Context, MosaicProducts
from ._tofits import mosaic_to_fits

__all__ = ["reproject_and_coadd", "mosaic_to_fits", "plan_mosaic", "MosaicPlan", "MosaicMemoryError", "MosaicProducts", "Context", "find_optimal_celestial_wcs"]
