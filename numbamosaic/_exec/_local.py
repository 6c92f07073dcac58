"""Local executors: the calling thread, or a pool of Python threads.

Kernels release the GIL (``nogil=True`` in ``kernels._jit``), so a pool of
Python threads running serial kernels on disjoint output boxes uses every
core without Numba's own threading layer.

The pool of each thread count is started once per process and kept
(:func:`shared_pool`): starting and joining the threads of a fresh pool cost
~0.3-0.5 ms a call, most of a small reprojection.  A work item that itself
runs a threaded job gets a pool of its own (the shared one may be busy with
its caller's items); a forked child starts new pools (it has none of the
parent's threads).
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed, wait

from ._targets import ArrayTarget
from ._work import members_of


_POOLS = {}  # thread count -> ThreadPoolExecutor of this process
_POOLS_LOCK = threading.Lock()
_WORKER = threading.local()  # .pooled is True on the threads of the shared pools


def _mark_worker():
    _WORKER.pooled = True


def shared_pool(threads):
    """The process's pool of ``threads`` worker threads (started on first use, then kept)."""
    pool = _POOLS.get(threads)
    if pool is None:
        with _POOLS_LOCK:
            pool = _POOLS.get(threads)
            if pool is None:
                pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="numbamosaic", initializer=_mark_worker)
                _POOLS[threads] = pool
    return pool


def _forget_pools():
    """In a forked child: the parent's pool threads do not exist here."""
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


class _LocalOutputs:
    """``(out, fp, target)`` for a local run: the caller's or ``allocate()``'s arrays, written in place."""

    def __init__(self, dtype, output_array, output_footprint, allocate):
        self.dtype, self.given, self.allocate = dtype, (output_array, output_footprint), allocate

    def __enter__(self):
        out, fp = self.allocate()
        return out, fp, ArrayTarget(out, fp, self.dtype)

    def __exit__(self, *exc):
        return False


class _Local:
    shares_memory = True  # work functions see the caller's arrays and inputs

    def share(self, inputs, broadcast=frozenset()):
        return inputs

    def unshare(self, shared):
        pass

    def outputs(self, shape, dtype, output_array, output_footprint, tmpdir, allocate):
        """Outputs written in place by the work functions (``allocate()`` makes missing ones)."""
        return _LocalOutputs(dtype, output_array, output_footprint, allocate)


class SerialExecutor(_Local):
    """Runs the items one after the other in the calling thread, in item order."""

    threads = 1

    def map(self, items, work_fn, inputs, broadcast=frozenset()):
        for item in items:
            yield item, work_fn(item, members_of(item, inputs))


class ThreadExecutor(_Local):
    """Runs the items on ``threads`` Python threads; yields in completion order.

    With one thread (or one item) it is the serial executor.  Remaining
    items are cancelled when the consumer stops early or an item raises, and
    the items already running finish before ``map`` returns.  The threads
    are those of :func:`shared_pool` (a fresh pool inside a pool thread).
    """

    def __init__(self, threads):
        self.threads = max(1, int(threads))

    def map(self, items, work_fn, inputs, broadcast=frozenset()):
        if self.threads <= 1 or len(items) <= 1:
            yield from SerialExecutor().map(items, work_fn, inputs)
            return
        nested = getattr(_WORKER, "pooled", False)  # a work item running a threaded job of its own
        if nested:
            pool = ThreadPoolExecutor(max_workers=min(self.threads, len(items)), thread_name_prefix="numbamosaic")
        else:
            pool = shared_pool(self.threads)
        futures = {}
        try:
            for item in items:
                futures[pool.submit(work_fn, item, members_of(item, inputs))] = item
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            for fut in futures:
                fut.cancel()
            wait(futures)  # the running items write the caller's arrays: they end before we return
            if nested:
                pool.shutdown(wait=True)
