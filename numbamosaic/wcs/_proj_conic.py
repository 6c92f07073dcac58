"""Conic projections (COP, COE, COD, COO; C&G Sect. 5.4): plane <-> native unit vector.

Derived constants in PV slots 21.. come from :func:`~numbamosaic.wcs._parameters.derived_parameters`.
"""

import math

from ..kernels._jit import kernel
from ._proj_base import (
    _D,
    COD,
    COE,
    COP,
    D2R,
    NAN,
    POLE_EPS,
    R2D,
    TOL,
    _check_phi,
    _vec_from_angles,
    _vec_from_phi_sintheta,
)


@kernel
def _conic_polar(p, pv, X, Y):
    """Polar coordinates (R, alpha) about the apex, R signed like C (wcslib)."""
    C = p[pv + _D]
    dy = p[pv + _D + 1] - Y
    r = math.sqrt(X * X + dy * dy)
    if C < 0.0:
        r = -r
    if r == 0.0:
        return 0.0, 0.0
    return r, math.atan2(X / r, dy / r) * R2D


@kernel
def _conic_x2s(code, p, pv, X, Y):
    C = p[pv + _D]
    r, alpha = _conic_polar(p, pv, X, Y)
    phi = _check_phi(alpha / C)
    if phi != phi:
        return NAN, NAN, NAN
    if code == COP:  # C&G Sect. 5.4.1
        theta = p[pv + 1] + math.atan(p[pv + _D + 3] - r / p[pv + _D + 2]) * R2D
        return _vec_from_angles(phi, theta)
    elif code == COE:  # C&G Sect. 5.4.2
        q = r / p[pv + _D + 2]
        st = (p[pv + _D + 3] - q * q) / p[pv + _D + 4]
        if abs(st) > 1.0 + TOL:
            return NAN, NAN, NAN
        return _vec_from_phi_sintheta(phi, st)
    elif code == COD:  # C&G Sect. 5.4.3
        theta = p[pv + _D + 2] - r
        if abs(theta) > 90.0:
            if abs(theta) > 90.0 + TOL:
                return NAN, NAN, NAN
            theta = math.copysign(90.0, theta)
        return _vec_from_angles(phi, theta)
    else:  # COO (C&G Sect. 5.4.4): tan((90 - theta)/2) = (R / psi)^(1/C)
        if r == 0.0:
            if C < 0.0:
                return 0.0, 0.0, -1.0
            return 0.0, 0.0, 1.0
        tau = (r / p[pv + _D + 2]) ** (1.0 / C)
        if tau != tau:
            return NAN, NAN, NAN
        if tau > 1e300:
            return 0.0, 0.0, -1.0
        d = 1.0 + tau * tau
        ct = 2.0 * tau / d
        return ct * math.cos(phi * D2R), ct * math.sin(phi * D2R), (1.0 - tau) * (1.0 + tau) / d


@kernel
def _conic_s2x(code, p, pv, vx, vy, vz):
    C = p[pv + _D]
    rho = math.sqrt(vx * vx + vy * vy)
    phi = math.atan2(vy, vx) * R2D
    if code == COP:  # C&G Sect. 5.4.1
        if rho < POLE_EPS:
            # both poles map to the apex; wcslib accepts only the one on the
            # side of theta_a (the other is the limit of the invalid region)
            if (vz < 0.0) != (p[pv + 1] < 0.0):
                return NAN, NAN
            return 0.0, p[pv + _D + 1]
        theta = math.atan2(vz, rho) * R2D
        t = (theta - p[pv + 1]) * D2R
        c = math.cos(t)
        if c == 0.0:
            return NAN, NAN
        r = p[pv + _D + 1] - p[pv + _D + 2] * math.sin(t) / c
        if r * C < 0.0:  # beyond the apex
            return NAN, NAN
    elif code == COE:  # C&G Sect. 5.4.2
        q = p[pv + _D + 3] - p[pv + _D + 4] * vz
        if q < 0.0:
            q = 0.0
        r = p[pv + _D + 2] * math.sqrt(q)
    elif code == COD:  # C&G Sect. 5.4.3
        r = p[pv + _D + 2] - math.atan2(vz, rho) * R2D
    else:  # COO (C&G Sect. 5.4.4)
        if vz >= 0.0:
            tau = rho / (1.0 + vz)  # tan((90 - theta)/2)
        else:
            tau = (1.0 - vz) / rho if rho > 0.0 else math.inf
        if tau == math.inf:  # theta = -90
            if C >= 0.0:
                return NAN, NAN
            r = 0.0
        elif tau == 0.0:  # theta = +90
            if C < 0.0:
                return NAN, NAN
            r = 0.0
        else:
            r = p[pv + _D + 2] * tau**C
            if not math.isfinite(r):
                return NAN, NAN
    a = C * phi * D2R
    return r * math.sin(a), p[pv + _D + 1] - r * math.cos(a)
