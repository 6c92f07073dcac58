"""HEALPix geometry, compiled (Gorski et al. 2005): pixel indices <-> directions.

Used by the resampling kernels of :mod:`numbamosaic.kernels._healpix` and by
the HiPS tile bookkeeping (``hips._generate``); no coordinate arrays are
built, every function works on one pixel or one direction.

* nested index -> face and in-face integer coordinates ``(ix, iy)`` by bit
  de-interleaving (:mod:`._healpix_layout`); ``(face, ix, iy)`` -> ``(z, phi)``
  with Gorski et al. (2005), eqs. (4)-(9) written in the "jr / jp" form of
  HEALPix C++ (``pix2loc``); near the poles ``sin(theta)`` is computed from
  ``1 - z`` without cancellation.
* ring index -> ring number ``i`` (1-based from the north pole), index in
  ring ``j`` and ``(z, phi)`` (Gorski et al. 2005, section 4).
* ``(z, phi)`` -> ring or nested index (the inverse, ``loc2pix``).
* :func:`interp_weights`: the four ring pixels and bilinear weights of a
  direction, after the scheme of astropy-healpix (``interpolate_weights``):
  the pixel containing the point and its neighbour on the same ring towards
  the point, then the two pixels bracketing the point's longitude on the
  adjacent ring towards the point, weighted linearly in longitude and
  latitude; inside the polar-most ring the second pair is replaced by a
  value at the pole equal to the mean of the four polar pixels.

References
----------
Gorski, K. M. et al. 2005, ApJ 622, 759, "HEALPix: a framework for
high-resolution discretization and fast analysis of data distributed on the
sphere".
"""

import math

import numpy as np

from ._healpix_layout import JPLL, JRLL, compress, spread
from ._jit import inline_kernel, kernel

NAN = math.nan
HALFPI = 0.5 * math.pi
TWOPI = 2.0 * math.pi

# face layout (see ._healpix_layout), as arrays for the compiled code
_JRLL = np.array(JRLL, dtype=np.int64)
_JPLL = np.array(JPLL, dtype=np.int64)
#: the bit (de)interleaving of ._healpix_layout, compiled and inlined where used
_compress = inline_kernel(compress)
_spread = inline_kernel(spread)


@kernel
def nest_to_xyf(pix, order):
    """Nested index at ``order`` -> ``(face, ix, iy)``."""
    face = pix >> (2 * order)
    ipf = pix & ((np.int64(1) << (2 * order)) - 1)
    return face, _compress(ipf), _compress(ipf >> 1)


@kernel
def xyf_to_nest(face, ix, iy, order):
    """``(face, ix, iy)`` -> nested index at ``order``."""
    return (face << (2 * order)) + _spread(ix) + (_spread(iy) << 1)


@inline_kernel
def _equatorial_z(jr, nside):
    """``(z, sin(theta))`` on ring coordinate ``jr`` of the equatorial zone."""
    z = (2 * nside - jr) * 2.0 / (3.0 * nside)
    return z, math.sqrt((1.0 - z) * (1.0 + z))


@inline_kernel
def _phi(jp, nr, d):
    """Longitude (radians, in ``[0, 2 pi)``) of column ``jp nr + d`` on a ring of ``nr`` steps a quadrant."""
    phi = (jp * nr + d) * (0.25 * math.pi / nr)
    if phi < 0.0:
        phi += TWOPI
    elif phi >= TWOPI:
        phi -= TWOPI
    return phi


@kernel
def xyf_to_loc(face, fx, fy, nside):
    """Point ``(fx, fy)`` of face ``face`` (in pixel units, centres at +0.5) ->
    ``(z, sin(theta), phi)``.

    ``fx, fy`` may be fractional (``ix + 0.5`` for a pixel centre).
    """
    jr = _JRLL[face] * nside - (fx + fy)  # ring coordinate from the north pole
    if jr < nside:  # north polar cap
        nr = jr
        tmp = nr * nr / (3.0 * nside * nside)
        z = 1.0 - tmp
        sth = math.sqrt(tmp * (2.0 - tmp))
    elif jr > 3 * nside:  # south polar cap
        nr = 4 * nside - jr
        tmp = nr * nr / (3.0 * nside * nside)
        z = tmp - 1.0
        sth = math.sqrt(tmp * (2.0 - tmp))
    else:
        nr = float(nside)
        z, sth = _equatorial_z(jr, nside)
    if nr == 0.0:
        return z, 0.0, 0.0
    return z, sth, _phi(_JPLL[face], nr, fx - fy)


@inline_kernel
def _isqrt(v):
    r = np.int64(math.sqrt(v + 0.5))
    while r * r > v:
        r -= 1
    while (r + 1) * (r + 1) <= v:
        r += 1
    return r


