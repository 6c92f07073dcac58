"""HEALPix projections: HPX (Calabretta & Roukema 2007) and XPH (Calabretta & Lowe 2013): plane <-> native unit vector.

Derived constants of HPX in PV slots 21.. come from
:func:`~numbamosaic.wcs._parameters.derived_parameters`; XPH has no parameters.

References
----------
Calabretta, M. R. & Roukema, B. F. 2007, MNRAS 381, 865 (HPX).
Calabretta, M. R. & Lowe, S. R. 2013, PASA 30, e050 (XPH, the polar
    "butterfly" form of HEALPix).
"""

import math

from ..kernels._jit import inline_kernel, kernel
from ._proj_base import _D, NAN, R2D, TOL, _check_phi, _vec_from_phi_sintheta

SQRT1_2 = math.sqrt(0.5)


@kernel
def _hpx_centre(p, pv, x, north):
    """Longitude of the centre of the polar facet containing longitude ``x``."""
    H = p[pv + 1]
    w = 180.0 / H
    if p[pv + _D] != 0.0 or north:  # K odd, or northern hemisphere
        k = math.floor((x + 180.0) / (2.0 * w))
        if k > H - 1.0:
            k = H - 1.0
        if k < 0.0:
            k = 0.0
        return -180.0 + (2.0 * k + 1.0) * w
    k = math.floor((x + 180.0) / (2.0 * w) + 0.5)
    return -180.0 + 2.0 * k * w


@kernel
def _hpx_x2s(p, pv, X, Y):
    H = p[pv + 1]
    K = p[pv + 2]
    w = 180.0 / H
    ay = abs(Y)
    yeq = 90.0 * (K - 1.0) / H
    if ay <= yeq:  # equatorial zone
        phi = _check_phi(X)
        if phi != phi:
            return NAN, NAN, NAN
        return _vec_from_phi_sintheta(phi, Y * H / (90.0 * K))
    if ay > 90.0 * (K + 1.0) / H + TOL:
        return NAN, NAN, NAN
    sigma = 0.5 * (K + 1.0) - ay / w
    if sigma < 0.0:
        sigma = 0.0
    st = 1.0 - sigma * sigma / K
    if st < -1.0:
        return NAN, NAN, NAN
    xc = _hpx_centre(p, pv, X, Y > 0.0)
    dx = X - xc
    if sigma == 0.0:
        if abs(dx) > 1e-12:
            return NAN, NAN, NAN
        dphi = 0.0
    else:
        dphi = dx / sigma
        if abs(dphi) > w + 1e-12:  # between the polar triangles
            return NAN, NAN, NAN
    phi = _check_phi(xc + dphi)
    if phi != phi:
        return NAN, NAN, NAN
    return _vec_from_phi_sintheta(phi, math.copysign(st, Y))


@kernel
def _hpx_s2x(p, pv, vx, vy, vz):
    H = p[pv + 1]
    K = p[pv + 2]
    phi = math.atan2(vy, vx) * R2D
    az = abs(vz)
    if az <= (K - 1.0) / K:
        return phi, 90.0 * K / H * vz
    rho2 = vx * vx + vy * vy
    sigma = math.sqrt(K * rho2 / (1.0 + az))  # sqrt(K (1 - |sin theta|))
    xc = _hpx_centre(p, pv, phi, vz > 0.0)
    y = 180.0 / H * (0.5 * (K + 1.0) - sigma)
    return xc + (phi - xc) * sigma, math.copysign(y, vz)


