"""Curved images of the output sub-cell edges (see :mod:`numbamosaic.kernels.exact`, "Curved edges").

A sub-cell edge maps into the input as a curve.  Its bulge is read off the
lattice points on either side of the edge along the same lattice line (no
extra transforms), the edge is modelled as a parabola and followed by as many
chords as its tolerance needs; the sub-cell's outline then has more than four
vertices.  The policy (tolerance, sub-cells) is :mod:`numbamosaic.exact`'s.
"""

import math

import numpy as np

from .._jit import inline_kernel, kernel
from ._polygon import S_QUAD

#: Gauss-Legendre nodes and weights on [0, 1] (3 points: exact for polynomials
#: of degree 5, the integrands along a parabolic edge)
GL_T0 = 0.5 - 0.1 * math.sqrt(15.0)
GL_T2 = 0.5 + 0.1 * math.sqrt(15.0)
GL_W0 = 5.0 / 18.0
GL_W1 = 8.0 / 18.0

#: Gauss-Legendre nodes and weights on [0, 1] (4 points: exact for polynomials
#: of degree 7, the integrands of the quadratic solid-angle model)
GL4_T = ((1.0 - math.sqrt(3.0 / 7.0 + 2.0 / 7.0 * math.sqrt(1.2))) * 0.5,
         (1.0 - math.sqrt(3.0 / 7.0 - 2.0 / 7.0 * math.sqrt(1.2))) * 0.5,
         (1.0 + math.sqrt(3.0 / 7.0 - 2.0 / 7.0 * math.sqrt(1.2))) * 0.5,
         (1.0 + math.sqrt(3.0 / 7.0 + 2.0 / 7.0 * math.sqrt(1.2))) * 0.5)
GL4_W = ((18.0 - math.sqrt(30.0)) / 72.0, (18.0 + math.sqrt(30.0)) / 72.0,
         (18.0 + math.sqrt(30.0)) / 72.0, (18.0 - math.sqrt(30.0)) / 72.0)

#: most chords per curved sub-cell edge (see :func:`_edge_bulge`)
MAXM = 32
#: curved edges whose bulge exceeds this fraction of their chord (a seam,
#: a limb) are kept straight: the parabola model does not hold there
MAX_BULGE = 0.05


@inline_kernel
def _edge_bulge(p0x, p0y, p1x, p1y, p2x, p2y, p3x, p3y, tol):
    """Bulge and chord count of the lattice edge ``p1 -> p2`` from the
    lattice points ``p0 .. p3`` along its lattice line.

    The edge is modelled as the parabola through ``p1``, ``p2`` and the
    midpoint given by 4-point (cubic) interpolation, ``(9 (p1 + p2) - (p0 +
    p3)) / 16`` (error ``3/128 h^4 p''''``): its bulge (midpoint minus chord
    midpoint) is ``S = ((p1 + p2) - (p0 + p3)) / 16``, the same from both
    sides.  The area between parabola and chord is ``2/3 |d x S|`` (``d =
    p2 - p1``); ``m`` chords leave ``1 / m^2`` of it.  Returns ``(Sx, Sy,
    m)`` with the smallest ``m <= MAXM`` bringing that residual below ``tol
    |d|^2``; ``(0, 0, 1)`` (a straight edge) when it already is, or when a
    point is missing or the bulge is implausibly large (``MAX_BULGE``).
    """
    sx = ((p1x + p2x) - (p0x + p3x)) * 0.0625
    sy = ((p1y + p2y) - (p0y + p3y)) * 0.0625
    dx = p2x - p1x
    dy = p2y - p1y
    dd = dx * dx + dy * dy
    if not (sx == sx and sy == sy and dd > 0.0) or sx * sx + sy * sy > (MAX_BULGE * MAX_BULGE) * dd:
        return 0.0, 0.0, 1
    rel = (2.0 / 3.0) * abs(dx * sy - dy * sx) / dd
    if rel <= tol:
        return 0.0, 0.0, 1
    return sx, sy, min(MAXM, int(math.ceil(math.sqrt(rel / tol))))


@inline_kernel
def _unwrap(qx, qy, rx, ry, px, py, pp):
    """``q`` moved by whole longitude periods ``(px, py)`` to within half a
    period of ``r`` (unchanged when ``pp = px^2 + py^2`` is 0)."""
    if pp > 0.0:
        t = ((qx - rx) * px + (qy - ry) * py) / pp
        if t > 0.5 or t < -0.5:
            m = math.floor(t + 0.5)
            qx -= m * px
            qy -= m * py
    return qx, qy


@kernel
def _stencil(E, e, p0x, p0y, p1x, p1y, p2x, p2y, p3x, p3y, px, py, pp, tol):
    """``E[:, e]`` = bulge and chord count of edge ``p1 -> p2``
    (:func:`_edge_bulge`), the outer stencil points first brought to the
    side of the seam of their edge's end points."""
    p0x, p0y = _unwrap(p0x, p0y, p1x, p1y, px, py, pp)
    p3x, p3y = _unwrap(p3x, p3y, p2x, p2y, px, py, pp)
    E[0, e], E[1, e], E[2, e] = _edge_bulge(p0x, p0y, p1x, p1y, p2x, p2y, p3x, p3y, tol)


@kernel
def _chords(P, nv, ax, ay, bx, by, sx, sy, m, rev, ox, oy):
    """Append the ``m - 1`` inner chord points of the parabola ``a + (b - a) t
    + 4 S t (1 - t)`` to the outline in slot ``S_QUAD`` (in reverse order if
    ``rev``), shifted by ``(ox, oy)``; returns the new vertex count.  Points
    are computed from the canonical (lattice-order) end points, so both
    neighbours of an edge get the same ones."""
    dx = bx - ax
    dy = by - ay
    for i in range(1, m):
        k = m - i if rev != 0 else i
        t = k / m
        q = 4.0 * t * (1.0 - t)
        P[S_QUAD, 0, nv] = ((ax + dx * t + sx * q) + ox)
        P[S_QUAD, 1, nv] = ((ay + dy * t + sy * q) + oy)
        nv += 1
    return nv


