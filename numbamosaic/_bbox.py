"""Bounding box of an input image in output pixels.

Like reproject, the input's edges (from -0.5 to n - 0.5) are sampled and
mapped into the output, and the box is ``floor(min + 0.5) .. ceil(max + 0.5)``
clipped to the output.  When some edge samples are not representable in the
output (all-sky or limb images), instead of falling back to the whole output
as reproject does, a coarse grid of output pixels is mapped to the input and
the box of those that land inside it (plus one grid step) is used.
"""

import math

import numpy as np

EDGE_SAMPLES = 64


def edge_samples(shape, n=EDGE_SAMPLES):
    ny, nx = shape
    t = np.linspace(0.0, 1.0, n)
    xs = -0.5 + t * nx
    ys = -0.5 + t * ny
    x = np.concatenate([xs, xs, np.full(n, -0.5), np.full(n, nx - 0.5)])
    y = np.concatenate([np.full(n, -0.5), np.full(n, ny - 0.5), ys, ys])
    return x, y


def _clip_box(xo, yo, shape_out):
    ny, nx = shape_out
    x0 = max(0, int(math.floor(np.min(xo) + 0.5)))
    x1 = min(nx, int(math.ceil(np.max(xo) + 0.5)))
    y0 = max(0, int(math.floor(np.min(yo) + 0.5)))
    y1 = min(ny, int(math.ceil(np.max(yo) + 0.5)))
    if x1 <= x0 or y1 <= y0:
        return None
    return (y0, y1, x0, x1)


def input_bbox(in_to_out, out_to_in, shape_in, shape_out):
    """Output box ``(y0, y1, x0, x1)`` covered by the input, or None if disjoint.

    Parameters
    ----------
    in_to_out, out_to_in : callables ``(x, y) -> (x', y')`` on arrays
        Input->output and output->input pixel mappings (NaN where invalid).
    """
    x, y = edge_samples(shape_in)
    xo, yo = in_to_out(x, y)
    if np.all(np.isfinite(xo)) and np.all(np.isfinite(yo)):
        return _clip_box(xo, yo, shape_out)
    ny, nx = shape_out
    step = max(1, int(max(ny, nx) // 256))
    gy, gx = np.mgrid[0 : ny + step : step, 0 : nx + step : step].astype(float)
    xi, yi = out_to_in(gx.ravel(), gy.ravel())
    nyi, nxi = shape_in
    inside = (xi >= -0.5 - step) & (xi <= nxi - 0.5 + step) & (yi >= -0.5 - step) & (yi <= nyi - 0.5 + step)
    if not inside.any():
        return None
    gxo = gx.ravel()[inside]
    gyo = gy.ravel()[inside]
    return _clip_box(
        np.array([gxo.min() - step, gxo.max() + step]), np.array([gyo.min() - step, gyo.max() + step]), shape_out
    )
