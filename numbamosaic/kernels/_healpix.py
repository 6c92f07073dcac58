"""HEALPix geometry and resampling kernels (Gorski et al. 2005).

Pixel centres are evaluated natively from the HEALPix formulas and fused
with the WCS evaluation and the interpolation of ``kernels._interp``: no
coordinate arrays are built.

Geometry
--------
* nested index -> face and in-face integer coordinates ``(ix, iy)`` by bit
  de-interleaving; ``(face, ix, iy)`` -> ``(z, phi)`` with Gorski et al.
  (2005), eqs. (4)-(9) written in the "jr / jp" form of HEALPix C++
  (``pix2loc``); near the poles ``sin(theta)`` is computed from
  ``1 - z`` without cancellation.
* ring index -> ring number ``i`` (1-based from the north pole), index in
  ring ``j`` and ``(z, phi)`` (Gorski et al. 2005, section 4).
* ``(z, phi)`` -> ring or nested index (the inverse, ``loc2pix``).

Interpolation of HEALPix maps at an arbitrary direction follows the scheme
of astropy-healpix (``interpolate_weights``): the pixel containing the point
and its neighbour on the same ring towards the point, then the two pixels
bracketing the point's longitude on the adjacent ring towards the point,
weighted linearly in longitude and latitude; inside the polar-most ring the
second pair is replaced by a value at the pole equal to the mean of the four
polar pixels.

References
----------
Gorski, K. M. et al. 2005, ApJ 622, 759, "HEALPix: a framework for
high-resolution discretization and fast analysis of data distributed on the
sphere".
Calabretta, M. R. & Roukema, B. F. 2007, MNRAS 381, 865 (the HPX projection,
whose pixel centres are HEALPix pixel centres).
"""

import math

import numpy as np
from numba import prange

from ..wcs._native import native_to_pixel, pixel_to_native
from ._entry import entry
from ._interp import sample, sample_row
from ._jit import inline_kernel, kernel, parallel_kernel

NAN = math.nan
HALFPI = 0.5 * math.pi
TWOPI = 2.0 * math.pi
#: HEALPix indices per parallel work item
BLOCK = 4096

# face layout: row (in units of nside, from the north pole) and column of each base face
_JRLL = np.array([2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4], dtype=np.int64)
_JPLL = np.array([1, 3, 5, 7, 0, 2, 4, 6, 1, 3, 5, 7], dtype=np.int64)


@inline_kernel
def _compress(v):
    """Even bits of ``v`` packed together (inverse of :func:`_spread`)."""
    v &= 0x5555555555555555
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    v = (v | (v >> 16)) & 0x00000000FFFFFFFF
    return v


@inline_kernel
def _spread(v):
    """Bits of ``v`` spread to the even positions."""
    v &= 0x00000000FFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    v = (v | (v << 1)) & 0x5555555555555555
    return v


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


@kernel
def loc_to_ring(z, phi, nside):
    """``(z, phi)`` -> ring index of the pixel containing the point."""
    za = abs(z)
    tt = phi / HALFPI
    tt = tt - 4.0 * math.floor(tt / 4.0)
    if za <= 2.0 / 3.0:
        t1 = nside * (0.5 + tt)
        t2 = nside * z * 0.75
        jp = np.int64(t1 - t2)
        jm = np.int64(t1 + t2)
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
    tt = phi / HALFPI
    tt = tt - 4.0 * math.floor(tt / 4.0)
    if za <= 2.0 / 3.0:
        t1 = nside * (0.5 + tt)
        t2 = nside * z * 0.75
        jp = np.int64(t1 - t2)
        jm = np.int64(t1 + t2)
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
def _to_input_pixel(wcs, m, vx, vy, vz):
    """Celestial unit vector (HEALPix frame) -> input pixel.

    ``m[0:9]`` is the 3x3 rotation (row-major) from the HEALPix frame to the
    input's native sphere.  When ``m[9] != 0`` the input is a gnomonic (TAN)
    WCS without distortion and ``m[10:19]`` is the 3x3 matrix taking the unit
    vector straight to homogeneous input pixels (the gnomonic projection is
    projective): two divisions instead of the WCS chain.
    """
    if m[9] != 0.0:
        den = m[16] * vx + m[17] * vy + m[18] * vz
        if not den > 0.0:  # behind the tangent plane
            return NAN, NAN
        return (m[10] * vx + m[11] * vy + m[12] * vz) / den, (m[13] * vx + m[14] * vy + m[15] * vz) / den
    wx = m[0] * vx + m[1] * vy + m[2] * vz
    wy = m[3] * vx + m[4] * vy + m[5] * vz
    wz = m[6] * vx + m[7] * vy + m[8] * vz
    return native_to_pixel(wcs, np.int64(0), wx, wy, wz)  # not a literal: one compiled chain


