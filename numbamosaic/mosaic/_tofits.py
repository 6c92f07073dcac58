"""``mosaic_to_fits``: a mosaic computed straight into a FITS file.

The file is the command line's (see :mod:`numbamosaic._fitsout`): primary
HDU with the mosaic, the output WCS and provenance keywords, extension
``FOOTPRINT`` with the summed weights.  Tiles are written into the file as
they finish (:class:`~numbamosaic._fitsout.FitsMosaic`), so the mosaic is
never held in memory, whatever its size.

Survey products (issue 15) are further image extensions, streamed the same
way (each finished tile's products written once, ``pwrite``):

=========== ============================================================
``VARIANCE`` propagated variance of the mosaic (mosaic dtype, NaN = none)
``ERR``      or its square root (``sqrt`` of the float variance)
``COUNT``    number of contributing inputs (the smallest integer type
             holding the number of inputs: uint8 up to 255, int16 up to
             32767, else int32)
``EXPOSURE`` summed exposure time of the contributing inputs
``FLAGS``    OR / AND of the inputs' DQ flags (uint32: ``BZERO`` 2**31)
``CONTEXT``  context bit planes ``(planes, ny, nx)``, last image
             extension: its plane count is known once the mosaic is
             planned; one plane of uint8 / uint16 when no tile has more
             than 8 / 16 members, else uint32 planes (the API's bits, same
             values); the binary table ``CTXTILES`` after it holds each
             tile's box and member list (:meth:`Context.from_fits`)
=========== ============================================================

The narrow types only drop bytes that are zero: the values read back are
those of the in-memory products, and the file (written through the page
cache, ``pwrite``) is smaller, which is most of the cost of writing it.
"""

import os

import numpy as np

from .._fitsout import FitsMosaic, provenance_header
from ..io import parse_output_projection
from ._coadd import mosaic_dtype, reproject_and_coadd
from ._inputs import make_sources
from ._products import PRODUCT_DTYPES

__all__ = ["mosaic_to_fits"]

#: product name -> (EXTNAME, BUNIT or None, comment)
EXTENSIONS = {
    "variance": ("VARIANCE", None, "propagated variance of the mosaic"),
    "err": ("ERR", None, "propagated standard deviation (sqrt of VARIANCE)"),
    "count": ("COUNT", "", "number of contributing inputs"),
    "exposure": ("EXPOSURE", "s", "summed exposure of contributing inputs"),
    "flags": ("FLAGS", "", "combined DQ flags of the covering inputs"),
    "context": ("CONTEXT", "", "contributing inputs: bits over tile members"),
}
#: products the FITS writer can stream (``err``: the variance written as its square root)
FITS_PRODUCTS = tuple(EXTENSIONS)


def _cards(name):
    from astropy.io import fits

    _, bunit, comment = EXTENSIONS[name]
    h = fits.Header()
    if bunit is not None:
        h["BUNIT"] = (bunit, comment)
    else:
        h["COMMENT"] = comment
    return h


def count_dtype(n_inputs):
    """The FITS ``COUNT`` type for ``n_inputs`` inputs: uint8 (BITPIX 8, unsigned in FITS) up to
    255, int16 up to 32767, else int32 (``None``: int32)."""
    if n_inputs is not None and n_inputs <= np.iinfo(np.uint8).max:
        return np.dtype(np.uint8)
    if n_inputs is not None and n_inputs <= np.iinfo(np.int16).max:
        return np.dtype(np.int16)
    return PRODUCT_DTYPES["count"]


def context_dtype(planes, depth):
    """The FITS ``CONTEXT`` type: one plane of uint8 / uint16 when at most 8 / 16 members
    (bits) are used, else uint32 planes."""
    if planes == 1 and depth is not None and depth <= 8:
        return np.dtype(np.uint8)
    if planes == 1 and depth is not None and depth <= 16:
        return np.dtype(np.uint16)
    return PRODUCT_DTYPES["context"]


def product_extensions(names, dtype, shape, n_inputs=None):
    """``FitsMosaic(extensions=...)`` entries for the products ``names`` (all but ``context``, appended later).

    ``n_inputs`` (the number of inputs) sizes the ``COUNT`` type (:func:`count_dtype`).
    """
    out = []
    for p in FITS_PRODUCTS:  # fixed order in the file
        if p in names and p != "context":
            pdt = count_dtype(n_inputs) if p == "count" else PRODUCT_DTYPES.get("variance" if p == "err" else p, np.dtype(dtype))
            out.append((EXTENSIONS[p][0], pdt, tuple(shape), _cards(p)))
    return out


class _ErrArea:
    """Writes variance tiles as their square root (``ERR``): ``sqrt`` of the variance in the area's dtype."""

    file_backed = True

    def __init__(self, area):
        self.area = area
        self.shape, self.dtype, self.chunks, self.ndim = area.shape, area.dtype, area.chunks, area.ndim

    def __setitem__(self, key, value):
        with np.errstate(invalid="ignore"):
            self.area[key] = np.sqrt(np.asarray(value, dtype=self.dtype.newbyteorder("=")))


