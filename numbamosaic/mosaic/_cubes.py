"""``reproject_and_coadd`` of cubes: reproject's broadcasting over leading axes, for mosaics.

reproject mosaics cubes when ``shape_out`` has more axes than the inputs'
WCS has pixel axes (``n_broadcasted = len(shape_out) - pixel_n_dim``): each
input ``(..., ny, nx)`` (the same leading axes) is reprojected plane by plane
onto its part of the output and the planes are combined independently.
Here the output is cut into tiles of the image plane, each tile holding all
planes: the work items (:mod:`numbamosaic._exec`) of threads or dask tasks.
For every input overlapping a tile, one cube kernel call
(:func:`numbamosaic._cube.cube_kernel`) maps each output pixel once and
resamples every plane into the tile's ``(nz, th, tw)`` buffers with the
combine sink; each plane is then finalised (``kernels._combine.finalize_tile``).
The result for a plane equals the 2-D mosaic of that plane's images bit for
bit (same kernels, sinks and input order), and is the same bytes for any
executor: threads write tiles in place, dask workers return them and the
caller writes them (:class:`CubeTileWork`).

A custom ``reproject_function`` (e.g. reproject's own) runs once per input
on the whole cube, onto the input's box of the output (as reproject calls
it); the cutouts (RAM, or memory-mapped files with ``intermediate_memmap``)
are then deposited plane by plane by the 2-D generic path's kernel
(``kernels._combine.deposit_block``).

``match_background``: as reproject, one offset per input, fitted over the
whole cubes (reproject takes the median of the differences over every
overlapping pixel of every plane).  The pairwise differences are sampled on
a lattice of the image plane, in every plane (the lattice spacing chosen
for about ``TARGET_LATTICE_POINTS`` samples over all planes), pooled over
the planes, and solved as in 2-D (``_background``: medians, then the
weighted least-squares system; ``background_model='plane'`` fits one plane
in output pixels for all planes).

Outputs: NumPy arrays (``np.memmap`` included) of the full shape, written in
place, or chunked stores (``zarr.Array``) whose chunks (or shards) tile the
image plane: tiles are then aligned to that grid and written once each.
Memory: tiles are sized by :func:`numbamosaic.mosaic._plan.cube_tile_shape`,
which counts the planes of the per-thread buffers, and the outputs allocated
here are checked against the budget first.

Combines: reproject's ``mean``, ``sum``, ``first``, ``last``, ``min``,
``max``.  Not for cubes (refused with the reason): ``median`` and
``clipped-mean`` (they keep every input's layer of a tile: ``nz`` times the
2-D stack) and survey products.
"""

import inspect
import math
import tempfile
import threading

import numpy as np

from .. import adaptive as _adaptive
from .. import exact as _exact
from .. import interpolation as _interpolation
from .._axes import check_compatible, pixel_n_dim
from .._common import check_output_array, is_chunked_output, parse_parallel, write_unit
from .._cube import as_planes, cube_kernel, cube_state, cube_state_nbytes
from .._daskin import is_dask_array, materialise
from .._exec import WorkItem, executor_for, run_work, temp_memmap
from .._resamplers import InterpResampler, get_resampler
from .._single import blank_outputs
from .._validate import check_coadd_arguments, check_directory
from ..io import as_kernel_array, parse_input_data, parse_output_projection
from ..kernels import _combine as C
from ..kernels import _cube as KC
from ..kernels._cube import finalize_cube_tile
from ..kernels._sinks import SINK_FIRST, SINK_LAST, SINK_MAX, SINK_MIN, SINK_SUM, SINK_WRITE
from ..wcs import transform_and_bbox
from .._budget import check_single_outputs, check_temporaries, empty_output, memory_budget, parse_memory
from ._background import TARGET_LATTICE_POINTS, PairCollector, solve_backgrounds
from ._plan import cube_tile_shape, tile_members, tiles_for

