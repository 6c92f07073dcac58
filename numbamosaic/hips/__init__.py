"""HiPS generation: reproject's ``reproject_to_hips`` and a mosaic form
combining many inputs with numbamosaic's combine functions."""

from ._generate import coadd_hips, mosaic_to_hips, reproject_to_hips
from ._layout import load_properties, tile_header, tile_path
from ._read import hips_as_dask_array, reproject_from_hips
from ._update import update_hips

__all__ = ["coadd_hips", "reproject_to_hips", "mosaic_to_hips", "update_hips", "reproject_from_hips", "hips_as_dask_array", "load_properties", "tile_header", "tile_path"]
