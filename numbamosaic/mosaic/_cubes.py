"""``reproject_and_coadd`` of cubes: reproject's broadcasting over leading axes, for mosaics.

reproject mosaics cubes when ``shape_out`` has more axes than the inputs'
WCS has pixel axes (``n_broadcasted = len(shape_out) - pixel_n_dim``): each
input ``(..., ny, nx)`` (the same leading axes) is reprojected plane by plane
onto its part of the output and the planes are combined independently.
Here the output is cut into tiles of the image plane, each tile holding all
planes; threads take tiles and, for every input overlapping a tile, one cube
kernel call (:func:`numbamosaic._cube.cube_kernel`) maps each output pixel
once and resamples every plane into the tile's ``(nz, th, tw)`` buffers with
the combine sink; each plane is then finalised into the output
(``kernels._combine.finalize_tile``).  The result for a plane equals the 2-D
mosaic of that plane's images bit for bit (same kernels, sinks and input
order).

Outputs: NumPy arrays (``np.memmap`` included) of the full shape, written in
place, or chunked stores (``zarr.Array``) whose chunks (or shards) tile the
image plane: tiles are then aligned to that grid and written once each.
Memory: tiles are sized by :func:`numbamosaic.mosaic._plan.cube_tile_shape`,
which counts the planes of the per-thread buffers, and the outputs allocated
here are checked against the budget first.

Combines: reproject's ``mean``, ``sum``, ``first``, ``last``, ``min``,
``max``.  Not for cubes (refused with the reason): ``median`` and
``clipped-mean`` (they keep every input's layer of a tile: ``nz`` times the
2-D stack), ``match_background`` (reproject fits one offset per input over
all planes; not implemented here), survey products, a user
``reproject_function``, and ``parallel='current-scheduler'``/clients.
"""

import inspect

import numpy as np

from .. import adaptive as _adaptive
from .. import exact as _exact
from .. import interpolation as _interpolation
from .._axes import check_compatible, pixel_n_dim
from .._common import check_output_array, is_chunked_output, parse_parallel, write_unit
from .._cube import as_planes, cube_kernel, cube_state, cube_state_nbytes
from .._exec import WorkItem, executor_for, run_work
from .._resamplers import get_resampler
from .._validate import check_coadd_arguments
from ..io import as_kernel_array, parse_input_data, parse_output_projection
from ..kernels import _combine as C
from ..kernels._sinks import SINK_FIRST, SINK_LAST, SINK_MAX, SINK_MIN, SINK_SUM
from ..wcs import transform_and_bbox
from .._budget import check_single_outputs, empty_output, parse_memory
from ._plan import cube_tile_shape, tiles_for

CUBE_COMBINES = {
    "mean": (C.COMBINE_MEAN, SINK_SUM, 0.0),
    "sum": (C.COMBINE_SUM, SINK_SUM, 0.0),
    "first": (C.COMBINE_FIRST, SINK_FIRST, 0.0),
    "last": (C.COMBINE_LAST, SINK_LAST, 0.0),
    "min": (C.COMBINE_MIN, SINK_MIN, np.inf),
    "max": (C.COMBINE_MAX, SINK_MAX, -np.inf),
}

_METHODS = {
    _interpolation.reproject_interp: "interp",
    _exact.reproject_exact: "exact",
    _adaptive.reproject_adaptive: "adaptive",
}

#: keywords of reproject_and_coadd that the cube path ignores (as the 2-D path does)
_IGNORED = {"block_sizes", "block_size", "intermediate_memmap", "tmpdir", "progress_bar", "return_type", "dask_method"}


def is_cube_mosaic(output_projection, shape_out):
    """True when the output has leading axes beyond a two-pixel-axis WCS (reproject's broadcasting)."""
    try:
        wcs_out, shape_full = parse_output_projection(output_projection, shape_out=shape_out)
    except Exception:  # the 2-D path reports argument errors
        return False
    return pixel_n_dim(wcs_out) == 2 and len(shape_full) > 2


def _refuse(what, why):
    raise NotImplementedError(f"{what}: not supported for cube mosaics ({why})")


class _Input:
    """One parsed cube input: kernel array ``(nz, ny, nx)``, weights, transform, box."""

    def __init__(self, cube, dtype, wdata, tr, bbox):
        self.cube, self.dtype, self.wdata, self.tr, self.bbox = cube, dtype, wdata, tr, bbox
        self.state = None


