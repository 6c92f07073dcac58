"""The quadratic solid-angle model of the exact kernel (ZPN inputs), compiled only for the calls that use it.

The exact kernels take an argument ``quad``
(:func:`numbamosaic.kernels.exact._rows.quad_flag`): ``True`` when
``opts[O_JAC]`` is 2 or 3, the quadratic model the policy chooses for ZPN
inputs without distortion (:func:`numbamosaic.exact.quadratic_model`),
``None`` for every other transform (the linear model, or none).  Every use
of the model in the kernels (the functions below, and its few lines of
arithmetic in the clipping code) sits in a branch whose condition starts
with ``quad is not None``.  A ``None`` argument is a compile-time constant
to Numba: its dead-branch pruning removes those branches from the IR
before type inference, in the function that takes ``quad`` and in the
functions inlined into it, so a call with ``None`` compiles none of the
model (the cold start of TAN mosaics does not grow) and runs the
arithmetic of the linear model alone (bitwise the same outputs; no extra
loads or tests in the edge functions: when the model's tests reached the
kernels of every transform, HEALPix exact took 8-13 % more CPU).  (An
integer literal would not do: the pruning resolves ``None`` arguments and
constants only, and the overload selectors that could choose code on a
literal each cost a pass over the whole host function when inlined, ~0.2
CPU s per site in the row function.)

See :mod:`numbamosaic.kernels.exact` ("Spherical measure") for the model.

References
----------
Calabretta, M. R. & Greisen, E. W. 2002, A&A 395, 1077 (ZPN, Sect. 5.1).
Numba source, ``numba.core.analysis.dead_branch_prune`` (branches on
``None`` arguments removed before typing).
"""

import math

from .._jit import inline_kernel, kernel
from ._polygon import SIXTH, S_QUAD, diagonal_gradient

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
    jx, jy = diagonal_gradient(X0, Y0, X1, Y1, X2, Y2, X3, Y3, J0, J1, J2, J3)
    return j0, jx, jy, qa, qb, qc, xm, ym




@kernel
def _pixel_at(pj0, pjx, pjy, pqa, pqb, pqc, dx, dy):
    """The pixel model of :func:`_pixel_model` re-centred at offset ``(dx,
    dy)`` from its centre: ``(J, jx, jy, qa, qb, qc)``, the value, gradient
    and quadratic terms there (``pjx`` NaN: the constant ``pj0``)."""
    if pjx != pjx:
        return pj0, 0.0, 0.0, 0.0, 0.0, 0.0
    J = pj0 + (pjx + pqa * dx + pqb * dy) * dx + (pjy + pqc * dy) * dy
    return J, pjx + 2.0 * pqa * dx + pqb * dy, pjy + pqb * dx + 2.0 * pqc * dy, pqa, pqb, pqc




@kernel
def _corner_terms(LQ, b, c0, P, xm, ym, J0, J1, J2, J3):
    """Quadratic terms of a sub-cell (lattice rows ``b, b + 1``, columns ``c0,
    c0 + 1``): the corners' mean of ``LQ``, and the corner area factors with
    them removed (about ``(xm, ym)``, the corners in slot ``S_QUAD`` of
    ``P``), from which the row function fits the linear part.  Returns
    ``(qa, qb, qc, J0, J1, J2, J3)``; zero terms and the values unchanged
    where a corner has none."""
    qa = 0.25 * (LQ[0, b, c0] + LQ[0, b, c0 + 1] + LQ[0, b + 1, c0 + 1] + LQ[0, b + 1, c0])
    qb = 0.25 * (LQ[1, b, c0] + LQ[1, b, c0 + 1] + LQ[1, b + 1, c0 + 1] + LQ[1, b + 1, c0])
    qc = 0.25 * (LQ[2, b, c0] + LQ[2, b, c0 + 1] + LQ[2, b + 1, c0 + 1] + LQ[2, b + 1, c0])
    if not (qa == qa and qb == qb and qc == qc):
        return 0.0, 0.0, 0.0, J0, J1, J2, J3
    u = P[S_QUAD, 0, 0] - xm
    v = P[S_QUAD, 1, 0] - ym
    J0 -= (qa * u + qb * v) * u + qc * v * v
    u = P[S_QUAD, 0, 1] - xm
    v = P[S_QUAD, 1, 1] - ym
    J1 -= (qa * u + qb * v) * u + qc * v * v
    u = P[S_QUAD, 0, 2] - xm
    v = P[S_QUAD, 1, 2] - ym
    J2 -= (qa * u + qb * v) * u + qc * v * v
    u = P[S_QUAD, 0, 3] - xm
    v = P[S_QUAD, 1, 3] - ym
    J3 -= (qa * u + qb * v) * u + qc * v * v
    return qa, qb, qc, J0, J1, J2, J3




@kernel
def _boxer_shift(B, um, vm, jA, jx, jy, qa, qb, qc):
    """The quadratic model about ``(xm, ym)`` as a polynomial in the box's ``(u,
    v)`` (``(um, vm)``: the model's centre there): its terms shift the lower
    ones.  Stores the coefficients for the edge functions (``B[Q_ROW]``) and
    returns the new ``(jA, jx, jy)``."""
    B[Q_ROW, 0] = 1.0
    B[Q_ROW, 1] = qa
    B[Q_ROW, 2] = qb
    B[Q_ROW, 3] = qc
    jA += (qa * um + qb * vm) * um + qc * vm * vm
    return jA, jx - 2.0 * qa * um - qb * vm, jy - qb * um - 2.0 * qc * vm


