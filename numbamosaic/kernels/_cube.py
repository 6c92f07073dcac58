"""Cube kernels: one geometry per output pixel, every plane resampled with it.

reproject broadcasts over the leading axes of data whose WCS has two pixel
axes: each plane ``cube[z]`` of a ``(nz, ny, nx)`` cube is reprojected onto
the same output grid.  Here the transform (and everything derived from it)
is evaluated once per output pixel, and all planes are resampled from it:

* interpolation (:func:`interp_cube_tile`): a row chunk's input positions
  once, then each plane sampled at them (the 2-D kernels' interpolants);
* exact (:func:`exact_cube_tile`): the exact kernel's row function runs
  once per output row with a *recorder* (:mod:`.exact._record`) on a data
  array whose pixels are all valid; the recorded pieces (input pixel, area
  weight, flux weight) are then summed plane by plane
  (:func:`apply_pieces`) with the grouping and order of the 2-D kernel,
  skipping the input pixels that are blank in that plane;
* adaptive (:func:`adaptive_cube_tile`): a block's positions and Jacobians
  (:func:`.._adaptive._block_geometry`) once, then the 2-D kernel's
  per-row resampling for each plane.

So plane ``z`` of a cube equals the 2-D reprojection of ``cube[z]`` bit for
bit, while the WCS, the lattice of sub-cell corners, the clipping and the
Jacobians are computed once for all planes.  Values and weights go to
``val[z]``/``wt[z]`` through the same sinks as 2-D (``SINK_WRITE`` for
single images, the combine sinks for mosaics).  The kernels are serial and
release the GIL: drivers run strips (single images) or tiles (mosaics) on a
pool of threads; every output pixel is owned by one work item, so results
do not depend on the thread count.

These kernels are separate compiled functions from the 2-D ones: a cube
never adds a compiled variant to a 2-D call.  They pass the homography
literal ``hom`` (``wcs._native.map_point``) as 0: the shared 2-D pieces
are compiled for any transform.
"""

import math

import numpy as np
from numba import types
from numba.extending import overload

from ._adaptive import P_BROWS, P_BCOLS, P_DESPIKE, P_NX, P_NY, _block_bounds, _block_geometry, _despiked, resample_row
from ._borrow import keep_alive
from ._combine import COMBINE_MEAN, COMBINE_SUM, finalize_rows
from ._entry import entry
from ._interp import _bilinear_careful, sample_row, weight_row
from ._jit import OVERLOAD_OPTIONS, inline_kernel, kernel
from ._load import load, prefetch
from ._sinks import SINK_SUM, deposit, deposit_row
from ..wcs._native import out_to_in_row
from .exact._edges import MAXB
from .exact._measure import NAN, _lattice_row
from .exact._polygon import MAXV, NSLOT
from .exact._quadratic import B_ROWS
from .exact._record import make_recorder
from .exact._rows import LATTICE_POINTS, MIN_COVER, O_CURVE, O_FLUX, O_JAC, O_NSUB, _exact_row, _lattice_y, _row_jac


# ---- interpolation ----------------------------------------------------------


def stencil_row(order, nyi, nxi, xs, ys, n, IX, IY, W0, W1, W2, W3):
    """Bilinear stencils of positions ``(xs[k], ys[k])``, shared by every plane (stub; see the overload).

    For order 1 (a literal): where the 2-D kernel takes its interior fast
    path (``0 <= x < nx - 1``, ``0 <= y < ny - 1``), the corner pixel
    ``IX[k], IY[k]`` and the four weights ``(1 - fx)(1 - fy)``,
    ``fx (1 - fy)``, ``(1 - fx) fy``, ``fx fy`` (the same products as
    ``kernels._interp._bilinear``); ``IX[k] = -1`` elsewhere.  Other orders:
    nothing (each plane is sampled with ``sample_row``).
    """
    raise NotImplementedError  # replaced by the Numba overload below


