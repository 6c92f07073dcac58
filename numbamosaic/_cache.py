"""Where compiled kernels are cached, keyed by the kernels' source code.

Numba's on-disk cache (``cache=True``) is invalidated only when the file of
the cached function itself changes, not when a function it calls from
another module does: after an upgrade or an edit of the WCS engine, a kernel
could silently run stale machine code.  Before any kernel module is imported
we point Numba's cache at a directory named after a hash of every kernel and
WCS-engine source file, so a change anywhere starts a fresh cache.

The base directory is ``$NUMBA_CACHE_DIR`` if the user set it, else
``$XDG_CACHE_HOME/numbamosaic`` (``~/.cache/numbamosaic``); if it is not
writable Numba falls back to its defaults.
"""

import hashlib
import os
import re
from pathlib import Path

_USES_NUMBA = re.compile(rb"^\s*(from numba[ .]|import numba\b)", re.MULTILINE)

_HERE = Path(__file__).resolve().parent


def source_hash():
    """Short hash of the package modules that define Numba code.

    Modules without Numba code are left out, so editing pure-Python layers
    (drivers, planner, CLI) does not throw the compiled kernels away.
    """
    h = hashlib.sha256()
    for p in sorted(_HERE.rglob("*.py")):
        text = p.read_bytes()
        if _USES_NUMBA.search(text):
            if p.name in ("_cache.py", "_threads.py"):
                continue
            h.update(str(p.relative_to(_HERE)).encode())
            h.update(text)
    return h.hexdigest()[:16]


def configure():
    import numba

    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "numbamosaic"
    )
    path = os.path.join(base, source_hash())
    try:
        os.makedirs(path, exist_ok=True)
        if os.access(path, os.W_OK):
            numba.config.CACHE_DIR = path
    except OSError:
        pass
    return numba.config.CACHE_DIR


CACHE_DIR = configure()