CUBE_COMBINES = {
    "mean": (C.COMBINE_MEAN, SINK_SUM, 0.0),
    "sum": (C.COMBINE_SUM, SINK_SUM, 0.0),
    "first": (C.COMBINE_FIRST, SINK_FIRST, 0.0),
    "last": (C.COMBINE_LAST, SINK_LAST, 0.0),
    "min": (C.COMBINE_MIN, SINK_MIN, np.inf),
    "max": (C.COMBINE_MAX, SINK_MAX, -np.inf),
}

#: the single-member sinks of the combines (a tile with one input, interpolation)
ONE_SINKS = {"mean": KC.SINK_ONE_MEAN, "sum": KC.SINK_ONE_SUM, "first": KC.SINK_ONE_PICK, "last": KC.SINK_ONE_PICK,
             "min": KC.SINK_ONE_PICK, "max": KC.SINK_ONE_PICK}

_METHODS = {
    _interpolation.reproject_interp: "interp",
    _exact.reproject_exact: "exact",
    _adaptive.reproject_adaptive: "adaptive",
}

#: keywords of reproject_and_coadd that the cube path ignores (as the 2-D path does)
_IGNORED = {"block_sizes", "block_size", "return_type", "dask_method"}


def is_cube_mosaic(output_projection, shape_out):
    """True when the output has leading axes beyond a two-pixel-axis WCS (reproject's broadcasting)."""
    try:
        if shape_out is not None and len(shape_out) <= 2:
            return False  # the common 2-D call: no need to parse the projection twice
    except TypeError:  # not a shape: the 2-D path reports it
        return False
    try:
        wcs_out, shape_full = parse_output_projection(output_projection, shape_out=shape_out)
    except Exception:  # the 2-D path reports argument errors
        return False
    return pixel_n_dim(wcs_out) == 2 and len(shape_full) > 2


def _refuse(what, why):
    raise NotImplementedError(f"{what}: not supported for cube mosaics ({why})")


class _Input:
    """One parsed cube input: kernel array ``(nz, ny, nx)``, weights, transform, box.

    The per-plane spline coefficients are computed on first use, once per
    process (the caller's for threads, each dask worker's).  ``precomputed``
    holds a custom ``reproject_function``'s cutouts ``(val, wt, y0, x0)``
    (``(nz, h, w)`` float32) instead; ``bg`` the background model
    ``(c, cx, cy)`` subtracted from every plane.
    """

    def __init__(self, index, cube, dtype, wdata, tr, bbox):
        self.index, self.cube, self.dtype, self.wdata, self.tr, self.bbox = index, cube, dtype, wdata, tr, bbox
        self.precomputed = None
        self.bg = np.zeros(3)
        self._state, self._ready = None, False
        self._lock = threading.Lock()

    def arrays(self, resampler):
        with self._lock:
            if not self._ready:
                self._state, self._ready = cube_state(resampler, self.cube), True
        return self.cube, self._state

    def __getstate__(self):
        state = dict(self.__dict__)
        for k in ("_state", "_ready", "_lock"):
            state.pop(k)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._state, self._ready = None, False
        self._lock = threading.Lock()


def _member_box(src, tile, margin):
    """The part ``(y0, y1, x0, x1)`` of ``tile`` that input ``src`` can reach (possibly empty)."""
    y0, y1, x0, x1 = tile
    b0, b1, c0, c1 = src.bbox
    return (max(y0, b0 - margin), min(y1, b1 + margin), max(x0, c0 - margin), min(x1, c1 + margin))


