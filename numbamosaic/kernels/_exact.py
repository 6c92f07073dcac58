"""Exact (area-overlap) resampling kernels, output-pixel centric.

For every output pixel the kernel builds the pixel's outline in *input pixel
coordinates* and intersects it with the unit squares of the input pixels it
covers.  Working in input pixel units keeps full double precision whatever
the angular pixel size (micro-arcsecond pixels included): coordinates are
O(image size), differences O(1), and nothing is computed from nearly equal
unit vectors.

Geometry
    The outline is sampled on a lattice of ``nsub x nsub`` sub-cells per
    output pixel (corners at ``p - 0.5 + k / nsub``).  Each sub-cell is a
    quadrilateral with straight edges in input pixel coordinates; with
    ``nsub > 1`` curved images of the output pixel edges are followed
    closely.  (For TAN -> TAN both pixel families are bounded by great
    circles, which are straight in the gnomonic plane, so ``nsub = 1`` is
    geometrically exact there.)  Lattice points are evaluated once per row
    block (in column chunks of ``LATTICE_POINTS``) with
    :func:`numbamosaic.wcs._native.out_to_in` and shared between
    neighbouring pixels and rows, and the lattice coordinate of a point
    depends only on its global pixel index, so neighbouring output pixels
    (also in other tiles or threads) share bit-identical corners and their
    fractions partition each input pixel exactly.  For TAN -> TAN without
    distortion (homography mode) a lattice row is one branch-free
    (vectorised) loop with the same arithmetic as ``out_to_in`` and
    :func:`input_area_factor` (no per-point calls, bit-identical values).

Seams
    A sub-cell across the longitude seam of a cylindrical input (CAR, CEA,
    MER) is unwrapped by the seam's period in input pixels and clipped with
    its shifted copies, so it collects the pixels on both sides.  Sub-cells
    of the wrong orientation (folded or torn by another projection's seam)
    and large sub-cells whose centre does not map near the middle of their
    corners are dropped (they count neither as covered nor as area).

Clipping
    A sub-cell inside a single input pixel is that pixel's only piece (its
    weight is the sub-cell's own solid angle).  A sub-cell whose box of
    input pixels is at most ``MAXB`` wide and high is integrated edge by
    edge (:func:`_clip_boxer`, :func:`_edge_cells`): by Green's theorem the
    integral of the (linear) solid-angle model over polygon and input pixel
    is a sum over the polygon's edges of integrals along the edge, each edge
    walked through the pixel cells it crosses, with no polygon built.
    Larger sub-cells (big output pixels) use Sutherland-Hodgman against
    axis-aligned lines, as a sweep: the sub-cell is split at each input row
    boundary into row strips, each strip at the column boundaries into
    pieces (:func:`split_half` yields both sides of a cut in one pass, with
    shared vertices); areas and first moments come from the shoelace
    formula with vertices relative to the input pixel centre
    (:func:`poly_moments`).  Both polygon orientations are handled (the
    orientation sign of the sub-cell is applied).  The three agree to
    rounding (~1e-16 of the output pixel's area per piece; the edge-by-edge
    integrals have no cancellation between coordinates of the size of an
    input pixel, so sub-cells much smaller than an input pixel keep
    ~1e-16 / size relative precision, where clipping with moments about
    the input pixel centre would lose ~1e-16 / size^2).

Performance notes
    The per-row functions receive *borrowed* array views
    (:func:`~numbamosaic.kernels._borrow.borrowed`, no reference-count
    handle), so calls taking arrays cost no atomic reference-count updates
    per pixel (which took ~40 % of the time).  :func:`_clip_cell` has one
    call site (the seam copies of a periodic input loop around it).  The
    per-sub-cell hot path (:func:`_clip_cell` -> :func:`_clip_boxer` ->
    :func:`_edge_2x2`, one call site each) is inlined; the rare paths
    (:func:`_sweep_strip`, :func:`_edge_cells`, :func:`split_half`,
    :func:`poly_moments`) are ordinary calls.  Measured (serial, 1024^2
    survey tile into the survey's mosaic grid, big-endian input, loaded
    2-core machine, ``bench_kern.py`` in the commit log): everything inlined
    as before, 111 s CPU to compile, 98-101 ns per covered output pixel;
    this layout 34 s, 100-101 ns; everything but the leaves as calls 28 s
    but 121-128 ns (the calls per sub-cell with arrays by value cost ~20 %).
    ``error_model="numpy"`` drops the zero-division checks (every division
    here is guarded or by a nonzero constant).  Values and footprints go to
    the sink once per row (:func:`~numbamosaic.kernels._sinks.deposit_row`).
    Boxes of at most 2 x 2 input pixels (output pixels about as large as
    input pixels, the usual mosaic) take a dedicated edge walker
    (:func:`_edge_2x2`) with a single possible crossing per axis.
    Measured (serial CPU time, TAN -> TAN 1024^2, 1"/px, rotated 20 deg):
    ~100 ns per output pixel, from ~295 with per-pixel calls and polygon
    clipping throughout; ~75 ns with the 2 x 2 walker (a 2048^2 survey tile
    into the mosaic grid, big-endian input).

Spherical measure
    An area in input pixels is not a solid angle: the solid angle per input
    pixel ``J(x, y)`` varies over the image (e.g. ``(1 + R^2)^-3/2`` for TAN).
    In native mode ``J`` is evaluated at every lattice point
    (:func:`input_area_factor`: projection area factor, analytic for TAN and
    by finite differences in the projection plane otherwise, times the SIP
    Jacobian), fitted by
    a linear model over each sub-cell (the corners' mean, and the gradient
    that matches the differences along both diagonals: exact for a linear
    ``J``), and integrated exactly over every
    piece using its area and centroid.  The result is second-order accurate
    in the sub-cell size.  In control-grid mode ``J = 1`` (plain input pixel
    areas).

Per output pixel, with pieces ``k`` of valid (finite) input pixels ``i``:

* ``W`` = solid angle of the output pixel (sum over its sub-cells);
* ``V = sum w_k`` (solid angle of valid coverage);
* surface brightness: ``value = sum v_i w_k / V``; flux: ``value = sum v_i
  w_k / J_i`` with ``J_i`` the model solid angle of input pixel ``i``;
* footprint ``= V / W`` (clamped to 1), times the area-weighted mean of the
  input weights ``wdata`` when given;
* pixels with ``V <= MIN_COVER * W`` (no coverage, or rounding slivers along
  coincident edges) are NaN with footprint 0.

Output pixels are owned by one row block (serial tile) or one ``prange``
iteration (parallel), so results are bitwise identical for any thread count.
"""

