"""Zenithal projections with parameters (AZP, SZP, ZPN, AIR; C&G Sect. 5.1): plane <-> native unit vector.

Derived constants in PV slots 21.. come from :func:`~numbamosaic.wcs._parameters.derived_parameters`.
"""

import math

from ..kernels._jit import kernel
from ._proj_base import _D, D2R, NAN, R2D, TOL, _one_plus, _upper_root


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
def _zpn_zeta(p, pv, r):
    """Native colatitude (radians) of ZPN plane radius ``r`` (radians): the root
    of the polynomial in its first monotonic interval, NaN outside the domain."""
    n = int(p[pv + _D])
    if n < 1:
        return NAN
    if n == 1:
        zd = (r - p[pv]) / p[pv + 1]
    elif n == 2:
        a = p[pv + 2]
        b = p[pv + 1]
        c = p[pv] - r
        d = b * b - 4.0 * a * c
        if d < 0.0:
            return NAN
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
                return NAN
            zd = 0.0
        elif r >= rmax:
            if r > rmax + TOL:
                return NAN
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
            return NAN
        zd = 0.0
    elif zd > math.pi:
        if zd > math.pi + TOL * D2R:
            return NAN
        zd = math.pi
    return zd


@kernel
def _zpn_x2s(p, pv, X, Y):
    """ZPN deprojection: root of the polynomial in its first monotonic interval (:func:`_zpn_zeta`)."""
    R = math.sqrt(X * X + Y * Y)
    zd = _zpn_zeta(p, pv, R * D2R)
    if zd != zd:
        return NAN, NAN, NAN
    s = math.sin(zd)
    if R == 0.0:
        return s, 0.0, math.cos(zd)
    return -s * Y / R, s * X / R, math.cos(zd)


@kernel
def zpn_area(p, pv, X, Y):
    """Solid angle per unit plane area of ZPN at plane point ``(X, Y)`` (degrees)
    and its first two derivatives along the radius.

    For a zenithal projection with plane radius ``rho(zeta)`` (radians) the
    area element is ``dOmega = sin(zeta) dzeta dphi`` and ``dA = rho
    drho dphi``, so ``g = dOmega / dA = sin(zeta) / (rho rho')`` (Calabretta
    & Greisen 2002, Sect. 5.1; for ZPN ``rho`` is the polynomial of
    ``PV2_m``, eq. 66, and its derivatives are polynomials too): one
    inversion (:func:`_zpn_zeta`) instead of the four of a finite-difference
    area factor.  Returns ``(g, dg/drho, d2g/drho2, rho)``, radians; NaN
    outside the domain or where ``rho' <= 0`` (at the inflection).

    References
    ----------
    Calabretta, M. R., & Greisen, E. W. 2002, A&A 395, 1077, Sect. 5.1.7.
    """
    n = int(p[pv + _D])
    rho = math.sqrt(X * X + Y * Y) * D2R
    zd = _zpn_zeta(p, pv, rho)
    if zd != zd:
        return NAN, NAN, NAN, NAN
    # P = rho(zeta) and its derivatives by Horner
    P0 = 0.0
    P1 = 0.0
    P2 = 0.0
    P3 = 0.0
    for m in range(n, -1, -1):
        P3 = P3 * zd + P2
        P2 = P2 * zd + P1
        P1 = P1 * zd + P0
        P0 = P0 * zd + p[pv + m]
    P2 *= 2.0
    P3 *= 6.0
    if not P1 > 0.0:
        return NAN, NAN, NAN, NAN
    sz = math.sin(zd)
    cz = math.cos(zd)
    # g = sin(zeta) T, T = 1 / Q, Q = P P'; derivatives in zeta, then in rho
    Q = P0 * P1
    if Q == 0.0:  # at the pole with PV2_0 = 0: the limit 1 / P'(0)^2
        return 1.0 / (P1 * P1), 0.0, 0.0, rho
    Q1 = P1 * P1 + P0 * P2
    Q2 = 3.0 * P1 * P2 + P0 * P3
    T = 1.0 / Q
    T1 = -Q1 * T * T
    T2 = (2.0 * Q1 * Q1 * T - Q2) * T * T
    g = sz * T
    gz = cz * T + sz * T1
    gzz = -sz * T + 2.0 * cz * T1 + sz * T2
    g1 = gz / P1
    g2 = (gzz - g1 * P2) / (P1 * P1)
    return g, g1, g2, rho


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
