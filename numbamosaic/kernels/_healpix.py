"""HEALPix and HiPS resampling kernels: images onto HEALPix pixels and HiPS
tiles, HEALPix maps and HiPS tiles onto images.

Pixel centres come from the compiled geometry of :mod:`._hpgeom` and are
fused with the WCS evaluation (``wcs._native``) and the interpolation of
``kernels._interp``: no coordinate arrays are built.

Reading goes through one *sky source*, a HEALPix map of order ``horder``
held either whole (``data`` of shape ``(1, 1, 12 nside**2)``, ring or nested
order, ``tbits = -1``) or as loaded HiPS tiles (``data[k]`` the ``T x T``
tile of nested index ``keys[k]``, ``T = 2**tbits``, absent tiles NaN):
:func:`sky_value` interpolates it at a direction with the scheme of
``_hpgeom.interp_weights`` (astropy-healpix's bilinear) or takes the
containing pixel, and :func:`sky_to_image_kernel` /
:func:`sky_at_lonlat_kernel` fill an image from it.

References
----------
Gorski, K. M. et al. 2005, ApJ 622, 759.
Calabretta, M. R. & Roukema, B. F. 2007, MNRAS 381, 865 (the HPX projection,
whose pixel centres are HEALPix pixel centres).
Fernique, P. et al. 2017, IVOA HiPS Recommendation 1.0 (tile layout).
"""

import math

import numpy as np
from numba import prange, types
from numba.extending import overload

from ..wcs._native import native_to_pixel, pixel_to_native
from ._entry import entry
from ._hpgeom import (
    NAN,
    TWOPI,
    _compress,
    _equatorial_z,
    _JPLL,
    _JRLL,
    _phi,
    _vec,
    interp_weights,
    loc_to_nest,
    loc_to_ring,
    pix_to_loc,
    pix_to_vec,
    ring_to_nest,
    xyf_to_loc,
)
from ._interp import sample, sample_row, weight_row
from ._jit import SELECTOR_OVERLOAD, inline_kernel, kernel, parallel_kernel
from ._sinks import deposit_row

#: HEALPix indices per parallel work item
BLOCK = 4096
#: ``keys`` of a sky source holding a whole map
NO_KEYS = np.zeros(0, dtype=np.int64)


@inline_kernel
def _gnomonic_matrix(m):
    """``m[10:19]`` of :func:`_to_input_pixel` as a tuple (held in registers by the loops)."""
    return (m[10], m[11], m[12], m[13], m[14], m[15], m[16], m[17], m[18])


@inline_kernel
def _gnomonic(b, vx, vy, vz):
    """Unit vector -> input pixel of a gnomonic input without distortion: the 3x3 matrix
    ``b`` to homogeneous pixels, NaN behind the tangent plane."""
    den = b[6] * vx + b[7] * vy + b[8] * vz
    if not den > 0.0:
        return NAN, NAN
    return (b[0] * vx + b[1] * vy + b[2] * vz) / den, (b[3] * vx + b[4] * vy + b[5] * vz) / den


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
        return _gnomonic(_gnomonic_matrix(m), vx, vy, vz)
    wx = m[0] * vx + m[1] * vy + m[2] * vz
    wy = m[3] * vx + m[4] * vy + m[5] * vz
    wz = m[6] * vx + m[7] * vy + m[8] * vz
    return native_to_pixel(wcs, np.int64(0), wx, wy, wz, 0)  # not a literal: one compiled chain (0: any WCS)


def gnomonic_flag(m):
    """The literal ``gn`` of :func:`hips_tile_kernel` for the matrices ``m`` of
    ``healpix._core.input_to_frame_matrix``: 1 when ``m[9] != 0`` (a gnomonic
    input without distortion), else 0."""
    return int(m[9] != 0.0)


def map_vector(gn, g, wcs, m, vx, vy, vz):
    """:func:`_to_input_pixel`, reduced to the gnomonic matrix ``g`` when ``gn`` is the literal 1.

    ``hips_tile_kernel`` takes ``gn`` as a Numba literal (:func:`gnomonic_flag`):
    with 1 the kernel holds the two divisions of :func:`_gnomonic` and none
    of the WCS chain (``wcs._native.native_to_pixel``: every projection,
    SIP, TPV), which a HiPS of a TAN image never runs but would otherwise
    compile and load; with 0 it calls :func:`_to_input_pixel`, which handles
    every WCS.  The arithmetic is the same either way (``_to_input_pixel``
    calls :func:`_gnomonic` when ``m[9] != 0``), as ``wcs._native.map_point``
    does for the mosaic kernels.  Pure-Python stub; see the overload.
    """
    raise NotImplementedError  # replaced by the Numba overload below


