"""FITS celestial projections evaluated in Numba.

Each projection maps between the *projection plane* ``(X, Y)`` (intermediate
world coordinates, degrees) and the *native sphere*, represented here by the
native unit vector

    v = (cos(theta) cos(phi), cos(theta) sin(phi), sin(theta)).

Working with unit vectors rather than angles lets zenithal projections avoid
most trigonometry (TAN, SIN, STG and ZEA need only a square root) and lets the
spherical rotations and frame changes be fused into one 3x3 matrix.

Formulas follow Calabretta & Greisen (2002), "Representations of celestial
coordinates in FITS", A&A 395, 1077 (hereafter C&G), section 5, with the sign
conventions of wcslib: for zenithal projections ``x = R sin(phi)``,
``y = -R cos(phi)``; conics ``x = R sin(C phi)``, ``y = -R cos(C phi) + Y0``
with ``Y0 = R(theta_a)`` so the fiducial point is at the origin.  HEALPix
follows Calabretta & Roukema (2007), MNRAS 381, 865.

Points outside a projection's domain give NaN, never garbage.  The domain
follows wcslib's strict bounds checking as exposed by astropy:

* plane -> sphere: points with no solution, and (like wcslib's final check)
  native longitudes outside [-180, 180] or latitudes outside [-90, 90]
  beyond a 1e-13 degree tolerance, are invalid;
* sphere -> plane: the "bounds & 1" checks of wcslib (far hemisphere for
  TAN/SIN, overlap and divergence for AZP/SZP, beyond the point of
  inflection for ZPN, the wrong side of the apex for COP, ...).

Derived constants (computed once per WCS by :func:`derived_parameters`) live
in PV slots 21..31; their meaning per projection is documented there.
"""

import math

import numpy as np

from ..kernels._jit import kernel
from ._layout import W_PV

R2D = 180.0 / math.pi
D2R = math.pi / 180.0
NAN = math.nan
TOL = 1e-13  # wcslib's tolerance on bounds (degrees or radians, as there)
POLE_EPS = 1e-15  # native vectors this close (radians) to a pole are on it
SQRT2 = math.sqrt(2.0)

# derived-constant slots (relative to the PV block)
_D = 21


@kernel
def _vec_from_angles(phi, theta):
    """Native unit vector from native (phi, theta) in degrees."""
    ct = math.cos(theta * D2R)
    return ct * math.cos(phi * D2R), ct * math.sin(phi * D2R), math.sin(theta * D2R)


@kernel
def _angles_from_vec(vx, vy, vz):
    """Native (phi, theta) in degrees from a unit vector."""
    rho = math.sqrt(vx * vx + vy * vy)
    return math.atan2(vy, vx) * R2D, math.atan2(vz, rho) * R2D


@kernel
def _zenithal_vec(R_over_r0_colat, X, Y, R):
    """Unit vector for a zenithal projection from the colatitude (radians)."""
    s = math.sin(R_over_r0_colat)
    if R == 0.0:
        return 0.0, 0.0, 1.0
    return -s * Y / R, s * X / R, math.cos(R_over_r0_colat)


@kernel
def _vec_from_phi_sintheta(phi, st):
    """Unit vector from phi (degrees) and sin(theta) (clamped to [-1, 1])."""
    if st > 1.0:
        st = 1.0
    elif st < -1.0:
        st = -1.0
    ct = math.sqrt((1.0 - st) * (1.0 + st))
    return ct * math.cos(phi * D2R), ct * math.sin(phi * D2R), st


@kernel
def _one_plus(vz, rho):
    """1 + sin(theta) without cancellation near the antipode (vz ~ -1)."""
    if vz >= 0.0:
        return 1.0 + vz
    return rho * rho / (1.0 - vz)


@kernel
def _check_phi(phi):
    """wcslib's final bounds check on a native longitude: clamp or NaN."""
    if phi > 180.0:
        if phi > 180.0 + TOL:
            return NAN
        return 180.0
    if phi < -180.0:
        if phi < -180.0 - TOL:
            return NAN
        return -180.0
    return phi


@kernel
def _wrap_branch(a):
    """Map an angle in degrees > 90 down by 360 (AZP/SZP branch selection)."""
    if a > 90.0:
        return a - 360.0
    return a


