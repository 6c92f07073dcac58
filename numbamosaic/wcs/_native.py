"""Per-point WCS evaluation in Numba: pixel <-> native sphere <-> pixel.

The chain for one FITS celestial WCS (C&G 2002, Fig. 1) is::

    pixel (x, y) --CRPIX, SIP--> (u, v) --CD/PC*CDELT--> plane (X, Y)
                 --projection--> native unit vector --rotation--> celestial

and a pixel-to-pixel mapping between two WCS fuses the two spherical
rotations and the celestial frame change into one 3x3 matrix ``T_M`` (native
output -> native input), so a TAN->TAN mapping needs no trigonometry at all.

Every function takes the flat parameter vector (see ``_layout``) and an
offset, so the same compiled code serves every WCS.  The pixel <-> plane
step (SIP, TPV) is in :mod:`._plane`, the projections in :mod:`._projections`,
and the vectorised operations called from Python in :mod:`._points`.
"""

import math

import numpy as np
from numba import types
from numba.extending import overload

from ..kernels._jit import SELECTOR_OVERLOAD, inline_kernel, kernel
from ._layout import (
    MODE_HOMOGRAPHY,
    MODE_NATIVE,
    PV_X0,
    PV_Y0,
    RARE,
    RARE_CODE_MIN,
    T_GSTEP,
    T_GX0,
    T_GY0,
    T_H,
    T_IN,
    T_M,
    T_MODE,
    T_MT,
    T_OUT,
    T_ROUNDTRIP,
    W_CODE,
    W_CRPIX,
    W_M,
    W_MINV,
    W_PV,
    W_ROT,
)
from ._plane import plane_to_pixel, pixel_to_plane
from ._projections import native_to_plane, plane_to_native, tan_s2x, tan_x2s

NAN = math.nan
R2D = 180.0 / math.pi


@inline_kernel
def _linear_pixel_to_plane(p, o, x, y):
    """:func:`pixel_to_plane` of a WCS without SIP and TPV: the same arithmetic."""
    u = x - p[o + W_CRPIX]
    v = y - p[o + W_CRPIX + 1]
    m = o + W_M
    X = p[m] * u + p[m + 1] * v
    Y = p[m + 2] * u + p[m + 3] * v
    return X + p[o + W_PV + PV_X0], Y + p[o + W_PV + PV_Y0]


@inline_kernel
def _linear_plane_to_pixel(p, o, X, Y):
    """:func:`plane_to_pixel` of a WCS without SIP and TPV: the same arithmetic."""
    m = o + W_MINV
    X = X - p[o + W_PV + PV_X0]
    Y = Y - p[o + W_PV + PV_Y0]
    U = p[m] * X + p[m + 1] * Y
    V = p[m + 2] * X + p[m + 3] * Y
    return U + p[o + W_CRPIX], V + p[o + W_CRPIX + 1]


@inline_kernel
def pixel_to_native(p, o, x, y, tan):
    """0-based pixel -> native unit vector (NaN outside the projection).

    ``tan``: ``None`` if the WCS is TAN without SIP or TPV, which compiles
    that case alone (the gnomonic formulas, :func:`_linear_pixel_to_plane`:
    the same arithmetic); an integer literal for any WCS (see
    :func:`~numbamosaic.wcs._points.tan_flag`): 0, or ``_layout.RARE`` (2)
    when a WCS of the call is XPH or a quad cube, whose code the projection
    dispatch compiles only for that value (``_projections.rare_x2s``).  The
    other case's branch is removed before type inference (Numba's pruning of
    ``is None`` on a ``None``-typed argument, or on a constant; see
    ``kernels._reduced``), so the callers pass it straight from their own
    argument or a constant.
    """
    if tan is None:
        X, Y = _linear_pixel_to_plane(p, o, x, y)
        return tan_x2s(X, Y)
    X, Y = pixel_to_plane(p, o, x, y)
    return plane_to_native(int(p[o + W_CODE]), p, o, X, Y, tan)


