"""The dask.distributed executor: work items as tasks on a cluster.

How work and data move (``docs/distributed.md``):

* Every input is scattered **once**: small inputs (inputs given as FITS
  paths, which travel as ``(path, hdu)`` and are memory-mapped lazily on the
  worker) go to every worker; in-memory arrays go to one worker and are
  fetched by the workers whose tasks need them.  The work function is
  scattered once too.  Tasks refer to these futures, so the graph holds one
  task per work item with only the inputs it names: its size grows with the
  actual overlap, not with inputs x items.
* Workers keep loaded inputs (and per-input state such as spline
  coefficients, computed on first use) in the scattered object.
* Where results go is the job's choice of target (``_targets``): when every
  worker can open the outputs (``/dev/shm`` on this host, caller memmaps or
  zarr directory stores or FITS files on a shared file system;
  :func:`shared_outputs` checks each worker), workers write their boxes in
  place and nothing but the item travels back; otherwise workers return
  finished boxes and the client writes each one as it arrives, so client
  memory stays bounded by a few boxes.
* Kernels inside a task run serially (one item per worker thread); the only
  multi-threaded step (the spline prefilter) gets ``cores // worker
  threads`` Numba threads, so workers never oversubscribe.  Each worker
  process compiles (or loads from numbamosaic's on-disk cache) the kernels
  its first task needs; to have workers warm before the first job, run
  ``client.run(numbamosaic.warmup, ...)`` or fill a shared cache with
  ``numbamosaic warmup``.
* A task is a pure function of its inputs: if a worker dies, dask reruns its
  tasks elsewhere and the result is unchanged.  Scattered objects cannot be
  rerun: when the only worker holding one dies, the tasks needing it are
  cancelled, and the client scatters it again and resubmits them
  (:class:`_Scattered`, :func:`_completed`).  A failing task raises
  :class:`DistributedTileError` naming the item and its inputs.

dask is imported only when this executor runs.
"""

import os
import secrets
import tempfile

import numpy as np

from .._common import is_chunked_output
from .._fitsout import release_reopened
from .._threads import numba_threads, resolve_threads
from ._targets import ArrayTarget, FileTarget, ReturnTarget, release_files