@kernel
def _upper_root(s, t):
    """max of the two solutions (s - t, s + t + 180), each wrapped below 90."""
    a = _wrap_branch(s - t)
    b = _wrap_branch(s + t + 180.0)
    return a if a > b else b


# --------------------------------------------------------------------------
# zenithal projections with parameters
# --------------------------------------------------------------------------


@kernel
def _azp_x2s(p, pv, X, Y):
    """AZP deprojection (C&G Sect. 5.1.1, tilted plane)."""
    mu = p[pv + 1]
    w0 = p[pv + _D]  # r0 (mu + 1)
    cg = p[pv + _D + 1]
    sg = p[pv + _D + 2]
    yc = Y * cg
    R = math.sqrt(X * X + yc * yc)
    if R == 0.0:
        return 0.0, 0.0, 1.0
    q = w0 + Y * sg
    if q == 0.0:
        return NAN, NAN, NAN
    rho = R / q
    t = mu * rho / math.sqrt(rho * rho + 1.0)
    if abs(t) > 1.0:
        if abs(t) > 1.0 + TOL:
            return NAN, NAN, NAN
        t = 90.0 if t > 0 else -90.0
    else:
        t = math.asin(t) * R2D
    s = math.atan2(1.0, rho) * R2D
    theta = _upper_root(s, t)
    if theta < -90.0:
        if theta < -90.0 - TOL:
            return NAN, NAN, NAN
        theta = -90.0
    ct = math.cos(theta * D2R)
    return -ct * yc / R, ct * X / R, math.sin(theta * D2R)


@kernel
def _azp_s2x(p, pv, vx, vy, vz):
    """AZP projection with wcslib's overlap and divergence bounds."""
    mu = p[pv + 1]
    w0 = p[pv + _D]
    cg = p[pv + _D + 1]
    tg = p[pv + _D + 3]
    rho = math.sqrt(vx * vx + vy * vy)
    if rho > 0.0:
        cp = vx / rho
        sp = vy / rho
    else:
        cp = 1.0
        sp = 0.0
    s = tg * cp
    t = (mu - 1.0) + _one_plus(vz, rho) + rho * s
    if abs(t) <= 1e-13 * rho or t == 0.0:  # at infinity (|R| > 1e13 r0 (mu + 1))
        return NAN, NAN
    theta = math.atan2(vz, rho) * R2D
    if theta < p[pv + _D + 4]:  # overlap (far side of the limb)
        return NAN, NAN
    if p[pv + _D + 5] != 0.0:  # divergence of the tilted plane
        t2 = mu / math.sqrt(1.0 + s * s)
        if abs(t2) <= 1.0:
            if theta < _upper_root(-math.atan(s) * R2D, math.asin(t2) * R2D):
                return NAN, NAN
    r = w0 * rho / t
    return r * sp, -r * cp / cg


@kernel
def _szp_x2s(p, pv, X, Y):
    """SZP deprojection: intersect the line from the projection point (C&G sec. 5.1.2)."""
    zp = p[pv + _D]
    xp = p[pv + _D + 1]
    yp = p[pv + _D + 2]
    x = X * D2R
    y = Y * D2R
    x1 = (x - xp) / zp
    y1 = (y - yp) / zp
    r2 = x * x + y * y
    # z = 1 - sin(theta) solves (1 + x1^2 + y1^2) z^2 - 2 (1 + x x1 + y y1) z + r2 = 0;
    # take the root nearest the pole (smallest z).
    A = 1.0 + x1 * x1 + y1 * y1
    B = 1.0 + x * x1 + y * y1
    D = B * B - A * r2
    if D < 0.0:
        return NAN, NAN, NAN
    sd = math.sqrt(D)
    if B > 0.0:
        z = r2 / (B + sd)
    else:
        z = (B + sd) / A
    if z < 0.0:
        if z < -TOL:
            return NAN, NAN, NAN
        z = 0.0
    elif z > 2.0:
        if z > 2.0 + TOL:
            return NAN, NAN, NAN
        z = 2.0
    vx = -(y - y1 * z)
    vy = x - x1 * z
    vz = 1.0 - z
    n = math.sqrt(vx * vx + vy * vy + vz * vz)
    return vx / n, vy / n, vz / n


