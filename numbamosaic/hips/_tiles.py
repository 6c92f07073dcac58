"""Tile functions of HiPS generation: picklable callables ``index -> tile``.

Each returns the deepest-order tile ``index`` as a float32 ``T x T`` array
(NaN where no input covers a pixel), or None when no pixel has data.  They
hold everything a tile needs (input arrays, WCS, kernel matrices), so the
same object runs on the caller's threads or, scattered once, on dask
workers: a tile is a pure function of the object and its index, and the
files do not depend on where it ran.
"""

import numpy as np

from ..kernels._healpix import hips_tile_kernel
from ..mosaic._coadd import _prepare, execute, release_sources, reproject_and_coadd
from ._layout import tile_face_xy, tile_header, tile_wcs


class KernelTiles:
    """One input sampled by the fused kernel :func:`~numbamosaic.kernels._healpix.hips_tile_kernel`.

    Parameters
    ----------
    data, coef : 2-D arrays
        Kernel view of the input and its spline coefficients (``data`` when
        the interpolation needs none).
    code : int
        Interpolation order code (``interpolation.parse_order``).
    vec, m : arrays
        Native WCS description of the input and the frame -> input rotation
        (``healpix._core.input_to_frame_matrix``).
    level, tile_size : int
        Deepest order and tile width.
    dtype : numpy dtype
        Output dtype (float32 for float32 inputs).
    """

    def __init__(self, data, coef, code, vec, m, level, tile_size, dtype):
        self.data, self.coef, self.code, self.vec, self.m = data, coef, code, vec, m
        self.level, self.tile_size, self.dtype = level, tile_size, dtype

    def __call__(self, index):
        t = self.tile_size
        face, ix, iy = tile_face_xy(self.level, index)
        out = np.empty((t, t), dtype=self.dtype)
        n = hips_tile_kernel(self.data, self.coef, self.code, self.vec, self.m, t << self.level, face, ix * t,
                             iy * t, out)
        return out if n else None


def _blank_uncovered(arr, fp):
    fp = np.asarray(fp)
    if not np.any(fp != 0):
        return None
    arr = np.array(arr, dtype=np.float32)
    arr[fp == 0] = np.nan
    return arr


class ReprojectTiles:
    """One input through any ``reproject_function`` onto each tile's HPX frame."""

    def __init__(self, array, wcs, frame, level, tile_size, reproject_function, kwargs):
        self.array, self.wcs, self.frame = array, wcs, frame
        self.level, self.tile_size, self.fn, self.kwargs = level, tile_size, reproject_function, kwargs

    def __call__(self, index):
        t = self.tile_size
        h = tile_header(self.frame, self.level, index, t)
        arr, fp = self.fn((self.array, self.wcs), h, shape_out=(t, t), **self.kwargs)
        return _blank_uncovered(arr, fp)


class CoaddTiles:
    """:func:`numbamosaic.reproject_and_coadd` of the inputs meeting each tile.

    Parameters
    ----------
    inputs : list of (array, WCS)
    weights : list or None
        Weight images, one per input.
    members : dict
        Deepest tile index -> indices of the inputs that may meet it.
    frame, level, tile_size
        HiPS frame, deepest order, tile width.
    kwargs : dict
        For :func:`numbamosaic.reproject_and_coadd` (``reproject_function``,
        ``combine_function``, ``order`` ...).
    offsets : array, optional
        Additive background of every input (:mod:`._background`), subtracted
        by the resampling kernels (the mosaic's background models with
        ``c = offset``).
    """

    def __init__(self, inputs, weights, members, frame, level, tile_size, kwargs, offsets=None):
        self.inputs, self.weights, self.members = inputs, weights, members
        self.frame, self.level, self.tile_size, self.kwargs = frame, level, tile_size, kwargs
        self.offsets = offsets

    def __call__(self, index):
        ids = self.members[index]
        t = self.tile_size
        args = ([self.inputs[i] for i in ids], tile_wcs(self.frame, self.level, index, t))
        kw = dict(self.kwargs, shape_out=(t, t), blank_pixel_value=np.nan, parallel=1,
                  input_weights=None if self.weights is None else [self.weights[i] for i in ids])
        if self.offsets is None:
            arr, fp = reproject_and_coadd(*args, **kw)
            return _blank_uncovered(arr, fp)
        # reproject_and_coadd's own steps, with the survey's background models
        job = _prepare(*args, **kw)
        for src in job.sources:
            src.bg = np.array([self.offsets[ids[src.index]], 0.0, 0.0])
        try:
            arr, fp = execute(job, None, None)
        finally:
            release_sources(job)
        return _blank_uncovered(arr, fp)
