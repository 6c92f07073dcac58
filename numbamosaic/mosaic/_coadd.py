"""``reproject_and_coadd`` and ``plan_mosaic``: the threaded mosaic driver.

(Above 600 lines on purpose: the public function's reproject-compatible
argument handling and the four pipeline stages below read best in order in
one place; the per-tile work, the planner, the inputs, the products and the
background solve live in their own modules.)

Pipeline (each stage a function below):

1. ``_prepare``: validate every argument, parse inputs lazily, build each
   input's transform and bounding box, and plan (``_plan.make_plan``).
2. ``_materialise_custom``: only for a user ``reproject_function`` that is
   not numbamosaic's: per-input cutouts (RAM or memmap), the generic path.
3. ``_match_backgrounds``: optional pass over tiles collecting pairwise
   overlap differences, then a global solve (``_background``).
4. ``_run_tiles``: threads take output tiles; each tile resamples its
   overlapping inputs in input order and combines them (``_tiles``), writing
   straight into the output.  No two threads write the same pixel and the
   arithmetic per pixel is fixed, so results are bitwise identical for any
   thread count (and for the distributed driver, which runs the same tiles).

Temporary files (disk-backed outputs or intermediates) are unlinked right
after they are mapped, so nothing is left behind on success, error or Ctrl-C.
"""

import functools
import inspect
import logging
import mmap
import tempfile
import threading
from dataclasses import dataclass, field

import numpy as np

from .._budget import empty_output
from .._axes import check_compatible, check_extra_axes, image_plane
from .._daskin import is_dask_array, materialise
from .._common import check_mosaic_output, check_output_array, check_shape_out, plane_view, is_chunked_output, parse_parallel, write_unit
from .. import adaptive, exact, interpolation
from ..io import kernel_dtype, parse_output_projection
from ..wcs import transform_and_bbox
from .._validate import check_coadd_arguments, check_directory
from .._resamplers import get_resampler
from ._background import PairCollector, sample_stride, solve_backgrounds
from ._cubes import coadd_cube, is_cube_mosaic, wcs_slice
from ._inputs import make_sources, open_files_budget
from ._plan import make_plan, parse_memory, tile_memory, tile_members, tiles_for
from . import _products
from ._tiles import COMBINES, PairWork, TileWork
from .._exec import ArrayTarget, WorkItem, executor_for, run_work, temp_memmap
from .._exec._dask import MAX_TASK_BYTES, TASKS_PER_THREAD

log = logging.getLogger("numbamosaic")

_LOAD_LOCK = threading.Lock()


@dataclass
class MosaicJob:
    """Everything the drivers need to execute a mosaic."""

    sources: list
    wcs_out: object
    shape_out: tuple
    resampler: object
    method: str
    combine: str
    plan: object
    tiles: list
    members: list
    blank: float
    match_background: bool
    background_reference: object
    background_model: str
    custom_function: object = None
    custom_kwargs: dict = field(default_factory=dict)
    clip_sigma: float = 3.0
    clip_iters: int = 5
    client: object = None
    progress_bar: object = None
    shape_full: tuple = None  # shape_out as given (degenerate leading axes included)
    products: object = None  # _products.ProductSpec when masks, scales, weight types or products are asked for


def _method_of(reproject_function):
    """('interp'|'exact'|'adaptive'|'custom', public function)."""
    if reproject_function is None or reproject_function is interpolation.reproject_interp:
        return "interp", interpolation.reproject_interp
    if reproject_function is exact.reproject_exact:
        return "exact", reproject_function
    if reproject_function is adaptive.reproject_adaptive:
        return "adaptive", reproject_function
    if not callable(reproject_function):
        raise TypeError(f"reproject_function: expected a callable, got {type(reproject_function).__name__}")
    return "custom", reproject_function


_COADD_ONLY = {"block_size", "return_type", "dask_method", "parallel"}


# keywords numbamosaic's own functions read from their ``**kwargs``
_OWN_KWARGS = {"subdivisions", "non_reprojected_dims", "zarr_path"}


