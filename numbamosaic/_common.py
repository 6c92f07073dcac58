"""Shared front end of the three reprojection functions.

:func:`prepare_single` does the argument checking and parsing common to
``reproject_interp``, ``reproject_exact`` and ``reproject_adaptive`` *before*
any heavy work, so bad input fails fast with a message naming the argument.
:func:`allocate_outputs` validates or creates the output arrays.
"""

from dataclasses import dataclass

import numpy as np

from ._axes import check_compatible, check_extra_axes, image_plane, pixel_n_dim
from ._budget import check_single_outputs, empty_output
from ._daskin import is_dask_array, materialise
from .io import (
    as_kernel_array,
    check_data_2d,
    parse_input_data,
    parse_output_projection,
)
from ._threads import resolve_threads
from ._validate import check_bool, check_hdu


@dataclass
class SingleJob:
    """Parsed inputs of a single-image reprojection."""

    data: np.ndarray  # kernel array (see ``io.as_kernel_array``)
    wcs_in: object
    wcs_out: object
    shape_out: tuple
    dtype: np.dtype  # float dtype the data stand for (default output dtype)
    shape_full: tuple = None  # shape_out as given (degenerate leading axes included)
    outputs_full: tuple = None  # (array, footprint) of shape ``shape_full`` returned to the caller
    planes: int = 0  # > 0: ``data`` is a cube (planes, ny, nx) on a 2-D WCS


def prepare_single(input_data, output_projection, shape_out, hdu_in, allow_swapped=False):
    """Parse and validate inputs; returns a :class:`SingleJob`.

    ``allow_swapped``: the method's kernels decode big-endian views
    (``kernels._load``), so FITS memmaps are used without a copy.
    """
    array, wcs_in = parse_input_data(input_data, hdu_in=hdu_in)
    wcs_out, shape_out = parse_output_projection(output_projection, shape_out=shape_out)
    lazy = is_dask_array(array)
    if not lazy and not isinstance(array, np.ndarray):
        array = np.asarray(array)
    shape_full = tuple(shape_out)
    lead = _broadcast_axes(array, wcs_in, shape_full)
    if lead:  # a cube on a 2-D WCS: every plane reprojected with one transform
        if len(shape_full) == 2:
            shape_full = lead + shape_full
        wcs_out, shape_out = image_plane(wcs_out, shape_full[-2:], "output_projection")
        check_shape_out(shape_out)
        check_compatible(wcs_in, wcs_out, "input_data")
        if lazy:  # only the input box the output needs, every plane of it
            array, wcs_in = materialise(array, wcs_in, wcs_out, shape_out)
        cube = np.ascontiguousarray(array.reshape((-1,) + array.shape[-2:]))
        data, dtype = as_kernel_array(cube)
        return SingleJob(data, wcs_in, wcs_out, shape_out, dtype, shape_full, planes=int(np.prod(lead)))
    # any WCS with two pixel axes; degenerate extra axes (length 1) are dropped
    check_extra_axes(wcs_in, wcs_out, shape_full, "input_data")
    wcs_in, plane = image_plane(wcs_in, array.shape, "input_data")
    wcs_out, shape_out = image_plane(wcs_out, shape_full, "output_projection")
    check_shape_out(shape_out)
    check_compatible(wcs_in, wcs_out, "input_data")
    if array.ndim != 2 and len(plane) == 2:
        array = array.reshape(plane)
    check_data_2d(array, "input_data")
    if lazy:  # only the part of the input the output needs is computed
        array, wcs_in = materialise(array, wcs_in, wcs_out, shape_out)
    data, dtype = as_kernel_array(array, allow_swapped=allow_swapped)
    return SingleJob(data, wcs_in, wcs_out, shape_out, dtype, shape_full)


def _broadcast_axes(array, wcs_in, shape_out):
    """Leading data axes beyond a 2-D WCS (reproject's broadcasting), or ``()``.

    ``shape_out`` must then be ``(ny, nx)`` or carry the same leading axes.
    """
    if array.ndim <= 2 or pixel_n_dim(wcs_in) != 2:
        return ()
    lead = tuple(int(s) for s in array.shape[:-2])
    if len(shape_out) != 2 and tuple(shape_out[:-2]) != lead:
        raise ValueError(
            f"shape_out: the leading axes {tuple(shape_out[:-2])} must match the data's {lead} "
            "(dimensions to be looped over must match exactly)"
        )
    return lead


def check_shape_out(shape_out):
    if len(shape_out) != 2 or any(s <= 0 for s in shape_out):
        raise ValueError(f"shape_out: expected two positive integers (ny, nx), got {tuple(shape_out)}")


def plane_view(arr, shape):
    """The 2-D view of an output whose extra leading axes have length 1."""
    if arr is None or tuple(arr.shape) == tuple(shape):
        return arr
    return arr[(0,) * (arr.ndim - 2)]


