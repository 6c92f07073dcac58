"""``find_optimal_celestial_wcs``: an output WCS and shape covering all inputs.

Drop-in for ``reproject.mosaicking.find_optimal_celestial_wcs`` (0.21): same
signature, defaults, accepted inputs and conventions.

* ``frame`` defaults to the first input's celestial frame; names (``'icrs'``,
  ``'galactic'``, ...), frame classes, frame instances and SkyCoords are
  accepted.  The output CTYPE/RADESYS/EQUINOX come from
  :func:`astropy.wcs.utils.celestial_frame_to_wcs`.
* ``resolution`` defaults to the smallest input pixel scale: for FITS WCS the
  scales of the linear pixel matrix, for other (APE-14) WCS the angular
  separations between the image centre ``((nx-1)/2, (ny-1)/2)`` and its +1
  neighbours along x and y.
* ``reference`` defaults to the normalised mean of the unit vectors of the
  images' reference positions (the world position of CRPIX for FITS WCS, of the
  image centre otherwise), expressed in ``frame``.
* Pixel positions of the inputs in a provisional output WCS give the extent;
  CRPIX is chosen so that the lowest position lies at (1-based) pixel 0.5 and
  the shape is ``round(max - min)`` on each axis.
* ``auto_rotate`` rotates the output pixel grid onto the minimum-area rectangle
  enclosing the inputs (own rotating-calipers implementation, no shapely), the
  angle being folded into [-45, 45) degrees.
* ``negative_lon_cdelt``: ``True``/``False``/``'auto'``; ``None`` acts as
  ``True`` and emits a DeprecationWarning when ``'auto'`` would differ.

Difference from reproject: each image contributes samples along all four
edges (from -0.5 to n - 0.5), not just its four corners, so curved edges
(SIP distortion, wide fields, projection changes) are not clipped.  Where
straight edges map to straight lines (TAN to TAN, CAR to CAR on the equator)
the result is the same as reproject's to rounding error.  Edge samples that
fall off the sky (all-sky or limb images) are dropped and replaced by a grid
of interior samples.
"""

import numbers
import warnings

import numpy as np

from .._axes import image_plane
from .._bbox import edge_samples
from ..io import check_celestial_2d, file_name, is_path, is_single_input, parse_input_shape

__all__ = ["find_optimal_celestial_wcs"]

#: samples per image edge (corners included)
EDGE_SAMPLES = 64
#: interior grid (per axis) used when some edge samples are off the sky
INTERIOR_SAMPLES = 65

_AUTO_NEGATIVE_PREFIXES = ("RA--", "GLON", "ELON", "HLON", "SLON")


# ---------------------------------------------------------------------------
# Inputs: (name, shape, high-level WCS, is_fits_wcs) per input (parsed by io.parse_input_shape)
# ---------------------------------------------------------------------------


def _parse_inputs(input_data, hdu_in):
    from astropy.wcs import WCS

    if input_data is None:
        raise ValueError("input_data: no input images given")
    if is_single_input(input_data):
        items = [input_data]
    else:
        try:
            items = list(input_data)
        except TypeError:
            raise TypeError(
                f"input_data: expected one input specification or an iterable of them, got {type(input_data).__name__}"
            ) from None
    if not items:
        raise ValueError("input_data: no input images given (empty iterable)")
    parsed = []
    for i, item in enumerate(items):
        name = "input_data" if len(items) == 1 else f"input_data[{i}]"
        shape, wcs, is_fits = parse_input_shape(item, hdu_in, name)
        if is_path(item):
            name = file_name(name, item)
        if len(shape) < 2 or shape[-1] <= 0 or shape[-2] <= 0:
            raise ValueError(f"{name}: expected a 2-D image shape, got {shape}")
        wcs, shape = image_plane(wcs, shape, name)  # degenerate extra axes dropped
        check_celestial_2d(wcs, name)
        parsed.append((name, shape[-2:], wcs, is_fits and isinstance(wcs, WCS)))
    return parsed


# ---------------------------------------------------------------------------
# Frames and projections
# ---------------------------------------------------------------------------


def _resolve_frame(frame):
    from astropy.coordinates import BaseCoordinateFrame, SkyCoord, frame_transform_graph

    if isinstance(frame, str):
        cls = frame_transform_graph.lookup_name(frame.strip().lower())
        if cls is None:
            raise ValueError(f"frame: unknown coordinate frame name {frame!r}")
        return cls()
    if isinstance(frame, SkyCoord):
        return frame.frame.replicate_without_data()
    if isinstance(frame, BaseCoordinateFrame):
        return frame.replicate_without_data() if frame.has_data else frame
    if isinstance(frame, type) and issubclass(frame, BaseCoordinateFrame):
        return frame()
    raise ValueError(f"frame: expected a frame name or coordinate frame, got {type(frame).__name__}")


