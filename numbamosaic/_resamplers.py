"""Resamplers: the per-method piece every driver calls.

A resampler wraps one family of Numba kernels (interpolation, exact overlap,
adaptive) behind a tiny protocol so that ``reproject_*``, the threaded
mosaic driver and the distributed driver all run the same kernels:

``prepare(data)``
    Per-input state computed once (spline coefficients, ...).
``tile(data, state, wdata, tr, y0, y1, x0, x1, val, wt, oy, ox, sink, bg)``
    Serial, GIL-free kernel call resampling the output box
    ``[y0, y1) x [x0, x1)`` into buffers ``val``/``wt`` indexed relative to
    ``(oy, ox)``, depositing with ``sink`` (see ``kernels._sinks``), after
    subtracting the background model ``bg = (c, cx, cy)``.  The executors
    (``numbamosaic._exec``) call it on disjoint boxes from several threads
    or dask workers: there is no parallel variant.
``state_nbytes(shape, itemsize)``
    Bytes of per-input state, for the planner.
``margin``
    Extra output pixels around an input's bounding box the method can reach.
``fills_box`` (optional, default False)
    True when ``tile`` with the WRITE or VALUE sink writes every
    pixel of their box (the single-image driver then blanks only the rest).
``pixel_cost`` (optional)
    Rough cost of one output pixel relative to bilinear interpolation: the
    drivers size their work items (strips, a small mosaic's tiles) to hold
    enough work to outweigh the per-item overhead.  Only the number of
    items changes, never a result (each pixel is computed the same way in
    any item).

:func:`get_resampler` maps a method name (``'interp'``, ``'exact'``,
``'adaptive'``) and its keyword arguments to a resampler instance.
"""

import numpy as np

from ._threads import parallel_launch
from .kernels._interp import interp_tile
from .kernels._spline import prefilter
from .wcs._native import homography_flag

ORDERS = {
    "nearest-neighbor": 0,
    "nearest": 0,
    "bilinear": 1,
    "biquadratic": 2,
    "bicubic": 3,
    "lanczos3": 4,
    "lanczos": 4,
}


def parse_order(order):
    """Map reproject's order names (or ints 0-3) to kernel codes."""
    if isinstance(order, str) and order.lower() in ORDERS:
        return ORDERS[order.lower()]
    if isinstance(order, (int, np.integer)) and not isinstance(order, bool) and 0 <= int(order) <= 3:
        return int(order)
    raise ValueError(
        f"order: expected one of {sorted(set(ORDERS) - {'nearest', 'lanczos'})} or an int 0-3, got {order!r}"
    )


def spline_coefficients_for(data, order):
    """Spline coefficients for orders 2 and 3, else an empty ``(0, 0)`` array.

    Either way the array has the float dtype of the data, so the kernels'
    ``coef`` argument has one type per data dtype whatever the order (passing
    the data itself would add a compiled variant for big-endian inputs).
    """
    dtype = np.float32 if data.dtype.itemsize == 4 else np.float64
    if order in (2, 3):
        with parallel_launch():  # a parallel kernel, also called from mosaic worker threads
            return prefilter(data, order, dtype)
    return np.empty((0, 0), dtype=dtype)

_REGISTRY = {}


def register(name):
    def deco(cls):
        _REGISTRY[name] = cls
        return cls

    return deco


def get_resampler(name, **kwargs):
    """Instantiate the resampler registered under ``name``.

    ``exact`` and ``adaptive`` register theirs when imported, which the
    package's ``__init__`` does before any of its modules is used.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown reprojection method {name!r}; expected one of {sorted(_REGISTRY)}")
    return _REGISTRY[name](**kwargs)


@register("interp")
class InterpResampler:
    """Interpolation (orders 0-4) through ``kernels._interp``."""

    margin = 0
    fills_box = True  # every row segment of the box is deposited, NaN where invalid
    #: cost of an output pixel relative to bilinear, by order (stencil of 1, 4, 9, 16 and 36 pixels)
    PIXEL_COSTS = {0: 1.0, 1: 1.0, 2: 2.0, 3: 3.0, 4: 6.0}

    def __init__(self, order="bilinear", roundtrip_coords=True, **ignored):
        self.order = order if isinstance(order, int) and 0 <= order <= 4 else parse_order(order)
        self.roundtrip = bool(roundtrip_coords)

    @property
    def pixel_cost(self):
        return self.PIXEL_COSTS[self.order]

    def prepare(self, data):
        return spline_coefficients_for(data, self.order)

    def state_nbytes(self, shape, itemsize):
        return int(np.prod(shape)) * itemsize if self.order in (2, 3) else 0

    def tile(self, data, state, wdata, tr, y0, y1, x0, x1, val, wt, oy, ox, sink, bg):
        interp_tile(data, state, wdata, tr.vector, tr.grid, self.order, y0, y1, x0, x1, val, wt, oy, ox, sink, bg,
                    homography_flag(tr.vector))
