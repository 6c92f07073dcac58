"""FITS celestial projections evaluated in Numba.

Each projection maps between the *projection plane* ``(X, Y)`` (intermediate
world coordinates, degrees) and the *native sphere*, represented here by the
native unit vector

    v = (cos(theta) cos(phi), cos(theta) sin(phi), sin(theta)).

Working with unit vectors rather than angles lets zenithal projections avoid
most trigonometry (TAN, SIN, STG and ZEA need only a square root) and lets the
spherical rotations and frame changes be fused into one 3x3 matrix.

Formulas follow Calabretta & Greisen (2002), "Representations of celestial
coordinates in FITS", A&A 395, 1077 (hereafter C&G), sections 5.1-5.6, with
the sign conventions of wcslib: for zenithal projections
``x = R sin(phi)``, ``y = -R cos(phi)``.

Points outside a projection's domain give NaN, never garbage.
"""

import math

from numba import njit

from ._layout import W_PV

R2D = 180.0 / math.pi
D2R = math.pi / 180.0
NAN = math.nan


@njit(nogil=True, cache=True)
def _vec_from_angles(phi, theta):
    """Native unit vector from native (phi, theta) in degrees."""
    ct = math.cos(theta * D2R)
    return ct * math.cos(phi * D2R), ct * math.sin(phi * D2R), math.sin(theta * D2R)


@njit(nogil=True, cache=True)
def _angles_from_vec(vx, vy, vz):
    """Native (phi, theta) in degrees from a unit vector."""
    rho = math.sqrt(vx * vx + vy * vy)
    return math.atan2(vy, vx) * R2D, math.atan2(vz, rho) * R2D


@njit(nogil=True, cache=True)
def _zenithal_vec(R_over_r0_colat, X, Y, R):
    """Unit vector for a zenithal projection from the colatitude (radians)."""
    s = math.sin(R_over_r0_colat)
    if R == 0.0:
        return 0.0, 0.0, 1.0
    return -s * Y / R, s * X / R, math.cos(R_over_r0_colat)


@njit(nogil=True, cache=True)
def plane_to_native(code, p, o, X, Y):
    """Deproject ``(X, Y)`` (degrees) to a native unit vector.

    Parameters
    ----------
    code : int
        Projection code (see ``_layout.PROJ_CODES``).
    p : ndarray of float64
        Flat parameter array; projection parameters start at ``o + W_PV``.
    o : int
        Offset of the WCS vector inside ``p``.
    X, Y : float
        Projection-plane coordinates in degrees.

    Returns
    -------
    vx, vy, vz : float
        Native unit vector, NaN outside the projection's domain.
    """
    pv = o + W_PV
    if code == 1:  # TAN (C&G eq. 54)
        nx = -Y
        ny = X
        nz = R2D
        n = math.sqrt(nx * nx + ny * ny + nz * nz)
        return nx / n, ny / n, nz / n
    elif code == 2:  # SIN with optional slant (xi, eta) = (PV2_1, PV2_2)
        xi = p[pv + 1]
        eta = p[pv + 2]
        x = X * D2R
        y = Y * D2R
        if xi == 0.0 and eta == 0.0:
            r2 = x * x + y * y
            if r2 > 1.0:
                if r2 > 1.0 + 1e-13:
                    return NAN, NAN, NAN
                r2 = 1.0
            return -y, x, math.sqrt(1.0 - r2)
        # solve (1+xi^2+eta^2) t^2 - 2 (1 + xi x + eta y) t + (x^2+y^2) = 0, t = 1 - vz
        a = 1.0 + xi * xi + eta * eta
        b = 1.0 + xi * x + eta * y
        c = x * x + y * y
        disc = b * b - a * c
        if disc < 0.0:
            return NAN, NAN, NAN
        t = c / (b + math.sqrt(disc))
        vz = 1.0 - t
        return eta * t - y, x - xi * t, vz
    elif code == 3:  # ARC (C&G eq. 60)
        R = math.sqrt(X * X + Y * Y)
        if R > 180.0:
            return NAN, NAN, NAN
        return _zenithal_vec(R * D2R, X, Y, R)
    elif code == 4:  # ZEA (C&G eq. 69)
        x = X * D2R
        y = Y * D2R
        q = x * x + y * y
        if q > 4.0:
            if q > 4.0 + 1e-12:
                return NAN, NAN, NAN
            q = 4.0
        f = math.sqrt(1.0 - 0.25 * q)
        return -y * f, x * f, 1.0 - 0.5 * q
    elif code == 5:  # STG (C&G eq. 58)
        x = 0.5 * X * D2R
        y = 0.5 * Y * D2R
        s = x * x + y * y
        d = 1.0 + s
        return -2.0 * y / d, 2.0 * x / d, (1.0 - s) / d
    elif code == 101:  # CAR (C&G eq. 84)
        if abs(Y) > 90.0:
            return NAN, NAN, NAN
        return _vec_from_angles(X, Y)
    elif code == 102:  # CEA (C&G eq. 80), lambda = PV2_1
        lam = p[pv + 1]
        s = lam * Y * D2R
        if abs(s) > 1.0:
            if abs(s) > 1.0 + 1e-13:
                return NAN, NAN, NAN
            s = 1.0 if s > 0 else -1.0
        return _vec_from_angles(X, math.asin(s) * R2D)
    elif code == 103:  # MER (C&G eq. 87)
        theta = 2.0 * math.atan(math.exp(Y * D2R)) * R2D - 90.0
        return _vec_from_angles(X, theta)
    elif code == 105:  # SFL (C&G eq. 90)
        if abs(Y) > 90.0:
            return NAN, NAN, NAN
        ct = math.cos(Y * D2R)
        if ct == 0.0:
            if X != 0.0:
                return NAN, NAN, NAN
            return _vec_from_angles(0.0, Y)
        phi = X / ct
        if abs(phi) > 180.0 + 1e-10:
            return NAN, NAN, NAN
        return _vec_from_angles(phi, Y)
    elif code == 108:  # AIT (C&G eq. 101)
        x = X * D2R
        y = Y * D2R
        z2 = 1.0 - x * x / 16.0 - y * y / 4.0
        if z2 < 0.5:
            if z2 < 0.5 - 1e-13:
                return NAN, NAN, NAN
            z2 = 0.5
        z = math.sqrt(z2)
        s = z * y
        if abs(s) > 1.0:
            s = 1.0 if s > 0 else -1.0
        phi = 2.0 * math.atan2(0.5 * z * x, 2.0 * z2 - 1.0) * R2D
        return _vec_from_angles(phi, math.asin(s) * R2D)
    return NAN, NAN, NAN