@kernel
def _szp_s2x(p, pv, vx, vy, vz):
    """SZP projection (C&G Sect. 5.1.2) with divergence and overlap bounds."""
    mu = p[pv + 1]
    zp = p[pv + _D]
    xp = p[pv + _D + 1]
    yp = p[pv + _D + 2]
    rho2 = vx * vx + vy * vy
    rho = math.sqrt(rho2)
    if vz > 0.0:
        s = rho2 / (1.0 + vz)  # 1 - sin(theta) without cancellation
        t = zp - s
    else:
        s = 1.0 - vz
        t = (zp - 2.0) + _one_plus(vz, rho)
    nx = zp * vy - xp * s
    ny = zp * vx + yp * s
    # at infinity (|X| > 1e13 r0), or within rounding of the projection point
    # itself when |mu| = 1 (0/0: both t and the numerators vanish there)
    if abs(t) <= 1e-13 * (abs(nx) + abs(ny)) or abs(t) < 1e-12:
        return NAN, NAN
    theta = math.atan2(vz, rho) * R2D
    if theta < p[pv + _D + 4]:  # divergence
        return NAN, NAN
    if abs(mu) > 1.0:  # overlap
        if rho > 0.0:
            cp = vx / rho
            sp = vy / rho
        else:
            cp = 1.0
            sp = 0.0
        s2 = xp * sp - yp * cp
        q = p[pv + _D + 3] + s2 * s2
        if q > 0.0:
            t2 = 1.0 / math.sqrt(q)
            if t2 <= 1.0:
                if theta < _upper_root(math.atan2(s2, zp - 1.0) * R2D, math.asin(t2) * R2D):
                    return NAN, NAN
    return R2D * nx / t, -R2D * ny / t


@kernel
def _zpn_poly(p, pv, n, z):
    r = 0.0
    for m in range(n, -1, -1):
        r = r * z + p[pv + m]
    return r


@kernel
def _zpn_x2s(p, pv, X, Y):
    """ZPN deprojection: root of the polynomial in its first monotonic interval."""
    n = int(p[pv + _D])
    R = math.sqrt(X * X + Y * Y)
    r = R * D2R
    if n < 1:
        return NAN, NAN, NAN
    if n == 1:
        zd = (r - p[pv]) / p[pv + 1]
    elif n == 2:
        a = p[pv + 2]
        b = p[pv + 1]
        c = p[pv] - r
        d = b * b - 4.0 * a * c
        if d < 0.0:
            return NAN, NAN, NAN
        q = -0.5 * (b + math.copysign(math.sqrt(d), b))
        z1 = q / a
        z2 = c / q if q != 0.0 else z1
        zd = min(z1, z2)
        if zd < -TOL:
            zd = max(z1, z2)
    else:
        zmax = p[pv + _D + 1]
        rmax = p[pv + _D + 2]
        r0 = p[pv]
        if r <= r0:
            if r < r0 - TOL:
                return NAN, NAN, NAN
            zd = 0.0
        elif r >= rmax:
            if r > rmax + TOL:
                return NAN, NAN, NAN
            zd = zmax
        else:
            # safeguarded Newton on [lo, hi], where the polynomial increases
            lo = 0.0
            hi = zmax
            zd = (r - r0) / p[pv + 1]
            if not (lo < zd < hi):
                zd = 0.5 * (lo + hi)
            for _ in range(200):
                f = 0.0
                fp = 0.0
                for m in range(n, -1, -1):
                    fp = fp * zd + f
                    f = f * zd + p[pv + m]
                f -= r
                if f == 0.0:
                    break
                if f < 0.0:
                    lo = zd
                else:
                    hi = zd
                zn = zd - f / fp if fp > 0.0 else -1.0
                if not (lo < zn < hi):
                    zn = 0.5 * (lo + hi)
                if abs(zn - zd) <= 1e-15 * (1.0 + zd) or hi - lo <= 1e-15 * (1.0 + zd):
                    zd = zn
                    break
                zd = zn
    if zd < 0.0:
        if zd < -TOL * D2R:
            return NAN, NAN, NAN
        zd = 0.0
    elif zd > math.pi:
        if zd > math.pi + TOL * D2R:
            return NAN, NAN, NAN
        zd = math.pi
    s = math.sin(zd)
    if R == 0.0:
        return s, 0.0, math.cos(zd)
    return -s * Y / R, s * X / R, math.cos(zd)


