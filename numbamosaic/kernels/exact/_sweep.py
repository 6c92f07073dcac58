"""Clipping of one sub-cell against the input pixels: small boxes edge by edge, larger ones by the row/column sweep.

See :mod:`numbamosaic.kernels.exact`.
"""

import math

import numpy as np

from .._jit import inline_kernel, kernel
from .._load import load
from ._edges import MAXB, _clip_boxer
from ._curves import _outline
from ._measure import NAN
from ._polygon import S_COL_A, S_COL_B, S_PIECE, S_QUAD, S_ROW_A, S_ROW_B, S_STRIP, poly_moments, split_half
from ._polygon import poly_moments2
from ._quadratic import TWELFTH
from ._record import record_piece


@inline_kernel
def _clip_cell(data, wdata, flux, P, B, nv, gx, gy, xm, ym, j0, jx, jy, qa, qb, qc, sgn, wq, curved, E, rec, quad, full):
    """Cut the sub-cell (``nv`` vertices in slot ``S_QUAD``, relative to the integer origin
    ``(gx, gy)``; 4 for a quadrilateral, more for curved edges) into its pieces in the input pixels and integrate the
    solid-angle model over them.

    A sub-cell inside one input pixel is its only piece, of weight ``wq``
    (the sub-cell's solid angle).  One whose box of input pixels is at most
    ``MAXB x MAXB`` goes edge by edge (:func:`_clip_boxer`).  Larger ones:
    sweep: the remaining polygon is split at each input row boundary
    (:func:`split_half`: one pass gives both sides, the shared vertices
    computed once), each row strip likewise at the column boundaries
    (:func:`_sweep_cell`, an ordinary call).
    With ``curved`` the quadrilateral's edges are the parabolas of ``E``
    (:mod:`._curves`): its box includes their control points, the edge-by-edge
    path integrates them exactly (:func:`._edges._edge_parabola`) and the
    sweep follows their chords (:func:`._curves._outline`).
    The solid-angle model is ``j0 + jx dx + jy dy + qa dx^2 + qb dx dy + qc
    dy^2`` with ``(dx, dy)`` relative to ``(xm, ym)``; the quadratic terms
    are used with ``quad`` True only (:mod:`._quadratic`; with None, or all
    three zero, the arithmetic is the linear model's).
    Returns ``(V, SV, SW)``: valid solid angle, sum of value x weight (or
    flux) and sum of input weight x weight.  Each piece is also passed to
    ``rec`` (:mod:`._record`; ``None``: nothing is recorded).  ``full``: ``None``
    compiles no curved-edge code (the homography variant, see :mod:`numbamosaic.kernels._reduced`).
    """
    nyi, nxi = data.shape
    V = 0.0
    SV = 0.0
    SW = 0.0
    # the quadrilateral's box (a loop: one inlined copy of the reads; the corners are finite,
    # so the order of the comparisons does not matter)
    xmin = P[S_QUAD, 0, 0]
    xmax = xmin
    ymin = P[S_QUAD, 1, 0]
    ymax = ymin
    for k in range(1, 4):
        xk = P[S_QUAD, 0, k]
        yk = P[S_QUAD, 1, k]
        xmin = min(xmin, xk)
        xmax = max(xmax, xk)
        ymin = min(ymin, yk)
        ymax = max(ymax, yk)
    if full is not None and curved:
        # the parabolas lie in the hulls of their control points
        for le in range(4):
            if E[2, le] > 1.0:
                ia = le  # lattice edge le joins corners le and le + 1 (mod 4)
                ib = (le + 1) % 4
                cx = 0.5 * (P[S_QUAD, 0, ia] + P[S_QUAD, 0, ib]) + 2.0 * E[0, le]
                cy = 0.5 * (P[S_QUAD, 1, ia] + P[S_QUAD, 1, ib]) + 2.0 * E[1, le]
                xmin = min(xmin, cx)
                xmax = max(xmax, cx)
                ymin = min(ymin, cy)
                ymax = max(ymax, cy)
    # input rows touched (floats: huge coordinates must not overflow int)
    fy0 = math.floor(ymin + gy + 0.5)
    fy1 = math.floor(ymax + gy + 0.5)
    if fy1 < 0.0 or fy0 > nyi - 1.0 or xmax + gx + 0.5 < 0.0 or xmin + gx - 0.5 > nxi - 1.0:
        return V, SV, SW
    if fy0 == fy1:
        fx0 = math.floor(xmin + gx + 0.5)
        if fx0 == math.floor(xmax + gx + 0.5) and fx0 >= 0 and fx0 <= nxi - 1.0:
            # the whole sub-cell lies in one input pixel: it is its only piece
            # and its weight is the sub-cell's own solid angle ``wq``
            iy = int(fy0)
            ix = int(fx0)
            d = load(data, iy, ix)
            if not math.isfinite(d):  # NaN or inf: a blank input pixel
                return V, SV, SW
            wgt = 1.0
            if wdata.shape[0] > 0:
                wgt = load(wdata, iy, ix)
                if wgt != wgt:
                    return V, SV, SW
                SW = wgt * wq
            V = wq
            q = wq
            if flux:
                q = NAN
                ex = (ix - gx) - xm
                ey = (iy - gy) - ym
                jc = j0 + jx * ex + jy * ey
                if quad is not None and (qa != 0.0 or qb != 0.0 or qc != 0.0):  # the model's mean over the input pixel
                    jc += (qa * ex + qb * ey) * ex + qc * ey * ey + (qa + qc) * TWELFTH
                if jc > 0.0:
                    q = wq / jc
                    SV = d * q
            else:
                SV = d * wq
            record_piece(rec, iy, ix, wq, q, SW)
            return V, SV, SW
    fx0 = math.floor(xmin + gx + 0.5)
    fx1 = math.floor(xmax + gx + 0.5)
    ncol = fx1 - fx0 + 1
    nrow = fy1 - fy0 + 1
    if ncol >= 1 and ncol <= MAXB and nrow >= 1 and nrow <= MAXB and fx0 > -MAXB - 2 and fy0 > -MAXB - 2:
        return _clip_boxer(data, wdata, flux, P, B, nv, gx, gy, xm, ym, j0, jx, jy, qa, qb, qc, sgn, fx0, fy0, ncol, nrow, curved, E, rec,
                           quad, full)
    if full is not None and curved:  # the sweep clips polygons: the parabolas' chords
        nv = _outline(P, P[S_QUAD, 0, 0], P[S_QUAD, 1, 0], P[S_QUAD, 0, 1], P[S_QUAD, 1, 1], P[S_QUAD, 0, 2], P[S_QUAD, 1, 2],
                      P[S_QUAD, 0, 3], P[S_QUAD, 1, 3], 0.0, 0.0, E)
    return _sweep_cell(data, wdata, flux, P, np.int64(nv), fy0, fy1, gx, gy, xm, ym, j0, jx, jy, qa, qb, qc, sgn, rec, quad)


