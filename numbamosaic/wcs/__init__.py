"""Native WCS engine: compile astropy WCS objects for Numba kernels.

Public pieces: :func:`describe_wcs`, :func:`build_transform`,
:class:`PixelTransform`, :class:`UnsupportedWCS`, and the vectorised helpers
:func:`native_pixel_to_world` / :func:`native_world_to_pixel`,
:func:`homography_flag` (the resampling kernels' ``hom`` literal), and
:func:`check_wcs` (the sanity check every entry point runs).
"""

import numpy as np

from ._describe import NativeWCS, UnsupportedWCS, describe_wcs
from ._native import homography_flag
from ._points import pixel_to_world_array, world_to_pixel_array
from ..io import check_wcs
from ._transform import PixelTransform, build_transform, frame_rotation, general_transform, transform_and_bbox

__all__ = [
    "NativeWCS",
    "UnsupportedWCS",
    "check_wcs",
    "describe_wcs",
    "PixelTransform",
    "build_transform",
    "frame_rotation",
    "general_transform",
    "homography_flag",
    "transform_and_bbox",
    "native_pixel_to_world",
    "native_world_to_pixel",
]


def native_pixel_to_world(native, x, y):
    """0-based pixel arrays -> (lon, lat) degrees with the native engine."""
    return _pairs(pixel_to_world_array, native, x, y)


def native_world_to_pixel(native, lon, lat):
    """(lon, lat) degree arrays -> 0-based pixel arrays with the native engine."""
    return _pairs(world_to_pixel_array, native, lon, lat)


def _pairs(kernel, native, a, b):
    """``kernel(vector, a, b, p, q)`` on float64 copies of the arrays ``a, b``; returns ``p, q`` of their shape."""
    a = np.ascontiguousarray(a, dtype=float)
    b = np.ascontiguousarray(b, dtype=float)
    p = np.empty_like(a)
    q = np.empty_like(b)
    kernel(native.vector, a.ravel(), b.ravel(), p.reshape(-1), q.reshape(-1))
    return p, q
