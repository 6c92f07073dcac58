"""Single-image driver shared by reproject_interp, reproject_exact, reproject_adaptive.

:func:`run_single` builds the transform and the input's bounding box in the
output, blanks the output outside it, and :func:`resample_box` runs the
resampler's parallel (or serial) kernel over the box, writing straight into
the caller's arrays whatever their layout.
"""

import numpy as np

from ._threads import numba_threads
from .kernels._sinks import SINK_VALUE, SINK_WRITE


def blank_outputs(out, fp, box=None):
    """NaN / 0 in ``out`` / ``fp`` outside ``box`` ``(y0, y1, x0, x1)`` (everywhere if None).

    The box is left to the kernel, whose threads then touch its fresh pages
    first (a full fill before the kernel would fault every page on this
    thread and write the box twice).
    """
    ny, nx = out.shape
    if box is None:
        box = (0, 0, 0, 0)
    y0, y1, x0, x1 = box
    for ys, xs in ((slice(0, y0), slice(0, nx)), (slice(y1, ny), slice(0, nx)),
                   (slice(y0, y1), slice(0, x0)), (slice(y0, y1), slice(x1, nx))):
        out[ys, xs] = np.nan
        if fp is not None:
            fp[ys, xs] = 0


def resample_box(resampler, data, state, tr, box, out, fp, nthreads):
    """Resample the output box ``(y0, y1, x0, x1)`` into ``out`` / ``fp``."""
    y0, y1, x0, x1 = box
    nowt = np.empty((0, 0), dtype=np.float32)
    bg = np.zeros(3)
    val = np.asarray(out)
    sink = SINK_WRITE if fp is not None else SINK_VALUE
    wt = np.asarray(fp) if fp is not None else np.empty((1, 1), dtype=val.dtype)
    # kernels take arrays of any layout (kernels._entry): write in place
    if nthreads > 1:
        with numba_threads(nthreads):
            resampler.parallel(data, state, nowt, tr, y0, y1, x0, x1, val, wt, 0, 0, sink, bg)
    else:
        resampler.tile(data, state, nowt, tr, y0, y1, x0, x1, val, wt, 0, 0, sink, bg)


def plan_single(resampler, job, roundtrip_coords=True):
    """``(transform, box)``: the output box that can receive values, or ``(None, None)``."""
    from .wcs import transform_and_bbox

    tr, bbox = transform_and_bbox(job.wcs_in, job.wcs_out, job.data.shape, job.shape_out, roundtrip=roundtrip_coords)
    if bbox is None:
        return None, None
    y0, y1, x0, x1 = bbox
    m = resampler.margin
    ny, nx = job.shape_out
    return tr, (max(0, y0 - m), min(ny, y1 + m), max(0, x0 - m), min(nx, x1 + m))


def run_single(resampler, job, out, fp, nthreads, roundtrip_coords=True):
    """Resample ``job`` (a ``_common.SingleJob``) into ``out`` / ``fp``."""
    tr, box = plan_single(resampler, job, roundtrip_coords)
    if box is None:
        blank_outputs(out, fp)
        return
    # kernels that write every pixel of their box need only the rest blanked
    blank_outputs(out, fp, box if getattr(resampler, "fills_box", False) else None)
    resample_box(resampler, job.data, resampler.prepare(job.data), tr, box, out, fp, nthreads)


def run_cube(order, job, out, fp, nthreads, roundtrip_coords=True):
    """Reproject a cube ``job.data`` (planes, ny, nx) into ``out`` / ``fp`` (same leading axes).

    The transform and bounding box are those of one plane; the kernel maps
    each output pixel once and samples every plane there
    (:func:`kernels._interp.interp_cube_parallel`).
    """
    from .interpolation import spline_coefficients_for
    from .kernels._interp import interp_cube_parallel
    from .wcs import transform_and_bbox

    cube = job.data
    nz = cube.shape[0]
    ny, nx = job.shape_out
    out3 = out.reshape((nz, ny, nx)) if out.flags.c_contiguous else np.empty((nz, ny, nx), out.dtype)
    if fp is None:
        fp3 = np.empty((nz, ny, nx), out.dtype)  # the kernel writes weights; not returned
    else:
        fp3 = fp.reshape((nz, ny, nx)) if fp.flags.c_contiguous else np.empty((nz, ny, nx), out.dtype)
    out3[...] = np.nan
    fp3[...] = 0
    tr, bbox = transform_and_bbox(job.wcs_in, job.wcs_out, cube.shape[-2:], job.shape_out, roundtrip=roundtrip_coords)
    if bbox is not None:
        y0, y1, x0, x1 = bbox
        if order in (2, 3):
            coefs = np.stack([spline_coefficients_for(cube[z], order) for z in range(nz)])
        else:
            coefs = cube
        with numba_threads(nthreads):
            interp_cube_parallel(cube, coefs, tr.vector, tr.grid, order, y0, y1, x0, x1, out3, fp3, 0, 0)
    if not out.flags.c_contiguous:
        out[...] = out3.reshape(out.shape)
    if fp is not None and not fp.flags.c_contiguous:
        fp[...] = fp3.reshape(fp.shape)