def _output_template(frame, projection):
    from astropy.wcs.utils import celestial_frame_to_wcs

    if not isinstance(projection, str) or len(projection.strip()) != 3 or not projection.strip().isalnum():
        raise ValueError(f"projection: expected a three-letter FITS projection code, got {projection!r}")
    projection = projection.strip().upper()
    try:
        wcs = celestial_frame_to_wcs(frame, projection=projection)
    except ValueError as exc:
        raise ValueError(f"frame: cannot express {frame.__class__.__name__} as a FITS celestial WCS ({exc})") from None
    probe = wcs.deepcopy()
    probe.wcs.crval = [0.0, 0.0]
    try:
        probe.wcs.set()
    except Exception as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"projection: unknown or unsupported projection code {projection!r} ({msg})") from None
    return wcs


def _negative_lon(negative_lon_cdelt, ctype1):
    auto = ctype1[:4] in _AUTO_NEGATIVE_PREFIXES
    if negative_lon_cdelt is None:
        if not auto:
            warnings.warn(
                "negative_lon_cdelt is not set and currently defaults to True, but it will change to 'auto' in "
                f"future, which for this WCS (CTYPE1={ctype1!r}) will give a positive CDELT1. Set "
                "negative_lon_cdelt explicitly to 'auto', True or False.",
                DeprecationWarning,
                stacklevel=3,
            )
        return True
    if isinstance(negative_lon_cdelt, str):
        if negative_lon_cdelt != "auto":
            raise ValueError(f"negative_lon_cdelt: expected True, False or 'auto', got {negative_lon_cdelt!r}")
        return auto
    if isinstance(negative_lon_cdelt, (bool, np.bool_)):
        return bool(negative_lon_cdelt)
    raise ValueError(f"negative_lon_cdelt: expected True, False or 'auto', got {negative_lon_cdelt!r}")


def _resolution_deg(resolution):
    import astropy.units as u

    if isinstance(resolution, u.Quantity):
        try:
            value = float(resolution.to_value(u.deg))
        except u.UnitConversionError:
            raise ValueError(f"resolution: expected an angle, got a Quantity in {resolution.unit}") from None
    elif isinstance(resolution, numbers.Real):
        value = float(resolution)  # plain numbers are degrees
    else:
        raise ValueError(f"resolution: expected an angular Quantity, got {type(resolution).__name__}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"resolution: must be a positive finite angle, got {resolution!r}")
    return value


# ---------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------


def _unit_vectors(lon_deg, lat_deg):
    lon = np.radians(lon_deg)
    lat = np.radians(lat_deg)
    c = np.cos(lat)
    return np.stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)], axis=-1)


def _lonlat_deg(coord):
    from astropy.coordinates import UnitSphericalRepresentation

    sph = coord.represent_as(UnitSphericalRepresentation)
    return np.atleast_1d(sph.lon.deg).astype(float), np.atleast_1d(sph.lat.deg).astype(float)


def convex_hull(x, y):
    """Convex hull (counter-clockwise, no repeated end point) of 2-D points."""
    pts = np.unique(np.column_stack([x, y]), axis=0)  # sorted by x then y
    if len(pts) < 3:
        return pts
    span = float(np.max(np.ptp(pts, axis=0))) or 1.0
    eps = 1e-12 * span * span

    def half(points):
        chain = []
        for p in points:
            while len(chain) >= 2:
                (ax, ay), (bx, by) = chain[-2], chain[-1]
                if (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) <= eps:
                    chain.pop()
                else:
                    break
            chain.append((p[0], p[1]))
        return chain

    lower = half(pts)
    upper = half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def minimum_rectangle_angle(x, y):
    """Angle (radians, in [-pi/4, pi/4)) of the minimum-area enclosing rectangle.

    Rotating calipers: the optimal rectangle has a side collinear with a hull
    edge, so each hull edge direction is tried.
    """
    hull = convex_hull(x, y)
    if len(hull) < 3:
        if len(hull) == 2:
            d = hull[1] - hull[0]
            theta = np.arctan2(d[1], d[0])
        else:
            return 0.0
    else:
        edges = np.roll(hull, -1, axis=0) - hull
        lengths = np.hypot(edges[:, 0], edges[:, 1])
        keep = lengths > 0
        edges = edges[keep] / lengths[keep, None]
        # coordinates of all hull points along each edge direction and its normal
        u = hull @ edges.T  # (n_points, n_edges)
        v = hull @ np.column_stack([-edges[:, 1], edges[:, 0]]).T
        area = np.ptp(u, axis=0) * np.ptp(v, axis=0)
        best = int(np.argmin(area))
        theta = np.arctan2(edges[best, 1], edges[best, 0])
    quarter = np.pi / 2
    return float((theta + quarter / 2) % quarter - quarter / 2)