def _signature_of(func):
    """``(parameter names, takes **kwargs)`` of ``func``."""
    params = inspect.signature(func).parameters
    return frozenset(params), any(p.kind == p.VAR_KEYWORD for p in params.values())


#: numbamosaic's own functions' signatures (inspect.signature costs ~50 us a call)
_parameters = functools.lru_cache(maxsize=8)(_signature_of)


def _resampler_kwargs(func, kwargs, custom=True):
    """Keep keywords ``func`` accepts; unknown ones raise like a direct call would.

    A user function with ``**kwargs`` takes anything; numbamosaic's own
    functions have ``**kwargs`` only for compatibility, so a misspelt keyword
    must still raise (as it does with reproject's functions).
    """
    params, var_keyword = _parameters(func) if not custom else _signature_of(func)
    open_ended = custom and var_keyword
    known = params if custom else params | _OWN_KWARGS
    clean = {}
    for k, v in kwargs.items():
        if k in _COADD_ONLY:
            continue
        if k not in known and not open_ended:
            raise TypeError(f"reproject_and_coadd: unexpected keyword argument {k!r} for {func.__name__}")
        clean[k] = v
    return clean


def _validate(combine_function, intermediate_memmap, background_model, background_reference, n_inputs, blank_pixel_value):
    if combine_function not in COMBINES:
        raise ValueError(f"combine_function: expected one of {sorted(COMBINES)}, got {combine_function!r}")
    if intermediate_memmap not in (True, False, "auto"):
        raise ValueError(f"intermediate_memmap: expected True, False or 'auto', got {intermediate_memmap!r}")
    if background_model not in ("offset", "plane"):
        raise ValueError(f"background_model: expected 'offset' or 'plane', got {background_model!r}")
    if background_reference is not None:
        if not isinstance(background_reference, (int, np.integer)) or isinstance(background_reference, bool):
            raise TypeError(f"background_reference: expected an input index or None, got {background_reference!r}")
        if not 0 <= background_reference < n_inputs:
            raise ValueError(f"background_reference: index {background_reference} out of range for {n_inputs} inputs")
    try:
        float(blank_pixel_value)
    except (TypeError, ValueError):
        raise TypeError(f"blank_pixel_value: expected a number, got {blank_pixel_value!r}") from None


