"""Edge-by-edge integration of the solid-angle model over a sub-cell and the input pixels of its box.

By Green's theorem the integral over polygon and cell is a sum over the
polygon's edges (:func:`_edge_cells`, :func:`_edge_2x2` for boxes of at most
2 x 2 pixels); :func:`_clip_boxer` turns the sums into pieces and
accumulates them.  See :mod:`numbamosaic.kernels.exact`.
"""

import math

import numpy as np

from .._jit import inline_kernel, kernel
from .._load import load
from ._curves import GL4_T, GL4_W, GL_T0, GL_T2, GL_W0, GL_W1
from ._polygon import SIXTH, S_QUAD
from ._quadratic import Q_ROW, THIRD, TWELFTH, _boxer_shift, _edge_piece_quad, _quad_strip
from ._record import record_piece

NAN = math.nan

#: sub-cells whose box of input pixels is at most ``MAXB`` wide and high are
#: integrated edge by edge (:func:`_clip_boxer`), larger ones by the sweep
MAXB = 8


@kernel
def _edge_piece(B, k, r, sg, ua, va, ub, vb, jA, jx, jy, quad):
    """Contribution of an edge piece ``(ua, va) -> (ub, vb)`` (``ub >= ua``)
    lying in cell ``(k, r)``, with sign ``sg`` (see :func:`_edge_cells`).

    ``B[0]`` gets ``sg * integral over u of (c + jx u) h + jy h^2 / 2`` with
    ``h = v - r`` linear in ``u`` and ``c = jA + jy r`` (exact: the
    integrand is quadratic); ``B[1]``, ``B[2]`` the signed length and
    ``sg * integral of u``.  With ``quad`` True (:mod:`._quadratic`) and a
    quadratic model (``B[Q_ROW, 0] != 0``: ``qa u^2 + qb u v + qc v^2``
    added to ``J``, the coefficients in ``B[Q_ROW, 1:4]``, see
    :func:`._quadratic.set_quadratic`) ``B[0]`` also gets the quadratic
    terms' partial-row integral and ``B[4]`` ``sg * integral of u^2``
    (:func:`._quadratic._edge_piece_quad`); with ``quad`` None that code
    is not compiled.
    """
    d = ub - ua
    if d > 0.0:
        fr = float(r)
        ha = va - fr
        hb = vb - fr
        # integral over u of (c + jx u) h + jy h^2 / 2 with h linear in u
        t = 3.0 * (jA + jy * fr) * (ha + hb) + jx * (ua * (ha + ha + hb) + ub * (ha + hb + hb)) + jy * (ha * ha + ha * hb + hb * hb)
        i = k * MAXB + r
        sd = sg * d
        B[0, i] += sd * t * SIXTH
        B[1, i] += sd
        B[2, i] += sd * (0.5 * (ua + ub))
        if quad is not None and B[Q_ROW, 0] != 0.0:  # pruned before typing for None
            _edge_piece_quad(B, i, sd, ua, ub, ha, hb, fr)


