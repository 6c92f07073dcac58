"""The propagated variance of single-image reprojections (``input_variance=``), by the product kernels.

``reproject_interp``, ``reproject_exact`` and ``reproject_adaptive`` take an
``input_variance`` map; after their own (unchanged) pass,
:func:`single_variance` runs the mosaics' product kernels
(:mod:`numbamosaic.kernels._products`) over the output box with the input
as a one-member mean: each output value's variance is ``sum_k c_k^2
sigma_k^2`` over its resampling coefficients ``c_k`` (drizzle's rule,
Fruchter & Hook 2002, PASP 114, 144).  Python drivers only; no kernels here.
"""

import numpy as np

from ._products import (
    F_SCALE, F_VSCALE, FLAG_NONE, I_BADBITS, I_FLAGMODE, I_FLUX, I_VTYPE, N_FP, N_IP, products_box, products_interp_tile,
)
from ._sinks import SINK_SUM, SINK_WRITE

def parse_input_variance(input_variance, data_shape, planes, return_type, name):
    """The ``input_variance`` of a single-image call as a float32 map (negative/non-finite -> inf), or None.

    Checked before any pixel work: an array (or HDU / NDData: its ``data``)
    of the input's shape; not for cubes nor ``return_type='dask'``.
    """
    if input_variance is None:
        return None
    if planes:
        raise NotImplementedError(f"{name}: input_variance is supported for 2-D images, not cubes")
    if return_type == "dask":
        raise NotImplementedError(f"{name}: input_variance is not supported with return_type='dask'")
    arr = np.asarray(getattr(input_variance, "data", input_variance), dtype=np.float32)
    if arr.shape != tuple(data_shape):
        raise ValueError(f"{name}: input_variance: shape {arr.shape} does not match the input's shape {tuple(data_shape)}")
    return np.where(np.isfinite(arr) & (arr >= 0), arr, np.float32(np.inf)).astype(np.float32)


#: rows of the strips of a single-image variance pass
VARIANCE_ROWS = 128


def single_variance(method, resampler, data, tr, box, shape_out, variance, dtype):
    """Propagated variance of a single-image reprojection of ``data`` (NaN where the output has no value).

    The mosaics' product kernels (:func:`products_interp_tile`,
    :func:`products_box`) run over ``box`` in strips of
    :data:`VARIANCE_ROWS` rows with the one input as a one-member mean, so
    the variance follows the same rules (coefficients squared) and memory
    is a few strips.  A second pass over the input (about the cost of the
    resampling itself), serial.
    """
    out = np.full(tuple(shape_out), np.nan, dtype=dtype)
    if box is None:
        return out
    state = resampler.prepare(data)
    fpar = np.zeros(N_FP)
    fpar[F_SCALE] = 1.0
    fpar[F_VSCALE] = 1.0
    ip = np.zeros(N_IP, dtype=np.int64)
    ip[I_BADBITS] = 0xFFFFFFFF
    ip[I_FLAGMODE] = FLAG_NONE
    ip[I_VTYPE] = 0
    ip[I_FLUX] = int(bool(getattr(resampler, "flux", False)))
    bg = np.zeros(3)
    none_f32 = np.empty((0, 0), np.float32)
    none_f64, none_i32, none_i64 = np.empty((0, 0)), np.empty((0, 0), np.int32), np.empty((0, 0), np.int64)
    none_u32, none_ctx = np.empty((0, 0), np.uint32), np.empty((0, 0, 0), np.uint32)
    y0, y1, x0, x1 = box
    for ys in range(y0, y1, VARIANCE_ROWS):
        ye = min(y1, ys + VARIANCE_ROWS)
        shape = (ye - ys, x1 - x0)
        val, wt, var = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        if method == "interp":
            products_interp_tile(data, state, none_f32, none_u32, variance, tr.vector, tr.grid, resampler.order,
                                 ys, ye, x0, x1, val, wt, var, none_i32, none_f64, none_ctx, none_i64, ys, x0,
                                 SINK_SUM, bg, fpar, ip)
        else:
            sval, swt = np.empty(shape), np.empty(shape)
            resampler.tile(data, state, none_f32, tr, ys, ye, x0, x1, sval, swt, ys, x0, SINK_WRITE, bg)
            products_box(sval, swt, data, none_f32, none_u32, variance, tr.vector, tr.grid, 1 if method == "exact" else 2,
                         getattr(resampler, "params", np.zeros(0)), ys, ye, x0, x1, val, wt, var, none_i32, none_f64,
                         none_ctx, none_i64, ys, x0, SINK_SUM, fpar, ip)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[ys:ye, x0:x1] = np.where(wt != 0.0, var / (wt * wt), np.nan)
    return out


def with_variance(result, variance):
    """``(array, footprint, variance)`` or ``(array, variance)`` from a single-image result."""
    return (*result, variance) if isinstance(result, tuple) else (result, variance)
