"""FITS images as inputs: choose the HDU, read the header and WCS, map the data.

One rule for every entry point: with ``hdu_in=None`` the only image HDU with
data is used (more than one is an error, as in reproject); an explicit
``hdu_in`` must name an image HDU with data.  File-backed unscaled images are
memory-mapped as stored; scaled or compressed ones are read by astropy.
Errors name the argument and the file.
"""

import os
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ._wcscheck import _wcslib_message


def _has_image(hdu):
    """An image HDU with data (decided from the header, without reading the data)."""
    from astropy.io import fits

    return isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)) and len(hdu.shape) > 0


def select_image_hdu(hdul, hdu_in, name):
    """The image HDU of ``hdul`` that ``hdu_in`` selects (see the module docstring)."""
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


def open_fits(path, name):
    """``(HDUList, name with the file)``; headers are read lazily, errors name the file."""
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


#: parsed headers of recently read files: key -> (wcs, shape, layout, dtype)
_HEADERS = OrderedDict()
_HEADERS_MAX = 1024
_HEADERS_LOCK = threading.Lock()


def _header_key(path, hdu_in):
    """Identity of a file's current contents for :data:`_HEADERS`, or None.

    The device, inode, size and modification time (ns) of the file: a file
    rewritten in place or replaced gets a new key.  None when the file
    cannot be stat'ed or ``hdu_in`` is not hashable (no memo then).
    """
    try:
        st = os.stat(path)
        key = (os.path.abspath(os.fspath(path)), hdu_in, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        hash(key)
    except (OSError, TypeError, ValueError):
        return None
    return key


def _remember(key, wcs, shape, layout, dtype):
    if key is None:
        return
    with _HEADERS_LOCK:
        _HEADERS[key] = (wcs.deepcopy(), shape, layout, dtype)
        _HEADERS.move_to_end(key)
        while len(_HEADERS) > _HEADERS_MAX:
            _HEADERS.popitem(last=False)


def _recall(key):
    """``(wcs copy, shape, layout, dtype)`` of a file read before, or None."""
    if key is None:
        return None
    with _HEADERS_LOCK:
        hit = _HEADERS.get(key)
        if hit is None:
            return None
        _HEADERS.move_to_end(key)
    wcs, shape, layout, dtype = hit
    return wcs.deepcopy(), shape, layout, dtype


def read_fits_image(path, hdu_in=None, name="input_data", with_data=True):
    """Read one FITS image: ``(data, wcs, shape, kernel_dtype)``; the file is closed on return.

    Unscaled, uncompressed data come back as a read-only ``np.memmap`` of
    the file (pages are read only when sampled; the map holds one file
    descriptor until the array is freed); scaled or compressed data are read
    and scaled by astropy.  With ``with_data=False`` the data are not
    touched (``data`` is None) but a truncated file is still detected.
    Errors name ``name`` and the file.

    A mosaic reads each input's header more than once (the output dtype,
    the transforms, the pixels): the parsed header of a file whose device,
    inode, size and modification time are unchanged is remembered (the last
    1024 files) and each caller gets its own copy of the WCS.  Parsing a
    header and building its WCS costs 3-5 ms, a third of a 16-input
    command line's preparation.
    """
    key = _header_key(path, hdu_in)
    hit = _recall(key)
    if hit is not None and (not with_data or hit[2] is not None):
        wcs, shape, layout, dtype = hit
        data = None
        if with_data:
            data = np.memmap(path, dtype=layout[1], mode="r", offset=layout[0], shape=shape)
        return data, wcs, shape, dtype
    hdul, where = open_fits(path, name)
    with hdul, warnings.catch_warnings():
        # a truncated file is reported below as an error naming it
        warnings.filterwarnings("ignore", message="File may have been truncated")
        try:
            hdu = select_image_hdu(hdul, hdu_in, where)
            shape = tuple(int(n) for n in hdu.shape)
            layout = _plain_layout(hdu, path, where)
            wcs = wcs_from_header(hdu.header, hdul, where)
            dtype = image_dtype(hdu.header)
            _remember(key, wcs, shape, layout, dtype)
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


def wcs_from_header(header, hdul=None, name=None):
    """astropy WCS of a header; wcslib's refusal becomes a ValueError naming ``name``."""
    from astropy.wcs import WCS, FITSFixedWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            return WCS(header, fobj=hdul) if hdul is not None else WCS(header)
    except Exception as exc:  # wcslib refuses the header (e.g. CDELT1 = 0)
        if name is None:
            raise
        raise ValueError(f"{name}: invalid WCS: {_wcslib_message(exc)}") from None


def hdu_data(hdu, name):
    """The data of an HDU; a read failure names ``name``."""
    try:
        return hdu.data
    except Exception as exc:  # e.g. a truncated file behind an HDUList
        raise ValueError(f"{name}: cannot read the image data ({type(exc).__name__}: {exc})") from None


def header_shape(header):
    """Array shape ``(..., NAXIS2, NAXIS1)`` from a FITS header (no data read)."""
    naxis = int(header.get("NAXIS", 0))
    return tuple(int(header[f"NAXIS{i}"]) for i in range(naxis, 0, -1))
