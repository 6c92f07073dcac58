"""Pixel-to-pixel transforms between an output and an input WCS.

:func:`build_transform` produces a :class:`PixelTransform` that kernels
evaluate per point through :func:`numbamosaic.wcs._native.out_to_in`:

* **native mode**: both WCS compile with :func:`describe_wcs`; the two
  spherical rotations and the celestial frame change (ICRS, FK5 at any
  equinox, Galactic, ecliptic: any pair astropy relates by a fixed rotation)
  are fused into one 3x3 matrix.
* **grid mode** (any other WCS astropy can evaluate: gwcs, lookup
  tables, rare projections, frames related by more than a rotation):
  astropy evaluates the mapping on a control grid over the needed output
  region, in bounded chunks; the kernels interpolate it bilinearly.  The grid
  spacing is halved until the interpolation error, measured against astropy
  at the cell centres and edge midpoints where the input is sampled, is
  below ``grid_tolerance`` input pixels (default 1e-5 pixel) and no coverage
  is lost at a domain edge, down to one node per output pixel.
"""

import math
import threading
import weakref
from collections import OrderedDict

import numpy as np

from .._bbox import input_bbox
from ._describe import UnsupportedWCS, describe_wcs
from ._layout import (
    MODE_GRID,
    MODE_HOMOGRAPHY,
    MODE_NATIVE,
    PV_X0,
    PV_Y0,
    T_H,
    W_CODE,
    W_CRPIX,
    W_M,
    W_MINV,
    W_PV,
    W_SIP,
    W_TPV,
    T_GSTEP,
    T_GX0,
    T_GY0,
    T_IN,
    T_M,
    T_MODE,
    T_MT,
    T_OUT,
    T_ROUNDTRIP,
    TR_LEN,
    W_ROT,
    WCS_LEN,
)
from ._native import empty_grid, has_rare
from ._points import in_to_out_array, out_to_in_array

#: points per astropy call in the fallback path (bounds its temporaries)
ASTROPY_CHUNK = 262144

#: described WCS by object: ``{wcs: (fingerprint, NativeWCS)}`` (weak keys)
_DESCRIBED = weakref.WeakKeyDictionary()


def _fingerprint(wcs):
    """Every piece of state :func:`describe_wcs` reads, cheaply (~30 us): a
    WCS mutated after it was described gets a new description."""
    w = wcs.wcs
    sip = wcs.sip
    parts = [
        w.crpix.tobytes(), w.crval.tobytes(), w.cd.tobytes() if w.has_cd() else w.cdelt.tobytes() + w.pc.tobytes(),
        tuple(w.ctype), tuple(w.cunit), np.array([w.lonpole, w.latpole, w.equinox, w.mjdobs]).tobytes(),
        repr(w.get_pv()), w.radesys, w.dateobs, getattr(wcs, "pixel_shape", None),
        wcs.cpdis1, wcs.cpdis2, wcs.det2im1, wcs.det2im2,
    ]
    if sip is not None:
        parts += [sip.a.tobytes(), sip.b.tobytes(), None if sip.ap is None else sip.ap.tobytes(),
                  None if sip.bp is None else sip.bp.tobytes(), tuple(sip.crpix)]
    return tuple(parts)


def described(wcs):
    """:func:`describe_wcs`, memoised per WCS object (keyed by weak reference
    and checked against :func:`_fingerprint`): repeated calls with the same
    WCS, the common case of small images reprojected in a loop, skip the
    description and its astropy cross-check (~1-2 ms a WCS).  Failures are
    not cached.  The returned description is shared: do not modify it."""
    try:
        key = _fingerprint(wcs)
        hit = _DESCRIBED.get(wcs)
    except (AttributeError, TypeError, ValueError):
        return describe_wcs(wcs)
    if hit is not None and hit[0] == key:
        return hit[1]
    nw = describe_wcs(wcs)
    _DESCRIBED[wcs] = (key, nw)
    return nw