@kernel
def _fill_pixels(data, coef, order, wcs, m, nside, horder, nested, p0, p1, out):
    for p in range(p0, p1):
        vx, vy, vz = pix_to_vec(p, nside, horder, nested)
        x, y = _to_input_pixel(wcs, m, vx, vy, vz)
        if x != x or y != y:
            out[p] = NAN
        else:
            out[p] = sample(order, data, coef, x, y)


@parallel_kernel
def image_to_healpix_kernel(data, coef, order, wcs, m, nside, horder, nested, out):
    """Sample the image at every HEALPix pixel centre (``out`` has ``12 nside**2``
    elements, ring or nested order).  Pixels are independent: the result does
    not depend on the thread count."""
    npix = out.size
    nb = (npix + BLOCK - 1) // BLOCK
    for b in prange(nb):
        p0 = b * BLOCK
        _fill_pixels(data, coef, order, wcs, m, nside, horder, nested, p0, min(npix, p0 + BLOCK), out)


#: side of the blocks of a HiPS tile tested for overlap with the input before sampling
CULL = 16


@kernel
def _tile_point(wcs, m, face, ix0, iy0, t, nside, r, c):
    """Input pixel of tile pixel ``(r, c)`` (see :func:`hips_tile_kernel`)."""
    z, sth, phi = xyf_to_loc(face, ix0 + t - 1 - r + 0.5, iy0 + c + 0.5, nside)
    vx, vy, vz = _vec(z, sth, phi)
    return _to_input_pixel(wcs, m, vx, vy, vz)


@kernel
def _block_outside(wcs, m, face, ix0, iy0, t, nside, r0, r1, c0, c1, nx, ny):
    """True when the block's pixels certainly map outside the input domain.

    The input positions of the four corner pixels are computed; the block is
    outside when they all lie beyond one edge of the domain by more than the
    block's own extent plus two pixels (the map is smooth over a block, so
    its interior lies within that distance of the corners' hull).  Any
    invalid corner keeps the block.
    """
    xmin = math.inf
    xmax = -math.inf
    ymin = math.inf
    ymax = -math.inf
    for k in range(4):
        r = r0 if k < 2 else r1 - 1
        c = c0 if (k & 1) == 0 else c1 - 1
        x, y = _tile_point(wcs, m, face, ix0, iy0, t, nside, r, c)
        if x != x or y != y:
            return False
        xmin = min(xmin, x)
        xmax = max(xmax, x)
        ymin = min(ymin, y)
        ymax = max(ymax, y)
    slack = 2.0 + max(xmax - xmin, ymax - ymin)
    return xmax < -0.5 - slack or xmin > nx - 0.5 + slack or ymax < -0.5 - slack or ymin > ny - 0.5 + slack


