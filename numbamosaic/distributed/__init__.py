"""Distributed driver: the same tiles and kernels on a dask.distributed cluster.

Importing this package does not import dask; ``distributed`` is needed only
when a mosaic actually runs with ``parallel='current-scheduler'`` or a
``Client``.
"""

from ._driver import DistributedTileError, coadd_distributed, reproject_single_distributed, resolve_client

__all__ = ["coadd_distributed", "reproject_single_distributed", "resolve_client", "DistributedTileError"]
