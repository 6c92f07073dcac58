"""Memory layout of the flat float64 vectors that describe WCS transforms to kernels.

Kernels receive every WCS setting as a single contiguous ``float64`` array so
that one compiled signature serves every projection and the compiled code can
be cached on disk.  This module only defines offsets; it imports nothing heavy.

A *WCS vector* (length :data:`WCS_LEN`) describes one celestial FITS WCS:

=============  ====  ====================================================
offset         size  meaning
=============  ====  ====================================================
``W_CODE``     1     projection code (see :data:`PROJ_CODES`)
``W_CRPIX``    2     reference pixel, 0-based (x, y)
``W_M``        4     2x2 matrix pixel offset -> intermediate degrees,
                     rows (longitude, latitude), row-major
``W_MINV``     4     inverse of ``W_M``
``W_SIP``      1     1.0 if SIP distortion is present
``W_SIPORD``   4     orders of A, B, AP, BP (-1 when absent)
``W_PV``       40    projection parameters PV_lat_0..29 (ZPN's polynomial
                     reaches PV_29), derived values (30..37) and the plane
                     offset ``(x0, y0)`` in degrees
                     (:data:`PV_X0`, :data:`PV_Y0`; wcslib's ``prj.x0/y0``,
                     non-zero when PV_lng_0 moves the fiducial point)
``W_ROT``      9     3x3 rotation native -> celestial (row-major)
``W_SIPC``     400   SIP coefficients A, B, AP, BP as 10x10 blocks,
                     ``[p, q]`` is the coefficient of u**p v**q
``W_SIPD``     2     SIP's own reference pixel offset ``CRPIX - CRPIX_sip``
                     (astropy's ``Sip.crpix``; zero almost always): A and B
                     are evaluated at ``(u, v) + W_SIPD``
``W_TPV``      1     1.0 if the TPV polynomial is present
``W_TPVORD``   2     polynomial degree (radial terms excluded) of xi, eta
``W_TPVR``     8     radial coefficients (r, r^3, r^5, r^7) of xi, then eta
                     (PVi_3, PVi_11, PVi_23, PVi_39)
``W_TPVTOL``   1     Newton step tolerance of the TPV inverse, degrees
``W_TPVC``     200   TPV coefficients of xi and eta as two 10x10 blocks
                     like SIP's: ``[i, j]`` is the coefficient of
                     x**i y**j, x and y the intermediate world
                     coordinates in degrees
=============  ====  ====================================================

A *transform vector* (length :data:`TR_LEN`) describes the mapping from output
pixels to input pixels: a header, the output and input WCS vectors, and the
3x3 rotation from the output's native sphere to the input's native sphere.
"""

W_CODE = 0
W_CRPIX = 1
W_M = 3
W_MINV = 7
W_SIP = 11
W_SIPORD = 12
W_PV = 16
N_PV = 40
#: projection parameters PV_lat_0 .. PV_lat_(N_PV_COEF - 1) (wcslib: ZPN's PV2_0..29)
N_PV_COEF = 30
#: slots of the plane offset inside the PV block
PV_X0 = 38
PV_Y0 = 39
W_ROT = W_PV + N_PV  # 48
W_SIPC = W_ROT + 9  # 57
SIP_MAX_ORDER = 9
SIP_BLOCK = (SIP_MAX_ORDER + 1) ** 2  # 100
W_SIPD = W_SIPC + 4 * SIP_BLOCK  # 457
W_TPV = W_SIPD + 2
W_TPVORD = W_TPV + 1
W_TPVR = W_TPVORD + 2
W_TPVTOL = W_TPVR + 8
W_TPVC = W_TPVTOL + 1
TPV_MAX_ORDER = 7
WCS_LEN = W_TPVC + 2 * SIP_BLOCK  # 671

# Transform header
T_MODE = 0  # 0: native, 1: control grid
T_GX0 = 1  # control grid origin (output pixel x of grid column 0)
T_GY0 = 2
T_GSTEP = 3  # control grid spacing in output pixels
T_ROUNDTRIP = 4  # 1.0: reject points whose round trip moves > 1 output pixel
T_HEADER = 8
T_OUT = T_HEADER
T_IN = T_OUT + WCS_LEN
T_M = T_IN + WCS_LEN  # native out -> native in (3x3 row-major)
T_MT = T_M + 9  # its transpose (native in -> native out)
T_H = T_MT + 9  # 3x3 homography output pixel -> input pixel (TAN -> TAN without SIP)
TR_LEN = T_H + 9

MODE_NATIVE = 0
MODE_GRID = 1
MODE_HOMOGRAPHY = 2  # gnomonic -> gnomonic: a projective map, no trigonometry at all

# Projection codes.  Zenithal < 100, cylindrical/pseudo-cylindrical 100-199,
# conic 200-299, HEALPix 300-301, quad cubes 400-499, pseudoconic (BON) 500-.
PROJ_CODES = {
    "TAN": 1,
    "SIN": 2,
    "ARC": 3,
    "ZEA": 4,
    "STG": 5,
    "AZP": 6,
    "SZP": 7,
    "ZPN": 8,
    "AIR": 9,
    "CAR": 101,
    "CEA": 102,
    "MER": 103,
    "CYP": 104,
    "SFL": 105,
    "GLS": 105,
    "PAR": 106,
    "MOL": 107,
    "AIT": 108,
    "COP": 201,
    "COE": 202,
    "COD": 203,
    "COO": 204,
    "HPX": 300,
    "XPH": 301,
    "TSC": 401,
    "CSC": 402,
    "QSC": 403,
    "BON": 501,
}

#: projections kept out of the common projection chain (``_projections``: reached only
#: with the chain flag :data:`RARE`); their codes are the ones above HPX's
RARE_PROJECTIONS = ("XPH", "TSC", "CSC", "QSC", "BON")
RARE_CODE_MIN = PROJ_CODES["XPH"]
#: the literal value of the chain's ``tan`` flag (and of the kernels' ``hom``) that
#: compiles the rare projections in: None (TAN only), 0 (the other projections), 2
RARE = 2

#: native fiducial latitude theta_0 (degrees) for each family; conics use theta_a
ZENITHAL_MAX = 99
