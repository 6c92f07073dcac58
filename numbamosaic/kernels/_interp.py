"""Fused interpolation kernels: output pixel -> WCS transform -> sample -> deposit.

One row function does all per-pixel work, called by the serial
:func:`interp_tile`; the executors (``numbamosaic._exec``) run it on disjoint
output boxes (mosaic tiles, strips of a single image) from a thread pool or
dask workers, so every path runs the same arithmetic and results are bitwise
identical whatever the thread count.

Pixel conventions follow reproject/scipy: pixel centres at integer
coordinates, the valid domain is ``[-0.5, n - 0.5]`` with coordinates in the
outer half pixel clamped to the border pixel centre, NaN outside.

Orders: 0 nearest, 1 bilinear, 2 biquadratic and 3 bicubic (B-splines on
prefiltered coefficients, as ``scipy.ndimage.map_coordinates``; mirror
extension), 4 Lanczos-3 (normalised windowed sinc, edge-clamped).  A NaN
input pixel affects only outputs whose stencil gives it a non-zero weight;
an infinite one likewise (the sinks treat a non-finite value as blank).
"""

import math

import numpy as np
from numba import types
from numba.extending import overload

from ._entry import entry
from ._jit import OVERLOAD_OPTIONS, inline_kernel, kernel
from ..wcs._native import map_row
from ._borrow import borrowed, keep_alive
from ._load import load
from ._sinks import deposit_row

NAN = math.nan
ORDER_LANCZOS3 = 4


@inline_kernel
def _mirror(i, n):
    if n == 1:
        return 0
    period = 2 * (n - 1)
    i = abs(i) % period
    if i >= n:
        i = period - i
    return i


@inline_kernel
def _clampi(i, n):
    if i < 0:
        return 0
    if i >= n:
        return n - 1
    return i


@kernel
def _lanczos3(d):
    if d == 0.0:
        return 1.0
    if abs(d) >= 3.0:
        return 0.0
    a = math.pi * d
    return 3.0 * math.sin(a) * math.sin(a / 3.0) / (a * a)


@inline_kernel
def _clamp_domain(x, n):
    """Clamp a coordinate of the valid domain [-0.5, n - 0.5] to [0, n - 1]."""
    if x < 0.0:
        return 0.0
    if x > n - 1:
        return n - 1.0
    return x


@inline_kernel
def _inside(x, y, nx, ny):
    return x >= -0.5 and x <= nx - 0.5 and y >= -0.5 and y <= ny - 0.5


@inline_kernel
def _nearest(data, x, y):
    ny, nx = data.shape
    if not _inside(x, y, nx, ny):
        return NAN
    x = _clamp_domain(x, nx)
    y = _clamp_domain(y, ny)
    return load(data, int(math.floor(y + 0.5)), int(math.floor(x + 0.5)))


@inline_kernel
def _bilinear(data, x, y):
    ny, nx = data.shape
    if x >= 0.0 and y >= 0.0 and x < nx - 1 and y < ny - 1:
        # interior fast path: the four products in the same order as below, so a
        # finite result is bit-identical; a NaN result takes the careful path
        ix = int(x)
        iy = int(y)
        fx = x - ix
        fy = y - iy
        v = (
            (1.0 - fx) * (1.0 - fy) * load(data, iy, ix)
            + fx * (1.0 - fy) * load(data, iy, ix + 1)
            + (1.0 - fx) * fy * load(data, iy + 1, ix)
            + fx * fy * load(data, iy + 1, ix + 1)
        )
        if v == v:
            return v
    return _bilinear_careful(data, x, y)


@kernel
def _bilinear_careful(data, x, y):
    ny, nx = data.shape
    if not _inside(x, y, nx, ny):
        return NAN
    x = _clamp_domain(x, nx)
    y = _clamp_domain(y, ny)
    ix = int(math.floor(x))
    iy = int(math.floor(y))
    fx = x - ix
    fy = y - iy
    if ix >= nx - 1:
        ix = nx - 1
        fx = 0.0
    if iy >= ny - 1:
        iy = ny - 1
        fy = 0.0
    # zero-weight neighbours are skipped so that a NaN there cannot leak in
    v = 0.0
    w = (1.0 - fx) * (1.0 - fy)
    if w != 0.0:
        v += w * load(data, iy, ix)
    if fx != 0.0:
        w = fx * (1.0 - fy)
        if w != 0.0:
            v += w * load(data, iy, ix + 1)
    if fy != 0.0:
        w = (1.0 - fx) * fy
        if w != 0.0:
            v += w * load(data, iy + 1, ix)
        if fx != 0.0:
            v += fx * fy * load(data, iy + 1, ix + 1)
    return v


