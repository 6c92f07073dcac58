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

Cubes (:func:`lazy_cube`) follow reproject's chunking: the leading
(broadcast) axes are one chunk, so each block holds every plane of an
output box and maps each of its pixels once (the cube kernels,
:mod:`numbamosaic._cube`).

dask is imported only when a lazy result is asked for.
"""

import math

import numpy as np

from ._cube import CubeInput, cube_kernel
from .kernels._sinks import SINK_WRITE

#: default block side (pixels) when ``block_size`` is not given: 1024 x 1024
#: float64 blocks are 8 MiB per output (value + footprint stacked: 16 MiB)
DEFAULT_BLOCK = 1024
#: default size of one output's block of a cube (every plane): reproject's 64 MiB
#: ``block_size_limit``; the block side is at least :data:`MIN_CUBE_BLOCK`
CUBE_BLOCK_BYTES = 64 << 20
MIN_CUBE_BLOCK = 64


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


def cube_chunks(shape_full, itemsize, block_size=None):
    """Chunk sizes of a lazy cube of ``shape_full`` (leading axes + image plane).

    reproject's rule: the leading (broadcast) axes are never split; a
    ``block_size`` of two entries is the image-plane block, one of
    ``len(shape_full)`` entries must have ``-1`` or the full length on the
    leading axes.  Default: square blocks of at most :data:`DEFAULT_BLOCK`
    pixels whose planes hold at most :data:`CUBE_BLOCK_BYTES` per output.
    """
    lead = tuple(int(s) for s in shape_full[:-2])
    nz = int(np.prod(lead))
    if block_size is None or (isinstance(block_size, str) and block_size == "auto"):
        side = int(math.sqrt(CUBE_BLOCK_BYTES / (nz * int(itemsize))))
        plane = block_chunks(shape_full[-2:], (max(MIN_CUBE_BLOCK, min(DEFAULT_BLOCK, side)),) * 2)
    else:
        try:
            bs = tuple(int(b) for b in block_size)
        except (TypeError, ValueError):
            raise ValueError(f"block_size: expected None, 'auto' or a tuple of ints, got {block_size!r}") from None
        if len(bs) > 2:
            if len(bs) != len(shape_full):
                raise ValueError(f"block_size: expected 2 or {len(shape_full)} entries for output shape "
                                 f"{tuple(shape_full)}, got {block_size!r}")
            if any(b not in (-1, s) for b, s in zip(bs[:-2], lead)):
                raise ValueError("block_size: the block shape for extra broadcasted dimensions should cover the "
                                 f"entire array along those dimensions (-1 or {lead}), got {block_size!r}")
        plane = block_chunks(shape_full[-2:], bs)
    return lead + plane


def lazy_cube(resampler, cube, tr, box, shape_full, dtype, return_footprint, block_size=None):
    """The lazy ``(array, footprint)`` (or ``array``) of a cube's reprojection.

    Parameters
    ----------
    resampler : resampler object (``_resamplers``)
    cube : ndarray
        The kernel cube ``(nz, ny, nx)`` (leading axes flattened).
    tr : PixelTransform or None
        The image plane's output -> input transform (None: nothing overlaps).
    box : tuple ``(y0, y1, x0, x1)`` or None
        Output pixels that can receive values.
    shape_full : tuple
        The output shape, leading axes first (their product is ``nz``).
    dtype : numpy dtype of the result
    return_footprint : bool
    block_size : tuple, optional
        See :func:`cube_chunks`.

    Notes
    -----
    Each block runs the cube kernel once over its part of ``box`` (every
    plane from one geometry per pixel), into block-local arrays through the
    kernels' output offset, as the eager driver's strips do: equal to
    :func:`numbamosaic._cube.run_cube` bit for bit.  The per-plane spline
    coefficients are computed by the first block a process runs.
    """
    import dask.array as da

    dtype = np.dtype(dtype)
    shape_full = tuple(int(s) for s in shape_full)
    lead = shape_full[:-2]
    nz = cube.shape[0]
    chunks = cube_chunks(shape_full, dtype.itemsize, block_size)
    source = CubeInput(cube, resampler) if tr is not None else None

    def run_block(template, block_info=None):
        (y0, y1), (x0, x1) = block_info[0]["array-location"][-2:]
        both = np.empty((2, nz, y1 - y0, x1 - x0), dtype=dtype)
        both[0] = np.nan
        both[1] = 0
        if box is not None:
            a0, a1 = max(y0, box[0]), min(y1, box[1])
            b0, b1 = max(x0, box[2]), min(x1, box[3])
            if a1 > a0 and b1 > b0:
                data, state = source.arrays()
                cube_kernel(resampler, data, state, None, tr, (a0, a1, b0, b1), both[0], both[1], y0, x0, SINK_WRITE,
                            np.zeros(3))
        return both.reshape((2,) + lead + (y1 - y0, x1 - x0))

    template = da.empty(shape_full, chunks=chunks, dtype=dtype)
    both = da.map_blocks(run_block, template, dtype=dtype, new_axis=0, chunks=((2,),) + template.chunks)
    value, footprint = both[0], both[1]
    return (value, footprint) if return_footprint else value