@overload(stencil_row, jit_options=OVERLOAD_OPTIONS, prefer_literal=True)
def _stencil_row_impl(order, nyi, nxi, xs, ys, n, IX, IY, W0, W1, W2, W3):
    if isinstance(order, types.IntegerLiteral) and order.literal_value == 1:
        def impl(order, nyi, nxi, xs, ys, n, IX, IY, W0, W1, W2, W3):
            for k in range(n):
                x = xs[k]
                y = ys[k]
                if x >= 0.0 and y >= 0.0 and x < nxi - 1 and y < nyi - 1:
                    ix = int(x)
                    iy = int(y)
                    fx = x - ix
                    fy = y - iy
                    IX[k] = ix
                    IY[k] = iy
                    W0[k] = (1.0 - fx) * (1.0 - fy)
                    W1[k] = fx * (1.0 - fy)
                    W2[k] = (1.0 - fx) * fy
                    W3[k] = fx * fy
                else:
                    IX[k] = -1
    else:
        def impl(order, nyi, nxi, xs, ys, n, IX, IY, W0, W1, W2, W3):
            return None
    return impl


def plane_row(order, data, ahead, coef, xs, ys, vs, n, IX, IY, W0, W1, W2, W3):
    """``vs[k]``: plane ``data`` sampled at ``(xs[k], ys[k])`` (stub; see the overload).

    Order 1: from the shared stencils (:func:`stencil_row`): four loads and
    the 2-D kernel's sum, bit for bit (its careful path where the stencil is
    not interior or the sum is NaN).  The stencil's two rows in ``ahead``
    (the next plane) are prefetched meanwhile (:func:`._load.prefetch`: a
    hint, no effect on any value): an output row rotated against the input
    reaches a new input row every few pixels, which the hardware prefetchers
    do not predict, and each plane would otherwise wait for those misses.
    Other orders: ``sample_row``.
    """
    raise NotImplementedError  # replaced by the Numba overload below


@overload(plane_row, jit_options=OVERLOAD_OPTIONS, prefer_literal=True)
def _plane_row_impl(order, data, ahead, coef, xs, ys, vs, n, IX, IY, W0, W1, W2, W3):
    if isinstance(order, types.IntegerLiteral) and order.literal_value == 1:
        def impl(order, data, ahead, coef, xs, ys, vs, n, IX, IY, W0, W1, W2, W3):
            for k in range(n):
                ix = IX[k]
                if ix >= 0:
                    iy = IY[k]
                    prefetch(ahead, iy, ix)
                    prefetch(ahead, iy + 1, ix)
                    v = (W0[k] * load(data, iy, ix) + W1[k] * load(data, iy, ix + 1)
                         + W2[k] * load(data, iy + 1, ix) + W3[k] * load(data, iy + 1, ix + 1))
                    if v == v:
                        vs[k] = v
                        continue
                vs[k] = _bilinear_careful(data, xs[k], ys[k])
    else:
        def impl(order, data, ahead, coef, xs, ys, vs, n, IX, IY, W0, W1, W2, W3):
            sample_row(order, data, coef, xs, ys, vs, n)
    return impl


#: cube-mosaic sinks for a tile with a single member (:func:`finish_row`): the combined and
#: finished value written straight to the outputs, without accumulators
SINK_ONE_MEAN = 16
SINK_ONE_SUM = 17
SINK_ONE_PICK = 18  # first, last, min, max


@inline_kernel
def _finish(out, fp, j, i, value, w, blank):
    """Write one finished pixel: ``value`` and footprint ``w``, or ``blank`` and 0 where ``w`` is 0."""
    if w == 0.0:
        out[j, i] = blank
        fp[j, i] = 0.0
    else:
        out[j, i] = value
        fp[j, i] = w