@kernel
def _spline(order, data, coef, x, y):
    ny, nx = data.shape
    if not _inside(x, y, nx, ny):
        return NAN
    x = _clamp_domain(x, nx)
    y = _clamp_domain(y, ny)
    wx0 = 0.0
    wx1 = 0.0
    wx2 = 0.0
    wx3 = 0.0
    wy0 = 0.0
    wy1 = 0.0
    wy2 = 0.0
    wy3 = 0.0
    if order == 3:
        sx = int(math.floor(x)) - 1
        sy = int(math.floor(y)) - 1
        t = x - (sx + 1)
        wx0 = (1.0 - t) ** 3 / 6.0
        wx1 = (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0
        wx2 = (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0
        wx3 = t * t * t / 6.0
        t = y - (sy + 1)
        wy0 = (1.0 - t) ** 3 / 6.0
        wy1 = (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0
        wy2 = (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0
        wy3 = t * t * t / 6.0
        n = 4
    else:
        sx = int(math.floor(x + 0.5)) - 1
        sy = int(math.floor(y + 0.5)) - 1
        d = x - (sx + 1)
        wx0 = 0.5 * (0.5 - d) ** 2
        wx1 = 0.75 - d * d
        wx2 = 0.5 * (0.5 + d) ** 2
        d = y - (sy + 1)
        wy0 = 0.5 * (0.5 - d) ** 2
        wy1 = 0.75 - d * d
        wy2 = 0.5 * (0.5 + d) ** 2
        n = 3
    v = 0.0
    for a in range(n):
        wy = wy0 if a == 0 else (wy1 if a == 1 else (wy2 if a == 2 else wy3))
        jj = _mirror(sy + a, ny)
        row = 0.0
        for b in range(n):
            wx = wx0 if b == 0 else (wx1 if b == 1 else (wx2 if b == 2 else wx3))
            ii = _mirror(sx + b, nx)
            d = load(data, jj, ii)
            if not math.isfinite(d):  # NaN or inf in the stencil blanks this output only
                return NAN
            row += wx * coef[jj, ii]
        v += wy * row
    return v


@kernel
def _lanczos(data, x, y):
    ny, nx = data.shape
    if not _inside(x, y, nx, ny):
        return NAN
    x = _clamp_domain(x, nx)
    y = _clamp_domain(y, ny)
    ix = int(math.floor(x))
    iy = int(math.floor(y))
    v = 0.0
    wsum = 0.0
    for a in range(-2, 4):
        wy = _lanczos3(y - (iy + a))
        if wy == 0.0:
            continue
        jj = _clampi(iy + a, ny)
        for b in range(-2, 4):
            wx = _lanczos3(x - (ix + b))
            if wx == 0.0:
                continue
            w = wx * wy
            v += w * load(data, jj, _clampi(ix + b, nx))
            wsum += w
    return v / wsum


@inline_kernel
def sample(order, data, coef, x, y):
    """Interpolate ``data`` at input pixel ``(x, y)`` (NaN outside the domain).

    Parameters
    ----------
    order : int
        0 nearest, 1 bilinear, 2 biquadratic, 3 bicubic, 4 Lanczos-3.
    data : 2-D array
        Input image (NaN = blank): float32/float64, or a uint32/uint64 view
        of big-endian floats (see ``_load``).
    coef : 2-D float array
        Spline coefficients for orders 2 and 3 (ignored otherwise).
    x, y : float
        Input pixel coordinates (column, row).
    """
    if order == 1:
        return _bilinear(data, x, y)
    if order == 0:
        return _nearest(data, x, y)
    if order <= 3:
        return _spline(order, data, coef, x, y)
    return _lanczos(data, x, y)


def sample_row(order, data, coef, xs, ys, vs, n):
    """``vs[k] = sample(order, data, coef, xs[k], ys[k])`` for ``k < n``, the interpolant chosen
    at compile time when ``order`` is a literal.

    The interpolation kernels type ``order`` as a Numba literal
    (``entry(literal=...)``): each order used compiles its own small variant of
    this loop, and the code of the other orders (B-splines, Lanczos) is never
    compiled.  With an ordinary integer the choice is made at run time.
    Pure-Python stub; see the overload.
    """
    raise NotImplementedError  # replaced by the Numba overload below


@overload(sample_row, jit_options=OVERLOAD_OPTIONS, prefer_literal=True)
def _sample_row_impl(order, data, coef, xs, ys, vs, n):
    o = order.literal_value if isinstance(order, types.IntegerLiteral) else None
    if o == 1:
        def impl(order, data, coef, xs, ys, vs, n):
            for k in range(n):
                vs[k] = _bilinear(data, xs[k], ys[k])
    elif o == 0:
        def impl(order, data, coef, xs, ys, vs, n):
            for k in range(n):
                vs[k] = _nearest(data, xs[k], ys[k])
    elif o is not None and o <= 3:
        def impl(order, data, coef, xs, ys, vs, n):
            for k in range(n):
                vs[k] = _spline(order, data, coef, xs[k], ys[k])
    elif o is not None:
        def impl(order, data, coef, xs, ys, vs, n):
            for k in range(n):
                vs[k] = _lanczos(data, xs[k], ys[k])
    else:
        def impl(order, data, coef, xs, ys, vs, n):
            for k in range(n):
                vs[k] = sample(order, data, coef, xs[k], ys[k])
    return impl


def weight_row(order, wdata, xs, ys, vs, fs, n):
    """Input weights ``fs[k]`` at ``(xs[k], ys[k])`` where ``vs[k]`` is not blank (1 where it is):
    nearest for order 0, bilinear otherwise (stub; see the overload)."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(weight_row, jit_options=OVERLOAD_OPTIONS, prefer_literal=True)
def _weight_row_impl(order, wdata, xs, ys, vs, fs, n):
    if isinstance(order, types.IntegerLiteral) and order.literal_value == 0:
        def impl(order, wdata, xs, ys, vs, fs, n):
            for k in range(n):
                fs[k] = 1.0 if vs[k] != vs[k] else _nearest(wdata, xs[k], ys[k])
    elif isinstance(order, types.IntegerLiteral):
        def impl(order, wdata, xs, ys, vs, fs, n):
            for k in range(n):
                fs[k] = 1.0 if vs[k] != vs[k] else _bilinear(wdata, xs[k], ys[k])
    else:
        def impl(order, wdata, xs, ys, vs, fs, n):
            for k in range(n):
                if vs[k] != vs[k]:
                    fs[k] = 1.0
                elif order == 0:
                    fs[k] = _nearest(wdata, xs[k], ys[k])
                else:
                    fs[k] = _bilinear(wdata, xs[k], ys[k])
    return impl


#: pixels per pass over the row scratch buffers (4 x 8 B x 256 = 8 KiB: stays in L1)
CHUNK = 256


@inline_kernel
def _interp_chunk(data, coef, wdata, tr, grid, order, hom, y, c0, c1, bg, xs, ys, vs, fs):
    """Resample output pixels ``[c0, c1)`` (at most :data:`CHUNK`) of row ``y``
    into the scratch buffers ``vs`` (values) and ``fs`` (weights).

    Three tight passes over small scratch buffers: input positions (``xs``,
    ``ys``), values, weights.  ``wdata`` is an input-weight image sampled at
    the same position as the data (shape ``(0, 0)`` when there are no
    weights).  ``bg`` holds the background model ``(c, cx, cy)`` subtracted
    as ``c + cx x + cy y``.  The heavy per-pixel code writes only float64
    scratch, so it is compiled once per input dtype whatever the output's.
    ``hom`` (a literal) selects the homography-only transform (see
    ``wcs._native.map_row``).
    """
    b0 = bg[0] + bg[2] * y
    b1 = bg[1]
    has_w = wdata.shape[0] > 0
    n = c1 - c0
    map_row(hom, tr, grid, y, c0, c1, xs, ys)
    # ``order`` is a literal (see sample_row): the interpolant of that order only
    sample_row(order, data, coef, xs, ys, vs, n)
    if has_w:
        # weights are sampled bilinearly (nearest for order 0), never with splines or Lanczos
        weight_row(order, wdata, xs, ys, vs, fs, n)
    else:
        for k in range(n):
            fs[k] = 1.0
    if b0 != 0.0 or b1 != 0.0:
        for k in range(n):
            vs[k] -= b0 + b1 * (c0 + k)


@entry(writes=("val", "wt"), literal=("order", "hom"), like=(("wdata", "data"),))
@kernel
def interp_tile(data, coef, wdata, tr, grid, order, y0, y1, x0, x1, val, wt, oy, ox, sink, bg, hom):
    """Serial kernel: resample the output box ``[y0, y1) x [x0, x1)``.

    Buffers ``val``/``wt`` are indexed relative to ``(oy, ox)``.  ``hom``:
    ``wcs._native.homography_flag(tr)`` (1: the transform is a homography,
    and the kernel is compiled without the projection chain; 0: any mode).
    """
    n = CHUNK
    xs, ys, vs, fs = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    _interp_rows(
        borrowed(data), borrowed(coef), borrowed(wdata), borrowed(tr), borrowed(grid), order, hom, y0, y1, x0, x1,
        borrowed(val), borrowed(wt), oy, ox, sink, borrowed(bg), borrowed(xs), borrowed(ys), borrowed(vs), borrowed(fs),
    )
    keep_alive((xs, ys, vs, fs))  # the views above must not outlive them


@inline_kernel
def _interp_rows(data, coef, wdata, tr, grid, order, hom, y0, y1, x0, x1, val, wt, oy, ox, sink, bg, xs, ys, vs, fs):
    """Rows ``[y0, y1)`` of :func:`interp_tile`, on borrowed views (no refcounting per row):
    each row in chunks of :data:`CHUNK` pixels, resampled then deposited."""
    for y in range(y0, y1):
        for c0 in range(x0, x1, CHUNK):
            c1 = min(x1, c0 + CHUNK)
            _interp_chunk(data, coef, wdata, tr, grid, order, hom, y, c0, c1, bg, xs, ys, vs, fs)
            deposit_row(sink, val, wt, y - oy, c0 - ox, vs, fs, c1 - c0)
