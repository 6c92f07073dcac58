"""``reproject_exact``: drop-in for reproject's exact (area-overlap) algorithm.

The kernels live in :mod:`numbamosaic.kernels.exact`; this module holds the
resampler registered as ``'exact'`` and the public function.
"""

import weakref

import numpy as np

from ._common import begin_single, return_result
from ._cube import plane_job, run_cube
from ._docstrings import shared_doc
from ._exec import executor_for
from ._lazy import lazy_cube, lazy_single
from ._single import plan_single, run_single
from .kernels._single_variance import parse_input_variance, single_variance, with_variance
from ._validate import check_no_extra_kwargs
from ._resamplers import register
from .kernels.exact import (MAXB, O_CURVE, O_FLUX, O_JAC, O_NSUB, O_ORIENT, O_PX, O_PY, OPTS_LEN, area_factors, area_quadratics,
                             exact_tile, quad_flag, rest_boxes)
from .wcs._layout import PROJ_CODES, T_GSTEP, T_GX0, T_GY0, T_IN, W_CODE, W_MINV, W_SIP, W_TPV
from .wcs import general_transform
from .wcs._native import homography_flag

CONSERVE = ("surface-brightness", "flux")

#: relative precision the automatic subdivision aims at: the largest error of
#: an output value as a fraction of the range of the input values it covers
AUTO_TOLERANCE = 1e-7
#: budget of each sub-cell edge left straight: the chord's area error at most
#: this fraction of the squared chord (four edges: half of AUTO_TOLERANCE)
EDGE_TOLERANCE = AUTO_TOLERANCE / 8
#: budget of the parabola model of curved edges
MODEL_TOLERANCE = AUTO_TOLERANCE / 2
#: budget of the linear model of the solid angle per input pixel over a sub-cell
J_TOLERANCE = AUTO_TOLERANCE / 4
#: curved edges are switched on when the probes' largest straight-chord error
#: exceeds EDGE_TOLERANCE / CURVE_MARGIN (the probes see only part of the image)
CURVE_MARGIN = 100.0
#: most chords per curved edge where a sub-cell is clipped by the sweep
#: (``kernels.exact._curves.MAXM``)
MAX_CHORDS = 32
#: most sub-cells per output pixel side chosen automatically
MAX_AUTO_SUBDIVISIONS = 16
#: probes whose edge bulges by more than this fraction of its chord sit on a
#: seam or a limb (the kernel keeps such edges straight and checks for tears)
SEAM_BULGE = 0.05

_AUTO_CACHE = weakref.WeakKeyDictionary()
_NO_WEIGHTS = np.empty((0, 0), dtype=np.float32)


def parse_conserve(conserve):
    """Validate ``conserve``; returns True for flux, False for surface brightness."""
    if not isinstance(conserve, str) or conserve.lower() not in CONSERVE:
        raise ValueError(f"conserve: expected 'surface-brightness' or 'flux', got {conserve!r}")
    return conserve.lower() == "flux"


def parse_subdivisions(subdivisions):
    if subdivisions is None:
        return None
    if isinstance(subdivisions, (int, np.integer)) and not isinstance(subdivisions, bool) and 1 <= subdivisions <= 64:
        return int(subdivisions)
    raise ValueError(f"subdivisions: expected None (automatic) or an int from 1 to 64, got {subdivisions!r}")


def _probe_corners(tr, shape_in, n=12):
    """Output pixel corners where an ``n x n`` grid of input positions lands
    (so the probes depend only on the transform and the input shape, never on
    how the output is tiled)."""
    ny, nx = shape_in
    gy, gx = np.meshgrid(np.linspace(0.0, ny - 1.0, n), np.linspace(0.0, nx - 1.0, n), indexing="ij")
    xo, yo = tr.in_to_out(gx.ravel(), gy.ravel())
    ok = np.isfinite(xo) & np.isfinite(yo)
    return np.round(xo[ok]) - 0.5, np.round(yo[ok]) - 0.5


