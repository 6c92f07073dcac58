"""Mosaic inputs: lazy data references, transforms and bounding boxes.

Each input becomes a :class:`Source`: a reference to its pixels (a FITS
path + HDU re-opened lazily as a memory map, or an in-memory array), its
optional weight image, its pixel transform to the output and its bounding box
in the output.  Sources are cheap to pickle when they reference files, which
is what the distributed driver ships to workers.

Open files are bounded: parsing reads each file's header and closes it, and
inputs given by file name are loaded on use into a small per-process LRU
(:data:`LOADED`, sized from the open-file limit); each loaded input holds one
memory map (one file descriptor) until it is evicted or the mosaic returns.
"""

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._axes import image_plane
from .._daskin import is_dask_array
from ..io import (
    as_kernel_array,
    check_data_2d,
    check_wcs,
    file_name,
    is_avm_image,
    kernel_dtype,
    parse_input_data,
    read_fits_image,
)


def open_files_budget():
    """How many inputs given by file name may be loaded at once in this process.

    A quarter of the soft ``RLIMIT_NOFILE`` (each loaded input holds one
    memory map), between 8 and 256.
    """
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft == resource.RLIM_INFINITY:
            soft = 4096
    except (ImportError, OSError, ValueError):
        soft = 1024
    return int(max(8, min(256, soft // 4)))


class LoadedInputs:
    """Thread-safe LRU of loaded file-backed inputs: ``Source -> (data, state, wdata)``.

    Loading happens outside the lock (two threads may load the same input
    at once; one result is kept).  An evicted input's arrays stay valid for
    a thread still using them (they are freed, and their file closed, when
    the last reference goes).
    """

    def __init__(self, capacity=None):
        self.capacity = capacity
        self._lru = OrderedDict()
        self._lock = threading.Lock()

    def get(self, src, load):
        key = id(src)
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None and hit[0] is src:
                self._lru.move_to_end(key)
                return hit[1]
        arrays = load()
        with self._lock:
            hit = self._lru.get(key)
            if hit is not None and hit[0] is src:
                return hit[1]
            self._lru[key] = (src, arrays)
            cap = self.capacity or open_files_budget()
            while len(self._lru) > cap:
                self._lru.popitem(last=False)
        return arrays

    def peek(self, src):
        """The loaded arrays of ``src`` or None (never loads, no LRU update)."""
        with self._lock:
            hit = self._lru.get(id(src))
        return hit[1] if hit is not None and hit[0] is src else None

    def discard(self, sources):
        with self._lock:
            for src in sources:
                hit = self._lru.get(id(src))
                if hit is not None and hit[0] is src:
                    del self._lru[id(src)]

    def __len__(self):
        return len(self._lru)


#: loaded inputs given by file name, for every mosaic in this process
LOADED = LoadedInputs()


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
    name: str = "input_data"

    def load(self):
        if self.array is not None:
            return as_kernel_array(self.array, allow_swapped=self.allow_swapped)
        # the file is closed on return: unscaled data are a memory map of it,
        # scaled or compressed data are read into memory
        data = read_fits_image(self.path, self.hdu, self.name)[0]
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

    def _load(self, resampler):
        data, _ = self.ref.load()
        state = resampler.prepare(data)
        wdata = self.wref.load()[0] if self.wref is not None else np.empty((0, 0), dtype=np.float32)
        return data, state, wdata

    def arrays(self, resampler):
        """(data, state, wdata) for the kernels.

        In-memory inputs are prepared once and kept; inputs given by file name
        go through the bounded :data:`LOADED` cache (open on use).
        """
        if self.ref.path is not None:
            return LOADED.get(self, lambda: self._load(resampler))
        c = self._cache
        if "arrays" not in c:
            c["arrays"] = self._load(resampler)
        return c["arrays"]

    def loaded_data(self):
        """The kernel data array if loaded in this process, else None (never loads)."""
        arrays = LOADED.peek(self) if self.ref.path is not None else self._cache.get("arrays")
        return arrays[0] if arrays is not None else None

    def release(self):
        self._cache.clear()
        LOADED.discard([self])

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state


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
        if isinstance(item, (str, os.PathLike)) and not is_avm_image(item):  # PNG/JPEG: read in memory
            # header only: the file is closed again, its data are loaded on use
            _, wcs, shape, dtype = read_fits_image(item, hdu_in, name, with_data=False)
            name = file_name(name, item)
            check_wcs(wcs, name)
            full_wcs = wcs
            wcs, plane = image_plane(wcs, shape, name)  # degenerate extra axes dropped
            if len(plane) != 2:
                raise ValueError(f"{name}: expected 2-D image data, got data of shape {shape}")
            shape = tuple(int(n) for n in plane)
            ref = DataRef(path=str(Path(item)), hdu=hdu_in, allow_swapped=allow_swapped, name=name)
        else:
            array, wcs = parse_input_data(item, hdu_in=hdu_in, name=name)
            if not isinstance(array, np.ndarray) and not is_dask_array(array):
                array = np.asarray(array)  # dask arrays: computed in part once the output is known (_coadd)
            full_wcs = wcs
            wcs, plane = image_plane(wcs, array.shape, name)  # degenerate extra axes dropped
            if array.ndim != 2 and len(plane) == 2:
                array = array.reshape(plane)
            check_data_2d(array, name)
            shape, dtype = tuple(array.shape), kernel_dtype(array.dtype, name)
            ref = DataRef(array=array, allow_swapped=allow_swapped, name=name)
        wref = None
        if input_weights is not None:
            wref = _weights_ref(input_weights[i], hdu_weights, shape, wcs, i)
        sources.append(Source(i, ref, shape, dtype, wcs, wref=wref, full_wcs=full_wcs))
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
        if isinstance(item, (str, os.PathLike)):
            name = file_name(name, item)
        w = np.asarray(w)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{name}: weights must be real numbers, got dtype {w.dtype}")
    if w.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D weight image, got shape {w.shape}")
    same_grid = wwcs is None or _same_wcs(wwcs, wcs_in)
    if same_grid:
        if tuple(w.shape) != tuple(shape):
            raise ValueError(f"{name}: shape {w.shape} does not match the input's shape {tuple(shape)}")
        arr = np.asarray(w, dtype=np.float32)
        arr = np.where(np.isfinite(arr), arr, np.float32(0))
        _check_nonnegative(arr, name)
        return DataRef(array=arr, allow_swapped=False)
    from ..interpolation import reproject_interp

    arr = reproject_interp((w, wwcs), wcs_in, shape_out=shape, return_footprint=False, parallel=False)
    arr = np.where(np.isfinite(arr), arr, 0).astype(np.float32)
    _check_nonnegative(arr, name)
    return DataRef(array=arr, allow_swapped=False)


def _check_nonnegative(arr, name):
    """Weights are relative: a negative one would make the mean meaningless."""
    lo = float(arr.min()) if arr.size else 0.0
    if lo < 0:
        n = int((arr < 0).sum())
        raise ValueError(f"{name}: weights must be >= 0 (NaN counts as 0), got {n} negative value(s), the lowest {lo:g}")


def _same_wcs(a, b):
    from astropy.wcs import WCS

    if isinstance(a, WCS) and isinstance(b, WCS):
        try:
            return a.wcs.compare(b.wcs, tolerance=1e-12) and (a.sip is None) == (b.sip is None)
        except Exception:
            return False
    return a is b
