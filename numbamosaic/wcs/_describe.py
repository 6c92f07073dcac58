"""Compile an astropy WCS into the flat numeric description kernels evaluate.

:func:`describe_wcs` returns a :class:`NativeWCS` (the float64 vector plus the
celestial frame) or raises :class:`UnsupportedWCS` when the WCS needs
something the native engine does not implement (gwcs, lookup-table
distortions, unusual projections...); callers then fall back to astropy.

References
----------
Calabretta, M. R. & Greisen, E. W. 2002, A&A 395, 1077 (C&G):
    projections (section 5) and the native -> celestial rotation (section 2.3,
    eq. 2, with the pole (alpha_p, delta_p) of eqs. 8-10).
Shupe, D. L. et al. 2005, ASP Conf. Ser. 347, 491: the SIP convention.
The TPV convention: FITS WCS registry, "TPV: the TAN projection with
    distortion polynomial" (https://fits.gsfc.nasa.gov/registry/tpvwcs.html);
    wcslib ``dis.c`` (Calabretta).
"""

from dataclasses import dataclass

import numpy as np

from ._layout import (
    PV_X0,
    PV_Y0,
    N_PV,
    PROJ_CODES,
    SIP_BLOCK,
    SIP_MAX_ORDER,
    W_CODE,
    W_CRPIX,
    W_M,
    W_MINV,
    W_PV,
    W_ROT,
    W_SIP,
    W_SIPC,
    W_SIPD,
    W_SIPORD,
    W_TPV,
    W_TPVC,
    W_TPVORD,
    W_TPVR,
    W_TPVTOL,
    WCS_LEN,
)
from ._errors import UnsupportedWCS
from ._points import pixel_to_world_array
from ._parameters import NATIVE_PROJECTIONS, default_pv, derived_parameters, native_reference


@dataclass
class NativeWCS:
    """A celestial WCS compiled for the kernels.

    Attributes
    ----------
    vector : ndarray
        float64 vector of length ``WCS_LEN`` (see ``_layout``).
    frame : astropy frame instance
        Celestial frame of the world coordinates.
    projection : str
        Three-letter FITS projection code.
    """

    vector: np.ndarray
    frame: object
    projection: str


def _rotation_native_to_celestial(alpha0, delta0, phi0, theta0, phip, deltap):
    """3x3 rotation taking native unit vectors to celestial ones (C&G eq. 2).

    ``alpha_p`` is solved from the requirement that the native fiducial point
    ``(phi0, theta0)`` lands on ``(alpha0, delta0)`` (equivalent to C&G eq. 10
    but without dividing by cos(delta0)).
    """
    d2r = np.pi / 180
    if theta0 == 90.0:
        alphap = alpha0
        deltap = delta0
    else:
        st0, ct0 = np.sin(theta0 * d2r), np.cos(theta0 * d2r)
        sdp, cdp = np.sin(deltap * d2r), np.cos(deltap * d2r)
        dphi = (phi0 - phip) * d2r
        alphap = alpha0 - np.degrees(
            np.arctan2(-ct0 * np.sin(dphi), st0 * cdp - ct0 * sdp * np.cos(dphi))
        )

    def nat2cel(phi, theta):
        t, dp, dph = theta * d2r, deltap * d2r, (phi - phip) * d2r
        a = alphap * d2r + np.arctan2(
            -np.cos(t) * np.sin(dph), np.sin(t) * np.cos(dp) - np.cos(t) * np.sin(dp) * np.cos(dph)
        )
        d = np.arcsin(np.clip(np.sin(t) * np.sin(dp) + np.cos(t) * np.cos(dp) * np.cos(dph), -1, 1))
        return np.array([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)])

    cols = [nat2cel(0.0, 0.0), nat2cel(90.0, 0.0), nat2cel(0.0, 90.0)]
    R = np.stack(cols, axis=1)
    # re-orthonormalise (removes rounding in the three evaluations)
    u, _, vt = np.linalg.svd(R)
    return u @ vt


def celestial_frame(wcs):
    """Astropy celestial frame of a FITS WCS, or raise UnsupportedWCS."""
    from astropy.wcs.utils import wcs_to_celestial_frame

    try:
        return wcs_to_celestial_frame(wcs)
    except Exception as exc:  # pragma: no cover - depends on astropy internals
        raise UnsupportedWCS(f"unknown celestial frame: {exc}") from exc


