"""Background matching for :func:`~numbamosaic.hips.mosaic_to_hips`: one
additive offset per input, estimated over the whole survey.

Matching per tile (``reproject_and_coadd(match_background=True)`` on each
HiPS tile) would give every tile its own offsets and seams at tile edges.
Instead the pairwise overlaps are sampled on the HiPS tiles of a coarser
order (the tiles' pixel centres form a lattice: at most
``TARGET_LATTICE_POINTS`` candidate pixels over the survey, like the mosaic's
``sample_stride``), the median difference of every overlapping pair is
taken and the offsets solved globally with the mosaic's graph-Laplacian
solver (:func:`numbamosaic.mosaic._background.solve_backgrounds`); the
tiles then subtract them in the resampling kernels.

Only the ``'offset'`` model is available: a plane in output pixels has no
meaning across tiles with different frames.
"""

import numpy as np

from ..mosaic._background import TARGET_LATTICE_POINTS, PairCollector, solve_backgrounds
from ._layout import tile_wcs


def estimation_order(level, n_tiles, tile_size):
    """Coarsest shift ``s`` (order ``level - s``) keeping ~TARGET_LATTICE_POINTS samples."""
    s = 0
    while s < level and n_tiles * tile_size**2 / 4**s > TARGET_LATTICE_POINTS:
        s += 1
    return level - s


def estimate_offsets(inputs, members, frame, level, tile_size, resample, reference, mapper):
    """Additive offset of every input (float64, ``len(inputs)``).

    Parameters
    ----------
    inputs : list of (array, WCS)
    members : dict
        Deepest tile index -> indices of the inputs that may meet it.
    frame, level, tile_size
        HiPS frame, deepest order and tile width.
    resample : callable
        ``resample(input, wcs, shape_out)`` -> ``(array, footprint)``, e.g.
        ``numbamosaic.reproject_interp`` with the mosaic's arguments.
    reference : int or None
        Input whose offset is zero (``None``: offsets average to zero per
        group of connected inputs).
    mapper : callable
        ``mapper(fn, items)`` -> results in order (the caller's threads).
    """
    e = estimation_order(level, len(members), tile_size)
    shift = 2 * (level - e)
    coarse = {}
    for idx, ids in members.items():
        coarse.setdefault(idx >> shift, set()).update(ids)
    work = sorted(k for k, ids in coarse.items() if len(ids) > 1)
    collector = PairCollector(1, positions=False)
    t = tile_size

    def one(k):
        ids = sorted(coarse[k])
        w = tile_wcs(frame, e, k, t)
        vals = np.full((len(ids), t, t), np.nan, dtype=np.float32)
        wts = np.zeros((len(ids), t, t), dtype=np.float32)
        for layer, i in enumerate(ids):
            a, fp = resample(inputs[i], w, (t, t))
            vals[layer] = a
            wts[layer] = fp
        return collector.add_tile(vals, wts, ids, 0, 0)

    for k, found in zip(work, mapper(one, work)):
        collector.merge(k, found)
    return solve_backgrounds(len(inputs), collector.pair_estimates("offset"), reference)[:, 0]