def _prepare(
    input_data,
    output_projection,
    shape_out=None,
    input_weights=None,
    hdu_in=None,
    hdu_weights=None,
    reproject_function=None,
    combine_function="mean",
    match_background=False,
    background_reference=None,
    output_array=None,
    output_footprint=None,
    blank_pixel_value=0,
    intermediate_memmap=False,
    parallel=True,
    memory_limit=None,
    tmpdir=None,
    background_model="offset",
    tile_size=None,
    progress_bar=None,
    clip_sigma=3.0,
    clip_iters=5,
    **kwargs,
):
    """Stage 1: validate, parse, transform, bound and plan (no heavy allocation)."""
    product_opts, kwargs = _products.split_kwargs(kwargs)
    input_data, input_weights, tile_size = check_coadd_arguments(
        input_data, input_weights, hdu_in, hdu_weights, blank_pixel_value, match_background, tmpdir, tile_size,
        progress_bar, clip_sigma, clip_iters,
    )
    nthreads, client = parse_parallel(parallel)
    method, func = _method_of(reproject_function)
    rkw = _resampler_kwargs(func, kwargs, custom=(method == "custom"))
    _validate(combine_function, intermediate_memmap, background_model, background_reference, len(input_data), blank_pixel_value)
    parse_memory(memory_limit)
    if method == "custom" and intermediate_memmap is True:
        # intermediates will be files there: fail now, not after the first reprojection
        check_directory(tmpdir or tempfile.gettempdir(), "tmpdir", writable=True)
    full_wcs_out, shape_full = parse_output_projection(output_projection, shape_out=shape_out)
    # any WCS with two pixel axes; degenerate extra axes (length 1) are dropped
    wcs_out, shape_out = image_plane(full_wcs_out, shape_full, "output_projection")
    check_shape_out(shape_out)
    output_array = _output_plane(output_array, shape_out, shape_full, "output_array")
    output_footprint = _output_plane(output_footprint, shape_out, shape_full, "output_footprint")
    if output_array is not None:
        check_mosaic_output(output_array, shape_out, "output_array")
    if output_footprint is not None:
        check_mosaic_output(output_footprint, shape_out, "output_footprint")
    # chunked outputs (zarr): tiles are multiples of the chunks, so that no two
    # threads or tasks ever write the same chunk
    chunked = [a for a in (output_array, output_footprint) if a is not None and is_chunked_output(a)]
    tile_multiple = (1, 1)
    for a in chunked:
        tile_multiple = tuple(int(np.lcm(m, int(c))) for m, c in zip(tile_multiple, write_unit(a)))
    for a in _products.chunked_outputs(product_opts):  # product outputs too (last two axes)
        tile_multiple = tuple(int(np.lcm(m, int(c))) for m, c in zip(tile_multiple, write_unit(a)[-2:]))
    sources = make_sources(input_data, hdu_in=hdu_in, input_weights=input_weights, hdu_weights=hdu_weights, allow_swapped=(method != "custom"))
    if method == "custom":
        resampler = _CustomResampler()
    else:
        resampler = get_resampler(method, **rkw)
    roundtrip = bool(rkw.get("roundtrip_coords", True))
    bboxes, dropped = {}, []
    for src in sources:
        check_extra_axes(src.full_wcs, full_wcs_out, shape_full, f"input_data[{src.index}]")
        check_compatible(src.wcs, wcs_out, f"input_data[{src.index}]")
        if src.ref.array is not None and is_dask_array(src.ref.array):
            if src.wref is None:  # only the part of a dask input the output needs is computed
                src.ref.array, src.wcs = materialise(src.ref.array, src.wcs, wcs_out, shape_out)
                src.shape = tuple(src.ref.array.shape)
            else:  # weights are on the whole input grid
                src.ref.array = np.asarray(src.ref.array.compute())
    for src in sources:
        tr, bbox = transform_and_bbox(src.wcs, wcs_out, src.shape, shape_out, roundtrip=roundtrip)
        if bbox is None:
            dropped.append(src.index)
            continue
        src.transform, src.bbox = tr, bbox
        bboxes[src.index] = bbox
    products = _products.parse_products(
        product_opts, input_data, sources, hdu_in, method, combine_function, match_background, client
    )
    if output_array is not None:
        dtype = np.dtype(output_array.dtype).newbyteorder("=")  # zarr may be big-endian; it converts on write
    elif output_footprint is not None:
        dtype = np.dtype(output_footprint.dtype).newbyteorder("=")
    else:
        dtype = mosaic_dtype(sources)
    input_bytes = 0
    state_bytes = 0
    for s in sources:
        if s.index in bboxes:
            state_bytes += getattr(resampler, "state_nbytes", lambda shape, itemsize: 0)(s.shape, s.dtype.itemsize)
            if s.ref.array is not None and not _zero_copy(s.ref.array, method):
                input_bytes += int(np.prod(s.shape)) * kernel_dtype(s.ref.array.dtype).itemsize
    margin = getattr(resampler, "margin", 0)
    # inputs read from files are memory-mapped: their pages are resident from
    # their first tile to their last (see _run_tiles)
    mapped_bytes = {
        s.index: int(np.prod(s.shape)) * s.dtype.itemsize for s in sources if s.index in bboxes and s.ref.path is not None
    }
    file_outputs = sum(bool(getattr(a, "file_backed", False)) for a in (output_array, output_footprint) if a is not None)
    plan = make_plan(
        shape_out,
        dtype,
        bboxes,
        dropped,
        combine_function,
        method,
        nthreads,
        input_bytes,
        state_bytes,
        outputs_to_allocate=(output_array is None) + (output_footprint is None),
        needs_intermediates=method == "custom",
        intermediate_memmap=intermediate_memmap,
        memory_limit=memory_limit,
        tmpdir=tmpdir or tempfile.gettempdir(),
        match_background=match_background,
        tile_size=tile_size,
        margin=margin,
        tile_multiple=tile_multiple,
        staged_outputs=len(chunked),
        mapped_input_bytes=mapped_bytes,
        file_outputs=file_outputs,
        products=products,
        # background matching keeps the MIN_TILES grid: its plane fit takes the samples in tile
        # order, so another tiling could change the last bits of the solved backgrounds
        pixel_cost=None if match_background else getattr(resampler, "pixel_cost", None),
    )
    if plan.intermediates_on_disk or plan.outputs == "memmap":
        # files will be created there: fail now, not after the first reprojection
        check_directory(plan.tmpdir, "tmpdir", writable=True)
    tiles = tiles_for(shape_out, plan.tile_shape)
    members = tile_members(tiles, bboxes, margin)
    return MosaicJob(
        sources=sources,
        wcs_out=wcs_out,
        shape_out=shape_out,
        resampler=resampler,
        method=method,
        combine=combine_function,
        plan=plan,
        tiles=tiles,
        members=members,
        blank=float(blank_pixel_value),
        match_background=bool(match_background) and len(bboxes) > 1,
        background_reference=background_reference,
        background_model=background_model,
        custom_function=func if method == "custom" else None,
        custom_kwargs=rkw if method == "custom" else {},
        clip_sigma=float(clip_sigma),
        clip_iters=int(clip_iters),
        client=client,
        progress_bar=progress_bar,
        shape_full=tuple(shape_full),
        products=products,
    )


