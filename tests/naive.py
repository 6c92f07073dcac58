"""Slow, obviously-correct NumPy references for the kernels (after stumpy's ``tests/naive.py``).

Every function here is written for clarity, not speed: plain loops over
pixels, the mathematical definition of each operation, no shortcut shared
with the package (nothing here imports numbamosaic).  Tests run the kernels
on tiny inputs and compare with these.

Interpolation (pixel centres at integer coordinates, as reproject/scipy)
    The valid domain of an ``n``-pixel axis is ``[-0.5, n - 0.5]``; inside
    it, coordinates in the outer half pixel are clamped to the border pixel
    centre; outside it the result is NaN.

    * :func:`interp_nearest`: the pixel whose centre is nearest (ties up).
    * :func:`interp_bilinear`: the four neighbours with weights
      ``(1 - fx)(1 - fy)`` ...; a neighbour whose weight is exactly zero is
      not read (so a NaN there does not leak in).
    * :func:`interp_spline` (orders 2 and 3): B-spline interpolation on
      mirror-symmetric (``scipy.ndimage`` ``mode='mirror'``) coefficients
      obtained by *solving the dense interpolation system* of each axis
      (:func:`spline_coefficients`), instead of the recursive filter of the
      kernels and of scipy.  Blank pixels are filled along their row by
      linear interpolation (``np.interp``) before solving, and an output
      whose ``(order + 1)^2`` support touches a blank is NaN.
    * :func:`interp_lanczos3`: the normalised windowed sinc over the 6 x 6
      neighbourhood, indices clamped to the image.

Exact overlap
    :func:`clip_polygon` is Sutherland-Hodgman against an axis-aligned box
    and :func:`polygon_area_centroid` the shoelace formula.
    :func:`pixel_solid_angles` measures pixels on the sphere (great-circle
    quadrilaterals).  :func:`reproject_exact` maps each output pixel's four corners into the
    input with astropy, clips the quadrilateral with every input pixel and
    weights each piece by its area times the input's solid angle per pixel
    at the piece's centroid (exact for a linear solid-angle model, and the
    quadrilateral is exact for TAN -> TAN, whose pixel edges are straight
    in both gnomonic planes).

    :func:`sampled_exact` is the ground truth by brute force: each output
    pixel sampled at ``k x k`` points weighted by the output's solid angle,
    each sample reading the input pixel that contains it (seams, folds and
    curved pixel edges need no special case), or an analytic sky.

Combines
    :func:`coadd` combines a stack of single-image reprojections
    ``(values[k], weights[k])`` the way reproject's ``reproject_and_coadd``
    defines mean, sum, first, last, min, max and median, plus numbamosaic's
    sigma-clipped mean, pixel by pixel.
"""

import math

import numpy as np

INTERP_ORDERS = {"nearest-neighbor": 0, "bilinear": 1, "biquadratic": 2, "bicubic": 3, "lanczos3": 4}


# --------------------------------------------------------------------------- interpolation


def _domain(x, n):
    """``None`` outside ``[-0.5, n - 0.5]``, else ``x`` clamped to ``[0, n - 1]``."""
    if not -0.5 <= x <= n - 0.5:
        return None
    return min(max(x, 0.0), n - 1.0)


def interp_nearest(data, xi, yi):
    """Nearest-neighbour samples of ``data`` at input pixel positions ``(xi, yi)``."""
    ny, nx = data.shape
    out = np.full(np.shape(xi), np.nan)
    for idx in np.ndindex(out.shape):
        x, y = _domain(xi[idx], nx), _domain(yi[idx], ny)
        if x is not None and y is not None:
            out[idx] = data[math.floor(y + 0.5), math.floor(x + 0.5)]
    return out


def interp_bilinear(data, xi, yi):
    """Bilinear samples; neighbours with zero weight are not read."""
    ny, nx = data.shape
    out = np.full(np.shape(xi), np.nan)
    for idx in np.ndindex(out.shape):
        x, y = _domain(xi[idx], nx), _domain(yi[idx], ny)
        if x is None or y is None:
            continue
        i, j = math.floor(x), math.floor(y)
        fx, fy = x - i, y - j
        v = 0.0
        for dj, wy in ((0, 1.0 - fy), (1, fy)):
            for di, wx in ((0, 1.0 - fx), (1, fx)):
                if wx * wy != 0.0:
                    v += wx * wy * data[j + dj, i + di]
        out[idx] = v
    return out


