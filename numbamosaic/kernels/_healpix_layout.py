"""HEALPix base-face layout and nested-index bit interleaving, in plain Python.

One definition for the Python side (HiPS tile paths and frames in
``hips._layout``, whole-sky maps in ``hips._read``, MOC cells in
``hips._generate``) and the compiled side (``kernels._hpgeom`` compiles
:func:`compress` and :func:`spread` with the JIT policy): the functions work
on Python integers, NumPy ``int64`` arrays and, compiled, on ``int64`` scalars.

Face ``f`` (0-11) lies at ring row ``JRLL[f]`` (in units of ``nside`` from the
north pole) and quarter-column ``JPLL[f]``; a nested index at order ``k`` is
``f << 2k`` plus the in-face coordinates ``(ix, iy)`` interleaved bit by bit
(``ix`` on the even bits).

References
----------
Gorski, K. M. et al. 2005, ApJ 622, 759 (section 4); the HEALPix C++ library
(``healpix_base``: ``jrll``, ``jpll``, ``spread_bits``, ``compress_bits``).
"""

#: ring row of each base face, in units of nside from the north pole
JRLL = (2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4)
#: quarter-column (longitude in units of 45 degrees) of each base face
JPLL = (1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7)


def compress(v):
    """Even bits of ``v`` packed together (the inverse of :func:`spread`)."""
    v = v & 0x5555555555555555
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    v = (v | (v >> 16)) & 0x00000000FFFFFFFF
    return v


def spread(v):
    """Bits of ``v`` (below 2**32) spread to the even positions."""
    v = v & 0x00000000FFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    v = (v | (v << 1)) & 0x5555555555555555
    return v
