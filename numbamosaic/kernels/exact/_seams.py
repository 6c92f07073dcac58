"""Sub-cells torn by a projection seam or cut by a domain boundary: refined instead of dropped.

A sub-cell whose corners land on both sides of a seam of the input
projection (the longitude seam of a non-cylindrical all-sky projection such
as AIT at l = 180, the facet edges of HPX) maps to a folded or huge
quadrilateral; one with a corner outside the projection's domain has no
outline at all.  The row loop (:mod:`._rows`) used to drop such sub-cells,
losing their share of the output pixel.  :func:`refine` splits the sub-cell
into ``SEAM_SPLIT x SEAM_SPLIT`` straight mini-cells (their corners
evaluated with :func:`~numbamosaic.wcs._native.out_to_in`, each nudged by
``NUDGE`` of the mini-cell's side towards its centre, so that a corner lying
exactly on the seam, e.g. an output pixel edge at l = 180, maps to the side
of the mini-cell it belongs to), keeps those that pass the same checks
(orientation, tear) and splits each failing one once more; only the
mini-cells of the second level that the seam itself crosses are lost (a
fraction ``~ 1 / SEAM_SPLIT^2`` of the sub-cell's side along the seam).
The refinement runs only where a sub-cell fails, and only when one of its
corners lies on the input image, so it costs nothing elsewhere.
See :mod:`numbamosaic.kernels.exact`.
"""

import math

from .._jit import kernel
from ._measure import area_factor, map_point  # the WCS engine's, through _measure
from ._polygon import S_QUAD, _quad_moments, diagonal_gradient
from ._record import record_group
from ._sweep import _clip_cell

#: mini-cells per side of a refined sub-cell (at each of the two levels)
SEAM_SPLIT = 8
#: corners are moved this fraction of the mini-cell side towards its centre
NUDGE = 1e-7
#: mini-cells spanning more input pixels than this get their centre checked
TEAR_EXTENT = 8.0


@kernel
def _on_image(nx, ny, X0, Y0, X1, Y1, X2, Y2, X3, Y3):
    """True if one of the four (possibly NaN) corners lies on the input image (one pixel of margin)."""
    # non-short-circuit & and |: straight-line code (the per-corner loop of ternaries and
    # early returns compiled to ~10x the code); comparisons with NaN are False
    xa = -1.5
    xb = nx + 0.5
    yb = ny + 0.5
    return (((X0 > xa) & (X0 < xb) & (Y0 > xa) & (Y0 < yb)) | ((X1 > xa) & (X1 < xb) & (Y1 > xa) & (Y1 < yb))
            | ((X2 > xa) & (X2 < xb) & (Y2 > xa) & (Y2 < yb)) | ((X3 > xa) & (X3 < xb) & (Y3 > xa) & (Y3 < yb)))