class _ContextArea:
    """The ``CONTEXT`` extension of a :class:`FitsMosaic`, appended when the plane count is known.

    ``set_planes`` (called by the product allocation, once the mosaic is
    planned) writes the header and reserves the data area at the end of the
    file, in the type :func:`context_dtype` gives for the largest member
    list; tiles are then written as for any :class:`FitsImageArea`.
    """

    file_backed = True
    ndim = 3

    def __init__(self, fm, shape):
        self.fm = fm
        self.shape = (0,) + tuple(int(n) for n in shape)
        self.dtype = PRODUCT_DTYPES["context"]
        self.chunks = (1, 1, self.shape[-1])
        self.area = None

    def set_planes(self, n, depth=None):
        if self.area is None:
            dtype = context_dtype(int(n), depth)
            self.area = self.fm.append_image("CONTEXT", dtype, (int(n),) + self.shape[1:], _cards("context"))
            self.shape, self.dtype = self.area.shape, dtype
        elif self.area.shape[0] != n:
            raise ValueError(f"CONTEXT: {self.area.shape[0]} planes reserved, {n} needed")

    def __setitem__(self, key, value):
        if self.area is None:
            raise RuntimeError("CONTEXT: written before its plane count was set")
        self.area[key] = value


def fits_product_outputs(fm, names, shape):
    """``product_outputs`` writing into the extensions of ``fm`` (``err`` as ``variance``)."""
    out = {}
    for p in names:
        if p == "context":
            out[p] = _ContextArea(fm, shape)
        elif p == "err":
            out["variance"] = _ErrArea(fm.extensions["ERR"])
        else:
            out[p] = fm.extensions[EXTENSIONS[p][0]]
    return out


def api_products(names):
    """The ``return_products`` names of FITS product names (``err`` is computed as ``variance``)."""
    return sorted({"variance" if p == "err" else p for p in names})


def write_context_table(fm, products):
    """Append the ``CTXTILES`` table of a finished mosaic's context (if any) to ``fm``."""
    if products is not None and products.context is not None:
        fm.append_hdu(products.context.table_hdu())


def check_product_names(names):
    """Validate FITS product names; ``variance`` and ``err`` exclude each other."""
    names = list(names)
    unknown = [p for p in names if p not in FITS_PRODUCTS]
    if unknown:
        raise ValueError(f"products: unknown product(s) {unknown}; expected names from {FITS_PRODUCTS}")
    if "variance" in names and "err" in names:
        raise ValueError("products: 'variance' and 'err' exclude each other (ERR is the square root of the variance)")
    return names


def _method_name(reproject_function, kwargs):
    name = getattr(reproject_function, "__name__", None) or "reproject_interp"
    if name == "reproject_interp":
        order = kwargs.get("order", "bilinear")
        return {0: "nearest", 1: "bilinear", 2: "biquadratic", 3: "bicubic"}.get(order, str(order))
    return name.replace("reproject_", "")


def _input_names(inputs):
    return [os.fspath(p) if isinstance(p, (str, os.PathLike)) else f"(input {k}: {type(p).__name__})" for k, p in enumerate(inputs)]


def mosaic_to_fits(input_data, output_projection, path, shape_out=None, *, overwrite=False, header=None,
                   provenance=None, blank_pixel_value=np.nan, fsync=False, products=None, **kwargs):
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
        Wait until the file is on the disk before renaming it into place
        (default False; see :class:`~numbamosaic._fitsout.FitsMosaic`).
    products : sequence of str, optional
        Product extensions to write (see the module docstring):
        ``'variance'`` or ``'err'``, ``'count'``, ``'exposure'``,
        ``'context'``, ``'flags'``; they need the product options of
        :func:`~numbamosaic.reproject_and_coadd` (``weights_type``,
        ``input_masks``, ``exposure_times``, ...).
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
    for key in ("output_array", "output_footprint", "product_outputs", "return_products"):
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
    names = check_product_names([products] if isinstance(products, str) else (products or ()))
    if names:
        kwargs.update(return_products=api_products(names))
    with FitsMosaic(path, shape, dtype, wcs, provenance=provenance, header=header, overwrite=overwrite, fsync=fsync,
                    extensions=product_extensions(names, dtype, shape, len(input_data) if hasattr(input_data, "__len__") else None)) as fm:
        if names:
            kwargs["product_outputs"] = fits_product_outputs(fm, names, shape)
        res = reproject_and_coadd(input_data, wcs, shape_out=shape, output_array=fm.array, output_footprint=fm.footprint,
                                  blank_pixel_value=blank_pixel_value, **kwargs)
        if names:
            write_context_table(fm, res)
        return fm.commit()