def _output_plane(arr, shape_out, shape_full, name):
    """The 2-D plane of a NumPy output given with the degenerate axes of ``shape_full``."""
    if arr is None or tuple(shape_full) == tuple(shape_out) or is_chunked_output(arr):
        return arr
    if tuple(getattr(arr, "shape", ())) == tuple(shape_full):
        check_output_array(arr, shape_full, name)
        return plane_view(arr, shape_out)
    return arr


def mosaic_dtype(sources):
    """Output dtype when the caller passes no output: float32 inputs keep float32."""
    return np.dtype(np.float32 if all(s.dtype == np.float32 for s in sources) else np.float64)


def _zero_copy(array, method):
    dt = np.asarray(array).dtype if not hasattr(array, "dtype") else array.dtype
    if dt.kind != "f" or dt.itemsize not in (4, 8):
        return False
    return dt.isnative or method != "custom"  # fused kernels decode big-endian in place


class _CustomResampler:
    """Placeholder resampler for the generic path (sources carry cutouts)."""

    margin = 0

    def prepare(self, data):
        return data

    def state_nbytes(self, shape, itemsize):
        return 0


def _allocate_outputs(job, output_array, output_footprint):
    plan = job.plan
    shape, dtype = job.shape_out, plan.dtype
    if plan.outputs == "memmap":
        mk = lambda: temp_memmap(plan.tmpdir, shape, dtype)  # noqa: E731
    else:
        mk = lambda: empty_output(shape, dtype)  # noqa: E731
    if output_array is None:
        output_array = mk()
    if output_footprint is None:
        output_footprint = mk()
    return output_array, output_footprint


def _materialise_custom(job):
    """Generic path: run the user's function once per input on its box."""
    plan = job.plan
    for src in job.sources:
        if src.bbox is None:
            continue
        y0, y1, x0, x1 = src.bbox
        shape = (y1 - y0, x1 - x0)
        data, _ = src.ref.load()
        wsub = wcs_slice(job.wcs_out, src.bbox)
        arr, fp = job.custom_function((data, src.wcs), wsub, shape_out=shape, **job.custom_kwargs)
        weight = np.asarray(fp, dtype=np.float32)
        if src.wref is not None:
            w = job.custom_function((src.wref.load()[0], src.wcs), wsub, shape_out=shape, return_footprint=False, **job.custom_kwargs)
            weight = weight * np.where(np.isfinite(w), w, 0).astype(np.float32)
        if plan.intermediates_on_disk:
            val = temp_memmap(plan.tmpdir, shape, np.float32)
            wt = temp_memmap(plan.tmpdir, shape, np.float32)
        else:
            val = np.empty(shape, np.float32)
            wt = np.empty(shape, np.float32)
        val[...] = arr
        bad = ~np.isfinite(val) | ~np.isfinite(weight)
        wt[...] = np.where(bad, 0, weight)
        src.precomputed = (np.asarray(val), np.asarray(wt), y0, x0)
        del arr, fp


