"""The mosaic planner: decide how memory and disk are used before any work.

:func:`make_plan` looks at the output size, every input's bounding box, the
combine function and the resampler, measures what the machine offers
(available memory, ``_budget.available_memory``; free space in the temporary
directory, :func:`free_disk_bytes`) and
chooses:

* where the outputs live: the caller's arrays, RAM, or (when the caller
  passed none and they do not fit) disk-backed memmaps in ``tmpdir``;
* the strategy: ``stream`` (every output tile is computed straight from the
  inputs; needs no per-input intermediates, even for the median) or
  ``intermediates`` (a custom ``reproject_function`` produces per-input
  cutouts first, in RAM or memory-mapped under ``tmpdir``);
* the tile size and thread count, so that per-thread tile buffers (and, for
  median / clipped mean, the per-tile stack of every overlapping input) fit
  the budget.

If nothing fits, :class:`MosaicMemoryError` (a ``MemoryError``) is raised,
naming the numbers, before anything is allocated.
"""

import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .._budget import MosaicMemoryError, memory_budget, size_text
# re-exported: the planner's names for the CLI, the mosaic driver and the cube planner
from .._budget import DEFAULT_MEMORY_FRACTION as DEFAULT_MEMORY_FRACTION, parse_memory as parse_memory

MIN_TILE = 32
MAX_TILE = 512
MIN_TILES = 16
#: the least work a default tile holds, in bilinear-pixel equivalents (pixels x the resampler's
#: ``pixel_cost``): a tile costs ~50-100 us of Python, kernel calls and thread hand-offs, so a small
#: mosaic is one or a few tiles rather than MIN_TILES tiles of a few hundred pixels
MIN_TILE_WORK = 16384


@dataclass
class MosaicPlan:
    """What :func:`reproject_and_coadd` will do, and what it will cost.

    Attributes
    ----------
    shape_out : tuple
        Output shape.
    dtype : numpy dtype
        Output dtype.
    combine_function : str
    method : str
        Resampling method (``interp``, ``exact``, ``adaptive`` or ``custom``).
    bboxes : dict
        Input index -> ``(y0, y1, x0, x1)`` box in the output.
    dropped : list
        Indices of inputs that miss the output.
    strategy : str
        ``'stream'`` or ``'intermediates'``.
    intermediates_on_disk : bool
    outputs : str
        ``'caller'``, ``'memory'`` or ``'memmap'``.
    tile_shape : tuple
    n_tiles : int
    threads : int
    max_depth : int
        Largest number of inputs overlapping one tile.
    estimates : dict
        Strategy name -> ``{'memory': bytes, 'disk': bytes}``.
    memory_budget, available_memory : int
    tmpdir : str
    free_disk : int
    """

    shape_out: tuple
    dtype: object
    combine_function: str
    method: str
    bboxes: dict
    dropped: list
    strategy: str
    intermediates_on_disk: bool
    outputs: str
    tile_shape: tuple
    n_tiles: int
    threads: int
    max_depth: int
    estimates: dict
    memory_budget: int
    available_memory: int
    tmpdir: str
    free_disk: int
    notes: list = field(default_factory=list)

    @property
    def peak_memory(self):
        return self.estimates[self.chosen_key]["memory"]

    @property
    def disk_use(self):
        return self.estimates[self.chosen_key]["disk"]

    @property
    def chosen_key(self):
        return self._key(self.strategy, self.intermediates_on_disk, self.outputs)

    @staticmethod
    def _key(strategy, on_disk, outputs):
        s = strategy if strategy == "stream" else f"intermediates-{'memmap' if on_disk else 'memory'}"
        return f"{s}/outputs-{outputs}"

    def summary_lines(self):
        ny, nx = self.shape_out
        lines = [
            f"output {ny} x {nx} {np.dtype(self.dtype).name}, combine '{self.combine_function}', method '{self.method}'",
            f"inputs: {len(self.bboxes)} used, {len(self.dropped)} outside the output",
            f"strategy: {self.strategy}"
            + (f" (intermediates {'memory-mapped in ' + self.tmpdir if self.intermediates_on_disk else 'in memory'})" if self.strategy != "stream" else ""),
            f"outputs: {self.outputs}",
            f"tiles: {self.n_tiles} of {self.tile_shape[0]} x {self.tile_shape[1]}, {self.threads} thread(s), max depth {self.max_depth}",
            f"estimated peak memory {size_text(self.peak_memory)}, disk {size_text(self.disk_use)}; "
            f"budget {size_text(self.memory_budget)} of {size_text(self.available_memory)} available, {size_text(self.free_disk)} free in {self.tmpdir}",
        ]
        for k, v in self.estimates.items():
            mark = "*" if k == self.chosen_key else " "
            lines.append(f"  {mark} {k:40s} memory {size_text(v['memory']):>10s}  disk {size_text(v['disk']):>10s}")
        lines += [f"note: {n}" for n in self.notes]
        return lines

    def __repr__(self):
        return "MosaicPlan:\n  " + "\n  ".join(self.summary_lines())

    def _repr_html_(self):
        import html

        rows = "".join(
            f"<tr><td>{'&#9733;' if k == self.chosen_key else ''}</td><td>{html.escape(k)}</td>"
            f"<td>{size_text(v['memory'])}</td><td>{size_text(v['disk'])}</td></tr>"
            for k, v in self.estimates.items()
        )
        head = "<br>".join(html.escape(line) for line in self.summary_lines()[:6])
        return (
            f"<div><b>MosaicPlan</b><br>{head}<table><tr><th></th><th>strategy</th><th>memory</th><th>disk</th></tr>"
            f"{rows}</table></div>"
        )


