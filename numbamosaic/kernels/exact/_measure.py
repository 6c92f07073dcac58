"""Spherical measure and the lattice of output sub-cell corners in input pixel coordinates.

:func:`input_area_factor` is the relative solid angle per input pixel;
:func:`_lattice_row` evaluates a row of sub-cell corners (and their area
factors).  See :mod:`numbamosaic.kernels.exact`.
"""

import math

import numpy as np

from numba import types
from numba.extending import overload

from .._entry import entry
from .._jit import SELECTOR_OVERLOAD, inline_kernel, kernel
from ...wcs._layout import MODE_HOMOGRAPHY, PROJ_CODES, RARE, T_H, T_IN, T_MODE, W_CODE, W_CRPIX, W_M, W_PV, W_SIP, W_TPV
from ...wcs._native import _linear_pixel_to_plane, map_point
from ...wcs._plane import distortion_jacobian, pixel_to_plane
from ...wcs._proj_zenithal import zpn_area
from ...wcs._projections import plane_to_native

NAN = math.nan


PROJ_TAN = PROJ_CODES["TAN"]
D2R = math.pi / 180.0


#: finite-difference step (degrees) in the projection plane for the area factor
AREA_STEP_DEG = 1e-3


@kernel
def _plane_derivative(code, tr, o, X, Y, d, axis, tan):
    """Derivative of the native unit vector along plane axis ``axis`` (per degree).

    Central difference with step ``d``; where one side leaves the projection's
    domain (a seam, a pole, a limb), the second-order one-sided difference
    into the domain.  NaN if neither works.  ``tan``: the chain's flag
    (``wcs._native.pixel_to_native``: 0, or ``RARE`` for XPH and the quad cubes).
    """
    ex = d if axis == 0 else 0.0
    ey = d if axis == 1 else 0.0
    ax, ay, az = plane_to_native(code, tr, o, X + ex, Y + ey, tan)
    bx, by, bz = plane_to_native(code, tr, o, X - ex, Y - ey, tan)
    if ax == ax and bx == bx:
        h = 0.5 / d
        return (ax - bx) * h, (ay - by) * h, (az - bz) * h
    cx, cy, cz = plane_to_native(code, tr, o, X, Y, tan)
    if cx != cx:
        return NAN, NAN, NAN
    sgn = 1.0 if ax == ax else -1.0
    if sgn < 0.0:
        ax, ay, az = bx, by, bz
        if ax != ax:
            return NAN, NAN, NAN
    fx, fy, fz = plane_to_native(code, tr, o, X + 2.0 * sgn * ex, Y + 2.0 * sgn * ey, tan)
    if fx != fx:
        return NAN, NAN, NAN
    h = sgn * 0.5 / d
    return (4.0 * ax - 3.0 * cx - fx) * h, (4.0 * ay - 3.0 * cy - fy) * h, (4.0 * az - 3.0 * cz - fz) * h


@inline_kernel
def _tan_factor(X, Y):
    """Gnomonic area factor: d(solid angle) = dX dY / (1 + R^2)^(3/2), X, Y in radians."""
    r2 = (X * X + Y * Y) * (D2R * D2R)
    return 1.0 / ((1.0 + r2) * math.sqrt(1.0 + r2))


@kernel
def input_area_factor(tr, x, y, tan):
    """Relative solid angle per input pixel at input pixel ``(x, y)``; ``tan`` as :func:`_plane_derivative`.

    Projection area factor (solid angle per unit area of the projection
    plane: analytic for TAN, otherwise by differences with a fixed step of
    ``AREA_STEP_DEG``, see :func:`_plane_derivative`, so that the result is
    smooth and free of cancellation whatever the pixel size) times the
    Jacobian determinant of the SIP and TPV distortions.  The constant ``|det CD|``
    is left out: only ratios are used.  NaN outside the
    projection's domain.  (ZPN inputs without distortion use the analytic
    :func:`area_quadratic` in the kernel's lattice, compiled only for them.)
    """
    o = np.int64(T_IN)  # not a literal: one compiled projection chain (see wcs._native)
    X, Y = pixel_to_plane(tr, o, x, y)
    if X != X or Y != Y:
        return NAN
    code = int(tr[o + W_CODE])
    if code == PROJ_TAN:
        s = _tan_factor(X, Y)
    else:
        d = AREA_STEP_DEG
        ux, uy, uz = _plane_derivative(code, tr, o, X, Y, d, np.int64(0), tan)
        vx, vy, vz = _plane_derivative(code, tr, o, X, Y, d, np.int64(1), tan)
        if ux != ux or vx != vx:
            return NAN
        wx = uy * vz - uz * vy
        wy = uz * vx - ux * vz
        wz = ux * vy - uy * vx
        s = math.sqrt(wx * wx + wy * wy + wz * wz) / (D2R * D2R)
    if tr[o + W_SIP] != 0.0 or tr[o + W_TPV] != 0.0:
        s *= distortion_jacobian(tr, o, x, y)
    return s


