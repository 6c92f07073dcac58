"""B-spline prefilter (quadratic and cubic) that does not spread NaN.

Interpolating with B-splines of order 2 or 3 needs the image's spline
coefficients, obtained with the recursive filter of Unser, Aldroubi & Eden
(1991, IEEE Trans. Signal Process. 39, 277; "B-spline signal processing",
1993) along each axis with mirror-symmetric boundaries, as
``scipy.ndimage.spline_filter`` does.

reproject runs scipy's filter on data containing NaN, so one blank pixel
makes the whole image NaN (reproject issue 464).  Here blank (NaN or
infinite) pixels are first
filled by linear interpolation along their row from the nearest valid
neighbours (the filter then sees a smooth surface), and the interpolation
kernel separately marks any output whose stencil touches a blank pixel as
NaN, so blanks stay confined to their stencil.
"""

import math

import numpy as np
from numba import prange

from ._entry import entry
from ._jit import kernel, parallel_kernel
from ._load import load

POLES = {2: math.sqrt(8.0) - 3.0, 3: math.sqrt(3.0) - 2.0}


@kernel
def _filter_line(c, z):
    """In-place 1-D B-spline prefilter with one pole and mirror boundaries."""
    n = c.shape[0]
    if n == 1:
        return
    gain = (1.0 - z) * (1.0 - 1.0 / z)
    for k in range(n):
        c[k] *= gain
    # causal initialisation (mirror-symmetric extension)
    horizon = int(math.ceil(math.log(1e-16) / math.log(abs(z))))
    if horizon < n:
        zn = z
        s = c[0]
        for k in range(1, horizon):
            s += zn * c[k]
            zn *= z
        c[0] = s
    else:
        zn = z
        iz = 1.0 / z
        z2n = z ** (n - 1)
        s = c[0] + z2n * c[n - 1]
        z2n *= z2n * iz
        for k in range(1, n - 1):
            s += (zn + z2n) * c[k]
            zn *= z
            z2n *= iz
        c[0] = s / (1.0 - zn * zn)
    for k in range(1, n):
        c[k] += z * c[k - 1]
    c[n - 1] = (z / (z * z - 1.0)) * (c[n - 1] + z * c[n - 2])
    for k in range(n - 2, -1, -1):
        c[k] = z * (c[k + 1] - c[k])


@kernel
def _fill_row(data, j, dst):
    """Copy row ``j``, filling non-finite values by linear interpolation between finite neighbours."""
    n = data.shape[1]
    last = -1
    for k in range(n):
        v = load(data, j, k)
        if math.isfinite(v):
            if last == -1 and k > 0:
                for m in range(k):
                    dst[m] = v
            elif last >= 0 and k - last > 1:
                a = dst[last]
                for m in range(last + 1, k):
                    t = (m - last) / (k - last)
                    dst[m] = a + (v - a) * t
            dst[k] = v
            last = k
    if last == -1:
        for m in range(n):
            dst[m] = 0.0
    else:
        a = dst[last]
        for m in range(last + 1, n):
            dst[m] = a


@entry(writes=("coef",))
@parallel_kernel
def spline_coefficients(data, coef, z):
    """Compute 2-D spline coefficients of ``data`` into ``coef`` (rows, then columns)."""
    ny, nx = data.shape
    for j in prange(ny):
        row = np.empty(nx, dtype=np.float64)
        _fill_row(data, j, row)
        _filter_line(row, z)
        for i in range(nx):
            coef[j, i] = row[i]
    # columns, in blocks of 16 for cache friendliness
    nb = (nx + 15) // 16
    for b in prange(nb):
        i0 = b * 16
        i1 = min(nx, i0 + 16)
        col = np.empty(ny, dtype=np.float64)
        for i in range(i0, i1):
            for j in range(ny):
                col[j] = coef[j, i]
            _filter_line(col, z)
            for j in range(ny):
                coef[j, i] = col[j]


def prefilter(data, order, dtype):
    """Spline coefficients (float ``dtype``) for ``order`` 2 or 3.

    Allocates one array the size of the input (counted by the planner).
    """
    coef = np.empty(data.shape, dtype=dtype)
    spline_coefficients(data, coef, POLES[order])
    return coef