def _deposit(src, resampler, tile, val, wt, sink, margin, bg, blank=0.0, out=None, fp=None):
    """Resample input ``src`` (every plane) over its part of ``tile`` into ``val``/``wt``
    ``(nz, th, tw)`` (indexed relative to the tile), with ``sink``, minus ``bg``
    (``blank``, ``out``, ``fp``: see :func:`numbamosaic._cube.cube_kernel`)."""
    y0, y1, x0, x1 = tile
    box = _member_box(src, tile, margin)
    if box[1] <= box[0] or box[3] <= box[2]:
        return
    if src.precomputed is not None:  # a custom function's cutouts: the 2-D generic path's deposit, per plane
        pval, pwt, sy0, sx0 = src.precomputed
        for z in range(val.shape[0]):
            C.deposit_block(pval[z], pwt[z], sy0, sx0, box[0], box[1], box[2], box[3], val[z], wt[z], y0, x0, sink, bg)
        return
    cube, state = src.arrays(resampler)
    cube_kernel(resampler, cube, state, src.wdata, src.tr, box, val, wt, y0, x0, sink, bg, blank, out, fp)


def _outside(box, tile):
    """The parts of ``tile`` outside ``box`` (both ``(y0, y1, x0, x1)``, ``box`` clipped to
    the tile or empty), as at most four disjoint boxes relative to the tile."""
    y0, y1, x0, x1 = tile
    th, tw = y1 - y0, x1 - x0
    a0, a1, b0, b1 = box[0] - y0, box[1] - y0, box[2] - x0, box[3] - x0
    if a1 <= a0 or b1 <= b0:
        return [(0, th, 0, tw)]
    parts = [(0, a0, 0, tw), (a1, th, 0, tw), (a0, a1, 0, b0), (a0, a1, b1, tw)]
    return [p for p in parts if p[1] > p[0] and p[3] > p[2]]


