"""The memory budget of the planners: limits, the default share of available memory, the error, byte sizes.

A leaf module (NumPy only; psutil when measuring): the mosaic planner
(:mod:`numbamosaic.mosaic._plan`), the HiPS planner, the single-image front
end (:mod:`numbamosaic._common`), the command line and the file writers use
it without importing each other.
"""

import mmap
import re

import numpy as np

DEFAULT_MEMORY_FRACTION = 0.6


class MosaicMemoryError(MemoryError):
    """No strategy fits the memory (and disk) budget."""


def parse_memory(value, name="memory_limit"):
    """Parse ``'300MB'``, ``'2 GiB'``, ``1e9`` into bytes."""
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name}: must be a positive, finite number of bytes, got {value}")
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([kKmMgGtT]?)(i?)[bB]?\s*", value)
        if m:
            num = float(m.group(1))
            unit = m.group(2).upper()
            base = 1024 if m.group(3) else 1000
            mult = {"": 1, "K": base, "M": base**2, "G": base**3, "T": base**4}[unit]
            if num > 0:
                return int(num * mult)
    raise ValueError(f"{name}: expected bytes or a string like '300MB' / '2GiB', got {value!r}")


def available_memory():
    """Bytes of memory available now: ``psutil.virtual_memory().available``.

    On Linux that is the kernel's ``MemAvailable`` estimate, read here
    directly from ``/proc/meminfo`` (~10 us instead of psutil's ~60 us parse of
    every field, a tenth of a small reprojection); psutil elsewhere, and in
    the cases where psutil does not return ``MemAvailable`` (missing, 0, or
    above ``MemTotal`` in some containers).
    """
    fields = {}
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                key, _, rest = line.partition(b":")
                if key in (b"MemTotal", b"MemAvailable"):
                    value = rest.split()
                    if len(value) == 2 and value[1] == b"kB":
                        fields[key] = int(value[0]) * 1024
                    if len(fields) == 2:
                        break
    except (OSError, ValueError):
        fields = {}
    avail, total = fields.get(b"MemAvailable", 0), fields.get(b"MemTotal", 0)
    if 0 < avail <= total:
        return avail
    import psutil

    return int(psutil.virtual_memory().available)


def memory_budget(memory_limit=None):
    """``(budget, available)`` in bytes: ``memory_limit`` parsed, else :data:`DEFAULT_MEMORY_FRACTION` of the
    memory available now (:func:`available_memory`), and that available memory."""
    available = available_memory()
    budget = parse_memory(memory_limit) if memory_limit is not None else int(available * DEFAULT_MEMORY_FRACTION)
    return budget, available


def check_single_outputs(shape_out, dtype, n_outputs, memory_limit=None):
    """Refuse, before allocating, outputs of a single-image reprojection that do not fit.

    ``n_outputs`` arrays of ``shape_out`` x ``dtype`` are compared with the
    budget (``memory_limit`` or a fraction of the available memory): an
    output that fits in virtual memory but not in RAM would otherwise be
    allocated and the process killed by the OOM killer mid-way.

    Raises
    ------
    MosaicMemoryError
        Naming the sizes and suggesting ``output_array`` / ``output_footprint``
        memmaps.
    """
    if n_outputs <= 0:
        return
    need = int(n_outputs) * int(np.prod([int(n) for n in shape_out], dtype=np.float64)) * np.dtype(dtype).itemsize
    budget, available = memory_budget(memory_limit)
    if need > budget:
        raise MosaicMemoryError(
            f"shape_out {tuple(shape_out)}: {n_outputs} output array(s) of {np.dtype(dtype).name} need {size_text(need)}, "
            f"but the memory budget is {size_text(budget)} (of {size_text(available)} available). Pass output_array "
            f"(and output_footprint, or return_footprint=False) as np.memmap arrays on disk, or a smaller shape_out."
        )


def check_temporaries(nbytes, what, memory_limit=None):
    """Refuse, before allocating, temporaries of ``nbytes`` bytes (described by ``what``)
    that exceed the memory budget (``memory_limit`` or a fraction of the available memory).

    Raises
    ------
    MosaicMemoryError
    """
    budget, available = memory_budget(memory_limit)
    if nbytes > budget:
        raise MosaicMemoryError(
            f"{what} need {size_text(nbytes)}, but the memory budget is {size_text(budget)} "
            f"(of {size_text(available)} available)."
        )


def size_text(n):
    """``n`` bytes as text: ``512 B``, ``1.5 KiB`` ... ``2.0 TiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0


#: outputs of at least this many bytes are allocated by :func:`empty_output`
#: as anonymous maps without transparent huge pages
NO_HUGEPAGE_BYTES = 64 << 20


def empty_output(shape, dtype):
    """An uninitialised output array; big ones without transparent huge pages.

    NumPy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``)
    for every allocation of 4 MiB or more.  A huge page is a free 2 MiB
    block, which on a virtual machine with much free memory is usually
    memory the guest has not touched since it booted: the hypervisor backs
    it on first touch, slowly.  Measured on the 2-core VM of our benchmarks
    (two threads filling two 805 MB arrays): with huge pages 2.2 s wall
    (3.8 s system time) when the blocks were untouched, 0.16 s when recently
    freed huge pages were available; with 4 KiB pages, which the kernel
    recycles from recently freed memory, 0.38 s every time.  The 16-tile
    API mosaic's first call went from 1.39 to 0.86 s (its two 233 MB
    outputs: 1.30 -> 0.41 s system time).  Outputs of at least
    :data:`NO_HUGEPAGE_BYTES` are therefore private anonymous memory maps
    with ``MADV_NOHUGEPAGE``: predictable first calls, at the price of
    ~0.14 s per GB of output on later calls of a process that could have
    reused warm huge pages.  The array is an ordinary C-contiguous,
    writable ``ndarray`` whose base is the map; the memory is
    returned when the last view of it goes.
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in np.atleast_1d(shape)) if not isinstance(shape, int) else (int(shape),)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < NO_HUGEPAGE_BYTES or not hasattr(mmap, "MADV_NOHUGEPAGE"):
        return np.empty(shape, dtype=dtype)
    # private: a shared anonymous map would be shmem (and shared with forked children)
    buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        buf.madvise(mmap.MADV_NOHUGEPAGE)
    except OSError:  # a kernel without transparent huge pages
        pass
    return np.frombuffer(buf, dtype=dtype).reshape(shape)
