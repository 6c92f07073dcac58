"""``reproject_adaptive``: drop-in for reproject's DeForest (2004) resampling.

The per-pixel work (Jacobian by finite differences of the transform, padded
2x2 SVD, Gaussian or Hann filter over a box of input pixels, boundary and
bad-value handling) runs in the fused Numba kernels of
``numbamosaic.kernels._adaptive``; the transform is evaluated block by block,
so no full-size coordinate or Jacobian array is built.
"""

import math

import numpy as np

from ._bbox import input_bbox
from ._common import begin_single, return_result
from ._cube import plane_job, run_cube
from ._docstrings import shared_doc
from ._exec import executor_for
from ._lazy import lazy_cube, lazy_single
from ._single import run_single
from .kernels._single_variance import parse_input_variance, single_variance, with_variance
from ._resamplers import register
from .kernels import _adaptive as K
from .wcs import build_transform, general_transform, homography_flag, transform_and_bbox

KERNELS = {"gaussian": K.KERNEL_GAUSSIAN, "hann": K.KERNEL_HANN, "hanning": K.KERNEL_HANN}
BOUNDARY_MODES = {
    "strict": K.BOUNDARY_STRICT,
    "constant": K.BOUNDARY_CONSTANT,
    "grid-constant": K.BOUNDARY_GRID_CONSTANT,
    "ignore": K.BOUNDARY_IGNORE,
    "ignore_threshold": K.BOUNDARY_IGNORE_THRESHOLD,
    "nearest": K.BOUNDARY_NEAREST,
}
BAD_VALUE_MODES = {"strict": K.BAD_STRICT, "constant": K.BAD_CONSTANT, "ignore": K.BAD_IGNORE}

#: block of output pixels one thread handles at a time (rows, columns)
BLOCK_SHAPE = (32, 256)


def _choice(value, table, name):
    if isinstance(value, str) and value.lower() in table:
        return value.lower()
    raise ValueError(f"{name}: expected one of {sorted(table)} (case-insensitive), got {value!r}")


def _flag(value, name):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)) and int(value) in (0, 1):
        return bool(value)
    raise ValueError(f"{name}: expected True or False, got {value!r}")


def _number(value, name, positive=False, lo=None, hi=None, finite=True):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    if finite and not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if positive and not v > 0:
        raise ValueError(f"{name}: must be > 0, got {value!r}")
    if lo is not None and not v >= lo or hi is not None and not v <= hi:
        raise ValueError(f"{name}: must be between {lo} and {hi}, got {value!r}")
    return v


def parse_adaptive_options(
    kernel="gaussian",
    kernel_width=1.3,
    sample_region_width=4,
    boundary_mode="strict",
    boundary_fill_value=0,
    boundary_ignore_threshold=0.5,
    x_cyclic=False,
    y_cyclic=False,
    bad_value_mode="strict",
    bad_fill_value=0,
    center_jacobian=False,
    despike_jacobian=False,
    conserve_flux=False,
    roundtrip_coords=True,
):
    """Validate the adaptive options; returns them normalised as a dict.

    Raises ``ValueError`` naming the offending argument.
    """
    return dict(
        kernel=_choice(kernel, KERNELS, "kernel"),
        kernel_width=_number(kernel_width, "kernel_width", positive=True),
        sample_region_width=_number(sample_region_width, "sample_region_width", positive=True),
        boundary_mode=_choice(boundary_mode, BOUNDARY_MODES, "boundary_mode"),
        boundary_fill_value=_number(boundary_fill_value, "boundary_fill_value", finite=False),
        boundary_ignore_threshold=_number(boundary_ignore_threshold, "boundary_ignore_threshold", lo=0.0, hi=1.0),
        x_cyclic=_flag(x_cyclic, "x_cyclic"),
        y_cyclic=_flag(y_cyclic, "y_cyclic"),
        bad_value_mode=_choice(bad_value_mode, BAD_VALUE_MODES, "bad_value_mode"),
        bad_fill_value=_number(bad_fill_value, "bad_fill_value", finite=False),
        center_jacobian=_flag(center_jacobian, "center_jacobian"),
        despike_jacobian=_flag(despike_jacobian, "despike_jacobian"),
        conserve_flux=_flag(conserve_flux, "conserve_flux"),
        roundtrip_coords=_flag(roundtrip_coords, "roundtrip_coords"),
    )