def _preload(job):
    """Load inputs and their per-input state once, in the driver's thread.

    Inputs given by file name are preloaded only when they all fit the
    open-files budget of ``_inputs.LOADED``; beyond it (surveys of many
    thousand files) the tiles load them on use through that bounded cache.
    """
    todo = [s for s in job.sources if s.bbox is not None and getattr(s, "precomputed", None) is None]
    if sum(s.ref.path is not None for s in todo) > open_files_budget():
        todo = [s for s in todo if s.ref.path is None]
    for src in todo:
        with _LOAD_LOCK:
            src.arrays(job.resampler)


def release_sources(job):
    """Drop every loaded input of ``job`` (closes the files it mapped)."""
    for src in job.sources:
        src.release()
        src.__dict__.pop("precomputed", None)


def _match_backgrounds(job, executor, inputs):
    """Stage 3: estimate and store each source's background model."""
    collector = PairCollector(sample_stride(job.shape_out), job.background_model == "plane")
    items = [WorkItem(job.tiles[k], tuple(m), k, "background samples of tile") for k, m in enumerate(job.members) if len(m) > 1]
    work = PairWork(job.resampler, job.resampler.margin, collector.stride, collector.positions)
    for item, found in run_work(items, work, executor, inputs, job.progress_bar, "background"):
        collector.merge(item.key, found)
    n = len(job.sources)
    est = collector.pair_estimates(job.background_model)
    models = solve_backgrounds(n, est, job.background_reference)
    for src in job.sources:
        src.bg = models[src.index].copy()
    log.info("background models: %s", models.tolist())
    return models


