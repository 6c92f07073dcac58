"""HEALPix projection (HPX; Calabretta & Roukema 2007): plane <-> native unit vector.

Derived constants in PV slots 21.. come from :func:`~numbamosaic.wcs._parameters.derived_parameters`.
"""

import math

from ..kernels._jit import kernel
from ._proj_base import _D, NAN, R2D, TOL, _check_phi, _vec_from_phi_sintheta


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