def make_params(opts, shape_out=None):
    """The kernels' float64 settings vector for normalised options ``opts``."""
    p = np.zeros(K.N_PARAMS)
    p[K.P_KERNEL] = KERNELS[opts["kernel"]]
    p[K.P_WIDTH] = opts["kernel_width"]
    p[K.P_SRW] = opts["sample_region_width"]
    p[K.P_BOUNDARY] = BOUNDARY_MODES[opts["boundary_mode"]]
    p[K.P_FILL] = opts["boundary_fill_value"]
    p[K.P_THRESH] = opts["boundary_ignore_threshold"]
    p[K.P_XCYC] = opts["x_cyclic"]
    p[K.P_YCYC] = opts["y_cyclic"]
    p[K.P_BAD] = BAD_VALUE_MODES[opts["bad_value_mode"]]
    p[K.P_BADFILL] = opts["bad_fill_value"]
    p[K.P_CENTER] = opts["center_jacobian"]
    p[K.P_DESPIKE] = opts["despike_jacobian"]
    p[K.P_FLUX] = opts["conserve_flux"]
    if shape_out is not None:
        p[K.P_NY], p[K.P_NX] = shape_out
    else:
        p[K.P_NY] = p[K.P_NX] = -1
    p[K.P_BROWS], p[K.P_BCOLS] = BLOCK_SHAPE
    return p


def _whole_output(opts):
    """True when output pixels far from the input can still get values."""
    return opts["boundary_mode"] in ("nearest", "grid-constant") or opts["x_cyclic"] or opts["y_cyclic"]


@register("adaptive")
class AdaptiveResampler:
    """DeForest (2004) adaptive resampling through ``kernels._adaptive``.

    Keyword arguments are those of :func:`reproject_adaptive` (validated
    here) plus ``shape_out``, the full output shape used by the Jacobian
    despiking edge rules (without it, every pixel has a full neighbourhood).
    """

    def __init__(
        self,
        kernel="gaussian",
        kernel_width=1.3,
        sample_region_width=4,
        boundary_mode="strict",
        boundary_fill_value=0,
        boundary_ignore_threshold=0.5,
        x_cyclic=False,
        y_cyclic=False,
        bad_value_mode="strict",
        bad_fill_value=0,
        center_jacobian=False,
        despike_jacobian=False,
        conserve_flux=False,
        roundtrip_coords=True,
        shape_out=None,
        margin=None,
        **ignored,
    ):
        self.options = parse_adaptive_options(
            kernel, kernel_width, sample_region_width, boundary_mode, boundary_fill_value,
            boundary_ignore_threshold, x_cyclic, y_cyclic, bad_value_mode, bad_fill_value,
            center_jacobian, despike_jacobian, conserve_flux, roundtrip_coords,
        )
        self.roundtrip = self.options["roundtrip_coords"]
        self.params = make_params(self.options, shape_out)
        self._margin = None if margin is None else int(margin)
        self._shape_out = None if shape_out is None else tuple(shape_out)

    @property
    def margin(self):
        """Output pixels beyond an input's bounding box that can get values.

        A planned value when given (``margin=``), else the whole output for
        the boundary modes that fill far from the input (with ``shape_out``),
        else the reach of the sampling box at unit scale.
        """
        if self._margin is not None:
            return self._margin
        if _whole_output(self.options) and self._shape_out is not None:
            return max(self._shape_out)
        half = self.options["sample_region_width"] / 2 if self.options["kernel"] == "gaussian" else math.sqrt(2)
        return int(math.ceil(math.sqrt(2) * half)) + 2

    def prepare(self, data):
        return None

    def state_nbytes(self, shape, itemsize):
        return 0

    def cube_params(self, ny, nx):
        """Settings of a cube kernel call over an ``ny x nx`` box."""
        return self.params

    def tile(self, data, state, wdata, tr, y0, y1, x0, x1, val, wt, oy, ox, sink, bg):
        K.adaptive_tile(data, wdata, tr.vector, tr.grid, self.params, y0, y1, x0, x1, val, wt, oy, ox, sink, bg,
                        homography_flag(tr.vector), K.plain_flag(self.params, wdata))

    # ---- planning for the single-image driver ---------------------------------

    def reach(self, tr, bbox):
        """Distance (input pixels) from an output pixel's centre its samples can reach.

        Estimated from the largest padded singular value of the Jacobian on a
        coarse grid over ``bbox``.
        """
        y0, y1, x0, x1 = bbox
        gy, gx = np.meshgrid(np.linspace(y0, y1 - 1, 17), np.linspace(x0, x1 - 1, 17), indexing="ij")
        x = np.ascontiguousarray(gx.ravel())
        y = np.ascontiguousarray(gy.ravel())
        pos = np.empty((x.size, 2))
        jac = np.empty((x.size, 4))
        K.jacobian_points(tr.vector, tr.grid, self.options["center_jacobian"], x, y, pos, jac, homography_flag(tr.vector))
        ok = np.all(np.isfinite(jac), axis=1)
        smax = 1.0
        if ok.any():
            s = np.linalg.svd(jac[ok].reshape(-1, 2, 2), compute_uv=False)
            smax = max(1.0, float(np.max(s)))
        half = self.options["sample_region_width"] / 2 if self.options["kernel"] == "gaussian" else math.sqrt(2)
        return 1.25 * math.sqrt(2) * half * smax + 1.0