def _drop_input_pages(src):
    """Drop the resident pages of a source's memory-mapped file data.

    The pages leave this process's resident set but stay in the page cache:
    a later read faults them back in cheaply.  Called after each tile for the
    inputs it read, so the resident input pages are those the running tiles
    read (rows of the inputs under a strip), not every input read so far.
    Only for files this process opened itself: on a caller's copy-on-write
    memmap, ``MADV_DONTNEED`` would discard the caller's changes.
    """
    arr = src.loaded_data() if src.ref.path is not None else None
    base = arr
    while base is not None and not isinstance(base, mmap.mmap):
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    if base is not None and hasattr(base, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            base.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # closed or unusual mapping: nothing to release
            pass


class _LocalTiles:
    """The threaded run's work function: :class:`TileWork` plus this process's bookkeeping.

    Tiles without inputs are blanked by the threads too, so that fresh output
    pages are first touched (faulted) once, in parallel, by the thread that
    owns them.  After each tile the pages of the mapped input files it read
    leave the resident set, and each input's loaded arrays are released
    after its last tile.  Survey products are computed here (in-process).
    """

    def __init__(self, job, tile_work):
        self.job, self.tile_work = job, tile_work
        self.remaining = {}
        for m in job.members:
            for i in m:
                self.remaining[i] = self.remaining.get(i, 0) + 1
        self.lock = threading.Lock()

    def __call__(self, item, members):
        job, target = self.job, self.tile_work.target
        if job.products is not None:
            if not item.members:
                target.blank(item.box, job.blank)
                job.products.blank_tile(item.box)
                return None
            o, f = target.open(item.box)
            job.products.compute_tile(job, item.key, o, f)
            target.close(item.box, o, f)
        else:
            self.tile_work(item, members)
        done = []
        with self.lock:
            for i in item.members:
                self.remaining[i] -= 1
                if self.remaining[i] == 0:
                    done.append(i)
        for i in item.members:
            _drop_input_pages(members[i])
        for i in done:
            members[i].release()
        return None


def _retile(job, threads):
    """Fewer, larger tiles on a cluster: each task costs milliseconds of overhead.

    Every output pixel is computed independently of the tiling (and the
    background samples lie on a global lattice), so the result is the same
    bit for bit; only the number of tasks changes.  Tiles grow (up to 2048
    pixels) while there are at least ``TASKS_PER_THREAD`` tasks per worker
    thread and a task's working set stays under ``MAX_TASK_BYTES``.
    """
    stack = job.combine in ("median", "clipped-mean")
    itemsize = np.dtype(job.plan.dtype).itemsize
    bboxes = {s.index: s.bbox for s in job.sources if s.bbox is not None}
    tile = job.plan.tile_shape
    while tile[0] < 2048:
        bigger = (tile[0] * 2, tile[1] * 2)
        tiles = tiles_for(job.shape_out, bigger)
        members = tile_members(tiles, bboxes, job.resampler.margin)
        busy = [m for m in members if m]
        depth = max((len(m) for m in busy), default=0)
        if len(busy) < TASKS_PER_THREAD * threads:
            break
        if tile_memory(bigger, depth, stack, itemsize, job.match_background) > MAX_TASK_BYTES:
            break
        tile, job.tiles, job.members = bigger, tiles, members


def execute(job, output_array=None, output_footprint=None):
    """Run a prepared :class:`MosaicJob` through its executor; returns ``(array, footprint)``.

    The tiles are the work items (``numbamosaic._exec``): threads, the
    calling thread or dask tasks take tiles, each resampling its member
    inputs and combining them (:class:`~numbamosaic.mosaic._tiles.TileWork`).
    """
    if job.method == "custom":
        _materialise_custom(job)
    executor = executor_for(threads=job.plan.threads, client=job.client)
    if not executor.shares_memory:  # tasks cost milliseconds: fewer, larger tiles
        _retile(job, executor.threads)
    tmpdir = job.plan.tmpdir if job.plan.outputs == "memmap" else None
    used = {s.index: s for s in job.sources if s.bbox is not None}
    # file references are tiny: every worker gets them; in-memory inputs are fetched where needed
    light = {i for i, s in used.items() if s.ref.array is None and getattr(s, "precomputed", None) is None}
    with executor.outputs(job.shape_out, job.plan.dtype, output_array, output_footprint, tmpdir,
                          lambda: _allocate_outputs(job, output_array, output_footprint)) as (out, fp, target):
        if job.products is not None:
            mk = (lambda shp, dt: temp_memmap(job.plan.tmpdir, shp, dt)) if job.plan.outputs == "memmap" else empty_output
            job.products.allocate(job.shape_out, job.plan.dtype, job.members, mk)
        if executor.shares_memory:
            _preload(job)
        inputs = executor.share(used, light)
        try:
            if job.match_background:
                _match_backgrounds(job, executor, inputs)
            items = [WorkItem(t, tuple(m), k) for k, (t, m) in enumerate(zip(job.tiles, job.members))]
            if executor.shares_memory:
                work = _LocalTiles(job, TileWork(job.resampler, job.combine, job.blank, job.resampler.margin,
                                                 job.clip_sigma, job.clip_iters, target))
            else:
                # blank tiles are written here; tasks get the solved backgrounds with the work function
                for item in items:
                    if not item.members:
                        ArrayTarget(out, fp, job.plan.dtype).blank(item.box, job.blank)
                        if job.products is not None:
                            job.products.blank_tile(item.box)
                items = [item for item in items if item.members]
                bgs = {i: s.bg for i, s in used.items()} if job.match_background else None
                if job.products is not None:  # products: computed by the tasks, written here (products)
                    work = _products.ProductTileWork(job.products.for_workers(), job.resampler, job.method, job.blank,
                                                     target, bgs)
                else:
                    work = TileWork(job.resampler, job.combine, job.blank, job.resampler.margin, job.clip_sigma,
                                    job.clip_iters, target, bgs)
            client_side = ArrayTarget(out, fp, job.plan.dtype)
            for item, result in run_work(items, work, executor, inputs, job.progress_bar, "mosaic"):
                if job.products is not None and not executor.shares_memory:
                    result, prods = result
                    job.products.store_tile(item.box, prods)
                if result is not None:  # the box came back: the caller writes it
                    client_side.write(item.box, *result)
        finally:
            executor.unshare(inputs)
    return out, fp


def reproject_and_coadd(
    input_data,
    output_projection,
    shape_out=None,
    input_weights=None,
    hdu_in=None,
    hdu_weights=None,
    reproject_function=None,
    combine_function="mean",
    match_background=False,
    background_reference=None,
    output_array=None,
    output_footprint=None,
    block_sizes=None,
    progress_bar=None,
    blank_pixel_value=0,
    intermediate_memmap=False,
    parallel=True,
    memory_limit=None,
    tmpdir=None,
    background_model="offset",
    clip_sigma=3.0,
    clip_iters=5,
    tile_size=None,
    **kwargs,
):
    """Reproject a list of images onto one output and combine them.

    Drop-in for :func:`reproject.mosaicking.reproject_and_coadd` (same
    arguments, defaults and ``(array, footprint)`` return), executed by a
    planner-driven, tile-parallel engine: threads take output tiles, each
    tile resamples the inputs overlapping it (fused Numba kernels) and
    combines them in input order, writing straight into the output.

    Parameters
    ----------
    input_data : sequence
        Inputs in any form ``reproject_interp`` accepts (file names are read
        lazily through memory maps).
    output_projection : Header, WCS or str
        Output projection; ``shape_out`` is needed for a WCS without
        ``array_shape``.
    shape_out : tuple, optional
    input_weights : sequence, optional
        One weight per input: arrays (same shape as the input), FITS files or
        HDUs (with their own WCS, resampled onto the input grid when it
        differs).  NaN weights count as 0.
    hdu_in, hdu_weights : int or str, optional
        HDU for file/HDUList inputs and weights.
    reproject_function : callable, optional
        ``numbamosaic.reproject_interp`` (default), ``reproject_exact`` or
        ``reproject_adaptive`` run fused; any other callable with reproject's
        signature runs through a generic per-input path.
    combine_function : str
        ``'mean'`` (default), ``'sum'``, ``'median'``, ``'first'``,
        ``'last'``, ``'min'``, ``'max'`` (reproject's semantics) or
        ``'clipped-mean'`` (iterative sigma clipping, ``clip_sigma``,
        ``clip_iters``).
    match_background : bool
        Solve for additive backgrounds from pairwise overlaps and subtract
        them (``background_model='offset'`` or ``'plane'``).
    background_reference : int, optional
        Input whose background is kept (``0`` works, unlike reproject 0.21).
    output_array, output_footprint : ndarray or zarr.Array, optional
        Writable float32/float64 arrays (``np.memmap`` included) written in
        place, tile by tile; or chunked stores such as ``zarr.Array``
        (tiles are then aligned to the chunk grid and written once each,
        never read back).
    block_sizes : ignored
        Accepted for compatibility; the planner chooses tiles.
    progress_bar : callable or bool, optional
        A tqdm-like callable wrapping an iterable, or ``True`` for tqdm.
    blank_pixel_value : float
        Value where no input contributes (default 0, as reproject).
    intermediate_memmap : bool or 'auto'
        Where per-input intermediates go when they are needed (custom
        ``reproject_function``): RAM (False), memory-mapped files in
        ``tmpdir`` (True), or the planner's choice ('auto').  numbamosaic's
        own functions stream tiles and need no intermediates, even for the
        median.
    parallel : bool, int, 'current-scheduler' or distributed.Client
        Threads for the tile loop, or run on dask.distributed.
    memory_limit : int or str, optional
        Memory budget (``'300MB'``); default a safe fraction of available
        memory.  A :class:`MosaicMemoryError` is raised before any work if
        nothing fits.
    tmpdir : str, optional
        Directory for memory-mapped files (default ``$TMPDIR``).
    weights_type : {'weight', 'ivar', 'variance', 'rms'}
        What ``input_weights`` hold (SWarp's ``WEIGHT_TYPE``): relative
        weights (default, as reproject), inverse variance, variance or RMS
        maps.  Noise maps become inverse-variance combine weights and the
        source of the propagated variance.
    input_masks : sequence, optional
        One mask per input (boolean, True = bad, or integer DQ flags; arrays,
        HDUs or files) on the input's pixel grid, sampled nearest-neighbour.
    bad_bits : int or sequence of int, optional
        DQ bits that drop a sample (default: any nonzero value).
    input_scales : sequence of float or str, optional
        Flux scale per input (SWarp's ``FLXSCALE``), or the header keyword
        holding it; applied to values (and ``s^2`` to variances).
    exposure_times : sequence of float or str, optional
        Exposure time per input, or a header keyword (e.g. ``'EXPTIME'``).
    input_variances : sequence, optional
        Per-input variance maps (otherwise a noise-type weight map is used).
    return_products : bool or sequence of str
        ``True`` returns a :class:`~numbamosaic.mosaic.MosaicProducts` with
        every computable product (``variance``, ``count``, ``exposure``,
        ``context``, ``flags``); or name the products wanted.
    flags_combine : {'or', 'and'}
        How the DQ flags of the inputs covering a pixel are combined.
    product_outputs : dict, optional
        Caller-provided arrays for products (name -> array).
    **kwargs
        Passed to the reprojection (e.g. ``order='bicubic'``).

    Returns
    -------
    array, footprint : ndarray
        The mosaic and the summed weights (float32 for float32 inputs); a
        :class:`~numbamosaic.mosaic.MosaicProducts` with ``return_products``.
        With cube inputs (``shape_out`` with leading axes beyond the WCS's two
        pixel axes, reproject's broadcasting) the full-shape arrays, see
        :mod:`numbamosaic.mosaic._cubes`.
    """
    if is_cube_mosaic(output_projection, shape_out):  # cubes: one geometry per output pixel, every plane combined
        return coadd_cube(
            input_data, output_projection, shape_out=shape_out, input_weights=input_weights, hdu_in=hdu_in,
            hdu_weights=hdu_weights, reproject_function=reproject_function, combine_function=combine_function,
            match_background=match_background, background_reference=background_reference, output_array=output_array,
            output_footprint=output_footprint, blank_pixel_value=blank_pixel_value, parallel=parallel,
            memory_limit=memory_limit, tile_size=tile_size, intermediate_memmap=intermediate_memmap, tmpdir=tmpdir,
            background_model=background_model, progress_bar=progress_bar, **kwargs,
        )
    job = _prepare(
        input_data, output_projection, shape_out=shape_out, input_weights=input_weights, hdu_in=hdu_in,
        hdu_weights=hdu_weights, reproject_function=reproject_function, combine_function=combine_function,
        match_background=match_background, background_reference=background_reference, output_array=output_array,
        output_footprint=output_footprint, blank_pixel_value=blank_pixel_value, intermediate_memmap=intermediate_memmap,
        parallel=parallel, memory_limit=memory_limit, tmpdir=tmpdir, background_model=background_model,
        tile_size=tile_size, progress_bar=progress_bar, clip_sigma=clip_sigma, clip_iters=clip_iters, **kwargs,
    )
    log.info("%r", job.plan)
    try:
        out, fp = execute(
            job,
            _output_plane(output_array, job.shape_out, job.shape_full, "output_array"),
            _output_plane(output_footprint, job.shape_out, job.shape_full, "output_footprint"),
        )
    finally:
        release_sources(job)  # every input file opened on the way is closed on return or error
    if job.shape_full != tuple(job.shape_out):  # degenerate leading axes, as reproject returns them
        out = output_array if output_array is not None else out.reshape(job.shape_full)
        fp = output_footprint if output_footprint is not None else fp.reshape(job.shape_full)
    if job.products is not None and job.products.return_products:
        return job.products.result(out, fp, job)
    return out, fp


def plan_mosaic(input_data, output_projection, shape_out=None, **kwargs):
    """Plan a mosaic without running it: returns the :class:`MosaicPlan`.

    Takes the same arguments as :func:`reproject_and_coadd`.
    """
    kwargs.pop("progress_bar", None)
    job = _prepare(input_data, output_projection, shape_out=shape_out, **kwargs)
    return job.plan
