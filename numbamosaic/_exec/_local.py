"""Local executors: the calling thread, or a pool of Python threads.

Kernels release the GIL (``nogil=True`` in ``kernels._jit``), so a pool of
Python threads running serial kernels on disjoint output boxes uses every
core without Numba's own threading layer.
"""

from concurrent.futures import ThreadPoolExecutor, as_completed

from ._targets import ArrayTarget
from ._work import members_of


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
    items are cancelled when the consumer stops early or an item raises.
    """

    def __init__(self, threads):
        self.threads = max(1, int(threads))

    def map(self, items, work_fn, inputs, broadcast=frozenset()):
        if self.threads <= 1 or len(items) <= 1:
            yield from SerialExecutor().map(items, work_fn, inputs)
            return
        pool = ThreadPoolExecutor(max_workers=min(self.threads, len(items)), thread_name_prefix="numbamosaic")
        try:
            futures = {pool.submit(work_fn, item, members_of(item, inputs)): item for item in items}
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