@kernel
def ring_info(pix, nside):
    """Ring index -> ``(i, j, n_in_ring, first)``: 1-based ring number, 0-based
    index in the ring, pixels in the ring, ring index of its first pixel."""
    ncap = 2 * nside * (nside - 1)
    npix = 12 * nside * nside
    if pix < ncap:  # north cap: ring i has 4 i pixels starting at 2 i (i - 1)
        i = (1 + _isqrt(1 + 2 * pix)) >> 1
        first = 2 * i * (i - 1)
        return i, pix - first, 4 * i, first
    if pix < npix - ncap:
        k = pix - ncap
        i = k // (4 * nside) + nside
        first = ncap + (i - nside) * 4 * nside
        return i, pix - first, 4 * nside, first
    k = npix - pix  # south cap, mirrored
    ii = (1 + _isqrt(2 * k - 1)) >> 1
    first = npix - 2 * ii * (ii + 1)
    return 4 * nside - ii, pix - first, 4 * ii, first


@kernel
def ring_to_loc(pix, nside):
    """Ring index -> ``(z, sin(theta), phi)`` of the pixel centre."""
    i, j, n, _ = ring_info(pix, nside)
    if i < nside:
        tmp = i * i / (3.0 * nside * nside)
        return 1.0 - tmp, math.sqrt(tmp * (2.0 - tmp)), (j + 0.5) * (TWOPI / n)
    if i > 3 * nside:
        ii = 4 * nside - i
        tmp = ii * ii / (3.0 * nside * nside)
        return tmp - 1.0, math.sqrt(tmp * (2.0 - tmp)), (j + 0.5) * (TWOPI / n)
    z = (2 * nside - i) * 2.0 / (3.0 * nside)
    shift = 0.5 if ((i - nside) & 1) == 0 else 0.0  # equatorial rings alternate
    return z, math.sqrt((1.0 - z) * (1.0 + z)), (j + shift) * (TWOPI / n)


@inline_kernel
def _quadrants(phi):
    """Longitude ``phi`` (radians) in units of 90 degrees, in ``[0, 4)``."""
    tt = phi / HALFPI
    return tt - 4.0 * math.floor(tt / 4.0)


@inline_kernel
def _equatorial_jpm(z, tt, nside):
    """Indices of the two pixel edge lines (ascending, descending) through a point of the equatorial zone."""
    t1 = nside * (0.5 + tt)
    t2 = nside * z * 0.75
    return np.int64(t1 - t2), np.int64(t1 + t2)


@kernel
def loc_to_ring(z, phi, nside):
    """``(z, phi)`` -> ring index of the pixel containing the point."""
    za = abs(z)
    tt = _quadrants(phi)
    if za <= 2.0 / 3.0:
        jp, jm = _equatorial_jpm(z, tt, nside)
        ir = nside + 1 + jp - jm
        kshift = 1 - (ir & 1)
        ip = (jp + jm - nside + kshift + 1) // 2
        ip = ip % (4 * nside)
        return 2 * nside * (nside - 1) + (ir - 1) * 4 * nside + ip
    tp = tt - math.floor(tt)
    tmp = nside * math.sqrt(3.0 * (1.0 - za))
    jp = np.int64(tp * tmp)
    jm = np.int64((1.0 - tp) * tmp)
    ir = jp + jm + 1
    ip = np.int64(tt * ir)
    ip = ip % (4 * ir)
    if z > 0.0:
        return 2 * ir * (ir - 1) + ip
    return 12 * nside * nside - 2 * ir * (ir + 1) + ip


@kernel
def loc_to_nest(z, phi, nside, order):
    """``(z, phi)`` -> nested index of the pixel containing the point."""
    za = abs(z)
    tt = _quadrants(phi)
    if za <= 2.0 / 3.0:
        jp, jm = _equatorial_jpm(z, tt, nside)
        ifp = jp >> order
        ifm = jm >> order
        if ifp == ifm:
            face = ifp | 4
        elif ifp < ifm:
            face = ifp
        else:
            face = ifm + 8
        ix = jm & (nside - 1)
        iy = nside - (jp & (nside - 1)) - 1
    else:
        ntt = min(np.int64(3), np.int64(tt))
        tp = tt - ntt
        tmp = nside * math.sqrt(3.0 * (1.0 - za))
        jp = min(nside - 1, np.int64(tp * tmp))
        jm = min(nside - 1, np.int64((1.0 - tp) * tmp))
        if z >= 0.0:
            face = ntt
            ix = nside - jm - 1
            iy = nside - jp - 1
        else:
            face = ntt + 8
            ix = jp
            iy = jm
    return xyf_to_nest(face, ix, iy, order)


@kernel
def ring_to_nest(pix, nside, order):
    """Ring index -> nested index (through the pixel centre)."""
    z, _, phi = ring_to_loc(pix, nside)
    return loc_to_nest(z, phi, nside, order)


@inline_kernel
def _vec(z, sth, phi):
    return sth * math.cos(phi), sth * math.sin(phi), z