def bspline(t, order):
    """The centred B-spline of ``order`` 2 or 3 at ``t`` (its definition, piece by piece)."""
    t = abs(t)
    if order == 2:
        if t < 0.5:
            return 0.75 - t * t
        if t < 1.5:
            return 0.5 * (1.5 - t) ** 2
        return 0.0
    if t < 1.0:
        return 2.0 / 3.0 - t * t + 0.5 * t**3
    if t < 2.0:
        return (2.0 - t) ** 3 / 6.0
    return 0.0


def mirror(k, n):
    """Index ``k`` reflected into ``[0, n)`` about the border pixel centres (scipy's ``mirror``)."""
    if n == 1:
        return 0
    period = 2 * (n - 1)
    k = abs(k) % period
    return period - k if k >= n else k


def fill_blanks(data):
    """Copy of ``data`` with non-finite values filled along each row by linear
    interpolation between finite neighbours (constant beyond the ends; 0 for a
    row without any finite value)."""
    out = np.array(data, dtype=np.float64)
    cols = np.arange(out.shape[1])
    for row in out:
        good = np.isfinite(row)
        row[:] = np.interp(cols, cols[good], row[good]) if good.any() else 0.0
    return out


def _spline_matrix(n, order):
    """``A`` with ``samples = A @ coefficients`` along one mirror-extended axis."""
    A = np.zeros((n, n))
    for i in range(n):
        for k in range(i - 3, i + 4):
            A[i, mirror(k, n)] += bspline(i - k, order)
    return A


def spline_coefficients(data, order):
    """B-spline coefficients that interpolate ``data`` (after :func:`fill_blanks`)."""
    c = fill_blanks(data)
    c = np.linalg.solve(_spline_matrix(c.shape[0], order), c)
    return np.linalg.solve(_spline_matrix(c.shape[1], order), c.T).T


def spline_support(x, order):
    """First index and length of the spline's support at ``x`` (clamped coordinate):
    ``floor(x) - 1`` and 4 for cubic, ``round(x) - 1`` and 3 for quadratic."""
    if order == 3:
        return math.floor(x) - 1, 4
    return math.floor(x + 0.5) - 1, 3


def interp_spline(data, xi, yi, order):
    """Quadratic (``order=2``) or cubic (3) B-spline samples; NaN where the
    support touches a non-finite pixel."""
    ny, nx = data.shape
    coef = spline_coefficients(data, order)
    out = np.full(np.shape(xi), np.nan)
    for idx in np.ndindex(out.shape):
        x, y = _domain(xi[idx], nx), _domain(yi[idx], ny)
        if x is None or y is None:
            continue
        sx, n = spline_support(x, order)
        sy, _ = spline_support(y, order)
        rows = [mirror(sy + a, ny) for a in range(n)]
        cols = [mirror(sx + b, nx) for b in range(n)]
        if not np.isfinite(data[np.ix_(rows, cols)]).all():
            continue
        out[idx] = sum(
            bspline(y - (sy + a), order) * bspline(x - (sx + b), order) * coef[rows[a], cols[b]]
            for a in range(n) for b in range(n)
        )
    return out


def lanczos3(t):
    """The Lanczos-3 kernel ``sinc(t) sinc(t / 3)`` on ``|t| < 3``."""
    return float(np.sinc(t) * np.sinc(t / 3.0)) if abs(t) < 3.0 else 0.0


def interp_lanczos3(data, xi, yi):
    """Lanczos-3: normalised windowed sinc over the 6 x 6 neighbourhood, indices clamped."""
    ny, nx = data.shape
    out = np.full(np.shape(xi), np.nan)
    for idx in np.ndindex(out.shape):
        x, y = _domain(xi[idx], nx), _domain(yi[idx], ny)
        if x is None or y is None:
            continue
        kx = np.arange(math.floor(x) - 2, math.floor(x) + 4)
        ky = np.arange(math.floor(y) - 2, math.floor(y) + 4)
        w = np.outer([lanczos3(y - k) for k in ky], [lanczos3(x - k) for k in kx])
        block = data[np.ix_(np.clip(ky, 0, ny - 1), np.clip(kx, 0, nx - 1))]
        out[idx] = (w * block).sum() / w.sum()
    return out


