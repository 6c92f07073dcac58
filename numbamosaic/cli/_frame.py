"""The output frame of ``mosaic``/``plan``: from ``--header FILE`` or automatic (:func:`find_optimal_celestial_wcs`)."""

import os
import warnings

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import wcs_to_celestial_frame

from ..mosaic import find_optimal_celestial_wcs
from ._parser import UsageError


def _read_header_file(path, hdu):
    """Output header and shape from a FITS file or a text header file."""
    if not os.path.isfile(path):
        raise UsageError(f"header file not found: {path}")
    header = None
    try:
        with fits.open(path) as hdul:
            header = hdul[hdu if hdu is not None else 0].header.copy()
            data_shape = hdul[hdu if hdu is not None else 0].shape
    except (OSError, IndexError, KeyError, ValueError):
        header, data_shape = None, None
    if header is None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                header = fits.Header.fromtextfile(path)
        except Exception as exc:  # noqa: BLE001 - reported as one line
            raise UsageError(f"cannot read a FITS header from {path}: {exc}") from None
        data_shape = None
    if "NAXIS1" in header and "NAXIS2" in header:
        shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
    elif data_shape and len(data_shape) >= 2:
        shape = tuple(int(s) for s in data_shape[-2:])
    else:
        raise UsageError(f"header {path} has no NAXIS1/NAXIS2: the output size is unknown")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wcs = WCS(header)
        except Exception as exc:  # noqa: BLE001
            raise UsageError(f"header {path} has no valid WCS: {exc}") from None
    if wcs.celestial.naxis != 2 or not wcs.has_celestial:
        raise UsageError(f"header {path} has no 2-D celestial WCS (CTYPE1/CTYPE2 such as RA---TAN/DEC--TAN)")
    wcs = wcs.celestial
    wcs.array_shape = shape
    return wcs, shape


def _output_frame(args, inputs):
    """(WCS, shape, description) of the output: ``--header`` or automatic."""
    if args.header:
        wcs, shape = _read_header_file(args.header, None)
        return wcs, shape, f"from {args.header}"
    kwargs = dict(hdu_in=args.hdu, projection=args.projection, auto_rotate=args.auto_rotate, negative_lon_cdelt="auto")
    if args.frame:
        kwargs["frame"] = args.frame
    if args.resolution:
        kwargs["resolution"] = args.resolution * u.arcsec
    if args.center:
        frame = args.frame or _first_frame(inputs[0], args.hdu)
        kwargs["reference"] = SkyCoord(args.center[0] * u.deg, args.center[1] * u.deg, frame=frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        wcs, shape = find_optimal_celestial_wcs(inputs, **kwargs)
    return wcs, tuple(int(s) for s in shape), "automatic"


def _first_frame(path, hdu):
    with fits.open(path) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        h = hdul[hdu if hdu is not None else 0].header
        if "CTYPE1" not in h and len(hdul) > 1:
            h = hdul[1].header
        return wcs_to_celestial_frame(WCS(h).celestial)


def describe_frame(wcs, shape):
    """One line describing an output frame (projection, centre, scale, size)."""
    ny, nx = shape
    lon, lat = wcs.pixel_to_world_values((nx - 1) / 2.0, (ny - 1) / 2.0)
    scale = np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600.0
    ctype = "/".join(c.strip() for c in wcs.wcs.ctype)
    return (
        f"{ctype}, centre ({float(lon):.5f}, {float(lat):.5f}) deg, {scale:.4g}\"/px, "
        f"{nx} x {ny} px ({nx * scale / 3600:.3g} x {ny * scale / 3600:.3g} deg)"
    )