@kernel
def pix_to_loc(pix, nside, order, nested):
    """HEALPix index -> ``(z, sin(theta), phi)`` of the pixel centre."""
    if nested:
        face, ix, iy = nest_to_xyf(pix, order)
        return xyf_to_loc(face, ix + 0.5, iy + 0.5, nside)
    return ring_to_loc(pix, nside)


@kernel
def pix_to_vec(pix, nside, order, nested):
    """HEALPix index -> unit vector of the pixel centre."""
    z, sth, phi = pix_to_loc(pix, nside, order, nested)
    return _vec(z, sth, phi)


@kernel
def lonlat_to_nest_array(lon, lat, nside, order, out):
    """Nested index at ``order`` of each (lon, lat) in degrees (-1 where NaN)."""
    for k in range(lon.size):
        if lon[k] != lon[k] or lat[k] != lat[k]:
            out[k] = -1
            continue
        phi = lon[k] * (math.pi / 180.0)
        phi = phi - TWOPI * math.floor(phi / TWOPI)
        out[k] = loc_to_nest(math.sin(lat[k] * (math.pi / 180.0)), phi, nside, order)


@kernel
def nest_to_lonlat_array(pix, nside, order, lon, lat):
    """Centres (degrees) of nested pixels ``pix`` at ``order``."""
    for k in range(pix.size):
        z, sth, phi = pix_to_loc(pix[k], nside, order, True)
        lon[k] = phi * (180.0 / math.pi)
        lat[k] = math.atan2(z, sth) * (180.0 / math.pi)


@kernel
def _ring_lat_lon(pix, nside):
    z, sth, phi = ring_to_loc(pix, nside)
    return math.atan2(z, sth), phi


@kernel
def _near(lon, l1):
    """``l1`` moved by 2 pi to be within pi of ``lon``."""
    if lon - l1 > math.pi:
        return l1 + TWOPI
    if l1 - lon > math.pi:
        return l1 - TWOPI
    return l1


@kernel
def _ring_step(r, j, n, lon, lr):
    """Neighbour on the same ring of ring pixel ``r`` (index ``j`` of ``n``) towards ``lon``."""
    if lon < lr:
        return r + n - 1 if j == 0 else r - 1
    return r - n + 1 if j == n - 1 else r + 1


@kernel
def interp_weights(lon, lat, z, nside):
    """Four ring indices and bilinear weights at ``(lon, lat)`` (radians,
    ``z = sin(lat)``), after the scheme of astropy-healpix."""
    npix = 12 * nside * nside
    r1 = loc_to_ring(z, lon, nside)
    lat1, lon1 = _ring_lat_lon(r1, nside)
    lon1 = _near(lon, lon1)
    i, j, n, first = ring_info(r1, nside)
    r2 = _ring_step(r1, j, n, lon, lon1)
    lat2, lon2 = _ring_lat_lon(r2, nside)
    lon2 = _near(lon, lon2)
    i2 = i - 1 if lat > lat1 else i + 1
    xf1 = (lon - lon1) / (lon2 - lon1)
    if i2 > 0 and i2 < 4 * nside:
        if i2 < nside:
            n2 = 4 * i2
            f2 = 2 * i2 * (i2 - 1)
        elif i2 <= 3 * nside:
            n2 = 4 * nside
            f2 = 2 * nside * (nside - 1) + (i2 - nside) * 4 * nside
        else:
            ii = 4 * nside - i2
            n2 = 4 * ii
            f2 = npix - 2 * ii * (ii + 1)
        lf = lon * n2 / TWOPI
        if n2 == 4 * nside and (i2 & 1) == 1:
            lf += 0.5
        j3 = np.int64(lf)
        if j3 >= n2:
            j3 = n2 - 1
        r3 = f2 + j3
        lat3, lon3 = _ring_lat_lon(r3, nside)
        lon3 = _near(lon, lon3)
        r4 = _ring_step(r3, j3, n2, lon, lon3)
        lat4, lon4 = _ring_lat_lon(r4, nside)
        lon4 = _near(lon, lon4)
        xf2 = (lon - lon3) / (lon4 - lon3)
        yf = (lat - lat1) / (lat3 - lat1)
        return r1, r2, r3, r4, (1.0 - xf1) * (1.0 - yf), xf1 * (1.0 - yf), (1.0 - xf2) * yf, xf2 * yf
    if i2 == 0:
        r3 = (r1 + 2) % 4
        r4 = (r2 + 2) % 4
        yf = (lat - lat1) / (HALFPI - lat1)
    else:
        r3 = (r1 - (npix - 4) + 2) % 4 + npix - 4
        r4 = (r2 - (npix - 4) + 2) % 4 + npix - 4
        yf = (lat - lat1) / (-HALFPI - lat1)
    q = 0.25 * yf
    return r1, r2, r3, r4, (1.0 - xf1) * (1.0 - yf) + q, xf1 * (1.0 - yf) + q, q, q
