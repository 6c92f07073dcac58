"""Quad-cube projections TSC, CSC and QSC (C&G 2002, section 5.6): plane <-> native unit vector.

The sphere is projected onto the six faces of a cube, numbered as in C&G
section 5.6: face 0 is centred on the native north pole, faces 1-4 on the
equator at native longitudes 0, 90, 180 and 270 degrees, face 5 on the south
pole.  In the plane the faces are squares of 90 x 90 degrees centred on
``(0, 90)``, ``(0, 0)``, ``(90, 0)``, ``(180, 0)``, ``(270, 0)`` and
``(0, -90)``; the equatorial strip also repeats to the left, so the plane
domain is ``|x| <= 45, |y| <= 135`` plus ``|x| <= 315, |y| <= 45`` (wcslib's
layout, as astropy exposes it).  Everything else in the plane is blank
(NaN), like the empty corners of the cube's net.

On each face, the direction cosines ``(l, m, n)`` of the native unit vector
are permuted into face coordinates ``(xi, eta, zeta)`` (C&G section 5.6.1):
``zeta`` along the face's centre, ``xi`` and ``eta`` along its plane
``x`` and ``y``.  A point belongs to the face of largest ``zeta`` (ties go to
the lower face number, as in wcslib).  The three projections differ only in
how ``(xi, eta, zeta)`` map to the face's plane offsets ``(x', y')``:

* TSC, tangential spherical cube (C&G section 5.6.1): the gnomonic
  projection, ``x' = 45 xi / zeta``;
* CSC, COBE quadrilateralized spherical cube (section 5.6.2): the
  polynomial approximations of Chan & O'Neill (1975) to an equal-area
  mapping, forward and inverse with their published coefficients (as
  wcslib evaluates them, but in double precision where wcslib uses single
  precision; they are not exact inverses of each other: a round trip
  plane -> sphere -> plane moves points by up to ~1.3e-2 degrees, in wcslib
  as here);
* QSC, quadrilateralized spherical cube (section 5.6.3; O'Neill &
  Laubscher 1976): an exact equal-area mapping.

References
----------
Calabretta, M. R. & Greisen, E. W. 2002, A&A 395, 1077, section 5.6.
Chan, F. K. & O'Neill, E. M. 1975, Feasibility study of a quadrilateralized
    spherical cube Earth data base, Tech. Rep. EPRF 2-75 (CSC).
O'Neill, E. M. & Laubscher, R. E. 1976, NEPRF Tech. Rep. 3-76 (QSC).
"""

import math

from ..kernels._jit import inline_kernel, kernel
from ._proj_base import CSC, NAN, QSC

SQRT1_2 = math.sqrt(0.5)
R2D_15 = 180.0 / math.pi / 15.0  # radians -> units of 15 degrees
D2R_15 = math.pi / 12.0  # units of 15 degrees -> radians

# CSC forward (sphere -> plane), C&G section 5.6.2 (Chan & O'Neill 1975)
GSTAR = 1.37484847732
MM = 0.004869491981
GAMMA = -0.13161671474
OMEGA1 = -0.159596235474
D0 = 0.0759196200467
D1 = -0.0217762490699
C00 = 0.141189631152
C10 = 0.0809701286525
C01 = -0.281528535557
C11 = 0.15384112876
C20 = -0.178251207466
C02 = 0.106959469314

# CSC inverse (plane -> sphere), C&G section 5.6.2: Pij multiplies X^2i Y^2j
P00, P10, P20, P30, P40, P50, P60 = (
    -0.27292696, -0.07629969, -0.22797056, 0.54852384, -0.62930065, 0.25795794, 0.02584375,
)  # fmt: skip
P01, P11, P21, P31, P41, P51 = -0.02819452, -0.01471565, 0.48051509, -1.74114454, 1.71547508, -0.53022337
P02, P12, P22, P32, P42 = 0.27058160, -0.56800938, 0.30803317, 0.98938102, -0.83180469
P03, P13, P23, P33 = -0.60441560, 1.50880086, -0.93678576, 0.08693841
P04, P14, P24 = 0.93412077, -1.41601920, 0.33887446
P05, P15 = -0.63915306, 0.52032238
P06 = 0.14381585