@kernel
def finish_row(sink, out, fp, j, i0, vs, fs, n, blank):
    """Values ``vs[k]`` with weights ``fs[k]`` of the only input of a mosaic tile, combined and
    finished at ``(j, i0 + k)`` of the outputs ``out``/``fp`` in one step.

    Equal, value for value, to depositing them into fresh accumulators (sum
    and weight 0; :func:`._sinks.deposit_row` with ``SINK_SUM`` for
    ``SINK_ONE_MEAN``/``SINK_ONE_SUM``, the pick sinks of first, last, min
    and max for ``SINK_ONE_PICK``) and finishing those
    (:func:`._combine.finalize_rows`): the same float64 operations (``0 + v f``,
    ``0 + f``, the division of the mean) and the same blank/footprint rule.
    A cube mosaic's tile covered by one input then costs no accumulator fill,
    read-modify-write or finishing pass (on the 2 x 128 x 1024^2 bench mosaic
    those were ~1.2 of its 3.5 CPU s on one thread, for two thirds of the
    output covered by one input).
    """
    for k in range(n):
        v = vs[k]
        f = fs[k]
        ok = math.isfinite(v) and f == f
        if sink == SINK_ONE_PICK:
            if ok and f > 0.0:
                out[j, i0 + k] = v
                fp[j, i0 + k] = f
            else:
                out[j, i0 + k] = blank
                fp[j, i0 + k] = 0.0
            continue
        s = 0.0
        w = 0.0
        if ok:
            s += v * f
            w += f
        _finish(out, fp, j, i0 + k, s / w if sink == SINK_ONE_MEAN and w != 0.0 else s, w, blank)


#: cube-mosaic sinks for a tile with several members (interpolation): the first member writes
#: fresh accumulators (``SINK_FIRST_OF + sink``: :func:`first_row`), the last one finishes into
#: the outputs (``SINK_LAST_OF + combine``: :func:`last_row`), members between deposit as usual
SINK_FIRST_OF = 32
SINK_LAST_OF = 48


@kernel
def first_row(sink, val, wt, j, i0, vs, fs, n, init):
    """The first member's values ``vs[k]``, weights ``fs[k]`` into accumulators not yet reset.

    Equal, value for value, to resetting ``val``/``wt`` at ``(j, i0 + k)`` to
    the tile drivers' initial values (``init``, 0) and then depositing with
    ``sink`` (:func:`._sinks.deposit`): ``init + v f`` and ``0 + f`` for
    ``SINK_SUM`` (the additions kept, so a -0.0 product becomes +0.0 as it
    does in a reset buffer), the pick sinks through :func:`._sinks.deposit`
    itself.  The reset pass over the tile's buffers (every plane) is saved
    for the pixels the first member reaches.
    """
    if sink == SINK_SUM:
        for k in range(n):
            v = vs[k]
            f = fs[k]
            if math.isfinite(v) and f == f:
                val[j, i0 + k] = init + v * f
                wt[j, i0 + k] = 0.0 + f
            else:
                val[j, i0 + k] = init
                wt[j, i0 + k] = 0.0
    else:
        for k in range(n):
            val[j, i0 + k] = init
            wt[j, i0 + k] = 0.0
            deposit(sink, val, wt, j, i0 + k, vs[k], fs[k])


@kernel
def last_row(combine, val, wt, out, fp, j, i0, vs, fs, n, blank):
    """The last member's values ``vs[k]``, weights ``fs[k]`` deposited into the accumulators'
    sums and finished into the outputs ``out``/``fp`` at once, while the row is in cache.

    Equal, value for value, to depositing with the combine's sink
    (:func:`._sinks.deposit_row`) and then finishing
    (:func:`._combine.finalize_rows`): the same float64 operations, the
    same blank/footprint rule.  The accumulators are not written back for
    the sum sink (nothing reads them afterwards).
    """
    if combine == COMBINE_MEAN or combine == COMBINE_SUM:
        for k in range(n):
            v = vs[k]
            f = fs[k]
            s = val[j, i0 + k]
            w = wt[j, i0 + k]
            if math.isfinite(v) and f == f:
                s += v * f
                w += f
            _finish(out, fp, j, i0 + k, s / w if combine == COMBINE_MEAN and w != 0.0 else s, w, blank)
    else:
        sink = combine  # COMBINE_FIRST..MAX are SINK_FIRST..MAX
        for k in range(n):
            deposit(sink, val, wt, j, i0 + k, vs[k], fs[k])
            _finish(out, fp, j, i0 + k, val[j, i0 + k], wt[j, i0 + k], blank)