def _expanded_bbox(tr, bbox, shape_in, shape_out, reach):
    """Output box of pixels whose sampling boxes can touch the input.

    Maps the edges of the input rectangle grown by ``reach`` input pixels
    into the output and unites the result with ``bbox``.
    """
    nyi, nxi = shape_in
    sx = (nxi + 2 * reach) / nxi
    sy = (nyi + 2 * reach) / nyi

    def i2o(x, y):
        return tr.in_to_out(-0.5 - reach + (np.asarray(x) + 0.5) * sx, -0.5 - reach + (np.asarray(y) + 0.5) * sy)

    def o2i(x, y):
        xi, yi = tr.out_to_in(x, y)
        return (xi + 0.5 + reach) / sx - 0.5, (yi + 0.5 + reach) / sy - 0.5

    try:
        grown = input_bbox(i2o, o2i, shape_in, shape_out)
    except Exception:  # pragma: no cover - transform trouble far from the input
        grown = None
    if grown is None:
        return bbox
    return (min(bbox[0], grown[0]), max(bbox[1], grown[1]), min(bbox[2], grown[2]), max(bbox[3], grown[3]))


def plan_adaptive_single(resampler, job):
    """Transform and output box ``(tr, (y0, y1, x0, x1), bbox)`` for one image.

    The box holds every output pixel that can get a value: the whole output
    for the boundary modes that fill far from the input, else the input's
    bounding box grown by the reach of the sampling boxes.  ``bbox`` is the
    plain bounding box (None for the whole-output modes).  Returns
    ``(None, None, None)`` when nothing overlaps.
    """
    ny, nx = job.shape_out
    roundtrip = resampler.roundtrip
    halo = 3  # finite differences (1) + despike neighbourhoods (2)
    if _whole_output(resampler.options):
        tr = build_transform(job.wcs_in, job.wcs_out, region=(-halo, ny + halo, -halo, nx + halo), roundtrip=roundtrip)
        return tr, (0, ny, 0, nx), None
    tr, bbox = transform_and_bbox(job.wcs_in, job.wcs_out, job.data.shape, job.shape_out, roundtrip=roundtrip)
    if bbox is None:
        return None, None, None
    box = _expanded_bbox(tr, bbox, job.data.shape, job.shape_out, resampler.reach(tr, bbox))
    if not tr.native:  # control grid over the grown box and the finite-difference halo
        y0, y1, x0, x1 = box
        tr = build_transform(
            job.wcs_in, job.wcs_out, region=(y0 - halo, y1 + halo, x0 - halo, x1 + halo),
            roundtrip=roundtrip, force_grid=True, shape_in=job.data.shape,
        )
    return tr, box, bbox


