"""Cubes: reproject's broadcasting over leading axes, one geometry for every plane.

reproject reprojects data with more axes than their (two-pixel-axis) WCS
plane by plane: ``(..., ny, nx)`` onto ``(..., ny_out, nx_out)`` with the
same leading axes.  Here the planes are flattened to ``(nz, ny, nx)`` and a
cube kernel (:mod:`numbamosaic.kernels._cube`) evaluates the transform and
everything derived from it (interpolation positions, exact overlap pieces,
adaptive Jacobians) once per output pixel, resampling every plane with it.

:func:`cube_kernel` runs a resampler's cube kernel on an output box (the
single-image driver :func:`run_cube` and the mosaic driver use it);
:func:`cube_state` holds the per-input state (spline coefficients of each
plane for biquadratic/bicubic interpolation).
"""

import dataclasses

import numpy as np

from ._budget import check_temporaries
from ._exec import executor_for, run_work
from ._resamplers import InterpResampler
from ._single import blank_outputs, strips
from .kernels import _cube as KC
from .kernels._sinks import SINK_VALUE, SINK_WRITE
from .kernels._spline import prefilter

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


def cube_kernel(resampler, cube, state, wdata, tr, box, val, wt, oy, ox, sink, bg):
    """Resample every plane of ``cube`` over the output box ``(y0, y1, x0, x1)`` (one serial,
    GIL-free kernel call).

    ``val``/``wt`` are ``(nz, .., ..)`` buffers indexed relative to
    ``(oy, ox)``.  Arguments otherwise as the resamplers' ``tile``
    (:mod:`numbamosaic._resamplers`).
    """
    y0, y1, x0, x1 = box
    if wdata is None or wdata.size == 0:
        wdata = _NO_WEIGHTS
    if isinstance(resampler, InterpResampler):
        coefs = _NO_COEFS if state is None else state
        KC.interp_cube_tile(cube, coefs, wdata, tr.vector, tr.grid, resampler.order, y0, y1, x0, x1, val, wt, oy, ox,
                            sink, bg)
    elif hasattr(resampler, "subdivisions"):  # exact
        valid = np.broadcast_to(_ZERO, cube.shape[-2:])
        opts = resampler.options(tr, cube.shape[-2:])
        KC.exact_cube_tile(cube, valid, wdata, tr.vector, tr.grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg)
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


def run_cube(resampler, job, out, fp, nthreads, tr, box):
    """Reproject the cube ``job.data`` ``(nz, ny, nx)`` into ``out`` / ``fp`` (the caller's
    full-shape arrays, e.g. ``np.memmap``), given the plane's transform ``tr`` and output
    box ``box`` (None: no overlap).  Written in place when the outputs can be viewed as
    ``(nz, ny, nx)``; outside the box NaN / 0."""
    cube = job.data
    nz = cube.shape[0]
    ny, nx = job.shape_out
    out3 = as_planes(out, nz)
    direct = out3 is not None
    fp3 = None if fp is None else as_planes(fp, nz)
    plane_px = nz * ny * nx
    need = (0 if box is None else cube_state_nbytes(resampler, cube.shape, cube.dtype.itemsize))
    need += (0 if direct else plane_px * out.dtype.itemsize) + (0 if fp is None or fp3 is not None else plane_px * fp.dtype.itemsize)
    check_temporaries(need, "the cube's temporaries (spline coefficients; plane-ordered copies of outputs that cannot "
                            "be viewed as planes, e.g. Fortran-ordered)")
    if not direct:
        out3 = np.empty((nz, ny, nx), out.dtype)
    if fp is not None and fp3 is None:
        fp3 = np.empty((nz, ny, nx), fp.dtype)
    blank_outputs(out3, fp3, box)  # outside the box (the kernels write every pixel of it)
    if box is not None and box[1] > box[0] and box[3] > box[2]:
        sink = SINK_WRITE if fp3 is not None else SINK_VALUE
        wt = fp3 if fp3 is not None else np.empty((nz, 1, 1), out3.dtype)
        state = cube_state(resampler, cube)
        bg = np.zeros(3)
        # strips of rows on a pool of threads (each output pixel in one strip: the same bytes for any count)
        items = strips(box, nthreads)

        def one(item, members):
            cube_kernel(resampler, cube, state, None, tr, item.box, out3, wt, 0, 0, sink, bg)

        for _ in run_work(items, one, executor_for(threads=nthreads), {0: cube}):
            pass
    if not direct:
        out[...] = out3.reshape(out.shape)
    if fp is not None and not np.shares_memory(fp3, fp):
        fp[...] = fp3.reshape(fp.shape)