@kernel
def _tile_tables(face, ix0, iy0, t, nside, zs, ss, cs, sn):
    """Per-tile tables of the equatorial-zone geometry of :func:`hips_tile_kernel`.

    Pixel ``(r, c)`` of the tile has ``fx + fy = ix0 + iy0 + k + 1`` with
    ``k = t - 1 - r + c`` and ``fx - fy = ix0 - iy0 + t - 1 - r - c``: in the
    equatorial zone ``z`` and ``sin(theta)`` depend on the first only and
    ``phi`` on the second only, so one tile needs ``2 t - 1`` square roots and
    cosine/sine pairs instead of one per pixel.  ``zs[k]`` is NaN where the
    ring lies in a polar cap (those pixels use :func:`xyf_to_loc`).  The sums
    are exact in float64 (half-integers below 2**53), so every value is
    bitwise the one :func:`xyf_to_loc` computes for the pixel.
    """
    nr = float(nside)
    for k in range(2 * t - 1):
        jr = _JRLL[face] * nside - float(ix0 + iy0 + k + 1)
        if jr < nside or jr > 3 * nside:
            zs[k] = NAN
            ss[k] = NAN
        else:
            zs[k], ss[k] = _equatorial_z(jr, nside)
        phi = _phi(_JPLL[face], nr, float(ix0 - iy0 + t - 1 - k))
        cs[k] = math.cos(phi)
        sn[k] = math.sin(phi)


@entry(writes=("out",), literal=("order",))
@kernel
def hips_tile_kernel(data, coef, order, wcs, m, nside, face, ix0, iy0, out):
    """Sample the image at the pixel centres of one HiPS tile.

    ``out[row, col]`` (FITS array order, ``T x T``) is the HEALPix pixel
    ``(face, ix0 + T - 1 - row, iy0 + col)`` at ``nside`` (the orientation
    of HiPS tiles written by hipsgen and reproject).  Blocks of
    :data:`CULL` pixels that certainly miss the input are set to NaN without
    sampling; pixel centres of the equatorial zone come from per-tile tables
    (:func:`_tile_tables`).  Input positions are computed a block row at a
    time and interpolated by ``_interp.sample_row`` with ``order`` a literal
    (one compiled variant per order used, with that interpolant only).
    Serial and GIL-free: tiles run in parallel on Python threads.  Returns
    the number of finite pixels.
    """
    t = out.shape[0]
    ny, nx = data.shape
    zs = np.empty(2 * t - 1)
    ss = np.empty(2 * t - 1)
    cs = np.empty(2 * t - 1)
    sn = np.empty(2 * t - 1)
    _tile_tables(face, ix0, iy0, t, nside, zs, ss, cs, sn)
    b = min(CULL, t)
    xs = np.empty(b)
    ys = np.empty(b)
    vs = np.empty(b)
    n = 0
    for r0 in range(0, t, b):
        r1 = min(t, r0 + b)
        for c0 in range(0, t, b):
            c1 = min(t, c0 + b)
            if _block_outside(wcs, m, face, ix0, iy0, t, nside, r0, r1, c0, c1, nx, ny):
                for r in range(r0, r1):
                    for c in range(c0, c1):
                        out[r, c] = NAN
                continue
            for r in range(r0, r1):
                for c in range(c0, c1):
                    ks = t - 1 - r + c
                    if zs[ks] == zs[ks]:
                        kd = r + c
                        x, y = _to_input_pixel(wcs, m, ss[ks] * cs[kd], ss[ks] * sn[kd], zs[ks])
                    else:
                        x, y = _tile_point(wcs, m, face, ix0, iy0, t, nside, r, c)
                    xs[c - c0] = x
                    ys[c - c0] = y
                sample_row(order, data, coef, xs, ys, vs, c1 - c0)  # NaN positions give NaN
                for c in range(c0, c1):
                    v = vs[c - c0]
                    out[r, c] = v
                    if v == v:
                        n += 1
    return n


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


@kernel
def _hval(hdata, r, nested, nside, order):
    if nested:
        return hdata[ring_to_nest(r, nside, order)]
    return hdata[r]