# ---------------------------------------------------------------------------
# Main entry point
# ---------------------------------------------------------------------------


def _on_sky(wcs, x, y):
    """Whether the pixels (x, y) map to finite world coordinates."""
    world = wcs.low_level_wcs.pixel_to_world_values(x, y)
    return np.isfinite(world[0]) & np.isfinite(world[1])


def _limb_samples(wcs, shape):
    """Pixel samples of an image whose edges are partly off the sky.

    A grid of the image (edges included) plus, between neighbouring grid
    samples on and off the sky, the limb located by bisection.
    """
    ny, nx = shape
    g = np.linspace(0.0, 1.0, INTERIOR_SAMPLES)
    gy, gx = np.meshgrid(-0.5 + g * ny, -0.5 + g * nx, indexing="ij")
    ok = _on_sky(wcs, gx.ravel(), gy.ravel()).reshape(gx.shape)
    xs, ys = [gx[ok]], [gy[ok]]
    pairs = []
    for a, b in ((np.s_[:, :-1], np.s_[:, 1:]), (np.s_[:-1, :], np.s_[1:, :])):
        flip = ok[a] != ok[b]
        on_a = ok[a][flip]
        xa, ya, xb, yb = gx[a][flip], gy[a][flip], gx[b][flip], gy[b][flip]
        # orient every pair as (on the sky, off the sky)
        pairs.append(
            (
                np.where(on_a, xa, xb),
                np.where(on_a, ya, yb),
                np.where(on_a, xb, xa),
                np.where(on_a, yb, ya),
            )
        )
    x_in, y_in, x_out, y_out = (np.concatenate(c) for c in zip(*pairs))
    if x_in.size:
        for _ in range(30):
            xm = 0.5 * (x_in + x_out)
            ym = 0.5 * (y_in + y_out)
            good = _on_sky(wcs, xm, ym)
            x_in = np.where(good, xm, x_in)
            y_in = np.where(good, ym, y_in)
            x_out = np.where(good, x_out, xm)
            y_out = np.where(good, y_out, ym)
        xs.append(x_in)
        ys.append(y_in)
    return np.concatenate(xs), np.concatenate(ys)


def _sample_image(name, shape, wcs, is_fits):
    """World samples of one image: ``(boundary SkyCoord, reference SkyCoord, resolution)``."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.wcs.utils import proj_plane_pixel_scales

    ny, nx = shape
    ex, ey = edge_samples((ny, nx), EDGE_SAMPLES)
    if not _on_sky(wcs, ex, ey).all():
        ex, ey = _limb_samples(wcs, shape)
        if ex.size == 0:
            raise ValueError(f"{name}: no pixel of the image maps to a valid sky position")
    if is_fits:
        crpix = np.asarray(wcs.wcs.crpix, dtype=float)
        extra_x = np.array([crpix[0] - 1.0])
        extra_y = np.array([crpix[1] - 1.0])
    else:
        xc, yc = (nx - 1) / 2.0, (ny - 1) / 2.0
        extra_x = np.array([xc, xc + 1.0, xc])
        extra_y = np.array([yc, yc, yc + 1.0])
    coords = wcs.pixel_to_world(np.concatenate([ex, extra_x]), np.concatenate([ey, extra_y]))
    if not isinstance(coords, SkyCoord):
        raise ValueError(f"{name}: the WCS is not celestial (pixel_to_world gave {type(coords).__name__})")
    n_edge = ex.size
    edges = coords[:n_edge]
    ref = coords[n_edge : n_edge + 1]

    if is_fits:
        scales = proj_plane_pixel_scales(wcs)
        units = [u.Unit(c) if str(c).strip() else u.deg for c in wcs.wcs.cunit]
        res = min(float((s * unit).to_value(u.deg)) for s, unit in zip(scales, units))
    else:
        centre = coords[n_edge]
        res = min(
            float(centre.separation(coords[n_edge + 1]).deg),
            float(centre.separation(coords[n_edge + 2]).deg),
        )
    return edges, ref, res


def _poles_inside(wcs, shape, out_frame):
    """(lon, lat) in ``out_frame`` of the frame's poles that lie inside the image."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord, UnitSphericalRepresentation

    ny, nx = shape
    poles = SkyCoord(out_frame.realize_frame(UnitSphericalRepresentation([0.0, 0.0] * u.deg, [90.0, -90.0] * u.deg)))
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore")
        try:
            px, py = wcs.world_to_pixel(poles)
        except Exception:
            return np.empty(0), np.empty(0)
        px = np.atleast_1d(np.asarray(px, dtype=float))
        py = np.atleast_1d(np.asarray(py, dtype=float))
        inside = np.isfinite(px) & np.isfinite(py) & (px >= -0.5) & (px <= nx - 0.5) & (py >= -0.5) & (py <= ny - 0.5)
        if inside.any():
            # guard against spurious inverse solutions
            back = wcs.pixel_to_world(px[inside], py[inside])
            sep = np.atleast_1d(back.separation(poles[inside]).deg)
            inside[np.flatnonzero(inside)[~(sep < 1e-6)]] = False
    lat = np.array([90.0, -90.0])[inside]
    return np.zeros_like(lat), lat


