"""The quadratic solid-angle model of the exact kernel (ZPN inputs), compiled only for the calls that use it.

The exact kernels take a literal ``quad`` (``kernels._entry``,
``literal=("quad", "hom")``; :func:`numbamosaic.kernels.exact._rows.quad_flag`):
1 when ``opts[O_JAC]`` is 2 or 3, the quadratic model the policy chooses for
ZPN inputs without distortion (:func:`numbamosaic.exact.quadratic_model`),
0 for every other transform (the linear model, or none).  The model's
functions are reached through the selectors of this module, which call them
for ``quad`` 1 and return constants for 0, and its inline arithmetic is
guarded by ``quad == 1`` (a constant once the literal is lowered, folded
away by LLVM).  A call with ``quad`` 0 thus compiles none of the model's
code (the cold start of TAN mosaics does not grow) and runs the arithmetic
of the linear model alone (bitwise the same outputs, and no extra tests or
loads in the edge functions: when the quadratic coefficients reached the
edge functions of every transform, HEALPix exact took 8-10 % more CPU).
A ``quad`` that is not a literal selects the model's functions, which also
serve zero quadratic terms.

Selectors are overloads inlined into their caller (``kernels._jit``,
``SELECTOR_OVERLOAD``), like the homography selectors of ``wcs._native``.
See :mod:`numbamosaic.kernels.exact` ("Spherical measure") for the model.

References
----------
Calabretta, M. R. & Greisen, E. W. 2002, A&A 395, 1077 (ZPN, Sect. 5.1).
Numba documentation, "High-level extension API" (``overload``, literal arguments).
"""

import math

from numba import types
from numba.extending import overload

from .._jit import SELECTOR_OVERLOAD, inline_kernel, kernel
from ._curves import _second_moments
from ._polygon import SIXTH, poly_moments2

NAN = math.nan
THIRD = 1.0 / 3.0
TWELFTH = 1.0 / 12.0
#: rows of the scratch ``B`` (``(B_ROWS, MAXB * MAXB)``): 0-2 the cell sums, 3
#: a parabola's crossing parameters, 4 the sums of ``int u^2 du`` and
#: ``Q_ROW`` the quadratic model's flag and coefficients (read by the edge
#: functions with ``quad`` 1, so that their calling convention stays the
#: linear model's: three more float arguments per edge piece cost ~10 % on
#: HEALPix inputs)
Q_ROW = 5
B_ROWS = 6


def _model_on(quad):
    """Typing-time choice of a selector: False only for the literal 0."""
    return not (isinstance(quad, types.IntegerLiteral) and quad.literal_value == 0)


@inline_kernel
def _quad_strip(u, h, r, qa, qb, qc):
    """Integral in ``v`` from ``r`` to ``r + h`` of the quadratic terms ``qa
    u^2 + qb u v + qc v^2`` of the solid-angle model."""
    return ((qa * u + qb * r) * u + qc * r * r) * h + (qb * u + 2.0 * qc * r) * (0.5 * h * h) + qc * h * h * h * THIRD


@inline_kernel
def set_quadratic(B, qa, qb, qc):
    """Store the quadratic terms ``qa u^2 + qb u v + qc v^2`` of the model
    for the edge functions (all zero: the linear model); returns whether
    there are any."""
    qm = qa != 0.0 or qb != 0.0 or qc != 0.0
    B[Q_ROW, 0] = 1.0 if qm else 0.0
    B[Q_ROW, 1] = qa
    B[Q_ROW, 2] = qb
    B[Q_ROW, 3] = qc
    return qm


@kernel
def _edge_piece_quad(B, i, sd, ua, ub, ha, hb, fr):
    """The quadratic terms of :func:`._edges._edge_piece` (coefficients in
    ``B[Q_ROW, 1:4]``): the partial-row integral, a cubic in ``u`` (Simpson's
    rule is exact), to ``B[0]`` and ``sd`` times the mean of ``u^2`` to ``B[4]``."""
    qa = B[Q_ROW, 1]
    qb = B[Q_ROW, 2]
    qc = B[Q_ROW, 3]
    um = 0.5 * (ua + ub)
    hm = 0.5 * (ha + hb)
    fa = _quad_strip(ua, ha, fr, qa, qb, qc)
    fm = _quad_strip(um, hm, fr, qa, qb, qc)
    fb = _quad_strip(ub, hb, fr, qa, qb, qc)
    B[0, i] += sd * (fa + 4.0 * fm + fb) * SIXTH
    B[4, i] += sd * (ua * ua + ua * ub + ub * ub) * THIRD