def frame_rotation(frame_from, frame_to):
    """3x3 rotation taking unit vectors in ``frame_from`` to ``frame_to``.

    Computed once with astropy.  Raises :class:`UnsupportedWCS` when the two
    frames are not related by a fixed rotation (e.g. FK4 with E-terms, frames
    that depend on an observer), checked on random directions to 1e-12.
    """
    from astropy.coordinates import SkyCoord, UnitSphericalRepresentation
    import astropy.units as u

    try:
        if frame_from.is_equivalent_frame(frame_to):
            return np.eye(3)
    except Exception:
        pass
    rng = np.random.default_rng(12345)
    lon = np.concatenate([[0.0, 90.0, 0.0], rng.uniform(0, 360, 8)])
    lat = np.concatenate([[0.0, 0.0, 90.0], np.degrees(np.arcsin(rng.uniform(-1, 1, 8)))])
    try:
        c = SkyCoord(lon * u.deg, lat * u.deg, frame=frame_from).transform_to(frame_to)
        rep = c.represent_as(UnitSphericalRepresentation)
    except Exception as exc:
        raise UnsupportedWCS(f"frame change not available as a rotation: {exc}") from exc
    lo, la = rep.lon.radian, rep.lat.radian
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(la))):
        # e.g. helioprojective frames of two observers: off-disk directions have no image
        raise UnsupportedWCS("frame change is not defined everywhere on the sky")
    v = np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])
    R = v[:, :3]
    uu, _, vt = np.linalg.svd(R)
    R = uu @ vt
    lor, lar = np.radians(lon), np.radians(lat)
    src = np.stack([np.cos(lar) * np.cos(lor), np.cos(lar) * np.sin(lor), np.sin(lar)])
    err = np.abs(R @ src - v).max()
    if err > 1e-12:
        raise UnsupportedWCS(f"frame change is not a pure rotation (residual {err:.1e})")
    return R


class PixelTransform:
    """Mapping from output pixels to input pixels, ready for the kernels.

    Attributes
    ----------
    vector : ndarray
        Transform vector (``_layout.TR_LEN`` float64).
    grid : ndarray
        Control grid ``(2, ny, nx)`` of input positions (grid mode) or a
        placeholder (native mode).
    native : bool
        True when evaluated natively.
    grid_error : float
        Measured maximum control-grid interpolation error in input pixels
        (0 in native mode).
    reason : str
        Why the fallback was used (empty in native mode).
    """

    def __init__(self, wcs_in, wcs_out, vector, grid, native, grid_error=0.0, reason=""):
        self.wcs_in = wcs_in
        self.wcs_out = wcs_out
        self.vector = vector
        self.grid = grid
        self.native = native
        self.grid_error = grid_error
        self.reason = reason

    def __repr__(self):
        mode = "native" if self.native else f"control grid (step {self.vector[T_GSTEP]:g} px, error {self.grid_error:.1e} px)"
        return f"<PixelTransform {mode}>"

    def out_to_in(self, x, y):
        """Map output pixel arrays to input pixel arrays (NaN where invalid)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        xi = np.empty_like(x)
        yi = np.empty_like(y)
        out_to_in_array(self.vector, self.grid, x.ravel(), y.ravel(), xi.reshape(-1), yi.reshape(-1))
        return xi, yi

    def in_to_out(self, x, y):
        """Map input pixel arrays to output pixel arrays (NaN where invalid)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        if self.native:
            xo = np.empty_like(x)
            yo = np.empty_like(y)
            in_to_out_array(self.vector, x.ravel(), y.ravel(), xo.reshape(-1), yo.reshape(-1))
            return xo, yo
        return _astropy_pixel_to_pixel(self.wcs_in, self.wcs_out, x, y, roundtrip=False)


def _astropy_pixel_to_pixel(wcs_from, wcs_to, x, y, roundtrip):
    """astropy pixel_to_pixel in bounded chunks, with reproject's round trip."""
    from astropy.wcs.utils import pixel_to_pixel

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    xf, yf = x.ravel(), y.ravel()
    xo = np.empty_like(xf)
    yo = np.empty_like(yf)
    for s in range(0, xf.size, ASTROPY_CHUNK):
        sl = slice(s, s + ASTROPY_CHUNK)
        with np.errstate(all="ignore"):
            a, b = pixel_to_pixel(wcs_from, wcs_to, xf[sl], yf[sl])
            a = np.array(a, dtype=float)
            b = np.array(b, dtype=float)
            if roundtrip:
                xb, yb = pixel_to_pixel(wcs_to, wcs_from, a, b)
                bad = ~((np.abs(np.asarray(xb) - xf[sl]) <= 1) & (np.abs(np.asarray(yb) - yf[sl]) <= 1))
                a[bad] = np.nan
                b[bad] = np.nan
        xo[sl] = a
        yo[sl] = b
    return xo.reshape(x.shape), yo.reshape(y.shape)


