"""The image plane of a WCS: any WCS with two pixel axes, degenerate extra axes dropped.

reproject reprojects with any APE-14 WCS whose pixel axes match: celestial,
helioprojective, linear/pixel, gwcs...  numbamosaic does the same: the native
engine handles the FITS celestial WCS it can compile, and every other WCS goes
through astropy's ``pixel_to_pixel`` on a measured control grid
(:mod:`numbamosaic.wcs._transform`).

FITS headers often carry extra axes of length 1 (a frequency or Stokes axis
on a 2-D radio image).  :func:`image_plane` drops them: the WCS is reduced to
its first two pixel axes at pixel 0 of the others (``WCS.sub`` when the axes
are separable, so that the native engine still applies; astropy's
``SlicedLowLevelWCS`` otherwise).  :func:`check_extra_axes` verifies that an
input's and the output's degenerate axes describe the same plane, since
reproject maps them too (an input plane that is not the output's yields an
all-NaN result there; here it is an error naming the axis).

References
----------
Robitaille, T. et al., APE 14: "A shared Python interface for World
Coordinate Systems", https://doi.org/10.5281/zenodo.1188875
"""

import numpy as np


def pixel_n_dim(wcs):
    ll = getattr(wcs, "low_level_wcs", wcs)
    return int(getattr(ll, "pixel_n_dim", 0) or 0)


def check_two_pixel_axes(wcs, name):
    """Raise unless ``wcs`` has (after dropping degenerate axes) two pixel axes."""
    n = pixel_n_dim(wcs)
    if n < 2:
        raise ValueError(f"{name}: expected a WCS with two pixel axes, got {n}")


def _separable(ll, n):
    """True when world axes 0, 1 depend only on pixel axes 0, 1 and vice versa."""
    corr = np.asarray(ll.axis_correlation_matrix, dtype=bool)
    if corr.shape != (n, n):
        return False
    return not corr[:2, 2:].any() and not corr[2:, :2].any()


def image_plane(wcs, shape, name):
    """Reduce ``wcs`` (and the data ``shape``) to the two image axes.

    Parameters
    ----------
    wcs : astropy.wcs.WCS or APE-14 high-level WCS
    shape : tuple
        Shape of the data (or of the output) in NumPy order.
    name : str
        Argument name for error messages.

    Returns
    -------
    wcs2, shape2 : the 2-D WCS and ``shape[-2:]``.

    Raises
    ------
    ValueError
        If the WCS has fewer than two pixel axes, or an extra axis longer
        than 1 (cubes are reprojected plane by plane only by reproject).
    """
    from astropy.wcs import WCS
    from astropy.wcs.wcsapi import HighLevelWCSWrapper, SlicedLowLevelWCS

    check_two_pixel_axes(wcs, name)
    n = pixel_n_dim(wcs)
    shape = tuple(int(s) for s in shape)
    if n == 2:
        return wcs, shape
    if len(shape) not in (2, n):
        raise ValueError(f"{name}: the WCS has {n} pixel axes but the data have shape {shape}")
    lead = shape[:-2]
    if any(s != 1 for s in lead):
        raise ValueError(
            f"{name}: the WCS has {n} pixel axes and the data shape is {shape}; only the two image axes "
            "(the last two) may be longer than 1"
        )
    ll = getattr(wcs, "low_level_wcs", wcs)
    if isinstance(wcs, WCS) and _separable(wcs, n):
        w2 = wcs.sub([1, 2])
        if shape:
            w2.pixel_shape = shape[::-1][:2]
        return w2, shape[-2:]
    sliced = SlicedLowLevelWCS(ll, [0] * (n - 2) + [slice(None), slice(None)])
    if sliced.pixel_n_dim != 2:  # pragma: no cover - guarded by the shape checks
        raise ValueError(f"{name}: cannot reduce the WCS to its two image axes")
    return HighLevelWCSWrapper(sliced), shape[-2:]


def check_extra_axes(wcs_in, wcs_out, shape_out, name):
    """Raise when an input's degenerate axes do not land on the output's plane.

    Both WCS are the full (unreduced) ones.  Nothing is checked unless both
    have the same number (> 2) of pixel axes: only then does reproject map the
    extra axes.  A 3 x 3 grid of output pixels (at pixel 0 of the extra axes)
    is mapped with astropy; the input's extra-axis pixel coordinates must lie
    within half a pixel of 0, as reproject's interpolation requires.
    """
    from astropy.wcs.utils import pixel_to_pixel

    n = pixel_n_dim(wcs_out)
    if n <= 2 or pixel_n_dim(wcs_in) != n:
        return
    ny, nx = shape_out[-2:]
    gy, gx = np.meshgrid(np.linspace(0, ny - 1, 3), np.linspace(0, nx - 1, 3), indexing="ij")
    pix = [gx.ravel(), gy.ravel()] + [np.zeros(gx.size)] * (n - 2)
    with np.errstate(all="ignore"):
        try:
            res = pixel_to_pixel(wcs_out, wcs_in, *pix)
        except Exception:  # the mapping is checked again (2-D) by the transform
            return
    for k in range(2, n):
        z = np.asarray(res[k], dtype=float)
        z = z[np.isfinite(z)]
        if z.size and np.max(np.abs(z)) > 0.5:
            ll = getattr(wcs_in, "low_level_wcs", wcs_in)
            kind = ll.world_axis_physical_types[k] if k < ll.world_n_dim else "?"
            raise ValueError(
                f"{name}: its extra pixel axis {k + 1} ({kind}) does not match output_projection's: the output "
                f"plane falls on input pixel {float(z[np.argmax(np.abs(z))]):.4g} along it (reproject would return "
                "NaN everywhere)"
            )


def _is_celestial(wcs):
    """Whether the WCS's world axes are a sky-like (celestial or solar) pair."""
    ll = getattr(wcs, "low_level_wcs", wcs)
    phys = [str(t or "") for t in getattr(ll, "world_axis_physical_types", [])]
    return bool(phys) and all(t.startswith(("pos.", "custom:pos.")) for t in phys)


def check_compatible(wcs_in, wcs_out, name):
    """Raise when the two (2-D) WCS describe different kinds of world coordinates.

    As reproject's ``_validate_wcs``: a celestial input needs a celestial
    output and the reverse; other WCS must have the same number of world axes.
    """
    cin, cout = _is_celestial(wcs_in), _is_celestial(wcs_out)
    if cin != cout:
        which, other = (name, "output_projection") if not cin else ("output_projection", name)
        ll = getattr(wcs_in if not cin else wcs_out, "low_level_wcs", wcs_in if not cin else wcs_out)
        raise ValueError(
            f"{which}: the WCS is not celestial (world axes: {list(ll.world_axis_physical_types)}) but "
            f"{other}'s is; both must describe the same kind of coordinates"
        )
    nin = getattr(getattr(wcs_in, "low_level_wcs", wcs_in), "world_n_dim", None)
    nout = getattr(getattr(wcs_out, "low_level_wcs", wcs_out), "world_n_dim", None)
    if nin != nout:
        raise ValueError(f"{name}: the WCS has {nin} world axes but output_projection's has {nout}")
