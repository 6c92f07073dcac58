"""Single-image reprojection as a one-input job (``reproject_interp``, ``_exact``, ``_adaptive``).

A public function parses its arguments, builds the job -- a resampler, the
output -> input transform and the output box that can receive values
(:func:`plan_single`, or the adaptive method's own planning) -- and hands it
to :func:`run_single`, which blanks the output outside the box and runs the
box as work items through :func:`~numbamosaic._exec.run_work`: strips of
rows, each resampled by the method's serial kernel from the one input
(:class:`SingleInput`, whose per-input state such as spline coefficients is
computed once per process), written in place by pool threads or shipped
back by dask workers.  The strips of a thread pool run as fast as the
``prange`` twins they replaced (interleaved, 2 threads: CPU 0.97-1.01x,
wall 0.85-1.01x for bilinear, bicubic, exact and adaptive; see the commit
that removed them).
"""

import threading

import numpy as np

from ._exec import ArrayTarget, ReturnTarget, WorkItem, run_work
from .kernels._sinks import SINK_VALUE, SINK_WRITE
from .wcs import transform_and_bbox

#: strips per executor thread (load balance vs per-item overhead) and the fewest rows a strip has
STRIPS_PER_THREAD = 4
MIN_STRIP_ROWS = 16
#: the least work a strip holds, in bilinear-pixel equivalents (pixels x the resampler's
#: ``pixel_cost``): a strip costs ~20-50 us of Python and a thread hand-off, a bilinear pixel
#: ~10-20 ns, so a small image is one strip run on the calling thread
MIN_STRIP_WORK = 16384

_NO_WEIGHTS = np.empty((0, 0), dtype=np.float32)


def blank_outputs(out, fp, box=None, blank=np.nan):
    """``blank`` (NaN) / 0 in ``out`` / ``fp`` outside ``box`` ``(y0, y1, x0, x1)`` (everywhere if None),
    over the last two axes (a cube's every plane).

    The box is left to the kernel, whose threads then touch its fresh pages
    first (a full fill before the kernel would fault every page on this
    thread and write the box twice).
    """
    ny, nx = out.shape[-2:]
    if box is None:
        box = (0, 0, 0, 0)
    y0, y1, x0, x1 = box
    for ys, xs in ((slice(0, y0), slice(0, nx)), (slice(y1, ny), slice(0, nx)),
                   (slice(y0, y1), slice(0, x0)), (slice(y0, y1), slice(x1, nx))):
        out[..., ys, xs] = blank
        if fp is not None:
            fp[..., ys, xs] = 0


def plan_single(resampler, job, roundtrip_coords=True):
    """``(transform, box)``: the output box that can receive values, or ``(None, None)``."""
    tr, bbox = transform_and_bbox(job.wcs_in, job.wcs_out, job.data.shape, job.shape_out, roundtrip=roundtrip_coords)
    if bbox is None:
        return None, None
    y0, y1, x0, x1 = bbox
    m = resampler.margin
    ny, nx = job.shape_out
    return tr, (max(0, y0 - m), min(ny, y1 + m), max(0, x0 - m), min(nx, x1 + m))


class SingleInput:
    """The one input of a single-image job: its data and the resampler's per-input state.

    The state (spline coefficients, ...) is computed on first use, once per
    process: on the caller's side for local executors, once per dask worker
    (never once per strip).
    """

    def __init__(self, data, resampler):
        self.data, self.resampler = data, resampler
        self._state, self._ready = None, False
        self._lock = threading.Lock()

    def arrays(self):
        with self._lock:
            if not self._ready:
                self._state, self._ready = self._prepare(), True
        return self.data, self._state

    def _prepare(self):
        return self.resampler.prepare(self.data)

    def __getstate__(self):
        return {"data": self.data, "resampler": self.resampler}

    def __setstate__(self, state):
        self.__init__(state["data"], state["resampler"])


class StripWork:
    """The single image's work function: resample ``item.box`` from input 0 into the target."""

    def __init__(self, resampler, tr, target, footprint):
        self.resampler, self.tr, self.target = resampler, tr, target
        self.sink = SINK_WRITE if footprint else SINK_VALUE

    def __call__(self, item, members):
        data, state = members[0].arrays()
        y0, y1, x0, x1 = item.box
        o, f = self.target.open(item.box)
        wt = f if f is not None else np.empty((1, 1), dtype=o.dtype)
        self.resampler.tile(data, state, _NO_WEIGHTS, self.tr, y0, y1, x0, x1, o, wt, y0, x0, self.sink, np.zeros(3))
        return self.target.close(item.box, o, f)


def strips(box, threads, min_pixels=0):
    """Strips of rows of ``box``: about ``STRIPS_PER_THREAD`` per thread, at least ``MIN_STRIP_ROWS`` rows
    and ``min_pixels`` pixels (every pixel of the box is in one strip, whatever their number)."""
    y0, y1, x0, x1 = box
    rows = max(MIN_STRIP_ROWS, -(-(y1 - y0) // (STRIPS_PER_THREAD * max(1, threads))),
               -(-int(min_pixels) // max(1, x1 - x0)))
    return [WorkItem((ys, min(y1, ys + rows), x0, x1), (0,), what="strip") for ys in range(y0, y1, rows)]


def strip_pixels(resampler):
    """The fewest pixels a strip of ``resampler`` holds: :data:`MIN_STRIP_WORK` over its ``pixel_cost``
    (relative cost of an output pixel, bilinear 1; 0 without the attribute: no minimum)."""
    cost = getattr(resampler, "pixel_cost", None)
    return int(MIN_STRIP_WORK / cost) if cost else 0


def run_single(resampler, data, tr, box, out, fp, executor):
    """Run a one-input job: ``data`` resampled through ``tr`` into ``box`` of ``out`` / ``fp``.

    Parameters
    ----------
    resampler : resampler (``_resamplers``)
    data : ndarray
        The input, as the kernels take it.
    tr : PixelTransform or None
    box : tuple ``(y0, y1, x0, x1)`` or None
        Output pixels that can receive values (None: nothing overlaps).
    out, fp : ndarray
        The output and footprint (``fp`` may be None), written in place.
    executor : SerialExecutor, ThreadExecutor or DaskExecutor
    """
    if box is None:
        blank_outputs(out, fp)
        return
    local = executor.shares_memory
    # kernels that write every pixel of their box need only the rest blanked; strips
    # shipped back from workers are whole (see ReturnTarget's fill)
    blank_outputs(out, fp, box if (getattr(resampler, "fills_box", False) or not local) else None)
    if local:
        target = ArrayTarget(out, fp, out.dtype)
    else:
        target = ReturnTarget(out.dtype, footprint=fp is not None, fill=True)
    items = strips(box, executor.threads, strip_pixels(resampler))
    work = StripWork(resampler, tr, target, fp is not None)
    writer = ArrayTarget(out, fp, out.dtype)
    single = SingleInput(data, resampler)
    if local:
        single.arrays()  # the per-input state (spline prefilter), once, on the calling thread
    for item, result in run_work(items, work, executor, {0: single}, desc="strips"):
        if result is not None:
            writer.write(item.box, *result)