def _method(reproject_function):
    if reproject_function is None:
        return "interp", _interpolation.reproject_interp
    method = _METHODS.get(reproject_function)
    if method is None:
        _refuse("reproject_function", "only numbamosaic's reproject_interp, reproject_exact and reproject_adaptive "
                "run on cubes; a custom function would be called once per input on the whole cube")
    return method, reproject_function


def _resampler_kwargs(func, kwargs):
    """Keywords of ``func`` (a misspelt keyword raises, as a direct call would)."""
    known = set(inspect.signature(func).parameters) | {"subdivisions"}
    out = {}
    for k, v in kwargs.items():
        if k in _IGNORED or k == "parallel":
            continue
        if k not in known:
            raise TypeError(f"{func.__name__}() got an unexpected keyword argument {k!r}")
        out[k] = v
    return out


def coadd_cube(input_data, output_projection, shape_out=None, input_weights=None, hdu_in=None, hdu_weights=None,
               reproject_function=None, combine_function="mean", match_background=False, background_reference=None,
               output_array=None, output_footprint=None, blank_pixel_value=0, parallel=True, memory_limit=None,
               tile_size=None, **kwargs):
    """:func:`numbamosaic.reproject_and_coadd` for cubes (see the module docstring).

    Returns ``(array, footprint)`` of the full output shape (leading axes first).
    """
    input_data, input_weights, tile = check_coadd_arguments(
        input_data, input_weights, hdu_in, hdu_weights, blank_pixel_value, match_background, None, tile_size,
        None, 3.0, 5,
    )
    if combine_function not in CUBE_COMBINES:
        if combine_function in ("median", "clipped-mean"):
            _refuse(f"combine_function={combine_function!r}", "it keeps every input's layer of a tile, times the planes")
        raise ValueError(f"combine_function: expected one of {sorted(CUBE_COMBINES)} for cubes, got {combine_function!r}")
    if match_background:
        _refuse("match_background", "one offset per input fitted over all planes is not implemented")
    for k in ("weights_type", "input_masks", "input_scales", "exposure_times", "input_variances", "return_products",
              "product_outputs", "bad_bits", "flags_combine"):
        if kwargs.pop(k, None) not in (None, False):
            _refuse(k, "survey products are computed for 2-D mosaics only")
    nthreads, client = parse_parallel(parallel)
    if client is not None:
        _refuse("parallel", "cube mosaics run on threads; dask.distributed is not supported for cubes")
    method, func = _method(reproject_function)
    rkw = _resampler_kwargs(func, kwargs)
    parse_memory(memory_limit)
    wcs_out, shape_full = parse_output_projection(output_projection, shape_out=shape_out)
    shape_full = tuple(int(s) for s in shape_full)
    lead, shape_out = shape_full[:-2], shape_full[-2:]
    if any(s <= 0 for s in shape_full):
        raise ValueError(f"shape_out: expected positive integers, got {shape_full}")
    nz = int(np.prod(lead))
    if method == "adaptive":
        rkw = dict(rkw, shape_out=shape_out)
    resampler = get_resampler(method, **rkw)
    roundtrip = bool(rkw.get("roundtrip_coords", True))

    inputs = []
    dtypes = []  # of every input, overlapping or not (the 2-D path's rule: mosaic_dtype)
    for i, item in enumerate(input_data):
        array, wcs_in = parse_input_data(item, hdu_in=hdu_in, name=f"input_data[{i}]")
        if pixel_n_dim(wcs_in) != 2:
            raise ValueError(f"input_data[{i}]: cube mosaics need a WCS with two pixel axes, got {pixel_n_dim(wcs_in)}")
        if hasattr(array, "compute"):
            array = array.compute()
        array = np.asarray(array)
        if tuple(array.shape[:-2]) != lead:
            raise ValueError(
                f"input_data[{i}]: the leading axes {tuple(array.shape[:-2])} must match shape_out's {lead} "
                "(dimensions to be looped over must match exactly)"
            )
        check_compatible(wcs_in, wcs_out, f"input_data[{i}]")
        plane = array.shape[-2:]
        cube, dtype = as_kernel_array(array.reshape((nz,) + plane))
        dtypes.append(dtype)
        wdata = None
        if input_weights is not None:  # one weight image on the input's pixel grid, for every plane
            w = input_weights[i]
            if not isinstance(w, np.ndarray):
                w, _ = parse_input_data(w, hdu_in=hdu_weights, name=f"input_weights[{i}]")
            w = np.asarray(w, dtype=np.float32)
            if w.shape != plane:
                raise ValueError(f"input_weights[{i}]: expected one weight image of the plane shape {plane}, got {w.shape}")
            wdata = np.where(np.isfinite(w), w, np.float32(0))
        tr, bbox = transform_and_bbox(wcs_in, wcs_out, plane, shape_out, roundtrip=roundtrip)
        if bbox is not None:
            inputs.append(_Input(cube, dtype, wdata, tr, bbox))

    dtype = np.dtype(np.float32 if all(d == np.float32 for d in dtypes) else np.float64)
    for arr, name in ((output_array, "output_array"), (output_footprint, "output_footprint")):
        if arr is None:
            continue
        if is_chunked_output(arr):
            if tuple(arr.shape) != shape_full:
                raise ValueError(f"{name}: shape {tuple(arr.shape)} does not match shape_out {shape_full}")
        else:
            check_output_array(arr, shape_full, name)
    if output_array is not None:
        dtype = np.dtype(output_array.dtype).newbyteorder("=")
    elif output_footprint is not None:
        dtype = np.dtype(output_footprint.dtype).newbyteorder("=")
    n_alloc = (output_array is None) + (output_footprint is None)
    check_single_outputs(shape_full, dtype, n_alloc, memory_limit)
    out = empty_output(shape_full, dtype) if output_array is None else output_array
    fp = empty_output(shape_full, dtype) if output_footprint is None else output_footprint

    multiple = (1, 1)
    for a in (out, fp):
        if is_chunked_output(a):
            unit = write_unit(a)[-2:]
            multiple = tuple(int(np.lcm(m, int(c))) for m, c in zip(multiple, unit))
    state_bytes = sum(cube_state_nbytes(resampler, s.cube.shape, s.cube.dtype.itemsize) for s in inputs)
    # outputs written through per-thread tile copies: chunked stores, and arrays not viewable as planes
    staged = sum(is_chunked_output(a) or as_planes(a, nz) is None for a in (out, fp))
    th, tw = cube_tile_shape(shape_out, nz, nthreads, memory_limit, state_bytes, tile, multiple,
                             staged=staged, itemsize=dtype.itemsize,
                             output_bytes=n_alloc * nz * int(np.prod(shape_out)) * dtype.itemsize)
    for s in inputs:
        s.state = cube_state(resampler, s.cube)
    code, sink, init = CUBE_COMBINES[combine_function]
    margin = resampler.margin
    blank = float(blank_pixel_value)
    # (nz, ny, nx) views written in place; chunked stores and arrays that cannot be viewed so get each tile
    out3 = None if is_chunked_output(out) else as_planes(out, nz)
    fp3 = None if is_chunked_output(fp) else as_planes(fp, nz)
    tiles = tiles_for(shape_out, (th, tw))
    bg = np.zeros(3)

    def one(item, members):
        y0, y1, x0, x1 = item.box
        shape = (nz, y1 - y0, x1 - x0)
        val = np.full(shape, init)  # C.init_tile's values, for every plane at once
        wt = np.zeros(shape)
        for s in inputs:
            b0, b1, c0, c1 = s.bbox
            box = (max(y0, b0 - margin), min(y1, b1 + margin), max(x0, c0 - margin), min(x1, c1 + margin))
            if box[1] > box[0] and box[3] > box[2]:
                cube_kernel(resampler, s.cube, s.state, s.wdata, s.tr, box, val, wt, y0, x0, sink, bg)
        o = np.empty(shape, dtype) if out3 is None else out3[:, y0:y1, x0:x1]
        f = np.empty(shape, dtype) if fp3 is None else fp3[:, y0:y1, x0:x1]
        for z in range(nz):
            C.finalize_tile(code, val[z], wt[z], o[z], f[z], blank)
        if out3 is None:
            out[..., y0:y1, x0:x1] = o.reshape(lead + shape[1:])
        if fp3 is None:
            fp[..., y0:y1, x0:x1] = f.reshape(lead + shape[1:])

    for _ in run_work([WorkItem(t) for t in tiles], one, executor_for(threads=nthreads)):
        pass
    return out, fp
