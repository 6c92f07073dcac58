"""Per-point WCS evaluation in Numba: pixel <-> native sphere <-> pixel.

The chain for one FITS celestial WCS (C&G 2002, Fig. 1) is::

    pixel (x, y) --CRPIX, SIP--> (u, v) --CD/PC*CDELT--> plane (X, Y)
                 --projection--> native unit vector --rotation--> celestial

and a pixel-to-pixel mapping between two WCS fuses the two spherical
rotations and the celestial frame change into one 3x3 matrix ``T_M`` (native
output -> native input), so a TAN->TAN mapping needs no trigonometry at all.

Every function takes the flat parameter vector (see ``_layout``) and an
offset, so the same compiled code serves every WCS.
"""

import math

import numpy as np

from ..kernels._entry import entry
from ..kernels._jit import inline_kernel, kernel
from ._layout import (
    MODE_HOMOGRAPHY,
    MODE_NATIVE,
    SIP_BLOCK,
    PV_X0,
    PV_Y0,
    SIP_MAX_ORDER,
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
    W_SIP,
    W_SIPC,
    W_SIPD,
    W_SIPORD,
    W_TPV,
    W_TPVC,
    W_TPVORD,
    W_TPVR,
    W_TPVTOL,
)
from ._projections import native_to_plane, plane_to_native

NAN = math.nan
R2D = 180.0 / math.pi


@kernel
def _poly(p, base, order, u, v):
    """Evaluate sum_{i,j} c[i, j] u**i v**j (Horner in both variables)."""
    n = SIP_MAX_ORDER + 1
    acc = 0.0
    for i in range(order, -1, -1):
        row = 0.0
        for j in range(order - i, -1, -1):
            row = row * v + p[base + i * n + j]
        acc = acc * u + row
    return acc


@kernel
def _poly_grad(p, base, order, u, v):
    """Value and partial derivatives (d/du, d/dv) of a SIP polynomial.

    Horner's scheme in u over row polynomials R_i(v), each evaluated with its
    derivative by Horner's scheme in v.
    """
    n = SIP_MAX_ORDER + 1
    f = 0.0
    fu = 0.0
    fv = 0.0
    for i in range(order, -1, -1):
        r = 0.0
        dr = 0.0
        for j in range(order - i, -1, -1):
            dr = dr * v + r
            r = r * v + p[base + i * n + j]
        fu = fu * u + f
        f = f * u + r
        fv = fv * u + dr
    return f, fu, fv


@kernel
def _tpv_axis(p, base, rbase, order, x, y):
    """One TPV polynomial and its partial derivatives at ``(x, y)`` degrees.

    The monomials ``x**i y**j`` come from the 10x10 block at ``base``
    (Horner, as SIP); the odd radial terms ``c1 r + c3 r^3 + c5 r^5 + c7 r^7``
    (``r = sqrt(x^2 + y^2)``) from the four values at ``rbase``.
    """
    f, fx, fy = _poly_grad(p, base, order, x, y)
    c1 = p[rbase]
    c3 = p[rbase + 1]
    c5 = p[rbase + 2]
    c7 = p[rbase + 3]
    if c1 != 0.0 or c3 != 0.0 or c5 != 0.0 or c7 != 0.0:
        r2 = x * x + y * y
        r = math.sqrt(r2)
        f += r * (c1 + r2 * (c3 + r2 * (c5 + r2 * c7)))
        if r > 0.0:
            # d/dr divided by r, so that d/dx = (df/dr / r) x
            dr = (c1 / r) + r * (3.0 * c3 + r2 * (5.0 * c5 + r2 * 7.0 * c7))
            fx += dr * x
            fy += dr * y
    return f, fx, fy


@kernel
def tpv_terms(p, o, x, y):
    """TPV polynomials (xi, eta) at intermediate world coordinates ``(x, y)``.

    Returns ``(xi, dxi/dx, dxi/dy, eta, deta/dx, deta/dy)``, all in degrees
    (TPV registry document; wcslib ``dis.c``, ``tpv*``).
    """
    xi, xx, xy = _tpv_axis(p, o + W_TPVC, o + W_TPVR, int(p[o + W_TPVORD]), x, y)
    eta, ex, ey = _tpv_axis(p, o + W_TPVC + SIP_BLOCK, o + W_TPVR + 4, int(p[o + W_TPVORD + 1]), x, y)
    return xi, xx, xy, eta, ex, ey