@kernel
def _zpn_s2x(p, pv, vx, vy, vz):
    n = int(p[pv + _D])
    rho = math.sqrt(vx * vx + vy * vy)
    zd = math.atan2(rho, vz)
    if zd > p[pv + _D + 1]:  # beyond the point of inflection
        return NAN, NAN
    r = R2D * _zpn_poly(p, pv, n, zd)
    if rho == 0.0:
        return 0.0, -r
    return r * vy / rho, -r * vx / rho


@kernel
def _air_f(a, xi):
    """Airy radius / (2 r0) as a function of xi = (90 - theta) / 2 (radians), and d/dxi."""
    sh = math.sin(0.5 * xi)
    lnc = math.log1p(-2.0 * sh * sh)  # ln(cos xi), accurate for small xi
    c = math.cos(xi)
    s = math.sin(xi)
    if s == 0.0:
        return 0.0, 0.5 - a
    tx = s / c
    f = -(lnc / tx + a * tx)
    fp = 1.0 + lnc / (s * s) - a / (c * c)
    return f, fp


@kernel
def _air_x2s(p, pv, X, Y):
    """AIR deprojection: safeguarded Newton in xi (C&G Sect. 5.1.9)."""
    a = p[pv + _D]
    R = math.sqrt(X * X + Y * Y)
    if R == 0.0:
        return 0.0, 0.0, 1.0
    r = 0.5 * R * D2R
    # bracket as wcslib does: cos(xi) = 1/2, 1/4, ... until f >= r
    lo = 0.0
    hi = -1.0
    cx = 1.0
    for _ in range(30):
        cx *= 0.5
        x2 = math.acos(cx)
        f2, _d = _air_f(a, x2)
        if f2 >= r:
            hi = x2
            break
        lo = x2
    if hi < 0.0:
        return NAN, NAN, NAN
    xi = r / (0.5 - a)
    if not (lo < xi < hi):
        xi = 0.5 * (lo + hi)
    for _ in range(200):
        f, fp = _air_f(a, xi)
        f -= r
        if f == 0.0:
            break
        if f < 0.0:
            lo = xi
        else:
            hi = xi
        xn = xi - f / fp if fp > 0.0 else -1.0
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        if abs(xn - xi) <= 1e-15 * xi or hi - lo <= 1e-15 * xi:
            xi = xn
            break
        xi = xn
    s = math.sin(2.0 * xi)
    return -s * Y / R, s * X / R, math.cos(2.0 * xi)


@kernel
def _air_s2x(p, pv, vx, vy, vz):
    rho = math.sqrt(vx * vx + vy * vy)
    colat = math.atan2(rho, vz)
    if colat >= math.pi:  # theta = -90 diverges
        return NAN, NAN
    if rho == 0.0:
        return 0.0, 0.0
    f, _d = _air_f(p[pv + _D], 0.5 * colat)
    r = 2.0 * R2D * f
    return r * vy / rho, -r * vx / rho


# --------------------------------------------------------------------------
# cylindrical and pseudo-cylindrical projections with parameters
# --------------------------------------------------------------------------


@kernel
def _mol_gamma(st, ct):
    """Mollweide auxiliary angle from sin/cos theta: returns (cos gamma, sin gamma).

    Solves 2 gamma + sin(2 gamma) = pi sin(theta) as w - sin(w) = c with
    w = pi - 2 |gamma| and c = pi (1 - |sin theta|), by Newton from the
    left of the root on the convex function (so it converges monotonically
    after the first step), with a series for w - sin(w) at small w.
    """
    ast = abs(st)
    if ast >= 1.0:
        return 0.0, math.copysign(1.0, st)
    # 1 - |sin theta| = cos^2 theta / (1 + |sin theta|) without cancellation
    c = math.pi * ct * ct / (1.0 + ast)
    if c >= math.pi:
        return 1.0, 0.0
    w = (6.0 * c) ** (1.0 / 3.0)
    if w > math.pi:
        w = math.pi
    for _ in range(60):
        if w < 0.1:
            w2 = w * w
            g = w * w2 / 6.0 * (1.0 - w2 / 20.0 * (1.0 - w2 / 42.0 * (1.0 - w2 / 72.0 * (1.0 - w2 / 110.0))))
        else:
            g = w - math.sin(w)
        sh = math.sin(0.5 * w)
        gp = 2.0 * sh * sh
        if gp == 0.0:
            break
        dw = (g - c) / gp
        w -= dw
        if w > math.pi:
            w = math.pi
        if abs(dw) <= 1e-15 * w:
            break
    return math.sin(0.5 * w), math.copysign(math.cos(0.5 * w), st)