@kernel
def _mini(data, wdata, flux, tr, grid, jac, orient, P, B, E, xa, ya, g, rec, quad, hom):
    """One straight mini-cell ``[xa, xa + g] x [ya, ya + g]`` (output pixel
    coordinates).  Returns ``(state, W, V, SV, SW)``: ``state`` 0 when it was
    integrated (``W`` its solid angle, ``V, SV, SW`` as :func:`_clip_cell`),
    1 when it fails the checks but touches the image (worth splitting), 2
    when it is off the image or degenerate."""
    d = NUDGE * g
    X0, Y0 = map_point(hom, tr, grid, xa + d, ya + d)
    X1, Y1 = map_point(hom, tr, grid, xa + g - d, ya + d)
    X2, Y2 = map_point(hom, tr, grid, xa + g - d, ya + g - d)
    X3, Y3 = map_point(hom, tr, grid, xa + d, ya + g - d)
    nyi, nxi = data.shape
    if not _on_image(nxi, nyi, X0, Y0, X1, Y1, X2, Y2, X3, Y3):
        return 2, 0.0, 0.0, 0.0, 0.0
    if not (X0 == X0 and X1 == X1 and X2 == X2 and X3 == X3 and Y0 == Y0 and Y1 == Y1 and Y2 == Y2 and Y3 == Y3):
        return 1, 0.0, 0.0, 0.0, 0.0
    gx = math.floor(0.25 * (X0 + X1 + X2 + X3))
    gy = math.floor(0.25 * (Y0 + Y1 + Y2 + Y3))
    P[S_QUAD, 0, 0] = X0 - gx
    P[S_QUAD, 0, 1] = X1 - gx
    P[S_QUAD, 0, 2] = X2 - gx
    P[S_QUAD, 0, 3] = X3 - gx
    P[S_QUAD, 1, 0] = Y0 - gy
    P[S_QUAD, 1, 1] = Y1 - gy
    P[S_QUAD, 1, 2] = Y2 - gy
    P[S_QUAD, 1, 3] = Y3 - gy
    xm = 0.25 * (P[S_QUAD, 0, 0] + P[S_QUAD, 0, 1] + P[S_QUAD, 0, 2] + P[S_QUAD, 0, 3])
    ym = 0.25 * (P[S_QUAD, 1, 0] + P[S_QUAD, 1, 1] + P[S_QUAD, 1, 2] + P[S_QUAD, 1, 3])
    A, Mx, My = _quad_moments(P[S_QUAD, 0, 0] - xm, P[S_QUAD, 1, 0] - ym, P[S_QUAD, 0, 1] - xm, P[S_QUAD, 1, 1] - ym,
                              P[S_QUAD, 0, 2] - xm, P[S_QUAD, 1, 2] - ym, P[S_QUAD, 0, 3] - xm, P[S_QUAD, 1, 3] - ym)
    if A == 0.0:
        return 2, 0.0, 0.0, 0.0, 0.0
    sgn = 1.0 if A > 0.0 else -1.0
    if orient != 0.0 and sgn != orient:
        return 1, 0.0, 0.0, 0.0, 0.0
    ext = max(max(X0, X1), max(X2, X3)) - min(min(X0, X1), min(X2, X3))
    ext = max(ext, max(max(Y0, Y1), max(Y2, Y3)) - min(min(Y0, Y1), min(Y2, Y3)))
    if ext > TEAR_EXTENT:
        mxo, myo = map_point(hom, tr, grid, xa + 0.5 * g, ya + 0.5 * g)
        if mxo != mxo or math.hypot(mxo - gx - xm, myo - gy - ym) > 0.1 * ext + 1.0:
            return 1, 0.0, 0.0, 0.0, 0.0
    # linear solid-angle model as in the row loop: corners' mean, diagonal gradient
    j0 = 1.0
    jx = 0.0
    jy = 0.0
    if jac:
        J0 = area_factor(hom, tr, X0, Y0)
        J1 = area_factor(hom, tr, X1, Y1)
        J2 = area_factor(hom, tr, X2, Y2)
        J3 = area_factor(hom, tr, X3, Y3)
        if not (J0 == J0 and J1 == J1 and J2 == J2 and J3 == J3):
            return 1, 0.0, 0.0, 0.0, 0.0
        j0 = 0.25 * (J0 + J1 + J2 + J3)
        jx, jy = diagonal_gradient(X0, Y0, X1, Y1, X2, Y2, X3, Y3, J0, J1, J2, J3)
    wq = sgn * (A * j0 + jx * Mx + jy * My)
    dv, dsv, dsw = _clip_cell(data, wdata, flux, P, B, 4, gx, gy, xm, ym, j0, jx, jy, 0.0, 0.0, 0.0, sgn, wq, False, E, rec, quad, 0)
    record_group(rec)
    return 0, wq, dv, dsv, dsw


@kernel
def refine(data, wdata, flux, tr, grid, jac, orient, P, B, E, xa, ya, h, rec, quad, hom):
    """Integrate the failed sub-cell ``[xa, xa + h] x [ya, ya + h]`` (output
    pixel coordinates) as ``SEAM_SPLIT^2`` mini-cells, each failing one split
    once more (see the module docstring).  Returns ``(W, V, SV, SW)`` to add
    to the output pixel's sums; each mini-cell's pieces also go to ``rec``
    as a group (:mod:`._record`, cubes).  ``hom``: the homography literal
    (``wcs._native.map_point``, :func:`._measure.area_factor`); ``quad``: the
    quadratic model's (:mod:`._quadratic`), passed on so that a call compiles
    one variant of the clipping code (mini-cells use the linear model)."""
    W = 0.0
    V = 0.0
    SV = 0.0
    SW = 0.0
    n = SEAM_SPLIT
    g = h / n
    g2 = g / n
    for i in range(n):
        for j in range(n):
            xb = xa + j * g
            yb = ya + i * g
            st, w, v, sv, sw = _mini(data, wdata, flux, tr, grid, jac, orient, P, B, E, xb, yb, g, rec, quad, hom)
            if st == 1:
                for i2 in range(n):
                    for j2 in range(n):
                        st, w, v, sv, sw = _mini(data, wdata, flux, tr, grid, jac, orient, P, B, E, xb + j2 * g2, yb + i2 * g2, g2, rec, quad, hom)
                        if st == 0:
                            W += w
                            V += v
                            SV += sv
                            SW += sw
            elif st == 0:
                W += w
                V += v
                SV += sv
                SW += sw
    return W, V, SV, SW
