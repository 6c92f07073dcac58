"""Survey products of a mosaic: weight types, masks, flux scales, and variance, count, exposure, context, flags.

(Above 600 lines on purpose: option parsing, planning figures, the tile
step and the result classes of one feature share the ProductSpec and read
best together; the kernels are in ``kernels._products``.)

:func:`parse_products` turns the product keywords of ``reproject_and_coadd``
/ ``plan_mosaic`` into a :class:`ProductSpec` (or None: the plain path, which
these keywords never touch), validating everything before any pixel work.
The drivers call :meth:`ProductSpec.compute_tile` (threads) or run
:class:`ProductTileWork` (dask) instead of ``_tiles.compute_tile`` for each output tile: the tile kernels of
``kernels._products`` deposit the mosaic exactly as the plain kernels do and
update the products in the same pass over the inputs.  The result is a
:class:`MosaicProducts`.

Semantics (SWarp and drizzle names in brackets; see the README):

* ``weights_type`` [SWarp ``WEIGHT_TYPE``; drizzle ``ivm``]: what
  ``input_weights`` hold: ``'weight'`` (relative weights, today's meaning;
  ``MAP_WEIGHT``), ``'ivar'`` (inverse variance), ``'variance'``
  (``MAP_VARIANCE``) or ``'rms'`` (``MAP_RMS``).  Noise maps are converted once per
  input to inverse variance (``1/v``, ``1/rms^2``; ``<= 0`` or non-finite
  means no data, weight 0), which is the combine weight and the variance
  source.  So weight types that encode the same weights give the same mosaic.
* ``input_scales`` [``FLXSCALE``/``FSCALE_KEYWORD``; drizzle ``iscale``]:
  values are multiplied by ``s``; variances by ``s^2`` and inverse-variance
  weights divided by ``s^2`` (relative weights are left as given).
* ``input_masks``, ``bad_bits`` [drizzle/jwst ``dq``, ``good_bits``]:
  booleans (True = bad) or integer DQ arrays on each input's grid, sampled
  nearest-neighbour; a sample is dropped where ``dq & bad_bits != 0``
  (default: any bit).  ``flags`` combines the DQ values of the inputs
  covering each output pixel with ``flags_combine='or'`` (drizzle ``out_dq``,
  SWarp ``OR``) or ``'and'``.
* ``hdu_masks``: the HDU (index or EXTNAME) of mask files, e.g. ``'DQ'``
  with the input files themselves as ``input_masks``.
* ``input_variances``: per-input variance maps (drizzle's ``data2``); when
  absent, a noise-type weight map is the variance source.
* Products: ``variance`` of the combined value (mean: ``sum f^2 var / (sum
  f)^2``; sum: ``sum f^2 var``, ``f`` the combine weights); ``count`` of
  contributing inputs; ``exposure`` (sum of their exposure times);
  ``context`` (per tile its member list, per pixel a bitmask over members:
  memory grows with the overlap depth, not with the number of inputs);
  ``flags``.
"""

import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._common import is_chunked_output
from ..kernels import _combine as C
from ..kernels import _products as K
from ..kernels._sinks import SINK_WRITE
from ..wcs import general_transform
from ._tiles import COMBINES, _overlap

WEIGHT_TYPES = ("weight", "ivar", "variance", "rms")
PRODUCTS = ("variance", "count", "exposure", "context", "flags")
#: combines whose products are computed (variance: mean and sum only)
PRODUCT_COMBINES = ("mean", "sum", "first", "last", "min", "max")
VARIANCE_COMBINES = ("mean", "sum")
OPTIONS = (
    "weights_type",
    "input_masks",
    "bad_bits",
    "input_scales",
    "exposure_times",
    "input_variances",
    "return_products",
    "flags_combine",
    "product_outputs",
    "hdu_masks",
)
_DEFAULTS = dict(weights_type="weight", bad_bits=None, flags_combine="or", return_products=False)
PRODUCT_DTYPES = {"count": np.dtype(np.int32), "context": np.dtype(np.uint32), "flags": np.dtype(np.uint32)}


def split_kwargs(kwargs):
    """``(product options, remaining keywords)`` from a call's ``**kwargs``."""
    opts = {k: kwargs[k] for k in OPTIONS if k in kwargs}
    rest = {k: v for k, v in kwargs.items() if k not in OPTIONS}
    return opts, rest