@inline_kernel
def _face_of_vector(vl, vm, vn):
    """Face number (0-5) and face coordinates ``(xi, eta, zeta)`` of a unit vector
    ``(l, m, n)`` (C&G section 5.6.1)."""
    face = 0
    zeta = vn
    if vl > zeta:
        face = 1
        zeta = vl
    if vm > zeta:
        face = 2
        zeta = vm
    if -vl > zeta:
        face = 3
        zeta = -vl
    if -vm > zeta:
        face = 4
        zeta = -vm
    if -vn > zeta:
        face = 5
        zeta = -vn
    if face == 0:
        return face, vm, -vl, zeta
    elif face == 1:
        return face, vm, vn, zeta
    elif face == 2:
        return face, -vl, vn, zeta
    elif face == 3:
        return face, -vm, vn, zeta
    elif face == 4:
        return face, vl, vn, zeta
    return face, vm, vl, zeta


@inline_kernel
def _vector_of_face(face, xi, eta, zeta):
    """Inverse of :func:`_face_of_vector`: ``(l, m, n)`` from face coordinates."""
    if face == 0:
        return -eta, xi, zeta
    elif face == 1:
        return zeta, xi, eta
    elif face == 2:
        return -xi, zeta, eta
    elif face == 3:
        return -zeta, -xi, eta
    elif face == 4:
        return xi, -zeta, eta
    return eta, xi, -zeta


@inline_kernel
def _plane_face(X, Y):
    """Face of a plane point and its offsets from the face centre, in units of 45 degrees.

    Returns ``(face, xf, yf)``, ``face = -1`` outside the cube's net.
    """
    xf = X / 45.0
    yf = Y / 45.0
    if abs(xf) <= 1.0:
        if abs(yf) > 3.0:
            return -1, NAN, NAN
    elif abs(xf) > 7.0 or abs(yf) > 1.0:
        return -1, NAN, NAN
    if xf < -1.0:  # the equatorial strip repeats to the left
        xf += 8.0
    if xf > 5.0:
        return 4, xf - 6.0, yf
    if xf > 3.0:
        return 3, xf - 4.0, yf
    if xf > 1.0:
        return 2, xf - 2.0, yf
    if yf > 1.0:
        return 0, xf, yf - 2.0
    if yf < -1.0:
        return 5, xf, yf + 2.0
    return 1, xf, yf


@inline_kernel
def _face_centre(face):
    """Plane coordinates (degrees) of a face's centre."""
    if face == 0:
        return 0.0, 90.0
    if face == 5:
        return 0.0, -90.0
    return 90.0 * (face - 1), 0.0


@kernel
def _csc_inverse_axis(a, b):
    """CSC plane -> gnomonic face coordinate along ``a`` (C&G section 5.6.2): ``a, b`` in units of 45 degrees."""
    aa = a * a
    bb = b * b
    z0 = P00 + aa * (P10 + aa * (P20 + aa * (P30 + aa * (P40 + aa * (P50 + aa * P60)))))
    z1 = P01 + aa * (P11 + aa * (P21 + aa * (P31 + aa * (P41 + aa * P51))))
    z2 = P02 + aa * (P12 + aa * (P22 + aa * (P32 + aa * P42)))
    z3 = P03 + aa * (P13 + aa * (P23 + aa * P33))
    z4 = P04 + aa * (P14 + aa * P24)
    z5 = P05 + aa * P15
    s = z0 + bb * (z1 + bb * (z2 + bb * (z3 + bb * (z4 + bb * (z5 + bb * P06)))))
    return a + a * (1.0 - aa) * s


