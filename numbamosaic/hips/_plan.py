"""Memory plan of HiPS generation: how many deepest tiles a group may hold.

What HiPS generation allocates (the inputs are the caller's arrays or
memory-mapped files and are not counted):

* per running tile (``threads`` of them): the tile (``T**2`` float32), the
  resampled stack of the inputs meeting it (``k`` layers of values and
  weights, float32) and the combine's temporaries (two float64 planes), a
  PNG/JPEG buffer (``T**2`` RGBA);
* per group of ``4**g`` deepest tiles: their 2x2 reductions (``T**2 / 4``
  float32 each), and on a dask cluster the tiles themselves (the client
  receives a group before writing it);
* the streaming pyramid (four reduced children per order), the Allsky
  thumbnails (at most 768 of ``64**2`` float32) and its mosaic.

The group depth ``g`` (at most ``_generate.GROUP_DEPTH``) is the largest
whose total fits the budget (``memory_limit``, else 60 % of the available
memory, as the mosaic planner); the files do not depend on it.
"""

from .._budget import MosaicMemoryError, memory_budget, size_text

#: Allsky thumbnails and their mosaic (order 3: 768 tiles of 64**2 float32, twice)
ALLSKY_BYTES = 2 * 768 * 64 * 64 * 4


def hips_memory(depth, tile_size, threads, stack, remote, levels):
    """Bytes HiPS generation allocates with groups of ``4**depth`` deepest tiles."""
    t2 = tile_size * tile_size
    per_tile = t2 * (4 + 8 * stack + 16 + 4)
    group = 4**depth * t2 * (1 + (4 if remote else 0))
    pyramid = 4 * (levels + 1) * t2
    return threads * per_tile + group + pyramid + ALLSKY_BYTES


def group_depth(memory_limit, tile_size, threads, stack, remote, levels, max_depth):
    """Largest group depth ``<= max_depth`` whose memory fits the budget.

    Raises
    ------
    MosaicMemoryError
        When even one tile a group does not fit, before any work.
    """
    budget, _ = memory_budget(memory_limit)
    for depth in range(max_depth, -1, -1):
        if hips_memory(depth, tile_size, threads, stack, remote, levels) <= budget:
            return depth
    need = hips_memory(0, tile_size, threads, stack, remote, levels)
    raise MosaicMemoryError(
        f"memory_limit: HiPS tiles of {tile_size}**2 px on {threads} thread(s) with up to {stack} overlapping "
        f"input(s) need at least {size_text(need)}, but the budget is {size_text(budget)}; use fewer threads, a smaller "
        f"tile_size or a larger memory_limit"
    )
