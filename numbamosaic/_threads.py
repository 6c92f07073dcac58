"""Threading set-up shared by all drivers.

Numba's default ``workqueue`` threading layer aborts the process when two
Python threads (e.g. dask worker threads) launch parallel kernels at the same
time.  Unless the user chose a layer with ``NUMBA_THREADING_LAYER``, we ask
for a thread-safe one (TBB or OpenMP); ``tests/test_threads.py`` checks that
concurrent launches from several Python threads work.
"""

import os

import numba

from . import _cache  # noqa: F401  (must run before any kernel module is imported)

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "threadsafe"


def resolve_threads(parallel, name="parallel"):
    """Number of threads for ``parallel=False|True|int``.

    ``True`` means all cores Numba may use; ``False`` means one thread.
    """
    if parallel is False or parallel is None:
        return 1
    if parallel is True:
        return numba.config.NUMBA_NUM_THREADS
    if isinstance(parallel, (int,)) and not isinstance(parallel, bool):
        if parallel < 1:
            raise ValueError(f"{name}: the number of threads must be strictly positive, got {parallel}")
        return min(int(parallel), numba.config.NUMBA_NUM_THREADS)
    raise ValueError(f"{name}: expected True, False, a positive int or 'current-scheduler', got {parallel!r}")


class numba_threads:
    """Context manager setting Numba's thread count for the calling thread."""

    def __init__(self, n):
        self.n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))

    def __enter__(self):
        self.old = numba.get_num_threads()
        numba.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        numba.set_num_threads(self.old)
        return False