class DistributedTileError(RuntimeError):
    """A task (tile, strip, background samples) failed on a worker."""


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
    return max(1, min(resolve_threads(True), (os.cpu_count() or 1) // nthreads))


def _run_item(work_fn, item, *members):
    """The task: ``work_fn(item, {index: input})`` on a worker, errors named after the item."""
    try:
        with numba_threads(_numba_threads_for_worker(), launch=False):
            return work_fn(item, dict(zip(item.members, members)))
    except Exception as exc:
        raise DistributedTileError(f"{item.describe()} failed: {type(exc).__name__}: {exc}") from exc


def _probe_file(path, nbytes):
    """(inode, size, first bytes) of a file as this worker sees it, or None."""
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            head = f.read(nbytes)
        return st.st_ino, st.st_size, head
    except OSError:
        return None


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


def _scatter_inputs(client, groups):
    """Scatter a job's inputs (``groups`` as :class:`_Scattered`); a seam for tests."""
    return _Scattered(client, groups)


class _Restorers:
    """Several :class:`_Scattered` restored together (inputs first)."""

    def __init__(self, *handles):
        self.handles = handles

    def restore(self):
        return sum(h.restore() for h in self.handles)


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


class _Shared:
    """Inputs scattered once for several :func:`~numbamosaic._exec.run_work` calls."""

    def __init__(self, scattered):
        self.scattered = scattered

    def __getitem__(self, key):
        return self.scattered[key]


class DaskExecutor:
    """Runs work items as tasks on a ``dask.distributed`` cluster.

    Parameters
    ----------
    client : distributed.Client or 'current-scheduler'
    """

    shares_memory = False  # work functions run in other processes

    def __init__(self, client):
        self.spec = client  # resolved when the executor first runs
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = resolve_client(self.spec)
        return self._client

    @property
    def threads(self):
        """Worker threads of the cluster."""
        return max(1, sum(self.client.nthreads().values()))

    def share(self, inputs, broadcast=frozenset()):
        """Scatter ``inputs`` once for several runs (release with :meth:`unshare`)."""
        groups = [({k: v for k, v in inputs.items() if k in broadcast}, True),
                  ({k: v for k, v in inputs.items() if k not in broadcast}, False)]
        return _Shared(_scatter_inputs(self.client, groups))

    def unshare(self, shared):
        shared.scattered.release()

    def map(self, items, work_fn, inputs, broadcast=frozenset()):
        own = not isinstance(inputs, _Shared)
        shared = self.share(inputs, broadcast) if own else inputs
        fn = _Scattered(self.client, [({"work_fn": work_fn}, True)])
        client = self.client

        def submit(item):
            return client.submit(_run_item, fn["work_fn"], item, *[shared[i] for i in item.members], pure=False)

        try:
            yield from _completed(client, items, submit, _Restorers(shared.scattered, fn), lambda it: it.describe())
        finally:
            fn.release()
            if own:
                self.unshare(shared)

    # ---- outputs the workers can write -------------------------------------------------

    def outputs(self, shape, dtype, output_array, output_footprint, tmpdir, allocate):
        """:class:`SharedOutputs` for a job whose boxes the workers compute."""
        return SharedOutputs(self.client, shape, dtype, output_array, output_footprint, tmpdir, allocate)


#: work items per worker thread the dask executor aims for (load balance vs task overhead)
TASKS_PER_THREAD = 16
#: largest per-task working set the dask executor will choose
MAX_TASK_BYTES = 512 << 20


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
    """True when every worker sees the stores of both zarr outputs (a probe
    file with a random token, written by the client into each store
    directory)."""
    roots = [_store_root(a) for a in (out, fp)]
    if None in roots:
        return False
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
                return False
    except OSError:
        return False
    finally:
        _unlink(probes)
    return True


def _file_area_target(client, out, fp):
    """True when every worker sees the very file behind two file areas
    (``_fitsout.FitsImageArea``: same inode, size and first header block).
    The areas pickle as (path, offset): workers reopen the file and write
    their boxes into it."""
    paths = list(dict.fromkeys((out.path, fp.path)))
    try:
        for path in paths:
            st = os.stat(path)
            with open(path, "rb") as f:
                head = f.read(2880)
            info = client.run(_probe_file, path, len(head))
            if not all(v is not None and v[0] == st.st_ino and v[1] == st.st_size and v[2] == head for v in info.values()):
                return False
    except OSError:
        return False
    return True


class SharedOutputs:
    """Output arrays for a cluster run, and the target the workers write to.

    On entry: ``(out, fp, target)``.  Caller zarr stores or FITS files
    every worker sees are written by the workers (:class:`ArrayTarget`,
    pickled); caller memmaps every worker sees, or outputs allocated here in
    ``/dev/shm`` (workers on this host) or in ``tmpdir`` (disk-backed
    outputs), are mapped by the workers (:class:`FileTarget`; a random token
    in a header page proves each worker opens the very same file);
    otherwise workers return their boxes (:class:`ReturnTarget`) and
    ``allocate()`` makes the outputs.  On exit the workers drop their
    mappings and the files created here are unlinked (the returned arrays
    keep their mapping).
    """

    def __init__(self, client, shape, dtype, output_array, output_footprint, tmpdir, allocate):
        self.client, self.shape, self.dtype = client, tuple(shape), np.dtype(dtype)
        self.given = (output_array, output_footprint)
        self.tmpdir, self.allocate = tmpdir, allocate
        self.created, self.target = [], None

    def __enter__(self):
        out, fp = self.given
        client = self.client
        if is_chunked_output(out) and is_chunked_output(fp):
            # zarr stores or FITS files every worker sees: workers write their boxes
            # (aligned to the chunk grid, so no two tasks write the same chunk)
            if getattr(out, "file_backed", False) and getattr(fp, "file_backed", False):
                ok = _file_area_target(client, out, fp)
            else:
                ok = _zarr_target(client, out, fp)
            if ok:
                self.target = ArrayTarget(out, fp, self.dtype)
                return out, fp, self.target
        token = secrets.token_bytes(16)
        header = 4096

        def make(directory):
            fd, path = tempfile.mkstemp(prefix="numbamosaic-", suffix=".out", dir=directory)
            os.close(fd)
            self.created.append(path)
            with open(path, "r+b") as f:
                f.write(token)
            return np.memmap(path, dtype=self.dtype, mode="r+", offset=header, shape=self.shape)

        def reachable(arr, head):
            info = client.run(_probe_file, arr.filename, len(head))
            st = os.stat(arr.filename)
            return all(v is not None and v[0] == st.st_ino and v[1] == st.st_size and v[2] == head for v in info.values())

        need = int(np.prod(self.shape)) * self.dtype.itemsize * ((out is None) + (fp is None))
        directory = None
        if need:
            if self.tmpdir is not None:
                directory = self.tmpdir
            elif os.path.isdir("/dev/shm") and _free_bytes("/dev/shm") > 1.5 * need:
                directory = "/dev/shm"
        try:
            if directory is not None:
                out = make(directory) if out is None else out
                fp = make(directory) if fp is None else fp
            ok = True
            for arr in (out, fp):
                if not (isinstance(arr, np.memmap) and arr.filename and arr.flags.c_contiguous
                        and arr.shape == self.shape):
                    ok = False
                    break
                head = token if arr.filename in self.created else b""
                if not reachable(arr, head):
                    ok = False
                    break
            if ok:
                self.target = FileTarget((out.filename, out.offset, out.dtype.str),
                                         (fp.filename, fp.offset, fp.dtype.str), self.shape)
                return out, fp, self.target
        except Exception:
            _unlink(self.created)
            raise
        # boxes travel back to the client: plain outputs as the planner decided
        _unlink(self.created)
        self.created = []
        out, fp = self.allocate()
        self.target = ReturnTarget(self.dtype)
        return out, fp, self.target

    def __exit__(self, *exc):
        t = self.target
        try:
            if isinstance(t, ArrayTarget) and getattr(t.out, "file_backed", False):
                # workers flush and close their descriptors of the file
                self.client.run(release_reopened, list(dict.fromkeys((t.out.path, t.fp.path))))
            elif isinstance(t, FileTarget):
                self.client.run(release_files, t.paths)
        except Exception:  # a worker lost at the very end: its mapping dies with it
            pass
        _unlink(self.created)  # our arrays keep their mapping; the files disappear
        return False


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