def edge_errors(tr, X, Y, nsub):
    """Straight-chord and parabola-model errors of sub-cell edges at probes.

    For each probe corner ``(X, Y)`` and each direction, the lattice points
    ``k / nsub`` (``k = -1 .. 2``) along the lattice line are mapped into the
    input, and the edge between points 0 and 1 is modelled as the kernel
    does (:func:`numbamosaic.kernels.exact._curves._edge_bulge`): the parabola
    through its end points and the 4-point interpolated midpoint.  Returns

    * ``bulge``: the largest straight-chord area error relative to the
      squared chord, ``2/3 |d x S| / |d|^2``;
    * ``model``: the area between the true image of the edge and the
      parabola, relative to the squared chord: the integral over ``t`` of
      their distance across the chord (relative to the chord length), by
      Simpson's rule on ``t = k / 8``.  It is the area the model moves
      between neighbouring output pixels, whatever the sign of each lobe
      (the largest distance, used before, overstated it: by 1.5x for the
      usual antisymmetric, cubic deviation, which kept 4-arcmin ZPN pixels
      at 3 x 3 sub-cells where 2 x 2 meet the bound).

    * ``extent``: the longest chord, in input pixels.

    Probes whose bulge exceeds ``SEAM_BULGE`` of the chord (a seam or a
    limb, where the kernel keeps edges straight) are left out.  The error of
    an output value, as a fraction of the range of the input values it
    covers, is at most about ``4 nsub`` edge errors times the squared chord
    over the pixel's area: ``4 bulge / nsub`` for straight edges, ``4 model
    / nsub`` for parabolic ones.
    """
    h = 1.0 / nsub
    bulge = 0.0
    model = 0.0
    extent = 0.0
    for ex, ey in ((1.0, 0.0), (0.0, 1.0)):
        pts = [tr.out_to_in(X + ex * h * k, Y + ey * h * k) for k in (-1, 0, 1, 2)]
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = pts
        sx = ((x1 + x2) - (x0 + x3)) / 16.0
        sy = ((y1 + y2) - (y0 + y3)) / 16.0
        dx = x2 - x1
        dy = y2 - y1
        with np.errstate(invalid="ignore", divide="ignore"):
            dd = dx * dx + dy * dy
            b = (2.0 / 3.0) * np.abs(dx * sy - dy * sx) / dd
            seam = ~((sx * sx + sy * sy) <= SEAM_BULGE**2 * dd)
            worst = np.zeros_like(dd)
            for k in range(1, 8):  # Simpson's rule on t = k / 8 (zero at both ends)
                t = k / 8.0
                tx, ty = tr.out_to_in(X + ex * h * t, Y + ey * h * t)
                q = 4.0 * t * (1.0 - t)
                rx = tx - (x1 + dx * t + sx * q)
                ry = ty - (y1 + dy * t + sy * q)
                worst += (4.0 if k % 2 else 2.0) / 24.0 * np.abs(dx * ry - dy * rx) / dd
        ok = np.isfinite(b) & np.isfinite(worst) & ~seam
        if ok.any():
            bulge = max(bulge, float(b[ok].max()))
            model = max(model, float(worst[ok].max()))
            extent = max(extent, float(np.sqrt(dd[ok].max())))
    return bulge, model, extent


def jacobian_error(tr, X, Y, nsub, quadratic=False):
    """Error of the kernel's solid-angle model over a sub-cell, at probes.

    For each probe corner ``(X, Y)`` the sub-cell ``[X, X + 1/nsub] x [Y, Y
    + 1/nsub]`` is mapped into the input and the solid angle per input pixel
    (:func:`~numbamosaic.kernels.exact.input_area_factor`) evaluated at its
    corners, edge midpoints and centre.  The kernel's linear model is the
    plane of value the corners' mean at their centroid and gradient matching
    the differences along both diagonals.  With ``quadratic``
    (:func:`quadratic_model`) the model adds the corners' mean of the
    quadratic Taylor terms (:func:`~numbamosaic.kernels.exact.area_quadratic`)
    and fits that plane to the corner values with them removed, as the
    kernel does.  ``e`` is the model's relative error at the nine points.
    An output value's error from a relative weight error ``e`` is at most
    ``(max e - min e) / 4`` of the range of the values it covers (a
    covariance bound); the largest over the probes is returned: zero for
    equal-area projections (AIT, HPX, ZEA, CEA...) without distortion.
    """
    h = 1.0 / nsub
    P = []
    J = []
    T = []
    for ex in (0.0, 0.5 * h, h):
        for ey in (0.0, 0.5 * h, h):
            x, y = tr.out_to_in(X + ex, Y + ey)
            x = np.ascontiguousarray(x, dtype=float)
            y = np.ascontiguousarray(y, dtype=float)
            if quadratic:
                out = np.empty((4, x.size))
                area_quadratics(tr.vector, x, y, out)
                J.append(out[0])
                T.append(out[1:])
            else:
                out = np.empty(x.size)
                area_factors(tr.vector, x, y, out, homography_flag(tr.vector))
                J.append(out)
            P.append((x, y))
    # corners (0, 0), (h, 0), (h, h), (0, h): indices 0, 6, 8, 2 of the 3 x 3 samples
    c = (0, 6, 8, 2)
    xm = 0.25 * sum(P[k][0] for k in c)
    ym = 0.25 * sum(P[k][1] for k in c)
    qa = qb = qc = 0.0
    Jc = {k: J[k] for k in c}
    if quadratic:
        qa, qb, qc = (0.25 * sum(T[k][i] for k in c) for i in range(3))
        for k in c:
            u = P[k][0] - xm
            v = P[k][1] - ym
            Jc[k] = J[k] - ((qa * u + qb * v) * u + qc * v * v)
    j0 = 0.25 * sum(Jc[k] for k in c)
    d1x, d1y = P[8][0] - P[0][0], P[8][1] - P[0][1]
    d2x, d2y = P[2][0] - P[6][0], P[2][1] - P[6][1]
    e1, e2 = Jc[8] - Jc[0], Jc[2] - Jc[6]
    with np.errstate(invalid="ignore", divide="ignore"):
        det = d1x * d2y - d1y * d2x
        jx = (e1 * d2y - e2 * d1y) / det
        jy = (d1x * e2 - d2x * e1) / det
        e = []
        for (x, y), Jk in zip(P, J):
            u = x - xm
            v = y - ym
            e.append((j0 + jx * u + jy * v + (qa * u + qb * v) * u + qc * v * v) / Jk - 1.0)
        e = np.array(e)
        err = 0.25 * (e.max(axis=0) - e.min(axis=0))
    err = err[np.isfinite(err)]
    return float(err.max()) if err.size else 0.0