@kernel
def healpix_value(hdata, nested, nside, horder, bilinear, cx, cy, cz):
    """Value of the HEALPix map at the direction ``(cx, cy, cz)`` and its footprint."""
    rr = math.sqrt(cx * cx + cy * cy + cz * cz)
    cz /= rr
    lon = math.atan2(cy, cx)
    if lon < 0.0:
        lon += TWOPI
    lat = math.atan2(cz, math.sqrt(cx * cx + cy * cy) / rr)
    if bilinear:
        r1, r2, r3, r4, w1, w2, w3, w4 = interp_weights(lon, lat, cz, nside)
        v = (
            w1 * _hval(hdata, r1, nested, nside, horder)
            + w2 * _hval(hdata, r2, nested, nside, horder)
            + w3 * _hval(hdata, r3, nested, nside, horder)
            + w4 * _hval(hdata, r4, nested, nside, horder)
        )
        return v, (1.0 if v == v else 0.0)
    if nested:
        p = loc_to_nest(cz, lon, nside, horder)
    else:
        p = loc_to_ring(cz, lon, nside)
    return hdata[p], 1.0


@kernel
def _healpix_row(hdata, nested, nside, horder, bilinear, wcs, m, y, nx, out, fp):
    for x in range(nx):
        vx, vy, vz = pixel_to_native(wcs, np.int64(0), float(x), float(y))
        if vx != vx:
            out[y, x] = NAN
            fp[y, x] = 0.0
            continue
        cx = m[0] * vx + m[1] * vy + m[2] * vz
        cy = m[3] * vx + m[4] * vy + m[5] * vz
        cz = m[6] * vx + m[7] * vy + m[8] * vz
        out[y, x], fp[y, x] = healpix_value(hdata, nested, nside, horder, bilinear, cx, cy, cz)


@parallel_kernel
def healpix_to_image_kernel(hdata, nested, nside, horder, bilinear, wcs, m, out, fp):
    """Interpolate a HEALPix map at every output pixel (output WCS vector
    ``wcs``, ``m``: output native sphere -> HEALPix celestial frame).

    Bilinear follows astropy-healpix (NaN if any of the four values is NaN);
    nearest takes the containing pixel with footprint 1 on the whole sky.
    """
    ny, nx = out.shape
    for y in prange(ny):
        _healpix_row(hdata, nested, nside, horder, bilinear, wcs, m, y, nx, out, fp)


@parallel_kernel
def healpix_at_lonlat_kernel(hdata, nested, nside, horder, bilinear, lon, lat, out, fp):
    """Same as :func:`healpix_to_image_kernel` at given (lon, lat) in degrees
    (fallback for output WCS the native engine does not evaluate; NaN = invalid)."""
    n = lon.size
    nb = (n + BLOCK - 1) // BLOCK
    for b in prange(nb):
        for k in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            if lon[k] != lon[k] or lat[k] != lat[k]:
                out[k] = NAN
                fp[k] = 0.0
                continue
            a = lon[k] * (math.pi / 180.0)
            d = lat[k] * (math.pi / 180.0)
            out[k], fp[k] = healpix_value(
                hdata, nested, nside, horder, bilinear, math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d)
            )


@kernel
def healpix_lonlat(p0, nside, horder, nested, lon, lat):
    """Centres (degrees) of pixels ``p0 .. p0 + lon.size - 1`` (fallback path)."""
    for k in range(lon.size):
        z, sth, phi = pix_to_loc(p0 + k, nside, horder, nested)
        lon[k] = phi * (180.0 / math.pi)
        lat[k] = math.atan2(z, sth) * (180.0 / math.pi)


@parallel_kernel
def sample_positions(data, coef, order, xs, ys, out):
    """``out[k]`` = image interpolated at input pixel ``(xs[k], ys[k])`` (fallback path)."""
    n = xs.size
    nb = (n + BLOCK - 1) // BLOCK
    for b in prange(nb):
        for k in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            x = xs[k]
            y = ys[k]
            out[k] = NAN if (x != x or y != y) else sample(order, data, coef, x, y)


