"""Where a work function writes its box: output targets shared by every executor.

A work function asks its target for the two arrays of its box
(``open(box) -> (value, weight)``), fills them, and hands them back
(``close(box, value, weight) -> result``): the target either wrote them in
place (result ``None``) or returns them for the caller to write.

* :class:`ArrayTarget` -- arrays in this process (``np.ndarray``,
  ``np.memmap``), written in place; chunked stores (zarr, FITS file areas)
  get each box through a box-sized buffer, written once.  Pickled to dask
  workers only for stores every worker can reach (zarr directory stores,
  FITS files: ``_dask.shared_outputs`` checks).
* :class:`FileTarget` -- two plain binary files every dask worker maps
  (outputs in ``/dev/shm`` or caller memmaps on a shared file system).
* :class:`ReturnTarget` -- fresh arrays returned to the caller.
"""

import os
import tempfile

import numpy as np

from .._common import chunked_or_array, is_chunked_output


def temp_memmap(tmpdir, shape, dtype):
    """A memmap whose file is unlinked at once: nothing can be left behind."""
    fd, path = tempfile.mkstemp(prefix="numbamosaic-", suffix=".dat", dir=tmpdir)
    try:
        os.close(fd)
        arr = np.memmap(path, dtype=dtype, mode="w+", shape=shape)
    finally:
        os.unlink(path)
    return arr


class ArrayTarget:
    """Value and weight outputs of this process (or stores every worker reaches)."""

    def __init__(self, out, fp, dtype):
        self.out, self.fp = out, fp
        self.dtype = np.dtype(dtype)

    def _views(self):
        # chunked stores are written box by box, never read whole
        return chunked_or_array(self.out), None if self.fp is None else chunked_or_array(self.fp)

    def open(self, box):
        """``(value, weight)`` arrays of ``box`` (weight None without a footprint output)."""
        y0, y1, x0, x1 = box
        vout, vfp = self._views()
        shape = (y1 - y0, x1 - x0)
        o = np.empty(shape, self.dtype) if is_chunked_output(self.out) else vout[y0:y1, x0:x1]
        if vfp is None:
            return o, None
        f = np.empty(shape, self.dtype) if is_chunked_output(self.fp) else vfp[y0:y1, x0:x1]
        return o, f

    def close(self, box, o, f):
        if is_chunked_output(self.out) or is_chunked_output(self.fp):
            self.write(box, o, f, only_staged=True)
        return None

    def write(self, box, o, f, only_staged=False):
        """Write a box's arrays (computed elsewhere) into the outputs."""
        y0, y1, x0, x1 = box
        vout, vfp = self._views()
        if not only_staged or is_chunked_output(self.out):
            vout[y0:y1, x0:x1] = o
        if vfp is not None and (not only_staged or is_chunked_output(self.fp)):
            vfp[y0:y1, x0:x1] = f

    def blank(self, box, value):
        """A box without inputs: ``value`` (NaN or the blank value) with weight 0."""
        y0, y1, x0, x1 = box
        vout, vfp = self._views()
        vout[y0:y1, x0:x1] = value
        if vfp is not None:
            vfp[y0:y1, x0:x1] = 0


_MAPPED = {}


def _open_file(path, offset, dtype, shape):
    """This process's mapping of a shared output file (opened once per run)."""
    key = (path, offset, str(dtype), tuple(shape))
    arr = _MAPPED.get(key)
    if arr is None:
        arr = np.memmap(path, dtype=dtype, mode="r+", offset=offset, shape=tuple(shape))
        _MAPPED[key] = arr
    return arr


def release_files(paths):
    """Drop this process's mappings of the given files (so their space is freed)."""
    for key in [k for k in _MAPPED if k[0] in paths]:
        arr = _MAPPED.pop(key)
        del arr
    return True


class FileTarget:
    """Two output files ``(path, offset, dtype)`` of ``shape`` every worker maps and writes in place."""

    def __init__(self, out_spec, fp_spec, shape):
        self.out_spec, self.fp_spec, self.shape = tuple(out_spec), tuple(fp_spec), tuple(shape)

    @property
    def paths(self):
        return [self.out_spec[0], self.fp_spec[0]]

    def open(self, box):
        y0, y1, x0, x1 = box
        out = _open_file(*self.out_spec, self.shape)
        fp = _open_file(*self.fp_spec, self.shape)
        return np.asarray(out[y0:y1, x0:x1]), np.asarray(fp[y0:y1, x0:x1])

    def close(self, box, o, f):
        return None

    def blank(self, box, value):
        """A box without inputs, written into the files: ``value`` with weight 0."""
        o, f = self.open(box)
        o[...] = value
        f[...] = 0
        return None


class ReturnTarget:
    """Fresh box-sized arrays, returned to the caller (who writes them).

    ``footprint=False``: no weight array (``None``); ``fill=True``: the
    arrays start as NaN / 0 (for kernels that may leave pixels of their box
    untouched).
    """

    def __init__(self, dtype, footprint=True, fill=False):
        self.dtype, self.footprint, self.fill = np.dtype(dtype), footprint, fill

    def open(self, box):
        y0, y1, x0, x1 = box
        shape = (y1 - y0, x1 - x0)
        if self.fill:
            return np.full(shape, np.nan, self.dtype), (np.zeros(shape, self.dtype) if self.footprint else None)
        return np.empty(shape, self.dtype), (np.empty(shape, self.dtype) if self.footprint else None)

    def close(self, box, o, f):
        return o, f

    def blank(self, box, value):
        """A box without inputs, returned: ``value`` with weight 0."""
        y0, y1, x0, x1 = box
        shape = (y1 - y0, x1 - x0)
        return np.full(shape, value, self.dtype), (np.zeros(shape, self.dtype) if self.footprint else None)
