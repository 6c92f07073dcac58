"""Cubes: reproject's broadcasting over leading axes, one geometry for every plane.

reproject reprojects data with more axes than their (two-pixel-axis) WCS
plane by plane: ``(..., ny, nx)`` onto ``(..., ny_out, nx_out)`` with the
same leading axes.  Here the planes are flattened to ``(nz, ny, nx)`` and a
cube kernel (:mod:`numbamosaic.kernels._cube`) evaluates the transform and
everything derived from it (interpolation positions, exact overlap pieces,
adaptive Jacobians) once per output pixel, resampling every plane with it.

:func:`cube_kernel` runs a resampler's cube kernel on an output box (the
single-image driver :func:`run_cube`, the lazy blocks of
:func:`numbamosaic._lazy.lazy_cube` and the mosaic driver use it);
:func:`cube_state` holds the per-input state (spline coefficients of each
plane for biquadratic/bicubic interpolation), computed once per process by
:class:`CubeInput`.  :class:`CubeStripWork` is the work function of a
single cube on any executor (``_exec``: threads write in place, dask workers
return their strips).
"""

import dataclasses

import numpy as np

from ._budget import check_temporaries
from ._exec import WorkItem, run_work
from ._resamplers import InterpResampler
from ._single import SingleInput, blank_outputs, strips
from .kernels import _cube as KC
from .kernels._sinks import SINK_VALUE, SINK_WRITE
from .kernels._spline import prefilter
from .kernels.exact._rows import quad_flag
from .wcs import general_transform

_NO_WEIGHTS = np.empty((0, 0), dtype=np.float32)
_NO_COEFS = np.empty((1, 0, 0), dtype=np.float32)
#: one zero: a zero-strided view of it is the all-valid data the exact kernel records its pieces with
_ZERO = np.zeros(1)


def cube_state(resampler, cube):
    """Per-plane spline coefficients ``(nz, ny, nx)`` for interpolation orders 2-3, else None."""
    if isinstance(resampler, InterpResampler) and resampler.order in (2, 3):
        dtype = np.float32 if cube.dtype.itemsize == 4 else np.float64
        state = np.empty(cube.shape, dtype)  # filled plane by plane: one cube of coefficients at a time
        for z in range(cube.shape[0]):
            state[z] = prefilter(cube[z], resampler.order, dtype)
        return state
    return None


def cube_state_nbytes(resampler, shape, itemsize):
    """Bytes of :func:`cube_state` for a cube of ``shape``."""
    if isinstance(resampler, InterpResampler) and resampler.order in (2, 3):
        return int(np.prod(shape)) * itemsize
    return 0


def cube_kernel(resampler, cube, state, wdata, tr, box, val, wt, oy, ox, sink, bg, blank=0.0, out=None, fp=None):
    """Resample every plane of ``cube`` over the output box ``(y0, y1, x0, x1)`` (one serial,
    GIL-free kernel call).

    ``val``/``wt`` are ``(nz, .., ..)`` buffers indexed relative to
    ``(oy, ox)``.  Arguments otherwise as the resamplers' ``tile``
    (:mod:`numbamosaic._resamplers`).  ``out``/``fp``: the outputs of a cube mosaic's last
    member sink (:data:`numbamosaic.kernels._cube.SINK_LAST_OF`; interpolation only), else
    ``val``/``wt``.
    """
    y0, y1, x0, x1 = box
    if wdata is None or wdata.size == 0:
        wdata = _NO_WEIGHTS
    tr = general_transform(tr, box, cube.shape[-2:])  # the cube kernels: no XPH nor quad cubes (a control grid)
    if isinstance(resampler, InterpResampler):
        coefs = _NO_COEFS if state is None else state
        KC.interp_cube_tile(cube, coefs, wdata, tr.vector, tr.grid, resampler.order, y0, y1, x0, x1, val, wt,
                            val if out is None else out, wt if fp is None else fp, oy, ox, sink, bg, float(blank))
    elif hasattr(resampler, "subdivisions"):  # exact
        valid = np.broadcast_to(_ZERO, cube.shape[-2:])
        opts = resampler.options(tr, cube.shape[-2:])
        KC.exact_cube_tile(cube, valid, wdata, tr.vector, tr.grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg,
                           quad_flag(opts))
    else:  # adaptive
        params = resampler.cube_params(y1 - y0, x1 - x0)
        KC.adaptive_cube_tile(cube, wdata, tr.vector, tr.grid, params, y0, y1, x0, x1, val, wt, oy, ox, sink, bg)


def plane_job(job):
    """The job of one plane (``job.data[0]``), for the 2-D planners."""
    return dataclasses.replace(job, data=job.data[0])


def as_planes(arr, nz):
    """``arr`` (leading axes + 2) viewed as ``(nz, ny, nx)`` without a copy, or None."""
    v = arr.view()
    try:  # assigning a shape never copies (reshape(copy=False) needs NumPy >= 2.1)
        v.shape = (nz,) + arr.shape[-2:]
    except (AttributeError, ValueError):
        return None
    return v


#: largest block of a cube (every plane, one output) a dask task returns: strips are cut to this size
CUBE_TASK_BYTES = 64 << 20


class CubeInput(SingleInput):
    """The cube ``(nz, ny, nx)`` of a single-image job, its per-plane spline coefficients
    (:func:`cube_state`) computed on first use, once per process (once per dask worker)."""

    def _prepare(self):
        return cube_state(self.resampler, self.data)