# --------------------------------------------------------------------------
# conic projections
# --------------------------------------------------------------------------


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
    if code == 201:  # COP (C&G Sect. 5.4.1)
        theta = p[pv + 1] + math.atan(p[pv + _D + 3] - r / p[pv + _D + 2]) * R2D
        return _vec_from_angles(phi, theta)
    elif code == 202:  # COE (C&G Sect. 5.4.2)
        q = r / p[pv + _D + 2]
        st = (p[pv + _D + 3] - q * q) / p[pv + _D + 4]
        if abs(st) > 1.0 + TOL:
            return NAN, NAN, NAN
        return _vec_from_phi_sintheta(phi, st)
    elif code == 203:  # COD (C&G Sect. 5.4.3)
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
    if code == 201:  # COP (C&G Sect. 5.4.1)
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
    elif code == 202:  # COE (C&G Sect. 5.4.2)
        q = p[pv + _D + 3] - p[pv + _D + 4] * vz
        if q < 0.0:
            q = 0.0
        r = p[pv + _D + 2] * math.sqrt(q)
    elif code == 203:  # COD (C&G Sect. 5.4.3)
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


# --------------------------------------------------------------------------
# HEALPix (Calabretta & Roukema 2007)
# --------------------------------------------------------------------------


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
# dispatch
# --------------------------------------------------------------------------


@kernel
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
            if R > 180.0 + TOL:
                return NAN, NAN, NAN
            return -Y / R, X / R, -1.0
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
    elif code == 6:  # AZP
        return _azp_x2s(p, pv, X, Y)
    elif code == 7:  # SZP
        return _szp_x2s(p, pv, X, Y)
    elif code == 8:  # ZPN
        return _zpn_x2s(p, pv, X, Y)
    elif code == 9:  # AIR
        return _air_x2s(p, pv, X, Y)
    elif code == 101:  # CAR (C&G eq. 84)
        if abs(Y) > 90.0 + TOL:
            return NAN, NAN, NAN
        phi = _check_phi(X)
        if phi != phi:
            return NAN, NAN, NAN
        return _vec_from_angles(phi, max(-90.0, min(90.0, Y)))
    elif code == 102:  # CEA (C&G eq. 80), lambda = PV2_1
        lam = p[pv + 1]
        s = lam * Y * D2R
        if abs(s) > 1.0:
            if abs(s) > 1.0 + 1e-13:
                return NAN, NAN, NAN
            s = 1.0 if s > 0 else -1.0
        phi = _check_phi(X)
        if phi != phi:
            return NAN, NAN, NAN
        return _vec_from_phi_sintheta(phi, s)
    elif code == 103:  # MER (C&G eq. 87)
        phi = _check_phi(X)
        if phi != phi:
            return NAN, NAN, NAN
        theta = 2.0 * math.atan(math.exp(Y * D2R)) * R2D - 90.0
        return _vec_from_angles(phi, theta)
    elif code == 104:  # CYP (C&G Sect. 5.2.1)
        mu = p[pv + 1]
        lam = p[pv + 2]
        phi = _check_phi(X / lam)
        if phi != phi:
            return NAN, NAN, NAN
        eta = Y * D2R / (mu + lam)
        t = eta * mu / math.sqrt(eta * eta + 1.0)
        if abs(t) > 1.0:
            if abs(t) > 1.0 + TOL:
                return NAN, NAN, NAN
            t = math.copysign(1.0, t)
        theta = (math.atan2(eta, 1.0) + math.asin(t)) * R2D
        if abs(theta) > 90.0:
            if abs(theta) > 90.0 + TOL:
                return NAN, NAN, NAN
            theta = math.copysign(90.0, theta)
        return _vec_from_angles(phi, theta)
    elif code == 105:  # SFL (C&G eq. 90)
        if abs(Y) > 90.0:
            if abs(Y) > 90.0 + TOL:
                return NAN, NAN, NAN
            Y = math.copysign(90.0, Y)
        ct = math.cos(Y * D2R)
        if ct < 1e-15:  # a pole: only x = 0 belongs to it
            if abs(X) > TOL:
                return NAN, NAN, NAN
            return 0.0, 0.0, math.copysign(1.0, Y)
        phi = _check_phi(X / ct)
        if phi != phi:
            return NAN, NAN, NAN
        return _vec_from_angles(phi, Y)
    elif code == 106:  # PAR (C&G Sect. 5.3.2)
        s = Y / 180.0  # sin(theta / 3)
        if abs(s) > 0.5:
            if abs(s) > 0.5 + TOL:
                return NAN, NAN, NAN
            s = math.copysign(0.5, s)
        d = 1.0 - 4.0 * s * s
        if d == 0.0:
            if abs(X) > TOL:
                return NAN, NAN, NAN
            phi = 0.0
        else:
            phi = _check_phi(X / d)
            if phi != phi:
                return NAN, NAN, NAN
        return _vec_from_angles(phi, 3.0 * math.asin(s) * R2D)
    elif code == 107:  # MOL (C&G Sect. 5.3.3)
        sg = Y / (SQRT2 * R2D)  # sin(gamma)
        c2 = (1.0 - sg) * (1.0 + sg)  # cos^2(gamma)
        if c2 <= TOL:
            if c2 < -TOL:
                return NAN, NAN, NAN
            if abs(X) > TOL:
                return NAN, NAN, NAN
            return 0.0, 0.0, math.copysign(1.0, Y)
        cg = math.sqrt(c2)
        phi = _check_phi(math.pi * X / (2.0 * SQRT2 * cg))
        if phi != phi:
            return NAN, NAN, NAN
        st = (2.0 * math.asin(sg) + 2.0 * sg * cg) / math.pi
        if abs(st) > 1.0 + TOL:
            return NAN, NAN, NAN
        return _vec_from_phi_sintheta(phi, st)
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
    elif code >= 201 and code <= 204:
        return _conic_x2s(code, p, pv, X, Y)
    elif code == 300:
        return _hpx_x2s(p, pv, X, Y)
    return NAN, NAN, NAN


