"""Tile functions of HiPS generation: picklable callables ``index -> tile``.

Each returns the deepest-order tile ``index`` as a float32 ``T x T`` array
(NaN where no input covers a pixel), or None when no pixel has data.  They
hold everything a tile needs (input arrays, WCS, kernel matrices), so the
same object runs on the caller's threads or, scattered once, on dask
workers: a tile is a pure function of the object and its index, and the
files do not depend on where it ran.
"""

import numpy as np

from .._resamplers import InterpResampler
from ..healpix._core import input_to_frame_matrix
from ..interpolation import reproject_interp
from ..io import kernel_dtype
from ..kernels._combine import finalize_tile
from ..kernels._healpix import NO_WEIGHTS, SINK_DIRECT, gnomonic_flag, hips_tile_kernel
from ..mosaic._coadd import _prepare, execute, release_sources, reproject_and_coadd
from ..mosaic._inputs import make_sources
from ..mosaic._tiles import COMBINES
from ..wcs import UnsupportedWCS
from ._layout import tile_face_xy, tile_header, tile_wcs

#: background model of an input without one (``kernels._healpix.hips_tile_kernel``'s ``bg``)
_NO_BACKGROUND = np.zeros(3)


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
        val = np.empty((t, t))  # float64 values (one compiled variant), rounded once to the output dtype
        n = hips_tile_kernel(self.data, self.coef, NO_WEIGHTS, self.code, gnomonic_flag(self.m), self.vec, self.m,
                             t << self.level, face, ix * t, iy * t, val, NO_WEIGHTS, SINK_DIRECT, _NO_BACKGROUND)
        return val.astype(self.dtype, copy=False) if n else None


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


#: combine functions accumulated input by input (the others need every value of a pixel at once)
FUSED_COMBINES = ("mean", "sum", "first", "last", "min", "max")
#: interpolation orders the fused tiles run: without per-input state (nearest, bilinear, Lanczos)
#: and the B-spline orders (biquadratic, bicubic), whose coefficient image of every input is
#: computed once and kept for the whole run when it fits the memory left (see :func:`coadd_tiles`)
FUSED_ORDERS = (0, 1, 2, 3, 4)
#: orders whose fused tiles keep a coefficient image per input (``InterpResampler.state_nbytes``)
SPLINE_ORDERS = (2, 3)


