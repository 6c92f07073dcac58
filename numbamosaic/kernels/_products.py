"""Survey products in the tile kernels: scales, masks, variance, count, exposure, context, flags.

These kernels run only when a mosaic asks for products (or for masks, flux
scales or a noise-type weight map); plain calls never compile or call them,
and the kernels below reproduce the plain path's arithmetic for the mosaic
itself (same value sampler, same sink update), so ``array`` and
``footprint`` are bitwise those of the plain call.

Per input and output pixel, with the resampled value ``v``, weight ``f``
(footprint x input weight) and flux scale ``s``:

* mask: the input mask (integer DQ or boolean, as ``uint32``) is sampled
  nearest-neighbour at the pixel's input position; ``m & bad_bits != 0``
  drops the sample (as a blank pixel);
* flags: ``m`` of every input whose image covers the pixel is combined with
  OR or AND (a "seen" bit, :data:`SEEN`, tells no coverage from zero);
* the value ``(v - background) s`` is deposited by the plain sink
  (``kernels._sinks.deposit``);
* a sample *contributes* when it is deposited with ``f > 0``: it adds 1 to
  the count, its exposure time to the exposure, the bit of the input's
  position in the tile's member list to the context planes
  (``ctx[p // 32] |= 1 << (p % 32)``), and ``f^2 s^2 var(v)`` to the variance
  accumulator (mean: divided by ``(sum f)^2`` at the end; sum: as is).

Variance of one resampled value, ``var(v) = sum_k c_k^2 sigma_k^2`` over the
input pixels ``k`` with resampling coefficients ``c_k`` (drizzle's rule for
the variance of a linear combination, Fruchter & Hook 2002; drizzle's
``out_img2``):

* nearest, bilinear, Lanczos-3: the interpolation weights (Lanczos
  normalised by their sum), with the kernels' edge clamping (coefficients
  of a repeated edge pixel are added before squaring);
* biquadratic, bicubic: B-spline interpolation of prefiltered coefficients
  is a linear filter of the data with the cardinal spline as its kernel
  (Unser, Aldroubi & Eden 1991): ``c_k = sum_b w_b sqrt(3) z^|sx + b - k|``
  for the cubic (``z = sqrt(3) - 2``; quadratic ``sqrt(2)``, ``z = sqrt(8) -
  3``), with the mirror extension folded back onto the image, truncated at
  :data:`SPLINE_TAIL` pixels beyond the stencil (relative error of the
  variance < 1e-6);
* exact: ``c_k`` = area of the output pixel's quadrilateral (its corners
  mapped into the input) inside input pixel ``k``, divided by the summed
  area of the valid pixels (surface brightness) or as is (flux);
* adaptive: ``c_k = w_k / sum w`` with the kernel's own filter weights
  (DeForest 2004; same sampling box, boundary and bad-value rules, weights
  evaluated directly rather than by the kernel's recurrences, Jacobian from
  the same finite differences, without despiking), times ``|det J|`` when
  conserving flux.

Input pixels whose data are blank add nothing to the variance.  Every output
pixel is owned by one thread and inputs are taken in input order, so
products are bitwise deterministic for any thread count.

Why this module is long: the product kernels of every resampling method
(interpolation, exact, adaptive) and their finishing step share the
parameter vectors, the accumulation step (``_accumulate``) and the variance
rules above; each variance source is written against the plain kernel it
must match bit for bit, and they read best side by side.
"""

import math

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ._adaptive import (
    BAD_CONSTANT,
    BAD_STRICT,
    BOUNDARY_CONSTANT,
    BOUNDARY_GRID_CONSTANT,
    BOX_FILL,
    BOX_SAMPLE,
    KERNEL_HANN,
    P_BAD,
    P_BOUNDARY,
    P_CENTER,
    P_FLUX,
    P_KERNEL,
    P_SRW,
    P_WIDTH,
    P_XCYC,
    P_YCYC,
    _sampling_box,
    _wrap,
)
from ._borrow import borrowed, keep_alive
from ._entry import entry
from ._interp import (
    CHUNK,
    _bilinear,
    _clamp_domain,
    _clampi,
    _inside,
    _interp_chunk,
    _lanczos3,
    _mirror,
    _nearest,
    sample_row,
)
from ._jit import inline_kernel, kernel
from ._load import load
from ._sinks import SINK_SUM, deposit, deposit_row
from ..wcs._native import out_to_in, out_to_in_row