import math

import numpy as np
from numba import prange

from ._entry import entry
from ._jit import inline_kernel, kernel, parallel_kernel
from ..wcs._layout import MODE_HOMOGRAPHY, PROJ_CODES, T_H, T_IN, T_MODE, W_CODE, W_CRPIX, W_M, W_SIP, W_TPV
from ..wcs._native import distortion_jacobian, out_to_in, pixel_to_plane
from ..wcs._projections import plane_to_native
from ._borrow import borrowed as _borrowed
from ._borrow import keep_alive
from ._load import load
from ._sinks import deposit_row

NAN = math.nan
PROJ_TAN = PROJ_CODES["TAN"]
D2R = math.pi / 180.0
#: finite-difference step (degrees) in the projection plane for the area factor
AREA_STEP_DEG = 1e-3
#: rows per parallel work item (lattice rows are shared inside a block)
ROW_BLOCK = 8
#: valid coverage below this fraction of the output pixel counts as none: such
#: slivers come from rounding of coincident edges (e.g. an identity mapping)
MIN_COVER = 1e-9
#: lattice points per row kept at once (longer rows are processed in chunks)
LATTICE_POINTS = 4096
#: polygon scratch capacity (a convex quad cut by 4 lines has <= 8 vertices;
#: generous for folded quads)
MAXV = 32
#: sub-cells whose box of input pixels is at most ``MAXB`` wide and high are
#: integrated edge by edge (:func:`_clip_boxer`), larger ones by the sweep
MAXB = 8
SIXTH = 1.0 / 6.0