def interpolate(data, xi, yi, order):
    """Dispatch on ``order`` (a name of :data:`INTERP_ORDERS` or its number)."""
    order = INTERP_ORDERS.get(order, order)
    if order == 0:
        return interp_nearest(data, xi, yi)
    if order == 1:
        return interp_bilinear(data, xi, yi)
    if order in (2, 3):
        return interp_spline(data, xi, yi, order)
    return interp_lanczos3(data, xi, yi)


def pixel_map(wcs_out, wcs_in, shape_out):
    """Input pixel positions ``(xi, yi)`` of every output pixel centre (astropy)."""
    from astropy.wcs.utils import pixel_to_pixel

    yo, xo = np.mgrid[: shape_out[0], : shape_out[1]].astype(float)
    return pixel_to_pixel(wcs_out, wcs_in, xo, yo)


def reproject_interp(data, wcs_in, wcs_out, shape_out, order):
    """``(array, footprint)`` as reproject's ``reproject_interp`` defines them: the
    interpolated value, and footprint 1 where it is finite (value NaN and
    footprint 0 elsewhere)."""
    xi, yi = pixel_map(wcs_out, wcs_in, shape_out)
    out = interpolate(np.asarray(data, dtype=np.float64), xi, yi, order)
    out[~np.isfinite(out)] = np.nan
    return out, np.isfinite(out).astype(np.float64)


# --------------------------------------------------------------------------- exact overlap


def clip_polygon(px, py, x0, x1, y0, y1):
    """Sutherland-Hodgman: the part of polygon ``(px, py)`` inside ``[x0, x1] x [y0, y1]``."""
    pts = list(zip(map(float, px), map(float, py)))
    for axis, bound, keep_below in ((0, x0, False), (0, x1, True), (1, y0, False), (1, y1, True)):
        def inside(p):
            return p[axis] <= bound if keep_below else p[axis] >= bound

        def cut(p, q):
            t = (bound - p[axis]) / (q[axis] - p[axis])
            r = [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]
            r[axis] = bound
            return tuple(r)

        out = []
        for k, q in enumerate(pts):
            p = pts[k - 1]
            if inside(q):
                if not inside(p):
                    out.append(cut(p, q))
                out.append(q)
            elif inside(p):
                out.append(cut(p, q))
        pts = out
        if not pts:
            break
    return [p[0] for p in pts], [p[1] for p in pts]


def polygon_area_centroid(px, py):
    """Signed area (positive counter-clockwise) and centroid, by the shoelace formula."""
    a = cx = cy = 0.0
    n = len(px)
    for k in range(n):
        x0, y0, x1, y1 = px[k - 1], py[k - 1], px[k], py[k]
        cross = x0 * y1 - x1 * y0
        a += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if a == 0.0:
        return 0.0, math.nan, math.nan
    return 0.5 * a, cx / (3.0 * a), cy / (3.0 * a)


def overlap_area(px, py, x0, x1, y0, y1):
    """Signed area of polygon ``(px, py)`` inside the box (the polygon's orientation)."""
    return polygon_area_centroid(*clip_polygon(px, py, x0, x1, y0, y1))[0] if len(px) else 0.0


def tan_solid_angle(wcs):
    """Solid angle per pixel (up to a constant) of a TAN ``wcs`` at pixel ``(x, y)``:
    ``(1 + R^2)^(-3/2)``, ``R`` the distance from the tangent point in the
    projection plane (radians)."""
    cd = wcs.wcs.get_pc() * wcs.wcs.cdelt[:, None]
    crpix = wcs.wcs.crpix - 1.0

    def J(x, y):
        u, v = np.radians(cd @ np.array([x - crpix[0], y - crpix[1]]))
        return (1.0 + u * u + v * v) ** -1.5

    return J


