"""Vectorised WCS operations over arrays, in one compiled function (:func:`wcs_points`).

The planner, the bounding boxes, the WCS check and the exact method's
subdivision probes evaluate the engine of :mod:`._native` at arrays of
points from Python.  See :func:`wcs_points` for why there is one compiled
function for the four operations and what its ``tan`` literal selects.
"""

import numpy as np

from ..kernels._entry import entry
from ..kernels._jit import kernel
from ._layout import MODE_HOMOGRAPHY, MODE_NATIVE, PROJ_CODES, RARE, T_IN, T_MODE, T_OUT, W_CODE, W_SIP, W_TPV
from ._native import _out_to_in, empty_grid, has_rare, in_to_out, pixel_to_world, world_to_pixel

PROJ_TAN = PROJ_CODES["TAN"]

#: operations of :func:`wcs_points`
OP_PIXEL_TO_WORLD = 0
OP_WORLD_TO_PIXEL = 1
OP_OUT_TO_IN = 2
OP_IN_TO_OUT = 3


@entry(writes=("p", "q"), literal=("tan",))
@kernel
def wcs_points(op, tr, grid, a, b, p, q, tan):
    """The vectorised WCS operations (``OP_*``) over flat arrays: ``p[i], q[i] = f(a[i], b[i])``.

    One compiled function for the four operations, not one each: every
    separately compiled function links, re-optimises and emits the machine
    code of the whole projection chain it calls (see ``kernels._jit``), and a
    mosaic uses two or three of them on its cold path (the WCS check, the
    bounding boxes, the exact method's subdivision probes).  ``op`` is an
    ordinary integer, so one variant serves all four.  ``tan``
    (:func:`tan_flag`): ``None`` when every WCS of the call is TAN without
    SIP or TPV, the usual survey case, which then compiles the gnomonic
    projection alone instead of the ~25 projections and the distortions (the
    bulk of a cold mosaic's compile time); the literal 0 for any WCS, 2
    (``_layout.RARE``) when one is XPH or a quad cube, which only that
    value compiles (``_projections.rare_x2s``).  The
    chain functions test ``tan is None``, a branch Numba removes before type
    inference for either type (``wcs._native.pixel_to_native``; it replaced
    selector overloads inlined at 17 call sites: 2.0-2.3 -> 1.2 CPU s of a cold
    run, ``benchmarks/profile_compile.py``).  Same arithmetic either way.
    """
    n = a.size
    if op == OP_PIXEL_TO_WORLD:
        for i in range(n):
            p[i], q[i] = pixel_to_world(tr, np.int64(0), a[i], b[i], tan)
    elif op == OP_WORLD_TO_PIXEL:
        for i in range(n):
            p[i], q[i] = world_to_pixel(tr, np.int64(0), a[i], b[i], tan)
    elif op == OP_OUT_TO_IN:
        for i in range(n):
            p[i], q[i] = _out_to_in(tr, grid, a[i], b[i], tan)
    else:
        for i in range(n):
            p[i], q[i] = in_to_out(tr, a[i], b[i], tan)


def _plain_tan(p, o):
    return p[o + W_CODE] == PROJ_TAN and p[o + W_SIP] == 0.0 and p[o + W_TPV] == 0.0


def tan_flag(vector, transform=True):
    """The ``tan`` argument of :func:`wcs_points` for a transform vector (or a WCS vector,
    ``transform=False``): ``None`` when every WCS in it is TAN without SIP or TPV (and a
    transform is in native or homography mode, not on a control grid), ``RARE`` (2) when
    one is XPH or a quad cube (:func:`~numbamosaic.wcs._native.has_rare`), else 0."""
    if not transform:
        return None if _plain_tan(vector, 0) else (RARE if has_rare(vector, False) else 0)
    native = vector[T_MODE] in (MODE_NATIVE, MODE_HOMOGRAPHY)
    if native and _plain_tan(vector, T_IN) and _plain_tan(vector, T_OUT):
        return None
    return RARE if has_rare(vector) else 0


def pixel_to_world_array(p, x, y, lon, lat):
    """Vectorised :func:`pixel_to_world` of the WCS vector ``p`` (used by tests and the planner)."""
    wcs_points(OP_PIXEL_TO_WORLD, p, _NO_GRID, x, y, lon, lat, tan_flag(p, False))


def world_to_pixel_array(p, lon, lat, x, y):
    """Vectorised :func:`world_to_pixel`."""
    wcs_points(OP_WORLD_TO_PIXEL, p, _NO_GRID, lon, lat, x, y, tan_flag(p, False))


def out_to_in_array(tr, grid, x, y, xi, yi):
    """Vectorised :func:`out_to_in` over flat arrays."""
    wcs_points(OP_OUT_TO_IN, tr, grid, x, y, xi, yi, tan_flag(tr))


def in_to_out_array(tr, x, y, xo, yo):
    """Vectorised :func:`in_to_out` over flat arrays (native mode)."""
    wcs_points(OP_IN_TO_OUT, tr, _NO_GRID, x, y, xo, yo, tan_flag(tr))


_NO_GRID = empty_grid()  # the control grid argument of operations that do not read it