def _make_vector(mode, roundtrip):
    vec = np.zeros(TR_LEN, dtype=np.float64)
    vec[T_MODE] = mode
    vec[T_ROUNDTRIP] = 1.0 if roundtrip else 0.0
    return vec


#: default control-grid tolerance, input pixels
GRID_TOLERANCE = 1e-5


def build_transform(
    wcs_in, wcs_out, region=None, roundtrip=True, grid_tolerance=GRID_TOLERANCE, force_grid=False, shape_in=None
):
    """Build the output->input pixel transform.

    Parameters
    ----------
    wcs_in, wcs_out : astropy.wcs.WCS or APE-14 WCS
        Input and output WCS (2-D celestial).
    region : tuple (y0, y1, x0, x1), optional
        Output pixel region the transform must cover (grid mode only; the
        grid covers ``[x0 - 1, x1]`` x ``[y0 - 1, y1]`` so that pixel corners
        at +-0.5 are inside).  Required unless native.
    roundtrip : bool
        Reject points whose round trip moves by more than one output pixel
        (reproject's ``roundtrip_coords``).
    grid_tolerance : float
        Maximum control-grid interpolation error, in input pixels.
    force_grid : bool
        Use the astropy control grid even when native evaluation is possible
        (used by tests and for validation).
    shape_in : (ny, nx), optional
        Input image shape: the grid error is measured only where the input
        is sampled (its pixels plus the interpolation margin).
    """
    reason = ""
    if not force_grid:
        try:
            nin = described(wcs_in)
            nout = described(wcs_out)
            F = frame_rotation(nout.frame, nin.frame)
            vec = _make_vector(MODE_NATIVE, roundtrip)
            vec[T_OUT : T_OUT + WCS_LEN] = nout.vector
            vec[T_IN : T_IN + WCS_LEN] = nin.vector
            Rout = nout.vector[W_ROT : W_ROT + 9].reshape(3, 3)
            Rin = nin.vector[W_ROT : W_ROT + 9].reshape(3, 3)
            M = Rin.T @ F @ Rout
            vec[T_M : T_M + 9] = M.ravel()
            vec[T_MT : T_MT + 9] = M.T.ravel()
            _specialise(vec, nin, nout, M)
            return PixelTransform(wcs_in, wcs_out, vec, empty_grid(), True)
        except UnsupportedWCS as exc:
            reason = str(exc)
    else:
        reason = "forced"
    if force_grid and not reason:
        reason = "forced"
    if region is None:
        raise ValueError("a region is needed to build a control-grid transform")
    grid, step, x0, y0, err = _control_grid(wcs_in, wcs_out, region, roundtrip, grid_tolerance, shape_in)
    vec = _make_vector(MODE_GRID, roundtrip)
    vec[T_GX0] = x0
    vec[T_GY0] = y0
    vec[T_GSTEP] = step
    return PixelTransform(wcs_in, wcs_out, vec, grid, False, err, reason)


def general_transform(tr, region, shape_in=None):
    """``tr``, or for a native transform with XPH or a quad cube, its control-grid twin over ``region``.

    The kernels that evaluate transforms through the general chain only
    (``wcs._native.out_to_in``: the cube kernels, the survey products and the
    propagated variance) are compiled without XPH and the quad cubes, which
    only the ``hom`` literal 2 compiles in (``wcs._native.map_point``); for
    those the transform goes through astropy on a control grid, as before
    these projections were native.  The grid is built once per region and
    kept on ``tr``.
    """
    if not tr.native or not has_rare(tr.vector):
        return tr
    key = (tuple(int(v) for v in region), None if shape_in is None else tuple(shape_in))
    cache = tr.__dict__.setdefault("_general", {})
    if key not in cache:
        cache[key] = build_transform(tr.wcs_in, tr.wcs_out, region=region, roundtrip=tr.vector[T_ROUNDTRIP] != 0.0,
                                     force_grid=True, shape_in=shape_in)
        cache[key].reason = "XPH/quad cube outside the rare-projection kernels"
    return cache[key]


