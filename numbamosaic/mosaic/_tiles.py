"""One output tile: the unit of work of every mosaic driver.

:func:`compute_tile` resamples every input that overlaps a tile, in input
order, and combines them.  The threaded driver writes its result straight
into the output arrays; the distributed driver runs the same function on
workers and ships the finished tile back.  Per-tile memory is bounded by the
tile size (times the overlap depth for median and clipped mean).
"""

import numpy as np

from ..kernels import _combine as C
from ..kernels._sinks import SINK_FIRST, SINK_LAST, SINK_MAX, SINK_MIN, SINK_SUM, SINK_WRITE

COMBINES = {
    "mean": (C.COMBINE_MEAN, SINK_SUM, 0.0),
    "sum": (C.COMBINE_SUM, SINK_SUM, 0.0),
    "first": (C.COMBINE_FIRST, SINK_FIRST, 0.0),
    "last": (C.COMBINE_LAST, SINK_LAST, 0.0),
    "min": (C.COMBINE_MIN, SINK_MIN, np.inf),
    "max": (C.COMBINE_MAX, SINK_MAX, -np.inf),
    "median": (C.COMBINE_MEDIAN, SINK_WRITE, np.nan),
    "clipped-mean": (C.COMBINE_CLIPPED, SINK_WRITE, np.nan),
}
STACK_COMBINES = ("median", "clipped-mean")


def _overlap(tile, bbox, margin):
    y0, y1, x0, x1 = tile
    b0, b1, c0, c1 = bbox
    oy0, oy1 = max(y0, b0 - margin), min(y1, b1 + margin)
    ox0, ox1 = max(x0, c0 - margin), min(x1, c1 + margin)
    if oy1 <= oy0 or ox1 <= ox0:
        return None
    return oy0, oy1, ox0, ox1


def _resample_into(src, resampler, tile, val, wt, sink, margin, bg):
    box = _overlap(tile, src.bbox, margin)
    if box is None:
        return
    y0, y1, x0, x1 = box
    pre = getattr(src, "precomputed", None)
    if pre is not None:
        pval, pwt, sy0, sx0 = pre
        C.deposit_block(pval, pwt, sy0, sx0, y0, y1, x0, x1, val, wt, tile[0], tile[2], sink, bg)
        return
    data, state, wdata = src.arrays(resampler)
    resampler.tile(data, state, wdata, src.transform, y0, y1, x0, x1, val, wt, tile[0], tile[2], sink, bg)


def stack_tile(tile, members, sources, resampler, margin=0, with_background=True, dtype=np.float32):
    """Per-input layers ``(vals, wts)`` of shape ``(k, th, tw)`` in ``dtype``."""
    th, tw = tile[1] - tile[0], tile[3] - tile[2]
    k = len(members)
    vals = np.full((k, th, tw), np.nan, dtype=dtype)
    wts = np.zeros((k, th, tw), dtype=dtype)
    zero = np.zeros(3)
    for layer, i in enumerate(members):
        src = sources[i]
        _resample_into(src, resampler, tile, vals[layer], wts[layer], SINK_WRITE, margin, src.bg if with_background else zero)
    return vals, wts


def compute_tile(tile, members, sources, resampler, combine, blank, out=None, fp=None, margin=0, nsigma=3.0, maxiter=5):
    """Resample and combine one tile.

    Parameters
    ----------
    tile : (y0, y1, x0, x1)
        Output box.
    members : list of int
        Indices (into ``sources``) of the inputs overlapping the tile, in
        input order.
    sources : sequence of Source
    resampler : resampler instance (see ``_resamplers``)
    combine : str
        Combine function name (see :data:`COMBINES`).
    blank : float
        Value where no input contributes.
    out, fp : ndarray views, optional
        Where to write the tile (allocated and returned when omitted).

    Returns
    -------
    out, fp : ndarray
    """
    th, tw = tile[1] - tile[0], tile[3] - tile[2]
    if out is None:
        out = np.empty((th, tw), dtype=np.float64)
    if fp is None:
        fp = np.empty((th, tw), dtype=out.dtype)
    code, sink, init = COMBINES[combine]
    if combine in STACK_COMBINES:
        # stack in the output precision (float32 stacks for float32 mosaics)
        vals, wts = stack_tile(tile, members, sources, resampler, margin, dtype=np.result_type(out.dtype, np.float32))
        if combine == "median":
            C.stack_median(vals, wts, len(members), out, fp, blank)
        else:
            C.stack_clipped_mean(vals, wts, len(members), out, fp, blank, nsigma, maxiter)
        return out, fp
    val = np.empty((th, tw), dtype=np.float64)
    wt = np.empty((th, tw), dtype=np.float64)
    C.init_tile(val, wt, init)
    for i in members:
        _resample_into(sources[i], resampler, tile, val, wt, sink, margin, sources[i].bg)
    C.finalize_tile(code, val, wt, out, fp, blank)
    return out, fp
