"""HiPS directory layout: tile paths, tile frames (HPX headers), properties,
Allsky images and the coverage MOC.

A HiPS tile of order ``k`` and nested index ``p`` with ``T = 2**t`` pixels a
side holds the HEALPix pixels of order ``k + t`` inside ``p``.  Pixel
``[row, col]`` of the FITS array is the pixel ``(ix0 + T - 1 - row, iy0 +
col)`` of base face ``p >> 2k``, where ``(ix0, iy0) = T (ix, iy)`` of the tile
(the orientation of hipsgen and reproject).  In the HPX projection
(Calabretta & Roukema 2007, H = 4, K = 3) the face coordinates map linearly
to the plane::

    x = 45 (jpll + (fx - fy) / N),   y = 45 (2 - jrll + (fx + fy) / N)

(degrees, ``N = T 2**k``), so each tile is an exact HPX pixel grid with
``CD = [[-r, -r], [r, -r]]``, ``r = 45 / N``.

References
----------
Fernique, P. et al. 2017, "HiPS - Hierarchical Progressive Survey", IVOA
Recommendation 1.0.
Fernique, P. et al. 2019, "MOC - HEALPix Multi-Order Coverage map", IVOA
Recommendation 1.1.
"""

import os

import numpy as np

from ..kernels._healpix_layout import JPLL, JRLL, compress

VALID_FRAMES = ("equatorial", "galactic", "ecliptic")
EXTENSION = {"fits": "fits", "png": "png", "jpeg": "jpg"}

def hips_frame(coord_system_out):
    """Astropy frame for a HiPS frame name."""
    from astropy.coordinates import ICRS, BarycentricTrueEcliptic, Galactic

    frames = {"equatorial": ICRS, "galactic": Galactic, "ecliptic": BarycentricTrueEcliptic}
    if coord_system_out not in frames:
        raise ValueError(f"coord_system_out: expected one of {'/'.join(VALID_FRAMES)}, got {coord_system_out!r}")
    return frames[coord_system_out]()


def tile_path(directory, order, index, ext):
    """``directory/Norder{order}/Dir{D}/Npix{index}.{ext}`` with ``D = 10000 (index // 10000)``."""
    return os.path.join(directory, f"Norder{order}", f"Dir{10000 * (index // 10000)}", f"Npix{index}.{ext}")


def tile_face_xy(order, index):
    """``(face, ix, iy)`` of tile ``index`` at ``order``."""
    index = int(index)
    ipf = index & ((1 << (2 * order)) - 1)
    return index >> (2 * order), compress(ipf), compress(ipf >> 1)


def tile_reference(order, index, tile_size):
    """``(crval1, crpix1, crpix2)`` of the HPX frame of a tile (see the module docstring).

    Tiles of face 6 (centred on longitude 180, cut by the HPX plane's edge
    when the reference longitude is 0) use ``CRVAL1 = 180`` so that every
    tile is one contiguous piece of the plane.
    """
    face, ix, iy = tile_face_xy(order, index)
    n = tile_size * 2**order
    res = 45.0 / n
    lon0 = 180.0 if face == 6 else 0.0
    # plane position of pixel (row 0, col 0): fx = ix0 + T - 0.5, fy = iy0 + 0.5
    fx = ix * tile_size + tile_size - 0.5
    fy = iy * tile_size + 0.5
    x = 45.0 * (JPLL[face] + (fx - fy) / n) - lon0
    x = (x + 180.0) % 360.0 - 180.0
    y = 45.0 * (2 - JRLL[face] + (fx + fy) / n)
    # x = -r (p1 - c1) - r (p2 - c2), y = r (p1 - c1) - r (p2 - c2), at p1 = p2 = 1
    a = -x / res  # (1 - c1) + (1 - c2)
    b = y / res  # (1 - c1) - (1 - c2)
    return lon0, 1.0 - 0.5 * (a + b), 1.0 - 0.5 * (a - b)


_BASE_HEADERS = {}