@njit(nogil=True, cache=True)
def native_to_plane(code, p, o, vx, vy, vz):
    """Project a native unit vector to ``(X, Y)`` in degrees (NaN if invalid).

    Parameters are as for :func:`plane_to_native`.
    """
    pv = o + W_PV
    if code == 1:  # TAN: only the hemisphere in front of the plane
        if vz <= 0.0:
            return NAN, NAN
        return R2D * vy / vz, -R2D * vx / vz
    elif code == 2:  # SIN
        xi = p[pv + 1]
        eta = p[pv + 2]
        if xi == 0.0 and eta == 0.0:
            if vz < 0.0:
                return NAN, NAN
            return R2D * vy, -R2D * vx
        t = 1.0 - vz
        # wcslib's bound for the slant case: theta >= -atan(xi sin(phi) - eta cos(phi))
        rho = math.sqrt(vx * vx + vy * vy)
        if rho > 0.0:
            lim = -math.atan((xi * vy - eta * vx) / rho)
            if math.atan2(vz, rho) < lim - 1e-13:
                return NAN, NAN
        return R2D * (vy + xi * t), -R2D * (vx - eta * t)
    elif code == 3:  # ARC
        rho = math.sqrt(vx * vx + vy * vy)
        if rho == 0.0:
            if vz > 0:
                return 0.0, 0.0
            return NAN, NAN
        R = math.atan2(rho, vz) * R2D
        return R * vy / rho, -R * vx / rho
    elif code == 4:  # ZEA
        d = 1.0 + vz
        if d <= 0.0:
            return NAN, NAN
        f = R2D * math.sqrt(2.0 / d)
        return f * vy, -f * vx
    elif code == 5:  # STG
        d = 1.0 + vz
        if d <= 0.0:
            return NAN, NAN
        f = 2.0 * R2D / d
        return f * vy, -f * vx
    elif code == 101:  # CAR
        phi, theta = _angles_from_vec(vx, vy, vz)
        return phi, theta
    elif code == 102:  # CEA
        lam = p[pv + 1]
        phi = math.atan2(vy, vx) * R2D
        return phi, R2D * vz / lam
    elif code == 103:  # MER
        phi, theta = _angles_from_vec(vx, vy, vz)
        if abs(theta) >= 90.0:
            return NAN, NAN
        return phi, R2D * math.log(math.tan((90.0 + theta) * 0.5 * D2R))
    elif code == 105:  # SFL
        phi, theta = _angles_from_vec(vx, vy, vz)
        return phi * math.cos(theta * D2R), theta
    elif code == 108:  # AIT
        phi, theta = _angles_from_vec(vx, vy, vz)
        ct = math.cos(theta * D2R)
        hp = 0.5 * phi * D2R
        g = R2D * math.sqrt(2.0 / (1.0 + ct * math.cos(hp)))
        return 2.0 * g * ct * math.sin(hp), g * math.sin(theta * D2R)
    return NAN, NAN


#: projections implemented natively in this module (by FITS code)
NATIVE_PROJECTIONS = frozenset(["TAN", "SIN", "ARC", "ZEA", "STG", "CAR", "CEA", "MER", "SFL", "GLS", "AIT"])


def derived_parameters(code_name, pv):
    """Fill derived projection constants into ``pv`` (length 32) in place.

    ``pv[m]`` holds ``PVlat_m`` for m = 0..20 on entry (with FITS defaults
    applied).  Slots 21..31 are free for constants precomputed once per WCS.
    """
    return pv


def native_reference(code_name, pv):
    """Native fiducial point ``(phi_0, theta_0)`` in degrees (C&G table 13)."""
    code = {"GLS": "SFL"}.get(code_name, code_name)
    if code in ("TAN", "SIN", "ARC", "ZEA", "STG", "AZP", "SZP", "ZPN", "AIR"):
        return 0.0, 90.0
    if code in ("COP", "COE", "COD", "COO"):
        return 0.0, float(pv[1])
    return 0.0, 0.0


def default_pv(code_name):
    """FITS default PVlat_m values for a projection (length-21 list)."""
    pv = [0.0] * 21
    if code_name == "CEA":
        pv[1] = 1.0
    return pv