# ---------------------------------------------------------------------------
# polygon primitives


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
def cell_integrals(px, py, ncol, nrow, jA, jx, jy, edges, general=False):
    """Integrals of ``J = jA + jx x + jy y`` over polygon ``(px, py)`` and
    each unit cell ``[k, k + 1] x [r, r + 1]`` (``out[k, r]``, ``0 <= k <
    ncol <= MAXB``, ``0 <= r < nrow <= MAXB``; the polygon must lie inside
    ``[0, ncol] x [0, nrow]``).  Signed like the polygon.

    ``edges=True``: edge by edge, as the kernels do for small sub-cells
    (:func:`_edge_2x2` for boxes of at most 2 x 2 cells unless ``general``,
    else :func:`_edge_cells`); ``False``: Sutherland-Hodgman pieces and their
    moments (:func:`split_half`, :func:`poly_moments`).  Allocates: for
    tests.
    """
    n = px.shape[0]
    out = np.zeros((ncol, nrow))
    if edges:
        B = np.zeros((3, MAXB * MAXB))
        for e in range(n):
            p = e - 1 if e > 0 else n - 1
            if ncol <= 2 and nrow <= 2 and not general:
                _edge_2x2(B, px[p], py[p], px[e], py[e], jA, jx, jy)
            else:
                _edge_cells(B, ncol, nrow, px[p], py[p], px[e], py[e], jA, jx, jy)
        for k in range(ncol):
            s0 = 0.0
            s1 = 0.0
            for r in range(nrow - 1, -1, -1):
                i = k * MAXB + r
                out[k, r] = B[0, i] + (jA + jy * (r + 0.5)) * s0 + jx * s1
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
            a, mx, my = poly_moments(P, 0, m, cx, cy)
            out[k, r] = a * (jA + jx * cx + jy * cy) + jx * mx + jy * my
    return out


# ---------------------------------------------------------------------------
# spherical measure


@kernel
def _plane_derivative(code, tr, o, X, Y, d, axis):
    """Derivative of the native unit vector along plane axis ``axis`` (per degree).

    Central difference with step ``d``; where one side leaves the projection's
    domain (a seam, a pole, a limb), the second-order one-sided difference
    into the domain.  NaN if neither works.
    """
    ex = d if axis == 0 else 0.0
    ey = d if axis == 1 else 0.0
    ax, ay, az = plane_to_native(code, tr, o, X + ex, Y + ey)
    bx, by, bz = plane_to_native(code, tr, o, X - ex, Y - ey)
    if ax == ax and bx == bx:
        h = 0.5 / d
        return (ax - bx) * h, (ay - by) * h, (az - bz) * h
    cx, cy, cz = plane_to_native(code, tr, o, X, Y)
    if cx != cx:
        return NAN, NAN, NAN
    sgn = 1.0 if ax == ax else -1.0
    if sgn < 0.0:
        ax, ay, az = bx, by, bz
        if ax != ax:
            return NAN, NAN, NAN
    fx, fy, fz = plane_to_native(code, tr, o, X + 2.0 * sgn * ex, Y + 2.0 * sgn * ey)
    if fx != fx:
        return NAN, NAN, NAN
    h = sgn * 0.5 / d
    return (4.0 * ax - 3.0 * cx - fx) * h, (4.0 * ay - 3.0 * cy - fy) * h, (4.0 * az - 3.0 * cz - fz) * h


