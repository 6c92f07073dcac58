"""Run mosaics and single reprojections on a ``dask.distributed`` cluster.

The distributed driver executes exactly the tiles the planner made for the
threaded driver, with the same kernels (``mosaic._tiles.compute_tile``), so
the result is bitwise identical to a local run.

How work and data move:

* Every input is scattered **once** as a light :class:`~numbamosaic.mosaic._inputs.Source`:
  inputs given as FITS paths travel as ``(path, hdu)`` and are opened lazily
  (memory-mapped) on the worker; in-memory arrays travel inside the
  scattered source, once per worker that needs them.  Tasks refer to these
  futures, so the graph holds one task per non-empty output tile with only
  the inputs overlapping it: its size grows with the actual overlap, not
  with inputs x tiles.
* Workers keep loaded inputs (and per-input state such as spline
  coefficients) in the scattered object.  When every worker can open the
  output as a file (the workers run on this host, where the outputs are
  allocated in ``/dev/shm``; or the caller passed ``np.memmap`` outputs on a
  file system all workers share), workers write their tiles straight into
  it and nothing but a tile index travels back.  Otherwise workers return
  finished tiles and the client writes each one into the output as it
  arrives and releases it, so client memory stays bounded by a few tiles.
* Background matching runs a first round of tasks returning pairwise
  difference samples (small), solved on the client; the background models
  are then passed to the tile tasks as a small argument.
* Kernels inside a task run serially (one tile per worker thread); the only
  multi-threaded step (spline prefilter) gets ``cores // worker threads``
  Numba threads, so workers never oversubscribe.  Each worker process
  compiles (or loads from numbamosaic's on-disk cache) the kernels its first
  task needs; the driver adds no warm-up round trip.  To have workers warm
  before the first job, populate a shared cache with ``numbamosaic warmup``
  or run ``client.run(numbamosaic.warmup, methods=..., combines=...)``
  (``docs/distributed.md``).
* A task is a pure function of its inputs: if a worker dies, dask reruns its
  tasks elsewhere and the mosaic is unchanged.  Scattered inputs cannot be
  rerun: when the only worker holding one dies, the tasks needing it are
  cancelled, and the client scatters the input again and resubmits them
  (:class:`_Scattered`, :func:`_completed`).  A failing task raises
  :class:`DistributedTileError` naming the tile and its inputs.
"""

import os

import numpy as np


class DistributedTileError(RuntimeError):
    """A tile task failed on a worker."""


def resolve_client(client):
    """The ``distributed.Client`` for ``parallel='current-scheduler'`` or a Client."""
    try:
        from distributed import get_client
    except ImportError as exc:  # pragma: no cover
        raise ImportError("parallel='current-scheduler' needs dask.distributed: pip install 'numbamosaic[dask]'") from exc
    if client == "current-scheduler":
        try:
            return get_client()
        except ValueError:
            raise ValueError(
                "parallel='current-scheduler' needs an active dask.distributed Client "
                "(create one first, e.g. Client(LocalCluster()))"
            ) from None
    return client


