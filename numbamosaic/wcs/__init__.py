"""Native WCS engine: compile astropy WCS objects for Numba kernels.

Public pieces: :func:`describe_wcs`, :func:`build_transform`,
:class:`PixelTransform`, :class:`UnsupportedWCS`, and the vectorised helpers
:func:`native_pixel_to_world` / :func:`native_world_to_pixel`, and
:func:`check_wcs` (the sanity check every entry point runs).
"""

import numpy as np

from ._describe import NativeWCS, UnsupportedWCS, describe_wcs
from ._native import pixel_to_world_array, world_to_pixel_array
from ..io import check_wcs
from ._transform import PixelTransform, build_transform, frame_rotation, transform_and_bbox

__all__ = [
    "NativeWCS",
    "UnsupportedWCS",
    "check_wcs",
    "describe_wcs",
    "PixelTransform",
    "build_transform",
    "frame_rotation",
    "transform_and_bbox",
    "native_pixel_to_world",
    "native_world_to_pixel",
]


def native_pixel_to_world(native, x, y):
    """0-based pixel arrays -> (lon, lat) degrees with the native engine."""
    x = np.ascontiguousarray(x, dtype=float)
    y = np.ascontiguousarray(y, dtype=float)
    lon = np.empty_like(x)
    lat = np.empty_like(y)
    pixel_to_world_array(native.vector, x.ravel(), y.ravel(), lon.reshape(-1), lat.reshape(-1))
    return lon, lat


def native_world_to_pixel(native, lon, lat):
    """(lon, lat) degree arrays -> 0-based pixel arrays with the native engine."""
    lon = np.ascontiguousarray(lon, dtype=float)
    lat = np.ascontiguousarray(lat, dtype=float)
    x = np.empty_like(lon)
    y = np.empty_like(lat)
    world_to_pixel_array(native.vector, lon.ravel(), lat.ravel(), x.reshape(-1), y.reshape(-1))
    return x, y