def _sides():
    """Default tile sides, largest first: powers of two from MAX_TILE down to MIN_TILE."""
    t = MAX_TILE
    while t >= MIN_TILE:
        yield t
        t //= 2


def tile_memory(tile, depth, stack, itemsize, match_background):
    """Bytes one worker thread needs for one tile (accumulators, stack, samples)."""
    t = tile[0] * tile[1]
    b = t * 16  # float64 accumulators
    if stack:
        b += depth * t * 2 * itemsize + t * 8
    if match_background:
        b += depth * t * 8
    return b


def tiles_for(shape_out, tile_shape):
    """Row-major list of output tiles ``(y0, y1, x0, x1)``."""
    ny, nx = shape_out
    ty, tx = tile_shape
    return [(y, min(ny, y + ty), x, min(nx, x + tx)) for y in range(0, ny, ty) for x in range(0, nx, tx)]


def _tile_ranges(shape_out, tile_shape, bboxes, margin):
    """Per input (in index order): ``(index, ky0, ky1, kx0, kx1)``, the half-open
    ranges of tile rows / columns its box (grown by ``margin``) meets."""
    ny, nx = shape_out
    ty, tx = tile_shape
    nty, ntx = -(-ny // ty), -(-nx // tx)
    out = []
    for i, (b0, b1, c0, c1) in sorted(bboxes.items()):
        ky0, ky1 = max(0, (b0 - margin) // ty), min(nty, -(-(b1 + margin) // ty))
        kx0, kx1 = max(0, (c0 - margin) // tx), min(ntx, -(-(c1 + margin) // tx))
        if ky0 < ky1 and kx0 < kx1:
            out.append((i, ky0, ky1, kx0, kx1))
    return out, nty, ntx


def tile_members(tiles, bboxes, margin=0):
    """For each tile, the input indices (in input order) whose box meets it.

    ``tiles`` must be :func:`tiles_for`'s row-major grid; the cost is that of
    the (input, tile) pairs that overlap, not inputs x tiles.
    """
    if not tiles:
        return []
    ty, tx = tiles[0][1] - tiles[0][0], tiles[0][3] - tiles[0][2]
    shape_out = (tiles[-1][1], tiles[-1][3])
    ranges, nty, ntx = _tile_ranges(shape_out, (ty, tx), bboxes, margin)
    out = [[] for _ in range(nty * ntx)]
    for i, ky0, ky1, kx0, kx1 in ranges:
        for ky in range(ky0, ky1):
            row = ky * ntx
            for kx in range(kx0, kx1):
                out[row + kx].append(i)
    return out


def resident_input_bytes(members, nbytes, threads=1):
    """Largest total size of memory-mapped inputs resident at once.

    Tiles run in order (``threads`` at a time); an input's pages are
    resident from the first tile that reads it until its last tile is done.

    Parameters
    ----------
    members : list of list of int
        Per tile, the indices of the inputs it reads (:func:`tile_members`).
    nbytes : dict
        Input index -> bytes, for the memory-mapped inputs only.
    threads : int
        Tiles in flight at once.
    """
    if not nbytes:
        return 0
    first, last = {}, {}
    for k, m in enumerate(members):
        for i in m:
            if i in nbytes:
                first.setdefault(i, k)
                last[i] = k
    events = np.zeros(len(members) + threads + 2, dtype=np.int64)
    for i, k0 in first.items():
        events[max(0, k0 - threads + 1)] += nbytes[i]  # loaded up to threads - 1 tiles early
        events[last[i] + 1] -= nbytes[i]
    return int(np.cumsum(events).max(initial=0))


def max_depth(shape_out, tile_shape, bboxes, margin=0):
    """``(largest number of inputs meeting one tile, number of tiles)``.

    A 2-D difference array over the tile grid: memory and time grow with the
    number of tiles and inputs, never with their product.
    """
    ranges, nty, ntx = _tile_ranges(shape_out, tile_shape, bboxes, margin)
    n_tiles = nty * ntx
    if not ranges:
        return 0, n_tiles
    r = np.asarray(ranges, dtype=np.int64)
    diff = np.zeros((nty + 1, ntx + 1), dtype=np.int32)
    np.add.at(diff, (r[:, 1], r[:, 3]), 1)
    np.add.at(diff, (r[:, 2], r[:, 3]), -1)
    np.add.at(diff, (r[:, 1], r[:, 4]), -1)
    np.add.at(diff, (r[:, 2], r[:, 4]), 1)
    depth = np.cumsum(np.cumsum(diff, axis=0), axis=1)
    return int(depth.max()), n_tiles


def _refuse(best_mem, best_disk, budget, memory_limit, free_disk, tmpdir):
    return MosaicMemoryError(
        f"no mosaic strategy fits: the smallest needs {size_text(best_mem)} of memory and {size_text(best_disk)} of disk, "
        f"but the memory budget is {size_text(budget)} ({'memory_limit' if memory_limit is not None else 'default fraction of available memory'}) "
        f"and {size_text(free_disk)} is free in {tmpdir}. Pass output_array/output_footprint memmaps, "
        f"intermediate_memmap='auto', a larger memory_limit, or a tmpdir with more space."
    )

def resident_bytes(shape_out, tile_shape, bboxes, margin, nbytes, threads=1):
    """:func:`resident_input_bytes` for the row-major tile grid of ``tile_shape``,
    from each input's tile ranges: no per-tile member lists are built."""
    if not nbytes:
        return 0
    ranges, nty, ntx = _tile_ranges(shape_out, tile_shape, bboxes, margin)
    pos, val = [], []
    for i, ky0, ky1, kx0, kx1 in ranges:
        if i in nbytes:
            first, last = ky0 * ntx + kx0, (ky1 - 1) * ntx + kx1 - 1
            pos += [max(0, first - threads + 1), last + 1]
            val += [nbytes[i], -nbytes[i]]
    if not pos:
        return 0
    uniq, inv = np.unique(np.asarray(pos, dtype=np.int64), return_inverse=True)
    total = np.zeros(len(uniq), dtype=np.int64)
    np.add.at(total, inv, np.asarray(val, dtype=np.int64))
    return int(max(0, np.cumsum(total).max()))


def free_disk_bytes(path):
    """Bytes free for an unprivileged user on the file system of ``path`` (0 if it cannot be read).

    ``psutil.disk_usage(path).free``: on POSIX that is ``f_bavail * f_frsize``
    of ``os.statvfs`` (psutil's own formula, ``psutil._psposix.disk_usage``),
    computed here without importing psutil (~10 ms of a fresh process's first
    mosaic); psutil elsewhere (Windows has no ``statvfs``).

    References
    ----------
    POSIX ``statvfs`` (``f_bavail``: free blocks available to an unprivileged
    process; ``f_frsize``: fundamental block size).
    """
    try:
        if hasattr(os, "statvfs"):
            st = os.statvfs(path)
            return int(st.f_bavail * st.f_frsize)
        import psutil

        return int(psutil.disk_usage(path).free)
    except OSError:
        return 0


def make_plan(
    shape_out,
    dtype,
    bboxes,
    dropped,
    combine_function,
    method,
    threads,
    input_bytes,
    state_bytes,
    outputs_to_allocate,
    needs_intermediates,
    intermediate_memmap,
    memory_limit=None,
    tmpdir=None,
    match_background=False,
    tile_size=None,
    margin=0,
    tile_multiple=(1, 1),
    staged_outputs=0,
    mapped_input_bytes=None,
    file_outputs=0,
    products=None,
    pixel_cost=None,
):
    """Choose a strategy; see the module docstring.  Returns a :class:`MosaicPlan`.

    ``outputs_to_allocate`` (0, 1 or 2) counts the outputs the caller did
    not pass.  ``tile_multiple`` rounds tile sides up to multiples (the
    chunk grid of chunked outputs; a tile may also end at the output's
    edge); ``staged_outputs`` counts outputs written through a tile-sized
    buffer per thread.  ``mapped_input_bytes`` (input index -> bytes) are
    inputs memory-mapped from files: their pages are resident from the first
    tile that reads them to the last (:func:`resident_input_bytes`).
    ``file_outputs`` counts caller outputs that are file areas written
    through those buffers (FITS): they take no memory of their own
    (``outputs`` is then ``'file'``).  ``products`` (a
    ``mosaic._products.ProductSpec`` or None) adds its outputs, masks and
    variance maps, and per-thread accumulators (its methods ``input_bytes``,
    ``tile_bytes_per_pixel`` and ``output_bytes_per_pixel``: the planner
    does not import the products module, which is above it).  ``pixel_cost``
    (the resampler's cost of an output pixel relative to bilinear; None: no
    minimum) keeps default tiles above :data:`MIN_TILE_WORK`.
    """
    tmpdir = tmpdir or tempfile.gettempdir()
    budget, available = memory_budget(memory_limit)
    free_disk = free_disk_bytes(tmpdir)
    itemsize = np.dtype(dtype).itemsize
    n_out = int(np.prod(shape_out))
    out_bytes = int(outputs_to_allocate) * n_out * itemsize
    stack = combine_function in ("median", "clipped-mean")
    inter_bytes = sum((b[1] - b[0]) * (b[3] - b[2]) for b in bboxes.values()) * 8  # float32 value + weight
    fixed = input_bytes + state_bytes + (2 << 20) * max(1, len(bboxes)) // 64 + (products.input_bytes() if products is not None else 0)

    depth_cache = {}

    def depth_for(tile):
        if tile not in depth_cache:
            depth, n_tiles = max_depth(shape_out, tile, bboxes, margin)
            resident = resident_bytes(shape_out, tile, bboxes, margin, mapped_input_bytes or {}, threads)
            depth_cache[tile] = (depth, n_tiles, resident)
        return depth_cache[tile]

    def per_thread(tile, depth):
        # tile buffers of chunked outputs (+ one big-endian copy for file areas)
        staged = (staged_outputs + bool(file_outputs)) * tile[0] * tile[1] * itemsize
        prod = tile[0] * tile[1] * (products.tile_bytes_per_pixel(depth) if products is not None else 0)
        return tile_memory(tile, depth, stack, itemsize, match_background) + staged + prod

    my, mx = (int(m) for m in tile_multiple)
    ny, nx = shape_out

    def aligned(tile):
        # a multiple of the chunk grid, or the whole axis
        return (min(-(-tile[0] // my) * my, ny), min(-(-tile[1] // mx) * mx, nx))

    # tile size: largest power of two <= MAX_TILE keeping >= 2 tiles per thread when possible
    if tile_size is not None:
        tile = (int(tile_size), int(tile_size)) if np.isscalar(tile_size) else tuple(int(t) for t in tile_size)
        candidates = [aligned(tile)]
    else:
        candidates = list(dict.fromkeys(aligned((t, t)) for t in _sides()))
        # at least MIN_TILES tiles when the output allows it, independent of the
        # thread count so that the tiling (hence every sample) is the same for any
        # number of threads or workers
        candidates = [c for c in candidates if (ny * nx) / (c[0] * c[1]) >= MIN_TILES or c == candidates[-1]]
        if pixel_cost:
            # ... but no smaller than MIN_TILE_WORK (tiny mosaics: one or a few tiles); like the rule
            # above, this depends on the output and the method only, never on the thread count
            least = MIN_TILE_WORK / float(pixel_cost)
            if candidates[0][0] * candidates[0][1] < least:
                bigger = [c for c in dict.fromkeys(aligned((t, t)) for t in _sides()) if c[0] * c[1] >= least]
                first = bigger[-1] if bigger else aligned((MAX_TILE, MAX_TILE))
                candidates = [first] + [c for c in candidates if c[0] * c[1] < first[0] * first[1]]
        if file_outputs:
            # full-width strips (one contiguous write each): no larger than a MAX_TILE² tile
            candidates = [c for c in candidates if c[0] * c[1] <= MAX_TILE * MAX_TILE] or candidates[-1:]

    configs = []
    for outputs in (["caller"] if not outputs_to_allocate else ["memory", "memmap"]):
        for needs, on_disk in ([(False, False)] if not needs_intermediates else [(True, False), (True, True)]):
            if needs and intermediate_memmap is True and not on_disk:
                continue
            if needs and intermediate_memmap is False and on_disk:
                continue
            configs.append((outputs, needs, on_disk))

    def floor_cost(outputs, needs, on_disk):
        # what the configuration costs before any tile: outputs, intermediates, inputs
        mem = (out_bytes if outputs == "memory" else 0) + (inter_bytes if needs and not on_disk else 0) + fixed
        disk = (out_bytes if outputs == "memmap" else 0) + (inter_bytes if needs and on_disk else 0)
        return mem, disk

    # refuse in constant time when not even the tile-independent part fits:
    # no tile grid is enumerated for an output that cannot exist
    floors = [floor_cost(*c) for c in configs]
    if not any(m <= budget and d <= free_disk for m, d in floors):
        best_mem, best_disk = min(floors)
        raise _refuse(best_mem, best_disk, budget, memory_limit, free_disk, tmpdir)

    estimates = {}
    options = []
    caller_kind = "file" if file_outputs and file_outputs == 2 - int(outputs_to_allocate) else "caller"
    for outputs in ([caller_kind] if not outputs_to_allocate else ["memory", "memmap"]):
        out_mem = 0 if outputs != "memory" else out_bytes
        out_disk = out_bytes if outputs == "memmap" else 0
        inter_opts = [(False, False)] if not needs_intermediates else [(True, False), (True, True)]
        for needs, on_disk in inter_opts:
            inter_mem = inter_bytes if needs and not on_disk else 0
            inter_disk = inter_bytes if needs and on_disk else 0
            for tile in candidates:
                depth, n_tiles, resident = depth_for(tile)
                prod_out = n_out * (products.output_bytes_per_pixel(dtype, depth) if products is not None else 0)
                mem = out_mem + inter_mem + fixed + resident + threads * per_thread(tile, depth)
                mem += prod_out if outputs != "memmap" else 0
                disk = out_disk + inter_disk + (prod_out if outputs == "memmap" else 0)
                strategy = "intermediates" if needs else "stream"
                key = MosaicPlan._key(strategy, on_disk, outputs)
                if key not in estimates:
                    estimates[key] = {"memory": mem, "disk": disk}
                options.append((key, strategy, on_disk, outputs, tile, depth, n_tiles, mem, disk))
                if mem <= budget:
                    break  # largest tile that fits for this configuration
                if disk > free_disk:
                    break  # no tile makes the disk fit

    def allowed(opt):
        key, strategy, on_disk, outputs, tile, depth, n_tiles, mem, disk = opt
        if needs_intermediates:
            if intermediate_memmap is True and not on_disk:
                return False
            if intermediate_memmap is False and on_disk:
                return False
        return mem <= budget and disk <= free_disk

    fitting = [o for o in options if allowed(o)]
    if not fitting:
        best = min(options, key=lambda o: o[7])
        raise _refuse(best[7], best[8], budget, memory_limit, free_disk, tmpdir)
    # preference: outputs in memory over memmap, intermediates in memory over disk, larger tiles
    def rank(o):
        key, strategy, on_disk, outputs, tile, depth, n_tiles, mem, disk = o
        return (outputs == "memmap", on_disk, -tile[0])

    key, strategy, on_disk, outputs, tile, depth, n_tiles, mem, disk = min(fitting, key=rank)
    estimates[key] = {"memory": mem, "disk": disk}
    notes = []
    if outputs == "memmap":
        notes.append("outputs do not fit in memory: returning disk-backed np.memmap arrays")
    if outputs == "file":
        notes.append("outputs: file data areas written tile by tile through tile buffers (no full-size array in memory)")
    elif staged_outputs:
        notes.append(f"chunked outputs: tiles aligned to a {my} x {mx} chunk grid, written through tile buffers")
    return MosaicPlan(
        shape_out=tuple(shape_out),
        dtype=np.dtype(dtype),
        combine_function=combine_function,
        method=method,
        bboxes=dict(bboxes),
        dropped=list(dropped),
        strategy=strategy,
        intermediates_on_disk=on_disk,
        outputs=outputs,
        tile_shape=tile,
        n_tiles=n_tiles,
        threads=threads,
        max_depth=depth,
        estimates=estimates,
        memory_budget=budget,
        available_memory=available,
        tmpdir=tmpdir,
        free_disk=free_disk,
        notes=notes,
    )


#: largest side of a cube mosaic's tile (the image plane; every tile holds all planes)
CUBE_TILE_MAX = 512
#: smallest side chosen automatically (smaller tiles: the per-tile overheads dominate)
CUBE_TILE_MIN = 16
#: per-thread accumulators of a cube tile are kept below this (128 planes: 128 x 128 tiles); larger
#: ones only cost memory (bench_cubes: 512^2 x 128 planes held 1 GiB of buffers on 2 threads)
CUBE_TILE_BYTES = 64 * 1024 * 1024


def cube_tile_shape(shape_out, planes, threads, memory_limit=None, state_bytes=0, tile_size=None, multiple=(1, 1),
                    staged=0, itemsize=4, output_bytes=0):
    """Tile ``(th, tw)`` of the image plane for a cube mosaic, the planes counted.

    Each thread holds a tile's two float64 accumulators for every plane
    (``planes x th x tw x 16`` bytes) plus, for each chunked output
    (``staged``), a copy of the tile in the output dtype.  The largest square
    tile up to :data:`CUBE_TILE_MAX` (a multiple of ``multiple``, the chunk
    grid of chunked outputs) whose per-thread buffers stay below
    :data:`CUBE_TILE_BYTES` and fit, with ``state_bytes``
    (per-input state) and ``output_bytes`` (outputs allocated in memory),
    into the budget (``memory_limit`` or :data:`DEFAULT_MEMORY_FRACTION` of
    the available memory) is used; ``tile_size`` overrides it.

    Raises
    ------
    MosaicMemoryError
        If even the smallest tile does not fit.
    """
    ny, nx = (int(s) for s in shape_out)
    my, mx = (int(m) for m in multiple)

    def up(n, m):
        return max(m, -(-n // m) * m)

    if tile_size is not None:
        return min(up(int(tile_size[0]), my), up(ny, my)), min(up(int(tile_size[1]), mx), up(nx, mx))
    budget, _ = memory_budget(memory_limit)
    per_pixel = int(planes) * (16 + int(staged) * int(itemsize))
    room = (budget - int(state_bytes) - int(output_bytes)) // max(1, int(threads))
    side = CUBE_TILE_MAX
    while True:
        th, tw = min(up(side, my), up(ny, my)), min(up(side, mx), up(nx, mx))
        small = th * tw * per_pixel <= CUBE_TILE_BYTES or side <= CUBE_TILE_MIN or (th == my and tw == mx)
        if th * tw * per_pixel <= room and small:
            return th, tw
        if side <= CUBE_TILE_MIN or (th == my and tw == mx):
            raise MosaicMemoryError(
                f"cube mosaic of {planes} planes: a {th} x {tw} tile needs {size_text(th * tw * per_pixel)} per thread "
                f"({threads} threads) besides {size_text(state_bytes + output_bytes)} of inputs' state and outputs, but "
                f"the memory budget is {size_text(budget)}. Raise memory_limit, use fewer threads, or pass outputs as "
                "np.memmap / zarr arrays."
            )
        side //= 2
