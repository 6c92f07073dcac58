"""Adaptive anti-aliased resampling (DeForest 2004, Solar Physics 219, 3).

Why this module is long: it is one algorithm, and most of its length is one
per-pixel loop (:func:`resample_row`) with the scalar helpers inlined into it
(filter padding, sampling box, boundary and bad-value rules), which share the
``P_*`` settings layout with the block driver below them (positions,
Jacobians, despiking).  The review of 2026-12 judged it cohesive; the one cut
that would make sense, sampler vs block driver, would leave two modules that
must always be read together.

For every output pixel the local linearisation of the output -> input
mapping, the Jacobian ``Ji`` (input pixels per output pixel), is estimated by
finite differences of the transform.  Its singular values are raised to at
least 1 (``Jp``), so that the filter never becomes narrower than one input
pixel when the image is magnified, and the output value is the normalised
sum of input pixel values weighted by a filter evaluated in *output* pixel
units, ``t = Jp^-1 (p_in - p_centre)``:

* Gaussian: ``exp(-2 |t|^2 / kernel_width^2)``, over the square of input
  pixels within ``sample_region_width / 2 * max(singular value)`` of the
  centre;
* Hann: ``(1 + cos(pi t_x)) (1 + cos(pi t_y))`` for ``|t_x|, |t_y| < 1``,
  over the bounding box of ``Jp`` applied to the square ``(+-1, +-1)``.

Samples are whole input pixels (no sub-pixel interpolation).  Boundary,
cyclic-axis and bad-value handling, ``conserve_flux`` (times ``|det Ji|``)
and Jacobian despiking follow reproject 0.21 (see ``numbamosaic.adaptive``).

Work is organised in blocks of output pixels: each block evaluates the
transform once on its own grid of positions, a row at a time (plus a
one-pixel ring for the finite differences, two more when despiking), derives
the Jacobians, and resamples its pixels a row at a time
(:func:`resample_row`, then one ``deposit_row``).  Every output value is a
pure function of the transform, the data and the settings, so results do not
depend on the block size or on the number of threads, and no full-size
coordinate or Jacobian array is ever built.

Performance notes.  The Gaussian weights of a pixel are ``exp`` of a
quadratic in the sample offsets, so along a row each weight is the previous
one times a ratio that itself changes by a constant factor (and likewise
from row to row): six ``exp`` per pixel instead of one per sample, with
exact anchors every ``RUN`` samples (results agree with one ``exp`` per
sample to ~1e-15 relative).  The per-pixel loop passes no arrays to inlined
helpers: each such call costs atomic reference-count updates, which used to
take about half of the time.

Deliberate differences from reproject: the smaller singular value keeps its
magnitude when the mapping is a reflection (reproject pads a negative
``Q - R`` to 1, which under-filters flipped, down-sampled images); the
despike replacement averages the *original* neighbouring Jacobians (reproject
updates in place, so its result depends on the scan order); sampling-box
edges within ``EDGE_TOL`` of an input pixel centre include it (reproject's
result there depends on rounding noise).
"""

import math

import numpy as np

from ._entry import entry
from ._jit import inline_kernel, kernel
from ._reduced import full_arg
from ..wcs._native import map_point, map_row
from ._load import load
from ._sinks import deposit_row

NAN = math.nan

# ---- layout of the float64 settings vector ``prm`` -------------------------
P_KERNEL = 0  # KERNEL_HANN or KERNEL_GAUSSIAN
P_WIDTH = 1  # Gaussian kernel_width (output pixels)
P_SRW = 2  # Gaussian sample_region_width (output pixels)
P_BOUNDARY = 3  # BOUNDARY_* code
P_FILL = 4  # boundary_fill_value
P_THRESH = 5  # boundary_ignore_threshold
P_XCYC = 6  # 1.0: input x axis is periodic
P_YCYC = 7  # 1.0: input y axis is periodic
P_BAD = 8  # BAD_* code
P_BADFILL = 9  # bad_fill_value
P_CENTER = 10  # 1.0: centred Jacobian (transform at +-0.5 px)
P_DESPIKE = 11  # 1.0: despike the Jacobian
P_FLUX = 12  # 1.0: conserve flux (multiply by |det Ji|)
P_NY = 13  # full output height, for the despike edge rules (<= 0: unbounded)
P_NX = 14  # full output width
P_BROWS = 15  # block height (output rows)
P_BCOLS = 16  # block width (output columns)
N_PARAMS = 17