def _mean_reference(refs):
    """(lon, lat) in degrees of the mean direction of the reference positions.

    Computed exactly as reproject does (astropy's representation ``mean``:
    the Cartesian components averaged, then converted back), so that the result
    is the same to the last bit.  That matters when the mean lies at a pole:
    its longitude, which orients the output grid of zenithal projections, is
    then set by rounding in the averaged x and y components (reproject's
    0.21 behaviour on an 8-image set around the pole: matched, see the
    README's migration table).  References off the sky are left out.
    """
    from astropy.coordinates import SkyCoord

    frames = []
    for r in refs:
        lon, lat = _lonlat_deg(r)
        if np.isfinite(lon[0]) and np.isfinite(lat[0]):
            frames.append(r.frame)
    if not frames:
        raise ValueError("reference: could not determine the images' reference positions; pass reference=")
    stacked = SkyCoord(frames)
    cart = stacked.data.to_cartesian()
    norm = float(np.sqrt(np.mean(cart.x.value) ** 2 + np.mean(cart.y.value) ** 2 + np.mean(cart.z.value) ** 2))
    if norm < 1e-12:
        raise ValueError("reference: the images' reference positions average to no direction; pass reference=")
    mean = SkyCoord(stacked.data.mean(), frame=stacked.frame)
    lon, lat = _lonlat_deg(mean)
    return float(lon[0]), float(lat[0])