@kernel
def _edge_cells(B, ncol, nrow, ua, va, ub, vb, jA, jx, jy, quad):
    """Add one directed polygon edge's share of the cell integrals to ``B``.

    Coordinates ``(u, v)`` are shifted so that the input pixel cells are the
    unit squares ``[k, k + 1] x [r, r + 1]`` (``0 <= k < ncol``, ``0 <= r <
    nrow``), and the solid-angle model is ``J = jA + jx u + jy v``.  By
    Green's theorem the integral of ``J`` over polygon and cell ``(k, r)``
    is minus the sum over the polygon's edges of the integral along the
    edge (in ``u``, within column ``k``) of ``J`` integrated in ``v`` from the
    row's bottom to ``min(max(v(u), r), r + 1)``.  The edge is walked
    through the cells it crosses; a piece inside cell ``(k, r)`` adds its
    partial-row integral (closed form, :func:`_edge_piece`) to
    ``B[0, cell]`` and its length and first moment in ``u`` to ``B[1]`` and
    ``B[2]``: the full-row integrals it contributes to the cells below it
    in column ``k`` (summed by :func:`_clip_boxer`).  Vertical edges add
    nothing; edges along a cell boundary count for either cell (the same
    integrals).  Only the divisions for actual crossings are made.
    """
    du = ub - ua
    if du == 0.0:
        return  # vertical: no contribution
    sg = -1.0
    if du < 0.0:  # walk in increasing u; the integral changes sign
        ua, va, ub, vb = ub, vb, ua, va
        du = -du
        sg = 1.0
    dv = vb - va
    k = min(max(math.floor(ua), 0), ncol - 1)
    nx = k + 1.0  # next column boundary
    if dv > 0.0:
        r = min(max(math.floor(va), 0), nrow - 1)
        dr = 1
        ny = r + 1.0  # next row boundary
        cross_y = ny < vb
    elif dv < 0.0:
        r = min(max(math.ceil(va) - 1, 0), nrow - 1)
        dr = -1
        ny = float(r)
        cross_y = ny > vb
    else:
        r = min(max(math.floor(va), 0), nrow - 1)
        dr = 0
        ny = 0.0
        cross_y = False
    if nx >= ub and not cross_y:
        # the whole edge lies in one cell (the common case for small sub-cells)
        _edge_piece(B, k, r, sg, ua, va, ub, vb, jA, jx, jy, quad)
        return
    s = dv / du
    isl = 0.0
    uy = math.inf
    if cross_y:
        isl = du / dv
        uy = ua + (ny - va) * isl
    cu = ua
    cv = va
    for _ in range(ncol + nrow + 2):
        un = ub
        vn = vb
        cx = False
        cy = False
        if nx < un:
            un = nx
            cx = True
        if uy <= un:
            if uy < un:
                cx = False
            un = uy
            cy = True
        if cy:
            vn = ny
        elif cx:
            vn = va + (nx - ua) * s
        _edge_piece(B, k, r, sg, cu, cv, un, vn, jA, jx, jy, quad)
        if not (cx or cy):
            return
        if cx:
            k = min(k + 1, ncol - 1)
            nx += 1.0
        if cy:
            r = min(max(r + dr, 0), nrow - 1)
            ny += dr
            uy = ua + (ny - va) * isl
        cu = un
        cv = vn


@inline_kernel
def _edge_2x2(B, ua, va, ub, vb, jA, jx, jy, quad):
    """:func:`_edge_cells` for a box of at most 2 x 2 cells (the common case:
    output pixels about as large as input pixels).

    The only cell boundaries inside the box are ``u = 1`` and ``v = 1``, so
    an edge has at most three pieces, found with the same crossing
    arithmetic as :func:`_edge_cells` but without its general walk.  Unlike
    :func:`_edge_cells` it does not clamp cell indices: it relies on the
    caller's box (:func:`_clip_cell`) containing the polygon, ``0 <= u <=
    ncol`` and ``0 <= v <= nrow``, so that a 1-wide box never sees a vertex
    beyond ``u = 1`` (or ``v = 1``).
    """
    du = ub - ua
    if du == 0.0:
        return
    # column indices as int64, not literals: one compiled _edge_piece (literal 0 and 1 made three)
    c0 = np.int64(0)
    c1 = np.int64(1)
    sg = -1.0
    if du < 0.0:
        ua, va, ub, vb = ub, vb, ua, va
        du = -du
        sg = 1.0
    dv = vb - va
    xu = ua < 1.0 and ub > 1.0
    xv = (va < 1.0 and vb > 1.0) or (va > 1.0 and vb < 1.0)
    if not xv:
        r = 1 if va + vb > 2.0 else 0
        if not xu:
            _edge_piece(B, 1 if ua + ub > 2.0 else 0, r, sg, ua, va, ub, vb, jA, jx, jy, quad)
            return
        vc = va + (1.0 - ua) * (dv / du)
        _edge_piece(B, c0, r, sg, ua, va, 1.0, vc, jA, jx, jy, quad)
        _edge_piece(B, c1, r, sg, 1.0, vc, ub, vb, jA, jx, jy, quad)
        return
    uc = ua + (1.0 - va) * (du / dv)
    r0 = 0 if va < 1.0 else 1
    if not xu:
        k = 1 if ua + ub > 2.0 else 0
        _edge_piece(B, k, r0, sg, ua, va, uc, 1.0, jA, jx, jy, quad)
        _edge_piece(B, k, 1 - r0, sg, uc, 1.0, ub, vb, jA, jx, jy, quad)
        return
    vc = va + (1.0 - ua) * (dv / du)
    if uc < 1.0:  # the row boundary comes first
        _edge_piece(B, c0, r0, sg, ua, va, uc, 1.0, jA, jx, jy, quad)
        _edge_piece(B, c0, 1 - r0, sg, uc, 1.0, 1.0, vc, jA, jx, jy, quad)
        _edge_piece(B, c1, 1 - r0, sg, 1.0, vc, ub, vb, jA, jx, jy, quad)
    else:
        _edge_piece(B, c0, r0, sg, ua, va, 1.0, vc, jA, jx, jy, quad)
        _edge_piece(B, c1, r0, sg, 1.0, vc, uc, 1.0, jA, jx, jy, quad)
        _edge_piece(B, c1, 1 - r0, sg, uc, 1.0, ub, vb, jA, jx, jy, quad)