@overload(map_vector, prefer_literal=True, **SELECTOR_OVERLOAD)
def _map_vector_impl(gn, g, wcs, m, vx, vy, vz):
    if isinstance(gn, types.IntegerLiteral) and gn.literal_value == 1:
        return lambda gn, g, wcs, m, vx, vy, vz: _gnomonic(g, vx, vy, vz)
    return lambda gn, g, wcs, m, vx, vy, vz: _to_input_pixel(wcs, m, vx, vy, vz)


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
#: blocks are tested in groups of ``CULL_GROUP x CULL_GROUP`` first (one test culls a whole group:
#: inputs of a mosaic that only come near a tile cost 16 tests, not 256)
CULL_GROUP = 4
#: sink of :func:`hips_tile_kernel` that writes the sampled values as they are (not one of ``_sinks``)
SINK_DIRECT = -1
#: ``wt`` / ``wdata`` placeholder of :func:`hips_tile_kernel` (no weights)
NO_WEIGHTS = np.zeros((0, 0))


@kernel
def _tile_point(gn, wcs, m, face, ix0, iy0, t, nside, r, c):
    """Input pixel of tile pixel ``(r, c)`` (see :func:`hips_tile_kernel`; ``gn``: :func:`map_vector`)."""
    z, sth, phi = xyf_to_loc(face, ix0 + t - 1 - r + 0.5, iy0 + c + 0.5, nside)
    vx, vy, vz = _vec(z, sth, phi)
    return map_vector(gn, _gnomonic_matrix(m), wcs, m, vx, vy, vz)


@kernel
def _block_outside(gn, wcs, m, face, ix0, iy0, t, nside, r0, r1, c0, c1, nx, ny):
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
        x, y = _tile_point(gn, wcs, m, face, ix0, iy0, t, nside, r, c)
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


@entry(writes=("val", "wt"), literal=("order", "gn"), like=(("wdata", "data"),))
@kernel
def hips_tile_kernel(data, coef, wdata, order, gn, wcs, m, nside, face, ix0, iy0, val, wt, sink, bg):
    """Sample one input at the pixel centres of one HiPS tile.

    Pixel ``[row, col]`` (FITS array order, ``T x T``) is the HEALPix pixel
    ``(face, ix0 + T - 1 - row, iy0 + col)`` at ``nside`` (the orientation
    of HiPS tiles written by hipsgen and reproject).  Blocks of
    :data:`CULL` pixels that certainly miss the input are skipped without
    sampling (tested a group of :data:`CULL_GROUP` ``**2`` blocks at a time
    first, then block by block); pixel centres of the equatorial zone come from per-tile tables
    (:func:`_tile_tables`).  Input positions are computed a block row at a
    time and interpolated by ``_interp.sample_row`` with ``order`` a literal
    (one compiled variant per order used, with that interpolant only).
    ``gn`` is :func:`gnomonic_flag` of ``m``, also a literal: a gnomonic
    input without distortion compiles (and loads from the cache) the
    gnomonic matrix only, not the WCS chain (:func:`map_vector`).

    With ``sink`` = :data:`SINK_DIRECT` (one input, ``reproject_to_hips``)
    every pixel of ``val`` receives the sampled value (NaN where the input
    does not cover it) and ``wdata``, ``wt`` and ``bg`` are not used.  Any
    other sink of ``kernels._sinks`` accumulates the input into the tile
    buffers ``val``/``wt`` exactly as the mosaic's ``_interp.interp_tile``
    does for one output box: weights ``wdata`` sampled at the same
    positions (``_interp.weight_row``; shape ``(0, 0)``: weight 1), the
    background ``bg = (c, cx, cy)`` subtracted as ``c + cx col + cy row``,
    then ``_sinks.deposit_row``.  Calling it for each input of a tile in
    input order therefore combines them as ``reproject_and_coadd`` does
    onto the tile's frame (mean, sum, first, last, min, max).  Serial and
    GIL-free: tiles run in parallel on Python threads.  Returns the number
    of finite sampled values.
    """
    t = val.shape[0]
    ny, nx = data.shape
    zs = np.empty(2 * t - 1)
    ss = np.empty(2 * t - 1)
    cs = np.empty(2 * t - 1)
    sn = np.empty(2 * t - 1)
    _tile_tables(face, ix0, iy0, t, nside, zs, ss, cs, sn)
    g = _gnomonic_matrix(m)
    direct = sink == SINK_DIRECT
    has_w = wdata.shape[0] > 0
    b = min(CULL, t)
    gs = min(CULL * CULL_GROUP, t)
    xs = np.empty(b)
    ys = np.empty(b)
    vs = np.empty(b)
    fs = np.empty(b)
    n = 0
    for gr in range(0, t, gs):
        for gc in range(0, t, gs):
            if _block_outside(gn, wcs, m, face, ix0, iy0, t, nside, gr, min(t, gr + gs), gc, min(t, gc + gs), nx, ny):
                if direct:
                    for r in range(gr, min(t, gr + gs)):
                        for c in range(gc, min(t, gc + gs)):
                            val[r, c] = NAN
                continue
            for r0 in range(gr, min(t, gr + gs), b):
                r1 = min(t, r0 + b)
                for c0 in range(gc, min(t, gc + gs), b):
                    c1 = min(t, c0 + b)
                    if _block_outside(gn, wcs, m, face, ix0, iy0, t, nside, r0, r1, c0, c1, nx, ny):
                        if direct:
                            for r in range(r0, r1):
                                for c in range(c0, c1):
                                    val[r, c] = NAN
                        continue
                    k1 = c1 - c0
                    for r in range(r0, r1):
                        for c in range(c0, c1):
                            ks = t - 1 - r + c
                            if zs[ks] == zs[ks]:
                                kd = r + c
                                x, y = map_vector(gn, g, wcs, m, ss[ks] * cs[kd], ss[ks] * sn[kd], zs[ks])
                            else:
                                x, y = _tile_point(gn, wcs, m, face, ix0, iy0, t, nside, r, c)
                            xs[c - c0] = x
                            ys[c - c0] = y
                        sample_row(order, data, coef, xs, ys, vs, k1)  # NaN positions give NaN
                        for k in range(k1):
                            if vs[k] == vs[k]:
                                n += 1
                        if direct:
                            for k in range(k1):
                                val[r, c0 + k] = vs[k]
                            continue
                        # the arithmetic of _interp._interp_chunk and deposit_row, in the same order
                        if has_w:
                            weight_row(order, wdata, xs, ys, vs, fs, k1)
                        else:
                            for k in range(k1):
                                fs[k] = 1.0
                        b0 = bg[0] + bg[2] * r
                        b1 = bg[1]
                        if b0 != 0.0 or b1 != 0.0:
                            for k in range(k1):
                                vs[k] -= b0 + b1 * (c0 + k)
                        deposit_row(sink, val, wt, r, c0, vs, fs, k1)
    return n


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
def _sky_pixel(data, keys, tbits, nested, nside, horder, r):
    """Value of ring pixel ``r`` of a sky source (see the module docstring)."""
    if tbits < 0:
        if nested:
            return data[0, 0, ring_to_nest(r, nside, horder)]
        return data[0, 0, r]
    return _tile_value(data, keys, tbits, ring_to_nest(r, nside, horder))