@kernel
def _outline(P, X0, Y0, X1, Y1, X2, Y2, X3, Y3, ox, oy, E):
    """Write the curved outline of a sub-cell into slot ``S_QUAD``: corners
    ``0 .. 3`` shifted by ``(ox, oy)`` and the chord points of each edge
    (bulges and counts in ``E[0..2, e]``, edges bottom ``0 -> 1``, right ``1 ->
    2``, top ``3 -> 2`` and left ``0 -> 3`` in lattice order).  Returns the
    vertex count."""
    P[S_QUAD, 0, 0] = X0 + ox
    P[S_QUAD, 1, 0] = Y0 + oy
    nv = _chords(P, np.int64(1), X0, Y0, X1, Y1, E[0, 0], E[1, 0], int(E[2, 0]), np.int64(0), ox, oy)
    P[S_QUAD, 0, nv] = X1 + ox
    P[S_QUAD, 1, nv] = Y1 + oy
    nv = _chords(P, nv + 1, X1, Y1, X2, Y2, E[0, 1], E[1, 1], int(E[2, 1]), np.int64(0), ox, oy)
    P[S_QUAD, 0, nv] = X2 + ox
    P[S_QUAD, 1, nv] = Y2 + oy
    nv = _chords(P, nv + 1, X3, Y3, X2, Y2, E[0, 2], E[1, 2], int(E[2, 2]), np.int64(1), ox, oy)
    P[S_QUAD, 0, nv] = X3 + ox
    P[S_QUAD, 1, nv] = Y3 + oy
    return _chords(P, nv + 1, X0, Y0, X3, Y3, E[0, 3], E[1, 3], int(E[2, 3]), np.int64(1), ox, oy)


@kernel
def _curved_moments(P, E, xm, ym):
    """Signed area and first moments about ``(xm, ym)`` (as
    :func:`._polygon.poly_moments`) of the quadrilateral in slot ``S_QUAD``
    whose edges are the parabolas of ``E`` where their chord count exceeds 1.

    Green's theorem, ``A = 1/2 oint (x dy - y dx)``, ``Mx = 1/2 oint x^2 dy``,
    ``My = -1/2 oint y^2 dx``, each edge by 3-point Gauss-Legendre in its
    parameter (exact: the integrands are polynomials of degree <= 5).
    """
    a2 = 0.0
    mx = 0.0
    my = 0.0
    for e in range(4):  # polygon edge e -> e + 1 is lattice edge e
        f = (e + 1) % 4
        ax = P[S_QUAD, 0, e] - xm
        ay = P[S_QUAD, 1, e] - ym
        dx = (P[S_QUAD, 0, f] - xm) - ax
        dy = (P[S_QUAD, 1, f] - ym) - ay
        sx = 0.0
        sy = 0.0
        if E[2, e] > 1.0:
            sx = E[0, e]
            sy = E[1, e]
        for g in range(3):
            if g == 0:
                t = GL_T0
                w = GL_W0
            elif g == 1:
                t = 0.5
                w = GL_W1
            else:
                t = GL_T2
                w = GL_W0
            q = 4.0 * t * (1.0 - t)
            x = ax + dx * t + sx * q
            y = ay + dy * t + sy * q
            q1 = 4.0 - 8.0 * t
            xd = dx + sx * q1
            yd = dy + sy * q1
            a2 += w * (x * yd - y * xd)
            mx += w * x * x * yd
            my -= w * y * y * xd
    return 0.5 * a2, 0.5 * mx, 0.5 * my


@kernel
def _second_moments(P, E, xm, ym, curved):
    """Second moments ``(Mxx, Mxy, Myy)`` about ``(xm, ym)`` of the
    quadrilateral in slot ``S_QUAD``, its edges the parabolas of ``E`` where
    ``curved`` and their chord count exceeds 1 (else straight).

    Green's theorem, ``Mxx = 1/3 oint x^3 dy``, ``Myy = -1/3 oint y^3 dx``,
    ``Mxy = 1/2 oint x^2 y dy``, each edge by 4-point Gauss-Legendre in its
    parameter (exact: the integrands are polynomials of degree <= 7).  For
    the quadratic solid-angle model (:mod:`._rows`).
    """
    mxx = 0.0
    mxy = 0.0
    myy = 0.0
    for e in range(4):  # polygon edge e -> e + 1 is lattice edge e
        f = (e + 1) % 4
        ax = P[S_QUAD, 0, e] - xm
        ay = P[S_QUAD, 1, e] - ym
        dx = (P[S_QUAD, 0, f] - xm) - ax
        dy = (P[S_QUAD, 1, f] - ym) - ay
        sx = 0.0
        sy = 0.0
        if curved and E[2, e] > 1.0:
            sx = E[0, e]
            sy = E[1, e]
        for g in range(4):
            t = GL4_T[g]
            w = GL4_W[g]
            q = 4.0 * t * (1.0 - t)
            x = ax + dx * t + sx * q
            y = ay + dy * t + sy * q
            q1 = 4.0 - 8.0 * t
            xd = dx + sx * q1
            yd = dy + sy * q1
            mxx += w * x * x * x * yd
            mxy += w * x * x * y * yd
            myy -= w * y * y * y * xd
    return mxx / 3.0, 0.5 * mxy, myy / 3.0
