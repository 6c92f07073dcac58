"""Input parsing: reproject's accepted input forms, mapped to (array, WCS) or (shape, WCS).

:func:`parse_input_data` returns the pixels (for the reprojection functions),
:func:`parse_input_shape` only the shape (for :func:`find_optimal_celestial_wcs`,
which reads no pixels), as reproject's ``utils.parse_input_data`` and
``utils.parse_input_shape`` do; both apply the same rules and messages.
:func:`parse_output_projection` reads ``output_projection``/``shape_out``.

Accepted ``input_data``:

* a FITS file name (``str`` or ``pathlib.Path``);
* an ``HDUList`` (``hdu_in`` selects the HDU);
* a ``PrimaryHDU``, ``ImageHDU`` or ``CompImageHDU``;
* a tuple ``(array, WCS)`` or ``(array, Header)`` (any APE-14 WCS);
* an ``astropy.nddata.NDData``;
* a PNG/JPEG file with AVM tags;
* for :func:`parse_input_shape` also ``(shape, WCS)`` and a WCS with ``array_shape``.

File-backed unscaled FITS images are memory-mapped by astropy and reach the
kernels without being read in full: kernels touch only the pages they sample.
Data are converted to a native-endian float type the kernels understand:
float32 stays float32, float64 stays float64, integers up to 16 bit and
float16 become float32, wider integers float64.  A copy is made only when a
conversion is unavoidable (other dtypes, non-native byte order).
"""

import numbers
import os
import sys
from pathlib import Path

import numpy as np

from ._avm import is_avm_image, read_avm_image
from ._fits import file_name, hdu_data, header_shape, open_fits, read_fits_image, select_image_hdu, wcs_from_header
from ._wcscheck import check_wcs


FLOAT32_KINDS = {np.dtype(t).newbyteorder("=") for t in ("f2", "f4", "i1", "u1", "i2", "u2")}