def _active(opts):
    o = dict(_DEFAULTS, **opts)
    return (
        o["weights_type"] != "weight"
        or o.get("input_masks") is not None
        or o.get("input_scales") is not None
        or o.get("exposure_times") is not None
        or o.get("input_variances") is not None
        or bool(o["return_products"])
        or bool(o.get("product_outputs"))
    )


# --------------------------------------------------------------------------- parsing


def chunked_outputs(opts):
    """The chunked stores (zarr) among the caller's product outputs: tiles align to their chunks."""
    return [a for a in (opts.get("product_outputs") or {}).values() if a is not None and is_chunked_output(a)]


def _header_of(item, hdu_in, name):
    """The FITS header of input ``item`` (file, HDU, HDUList, (array, Header))."""
    from astropy.io import fits

    if isinstance(item, (str, os.PathLike)):
        with fits.open(item, memmap=True) as hdul:
            if hdu_in is not None:
                return hdul[hdu_in].header.copy()
            for h in hdul:
                if h.header.get("NAXIS", 0) >= 2:
                    return h.header.copy()
            return hdul[0].header.copy()
    if isinstance(item, fits.HDUList):
        return item[hdu_in if hdu_in is not None else 0].header
    if hasattr(item, "header") and isinstance(item.header, fits.Header):
        return item.header
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], fits.Header):
        return item[1]
    raise TypeError(f"{name}: a header keyword needs inputs with FITS headers (files or HDUs), got {type(item).__name__}")


def header_numbers(keyword, inputs, hdu_in, arg, positive):
    """One number per input from header ``keyword`` (a clear ``ValueError`` naming the input otherwise)."""
    return [float(v) for v in _per_input(str(keyword), inputs, hdu_in, len(inputs), arg, positive)]


def _per_input(value, input_data, hdu_in, n, arg, positive):
    """Numbers per input from a sequence, a scalar, or a header keyword."""
    if value is None:
        return None
    if isinstance(value, str):
        out = np.empty(n)
        for i in range(n):
            name = f"input_data[{i}]"
            if isinstance(input_data[i], (str, os.PathLike)):
                name += f" ({Path(input_data[i]).name})"
            h = _header_of(input_data[i], hdu_in, name)
            if value not in h:
                raise ValueError(f"{arg}: keyword {value!r} not found in the header of {name}")
            try:
                out[i] = float(h[value])
            except (TypeError, ValueError):
                raise ValueError(f"{arg}: keyword {value!r} of {name} is not a number: {h[value]!r}") from None
    elif np.isscalar(value):
        out = np.full(n, float(value))
    else:
        out = np.asarray(value, dtype=float).ravel()
        if out.shape[0] != n:
            raise ValueError(f"{arg}: got {out.shape[0]} values for {n} inputs")
    bad = ~np.isfinite(out) | ((out <= 0) if positive else (out < 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{arg}: value {out[i]!r} for input {i} must be finite and {'> 0' if positive else '>= 0'}")
    return out


def _as_mask(item, shape, name, hdu=None):
    """A mask/DQ item as a ``uint32`` array on the input grid (True / nonzero bits = flagged).

    ``hdu``: the HDU (index or EXTNAME) of mask files and HDULists (default:
    the first with data), e.g. ``'DQ'`` of the input files themselves.
    """
    from astropy.io import fits

    if isinstance(item, (str, os.PathLike)):
        try:
            with fits.open(item, memmap=False) as hdul:
                if hdu is not None:
                    arr = np.array(hdul[hdu].data)
                else:
                    arr = next((np.array(h.data) for h in hdul if h.data is not None and h.header.get("NAXIS", 0) >= 2), None)
        except KeyError:
            raise ValueError(f"{name} ({Path(item).name}): no HDU {hdu!r}") from None
        if arr is None:
            raise ValueError(f"{name} ({Path(item).name}): no image HDU")
        name = f"{name} ({Path(item).name})"
    elif isinstance(item, fits.HDUList):
        arr = item[hdu if hdu is not None else 0].data
    elif isinstance(item, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
        arr = item.data
    else:
        arr = getattr(item, "data", item) if not isinstance(item, np.ndarray) else item
    arr = np.asarray(arr)
    if arr.ndim > 2 and arr.shape[:-2] == (1,) * (arr.ndim - 2):
        arr = arr.reshape(arr.shape[-2:])  # degenerate leading axes
    if arr.ndim != 2 or tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name}: mask shape {arr.shape} does not match the input's shape {tuple(shape)}")
    if arr.dtype.kind == "b":
        return arr.astype(np.uint32)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name}: masks must be booleans or integer DQ flags, got dtype {arr.dtype}")
    if arr.dtype.kind == "i":  # the bits of signed flags, as unsigned
        arr = arr.astype(np.dtype(f"u{arr.dtype.itemsize}"))
    if arr.dtype.itemsize > 4 and arr.size and int(arr.max()) >= 2**32:
        raise ValueError(f"{name}: DQ flags above bit 31 are not supported")
    return np.ascontiguousarray(arr, dtype=np.uint32)


def _as_variance(item, shape, name):
    arr = np.asarray(getattr(item, "data", item), dtype=np.float32)
    if arr.ndim != 2 or tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name}: shape {arr.shape} does not match the input's shape {tuple(shape)}")
    return np.where(np.isfinite(arr) & (arr >= 0), arr, np.float32(np.inf)).astype(np.float32)


