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
import warnings
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


def _has_image(hdu):
    """An image HDU with data (decided from the header, without reading the data)."""
    from astropy.io import fits

    return isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)) and len(hdu.shape) > 0


def _image_hdu(hdul, hdu_in, name):
    if hdu_in is None:
        images = [h for h in hdul if _has_image(h)]
        if len(images) == 0:
            raise ValueError(f"{name}: the FITS file has no image HDU with data")
        if len(hdul) > 1 and len(images) > 1:
            raise ValueError(f"{name}: more than one image HDU is present, please specify HDU to use with hdu_in=")
        return images[0]
    try:
        hdu = hdul[hdu_in]
    except (KeyError, IndexError) as exc:
        raise ValueError(f"{name}: HDU {hdu_in!r} not found ({exc})") from exc
    if not _has_image(hdu):
        raise ValueError(f"{name}: HDU {hdu_in!r} is not an image HDU with data")
    return hdu


#: BITPIX -> on-disk dtype of unscaled FITS image data (big-endian)
_BITPIX = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


def file_name(name, path):
    """``name`` with the file appended, for messages: ``input_data[3] ('a.fits')``."""
    return f"{name} ({str(path)!r})"


def _open_fits(path, name):
    from astropy.io import fits

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{name}: FITS file {str(path)!r} does not exist")
    where = file_name(name, path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="File may have been truncated")  # reported as an error
            return fits.open(path, memmap=False, lazy_load_hdus=True), where
    except Exception as exc:  # empty, truncated header, not FITS at all
        raise ValueError(f"{where}: not a readable FITS file ({exc})") from None


def _plain_layout(hdu, path, where):
    """``(offset, dtype)`` when the image can be memory-mapped as stored, else None.

    Unscaled, uncompressed images are mapped directly; the file must hold
    the whole data section (a truncated file is reported here, naming it).
    """
    from astropy.io import fits

    h = hdu.header
    if isinstance(hdu, fits.CompImageHDU) or h.get("BSCALE", 1) != 1 or h.get("BZERO", 0) != 0 or "BLANK" in h:
        return None
    dtype = np.dtype(_BITPIX.get(h.get("BITPIX"), "f8"))
    if h.get("BITPIX") not in _BITPIX:
        raise ValueError(f"{where}: unsupported BITPIX {h.get('BITPIX')!r}")
    offset = getattr(hdu, "_data_offset", None)
    if offset is None:
        return None
    need = int(np.prod(hdu.shape)) * dtype.itemsize
    size = os.path.getsize(path)
    if size < offset + need:
        raise ValueError(
            f"{where}: the file is truncated: the image ({'x'.join(map(str, hdu.shape))}, BITPIX {h['BITPIX']}) "
            f"needs {offset + need} bytes but the file has {size}"
        )
    return offset, dtype


def image_dtype(header):
    """Float dtype the kernels use for an image with this header (float32 for
    BITPIX 8, 16 and -32, scaled or not; float64 otherwise)."""
    return np.dtype(np.float32 if header.get("BITPIX") in (8, 16, -32) else np.float64)


def read_fits_image(path, hdu_in=None, name="input_data", with_data=True):
    """Read one FITS image: ``(data, wcs, shape, kernel_dtype)``; the file is closed on return.

    Unscaled, uncompressed data come back as a read-only ``np.memmap`` of
    the file (pages are read only when sampled; the map holds one file
    descriptor until the array is freed); scaled or compressed data are read
    and scaled by astropy.  With ``with_data=False`` the data are not
    touched (``data`` is None) but a truncated file is still detected.
    Errors name ``name`` and the file.
    """
    hdul, where = _open_fits(path, name)
    with hdul, warnings.catch_warnings():
        # a truncated file is reported below as an error naming it
        warnings.filterwarnings("ignore", message="File may have been truncated")
        try:
            hdu = _image_hdu(hdul, hdu_in, where)
            shape = tuple(int(n) for n in hdu.shape)
            layout = _plain_layout(hdu, path, where)
            wcs = _wcs_from_header(hdu.header, hdul, where)
            dtype = image_dtype(hdu.header)
            data = None
            if with_data:
                if layout is not None:
                    data = np.memmap(path, dtype=layout[1], mode="r", offset=layout[0], shape=shape)
                else:
                    data = np.asarray(hdu.data)
        except ValueError as exc:
            if str(exc).startswith(where):
                raise
            raise ValueError(f"{where}: {exc}") from None
        except Exception as exc:  # astropy's own errors on a corrupt file
            raise ValueError(f"{where}: cannot read the image ({type(exc).__name__}: {exc})") from None
    return data, wcs, shape, dtype