def auto_subdivisions(tr, shape_in):
    """Sub-cells per output pixel side for transform ``tr`` and input shape.

    Three error sources, each bounded relative to the range of the input
    values an output pixel covers (total ``AUTO_TOLERANCE``), measured at
    probes (output pixel corners where a grid of input positions lands):

    * the linear model of the input's solid angle per pixel over a sub-cell
      (:func:`jacobian_error`, below ``J_TOLERANCE``);
    * curved images of the output pixel edges: each sub-cell edge whose
      straight chord would miss by more than ``EDGE_TOLERANCE`` is a
      parabola (its bulge interpolated from the neighbouring lattice
      points, no extra transforms), integrated exactly by the kernel; the
      parabola model itself (:func:`edge_errors`) must stay below
      ``MODEL_TOLERANCE``;
    * sub-cells with curved edges must fit boxes of ``MAXB - 2`` input
      pixels (the exact edge-by-edge path; larger ones are clipped by the
      sweep, which follows at most ``MAX_CHORDS`` chords per edge).

    The smallest ``nsub`` meeting all three, up to ``MAX_AUTO_SUBDIVISIONS``,
    is used.  In control-grid mode the grid limits the accuracy anyway: 1.
    The result depends only on the transform and the input shape, so every
    tile of one input uses the same lattice.
    """
    return _geometry(tr, shape_in)[0]


def subdivision_policy(tr, shape_in):
    """``(nsub, curve, bound)``: sub-cells per side, the kernel's edge
    tolerance (0: straight edges suffice) and the estimated error bound (a
    fraction of the local input range; above ``AUTO_TOLERANCE`` only when
    ``MAX_AUTO_SUBDIVISIONS`` is reached).  See :func:`auto_subdivisions`
    and :func:`area_model`."""
    return _policy(tr, shape_in)[:3]


def area_model(tr, shape_in):
    """The kernel's solid-angle model (``opts[O_JAC]``): 0 none (control
    grid, or an equal-area input), 1 linear per sub-cell, 2 quadratic per
    sub-cell (:func:`quadratic_model`), 3 quadratic per output pixel: when
    the quadratic model's error measured over whole output pixels
    (:func:`jacobian_error` with one sub-cell) is within ``J_TOLERANCE``,
    area factors are evaluated at pixel corners only and the policy's
    sub-cells serve the geometry alone."""
    return _policy(tr, shape_in)[3]


