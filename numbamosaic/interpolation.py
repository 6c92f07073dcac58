"""``reproject_interp``: drop-in for reproject's interpolation, fused in Numba."""

from ._common import begin_single, return_result
from ._docstrings import shared_doc
from ._exec import executor_for
from ._lazy import lazy_cube, lazy_single
from ._resamplers import ORDERS, InterpResampler, parse_order, spline_coefficients_for  # noqa: F401 (public names)
from ._cube import plane_job, run_cube
from ._single import plan_single, run_single
from .kernels._single_variance import parse_input_variance, single_variance, with_variance
from ._validate import check_bool, check_no_extra_kwargs
from .wcs import general_transform


@shared_doc
def reproject_interp(
    input_data,
    output_projection,
    shape_out=None,
    hdu_in=0,
    order="bilinear",
    return_footprint=True,
    output_array=None,
    output_footprint=None,
    block_size=None,
    parallel=True,
    roundtrip_coords=True,
    return_type=None,
    dask_method=None,
    input_variance=None,
    **kwargs,
):
    """Reproject an image (or a cube, plane by plane) by interpolation.

    Drop-in replacement for :func:`reproject.reproject_interp` with the same
    arguments and ``(array, footprint)`` return.  The WCS transform,
    interpolation and output write are fused in one parallel Numba kernel,
    without full-size coordinate arrays.

    Parameters
    ----------
    input_data : str, Path, HDUList, HDU, (array, WCS or Header), NDData
        Input image and its WCS (any WCS with two pixel axes; extra axes of
        length 1 are dropped).  Data with more axes than the WCS (a cube
        ``(..., ny, nx)``) are broadcast as in reproject: one transform, every
        plane sampled with it.
    output_projection : Header, WCS or str
        Output projection; a WCS needs ``shape_out`` unless it has
        ``array_shape``.
    shape_out : tuple, optional
        Output shape ``(ny, nx)`` (or with the cube's leading axes).
    hdu_in : int or str, optional
        HDU to use for file and HDUList inputs.
    order : str or int
        ``'nearest-neighbor'``, ``'bilinear'`` (default), ``'biquadratic'``,
        ``'bicubic'`` (spline-prefiltered B-splines as in scipy), or
        ``'lanczos3'``.  Unlike reproject, a NaN input pixel only blanks the
        outputs whose stencil reaches it, for every order.
    return_footprint : bool
        Return ``(array, footprint)`` (default) or only the array.
    output_array, output_footprint : ndarray, optional
        Float32 or float64 arrays (e.g. ``np.memmap``) to write into.
    %(execution)s
    roundtrip_coords : bool
        Reject output pixels whose round trip through the input moves by more
        than one pixel (reproject's default).

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
        ``output_array``); NaN where there is no valid input.
    footprint : ndarray
        1 where the output is finite, 0 elsewhere.
    """
    check_no_extra_kwargs("reproject_interp", kwargs)
    order_code = parse_order(order)
    roundtrip_coords = check_bool(roundtrip_coords, "roundtrip_coords")
    job, out, fp, nthreads, client = begin_single(
        input_data, output_projection, shape_out, hdu_in, parallel, return_type, output_array, output_footprint,
        return_footprint, dask_method, method="interp",
    )
    variance = parse_input_variance(input_variance, job.data.shape, job.planes, return_type, "reproject_interp")  # before any pixel work
    resampler = InterpResampler(order=order_code, roundtrip_coords=roundtrip_coords)
    if job.planes:  # a cube: one transform, every plane sampled with it
        tr, box = plan_single(resampler, plane_job(job), roundtrip_coords)
        if return_type == "dask":
            return lazy_cube(resampler, job.data, tr, box, job.shape_full, job.dtype, return_footprint, block_size)
        run_cube(resampler, job, out, fp, executor_for(threads=nthreads, client=client), tr, box)
        return return_result(out, fp, return_footprint, job)
    tr, box = plan_single(resampler, job, roundtrip_coords)
    if return_type == "dask":
        return lazy_single(resampler, job.data, tr, box, job.shape_out, job.dtype, return_footprint, block_size, job.shape_full)
    run_single(resampler, job.data, tr, box, out, fp, executor_for(threads=nthreads, client=client))
    if variance is not None:  # the propagated variance (kernels._single_variance)
        # (the variance kernels evaluate the general chain: XPH and quad cubes on a control grid)
        gtr = tr if box is None else general_transform(tr, box, job.data.shape)
        var = single_variance("interp", resampler, job.data, gtr, box, job.shape_out, variance, out.dtype)
        return with_variance(return_result(out, fp, return_footprint, job), var)
    return return_result(out, fp, return_footprint, job)