# --------------------------------------------------------------------------
# XPH: the polar ("butterfly") HEALPix projection
# --------------------------------------------------------------------------
#
# XPH (Calabretta & Lowe 2013) takes HPX with H = 4, K = 3 and
# cuts it into the four columns of native longitude [-180, -90], ..., [90,
# 180], each made of a north polar triangle, an equatorial square and a south
# polar triangle.  In a column centred on longitude phi_c, a point has the
# HPX offsets ``d`` (distance from the north pole along the column, 0..180
# degrees) and ``a`` (across it, -45..45):
#
# * north polar zone (sin theta > 2/3): sigma = sqrt(3 (1 - sin theta)),
#   d = 45 sigma, a = (phi - phi_c) sigma;
# * equatorial zone: d = 90 - 67.5 sin theta, a = phi - phi_c;
# * south polar zone: d = 180 - 45 sigma, a = (phi - phi_c) sigma.
#
# The columns are turned about the north pole, which is the plane origin
# (the fiducial point is (phi_0, theta_0) = (0, 90)), so that each runs
# along a diagonal of the plane: column phi_c = 45 along (1, -1), 135 along
# (1, 1), -135 along (-1, 1) and -45 along (-1, -1); ``a`` grows
# anticlockwise.  The meridians phi = 0, +-90, 180 of the polar cap lie on
# the plane axes, so a plane point's quadrant is its column.


@inline_kernel
def _xph_column(phi):
    """Column of a native longitude: ``(phi_c, c, s)``, the column's direction being ``(c, s) / sqrt(2)``."""
    if phi < -90.0:
        return -135.0, -1.0, 1.0
    if phi < 0.0:
        return -45.0, -1.0, -1.0
    if phi < 90.0:
        return 45.0, 1.0, -1.0
    return 135.0, 1.0, 1.0


@kernel
def _xph_x2s(X, Y):
    """XPH plane ``(X, Y)`` (degrees) -> native unit vector (NaN in the blank parts of the plane)."""
    if X >= 0.0:
        c = 1.0
        phic = 135.0 if Y >= 0.0 else 45.0
    else:
        c = -1.0
        phic = -135.0 if Y >= 0.0 else -45.0
    s = 1.0 if Y >= 0.0 else -1.0
    d = (c * X + s * Y) * SQRT1_2
    a = (c * Y - s * X) * SQRT1_2
    if d <= 45.0:  # north polar triangle: |a| <= d by the choice of quadrant
        if d == 0.0:
            return 0.0, 0.0, 1.0
        sigma = d / 45.0
        dphi = 45.0 * a / d
        if abs(dphi) > 45.0:
            dphi = math.copysign(45.0, dphi)
        t = sigma * sigma / 3.0  # 1 - sin(theta)
        ct = math.sqrt(t * (2.0 - t))
        phi = (phic + dphi) / R2D
        return ct * math.cos(phi), ct * math.sin(phi), 1.0 - t
    if d <= 135.0:  # equatorial square
        if abs(a) > 45.0:
            if abs(a) > 45.0 + 1e-12:
                return NAN, NAN, NAN
            a = math.copysign(45.0, a)
        return _vec_from_phi_sintheta(phic + a, (90.0 - d) / 67.5)
    if d > 180.0 + 1e-12:
        return NAN, NAN, NAN
    sigma = (180.0 - d) / 45.0  # south polar triangle
    if sigma < 0.0:
        sigma = 0.0
    if abs(a) > 45.0 * sigma:
        if abs(a) > 45.0 * sigma + 1e-12:
            return NAN, NAN, NAN
        a = math.copysign(45.0 * sigma, a)
    dphi = a / sigma if sigma > 0.0 else 0.0
    t = sigma * sigma / 3.0  # 1 + sin(theta)
    ct = math.sqrt(t * (2.0 - t))
    phi = (phic + dphi) / R2D
    return ct * math.cos(phi), ct * math.sin(phi), t - 1.0


@kernel
def _xph_s2x(vx, vy, vz):
    """Native unit vector -> XPH plane ``(X, Y)`` in degrees; see :func:`_xph_x2s`."""
    phi = math.atan2(vy, vx) * R2D
    phic, c, s = _xph_column(phi)
    az = abs(vz)
    if az <= 2.0 / 3.0:
        d = 90.0 - 67.5 * vz
        a = phi - phic
    else:
        rho2 = vx * vx + vy * vy
        sigma = math.sqrt(3.0 * rho2 / (1.0 + az))  # sqrt(3 (1 - |sin theta|))
        a = (phi - phic) * sigma
        d = 45.0 * sigma if vz > 0.0 else 180.0 - 45.0 * sigma
    return (c * d - s * a) * SQRT1_2, (s * d + c * a) * SQRT1_2