class CubeStripWork:
    """The cube's work function: every plane resampled over ``item.box`` from input 0.

    With ``out3``/``fp3`` (the caller's ``(nz, ny, nx)`` outputs, local
    executors) the box is written in place; otherwise (dask workers) fresh
    box-sized arrays are filled (NaN / 0 first) and returned.
    The caller's arrays are not pickled.

    Parameters
    ----------
    resampler : resampler (``_resamplers``)
    tr : PixelTransform
    dtype : numpy dtype of the outputs
    footprint : bool
        Compute the footprint (``SINK_WRITE``) or only values (``SINK_VALUE``).
    out3, fp3 : ndarray, optional
    """

    def __init__(self, resampler, tr, dtype, footprint, out3=None, fp3=None):
        self.resampler, self.tr, self.dtype, self.footprint = resampler, tr, np.dtype(dtype), bool(footprint)
        self.out3, self.fp3 = out3, fp3
        self.sink = SINK_WRITE if footprint else SINK_VALUE

    def __getstate__(self):
        return dict(self.__dict__, out3=None, fp3=None)

    def __call__(self, item, members):
        cube, state = members[0].arrays()
        nz = cube.shape[0]
        bg = np.zeros(3)
        if self.out3 is not None:
            wt = self.fp3 if self.fp3 is not None else np.empty((nz, 1, 1), self.dtype)
            cube_kernel(self.resampler, cube, state, None, self.tr, item.box, self.out3, wt, 0, 0, self.sink, bg)
            return None
        y0, y1, x0, x1 = item.box
        shape = (nz, y1 - y0, x1 - x0)
        val = np.full(shape, np.nan, self.dtype)
        wt = np.zeros(shape if self.footprint else (nz, 1, 1), self.dtype)
        cube_kernel(self.resampler, cube, state, None, self.tr, item.box, val, wt, y0, x0, self.sink, bg)
        return val, (wt if self.footprint else None)


def cube_strips(box, threads, row_bytes=0):
    """:func:`~numbamosaic._single.strips` of ``box``, cut further so that a strip's rows
    (``row_bytes`` each, all planes) stay under :data:`CUBE_TASK_BYTES` (0: no cap)."""
    items = strips(box, threads)
    if not row_bytes or not items:
        return items
    cap = max(1, CUBE_TASK_BYTES // int(row_bytes))
    if items[0].box[1] - items[0].box[0] <= cap:
        return items
    y0, y1, x0, x1 = box
    return [WorkItem((ys, min(y1, ys + cap), x0, x1), (0,), what="strip") for ys in range(y0, y1, cap)]


def run_cube(resampler, job, out, fp, executor, tr, box):
    """Reproject the cube ``job.data`` ``(nz, ny, nx)`` into ``out`` / ``fp`` (the caller's
    full-shape arrays, e.g. ``np.memmap``), given the plane's transform ``tr`` and output
    box ``box`` (None: no overlap), on ``executor`` (``_exec``: serial, threads or dask).

    Written in place when the outputs can be viewed as ``(nz, ny, nx)``; outside the box
    NaN / 0.  Local executors run strips of rows writing in place; dask workers return
    their strips (all planes, at most :data:`CUBE_TASK_BYTES` each), written here as
    they arrive.  Every output pixel is computed by one strip from the same geometry,
    so the bytes do not depend on the executor or the number of threads or workers.
    """
    cube = job.data
    nz = cube.shape[0]
    ny, nx = job.shape_out
    out3 = as_planes(out, nz)
    direct = out3 is not None
    fp3 = None if fp is None else as_planes(fp, nz)
    plane_px = nz * ny * nx
    local = executor.shares_memory
    need = (0 if box is None or not local else cube_state_nbytes(resampler, cube.shape, cube.dtype.itemsize))
    need += (0 if direct else plane_px * out.dtype.itemsize) + (0 if fp is None or fp3 is not None else plane_px * fp.dtype.itemsize)
    check_temporaries(need, "the cube's temporaries (spline coefficients; plane-ordered copies of outputs that cannot "
                            "be viewed as planes, e.g. Fortran-ordered)")
    if not direct:
        out3 = np.empty((nz, ny, nx), out.dtype)
    if fp is not None and fp3 is None:
        fp3 = np.empty((nz, ny, nx), fp.dtype)
    blank_outputs(out3, fp3, box)  # outside the box (the kernels write every pixel of it)
    if box is not None and box[1] > box[0] and box[3] > box[2]:
        source = CubeInput(cube, resampler)
        footprint = fp3 is not None
        if local:
            source.arrays()  # the spline coefficients, once, on the calling thread
            work = CubeStripWork(resampler, tr, out3.dtype, footprint, out3, fp3)
            items = cube_strips(box, executor.threads)
        else:
            work = CubeStripWork(resampler, tr, out3.dtype, footprint)
            row_bytes = nz * (box[3] - box[2]) * out3.dtype.itemsize * (2 if footprint else 1)
            items = cube_strips(box, executor.threads, row_bytes)
        for item, result in run_work(items, work, executor, {0: source}, desc="strips"):
            if result is not None:  # a strip computed elsewhere
                y0, y1, x0, x1 = item.box
                out3[:, y0:y1, x0:x1] = result[0]
                if footprint:
                    fp3[:, y0:y1, x0:x1] = result[1]
    if not direct:
        out[...] = out3.reshape(out.shape)
    if fp is not None and not np.shares_memory(fp3, fp):
        fp[...] = fp3.reshape(fp.shape)