@kernel
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
            return 0.0, -180.0  # the antipode maps to the R = 180 circle; take phi = 0
        R = math.atan2(rho, vz) * R2D
        return R * vy / rho, -R * vx / rho
    elif code == 4:  # ZEA: R = 2 r0 sin(colat / 2) = r0 sqrt(2 (1 - sin theta))
        rho2 = vx * vx + vy * vy
        if rho2 == 0.0:
            if vz > 0.0:
                return 0.0, 0.0
            return 0.0, -2.0 * R2D  # antipode: the R = 2 r0 circle; take phi = 0
        if vz > 0.0:
            f = R2D * math.sqrt(2.0 / (1.0 + vz))
        else:
            f = R2D * math.sqrt(2.0 * (1.0 - vz) / rho2)
        return f * vy, -f * vx
    elif code == 5:  # STG: R = 2 r0 tan(colat / 2)
        if vz > 0.0:
            f = 2.0 * R2D / (1.0 + vz)
            return f * vy, -f * vx
        rho = math.sqrt(vx * vx + vy * vy)
        if rho == 0.0:  # the antipode is at infinity
            return NAN, NAN
        f = 2.0 * R2D * (1.0 - vz) / (rho * rho)
        return f * vy, -f * vx
    elif code == 6:
        return _azp_s2x(p, pv, vx, vy, vz)
    elif code == 7:
        return _szp_s2x(p, pv, vx, vy, vz)
    elif code == 8:
        return _zpn_s2x(p, pv, vx, vy, vz)
    elif code == 9:
        return _air_s2x(p, pv, vx, vy, vz)
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
    elif code == 104:  # CYP (C&G Sect. 5.2.1)
        mu = p[pv + 1]
        lam = p[pv + 2]
        rho = math.sqrt(vx * vx + vy * vy)
        d = mu + rho
        if d == 0.0:
            return NAN, NAN
        return lam * math.atan2(vy, vx) * R2D, R2D * (mu + lam) * vz / d
    elif code == 105:  # SFL
        phi, theta = _angles_from_vec(vx, vy, vz)
        return phi * math.cos(theta * D2R), theta
    elif code == 106:  # PAR (C&G Sect. 5.3.2)
        phi, theta = _angles_from_vec(vx, vy, vz)
        s = math.sin(theta * D2R / 3.0)
        return phi * (1.0 - 4.0 * s * s), 180.0 * s
    elif code == 107:  # MOL (C&G Sect. 5.3.3)
        rho = math.sqrt(vx * vx + vy * vy)
        cg, sg = _mol_gamma(vz, rho)
        phi = math.atan2(vy, vx) * R2D
        return 2.0 * SQRT2 / math.pi * phi * cg, SQRT2 * R2D * sg
    elif code == 108:  # AIT
        phi, theta = _angles_from_vec(vx, vy, vz)
        ct = math.cos(theta * D2R)
        hp = 0.5 * phi * D2R
        g = R2D * math.sqrt(2.0 / (1.0 + ct * math.cos(hp)))
        return 2.0 * g * ct * math.sin(hp), g * math.sin(theta * D2R)
    elif code >= 201 and code <= 204:
        return _conic_s2x(code, p, pv, vx, vy, vz)
    elif code == 300:
        return _hpx_s2x(p, pv, vx, vy, vz)
    return NAN, NAN