def _policy(tr, shape_in):
    """``(nsub, curve, bound, area model)``, see :func:`subdivision_policy`."""
    mode = 0 if (not tr.native or equal_area(tr)) else (2 if quadratic_model(tr) else 1)
    if not tr.native:
        return 1, 0.0, 0.0, mode
    X, Y = _probe_corners(tr, shape_in)
    if X.size == 0:
        return 1, 0.0, 0.0, mode
    quad = mode == 2
    jpix = jacobian_error(tr, X, Y, 1, quad) if quad else 0.0
    if quad and jpix <= J_TOLERANCE:
        mode = 3
    nsub = 1
    while True:
        bulge, model, extent = edge_errors(tr, X, Y, nsub)
        jerr = jpix if mode == 3 else jacobian_error(tr, X, Y, nsub, quad)
        curved = bulge > EDGE_TOLERANCE / CURVE_MARGIN
        if curved:
            bound = 4.0 * (model + min(bulge, EDGE_TOLERANCE)) / nsub + jerr
            ok = 4.0 * model / nsub <= MODEL_TOLERANCE and extent <= MAXB - 2
        else:
            bound = 4.0 * bulge / nsub + jerr
            ok = True
        if (ok and jerr <= J_TOLERANCE) or nsub >= MAX_AUTO_SUBDIVISIONS:
            break
        nsub += 1
    return nsub, (EDGE_TOLERANCE if curved else 0.0), bound, mode


def transform_orientation(tr, shape_in, n=8):
    """Sign (+1 / -1) of the output -> input pixel mapping's Jacobian, 0 if unknown.

    Probed on output pixels where an ``n x n`` grid of input positions lands
    (majority vote), so it does not depend on tiling.  Kernels skip sub-cells
    of the other orientation: cells folded or torn by a projection seam.
    """
    ny, nx = shape_in
    gy, gx = np.meshgrid(np.linspace(0.0, ny - 1.0, n), np.linspace(0.0, nx - 1.0, n), indexing="ij")
    if tr.native:
        xo, yo = tr.in_to_out(gx.ravel(), gy.ravel())
    else:  # grid mode: probe the grid's own output region
        g = tr.grid
        step = tr.vector[T_GSTEP]
        xo = tr.vector[T_GX0] + step * np.linspace(1, g.shape[2] - 2, n)
        yo = tr.vector[T_GY0] + step * np.linspace(1, g.shape[1] - 2, n)
        xo, yo = (a.ravel() for a in np.meshgrid(xo, yo))
    ok = np.isfinite(xo) & np.isfinite(yo)
    if not ok.any():
        return 0.0
    X = np.round(xo[ok])
    Y = np.round(yo[ok])
    ax, ay = tr.out_to_in(X - 0.5, Y - 0.5)
    bx, by = tr.out_to_in(X + 0.5, Y - 0.5)
    cx, cy = tr.out_to_in(X - 0.5, Y + 0.5)
    with np.errstate(invalid="ignore"):
        det = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
    det = det[np.isfinite(det) & (det != 0)]
    if det.size == 0:
        return 0.0
    pos = int(np.sum(det > 0))
    return 1.0 if pos * 2 > det.size else (-1.0 if pos * 2 < det.size else 0.0)


#: equal-area projections: the solid angle per input pixel is constant (a
#: linear SIP/TPV distortion aside), so the kernel need not evaluate it
EQUAL_AREA = ("ZEA", "CEA", "SFL", "PAR", "MOL", "AIT", "COE", "BON", "QSC", "HPX", "XPH")


def equal_area(tr):
    """True when the input projection is equal-area and undistorted (constant solid angle per pixel)."""
    if not tr.native:
        return False
    v = tr.vector
    codes = {PROJ_CODES[c] for c in EQUAL_AREA if c in PROJ_CODES}
    return int(v[T_IN + W_CODE]) in codes and v[T_IN + W_SIP] == 0.0 and v[T_IN + W_TPV] == 0.0


def quadratic_model(tr):
    """True when the kernel models the solid angle per input pixel by a
    quadratic over each sub-cell (``opts[O_JAC] = 2``): a native ZPN input
    without distortion, whose area factor and its second derivatives are
    analytic (:func:`~numbamosaic.kernels.exact.area_quadratic`).  The
    subdivision policy then measures that model's error
    (:func:`jacobian_error`), third order in the sub-cell size instead of
    second: on coarse ZPN pixels far fewer sub-cells meet the same bound."""
    if not tr.native:
        return False
    v = tr.vector
    return int(v[T_IN + W_CODE]) == PROJ_CODES["ZPN"] and v[T_IN + W_SIP] == 0.0 and v[T_IN + W_TPV] == 0.0


#: projections whose plane x is proportional to native longitude with period
#: 360 degrees: their longitude seam is a translation in pixel space
CYLINDRICAL_PERIODIC = ("CAR", "CEA", "MER")