#: output rows x columns whose positions and stencils are computed before the planes are sampled:
#: each plane is then read and written a block at a time (its pages and cache lines reused), not
#: a row chunk at a time
CUBE_ROWS = 4
CUBE_WIDTH = 1024


@inline_kernel
def _interp_cube_rows(cube, coefs, wdata, tr, grid, order, ya, yb, x0, x1, val, wt, out, fp, oy, ox, sink, bg, blank):
    """Rows ``[ya, yb)``: each block of ``CUBE_ROWS x CUBE_WIDTH`` output pixels mapped once,
    every plane sampled over the block (inlined into the entry point, so that ``order`` stays
    a literal and only its interpolant is compiled)."""
    nz = cube.shape[0]
    has_w = wdata.shape[0] > 0
    bw = max(1, min(CUBE_WIDTH, x1 - x0))
    m = CUBE_ROWS * bw
    xs, ys, ws = np.empty(m), np.empty(m), np.empty(m)
    IX, IY = np.empty(m, np.int64), np.empty(m, np.int64)
    W0, W1, W2, W3 = np.empty(m), np.empty(m), np.empty(m), np.empty(m)
    vs, fs = np.empty(bw), np.empty(bw)
    zero = np.zeros(bw)
    nyi, nxi = cube.shape[1], cube.shape[2]
    spline = coefs.shape[0] == nz and coefs.shape[1] > 0
    for yr in range(ya, yb, CUBE_ROWS):
        rows = min(CUBE_ROWS, yb - yr)
        for c0 in range(x0, x1, bw):
            c1 = min(x1, c0 + bw)
            n = c1 - c0
            for r in range(rows):
                o = r * n
                out_to_in_row(tr, grid, yr + r, c0, c1, xs[o:o + n], ys[o:o + n])
                stencil_row(order, nyi, nxi, xs[o:o + n], ys[o:o + n], n, IX[o:o + n], IY[o:o + n], W0[o:o + n],
                            W1[o:o + n], W2[o:o + n], W3[o:o + n])
                if has_w:
                    # the input weights are one image for every plane: sampled once
                    # (bilinear, nearest for order 0), as the 2-D kernel samples them
                    weight_row(order, wdata, xs[o:o + n], ys[o:o + n], zero, ws[o:o + n], n)
            for z in range(nz):
                plane = cube[z]
                ahead = cube[min(z + 1, nz - 1)]  # the next plane: its stencil rows prefetched
                coef = coefs[z] if spline else coefs[0]
                vz = val[z]
                wz = wt[z]
                oz = out[z]
                fz = fp[z]
                for r in range(rows):
                    o = r * n
                    y = yr + r
                    plane_row(order, plane, ahead, coef, xs[o:o + n], ys[o:o + n], vs, n, IX[o:o + n], IY[o:o + n],
                              W0[o:o + n], W1[o:o + n], W2[o:o + n], W3[o:o + n])
                    if has_w:
                        for k in range(n):
                            fs[k] = 1.0 if vs[k] != vs[k] else ws[o + k]
                    else:
                        for k in range(n):
                            fs[k] = 1.0
                    b0 = bg[0] + bg[2] * y
                    b1 = bg[1]
                    if b0 != 0.0 or b1 != 0.0:
                        for k in range(n):
                            vs[k] -= b0 + b1 * (c0 + k)
                    if sink >= SINK_LAST_OF:
                        last_row(sink - SINK_LAST_OF, vz, wz, oz, fz, y - oy, c0 - ox, vs, fs, n, blank)
                    elif sink >= SINK_FIRST_OF:
                        first_row(sink - SINK_FIRST_OF, vz, wz, y - oy, c0 - ox, vs, fs, n, blank)
                    elif sink >= SINK_ONE_MEAN:
                        finish_row(sink, vz, wz, y - oy, c0 - ox, vs, fs, n, blank)
                    else:
                        deposit_row(sink, vz, wz, y - oy, c0 - ox, vs, fs, n)