#: projections implemented natively in this module (by FITS code).  "GLS" is
#: evaluated as SFL: wcslib places its fiducial point at (0, CRVAL_lat) with
#: a plane offset (AIPS convention), which ``describe_wcs`` reads from wcslib
#: like any fiducial point moved by PV_lng_0..2.
NATIVE_PROJECTIONS = frozenset(
    [
        "TAN", "SIN", "ARC", "ZEA", "STG", "AZP", "SZP", "ZPN", "AIR",
        "CAR", "CEA", "MER", "CYP", "SFL", "PAR", "MOL", "AIT",
        "COP", "COE", "COD", "COO", "HPX",
    ]
)  # fmt: skip


def _zpn_inflection(c):
    """Colatitude (radians) where the ZPN polynomial first stops increasing.

    Like wcslib, the derivative is scanned in 1 degree steps from the pole;
    the first sign change is then refined by bisection.  Returns pi when the
    derivative stays positive up to 179 degrees.
    """
    dc = np.polynomial.polynomial.polyder(c)

    def deriv(z):
        return float(np.polynomial.polynomial.polyval(z, dc))

    z1 = 0.0
    for j in range(180):
        z2 = j * D2R
        if deriv(z2) <= 0.0:
            break
        z1 = z2
    else:
        return math.pi
    if z2 == 0.0:
        return 0.0
    for _ in range(200):
        zm = 0.5 * (z1 + z2)
        if zm <= z1 or zm >= z2:
            break
        if deriv(zm) > 0.0:
            z1 = zm
        else:
            z2 = zm
    return z1