class FusedCoaddTiles:
    """The inputs meeting each tile combined by the fused kernel, input by input.

    For each deepest tile, :func:`~numbamosaic.kernels._healpix.hips_tile_kernel`
    runs once per member input (in input order) with the combine's sink of
    ``kernels._sinks``, accumulating into the tile's float64 value/weight
    buffers; :func:`~numbamosaic.kernels._combine.finalize_tile` then turns
    them into the tile, as :func:`numbamosaic.reproject_and_coadd` does onto
    the tile's HPX frame (same weights, background offsets, sinks, member
    order, finalisation and output dtype).  The only difference is where the
    positions come from: HEALPix pixel centres computed natively (as
    :class:`KernelTiles`, ~1.5e-10 input pixel from astropy-healpix and
    astropy) instead of through the tile's HPX WCS chain (up to ~3e-9 pixel
    off on the benchmark survey), so a pixel may differ by one float32
    spacing of the values interpolated there.  Everything per input (kernel
    arrays, validated weights, WCS vector and frame rotation) is prepared
    once here: a tile makes no WCS objects.

    Parameters
    ----------
    inputs : list of (array, WCS)
    weights : list or None
        Weight images, one per input (as :func:`numbamosaic.reproject_and_coadd`).
    members : dict
        Deepest tile index -> indices of the inputs that may meet it (sorted).
    frame, level, tile_size
        HiPS frame, deepest order, tile width.
    combine : str
        One of :data:`FUSED_COMBINES`.
    order : int
        Interpolation order code, one of :data:`FUSED_ORDERS`.  For the
        B-spline orders each input's coefficient image (the prefilter of
        the whole input, as the mosaic's ``InterpResampler.prepare``) is
        computed here, once, and kept with the input.
    offsets : array, optional
        Additive background of every input (:mod:`._background`).

    Raises
    ------
    UnsupportedWCS
        When an input's WCS is not evaluated natively (use :class:`CoaddTiles`).

    References
    ----------
    Gorski, K. M. et al. 2005, ApJ 622, 759 (HEALPix pixel centres).
    Calabretta, M. R. & Roukema, B. F. 2007, MNRAS 381, 865 (the HPX projection).
    """

    def __init__(self, inputs, weights, members, frame, level, tile_size, combine, order, offsets=None):
        resampler = InterpResampler(order=order)
        sources = make_sources(inputs, input_weights=weights)  # weights validated (and regridded) as the mosaic does
        self.maps = [input_to_frame_matrix(src.wcs, frame) for src in sources]
        self.arrays = [src.arrays(resampler) for src in sources]  # (kernel data, empty state, weights)
        self.single = [src.dtype == np.float32 for src in sources]
        self.bgs = [np.array([0.0 if offsets is None else float(offsets[i]), 0.0, 0.0]) for i in range(len(sources))]
        self.members, self.level, self.tile_size = members, level, tile_size
        self.code = resampler.order
        self.combine_code, self.sink, self.init = COMBINES[combine]

    def __call__(self, index):
        ids = self.members[index]
        t = self.tile_size
        face, ix, iy = tile_face_xy(self.level, index)
        val = np.empty((t, t))
        wt = np.empty((t, t))
        val.fill(self.init)
        wt.fill(0.0)
        sampled = 0
        for i in ids:
            data, coef, wdata = self.arrays[i]
            vec, m = self.maps[i]
            sampled += hips_tile_kernel(data, coef, wdata, self.code, gnomonic_flag(m), vec, m, t << self.level, face,
                                        ix * t, iy * t, val, wt, self.sink, self.bgs[i])
        if not sampled:  # no finite value was deposited: every weight is 0
            return None
        # the mosaic's output dtype for these members (float32 when they all are), then the tile as CoaddTiles
        dtype = np.float32 if all(self.single[i] for i in ids) else np.float64
        out = np.empty((t, t), dtype=dtype)
        fp = np.empty((t, t), dtype=dtype)
        finalize_tile(self.combine_code, val, wt, out, fp, np.nan)
        return _blank_uncovered(out, fp)


def spline_state_bytes(inputs, order):
    """Bytes of the coefficient images :class:`FusedCoaddTiles` keeps for ``inputs`` at ``order``
    (0 for the orders without per-input state): one image of each input's kernel dtype."""
    if order not in SPLINE_ORDERS:
        return 0
    resampler = InterpResampler(order=order)
    return sum(resampler.state_nbytes(np.shape(a), kernel_dtype(np.dtype(a.dtype)).itemsize) for a, _ in inputs)


def coadd_tiles(inputs, weights, members, frame, level, tile_size, kwargs, offsets=None, state_budget=None):
    """The tile function of a mosaic HiPS: :class:`FusedCoaddTiles` when the
    combine accumulates input by input, the method is ``reproject_interp``
    with an order of :data:`FUSED_ORDERS`, no other resampling argument is
    given and every WCS is evaluated natively; else :class:`CoaddTiles`.
    For the B-spline orders the inputs' coefficient images
    (:func:`spline_state_bytes`) must also fit ``state_budget`` (bytes; None:
    not fused), the memory left by the rest of the generation; otherwise each
    tile's ``reproject_and_coadd`` prefilters its members on the way, as
    before.  ``roundtrip_coords`` is accepted and not applied there, as by
    :class:`KernelTiles` (``reproject_to_hips``): positions outside an
    input's domain are rejected by the kernel itself."""
    fn = kwargs.get("reproject_function")
    combine = kwargs.get("combine_function", "mean")
    rest = set(kwargs) - {"reproject_function", "combine_function", "order", "roundtrip_coords"}
    if (fn is None or fn is reproject_interp) and combine in FUSED_COMBINES and not rest:
        resampler = InterpResampler(order=kwargs.get("order", "bilinear"))  # raises on a bad order, as the tiles would
        spline_fits = resampler.order not in SPLINE_ORDERS or (
            state_budget is not None and spline_state_bytes(inputs, resampler.order) <= state_budget)
        if resampler.order in FUSED_ORDERS and spline_fits:
            try:
                return FusedCoaddTiles(inputs, weights, members, frame, level, tile_size, combine, resampler.order,
                                       offsets)
            except UnsupportedWCS:
                pass
    return CoaddTiles(inputs, weights, members, frame, level, tile_size, kwargs, offsets)
