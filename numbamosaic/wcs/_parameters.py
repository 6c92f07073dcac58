"""Python side of the native projections: FITS default parameters, derived constants, native reference points.

Computed once per WCS by :func:`numbamosaic.wcs.describe_wcs`; the compiled
maths that reads them is in :mod:`._projections`.
"""

import math

import numpy as np

from ._errors import UnsupportedWCS
from ._layout import N_PV_COEF
from ._proj_base import D2R, R2D

#: projections implemented natively in this module (by FITS code).  "GLS" is
#: evaluated as SFL: wcslib places its fiducial point at (0, CRVAL_lat) with
#: a plane offset (AIPS convention), which ``describe_wcs`` reads from wcslib
#: like any fiducial point moved by PV_lng_0..2.
NATIVE_PROJECTIONS = frozenset(
    [
        "TAN", "SIN", "ARC", "ZEA", "STG", "AZP", "SZP", "ZPN", "AIR",
        "CAR", "CEA", "MER", "CYP", "SFL", "PAR", "MOL", "AIT",
        "COP", "COE", "COD", "COO", "HPX", "XPH", "TSC", "CSC", "QSC", "BON",
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

    ``pv[m]`` holds ``PVlat_m`` for m = 0..29 on entry (with FITS defaults
    applied).  Slots 30..37 are free for constants precomputed once per WCS
    (38 and 39 hold the plane offset, see ``_layout.PV_X0``):

    * AZP: r0 (mu + 1), cos(gamma), sin(gamma), tan(gamma), overlap
      latitude asin(-1/mu) (or -90), divergence-check flag;
    * SZP: zp, xp, yp (C&G Sect. 5.1.2), (zp - 1) zp - 1, divergence latitude;
    * ZPN: polynomial degree, colatitude of the first inflection (radians),
      polynomial value there;
    * AIR: ln(cos xi_b) / tan^2(xi_b);
    * conics: C, Y0, then COP r0 cos(eta), cot(theta_a); COE 2 r0 / gamma,
      1 + sin(theta_1) sin(theta_2), gamma; COD theta_a + Y0; COO psi r0;
    * BON: Y0 = r0 cot(theta_1) + theta_1;
    * HPX: 1 if K is odd.

    Raises ``UnsupportedWCS`` for parameter combinations the native code
    does not reproduce (HPX with non-integral H or K).
    """
    name = {"GLS": "SFL"}.get(code_name, code_name)
    d = N_PV_COEF
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
        c = np.array(pv[:N_PV_COEF], dtype=float)
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
    elif name == "BON":  # Y0 = r0 cot(theta_1) + theta_1 (degrees); theta_1 = 0 is described as SFL
        t1 = pv[1]
        pv[d] = R2D / math.tan(t1 * D2R) + t1
    elif name == "HPX":
        H, K = pv[1], pv[2]
        if H != round(H) or K != round(K) or H < 1 or K < 1:
            raise UnsupportedWCS("HPX with non-integral H or K")
        pv[d] = float(int(K) % 2)
    return pv


def native_reference(code_name, pv):
    """Native fiducial point ``(phi_0, theta_0)`` in degrees (C&G table 13)."""
    code = {"GLS": "SFL"}.get(code_name, code_name)
    if code in ("TAN", "SIN", "ARC", "ZEA", "STG", "AZP", "SZP", "ZPN", "AIR", "XPH"):
        return 0.0, 90.0
    if code in ("COP", "COE", "COD", "COO"):
        return 0.0, float(pv[1])
    return 0.0, 0.0


def default_pv(code_name):
    """FITS default PVlat_m values for a projection (a list of ``N_PV_COEF``).

    Conic projections have no default for theta_a (PV_1); wcslib rejects a
    conic WCS without it before this is consulted.
    """
    pv = [0.0] * N_PV_COEF
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