KERNEL_HANN = 0
KERNEL_GAUSSIAN = 1

BOUNDARY_STRICT = 1
BOUNDARY_CONSTANT = 2
BOUNDARY_GRID_CONSTANT = 3
BOUNDARY_IGNORE = 4
BOUNDARY_IGNORE_THRESHOLD = 5
BOUNDARY_NEAREST = 6

BAD_STRICT = 1
BAD_CONSTANT = 2
BAD_IGNORE = 3

#: a sampling box wider than this (input pixels) marks a singular mapping
MAX_HALF_WIDTH = 1.0e7

DESPIKE_FACTOR = 10.0

#: sampling-box edges within this distance (input pixels) of a pixel centre
#: include it, so that aligned grids do not depend on rounding noise
EDGE_TOL = 1.0e-9

#: Gaussian weights along runs of samples come from product recurrences,
#: recomputed exactly every RUN samples in x and in y (bounds the rounding)
RUN = 8

#: ... only when every exponent over the sampling box is above -REC_MAX_ARG
#: (no weight underflows, no factor of the recurrences overflows)
REC_MAX_ARG = 300.0

# status of a pixel's sampling box (``_sampling_box``)
BOX_SAMPLE = 0
BOX_NAN = 1
BOX_FILL = 2


@kernel
def padded_filter(a, b, c, d):
    """Pad the singular values of ``Ji = [[a, b], [c, d]]`` to >= 1.

    ``Ji`` is split into a scaled rotation ``Q Rot`` and a scaled reflection
    ``R Ref`` (``E, H`` and ``F, G`` below).  Its singular values are
    ``Q + R`` and ``|Q - R|`` (the second one signed, negative for a
    reflection), and changing them only rescales the two parts, so the padded
    matrix ``Jp`` needs no trigonometry.

    Returns ``(Jp00, Jp01, Jp10, Jp11, p0)`` where ``p0 >= 1`` is the larger
    padded singular value.
    """
    E = 0.5 * (a + d)
    F = 0.5 * (a - d)
    G = 0.5 * (c + b)
    H = 0.5 * (c - b)
    Q = math.sqrt(E * E + H * H)
    R = math.sqrt(F * F + G * G)
    s0 = Q + R
    s1 = Q - R
    p0 = s0 if s0 > 1.0 else 1.0
    if s1 >= 0.0:
        p1 = s1 if s1 > 1.0 else 1.0
    else:
        p1 = s1 if s1 < -1.0 else -1.0
    if p0 == s0 and p1 == s1:
        return a, b, c, d, p0
    Qp = 0.5 * (p0 + p1)
    Rp = 0.5 * (p0 - p1)
    if Q > 0.0:
        rq = Qp / Q
        E *= rq
        H *= rq
    else:  # no rotation part: its angle is undefined, take 0
        E = Qp
        H = 0.0
    if R > 0.0:
        rr = Rp / R
        F *= rr
        G *= rr
    else:  # then Rp == 0 as well
        F = 0.0
        G = 0.0
    return E + F, G - H, G + H, E - F, p0