@inline_kernel
def native_to_pixel(p, o, vx, vy, vz, tan):
    """Native unit vector -> 0-based pixel (NaN outside the projection); ``tan`` as :func:`pixel_to_native`."""
    if tan is None:
        X, Y = tan_s2x(vx, vy, vz)
        if X != X or Y != Y:
            return NAN, NAN
        return _linear_plane_to_pixel(p, o, X, Y)
    X, Y = native_to_plane(int(p[o + W_CODE]), p, o, vx, vy, vz, tan)
    if X != X or Y != Y:
        return NAN, NAN
    return plane_to_pixel(p, o, X, Y)


@inline_kernel
def _rot(p, r, vx, vy, vz):
    return (
        p[r] * vx + p[r + 1] * vy + p[r + 2] * vz,
        p[r + 3] * vx + p[r + 4] * vy + p[r + 5] * vz,
        p[r + 6] * vx + p[r + 7] * vy + p[r + 8] * vz,
    )


@inline_kernel
def _native_out_to_in(tr, x, y, tan):
    # np.int64(): a constant argument would be typed as a literal and make
    # Numba compile the whole projection chain once per constant
    vx, vy, vz = pixel_to_native(tr, np.int64(T_OUT), x, y, tan)
    if vx != vx:
        return NAN, NAN
    wx, wy, wz = _rot(tr, T_M, vx, vy, vz)
    return native_to_pixel(tr, np.int64(T_IN), wx, wy, wz, tan)


@inline_kernel
def in_to_out(tr, x, y, tan):
    """Input pixel -> output pixel (native and homography modes; NaN if invalid); ``tan`` see :func:`tan_flag`."""
    vx, vy, vz = pixel_to_native(tr, np.int64(T_IN), x, y, tan)  # (see _native_out_to_in)
    if vx != vx:
        return NAN, NAN
    wx, wy, wz = _rot(tr, T_MT, vx, vy, vz)
    return native_to_pixel(tr, np.int64(T_OUT), wx, wy, wz, tan)


@kernel
def _grid_lookup(tr, grid, x, y):
    """Bilinear interpolation of the control grid of input pixel positions."""
    step = tr[T_GSTEP]
    gx = (x - tr[T_GX0]) / step
    gy = (y - tr[T_GY0]) / step
    ny = grid.shape[1]
    nx = grid.shape[2]
    ix = int(math.floor(gx))
    iy = int(math.floor(gy))
    if ix < 0:
        ix = 0
    elif ix > nx - 2:
        ix = nx - 2
    if iy < 0:
        iy = 0
    elif iy > ny - 2:
        iy = ny - 2
    fx = gx - ix
    fy = gy - iy
    a = (1.0 - fx) * (1.0 - fy)
    b = fx * (1.0 - fy)
    c = (1.0 - fx) * fy
    d = fx * fy
    # corners with zero weight are skipped, so that a NaN node (outside the
    # projection's domain) does not blank a position on a valid node or edge
    xi = 0.0
    yi = 0.0
    if a != 0.0:
        xi += a * grid[0, iy, ix]
        yi += a * grid[1, iy, ix]
    if b != 0.0:
        xi += b * grid[0, iy, ix + 1]
        yi += b * grid[1, iy, ix + 1]
    if c != 0.0:
        xi += c * grid[0, iy + 1, ix]
        yi += c * grid[1, iy + 1, ix]
    if d != 0.0:
        xi += d * grid[0, iy + 1, ix + 1]
        yi += d * grid[1, iy + 1, ix + 1]
    return xi, yi


@kernel
def _homography_point(tr, x, y):
    """Output pixel -> input pixel in homography mode (TAN -> TAN without distortion).

    An ordinary call (LLVM inlines it): IR-inlined through :func:`map_point`'s
    selector overload, its branch made Numba's SSA pass warn
    (``NumbaIRAssumptionWarning``)."""
    h = T_H
    den = tr[h + 6] * x + tr[h + 7] * y + tr[h + 8]
    if not den > 0.0:
        return NAN, NAN
    return (tr[h] * x + tr[h + 1] * y + tr[h + 2]) / den, (tr[h + 3] * x + tr[h + 4] * y + tr[h + 5]) / den