@kernel
def input_area_factor(tr, x, y):
    """Relative solid angle per input pixel at input pixel ``(x, y)``.

    Projection area factor (solid angle per unit area of the projection
    plane: analytic for TAN, otherwise by differences with a fixed step of
    ``AREA_STEP_DEG``, see :func:`_plane_derivative`, so that the result is
    smooth and free of cancellation whatever the pixel size) times the
    Jacobian determinant of the SIP and TPV distortions.  The constant ``|det CD|``
    is left out: only ratios are used.  NaN outside the
    projection's domain.
    """
    o = np.int64(T_IN)  # not a literal: one compiled projection chain (see wcs._native)
    X, Y = pixel_to_plane(tr, o, x, y)
    if X != X or Y != Y:
        return NAN
    code = int(tr[o + W_CODE])
    if code == PROJ_TAN:
        # gnomonic: d(solid angle) = dX dY / (1 + R^2)^(3/2), X, Y in radians
        r2 = (X * X + Y * Y) * (D2R * D2R)
        s = 1.0 / ((1.0 + r2) * math.sqrt(1.0 + r2))
    else:
        d = AREA_STEP_DEG
        ux, uy, uz = _plane_derivative(code, tr, o, X, Y, d, np.int64(0))
        vx, vy, vz = _plane_derivative(code, tr, o, X, Y, d, np.int64(1))
        if ux != ux or vx != vx:
            return NAN
        wx = uy * vz - uz * vy
        wy = uz * vx - ux * vz
        wz = ux * vy - uy * vx
        s = math.sqrt(wx * wx + wy * wy + wz * wz) / (D2R * D2R)
    if tr[o + W_SIP] != 0.0 or tr[o + W_TPV] != 0.0:
        s *= distortion_jacobian(tr, o, x, y)
    return s


# ---------------------------------------------------------------------------
# lattice of output sub-cell corners


@kernel
def _lattice_row(tr, grid, jac, nsub, x0, yy, lx, ly, lj):
    """Input positions (and area factors) of lattice points along output row ``yy``.

    Point ``a`` lies at output x ``(x0 + a // nsub - 0.5) + (a % nsub) / nsub``:
    a function of the global pixel index only, so every tile and thread
    computes bit-identical shared corners.  For TAN -> TAN without
    distortion (homography mode) the whole row is evaluated in one
    branch-free loop (vectorised by the compiler) with the same arithmetic
    as :func:`~numbamosaic.wcs._native.out_to_in` and
    :func:`input_area_factor` (bit-identical values, no per-point calls).
    """
    n = lx.shape[0]
    o = T_IN
    if tr[T_MODE] == MODE_HOMOGRAPHY and int(tr[o + W_CODE]) == PROJ_TAN and tr[o + W_SIP] == 0.0:
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
            lj[a] = s if (ok and jac) else 1.0
        return
    for a in range(n):
        p = x0 + a // nsub
        k = a % nsub
        xx = (p - 0.5) + k / nsub if k else p - 0.5
        xi, yi = out_to_in(tr, grid, xx, yy)
        lx[a] = xi
        ly[a] = yi
        if jac and xi == xi:
            lj[a] = input_area_factor(tr, xi, yi)
        else:
            lj[a] = 1.0


# ---------------------------------------------------------------------------
# one output row

# layout of the float64 option vector ``opts`` passed to the kernels
O_NSUB = 0  # sub-cells per output pixel side
O_FLUX = 1  # 1: summed flux, 0: surface brightness
O_JAC = 2  # 1: weight by the input's solid angle per pixel (native modes)
O_ORIENT = 3  # orientation (+1/-1) of legitimate sub-cells in input pixels; 0: unknown
O_PX = 4  # longitude period of a cylindrical input in input pixels (x, y); 0: none
O_PY = 5
OPTS_LEN = 6

#: sub-cells spanning more input pixels than this get their centre checked
#: (a cell torn by a projection seam maps to a huge, wrong quadrilateral)
TEAR_CHECK_EXTENT = 8.0


# scratch polygon slots (see :func:`split_half`)
S_QUAD = 0  # the sub-cell, local coordinates
S_ROW_A = 1  # remainder of the row sweep (ping-pong)
S_ROW_B = 2
S_STRIP = 3  # one row strip
S_COL_A = 4  # remainder of the column sweep (ping-pong)
S_COL_B = 5
S_PIECE = 6  # one piece
NSLOT = 7