@inline_kernel
def _sampling_box(gauss, boundary, xcyc, ycyc, srw, half_srw, nyi, nxi, xc, yc, a, b, c, d):
    """Filter and box of input pixels sampled for one output pixel.

    ``xc, yc`` is the input position of the output pixel centre and
    ``a, b, c, d`` the Jacobian.  Returns ``(status, ja, jb, jc, jd, left,
    right, bottom, top)``: ``J = Jp^-1`` (input-pixel offsets to
    output-pixel offsets) and the inclusive box, when ``status`` is
    ``BOX_SAMPLE``; ``BOX_NAN`` (no valid result) or ``BOX_FILL`` (the
    grid-constant fill value) otherwise.

    Scalars only: it is inlined in the per-pixel loop, and array arguments
    there would cost atomic reference-count updates per pixel.
    """
    if not (a == a and b == b and c == c and d == d and xc == xc and yc == yc):
        return BOX_NAN, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0

    pa, pb, pc, pd, p0 = padded_filter(a, b, c, d)
    det = pa * pd - pb * pc
    ja = pd / det
    jb = -pb / det
    jc = -pc / det
    jd = pa / det

    if gauss:
        # srw / (2 (1 / p0)), exactly srw / 2 when nothing is magnified
        hx = half_srw if p0 == 1.0 else srw / (2.0 * (1.0 / p0))
        hy = hx
    else:
        hx = abs(pa) + abs(pb)
        hy = abs(pc) + abs(pd)
    if not (hx < MAX_HALF_WIDTH and hy < MAX_HALF_WIDTH):
        return BOX_NAN, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0
    # box edges that fall on an input pixel centre (to rounding) include it
    fl = np.ceil(xc - hx - EDGE_TOL)
    fr = np.floor(xc + hx + EDGE_TOL)
    fb = np.ceil(yc - hy - EDGE_TOL)
    ft = np.floor(yc + hy + EDGE_TOL)
    if not (abs(fl) < 9.0e15 and abs(fr) < 9.0e15 and abs(fb) < 9.0e15 and abs(ft) < 9.0e15):
        return BOX_NAN, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0
    left = np.int64(fl)
    right = np.int64(fr)
    bottom = np.int64(fb)
    top = np.int64(ft)

    # sampling box partly outside the input
    if not xcyc:
        if right > nxi - 1:
            if boundary == BOUNDARY_STRICT:
                return BOX_NAN, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0
            if boundary == BOUNDARY_IGNORE:
                right = nxi - 1
        if left < 0:
            if boundary == BOUNDARY_STRICT:
                return BOX_NAN, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0
            if boundary == BOUNDARY_IGNORE:
                left = 0
    if not ycyc:
        if top > nyi - 1:
            if boundary == BOUNDARY_STRICT:
                return BOX_NAN, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0
            if boundary == BOUNDARY_IGNORE:
                top = nyi - 1
        if bottom < 0:
            if boundary == BOUNDARY_STRICT:
                return BOX_NAN, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0
            if boundary == BOUNDARY_IGNORE:
                bottom = 0
    # entirely outside
    if (not xcyc and (right < 0 or left > nxi - 1)) or (not ycyc and (top < 0 or bottom > nyi - 1)):
        if boundary == BOUNDARY_GRID_CONSTANT:
            return BOX_FILL, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0
        if boundary != BOUNDARY_NEAREST:
            return BOX_NAN, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0
        if right < left:
            right = left
        if top < bottom:
            top = bottom
    return BOX_SAMPLE, ja, jb, jc, jd, left, right, bottom, top


@inline_kernel
def _wrap(i, n, cyclic, boundary):
    """Index ``i`` on an input axis of length ``n``: ``(index, inside)``."""
    if i < 0 or i > n - 1:
        if cyclic:
            return i % n, True
        if boundary == BOUNDARY_NEAREST:
            return (0 if i < 0 else n - 1), True
        return i, False
    return i, True


@inline_kernel
def _add(inside, v, wd, w, boundary, bad, fill, badfill, sv, sw, sww, ign):
    """Add a sample of value ``v`` (input weight ``wd``) and kernel weight ``w`` to the sums.

    Applies the boundary rules to samples outside the input (``inside``
    False: ``v``, ``wd`` unused) and the bad-value rules.  Returns the
    updated ``(sum w v, sum w, sum w wd, ignored weight)``.
    """
    if not inside:
        if boundary == BOUNDARY_CONSTANT or boundary == BOUNDARY_GRID_CONSTANT:
            v = fill
            wd = 0.0
        else:
            if boundary == BOUNDARY_IGNORE_THRESHOLD:
                ign += w
            return sv, sw, sww, ign
    if bad != BAD_STRICT and not math.isfinite(v):
        if bad == BAD_CONSTANT:
            v = badfill
        else:
            return sv, sw, sww, ign
    return sv + w * v, sw + w, sww + w * wd, ign