@inline_kernel
def _homography_row(tr, y, x0, x1, xs, ys):
    """:func:`out_to_in_row` in homography mode: one branch-free loop."""
    h = T_H
    h0, h1, h2 = tr[h], tr[h + 1], tr[h + 2]
    h3, h4, h5 = tr[h + 3], tr[h + 4], tr[h + 5]
    h6, h7, h8 = tr[h + 6], tr[h + 7], tr[h + 8]
    fy = float(y)
    for k in range(x1 - x0):
        x = float(x0 + k)
        den = h6 * x + h7 * fy + h8
        if den > 0.0:
            xs[k] = (h0 * x + h1 * fy + h2) / den
            ys[k] = (h3 * x + h4 * fy + h5) / den
        else:
            xs[k] = NAN
            ys[k] = NAN


@kernel
def out_to_in(tr, grid, x, y):
    """Output pixel -> input pixel through the transform vector ``tr``.

    In native mode the WCS chain is evaluated exactly (with the optional
    round-trip check of reproject: points that do not come back to within one
    output pixel are rejected).  In homography mode (gnomonic to gnomonic, no
    distortion) the exact map is projective and costs two divisions.  In grid
    mode the position is interpolated on the control grid ``grid`` (shape
    ``(2, ny, nx)``) computed by astropy.  Not XPH and the quad cubes: see
    :func:`out_to_in_rare`.
    """
    return _out_to_in(tr, grid, x, y, 0)


@kernel
def out_to_in_rare(tr, grid, x, y):
    """:func:`out_to_in` for transforms with XPH or a quad cube (``homography_flag`` 2):
    the chain compiled with their code (``_projections.rare_x2s``)."""
    return _out_to_in(tr, grid, x, y, RARE)


@inline_kernel
def _out_to_in(tr, grid, x, y, tan):
    """:func:`out_to_in`'s body (thin glue over compiled functions), inlined into
    :func:`wcs_points` too, there with the ``tan`` argument of the call (see :func:`tan_flag`)."""
    mode = tr[T_MODE]
    if mode == MODE_HOMOGRAPHY:
        return _homography_point(tr, x, y)
    if mode == MODE_NATIVE:
        xi, yi = _native_out_to_in(tr, x, y, tan)
        if xi != xi or yi != yi:
            return NAN, NAN
        if tr[T_ROUNDTRIP] != 0.0:
            xb, yb = in_to_out(tr, xi, yi, tan)
            if not (abs(xb - x) <= 1.0 and abs(yb - y) <= 1.0):
                return NAN, NAN
        return xi, yi
    if tan is None:  # TAN without distortion is never on a control grid
        return NAN, NAN
    return _grid_lookup(tr, grid, x, y)


@kernel
def out_to_in_row(tr, grid, y, x0, x1, xs, ys):
    """Input positions of output pixels ``x0 .. x1 - 1`` on row ``y``.

    Writes ``xs[k], ys[k]`` for pixel ``x0 + k`` (row-sized buffers: no
    full-size coordinate arrays).  The mode test is hoisted out of the loop,
    so the common TAN->TAN homography runs at a few ns per pixel; every mode
    gives exactly what :func:`out_to_in` gives point by point.
    """
    if tr[T_MODE] == MODE_HOMOGRAPHY:
        _homography_row(tr, y, x0, x1, xs, ys)
    else:
        for k in range(x1 - x0):
            xs[k], ys[k] = out_to_in(tr, grid, float(x0 + k), float(y))


@kernel
def out_to_in_row_rare(tr, grid, y, x0, x1, xs, ys):
    """:func:`out_to_in_row` with :func:`out_to_in_rare` (never a homography)."""
    for k in range(x1 - x0):
        xs[k], ys[k] = out_to_in_rare(tr, grid, float(x0 + k), float(y))


def map_point(hom, tr, grid, x, y):
    """:func:`out_to_in`, reduced to the homography when ``hom`` is the literal 1.

    The resampling kernels take ``hom`` as a Numba literal
    (``kernels._entry``, ``literal=("hom",)``): 1 when the transform is in
    homography mode (TAN -> TAN without distortion, the usual survey
    mosaic; see :func:`homography_flag`), 0 otherwise.  With 1 the kernel's
    code holds the two divisions of the homography and none of the
    projection chain, which every separately compiled level of the kernel
    would otherwise re-optimise and emit again (most of a cold mosaic's
    compile time); with 0 it calls :func:`out_to_in`, which handles every
    mode and every projection but XPH and the quad cubes; with 2
    (``_layout.RARE``) :func:`out_to_in_rare`, which handles those too.  The
    arithmetic is the same either way (bitwise identical results).
    Pure-Python stub; see the overload.
    """
    raise NotImplementedError  # replaced by the Numba overload below