NAN = math.nan
#: "seen" bit of the int64 flag accumulators (DQ values use bits 0-31)
SEEN = np.int64(1) << np.int64(40)
#: pixels of the cardinal spline's tail beyond the B-spline stencil
SPLINE_TAIL = 6
#: capacity of the 1-D tap lists (cubic: 4 + 2 x SPLINE_TAIL)
MAXTAPS = 24

# integer parameter vector ``ip``
I_BADBITS = 0  # mask bits that drop a sample
I_MEMBER = 1  # position of the input in the tile's member list
I_FLAGMODE = 2  # 0 none, 1 OR, 2 AND
I_VTYPE = 3  # variance source: -1 none, 0 variance map, 1 inverse-variance map
I_FLUX = 4  # exact: 1 when conserving flux
I_VISW = 5  # 1 when the variance source is the weight map itself (an inverse-variance map): one read of both
N_IP = 6
# float parameter vector ``fpar``
F_SCALE = 0  # flux scale s
F_EXPTIME = 1  # exposure time
F_VSCALE = 2  # factor on the variance map (s^2 for a variance map, 1 for a scaled ivar map)
N_FP = 3

FLAG_NONE = 0
FLAG_OR = 1
FLAG_AND = 2


@inline_kernel
def _sigma2(vdata, vtype, vscale, j, i):
    """Variance of input pixel ``(j, i)`` from the variance source."""
    a = vdata[j, i]
    if vtype == 1:
        if a > 0.0:
            return vscale / a
        return math.inf
    return a * vscale