def pixel_solid_angles(wcs, shape):
    """Solid angle (steradians) of every pixel of ``wcs`` over ``shape``: the
    spherical quadrilateral with great-circle edges between its corners, as two
    triangles (Van Oosterom & Strackee 1983, IEEE Trans. Biomed. Eng. 30, 125)."""
    ny, nx = shape
    yc, xc = np.mgrid[-0.5:ny, -0.5:nx]
    lon, lat = (np.radians(c) for c in wcs.wcs_pix2world(xc, yc, 0))
    v = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
    a, b, c, d = v[:-1, :-1], v[:-1, 1:], v[1:, 1:], v[1:, :-1]

    def triangle(p, q, r):
        def dot(s, t):
            return np.einsum("...i,...i", s, t)

        return 2.0 * np.arctan2(np.abs(dot(p, np.cross(q, r))), 1.0 + dot(p, q) + dot(q, r) + dot(r, p))

    return triangle(a, b, c) + triangle(a, c, d)


def reproject_exact(data, wcs_in, wcs_out, shape_out, solid_angle=None):
    """Exact (area-overlap) reprojection in surface brightness, pixel by pixel.

    Each output pixel's corners are mapped into the input (astropy); the
    quadrilateral is clipped with every input pixel it may touch.  With
    pieces ``k`` of finite input pixels ``i`` and ``w_k = area_k J(centroid_k)``:
    ``value = sum v_i w_k / sum w_k``, footprint ``= sum w_k / W`` (at most 1)
    with ``W = area(quad) J(centroid(quad))`` the output pixel's solid angle.
    ``solid_angle`` is ``J(x, y)`` (default 1: plane areas).
    """
    from astropy.wcs.utils import pixel_to_pixel

    J = solid_angle or (lambda x, y: 1.0)
    ny, nx = data.shape
    out = np.full(shape_out, np.nan)
    fp = np.zeros(shape_out)
    for j in range(shape_out[0]):
        for i in range(shape_out[1]):
            cx = np.array([i - 0.5, i + 0.5, i + 0.5, i - 0.5])
            cy = np.array([j - 0.5, j - 0.5, j + 0.5, j + 0.5])
            px, py = pixel_to_pixel(wcs_out, wcs_in, cx, cy)
            a, gx, gy = polygon_area_centroid(px, py)
            W = abs(a) * J(gx, gy)
            s = V = 0.0
            for iy in range(max(0, math.floor(py.min() + 0.5)), min(ny, math.floor(py.max() + 0.5) + 1)):
                for ix in range(max(0, math.floor(px.min() + 0.5)), min(nx, math.floor(px.max() + 0.5) + 1)):
                    if not np.isfinite(data[iy, ix]):
                        continue
                    qa, qx, qy = polygon_area_centroid(*clip_polygon(px, py, ix - 0.5, ix + 0.5, iy - 0.5, iy + 0.5))
                    if qa != 0.0:
                        w = abs(qa) * J(qx, qy)
                        s += data[iy, ix] * w
                        V += w
            if V > 0.0:
                out[j, i] = s / V
                fp[j, i] = min(V / W, 1.0)
    return out, fp


def _unit(wcs, x, y):
    lon, lat = (np.radians(c) for c in wcs.wcs_pix2world(x, y, 0))
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)