@shared_doc
def reproject_adaptive(
    input_data,
    output_projection,
    shape_out=None,
    hdu_in=0,
    center_jacobian=False,
    despike_jacobian=False,
    roundtrip_coords=True,
    conserve_flux=False,
    kernel="gaussian",
    kernel_width=1.3,
    sample_region_width=4,
    boundary_mode="strict",
    boundary_fill_value=0,
    boundary_ignore_threshold=0.5,
    x_cyclic=False,
    y_cyclic=False,
    bad_value_mode="strict",
    bad_fill_value=0,
    output_array=None,
    output_footprint=None,
    return_footprint=True,
    block_size=None,
    parallel=True,
    return_type=None,
    dask_method=None,
    input_variance=None,
    **kwargs,
):
    """Reproject a 2-D celestial image with DeForest's (2004) adaptive resampling.

    Drop-in replacement for :func:`reproject.reproject_adaptive` (0.21) with
    the same arguments, semantics and ``(array, footprint)`` return.  Each
    output pixel is a filtered average of input pixels, with the filter shaped
    by the local Jacobian of the mapping (its singular values padded to at
    least one input pixel), so the result is anti-aliased when down-sampling
    and smoothly interpolated when up-sampling.  The Jacobian is computed on
    the fly, block by block, in parallel Numba kernels.

    Parameters
    ----------
    input_data : str, Path, HDUList, HDU, (array, WCS or Header), NDData
        Input image and its celestial WCS.
    output_projection : Header, WCS or str
        Output projection; a WCS needs ``shape_out`` unless it has
        ``array_shape``.
    shape_out : tuple, optional
        Output shape ``(ny, nx)``.
    hdu_in : int or str, optional
        HDU to use for file and HDUList inputs.
    center_jacobian : bool
        ``False``: Jacobian from the transform at neighbouring pixel centres
        (the mean of the two half-pixel differences on each axis).  ``True``:
        from the transform at +-0.5 pixel (three times the transforms).
    despike_jacobian : bool
        Replace Jacobians whose magnitude ``sum J_ij^2`` exceeds 10 times the
        third-lowest of their 3x3 neighbourhood (e.g. at the longitude wrap
        of all-sky maps) by the mean of the non-spiking neighbours.
    roundtrip_coords : bool
        Reject output pixels whose round trip through the input moves by more
        than one pixel (reproject's default).
    conserve_flux : bool
        Multiply each value by ``|det J|`` (input pixels per output pixel), so
        that sums (fluxes) rather than surface brightness are preserved.
    kernel : {'gaussian', 'hann', 'hanning'}
        Filter (case-insensitive).  Gaussian: ``exp(-2 r^2 / kernel_width^2)``
        in output pixels; Hann: ``(1 + cos pi t_x)(1 + cos pi t_y)`` over
        ``|t| < 1``.
    kernel_width : float
        Gaussian width in output pixels (default 1.3).
    sample_region_width : float
        Width, in output pixels, of the region sampled by the Gaussian
        (default 4).
    boundary_mode : str
        Samples outside the input: ``'strict'`` (NaN if any), ``'constant'``
        (use ``boundary_fill_value``; NaN if no valid sample),
        ``'grid-constant'`` (likewise, ``boundary_fill_value`` if entirely
        outside), ``'ignore'`` (drop them), ``'ignore_threshold'`` (drop them
        unless their weight fraction exceeds ``boundary_ignore_threshold``,
        then NaN), ``'nearest'`` (nearest edge pixel).
    boundary_fill_value : float
        Fill value for the constant boundary modes.
    boundary_ignore_threshold : float
        Threshold, between 0 and 1, for ``'ignore_threshold'``.
    x_cyclic, y_cyclic : bool
        The input x / y axis is periodic (overrides ``boundary_mode`` on it).
    bad_value_mode : {'strict', 'ignore', 'constant'}
        NaN and Inf input values propagate (``'strict'``), are skipped
        (``'ignore'``), or are replaced by ``bad_fill_value``.  As for every
        method here, an output reached by an infinite input is blank (NaN,
        footprint 0) where reproject returns +-inf.
    bad_fill_value : float
        Replacement for the ``'constant'`` bad-value mode.
    output_array, output_footprint : ndarray, optional
        Float32 or float64 arrays (e.g. ``np.memmap``) to write into.
    return_footprint : bool
        Return ``(array, footprint)`` (default) or only the array.
    %(execution)s

    input_variance : ndarray or HDU, optional
        Variance of each input pixel (same shape as the input).  The
        propagated variance of the output is then returned as well (last
        element of the result): the resampling coefficients enter squared,
        as in drizzle (Fruchter & Hook 2002); NaN where the output is.  A
        second pass over the input; 2-D images, NumPy results only.

    Returns
    -------
    array : ndarray
        float32 for float32/16-bit inputs, else float64 (or the dtype of
        ``output_array``); NaN where there is no valid result.
    footprint : ndarray
        1 where the output is not NaN, 0 elsewhere.

    Notes
    -----
    Differences from reproject 0.21: for a mapping that mirrors the image
    the smaller singular value keeps its magnitude when padded (reproject
    pads it to 1, under-filtering flipped down-sampled images); despiking
    averages the original neighbouring Jacobians (reproject's in-place update
    depends on the scan order); a sampling-box edge within 1e-9 pixel of an
    input pixel centre includes that pixel (reproject's choice there depends
    on rounding noise, e.g. on aligned grids); sampling boxes wider than 1e7
    input pixels (singular mappings) give NaN; the output box is always the
    full ``shape_out`` for despiking edge rules, whatever ``block_size``.
    """
    for key, value in kwargs.items():
        if key in ("non_reprojected_dims", "zarr_path") and value is None:
            continue
        if key == "non_reprojected_dims":
            raise NotImplementedError("non_reprojected_dims: only 2-D images are supported")
        raise TypeError(f"reproject_adaptive() got an unexpected keyword argument {key!r}")
    opts = parse_adaptive_options(
        kernel, kernel_width, sample_region_width, boundary_mode, boundary_fill_value,
        boundary_ignore_threshold, x_cyclic, y_cyclic, bad_value_mode, bad_fill_value,
        center_jacobian, despike_jacobian, conserve_flux, roundtrip_coords,
    )
    job, out, fp, nthreads, client = begin_single(
        input_data, output_projection, shape_out, hdu_in, parallel, return_type, output_array, output_footprint,
        return_footprint, dask_method,
    )
    variance = parse_input_variance(input_variance, job.data.shape, job.planes, return_type, "reproject_adaptive")  # before any pixel work
    resampler = AdaptiveResampler(**dict(opts, shape_out=tuple(job.shape_out)))
    if job.planes:  # a cube: one Jacobian per output pixel, every plane resampled with it
        tr, box, _ = plan_adaptive_single(resampler, plane_job(job))
        if return_type == "dask":
            return lazy_cube(resampler, job.data, tr, box, job.shape_full, job.dtype, return_footprint, block_size)
        run_cube(resampler, job, out, fp, executor_for(threads=nthreads, client=client), tr, box)
        return return_result(out, fp, return_footprint, job)
    tr, box, _ = plan_adaptive_single(resampler, job)
    if return_type == "dask":
        return lazy_single(resampler, job.data, tr, box, job.shape_out, job.dtype, return_footprint, block_size, job.shape_full)
    run_single(resampler, job.data, tr, box, out, fp, executor_for(threads=nthreads, client=client))
    if variance is not None:  # the propagated variance (kernels._single_variance)
        # (the variance kernels evaluate the general chain: XPH and quad cubes on a control grid)
        gtr = tr if box is None else general_transform(tr, box, job.data.shape)
        var = single_variance("adaptive", resampler, job.data, gtr, box, job.shape_out, variance, out.dtype)
        return with_variance(return_result(out, fp, return_footprint, job), var)
    return return_result(out, fp, return_footprint, job)