@kernel
def _roots01(B, n, a, b, c):
    """Append the roots of ``a t^2 + b t + c`` in ``(0, 1)`` to ``B[3, n:]``; returns the new count."""
    if a == 0.0 or abs(a) * 1e14 < abs(b):
        if b != 0.0:
            t = -c / b
            if t > 0.0 and t < 1.0:
                B[3, n] = t
                n += 1
        return n
    disc = b * b - 4.0 * a * c
    if disc < 0.0:
        return n
    q = -0.5 * (b + math.copysign(math.sqrt(disc), b))
    t = q / a
    if t > 0.0 and t < 1.0:
        B[3, n] = t
        n += 1
    if q != 0.0:
        t = c / q
        if t > 0.0 and t < 1.0:
            B[3, n] = t
            n += 1
    return n


@kernel
def _edge_parabola(B, ncol, nrow, ua, va, ub, vb, sx, sy, jA, jx, jy, quad):
    """:func:`_edge_cells` for the parabolic edge ``c(t) = a + (b - a) t + 4 S
    t (1 - t)`` (``t`` from 0 to 1, bulge ``S = (sx, sy)``).

    The parameters where the parabola crosses the interior cell boundaries
    ``u = 1 .. ncol - 1`` and ``v = 1 .. nrow - 1`` (quadratic equations)
    cut it into pieces, each inside one cell (that of its middle point).  A
    piece adds, like a straight one, minus the integral along it of ``(jA +
    jy r + jx u) h + jy h^2 / 2`` (``h = v - r``) in ``u`` to ``B[0]`` (3-point
    Gauss-Legendre in ``t``: the integrand times ``du/dt`` is a polynomial of
    degree 5, so this is exact), minus its extent in ``u`` to ``B[1]`` and
    minus the integral of ``u du`` to ``B[2]``.  Crossing parameters are kept
    in ``B[3]``.  The result is exact for the parabola, whose area differs
    from the chord's by ``2/3 (b - a) x S``.  With a quadratic model
    (:func:`_edge_piece`) its terms are added by 4-point Gauss-Legendre
    (degree 7, exact) and minus the integral of ``u^2 du`` goes to ``B[4]``
    (``quad`` True only, :mod:`._quadratic`).
    """
    qm = False
    qa = 0.0
    qb = 0.0
    qc = 0.0
    if quad is not None and B[Q_ROW, 0] != 0.0:
        qm = True
        qa = B[Q_ROW, 1]
        qb = B[Q_ROW, 2]
        qc = B[Q_ROW, 3]
    du = ub - ua
    dv = vb - va
    au = -4.0 * sx
    bu = du + 4.0 * sx
    av = -4.0 * sy
    bv = dv + 4.0 * sy
    B[3, 0] = 0.0
    n = 1
    # interior boundaries within the hull of the parabola (its Bezier control polygon)
    cu = 0.5 * (ua + ub) + 2.0 * sx
    lo = max(1, math.ceil(min(min(ua, ub), cu)))
    hi = min(ncol - 1, math.floor(max(max(ua, ub), cu)))
    for K in range(lo, hi + 1):
        n = _roots01(B, n, au, bu, ua - K)
    cv = 0.5 * (va + vb) + 2.0 * sy
    lo = max(1, math.ceil(min(min(va, vb), cv)))
    hi = min(nrow - 1, math.floor(max(max(va, vb), cv)))
    for K in range(lo, hi + 1):
        n = _roots01(B, n, av, bv, va - K)
    B[3, n] = 1.0
    n += 1
    # insertion sort of the inner crossings
    for i in range(2, n - 1):
        t = B[3, i]
        j = i - 1
        while j >= 1 and B[3, j] > t:
            B[3, j + 1] = B[3, j]
            j -= 1
        B[3, j + 1] = t
    u0 = ua
    for i in range(n - 1):
        t0 = B[3, i]
        t1 = B[3, i + 1]
        L = t1 - t0
        if L <= 0.0:
            continue
        tm = t0 + 0.5 * L
        k = min(max(math.floor(ua + tm * (bu + au * tm)), 0), ncol - 1)
        r = min(max(math.floor(va + tm * (bv + av * tm)), 0), nrow - 1)
        fr = float(r)
        c = jA + jy * fr
        acc = 0.0
        for g in range(3):
            if g == 0:
                t = t0 + GL_T0 * L
                w = GL_W0
            elif g == 1:
                t = tm
                w = GL_W1
            else:
                t = t0 + GL_T2 * L
                w = GL_W0
            u = ua + t * (bu + au * t)
            h = va + t * (bv + av * t) - fr
            acc += w * ((c + jx * u) * h + 0.5 * jy * h * h) * (bu + 2.0 * au * t)
        u1 = ub if i == n - 2 else ua + t1 * (bu + au * t1)
        idx = k * MAXB + r
        B[0, idx] -= acc * L
        B[1, idx] -= u1 - u0
        B[2, idx] -= 0.5 * (u1 - u0) * (u1 + u0)
        if quad is not None and qm:
            acc = 0.0
            for g in range(4):
                t = t0 + GL4_T[g] * L
                u = ua + t * (bu + au * t)
                h = va + t * (bv + av * t) - fr
                acc += GL4_W[g] * _quad_strip(u, h, fr, qa, qb, qc) * (bu + 2.0 * au * t)
            B[0, idx] -= acc * L
            B[4, idx] -= (u1 * u1 * u1 - u0 * u0 * u0) * THIRD
        u0 = u1


