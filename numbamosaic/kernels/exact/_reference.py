"""Allocating conveniences around the exact kernel's clipping primitives, for tests only (not called by any driver)."""

import numpy as np

from .._jit import kernel
from ._edges import MAXB, _edge_2x2, _edge_cells
from ._polygon import MAXV, poly_moments, poly_moments2, split_half
from ._quadratic import B_ROWS, THIRD, set_quadratic

@kernel
def overlap_area(px, py, x0, x1, y0, y1):
    """Area of polygon ``(px, py)`` inside the box ``[x0, x1] x [y0, y1]``.

    Signed like the polygon (positive when counter-clockwise).  Allocates:
    a convenience wrapper (for tests) around the kernels' :func:`split_half`
    and :func:`poly_moments`.
    """
    n = px.shape[0]
    P = np.empty((2, 2, max(MAXV, n + 8)))
    for k in range(n):
        P[0, 0, k] = px[k]
        P[0, 1, k] = py[k]
    _, n = split_half(P, 0, n, 0, x0, -1, 1)
    n, _ = split_half(P, 1, n, 0, x1, 0, -1)
    _, n = split_half(P, 0, n, 1, y0, -1, 1)
    n, _ = split_half(P, 1, n, 1, y1, 0, -1)
    a, _, _ = poly_moments(P, 0, n, 0.0, 0.0)
    return a


@kernel
def cell_integrals(px, py, ncol, nrow, jA, jx, jy, edges, general=False, qa=0.0, qb=0.0, qc=0.0):
    """Integrals of ``J = jA + jx x + jy y (+ qa x^2 + qb x y + qc y^2)`` over polygon ``(px, py)`` and
    each unit cell ``[k, k + 1] x [r, r + 1]`` (``out[k, r]``, ``0 <= k <
    ncol <= MAXB``, ``0 <= r < nrow <= MAXB``; the polygon must lie inside
    ``[0, ncol] x [0, nrow]``).  Signed like the polygon.

    ``edges=True``: edge by edge, as the kernels do for small sub-cells
    (:func:`_edge_2x2` for boxes of at most 2 x 2 cells unless ``general``,
    else :func:`_edge_cells`); ``False``: Sutherland-Hodgman pieces and their
    moments (:func:`split_half`, :func:`poly_moments`, with quadratic
    terms :func:`poly_moments2`).  The edge functions run with the ``quad``
    the kernels use (:mod:`._quadratic`): True when a quadratic term is
    non-zero, else None (the linear model's code).  Allocates: for tests.
    """
    n = px.shape[0]
    out = np.zeros((ncol, nrow))
    if edges:
        B = np.zeros((B_ROWS, MAXB * MAXB))
        qm = set_quadratic(B, qa, qb, qc)
        for e in range(n):
            p = e - 1 if e > 0 else n - 1
            if ncol <= 2 and nrow <= 2 and not general:
                if qm:
                    _edge_2x2(B, px[p], py[p], px[e], py[e], jA, jx, jy, True)
                else:
                    _edge_2x2(B, px[p], py[p], px[e], py[e], jA, jx, jy, None)
            elif qm:
                _edge_cells(B, ncol, nrow, px[p], py[p], px[e], py[e], jA, jx, jy, True)
            else:
                _edge_cells(B, ncol, nrow, px[p], py[p], px[e], py[e], jA, jx, jy, None)
        for k in range(ncol):
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            for r in range(nrow - 1, -1, -1):
                i = k * MAXB + r
                w = B[0, i] + (jA + jy * (r + 0.5)) * s0 + jx * s1
                if qm:  # as _edges._clip_boxer
                    w += qa * s2 + qb * (r + 0.5) * s1 + qc * (r * (r + 1.0) + THIRD) * s0
                out[k, r] = w
                s2 += B[4, i]
                s0 += B[1, i]
                s1 += B[2, i]
        return out
    P = np.empty((2, 2, max(MAXV, n + 8)))
    for k in range(ncol):
        for r in range(nrow):
            for v in range(n):
                P[0, 0, v] = px[v]
                P[0, 1, v] = py[v]
            _, m = split_half(P, 0, n, 0, float(k), -1, 1)
            m, _ = split_half(P, 1, m, 0, k + 1.0, 0, -1)
            _, m = split_half(P, 0, m, 1, float(r), -1, 1)
            m, _ = split_half(P, 1, m, 1, r + 1.0, 0, -1)
            cx = k + 0.5
            cy = r + 0.5
            a, mx, my, mxx, mxy, myy = poly_moments2(P, 0, m, cx, cy)
            out[k, r] = (a * (jA + jx * cx + jy * cy + (qa * cx + qb * cy) * cx + qc * cy * cy)
                         + (jx + 2.0 * qa * cx + qb * cy) * mx + (jy + qb * cx + 2.0 * qc * cy) * my
                         + qa * mxx + qb * mxy + qc * myy)
    return out