def _numba_threads_for_worker():
    """Numba threads per task so that worker threads x Numba threads <= cores."""
    try:
        from distributed import get_worker

        w = get_worker()
        nthreads = max(1, int(w.state.nthreads if hasattr(w, "state") else w.nthreads))
    except Exception:
        nthreads = 1
    from .._threads import resolve_threads

    return max(1, min(resolve_threads(True), (os.cpu_count() or 1) // nthreads))


_TARGETS = {}


def _open_target(path, offset, dtype, shape):
    """This worker's mapping of a shared output file (opened once per run)."""
    key = (path, offset, str(dtype), tuple(shape))
    arr = _TARGETS.get(key)
    if arr is None:
        arr = np.memmap(path, dtype=dtype, mode="r+", offset=offset, shape=tuple(shape))
        _TARGETS[key] = arr
    return arr


def _release_targets(paths):
    """Drop this worker's mappings of the given files (so their space is freed)."""
    for key in [k for k in _TARGETS if k[0] in paths]:
        arr = _TARGETS.pop(key)
        del arr
    return True


def _probe_file(path, nbytes):
    """(inode, size, first bytes) of a file as this worker sees it, or None."""
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            head = f.read(nbytes)
        return st.st_ino, st.st_size, head
    except OSError:
        return None


def _tile_task(tile, members, sources, resampler, combine, blank, margin, bgs, clip_sigma, clip_iters, dtype, target):
    from .._threads import numba_threads
    from ..mosaic._tiles import compute_tile

    by_index = {s.index: s for s in sources}
    for s in sources:
        if bgs is not None:
            s.bg = bgs[s.index]
    y0, y1, x0, x1 = tile
    try:
        with numba_threads(_numba_threads_for_worker(), launch=False):
            zarr_target = target is not None and target[0] == "sink"  # zarr store or FITS file area
            if target is not None and not zarr_target:  # write straight into the shared output file
                (opath, ooff, odt), (fpath, foff, fdt), shape = target
                out = _open_target(opath, ooff, odt, shape)[y0:y1, x0:x1]
                fp = _open_target(fpath, foff, fdt, shape)[y0:y1, x0:x1]
            else:
                out = np.empty((y1 - y0, x1 - x0), dtype=dtype)
                fp = np.empty((y1 - y0, x1 - x0), dtype=dtype)
            compute_tile(tile, members, by_index, resampler, combine, blank, out=np.asarray(out), fp=np.asarray(fp),
                         margin=margin, nsigma=clip_sigma, maxiter=clip_iters)
            if zarr_target:  # one aligned write of whole chunks per output
                target[1][y0:y1, x0:x1] = out
                target[2][y0:y1, x0:x1] = fp
    except Exception as exc:
        raise DistributedTileError(f"tile {tile} with inputs {members} failed: {type(exc).__name__}: {exc}") from exc
    if target is not None:
        return tile, None, None
    return tile, out, fp


def _pairs_task(k, tile, members, sources, resampler, margin, stride, positions):
    from .._threads import numba_threads
    from ..mosaic._background import PairCollector
    from ..mosaic._tiles import stack_tile

    by_index = {s.index: s for s in sources}
    try:
        with numba_threads(_numba_threads_for_worker(), launch=False):
            vals, wts = stack_tile(tile, members, by_index, resampler, margin, with_background=False)
            return k, PairCollector(stride, positions).add_tile(vals, wts, members, tile[0], tile[2])
    except Exception as exc:
        raise DistributedTileError(f"background samples of tile {tile} with inputs {members} failed: {exc}") from exc


class _Scattered:
    """Objects scattered to the cluster once, scattered again if they are lost.

    Scattered data has no recipe on the scheduler: when the only worker
    holding it dies, the key is forgotten and every task waiting on it is
    cancelled.  Holding more replicas does not prevent this: dask's active
    memory manager (``ReduceReplicas``, every 2 s by default) drops the
    replicas no waiting task needs.  So the client keeps the (light) objects
    and :meth:`restore` re-scatters the lost ones; :func:`_completed` then
    resubmits the cancelled tasks.

    Parameters
    ----------
    client : distributed.Client
    groups : list of (dict, bool)
        ``({key: object}, broadcast)``: one ``scatter`` call (one round trip
        to the scheduler) per group; ``broadcast`` sends the group to every
        worker (for objects that are small, e.g. file references).
    """

    def __init__(self, client, groups):
        self.client = client
        self.objects, self.broadcast, self.futures = {}, {}, {}
        for objects, broadcast in groups:
            self.objects.update(objects)
            self.broadcast.update(dict.fromkeys(objects, broadcast))
            self._scatter(list(objects))

    def _scatter(self, keys):
        for broadcast in (False, True):
            group = [k for k in keys if self.broadcast[k] == broadcast]
            if group:
                fs = self.client.scatter([self.objects[k] for k in group], hash=False, broadcast=broadcast)
                self.futures.update(zip(group, fs))

    def __getitem__(self, key):
        return self.futures[key]

    def restore(self):
        """Scatter again every object whose data was lost; returns how many."""
        lost = [k for k, f in self.futures.items() if f.status != "finished"]
        for k in lost:
            self.futures[k].release()
        self._scatter(lost)
        return len(lost)

    def release(self):
        for f in self.futures.values():
            f.release()


#: times a task is resubmitted after its scattered inputs were lost with a worker
MAX_RESUBMITS = 3


def _completed(client, items, submit, scattered, what):
    """Yield ``(item, result)`` for each item as its task ``submit(item)`` completes.

    A task cancelled because the scattered objects it needed were lost with
    a worker is resubmitted (at most ``MAX_RESUBMITS`` times) after
    ``scattered.restore()``; a task that fails raises
    :class:`DistributedTileError` (``what(item)`` names it).  ``submit``
    must look the scattered futures up when called.
    """
    from distributed import as_completed
    from distributed.client import FutureCancelledError

    done = as_completed(with_results=True)
    item_of, tries = {}, {}

    def launch(i):
        fut = submit(items[i])
        item_of[fut.key] = i
        done.add(fut)

    for i in range(len(items)):
        launch(i)
    for fut, result in done:
        i = item_of.pop(fut.key)
        if fut.status == "error":
            fut.result()  # raises the task's DistributedTileError
        if fut.cancelled() or isinstance(result, FutureCancelledError):
            tries[i] = tries.get(i, 0) + 1
            if tries[i] > MAX_RESUBMITS:
                raise DistributedTileError(f"{what(items[i])}: cancelled {tries[i]} times (workers lost)")
            fut.release()
            scattered.restore()
            launch(i)
            continue
        fut.release()
        yield items[i], result


def _scatter_sources(client, job):
    """Scatter each used source once; returns a :class:`_Scattered` keyed by input index.

    Sources that reference files are tiny and go to every worker; sources
    holding in-memory arrays go to one worker (others fetch them when their
    tasks need them).
    """
    used = [src for src in job.sources if src.bbox is not None]
    by_file = {s.index: s for s in used if s.ref.array is None and getattr(s, "precomputed", None) is None}
    in_memory = {s.index: s for s in used if s.index not in by_file}
    return _Scattered(client, [(by_file, True), (in_memory, False)])


def _store_root(arr):
    """Directory of a zarr array's local filesystem store, or None."""
    store = getattr(arr, "store", None)
    name = type(store).__name__
    if name == "LocalStore" and not getattr(store, "read_only", False):
        return str(store.root)
    if name == "DirectoryStore":  # zarr 2
        return str(store.path)
    return None


def _zarr_target(client, out, fp):
    """``("sink", out, fp)`` when every worker sees the stores of both zarr
    outputs (a probe file with a random token, written by the client into
    each store directory), else None."""
    import secrets

    roots = [_store_root(a) for a in (out, fp)]
    if None in roots:
        return None
    token = secrets.token_hex(16)
    probes = []
    try:
        for root in dict.fromkeys(roots):
            path = os.path.join(root, f".numbamosaic-probe-{token}")
            probes.append(path)  # before writing: removed even if the write fails
            with open(path, "w") as f:
                f.write(token)
        for path in probes:
            info = client.run(_probe_file, path, len(token))
            if not all(v is not None and v[2] == token.encode() for v in info.values()):
                return None
    except OSError:
        return None
    finally:
        _unlink(probes)
    return ("sink", out, fp)


def _file_area_target(client, out, fp):
    """``("sink", out, fp)`` when every worker sees the very file behind two
    file areas (``_fitsout.FitsImageArea``: same inode, size and first header
    block), else None.  The areas pickle as (path, offset): workers reopen
    the file and write their tiles into it."""
    paths = list(dict.fromkeys((out.path, fp.path)))
    try:
        for path in paths:
            st = os.stat(path)
            with open(path, "rb") as f:
                head = f.read(2880)
            info = client.run(_probe_file, path, len(head))
            if not all(v is not None and v[0] == st.st_ino and v[1] == st.st_size and v[2] == head for v in info.values()):
                return None
    except OSError:
        return None
    return ("sink", out, fp)


def _shared_outputs(client, job, output_array, output_footprint):
    """Output arrays the workers can write into directly, when possible.

    Returns ``(out, fp, target, created)``: ``target`` describes the two
    files for the workers (None when tiles must travel back to the client)
    and ``created`` lists files this run made (unlinked at the end; the
    returned arrays stay valid).  Caller memmaps are used when every worker
    sees the same files; otherwise outputs we allocate go to ``/dev/shm``
    (shared memory, when the workers are on this host) or to the planner's
    ``tmpdir`` for disk-backed outputs, with a random token in a header page
    proving that each worker opens the very same file.  Caller zarr arrays
    on a filesystem store every worker sees give ``target = ("sink", out,
    fp)``: workers write their (chunk-aligned) tiles themselves.
    """
    import secrets
    import tempfile

    from .._common import is_chunked_output

    if is_chunked_output(output_array) and is_chunked_output(output_footprint):
        # zarr stores or FITS files every worker sees: workers write their tiles
        # (aligned to the chunk grid, so no two tasks write the same chunk)
        if getattr(output_array, "file_backed", False) and getattr(output_footprint, "file_backed", False):
            target = _file_area_target(client, output_array, output_footprint)
        else:
            target = _zarr_target(client, output_array, output_footprint)
        if target is not None:
            return output_array, output_footprint, target, []
    shape, dtype = job.shape_out, np.dtype(job.plan.dtype)
    created = []
    token = secrets.token_bytes(16)
    header = 4096

    def make(directory):
        fd, path = tempfile.mkstemp(prefix="numbamosaic-", suffix=".out", dir=directory)
        os.close(fd)
        created.append(path)
        with open(path, "r+b") as f:
            f.write(token)
        return np.memmap(path, dtype=dtype, mode="r+", offset=header, shape=shape)

    def reachable(arr, head):
        info = client.run(_probe_file, arr.filename, len(head))
        st = os.stat(arr.filename)
        return all(v is not None and v[0] == st.st_ino and v[1] == st.st_size and v[2] == head for v in info.values())

    out, fp = output_array, output_footprint
    need = int(np.prod(shape)) * dtype.itemsize * ((out is None) + (fp is None))
    directory = None
    if need:
        if job.plan.outputs == "memmap":
            directory = job.plan.tmpdir
        elif os.path.isdir("/dev/shm") and _free_bytes("/dev/shm") > 1.5 * need:
            directory = "/dev/shm"
    try:
        if directory is not None:
            out = make(directory) if out is None else out
            fp = make(directory) if fp is None else fp
        ok = True
        for arr in (out, fp):
            if not (isinstance(arr, np.memmap) and arr.filename and arr.flags.c_contiguous and arr.shape == tuple(shape)):
                ok = False
                break
            mine = arr.filename in created
            head = token if mine else b""
            if not reachable(arr, head):
                ok = False
                break
        if ok:
            target = ((out.filename, out.offset, out.dtype.str), (fp.filename, fp.offset, fp.dtype.str), shape)
            return out, fp, target, created
    except Exception:
        _unlink(created)
        raise
    # tiles travel back to the client: plain outputs as the planner decided
    _unlink(created)
    from ..mosaic._coadd import _allocate_outputs

    out, fp = _allocate_outputs(job, output_array, output_footprint)
    return out, fp, None, []


def _free_bytes(path):
    try:
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize
    except OSError:
        return 0


def _unlink(paths):
    for p in paths:
        try:
            os.unlink(p)
        except OSError:
            pass


#: tiles per worker thread the distributed driver aims for (load balance vs task overhead)
TASKS_PER_THREAD = 16
#: largest per-task working set the distributed driver will choose
MAX_TASK_BYTES = 512 << 20


def _retile(client, job):
    """Fewer, larger tiles on a cluster: each task costs milliseconds of overhead.

    Every output pixel is computed independently of the tiling (and the
    background samples lie on a global lattice), so the result is the same
    bit for bit; only the number of tasks changes.  Tiles grow (up to 2048
    pixels) while there are at least ``TASKS_PER_THREAD`` tasks per worker
    thread and a task's working set stays under ``MAX_TASK_BYTES``.
    """
    from ..mosaic._plan import tile_memory, tile_members, tiles_for

    nthreads = max(1, sum(client.nthreads().values()))
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
        if len(busy) < TASKS_PER_THREAD * nthreads:
            break
        if tile_memory(bigger, depth, stack, itemsize, job.match_background) > MAX_TASK_BYTES:
            break
        tile, job.tiles, job.members = bigger, tiles, members


def coadd_distributed(job, output_array=None, output_footprint=None):
    """Execute a prepared mosaic job on the cluster; returns ``(out, fp)``."""
    client = resolve_client(job.client)
    _retile(client, job)
    out, fp, target, created = _shared_outputs(client, job, output_array, output_footprint)
    src_f = _scatter_sources(client, job)
    margin = job.resampler.margin
    bgs = None
    try:
        if job.match_background:
            from ..mosaic._background import PairCollector, sample_stride, solve_backgrounds

            stride = sample_stride(job.shape_out)
            positions = job.background_model == "plane"
            collector = PairCollector(stride, positions)
            def submit_pairs(k):
                m = job.members[k]
                return client.submit(_pairs_task, k, job.tiles[k], m, [src_f[i] for i in m], job.resampler, margin,
                                     stride, positions, pure=False)

            overlapped = [k for k, m in enumerate(job.members) if len(m) > 1]
            for _, (k, found) in _completed(client, overlapped, submit_pairs, src_f,
                                            lambda k: f"background samples of tile {job.tiles[k]}"):
                collector.merge(k, found)
            models = solve_backgrounds(len(job.sources), collector.pair_estimates(job.background_model), job.background_reference)
            bgs = {i: models[i].copy() for i in src_f.objects}
            for src in job.sources:
                src.bg = models[src.index].copy()
        dtype = np.dtype(job.plan.dtype)
        from .._common import chunked_or_array

        # chunked stores (zarr) are written tile by tile, never read back
        vout, vfp = chunked_or_array(out), chunked_or_array(fp)
        busy = []
        for k, m in enumerate(job.members):
            y0, y1, x0, x1 = job.tiles[k]
            if not m:
                vout[y0:y1, x0:x1] = job.blank
                vfp[y0:y1, x0:x1] = 0
            else:
                busy.append(k)

        def submit_tile(k):
            m = job.members[k]
            return client.submit(
                _tile_task, job.tiles[k], m, [src_f[i] for i in m], job.resampler, job.combine, job.blank, margin,
                {i: bgs[i] for i in m} if bgs is not None else None, job.clip_sigma, job.clip_iters, dtype, target,
                pure=False,
            )

        from ..mosaic._coadd import _progress

        results = _completed(client, busy, submit_tile, src_f, lambda k: f"tile {job.tiles[k]}")
        for _, (tile, o, f) in _progress(job, results, len(busy), "mosaic"):
            if o is not None:
                y0, y1, x0, x1 = tile
                vout[y0:y1, x0:x1] = o
                vfp[y0:y1, x0:x1] = f
    finally:
        src_f.release()
        if target is not None and target[0] == "sink" and getattr(target[1], "file_backed", False):
            from .._fitsout import release_reopened

            try:  # workers flush and close their mappings of the file
                client.run(release_reopened, list(dict.fromkeys((target[1].path, target[2].path))))
            except Exception:  # a worker lost at the very end: its mapping dies with it
                pass
        if target is not None and target[0] != "sink":
            try:
                client.run(_release_targets, [target[0][0], target[1][0]])
            except Exception:  # a worker lost at the very end: its mapping dies with it
                pass
        _unlink(created)  # our arrays keep their mapping; the files disappear
    return out, fp


def _strip_task(method, data, state_fn_params, tr, box, out_dtype, want_fp):
    from .._resamplers import get_resampler
    from .._threads import numba_threads
    from ..kernels._sinks import SINK_VALUE, SINK_WRITE

    y0, y1, x0, x1 = box
    with numba_threads(_numba_threads_for_worker(), launch=False):
        resampler = get_resampler(method, **state_fn_params)
        state = resampler.prepare(data)
        val = np.empty((y1 - y0, x1 - x0), dtype=out_dtype)
        wt = np.empty_like(val) if want_fp else np.empty((1, 1), dtype=out_dtype)
        nowt = np.empty((0, 0), dtype=np.float32)
        resampler.tile(data, state, nowt, tr, y0, y1, x0, x1, val, wt, y0, x0, SINK_WRITE if want_fp else SINK_VALUE, np.zeros(3))
    return box, val, (wt if want_fp else None)


def reproject_single_distributed(method, job, out, fp, return_footprint, client, params):
    """Single-image reprojection split into output strips on the cluster.

    The input array is scattered once; each task resamples one strip of rows
    with the method's serial kernel and returns it; the client writes strips
    as they arrive.  Identical to the threaded result, bit for bit.
    """
    from ..wcs import transform_and_bbox

    client = resolve_client(client)
    roundtrip = bool(params.get("roundtrip_coords", True))
    tr, bbox = transform_and_bbox(job.wcs_in, job.wcs_out, job.data.shape, job.shape_out, roundtrip=roundtrip)
    out[...] = np.nan
    if fp is not None:
        fp[...] = 0
    if bbox is None:
        return (out, fp) if return_footprint else out
    from .._resamplers import get_resampler

    margin = get_resampler(method, **params).margin
    ny, nx = job.shape_out
    y0, y1, x0, x1 = bbox
    y0, y1, x0, x1 = max(0, y0 - margin), min(ny, y1 + margin), max(0, x0 - margin), min(nx, x1 + margin)
    shared = _Scattered(client, [({"data": job.data, "tr": tr}, False)])
    nworkers = max(1, sum(client.nthreads().values()))
    rows = max(16, -(-(y1 - y0) // (4 * nworkers)))
    boxes = [(ys, min(y1, ys + rows), x0, x1) for ys in range(y0, y1, rows)]

    def submit_strip(box):
        return client.submit(_strip_task, method, shared["data"], params, shared["tr"], box, out.dtype,
                             fp is not None, pure=False)

    try:
        for _, (box, val, wt) in _completed(client, boxes, submit_strip, shared, lambda box: f"strip {box}"):
            b0, b1, c0, c1 = box
            out[b0:b1, c0:c1] = val
            if fp is not None:
                fp[b0:b1, c0:c1] = wt
    finally:
        shared.release()
    return (out, fp) if return_footprint else out