@kernel
def _taps(order, x, n, idx, cf, z0, zc):
    """1-D resampling coefficients of interpolation ``order`` at ``x`` on an
    axis of ``n`` pixels: writes ``idx[:m]``, ``cf[:m]`` (distinct pixels,
    coefficients of repeated pixels added) and returns ``m``.
    ``(z0, zc)`` are the spline pole and cardinal gain for orders 2-3."""
    if x < -0.5 or x > n - 0.5:
        return 0
    x = _clamp_domain(x, n)
    m = 0
    if order == 0:
        idx[0] = int(math.floor(x + 0.5))
        cf[0] = 1.0
        return 1
    if order == 1:
        ix = int(math.floor(x))
        fx = x - ix
        if ix >= n - 1:
            ix = n - 1
            fx = 0.0
        idx[0] = ix
        cf[0] = 1.0 - fx
        m = 1
        if fx != 0.0:
            idx[1] = ix + 1
            cf[1] = fx
            m = 2
        return m
    if order == 4:
        ix = int(math.floor(x))
        wsum = 0.0
        for a in range(-2, 4):
            w = _lanczos3(x - (ix + a))
            if w == 0.0:
                continue
            wsum += w
            m = _add_tap(idx, cf, m, _clampi(ix + a, n), w)
        for k in range(m):
            cf[k] /= wsum
        return m
    # orders 2, 3: B-spline weights on the coefficients, times the cardinal filter
    if order == 3:
        sx = int(math.floor(x)) - 1
        t = x - (sx + 1)
        w0 = (1.0 - t) ** 3 / 6.0
        w1 = (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0
        w2 = (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0
        w3 = t * t * t / 6.0
        ns = 4
    else:
        sx = int(math.floor(x + 0.5)) - 1
        d = x - (sx + 1)
        w0 = 0.5 * (0.5 - d) ** 2
        w1 = 0.75 - d * d
        w2 = 0.5 * (0.5 + d) ** 2
        w3 = 0.0
        ns = 3
    for k in range(sx - SPLINE_TAIL, sx + ns + SPLINE_TAIL):
        c = 0.0
        for b in range(ns):
            wb = w0 if b == 0 else (w1 if b == 1 else (w2 if b == 2 else w3))
            c += wb * zc * z0 ** abs(sx + b - k)
        m = _add_tap(idx, cf, m, _mirror(k, n), c)
    return m


@inline_kernel
def _add_tap(idx, cf, m, k, c):
    for q in range(m):
        if idx[q] == k:
            cf[q] += c
            return m
    idx[m] = k
    cf[m] = c
    return m + 1


@inline_kernel
def _var_linear(order, vdata, vtype, vscale, x, y, ny, nx):
    """``sum c_k^2 sigma_k^2`` for nearest (0) and bilinear (1) interpolation: the taps of
    :func:`_taps` written out.  Called only where the value is finite, so every input pixel
    with a nonzero coefficient holds data (a NaN in the stencil blanks the value)."""
    if x < -0.5 or x > nx - 0.5 or y < -0.5 or y > ny - 0.5:
        return 0.0
    x = _clamp_domain(x, nx)
    y = _clamp_domain(y, ny)
    if order == 0:
        return _sigma2(vdata, vtype, vscale, int(math.floor(y + 0.5)), int(math.floor(x + 0.5)))
    ix = int(math.floor(x))
    fx = x - ix
    if ix >= nx - 1:
        ix = nx - 1
        fx = 0.0
    iy = int(math.floor(y))
    fy = y - iy
    if iy >= ny - 1:
        iy = ny - 1
        fy = 0.0
    ax = (1.0 - fx) * (1.0 - fx)
    bx = fx * fx
    s = (1.0 - fy) * (1.0 - fy) * (ax * _sigma2(vdata, vtype, vscale, iy, ix)
                                   + (bx * _sigma2(vdata, vtype, vscale, iy, ix + 1) if fx != 0.0 else 0.0))
    if fy != 0.0:
        s += fy * fy * (ax * _sigma2(vdata, vtype, vscale, iy + 1, ix)
                        + (bx * _sigma2(vdata, vtype, vscale, iy + 1, ix + 1) if fx != 0.0 else 0.0))
    return s


@inline_kernel
def _ivar_sigma2(w, vscale):
    """:func:`_sigma2` of an inverse-variance value ``w`` already read."""
    if w > 0.0:
        return vscale / w
    return math.inf


@inline_kernel
def _weight_var_linear(order, wdata, vscale, x, y, ny, nx):
    """``(weight, variance)`` at ``(x, y)`` when the weight map is the inverse-variance
    source: the bits of ``_interp._bilinear(wdata, x, y)`` (``_nearest`` for order 0) and
    of :func:`_var_linear` (``vtype`` 1), with the four taps of the interior read once
    and their coefficients computed once (the common case); elsewhere the two functions."""
    if order == 1 and x >= 0.0 and y >= 0.0 and x < nx - 1 and y < ny - 1:
        # _bilinear's interior fast path; in the interior _var_linear's clamps do nothing,
        # floor(x) == int(x) and ix < nx - 1, so its taps are these four
        ix = int(x)
        iy = int(y)
        fx = x - ix
        fy = y - iy
        w00 = load(wdata, iy, ix)
        w01 = load(wdata, iy, ix + 1)
        w10 = load(wdata, iy + 1, ix)
        w11 = load(wdata, iy + 1, ix + 1)
        f = (1.0 - fx) * (1.0 - fy) * w00 + fx * (1.0 - fy) * w01 + (1.0 - fx) * fy * w10 + fx * fy * w11
        if f == f:
            ax = (1.0 - fx) * (1.0 - fx)
            bx = fx * fx
            s = (1.0 - fy) * (1.0 - fy) * (ax * _ivar_sigma2(w00, vscale)
                                           + (bx * _ivar_sigma2(w01, vscale) if fx != 0.0 else 0.0))
            if fy != 0.0:
                s += fy * fy * (ax * _ivar_sigma2(w10, vscale) + (bx * _ivar_sigma2(w11, vscale) if fx != 0.0 else 0.0))
            return f, s
    f = _nearest(wdata, x, y) if order == 0 else _bilinear(wdata, x, y)
    return f, _var_linear(order, wdata, 1, vscale, x, y, ny, nx)


@kernel
def _var_interp(order, data, vdata, vtype, vscale, x, y, ix, cx, iy, cy, z0, zc):
    """``sum c_k^2 sigma_k^2`` of an interpolated value at input position ``(x, y)``."""
    ny, nx = data.shape
    if order <= 1:
        return _var_linear(order, vdata, vtype, vscale, x, y, ny, nx)
    mx = _taps(order, x, nx, ix, cx, z0, zc)
    my = _taps(order, y, ny, iy, cy, z0, zc)
    s = 0.0
    for a in range(my):
        wy = cy[a] * cy[a]
        if wy == 0.0:
            continue
        jj = iy[a]
        row = 0.0
        for b in range(mx):
            wx = cx[b] * cx[b]
            if wx == 0.0:
                continue
            ii = ix[b]
            if not math.isfinite(load(data, jj, ii)):
                continue  # blank input pixels carry no noise into the value
            row += wx * _sigma2(vdata, vtype, vscale, jj, ii)
        s += wy * row
    return s


@inline_kernel
def _count_sample(var, cnt, expo, ctx, j, i, f, s, t, vv, plane, bit):
    """Add one sample of positive weight ``f`` (flux scale ``s``, exposure
    ``t``, input variance ``vv``, membership ``bit`` of ``ctx[plane]``) to the
    requested counters at tile pixel ``(j, i)``; an array of shape ``(0, ...)``
    is a product not requested."""
    if cnt.shape[0] > 0:
        cnt[j, i] += 1
    if expo.shape[0] > 0:
        expo[j, i] += t
    if ctx.shape[0] > 0:
        ctx[plane, j, i] |= bit
    if var.shape[0] > 0:
        var[j, i] += (f * f) * (s * s) * vv


@kernel
def _accumulate(sink, val, wt, var, cnt, expo, ctx, flg, mdata, j, i0, xs, ys, vs, fs, vvs, n, fpar, ip):
    """Mask, scale and deposit ``n`` samples at tile pixels ``(j, i0 + k)``,
    updating the requested products (arrays of shape ``(0, 0)`` are not)."""
    s = fpar[F_SCALE]
    t = fpar[F_EXPTIME]
    badbits = ip[I_BADBITS]
    member = ip[I_MEMBER]
    flagmode = ip[I_FLAGMODE]
    has_mask = mdata.shape[0] > 0
    counted = var.shape[0] > 0 or cnt.shape[0] > 0 or expo.shape[0] > 0 or ctx.shape[0] > 0
    plane = member // 32
    bit = np.uint32(1) << np.uint32(member % 32)
    mny, mnx = mdata.shape
    if not has_mask:  # the common case: the plain row deposit (same arithmetic), then the products
        if s != 1.0:
            for k in range(n):
                vs[k] = vs[k] * s
        if sink == SINK_SUM:
            # mean and sum: deposit_row's SUM loop and the products in one pass (same arithmetic)
            for k in range(n):
                v = vs[k]
                f = fs[k]
                if math.isfinite(v) and f == f:
                    i = i0 + k
                    val[j, i] += v * f
                    wt[j, i] += f
                    if f > 0.0:
                        _count_sample(var, cnt, expo, ctx, j, i, f, s, t, vvs[k], plane, bit)
            return
        deposit_row(sink, val, wt, j, i0, vs, fs, n)
        if counted:
            for k in range(n):
                v = vs[k]
                f = fs[k]
                if math.isfinite(v) and f > 0.0:
                    _count_sample(var, cnt, expo, ctx, j, i0 + k, f, s, t, vvs[k], plane, bit)
        return
    for k in range(n):
        i = i0 + k
        if has_mask:
            x = xs[k]
            y = ys[k]
            m = np.int64(0)
            if _inside(x, y, mnx, mny):
                jj = int(math.floor(_clamp_domain(y, mny) + 0.5))
                ii = int(math.floor(_clamp_domain(x, mnx) + 0.5))
                m = np.int64(mdata[jj, ii])
                if flagmode == FLAG_OR:
                    flg[j, i] |= m | SEEN
                elif flagmode == FLAG_AND:
                    g = flg[j, i]
                    flg[j, i] = (m | SEEN) if g == 0 else (g & (m | SEEN))
            if (m & badbits) != 0:
                continue
        v = vs[k]
        f = fs[k]
        if not (math.isfinite(v) and f == f):
            continue
        if s != 1.0:
            v = v * s
        deposit(sink, val, wt, j, i, v, f)
        if f > 0.0:
            _count_sample(var, cnt, expo, ctx, j, i, f, s, t, vvs[k], plane, bit)


@entry(writes=("val", "wt", "var", "cnt", "expo", "ctx", "flg"), literal=("order",))
@kernel
def products_interp_tile(data, coef, wdata, mdata, vdata, tr, grid, order, y0, y1, x0, x1,
                         val, wt, var, cnt, expo, ctx, flg, oy, ox, sink, bg, fpar, ip):
    """Fused interpolation with products over the output box ``[y0, y1) x [x0, x1)``.

    Values and weights come from the plain kernel's row function
    (``kernels._interp._interp_chunk``), so the mosaic is bitwise the plain
    one.  ``mdata`` (``uint32`` mask, or shape ``(0, 0)``) and ``vdata``
    (variance source, or ``(0, 0)``) are on the input grid; accumulators are
    indexed relative to ``(oy, ox)``.
    """
    xs, ys, vs, fs, vvs = np.empty(CHUNK), np.empty(CHUNK), np.empty(CHUNK), np.empty(CHUNK), np.empty(CHUNK)
    ix = np.empty(MAXTAPS, dtype=np.int64)
    iy = np.empty(MAXTAPS, dtype=np.int64)
    cx = np.empty(MAXTAPS)
    cy = np.empty(MAXTAPS)
    want_var = var.shape[0] > 0 and vdata.shape[0] > 0
    vtype = ip[I_VTYPE]
    vscale = fpar[F_VSCALE]
    z0 = math.sqrt(3.0) - 2.0 if order == 3 else math.sqrt(8.0) - 3.0
    zc = math.sqrt(3.0) if order == 3 else math.sqrt(2.0)
    bdata = borrowed(data)
    bvdata = borrowed(vdata)
    bwdata = borrowed(wdata)
    dny, dnx = data.shape
    # inverse-variance weights (ip[I_VISW]): weight and variance in one pass over the taps
    fused = want_var and order <= 1 and vtype == 1 and ip[I_VISW] == 1 and wdata.shape[0] > 0
    wny, wnx = wdata.shape
    for y in range(y0, y1):
        for c0 in range(x0, x1, CHUNK):
            c1 = min(x1, c0 + CHUNK)
            n = c1 - c0
            if fused:
                # _interp_chunk with weight_row replaced by _weight_var_linear (same values, same order)
                out_to_in_row(borrowed(tr), borrowed(grid), y, c0, c1, borrowed(xs), borrowed(ys))
                sample_row(order, bdata, borrowed(coef), borrowed(xs), borrowed(ys), borrowed(vs), n)
                for k in range(n):
                    if vs[k] != vs[k]:
                        fs[k] = 1.0
                    else:
                        fs[k], vvs[k] = _weight_var_linear(order, bwdata, vscale, xs[k], ys[k], wny, wnx)
                b0 = bg[0] + bg[2] * y
                b1 = bg[1]
                if b0 != 0.0 or b1 != 0.0:
                    for k in range(n):
                        vs[k] -= b0 + b1 * (c0 + k)
            else:
                # hom 0: the general transform (the homography variant gives the same bytes, see
                # tests/test_homography_variant.py; products compile one variant)
                _interp_chunk(bdata, borrowed(coef), borrowed(wdata), borrowed(tr), borrowed(grid), order, 0, y, c0, c1,
                              borrowed(bg), borrowed(xs), borrowed(ys), borrowed(vs), borrowed(fs))
            if fused:
                pass  # the variance came with the weights
            elif want_var and order <= 1:
                for k in range(n):
                    if vs[k] == vs[k]:
                        vvs[k] = _var_linear(order, bvdata, vtype, vscale, xs[k], ys[k], dny, dnx)
            elif want_var:
                for k in range(n):
                    if vs[k] == vs[k]:
                        vvs[k] = _var_interp(order, bdata, bvdata, vtype, vscale, xs[k], ys[k],
                                             borrowed(ix), borrowed(cx), borrowed(iy), borrowed(cy), z0, zc)
            _accumulate(sink, borrowed(val), borrowed(wt), borrowed(var), borrowed(cnt), borrowed(expo), borrowed(ctx),
                        borrowed(flg), borrowed(mdata), y - oy, c0 - ox, borrowed(xs), borrowed(ys), borrowed(vs),
                        borrowed(fs), borrowed(vvs), n, borrowed(fpar), borrowed(ip))
    keep_alive((xs, ys, vs, fs, vvs, ix, iy, cx, cy))


@intrinsic
def popcount32(typingctx, x):
    """Number of set bits of a ``uint32`` (LLVM's ``ctpop``: one instruction, vectorised in loops)."""
    if x != types.uint32:
        return None
    sig = types.int64(types.uint32)

    def codegen(context, builder, signature, args):
        return builder.zext(builder.ctpop(args[0]), ir.IntType(64))

    return sig, codegen


@kernel
def _variance_row(var, wt, n, mean, out):
    """One row of :func:`finalize_products`' variance (1-D views: a loop LLVM vectorises)."""
    for i in range(n):
        w = wt[i]
        v = var[i] / (w * w) if mean else var[i]
        out[i] = v if w != 0.0 else NAN


@kernel
def _count_row(bits, n, first, out):
    """One plane's contribution to a row of :func:`finalize_products`' count."""
    for i in range(n):
        c = popcount32(bits[i])
        out[i] = c if first else out[i] + c


@entry(writes=("vout", "cout"))
@kernel
def finalize_products(mean, var, wt, ctx, vout, cout):
    """Variance and count of a finished tile, written straight in the outputs' dtypes.

    ``vout`` (shape ``(0, 0)`` when not wanted): ``var / wt^2`` (``mean``) or
    ``var`` (sum) where ``wt != 0``, NaN elsewhere, computed in float64 and
    rounded once to ``vout``'s dtype: the bits of NumPy's
    ``np.where(wt != 0, var / (wt * wt), nan).astype(vout.dtype)`` (IEEE
    division and round-to-nearest conversion both ways), without its four
    full-tile temporaries.  ``cout`` (or ``(0, 0)``): the number of set bits
    over the pixel's context planes ``ctx``: every contributing member sets
    its own bit once, so this is the count, and the tile loop need not keep
    a separate counter when the context is computed.
    """
    want_v = vout.shape[0] > 0
    want_c = cout.shape[0] > 0
    npl = ctx.shape[0]
    ny, nx = wt.shape
    for j in range(ny):
        if want_v:
            _variance_row(var[j], wt[j], nx, mean, vout[j])
        if want_c:
            for p in range(npl):
                _count_row(ctx[p, j], nx, p == 0, cout[j])


@kernel
def _clip(px, py, n, qx, qy, axis, c, keep_above):
    """Sutherland-Hodgman: clip polygon ``(px, py)[:n]`` by ``coord >= c``
    (``keep_above``) or ``coord <= c`` into ``(qx, qy)``; returns its size."""
    m = 0
    if n == 0:
        return 0
    ax = px[n - 1]
    ay = py[n - 1]
    for k in range(n):
        bx = px[k]
        by = py[k]
        ua = (ax if axis == 0 else ay) - c
        ub = (bx if axis == 0 else by) - c
        if not keep_above:
            ua = -ua
            ub = -ub
        if ub >= 0.0:
            if ua < 0.0:
                r = ua / (ua - ub)
                qx[m] = ax + r * (bx - ax)
                qy[m] = ay + r * (by - ay)
                m += 1
            qx[m] = bx
            qy[m] = by
            m += 1
        elif ua >= 0.0:
            r = ua / (ua - ub)
            qx[m] = ax + r * (bx - ax)
            qy[m] = ay + r * (by - ay)
            m += 1
        ax = bx
        ay = by
    return m


@kernel
def _quad_pixel_area(X, Y, x0, y0, ax, ay, bx, by):
    """Area of the quadrilateral ``(X, Y)[:4]`` inside the box ``[x0, x0 + 1] x [y0, y0 + 1]``."""
    for k in range(4):
        ax[k] = X[k]
        ay[k] = Y[k]
    n = _clip(ax, ay, 4, bx, by, 0, x0, True)
    n = _clip(bx, by, n, ax, ay, 0, x0 + 1.0, False)
    n = _clip(ax, ay, n, bx, by, 1, y0, True)
    n = _clip(bx, by, n, ax, ay, 1, y0 + 1.0, False)
    a = 0.0
    for k in range(n):
        q = (k + 1) % n
        a += ax[k] * ay[q] - ax[q] * ay[k]
    return abs(0.5 * a)


@kernel
def _var_exact(data, wdata, vdata, vtype, vscale, flux, X, Y, ax, ay, bx, by):
    """``sum c_k^2 sigma_k^2`` of an exact (area-weighted) value over the quad ``(X, Y)``."""
    ny, nx = data.shape
    if not (X[0] == X[0] and X[1] == X[1] and X[2] == X[2] and X[3] == X[3]
            and Y[0] == Y[0] and Y[1] == Y[1] and Y[2] == Y[2] and Y[3] == Y[3]):
        return NAN
    has_w = wdata.shape[0] > 0
    jx0 = max(0, int(math.floor(min(min(Y[0], Y[1]), min(Y[2], Y[3])) + 0.5)))
    jx1 = min(ny - 1, int(math.floor(max(max(Y[0], Y[1]), max(Y[2], Y[3])) + 0.5)))
    ix0 = max(0, int(math.floor(min(min(X[0], X[1]), min(X[2], X[3])) + 0.5)))
    ix1 = min(nx - 1, int(math.floor(max(max(X[0], X[1]), max(X[2], X[3])) + 0.5)))
    asum = 0.0
    s = 0.0
    for jj in range(jx0, jx1 + 1):
        for ii in range(ix0, ix1 + 1):
            if not math.isfinite(load(data, jj, ii)):
                continue
            if has_w and load(wdata, jj, ii) != load(wdata, jj, ii):
                continue
            a = _quad_pixel_area(X, Y, ii - 0.5, jj - 0.5, ax, ay, bx, by)
            if a == 0.0:
                continue
            asum += a
            s += a * a * _sigma2(vdata, vtype, vscale, jj, ii)
    if flux:
        return s
    if asum == 0.0:
        return NAN
    return s / (asum * asum)


@kernel
def _var_adaptive(data, vdata, vtype, vscale, prm, xc, yc, a, b, c, d):
    """``sum c_k^2 sigma_k^2`` of an adaptive (DeForest) value at ``(xc, yc)`` with Jacobian ``(a, b, c, d)``."""
    nyi, nxi = data.shape
    gauss = int(prm[P_KERNEL]) != KERNEL_HANN
    boundary = int(prm[P_BOUNDARY])
    bad = int(prm[P_BAD])
    xcyc = prm[P_XCYC] != 0.0
    ycyc = prm[P_YCYC] != 0.0
    k = 2.0 / (prm[P_WIDTH] * prm[P_WIDTH])
    srw = prm[P_SRW]
    status, ja, jb, jc, jd, left, right, bottom, top = _sampling_box(
        gauss, boundary, xcyc, ycyc, srw, srw / 2.0, nyi, nxi, xc, yc, a, b, c, d
    )
    if status != BOX_SAMPLE:
        return 0.0 if status == BOX_FILL else NAN
    sw = 0.0
    s = 0.0
    for y in range(bottom, top + 1):
        dy = y - yc
        yy, yin = _wrap(y, nyi, ycyc, boundary)
        for x in range(left, right + 1):
            dx = x - xc
            tx = ja * dx + jb * dy
            ty = jc * dx + jd * dy
            if gauss:
                w = math.exp(-(tx * tx + ty * ty) * k)
            else:
                tx = abs(tx)
                ty = abs(ty)
                if tx >= 1.0 or ty >= 1.0:
                    continue
                w = (math.cos(tx * math.pi) + 1.0) * (math.cos(ty * math.pi) + 1.0)
            if w == 0.0:
                continue
            xx, inside = _wrap(x, nxi, xcyc, boundary)
            if not (inside and yin):
                if boundary == BOUNDARY_CONSTANT or boundary == BOUNDARY_GRID_CONSTANT:
                    sw += w  # the fill value: weight, no noise
                continue
            if not math.isfinite(load(data, yy, xx)):
                if bad == BAD_STRICT:
                    return NAN
                if bad == BAD_CONSTANT:
                    sw += w
                continue
            sw += w
            s += w * w * _sigma2(vdata, vtype, vscale, yy, xx)
    if sw == 0.0:
        return NAN
    r = s / (sw * sw)
    if prm[P_FLUX] != 0.0:
        det = a * d - b * c
        r *= det * det
    return r


@kernel
def _jacobian(tr, grid, center, x, y):
    """Jacobian of the output -> input map at output pixel ``(x, y)``, by the
    adaptive kernel's finite differences (half-pixel or centred one-pixel)."""
    h = 0.5 if center else 1.0
    ax, ay = out_to_in(tr, grid, x - h, y)
    bx, by = out_to_in(tr, grid, x + h, y)
    cx, cy = out_to_in(tr, grid, x, y - h)
    dx, dy = out_to_in(tr, grid, x, y + h)
    f = 1.0 if center else 0.5
    return f * (bx - ax), f * (dx - cx), f * (by - ay), f * (dy - cy)


@entry(writes=("val", "wt", "var", "cnt", "expo", "ctx", "flg"))
@kernel
def products_box(sval, swt, data, wdata, mdata, vdata, tr, grid, method, prm, y0, y1, x0, x1,
                 val, wt, var, cnt, expo, ctx, flg, oy, ox, sink, fpar, ip):
    """Products of a box already resampled (exact, adaptive) into ``sval``/``swt``.

    ``sval``/``swt`` hold the method's value and weight per output pixel
    (the WRITE sink's output, indexed like the accumulators).  Input
    positions are computed only when a mask or the variance needs them.
    ``method``: 1 exact (variance from pixel-overlap areas), 2 adaptive
    (``prm`` its settings vector).
    """
    n = x1 - x0
    xs, ys, vs, fs, vvs = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    # corner rows: top (y - 0.5) and bottom (y + 0.5), at x - 0.5 for x0 .. x1
    TX, TY, BX, BY = np.empty(n + 1), np.empty(n + 1), np.empty(n + 1), np.empty(n + 1)
    X, Y = np.empty(4), np.empty(4)
    ax, ay, bx, by = np.empty(16), np.empty(16), np.empty(16), np.empty(16)
    want_var = var.shape[0] > 0 and vdata.shape[0] > 0
    need_pos = mdata.shape[0] > 0 or (want_var and method == 2)
    vtype = ip[I_VTYPE]
    vscale = fpar[F_VSCALE]
    flux = ip[I_FLUX] != 0
    exact_var = want_var and method == 1
    if exact_var:
        for k in range(n + 1):
            px, py = out_to_in(tr, grid, (x0 + k) - 0.5, y0 - 0.5)
            TX[k] = px
            TY[k] = py
    for y in range(y0, y1):
        for k in range(n):
            vs[k] = sval[y - oy, x0 - ox + k]
            fs[k] = swt[y - oy, x0 - ox + k]
        if need_pos:
            out_to_in_row(tr, grid, y, x0, x1, xs, ys)
        if want_var and method == 2:
            center = prm[P_CENTER] != 0.0
            for k in range(n):
                if vs[k] == vs[k]:
                    a, b, c, d = _jacobian(tr, grid, center, float(x0 + k), float(y))
                    vvs[k] = _var_adaptive(data, vdata, vtype, vscale, prm, xs[k], ys[k], a, b, c, d)
        if exact_var:
            for k in range(n + 1):
                px, py = out_to_in(tr, grid, (x0 + k) - 0.5, y + 0.5)
                BX[k] = px
                BY[k] = py
            for k in range(n):
                if vs[k] == vs[k]:
                    X[0] = TX[k]
                    X[1] = TX[k + 1]
                    X[2] = BX[k + 1]
                    X[3] = BX[k]
                    Y[0] = TY[k]
                    Y[1] = TY[k + 1]
                    Y[2] = BY[k + 1]
                    Y[3] = BY[k]
                    vvs[k] = _var_exact(data, wdata, vdata, vtype, vscale, flux, X, Y, ax, ay, bx, by)
            for k in range(n + 1):
                TX[k] = BX[k]
                TY[k] = BY[k]
        _accumulate(sink, val, wt, var, cnt, expo, ctx, flg, mdata, y - oy, x0 - ox, xs, ys, vs, fs, vvs, n, fpar, ip)