# --------------------------------------------------------------------------
# reading HiPS tiles
# --------------------------------------------------------------------------


@kernel
def _tile_value(stack, keys, tbits, p):
    """Value of nested pixel ``p`` (order ``tile order + tbits``) from the
    loaded tiles ``stack[k]`` of tile indices ``keys`` (sorted); NaN if absent."""
    tile = p >> (2 * tbits)
    k = np.searchsorted(keys, tile)
    if k >= keys.size or keys[k] != tile:
        return NAN
    sub = p & ((np.int64(1) << (2 * tbits)) - 1)
    t = stack.shape[1]
    return stack[k, t - 1 - _compress(sub), _compress(sub >> 1)]


@kernel
def hips_value(stack, keys, tbits, nside, horder, bilinear, cx, cy, cz):
    """HiPS value at direction ``(cx, cy, cz)`` (HiPS frame) and its footprint,
    with the same schemes as :func:`healpix_value`."""
    rr = math.sqrt(cx * cx + cy * cy + cz * cz)
    cz /= rr
    lon = math.atan2(cy, cx)
    if lon < 0.0:
        lon += TWOPI
    lat = math.atan2(cz, math.sqrt(cx * cx + cy * cy) / rr)
    if bilinear:
        r1, r2, r3, r4, w1, w2, w3, w4 = interp_weights(lon, lat, cz, nside)
        v = (
            w1 * _tile_value(stack, keys, tbits, ring_to_nest(r1, nside, horder))
            + w2 * _tile_value(stack, keys, tbits, ring_to_nest(r2, nside, horder))
            + w3 * _tile_value(stack, keys, tbits, ring_to_nest(r3, nside, horder))
            + w4 * _tile_value(stack, keys, tbits, ring_to_nest(r4, nside, horder))
        )
    else:
        v = _tile_value(stack, keys, tbits, loc_to_nest(cz, lon, nside, horder))
    return v, (1.0 if v == v else 0.0)


@kernel
def _hips_row(stack, keys, tbits, nside, horder, bilinear, wcs, m, y, nx, out, fp):
    for x in range(nx):
        vx, vy, vz = pixel_to_native(wcs, np.int64(0), float(x), float(y))
        if vx != vx:
            out[y, x] = NAN
            fp[y, x] = 0.0
            continue
        cx = m[0] * vx + m[1] * vy + m[2] * vz
        cy = m[3] * vx + m[4] * vy + m[5] * vz
        cz = m[6] * vx + m[7] * vy + m[8] * vz
        out[y, x], fp[y, x] = hips_value(stack, keys, tbits, nside, horder, bilinear, cx, cy, cz)


@parallel_kernel
def hips_to_image_kernel(stack, keys, tbits, nside, horder, bilinear, wcs, m, out, fp):
    """Interpolate HiPS tiles at every output pixel (output WCS vector ``wcs``,
    ``m``: output native sphere -> HiPS frame); NaN / footprint 0 where a
    needed tile is absent."""
    ny, nx = out.shape
    for y in prange(ny):
        _hips_row(stack, keys, tbits, nside, horder, bilinear, wcs, m, y, nx, out, fp)


@parallel_kernel
def hips_at_lonlat_kernel(stack, keys, tbits, nside, horder, bilinear, lon, lat, out, fp):
    """:func:`hips_to_image_kernel` at given (lon, lat) in degrees (fallback path)."""
    n = lon.size
    nb = (n + BLOCK - 1) // BLOCK
    for b in prange(nb):
        for k in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            if lon[k] != lon[k] or lat[k] != lat[k]:
                out[k] = NAN
                fp[k] = 0.0
                continue
            a = lon[k] * (math.pi / 180.0)
            d = lat[k] * (math.pi / 180.0)
            out[k], fp[k] = hips_value(
                stack, keys, tbits, nside, horder, bilinear, math.cos(d) * math.cos(a), math.cos(d) * math.sin(a),
                math.sin(d),
            )
