"""``mosaic_to_fits``: a mosaic computed straight into a FITS file.

The file is the command line's (see :mod:`numbamosaic._fitsout`): primary
HDU with the mosaic, the output WCS and provenance keywords, extension
``FOOTPRINT`` with the summed weights.  Tiles are written into the file as
they finish (:class:`~numbamosaic._fitsout.FitsMosaic`), so the mosaic is
never held in memory, whatever its size.
"""

import os

import numpy as np

from .._fitsout import FitsMosaic, provenance_header
from ..io import parse_output_projection
from ._coadd import mosaic_dtype, reproject_and_coadd
from ._inputs import make_sources

__all__ = ["mosaic_to_fits"]


def _method_name(reproject_function, kwargs):
    name = getattr(reproject_function, "__name__", None) or "reproject_interp"
    if name == "reproject_interp":
        order = kwargs.get("order", "bilinear")
        return {0: "nearest", 1: "bilinear", 2: "biquadratic", 3: "bicubic"}.get(order, str(order))
    return name.replace("reproject_", "")


def _input_names(inputs):
    return [os.fspath(p) if isinstance(p, (str, os.PathLike)) else f"(input {k}: {type(p).__name__})" for k, p in enumerate(inputs)]


def mosaic_to_fits(input_data, output_projection, path, shape_out=None, *, overwrite=False, header=None,
                   provenance=None, blank_pixel_value=np.nan, fsync=True, **kwargs):
    """Reproject and combine images straight into a FITS file.

    Takes :func:`~numbamosaic.reproject_and_coadd`'s arguments and writes
    what the ``numbamosaic mosaic`` command writes: the mosaic in the
    primary HDU (float32 inputs give float32) with the output WCS and
    provenance keywords, and the summed weights in a ``FOOTPRINT``
    extension.  Each output tile is written into the file once, as it
    finishes; no full-size array is held in memory, so the peak memory is
    the planner's per-tile budget whatever the mosaic's size.  The file is
    built under a temporary name in the destination directory and renamed
    into place when complete: an error, Ctrl-C or a full disk
    (:class:`~numbamosaic._fitsout.DiskFullError`, raised before any work
    when the file cannot be reserved) leaves nothing behind.

    Parameters
    ----------
    input_data, output_projection, shape_out
        As for :func:`~numbamosaic.reproject_and_coadd`.
    path : str or path-like
        Output FITS file.
    overwrite : bool
        Replace an existing file (atomically).
    header : astropy.io.fits.Header, optional
        Extra primary cards (e.g. ``BUNIT``).
    provenance : astropy.io.fits.Header, optional
        Provenance cards; by default :func:`~numbamosaic._fitsout.provenance_header`
        of this call (method, combine function, input names).
    blank_pixel_value : float
        Value where no input contributes; default NaN (the command line's),
        unlike ``reproject_and_coadd``'s 0.  Coverage is in ``FOOTPRINT``.
    fsync : bool
        Wait until the file is on the disk before renaming it into place.
    **kwargs
        Any other :func:`~numbamosaic.reproject_and_coadd` argument
        (``combine_function``, ``reproject_function``, ``memory_limit``,
        ``parallel``, ...; not ``output_array`` / ``output_footprint``).

    Returns
    -------
    str
        The path written.

    Examples
    --------
    >>> from numbamosaic import find_optimal_celestial_wcs, mosaic_to_fits  # doctest: +SKIP
    >>> wcs, shape = find_optimal_celestial_wcs(files)                     # doctest: +SKIP
    >>> mosaic_to_fits(files, wcs, "mosaic.fits", shape_out=shape, combine_function="median")  # doctest: +SKIP
    """
    for key in ("output_array", "output_footprint"):
        if kwargs.get(key) is not None:
            raise TypeError(f"mosaic_to_fits: {key} is not accepted (the output is the file)")
        kwargs.pop(key, None)
    if not isinstance(input_data, (str, os.PathLike, tuple)) and not hasattr(input_data, "__len__"):
        input_data = list(input_data)  # iterated twice below
    wcs, shape = parse_output_projection(output_projection, shape_out=shape_out)
    # the mosaic's dtype from the inputs alone (headers; no transforms, no plan)
    dtype = mosaic_dtype(make_sources(input_data, hdu_in=kwargs.get("hdu_in")))
    if provenance is None:
        provenance = provenance_header(
            method=_method_name(kwargs.get("reproject_function"), kwargs),
            combine=kwargs.get("combine_function", "mean"),
            inputs=_input_names(input_data),
            match_background=kwargs.get("match_background", False),
            background_model=kwargs.get("background_model", "offset"),
            blank=blank_pixel_value,
        )
    with FitsMosaic(path, shape, dtype, wcs, provenance=provenance, header=header, overwrite=overwrite, fsync=fsync) as fm:
        reproject_and_coadd(input_data, wcs, shape_out=shape, output_array=fm.array, output_footprint=fm.footprint,
                            blank_pixel_value=blank_pixel_value, **kwargs)
        return fm.commit()