@kernel
def resample_row(data, wdata, prm, xs, ys, jac, n, vs, fs, full):
    """Adaptive resampling of ``n`` output pixels.

    Parameters
    ----------
    data, wdata : 2-D arrays
        Input image and optional weight image (shape ``(0, 0)`` if absent).
    prm : float64 array
        Settings (``P_*`` layout).
    xs, ys : float64 arrays
        Input pixel positions of the output pixel centres.
    jac : (n, 4) float64 array
        Jacobians ``(dxi/dx, dxi/dy, dyi/dx, dyi/dy)``.
    n : int
        Number of pixels.
    vs, fs : float64 arrays
        Receive the values (NaN when there is no valid result) and the
        weights (kernel-weighted mean of ``wdata``, 1 without weights).
    full : None or int
        ``None`` compiles the reduced variant (:func:`adaptive_tile`'s
        ``plain``: Gaussian filter, strict boundary and bad-value rules, no
        cyclic axis, no weights), without the Hann filter and the per-sample
        boundary and bad-value rules (:mod:`._reduced`); an integer, everything.

    The whole per-pixel computation lives in this one loop, with scalar-only
    helpers: array arguments to inlined helpers cost atomic reference-count
    updates per call, which used to take about half of the time.
    """
    has_w = wdata.shape[0] > 0
    nyi, nxi = data.shape
    gauss = int(prm[P_KERNEL]) != KERNEL_HANN
    boundary = int(prm[P_BOUNDARY])
    bad = int(prm[P_BAD])
    xcyc = prm[P_XCYC] != 0.0
    ycyc = prm[P_YCYC] != 0.0
    fill = prm[P_FILL]
    badfill = prm[P_BADFILL]
    thresh = prm[P_THRESH]
    flux = prm[P_FLUX] != 0.0
    k = 2.0 / (prm[P_WIDTH] * prm[P_WIDTH])
    srw = prm[P_SRW]
    half_srw = srw / 2.0
    for i in range(n):
        xc = xs[i]
        yc = ys[i]
        a = jac[i, 0]
        b = jac[i, 1]
        c = jac[i, 2]
        d = jac[i, 3]
        status, ja, jb, jc, jd, left, right, bottom, top = _sampling_box(
            gauss, boundary, xcyc, ycyc, srw, half_srw, nyi, nxi, xc, yc, a, b, c, d
        )
        if status != BOX_SAMPLE:
            if status == BOX_FILL:
                vs[i] = fill
                fs[i] = 0.0 if has_w else 1.0
            else:
                vs[i] = NAN
                fs[i] = 0.0
            continue
        sv = 0.0  # sum w v
        sw = 0.0  # sum w
        sww = 0.0  # sum w wd
        ign = 0.0  # ignored weight
        simple = (
            not has_w and bad == BAD_STRICT and left >= 0 and right <= nxi - 1 and bottom >= 0 and top <= nyi - 1
        )
        if full is None or gauss:
            # w = exp(-k q), q = |J (dx, dy)|^2 = A dx^2 + 2 B dx dy + C dy^2.
            # Along a row w(x + 1) = w(x) r(x) and r(x + 1) = r(x) cf; from
            # row to row the first weight, its ratio r and the ratio s of
            # first weights follow the same pattern (factors ff, ef): six
            # exp() per pixel instead of one per sample.  Exact anchors every
            # RUN samples in x and in y bound the rounding (a few ulp per
            # step).  Only when every exponent over the box, one sample
            # beyond it included (the recurrences run one step past the
            # end), is above -REC_MAX_ARG: no weight underflows and no factor
            # overflows.  Otherwise every weight is its own exp(), as before.
            A = ja * ja + jc * jc
            B = ja * jb + jc * jd
            C = jb * jb + jd * jd
            mx = max(abs(left - xc), abs(right + 1 - xc))
            my = max(abs(bottom - yc), abs(top + 1 - yc))
            kf = k * (A + C)  # q <= (A + C) (dx^2 + dy^2)
            rec = kf * (mx * mx + my * my) <= REC_MAX_ARG and 2.0 * kf <= REC_MAX_ARG
            run = RUN if rec else 1
            cf = 1.0
            ef = 1.0
            ff = 1.0
            if rec:
                cf = math.exp(-2.0 * A * k)
                ef = math.exp(-2.0 * C * k)
                ff = math.exp(-2.0 * B * k)
            short = simple and rec and right - left < RUN
            dx0 = left - xc
            wr = 0.0  # weight of the first sample of the row
            rr = 0.0  # its ratio along the row
            sr = 0.0  # ratio of the next row's first weight to this one's
            jrun = 0
            for y in range(bottom, top + 1):
                dy = y - yc
                if jrun == 0:
                    tx = ja * dx0 + jb * dy
                    ty = jc * dx0 + jd * dy
                    wr = math.exp(-(tx * tx + ty * ty) * k)
                    if rec:
                        rr = math.exp(-(2.0 * (tx * ja + ty * jc) + A) * k)
                        sr = math.exp(-(2.0 * (tx * jb + ty * jd) + C) * k)
                    jrun = run
                jrun -= 1
                w = wr
                r = rr
                if short:  # the common case: box inside the input, short rows
                    for x in range(left, right + 1):
                        sv += w * np.float64(load(data, y, x))
                        sw += w
                        w *= r
                        r *= cf
                else:
                    yy, yin = _wrap(y, nyi, ycyc, boundary)
                    irun = run
                    for x in range(left, right + 1):
                        if irun == 0:
                            dx = x - xc
                            tx = ja * dx + jb * dy
                            ty = jc * dx + jd * dy
                            w = math.exp(-(tx * tx + ty * ty) * k)
                            if rec:
                                r = math.exp(-(2.0 * (tx * ja + ty * jc) + A) * k)
                            irun = run
                        irun -= 1
                        if w != 0.0:  # zero weights never sample (a NaN there must not count)
                            if full is None or simple:  # (always simple in the reduced variant)
                                sv += w * np.float64(load(data, y, x))
                                sw += w
                            else:
                                xx, inside = _wrap(x, nxi, xcyc, boundary)
                                inside = inside and yin
                                v = 0.0
                                wd = 0.0
                                if inside:
                                    v = np.float64(load(data, yy, xx))
                                    if has_w:
                                        wd = np.float64(load(wdata, yy, xx))
                                sv, sw, sww, ign = _add(inside, v, wd, w, boundary, bad, fill, badfill, sv, sw, sww, ign)
                        w *= r
                        r *= cf
                wr *= sr
                sr *= ef
                rr *= ff
        else:
            for y in range(bottom, top + 1):
                dy = y - yc
                yy, yin = _wrap(y, nyi, ycyc, boundary)
                for x in range(left, right + 1):
                    dx = x - xc
                    tx = abs(ja * dx + jb * dy)
                    ty = abs(jc * dx + jd * dy)
                    if tx >= 1.0 or ty >= 1.0:
                        continue
                    w = (math.cos(tx * math.pi) + 1.0) * (math.cos(ty * math.pi) + 1.0)
                    if w != 0.0:
                        if simple:
                            sv += w * np.float64(load(data, y, x))
                            sw += w
                        else:
                            xx, inside = _wrap(x, nxi, xcyc, boundary)
                            inside = inside and yin
                            v = 0.0
                            wd = 0.0
                            if inside:
                                v = np.float64(load(data, yy, xx))
                                if has_w:
                                    wd = np.float64(load(wdata, yy, xx))
                            sv, sw, sww, ign = _add(inside, v, wd, w, boundary, bad, fill, badfill, sv, sw, sww, ign)
        if boundary == BOUNDARY_IGNORE_THRESHOLD and ign / (ign + sw) > thresh:
            vs[i] = NAN
            fs[i] = 0.0
            continue
        if sw == 0.0:
            vs[i] = NAN
            fs[i] = 0.0
            continue
        v = sv / sw
        if flux:
            v *= abs(a * d - b * c)
        vs[i] = v
        fs[i] = sww / sw if has_w else 1.0