class CubeTileWork:
    """The cube mosaic's work function: one tile, every plane, its members in input order.

    With ``out``/``fp`` (local executors) the tile is written in place
    (through ``(nz, ny, nx)`` views when the outputs have them, else by
    slice assignment: chunked stores, Fortran-ordered arrays); otherwise
    (dask workers) the finished ``(nz, th, tw)`` value and footprint are
    returned for the caller to write (:func:`write_tile`).  The caller's
    arrays are not pickled.

    Parameters
    ----------
    resampler : resampler (``_resamplers``)
    combine : str
        A key of :data:`CUBE_COMBINES`.
    blank : float
    dtype : numpy dtype of the outputs
    nz : int
        Planes (the product of the leading axes).
    margin : int
        The resampler's reach beyond an input's box.
    backgrounds : dict, optional
        ``{input index: (c, cx, cy)}`` set on the members first.
    """

    def __init__(self, resampler, combine, blank, dtype, nz, margin, backgrounds=None, out=None, fp=None):
        self.resampler, self.combine, self.blank, self.dtype = resampler, combine, float(blank), np.dtype(dtype)
        self.nz, self.margin, self.backgrounds = int(nz), margin, backgrounds
        self.out, self.fp = out, fp
        self._scratch = {}  # thread id -> (2, n) float64: the tile accumulators, reused tile after tile
        if out is not None:
            self.out3 = None if is_chunked_output(out) else as_planes(out, nz)
            self.fp3 = None if is_chunked_output(fp) else as_planes(fp, nz)

    def __getstate__(self):
        skip = ("out", "fp", "out3", "fp3", "_scratch")
        return {k: v for k, v in self.__dict__.items() if k not in skip} | {"out": None, "_scratch": {}}

    def _accumulators(self, shape, init, fill=True):
        """This thread's ``val`` (filled with ``init``) and ``wt`` (zeros) of ``shape``
        (``fill=False``: not filled)."""
        n = int(np.prod(shape))
        key = threading.get_ident()
        buf = self._scratch.get(key)
        if buf is None or buf.shape[1] < n:
            buf = self._scratch[key] = np.empty((2, n))
        val, wt = buf[0, :n].reshape(shape), buf[1, :n].reshape(shape)
        if fill:
            val.fill(init)
            wt.fill(0.0)
        return val, wt

    def __call__(self, item, members):
        if self.backgrounds is not None:
            for i, src in members.items():
                src.bg = self.backgrounds[i]
        code, sink, init = CUBE_COMBINES[self.combine]
        y0, y1, x0, x1 = item.box
        shape = (self.nz, y1 - y0, x1 - x0)
        local = self.out is not None
        o = self.out3[:, y0:y1, x0:x1] if local and self.out3 is not None else np.empty(shape, self.dtype)
        f = self.fp3[:, y0:y1, x0:x1] if local and self.fp3 is not None else np.empty(shape, self.dtype)
        fused = isinstance(self.resampler, InterpResampler) and all(members[i].precomputed is None
                                                                     for i in item.members)
        src = members[item.members[0]] if len(item.members) == 1 else None
        if fused and len(item.members) > 1:
            # several inputs: the first writes fresh accumulators (kernels._cube.first_row; the
            # rest of the tile is reset here), the last finishes into the outputs row by row
            # (last_row; the rest of the tile is finished from the accumulators here)
            val, wt = self._accumulators(shape, init, fill=False)
            first, last = members[item.members[0]], members[item.members[-1]]
            for a0, a1, b0, b1 in _outside(_member_box(first, item.box, self.margin), item.box):
                val[:, a0:a1, b0:b1] = init
                wt[:, a0:a1, b0:b1] = 0.0
            _deposit(first, self.resampler, item.box, val, wt, KC.SINK_FIRST_OF + sink, self.margin, first.bg,
                     init, o, f)
            for i in item.members[1:-1]:
                _deposit(members[i], self.resampler, item.box, val, wt, sink, self.margin, members[i].bg, 0.0, o, f)
            for a0, a1, b0, b1 in _outside(_member_box(last, item.box, self.margin), item.box):
                finalize_cube_tile(code, val[:, a0:a1, b0:b1], wt[:, a0:a1, b0:b1], o[:, a0:a1, b0:b1],
                                   f[:, a0:a1, b0:b1], self.blank)
            _deposit(last, self.resampler, item.box, val, wt, KC.SINK_LAST_OF + code, self.margin, last.bg,
                     self.blank, o, f)
        elif src is not None and fused:
            # one input: combined and finished straight into the outputs (kernels._cube.finish_row)
            b0, b1, c0, c1 = src.bbox
            m = self.margin
            box = (max(y0, b0 - m), min(y1, b1 + m), max(x0, c0 - m), min(x1, c1 + m))
            blank_outputs(o, f, (box[0] - y0, box[1] - y0, box[2] - x0, box[3] - x0), self.blank)
            if box[1] > box[0] and box[3] > box[2]:
                cube, state = src.arrays(self.resampler)
                cube_kernel(self.resampler, cube, state, src.wdata, src.tr, box, o, f, y0, x0, ONE_SINKS[self.combine],
                            src.bg, self.blank)
        else:
            val, wt = self._accumulators(shape, init)  # the tile drivers' initial values (COMBINES), for every plane at once
            for i in item.members:
                src = members[i]
                _deposit(src, self.resampler, item.box, val, wt, sink, self.margin, src.bg)
            finalize_cube_tile(code, val, wt, o, f, self.blank)
        if not local:
            return o, f
        write_tile(self.out, self.fp, self.out3, self.fp3, item.box, o, f, only_copies=True)
        return None


def write_tile(out, fp, out3, fp3, box, o, f, only_copies=False):
    """Write a finished tile ``o``/``f`` ``(nz, th, tw)`` into the full-shape outputs (through their
    plane views ``out3``/``fp3`` when not None); ``only_copies``: only the outputs without views."""
    y0, y1, x0, x1 = box
    lead = tuple(out.shape[:-2])
    for arr, view, tile in ((out, out3, o), (fp, fp3, f)):
        if view is None:
            arr[..., y0:y1, x0:x1] = tile.reshape(lead + tile.shape[1:])
        elif not only_copies:
            view[:, y0:y1, x0:x1] = tile