def _bad_bits(value):
    if value is None:
        return 0xFFFFFFFF
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"bad_bits: expected an integer or a sequence of integers, got {value!r}")
    if isinstance(value, (int, np.integer)):
        bits = int(value)
    else:
        try:
            bits = 0
            for b in value:
                bits |= int(b)
        except TypeError:
            raise TypeError(f"bad_bits: expected an integer or a sequence of integers, got {value!r}") from None
    if not 0 <= bits < 2**32:
        raise ValueError(f"bad_bits: expected bits 0-31, got {bits}")
    return bits


def computable_products(weights_type, variances, combine, exposure_times, masks):
    """The products a mosaic can compute: ``count`` and ``context`` always; ``variance``
    with a noise source (``variances``: every input has a variance map, or a noise-type
    ``weights_type``) and a mean or sum; ``exposure`` with exposure times; ``flags`` with masks."""
    out = {"count", "context"}
    if (variances or weights_type != "weight") and combine in VARIANCE_COMBINES:
        out.add("variance")
    if exposure_times:
        out.add("exposure")
    if masks:
        out.add("flags")
    return frozenset(out)


_WHY_NOT = {
    "variance": "needs input_variances or a noise-type weights_type, and combine 'mean' or 'sum'",
    "exposure": "needs exposure_times",
    "flags": "needs input_masks",
}


def why_not(missing):
    """Why the products ``missing`` cannot be computed (one line)."""
    return "; ".join(f"{p} {_WHY_NOT[p]}" for p in sorted(missing))