def describe_wcs(wcs):
    """Compile a 2-D celestial :class:`astropy.wcs.WCS` into a :class:`NativeWCS`.

    Parameters
    ----------
    wcs : astropy.wcs.WCS

    Raises
    ------
    UnsupportedWCS
        If any part of the WCS is outside what the native engine evaluates.
    """
    from astropy.wcs import WCS

    if not isinstance(wcs, WCS):
        raise UnsupportedWCS("not an astropy.wcs.WCS")
    if wcs.naxis != 2 or not wcs.has_celestial:
        raise UnsupportedWCS("native engine needs a 2-D celestial WCS")
    if any(getattr(wcs, a, None) is not None for a in ("cpdis1", "cpdis2", "det2im1", "det2im2")):
        raise UnsupportedWCS("lookup-table distortions")
    w = wcs.wcs
    w.set()
    lng, lat = w.lng, w.lat
    if lng < 0 or lat < 0:
        raise UnsupportedWCS("no celestial axis pair")
    ctype = [str(c) for c in w.ctype]
    code_name = ctype[lng][5:8]
    lat_code = ctype[lat][5:8]
    if code_name == "GLS" and lat_code == "GLS":
        # wcslib evaluates GLS as SFL with the fiducial point at (0, CRVAL_lat)
        # and a plane offset (AIPS convention); both are read from wcslib below
        code_name = lat_code = "SFL"
    for c in ctype:
        if len(c) > 8 and c[8:] not in ("-SIP",):
            raise UnsupportedWCS(f"CTYPE {c!r} carries a distortion code")
    if code_name not in NATIVE_PROJECTIONS:
        raise UnsupportedWCS(f"projection {code_name!r} is not native")
    if lat_code != code_name:
        raise UnsupportedWCS("mismatched projection codes")
    for i in (lng, lat):
        unit = str(w.cunit[i])
        if unit not in ("deg", ""):
            raise UnsupportedWCS(f"celestial unit {unit!r}")
    pvs = w.get_pv()
    if code_name == "BON" and not any(i - 1 == lat and m == 1 and val != 0.0 for i, m, val in pvs):
        code_name = "SFL"  # BON with theta_1 = 0 is Sanson-Flamsteed (as wcslib evaluates it)
    pv = default_pv(code_name)
    for i, m, val in pvs:
        if i - 1 == lng:
            # PV_lng_0..2 place the fiducial point (read from wcslib below);
            # 3 and 4 are LONPOLE and LATPOLE, which wcslib already applied
            if not 0 <= m <= 4:
                raise UnsupportedWCS(f"PV{i}_{m} on the longitude axis")
            continue
        if i - 1 == lat:
            if not 0 <= m < len(pv):
                raise UnsupportedWCS(f"PV{i}_{m}: only PV_0..PV_{len(pv) - 1} are evaluated natively")
            pv[m] = float(val)
    frame = celestial_frame(wcs)

    vec = np.zeros(WCS_LEN, dtype=np.float64)
    vec[W_CODE] = PROJ_CODES[code_name]
    vec[W_CRPIX] = w.crpix[0] - 1.0
    vec[W_CRPIX + 1] = w.crpix[1] - 1.0
    M = np.asarray(wcs.pixel_scale_matrix, dtype=float)[[lng, lat], :]
    if not np.all(np.isfinite(M)) or abs(np.linalg.det(M)) == 0:
        raise UnsupportedWCS("singular pixel scale matrix")
    vec[W_M : W_M + 4] = M.ravel()
    vec[W_MINV : W_MINV + 4] = np.linalg.inv(M).ravel()

    sip = wcs.sip
    vec[W_SIPORD : W_SIPORD + 4] = -1
    if sip is not None:
        vec[W_SIP] = 1.0
        # astropy's Sip carries its own reference pixel: A and B are
        # polynomials of the offset from it, not from CRPIX
        vec[W_SIPD : W_SIPD + 2] = np.asarray(w.crpix, float) - np.asarray(sip.crpix, float)
        for k, coeff in enumerate((sip.a, sip.b, sip.ap, sip.bp)):
            if coeff is None:
                continue
            coeff = np.asarray(coeff, dtype=float)
            order = coeff.shape[0] - 1
            if order > SIP_MAX_ORDER:
                raise UnsupportedWCS(f"SIP order {order} > {SIP_MAX_ORDER}")
            block = np.zeros((SIP_MAX_ORDER + 1, SIP_MAX_ORDER + 1))
            block[: order + 1, : order + 1] = coeff
            vec[W_SIPORD + k] = order
            vec[W_SIPC + k * SIP_BLOCK : W_SIPC + (k + 1) * SIP_BLOCK] = block.ravel()

    if code_name == "TAN":
        tpv = tpv_coefficients(wcs)
        if tpv is not None:
            if not w.has_cd() and not np.all(np.asarray(w.cdelt, float)[[lng, lat]] == 1.0):
                # wcslib maps TPV with PC + CDELT (rather than CD) headers
                # differently from the TPV document; real TPV headers use CD
                raise UnsupportedWCS("TPV with CDELT != 1 (PC + CDELT header)")
            _set_tpv(vec, tpv, M)

    pvarr = np.zeros(N_PV)
    pvarr[: len(pv)] = pv
    derived_parameters(code_name, pvarr)
    vec[W_PV : W_PV + N_PV] = pvarr

    phi0, theta0 = native_reference(code_name, pvarr)
    cel = getattr(w, "cel", None)
    if cel is not None:
        # wcslib's fiducial point and plane offset: they differ from the
        # projection's defaults when PV_lng_0..2 (or GLS) move the fiducial point
        phi0, theta0 = float(cel.phi0), float(cel.theta0)
        if cel.offset:
            vec[W_PV + PV_X0] = float(cel.prj.x0)
            vec[W_PV + PV_Y0] = float(cel.prj.y0)
    elif any(i - 1 == lng for i, _, _ in pvs):
        raise UnsupportedWCS("PV parameters on the longitude axis (this astropy does not expose wcslib's celprm)")
    alpha0, delta0 = float(w.crval[lng]), float(w.crval[lat])
    R = _rotation_native_to_celestial(alpha0, delta0, phi0, theta0, float(w.lonpole), float(w.latpole))
    vec[W_ROT : W_ROT + 9] = R.ravel()
    nw = NativeWCS(vec, frame, code_name)
    _check_against_wcslib(wcs, nw)
    _check_pixel_to_world(wcs, nw)
    return nw