@kernel
def resample_pixel(data, wdata, prm, xc, yc, a, b, c, d):
    """Adaptive resampling of one output pixel (see :func:`resample_row`).

    Returns ``(value, weight)``.  A convenience for tests and exploration:
    the kernels resample whole rows.
    """
    xs = np.array([xc])
    ys = np.array([yc])
    jac = np.array([[a, b, c, d]])
    vs = np.empty(1)
    fs = np.empty(1)
    resample_row(data, wdata, prm, xs, ys, jac, 1, vs, fs, 0)
    return vs[0], fs[0]


@inline_kernel
def _third_smallest(jm, r, c):
    """Third-lowest finite value of ``jm`` in the 3x3 box around ``(r, c)``."""
    k1 = math.inf
    k2 = math.inf
    k3 = math.inf
    for i in range(r - 1, r + 2):
        for j in range(c - 1, c + 2):
            v = jm[i, j]
            if not (v < k3):  # also skips NaN
                continue
            if v < k1:
                k3 = k2
                k2 = k1
                k1 = v
            elif v < k2:
                k3 = k2
                k2 = v
            else:
                k3 = v
    return k3


@inline_kernel
def _despiked(jac, jm, r, c, R, C, ny, nx):
    """Jacobian at local ``(r, c)`` (global ``(R, C)``) after despiking.

    A Jacobian whose magnitude ``sum J_ij^2`` exceeds ``DESPIKE_FACTOR``
    times the third-lowest magnitude of its 3x3 neighbourhood is replaced by
    the mean of the neighbours below that threshold.  On the edges of a
    bounded output (``ny, nx > 0``) the threshold of the adjacent interior
    pixel and the neighbours inside the output are used; corners are kept.
    """
    a = jac[r, c, 0]
    b = jac[r, c, 1]
    cc = jac[r, c, 2]
    d = jac[r, c, 3]
    r0 = r - 1
    r1 = r + 1
    c0 = c - 1
    c1 = c + 1
    tr = r
    tc = c
    if ny > 0:
        if ny < 3 or nx < 3 or R < 0 or R >= ny or C < 0 or C >= nx:
            return a, b, cc, d
        redge = R == 0 or R == ny - 1
        cedge = C == 0 or C == nx - 1
        if redge and cedge:
            return a, b, cc, d
        if R == 0:
            tr = r + 1
            r0 = r
        elif R == ny - 1:
            tr = r - 1
            r1 = r
        elif C == 0:
            tc = c + 1
            c0 = c
        elif C == nx - 1:
            tc = c - 1
            c1 = c
    thresh = DESPIKE_FACTOR * _third_smallest(jm, tr, tc)
    if not (jm[r, c] > thresh):
        return a, b, cc, d
    a = 0.0
    b = 0.0
    cc = 0.0
    d = 0.0
    n = 0
    for i in range(r0, r1 + 1):
        for j in range(c0, c1 + 1):
            if i == r and j == c:
                continue
            if jm[i, j] < thresh:
                n += 1
                a += jac[i, j, 0]
                b += jac[i, j, 1]
                cc += jac[i, j, 2]
                d += jac[i, j, 3]
    if n == 0:
        return NAN, NAN, NAN, NAN
    return a / n, b / n, cc / n, d / n