@kernel
def _sweep_cell(data, wdata, flux, P, nv, fy0, fy1, gx, gy, xm, ym, j0, jx, jy, qa, qb, qc, sgn, rec, quad):
    """The sweep of :func:`_clip_cell` for a sub-cell (``nv`` vertices in slot ``S_QUAD``) whose
    box spans input rows ``fy0 .. fy1`` and more than ``MAXB`` input pixels: split at each input
    row boundary into row strips (:func:`split_half`), each cut at the column boundaries by
    :func:`_sweep_strip`.  Returns ``(V, SV, SW)`` as :func:`_clip_cell`.

    An ordinary call: a rare path (output pixels much larger than input pixels), kept out of the
    inlined clipping code, whose size every compilation of the row function pays."""
    # split_half arguments as int64, not literals: one compiled split_half
    axis_y = np.int64(1)
    drop = np.int64(-1)
    nyi = data.shape[0]
    V = 0.0
    SV = 0.0
    SW = 0.0
    cur = np.int64(S_QUAD)  # slot numbers and counts as int64, not literals
    nxt = np.int64(S_ROW_A)
    nr = np.int64(nv)
    if fy0 < 0.0:  # drop the part below the image
        _, nr = split_half(P, cur, nr, axis_y, -0.5 - gy, drop, nxt)
        cur = nxt
        nxt = np.int64(S_ROW_B)
        fy0 = 0.0
    if fy1 > nyi - 1.0:  # and above it
        nr, _ = split_half(P, cur, nr, axis_y, nyi - 0.5 - gy, nxt, drop)
        cur, nxt = nxt, (S_ROW_A if nxt == S_ROW_B else S_ROW_B)
        fy1 = nyi - 1.0
    if cur == S_QUAD:
        nxt = np.int64(S_ROW_A)
    iy1 = int(fy1)
    for iy in range(int(fy0), iy1 + 1):
        if iy < iy1:
            ns, nr = split_half(P, cur, nr, axis_y, (iy - gy) + 0.5, np.int64(S_STRIP), nxt)
            strip = S_STRIP
            cur, nxt = nxt, (S_ROW_A if nxt == S_ROW_B else S_ROW_B)
        else:
            ns = nr
            strip = cur
        if ns >= 3:
            V, SV, SW = _sweep_strip(data, wdata, flux, P, strip, ns, iy, gx, gy, xm, ym, j0, jx, jy, qa, qb, qc, sgn, V, SV, SW, rec,
                                     quad)
    return V, SV, SW


