"""Threading helpers shared by all drivers.

numbamosaic sets no process-wide Numba option: Numba picks its threading
layer as usual (TBB, else OpenMP, else ``workqueue``; ``NUMBA_THREADING_LAYER``
chooses).  Mosaics and single images never need a thread-safe layer: the
executors (``numbamosaic._exec``) run serial kernels on a Python thread pool.
Only the spline prefilter and the HEALPix kernels launch
Numba's own threads.  TBB and
OpenMP accept launches from several Python threads at once; ``workqueue``
aborts the process on concurrent launches, so when it is the active layer
:func:`parallel_launch` (entered by :class:`numba_threads` too) serialises
numbamosaic's parallel launches behind one lock (correct, but the
concurrent calls then take turns: install ``tbb`` to run them side by side).
``tests/test_threads.py`` checks both cases.

References
----------
Numba documentation, "The Threading Layers",
https://numba.readthedocs.io/en/stable/user/threading-layer.html
"""

import threading

import numba

_LAUNCH_LOCK = threading.RLock()
_THREADSAFE = None


def layer_is_threadsafe():
    """True if Numba's active threading layer accepts concurrent launches.

    Starts Numba's thread pool if it is not running yet (as the first
    parallel kernel would), which fixes the layer for the process.
    """
    global _THREADSAFE
    if _THREADSAFE is None:
        numba.get_num_threads()  # launches the threading layer
        try:
            _THREADSAFE = numba.threading_layer() != "workqueue"
        except ValueError:  # pragma: no cover - layer not initialised
            return False
    return _THREADSAFE


class parallel_launch:
    """Context manager around a call of a ``parallel=True`` kernel.

    A no-op with the TBB and OpenMP layers; with ``workqueue`` it holds a
    process-wide lock so that two Python threads never launch numbamosaic's
    parallel kernels at the same time (which would abort the process).
    """

    def __enter__(self):
        self.lock = None if layer_is_threadsafe() else _LAUNCH_LOCK
        if self.lock is not None:
            self.lock.acquire()
        return self

    def __exit__(self, *exc):
        if self.lock is not None:
            self.lock.release()
        return False


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


def current_threads():
    """Numba threads the calling thread's parallel kernels use."""
    return numba.get_num_threads()


class numba_threads:
    """Context manager setting Numba's thread count for the calling thread.

    It also enters :class:`parallel_launch` (a lock under ``workqueue``, else
    nothing), since a thread count is set to launch parallel kernels; pass
    ``launch=False`` around serial work that only calls parallel kernels
    through their own ``parallel_launch`` (the lock is re-entrant).
    """

    def __init__(self, n, launch=True):
        self.n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
        self.launch = parallel_launch() if launch else None

    def __enter__(self):
        if self.launch is not None:
            self.launch.__enter__()
        self.old = numba.get_num_threads()
        numba.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        numba.set_num_threads(self.old)
        if self.launch is not None:
            self.launch.__exit__(*exc)
        return False