def _base_header(frame, order, tile_size):
    """HPX header of ``order`` with ``CRVAL = CRPIX = 0`` (a copy: the caller may edit it).

    astropy builds the frame's cards once per process (``celestial_frame_to_wcs``
    costs milliseconds); the orders differ only in the scale ``r = 45 / N``.
    """
    base = _BASE_HEADERS.get(frame.name)
    if base is None:
        from astropy.wcs.utils import celestial_frame_to_wcs

        try:
            w = celestial_frame_to_wcs(frame, projection="HPX")
        except ValueError:  # ecliptic: astropy has no WCS mapping for it
            from astropy.wcs import WCS

            w = WCS(naxis=2)
            w.wcs.ctype = ["ELON-HPX", "ELAT-HPX"]
        w.wcs.crval = [0.0, 0.0]
        w.wcs.cd = [[-1.0, -1.0], [1.0, -1.0]]
        w.wcs.set_pv([(2, 1, 4), (2, 2, 3)])
        w.wcs.crpix = [0.0, 0.0]
        base = _BASE_HEADERS[frame.name] = w.to_header()
    h = base.copy()
    res = float(format(45.0 / (tile_size * 2**order), ".14G"))  # the precision wcslib writes
    h["PC1_1"] = -res
    h["PC1_2"] = -res
    h["PC2_1"] = res
    h["PC2_2"] = -res
    return h


def tile_header(frame, order, index, tile_size):
    """FITS header of the HPX frame of one tile (a valid WCS for any tile)."""
    h = _base_header(frame, order, tile_size)
    lon0, c1, c2 = tile_reference(order, index, tile_size)
    h["CRVAL1"] = lon0
    h["CRPIX1"] = c1
    h["CRPIX2"] = c2
    h["NPIX"] = int(index)
    h["ORDER"] = int(order)
    h["NAXIS"] = 2
    h["NAXIS1"] = tile_size
    h["NAXIS2"] = tile_size
    return h


_BASE_WCS = {}


def tile_wcs(frame, order, index, tile_size):
    """The tile's frame as an astropy WCS (a copy of a cached per-order WCS with
    CRVAL1/CRPIX set: no header parsing per tile)."""
    from astropy.wcs import WCS

    key = (frame.name, order, tile_size)
    base = _BASE_WCS.get(key)
    if base is None:
        base = _BASE_WCS[key] = WCS(_base_header(frame, order, tile_size))
    w = base.deepcopy()
    lon0, c1, c2 = tile_reference(order, index, tile_size)
    w.wcs.crval = [lon0, 0.0]
    w.wcs.crpix = [c1, c2]
    w.wcs.set()
    w.array_shape = (tile_size, tile_size)
    return w


#: FITS card images of the tiles of one (frame, order, tile size): ``(cards before, cards after)`` the per-tile ones
_TEMPLATES = {}
#: (keyword, value, comment, image) of the frame's base HPX cards (:func:`_base_header`), per frame
_BASE_CARDS = {}
_PER_TILE = ("CRVAL1", "CRPIX1", "CRPIX2", "WCSAXES")


def _tile_template(frame, order, tile_size):
    """``(pre, post)``: the card images of a tile file of ``order`` around its
    per-tile cards (CRPIX1/2, CRVAL1, NPIX), as :func:`_base_header` makes them.

    The frame's base cards are formatted (and verified) by astropy once per
    process; an order differs only in the four ``PCi_j`` values, whose cards
    are made as astropy makes them when the value of a header card is set (a
    new card with the keyword, value and comment).  ``tests/test_hips.py``
    checks the result against the header built by :func:`_base_header`.
    """
    from astropy.io import fits

    base = _BASE_CARDS.get(frame.name)
    if base is None:
        h = _base_header(frame, 0, tile_size)
        base = _BASE_CARDS[frame.name] = [(c.keyword, c.value, c.comment, c.image) for c in h.cards]
    res = float(format(45.0 / (tile_size * 2**order), ".14G"))  # as _base_header
    scale = {"PC1_1": -res, "PC1_2": -res, "PC2_1": res, "PC2_2": -res}
    head = [fits.Card("SIMPLE", True), fits.Card("BITPIX", -32), fits.Card("NAXIS", 2),
            fits.Card("NAXIS1", tile_size), fits.Card("NAXIS2", tile_size)]
    pre = "".join(c.image for c in head)
    post = "".join(fits.Card(k, scale[k], comment).image if k in scale else image
                   for k, _, comment, image in base if k not in _PER_TILE)
    return pre, post + fits.Card("ORDER", int(order)).image