def parse_products(opts, input_data, sources, hdu_in, method, combine, match_background, client):
    """Validate the product keywords; convert noise weights in place; return a :class:`ProductSpec` or None."""
    if not _active(opts):
        return None
    o = dict(_DEFAULTS, **opts)
    n = len(sources)
    wtype = o["weights_type"]
    if wtype not in WEIGHT_TYPES:
        raise ValueError(f"weights_type: expected one of {WEIGHT_TYPES}, got {wtype!r}")
    if wtype != "weight" and any(s.wref is None for s in sources):
        raise ValueError(f"weights_type={wtype!r} needs input_weights (the noise maps)")
    flags_mode = {"or": K.FLAG_OR, "and": K.FLAG_AND}.get(o["flags_combine"])
    if flags_mode is None:
        raise ValueError(f"flags_combine: expected 'or' or 'and', got {o['flags_combine']!r}")
    rp = o["return_products"]
    if rp is True:
        want = None  # everything computable
    elif rp is False or rp is None:
        want = set()
    else:
        names = [rp] if isinstance(rp, str) else list(rp)
        unknown = [p for p in names if p not in PRODUCTS]
        if unknown:
            raise ValueError(f"return_products: unknown product(s) {unknown}; expected True or names from {PRODUCTS}")
        want = set(names)
    outputs = dict(o.get("product_outputs") or {})
    unknown = [p for p in outputs if p not in PRODUCTS]
    if unknown:
        raise ValueError(f"product_outputs: unknown product(s) {unknown}; expected names from {PRODUCTS}")
    if want is not None:
        want |= set(outputs)
    if method == "custom":
        raise NotImplementedError("weights_type, masks, scales and products need numbamosaic's own reproject_function")
    if combine not in PRODUCT_COMBINES:
        raise NotImplementedError(f"weights_type, masks, scales and products: combine_function {combine!r} is not supported yet (use one of {PRODUCT_COMBINES})")
    scales = _per_input(o.get("input_scales"), input_data, hdu_in, n, "input_scales", positive=True)
    if scales is not None and match_background and np.any(scales != 1.0):
        raise NotImplementedError("input_scales with match_background is not supported yet")
    exptimes = _per_input(o.get("exposure_times"), input_data, hdu_in, n, "exposure_times", positive=False)
    masks = [None] * n
    if o.get("input_masks") is not None:
        im = o["input_masks"]
        if isinstance(im, (str, np.ndarray)) or len(im) != n:
            raise ValueError(f"input_masks: expected one mask per input ({n})")
        for s in sources:
            if im[s.index] is not None:
                masks[s.index] = _as_mask(im[s.index], s.shape, f"input_masks[{s.index}]", o.get("hdu_masks"))
    variances = [None] * n
    if o.get("input_variances") is not None:
        iv = o["input_variances"]
        if isinstance(iv, (str, np.ndarray)) or len(iv) != n:
            raise ValueError(f"input_variances: expected one variance map per input ({n})")
        for s in sources:
            variances[s.index] = _as_variance(iv[s.index], s.shape, f"input_variances[{s.index}]")
    # noise maps -> inverse variance (combine weight and variance source), scaled by 1/s^2
    if wtype != "weight":
        for s in sources:
            if wtype == "ivar" and (scales is None or scales[s.index] == 1.0):
                continue  # weights are already native float32, finite and >= 0 (mosaic._inputs)
            w = np.asarray(s.wref.array, dtype=np.float32)
            if wtype == "variance":
                with np.errstate(divide="ignore", invalid="ignore"):
                    w = np.where(w > 0, np.float32(1) / w, np.float32(0))
            elif wtype == "rms":
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    w = np.where(w > 0, np.float32(1) / (w * w), np.float32(0))
            w = np.where(np.isfinite(w), w, np.float32(0)).astype(np.float32)
            if scales is not None and scales[s.index] != 1.0:
                w = (w / np.float32(scales[s.index] ** 2)).astype(np.float32)
            s.wref.array = w
    computable = computable_products(
        wtype, all(v is not None for v in variances), combine, exptimes is not None, o.get("input_masks") is not None
    )
    if want is None:
        want = computable
    missing = want - computable
    if missing:
        raise ValueError("return_products: " + why_not(missing))
    return ProductSpec(
        weights_type=wtype,
        want=frozenset(want),
        masks=masks,
        variances=variances,
        scales=scales,
        exptimes=exptimes,
        bad_bits=_bad_bits(o["bad_bits"]),
        flags_mode=flags_mode if o.get("input_masks") is not None else K.FLAG_NONE,
        outputs=outputs,
        return_products=bool(rp is not False and rp is not None),
        combine=combine,
        method=method,
    )


# --------------------------------------------------------------------------- execution