def _grid_eval(wcs_in, wcs_out, x0, y0, step, nx, ny, roundtrip):
    gx = x0 + step * np.arange(nx)
    gy = y0 + step * np.arange(ny)
    X, Y = np.meshgrid(gx, gy)
    xi, yi = _astropy_pixel_to_pixel(wcs_out, wcs_in, X, Y, roundtrip)
    return np.stack([xi, yi])


#: at most this many cells are checked per refinement level (3 points each)
GRID_CHECK_CELLS = 16384
#: margin (input pixels) around the input image inside which grid errors count:
#: the widest interpolation stencil (Lanczos-3) reaches 3 pixels
GRID_CHECK_MARGIN = 3.0


def _grid_error(wcs_in, wcs_out, grid, x0, y0, step, roundtrip, shape_in, rng):
    """Measured interpolation error of a control grid, and coverage mismatches.

    Bilinear interpolation is exact at the nodes; its error peaks at the cell
    centres (curvature along both axes) and at the midpoints of the cell
    edges (curvature along one axis, where the centre can hide it when the
    two curvatures cancel).  Both edge directions and the centre are checked
    for every cell (a random subset of :data:`GRID_CHECK_CELLS` cells on big
    grids) against astropy.  Only positions whose true or interpolated input
    position lies within :data:`GRID_CHECK_MARGIN` pixels of the input image
    count: elsewhere the value is never used (facets or discontinuities
    outside the image raised false alarms).

    Returns ``(error, mismatches)``: the largest error in input pixels and
    the number of checked positions that astropy maps into the input while
    the grid gives NaN, or the reverse (coverage lost or invented at the
    edge of a projection's domain).
    """
    ny, nx = grid.shape[1:]
    ncell = (nx - 1) * (ny - 1)
    k = min(ncell, GRID_CHECK_CELLS)
    cells = rng.choice(ncell, size=k, replace=False) if k < ncell else np.arange(ncell)
    cx = x0 + step * (cells % (nx - 1)).astype(float)
    cy = y0 + step * (cells // (nx - 1)).astype(float)
    h = 0.5 * step
    px = np.concatenate([cx + h, cx + h, cx])  # centre, bottom edge, left edge
    py = np.concatenate([cy + h, cy, cy + h])
    tx, ty = _astropy_pixel_to_pixel(wcs_out, wcs_in, px, py, roundtrip)
    vec = _make_vector(MODE_GRID, False)
    vec[T_GX0], vec[T_GY0], vec[T_GSTEP] = x0, y0, step
    xi = np.empty_like(px)
    yi = np.empty_like(py)
    out_to_in_array(vec, grid, px, py, xi, yi)
    with np.errstate(invalid="ignore"):
        if shape_in is not None:
            m = GRID_CHECK_MARGIN
            hi_x, hi_y = shape_in[1] - 1 + m, shape_in[0] - 1 + m

            def inside(a, b):
                return (a >= -m) & (a <= hi_x) & (b >= -m) & (b <= hi_y)

            relevant = inside(tx, ty) | inside(xi, yi)
        else:
            relevant = np.isfinite(tx) | np.isfinite(xi)
        e = np.maximum(np.abs(xi - tx), np.abs(yi - ty))
    fin_t = np.isfinite(tx) & np.isfinite(ty)
    fin_i = np.isfinite(xi) & np.isfinite(yi)
    mismatches = int(np.count_nonzero(relevant & (fin_t != fin_i)))
    e = e[relevant & fin_t & fin_i]
    return (float(e.max()) if e.size else 0.0), mismatches


def _control_grid(wcs_in, wcs_out, region, roundtrip, tol, shape_in=None):
    """Adaptive control grid: halve the spacing until the measured error < tol.

    The error is measured by :func:`_grid_error`; refinement also continues
    while the grid loses (or invents) coverage at a domain edge.  The finest
    grid has a 1-pixel spacing with nodes on the output pixel centres, which
    interpolation therefore samples exactly; its measured error (at
    positions between pixel centres) is returned even if above ``tol``.
    """
    y0r, y1r, x0r, x1r = region
    x0 = x0r - 1.0
    y0 = y0r - 1.0
    span = max(x1r - x0r, y1r - y0r) + 2
    step = float(2 ** int(math.floor(math.log2(max(1, min(32, span / 4))))))
    rng = np.random.default_rng(0)
    while True:
        nx = int(math.ceil((x1r + 1.0 - x0) / step)) + 1
        ny = int(math.ceil((y1r + 1.0 - y0) / step)) + 1
        grid = _grid_eval(wcs_in, wcs_out, x0, y0, step, nx, ny, roundtrip)
        err, mismatches = _grid_error(wcs_in, wcs_out, grid, x0, y0, step, roundtrip, shape_in, rng)
        if (err <= tol and mismatches == 0) or step <= 1.0:
            return grid, step, x0, y0, err
        step /= 2.0


#: native ``transform_and_bbox`` results by (input description, output description, roundtrip,
#: shapes): ``{key: (nin, nout, result)}``, the most recent :data:`BUILT_MAX`
_BUILT = OrderedDict()
_BUILT_LOCK = threading.Lock()
BUILT_MAX = 64


def _built_key(wcs_in, wcs_out, roundtrip, shape_in, shape_out):
    """``(key, nin, nout)`` of a native pair for :data:`_BUILT`, or None (not describable)."""
    try:
        nin, nout = described(wcs_in), described(wcs_out)
    except (UnsupportedWCS, ValueError):
        return None
    shapes = (tuple(int(n) for n in shape_in), tuple(int(n) for n in shape_out))
    return (id(nin), id(nout), bool(roundtrip)) + shapes, nin, nout


def transform_and_bbox(
    wcs_in, wcs_out, shape_in, shape_out, roundtrip=True, grid_tolerance=GRID_TOLERANCE, force_grid=False
):
    """Build the transform and the input's bounding box in the output.

    Returns ``(transform, bbox)`` with ``bbox = (y0, y1, x0, x1)`` or
    ``(None, None)`` when the input does not overlap the output.  In grid mode
    the control grid covers only the bounding box.

    Native results are memoised per pair of WCS descriptions (:func:`described`:
    the same WCS objects, unchanged since) and shapes: a loop reprojecting
    with the same WCS skips the transform (~0.1 ms) and the edge mapping
    (~0.1-0.3 ms) on every call after the first.  The returned transform is
    shared: do not modify it.
    """
    tr = None
    memo = None if force_grid else _built_key(wcs_in, wcs_out, roundtrip, shape_in, shape_out)
    if memo is not None:
        key, nin, nout = memo
        with _BUILT_LOCK:
            hit = _BUILT.get(key)
            if hit is not None and hit[0] is nin and hit[1] is nout:
                _BUILT.move_to_end(key)
                return hit[2]
    if not force_grid:
        try:
            tr = build_transform(wcs_in, wcs_out, roundtrip=roundtrip)
        except ValueError:
            tr = None
    if tr is not None and tr.native:
        bbox = input_bbox(tr.in_to_out, lambda x, y: tr.out_to_in(x, y), shape_in, shape_out)
        result = (tr if bbox is not None else None), bbox
        if memo is not None:
            with _BUILT_LOCK:  # the descriptions are held: their ids are not reused while here
                _BUILT[key] = (nin, nout, result)
                while len(_BUILT) > BUILT_MAX:
                    _BUILT.popitem(last=False)
        return result

    def i2o(x, y):
        return _astropy_pixel_to_pixel(wcs_in, wcs_out, x, y, roundtrip=False)

    def o2i(x, y):
        return _astropy_pixel_to_pixel(wcs_out, wcs_in, x, y, roundtrip=False)

    bbox = input_bbox(i2o, o2i, shape_in, shape_out)
    if bbox is None:
        return None, None
    reason = "forced"
    if not force_grid:
        try:
            described(wcs_in)
            described(wcs_out)
            reason = "frames are not related by a fixed rotation"
        except UnsupportedWCS as exc:
            reason = str(exc)
    tr = build_transform(
        wcs_in, wcs_out, region=bbox, roundtrip=roundtrip, grid_tolerance=grid_tolerance, force_grid=True,
        shape_in=shape_in,
    )
    tr.reason = reason
    if tr.grid_error > grid_tolerance:
        import warnings

        warnings.warn(
            f"the astropy control grid reaches only {tr.grid_error:.2g} pixel accuracy between output pixel "
            f"centres (tolerance {grid_tolerance:g}; {reason}); the mapping is not smooth at the pixel scale "
            "(lookup-table distortion or projection facet edges).  The grid has one node per output pixel, so "
            "interpolation at pixel centres is exact; the error affects the exact and adaptive methods",
            RuntimeWarning,
            stacklevel=3,
        )
    return tr, bbox


def _specialise(vec, nin, nout, M):
    """Cheaper exact evaluation where the geometry allows it.

    * TAN -> TAN without SIP: the whole chain pixel -> plane -> sphere ->
      rotation -> sphere -> plane -> pixel is projective (great circles are
      straight lines in both gnomonic planes), so it collapses into one 3x3
      homography: two divisions per pixel.
    * The round trip of reproject only rejects points of projections that are
      not one-to-one; zenithal outputs without distortion are one-to-one on
      the domain the kernels already check, so the round trip is skipped.
    """
    r2d = 180.0 / np.pi
    no_sip = all(v[W_SIP] == 0 and v[W_TPV] == 0 for v in (nin.vector, nout.vector))
    code_out = int(nout.vector[W_CODE])
    if no_sip and code_out < 100:
        vec[T_ROUNDTRIP] = 0.0
    offsets = any(v[W_PV + k] != 0.0 for v in (nin.vector, nout.vector) for k in (PV_X0, PV_Y0))
    if not (no_sip and code_out == 1 and int(nin.vector[W_CODE]) == 1) or offsets:
        return
    mo = nout.vector[W_M : W_M + 4].reshape(2, 2)
    cxo, cyo = nout.vector[W_CRPIX : W_CRPIX + 2]
    # pixel (x, y, 1) -> unnormalised native vector (-Y, X, r2d), (X, Y) = mo @ (p - crpix)
    lin = np.array([[mo[0, 0], mo[0, 1], -mo[0, 0] * cxo - mo[0, 1] * cyo],
                    [mo[1, 0], mo[1, 1], -mo[1, 0] * cxo - mo[1, 1] * cyo],
                    [0.0, 0.0, 1.0]])
    A = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, r2d]]) @ lin
    mi = nin.vector[W_MINV : W_MINV + 4].reshape(2, 2)
    cxi, cyi = nin.vector[W_CRPIX : W_CRPIX + 2]
    # native vector w -> homogeneous input pixel: X = r2d wy/wz, Y = -r2d wx/wz
    B = np.array([[-r2d * mi[0, 1], r2d * mi[0, 0], cxi],
                  [-r2d * mi[1, 1], r2d * mi[1, 0], cyi],
                  [0.0, 0.0, 1.0]])
    H = B @ M @ A
    H = _snap_homography(H / H[2, 2])
    vec[T_H : T_H + 9] = H.ravel()
    vec[T_MODE] = MODE_HOMOGRAPHY


def _snap_homography(H):
    """Remove rounding noise from (near-)shift homographies.

    When both gnomonic grids share their projection and orientation (the
    common "same WCS, other CRPIX" case) the exact map is a pure shift; the
    matrix products above leave ~1e-15 relative noise, which makes an
    identity reprojection differ from its input in the last bits.  Entries
    within 1e-13 of 0 or +-1 (1e-15 per pixel for the projective row) and
    shifts within 1e-9 pixel of an integer are snapped.
    """
    H = H.copy()
    for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):
        for target in (-1.0, 0.0, 1.0):
            if abs(H[i, j] - target) < 1e-13:
                H[i, j] = target
    for j in (0, 1):
        if abs(H[2, j]) < 1e-15:
            H[2, j] = 0.0
    if H[2, 0] == 0.0 and H[2, 1] == 0.0 and {H[0, 0], H[0, 1], H[1, 0], H[1, 1]} <= {-1.0, 0.0, 1.0}:
        for i in (0, 1):
            r = round(H[i, 2])
            if abs(H[i, 2] - r) < 1e-9:
                H[i, 2] = r
    return H
