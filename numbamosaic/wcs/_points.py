"""Vectorised WCS operations over arrays, in one compiled function (:func:`wcs_points`).

The planner, the bounding boxes, the WCS check and the exact method's
subdivision probes evaluate the engine of :mod:`._native` at arrays of
points from Python.  See :func:`wcs_points` for why there is one compiled
function for the four operations and what its ``tan`` literal selects.
"""

import math

from ..kernels._entry import entry
from ..kernels._jit import inline_kernel, kernel
from ._layout import (MODE_HOMOGRAPHY, MODE_NATIVE, PROJ_CODES, RARE, T_IN, T_M, T_MODE, T_MT, T_OUT, T_ROUNDTRIP, W_CODE,
                      W_ROT, W_SIP, W_TPV)
from ._native import NAN, R2D, _grid_lookup, _homography_point, empty_grid, has_rare, native_to_pixel, pixel_to_native

PROJ_TAN = PROJ_CODES["TAN"]

#: operations of :func:`wcs_points`
OP_PIXEL_TO_WORLD = 0
OP_WORLD_TO_PIXEL = 1
OP_OUT_TO_IN = 2
OP_IN_TO_OUT = 3


@inline_kernel
def _rotate(p, r, sr, sc, vx, vy, vz):
    """The 3x3 matrix at ``p[r:r + 9]`` times ``(vx, vy, vz)``, element ``(i, j)`` at ``r + i sr + j sc``:
    ``(3, 1)`` the row-major matrix (``_native._rot``), ``(1, 3)`` its transpose (the inverse
    rotation of ``_native.world_to_pixel``); the same products summed in the same order."""
    return (
        p[r] * vx + p[r + sc] * vy + p[r + 2 * sc] * vz,
        p[r + sr] * vx + p[r + sr + sc] * vy + p[r + sr + 2 * sc] * vz,
        p[r + 2 * sr] * vx + p[r + 2 * sr + sc] * vy + p[r + 2 * sr + 2 * sc] * vz,
    )


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
    run, ``benchmarks/profile_compile.py``).

    The four operations share one copy of the chain, ``source -> rotation ->
    destination``: a pixel of the WCS at offset ``src`` to its native vector
    (:func:`~._native.pixel_to_native`; ``src`` -1: a celestial position to
    its unit vector), the matrix at ``rot`` with strides ``(sr, sc)``
    (:func:`_rotate`), then the native vector to a pixel of the WCS at ``dst``
    (:func:`~._native.native_to_pixel`; -1: to celestial degrees).  Output to
    input pixels in native mode goes through it twice when the transform asks
    for the round-trip check (the second pass is ``in_to_out``).  Each
    operation computes exactly what ``_native.pixel_to_world``,
    ``world_to_pixel``, ``_out_to_in`` and ``in_to_out`` compute (the same
    arithmetic in the same order), with the chain typed, inlined and lowered
    once instead of once per operation and pass (the inlined copies were most
    of this function's compile time in every cold run).
    """
    n = a.size
    mode = tr[T_MODE]
    if op == OP_OUT_TO_IN and mode != MODE_NATIVE:
        for i in range(n):  # as _native._out_to_in in these modes
            if mode == MODE_HOMOGRAPHY:
                p[i], q[i] = _homography_point(tr, a[i], b[i])
            elif tan is None:  # TAN without distortion is never on a control grid
                p[i] = NAN
                q[i] = NAN
            else:
                p[i], q[i] = _grid_lookup(tr, grid, a[i], b[i])
        return
    # (source WCS offset, rotation matrix offset and strides, destination WCS offset) of the op
    if op == OP_PIXEL_TO_WORLD:
        src, rot, sr, sc, dst = 0, W_ROT, 3, 1, -1
    elif op == OP_WORLD_TO_PIXEL:
        src, rot, sr, sc, dst = -1, W_ROT, 1, 3, 0
    elif op == OP_OUT_TO_IN:
        src, rot, sr, sc, dst = T_OUT, T_M, 3, 1, T_IN
    else:
        src, rot, sr, sc, dst = T_IN, T_MT, 3, 1, T_OUT
    passes = 2 if (op == OP_OUT_TO_IN and tr[T_ROUNDTRIP] != 0.0) else 1
    for i in range(n):
        x = a[i]
        y = b[i]
        u = x
        v = y
        s, r, rs, cs, d = src, rot, sr, sc, dst
        pu = NAN
        pv = NAN
        for k in range(passes):
            if s < 0:  # celestial (lon, lat) in degrees -> unit vector
                cl = math.cos(v / R2D)
                vx = cl * math.cos(u / R2D)
                vy = cl * math.sin(u / R2D)
                vz = math.sin(v / R2D)
            else:
                vx, vy, vz = pixel_to_native(tr, s, u, v, tan)
                if vx != vx:
                    pu = NAN
                    pv = NAN
                    break
            wx, wy, wz = _rotate(tr, r, rs, cs, vx, vy, vz)
            if d < 0:  # unit vector -> celestial (lon, lat) in degrees
                pu = math.atan2(wy, wx) * R2D
                if pu < 0.0:
                    pu += 360.0
                pv = math.atan2(wz, math.sqrt(wx * wx + wy * wy)) * R2D
                break
            pu, pv = native_to_pixel(tr, d, wx, wy, wz, tan)
            if op != OP_OUT_TO_IN:
                break
            if k == 0:
                if pu != pu or pv != pv:
                    pu = NAN
                    pv = NAN
                    break
                # the round-trip check: the input pixel back to the output (in_to_out)
                u = pu
                v = pv
                s, r, rs, cs, d = T_IN, T_MT, 3, 1, T_OUT
            elif not (abs(pu - x) <= 1.0 and abs(pv - y) <= 1.0):
                pu = NAN
                pv = NAN
            else:
                pu = u
                pv = v
        p[i] = pu
        q[i] = pv


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