#: TPV term index -> (degree, position within the degree) of x**(deg-pos) y**pos
#: (xi; eta swaps x and y); the radial terms r, r^3, r^5, r^7 sit at 3, 11, 23, 39
TPV_RADIAL = {3: 0, 11: 1, 23: 2, 39: 3}


def _tpv_index():
    table = {}
    k = 0
    for deg in range(8):
        for pos in range(deg + 1):
            table[k] = (deg, pos)
            k += 1
        if k in TPV_RADIAL:
            k += 1
    return table


TPV_TERMS = _tpv_index()


def tpv_coefficients(wcs):
    """TPV coefficients ``(pv1[40], pv2[40])`` of a WCS, or None without TPV.

    wcslib turns ``RA---TPV`` (and the older SCAMP ``RA---TAN`` with
    ``PVi_m`` on both axes) into a plain TAN projection plus a distortion
    that astropy does not expose; its header writer (``wcshdo``) writes the
    TPV keywords back, with 15 significant digits.  Absent coefficients are
    zero, as in wcslib (``PVi_1`` too).
    """
    text = wcs.wcs.to_header()
    if "-TPV'" not in text:
        return None
    lng, lat = wcs.wcs.lng, wcs.wcs.lat
    out = np.zeros((2, 40))
    # wcshdo writes fixed 80-character cards; a full FITS header parse costs ms
    for c in range(0, len(text), 80):
        card = text[c : c + 80]
        key = card[:8].strip()
        if not (key.startswith("PV") and "_" in key and card[8:10] == "= "):
            continue
        i, m = key[2:].split("_", 1)
        if not (i.isdigit() and m.isdigit()):
            continue
        i, m = int(i) - 1, int(m)
        if i not in (lng, lat):
            continue
        if m >= 40:
            raise UnsupportedWCS(f"TPV coefficient {key} beyond PVi_39")
        out[0 if i == lng else 1, m] = float(card[10:].split("/", 1)[0])
    return out