def kernel_dtype(dtype, name="input_data"):
    """The float dtype kernels use for data of ``dtype`` (float32 or float64)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.dtype(np.float32)
    if dtype.kind not in "iuf":
        raise TypeError(f"{name}: data must be real integers or floats, got dtype {dtype}")
    if dtype.newbyteorder("=") in FLOAT32_KINDS:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def as_kernel_array(array, allow_swapped=False):
    """Return ``(kernel_array, float_dtype)`` for ``array``.

    ``float_dtype`` is the native float type the data stand for (and of the
    output).  ``kernel_array`` is the array itself when it is native
    float32/float64; with ``allow_swapped`` a big-endian float array becomes a
    zero-copy unsigned view decoded by ``kernels._load.load``; anything else
    is converted (one copy of the input).
    """
    array = np.asarray(array)
    target = kernel_dtype(array.dtype)
    if array.dtype == target:
        return array, target
    if allow_swapped and array.dtype.kind == "f" and array.dtype.newbyteorder("=") == target and not array.dtype.isnative:
        return array.view(np.uint32 if target.itemsize == 4 else np.uint64), target
    return array.astype(target), target


def is_path(obj):
    """A file name (``str`` or ``os.PathLike``)."""
    return isinstance(obj, (str, os.PathLike))


def as_high_level_wcs(wcs, name):
    """Accept a FITS Header, astropy WCS or APE-14 (low or high level) WCS."""
    from astropy.io import fits
    from astropy.wcs import WCS
    from astropy.wcs.wcsapi import BaseHighLevelWCS, BaseLowLevelWCS, HighLevelWCSWrapper

    if isinstance(wcs, fits.Header):
        return wcs_from_header(wcs, name=name)
    if isinstance(wcs, WCS):
        return wcs
    if isinstance(wcs, BaseHighLevelWCS):
        # unwrap astropy WCS so that the native engine (not the grid fallback) is used
        if isinstance(getattr(wcs, "low_level_wcs", None), WCS):
            return wcs.low_level_wcs
        return wcs
    if isinstance(wcs, BaseLowLevelWCS):
        return HighLevelWCSWrapper(wcs)
    raise TypeError(f"{name}: expected a FITS Header or a WCS object, got {type(wcs).__name__}")


def is_nddata(obj):
    """True if ``obj`` is an ``astropy.nddata`` object.

    Does not import ``astropy.nddata`` (which imports ``scipy.sparse``, a few
    tenths of a second): if nothing has imported it, no NDData exists.
    """
    mod = sys.modules.get("astropy.nddata")
    return mod is not None and isinstance(obj, mod.NDDataBase)


_IMAGE_HDUS = ("PrimaryHDU", "ImageHDU", "CompImageHDU")


def parse_input_data(input_data, hdu_in=None, name="input_data"):
    """Return ``(array, wcs)`` for any accepted input form (see module docstring).

    The array is returned as given (possibly a memmap, possibly big-endian);
    use :func:`as_kernel_array` to obtain what kernels need.
    """
    data, _, wcs, _ = _parse(input_data, hdu_in, name, pixels=True)
    return data, wcs


def parse_input_shape(input_data, hdu_in=None, name="input_data"):
    """Return ``(shape, wcs, is_fits)`` for one input, reading no pixel data.

    Accepts every form of :func:`parse_input_data` (FITS files and HDUs give
    the header's shape) plus ``(shape, WCS)`` tuples and a WCS with
    ``array_shape``.  ``is_fits`` tells whether reproject treats the WCS as a
    FITS WCS (see :func:`is_fits_wcs`).  The shape is not validated.
    """
    _, shape, wcs, is_fits = _parse(input_data, hdu_in, name, pixels=False)
    return shape, wcs, is_fits


def _parse(item, hdu_in, name, pixels):
    """``(data, shape, wcs, is_fits)`` of one input; ``data`` only with ``pixels`` (else None) and
    ``shape`` only without (else None).  Every WCS passes :func:`check_wcs`."""
    from astropy.io import fits
    from astropy.wcs.wcsapi import BaseHighLevelWCS, BaseLowLevelWCS

    if is_path(item):
        path = Path(item)
        if not path.exists():
            raise FileNotFoundError(f"{name}: FITS file {str(path)!r} does not exist")
        if is_avm_image(path):  # PNG/JPEG with AVM tags, as reproject reads them
            data, wcs = read_avm_image(path, name)
            return data, tuple(data.shape), wcs, True
        data, wcs, shape, _ = read_fits_image(item, hdu_in, name, with_data=pixels)  # without pixels: headers only
        check_wcs(wcs, file_name(name, item))
        return data, shape, wcs, True
    if isinstance(item, fits.HDUList):
        hdu = select_image_hdu(item, hdu_in, name)
        wcs = wcs_from_header(hdu.header, item, name)
        check_wcs(wcs, name)
        return (hdu_data(hdu, name) if pixels else None), header_shape(hdu.header), wcs, True
    if isinstance(item, tuple(getattr(fits, t) for t in _IMAGE_HDUS)):
        if pixels and item.data is None:
            raise ValueError(f"{name}: the HDU has no data")
        wcs = wcs_from_header(item.header, name=name)
        check_wcs(wcs, name)
        return (hdu_data(item, name) if pixels else None), header_shape(item.header), wcs, True
    if is_nddata(item):
        if item.wcs is None:
            raise ValueError(f"{name}: the NDData object has no wcs")
        wcs = as_high_level_wcs(item.wcs, name)
        check_wcs(wcs, name)
        if pixels:
            return np.asarray(item.data), None, wcs, is_fits_wcs(item.wcs)
        return None, _shape_of(item.data), wcs, is_fits_wcs(item.wcs)
    if not pixels and isinstance(item, (BaseLowLevelWCS, BaseHighLevelWCS)):
        shape = array_shape_of_wcs(item)
        if shape is None:
            raise ValueError(f"{name}: a WCS given without data needs array_shape to be set (or pass (shape, wcs))")
        wcs = as_high_level_wcs(item, name)
        check_wcs(wcs, name)
        return None, tuple(int(s) for s in shape), wcs, is_fits_wcs(item)
    if pixels:  # (array, WCS or Header)
        pair = isinstance(item, tuple) and len(item) == 2
    else:  # (array or shape, WCS or Header)
        pair = isinstance(item, (tuple, list)) and len(item) == 2 and _is_wcs_like(item[1])
    if pair:
        first, wcs_in = item
        if is_path(first):
            what = "array" if pixels else "array or shape"
            raise TypeError(f"{name}: expected ({what}, WCS) but the first element is a path")
        wcs = as_high_level_wcs(wcs_in, name)
        check_wcs(wcs, name)
        is_fits = isinstance(wcs_in, fits.Header) or is_fits_wcs(wcs_in)
        return (first, None, wcs, is_fits) if pixels else (None, _shape_of(first), wcs, is_fits)
    if pixels:
        forms = "a FITS file name, HDUList, image HDU, NDData or an (array, WCS/Header) tuple"
    else:
        forms = "a FITS file name, HDUList, image HDU, NDData, WCS with array_shape, or an (array or shape, WCS/Header) tuple"
    raise TypeError(f"{name}: expected {forms}, got {type(item).__name__}")


def is_single_input(obj):
    """Whether ``obj`` is one input specification (not an iterable of them)."""
    from astropy.io import fits
    from astropy.wcs.wcsapi import BaseHighLevelWCS, BaseLowLevelWCS

    if is_path(obj) or is_nddata(obj):
        return True
    if isinstance(obj, (fits.HDUList, fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
        return True
    if isinstance(obj, (BaseLowLevelWCS, BaseHighLevelWCS)):
        return True
    return isinstance(obj, tuple) and len(obj) == 2 and _is_wcs_like(obj[1])


def is_fits_wcs(wcs):
    """Whether reproject treats ``wcs`` as a FITS WCS (reference at CRPIX).

    reproject tests ``isinstance(wcs, astropy.wcs.WCS)`` on the object it is
    given: an astropy WCS wrapped in an APE-14 ``HighLevelWCSWrapper`` (or a
    sliced WCS) counts as a generic WCS, whose reference is the image centre.
    """
    from astropy.wcs import WCS

    return isinstance(wcs, WCS)


def _is_wcs_like(obj):
    from astropy.io import fits
    from astropy.wcs.wcsapi import BaseHighLevelWCS, BaseLowLevelWCS

    return isinstance(obj, (fits.Header, BaseLowLevelWCS, BaseHighLevelWCS))


def _shape_of(first):
    """Shape from the first element of a tuple input: a shape tuple or an array."""
    if isinstance(first, (tuple, list)) and all(isinstance(s, numbers.Integral) for s in first):
        return tuple(int(s) for s in first)
    shape = getattr(first, "shape", None)
    if shape is None:
        shape = np.shape(first)
    return tuple(int(s) for s in shape)


def array_shape_of_wcs(wcs):
    """``array_shape`` of a WCS (or of its low-level WCS), or None."""
    shape = getattr(wcs, "array_shape", None)
    if shape is None and hasattr(wcs, "low_level_wcs"):
        shape = getattr(wcs.low_level_wcs, "array_shape", None)
    return shape


def parse_output_projection(output_projection, shape_out=None, name="output_projection"):
    """Return ``(wcs, shape_out)`` for a Header, WCS (+ shape) or FITS file name."""
    from astropy.io import fits

    if is_path(output_projection):
        hdul, where = open_fits(output_projection, name)
        with hdul:
            try:
                header = hdul[0].header.copy()
                if shape_out is None and len(hdul[0].shape) > 0:
                    shape_out = hdul[0].shape
            except Exception as exc:
                raise ValueError(f"{where}: cannot read the primary header ({exc})") from None
        output_projection = header
        name = where
    if isinstance(output_projection, fits.Header):
        wcs = wcs_from_header(output_projection, name=name)
        if shape_out is None:
            try:
                naxis = output_projection["NAXIS"]
                shape_out = tuple(output_projection[f"NAXIS{i}"] for i in range(naxis, 0, -1))
            except KeyError:
                raise ValueError(
                    f"{name}: the header has no NAXISn keywords; pass shape_out=(ny, nx)"
                ) from None
    else:
        wcs = as_high_level_wcs(output_projection, name)
        if shape_out is None:
            shape = array_shape_of_wcs(wcs)
            if shape is None:
                raise ValueError(f"{name}: a WCS without array_shape needs shape_out=(ny, nx)")
            shape_out = shape
    shape_out = check_shape(shape_out, "shape_out")
    check_wcs(wcs, name)
    return wcs, shape_out


def check_shape(shape, name):
    """Two positive integers ``(ny, nx)`` (integral floats such as ``64.0`` pass)."""
    try:
        items = list(shape)
    except TypeError:
        raise TypeError(f"{name}: expected a tuple of two integers (ny, nx), got {shape!r}") from None

    def integral(s):
        if isinstance(s, (bool, np.bool_)):
            return False
        if isinstance(s, (int, np.integer)):
            return True
        return isinstance(s, (float, np.floating)) and np.isfinite(s) and float(s).is_integer()

    if not all(integral(s) for s in items):
        raise TypeError(f"{name}: expected a tuple of two integers (ny, nx), got {shape!r}")
    shape = tuple(int(s) for s in items)
    if len(shape) < 2 or any(s <= 0 for s in shape):  # extra (degenerate) axes are checked by image_plane
        raise ValueError(f"{name}: expected two positive integers (ny, nx), got {shape}")
    return shape


def check_celestial_2d(wcs, name):
    """Raise a clear error unless ``wcs`` is a 2-D celestial WCS."""
    ll = getattr(wcs, "low_level_wcs", wcs)
    n_pix = getattr(ll, "pixel_n_dim", None)
    n_world = getattr(ll, "world_n_dim", None)
    if n_pix != 2 or n_world != 2:
        raise ValueError(f"{name}: expected a 2-D celestial WCS, got {n_pix} pixel and {n_world} world dimensions")
    phys = [str(t or "") for t in getattr(ll, "world_axis_physical_types", [])]
    # helioprojective and other sky-like frames are "custom:pos.*" (e.g. HPLN/HPLT)
    if not all(t.startswith(("pos.", "custom:pos.")) for t in phys):
        raise ValueError(f"{name}: the WCS is not celestial (world axes: {phys})")


def check_data_2d(array, name):
    if array.ndim != 2:
        raise ValueError(f"{name}: expected 2-D image data, got {array.ndim}-D data of shape {array.shape}")