@inline_kernel
def _block_geometry(tr, grid, prm, by0, by1, bx0, bx1, hom, full):
    """Positions and Jacobians of the block ``[by0, by1) x [bx0, bx1)`` (plus the despiking halo).

    Returns ``(px, py, jac, jm, h)``: input positions ``(nr, nc)``, Jacobians
    ``(nr, nc, 4)`` and their magnitudes ``jm`` (``(0, 0)`` without
    despiking) on rows ``by0 - h ..`` and columns ``bx0 - h ..``, ``h`` the
    halo width.  Shared by :func:`_block` and the cube kernel
    (:mod:`numbamosaic.kernels._cube`), which resamples every plane with them.
    ``hom``: the homography literal (``wcs._native.map_row``); ``full``:
    ``None`` compiles neither the centred Jacobians nor the despiking
    (:func:`adaptive_tile`'s ``plain``).
    """
    center = prm[P_CENTER] != 0.0
    despike = prm[P_DESPIKE] != 0.0
    h = 2 if despike else 0
    ya = by0 - h  # Jacobians are needed on [ya, ya + nr) x [xa, xa + nc)
    xa = bx0 - h
    nr = by1 - by0 + 2 * h
    nc = bx1 - bx0 + 2 * h
    # Positions ``px, py`` and Jacobians ``jac`` of the block's pixels
    # (plus the despiking halo); the transform is evaluated a row at a time
    # (``out_to_in_row`` hoists the mode test out of the loop).
    px = np.empty((nr, nc))
    py = np.empty((nr, nc))
    jac = np.empty((nr, nc, 4))
    if full is not None and center:
        xhx = np.empty(nc + 1)  # row at (x - 0.5, y)
        xhy = np.empty(nc + 1)
        yhx = np.empty((2, nc))  # rows at (x, y - 0.5) and (x, y + 0.5)
        yhy = np.empty((2, nc))
        map_row(hom, tr, grid, float(ya) - 0.5, xa, xa + nc, yhx[0], yhy[0])
        for r in range(nr):
            y = float(ya + r)
            map_row(hom, tr, grid, y, xa, xa + nc, px[r], py[r])
            lo = r % 2
            hi = 1 - lo
            map_row(hom, tr, grid, y + 0.5, xa, xa + nc, yhx[hi], yhy[hi])
            for c in range(nc + 1):
                xhx[c], xhy[c] = map_point(hom, tr, grid, float(xa + c) - 0.5, y)
            for c in range(nc):
                jac[r, c, 0] = -xhx[c] + xhx[c + 1]
                jac[r, c, 1] = -yhx[lo, c] + yhx[hi, c]
                jac[r, c, 2] = -xhy[c] + xhy[c + 1]
                jac[r, c, 3] = -yhy[lo, c] + yhy[hi, c]
    else:
        # positions on a ring one pixel wider; qx[r + 1, c + 1] is pixel (r, c)
        qx = np.empty((nr + 2, nc + 2))
        qy = np.empty((nr + 2, nc + 2))
        for r in range(nr + 2):
            map_row(hom, tr, grid, ya - 1 + r, xa - 1, xa + nc + 1, qx[r], qy[r])
        for r in range(nr):
            for c in range(nc):
                # mean of the two half-pixel differences on each side
                p = qx[r + 1, c + 1]
                px[r, c] = p
                jac[r, c, 0] = ((-qx[r + 1, c] + p) + (-p + qx[r + 1, c + 2])) / 2
                jac[r, c, 1] = ((-qx[r, c + 1] + p) + (-p + qx[r + 2, c + 1])) / 2
                p = qy[r + 1, c + 1]
                py[r, c] = p
                jac[r, c, 2] = ((-qy[r + 1, c] + p) + (-p + qy[r + 1, c + 2])) / 2
                jac[r, c, 3] = ((-qy[r, c + 1] + p) + (-p + qy[r + 2, c + 1])) / 2
    if full is not None and despike:
        jm = np.empty((nr, nc))
        for r in range(nr):
            for c in range(nc):
                jm[r, c] = jac[r, c, 0] ** 2 + jac[r, c, 1] ** 2 + jac[r, c, 2] ** 2 + jac[r, c, 3] ** 2
    else:
        jm = np.empty((0, 0))
    return px, py, jac, jm, h


