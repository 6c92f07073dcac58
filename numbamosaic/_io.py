"""Input parsing: reproject's accepted input forms, mapped to (array, WCS).

Accepted ``input_data`` (as in ``reproject.utils.parse_input_data``):

* a FITS file name (``str`` or ``pathlib.Path``);
* an ``HDUList`` (``hdu_in`` selects the HDU);
* a ``PrimaryHDU``, ``ImageHDU`` or ``CompImageHDU``;
* a tuple ``(array, WCS)`` or ``(array, Header)`` (any APE-14 WCS);
* an ``astropy.nddata.NDData``.

File-backed unscaled FITS images are memory-mapped by astropy and reach the
kernels without being read in full: kernels touch only the pages they sample.
Data are converted to a native-endian float type the kernels understand:
float32 stays float32, float64 stays float64, integers up to 16 bit and
float16 become float32, wider integers float64.  A copy is made only when a
conversion is unavoidable (other dtypes, non-native byte order).
"""

import os
import sys
from pathlib import Path

import numpy as np

from ._avm import is_avm_image, read_avm_image

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


def _is_path(obj):
    return isinstance(obj, (str, os.PathLike))


def _image_hdu(hdul, hdu_in, name):
    from astropy.io import fits

    if hdu_in is None:
        images = [h for h in hdul if isinstance(h, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)) and h.data is not None]
        if len(images) == 0:
            raise ValueError(f"{name}: the FITS file has no image HDU with data")
        if len(hdul) > 1 and len(images) > 1:
            raise ValueError(f"{name}: more than one image HDU is present, please specify HDU to use with hdu_in=")
        return images[0]
    try:
        hdu = hdul[hdu_in]
    except (KeyError, IndexError) as exc:
        raise ValueError(f"{name}: HDU {hdu_in!r} not found ({exc})") from exc
    if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)) or hdu.data is None:
        raise ValueError(f"{name}: HDU {hdu_in!r} is not an image HDU with data")
    return hdu


def _wcs_from_header(header, hdul=None):
    from astropy.wcs import WCS, FITSFixedWarning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header, fobj=hdul) if hdul is not None else WCS(header)


def as_high_level_wcs(wcs, name):
    """Accept a FITS Header, astropy WCS or APE-14 (low or high level) WCS."""
    from astropy.io import fits
    from astropy.wcs import WCS
    from astropy.wcs.wcsapi import BaseHighLevelWCS, BaseLowLevelWCS, HighLevelWCSWrapper

    if isinstance(wcs, fits.Header):
        return _wcs_from_header(wcs)
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


def parse_input_data(input_data, hdu_in=None, name="input_data"):
    """Return ``(array, wcs)`` for any accepted input form (see module docstring).

    The array is returned as given (possibly a memmap, possibly big-endian);
    use :func:`as_kernel_array` to obtain what kernels need.
    """
    from astropy.io import fits

    if _is_path(input_data):
        path = Path(input_data)
        if not path.exists():
            raise FileNotFoundError(f"{name}: FITS file {str(path)!r} does not exist")
        if is_avm_image(path):  # PNG/JPEG with AVM tags, as reproject reads them
            return read_avm_image(path, name)
        try:
            # memmap=None (not True): astropy still memory-maps unscaled data, and
            # scaled images (BZERO/BSCALE/BLANK, e.g. uint16) load instead of raising
            hdul = fits.open(path)
        except OSError as exc:
            raise ValueError(f"{name}: {str(path)!r} is not a readable FITS file ({exc})") from exc
        return parse_input_data(hdul, hdu_in=hdu_in, name=name)
    if isinstance(input_data, fits.HDUList):
        hdu = _image_hdu(input_data, hdu_in, name)
        return hdu.data, _wcs_from_header(hdu.header, input_data)
    if isinstance(input_data, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
        if input_data.data is None:
            raise ValueError(f"{name}: the HDU has no data")
        return input_data.data, _wcs_from_header(input_data.header)
    if is_nddata(input_data):
        if input_data.wcs is None:
            raise ValueError(f"{name}: the NDData object has no wcs")
        return np.asarray(input_data.data), as_high_level_wcs(input_data.wcs, name)
    if isinstance(input_data, tuple) and len(input_data) == 2:
        array, wcs = input_data
        if _is_path(array):
            raise TypeError(f"{name}: expected (array, WCS) but the first element is a path")
        return array, as_high_level_wcs(wcs, name)
    raise TypeError(
        f"{name}: expected a FITS file name, HDUList, image HDU, NDData or an (array, WCS/Header) tuple, "
        f"got {type(input_data).__name__}"
    )


def parse_output_projection(output_projection, shape_out=None, name="output_projection"):
    """Return ``(wcs, shape_out)`` for a Header, WCS (+ shape) or FITS file name."""
    from astropy.io import fits

    if _is_path(output_projection):
        path = Path(output_projection)
        if not path.exists():
            raise FileNotFoundError(f"{name}: FITS file {str(path)!r} does not exist")
        with fits.open(path) as hdul:
            header = hdul[0].header.copy()
            if shape_out is None and hdul[0].data is not None:
                shape_out = hdul[0].data.shape
        output_projection = header
    if isinstance(output_projection, fits.Header):
        wcs = _wcs_from_header(output_projection)
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
            shape = getattr(wcs, "array_shape", None)
            if shape is None and hasattr(wcs, "low_level_wcs"):
                shape = getattr(wcs.low_level_wcs, "array_shape", None)
            if shape is None:
                raise ValueError(f"{name}: a WCS without array_shape needs shape_out=(ny, nx)")
            shape_out = shape
    try:
        shape_out = tuple(int(s) for s in shape_out)
    except (TypeError, ValueError):
        raise TypeError(f"shape_out: expected a tuple of integers, got {shape_out!r}") from None
    if len(shape_out) < 2 or any(s <= 0 for s in shape_out):
        raise ValueError(f"shape_out: expected two positive integers (ny, nx), got {shape_out}")
    return wcs, shape_out


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
