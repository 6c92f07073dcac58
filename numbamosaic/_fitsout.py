"""Write a mosaic to FITS: data + WCS, a FOOTPRINT extension, provenance.

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

The file is written to a temporary file in the destination directory and
renamed into place only after it is complete: an error (or Ctrl-C) never
leaves a half-written output, and an existing file is replaced atomically.
"""

import datetime
import os
import tempfile
import warnings

import numpy as np

__all__ = ["write_mosaic", "provenance_header", "fits_size"]

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

    from . import __version__

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


def write_mosaic(path, array, footprint, wcs, provenance=None, header=None, overwrite=False, footprint_name="FOOTPRINT"):
    """Write a mosaic and its footprint to a FITS file, atomically.

    Parameters
    ----------
    path : str or path-like
        Destination file.
    array : ndarray
        Mosaic data (2-D; its dtype is kept, e.g. float32; ``np.memmap``
        is fine).
    footprint : ndarray or None
        Footprint / summed weights, written to an ``ImageHDU`` named
        ``footprint_name`` with the same WCS.  ``None`` writes no extension.
    wcs : astropy.wcs.WCS or astropy.io.fits.Header
        Output celestial WCS.
    provenance : astropy.io.fits.Header, optional
        Cards added to the primary header (see :func:`provenance_header`).
    header : astropy.io.fits.Header, optional
        Extra cards (e.g. ``BUNIT``) for the primary header.
    overwrite : bool
        Replace an existing file; otherwise :class:`FileExistsError`.
    footprint_name : str
        ``EXTNAME`` of the footprint extension.

    Returns
    -------
    str
        The path written.

    Notes
    -----
    The HDUs are written to a temporary file next to ``path`` which is
    renamed over ``path`` once complete and flushed, so readers never see a
    partial file and failures leave nothing behind.
    """
    from astropy.io import fits

    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists (use overwrite=True / --overwrite)")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory")
    wcs_cards = _wcs_header(wcs)
    primary_header = mosaic_header(wcs, provenance, header)
    hdus = [fits.PrimaryHDU(data=array, header=primary_header)]
    if footprint is not None:
        fp_header = fits.Header()
        fp_header.extend(wcs_cards, update=True)
        fp_header["BUNIT"] = ("", "summed input weights (coverage)")
        hdus.append(fits.ImageHDU(data=footprint, header=fp_header, name=footprint_name))
    hdul = fits.HDUList(hdus)

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            hdul.writeto(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