@kernel
def _block(data, wdata, tr, grid, prm, by0, by1, bx0, bx1, val, wt, oy, ox, sink, bg, hom, full):
    """Resample the output block ``[by0, by1) x [bx0, bx1)`` (``full``: see :func:`resample_row`)."""
    px, py, jac, jm, h = _block_geometry(tr, grid, prm, by0, by1, bx0, bx1, hom, full)
    despike = prm[P_DESPIKE] != 0.0
    ya = by0 - h
    nr = px.shape[0]
    n = bx1 - bx0
    vs = np.empty(n)
    fs = np.empty(n)
    if full is not None and despike:
        rj = np.empty((n, 4))
        ny = int(prm[P_NY])
        nx = int(prm[P_NX])
    for r in range(h, nr - h):
        y = ya + r
        if full is not None and despike:
            for i in range(n):
                rj[i, 0], rj[i, 1], rj[i, 2], rj[i, 3] = _despiked(jac, jm, r, h + i, y, bx0 + i, ny, nx)
            resample_row(data, wdata, prm, px[r, h:], py[r, h:], rj, n, vs, fs, full)
        else:
            resample_row(data, wdata, prm, px[r], py[r], jac[r], n, vs, fs, full)
        for i in range(n):
            v = vs[i]
            if v == v:
                vs[i] = v - (bg[0] + bg[1] * (bx0 + i) + bg[2] * y)
        deposit_row(sink, val, wt, y - oy, bx0 - ox, vs, fs, n)