@kernel
def pixel_to_plane(p, o, x, y):
    """0-based pixel -> projection plane (X, Y) in degrees (SIP, TPV included)."""
    u = x - p[o + W_CRPIX]
    v = y - p[o + W_CRPIX + 1]
    if p[o + W_SIP] != 0.0:
        oa = int(p[o + W_SIPORD])
        ob = int(p[o + W_SIPORD + 1])
        # SIP's own reference pixel (astropy's Sip.crpix) may differ from CRPIX
        us = u + p[o + W_SIPD]
        vs = v + p[o + W_SIPD + 1]
        du = _poly(p, o + W_SIPC, oa, us, vs) if oa >= 0 else 0.0
        dv = _poly(p, o + W_SIPC + SIP_BLOCK, ob, us, vs) if ob >= 0 else 0.0
        u += du
        v += dv
    m = o + W_M
    X = p[m] * u + p[m + 1] * v
    Y = p[m + 2] * u + p[m + 3] * v
    if p[o + W_TPV] != 0.0:
        X, _, _, Y, _, _ = tpv_terms(p, o, X, Y)
    # plus the plane offset of a moved fiducial point (zero almost always)
    return X + p[o + W_PV + PV_X0], Y + p[o + W_PV + PV_Y0]


@kernel
def sip_terms(p, o, u, v):
    """SIP distortion at the offset ``(u, v)`` from CRPIX and its derivatives.

    Returns ``(f, df/du, df/dv, g, dg/du, dg/dv)`` for the A (``f``) and B
    (``g``) polynomials, zeros for an absent one.  The polynomials are
    evaluated at ``(u, v) + W_SIPD`` (SIP's own reference pixel).
    """
    oa = int(p[o + W_SIPORD])
    ob = int(p[o + W_SIPORD + 1])
    u = u + p[o + W_SIPD]
    v = v + p[o + W_SIPD + 1]
    f = 0.0
    fu = 0.0
    fv = 0.0
    g = 0.0
    gu = 0.0
    gv = 0.0
    if oa >= 0:
        f, fu, fv = _poly_grad(p, o + W_SIPC, oa, u, v)
    if ob >= 0:
        g, gu, gv = _poly_grad(p, o + W_SIPC + SIP_BLOCK, ob, u, v)
    return f, fu, fv, g, gu, gv


@kernel
def distortion_jacobian(p, o, x, y):
    """Jacobian determinant of the SIP and TPV distortions at pixel ``(x, y)``.

    The ratio of the distorted to the undistorted area element (1.0 without
    distortion); used by the exact kernel's area factor.
    """
    u = x - p[o + W_CRPIX]
    v = y - p[o + W_CRPIX + 1]
    det = 1.0
    if p[o + W_SIP] != 0.0:
        f, fu, fv, g, gu, gv = sip_terms(p, o, u, v)
        det = abs((1.0 + fu) * (1.0 + gv) - fv * gu)
        u += f
        v += g
    if p[o + W_TPV] != 0.0:
        m = o + W_M
        _, xx, xy, _, ex, ey = tpv_terms(p, o, p[m] * u + p[m + 1] * v, p[m + 2] * u + p[m + 3] * v)
        det *= abs(xx * ey - xy * ex)
    return det


@kernel
def _tpv_inverse(p, o, xi, eta):
    """Intermediate world ``(x, y)`` whose TPV image is ``(xi, eta)`` (Newton).

    Starts from the inverse of the polynomials' affine part and iterates on
    the full polynomials until the step is below ``W_TPVTOL`` degrees
    (1e-12 pixel) or the rounding level; NaN when the iteration does not
    converge (outside the region where the polynomial is one-to-one).
    """
    # affine part: constant + first-order block terms (the r term has no linear part)
    b0 = o + W_TPVC
    b1 = o + W_TPVC + SIP_BLOCK
    n = SIP_MAX_ORDER + 1
    a11 = p[b0 + n]
    a12 = p[b0 + 1]
    a21 = p[b1 + n]
    a22 = p[b1 + 1]
    det = a11 * a22 - a12 * a21
    if det == 0.0:
        return NAN, NAN
    r1 = xi - p[b0]
    r2 = eta - p[b1]
    x = (a22 * r1 - a12 * r2) / det
    y = (a11 * r2 - a21 * r1) / det
    tol = p[o + W_TPVTOL]
    for _ in range(50):
        f, fx, fy, g, gx, gy = tpv_terms(p, o, x, y)
        r1 = f - xi
        r2 = g - eta
        det = fx * gy - fy * gx
        if det == 0.0 or not math.isfinite(det):
            return NAN, NAN
        dx = (gy * r1 - fy * r2) / det
        dy = (fx * r2 - gx * r1) / det
        x -= dx
        y -= dy
        # converged: the step is below 1e-12 pixel or at the rounding level of x, y
        if abs(dx) <= tol + 4e-16 * abs(x) and abs(dy) <= tol + 4e-16 * abs(y):
            return x, y
    # no convergence (outside the region where the polynomial is one-to-one):
    # keep the point only if it reproduces (xi, eta) to 1e-9 pixel
    f, _, _, g, _, _ = tpv_terms(p, o, x, y)
    if abs(f - xi) <= 1e3 * tol and abs(g - eta) <= 1e3 * tol:
        return x, y
    return NAN, NAN


