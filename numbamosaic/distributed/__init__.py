"""Public names of the dask.distributed executor (which lives in ``numbamosaic._exec._dask``).

Pass ``parallel='current-scheduler'`` or a ``distributed.Client`` to any
numbamosaic function to run it on a cluster (``docs/distributed.md``).
Importing this package does not import dask.
"""

from .._exec._dask import DaskExecutor, DistributedTileError, resolve_client

__all__ = ["DaskExecutor", "DistributedTileError", "resolve_client"]