class FitsTileWriter:
    """Writes float32 tiles as FITS files directly (2880-byte blocks): the
    header cards common to an order are formatted once, only CRVAL1, CRPIX1/2
    and NPIX per tile (astropy's HDU machinery costs ~10 ms a tile)."""

    def __init__(self, frame, tile_size):
        self.frame = frame
        self.tile_size = tile_size

    def _template(self, order):
        key = (self.frame.name, int(order), self.tile_size)
        tpl = _TEMPLATES.get(key)
        if tpl is None:
            tpl = _TEMPLATES[key] = _tile_template(self.frame, int(order), self.tile_size)
        return tpl

    def write(self, path, order, index, array):
        pre, post = self._template(order)
        lon0, c1, c2 = tile_reference(order, index, self.tile_size)
        mid = _card("CRPIX1", c1) + _card("CRPIX2", c2) + _card("CRVAL1", lon0) + _card("NPIX", int(index))
        write_fits_raw(path, pre + mid + post, array)


def _card(key, value):
    """A fixed-format FITS card for a number (FITS 4.0, section 4.2.4)."""
    if isinstance(value, bool):
        text = "T" if value else "F"
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    else:
        text = format(float(value), ".16G")
    if isinstance(value, (float, np.floating)) and "." not in text and "E" not in text:
        text += ".0"
    return f"{key:<8}= {text:>20}".ljust(80)


