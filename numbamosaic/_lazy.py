"""``return_type='dask'``: lazy results whose blocks run the fused kernels.

The transform and the output box that can receive values are computed once,
eagerly (they are cheap: a few astropy calls, or a control grid over the
box).  Each dask block is then one output box: it is filled with NaN / 0 and
the method's serial kernel resamples the part of the block inside the box,
writing block-local arrays through the kernels' output offset.  The kernels
compute every output pixel independently of how the output is tiled (the
exact method's sub-cell lattice and the adaptive method's Jacobians depend only
on the transform and the shapes), so the lazy result equals the eager one bit
for bit, whatever the chunks and the dask scheduler.

dask is imported only when a lazy result is asked for.
"""

import numpy as np

from .kernels._sinks import SINK_WRITE

#: default block side (pixels) when ``block_size`` is not given: 1024 x 1024
#: float64 blocks are 8 MiB per output (value + footprint stacked: 16 MiB)
DEFAULT_BLOCK = 1024


def block_chunks(shape, block_size):
    """Chunk sizes along each axis for ``shape`` (reproject's ``block_size``)."""
    if block_size is None or block_size == "auto":
        block_size = (DEFAULT_BLOCK, DEFAULT_BLOCK)
    try:
        bs = tuple(int(b) for b in block_size)
    except (TypeError, ValueError):
        raise ValueError(f"block_size: expected None, 'auto' or a tuple of two positive ints, got {block_size!r}") from None
    if len(bs) < 2:
        raise ValueError(f"block_size: expected a tuple of two positive ints, got {block_size!r}")
    bs = bs[-2:]
    if any(b <= 0 for b in bs):
        raise ValueError(f"block_size: block sides must be positive, got {block_size!r}")
    return tuple(min(b, s) for b, s in zip(bs, shape))


def lazy_single(resampler, data, tr, box, shape_out, dtype, return_footprint, block_size=None, shape_full=None):
    """The lazy ``(array, footprint)`` (or ``array``) of one reprojection.

    Parameters
    ----------
    resampler : resampler object (``_resamplers``)
    data : ndarray
        Kernel input array.
    tr : PixelTransform or None
        The output -> input transform (None: nothing overlaps).
    box : tuple ``(y0, y1, x0, x1)`` or None
        Output pixels that can receive values.
    shape_out : tuple (ny, nx)
    dtype : numpy dtype of the result
    return_footprint : bool
    block_size : tuple, optional
        Output block shape (default 1024 x 1024).
    shape_full : tuple, optional
        Shape to return (``shape_out`` with degenerate leading axes).
    """
    import dask.array as da

    chunks = block_chunks(shape_out, block_size)
    dtype = np.dtype(dtype)
    state = resampler.prepare(data) if tr is not None else None
    nowt = np.empty((0, 0), dtype=np.float32)

    def run_block(template, block_info=None):
        (y0, y1), (x0, x1) = block_info[0]["array-location"]
        val = np.full((y1 - y0, x1 - x0), np.nan, dtype=dtype)
        wt = np.zeros((y1 - y0, x1 - x0), dtype=dtype)
        if box is not None:
            a0, a1 = max(y0, box[0]), min(y1, box[1])
            b0, b1 = max(x0, box[2]), min(x1, box[3])
            if a1 > a0 and b1 > b0:
                resampler.tile(data, state, nowt, tr, a0, a1, b0, b1, val, wt, y0, x0, SINK_WRITE, np.zeros(3))
        return np.stack([val, wt])

    template = da.empty(shape_out, chunks=chunks, dtype=dtype)
    both = da.map_blocks(run_block, template, dtype=dtype, new_axis=0, chunks=((2,),) + template.chunks)
    value, footprint = both[0], both[1]
    if shape_full is not None and tuple(shape_full) != tuple(shape_out):
        value, footprint = value.reshape(shape_full), footprint.reshape(shape_full)
    return (value, footprint) if return_footprint else value