def _set_tpv(vec, tpv, M):
    """Store TPV coefficients as two 10x10 monomial blocks plus radial terms."""
    vec[W_TPV] = 1.0
    for ax in (0, 1):
        block = np.zeros((SIP_MAX_ORDER + 1, SIP_MAX_ORDER + 1))
        order = 0
        for k in range(40):
            c = tpv[ax, k]
            if c == 0.0:
                continue
            if k in TPV_RADIAL:
                vec[W_TPVR + 4 * ax + TPV_RADIAL[k]] = c
                continue
            deg, pos = TPV_TERMS[k]
            i, j = deg - pos, pos  # xi: x**(deg-pos) y**pos
            if ax == 1:
                i, j = j, i  # eta: y**(deg-pos) x**pos
            block[i, j] = c
            order = max(order, deg)
        vec[W_TPVORD + ax] = order
        vec[W_TPVC + ax * SIP_BLOCK : W_TPVC + (ax + 1) * SIP_BLOCK] = block.ravel()
    # Newton tolerance of the inverse: 1e-12 pixel in degrees
    vec[W_TPVTOL] = 1e-12 * np.sqrt(abs(np.linalg.det(M)))


def _check_pixel_to_world(wcs, nw):
    """Guard: native pixel -> world must reproduce astropy's full chain.

    wcslib folds some distortions into the linear transformation and reports
    a plain projection code (e.g. ``RA---TPV`` becomes ``RA---TAN`` with the
    TPV polynomial hidden from Python), so they cannot be detected from the
    keywords.  A 5x5 grid of pixels spanning the image (or +-2048 pixels when
    the shape is unknown) is evaluated both ways; any disagreement above
    1e-6 pixel sends the WCS to the astropy fallback.
    """
    w = wcs.wcs
    c = np.asarray(w.crpix, dtype=float) - 1.0
    shape = getattr(wcs, "pixel_shape", None)
    span = float(max(shape)) if shape else 2048.0
    t = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) * span
    X, Y = np.meshgrid(c[0] + t, c[1] + t)
    x, y = X.ravel(), Y.ravel()
    lon = np.empty_like(x)
    lat = np.empty_like(y)
    pixel_to_world_array(nw.vector, x, y, lon, lat)
    with np.errstate(all="ignore"):
        ref = wcs.all_pix2world(np.stack([x, y], axis=1), 0)
    rlon, rlat = ref[:, w.lng], ref[:, w.lat]
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(rlon) & np.isfinite(rlat)
    if not ok.any():
        return
    d2r = np.pi / 180
    a, b = np.radians(lon[ok]), np.radians(lat[ok])
    ra, rb = np.radians(rlon[ok]), np.radians(rlat[ok])
    v = np.stack([np.cos(b) * np.cos(a), np.cos(b) * np.sin(a), np.sin(b)])
    r = np.stack([np.cos(rb) * np.cos(ra), np.cos(rb) * np.sin(ra), np.sin(rb)])
    sep = np.sqrt(((v - r) ** 2).sum(axis=0)) / d2r  # degrees (chord ~ angle)
    scale = np.sqrt(abs(np.linalg.det(nw.vector[W_M : W_M + 4].reshape(2, 2))))
    err = float(sep.max()) / scale
    if err > 1e-6:
        raise UnsupportedWCS(f"native pixel->world disagrees with astropy ({err:.1e} px); hidden distortion?")


def _check_against_wcslib(wcs, nw):
    """Guard: the native rotation must reproduce wcslib's native coordinates.

    Evaluates wcslib ``s2p`` at the reference point and a few nearby sky
    positions; any disagreement (an unusual LONPOLE/LATPOLE case) sends the
    WCS to the astropy fallback instead of producing wrong pixels.
    """
    w = wcs.wcs
    lng, lat = w.lng, w.lat
    a0, d0 = float(w.crval[lng]), float(w.crval[lat])
    pts = np.array([[a0, d0], [a0 + 0.01, d0], [a0, d0 + 0.01 if d0 < 89 else d0 - 0.01]])
    world = np.zeros((3, 2))
    world[:, lng] = pts[:, 0]
    world[:, lat] = pts[:, 1]
    try:
        res = w.s2p(world, 0)
    except Exception:
        return
    phi, theta = res["phi"], res["theta"]
    ok = np.isfinite(phi) & np.isfinite(theta)
    if not ok.any():
        return
    R = nw.vector[W_ROT : W_ROT + 9].reshape(3, 3)
    d2r = np.pi / 180
    nat = np.stack(
        [np.cos(theta * d2r) * np.cos(phi * d2r), np.cos(theta * d2r) * np.sin(phi * d2r), np.sin(theta * d2r)]
    )
    cel = R @ nat
    a, d = pts[:, 0] * d2r, pts[:, 1] * d2r
    ref = np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)])
    err = np.abs(cel - ref)[:, ok].max()
    if err > 1e-10:
        raise UnsupportedWCS(f"native rotation disagrees with wcslib ({err:.1e})")