@kernel
def _sweep_strip(data, wdata, flux, P, strip, ns, iy, gx, gy, xm, ym, j0, jx, jy, qa, qb, qc, sgn, V, SV, SW, rec, quad):
    """Cut the strip polygon in slot ``strip`` (input row ``iy``) at the column
    boundaries and accumulate its pieces into ``(V, SV, SW)`` (model as in
    :func:`_clip_cell`; with ``quad`` True, quadratic terms through the
    pieces' second moments, :func:`._polygon.poly_moments2`)."""
    qm = False
    if quad is not None:
        qm = qa != 0.0 or qb != 0.0 or qc != 0.0
    # split_half arguments as int64, not literals: one compiled split_half
    axis_x = np.int64(0)
    drop = np.int64(-1)
    nxi = data.shape[1]
    has_w = wdata.shape[0] > 0
    ly = iy - gy
    xmin = P[strip, 0, 0]
    xmax = xmin
    for k in range(1, ns):
        xk = P[strip, 0, k]
        if xk < xmin:
            xmin = xk
        if xk > xmax:
            xmax = xk
    fx0 = math.floor(xmin + gx + 0.5)
    fx1 = math.floor(xmax + gx + 0.5)
    if fx1 < 0.0 or fx0 > nxi - 1.0:
        return V, SV, SW
    cur = strip
    nxt = np.int64(S_COL_A)  # slot numbers as int64, not literals
    nr = ns
    if fx0 < 0.0:
        _, nr = split_half(P, cur, nr, axis_x, -0.5 - gx, drop, nxt)
        cur = nxt
        nxt = np.int64(S_COL_B)
        fx0 = 0.0
    if fx1 > nxi - 1.0:
        nr, _ = split_half(P, cur, nr, axis_x, nxi - 0.5 - gx, nxt, drop)
        cur, nxt = nxt, (S_COL_A if nxt == S_COL_B else S_COL_B)
        fx1 = nxi - 1.0
    if cur == strip:
        nxt = np.int64(S_COL_A)
    ix1 = int(fx1)
    for ix in range(int(fx0), ix1 + 1):
        lx = ix - gx
        if ix < ix1:
            npc, nr = split_half(P, cur, nr, axis_x, lx + 0.5, np.int64(S_PIECE), nxt)
            piece = S_PIECE
            cur, nxt = nxt, (S_COL_A if nxt == S_COL_B else S_COL_B)
        else:
            npc = nr
            piece = cur
        if npc < 3:
            continue
        d = load(data, iy, ix)
        if not math.isfinite(d):  # NaN or inf: a blank input pixel
            continue
        wgt = 1.0
        if has_w:
            wgt = load(wdata, iy, ix)
            if wgt != wgt:
                continue
        if quad is not None and qm:
            pa, pmx, pmy, pxx, pxy, pyy = poly_moments2(P, piece, npc, lx, ly)
            if pa == 0.0:
                continue
            ex = lx - xm
            ey = ly - ym
            jc = j0 + jx * ex + jy * ey + (qa * ex + qb * ey) * ex + qc * ey * ey
            # integral of the model over the piece, moments about the pixel centre
            w = sgn * (pa * jc + (jx + 2.0 * qa * ex + qb * ey) * pmx + (jy + qb * ex + 2.0 * qc * ey) * pmy
                       + qa * pxx + qb * pxy + qc * pyy)
            jc += (qa + qc) * TWELFTH  # the model's mean over the input pixel
        else:
            pa, pmx, pmy = poly_moments(P, piece, npc, lx, ly)
            if pa == 0.0:
                continue
            # model solid angle of the input pixel (integral over its unit square)
            jc = j0 + jx * (lx - xm) + jy * (ly - ym)
            w = sgn * (pa * jc + jx * pmx + jy * pmy)
        V += w
        q = w
        if flux:
            q = NAN
            if jc > 0.0:
                q = w / jc
                SV += d * q
        else:
            SV += d * w
        if has_w:
            SW += wgt * w
        record_piece(rec, iy, ix, w, q, wgt * w)
    return V, SV, SW
