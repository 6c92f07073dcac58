"""Where a resampled value goes: the per-pixel accumulation step ("sink").

Every resampling kernel (interpolation, exact, adaptive) produces, for one
output pixel, a value ``v`` and a weight ``f`` (footprint x input weight) and
hands them to :func:`deposit`, which implements reproject's combine semantics
in place on a pair of buffers ``(val, wt)``:

=========  ===========================================================
sink       update (only where v is finite and f is not NaN)
=========  ===========================================================
WRITE      ``val = v``, ``wt = f`` (NaN / 0 where invalid): plain output
VALUE      ``val = v`` only (no footprint wanted)
MEAN/SUM   ``val += v f``, ``wt += f`` (mean divides at the end)
FIRST      where ``f > 0`` and ``wt == 0``: ``val = v``, ``wt = f``
LAST       where ``f > 0``: ``val = v``, ``wt = f``
MIN, MAX   where ``f > 0`` and ``v`` beats ``val`` (initialised +-inf)
=========  ===========================================================

A non-finite value (NaN or +-inf) counts as blank, so an infinite input
pixel blanks only the outputs whose stencil reaches it, like NaN.

The background model ``bg`` (constant + tilt in output pixels) is subtracted
before depositing.  Inputs are deposited in input order and each output
pixel is owned by one thread, so results do not depend on the thread count.
"""

import math

from ._jit import inline_kernel, kernel

SINK_WRITE = 0
SINK_SUM = 1
SINK_FIRST = 2
SINK_LAST = 3
SINK_MIN = 4
SINK_MAX = 5
SINK_VALUE = 6  # like WRITE, but the weight buffer is not touched


@inline_kernel
def deposit(sink, val, wt, j, i, v, f):
    """Deposit value ``v`` with weight ``f`` at buffer index ``(j, i)``."""
    if sink == SINK_WRITE:
        if math.isfinite(v) and f == f:
            val[j, i] = v
            wt[j, i] = f
        else:
            val[j, i] = math.nan
            wt[j, i] = 0.0
        return
    if sink == SINK_VALUE:
        val[j, i] = v if (math.isfinite(v) and f == f) else math.nan
        return
    if not (math.isfinite(v) and f == f):
        return
    if sink == SINK_SUM:
        val[j, i] += v * f
        wt[j, i] += f
    elif f > 0.0:
        _deposit_choice(sink, val, wt, j, i, v, f)


@inline_kernel
def _deposit_choice(sink, val, wt, j, i, v, f):
    """FIRST, LAST, MIN and MAX: keep ``(v, f)`` at ``(j, i)`` if it wins (``v`` finite, ``f > 0``)."""
    if sink == SINK_FIRST:
        if wt[j, i] == 0.0:
            val[j, i] = v
            wt[j, i] = f
    elif sink == SINK_LAST:
        val[j, i] = v
        wt[j, i] = f
    elif sink == SINK_MIN:
        if v < val[j, i]:
            val[j, i] = v
            wt[j, i] = f
    elif sink == SINK_MAX:
        if v > val[j, i]:
            val[j, i] = v
            wt[j, i] = f


@kernel
def deposit_row(sink, val, wt, j, i0, vs, fs, n):
    """Deposit ``n`` values ``vs[k]`` with weights ``fs[k]`` at ``(j, i0 + k)``.

    Same arithmetic as :func:`deposit` pixel by pixel, with the choice of
    sink made once per row so the inner loops stay tight.
    """
    if sink == SINK_WRITE:
        for k in range(n):
            v = vs[k]
            f = fs[k]
            if math.isfinite(v) and f == f:
                val[j, i0 + k] = v
                wt[j, i0 + k] = f
            else:
                val[j, i0 + k] = math.nan
                wt[j, i0 + k] = 0.0
    elif sink == SINK_VALUE:
        for k in range(n):
            v = vs[k]
            val[j, i0 + k] = v if (math.isfinite(v) and fs[k] == fs[k]) else math.nan
    elif sink == SINK_SUM:
        for k in range(n):
            v = vs[k]
            f = fs[k]
            if math.isfinite(v) and f == f:
                val[j, i0 + k] += v * f
                wt[j, i0 + k] += f
    else:  # FIRST, LAST, MIN, MAX: deposit's choice (its other sinks are handled above, not inlined again)
        for k in range(n):
            v = vs[k]
            f = fs[k]
            if math.isfinite(v) and f == f and f > 0.0:
                _deposit_choice(sink, val, wt, j, i0 + k, v, f)