class CubePairWork:
    """Background matching's work function for cubes: pairwise differences of one tile, every plane.

    Each member is resampled (all planes, without background) into its own
    layers; the differences of every pair are sampled on the global lattice
    in each plane and pooled (:meth:`PairCollector.add_cube_tile`).  The
    stacks are float32, as the 2-D path's.
    """

    def __init__(self, resampler, margin, nz, stride, positions):
        self.resampler, self.margin, self.nz, self.stride, self.positions = resampler, margin, int(nz), stride, positions

    def __call__(self, item, members):
        y0, y1, x0, x1 = item.box
        nz, k = self.nz, len(item.members)
        shape = (nz, y1 - y0, x1 - x0)
        vals = np.empty((k * nz,) + shape[1:], np.float32)
        wts = np.empty((k * nz,) + shape[1:], np.float32)
        zero = np.zeros(3)
        for p, i in enumerate(item.members):
            src = members[i]
            # the layer in the dtype the single-image cube kernels write (float32 for the custom cutouts)
            dt = np.float32 if src.precomputed is not None else src.cube.dtype
            v = np.full(shape, np.nan, dt)
            w = np.zeros(shape, dt)
            _deposit(src, self.resampler, item.box, v, w, SINK_WRITE, self.margin, zero)
            vals[p * nz:(p + 1) * nz] = v
            wts[p * nz:(p + 1) * nz] = w
        return PairCollector(self.stride, self.positions).add_cube_tile(vals, wts, list(item.members), nz, y0, x0)


def _method(reproject_function):
    if reproject_function is None:
        return "interp", _interpolation.reproject_interp
    method = _METHODS.get(reproject_function)
    if method is not None:
        return method, reproject_function
    if not callable(reproject_function):
        raise TypeError(f"reproject_function: expected a callable, got {type(reproject_function).__name__}")
    return "custom", reproject_function


def _resampler_kwargs(func, kwargs, custom=False):
    """Keywords of ``func`` (a misspelt keyword raises, as a direct call would; a custom
    function with ``**kwargs`` takes anything)."""
    params = inspect.signature(func).parameters
    open_ended = custom and any(p.kind == p.VAR_KEYWORD for p in params.values())
    known = set(params) | ({"subdivisions"} if not custom else set())
    out = {}
    for k, v in kwargs.items():
        if k in _IGNORED or k == "parallel":
            continue
        if k not in known and not open_ended:
            raise TypeError(f"{func.__name__}() got an unexpected keyword argument {k!r}")
        out[k] = v
    return out


def wcs_slice(wcs, box):
    """``wcs`` restricted to the output box ``(y0, y1, x0, x1)`` (the input's cutout grid)."""
    from astropy.wcs import WCS
    from astropy.wcs.wcsapi import HighLevelWCSWrapper, SlicedLowLevelWCS

    y0, y1, x0, x1 = box
    if isinstance(wcs, WCS):
        return wcs[y0:y1, x0:x1]
    ll = getattr(wcs, "low_level_wcs", wcs)
    return HighLevelWCSWrapper(SlicedLowLevelWCS(ll, (slice(y0, y1), slice(x0, x1))))


def _materialise_custom(func, rkw, src, array, wcs_in, wcs_out, lead, weights, make):
    """Run a custom ``reproject_function`` once on the whole cube ``array`` onto the input's box
    (``shape_out`` = leading axes + box), as reproject calls it; store the cutouts in ``src``.

    As the 2-D generic path: the weight of a pixel is the function's footprint,
    times the 2-D weight image (float32, NaN -> 0) reprojected by the same
    function (one for every plane); NaN values or weights get weight 0.  ``make(shape)`` allocates a
    float32 cutout (RAM or a memory-mapped file).
    """
    y0, y1, x0, x1 = src.bbox
    shape = (y1 - y0, x1 - x0)
    wsub = wcs_slice(wcs_out, src.bbox)
    arr, fp = func((array, wcs_in), wsub, shape_out=lead + shape, **rkw)
    nz = int(np.prod(lead))
    weight = np.asarray(fp, dtype=np.float32).reshape((nz,) + shape)
    if weights is not None:
        w = func((weights, wcs_in), wsub, shape_out=shape, return_footprint=False, **rkw)
        weight = weight * np.where(np.isfinite(w), w, 0).astype(np.float32)
    val = make((nz,) + shape)
    wt = make((nz,) + shape)
    val[...] = np.asarray(arr).reshape((nz,) + shape)
    bad = ~np.isfinite(val) | ~np.isfinite(weight)
    wt[...] = np.where(bad, 0, weight)
    src.precomputed = (np.asarray(val), np.asarray(wt), y0, x0)
    src.cube = None  # the kernels never read it