def check_output_array(arr, shape_out, name):
    """Validate a caller-provided output array (shape, float dtype, writable)."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array (or np.memmap), got {type(arr).__name__}")
    if tuple(arr.shape) != tuple(shape_out):
        raise ValueError(f"{name}: shape {arr.shape} does not match shape_out {tuple(shape_out)}")
    if arr.dtype.kind != "f" or arr.dtype.itemsize not in (4, 8):
        raise ValueError(f"{name}: dtype must be float32 or float64, got {arr.dtype}")
    if not arr.dtype.isnative:
        raise ValueError(f"{name}: dtype must be native-endian, got {arr.dtype}")
    if not arr.flags.writeable:
        raise ValueError(f"{name}: the array is read-only")
    return arr


def is_chunked_output(arr):
    """True for a chunked array store used as a mosaic output (e.g. ``zarr.Array``).

    Duck-typed: not a NumPy array, but has ``shape``, ``dtype``, ``chunks``
    and slice assignment.  Such outputs are written tile by tile, with the
    tiles aligned to the chunk grid, and never read back.
    """
    return (
        not isinstance(arr, np.ndarray)
        and not hasattr(arr, "dask")  # a dask array is lazy: writing into it stores nothing
        and hasattr(arr, "chunks")
        and hasattr(arr, "shape")
        and hasattr(arr, "dtype")
        and hasattr(arr, "__setitem__")
    )


def write_unit(arr):
    """Smallest block a chunked output can write on its own: its shards if
    sharded (zarr 3 rewrites a whole shard), else its chunks."""
    return tuple(int(c) for c in (getattr(arr, "shards", None) or arr.chunks))


def check_mosaic_output(arr, shape_out, name):
    """:func:`check_output_array`, also accepting chunked stores (``zarr.Array``)."""
    if not is_chunked_output(arr):
        return check_output_array(arr, shape_out, name)
    if tuple(arr.shape) != tuple(shape_out):
        raise ValueError(f"{name}: shape {tuple(arr.shape)} does not match shape_out {tuple(shape_out)}")
    unit = getattr(arr, "shards", None) or arr.chunks
    if len(unit) != 2 or not all(isinstance(c, (int, np.integer)) and c > 0 for c in unit):
        raise ValueError(f"{name}: expected a 2-D chunked array with a regular chunk grid, got chunks {unit!r}")
    try:
        dt = np.dtype(arr.dtype)
    except TypeError:
        raise ValueError(f"{name}: dtype must be float32 or float64, got {arr.dtype}") from None
    if dt.kind != "f" or dt.itemsize not in (4, 8):
        raise ValueError(f"{name}: dtype must be float32 or float64, got {dt}")
    if getattr(arr, "read_only", False):
        raise ValueError(f"{name}: the array is read-only")
    return arr


def allocate_outputs(shape_out, dtype, output_array, output_footprint, return_footprint):
    """Validate or allocate the output array and footprint.

    The footprint is allocated only when returned or requested.  Outputs to
    allocate are first checked against the memory budget
    (:func:`~numbamosaic._budget.check_single_outputs`), so a shape that
    does not fit raises ``MosaicMemoryError`` instead of being swapped or
    OOM-killed.
    """
    if output_array is not None:
        check_output_array(output_array, shape_out, "output_array")
    if output_footprint is not None:
        check_output_array(output_footprint, shape_out, "output_footprint")
    n_alloc = (output_array is None) + (output_footprint is None and bool(return_footprint))
    check_single_outputs(shape_out, dtype if output_array is None else output_array.dtype, n_alloc)
    if output_array is None:
        output_array = empty_output(shape_out, dtype)
    if output_footprint is None and return_footprint:
        output_footprint = empty_output(shape_out, output_array.dtype)
    return output_array, output_footprint


def parse_parallel(parallel):
    """Split ``parallel`` into (n_threads, distributed_client_or_None)."""
    if isinstance(parallel, str):
        if parallel != "current-scheduler":
            raise ValueError(f"parallel: expected True, False, an int or 'current-scheduler', got {parallel!r}")
        return 1, "current-scheduler"
    if parallel is not None and type(parallel).__name__ == "Client":
        return 1, parallel
    return resolve_threads(parallel), None


def begin_single(input_data, output_projection, shape_out, hdu_in, parallel, return_type, output_array,
                 output_footprint, return_footprint, dask_method=None, method=None):
    """The arguments every single-image function shares, checked and prepared.

    Returns ``(job, out, fp, nthreads, client)``: the :class:`SingleJob`, the
    output array and footprint (validated or allocated; None for
    ``return_type='dask'``), the thread count and the distributed client
    (None for the threaded path).
    """
    check_hdu(hdu_in, "hdu_in")
    return_footprint = check_bool(return_footprint, "return_footprint")
    nthreads, client = parse_parallel(parallel)
    if return_type not in (None, "numpy", "dask"):
        raise ValueError(f"return_type: expected 'numpy' or 'dask', got {return_type!r}")
    if dask_method not in (None, "memmap", "none"):
        raise ValueError(f"dask_method: expected None, 'memmap' or 'none', got {dask_method!r}")
    if return_type == "dask" and (output_array is not None or output_footprint is not None):
        raise ValueError("output_array/output_footprint: not used with return_type='dask' (the result is a new lazy array)")
    job = prepare_single(input_data, output_projection, shape_out, hdu_in, allow_swapped=True)
    if return_type == "dask":
        return job, None, None, nthreads, client
    out, fp = allocate_outputs(job.shape_full, job.dtype, output_array, output_footprint, return_footprint)
    job.outputs_full = (out, fp)
    if job.planes:
        return job, out, fp, nthreads, client
    return job, plane_view(out, job.shape_out), plane_view(fp, job.shape_out), nthreads, client


def chunked_or_array(arr):
    """``arr`` itself for a chunked store (never read whole), else ``np.asarray(arr)``."""
    return arr if is_chunked_output(arr) else np.asarray(arr)


def return_result(array, footprint, return_footprint, job=None):
    """``(array, footprint)`` or ``array``; the caller's full-shape arrays when ``job`` has them."""
    if job is not None and job.outputs_full is not None:
        array, footprint = job.outputs_full
    return (array, footprint) if return_footprint else array


def full_shape(job, result):
    """``result`` of a driver, with the caller's full-shape arrays when ``shape_out`` had degenerate axes."""
    if job.outputs_full is None or tuple(job.shape_full) == tuple(job.shape_out):
        return result
    array, footprint = job.outputs_full
    return (array, footprint) if isinstance(result, tuple) else array