@kernel
def _homography_area_factor(tr, x, y):
    """:func:`input_area_factor` of a TAN input without distortion (homography mode): the same
    arithmetic, without the other projections' code nor the distortions (a homography's WCS
    have none: :func:`~numbamosaic.wcs._native._linear_pixel_to_plane`, the arithmetic of
    ``pixel_to_plane`` without them).  An ordinary call: IR-inlined through
    :func:`area_factor`'s selector, its branch made Numba's SSA pass warn."""
    X, Y = _linear_pixel_to_plane(tr, np.int64(T_IN), x, y)
    if X != X or Y != Y:
        return NAN
    return _tan_factor(X, Y)


def area_factor(hom, tr, x, y):
    """:func:`input_area_factor`, reduced to the gnomonic factor when ``hom`` is the literal 1.

    ``hom`` is the kernels' homography literal (``wcs._native.map_point``):
    1 only for transforms in homography mode, whose input is TAN without
    distortion, where :func:`input_area_factor` computes exactly
    :func:`_homography_area_factor`; compiled that way, the exact kernel
    holds none of the projection chain.  2 (``RARE``): the chain with XPH
    and the quad cubes.  Pure-Python stub; see the overload.
    """
    raise NotImplementedError  # replaced by the Numba overload below


@overload(area_factor, prefer_literal=True, **SELECTOR_OVERLOAD)
def _area_factor_impl(hom, tr, x, y):
    if isinstance(hom, types.IntegerLiteral) and hom.literal_value == 1:
        return lambda hom, tr, x, y: _homography_area_factor(tr, x, y)
    if isinstance(hom, types.IntegerLiteral) and hom.literal_value == RARE:
        return lambda hom, tr, x, y: input_area_factor(tr, x, y, RARE)
    return lambda hom, tr, x, y: input_area_factor(tr, x, y, 0)


@kernel
def area_quadratic(tr, x, y):
    """:func:`input_area_factor` and its quadratic Taylor terms at input pixel ``(x, y)``.

    Returns ``(s, qa, qb, qc)``: ``s`` the relative solid angle per input
    pixel and ``s(x + dx, y + dy) = s + ... + qa dx^2 + qb dx dy + qc dy^2 +
    O(d^3)`` (half the Hessian in input pixels).  Analytic, for ZPN inputs
    without distortion (``quadratic_model`` in :mod:`numbamosaic.exact`
    decides): ``s = g(rho)`` is radial in the projection plane
    (:func:`~numbamosaic.wcs._proj_zenithal.zpn_area`), so its Hessian
    there is ``g'' e e^T + (g' / rho) (I - e e^T)`` (``e`` the radial unit
    vector), carried to pixels by the matrix of the linear pixel -> plane
    map.  NaN outside the domain.
    """
    o = np.int64(T_IN)
    X, Y = pixel_to_plane(tr, o, x, y)
    if X != X or Y != Y:
        return NAN, NAN, NAN, NAN
    g, g1, g2, rho = zpn_area(tr, o + W_PV, X, Y)
    if g != g:
        return NAN, NAN, NAN, NAN
    if rho > 0.0:
        ex = X * D2R / rho
        ey = Y * D2R / rho
        t = g1 / rho
        hxx = g2 * ex * ex + t * (1.0 - ex * ex)
        hxy = (g2 - t) * ex * ey
        hyy = g2 * ey * ey + t * (1.0 - ey * ey)
    else:  # at the pole: the radial curvature in every direction
        hxx = g2
        hxy = 0.0
        hyy = g2
    # plane (radians) = D2R M (pixel - CRPIX) + offset: H_pixel = D2R^2 M^T H M
    m = o + W_M
    m0 = tr[m] * D2R
    m1 = tr[m + 1] * D2R
    m2 = tr[m + 2] * D2R
    m3 = tr[m + 3] * D2R
    huu = m0 * (hxx * m0 + hxy * m2) + m2 * (hxy * m0 + hyy * m2)
    huv = m0 * (hxx * m1 + hxy * m3) + m2 * (hxy * m1 + hyy * m3)
    hvv = m1 * (hxx * m1 + hxy * m3) + m3 * (hxy * m1 + hyy * m3)
    return g, 0.5 * huu, huv, 0.5 * hvv