def seam_period(tr):
    """Longitude period of a cylindrical input in input pixels ``(px, py)``, or (0, 0)."""
    if not tr.native:
        return 0.0, 0.0
    v = tr.vector
    codes = {PROJ_CODES[c] for c in CYLINDRICAL_PERIODIC}
    if int(v[T_IN + W_CODE]) not in codes or v[T_IN + W_SIP] != 0.0:
        return 0.0, 0.0
    mi = v[T_IN + W_MINV : T_IN + W_MINV + 4]
    return float(mi[0] * 360.0), float(mi[2] * 360.0)


def _geometry(tr, shape_in):
    """(nsub, orientation, period x, period y, curve, area model) for a transform, cached per transform."""
    key = tuple(shape_in)
    try:
        cached = _AUTO_CACHE.get(tr)
    except TypeError:
        cached = None
    if cached is not None and key in cached:
        return cached[key]
    nsub, curve, _, mode = _policy(tr, shape_in)
    geo = (nsub, transform_orientation(tr, shape_in)) + seam_period(tr) + (curve, mode)
    try:
        _AUTO_CACHE.setdefault(tr, {})[key] = geo
    except TypeError:
        pass
    return geo


@register("exact")
class ExactResampler:
    """Exact area overlap through ``kernels.exact``.

    Parameters
    ----------
    conserve : {'surface-brightness', 'flux'}
        Area-weighted mean of the input (reproject's semantics) or summed
        flux (input values times the fraction of each input pixel covered).
    subdivisions : int, optional
        Sub-cells per output pixel side; ``None`` chooses it from the
        output pixel's angular size and the curvature of its edges in the
        input (:func:`auto_subdivisions`; 1 for pixels up to ~2 arcmin
        between similar projections).
    """

    margin = 1

    def __init__(self, conserve="surface-brightness", subdivisions=None, **ignored):
        self.flux = parse_conserve(conserve)
        self.subdivisions = parse_subdivisions(subdivisions)

    def prepare(self, data):
        return None

    def state_nbytes(self, shape, itemsize):
        return 0

    def options(self, tr, shape_in):
        """Kernel option vector (see ``kernels.exact.O_*``) for a transform."""
        nsub, orient, px, py, curve, mode = _geometry(tr, shape_in)
        if self.subdivisions is not None:  # the caller's straight-edged sub-cells
            nsub = self.subdivisions
            curve = 0.0
        opts = np.zeros(OPTS_LEN)
        opts[O_NSUB] = nsub
        opts[O_FLUX] = 1.0 if self.flux else 0.0
        opts[O_JAC] = mode
        opts[O_ORIENT] = orient
        opts[O_PX] = px
        opts[O_PY] = py
        opts[O_CURVE] = curve
        return opts

    def _args(self, tr, data, wdata):
        if wdata is None or wdata.size == 0:
            wdata = _NO_WEIGHTS  # one compiled specialisation for "no weights"
        return wdata, self.options(tr, data.shape)

    def tile(self, data, state, wdata, tr, y0, y1, x0, x1, val, wt, oy, ox, sink, bg):
        wdata, opts = self._args(tr, data, wdata)
        quad = quad_flag(opts)
        # the homography variant (hom = 1) is the reduced kernel, compiled with quad None only: a
        # quadratic model (ZPN input, never a homography) always takes hom = 0
        hom = homography_flag(tr.vector) if quad is None else 0
        stop = exact_tile(data, wdata, tr.vector, tr.grid, opts, y0, y1, x0, x1, val, wt, oy, ox, sink, bg, quad, hom)
        # the homography variant stops where a sub-cell needs the seam refinement (or before
        # the first row for curved edges), which it is compiled without: hom=0 does the rest
        for ya, yb, xa, xb in rest_boxes(stop, opts, y0, y1, x0, x1):
            exact_tile(data, wdata, tr.vector, tr.grid, opts, ya, yb, xa, xb, val, wt, oy, ox, sink, bg, quad, 0)