@kernel
def sky_value(data, keys, tbits, nested, nside, horder, bilinear, cx, cy, cz):
    """Value of a sky source at the direction ``(cx, cy, cz)`` and its footprint.

    Bilinear follows astropy-healpix (NaN if any of the four values is NaN);
    nearest takes the containing pixel, with footprint 1 on the whole sky for
    a whole map (as reproject) and where the value is finite for HiPS tiles.
    """
    rr = math.sqrt(cx * cx + cy * cy + cz * cz)
    cz /= rr
    lon = math.atan2(cy, cx)
    if lon < 0.0:
        lon += TWOPI
    lat = math.atan2(cz, math.sqrt(cx * cx + cy * cy) / rr)
    if bilinear:
        r1, r2, r3, r4, w1, w2, w3, w4 = interp_weights(lon, lat, cz, nside)
        v = (
            w1 * _sky_pixel(data, keys, tbits, nested, nside, horder, r1)
            + w2 * _sky_pixel(data, keys, tbits, nested, nside, horder, r2)
            + w3 * _sky_pixel(data, keys, tbits, nested, nside, horder, r3)
            + w4 * _sky_pixel(data, keys, tbits, nested, nside, horder, r4)
        )
        return v, (1.0 if v == v else 0.0)
    if tbits < 0:
        if nested:
            return data[0, 0, loc_to_nest(cz, lon, nside, horder)], 1.0
        return data[0, 0, loc_to_ring(cz, lon, nside)], 1.0
    v = _tile_value(data, keys, tbits, loc_to_nest(cz, lon, nside, horder))
    return v, (1.0 if v == v else 0.0)


@kernel
def _sky_row(data, keys, tbits, nested, nside, horder, bilinear, wcs, m, y, nx, out, fp):
    for x in range(nx):
        vx, vy, vz = pixel_to_native(wcs, np.int64(0), float(x), float(y), 0)
        if vx != vx:
            out[y, x] = NAN
            fp[y, x] = 0.0
            continue
        cx = m[0] * vx + m[1] * vy + m[2] * vz
        cy = m[3] * vx + m[4] * vy + m[5] * vz
        cz = m[6] * vx + m[7] * vy + m[8] * vz
        out[y, x], fp[y, x] = sky_value(data, keys, tbits, nested, nside, horder, bilinear, cx, cy, cz)


@parallel_kernel
def sky_to_image_kernel(data, keys, tbits, nested, nside, horder, bilinear, wcs, m, out, fp):
    """Interpolate a sky source at every output pixel (output WCS vector
    ``wcs``, ``m``: output native sphere -> the source's celestial frame);
    rows are independent, the result does not depend on the thread count."""
    ny, nx = out.shape
    for y in prange(ny):
        _sky_row(data, keys, tbits, nested, nside, horder, bilinear, wcs, m, y, nx, out, fp)


@parallel_kernel
def sky_at_lonlat_kernel(data, keys, tbits, nested, nside, horder, bilinear, lon, lat, out, fp):
    """:func:`sky_to_image_kernel` at given (lon, lat) in degrees (fallback for
    output WCS the native engine does not evaluate; NaN = invalid)."""
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
            out[k], fp[k] = sky_value(data, keys, tbits, nested, nside, horder, bilinear,
                                      math.cos(d) * math.cos(a), math.cos(d) * math.sin(a), math.sin(d))