def derived_parameters(code_name, pv):
    """Fill derived projection constants into ``pv`` (length 32) in place.

    ``pv[m]`` holds ``PVlat_m`` for m = 0..20 on entry (with FITS defaults
    applied).  Slots 21..29 are free for constants precomputed once per WCS
    (30 and 31 hold the plane offset, see ``_layout.PV_X0``):

    * AZP: r0 (mu + 1), cos(gamma), sin(gamma), tan(gamma), overlap
      latitude asin(-1/mu) (or -90), divergence-check flag;
    * SZP: zp, xp, yp (C&G Sect. 5.1.2), (zp - 1) zp - 1, divergence latitude;
    * ZPN: polynomial degree, colatitude of the first inflection (radians),
      polynomial value there;
    * AIR: ln(cos xi_b) / tan^2(xi_b);
    * conics: C, Y0, then COP r0 cos(eta), cot(theta_a); COE 2 r0 / gamma,
      1 + sin(theta_1) sin(theta_2), gamma; COD theta_a + Y0; COO psi r0;
    * HPX: 1 if K is odd.

    Raises ``UnsupportedWCS`` for parameter combinations the native code
    does not reproduce (HPX with non-integral H or K).
    """
    name = {"GLS": "SFL"}.get(code_name, code_name)
    d = 21
    if name == "AZP":
        mu, gamma = pv[1], pv[2]
        cg = math.cos(gamma * D2R)
        pv[d] = R2D * (mu + 1.0)
        pv[d + 1] = cg
        pv[d + 2] = math.sin(gamma * D2R)
        pv[d + 3] = math.tan(gamma * D2R) if cg != 0.0 else math.inf
        pv[d + 4] = math.degrees(math.asin(-1.0 / mu)) if abs(mu) > 1.0 else -90.0
        pv[d + 5] = 1.0 if abs(mu * cg) < 1.0 else 0.0
    elif name == "SZP":
        mu, phic, thetac = pv[1], pv[2], pv[3]
        zp = mu * math.sin(thetac * D2R) + 1.0
        pv[d] = zp
        pv[d + 1] = -mu * math.cos(thetac * D2R) * math.sin(phic * D2R)
        pv[d + 2] = mu * math.cos(thetac * D2R) * math.cos(phic * D2R)
        pv[d + 3] = (zp - 1.0) * zp - 1.0
        pv[d + 4] = math.degrees(math.asin(1.0 - zp)) if abs(zp - 1.0) < 1.0 else -90.0
    elif name == "ZPN":
        c = np.array(pv[:21], dtype=float)
        nz = np.nonzero(c)[0]
        n = int(nz[-1]) if nz.size else -1
        pv[d] = n
        if n < 2:
            zmax = math.pi
        else:
            zmax = _zpn_inflection(c[: n + 1])
        pv[d + 1] = zmax
        pv[d + 2] = float(np.polynomial.polynomial.polyval(zmax, c[: n + 1])) if n >= 0 else 0.0
    elif name == "AIR":
        thetab = pv[1]
        if thetab == 90.0:
            pv[d] = -0.5
        else:
            cxi = math.cos(0.5 * (90.0 - thetab) * D2R)
            pv[d] = math.log(cxi) * cxi * cxi / (1.0 - cxi * cxi)
    elif name in ("COP", "COE", "COD", "COO"):
        ta, eta = pv[1], pv[2]
        t1, t2 = ta - eta, ta + eta
        if name == "COP":
            C = math.sin(ta * D2R)
            w = R2D * math.cos(eta * D2R)
            cot = 1.0 / math.tan(ta * D2R)
            pv[d], pv[d + 1], pv[d + 2], pv[d + 3] = C, w * cot, w, cot
        elif name == "COE":
            s1, s2 = math.sin(t1 * D2R), math.sin(t2 * D2R)
            gam = s1 + s2
            C = gam / 2.0
            w2 = 2.0 * R2D / gam
            w3 = 1.0 + s1 * s2
            y0 = w2 * math.sqrt(max(0.0, w3 - gam * math.sin(ta * D2R)))
            pv[d], pv[d + 1], pv[d + 2], pv[d + 3], pv[d + 4] = C, y0, w2, w3, gam
        elif name == "COD":
            if eta == 0.0:
                C = math.sin(ta * D2R)
                y0 = R2D * math.cos(ta * D2R) / C
            else:
                C = math.sin(ta * D2R) * math.sin(eta * D2R) / (eta * D2R)
                y0 = R2D * math.cos(eta * D2R) * math.cos(ta * D2R) / C
            pv[d], pv[d + 1], pv[d + 2] = C, y0, y0 + ta
        else:
            tan1 = math.tan(0.5 * (90.0 - t1) * D2R)
            cos1 = math.cos(t1 * D2R)
            if t1 == t2:
                C = math.sin(t1 * D2R)
            else:
                tan2 = math.tan(0.5 * (90.0 - t2) * D2R)
                C = math.log(math.cos(t2 * D2R) / cos1) / math.log(tan2 / tan1)
            psi = R2D * cos1 / (C * tan1**C)
            y0 = psi * math.tan(0.5 * (90.0 - ta) * D2R) ** C
            pv[d], pv[d + 1], pv[d + 2] = C, y0, psi
    elif name == "HPX":
        H, K = pv[1], pv[2]
        if H != round(H) or K != round(K) or H < 1 or K < 1:
            from ._describe import UnsupportedWCS

            raise UnsupportedWCS("HPX with non-integral H or K")
        pv[d] = float(int(K) % 2)
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
    """FITS default PVlat_m values for a projection (length-21 list).

    Conic projections have no default for theta_a (PV_1); wcslib rejects a
    conic WCS without it before this is consulted.
    """
    pv = [0.0] * 21
    if code_name == "CEA":
        pv[1] = 1.0
    elif code_name == "SZP":
        pv[3] = 90.0
    elif code_name == "AIR":
        pv[1] = 90.0
    elif code_name == "CYP":
        pv[1] = 1.0
        pv[2] = 1.0
    elif code_name == "HPX":
        pv[1] = 4.0
        pv[2] = 3.0
    return pv