@entry(writes=("val", "wt", "out", "fp"), literal=("order",))
@kernel
def interp_cube_tile(cube, coefs, wdata, tr, grid, order, y0, y1, x0, x1, val, wt, out, fp, oy, ox, sink, bg, blank):
    """Serial kernel: resample every plane of ``cube`` ``(nz, ny, nx)`` over the output box.

    ``coefs``: per-plane spline coefficients ``(nz, ny, nx)`` for orders 2-3,
    else any array of shape ``(1, 0, 0)``.  ``val``/``wt`` are ``(nz, .., ..)``
    buffers indexed relative to ``(oy, ox)``; other arguments as
    :func:`numbamosaic.kernels._interp.interp_tile`.  ``sink`` may also be one
    of the single-member sinks (:func:`finish_row`), ``val``/``wt`` then
    being the mosaic's outputs, ``blank`` their blank value, or a first or
    last member's sink (:func:`first_row`: ``blank`` is then the
    accumulators' initial value; :func:`last_row`: ``out``/``fp`` are the
    outputs, indexed as ``val``/``wt``).  ``out``/``fp`` are not used
    otherwise (callers pass ``val``/``wt`` again).
    """
    _interp_cube_rows(cube, coefs, wdata, tr, grid, order, y0, y1, x0, x1, val, wt, out, fp, oy, ox, sink, bg, blank)


# ---- exact ------------------------------------------------------------------


@kernel
def apply_pieces(cube, rec, flux, has_w, bg, y, xa, n, sink, val, wt, oy, ox, RV, RF):
    """Values of the ``n`` output pixels ``[xa, xa + n)`` of row ``y`` for every plane, from recorded pieces.

    Replays the sums of :func:`numbamosaic.kernels.exact._rows._exact_row`
    (valid area ``V``, value sum ``SV``, input-weight sum ``SW``; group by
    group, piece by piece) with the plane's data, and its final step, then
    deposits the plane's row.
    """
    RI, RW, RG, RP, RS, CNT = rec
    nz = cube.shape[0]
    for z in range(nz):
        plane = cube[z]
        k = 0
        g = 0
        for p in range(n):
            V = 0.0
            SV = 0.0
            SW = 0.0
            gend = RP[p]
            while g < gend:
                kend = RG[g]
                dv = 0.0
                dsv = 0.0
                dsw = 0.0
                while k < kend:
                    d = load(plane, RI[0, k], RI[1, k])
                    if math.isfinite(d):
                        dv += RW[0, k]
                        q = RW[1, k]
                        if q == q:
                            dsv += d * q
                        dsw += RW[2, k]
                    k += 1
                V += dv
                SV += dsv
                SW += dsw
                g += 1
            W = RS[p]
            x = xa + p
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
            RV[p] = v
            RF[p] = f
        deposit_row(sink, val[z], wt[z], y - oy, xa - ox, RV, RF, n)


@kernel
def _record_row(valid, wdata, tr, grid, opts, LX, LY, LJ, LQ, y, xa, xb, RV, RF, bg, P, B, E, Q, rec, quad):
    """Record the pieces of row ``y`` (``[xa, xb)``), growing the recorder until they fit."""
    while True:
        CNT = rec[5]
        CNT[0] = 0
        CNT[1] = 0
        CNT[2] = 0
        _exact_row(valid, wdata, tr, grid, opts, LX, LY, LJ, LQ, y, xa, xb, RV, RF, bg, P, B, E, Q, rec, quad, 0, 0)
        if CNT[0] <= rec[0].shape[1] and CNT[1] <= rec[2].shape[0]:
            return rec
        rec = make_recorder(max(CNT[0], rec[0].shape[1]) * 2, max(CNT[1], rec[2].shape[0]) * 2, rec[3].shape[0])


