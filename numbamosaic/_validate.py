"""Argument checks shared by the public entry points.

Every public function checks its scalar arguments here, in one call, before
it parses inputs or allocates anything: a wrong type or range raises
``TypeError`` / ``ValueError`` naming the argument and saying what was
expected.  Inputs and WCS are checked where they are parsed
(:mod:`numbamosaic.io`, :mod:`numbamosaic.mosaic._inputs`,
:func:`numbamosaic.wcs.check_wcs`), with the input index and the file.
"""

import math
import os
import tempfile

import numpy as np


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _is_real(x):
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def check_real(value, name, low=None, low_inclusive=True, allow_nan=False):
    """A real number (not bool), optionally bounded below; returns a float."""
    if not _is_real(value):
        raise TypeError(f"{name}: expected a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    if math.isnan(v) and allow_nan:
        return v
    if not math.isfinite(v) and not allow_nan:
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if low is not None and (v < low or (v == low and not low_inclusive)):
        raise ValueError(f"{name}: expected a number {'>=' if low_inclusive else '>'} {low}, got {value!r}")
    return v


def check_int(value, name, low=None):
    """An integer (not bool, not float), optionally bounded below."""
    if not _is_int(value):
        raise TypeError(f"{name}: expected an integer, got {value!r} ({type(value).__name__})")
    if low is not None and int(value) < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def check_tile_size(tile_size, name="tile_size"):
    """None, a positive integer or a pair of positive integers ``(ty, tx)``."""
    if tile_size is None:
        return None
    if _is_int(tile_size):
        t = check_int(tile_size, name, low=1)
        return (t, t)
    if isinstance(tile_size, (tuple, list)) and len(tile_size) == 2 and all(_is_int(t) for t in tile_size):
        if min(tile_size) < 1:
            raise ValueError(f"{name}: expected positive integers, got {tuple(tile_size)!r}")
        return tuple(int(t) for t in tile_size)
    raise TypeError(f"{name}: expected None, a positive integer or a pair (ty, tx), got {tile_size!r}")


def check_hdu(hdu, name):
    """None, an HDU index (>= 0) or an EXTNAME (optionally ``(name, ver)``)."""
    if hdu is None or isinstance(hdu, str):
        return hdu
    if _is_int(hdu):
        return check_int(hdu, name, low=0)
    if isinstance(hdu, tuple) and len(hdu) == 2 and isinstance(hdu[0], str) and _is_int(hdu[1]):
        return hdu
    raise TypeError(f"{name}: expected None, an HDU index or an extension name, got {hdu!r}")


def check_progress_bar(progress_bar):
    if progress_bar is None or isinstance(progress_bar, (bool, np.bool_)) or callable(progress_bar):
        return progress_bar
    raise TypeError(
        f"progress_bar: expected None, True/False or a tqdm-like callable wrapping an iterable, got {progress_bar!r}"
    )


def check_bool(value, name):
    if isinstance(value, (bool, np.bool_)) or (_is_int(value) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name}: expected True or False, got {value!r}")


def check_directory(path, name="tmpdir", writable=False):
    """An existing directory; with ``writable``, one where a file can be created."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name}: expected a directory path, got {path!r}")
    if not os.path.isdir(path):
        raise ValueError(f"{name}: {str(path)!r} is not an existing directory")
    if writable:
        try:
            with tempfile.TemporaryFile(prefix="numbamosaic-probe-", dir=path):
                pass
        except OSError as exc:
            raise ValueError(f"{name}: cannot create files in {str(path)!r} ({exc.strerror or exc})") from None
    return path


def check_input_list(input_data, name="input_data"):
    """A non-empty sequence (or iterable) of inputs; returns a list-like."""
    if input_data is None:
        raise TypeError(f"{name}: expected a sequence of inputs (file names, HDUs or (array, WCS) tuples), got None")
    if isinstance(input_data, (str, os.PathLike, bytes)) or (
        isinstance(input_data, tuple) and len(input_data) == 2 and isinstance(input_data[0], np.ndarray)
    ):
        raise TypeError(f"{name}: expected a sequence of inputs (list of files, HDUs or (array, WCS) tuples), got one input")
    if not hasattr(input_data, "__len__") or not hasattr(input_data, "__getitem__"):
        try:
            input_data = list(input_data)
        except TypeError:
            raise TypeError(
                f"{name}: expected a sequence of inputs (file names, HDUs or (array, WCS) tuples), "
                f"got {type(input_data).__name__}"
            ) from None
    if len(input_data) == 0:
        raise ValueError(f"{name}: the list of inputs is empty")
    return input_data


#: keywords reproject's functions take through ``**kwargs``-like paths: accepted only when None
_NONE_ONLY = ("non_reprojected_dims", "zarr_path")


def check_no_extra_kwargs(func_name, kwargs):
    """Unknown keywords raise ``TypeError``, as they do with reproject's functions."""
    for key, value in kwargs.items():
        if key in _NONE_ONLY and value is None:
            continue
        if key == "non_reprojected_dims":
            raise NotImplementedError("non_reprojected_dims: only 2-D images are supported")
        raise TypeError(f"{func_name}() got an unexpected keyword argument {key!r}")


def check_coadd_arguments(
    input_data, input_weights, hdu_in, hdu_weights, blank_pixel_value, match_background, tmpdir, tile_size,
    progress_bar, clip_sigma, clip_iters,
):
    """The scalar arguments of ``reproject_and_coadd`` / ``plan_mosaic``.

    Returns ``(input_data, tile_size)``: the inputs as a sequence and the tile
    size as ``None`` or ``(ty, tx)``.
    """
    input_data = check_input_list(input_data)
    if input_weights is not None:
        if isinstance(input_weights, (str, os.PathLike, np.ndarray)):
            raise TypeError("input_weights: expected a sequence with one weight per input")
        input_weights = check_input_list(input_weights, "input_weights")
        if len(input_weights) != len(input_data):
            raise ValueError(f"input_weights: got {len(input_weights)} weights for {len(input_data)} inputs")
    check_hdu(hdu_in, "hdu_in")
    check_hdu(hdu_weights, "hdu_weights")
    check_real(blank_pixel_value, "blank_pixel_value", allow_nan=True)
    check_bool(match_background, "match_background")
    if tmpdir is not None:
        check_directory(tmpdir, "tmpdir")
    tile = check_tile_size(tile_size)
    check_progress_bar(progress_bar)
    check_real(clip_sigma, "clip_sigma", low=0.0, low_inclusive=False)
    check_int(clip_iters, "clip_iters", low=0)
    return input_data, input_weights, tile
