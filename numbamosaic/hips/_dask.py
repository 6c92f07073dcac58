"""HiPS tiles on a ``dask.distributed`` cluster.

The tile function (:mod:`._tiles`: the inputs and everything a tile needs)
is scattered once; each deepest tile of a group is one task returning its
array (a tile: 256 KiB for 256**2 float32), and the client writes the files
and builds the lower orders exactly as in a threaded run, so the HiPS is
bitwise the threaded one.  Client memory: one group of tiles
(``_generate.GROUP_DEPTH``).  Inputs lost with a worker are scattered again
and their tasks resubmitted (the executor's ``_Scattered`` and ``_completed``).  Workers need not
see the output directory.
"""

from .._exec._dask import DistributedTileError, _completed, _Scattered, resolve_client
from .._threads import resolve_threads


def _tile_task(tile_fn, index):
    try:
        return tile_fn(index)
    except Exception as exc:  # named, with the worker's traceback chained
        raise DistributedTileError(f"HiPS tile {index}: {type(exc).__name__}: {exc}") from exc


class DaskTiles:
    """``map(indices)`` -> tiles in the order of ``indices``, computed on the cluster.

    Parameters
    ----------
    client : 'current-scheduler' or distributed.Client
    tile_fn : callable
        A picklable tile function of :mod:`._tiles`.
    """

    def __init__(self, client, tile_fn):
        self.client = resolve_client(client)
        self.scattered = _Scattered(self.client, [({"tiles": tile_fn}, False)])

    def map(self, indices):
        def submit(index):
            return self.client.submit(_tile_task, self.scattered["tiles"], index, pure=False)

        got = dict(_completed(self.client, list(indices), submit, self.scattered, lambda i: f"HiPS tile {i}"))
        return [got[i] for i in indices]

    def close(self):
        self.scattered.release()


def split_parallel(threads, name):
    """``(local threads, client or None)`` for ``threads``/``parallel``:
    ``'current-scheduler'`` or a Client select the dask driver (the local
    threads then write files and build the lower orders)."""

    if isinstance(threads, str) or (threads is not None and type(threads).__name__ == "Client"):
        if isinstance(threads, str) and threads != "current-scheduler":
            raise ValueError(f"{name}: expected True, False, an int or 'current-scheduler', got {threads!r}")
        return resolve_threads(True), threads
    return resolve_threads(True if threads is None else threads, name), None