def find_optimal_celestial_wcs(
    input_data,
    hdu_in=None,
    frame=None,
    auto_rotate=False,
    projection="TAN",
    resolution=None,
    reference=None,
    negative_lon_cdelt=None,
):
    """Given one or more images, return an optimal WCS projection object and shape.

    Works with 2-D images with a celestial WCS.

    Parameters
    ----------
    input_data : iterable or single input
        One or more of: a FITS file name (``str`` or ``pathlib.Path``), an
        ``HDUList``, an image HDU, a tuple ``(array, WCS|Header)``, a tuple
        ``(shape, WCS|Header)``, an ``NDData``, or a low/high-level WCS whose
        ``array_shape`` is set.  A single input need not be wrapped in a list.
    hdu_in : int or str, optional
        HDU to use for FITS file names and ``HDUList`` inputs.
    frame : str or `~astropy.coordinates.BaseCoordinateFrame`, optional
        Frame of the output (default: frame of the first image).
    auto_rotate : bool
        Rotate the output pixel grid to minimise its area.
    projection : str
        Three-letter FITS projection code (default ``'TAN'``).
    resolution : `~astropy.units.Quantity`, optional
        Output pixel scale (default: the smallest input pixel scale).  A plain
        number is taken to be in degrees.
    reference : `~astropy.coordinates.SkyCoord`, optional
        Reference coordinate (CRVAL) of the output; it is transformed to
        ``frame`` if needed.  Default: the mean direction of the images'
        reference positions.
    negative_lon_cdelt : bool or 'auto', optional
        Sign of the longitude CDELT; ``'auto'`` makes it negative for
        ``RA--``, ``GLON``, ``ELON``, ``HLON`` and ``SLON`` axes.  The default
        ``None`` means ``True`` (with a DeprecationWarning when ``'auto'``
        would give ``False``).

    Returns
    -------
    wcs : `~astropy.wcs.WCS`
        The optimal WCS.
    shape : tuple
        ``(ny, nx)`` covering all inputs.
    """
    from astropy.coordinates import SkyCoord

    images = _parse_inputs(input_data, hdu_in)

    samples = []
    for name, shape, wcs, is_fits in images:
        samples.append(_sample_image(name, shape, wcs, is_fits))

    if frame is None:
        out_frame = samples[0][1].frame.replicate_without_data()
    else:
        out_frame = _resolve_frame(frame)
    template = _output_template(out_frame, projection)

    negative = _negative_lon(negative_lon_cdelt, template.wcs.ctype[0])

    if resolution is None:
        res = min(s[2] for s in samples)
        if not np.isfinite(res) or res <= 0:
            raise ValueError("resolution: could not determine the input pixel scales; pass resolution=")
    else:
        res = _resolution_deg(resolution)

    lons, lats, ref_vectors = [], [], []
    for (name, shape, wcs, _), (edges, ref, _) in zip(images, samples):
        lon, lat = _lonlat_deg(edges.transform_to(out_frame))
        lons.append(lon)
        lats.append(lat)
        # a pole of the output frame inside an image is an extreme of the
        # footprint in cylindrical and similar projections
        plon, plat = _poles_inside(wcs, shape, out_frame)
        lons.append(plon)
        lats.append(plat)
        ref_vectors.append(ref.transform_to(out_frame))
    lon = np.concatenate(lons)
    lat = np.concatenate(lats)

    if reference is None:
        ref_lon, ref_lat = _mean_reference(ref_vectors)
    else:
        if isinstance(reference, SkyCoord) or hasattr(reference, "transform_to"):
            ref_coord = reference.transform_to(out_frame)
        else:
            raise ValueError(f"reference: expected a SkyCoord, got {type(reference).__name__}")
        rl, rb = _lonlat_deg(ref_coord)
        if rl.size != 1 or not (np.isfinite(rl[0]) and np.isfinite(rb[0])):
            raise ValueError("reference: expected a single finite sky position")
        ref_lon, ref_lat = float(rl[0]), float(rb[0])

    # positions are computed with a working copy: wcsset() would clear
    # keywords such as RADESYS for non-equatorial frames in the returned WCS.
    # The copy is built afresh, not deep-copied: a copy of the template carries
    # LONPOLE = 0 instead of the projection's default, which makes wcslib
    # reject cylindrical and other non-zenithal projections away from the
    # equator as "ill-conditioned" (where reproject succeeds)
    # CRVAL and CDELT in the template's units (arcsec for helioprojective
    # frames, as sunpy's frame -> WCS mapping gives), as reproject does
    import astropy.units as u

    for i in (0, 1):
        if str(template.wcs.cunit[i]).strip() == "":
            template.wcs.cunit[i] = "deg"
    to_unit = np.array([u.deg.to(u.Unit(template.wcs.cunit[i])) for i in (0, 1)])
    cdelt = np.array([-res if negative else res, res]) * to_unit
    crval = [ref_lon * to_unit[0], ref_lat * to_unit[1]]
    out = _output_template(out_frame, projection)
    out.wcs.cunit = template.wcs.cunit
    out.wcs.crval = crval
    out.wcs.cdelt = cdelt
    out.wcs.crpix = [1.0, 1.0]

    def project():
        x, y = out.wcs_world2pix(lon, lat, 0)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise ValueError(
                f"projection: part of the inputs cannot be represented in the {projection!r} projection "
                f"centred on ({ref_lon:.6g}, {ref_lat:.6g}) deg; use a projection covering more of the sky "
                "(e.g. 'CAR', 'ZEA', 'AIT') or another reference"
            )
        return x, y

    x, y = project()
    if auto_rotate:
        theta = minimum_rectangle_angle(x, y)
        c, s = np.cos(theta), np.sin(theta)
        rot = np.array([[c, -s], [s, c]])
        # new pixel axes along the rectangle: p_old = R p_new; since
        # intermediate = CDELT * (PC @ p), the new PC is R itself
        out.wcs.pc = rot
        x, y = project()

    xmin, xmax = float(np.min(x)), float(np.max(x))
    ymin, ymax = float(np.min(y)), float(np.max(y))
    result = template
    result.wcs.crval = crval
    result.wcs.cdelt = cdelt
    if auto_rotate:
        result.wcs.pc = out.wcs.pc
    # the lowest position lands on (1-based) pixel 0.5
    result.wcs.crpix = [1.0 + (-0.5 - xmin), 1.0 + (-0.5 - ymin)]
    nx = max(1, int(round(xmax - xmin)))
    ny = max(1, int(round(ymax - ymin)))
    return result, (ny, nx)