@kernel
def plane_to_pixel(p, o, X, Y):
    """Projection plane (degrees) -> 0-based pixel, inverting SIP exactly.

    The SIP inverse starts from the AP/BP polynomials when present (else from
    the undistorted position) and is refined by Newton iterations on the
    forward polynomials A/B until the step is below 1e-12 pixel, so the
    result is the exact inverse of :func:`pixel_to_plane`.
    """
    m = o + W_MINV
    X = X - p[o + W_PV + PV_X0]
    Y = Y - p[o + W_PV + PV_Y0]
    if p[o + W_TPV] != 0.0:
        X, Y = _tpv_inverse(p, o, X, Y)
        if X != X or Y != Y:
            return NAN, NAN
    U = p[m] * X + p[m + 1] * Y
    V = p[m + 2] * X + p[m + 3] * Y
    if p[o + W_SIP] != 0.0:
        oap = int(p[o + W_SIPORD + 2])
        obp = int(p[o + W_SIPORD + 3])
        u = U
        v = V
        Us = U + p[o + W_SIPD]
        Vs = V + p[o + W_SIPD + 1]
        if oap >= 0:
            u = U + _poly(p, o + W_SIPC + 2 * SIP_BLOCK, oap, Us, Vs)
        if obp >= 0:
            v = V + _poly(p, o + W_SIPC + 3 * SIP_BLOCK, obp, Us, Vs)
        for _ in range(30):
            f, fu, fv, g, gu, gv = sip_terms(p, o, u, v)
            r1 = u + f - U
            r2 = v + g - V
            a11 = 1.0 + fu
            a12 = fv
            a21 = gu
            a22 = 1.0 + gv
            det = a11 * a22 - a12 * a21
            if det == 0.0 or not math.isfinite(det):
                return NAN, NAN
            du = (a22 * r1 - a12 * r2) / det
            dv = (a11 * r2 - a21 * r1) / det
            u -= du
            v -= dv
            if abs(du) < 1e-12 and abs(dv) < 1e-12:
                break
        U = u
        V = v
    return U + p[o + W_CRPIX], V + p[o + W_CRPIX + 1]


@inline_kernel
def pixel_to_native(p, o, x, y):
    """0-based pixel -> native unit vector (NaN outside the projection)."""
    X, Y = pixel_to_plane(p, o, x, y)
    return plane_to_native(int(p[o + W_CODE]), p, o, X, Y)


@inline_kernel
def native_to_pixel(p, o, vx, vy, vz):
    """Native unit vector -> 0-based pixel (NaN outside the projection)."""
    X, Y = native_to_plane(int(p[o + W_CODE]), p, o, vx, vy, vz)
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
def _native_out_to_in(tr, x, y):
    # np.int64(): a constant argument would be typed as a literal and make
    # Numba compile the whole projection chain once per constant
    vx, vy, vz = pixel_to_native(tr, np.int64(T_OUT), x, y)
    if vx != vx:
        return NAN, NAN
    wx, wy, wz = _rot(tr, T_M, vx, vy, vz)
    return native_to_pixel(tr, np.int64(T_IN), wx, wy, wz)


@inline_kernel
def in_to_out(tr, x, y):
    """Input pixel -> output pixel (native and homography modes; NaN if invalid)."""
    vx, vy, vz = pixel_to_native(tr, np.int64(T_IN), x, y)  # (see _native_out_to_in)
    if vx != vx:
        return NAN, NAN
    wx, wy, wz = _rot(tr, T_MT, vx, vy, vz)
    return native_to_pixel(tr, np.int64(T_OUT), wx, wy, wz)


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
def out_to_in(tr, grid, x, y):
    """Output pixel -> input pixel through the transform vector ``tr``.

    In native mode the WCS chain is evaluated exactly (with the optional
    round-trip check of reproject: points that do not come back to within one
    output pixel are rejected).  In homography mode (gnomonic to gnomonic, no
    distortion) the exact map is projective and costs two divisions.  In grid
    mode the position is interpolated on the control grid ``grid`` (shape
    ``(2, ny, nx)``) computed by astropy.
    """
    mode = tr[T_MODE]
    if mode == MODE_HOMOGRAPHY:
        h = T_H
        den = tr[h + 6] * x + tr[h + 7] * y + tr[h + 8]
        if not den > 0.0:
            return NAN, NAN
        return (tr[h] * x + tr[h + 1] * y + tr[h + 2]) / den, (tr[h + 3] * x + tr[h + 4] * y + tr[h + 5]) / den
    if mode == MODE_NATIVE:
        xi, yi = _native_out_to_in(tr, x, y)
        if xi != xi or yi != yi:
            return NAN, NAN
        if tr[T_ROUNDTRIP] != 0.0:
            xb, yb = in_to_out(tr, xi, yi)
            if not (abs(xb - x) <= 1.0 and abs(yb - y) <= 1.0):
                return NAN, NAN
        return xi, yi
    return _grid_lookup(tr, grid, x, y)


