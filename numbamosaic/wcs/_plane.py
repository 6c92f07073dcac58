"""Per-point WCS evaluation in Numba: 0-based pixel <-> projection plane.

The first step of the chain of :mod:`._native` (C&G 2002, Fig. 1): the
offset from CRPIX, the SIP distortion polynomials (Shupe et al. 2005) and
their exact inverse, the linear CD/PC*CDELT matrix and the TPV polynomials
(TPV registry document; wcslib ``dis.c``), and the Jacobian determinant of the
distortions used by the exact kernel's area factor.  Every function takes the
flat parameter vector (see ``_layout``) and an offset.
"""

import math

from ..kernels._jit import kernel
from ._layout import (
    PV_X0,
    PV_Y0,
    SIP_BLOCK,
    SIP_MAX_ORDER,
    W_CRPIX,
    W_M,
    W_MINV,
    W_PV,
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

NAN = math.nan


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
