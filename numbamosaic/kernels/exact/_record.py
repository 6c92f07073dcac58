"""Recording the pieces of the exact kernel, so that one geometry serves every plane of a cube.

The clipping functions (:mod:`._sweep`, :mod:`._edges`) and the row function
(:mod:`._rows`) call :func:`record_piece`, :func:`record_group` and
:func:`record_pixel` with a recorder ``rec``.  The single-image and mosaic
kernels pass ``None``: the overloads then compile to nothing, so 2-D calls
keep their arithmetic, machine code and compiled variants.  A cube kernel
(:mod:`numbamosaic.kernels._cube`) passes a tuple of arrays and a data array
whose every pixel is valid; each piece of an output pixel (input pixel, its
weight ``w``, its flux weight ``q`` and its input-weight product ``s``) is
appended, with the ends of the groups (one ``_clip_cell`` call, whose sums
the row function adds to the pixel's) and of the pixels (with the pixel's
solid angle ``W``).  :func:`numbamosaic.kernels._cube.apply_pieces` then
replays the sums of the 2-D kernel plane by plane, in the same order and
grouping, skipping the pieces whose input pixel is blank in that plane, so a
plane of a cube equals the 2-D reprojection of that plane bit for bit.

Recorder layout (``make_recorder``): ``(RI, RW, RG, RP, RS, CNT)`` with

* ``RI[0, k], RI[1, k]``: input row and column of piece ``k``;
* ``RW[0, k], RW[1, k], RW[2, k]``: ``w``, ``q`` (NaN: the piece adds to the
  valid area but not to the value, a flux piece with a non-positive model
  solid angle) and ``s``;
* ``RG[g]``: number of pieces recorded at the end of group ``g``;
* ``RP[p]``: number of groups recorded at the end of pixel ``p``, ``RS[p]``
  its solid angle ``W``;
* ``CNT``: pieces, groups, pixels recorded.  Counting continues past the
  capacity without writing; the caller grows the arrays and records again.
"""

import numpy as np
from numba import types
from numba.extending import overload

from .._jit import OVERLOAD_OPTIONS, kernel


def record_piece(rec, iy, ix, w, q, s):
    """Append a piece (stub; see the overload)."""
    raise NotImplementedError  # replaced by the Numba overload below


def record_group(rec):
    """Close a group of pieces (stub; see the overload)."""
    raise NotImplementedError  # replaced by the Numba overload below


def record_pixel(rec, W):
    """Close an output pixel of solid angle ``W`` (stub; see the overload)."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(record_piece, jit_options=OVERLOAD_OPTIONS)
def _record_piece_impl(rec, iy, ix, w, q, s):
    if isinstance(rec, types.NoneType):
        def impl(rec, iy, ix, w, q, s):
            return None
    else:
        def impl(rec, iy, ix, w, q, s):
            RI, RW, RG, RP, RS, CNT = rec
            k = CNT[0]
            if k < RI.shape[1]:
                RI[0, k] = iy
                RI[1, k] = ix
                RW[0, k] = w
                RW[1, k] = q
                RW[2, k] = s
            CNT[0] = k + 1
    return impl


@overload(record_group, jit_options=OVERLOAD_OPTIONS)
def _record_group_impl(rec):
    if isinstance(rec, types.NoneType):
        def impl(rec):
            return None
    else:
        def impl(rec):
            RI, RW, RG, RP, RS, CNT = rec
            g = CNT[1]
            if g < RG.shape[0]:
                RG[g] = CNT[0]
            CNT[1] = g + 1
    return impl


@overload(record_pixel, jit_options=OVERLOAD_OPTIONS)
def _record_pixel_impl(rec, W):
    if isinstance(rec, types.NoneType):
        def impl(rec, W):
            return None
    else:
        def impl(rec, W):
            RI, RW, RG, RP, RS, CNT = rec
            p = CNT[2]
            if p < RP.shape[0]:
                RP[p] = CNT[1]
                RS[p] = W
            CNT[2] = p + 1
    return impl


@kernel
def make_recorder(pieces, groups, pixels):
    """A recorder with room for ``pieces`` pieces, ``groups`` groups and ``pixels`` pixels."""
    return (np.empty((2, pieces), np.int64), np.empty((3, pieces)), np.empty(groups, np.int64),
            np.empty(pixels, np.int64), np.empty(pixels), np.zeros(3, np.int64))