def write_fits_raw(path, cards, array):
    """Write ``cards`` (80-character images, without END) and a float32 array
    as a FITS primary HDU, through a temporary name.  The data are written
    from one big-endian copy (none when ``array`` is already a C-contiguous
    ``>f4`` array)."""
    text = cards + "END".ljust(80)
    text += " " * (-len(text) % 2880)
    data = np.ascontiguousarray(array, dtype=">f4").reshape(-1).view(np.uint8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(text.encode("ascii"))
        f.write(data)
        f.write(b"\0" * (-data.size % 2880))
    os.replace(tmp, path)


def to_rgba(array, cut):
    """8-bit grey + alpha (transparent where NaN) with a linear stretch ``cut = (lo, hi)``,
    rows flipped (PNG stores the top row first, FITS the bottom row)."""
    lo, hi = cut
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    with np.errstate(invalid="ignore"):
        g = np.clip((array - lo) * scale, 0, 255)
    ok = np.isfinite(g)
    rgba = np.zeros(array.shape + (4,), dtype=np.uint8)
    gg = np.where(ok, g, 0).astype(np.uint8)
    rgba[..., 0] = gg
    rgba[..., 1] = gg
    rgba[..., 2] = gg
    rgba[..., 3] = np.where(ok, 255, 0)
    return rgba[::-1]


def write_image_tile(path, array, cut, fmt):
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is a test dependency
        raise ImportError("PNG/JPEG HiPS tiles need Pillow (pip install pillow)") from exc
    rgba = to_rgba(array, cut)
    img = Image.fromarray(rgba, "RGBA")
    if fmt == "jpeg":
        img = img.convert("RGB")
    tmp = path + ".tmp"
    img.save(tmp, format="PNG" if fmt == "png" else "JPEG")
    os.replace(tmp, path)


def reduce2x2(tile):
    """2x2 block mean ignoring NaN (NaN where all four are NaN), summed in
    float64, float32 result."""
    t = np.asarray(tile)
    q = [t[i::2, j::2].astype(np.float64) for i in (0, 1) for j in (0, 1)]
    s = np.zeros_like(q[0])
    n = np.zeros(q[0].shape, dtype=np.int8)
    for a in q:
        ok = a == a
        s += np.where(ok, a, 0.0)
        n += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return (s / n).astype(np.float32)


def place_child(parent, child_reduced, sub):
    """Put the reduced child ``sub`` (0-3, nested) into its quadrant of ``parent``."""
    h = parent.shape[0] // 2
    rows = slice(0, h) if sub & 1 else slice(h, 2 * h)  # larger ix: lower rows
    cols = slice(h, 2 * h) if sub & 2 else slice(0, h)  # larger iy: higher columns
    parent[rows, cols] = child_reduced


def allsky_layout(order):
    """``(tiles_per_row, rows)`` of the Allsky image of ``order``."""
    n = 12 * 4**order
    per_row = int(np.sqrt(n))
    return per_row, -(-n // per_row)


def save_properties(directory, properties):
    with open(os.path.join(directory, "properties"), "w") as f:
        for key, value in properties.items():
            f.write(f"{key:20s} = {value}\n")


def load_properties(directory):
    """``properties`` of a HiPS directory as a dict of strings (``key = value`` lines; ``#`` and ``!``
    start comments, as in the Java properties files hipsgen writes)."""
    props = {}
    with open(os.path.join(directory, "properties")) as f:
        for line in f:
            if line.lstrip().startswith(("#", "!")) or "=" not in line:
                continue
            k, v = line.split("=", 1)
            props[k.strip()] = v.strip()
    return props


#: properties keywords of HiPS 1.0 -> their names in older files (HiPS 1.3 and hipsgen before 2017)
LEGACY_KEYWORDS = {"hips_order": "maxOrder", "hips_frame": "coordsys", "hips_tile_format": "format"}
#: legacy ``coordsys`` values
LEGACY_FRAMES = {"C": "equatorial", "G": "galactic", "E": "ecliptic"}
#: tile width when ``hips_tile_width`` is absent (HiPS 1.0, section 4.4.1)
DEFAULT_TILE_WIDTH = 512


def describe_hips(props, name="input_directory"):
    """``(frame name, deepest order, tile width, tile formats)`` of an image HiPS from its properties.

    HiPS 1.0 keywords (``hips_frame``, ``hips_order``, ``hips_tile_width``,
    ``hips_tile_format``), else the legacy names of :data:`LEGACY_KEYWORDS`
    (``coordsys = C/G/E``, ``maxOrder``, ``format``), else the standard's
    defaults (tile width 512, equatorial, FITS tiles).  Errors name ``name``.
    """
    def get(key, default=None):
        value = props.get(key, props.get(LEGACY_KEYWORDS.get(key, ""), default))
        return value.strip() if isinstance(value, str) else value

    kind = props.get("dataproduct_type", "image")
    if kind != "image":
        raise ValueError(f"{name}: only image HiPS are supported, got dataproduct_type = {kind!r}")
    order = get("hips_order")
    if order is None or not order.isdigit():
        raise ValueError(f"{name}: properties has no valid hips_order (or maxOrder), got {order!r}")
    frame = get("hips_frame", "equatorial")
    frame = LEGACY_FRAMES.get(frame.upper(), frame) if len(frame) == 1 else frame
    if frame not in VALID_FRAMES:
        raise ValueError(f"{name}: hips_frame {frame!r} is not a celestial frame ({'/'.join(VALID_FRAMES)})")
    width = props.get("hips_tile_width", str(DEFAULT_TILE_WIDTH)).strip()
    t = int(width) if width.isdigit() else 0
    if t < 1 or t & (t - 1):
        raise ValueError(f"{name}: hips_tile_width {width!r} is not a power of two")
    formats = tuple("jpeg" if f == "jpg" else f for f in get("hips_tile_format", "fits").lower().split())
    return frame, int(order), t, formats


def read_tile(path, tile_size):
    """A FITS tile as a float32 ``T x T`` array, as written here or by other tools.

    astropy applies ``BSCALE``/``BZERO`` and turns ``BLANK`` into NaN (integer
    tiles of hipsgen) and reads gzip-compressed files whatever their name
    (hipsgen's ``-gzip``); a tile trimmed to its data (``ONAXISn``: the full
    size, ``TRIMn``: the pixels cut before the data, reproject's convention)
    is padded back with NaN.
    """
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdul:
        header = hdul[0].header
        data = hdul[0].data
        if data is None:
            raise ValueError(f"{path}: the tile has no data in its primary HDU")
        a = np.asarray(data, dtype=np.float32)
    if a.ndim == 2 and "ONAXIS1" in header and a.shape != (tile_size, tile_size):
        full = np.full((int(header.get("ONAXIS2", tile_size)), int(header["ONAXIS1"])), np.nan, dtype=np.float32)
        r0, c0 = int(header.get("TRIM2", 0)), int(header.get("TRIM1", 0))
        full[r0 : r0 + a.shape[0], c0 : c0 + a.shape[1]] = a
        a = full
    if a.shape != (tile_size, tile_size):
        raise ValueError(f"{path}: tile of shape {a.shape}, expected {(tile_size, tile_size)}")
    return a


def uniq_orders(uniq, max_order):
    """Order of each NUNIQ value (``4 * 4**o <= uniq < 16 * 4**o``), exactly in integers."""
    uniq = np.asarray(uniq, dtype=np.int64)
    orders = np.full(uniq.shape, -1, dtype=np.int64)
    for o in range(max_order + 1):
        orders[(uniq >= 4 * 4**o) & (uniq < 16 * 4**o)] = o
    return orders


def moc_uniq(cells, order, is_uniq=False):
    """Normalised MOC (sorted NUNIQ values) of nested ``cells`` at ``order``
    (or of NUNIQ values of mixed orders up to ``order`` with ``is_uniq``):
    duplicates and cells inside others are dropped and every complete group
    of four siblings is replaced by its parent (MOC 1.1, section 2.3)."""
    cells = np.asarray(cells, dtype=np.int64)
    by_order = {}
    if is_uniq:
        orders = uniq_orders(cells, order)
        for o in np.unique(orders):
            by_order[int(o)] = cells[orders == o] - 4 * 4 ** int(o)
    else:
        by_order[order] = cells
    out = []
    carry = np.zeros(0, dtype=np.int64)
    for o in range(order, -1, -1):
        cur = np.unique(np.concatenate([by_order.get(o, np.zeros(0, dtype=np.int64)), carry]))
        if o > 0:
            parent, counts = np.unique(cur >> 2, return_counts=True)
            carry = parent[counts == 4]
            cur = cur[~np.isin(cur >> 2, carry)]
        out.append(cur)
    # cells contained in a coarser cell kept at a lower order are dropped
    res = []
    for k, cur in enumerate(out):
        o = order - k
        keep = cur
        for j in range(k + 1, len(out)):
            keep = keep[~np.isin(keep >> (2 * (j - k)), out[j])]
        res.append(4 * 4**o + keep)
    return np.sort(np.concatenate(res)) if res else np.zeros(0, dtype=np.int64)


def write_moc(path, uniq, order):
    """Write a MOC 1.1 FITS file (BINTABLE, one NUNIQ column, ICRS)."""
    from astropy.io import fits

    col = fits.Column(name="UNIQ", format="K", array=np.asarray(uniq, dtype=np.int64))
    hdu = fits.BinTableHDU.from_columns([col])
    h = hdu.header
    h["PIXTYPE"] = "HEALPIX"
    h["ORDERING"] = "NUNIQ"
    h["COORDSYS"] = "C"
    h["MOCORDER"] = int(order)
    h["MOCTOOL"] = "numbamosaic"
    h["MOCVERS"] = "1.1"
    h["MOCDIM"] = "SPACE"
    tmp = path + ".tmp"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True)
    os.replace(tmp, path)