@kernel
def _csc_forward_axis(c, d):
    """Gnomonic face coordinates ``(c, d)`` -> CSC plane coordinate along ``c`` (C&G section 5.6.2), units of 45 degrees."""
    c2 = c * c
    d2 = d * d
    c2co = 1.0 - c2
    d2co = 1.0 - d2
    poly = C00 + C10 * c2 + C01 * d2 + C11 * c2 * d2 + C20 * c2 * c2 + C02 * d2 * d2
    inner = GSTAR + d2 * (GAMMA * c2co + MM * c2 + d2co * poly) + c2 * (OMEGA1 - c2co * (D0 + D1 * c2))
    return c * (c2 + c2co * inner)


@kernel
def _qsc_inverse_face(xf, yf):
    """QSC face offsets (units of 45 degrees) -> face coordinates ``(xi, eta, zeta)`` (C&G section 5.6.3)."""
    if xf == 0.0 and yf == 0.0:
        return 0.0, 0.0, 1.0
    if abs(xf) >= abs(yf):
        a, b = xf, yf
    else:
        a, b = yf, xf
    r = b / a  # in [-1, 1]
    w = D2R_15 * r
    omega = math.sin(w) / (math.cos(w) - SQRT1_2)
    t = a * a * (1.0 - 1.0 / math.sqrt(2.0 + omega * omega))  # 1 - zeta
    if t > 2.0:
        t = 2.0
    s = math.copysign(math.sqrt(t * (2.0 - t) / (1.0 + omega * omega)), a)
    if abs(xf) >= abs(yf):
        return s, omega * s, 1.0 - t
    return omega * s, s, 1.0 - t


@kernel
def _qsc_forward_face(xi, eta, zeta):
    """QSC face coordinates -> face offsets in units of 45 degrees (C&G section 5.6.3)."""
    if xi == 0.0 and eta == 0.0:
        return 0.0, 0.0
    t = (xi * xi + eta * eta) / (1.0 + zeta)  # 1 - zeta without cancellation
    if abs(xi) >= abs(eta):
        a, b = xi, eta
    else:
        a, b = eta, xi
    omega = b / a
    u = math.sqrt(t / (1.0 - 1.0 / math.sqrt(2.0 + omega * omega)))
    v = u * R2D_15 * (math.atan(omega) - math.asin(omega / math.sqrt(2.0 * (1.0 + omega * omega))))
    if a < 0.0:
        u = -u
        v = -v
    if abs(xi) >= abs(eta):
        return u, v
    return v, u


@kernel
def quadcube_x2s(code, X, Y):
    """TSC, CSC or QSC plane ``(X, Y)`` (degrees) -> native unit vector (NaN off the cube's net).

    Parameters
    ----------
    code : int
        ``TSC``, ``CSC`` or ``QSC`` (see ``_layout.PROJ_CODES``; any code but
        CSC and QSC is evaluated as TSC).
    X, Y : float
        Projection-plane coordinates in degrees.

    Returns
    -------
    vx, vy, vz : float
        Native unit vector ``(l, m, n)``.
    """
    face, xf, yf = _plane_face(X, Y)
    if face < 0:
        return NAN, NAN, NAN
    if code == QSC:
        xi, eta, zeta = _qsc_inverse_face(xf, yf)
        return _vector_of_face(face, xi, eta, zeta)
    if code == CSC:
        c = _csc_inverse_axis(xf, yf)
        d = _csc_inverse_axis(yf, xf)
    else:
        c = xf
        d = yf
    zeta = 1.0 / math.sqrt(1.0 + c * c + d * d)
    return _vector_of_face(face, c * zeta, d * zeta, zeta)


@kernel
def quadcube_s2x(code, vx, vy, vz):
    """Native unit vector -> TSC, CSC or QSC plane ``(X, Y)`` in degrees; see :func:`quadcube_x2s`."""
    face, xi, eta, zeta = _face_of_vector(vx, vy, vz)
    if code == QSC:
        xf, yf = _qsc_forward_face(xi, eta, zeta)
    else:
        c = xi / zeta
        d = eta / zeta
        if code == CSC:
            xf = _csc_forward_axis(c, d)
            yf = _csc_forward_axis(d, c)
        else:
            xf = c
            yf = d
    x0, y0 = _face_centre(face)
    return x0 + 45.0 * xf, y0 + 45.0 * yf
