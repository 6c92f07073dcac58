"""Polygon primitives of the exact kernel: one-pass splitting by an axis-aligned line, area and first moments.

Polygons live in a scratch array of slots (``S_*``), so the hot loops juggle
integers, not array views.  See :mod:`numbamosaic.kernels.exact`.
"""

from .._jit import inline_kernel, kernel

#: polygon scratch capacity: a curved outline of up to ``4 * 32`` vertices
#: (``_curves.MAXM`` chords per edge) cut by 4 lines (each parabolic edge
#: crosses a line at most twice; a convex quad cut by 4 lines has <= 8), generous
MAXV = 4 * 32 + 64


SIXTH = 1.0 / 6.0


# scratch polygon slots (see :func:`split_half`)
S_QUAD = 0  # the sub-cell, local coordinates
S_ROW_A = 1  # remainder of the row sweep (ping-pong)
S_ROW_B = 2
S_STRIP = 3  # one row strip
S_COL_A = 4  # remainder of the column sweep (ping-pong)
S_COL_B = 5
S_PIECE = 6  # one piece
NSLOT = 7


@kernel
def split_half(P, src, n, axis, c, lo, hi):
    """Split polygon ``P[src, :, :n]`` by the line ``coord == c`` in one pass.

    Polygons live in a scratch array ``P`` of shape ``(slots, 2, MAXV)``
    (``P[s, 0]`` x, ``P[s, 1]`` y), addressed by slot number, so the hot
    loops juggle integers, not array views.  ``coord`` is x (``axis == 0``)
    or y.  The part with ``coord <= c`` goes to slot ``lo``, the part with
    ``coord >= c`` to slot ``hi`` (either may be -1: discarded).  Vertices on
    the line go to both halves; each crossing point is computed once and
    written to both, so the halves share their cut edge bit for bit.
    Returns the two vertex counts; orientation is preserved.
    """
    nl = 0
    nh = 0
    if n == 0:
        return 0, 0
    px = P[src, 0, n - 1]
    py = P[src, 1, n - 1]
    pc = px if axis == 0 else py
    for k in range(n):
        qx = P[src, 0, k]
        qy = P[src, 1, k]
        qc = qx if axis == 0 else qy
        if (pc < c and qc > c) or (pc > c and qc < c):
            if axis == 0:
                ix = c
                iy = py + (c - px) * (qy - py) / (qx - px)
            else:
                ix = px + (c - py) * (qx - px) / (qy - py)
                iy = c
            if lo >= 0:
                P[lo, 0, nl] = ix
                P[lo, 1, nl] = iy
            nl += 1
            if hi >= 0:
                P[hi, 0, nh] = ix
                P[hi, 1, nh] = iy
            nh += 1
        if qc <= c:
            if lo >= 0:
                P[lo, 0, nl] = qx
                P[lo, 1, nl] = qy
            nl += 1
        if qc >= c:
            if hi >= 0:
                P[hi, 0, nh] = qx
                P[hi, 1, nh] = qy
            nh += 1
        px = qx
        py = qy
        pc = qc
    return nl, nh


@kernel
def poly_moments(P, s, n, cx, cy):
    """Signed area and first moments of polygon ``P[s, :, :n]`` about ``(cx, cy)``.

    Returns ``(A, Mx, My)`` with ``Mx = integral of (x - cx) dA`` (so the
    centroid is ``cx + Mx / A``); positive for counter-clockwise polygons
    (with y pointing up).
    """
    a2 = 0.0
    mx = 0.0
    my = 0.0
    if n < 3:
        return 0.0, 0.0, 0.0
    px = P[s, 0, n - 1] - cx
    py = P[s, 1, n - 1] - cy
    for k in range(n):
        qx = P[s, 0, k] - cx
        qy = P[s, 1, k] - cy
        cr = px * qy - qx * py
        a2 += cr
        mx += (px + qx) * cr
        my += (py + qy) * cr
        px = qx
        py = qy
    return 0.5 * a2, mx / 6.0, my / 6.0


@kernel
def poly_moments2(P, s, n, cx, cy):
    """:func:`poly_moments` and the second moments of polygon ``P[s, :, :n]``
    about ``(cx, cy)``: ``(A, Mx, My, Mxx, Mxy, Myy)`` with ``Mxx = integral
    of (x - cx)^2 dA``, ``Mxy`` of ``(x - cx)(y - cy)``, ``Myy`` of ``(y -
    cy)^2`` (shoelace formulas; for the quadratic solid-angle model)."""
    a2 = 0.0
    mx = 0.0
    my = 0.0
    mxx = 0.0
    mxy = 0.0
    myy = 0.0
    if n < 3:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    px = P[s, 0, n - 1] - cx
    py = P[s, 1, n - 1] - cy
    for k in range(n):
        qx = P[s, 0, k] - cx
        qy = P[s, 1, k] - cy
        cr = px * qy - qx * py
        a2 += cr
        mx += (px + qx) * cr
        my += (py + qy) * cr
        mxx += (px * px + px * qx + qx * qx) * cr
        mxy += (px * qy + 2.0 * (px * py + qx * qy) + qx * py) * cr
        myy += (py * py + py * qy + qy * qy) * cr
        px = qx
        py = qy
    return 0.5 * a2, mx / 6.0, my / 6.0, mxx / 12.0, mxy / 24.0, myy / 12.0


@inline_kernel
def _quad_moments(x0, y0, x1, y1, x2, y2, x3, y3):
    """:func:`poly_moments` of a quadrilateral given by its vertices relative
    to the moment origin (no scratch array; the ``/ 6`` as a product)."""
    c0 = x3 * y0 - x0 * y3
    c1 = x0 * y1 - x1 * y0
    c2 = x1 * y2 - x2 * y1
    c3 = x2 * y3 - x3 * y2
    a2 = ((c0 + c1) + c2) + c3
    mx = (((x3 + x0) * c0 + (x0 + x1) * c1) + (x1 + x2) * c2) + (x2 + x3) * c3
    my = (((y3 + y0) * c0 + (y0 + y1) * c1) + (y1 + y2) * c2) + (y2 + y3) * c3
    return 0.5 * a2, mx * SIXTH, my * SIXTH


@inline_kernel
def diagonal_gradient(X0, Y0, X1, Y1, X2, Y2, X3, Y3, J0, J1, J2, J3):
    """Gradient ``(jx, jy)`` of the plane through a quantity ``J`` given at the four
    corners ``(X_k, Y_k)`` of a cell, from its differences along both diagonals
    (exact for a linear ``J``); ``(0, 0)`` for (nearly) parallel diagonals rather
    than a huge gradient."""
    d1x = X2 - X0
    d1y = Y2 - Y0
    d2x = X3 - X1
    d2y = Y3 - Y1
    det = d1x * d2y - d1y * d2x
    if abs(det) > 1e-12 * (abs(d1x) + abs(d1y)) * (abs(d2x) + abs(d2y)):
        e1 = J2 - J0
        e2 = J3 - J1
        return (e1 * d2y - e2 * d1y) / det, (d1x * e2 - d2x * e1) / det
    return 0.0, 0.0