@inline_kernel
def _clip_boxer(data, wdata, flux, P, B, nv, gx, gy, xm, ym, j0, jx, jy, qa, qb, qc, sgn, fx0, fy0, ncol, nrow, curved, E, rec, quad, full):
    """Integrate the solid-angle model over the sub-cell (``nv`` vertices in slot ``S_QUAD``)
    and each input pixel of its ``ncol x nrow`` box starting at input pixel
    ``(fx0, fy0)``, edge by edge (:func:`_edge_cells`; no polygon clipping),
    and accumulate ``(V, SV, SW)`` like :func:`_sweep_strip` (pieces also to ``rec``).
    With ``curved`` the four edges of the quadrilateral are the parabolas of
    ``E`` (:mod:`._curves`) where their chord count ``E[2]`` exceeds 1
    (:func:`_edge_parabola`; not compiled for ``full`` None, see :mod:`numbamosaic.kernels._reduced`).
    ``qa, qb, qc``: the quadratic terms of the model about ``(xm, ym)`` (zero: linear; see
    :mod:`._rows`), used with ``quad`` True only (:mod:`._quadratic`; with None the branches
    that use them are pruned before typing)."""
    nyi, nxi = data.shape
    has_w = wdata.shape[0] > 0
    V = 0.0
    SV = 0.0
    SW = 0.0
    qm = False
    if quad is not None:
        qm = qa != 0.0 or qb != 0.0 or qc != 0.0
    for k in range(ncol):
        for r in range(nrow):
            i = k * MAXB + r
            B[0, i] = 0.0
            B[1, i] = 0.0
            B[2, i] = 0.0
            if quad is not None and qm:
                B[4, i] = 0.0
    # cell (k, r) is [k, k + 1] x [r, r + 1] in (u, v) = local - (ou, ov)
    ou = (fx0 - gx) - 0.5
    ov = (fy0 - gy) - 0.5
    jA = j0 + jx * (ou - xm) + jy * (ov - ym)
    if quad is not None:
        if qm:  # the model as a polynomial in (u, v), its coefficients to B[Q_ROW] for the edge functions
            jA, jx, jy = _boxer_shift(B, xm - ou, ym - ov, jA, jx, jy, qa, qb, qc)
        else:
            B[Q_ROW, 0] = 0.0
    pu = P[S_QUAD, 0, nv - 1] - ou
    pv = P[S_QUAD, 1, nv - 1] - ov
    small = ncol <= 2 and nrow <= 2
    for e in range(nv):
        qu = P[S_QUAD, 0, e] - ou
        qv = P[S_QUAD, 1, e] - ov
        le = (e + 3) % 4  # polygon edge e (vertex e - 1 -> e) is lattice edge le
        if full is not None and curved and E[2, le] > 1.0:
            _edge_parabola(B, ncol, nrow, pu, pv, qu, qv, E[0, le], E[1, le], jA, jx, jy, quad)
        elif small:
            _edge_2x2(B, pu, pv, qu, qv, jA, jx, jy, quad)
        else:
            _edge_cells(B, ncol, nrow, pu, pv, qu, qv, jA, jx, jy, quad)
        pu = qu
        pv = qv
    for k in range(ncol):
        ix = fx0 + k
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        for r in range(nrow - 1, -1, -1):
            i = k * MAXB + r
            # partial-row part plus the full rows above in this column
            w = B[0, i] + (jA + jy * (r + 0.5)) * s0 + jx * s1
            if quad is not None and qm:
                w += qa * s2 + qb * (r + 0.5) * s1 + qc * (r * (r + 1.0) + THIRD) * s0
                s2 += B[4, i]
            s0 += B[1, i]
            s1 += B[2, i]
            iy = fy0 + r
            if ix < 0 or ix >= nxi or iy < 0 or iy >= nyi or w == 0.0:
                continue
            w *= sgn
            d = load(data, iy, ix)
            if not math.isfinite(d):  # NaN or inf: a blank input pixel
                continue
            wgt = 1.0
            if has_w:
                wgt = load(wdata, iy, ix)
                if wgt != wgt:
                    continue
            V += w
            q = w
            if flux:
                q = NAN
                jc = jA + jx * (k + 0.5) + jy * (r + 0.5)
                if quad is not None and qm:  # the model's mean over the unit cell
                    jc += (qa * (k + 0.5) + qb * (r + 0.5)) * (k + 0.5) + qc * (r + 0.5) * (r + 0.5) + (qa + qc) * TWELFTH
                if jc > 0.0:
                    q = w / jc
                    SV += d * q
            else:
                SV += d * w
            if has_w:
                SW += wgt * w
            record_piece(rec, iy, ix, w, q, wgt * w)
    return V, SV, SW