@dataclass
class ProductSpec:
    """Parsed product options (see the module docstring) and, once allocated, the outputs."""

    weights_type: str
    want: frozenset
    masks: list
    variances: list
    scales: object
    exptimes: object
    bad_bits: int
    flags_mode: int
    outputs: dict
    return_products: bool
    combine: str
    method: str
    arrays: dict = field(default_factory=dict)
    nplanes: int = 0
    dtypes: dict = field(default_factory=dict)
    #: per-thread tile buffers of the threaded run (thread id -> {(name, dtype): array}), see :meth:`_scratch`
    scratch: dict = field(default_factory=dict, repr=False, compare=False)

    # planning: the memory the planner (``mosaic._plan.make_plan``) counts for the products

    def tile_bytes_per_pixel(self, depth):
        """Per-thread bytes per tile pixel the product accumulators add."""
        # WRITE scratch (exact, adaptive), or for interp the finished variance / count tiles
        # (kernels._products.finalize_products; exact and adaptive: up to 12 bytes more)
        b = 16
        b += 8 * ("variance" in self.want) + 4 * ("count" in self.want) + 8 * ("exposure" in self.want)
        b += 8 * ("flags" in self.want)
        b += 4 * -(-max(depth, 1) // 32) * ("context" in self.want)
        return b

    def output_bytes_per_pixel(self, dtype, depth):
        """Bytes per output pixel of the product outputs numbamosaic allocates."""
        b = 0
        for p in self.want:
            if p in self.outputs:
                continue
            if p == "context":
                b += 4 * -(-max(depth, 1) // 32)
            else:
                b += PRODUCT_DTYPES.get(p, np.dtype(dtype)).itemsize
        return b

    def input_bytes(self):
        """Bytes of masks and variance maps held in memory."""
        return sum(a.nbytes for a in self.masks + self.variances if a is not None)

    def allocate(self, shape, dtype, members, make):
        """Product outputs: the caller's or ``make(shape, dtype)``."""
        depth = max((len(m) for m in members), default=0)
        self.nplanes = max(1, -(-depth // 32))
        for p in self.want:
            if p == "context":
                shp, dt = (self.nplanes,) + tuple(shape), PRODUCT_DTYPES["context"]
            else:
                shp, dt = tuple(shape), PRODUCT_DTYPES.get(p, np.dtype(dtype))
            arr = self.outputs.get(p)
            if arr is not None and hasattr(arr, "set_planes"):
                arr.set_planes(shp[0], depth)  # an output sized once the plane count is known (FITS CONTEXT)
            if arr is None:
                arr = make(shp, dt)
            elif tuple(arr.shape) != shp:
                raise ValueError(f"product_outputs[{p!r}]: expected shape {shp}, got {tuple(arr.shape)}")
            self.arrays[p] = arr

    def blank_tile(self, tile):
        y0, y1, x0, x1 = tile
        for p, arr in self.arrays.items():
            if p == "context":
                arr[:, y0:y1, x0:x1] = 0
            else:
                arr[y0:y1, x0:x1] = np.nan if p == "variance" else 0

    def _params(self, src, position, resampler):
        i = src.index
        fpar = np.zeros(K.N_FP)
        ip = np.zeros(K.N_IP, dtype=np.int64)
        s = 1.0 if self.scales is None else float(self.scales[i])
        fpar[K.F_SCALE] = s
        fpar[K.F_EXPTIME] = 0.0 if self.exptimes is None else float(self.exptimes[i])
        ip[K.I_BADBITS] = self.bad_bits
        ip[K.I_MEMBER] = position
        ip[K.I_FLAGMODE] = self.flags_mode if self.masks[i] is not None else K.FLAG_NONE
        ip[K.I_FLUX] = int(bool(getattr(resampler, "flux", False)))
        vdata = _EMPTY_F32
        ip[K.I_VTYPE] = -1
        if "variance" in self.want:
            if self.variances[i] is not None:
                vdata = self.variances[i]
                ip[K.I_VTYPE] = 0
                fpar[K.F_VSCALE] = 1.0  # the kernel multiplies by s^2 itself
            else:  # the noise map as inverse variance, already divided by s^2
                vdata = src.wref.array
                ip[K.I_VTYPE] = 1
                fpar[K.F_VSCALE] = 1.0 / (s * s)
        mdata = self.masks[i] if self.masks[i] is not None else _EMPTY_U32
        return fpar, ip, vdata, mdata

    def compute_tile(self, job, k, out, fp):
        """Resample, combine and write tile ``k`` of ``job`` and its products (in this process).

        The tile's buffers are this thread's scratch (:meth:`_scratch`),
        reused from tile to tile: the products are written into the outputs
        before the thread takes its next tile.
        """
        by_index = {s.index: s for s in job.sources}
        prods = self.tile_products(job.tiles[k], job.members[k], by_index, job.resampler, job.method, out, fp, job.blank,
                                   scratch=self._scratch())
        self.store_tile(job.tiles[k], prods)

    def _scratch(self):
        """This thread's scratch buffers for :meth:`tile_products` (a dict kept for the run)."""
        key = threading.get_ident()
        bufs = self.scratch.get(key)
        if bufs is None:
            bufs = self.scratch[key] = {}
        return bufs

    def _variance_dtype(self):
        """The dtype the tile variance is computed in: the output's (float32 or float64), else float64."""
        a = self.arrays.get("variance")
        dt = np.dtype(a.dtype) if a is not None else self.dtypes.get("variance")
        if dt is None:
            return np.dtype(np.float64)
        dt = dt.newbyteorder("=")
        return dt if dt in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)

    def tile_products(self, tile, members, sources, resampler, method, out, fp, blank, scratch=None):
        """Resample and combine one tile into ``out``/``fp``; returns its products ``{name: array}``.

        ``sources`` maps input indices to sources; ``members`` lists the
        tile's inputs in input order (their positions are the context bits).
        ``scratch``: a dict of buffers reused across calls (the products
        returned are views of them, valid until the next call with the same
        dict); None allocates fresh arrays (the dask path returns them).
        The variance is returned in the output's dtype (see
        :func:`kernels._products.finalize_products`) and the count, when the
        context is computed too, as the number of set context bits.
        """
        y0, y1, x0, x1 = tile
        th, tw = y1 - y0, x1 - x0
        code, sink, init = COMBINES[self.combine]
        val = _buffer(scratch, "val", (th, tw), np.float64)
        wt = _buffer(scratch, "wt", (th, tw), np.float64)
        val.fill(init)
        wt.fill(0.0)
        want = self.want
        npl = -(-len(members) // 32)
        count_from_ctx = "count" in want and "context" in want
        var = _buffer(scratch, "var", (th, tw), np.float64, zero=True) if "variance" in want else _EMPTY_F64
        cnt = _buffer(scratch, "cnt", (th, tw), np.int32, zero=True) if "count" in want and not count_from_ctx else _EMPTY_I32
        expo = _buffer(scratch, "expo", (th, tw), np.float64, zero=True) if "exposure" in want else _EMPTY_F64
        ctx = _buffer(scratch, "ctx", (npl, th, tw), np.uint32, zero=True) if "context" in want else _EMPTY_CTX
        flg = _buffer(scratch, "flg", (th, tw), np.int64, zero=True) if "flags" in want else _EMPTY_I64
        fmode_off = "flags" not in want  # masks still drop samples
        sval = swt = None
        margin = resampler.margin
        for position, i in enumerate(members):
            src = sources[i]
            box = _overlap(tile, src.bbox, margin)
            if box is None:
                continue
            by0, by1, bx0, bx1 = box
            data, state, wdata = src.arrays(resampler)
            fpar, ip, vdata, mdata = self._params(src, position, resampler)
            if fmode_off:
                ip[K.I_FLAGMODE] = K.FLAG_NONE
            if ip[K.I_VTYPE] == 1 and _same_array(vdata, wdata):
                ip[K.I_VISW] = 1  # the weights are the variance source: the kernel reads them once for both
            # the product kernels evaluate the general chain: XPH and the quad cubes on a control grid
            tr = general_transform(src.transform, box, data.shape)
            if method == "interp":
                K.products_interp_tile(
                    data, state, wdata, mdata, vdata, tr.vector, tr.grid, resampler.order, by0, by1, bx0, bx1,
                    val, wt, var, cnt, expo, ctx, flg, y0, x0, sink, src.bg, fpar, ip,
                )
            else:
                if sval is None:
                    sval = _buffer(scratch, "sval", (th, tw), np.float64)
                    swt = _buffer(scratch, "swt", (th, tw), np.float64)
                resampler.tile(data, state, wdata, src.transform, by0, by1, bx0, bx1, sval, swt, y0, x0, SINK_WRITE, src.bg)
                K.products_box(
                    sval, swt, data, wdata, mdata, vdata, tr.vector, tr.grid, 1 if method == "exact" else 2,
                    getattr(resampler, "params", _EMPTY_PRM), by0, by1, bx0, bx1, val, wt, var, cnt, expo, ctx, flg, y0, x0, sink, fpar, ip,
                )
        C.finalize_tile(code, val, wt, out, fp, blank)
        prods = {}
        vout = _buffer(scratch, "vout", (th, tw), self._variance_dtype()) if "variance" in want else None
        cout = _buffer(scratch, "cout", (th, tw), np.int32) if count_from_ctx else None
        if vout is not None or cout is not None:
            K.finalize_products(self.combine == "mean", var, wt, ctx if cout is not None else _EMPTY_CTX,
                                _EMPTY_F64 if vout is None else vout, _EMPTY_I32 if cout is None else cout)
        if vout is not None:
            prods["variance"] = vout
        if "count" in want:
            prods["count"] = cnt if cout is None else cout
        if "exposure" in want:
            prods["exposure"] = expo
        if "context" in want:
            prods["context"] = ctx
        if "flags" in want:
            prods["flags"] = (flg & np.int64(0xFFFFFFFF)).astype(np.uint32)
        return prods

    def store_tile(self, tile, prods):
        """Write one tile's products (from :meth:`tile_products`) into the outputs."""
        y0, y1, x0, x1 = tile
        a = self.arrays
        for p, v in prods.items():
            if p == "context":
                npl = v.shape[0]
                a[p][:npl, y0:y1, x0:x1] = v
                a[p][npl:, y0:y1, x0:x1] = 0
            else:
                a[p][y0:y1, x0:x1] = v

    def for_workers(self):
        """A copy for dask workers: options, masks and variance maps, no outputs.

        Workers return each tile's products cast to the outputs' dtypes
        (the cast the client's write would make: the bytes are the same).
        """
        dtypes = {p: np.dtype(a.dtype).newbyteorder("=") for p, a in self.arrays.items()}
        return replace(self, outputs={}, arrays={}, dtypes=dtypes, scratch={})

    def cast(self, prods):
        """``prods`` in the outputs' dtypes (see :meth:`for_workers`)."""
        return {p: np.asarray(v, dtype=self.dtypes.get(p, np.asarray(v).dtype)) for p, v in prods.items()}

    def result(self, array, footprint, job):
        """The :class:`MosaicProducts` of a finished mosaic."""
        a = self.arrays
        ctx = None
        if "context" in a:
            t = job.tiles[0]  # the tiles' shape (a dask run makes larger tiles than the plan's)
            ctx = Context(a["context"], job.tiles, job.members, (t[1] - t[0], t[3] - t[2]), tuple(job.shape_out))
        return MosaicProducts(
            array=array, footprint=footprint, variance=a.get("variance"), count=a.get("count"),
            exposure=a.get("exposure"), context=ctx, flags=a.get("flags"), wcs=job.wcs_out,
        )


class ProductTileWork:
    """The mosaic's work function with products, for executors that do not share memory (dask).

    ``work(item, members)`` computes one tile and its products on a worker;
    returns ``(target result, products cast to the outputs' dtypes)``, the
    client writes the products (:meth:`ProductSpec.store_tile`).  Picklable
    (shipped once per run, with the masks and variance maps).
    """

    def __init__(self, spec, resampler, method, blank, target, backgrounds=None):
        self.spec, self.resampler, self.method, self.blank = spec, resampler, method, blank
        self.target, self.backgrounds = target, backgrounds

    def __call__(self, item, members):
        if self.backgrounds is not None:
            for i, src in members.items():
                src.bg = self.backgrounds[i]
        o, f = self.target.open(item.box)
        prods = self.spec.tile_products(item.box, list(item.members), members, self.resampler, self.method, o, f, self.blank)
        return self.target.close(item.box, o, f), self.spec.cast(prods)


def _same_array(a, b):
    """``a`` and ``b`` are the same pixels (the same memory, shape, strides and dtype)."""
    if a is b:
        return True
    return (a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _buffer(scratch, name, shape, dtype, zero=False):
    """A ``shape`` array of ``dtype``: fresh when ``scratch`` is None, else a view of the
    buffer ``scratch`` keeps under ``name`` (grown when too small); zeroed if ``zero``."""
    dtype = np.dtype(dtype)
    if scratch is None:
        return np.zeros(shape, dtype) if zero else np.empty(shape, dtype)
    n = int(np.prod(shape))
    key = (name, dtype)
    buf = scratch.get(key)
    if buf is None or buf.size < n:
        buf = scratch[key] = np.empty(n, dtype)
    a = buf[:n].reshape(shape)
    if zero:
        a.fill(0)
    return a


_EMPTY_PRM = np.zeros(0)
_EMPTY_F32 = np.empty((0, 0), np.float32)
_EMPTY_F64 = np.empty((0, 0))
_EMPTY_I32 = np.empty((0, 0), np.int32)
_EMPTY_I64 = np.empty((0, 0), np.int64)
_EMPTY_U32 = np.empty((0, 0), np.uint32)
_EMPTY_CTX = np.empty((0, 0, 0), np.uint32)


# --------------------------------------------------------------------------- results


class Context:
    """Which inputs contribute to each output pixel, in compact form.

    ``bits`` has shape ``(nplanes, ny, nx)`` (``uint32``): bit ``b`` of plane
    ``p`` at a pixel means that member ``32 p + b`` of the pixel's tile
    contributes; ``members[k]`` lists the input indices of tile ``k`` (in
    input order) and ``tiles[k]`` its box ``(y0, y1, x0, x1)``.  Memory grows
    with the largest number of inputs overlapping one tile, not with the
    number of inputs (drizzle's context keeps one bit per input).
    """

    def __init__(self, bits, tiles, members, tile_shape, shape):
        self.bits = bits
        self.tiles = list(tiles)
        self.members = [tuple(m) for m in members]
        self.tile_shape = tuple(tile_shape)
        self.shape = tuple(shape)
        self._ntx = -(-self.shape[1] // self.tile_shape[1])

    @classmethod
    def from_fits(cls, hdul, image="CONTEXT", table="CTXTILES"):
        """The context of a mosaic FITS file (``numbamosaic mosaic --products context``).

        ``hdul[image]`` holds the bit planes and ``hdul[table]`` one row per
        tile: its box ``Y0, Y1, X0, X1`` and ``MEMBERS`` (input indices,
        0-based, in the order of the ``NMINnnnn`` cards); its header has the
        tile shape (``TILEY``, ``TILEX``).
        """
        bits = hdul[image].data
        t = hdul[table]
        tiles = [tuple(int(v) for v in r) for r in zip(t.data["Y0"], t.data["Y1"], t.data["X0"], t.data["X1"])]
        members = [tuple(int(i) for i in m) for m in t.data["MEMBERS"]]
        return cls(bits, tiles, members, (t.header["TILEY"], t.header["TILEX"]), bits.shape[-2:])

    def table_hdu(self, name="CTXTILES"):
        """The tiles and their members as a FITS binary table (see :meth:`from_fits`)."""
        from astropy.io import fits

        y0, y1, x0, x1 = (np.array([t[q] for t in self.tiles], dtype=np.int32) for q in range(4))
        members = np.empty(len(self.members), dtype=object)
        members[:] = [np.asarray(m, dtype=np.int32) for m in self.members]
        cols = [fits.Column(name=n, format="J", array=a) for n, a in zip(("Y0", "Y1", "X0", "X1"), (y0, y1, x0, x1))]
        cols.append(fits.Column(name="MEMBERS", format="PJ()", array=members))
        hdu = fits.BinTableHDU.from_columns(cols, name=name)
        hdu.header["TILEY"] = (self.tile_shape[0], "tile height of the context's member lists")
        hdu.header["TILEX"] = (self.tile_shape[1], "tile width")
        hdu.header["COMMENT"] = "Bit b of CONTEXT plane p at a pixel: input MEMBERS[32 p + b] of the pixel's tile"
        hdu.header["COMMENT"] = "contributes (input indices 0-based, in the order of the NMINnnnn cards)."
        return hdu

    def tile_of(self, y, x):
        """Index of the tile holding output pixel ``(y, x)``."""
        if not (0 <= y < self.shape[0] and 0 <= x < self.shape[1]):
            raise IndexError(f"pixel ({y}, {x}) is outside the output of shape {self.shape}")
        return (y // self.tile_shape[0]) * self._ntx + x // self.tile_shape[1]

    def inputs_at(self, y, x):
        """Indices of the inputs contributing to output pixel ``(y, x)`` (in input order)."""
        k = self.tile_of(int(y), int(x))
        out = []
        for p, i in enumerate(self.members[k]):
            if (int(self.bits[p // 32, y, x]) >> (p % 32)) & 1:
                out.append(i)
        return out

    def input_map(self, index):
        """Boolean map of the output pixels to which input ``index`` contributes."""
        out = np.zeros(self.shape, dtype=bool)
        for k, m in enumerate(self.members):
            if index in m:
                p = m.index(index)
                y0, y1, x0, x1 = self.tiles[k]
                out[y0:y1, x0:x1] = (np.asarray(self.bits[p // 32, y0:y1, x0:x1]) >> np.uint32(p % 32)) & 1
        return out

    def __repr__(self):
        return f"<Context {self.shape}, {self.bits.shape[0]} plane(s), {len(self.tiles)} tiles>"


@dataclass
class MosaicProducts:
    """The mosaic and its products (``None`` when not requested or not computable).

    ``array, footprint = products`` still works (iteration yields the two).
    """

    array: object
    footprint: object
    variance: object = None
    count: object = None
    exposure: object = None
    context: object = None
    flags: object = None
    wcs: object = None

    def __iter__(self):
        return iter((self.array, self.footprint))

    def _nd_parts(self):
        from astropy.nddata import VarianceUncertainty

        data = np.asarray(self.array)
        mask = ~(np.asarray(self.footprint) > 0) | ~np.isfinite(data)
        unc = VarianceUncertainty(np.asarray(self.variance)) if self.variance is not None else None
        meta = {"footprint": self.footprint}
        for p in ("count", "exposure", "flags", "context"):
            if getattr(self, p) is not None:
                meta[p] = getattr(self, p)
        return data, mask, unc, meta

    def to_nddata(self, unit=None):
        """An :class:`astropy.nddata.NDData` with ``VarianceUncertainty`` and mask (True = no data)."""
        from astropy.nddata import NDData

        data, mask, unc, meta = self._nd_parts()
        return NDData(data, uncertainty=unc, mask=mask, wcs=self.wcs, unit=unit, meta=meta)

    def to_ccddata(self, unit="adu"):
        """An :class:`astropy.nddata.CCDData` (``unit`` required by CCDData; default ``'adu'``)."""
        from astropy.nddata import CCDData

        data, mask, unc, meta = self._nd_parts()
        return CCDData(data, uncertainty=unc, mask=mask, wcs=self.wcs, unit=unit, meta=meta)
