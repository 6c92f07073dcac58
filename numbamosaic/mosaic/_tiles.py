"""One output tile: the unit of work of a mosaic.

:func:`compute_tile` resamples every input that overlaps a tile, in input
order, and combines them.  :class:`TileWork` is the work function the
executors (``numbamosaic._exec``) run on each tile, writing in place or
returning the tile; :class:`PairWork` collects background-matching samples.  Per-tile memory is bounded by the
tile size (times the overlap depth for median and clipped mean).
"""

import numpy as np

from ..kernels import _combine as C
from ..kernels._sinks import SINK_FIRST, SINK_LAST, SINK_MAX, SINK_MIN, SINK_SUM, SINK_WRITE
from ._background import PairCollector

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
    val.fill(init)
    wt.fill(0.0)
    for i in members:
        _resample_into(sources[i], resampler, tile, val, wt, sink, margin, sources[i].bg)
    C.finalize_tile(code, val, wt, out, fp, blank)
    return out, fp


class TileWork:
    """The mosaic's work function: ``work(item, members)`` computes one tile.

    Picklable (the dask executor ships it to the workers once).  The tile's
    arrays come from ``target`` (``_exec._targets``: written in place, or
    returned for the caller to write).

    Parameters
    ----------
    resampler, combine, blank, margin, clip_sigma, clip_iters
        As :func:`compute_tile`.
    target : ArrayTarget, FileTarget or ReturnTarget
    backgrounds : dict, optional
        ``{input index: (c, cx, cy)}`` set on the members before resampling
        (for inputs that were shipped before the backgrounds were solved).
    """

    def __init__(self, resampler, combine, blank, margin, clip_sigma, clip_iters, target, backgrounds=None):
        self.resampler, self.combine, self.blank, self.margin = resampler, combine, blank, margin
        self.clip_sigma, self.clip_iters, self.target = clip_sigma, clip_iters, target
        self.backgrounds = backgrounds

    def __call__(self, item, members):
        if self.backgrounds is not None:
            for i, src in members.items():
                src.bg = self.backgrounds[i]
        if not item.members:  # every target blanks (ReturnTarget: returns the blank box)
            return self.target.blank(item.box, self.blank)
        o, f = self.target.open(item.box)
        compute_tile(item.box, list(item.members), members, self.resampler, self.combine, self.blank, out=o, fp=f,
                     margin=self.margin, nsigma=self.clip_sigma, maxiter=self.clip_iters)
        return self.target.close(item.box, o, f)


class PairWork:
    """Background matching's work function: pairwise difference samples of one tile.

    Returns what :meth:`~numbamosaic.mosaic._background.PairCollector.add_tile`
    finds (merged on the caller's side, keyed by ``item.key``).
    """

    def __init__(self, resampler, margin, stride, positions):
        self.resampler, self.margin, self.stride, self.positions = resampler, margin, stride, positions

    def __call__(self, item, members):
        vals, wts = stack_tile(item.box, list(item.members), members, self.resampler, self.margin, with_background=False)
        return PairCollector(self.stride, self.positions).add_tile(vals, wts, list(item.members), item.box[0], item.box[2])