def sampled_exact(data, wcs_in, wcs_out, pixels, k=128, sky=None):
    """Ground truth of exact reprojection at output ``pixels`` ((j, i) pairs) by sampling.

    Each output pixel is sampled at the ``k x k`` midpoints of a regular grid
    in its pixel coordinates; a sample weighs the output's solid angle per
    unit pixel area there (``|du x dv|`` of astropy unit vectors, central
    differences of 1e-3 pixel).  The input is taken as what exact
    reprojection assumes, a constant value over each input pixel: a sample
    reads the input pixel containing it (astropy ``world -> pixel``,
    nearest centre), and counts as covered when that pixel is on the image
    and finite.  Independent of the pixel outlines (seams, curved edges and
    folds need no special case); the error is that of the midpoint rule on a
    piecewise-constant integrand, ``~ contrast / k^1.5``.  With ``sky``
    (``sky(lon, lat)`` in degrees) the continuous sky is averaged instead of
    the input pixels.  Returns arrays ``(value, footprint)``.
    """
    ny, nx = data.shape
    t = (np.arange(k) + 0.5) / k - 0.5
    ty, tx = (a.ravel() for a in np.meshgrid(t, t, indexing="ij"))
    h = 1e-3
    vals, fps = [], []
    for j, i in pixels:
        x = i + tx
        y = j + ty
        du = (_unit(wcs_out, x + h, y) - _unit(wcs_out, x - h, y)) / (2 * h)
        dv = (_unit(wcs_out, x, y + h) - _unit(wcs_out, x, y - h)) / (2 * h)
        w = np.linalg.norm(np.cross(du, dv), axis=-1)
        lon, lat = wcs_out.wcs_pix2world(x, y, 0)
        if sky is not None:
            v = sky(lon, lat)
            ok = np.isfinite(v) & np.isfinite(w)
        else:
            px, py = wcs_in.wcs_world2pix(lon, lat, 0)
            with np.errstate(invalid="ignore"):
                ix = np.floor(px + 0.5)
                iy = np.floor(py + 0.5)
                on = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
            v = np.full(x.shape, np.nan)
            v[on] = data[iy[on].astype(int), ix[on].astype(int)]
            ok = np.isfinite(v) & np.isfinite(w)
        W = w[np.isfinite(w)].sum()
        V = w[ok].sum()
        vals.append((v[ok] * w[ok]).sum() / V if V > 0 else np.nan)
        fps.append(V / W)
    return np.array(vals), np.array(fps)


# --------------------------------------------------------------------------- combines


def coadd(values, weights, combine, nsigma=3.0, maxiter=5):
    """Combine single-image reprojections pixel by pixel, in input order.

    Parameters
    ----------
    values, weights : sequence of 2-D arrays
        Reprojected input ``k`` and its weight (footprint times reprojected
        input weight).  A pixel contributes where its value is finite and its
        weight is positive (for ``sum`` and ``mean``, where its weight is not NaN).
    combine : str
        ``mean`` (``sum v w / sum w``), ``sum`` (``sum v w``), ``first`` /
        ``last`` (the first / last contributing input), ``min`` / ``max``,
        ``median`` (of the contributing values, unweighted) or
        ``clipped-mean`` (iterated: reject values further than ``nsigma``
        times 1.4826 MAD from the median, or every value off the median when
        the MAD is zero; at least 3 values; then the weighted mean).

    Returns
    -------
    out, footprint : 2-D float64 arrays
        NaN and 0 where nothing contributes; the footprint is the summed
        weight of the contributions (``first``/``last``/``min``/``max``: the
        weight of the chosen input).
    """
    shape = np.shape(values[0])
    out = np.full(shape, np.nan)
    fp = np.zeros(shape)
    for idx in np.ndindex(shape):
        vs = [float(v[idx]) for v in values]
        ws = [float(w[idx]) for w in weights]
        if combine in ("mean", "sum"):
            pairs = [(v, w) for v, w in zip(vs, ws) if math.isfinite(v) and w == w]
            tw = sum(w for _, w in pairs)
            if tw != 0.0:
                tv = sum(v * w for v, w in pairs)
                out[idx] = tv / tw if combine == "mean" else tv
                fp[idx] = tw
            continue
        pairs = [(v, w) for v, w in zip(vs, ws) if math.isfinite(v) and w > 0.0]
        if not pairs:
            continue
        if combine == "first":
            out[idx], fp[idx] = pairs[0]
        elif combine == "last":
            out[idx], fp[idx] = pairs[-1]
        elif combine == "min":
            out[idx], fp[idx] = min(pairs, key=lambda p: p[0])
        elif combine == "max":
            out[idx], fp[idx] = max(pairs, key=lambda p: p[0])
        elif combine == "median":
            out[idx], fp[idx] = np.median([v for v, _ in pairs]), sum(w for _, w in pairs)
        elif combine == "clipped-mean":
            keep = pairs
            for _ in range(maxiter):
                if len(keep) < 3:
                    break
                med = np.median([v for v, _ in keep])
                sigma = 1.4826 * np.median([abs(v - med) for v, _ in keep])
                kept = [(v, w) for v, w in keep if abs(v - med) <= nsigma * sigma]
                if len(kept) == len(keep):
                    break
                keep = kept
            tw = sum(w for _, w in keep)
            out[idx], fp[idx] = sum(v * w for v, w in keep) / tw, tw
        else:
            raise ValueError(combine)
    return out, fp
