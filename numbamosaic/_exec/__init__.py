"""The execution layer: every job is a list of work items run by :func:`run_work`.

Executors: :class:`SerialExecutor` (the calling thread),
:class:`ThreadExecutor` (a pool of Python threads running the GIL-free
serial kernels) and :class:`DaskExecutor` (``dask.distributed`` tasks).
:func:`executor_for` picks one from a ``parallel=`` argument.  dask is
imported only when a :class:`DaskExecutor` runs.
"""

from .._common import parse_parallel
from ._dask import DaskExecutor, DistributedTileError, resolve_client
from ._local import SerialExecutor, ThreadExecutor
from ._progress import progress_iter
from ._targets import ArrayTarget, FileTarget, ReturnTarget, temp_memmap
from ._work import WorkItem, run_work

__all__ = [
    "WorkItem", "run_work", "executor_for", "SerialExecutor", "ThreadExecutor", "DaskExecutor",
    "DistributedTileError", "resolve_client", "progress_iter", "ArrayTarget", "FileTarget", "ReturnTarget",
    "temp_memmap",
]


def executor_for(parallel=None, threads=None, client=None):
    """The executor for ``parallel`` (``True``/``False``/int/'current-scheduler'/Client),
    or for an already parsed ``threads`` count and ``client``."""
    if parallel is not None:
        threads, client = parse_parallel(parallel)
    if client is not None:
        return DaskExecutor(client)
    return ThreadExecutor(threads) if threads and threads > 1 else SerialExecutor()