def second_moments(quad, P, E, xm, ym, curved):
    """:func:`._curves._second_moments`, zeros for ``quad`` the literal 0.  Stub; see the overload."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(second_moments, prefer_literal=True, **SELECTOR_OVERLOAD)
def _second_moments_impl(quad, P, E, xm, ym, curved):
    if _model_on(quad):
        return lambda quad, P, E, xm, ym, curved: _second_moments(P, E, xm, ym, curved)
    return lambda quad, P, E, xm, ym, curved: (0.0, 0.0, 0.0)


def piece_moments2(quad, P, s, n, cx, cy):
    """:func:`._polygon.poly_moments2`, zeros for ``quad`` the literal 0.  Stub; see the overload."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(piece_moments2, prefer_literal=True, **SELECTOR_OVERLOAD)
def _piece_moments2_impl(quad, P, s, n, cx, cy):
    if _model_on(quad):
        return lambda quad, P, s, n, cx, cy: poly_moments2(P, s, n, cx, cy)
    return lambda quad, P, s, n, cx, cy: (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@kernel
def _pixel_model(LX, LY, LJ, LQ, base, nsub):
    """Quadratic solid-angle model of one output pixel from its four corner
    lattice points (rows 1 and ``1 + nsub``, columns ``base`` and ``base +
    nsub``): ``(j0, jx, jy, qa, qb, qc, xm, ym)`` about the corners' mean
    ``(xm, ym)`` (input pixels), fitted as in :func:`._rows._exact_row` (quadratic
    terms the corners' mean, the plane through the corrected values along
    both diagonals).  Where a corner is outside the projection's domain:
    the mean of the finite corners, constant (``jx`` NaN flags it)."""
    b1 = 1 + nsub
    c1 = base + nsub
    X0 = LX[1, base]
    X1 = LX[1, c1]
    X2 = LX[b1, c1]
    X3 = LX[b1, base]
    Y0 = LY[1, base]
    Y1 = LY[1, c1]
    Y2 = LY[b1, c1]
    Y3 = LY[b1, base]
    J0 = LJ[1, base]
    J1 = LJ[1, c1]
    J2 = LJ[b1, c1]
    J3 = LJ[b1, base]
    ok = J0 == J0 and J1 == J1 and J2 == J2 and J3 == J3 and X0 == X0 and X1 == X1 and X2 == X2 and X3 == X3
    qa = 0.0
    qb = 0.0
    qc = 0.0
    if ok:
        qa = 0.25 * (LQ[0, 1, base] + LQ[0, 1, c1] + LQ[0, b1, c1] + LQ[0, b1, base])
        qb = 0.25 * (LQ[1, 1, base] + LQ[1, 1, c1] + LQ[1, b1, c1] + LQ[1, b1, base])
        qc = 0.25 * (LQ[2, 1, base] + LQ[2, 1, c1] + LQ[2, b1, c1] + LQ[2, b1, base])
        ok = qa == qa and qb == qb and qc == qc
    if not ok:
        j = 0.0
        n = 0
        for k in range(4):
            jk = J0 if k == 0 else (J1 if k == 1 else (J2 if k == 2 else J3))
            if jk == jk:
                j += jk
                n += 1
        return (j / n if n > 0 else 1.0), NAN, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    xm = 0.25 * ((X0 + X1) + (X2 + X3))
    ym = 0.25 * ((Y0 + Y1) + (Y2 + Y3))
    u = X0 - xm
    v = Y0 - ym
    J0 -= (qa * u + qb * v) * u + qc * v * v
    u = X1 - xm
    v = Y1 - ym
    J1 -= (qa * u + qb * v) * u + qc * v * v
    u = X2 - xm
    v = Y2 - ym
    J2 -= (qa * u + qb * v) * u + qc * v * v
    u = X3 - xm
    v = Y3 - ym
    J3 -= (qa * u + qb * v) * u + qc * v * v
    j0 = 0.25 * (J0 + J1 + J2 + J3)
    jx = 0.0
    jy = 0.0
    d1x = X2 - X0
    d1y = Y2 - Y0
    d2x = X3 - X1
    d2y = Y3 - Y1
    det = d1x * d2y - d1y * d2x
    if abs(det) > 1e-12 * (abs(d1x) + abs(d1y)) * (abs(d2x) + abs(d2y)):
        e1 = J2 - J0
        e2 = J3 - J1
        jx = (e1 * d2y - e2 * d1y) / det
        jy = (d1x * e2 - d2x * e1) / det
    return j0, jx, jy, qa, qb, qc, xm, ym


def pixel_model(quad, LX, LY, LJ, LQ, base, nsub):
    """:func:`_pixel_model`, a constant for ``quad`` the literal 0 (never used
    then: per-pixel models are ``opts[O_JAC] == 3``).  Stub; see the overload."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(pixel_model, prefer_literal=True, **SELECTOR_OVERLOAD)
def _pixel_model_impl(quad, LX, LY, LJ, LQ, base, nsub):
    if _model_on(quad):
        return lambda quad, LX, LY, LJ, LQ, base, nsub: _pixel_model(LX, LY, LJ, LQ, base, nsub)
    return lambda quad, LX, LY, LJ, LQ, base, nsub: (1.0, NAN, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
