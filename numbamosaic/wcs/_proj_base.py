"""Shared pieces of the native projections: constants, projection codes and unit-vector helpers.

The projection codes of :data:`~numbamosaic.wcs._layout.PROJ_CODES` are
module constants here (``code == COP`` rather than ``code == 201``): Numba
freezes global integers at compile time, so the comparisons compile exactly as
with literals.
"""

import math

from ..kernels._jit import kernel
from ._layout import N_PV_COEF, PROJ_CODES

R2D = 180.0 / math.pi
D2R = math.pi / 180.0
NAN = math.nan
TOL = 1e-13  # wcslib's tolerance on bounds (degrees or radians, as there)
POLE_EPS = 1e-15  # native vectors this close (radians) to a pole are on it
SQRT2 = math.sqrt(2.0)

# derived-constant slots (relative to the PV block)
_D = N_PV_COEF

# projection codes (see _layout.PROJ_CODES; GLS is evaluated as SFL)
TAN = PROJ_CODES["TAN"]
SIN = PROJ_CODES["SIN"]
ARC = PROJ_CODES["ARC"]
ZEA = PROJ_CODES["ZEA"]
STG = PROJ_CODES["STG"]
AZP = PROJ_CODES["AZP"]
SZP = PROJ_CODES["SZP"]
ZPN = PROJ_CODES["ZPN"]
AIR = PROJ_CODES["AIR"]
CAR = PROJ_CODES["CAR"]
CEA = PROJ_CODES["CEA"]
MER = PROJ_CODES["MER"]
CYP = PROJ_CODES["CYP"]
SFL = PROJ_CODES["SFL"]
PAR = PROJ_CODES["PAR"]
MOL = PROJ_CODES["MOL"]
AIT = PROJ_CODES["AIT"]
COP = PROJ_CODES["COP"]
COE = PROJ_CODES["COE"]
COD = PROJ_CODES["COD"]
COO = PROJ_CODES["COO"]
HPX = PROJ_CODES["HPX"]
XPH = PROJ_CODES["XPH"]
TSC = PROJ_CODES["TSC"]
CSC = PROJ_CODES["CSC"]
QSC = PROJ_CODES["QSC"]
BON = PROJ_CODES["BON"]


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
