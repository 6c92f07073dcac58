"""One output row, a block of rows and the tile entry point of the exact kernel (``exact_tile``).

The option vector ``opts`` has the layout ``O_*`` (length ``OPTS_LEN``).
See :mod:`numbamosaic.kernels.exact`.
"""

import math

import numpy as np

from .._entry import entry
from .._jit import inline_kernel, kernel
from .._reduced import full_arg
from ...wcs._native import _homography_point, map_point
from .._borrow import keep_alive
from .._borrow import borrowed as _borrowed
from .._sinks import deposit_row
from ._curves import _curved_moments, _second_moments, _stencil
from ._edges import MAXB
from ._measure import NAN, _lattice_row
from ._polygon import MAXV, NSLOT, S_QUAD, _quad_moments
from ._quadratic import B_ROWS, _corner_terms, _pixel_at, _pixel_model
from ._record import record_group, record_pixel
from ._seams import _on_image, refine
from ._sweep import _clip_cell

#: valid coverage below this fraction of the output pixel counts as none: such
#: slivers come from rounding of coincident edges (e.g. an identity mapping)
MIN_COVER = 1e-9
#: lattice points per row kept at once (longer rows are processed in chunks)
LATTICE_POINTS = 4096


# layout of the float64 option vector ``opts`` passed to the kernels
O_NSUB = 0  # sub-cells per output pixel side
O_FLUX = 1  # 1: summed flux, 0: surface brightness
O_JAC = 2  # weight by the input's solid angle per pixel (native modes): 1 linear model per sub-cell, 2 quadratic, 3 quadratic per output pixel
O_ORIENT = 3  # orientation (+1/-1) of legitimate sub-cells in input pixels; 0: unknown
O_PX = 4  # longitude period of a cylindrical input in input pixels (x, y); 0: none
O_PY = 5
O_CURVE = 6  # tolerance of a sub-cell edge's straight-chord area error, relative to its squared chord; 0: straight edges
OPTS_LEN = 7


#: a sub-cell whose solid angle differs from its left neighbour's by more than
#: this factor is refined as torn (see :func:`_exact_row`)
JUMP = 1.25
#: sub-cells spanning more input pixels than this get their centre checked
#: (a cell torn by a projection seam maps to a huge, wrong quadrilateral)
TEAR_CHECK_EXTENT = 8.0


@inline_kernel
def _map_centre(tr, grid, x, y, hom, full):
    """``map_point(hom, tr, grid, x, y)``; in the homography variant (``full`` None, ``hom`` 1)
    its homography directly: the same code without inlining an overload into
    :func:`_exact_row`, whose clean-up pass then re-scanned the whole function (0.7 CPU s)."""
    if full is None:
        return _homography_point(tr, x, y)
    return map_point(hom, tr, grid, x, y)


