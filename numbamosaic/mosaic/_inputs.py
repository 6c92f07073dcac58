"""Mosaic inputs: lazy data references, transforms and bounding boxes.

Each input becomes a :class:`Source`: a reference to its pixels (a FITS
path + HDU re-opened lazily as a memory map, or an in-memory array), its
optional weight image, its pixel transform to the output and its bounding box
in the output.  Sources are cheap to pickle when they reference files, which
is what the distributed driver ships to workers.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._avm import is_avm_image
from .._axes import image_plane
from .._daskin import is_dask_array
from .._io import as_kernel_array, check_data_2d, parse_input_data


@dataclass
class DataRef:
    """Where an input's pixels live.

    Exactly one of ``array`` or ``path`` is set.  ``load()`` returns the
    kernel array (zero-copy for native or big-endian floats, a converted copy
    otherwise) and its float dtype.
    """

    array: object = None
    path: str = None
    hdu: object = None
    allow_swapped: bool = True

    def load(self):
        if self.array is not None:
            return as_kernel_array(self.array, allow_swapped=self.allow_swapped)
        from astropy.io import fits

        hdul = fits.open(self.path)  # memory-maps unscaled data; scaled data are read and scaled
        from .._io import _image_hdu

        hdu = _image_hdu(hdul, self.hdu, "input_data")
        data = hdu.data
        if data.ndim > 2:  # degenerate leading axes (checked by make_sources)
            data = data.reshape(data.shape[-2:])
        return as_kernel_array(data, allow_swapped=self.allow_swapped)

    def __getstate__(self):
        state = dict(self.__dict__)
        return state


@dataclass
class Source:
    """One mosaic input, ready for the tile kernels."""

    index: int
    ref: DataRef
    shape: tuple
    dtype: np.dtype
    wcs: object
    transform: object = None
    bbox: tuple = None
    wref: DataRef = None
    bg: np.ndarray = field(default_factory=lambda: np.zeros(3))
    full_wcs: object = None  # the WCS as given (with degenerate extra axes)
    _cache: dict = field(default_factory=dict, repr=False)

    def arrays(self, resampler):
        """(data, state, wdata) for the kernels, loaded once per process."""
        c = self._cache
        if "data" not in c:
            data, _ = self.ref.load()
            c["data"] = data
            c["state"] = resampler.prepare(data)
            if self.wref is not None:
                c["wdata"] = self.wref.load()[0]
            else:
                c["wdata"] = np.empty((0, 0), dtype=np.float32)
        return c["data"], c["state"], c["wdata"]

    def release(self):
        self._cache.clear()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state


def _file_ref(item, hdu_in):
    """A DataRef by file name when ``item`` is a path (lazy, picklable)."""
    import os

    if isinstance(item, (str, os.PathLike)) and not is_avm_image(item):  # PNG/JPEG: read in memory
        return DataRef(path=str(Path(item)), hdu=hdu_in)
    return None


def make_sources(input_data, hdu_in=None, input_weights=None, hdu_weights=None, allow_swapped=True):
    """Parse every input (and weight) into a :class:`Source` (no transform yet).

    Raises clear errors naming the argument and the input index.
    """
    if isinstance(input_data, (str, Path)) or (isinstance(input_data, tuple) and len(input_data) == 2 and isinstance(input_data[0], np.ndarray)):
        raise TypeError("input_data: expected a sequence of inputs (list of files, HDUs or (array, WCS) tuples)")
    try:
        n = len(input_data)
    except TypeError:
        input_data = list(input_data)
        n = len(input_data)
    if n == 0:
        raise ValueError("input_data: the list of inputs is empty")
    if input_weights is not None:
        if isinstance(input_weights, (str, Path, np.ndarray)):
            raise TypeError("input_weights: expected a sequence with one weight per input")
        if len(input_weights) != n:
            raise ValueError(f"input_weights: got {len(input_weights)} weights for {n} inputs")
    sources = []
    for i in range(n):
        item = input_data[i]
        name = f"input_data[{i}]"
        array, wcs = parse_input_data(item, hdu_in=hdu_in, name=name)
        if not isinstance(array, np.ndarray) and not is_dask_array(array):
            array = np.asarray(array)  # dask arrays: computed in part once the output is known (_coadd)
        full_wcs = wcs
        wcs, plane = image_plane(wcs, array.shape, name)  # degenerate extra axes dropped
        if array.ndim != 2 and len(plane) == 2:
            array = array.reshape(plane)
        check_data_2d(array, name)
        from .._io import kernel_dtype

        dtype = kernel_dtype(array.dtype)
        ref = _file_ref(item, hdu_in) or DataRef(array=array, allow_swapped=allow_swapped)
        ref.allow_swapped = allow_swapped
        wref = None
        if input_weights is not None:
            wref = _weights_ref(input_weights[i], hdu_weights, array.shape, wcs, i)
        sources.append(Source(i, ref, tuple(array.shape), dtype, wcs, wref=wref, full_wcs=full_wcs))
    return sources


def _weights_ref(item, hdu_weights, shape, wcs_in, i):
    """Weights for input ``i`` on the input's own pixel grid (float32, NaN -> 0).

    Arrays must match the input's shape.  Weights with their own WCS that
    differs from the input's are first resampled onto the input grid
    (bilinear), so the kernels sample them at the same positions as the data.
    """
    name = f"input_weights[{i}]"
    if isinstance(item, np.ndarray):
        w, wwcs = item, None
    else:
        w, wwcs = parse_input_data(item, hdu_in=hdu_weights, name=name)
        w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D weight image, got shape {w.shape}")
    same_grid = wwcs is None or _same_wcs(wwcs, wcs_in)
    if same_grid:
        if tuple(w.shape) != tuple(shape):
            raise ValueError(f"{name}: shape {w.shape} does not match the input's shape {tuple(shape)}")
        arr = np.asarray(w, dtype=np.float32)
        return DataRef(array=np.where(np.isfinite(arr), arr, np.float32(0)), allow_swapped=False)
    from ..interpolation import reproject_interp

    arr = reproject_interp((w, wwcs), wcs_in, shape_out=shape, return_footprint=False, parallel=False)
    arr = np.where(np.isfinite(arr), arr, 0).astype(np.float32)
    return DataRef(array=arr, allow_swapped=False)


def _same_wcs(a, b):
    from astropy.wcs import WCS

    if isinstance(a, WCS) and isinstance(b, WCS):
        try:
            return a.wcs.compare(b.wcs, tolerance=1e-12) and (a.sip is None) == (b.sip is None)
        except Exception:
            return False
    return a is b
