"""Writing a mosaic to a zarr store, tile by tile and atomically.

The command line writes ``OUT.zarr`` outputs through this module: a zarr
group with two 2-D arrays, ``mosaic`` and ``footprint``, and the FITS header
of the mosaic (WCS and provenance cards) as the group attribute
``fits_header`` (the header's text, one 80-character card per line; rebuild
it with ``astropy.io.fits.Header.fromstring(text, sep="\\n")``).

Unlike the FITS writer, nothing is held in memory: the arrays are handed to
:func:`numbamosaic.reproject_and_coadd` as ``output_array`` and
``output_footprint``, which writes each (chunk-aligned) tile once, and on a
dask cluster whose workers see the store the workers write them.  The
group is built under a temporary name next to the destination and renamed
into place when complete, so readers never see a partial mosaic and a
failure leaves nothing behind.
"""

import os
import shutil
import tempfile

#: default chunk side of the arrays (pixels)
CHUNK = 1024


class ZarrMosaic:
    """A zarr group being written at a temporary path; see the module docstring.

    Parameters
    ----------
    path : str
        Destination directory (``...zarr``).
    shape : (ny, nx)
    dtype : numpy dtype
        float32 or float64.
    chunks : int, optional
        Chunk side (default :data:`CHUNK`, at most the output's sides).
    """

    def __init__(self, path, shape, dtype, chunks=None):
        import zarr

        self.path = os.path.abspath(os.fspath(path))
        directory = os.path.dirname(self.path)
        self.tmp = tempfile.mkdtemp(prefix="." + os.path.basename(self.path) + ".", suffix=".part", dir=directory)
        try:
            side = int(chunks or CHUNK)
            c = (min(side, shape[0]), min(side, shape[1]))
            self.group = zarr.open_group(self.tmp, mode="w")
            self.array = self.group.create_array("mosaic", shape=tuple(shape), chunks=c, dtype=dtype)
            self.footprint = self.group.create_array("footprint", shape=tuple(shape), chunks=c, dtype=dtype)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def commit(self, header, overwrite=False):
        """Store ``header`` (an ``astropy.io.fits.Header``) and move the group into place."""
        self.group.attrs["fits_header"] = header.tostring(sep="\n")
        if os.path.exists(self.path):
            if not overwrite:
                raise FileExistsError(f"{self.path} already exists (use overwrite=True / --overwrite)")
            old = tempfile.mkdtemp(prefix="." + os.path.basename(self.path) + ".", suffix=".old", dir=os.path.dirname(self.path))
            os.rmdir(old)
            os.replace(self.path, old)  # a directory cannot be replaced in one step
            os.replace(self.tmp, self.path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.path)
        return self.path

    def committed_arrays(self):
        """``(mosaic, footprint)`` opened read-only at the final path (after :meth:`commit`:
        the arrays created at the temporary path no longer exist)."""
        import zarr

        group = zarr.open_group(self.path, mode="r")
        return group["mosaic"], group["footprint"]

    def discard(self):
        """Remove the partial group (after an error or an interrupt)."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def coverage_fraction(footprint, rows=1024):
    """Fraction of pixels with a positive footprint, read ``rows`` rows at a time."""
    import numpy as np

    ny = footprint.shape[0]
    n = 0
    for y in range(0, ny, rows):
        n += int(np.count_nonzero(np.asarray(footprint[y:y + rows]) > 0))
    return n / max(1, footprint.shape[0] * footprint.shape[1])
