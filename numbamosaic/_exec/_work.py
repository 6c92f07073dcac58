"""Work items and :func:`run_work`: the one way every job is executed.

A job (a mosaic, or a single reprojection, which is a one-input mosaic) is a
list of :class:`WorkItem` -- an output box and the indices of the inputs that
overlap it -- and a *work function* ``work_fn(item, members)`` that computes
one item from ``members``, a ``{index: input}`` dict of the inputs it names.
:func:`run_work` hands the items to an executor (``_local.SerialExecutor``,
``_local.ThreadExecutor`` or ``_dask.DaskExecutor``), which calls
``work_fn`` on them and yields ``(item, result)`` as items finish.

Determinism: the boxes of a job never overlap and a work function writes
only inside its item's box (or returns the box's pixels), so no two threads or
tasks write the same pixel, and each pixel's arithmetic depends on the inputs
and the transform only.  Results are therefore bitwise identical for any
executor and any number of threads or workers.

References
----------
reproject's ``_reproject_dispatcher`` (``reproject/common.py``): one
dispatcher over blocks for every algorithm, local or dask.
"""

from dataclasses import dataclass

from ._progress import progress_iter


@dataclass(frozen=True)
class WorkItem:
    """One unit of work: an output box and the inputs overlapping it.

    Attributes
    ----------
    box : tuple of int
        Output pixels ``(y0, y1, x0, x1)`` (half-open) the item computes.
    members : tuple of int
        Indices of the inputs the item reads, in input order (the order the
        combine sees them in).
    key : object
        The caller's tag (e.g. the tile index), handed back with the result.
    what : str
        How errors name the item (``"tile"``, ``"strip"``, ...).
    """

    box: tuple
    members: tuple = ()
    key: object = None
    what: str = "tile"

    def describe(self):
        return f"{self.what} {tuple(self.box)} with inputs {list(self.members)}"


def run_work(items, work_fn, executor, inputs=None, progress=None, desc="tiles", broadcast=()):
    """Run ``work_fn(item, members)`` on every item; yield ``(item, result)`` as each finishes.

    Parameters
    ----------
    items : sequence of WorkItem
    work_fn : callable
        ``work_fn(item, members) -> result`` with ``members`` the dict
        ``{i: inputs[i] for i in item.members}``.  Must be picklable (a
        module-level function or an instance of a module-level class) for
        the dask executor, which ships it to the workers once.
    executor : SerialExecutor, ThreadExecutor or DaskExecutor
    inputs : dict, optional
        ``{index: input}`` for every index the items name.  The dask
        executor scatters each input once and re-scatters it if a worker
        holding it dies.
    progress : None, bool or callable
        ``True`` for tqdm, or a tqdm-like callable wrapping a sized iterable.
    desc : str
        Progress-bar label.
    broadcast : iterable of keys
        Inputs that are small (e.g. file references) and go to every dask
        worker at once; others are sent to one worker and fetched by the
        workers that need them.  Ignored by the local executors.

    Yields
    ------
    item, result
        In completion order (item order for the serial executor).
    """
    items = list(items)
    results = executor.map(items, work_fn, {} if inputs is None else inputs, frozenset(broadcast))
    return progress_iter(progress, results, len(items), desc)


def members_of(item, inputs):
    """``{i: inputs[i]}`` for the inputs ``item`` names."""
    return {i: inputs[i] for i in item.members}
