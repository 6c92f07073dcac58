"""The mosaic FITS file's headers: WCS, provenance and extension cards, file sizes.

The layout is the one the command line writes and documents:

* **primary HDU**: the mosaic (float32 stays float32), the output celestial
  WCS and provenance keywords:

  ========== ==========================================================
  ``NMVERSN``  numbamosaic version
  ``NMMETHOD`` resampling method (``bilinear``, ``exact``, ...)
  ``NMCOMBIN`` combine function (``mean``, ``median``, ...)
  ``NMNINPUT`` number of inputs
  ``NMIN0001`` input file names, one card each (``NMIN0001`` ...
               ``NMIN9999``; more inputs are listed as ``HISTORY``)
  ``NMBKGMAT`` whether backgrounds were matched (and ``NMBKGMOD``)
  ``NMBLANK``  value written where no input contributes (if finite)
  ``DATE``     UTC time the file was written
  ``HISTORY``  the command line options, in a short line
  ========== ==========================================================

* **extension** ``FOOTPRINT``: the summed weights (number of contributing
  inputs for unweighted mosaics) with the same WCS, so coverage can be read
  independently of the blank value.

The writers (:mod:`numbamosaic._fitsout`: in memory and streamed tile by
tile) build their headers here, so both write the same cards in the same
order.
"""

import datetime
import os
import warnings

import numpy as np

from ._version import __version__

#: at most this many ``NMINnnnn`` cards; further inputs go to ``HISTORY``
MAX_INPUT_CARDS = 9999


def _wcs_header(wcs):
    """FITS header cards of a celestial WCS (astropy WCS or FITS header)."""
    from astropy.io import fits
    from astropy.wcs import WCS

    if isinstance(wcs, fits.Header):
        wcs = WCS(wcs)
    wcs = getattr(wcs, "low_level_wcs", wcs)
    if not isinstance(wcs, WCS):
        raise TypeError(f"wcs: expected an astropy WCS or a FITS header, got {type(wcs).__name__}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        header = wcs.to_header(relax=True)
    for key in ("NAXIS", "NAXIS1", "NAXIS2"):
        header.remove(key, ignore_missing=True)
    return header


def provenance_header(
    method=None,
    combine=None,
    inputs=(),
    command=None,
    match_background=None,
    background_model=None,
    blank=None,
    extra=None,
):
    """Provenance cards for a mosaic header.

    Parameters
    ----------
    method : str, optional
        Resampling method, stored as ``NMMETHOD``.
    combine : str, optional
        Combine function, stored as ``NMCOMBIN``.
    inputs : sequence of str
        Input names (file paths).  ``NMNINPUT`` holds their number and
        ``NMIN0001``... each name (long names use the FITS ``CONTINUE``
        convention); beyond :data:`MAX_INPUT_CARDS` they go to ``HISTORY``.
    command : str, optional
        A short description of the options used; written as ``HISTORY``
        lines.
    match_background : bool, optional
        Stored as ``NMBKGMAT``.
    background_model : str, optional
        Stored as ``NMBKGMOD`` when backgrounds were matched.
    blank : float, optional
        Value of pixels without coverage, stored as ``NMBLANK`` if finite.
    extra : dict, optional
        More ``keyword: value`` or ``keyword: (value, comment)`` cards.

    Returns
    -------
    astropy.io.fits.Header
    """
    from astropy.io import fits

    h = fits.Header()
    h["NMVERSN"] = (str(__version__), "numbamosaic version")
    if method is not None:
        h["NMMETHOD"] = (str(method), "resampling method")
    if combine is not None:
        h["NMCOMBIN"] = (str(combine), "combine function")
    inputs = [os.fspath(p) for p in inputs]
    h["NMNINPUT"] = (len(inputs), "number of input images")
    if match_background is not None:
        h["NMBKGMAT"] = (bool(match_background), "backgrounds matched over overlaps")
        if match_background and background_model:
            h["NMBKGMOD"] = (str(background_model), "background model")
    if blank is not None and np.isfinite(blank):
        h["NMBLANK"] = (float(blank), "value where no input contributes")
    if extra:
        for k, v in extra.items():
            h[k] = v
    h["DATE"] = (
        datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "UTC date this file was written",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # long strings: CONTINUE cards are fine
        for k, name in enumerate(inputs[:MAX_INPUT_CARDS], start=1):
            # a comment only when it fits on the card (long names use CONTINUE cards)
            h[f"NMIN{k:04d}"] = (name, "input image") if len(name) <= 50 else name
        for name in inputs[MAX_INPUT_CARDS:]:
            h.add_history(f"input: {name}")
    if command:
        h.add_history(f"numbamosaic {__version__}: {command}")
    return h


def fits_size(shape, dtype, n_hdus=2, header_blocks=2):
    """Expected size in bytes of a mosaic FITS file.

    Parameters
    ----------
    shape : tuple
        Image shape.
    dtype : numpy dtype
        Pixel dtype (the footprint has the same).
    n_hdus : int
        Image HDUs of that shape (2: data and footprint).
    header_blocks : int
        2880-byte header blocks per HDU (an estimate).
    """
    data = int(np.prod(shape)) * np.dtype(dtype).itemsize
    blocks = -(-data // 2880)
    return n_hdus * (blocks + header_blocks) * 2880


def mosaic_header(wcs, provenance=None, header=None):
    """The mosaic's header: WCS cards, then ``header`` (e.g. ``BUNIT``), then provenance."""
    from astropy.io import fits

    out = fits.Header()
    out.extend(_wcs_header(wcs), update=True)
    if header is not None:
        out.extend(header, update=True)
    if provenance is not None:
        out.extend(provenance, update=True, unique=False)
    return out


def _footprint_header(wcs_cards):
    """Header of the footprint extension: the mosaic's WCS cards and ``BUNIT``."""
    from astropy.io import fits

    h = fits.Header()
    h.extend(wcs_cards, update=True)
    h["BUNIT"] = ("", "summed input weights (coverage)")
    return h


def _primary_and_extension_headers(shape, dtype, wcs, provenance, header, footprint_name):
    """``(primary, extension)`` headers of a mosaic file of ``shape``/``dtype``.

    The same cards, in the same order, as :func:`write_mosaic` writes.
    """
    from astropy.io import fits

    stub = np.empty((1, 1), np.dtype(dtype).newbyteorder(">"))  # BITPIX and the mandatory cards
    ny, nx = (int(s) for s in shape)
    primary = fits.PrimaryHDU(data=stub, header=mosaic_header(wcs, provenance, header)).header
    ext = fits.ImageHDU(data=stub, header=_footprint_header(_wcs_header(wcs)), name=footprint_name).header
    for h in (primary, ext):
        h["NAXIS1"] = nx
        h["NAXIS2"] = ny
    return primary, ext


def _padded(shape, dtype):
    """Bytes of an image data area padded to whole 2880-byte blocks."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    return n + (-n % 2880)


def _image_extension_header(name, dtype, shape, wcs, cards=None):
    """Header bytes of an image extension ``name`` (``BZERO`` for unsigned types) with the mosaic's WCS."""
    from astropy.io import fits

    dtype = np.dtype(dtype)
    stub = np.zeros((1,) * len(shape), dtype.newbyteorder("="))
    h = fits.Header()
    h.extend(_wcs_header(wcs), update=True)
    if cards is not None:
        h.extend(cards, update=True)
    hdr = fits.ImageHDU(data=stub, header=h, name=name, uint=True).header
    for k, n in enumerate(reversed(shape), start=1):
        hdr[f"NAXIS{k}"] = int(n)
    return hdr.tostring().encode("ascii")