@kernel
def _exact_row(data, wdata, tr, grid, opts, LX, LY, LJ, LQ, y, x0, x1, RV, RF, bg, P, B, E, Q, rec, quad, hom, full):
    """Resample output pixels ``[x0, x1)`` of row ``y`` from the lattice rows
    ``LX/LY/LJ`` into the row buffers ``RV`` (value) and ``RF`` (weight),
    index ``x - x0``.

    Lattice row ``b`` (``-1 .. nsub + 1``: ``b = 0`` at ``y - 0.5``, ``b =
    nsub`` at ``y + 0.5``) is array row ``b + 1``; point ``a`` of a row
    (``a = 0`` at ``x0 - 0.5``) is column ``a + nsub`` (one pixel of halo on
    each side).  The halo rows and columns are filled only with curved edges
    (``opts[O_CURVE] > 0``), whose bulges come from 4-point stencils along
    the lattice lines (:func:`_edge_bulge`).  ``E`` is a ``(3, 4)`` scratch
    for the four edges' bulges and chord counts.  ``rec``: ``None``, or a
    recorder of the pieces (:mod:`._record`, for cubes).  ``hom``: the
    homography literal (``wcs._native.map_point``); ``quad``: True for the
    quadratic model (``opts[O_JAC]`` 2 and 3), else None (:mod:`._quadratic`:
    the branches on ``quad is not None`` are then pruned before typing).
    ``full``: ``None`` in the homography variant, which is compiled without
    the seam refinement, the curved edges and the periodic inputs (see
    :func:`exact_tile`; ``quad`` is then None too); it returns False, the row
    left undone, at the first sub-cell to refine.  True otherwise.

    ``opts[O_JAC] == 2``: quadratic solid-angle model.  ``LQ[0:3]`` hold
    the quadratic Taylor terms ``(qa, qb, qc)`` of the area factor at each
    lattice point (:func:`._measure.area_quadratic`); a sub-cell's model is
    their corners' mean plus the linear model fitted to the corner values
    with the quadratic part removed (exact for a quadratic area factor;
    third order otherwise), integrated with the second moments.
    ``opts[O_JAC] == 3``: the same quadratic model fitted once per output
    pixel to its four corners (the lattice carries area factors there only)
    and re-centred on each sub-cell: for when the policy measures the
    model's error over a whole pixel within its bound.

    An ordinary call, not inlined: IR-inlined into :func:`exact_tile` (with
    :func:`_exact_rows`), Numba's inlining pass took 14.6 CPU s on its nested
    inlined helpers, against 1.5 s of LLVM work for the separate function."""
    has_w = wdata.shape[0] > 0
    nsub = int(opts[O_NSUB])
    curve = opts[O_CURVE]
    flux = opts[O_FLUX] != 0.0
    orient = opts[O_ORIENT]
    px = opts[O_PX]
    py = opts[O_PY]
    periodic = px != 0.0 or py != 0.0
    pp = px * px + py * py
    jac = int(opts[O_JAC])
    qmod = False
    pix = False
    if quad is not None:
        qmod = jac >= 2
        pix = jac == 3
    nyi, nxi = data.shape
    hs = 1.0 / nsub
    for k in range(nsub):
        Q[k] = 0.0
    for x in range(x0, x1):
        W = 0.0  # solid angle of the output pixel (relative units)
        V = 0.0  # solid angle of valid coverage
        SV = 0.0  # sum of value x weight
        SW = 0.0  # sum of input weight x weight
        base = (x - x0) * nsub + nsub  # array column of the pixel's first lattice point
        if quad is not None and pix:
            pj0, pjx, pjy, pqa, pqb, pqc, pxm, pym = _pixel_model(LX, LY, LJ, LQ, base, nsub)
        for b0 in range(nsub):
            b = b0 + 1  # array row of the sub-cell's lower lattice row
            for a in range(nsub):
                c0 = base + a
                # corners, counter-clockwise in output pixel coordinates
                X0 = LX[b, c0]
                X1 = LX[b, c0 + 1]
                X2 = LX[b + 1, c0 + 1]
                X3 = LX[b + 1, c0]
                Y0 = LY[b, c0]
                Y1 = LY[b, c0 + 1]
                Y2 = LY[b + 1, c0 + 1]
                Y3 = LY[b + 1, c0]
                # the checks break out of this block with ``state``: 0 integrated, 1 nothing to
                # add, 2 refined if a corner lies on the image, 3 refined (one refinement site)
                state = 2
                for _ in range(1):
                    if not (X0 == X0 and X1 == X1 and X2 == X2 and X3 == X3 and Y0 == Y0 and Y1 == Y1 and Y2 == Y2 and Y3 == Y3):
                        break
                    if full is not None and periodic:
                        # a cell across the longitude seam of a cylindrical input:
                        # bring every corner within half a period of corner 0
                        t = ((X1 - X0) * px + (Y1 - Y0) * py) / pp
                        if t > 0.5 or t < -0.5:
                            m = math.floor(t + 0.5)
                            X1 -= m * px
                            Y1 -= m * py
                        t = ((X2 - X0) * px + (Y2 - Y0) * py) / pp
                        if t > 0.5 or t < -0.5:
                            m = math.floor(t + 0.5)
                            X2 -= m * px
                            Y2 -= m * py
                        t = ((X3 - X0) * px + (Y3 - Y0) * py) / pp
                        if t > 0.5 or t < -0.5:
                            m = math.floor(t + 0.5)
                            X3 -= m * px
                            Y3 -= m * py
                    # local integer origin keeps coordinates small
                    gx = math.floor(0.25 * (X0 + X1 + X2 + X3))
                    gy = math.floor(0.25 * (Y0 + Y1 + Y2 + Y3))
                    u0 = X0 - gx
                    u1 = X1 - gx
                    u2 = X2 - gx
                    u3 = X3 - gx
                    v0 = Y0 - gy
                    v1 = Y1 - gy
                    v2 = Y2 - gy
                    v3 = Y3 - gy
                    P[S_QUAD, 0, 0] = u0
                    P[S_QUAD, 0, 1] = u1
                    P[S_QUAD, 0, 2] = u2
                    P[S_QUAD, 0, 3] = u3
                    P[S_QUAD, 1, 0] = v0
                    P[S_QUAD, 1, 1] = v1
                    P[S_QUAD, 1, 2] = v2
                    P[S_QUAD, 1, 3] = v3
                    xm = 0.25 * (u0 + u1 + u2 + u3)
                    ym = 0.25 * (v0 + v1 + v2 + v3)
                    nv = 4
                    curved = False
                    if full is not None and curve > 0.0:
                        # bulges of the edges bottom, right, top, left (lattice order),
                        # from the stencil points beyond each edge's ends
                        _stencil(E, np.int64(0), LX[b, c0 - 1], LY[b, c0 - 1], X0, Y0, X1, Y1, LX[b, c0 + 2], LY[b, c0 + 2], px, py, pp, curve)
                        _stencil(E, np.int64(1), LX[b - 1, c0 + 1], LY[b - 1, c0 + 1], X1, Y1, X2, Y2, LX[b + 2, c0 + 1], LY[b + 2, c0 + 1],
                                 px, py, pp, curve)
                        _stencil(E, np.int64(2), LX[b + 1, c0 - 1], LY[b + 1, c0 - 1], X3, Y3, X2, Y2, LX[b + 1, c0 + 2], LY[b + 1, c0 + 2],
                                 px, py, pp, curve)
                        _stencil(E, np.int64(3), LX[b - 1, c0], LY[b - 1, c0], X0, Y0, X3, Y3, LX[b + 2, c0], LY[b + 2, c0], px, py, pp, curve)
                        curved = E[2, 0] + E[2, 1] + E[2, 2] + E[2, 3] > 4.0
                    Mxx = 0.0
                    Mxy = 0.0
                    Myy = 0.0
                    if quad is not None and qmod:
                        Mxx, Mxy, Myy = _second_moments(P, E, xm, ym, curved)
                    if full is not None and curved:
                        A, Mx, My = _curved_moments(P, E, xm, ym)
                    else:
                        A, Mx, My = _quad_moments(u0 - xm, v0 - ym, u1 - xm, v1 - ym, u2 - xm, v2 - ym, u3 - xm, v3 - ym)
                    if A == 0.0:
                        state = 1
                        break
                    sgn = 1.0 if A > 0.0 else -1.0
                    if orient != 0.0 and sgn != orient:  # folded or torn by a seam: refined
                        break
                    ext = max(max(X0, X1), max(X2, X3)) - min(min(X0, X1), min(X2, X3))
                    ext = max(ext, max(max(Y0, Y1), max(Y2, Y3)) - min(min(Y0, Y1), min(Y2, Y3)))
                    if ext > TEAR_CHECK_EXTENT:
                        # large cell: its centre must map near the middle of its corners
                        mxo, myo = _map_centre(tr, grid, (x - 0.5) + (a + 0.5) * hs, (y - 0.5) + (b0 + 0.5) * hs, hom, full)
                        if mxo != mxo:
                            break
                        if full is not None and periodic:
                            t = ((mxo - X0) * px + (myo - Y0) * py) / pp
                            m = math.floor(t + 0.5)
                            mxo -= m * px
                            myo -= m * py
                        if math.hypot(mxo - gx - xm, myo - gy - ym) > 0.1 * ext + 1.0:
                            break
                    # linear model J = j0 + jx (x - xm) + jy (y - ym): j0 the corners' mean
                    J0 = LJ[b, c0]
                    J1 = LJ[b, c0 + 1]
                    J2 = LJ[b + 1, c0 + 1]
                    J3 = LJ[b + 1, c0]
                    jx = 0.0
                    jy = 0.0
                    qa = 0.0
                    qb = 0.0
                    qc = 0.0
                    if quad is not None:
                        if pix:  # the pixel's model about this sub-cell's centre (xm, ym)
                            J0, jx, jy, qa, qb, qc = _pixel_at(pj0, pjx, pjy, pqa, pqb, pqc, (gx - pxm) + xm, (gy - pym) + ym)
                        elif qmod and J0 == J0 and J1 == J1 and J2 == J2 and J3 == J3:
                            # quadratic terms: the corners' mean; removed from the corner values,
                            # which then determine the linear part as below
                            qa, qb, qc, J0, J1, J2, J3 = _corner_terms(LQ, b, c0, P, xm, ym, J0, J1, J2, J3)
                    if pix:
                        j0 = J0
                    elif J0 == J0 and J1 == J1 and J2 == J2 and J3 == J3:
                        j0 = 0.25 * (J0 + J1 + J2 + J3)
                        if not (J0 == J1 and J1 == J2 and J2 == J3):
                            # the plane through the differences along both diagonals
                            # (exact for a linear J; second order otherwise, like J's
                            # own model)
                            d1x = X2 - X0
                            d1y = Y2 - Y0
                            d2x = X3 - X1
                            d2y = Y3 - Y1
                            det = d1x * d2y - d1y * d2x
                            # (nearly) parallel diagonals: no gradient rather than a huge one
                            if abs(det) > 1e-12 * (abs(d1x) + abs(d1y)) * (abs(d2x) + abs(d2y)):
                                e1 = J2 - J0
                                e2 = J3 - J1
                                idet = 1.0 / det
                                jx = (e1 * d2y - e2 * d1y) * idet
                                jy = (d1x * e2 - d2x * e1) * idet
                    else:
                        # partly outside the projection domain: constant from finite corners
                        j0 = 0.0
                        nj = 0
                        for k in range(4):
                            jk = J0 if k == 0 else (J1 if k == 1 else (J2 if k == 2 else J3))
                            if jk == jk:
                                j0 += jk
                                nj += 1
                        j0 = j0 / nj if nj > 0 else 1.0
                    wq = sgn * (A * j0 + jx * Mx + jy * My)
                    if quad is not None and qmod:
                        wq += sgn * ((qa * Mxx + qb * Mxy) + qc * Myy)
                    wprev = Q[b0]
                    if not periodic and wprev > 0.0 and (wq * sgn > JUMP * wprev or wq * sgn * JUMP < wprev):
                        # much larger or smaller than its neighbour: a seam's gap inside
                        state = 3
                        break
                    Q[b0] = wq * sgn
                    W += wq
                    # one call site for the clipping (a periodic input: the unwrapped
                    # cell may stick out of one side of the image and re-enter on the
                    # other, so its shifted copies m = -1, 0, 1 are clipped too)
                    for im in range(3 if (full is not None and periodic) else 1):
                        cxm = xm
                        cym = ym
                        if full is not None and periodic:
                            # (xm, ym) move with the copy: the model is translated with it
                            m = im - 1
                            sxm = m * px
                            sym = m * py
                            P[S_QUAD, 0, 0] = X0 + sxm - gx
                            P[S_QUAD, 0, 1] = X1 + sxm - gx
                            P[S_QUAD, 0, 2] = X2 + sxm - gx
                            P[S_QUAD, 0, 3] = X3 + sxm - gx
                            P[S_QUAD, 1, 0] = Y0 + sym - gy
                            P[S_QUAD, 1, 1] = Y1 + sym - gy
                            P[S_QUAD, 1, 2] = Y2 + sym - gy
                            P[S_QUAD, 1, 3] = Y3 + sym - gy
                            cxm = xm + sxm
                            cym = ym + sym
                        dv, dsv, dsw = _clip_cell(data, wdata, flux, P, B, nv, gx, gy, cxm, cym, j0, jx, jy, qa, qb, qc, sgn, wq, curved, E, rec,
                                                  quad, full)
                        record_group(rec)
                        V += dv
                        SV += dsv
                        SW += dsw
                    state = 0
                if state == 3 or (state == 2 and not periodic and _on_image(nxi, nyi, X0, Y0, X1, Y1, X2, Y2, X3, Y3)):
                    if full is None:
                        return False  # not compiled in the reduced variant: the caller goes on with hom=0
                    dW, dV, dSV, dSW = refine(data, wdata, flux, tr, grid, jac, orient, P, B, E, (x - 0.5) + a * hs, (y - 0.5) + b0 * hs, hs, rec,
                                              quad, hom)
                    W += dW
                    V += dV
                    SV += dSV
                    SW += dSW
        if W > 0.0 and V > MIN_COVER * W:
            f = V / W
            if f > 1.0:
                f = 1.0
            v = SV if flux else SV / V
            if has_w:
                f *= SW / V
            v -= bg[0] + bg[1] * x + bg[2] * y
        else:
            v = NAN
            f = 0.0
        RV[x - x0] = v
        RF[x - x0] = f
        record_pixel(rec, W)
    return True