@inline_kernel
def _edge_piece(B, k, r, sg, ua, va, ub, vb, jA, jx, jy):
    """Contribution of an edge piece ``(ua, va) -> (ub, vb)`` (``ub >= ua``)
    lying in cell ``(k, r)``, with sign ``sg`` (see :func:`_edge_cells`).

    ``B[0]`` gets ``sg * integral over u of (c + jx u) h + jy h^2 / 2`` with
    ``h = v - r`` linear in ``u`` and ``c = jA + jy r`` (exact: the
    integrand is quadratic); ``B[1]``, ``B[2]`` the signed length and
    ``sg * integral of u``.
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


@kernel
def _edge_cells(B, ncol, nrow, ua, va, ub, vb, jA, jx, jy):
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
        _edge_piece(B, k, r, sg, ua, va, ub, vb, jA, jx, jy)
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
        _edge_piece(B, k, r, sg, cu, cv, un, vn, jA, jx, jy)
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
def _edge_2x2(B, ua, va, ub, vb, jA, jx, jy):
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
            _edge_piece(B, 1 if ua + ub > 2.0 else 0, r, sg, ua, va, ub, vb, jA, jx, jy)
            return
        vc = va + (1.0 - ua) * (dv / du)
        _edge_piece(B, 0, r, sg, ua, va, 1.0, vc, jA, jx, jy)
        _edge_piece(B, 1, r, sg, 1.0, vc, ub, vb, jA, jx, jy)
        return
    uc = ua + (1.0 - va) * (du / dv)
    r0 = 0 if va < 1.0 else 1
    if not xu:
        k = 1 if ua + ub > 2.0 else 0
        _edge_piece(B, k, r0, sg, ua, va, uc, 1.0, jA, jx, jy)
        _edge_piece(B, k, 1 - r0, sg, uc, 1.0, ub, vb, jA, jx, jy)
        return
    vc = va + (1.0 - ua) * (dv / du)
    if uc < 1.0:  # the row boundary comes first
        _edge_piece(B, 0, r0, sg, ua, va, uc, 1.0, jA, jx, jy)
        _edge_piece(B, 0, 1 - r0, sg, uc, 1.0, 1.0, vc, jA, jx, jy)
        _edge_piece(B, 1, 1 - r0, sg, 1.0, vc, ub, vb, jA, jx, jy)
    else:
        _edge_piece(B, 0, r0, sg, ua, va, 1.0, vc, jA, jx, jy)
        _edge_piece(B, 1, r0, sg, 1.0, vc, uc, 1.0, jA, jx, jy)
        _edge_piece(B, 1, 1 - r0, sg, uc, 1.0, ub, vb, jA, jx, jy)


@inline_kernel
def _clip_boxer(data, wdata, flux, P, B, gx, gy, xm, ym, j0, jx, jy, sgn, fx0, fy0, ncol, nrow):
    """Integrate the solid-angle model over the sub-cell in slot ``S_QUAD``
    and each input pixel of its ``ncol x nrow`` box starting at input pixel
    ``(fx0, fy0)``, edge by edge (:func:`_edge_cells`; no polygon clipping),
    and accumulate ``(V, SV, SW)`` like :func:`_sweep_strip`."""
    nyi, nxi = data.shape
    has_w = wdata.shape[0] > 0
    V = 0.0
    SV = 0.0
    SW = 0.0
    for k in range(ncol):
        for r in range(nrow):
            i = k * MAXB + r
            B[0, i] = 0.0
            B[1, i] = 0.0
            B[2, i] = 0.0
    # cell (k, r) is [k, k + 1] x [r, r + 1] in (u, v) = local - (ou, ov)
    ou = (fx0 - gx) - 0.5
    ov = (fy0 - gy) - 0.5
    jA = j0 + jx * (ou - xm) + jy * (ov - ym)
    pu = P[S_QUAD, 0, 3] - ou
    pv = P[S_QUAD, 1, 3] - ov
    small = ncol <= 2 and nrow <= 2
    for e in range(4):
        qu = P[S_QUAD, 0, e] - ou
        qv = P[S_QUAD, 1, e] - ov
        if small:
            _edge_2x2(B, pu, pv, qu, qv, jA, jx, jy)
        else:
            _edge_cells(B, ncol, nrow, pu, pv, qu, qv, jA, jx, jy)
        pu = qu
        pv = qv
    for k in range(ncol):
        ix = fx0 + k
        s0 = 0.0
        s1 = 0.0
        for r in range(nrow - 1, -1, -1):
            i = k * MAXB + r
            # partial-row part plus the full rows above in this column
            w = B[0, i] + (jA + jy * (r + 0.5)) * s0 + jx * s1
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
            if flux:
                jc = jA + jx * (k + 0.5) + jy * (r + 0.5)
                if jc > 0.0:
                    SV += d * (w / jc)
            else:
                SV += d * w
            if has_w:
                SW += wgt * w
    return V, SV, SW


@inline_kernel
def _clip_cell(data, wdata, flux, P, B, gx, gy, xm, ym, j0, jx, jy, sgn, wq):
    """Cut the sub-cell in slot ``S_QUAD`` (relative to the integer origin
    ``(gx, gy)``) into its pieces in the input pixels and integrate the
    solid-angle model over them.

    A sub-cell inside one input pixel is its only piece, of weight ``wq``
    (the sub-cell's solid angle).  One whose box of input pixels is at most
    ``MAXB x MAXB`` goes edge by edge (:func:`_clip_boxer`).  Larger ones:
    sweep: the remaining polygon is split at each input row boundary
    (:func:`split_half`: one pass gives both sides, the shared vertices
    computed once), each row strip likewise at the column boundaries.
    Returns ``(V, SV, SW)``: valid solid angle, sum of value x weight (or
    flux) and sum of input weight x weight.
    """
    # split_half arguments as int64, not literals: one compiled split_half
    axis_y = np.int64(1)
    drop = np.int64(-1)
    nyi, nxi = data.shape
    V = 0.0
    SV = 0.0
    SW = 0.0
    ymin = min(min(P[S_QUAD, 1, 0], P[S_QUAD, 1, 1]), min(P[S_QUAD, 1, 2], P[S_QUAD, 1, 3]))
    ymax = max(max(P[S_QUAD, 1, 0], P[S_QUAD, 1, 1]), max(P[S_QUAD, 1, 2], P[S_QUAD, 1, 3]))
    xmin = min(min(P[S_QUAD, 0, 0], P[S_QUAD, 0, 1]), min(P[S_QUAD, 0, 2], P[S_QUAD, 0, 3]))
    xmax = max(max(P[S_QUAD, 0, 0], P[S_QUAD, 0, 1]), max(P[S_QUAD, 0, 2], P[S_QUAD, 0, 3]))
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
            if flux:
                jc = j0 + jx * ((ix - gx) - xm) + jy * ((iy - gy) - ym)
                if jc > 0.0:
                    SV = d * (wq / jc)
            else:
                SV = d * wq
            return V, SV, SW
    fx0 = math.floor(xmin + gx + 0.5)
    fx1 = math.floor(xmax + gx + 0.5)
    ncol = fx1 - fx0 + 1
    nrow = fy1 - fy0 + 1
    if ncol >= 1 and ncol <= MAXB and nrow >= 1 and nrow <= MAXB and fx0 > -MAXB - 2 and fy0 > -MAXB - 2:
        return _clip_boxer(data, wdata, flux, P, B, gx, gy, xm, ym, j0, jx, jy, sgn, fx0, fy0, ncol, nrow)
    cur = np.int64(S_QUAD)  # slot numbers and counts as int64, not literals
    nxt = np.int64(S_ROW_A)
    nr = np.int64(4)
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
            V, SV, SW = _sweep_strip(data, wdata, flux, P, strip, ns, iy, gx, gy, xm, ym, j0, jx, jy, sgn, V, SV, SW)
    return V, SV, SW


@kernel
def _sweep_strip(data, wdata, flux, P, strip, ns, iy, gx, gy, xm, ym, j0, jx, jy, sgn, V, SV, SW):
    """Cut the strip polygon in slot ``strip`` (input row ``iy``) at the column
    boundaries and accumulate its pieces into ``(V, SV, SW)``."""
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
        pa, pmx, pmy = poly_moments(P, piece, npc, lx, ly)
        if pa == 0.0:
            continue
        # model solid angle of the input pixel (integral over its unit square)
        jc = j0 + jx * (lx - xm) + jy * (ly - ym)
        w = sgn * (pa * jc + jx * pmx + jy * pmy)
        V += w
        if flux:
            if jc > 0.0:
                SV += d * (w / jc)
        else:
            SV += d * w
        if has_w:
            SW += wgt * w
    return V, SV, SW


@kernel
def _exact_row(data, wdata, tr, grid, opts, LX, LY, LJ, y, x0, x1, RV, RF, bg, P, B):
    """Resample output pixels ``[x0, x1)`` of row ``y`` from the lattice rows
    ``LX/LY/LJ[0..nsub]`` (row 0 at ``y - 0.5``, row ``nsub`` at ``y + 0.5``)
    into the row buffers ``RV`` (value) and ``RF`` (weight), index ``x - x0``."""
    has_w = wdata.shape[0] > 0
    nsub = int(opts[O_NSUB])
    flux = opts[O_FLUX] != 0.0
    orient = opts[O_ORIENT]
    px = opts[O_PX]
    py = opts[O_PY]
    periodic = px != 0.0 or py != 0.0
    pp = px * px + py * py
    for x in range(x0, x1):
        W = 0.0  # solid angle of the output pixel (relative units)
        V = 0.0  # solid angle of valid coverage
        SV = 0.0  # sum of value x weight
        SW = 0.0  # sum of input weight x weight
        base = (x - x0) * nsub
        for b in range(nsub):
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
                if not (X0 == X0 and X1 == X1 and X2 == X2 and X3 == X3 and Y0 == Y0 and Y1 == Y1 and Y2 == Y2 and Y3 == Y3):
                    continue
                if periodic:
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
                P[S_QUAD, 0, 0] = X0 - gx
                P[S_QUAD, 0, 1] = X1 - gx
                P[S_QUAD, 0, 2] = X2 - gx
                P[S_QUAD, 0, 3] = X3 - gx
                P[S_QUAD, 1, 0] = Y0 - gy
                P[S_QUAD, 1, 1] = Y1 - gy
                P[S_QUAD, 1, 2] = Y2 - gy
                P[S_QUAD, 1, 3] = Y3 - gy
                xm = 0.25 * (P[S_QUAD, 0, 0] + P[S_QUAD, 0, 1] + P[S_QUAD, 0, 2] + P[S_QUAD, 0, 3])
                ym = 0.25 * (P[S_QUAD, 1, 0] + P[S_QUAD, 1, 1] + P[S_QUAD, 1, 2] + P[S_QUAD, 1, 3])
                A, Mx, My = _quad_moments(P[S_QUAD, 0, 0] - xm, P[S_QUAD, 1, 0] - ym, P[S_QUAD, 0, 1] - xm, P[S_QUAD, 1, 1] - ym,
                                          P[S_QUAD, 0, 2] - xm, P[S_QUAD, 1, 2] - ym, P[S_QUAD, 0, 3] - xm, P[S_QUAD, 1, 3] - ym)
                if A == 0.0:
                    continue
                sgn = 1.0 if A > 0.0 else -1.0
                if orient != 0.0 and sgn != orient:
                    continue  # folded or torn by a seam: no meaningful overlap
                ext = max(max(X0, X1), max(X2, X3)) - min(min(X0, X1), min(X2, X3))
                ext = max(ext, max(max(Y0, Y1), max(Y2, Y3)) - min(min(Y0, Y1), min(Y2, Y3)))
                if ext > TEAR_CHECK_EXTENT:
                    # large cell: its centre must map near the middle of its corners
                    mxo, myo = out_to_in(tr, grid, (x - 0.5) + (a + 0.5) / nsub, (y - 0.5) + (b + 0.5) / nsub)
                    if mxo != mxo:
                        continue
                    if periodic:
                        t = ((mxo - X0) * px + (myo - Y0) * py) / pp
                        m = math.floor(t + 0.5)
                        mxo -= m * px
                        myo -= m * py
                    if math.hypot(mxo - gx - xm, myo - gy - ym) > 0.1 * ext + 1.0:
                        continue
                # linear model J = j0 + jx (x - xm) + jy (y - ym): j0 the corners' mean
                J0 = LJ[b, c0]
                J1 = LJ[b, c0 + 1]
                J2 = LJ[b + 1, c0 + 1]
                J3 = LJ[b + 1, c0]
                jx = 0.0
                jy = 0.0
                if J0 == J0 and J1 == J1 and J2 == J2 and J3 == J3:
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
                W += wq
                # one call site for the clipping (a periodic input: the unwrapped
                # cell may stick out of one side of the image and re-enter on the
                # other, so its shifted copies m = -1, 0, 1 are clipped too)
                for im in range(3 if periodic else 1):
                    cxm = xm
                    cym = ym
                    if periodic:
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
                    dv, dsv, dsw = _clip_cell(data, wdata, flux, P, B, gx, gy, cxm, cym, j0, jx, jy, sgn, wq)
                    V += dv
                    SV += dsv
                    SW += dsw
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


@kernel
def _exact_rows(data, wdata, tr, grid, opts, ya, yb, x0, x1, val, wt, oy, ox, sink, bg):
    """Serial work item: output rows ``[ya, yb)``, sharing lattice rows."""
    nsub = int(opts[O_NSUB])
    jac = opts[O_JAC] != 0.0
    # wide rows are done in column chunks so the lattice stays small
    chunk = max(1, LATTICE_POINTS // nsub)
    nl = nsub * min(chunk, x1 - x0) + 1
    LX = np.empty((nsub + 1, nl))
    LY = np.empty((nsub + 1, nl))
    LJ = np.empty((nsub + 1, nl))
    P = np.empty((NSLOT, 2, MAXV))
    B = np.empty((3, MAXB * MAXB))
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
    bval = _borrowed(val)
    bwt = _borrowed(wt)
    bbg = _borrowed(bg)
    bP = _borrowed(P)
    bB = _borrowed(B)
    bRV = _borrowed(RV)
    bRF = _borrowed(RF)
    for xa in range(x0, x1, chunk):
        xb = min(x1, xa + chunk)
        n = nsub * (xb - xa) + 1
        _lattice_row(btr, bgrid, jac, nsub, xa, ya - 0.5, bLX[0, :n], bLY[0, :n], bLJ[0, :n])
        for y in range(ya, yb):
            for b in range(1, nsub + 1):
                # (y - 0.5) + 1 == (y + 1) - 0.5 exactly: rows share bit-identical edges
                yy = (y - 0.5) + b / nsub
                _lattice_row(btr, bgrid, jac, nsub, xa, yy, bLX[b, :n], bLY[b, :n], bLJ[b, :n])
            _exact_row(bdata, bwdata, btr, bgrid, bopts, bLX, bLY, bLJ, y, xa, xb, bRV, bRF, bbg, bP, bB)
            deposit_row(sink, bval, bwt, y - oy, xa - ox, bRV, bRF, xb - xa)
            LX[0, :n] = LX[nsub, :n]
            LY[0, :n] = LY[nsub, :n]
            LJ[0, :n] = LJ[nsub, :n]
    keep_alive((LX, LY, LJ, P, B, RV, RF))  # the borrowed views must not outlive them


@entry(writes=("val", "wt"))
@kernel
def exact_tile(data, wdata, tr, grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg):
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
    """
    if y1 > y0 and x1 > x0:
        _exact_rows(data, wdata, tr, grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg)


@entry(writes=("val", "wt"))
@parallel_kernel
def exact_tile_parallel(data, wdata, tr, grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg):
    """Same as :func:`exact_tile` with blocks of ``ROW_BLOCK`` rows spread over threads."""
    if y1 <= y0 or x1 <= x0:
        return
    nb = (y1 - y0 + ROW_BLOCK - 1) // ROW_BLOCK
    for ib in prange(nb):
        ya = y0 + ib * ROW_BLOCK
        yb = min(y1, ya + ROW_BLOCK)
        _exact_rows(data, wdata, tr, grid, opts, ya, yb, x0, x1, val, wt, oy, ox, sink, bg)