@kernel
def _exact_cube_rows(cube, valid, wdata, tr, grid, opts, ya, yb, x0, x1, val, wt, oy, ox, sink, bg, quad):
    """Rows ``[ya, yb)``, sharing lattice rows as :func:`numbamosaic.kernels.exact._rows._exact_rows`
    (the same lattice arithmetic), the pieces of each row recorded once and applied to every plane."""
    nsub = int(opts[O_NSUB])
    jac = int(opts[O_JAC])
    curve = opts[O_CURVE] > 0.0
    flux = opts[O_FLUX] != 0.0
    has_w = wdata.shape[0] > 0
    chunk = max(1, LATTICE_POINTS // nsub)
    nl = nsub * min(chunk, x1 - x0) + 1 + 2 * nsub
    LX = np.empty((nsub + 3, nl))
    LY = np.empty((nsub + 3, nl))
    LJ = np.empty((nsub + 3, nl))
    qmod = False
    if quad is not None:
        qmod = jac >= 2
    LQ = np.empty((3, nsub + 3, nl if qmod else 1))
    P = np.empty((NSLOT, 2, MAXV))
    B = np.empty((B_ROWS, MAXB * MAXB))
    E = np.zeros((3, 4))
    Q = np.zeros(int(opts[O_NSUB]))
    npx = min(chunk, x1 - x0)
    RV = np.empty(npx)
    RF = np.empty(npx)
    # room for a few pieces per sub-cell; grown when a row needs more
    rec = make_recorder(npx * nsub * nsub * 6 + 64, npx * nsub * nsub * 2 + 64, npx)
    for xa in range(x0, x1, chunk):
        xb = min(x1, xa + chunk)
        n = nsub * (xb - xa) + 1
        c = 0 if curve else nsub
        m = n + 2 * nsub if curve else n
        xl = xa - 1 if curve else xa
        for b in range(-1 if curve else 0, 1):
            _lattice_row(tr, grid, _row_jac(jac, b, nsub), nsub, xl, _lattice_y(ya, b, nsub), LX[b + 1, c:c + m], LY[b + 1, c:c + m],
                         LJ[b + 1, c:c + m], LQ[:, b + 1, c:c + m], quad, 0, np.int64(0))
        first = True
        for y in range(ya, yb):
            for b in range(2 if (curve and not first) else 1, nsub + (2 if curve else 1)):
                _lattice_row(tr, grid, _row_jac(jac, b, nsub), nsub, xl, _lattice_y(y, b, nsub), LX[b + 1, c:c + m], LY[b + 1, c:c + m],
                             LJ[b + 1, c:c + m], LQ[:, b + 1, c:c + m], quad, 0, np.int64(0))
            first = False
            rec = _record_row(valid, wdata, tr, grid, opts, LX, LY, LJ, LQ, y, xa, xb, RV, RF, bg, P, B, E, Q, rec, quad)
            apply_pieces(cube, rec, flux, has_w, bg, y, xa, xb - xa, sink, val, wt, oy, ox, RV, RF)
            for b in range(0 if curve else 1, 3 if curve else 2):
                LX[b, c:c + m] = LX[b + nsub, c:c + m]
                LY[b, c:c + m] = LY[b + nsub, c:c + m]
                LJ[b, c:c + m] = LJ[b + nsub, c:c + m]
                if qmod:  # element loops: no slice-assignment code compiled for the 3-D LQ
                    for q in range(3):
                        for k in range(c, c + m):
                            LQ[q, b, k] = LQ[q, b + nsub, k]
    keep_alive((LX, LY, LJ, LQ, P, B, RV, RF, E))


@entry(writes=("val", "wt"))
@kernel
def exact_cube_tile(cube, valid, wdata, tr, grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg, quad):
    """Serial kernel: exact resampling of every plane of ``cube`` over the output box.

    ``valid``: a 2-D array of the plane's shape whose every value is finite
    (a zero-strided view of one zero), the data the geometry is recorded
    with.  Other arguments as :func:`numbamosaic.kernels.exact.exact_tile`,
    with ``(nz, .., ..)`` buffers ``val``/``wt`` (``hom`` is 0, ``quad``
    ``exact._rows.quad_flag``).
    """
    if y1 > y0 and x1 > x0:
        _exact_cube_rows(cube, valid, wdata, tr, grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg, quad)


# ---- adaptive ---------------------------------------------------------------


@kernel
def _adaptive_cube_block(cube, wdata, tr, grid, prm, by0, by1, bx0, bx1, val, wt, oy, ox, sink, bg):
    """Block ``[by0, by1) x [bx0, bx1)``: positions and Jacobians once, each plane resampled
    row by row as :func:`numbamosaic.kernels._adaptive._block` does."""
    px, py, jac, jm, h = _block_geometry(tr, grid, prm, by0, by1, bx0, bx1, 0, 0)
    despike = prm[P_DESPIKE] != 0.0
    n = bx1 - bx0
    nr = px.shape[0]
    vs = np.empty(n)
    fs = np.empty(n)
    rj = np.empty((n, 4))
    ny = int(prm[P_NY])
    nx = int(prm[P_NX])
    nz = cube.shape[0]
    for r in range(h, nr - h):
        y = by0 - h + r
        if despike:
            for i in range(n):
                rj[i, 0], rj[i, 1], rj[i, 2], rj[i, 3] = _despiked(jac, jm, r, h + i, y, bx0 + i, ny, nx)
        for z in range(nz):
            data = cube[z]
            if despike:
                resample_row(data, wdata, prm, px[r, h:], py[r, h:], rj, n, vs, fs, 0)
            else:
                resample_row(data, wdata, prm, px[r], py[r], jac[r], n, vs, fs, 0)
            for i in range(n):
                v = vs[i]
                if v == v:
                    vs[i] = v - (bg[0] + bg[1] * (bx0 + i) + bg[2] * y)
            deposit_row(sink, val[z], wt[z], y - oy, bx0 - ox, vs, fs, n)


@entry(writes=("val", "wt"))
@kernel
def adaptive_cube_tile(cube, wdata, tr, grid, prm, y0, y1, x0, x1, val, wt, oy, ox, sink, bg):
    """Serial kernel: adaptive resampling of every plane of ``cube`` over the output box
    (arguments as :func:`numbamosaic.kernels._adaptive.adaptive_tile`, ``(nz, .., ..)`` buffers)."""
    if y1 <= y0 or x1 <= x0:
        return
    brows = max(1, int(prm[P_BROWS]))
    bcols = max(1, int(prm[P_BCOLS]))
    nb = ((y1 - y0 + brows - 1) // brows) * ((x1 - x0 + bcols - 1) // bcols)
    for k in range(nb):
        by0, by1, bx0, bx1 = _block_bounds(k, y0, y1, x0, x1, brows, bcols)
        _adaptive_cube_block(cube, wdata, tr, grid, prm, by0, by1, bx0, bx1, val, wt, oy, ox, sink, bg)


# ---- mosaics: finishing a tile ----------------------------------------------


@entry(writes=("out", "fp"))
@kernel
def finalize_cube_tile(combine, val, wt, out, fp, blank):
    """Write a finished cube tile, every plane: :func:`.._combine.finalize_tile` per plane.

    ``val``/``wt`` are a tile's ``(nz, th, tw)`` accumulators and ``out``/
    ``fp`` views of the outputs (any strides).  One call per tile instead of
    one per plane: the 2 x 128 x 1024^2 bench mosaic made 12288 calls of the
    2-D kernel, each with its Python entry overhead.  Same arithmetic as the
    2-D kernel, value for value.
    """
    for z in range(val.shape[0]):
        finalize_rows(combine, val[z], wt[z], out[z], fp[z], blank)