def _wcs_from_header(header, hdul=None, name=None):
    from astropy.wcs import WCS, FITSFixedWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            return WCS(header, fobj=hdul) if hdul is not None else WCS(header)
    except Exception as exc:  # wcslib refuses the header (e.g. CDELT1 = 0)
        if name is None:
            raise
        from .wcs._sanity import _wcslib_message

        raise ValueError(f"{name}: invalid WCS: {_wcslib_message(exc)}") from None


def as_high_level_wcs(wcs, name):
    """Accept a FITS Header, astropy WCS or APE-14 (low or high level) WCS."""
    from astropy.io import fits
    from astropy.wcs import WCS
    from astropy.wcs.wcsapi import BaseHighLevelWCS, BaseLowLevelWCS, HighLevelWCSWrapper

    if isinstance(wcs, fits.Header):
        return _wcs_from_header(wcs, name=name)
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
        data, wcs, _, _ = read_fits_image(input_data, hdu_in, name)
        check_wcs(wcs, file_name(name, input_data))
        return data, wcs
    if isinstance(input_data, fits.HDUList):
        hdu = _image_hdu(input_data, hdu_in, name)
        wcs = _wcs_from_header(hdu.header, input_data, name)
        check_wcs(wcs, name)
        return _hdu_data(hdu, name), wcs
    if isinstance(input_data, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
        if input_data.data is None:
            raise ValueError(f"{name}: the HDU has no data")
        wcs = _wcs_from_header(input_data.header, name=name)
        check_wcs(wcs, name)
        return _hdu_data(input_data, name), wcs
    if is_nddata(input_data):
        if input_data.wcs is None:
            raise ValueError(f"{name}: the NDData object has no wcs")
        wcs = as_high_level_wcs(input_data.wcs, name)
        check_wcs(wcs, name)
        return np.asarray(input_data.data), wcs
    if isinstance(input_data, tuple) and len(input_data) == 2:
        array, wcs = input_data
        if _is_path(array):
            raise TypeError(f"{name}: expected (array, WCS) but the first element is a path")
        wcs = as_high_level_wcs(wcs, name)
        check_wcs(wcs, name)
        return array, wcs
    raise TypeError(
        f"{name}: expected a FITS file name, HDUList, image HDU, NDData or an (array, WCS/Header) tuple, "
        f"got {type(input_data).__name__}"
    )


def _hdu_data(hdu, name):
    try:
        return hdu.data
    except Exception as exc:  # e.g. a truncated file behind an HDUList
        raise ValueError(f"{name}: cannot read the image data ({type(exc).__name__}: {exc})") from None


def parse_output_projection(output_projection, shape_out=None, name="output_projection"):
    """Return ``(wcs, shape_out)`` for a Header, WCS (+ shape) or FITS file name."""
    from astropy.io import fits

    if _is_path(output_projection):
        hdul, where = _open_fits(output_projection, name)
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
        wcs = _wcs_from_header(output_projection, name=name)
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


def check_wcs(wcs, name):
    """The WCS sanity check of :func:`numbamosaic.wcs.check_wcs` (imported on
    first use: the WCS engine is not needed to import the package)."""
    from .wcs._sanity import check_wcs as _check

    _check(wcs, name)


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
