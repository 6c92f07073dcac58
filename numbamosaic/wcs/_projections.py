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
follows Calabretta & Roukema (2007), MNRAS 381, 865, and its polar form XPH
Calabretta & Lowe (2013), PASA 30, e050; the quad cubes TSC, CSC and QSC
C&G section 5.6; BON C&G section 5.5.1.

Points outside a projection's domain give NaN, never garbage.  The domain
follows wcslib's strict bounds checking as exposed by astropy:

* plane -> sphere: points with no solution, and (like wcslib's final check)
  native longitudes outside [-180, 180] or latitudes outside [-90, 90]
  beyond a 1e-13 degree tolerance, are invalid;
* sphere -> plane: the "bounds & 1" checks of wcslib (far hemisphere for
  TAN/SIN, overlap and divergence for AZP/SZP, beyond the point of
  inflection for ZPN, the wrong side of the apex for COP, ...).

Derived constants (computed once per WCS by
:func:`~numbamosaic.wcs._parameters.derived_parameters`) live in PV slots
21..31; their meaning per projection is documented there.

This module holds the dispatch on the projection code (:func:`plane_to_native`,
:func:`native_to_plane`) with the simple projections inline; projections with
parameters live in :mod:`._proj_zenithal`, :mod:`._proj_conic` and
:mod:`._proj_hpx`, the quad cubes in :mod:`._proj_quadcube`, BON in :mod:`._proj_bon`, shared constants and helpers in :mod:`._proj_base`, and the
Python side (FITS defaults, derived constants) in :mod:`._parameters`.
"""

import math

from numba import types
from numba.extending import overload

from ..kernels._jit import SELECTOR_OVERLOAD, inline_kernel, kernel
from ._layout import RARE, W_PV
from ._proj_base import (
    AIR,
    BON,
    AIT,
    ARC,
    AZP,
    CAR,
    CEA,
    COO,
    COP,
    CYP,
    D2R,
    HPX,
    MER,
    MOL,
    NAN,
    PAR,
    R2D,
    SFL,
    SIN,
    SQRT2,
    STG,
    SZP,
    TAN,
    TOL,
    XPH,
    ZEA,
    ZPN,
    _angles_from_vec,
    _check_phi,
    _vec_from_angles,
    _vec_from_phi_sintheta,
    _zenithal_vec,
)
from ._proj_bon import _bon_s2x, _bon_x2s
from ._proj_conic import _conic_s2x, _conic_x2s
from ._proj_hpx import _hpx_s2x, _hpx_x2s, _xph_s2x, _xph_x2s
from ._proj_quadcube import quadcube_s2x, quadcube_x2s
from ._proj_zenithal import (
    _air_s2x,
    _air_x2s,
    _azp_s2x,
    _azp_x2s,
    _szp_s2x,
    _szp_x2s,
    _zpn_s2x,
    _zpn_x2s,
)

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
# rare projections: compiled only into chains that ask for them
# --------------------------------------------------------------------------
#
# XPH, the quad cubes and BON are rare in practice, and every non-TAN WCS chain
# compiles the dispatch below: each separately compiled level above it links,
# re-optimises and emits the dispatch's code again (``kernels._jit``).  With
# XPH and the quad cubes called straight from it, a cold non-TAN call compiled ~10 more
# functions and cost ~25 % more CPU.  So the dispatch reaches them through a
# selector on the chain's flag ``tan`` (``_layout.RARE``; the literal 2 for
# transforms with one of them, see ``wcs._points.tan_flag`` and
# ``wcs._native.homography_flag``): with any other value the branch is
# ``(NaN, NaN[, NaN])`` and their code is never typed or compiled.  The
# selector sits in :func:`plane_to_native` and :func:`native_to_plane`, which
# are compiled once per flag value, so it is inlined at two sites only.


@kernel
def _rare_x2s(code, p, pv, X, Y):
    """XPH, TSC, CSC, QSC and BON plane -> native unit vector (:func:`plane_to_native`'s last branch)."""
    if code == XPH:
        return _xph_x2s(X, Y)
    if code == BON:
        return _bon_x2s(p, pv, X, Y)
    return quadcube_x2s(code, X, Y)


@kernel
def _rare_s2x(code, p, pv, vx, vy, vz):
    """Native unit vector -> XPH, TSC, CSC, QSC or BON plane; see :func:`_rare_x2s`."""
    if code == XPH:
        return _xph_s2x(vx, vy, vz)
    if code == BON:
        return _bon_s2x(p, pv, vx, vy, vz)
    return quadcube_s2x(code, vx, vy, vz)


def rare_x2s(tan, code, p, pv, X, Y):
    """:func:`_rare_x2s` when ``tan`` is the literal ``RARE``, else ``(NaN, NaN, NaN)``.
    Pure-Python stub; see the overload."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(rare_x2s, prefer_literal=True, **SELECTOR_OVERLOAD)
def _rare_x2s_impl(tan, code, p, pv, X, Y):
    if isinstance(tan, types.IntegerLiteral) and tan.literal_value == RARE:
        return lambda tan, code, p, pv, X, Y: _rare_x2s(code, p, pv, X, Y)
    return lambda tan, code, p, pv, X, Y: (NAN, NAN, NAN)


def rare_s2x(tan, code, p, pv, vx, vy, vz):
    """:func:`_rare_s2x` when ``tan`` is the literal ``RARE``, else ``(NaN, NaN)``.
    Pure-Python stub; see the overload."""
    raise NotImplementedError  # replaced by the Numba overload below


@overload(rare_s2x, prefer_literal=True, **SELECTOR_OVERLOAD)
def _rare_s2x_impl(tan, code, p, pv, vx, vy, vz):
    if isinstance(tan, types.IntegerLiteral) and tan.literal_value == RARE:
        return lambda tan, code, p, pv, vx, vy, vz: _rare_s2x(code, p, pv, vx, vy, vz)
    return lambda tan, code, p, pv, vx, vy, vz: (NAN, NAN)


# --------------------------------------------------------------------------
# dispatch
# --------------------------------------------------------------------------


@inline_kernel
def tan_x2s(X, Y):
    """TAN (gnomonic) plane -> native unit vector (C&G eq. 54).

    Also called alone (``wcs._native``'s selectors) for calls whose WCS are
    all TAN, so that they compile none of the other projections."""
    nx = -Y
    ny = X
    nz = R2D
    n = math.sqrt(nx * nx + ny * ny + nz * nz)
    return nx / n, ny / n, nz / n


@kernel
def tan_s2x(vx, vy, vz):
    """Native unit vector -> TAN plane (only the hemisphere in front of the plane); see :func:`tan_x2s`.

    An ordinary call, not inlined: IR-inlined through ``wcs._native``'s
    selector overload, its branch made Numba's SSA pass warn
    (``NumbaIRAssumptionWarning``); LLVM inlines it anyway."""
    if vz <= 0.0:
        return NAN, NAN
    return R2D * vy / vz, -R2D * vx / vz


@kernel
def plane_to_native(code, p, o, X, Y, tan):
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
    tan : int
        The chain's flag (a literal): ``RARE`` compiles XPH and the quad
        cubes in (see :func:`rare_x2s`); with any other value they give NaN.

    Returns
    -------
    vx, vy, vz : float
        Native unit vector, NaN outside the projection's domain.
    """
    pv = o + W_PV
    if code == TAN:
        return tan_x2s(X, Y)
    elif code == SIN:  # with optional slant (xi, eta) = (PV2_1, PV2_2)
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
    elif code == ARC:  # C&G eq. 60
        R = math.sqrt(X * X + Y * Y)
        if R > 180.0:
            if R > 180.0 + TOL:
                return NAN, NAN, NAN
            return -Y / R, X / R, -1.0
        return _zenithal_vec(R * D2R, X, Y, R)
    elif code == ZEA:  # C&G eq. 69
        x = X * D2R
        y = Y * D2R
        q = x * x + y * y
        if q > 4.0:
            if q > 4.0 + 1e-12:
                return NAN, NAN, NAN
            q = 4.0
        f = math.sqrt(1.0 - 0.25 * q)
        return -y * f, x * f, 1.0 - 0.5 * q
    elif code == STG:  # C&G eq. 58
        x = 0.5 * X * D2R
        y = 0.5 * Y * D2R
        s = x * x + y * y
        d = 1.0 + s
        return -2.0 * y / d, 2.0 * x / d, (1.0 - s) / d
    elif code == AZP:
        return _azp_x2s(p, pv, X, Y)
    elif code == SZP:
        return _szp_x2s(p, pv, X, Y)
    elif code == ZPN:
        return _zpn_x2s(p, pv, X, Y)
    elif code == AIR:
        return _air_x2s(p, pv, X, Y)
    elif code == CAR:  # C&G eq. 84
        if abs(Y) > 90.0 + TOL:
            return NAN, NAN, NAN
        phi = _check_phi(X)
        if phi != phi:
            return NAN, NAN, NAN
        return _vec_from_angles(phi, max(-90.0, min(90.0, Y)))
    elif code == CEA:  # C&G eq. 80, lambda = PV2_1
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
    elif code == MER:  # C&G eq. 87
        phi = _check_phi(X)
        if phi != phi:
            return NAN, NAN, NAN
        theta = 2.0 * math.atan(math.exp(Y * D2R)) * R2D - 90.0
        return _vec_from_angles(phi, theta)
    elif code == CYP:  # C&G Sect. 5.2.1
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
    elif code == SFL:  # C&G eq. 90
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
    elif code == PAR:  # C&G Sect. 5.3.2
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
    elif code == MOL:  # C&G Sect. 5.3.3
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
    elif code == AIT:  # C&G eq. 101
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
    elif code >= COP and code <= COO:
        return _conic_x2s(code, p, pv, X, Y)
    elif code == HPX:
        return _hpx_x2s(p, pv, X, Y)
    elif code > HPX:
        return rare_x2s(tan, code, p, pv, X, Y)
    return NAN, NAN, NAN


@kernel
def native_to_plane(code, p, o, vx, vy, vz, tan):
    """Project a native unit vector to ``(X, Y)`` in degrees (NaN if invalid).

    Parameters are as for :func:`plane_to_native`.
    """
    pv = o + W_PV
    if code == TAN:
        return tan_s2x(vx, vy, vz)
    elif code == SIN:
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
    elif code == ARC:
        rho = math.sqrt(vx * vx + vy * vy)
        if rho == 0.0:
            if vz > 0:
                return 0.0, 0.0
            return 0.0, -180.0  # the antipode maps to the R = 180 circle; take phi = 0
        R = math.atan2(rho, vz) * R2D
        return R * vy / rho, -R * vx / rho
    elif code == ZEA:  # R = 2 r0 sin(colat / 2) = r0 sqrt(2 (1 - sin theta))
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
    elif code == STG:  # R = 2 r0 tan(colat / 2)
        if vz > 0.0:
            f = 2.0 * R2D / (1.0 + vz)
            return f * vy, -f * vx
        rho = math.sqrt(vx * vx + vy * vy)
        if rho == 0.0:  # the antipode is at infinity
            return NAN, NAN
        f = 2.0 * R2D * (1.0 - vz) / (rho * rho)
        return f * vy, -f * vx
    elif code == AZP:
        return _azp_s2x(p, pv, vx, vy, vz)
    elif code == SZP:
        return _szp_s2x(p, pv, vx, vy, vz)
    elif code == ZPN:
        return _zpn_s2x(p, pv, vx, vy, vz)
    elif code == AIR:
        return _air_s2x(p, pv, vx, vy, vz)
    elif code == CAR:
        phi, theta = _angles_from_vec(vx, vy, vz)
        return phi, theta
    elif code == CEA:
        lam = p[pv + 1]
        phi = math.atan2(vy, vx) * R2D
        return phi, R2D * vz / lam
    elif code == MER:
        phi, theta = _angles_from_vec(vx, vy, vz)
        if abs(theta) >= 90.0:
            return NAN, NAN
        return phi, R2D * math.log(math.tan((90.0 + theta) * 0.5 * D2R))
    elif code == CYP:  # C&G Sect. 5.2.1
        mu = p[pv + 1]
        lam = p[pv + 2]
        rho = math.sqrt(vx * vx + vy * vy)
        d = mu + rho
        if d == 0.0:
            return NAN, NAN
        return lam * math.atan2(vy, vx) * R2D, R2D * (mu + lam) * vz / d
    elif code == SFL:
        phi, theta = _angles_from_vec(vx, vy, vz)
        return phi * math.cos(theta * D2R), theta
    elif code == PAR:  # C&G Sect. 5.3.2
        phi, theta = _angles_from_vec(vx, vy, vz)
        s = math.sin(theta * D2R / 3.0)
        return phi * (1.0 - 4.0 * s * s), 180.0 * s
    elif code == MOL:  # C&G Sect. 5.3.3
        rho = math.sqrt(vx * vx + vy * vy)
        cg, sg = _mol_gamma(vz, rho)
        phi = math.atan2(vy, vx) * R2D
        return 2.0 * SQRT2 / math.pi * phi * cg, SQRT2 * R2D * sg
    elif code == AIT:
        phi, theta = _angles_from_vec(vx, vy, vz)
        ct = math.cos(theta * D2R)
        hp = 0.5 * phi * D2R
        g = R2D * math.sqrt(2.0 / (1.0 + ct * math.cos(hp)))
        return 2.0 * g * ct * math.sin(hp), g * math.sin(theta * D2R)
    elif code >= COP and code <= COO:
        return _conic_s2x(code, p, pv, vx, vy, vz)
    elif code == HPX:
        return _hpx_s2x(p, pv, vx, vy, vz)
    elif code > HPX:
        return rare_s2x(tan, code, p, pv, vx, vy, vz)
    return NAN, NAN