@overload(map_point, prefer_literal=True, **SELECTOR_OVERLOAD)
def _map_point_impl(hom, tr, grid, x, y):
    if isinstance(hom, types.IntegerLiteral) and hom.literal_value == 1:
        return lambda hom, tr, grid, x, y: _homography_point(tr, x, y)
    if isinstance(hom, types.IntegerLiteral) and hom.literal_value == RARE:
        return lambda hom, tr, grid, x, y: out_to_in_rare(tr, grid, x, y)
    return lambda hom, tr, grid, x, y: out_to_in(tr, grid, x, y)


def map_row(hom, tr, grid, y, x0, x1, xs, ys):
    """:func:`out_to_in_row`, reduced to the homography when ``hom`` is the literal 1
    (see :func:`map_point`).  Pure-Python stub; see the overload."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(map_row, prefer_literal=True, **SELECTOR_OVERLOAD)
def _map_row_impl(hom, tr, grid, y, x0, x1, xs, ys):
    if isinstance(hom, types.IntegerLiteral) and hom.literal_value == 1:
        return lambda hom, tr, grid, y, x0, x1, xs, ys: _homography_row(tr, y, x0, x1, xs, ys)
    if isinstance(hom, types.IntegerLiteral) and hom.literal_value == RARE:
        return lambda hom, tr, grid, y, x0, x1, xs, ys: out_to_in_row_rare(tr, grid, y, x0, x1, xs, ys)
    return lambda hom, tr, grid, y, x0, x1, xs, ys: out_to_in_row(tr, grid, y, x0, x1, xs, ys)


def homography_flag(vector):
    """The ``hom`` literal of the kernels for a transform vector: 1 in homography mode, 2
    (``_layout.RARE``) in native mode with XPH or a quad cube on either side, else 0."""
    if vector[T_MODE] == MODE_HOMOGRAPHY:
        return 1
    return RARE if vector[T_MODE] == MODE_NATIVE and has_rare(vector) else 0


def has_rare(vector, transform=True):
    """True when a WCS of a transform vector (or the WCS vector, ``transform=False``) is XPH or a quad cube."""
    if not transform:
        return vector[W_CODE] >= RARE_CODE_MIN
    return vector[T_IN + W_CODE] >= RARE_CODE_MIN or vector[T_OUT + W_CODE] >= RARE_CODE_MIN


@inline_kernel
def pixel_to_world(p, o, x, y, tan):
    """0-based pixel -> celestial (lon, lat) in degrees in the WCS's own frame; ``tan`` see :func:`tan_flag`."""
    vx, vy, vz = pixel_to_native(p, o, x, y, tan)
    if vx != vx:
        return NAN, NAN
    cx, cy, cz = _rot(p, o + W_ROT, vx, vy, vz)
    lon = math.atan2(cy, cx) * R2D
    if lon < 0.0:
        lon += 360.0
    return lon, math.atan2(cz, math.sqrt(cx * cx + cy * cy)) * R2D


@inline_kernel
def world_to_pixel(p, o, lon, lat, tan):
    """Celestial (lon, lat) in degrees -> 0-based pixel (NaN if invalid); ``tan`` see :func:`tan_flag`."""
    cl = math.cos(lat / R2D)
    cx = cl * math.cos(lon / R2D)
    cy = cl * math.sin(lon / R2D)
    cz = math.sin(lat / R2D)
    r = o + W_ROT
    # inverse rotation = transpose
    vx = p[r] * cx + p[r + 3] * cy + p[r + 6] * cz
    vy = p[r + 1] * cx + p[r + 4] * cy + p[r + 7] * cz
    vz = p[r + 2] * cx + p[r + 5] * cy + p[r + 8] * cz
    return native_to_pixel(p, o, vx, vy, vz, tan)


def empty_grid():
    """Placeholder control grid for native-mode transforms."""
    return np.zeros((2, 2, 2), dtype=np.float64)

