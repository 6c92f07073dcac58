"""Bonne's equal-area projection (BON; C&G 2002, section 5.5.1): plane <-> native unit vector.

A pseudoconic projection: parallels are concentric circular arcs about the
apex ``(0, Y0)``, ``R_theta = Y0 - theta`` (degrees) with
``Y0 = r0 cot(theta_1) + theta_1`` (:func:`~numbamosaic.wcs._parameters.derived_parameters`,
PV slot 30), and each parallel keeps its true length:

    x = R_theta sin(A),  y = -R_theta cos(A) + Y0,  A = phi cos(theta) / R_theta

(``A`` in radians for ``phi`` and ``R_theta`` in degrees).  ``theta_1`` is
PV2_1; BON with ``theta_1 = 0`` is Sanson-Flamsteed (SFL), which is how wcslib
evaluates it and how ``describe_wcs`` describes it.  ``R_theta`` carries the
sign of ``theta_1`` (the apex lies south of the equator for ``theta_1 < 0``).

References
----------
Calabretta, M. R. & Greisen, E. W. 2002, A&A 395, 1077, section 5.5.1.
"""

import math

from ..kernels._jit import kernel
from ._proj_base import _D, D2R, NAN, TOL, _angles_from_vec, _check_phi, _vec_from_angles


@kernel
def _bon_x2s(p, pv, X, Y):
    """BON plane ``(X, Y)`` (degrees) -> native unit vector (NaN outside the projection's domain)."""
    t1 = p[pv + 1]
    y0 = p[pv + _D]
    dy = y0 - Y
    r = math.sqrt(X * X + dy * dy)
    if t1 < 0.0:
        r = -r
    theta = y0 - r
    if abs(theta) > 90.0:
        if abs(theta) > 90.0 + TOL:
            return NAN, NAN, NAN
        theta = math.copysign(90.0, theta)
    ct = math.cos(theta * D2R)
    if r == 0.0 or ct < 1e-15:  # the apex, or a pole: one point
        phi = 0.0
    else:
        phi = _check_phi(math.atan2(X / r, dy / r) * r / ct)
        if phi != phi:
            return NAN, NAN, NAN
    return _vec_from_angles(phi, theta)


@kernel
def _bon_s2x(p, pv, vx, vy, vz):
    """Native unit vector -> BON plane ``(X, Y)`` in degrees; see :func:`_bon_x2s`."""
    y0 = p[pv + _D]
    phi, theta = _angles_from_vec(vx, vy, vz)
    r = y0 - theta
    if r == 0.0:
        return 0.0, y0
    a = phi * math.cos(theta * D2R) / r
    return r * math.sin(a), y0 - r * math.cos(a)