@inline_kernel
def _block_bounds(k, y0, y1, x0, x1, brows, bcols):
    """Output box of block ``k`` of the box ``[y0, y1) x [x0, x1)`` (a scalar leaf, inlined:
    as its own compiled function it cost ~0.2 CPU s of every cold adaptive run)."""
    nbx = (x1 - x0 + bcols - 1) // bcols
    by = k // nbx
    bx = k - by * nbx
    by0 = y0 + by * brows
    bx0 = x0 + bx * bcols
    return by0, min(by0 + brows, y1), bx0, min(bx0 + bcols, x1)


@entry(writes=("val", "wt"), literal=("hom", "plain"))
@kernel
def adaptive_tile(data, wdata, tr, grid, prm, y0, y1, x0, x1, val, wt, oy, ox, sink, bg, hom, plain):
    """Serial kernel: resample the output box ``[y0, y1) x [x0, x1)``.

    Buffers ``val``/``wt`` are indexed relative to ``(oy, ox)``.  ``hom``:
    ``wcs._native.homography_flag(tr)`` (1: compiled without the projection
    chain, for homography transforms only; 0: any transform).  ``plain``
    (literal, :func:`plain_flag`): 1 for the default options (Gaussian
    filter, strict boundary and bad-value rules, no cyclic axis, no centred
    Jacobian, no despiking, no input weights), which compiles only their
    code (:mod:`._reduced`: ~40 % of a cold adaptive mosaic's compile time
    was the other options' code); 0 for any options.  Same arithmetic.
    """
    if y1 <= y0 or x1 <= x0:
        return
    brows = max(1, int(prm[P_BROWS]))
    bcols = max(1, int(prm[P_BCOLS]))
    nb = ((y1 - y0 + brows - 1) // brows) * ((x1 - x0 + bcols - 1) // bcols)
    full = full_arg(plain)
    for k in range(nb):
        by0, by1, bx0, bx1 = _block_bounds(k, y0, y1, x0, x1, brows, bcols)
        _block(data, wdata, tr, grid, prm, by0, by1, bx0, bx1, val, wt, oy, ox, sink, bg, hom, full)


def plain_flag(prm, wdata):
    """The ``plain`` literal of :func:`adaptive_tile` for settings ``prm`` and weights ``wdata``:
    1 when the call needs only the reduced variant's code, else 0."""
    return int(int(prm[P_KERNEL]) == KERNEL_GAUSSIAN and int(prm[P_BOUNDARY]) == BOUNDARY_STRICT
               and int(prm[P_BAD]) == BAD_STRICT and prm[P_XCYC] == 0.0 and prm[P_YCYC] == 0.0
               and prm[P_CENTER] == 0.0 and prm[P_DESPIKE] == 0.0 and wdata.shape[0] == 0)


@entry(writes=("pos", "jac"), literal=("hom",))
@kernel
def jacobian_points(tr, grid, center, x, y, pos, jac, hom):
    """Input positions and Jacobians at output points (for planning margins).

    ``pos`` is ``(n, 2)`` and ``jac`` ``(n, 4)`` (``dxi/dx, dxi/dy, dyi/dx,
    dyi/dy``), computed as the kernels do; ``hom`` as for :func:`adaptive_tile`.
    """
    for i in range(x.size):
        xc = x[i]
        yc = y[i]
        pos[i, 0], pos[i, 1] = map_point(hom, tr, grid, xc, yc)
        if center:
            ax, ay = map_point(hom, tr, grid, xc - 0.5, yc)
            bx_, by_ = map_point(hom, tr, grid, xc + 0.5, yc)
            cx, cy = map_point(hom, tr, grid, xc, yc - 0.5)
            dx, dy = map_point(hom, tr, grid, xc, yc + 0.5)
            jac[i, 0] = bx_ - ax
            jac[i, 1] = dx - cx
            jac[i, 2] = by_ - ay
            jac[i, 3] = dy - cy
        else:
            ax, ay = map_point(hom, tr, grid, xc - 1.0, yc)
            bx_, by_ = map_point(hom, tr, grid, xc + 1.0, yc)
            cx, cy = map_point(hom, tr, grid, xc, yc - 1.0)
            dx, dy = map_point(hom, tr, grid, xc, yc + 1.0)
            jac[i, 0] = 0.5 * (bx_ - ax)
            jac[i, 1] = 0.5 * (dx - cx)
            jac[i, 2] = 0.5 * (by_ - ay)
            jac[i, 3] = 0.5 * (dy - cy)