@inline_kernel
def _lattice_y(y, b, nsub):
    """Output y of lattice row ``b`` (``-1 .. nsub + 1``) of output row ``y``:
    a function of the global lattice index only, so that rows shared between
    output rows, tiles and threads are bit-identical ((y - 0.5) + 1 == (y + 1)
    - 0.5 exactly)."""
    if b >= 1 and b <= nsub:
        return (y - 0.5) + b / nsub
    q = y + b // nsub
    k = b % nsub
    return (q - 0.5) + k / nsub if k else q - 0.5


@inline_kernel
def _row_jac(jac, b, nsub):
    """Area-factor mode of lattice row ``b`` (``-1 .. nsub + 1``): with
    per-pixel models (3) only the rows on output pixel edges (``b`` a
    multiple of ``nsub``) carry area factors (the halo rows too: they become
    rows 0 and 1 of the next output row when ``nsub = 1``)."""
    return jac if (jac != 3 or (b + nsub) % nsub == 0) else 0


@inline_kernel
def _exact_rows(data, wdata, tr, grid, opts, ya, yb, x0, x1, val, wt, oy, ox, sink, bg, quad, hom, full):
    """Serial work item: output rows ``[ya, yb)``, sharing lattice rows; returns where it stopped
    (see :func:`exact_tile`).

    Inlined into its one caller :func:`exact_tile` (a loop level with one call
    site, see ``kernels._jit``): as a separate function it linked, re-optimised
    and emitted the whole kernel once more (1.7 CPU s of LLVM work per cold run).
    """
    nsub = int(opts[O_NSUB])
    jac = int(opts[O_JAC])
    curve = opts[O_CURVE] > 0.0
    # wide rows are done in column chunks so the lattice stays small
    chunk = max(1, LATTICE_POINTS // nsub)
    # lattice rows b = -1 .. nsub + 1 at array rows b + 1; a halo of one pixel
    # of columns on each side (the halo is filled for curved edges only)
    nl = nsub * min(chunk, x1 - x0) + 1 + 2 * nsub
    LX = np.empty((nsub + 3, nl))
    LY = np.empty((nsub + 3, nl))
    LJ = np.empty((nsub + 3, nl))
    qmod = False
    if quad is not None:
        qmod = jac >= 2
    LQ = np.empty((3, nsub + 3, nl if qmod else 1))  # quadratic terms (quadratic model only)
    P = np.empty((NSLOT, 2, MAXV))
    B = np.empty((B_ROWS, MAXB * MAXB))
    E = np.zeros((3, 4))
    Q = np.zeros(nsub)
    RV = np.empty(min(chunk, x1 - x0))
    RF = np.empty(min(chunk, x1 - x0))
    # borrowed views for the per-row calls (no atomic refcounting per pixel)
    bdata = _borrowed(data)
    bwdata = _borrowed(wdata)
    btr = _borrowed(tr)
    bgrid = _borrowed(grid)
    bopts = _borrowed(opts)
    bLX = _borrowed(LX)
    bLY = _borrowed(LY)
    bLJ = _borrowed(LJ)
    bLQ = _borrowed(LQ)
    bval = _borrowed(val)
    bwt = _borrowed(wt)
    bbg = _borrowed(bg)
    bP = _borrowed(P)
    bB = _borrowed(B)
    bRV = _borrowed(RV)
    bRF = _borrowed(RF)
    bE = _borrowed(E)
    bQ = _borrowed(Q)
    stop = (yb, x1)  # where the rows were left undone (not at all: (yb, x1))
    for xa in range(x0, x1, chunk):
        if stop[0] < yb:
            break
        xb = min(x1, xa + chunk)
        n = nsub * (xb - xa) + 1
        # columns [c, c + m) of the lattice rows: with the halo or without
        c = 0 if curve else nsub
        m = n + 2 * nsub if curve else n
        xl = xa - 1 if curve else xa
        first = True
        for y in range(ya, yb):
            # lattice rows of output row y: all of them (b = -1 or 0 .. nsub + 1) for the chunk's first
            # row, then those above the rows shared with the previous row (one call site)
            for b in range((-1 if curve else 0) if first else (2 if curve else 1), nsub + (2 if curve else 1)):
                _lattice_row(btr, bgrid, _row_jac(jac, b, nsub), nsub, xl, _lattice_y(y, b, nsub), bLX[b + 1, c:c + m], bLY[b + 1, c:c + m],
                             bLJ[b + 1, c:c + m], bLQ[:, b + 1, c:c + m], quad, hom, full)
            first = False
            if not _exact_row(bdata, bwdata, btr, bgrid, bopts, bLX, bLY, bLJ, bLQ, y, xa, xb, bRV, bRF, bbg, bP, bB, bE, bQ, None, quad, hom,
                              full):
                stop = (y, xa)  # the reduced variant only: row y of this column chunk needs hom = 0
                break
            deposit_row(sink, bval, bwt, y - oy, xa - ox, bRV, bRF, xb - xa)
            # the next row's lattice rows -1, 0, 1 are this row's nsub - 1, nsub, nsub + 1
            # (element loops, not slice assignments: those compile a shape check whose
            # error message formatting cost ~2.4 CPU s of every cold exact run)
            for b in range(0 if curve else 1, 3 if curve else 2):
                for k in range(c, c + m):
                    bLX[b, k] = bLX[b + nsub, k]
                    bLY[b, k] = bLY[b + nsub, k]
                    bLJ[b, k] = bLJ[b + nsub, k]
                if qmod:
                    for q in range(3):
                        for k in range(c, c + m):
                            bLQ[q, b, k] = bLQ[q, b + nsub, k]
    keep_alive((LX, LY, LJ, LQ, P, B, RV, RF, E, Q))  # the borrowed views must not outlive them
    return stop


def quad_flag(opts):
    """The kernels' ``quad`` for an option vector: True when ``opts[O_JAC]``
    selects the quadratic solid-angle model (2 or 3), else None (:mod:`._quadratic`)."""
    return True if opts[O_JAC] >= 2.0 else None


@entry(writes=("val", "wt"), literal=("hom",))
@kernel
def exact_tile(data, wdata, tr, grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg, quad, hom):
    """Serial kernel: exact resampling of the output box ``[y0, y1) x [x0, x1)``.

    Parameters
    ----------
    data : 2-D array
        Input image (NaN = blank): float32/float64, or a uint32/uint64 view of
        big-endian floats (decoded by ``_load.load``).
    wdata : 2-D array
        Input weights, same shape and conventions as ``data``, or shape
        ``(0, 0)``.
    tr, grid : ndarray
        ``PixelTransform.vector`` and ``.grid``.
    opts : float64[OPTS_LEN]
        Options (``O_*`` offsets): sub-cells per side, flux or surface
        brightness, solid-angle weighting, orientation, seam period.
    val, wt : 2-D arrays
        Destination buffers indexed relative to ``(oy, ox)``.
    sink : int
        Deposit mode (``kernels._sinks``).
    bg : float64[3]
        Background model ``(c, cx, cy)`` subtracted in output pixel coordinates.
    quad : bool or None
        :func:`quad_flag` of ``opts``: True compiles the quadratic
        solid-angle model (ZPN inputs, ``opts[O_JAC]`` 2 or 3;
        :mod:`._quadratic`), None leaves it out (every other transform).
    hom : int
        ``wcs._native.homography_flag(tr)``, typed as a literal: with 1 (a
        homography transform, TAN -> TAN without distortion) the kernel is
        compiled without the projection chain, the seam refinement (with its
        own copy of the clipping code), the curved edges and periodic inputs
        (:mod:`numbamosaic.kernels._reduced`): the usual survey mosaic needs
        none of them; it is called with ``quad`` None only (a quadratic model
        means a ZPN input, never a homography: ``ExactResampler.tile`` passes
        ``hom`` 0 with ``quad`` True).  0 serves every transform.

    Returns
    -------
    (ys, xs) : int, int
        ``(y1, x1)`` when the box is done.  With ``hom`` 1 the kernel stops
        at the first output row that needs code it was compiled without
        (before the first row if ``opts`` asks for curved edges or a seam
        period, which a homography never has): rows
        ``[ys, y1)`` of the column chunk starting at ``xs`` (``LATTICE_POINTS
        // nsub`` columns wide) and every column from the next chunk on are
        then left undone, for the caller to finish with ``hom`` 0
        (:func:`rest_boxes`).  Rows already done are deposited; the others
        are untouched.
    """
    if y1 <= y0 or x1 <= x0:
        return y1, x1
    full = full_arg(hom)  # None for hom = 1: the reduced variant (see kernels._reduced)
    if full is None and (opts[O_CURVE] > 0.0 or opts[O_PX] != 0.0 or opts[O_PY] != 0.0):
        return y0, x0  # curved edges or a periodic input: not in the reduced variant
    return _exact_rows(data, wdata, tr, grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg, quad, hom, full)


def rest_boxes(stop, opts, y0, y1, x0, x1):
    """The boxes ``(y0, y1, x0, x1)`` that :func:`exact_tile` left undone when it returned ``stop``:
    the rest of the column chunk it stopped in, then the columns after that chunk (none when
    ``stop`` is ``(y1, x1)``)."""
    ys, xs = stop
    if ys >= y1:
        return []
    xb = min(x1, xs + max(1, LATTICE_POINTS // int(opts[O_NSUB])))
    boxes = [(ys, y1, xs, xb)]
    if xb < x1:
        boxes.append((y0, y1, xb, x1))
    return boxes