@shared_doc
def reproject_exact(
    input_data,
    output_projection,
    shape_out=None,
    hdu_in=0,
    output_array=None,
    output_footprint=None,
    return_footprint=True,
    block_size=None,
    parallel=True,
    return_type=None,
    dask_method=None,
    conserve="surface-brightness",
    subdivisions=None,
    input_variance=None,
    **kwargs,
):
    """Reproject an image (or a cube, plane by plane) by exact pixel overlap.

    Drop-in replacement for :func:`reproject.reproject_exact` with the same
    arguments and ``(array, footprint)`` return.  Each output pixel's outline
    is mapped into input pixel coordinates and clipped against the input
    pixels; the overlaps are weighted by solid angle.  Precision holds from
    micro-arcsecond to degree-sized pixels.

    Parameters
    ----------
    input_data : str, Path, HDUList, HDU, (array, WCS or Header), NDData
        Input image and its WCS (any WCS with two pixel axes).  Data with more
        axes than the WCS (a cube ``(..., ny, nx)``) are broadcast as in
        reproject: the overlap pieces of each output pixel are computed once
        and every plane is summed with them (NaN pixels of a plane excluded
        from that plane only).
    output_projection : Header, WCS or str
        Output projection; a WCS needs ``shape_out`` unless it has
        ``array_shape``.
    shape_out : tuple, optional
        Output shape ``(ny, nx)`` (or with the cube's leading axes).
    hdu_in : int or str, optional
        HDU to use for file and HDUList inputs.
    output_array, output_footprint : ndarray, optional
        Float32 or float64 arrays (e.g. ``np.memmap``) to write into, of the
        full output shape (with a cube's leading axes).
    return_footprint : bool
        Return ``(array, footprint)`` (default) or only the array.
    %(execution)s
    conserve : {'surface-brightness', 'flux'}
        ``'surface-brightness'`` (default, reproject's behaviour): the
        overlap-area-weighted mean of the input pixels.  ``'flux'``: the sum
        of input values times the fraction of each input pixel's area that
        falls in the output pixel, so the total flux is conserved.
    subdivisions : int, optional
        Sub-cells per output pixel side (default: automatic, aiming at 1e-7
        relative precision; 1 for pixels up to ~2 arcmin between similar
        projections).

    input_variance : ndarray or HDU, optional
        Variance of each input pixel (same shape as the input).  The
        propagated variance of the output is then returned as well (last
        element of the result): the resampling coefficients enter squared,
        as in drizzle (Fruchter & Hook 2002); NaN where the output is.  A
        second pass over the input; 2-D images, NumPy results only.

    Returns
    -------
    array : ndarray
        float32 for float32/16-bit inputs, else float64 (or the dtype of
        ``output_array``); NaN where no valid input pixel overlaps.
    footprint : ndarray
        Fraction of the output pixel covered by valid (non-NaN) input pixels,
        from 0 to 1.  Unlike reproject, NaN input pixels are excluded from
        both the value (the remaining coverage is renormalised) and the
        footprint.
    """
    check_no_extra_kwargs("reproject_exact", kwargs)
    flux = parse_conserve(conserve)
    subdivisions = parse_subdivisions(subdivisions)
    job, out, fp, nthreads, client = begin_single(
        input_data, output_projection, shape_out, hdu_in, parallel, return_type, output_array, output_footprint,
        return_footprint, dask_method,
    )
    variance = parse_input_variance(input_variance, job.data.shape, job.planes, return_type, "reproject_exact")  # before any pixel work
    # no round trip: the overlap of a pixel whose corners map is well defined
    params = dict(conserve="flux" if flux else "surface-brightness", subdivisions=subdivisions, roundtrip_coords=False)
    resampler = ExactResampler(**params)
    if job.planes:  # a cube: one set of overlap pieces per output pixel, every plane summed with it
        tr, box = plan_single(resampler, plane_job(job), roundtrip_coords=False)
        if return_type == "dask":
            return lazy_cube(resampler, job.data, tr, box, job.shape_full, job.dtype, return_footprint, block_size)
        run_cube(resampler, job, out, fp, executor_for(threads=nthreads, client=client), tr, box)
        return return_result(out, fp, return_footprint, job)
    tr, box = plan_single(resampler, job, roundtrip_coords=False)
    if return_type == "dask":
        return lazy_single(resampler, job.data, tr, box, job.shape_out, job.dtype, return_footprint, block_size, job.shape_full)
    run_single(resampler, job.data, tr, box, out, fp, executor_for(threads=nthreads, client=client))
    if variance is not None:  # the propagated variance (kernels._single_variance)
        # (the variance kernels evaluate the general chain: XPH and quad cubes on a control grid)
        gtr = tr if box is None else general_transform(tr, box, job.data.shape)
        var = single_variance("exact", resampler, job.data, gtr, box, job.shape_out, variance, out.dtype)
        return with_variance(return_result(out, fp, return_footprint, job), var)
    return return_result(out, fp, return_footprint, job)