@kernel
def out_to_in_row(tr, grid, y, x0, x1, xs, ys):
    """Input positions of output pixels ``x0 .. x1 - 1`` on row ``y``.

    Writes ``xs[k], ys[k]`` for pixel ``x0 + k`` (row-sized buffers: no
    full-size coordinate arrays).  The mode test is hoisted out of the loop,
    so the common TAN->TAN homography runs at a few ns per pixel; every mode
    gives exactly what :func:`out_to_in` gives point by point.
    """
    n = x1 - x0
    if tr[T_MODE] == MODE_HOMOGRAPHY:
        h = T_H
        h0, h1, h2 = tr[h], tr[h + 1], tr[h + 2]
        h3, h4, h5 = tr[h + 3], tr[h + 4], tr[h + 5]
        h6, h7, h8 = tr[h + 6], tr[h + 7], tr[h + 8]
        fy = float(y)
        for k in range(n):
            x = float(x0 + k)
            den = h6 * x + h7 * fy + h8
            if den > 0.0:
                xs[k] = (h0 * x + h1 * fy + h2) / den
                ys[k] = (h3 * x + h4 * fy + h5) / den
            else:
                xs[k] = NAN
                ys[k] = NAN
    else:
        for k in range(n):
            xs[k], ys[k] = out_to_in(tr, grid, float(x0 + k), float(y))


@inline_kernel
def pixel_to_world(p, o, x, y):
    """0-based pixel -> celestial (lon, lat) in degrees in the WCS's own frame."""
    vx, vy, vz = pixel_to_native(p, o, x, y)
    if vx != vx:
        return NAN, NAN
    cx, cy, cz = _rot(p, o + W_ROT, vx, vy, vz)
    lon = math.atan2(cy, cx) * R2D
    if lon < 0.0:
        lon += 360.0
    return lon, math.atan2(cz, math.sqrt(cx * cx + cy * cy)) * R2D


@inline_kernel
def world_to_pixel(p, o, lon, lat):
    """Celestial (lon, lat) in degrees -> 0-based pixel (NaN if invalid)."""
    cl = math.cos(lat / R2D)
    cx = cl * math.cos(lon / R2D)
    cy = cl * math.sin(lon / R2D)
    cz = math.sin(lat / R2D)
    r = o + W_ROT
    # inverse rotation = transpose
    vx = p[r] * cx + p[r + 3] * cy + p[r + 6] * cz
    vy = p[r + 1] * cx + p[r + 4] * cy + p[r + 7] * cz
    vz = p[r + 2] * cx + p[r + 5] * cy + p[r + 8] * cz
    return native_to_pixel(p, o, vx, vy, vz)


@entry(writes=("lon", "lat"))
@kernel
def pixel_to_world_array(p, x, y, lon, lat):
    """Vectorised :func:`pixel_to_world` (used by tests and the planner)."""
    for i in range(x.size):
        lon[i], lat[i] = pixel_to_world(p, np.int64(0), x[i], y[i])


@entry(writes=("x", "y"))
@kernel
def world_to_pixel_array(p, lon, lat, x, y):
    """Vectorised :func:`world_to_pixel`."""
    for i in range(lon.size):
        x[i], y[i] = world_to_pixel(p, np.int64(0), lon[i], lat[i])


@entry(writes=("xi", "yi"))
@kernel
def out_to_in_array(tr, grid, x, y, xi, yi):
    """Vectorised :func:`out_to_in` over flat arrays."""
    for i in range(x.size):
        xi[i], yi[i] = out_to_in(tr, grid, x[i], y[i])


@entry(writes=("xo", "yo"))
@kernel
def in_to_out_array(tr, x, y, xo, yo):
    """Vectorised :func:`in_to_out` over flat arrays (native mode)."""
    for i in range(x.size):
        xo[i], yo[i] = in_to_out(tr, x[i], y[i])


def empty_grid():
    """Placeholder control grid for native-mode transforms."""
    return np.zeros((2, 2, 2), dtype=np.float64)
