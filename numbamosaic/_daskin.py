"""dask-array inputs: only the part of the input the output needs is computed.

reproject writes a dask input whole to a temporary memmap (``dask_method=
'memmap'``) or computes it whole (``'none'``).  Here the output's pixels
(its edges densely and an interior grid) are mapped into the input with
astropy, and only the input box they reach, grown by the resampling kernel's
reach, is computed; the WCS is sliced to that box (``WCS[y0:y1, x0:x1]``,
which moves CRPIX, so the native engine still applies).  When some output
samples have no input position (all-sky or limb images) the whole input is
computed.  Results equal those of the NumPy input to rounding in the input
pixel positions (the moved CRPIX).

dask is never imported here: arrays are recognised by their interface.
"""

import math

import numpy as np

from ._bbox import edge_samples
from .wcs._transform import _astropy_pixel_to_pixel

#: input pixels added around the mapped box (the widest interpolation stencil: Lanczos-3)
PAD = 4
#: output pixels of kernel reach added (times the input pixels per output pixel):
#: exact (one output pixel) and adaptive (its sampling region) reach that far
REACH = 4.0
#: interior sample grid (per axis) of the output
INTERIOR = 16


def is_dask_array(obj):
    """True for a dask array (duck-typed: ``.dask`` graph and ``.compute``)."""
    return hasattr(obj, "dask") and hasattr(obj, "compute") and hasattr(obj, "chunks") and not isinstance(obj, np.ndarray)


def _slice_wcs(wcs, y0, y1, x0, x1):
    from astropy.wcs import WCS
    from astropy.wcs.wcsapi import HighLevelWCSWrapper, SlicedLowLevelWCS

    if isinstance(wcs, WCS):
        return wcs[y0:y1, x0:x1]
    ll = getattr(wcs, "low_level_wcs", wcs)
    return HighLevelWCSWrapper(SlicedLowLevelWCS(ll, (slice(y0, y1), slice(x0, x1))))


def needed_box(wcs_in, wcs_out, shape_in, shape_out, reach=REACH):
    """Input box ``(y0, y1, x0, x1)`` the output can sample, or None for the whole input.

    ``reach``: extra input pixels per output pixel of kernel support (the
    adaptive and exact methods reach as far as an output pixel's footprint).
    """
    ny, nx = shape_out
    ex, ey = edge_samples((ny, nx))
    g = np.linspace(0.0, 1.0, INTERIOR)
    gy, gx = np.meshgrid(-0.5 + g * ny, -0.5 + g * nx, indexing="ij")
    x = np.concatenate([ex, gx.ravel()])
    y = np.concatenate([ey, gy.ravel()])
    xi, yi = _astropy_pixel_to_pixel(wcs_out, wcs_in, x, y, roundtrip=False)
    if not (np.all(np.isfinite(xi)) and np.all(np.isfinite(yi))):
        return None
    # input pixels per output pixel, from neighbouring samples of the first edge
    k = len(ex) // 4
    d = np.hypot(np.diff(xi[:k]), np.diff(yi[:k]))
    scale = float(np.max(d)) / (nx / (k - 1)) if d.size else 1.0
    pad = PAD + int(math.ceil(reach * max(1.0, scale)))
    nyi, nxi = shape_in[-2:]
    x0 = max(0, int(math.floor(xi.min())) - pad)
    x1 = min(nxi, int(math.ceil(xi.max())) + pad + 1)
    y0 = max(0, int(math.floor(yi.min())) - pad)
    y1 = min(nyi, int(math.ceil(yi.max())) + pad + 1)
    if x1 <= x0 or y1 <= y0:  # no overlap: one pixel keeps the shapes valid
        return (0, 1, 0, 1)
    return (y0, y1, x0, x1)


def materialise(array, wcs_in, wcs_out, shape_out, reach=REACH):
    """``(ndarray, wcs)``: the part of dask ``array`` the output needs, and its WCS.

    ``array`` may carry leading axes (a cube on a 2-D WCS): the box is cut
    from its last two axes, every plane kept.  ``wcs_in`` and ``wcs_out``
    are the 2-D WCS of the image planes, ``shape_out`` the output plane.
    """
    ny, nx = array.shape[-2:]
    box = needed_box(wcs_in, wcs_out, (ny, nx), shape_out, reach)
    if box is None or box == (0, ny, 0, nx):
        return np.asarray(array.compute()), wcs_in
    y0, y1, x0, x1 = box
    return np.asarray(array[..., y0:y1, x0:x1].compute()), _slice_wcs(wcs_in, y0, y1, x0, x1)