@kernel
def _lattice_row(tr, grid, jac, nsub, x0, yy, lx, ly, lj, lq, quad, hom, full):
    """Input positions (and area factors) of lattice points along output row ``yy``.

    Point ``a`` lies at output x ``(x0 + a // nsub - 0.5) + (a % nsub) / nsub``:
    a function of the global pixel index only, so every tile and thread
    computes bit-identical shared corners.  For TAN -> TAN without
    distortion (homography mode) the whole row is evaluated in one
    branch-free loop (vectorised by the compiler) with the same arithmetic
    as :func:`~numbamosaic.wcs._native.out_to_in` and
    :func:`input_area_factor` (bit-identical values, no per-point calls).
    ``hom``: the homography literal (see :func:`area_factor`).  ``full``: ``None`` in the
    kernels' homography variant (``kernels._reduced``; ``hom`` 1, so the transform is a
    homography), which compiles that loop alone.

    ``jac``: 0 no solid angle (``lj = 1``), 1 the area factor, 2 also its
    quadratic terms into ``lq[0:3, a]`` (:func:`area_quadratic`; ``lq`` is
    not touched otherwise), 3 the same at output pixel corners only (``a``
    a multiple of ``nsub``; ``lj = 1`` elsewhere).  2 and 3 need ``quad``
    True (:mod:`._quadratic`); with None the quadratic code is not
    compiled.
    """
    n = lx.shape[0]
    o = T_IN
    jl = jac != 0
    if full is None or (tr[T_MODE] == MODE_HOMOGRAPHY and int(tr[o + W_CODE]) == PROJ_TAN and tr[o + W_SIP] == 0.0):
        h = T_H
        h0, h1, h2 = tr[h], tr[h + 1], tr[h + 2]
        h3, h4, h5 = tr[h + 3], tr[h + 4], tr[h + 5]
        h6, h7, h8 = tr[h + 6], tr[h + 7], tr[h + 8]
        cx = tr[o + W_CRPIX]
        cy = tr[o + W_CRPIX + 1]
        m = o + W_M
        m0, m1, m2, m3 = tr[m], tr[m + 1], tr[m + 2], tr[m + 3]
        # output x of every point first (exactly as in the general loop below) ...
        npx = (n - 1) // nsub + 1
        for k in range(nsub):
            kf = k / nsub
            for q in range(npx):
                a = q * nsub + k
                if a < n:
                    lx[a] = ((x0 + q) - 0.5) + kf if k else (x0 + q) - 0.5
        # ... then a branch-free loop the compiler vectorises
        for a in range(n):
            xx = lx[a]
            den = h6 * xx + h7 * yy + h8
            xi = (h0 * xx + h1 * yy + h2) / den
            yi = (h3 * xx + h4 * yy + h5) / den
            u = xi - cx
            v = yi - cy
            X = m0 * u + m1 * v
            Y = m2 * u + m3 * v
            r2 = (X * X + Y * Y) * (D2R * D2R)
            s = 1.0 / ((1.0 + r2) * math.sqrt(1.0 + r2))
            ok = den > 0.0
            lx[a] = xi if ok else NAN
            ly[a] = yi if ok else NAN
            lj[a] = s if (ok and jl) else 1.0
        return
    for a in range(n):
        p = x0 + a // nsub
        k = a % nsub
        xx = (p - 0.5) + k / nsub if k else p - 0.5
        xi, yi = map_point(hom, tr, grid, xx, yy)
        lx[a] = xi
        ly[a] = yi
        if quad is not None and xi == xi and (jac == 2 or (jac == 3 and k == 0)):
            lj[a], lq[0, a], lq[1, a], lq[2, a] = area_quadratic(tr, xi, yi)
        elif jac == 1 and xi == xi:
            lj[a] = area_factor(hom, tr, xi, yi)
        else:
            lj[a] = 1.0


@entry(writes=("out",), literal=("hom",))  # canonical types: the WCS chain keeps its one compiled variant
@kernel
def area_factors(tr, x, y, out, hom):
    """:func:`input_area_factor` at input positions ``(x[i], y[i])`` into ``out[i]``
    (NaN where a position is NaN); for the subdivision policy's probes.
    ``hom``: ``wcs._native.homography_flag(tr)`` (see :func:`area_factor`)."""
    for i in range(x.shape[0]):
        xi = x[i]
        yi = y[i]
        out[i] = area_factor(hom, tr, xi, yi) if (xi == xi and yi == yi) else NAN


@entry(writes=("out",))
@kernel
def area_quadratics(tr, x, y, out):
    """:func:`area_quadratic` at input positions ``(x[i], y[i])`` into
    ``out[0:4, i]`` (NaN where a position is NaN); for the subdivision
    policy's probes."""
    for i in range(x.shape[0]):
        xi = x[i]
        yi = y[i]
        if xi == xi and yi == yi:
            out[0, i], out[1, i], out[2, i], out[3, i] = area_quadratic(tr, xi, yi)
        else:
            out[0, i] = NAN
            out[1, i] = NAN
            out[2, i] = NAN
            out[3, i] = NAN
