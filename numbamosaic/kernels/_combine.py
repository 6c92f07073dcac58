"""Per-tile combine kernels of the mosaic engine.

* :func:`finalize_tile` turns accumulated tile buffers (see ``_sinks``) into
  output values and footprint, writing straight into the caller's output
  (possibly a memmap) and applying ``blank_pixel_value``.
* :func:`stack_median` / :func:`stack_clipped_mean` reduce a stack of
  per-input tile layers (value, weight) for combines that need every value.
* :func:`deposit_block` feeds precomputed per-input cutouts (the generic
  ``reproject_function`` path) through the same sinks.

Tile buffers are reset by the drivers with NumPy (``val.fill(init)``,
``wt.fill(0.0)``: the same bits, and one compiled function fewer to load from
the cache in a fresh process's first mosaic).

All are serial and GIL-free; the drivers run one tile per thread.
"""

import math

import numpy as np

from ._entry import entry
from ._jit import inline_kernel, kernel
from ._borrow import borrowed, keep_alive
from ._sinks import deposit

COMBINE_MEAN = 0
COMBINE_SUM = 1
COMBINE_FIRST = 2
COMBINE_LAST = 3
COMBINE_MIN = 4
COMBINE_MAX = 5
COMBINE_MEDIAN = 6
COMBINE_CLIPPED = 7


@entry(writes=("out", "fp"))
@kernel
def finalize_tile(combine, val, wt, out, fp, blank):
    """Write a finished tile: ``out``/``fp`` are views of the output arrays.

    ``mean`` divides the weighted sum by the summed weight; every combine
    writes ``blank`` where the footprint is exactly zero (reproject's rule).
    """
    finalize_rows(combine, val, wt, out, fp, blank)


@inline_kernel
def finalize_rows(combine, val, wt, out, fp, blank):
    """The body of :func:`finalize_tile` (also run per plane by the cube mosaic's kernel).

    Inlined (a loop level with one call site in each kernel, see ``kernels._jit``): a separate
    function was one more compilation in every cold run (~0.25 CPU s)."""
    ny, nx = val.shape
    for j in range(ny):
        for i in range(nx):
            w = wt[j, i]
            if w == 0.0:
                out[j, i] = blank
                fp[j, i] = 0.0
            else:
                if combine == COMBINE_MEAN:
                    out[j, i] = val[j, i] / w
                else:
                    out[j, i] = val[j, i]
                fp[j, i] = w


@kernel
def _median_inplace(buf, n):
    """Median of ``buf[:n]``, sorting it in place (mean of the two middle values).

    Insertion sort: stacks are a handful of values deep, and this allocates
    nothing (``np.sort`` would allocate a new array for every pixel).  Deep
    stacks (> 32) are first h-sorted with Knuth's gaps 3h + 1 (Shell sort,
    Knuth 1998, TAOCP vol. 3, 5.2.1), which the final insertion pass
    (gap 1) completes.  Not ``np.sort`` on the slice: compiling its
    quicksort and the slice assignment's shape check (with its error
    message) cost ~2 s of every cold median or clipped-mean run.  The sorted
    values, hence the median, are the same whatever the algorithm.
    """
    gap = 1
    if n > 32:
        while gap < n // 3:
            gap = 3 * gap + 1
    while gap >= 1:
        for a in range(gap, n):
            v = buf[a]
            b = a - gap
            while b >= 0 and buf[b] > v:
                buf[b + gap] = buf[b]
                b -= gap
            buf[b + gap] = v
        gap //= 3
    if n % 2 == 1:
        return buf[n // 2]
    return 0.5 * (buf[n // 2 - 1] + buf[n // 2])


@entry(writes=("out", "fp"))
@kernel
def stack_median(vals, wts, depth, out, fp, blank):
    """Median over the first ``depth`` layers of values with weight > 0.

    The footprint is the summed weight of the contributing layers.
    """
    ny, nx = out.shape
    owner = np.empty(max(depth, 1), dtype=np.float64)
    buf = borrowed(owner)  # no atomic reference counting in the per-pixel call
    for j in range(ny):
        for i in range(nx):
            n = 0
            wsum = 0.0
            for k in range(depth):
                w = wts[k, j, i]
                v = vals[k, j, i]
                if w > 0.0 and v == v:
                    buf[n] = v
                    n += 1
                    wsum += w
            if n == 0:
                out[j, i] = blank
                fp[j, i] = 0.0
            else:
                out[j, i] = buf[0] if n == 1 else _median_inplace(buf, n)
                fp[j, i] = wsum
    keep_alive((owner,))


@entry(writes=("out", "fp"))
@kernel
def stack_clipped_mean(vals, wts, depth, out, fp, blank, nsigma, maxiter):
    """Iterative sigma-clipped weighted mean over the stack.

    Each iteration computes the median of the surviving values and a robust
    scatter (1.4826 x median absolute deviation), rejects values further than
    ``nsigma`` scatters from the median, and stops when nothing changes or
    after ``maxiter`` rounds.  When the scatter is zero (most values
    identical) every value differing from the median is rejected, as
    astropy's ``sigma_clip`` does.  The result is the weighted mean of
    survivors; the footprint is their summed weight.  With fewer than three
    values nothing is rejected.
    """
    ny, nx = out.shape
    d = max(depth, 1)
    owners = (np.empty(d, dtype=np.float64), np.empty(d, dtype=np.float64))
    buf = borrowed(owners[0])  # no atomic reference counting in the per-pixel calls
    dev = borrowed(owners[1])
    keep = np.empty(d, dtype=np.bool_)
    for j in range(ny):
        for i in range(nx):
            n = 0
            for k in range(depth):
                w = wts[k, j, i]
                keep[k] = w > 0.0 and vals[k, j, i] == vals[k, j, i]
                if keep[k]:
                    n += 1
            for _ in range(maxiter):
                if n < 3:
                    break
                m = 0
                for k in range(depth):
                    if keep[k]:
                        buf[m] = vals[k, j, i]
                        m += 1
                med = _median_inplace(buf, m)
                m = 0
                for k in range(depth):
                    if keep[k]:
                        dev[m] = abs(vals[k, j, i] - med)
                        m += 1
                sigma = 1.4826 * _median_inplace(dev, m)
                changed = False
                for k in range(depth):
                    if keep[k] and abs(vals[k, j, i] - med) > nsigma * sigma:
                        keep[k] = False
                        n -= 1
                        changed = True
                if not changed:
                    break
            s = 0.0
            wsum = 0.0
            for k in range(depth):
                if keep[k]:
                    s += vals[k, j, i] * wts[k, j, i]
                    wsum += wts[k, j, i]
            if wsum == 0.0:
                out[j, i] = blank
                fp[j, i] = 0.0
            else:
                out[j, i] = s / wsum
                fp[j, i] = wsum
    keep_alive(owners)


@entry(writes=("val", "wt"))
@kernel
def deposit_block(src_val, src_wt, sy0, sx0, y0, y1, x0, x1, val, wt, oy, ox, sink, bg):
    """Deposit a precomputed cutout (origin ``(sy0, sx0)`` in output pixels).

    Values whose cutout weight is NaN or whose value is NaN contribute
    nothing; the background model ``bg`` is subtracted as in the kernels.
    """
    for y in range(y0, y1):
        for x in range(x0, x1):
            v = src_val[y - sy0, x - sx0]
            f = src_wt[y - sy0, x - sx0]
            if f == f and v == v:
                v -= bg[0] + bg[1] * x + bg[2] * y
            else:
                v = math.nan
            deposit(sink, val, wt, y - oy, x - ox, v, f)