def _match_backgrounds(sources, resampler, shape_out, nz, margin, model, reference, n_inputs, executor, shared,
                       tile_shape, progress):
    """Background models ``{input index: (c, cx, cy)}`` from the pairwise differences of the cubes."""
    stride = max(1, int(round(math.sqrt(nz * shape_out[0] * shape_out[1] / TARGET_LATTICE_POINTS))))
    positions = model == "plane"
    tiles = tiles_for(shape_out, tile_shape)
    members = tile_members(tiles, {i: s.bbox for i, s in sources.items()}, margin)
    items = [WorkItem(t, tuple(m), k, "background samples of tile") for k, (t, m) in enumerate(zip(tiles, members))
             if len(m) > 1]
    collector = PairCollector(stride, positions)
    work = CubePairWork(resampler, margin, nz, stride, positions)
    for item, found in run_work(items, work, executor, shared, progress, "background"):
        collector.merge(item.key, found)
    models = solve_backgrounds(n_inputs, collector.pair_estimates(model), reference)
    return {i: models[i].copy() for i in sources}


def coadd_cube(input_data, output_projection, shape_out=None, input_weights=None, hdu_in=None, hdu_weights=None,
               reproject_function=None, combine_function="mean", match_background=False, background_reference=None,
               output_array=None, output_footprint=None, blank_pixel_value=0, parallel=True, memory_limit=None,
               tile_size=None, intermediate_memmap=False, tmpdir=None, background_model="offset", progress_bar=None,
               **kwargs):
    """:func:`numbamosaic.reproject_and_coadd` for cubes (see the module docstring).

    Returns ``(array, footprint)`` of the full output shape (leading axes first).
    """
    input_data, input_weights, tile = check_coadd_arguments(
        input_data, input_weights, hdu_in, hdu_weights, blank_pixel_value, match_background, tmpdir, tile_size,
        progress_bar, 3.0, 5,
    )
    if combine_function not in CUBE_COMBINES:
        if combine_function in ("median", "clipped-mean"):
            _refuse(f"combine_function={combine_function!r}", "it keeps every input's layer of a tile, times the planes")
        raise ValueError(f"combine_function: expected one of {sorted(CUBE_COMBINES)} for cubes, got {combine_function!r}")
    if background_model not in ("offset", "plane"):
        raise ValueError(f"background_model: expected 'offset' or 'plane', got {background_model!r}")
    if intermediate_memmap not in (True, False, "auto"):
        raise ValueError(f"intermediate_memmap: expected True, False or 'auto', got {intermediate_memmap!r}")
    if background_reference is not None:
        if not isinstance(background_reference, (int, np.integer)) or isinstance(background_reference, bool):
            raise TypeError(f"background_reference: expected an input index or None, got {background_reference!r}")
        if not 0 <= background_reference < len(input_data):
            raise ValueError(f"background_reference: index {background_reference} out of range for {len(input_data)} inputs")
    for k in ("weights_type", "input_masks", "input_scales", "exposure_times", "input_variances", "return_products",
              "product_outputs", "bad_bits", "flags_combine"):
        if kwargs.pop(k, None) not in (None, False):
            _refuse(k, "survey products are computed for 2-D mosaics only")
    nthreads, client = parse_parallel(parallel)
    executor = executor_for(threads=nthreads, client=client)
    threads = executor.threads  # a missing 'current-scheduler' client fails here, before any work
    method, func = _method(reproject_function)
    rkw = _resampler_kwargs(func, kwargs, custom=(method == "custom"))
    parse_memory(memory_limit)
    wcs_out, shape_full = parse_output_projection(output_projection, shape_out=shape_out)
    shape_full = tuple(int(s) for s in shape_full)
    lead, shape_out = shape_full[:-2], shape_full[-2:]
    if any(s <= 0 for s in shape_full):
        raise ValueError(f"shape_out: expected positive integers, got {shape_full}")
    nz = int(np.prod(lead))
    if method == "adaptive":
        rkw = dict(rkw, shape_out=shape_out)
    resampler = get_resampler("interp" if method == "custom" else method, **({} if method == "custom" else rkw))
    roundtrip = bool(rkw.get("roundtrip_coords", True))
    margin = 0 if method == "custom" else resampler.margin

    sources = {}  # overlapping inputs by index, in input order
    raw = {}  # custom function: (array as given, WCS) of each overlapping input
    dtypes = []  # of every input, overlapping or not (the 2-D path's rule: mosaic_dtype)
    for i, item in enumerate(input_data):
        array, wcs_in = parse_input_data(item, hdu_in=hdu_in, name=f"input_data[{i}]")
        if pixel_n_dim(wcs_in) != 2:
            raise ValueError(f"input_data[{i}]: cube mosaics need a WCS with two pixel axes, got {pixel_n_dim(wcs_in)}")
        if is_dask_array(array) and input_weights is None:
            # only the input box the output needs is computed, every plane of it
            # (with weights, which are on the whole input grid, the whole input)
            array, wcs_in = materialise(array, wcs_in, wcs_out, shape_out)
        elif hasattr(array, "compute"):
            array = array.compute()
        array = np.asarray(array)
        if tuple(array.shape[:-2]) != lead:
            raise ValueError(
                f"input_data[{i}]: the leading axes {tuple(array.shape[:-2])} must match shape_out's {lead} "
                "(dimensions to be looped over must match exactly)"
            )
        check_compatible(wcs_in, wcs_out, f"input_data[{i}]")
        plane = array.shape[-2:]
        cube, dtype = as_kernel_array(array.reshape((nz,) + plane))
        dtypes.append(dtype)
        wdata = None
        if input_weights is not None:  # one weight image on the input's pixel grid, for every plane
            w = input_weights[i]
            if not isinstance(w, np.ndarray):
                w, _ = parse_input_data(w, hdu_in=hdu_weights, name=f"input_weights[{i}]")
            w = np.asarray(w, dtype=np.float32)
            if w.shape != plane:
                raise ValueError(f"input_weights[{i}]: expected one weight image of the plane shape {plane}, got {w.shape}")
            wdata = np.where(np.isfinite(w), w, np.float32(0))
        tr, bbox = transform_and_bbox(wcs_in, wcs_out, plane, shape_out, roundtrip=roundtrip)
        if bbox is not None:
            sources[i] = _Input(i, cube, dtype, wdata, tr, bbox)
            if method == "custom":
                raw[i] = (array, wcs_in)

    dtype = np.dtype(np.float32 if all(d == np.float32 for d in dtypes) else np.float64)
    for arr, name in ((output_array, "output_array"), (output_footprint, "output_footprint")):
        if arr is None:
            continue
        if is_chunked_output(arr):
            if tuple(arr.shape) != shape_full:
                raise ValueError(f"{name}: shape {tuple(arr.shape)} does not match shape_out {shape_full}")
        else:
            check_output_array(arr, shape_full, name)
    if output_array is not None:
        dtype = np.dtype(output_array.dtype).newbyteorder("=")
    elif output_footprint is not None:
        dtype = np.dtype(output_footprint.dtype).newbyteorder("=")
    n_alloc = (output_array is None) + (output_footprint is None)
    check_single_outputs(shape_full, dtype, n_alloc, memory_limit)

    if method == "custom":  # the generic path: the user's function on each whole cube, cutouts kept
        need = sum(2 * nz * (s.bbox[1] - s.bbox[0]) * (s.bbox[3] - s.bbox[2]) * 4 for s in sources.values())
        on_disk = intermediate_memmap is True or (intermediate_memmap == "auto" and need > memory_budget(memory_limit)[0])
        if on_disk:
            directory = check_directory(tmpdir or tempfile.gettempdir(), "tmpdir", writable=True)
            make = lambda shape: temp_memmap(directory, shape, np.float32)  # noqa: E731
        else:
            check_temporaries(need, "the cutouts of a custom reproject_function (pass intermediate_memmap=True to "
                                    "keep them in memory-mapped files)", memory_limit)
            make = lambda shape: np.empty(shape, np.float32)  # noqa: E731
        for i, src in sources.items():
            array, wcs_in = raw.pop(i)
            _materialise_custom(func, rkw, src, array, wcs_in, wcs_out, lead, src.wdata, make)

    out = empty_output(shape_full, dtype) if output_array is None else output_array
    fp = empty_output(shape_full, dtype) if output_footprint is None else output_footprint
    multiple = (1, 1)
    for a in (out, fp):
        if is_chunked_output(a):
            unit = write_unit(a)[-2:]
            multiple = tuple(int(np.lcm(m, int(c))) for m, c in zip(multiple, unit))
    local = executor.shares_memory
    state_bytes = 0 if not local else sum(cube_state_nbytes(resampler, s.cube.shape, s.cube.dtype.itemsize)
                                          for s in sources.values() if s.cube is not None)
    # outputs written through per-thread tile copies: chunked stores, and arrays not viewable as planes
    staged = sum(is_chunked_output(a) or as_planes(a, nz) is None for a in (out, fp))
    if not local:
        staged = 2  # every tile comes back as a copy
    th, tw = cube_tile_shape(shape_out, nz, threads, memory_limit, state_bytes, tile, multiple,
                             staged=staged, itemsize=dtype.itemsize,
                             output_bytes=n_alloc * nz * int(np.prod(shape_out)) * dtype.itemsize)
    tiles = tiles_for(shape_out, (th, tw))
    members = tile_members(tiles, {i: s.bbox for i, s in sources.items()}, margin)
    if local:
        for s in sources.values():
            if s.cube is not None:
                s.arrays(resampler)  # the spline coefficients, once, on this thread
    shared = executor.share(sources)
    try:
        backgrounds = None
        if match_background and len(sources) > 1:
            # pair tiles hold every member's layers: planned for the deepest overlap
            depth = max((len(m) for m in members), default=2)
            pair_tile = cube_tile_shape(shape_out, nz * max(2, depth + 2) // 2, threads, memory_limit, state_bytes,
                                        tile, multiple, output_bytes=n_alloc * nz * int(np.prod(shape_out)) * dtype.itemsize)
            backgrounds = _match_backgrounds(sources, resampler, shape_out, nz, margin, background_model,
                                             background_reference, len(input_data), executor, shared, pair_tile,
                                             progress_bar)
        items = [WorkItem(t, tuple(m), k) for k, (t, m) in enumerate(zip(tiles, members))]
        if local:
            work = CubeTileWork(resampler, combine_function, blank_pixel_value, dtype, nz, margin, backgrounds, out, fp)
        else:
            # tiles without inputs are blanked here; the others come back from the workers
            here = CubeTileWork(resampler, combine_function, blank_pixel_value, dtype, nz, margin, None, out, fp)
            for item in items:
                if not item.members:
                    here(item, {})
            items = [item for item in items if item.members]
            work = CubeTileWork(resampler, combine_function, blank_pixel_value, dtype, nz, margin, backgrounds)
        out3 = None if is_chunked_output(out) else as_planes(out, nz)
        fp3 = None if is_chunked_output(fp) else as_planes(fp, nz)
        for item, result in run_work(items, work, executor, shared, progress_bar, "mosaic"):
            if result is not None:  # computed by a worker: written here
                write_tile(out, fp, out3, fp3, item.box, *result)
    finally:
        executor.unshare(shared)
    return out, fp
