"""Numba's on-disk cache for numbamosaic's own functions, keyed by their sources.

Numba's cache (``cache=True``) invalidates an entry only when the file of
the cached function itself changes, not when a function it calls from
another module does: after an upgrade or an edit of the WCS engine, a kernel
could silently run stale machine code.  numbamosaic therefore keeps its
compiled functions in a directory named after a hash of every package source
that holds Numba code, so that a change anywhere starts a fresh cache.

This applies to numbamosaic's functions only.  :func:`install` adds
:class:`PackageCacheLocator` in front of Numba's cache locators; it claims
the functions defined in files under this package's directory and declines
every other file, which keeps Numba's default behaviour (``__pycache__`` next
to the source, or ``$NUMBA_CACHE_DIR``).  It does not touch
``numba.config`` or any other process-wide setting, and it does not depend
on how the functions are decorated: any ``cache=True`` dispatcher whose
source file lies in the package is covered.

Where the cache lives
---------------------
``<base>/numbamosaic/<source hash>/<subpackage>/`` where ``<base>`` is
``numba.config.CACHE_DIR`` (``$NUMBA_CACHE_DIR``) if the user set it, else
``$XDG_CACHE_HOME`` (``~/.cache``).  Sub-directories are relative to the
package, not absolute paths, so one cache directory can be shared by
installations at different paths (a cluster's shared file system, a
container image): the source hash already guarantees that they run the same
code.  If the directory cannot be created or written, the locator declines
and Numba's own locators decide.

The locator uses Numba's private caching API (``numba.core.caching``:
``_CacheLocator``, ``_SourceFileBackedLocatorMixin`` and the
``CacheImpl._locator_classes`` list; ``tests/test_cache.py`` pins it).  If
that API is missing, :func:`install` returns False and Numba's default
locators apply (correct, but without the cross-module invalidation).

References
----------
Numba documentation, "Notes on Caching",
https://numba.readthedocs.io/en/stable/developer/caching.html
"""

import functools
import hashlib
import os
import re
from pathlib import Path

from numba.core import caching, config

_HERE = Path(__file__).resolve().parent

#: A source file that imports Numba or the JIT policy module ``_jit`` may
#: define Numba code; every file of the kernel and WCS packages is hashed as
#: well, whatever it imports.
_NUMBA_CODE = re.compile(
    rb"^[ \t]*(?:import[ \t]+numba\b|from[ \t]+numba\b|from[ \t]+[.\w]*_jit[ \t]+import|from[ \t]+[.\w]+[ \t]+import[^\n]*\b_jit\b)",
    re.MULTILINE,
)
_ALWAYS_HASHED = ("kernels", "wcs")
_NOT_HASHED = ("_cache.py", "_threads.py", "_warmup.py", "cli.py")


def source_hash(root=None):
    """Short hash of the package sources that define Numba code.

    Files without Numba code are left out, so editing pure-Python layers
    (drivers, planner, CLI) does not throw the compiled kernels away.

    Parameters
    ----------
    root : Path, optional
        Package directory (default: this package).

    Returns
    -------
    str
        16 hexadecimal digits.
    """
    h = hashlib.sha256()
    root = _HERE if root is None else Path(root)
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root)
        if p.name in _NOT_HASHED and len(rel.parts) == 1:
            continue
        text = p.read_bytes()
        if rel.parts[0] in _ALWAYS_HASHED or _NUMBA_CODE.search(text):
            h.update(str(rel.as_posix()).encode())
            h.update(b"\0")
            h.update(text)
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def _package_hash():
    return source_hash()


def cache_root():
    """Directory holding numbamosaic's compiled functions (for this source hash)."""
    base = config.CACHE_DIR or os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "numbamosaic", _package_hash())


def _in_package(py_file):
    try:
        path = Path(py_file).resolve()
    except (OSError, RuntimeError):
        return None
    if not path.is_file():
        return None
    try:
        return path.parent.relative_to(_HERE)
    except ValueError:
        return None


_ENSURED = set()


class PackageCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba cache locator for functions defined in numbamosaic's source files.

    Entries of a function in ``numbamosaic/<sub>/<file>.py`` live in
    ``cache_root()/<sub>``; the source stamp is the file's content hash
    (Numba's own rule) and the directory adds the hash of all the package's
    Numba sources.
    """

    def __init__(self, py_func, py_file, subdir=None):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        if subdir is None:
            subdir = _in_package(py_file) or Path()
        self._cache_path = os.path.join(cache_root(), *subdir.parts)

    def get_cache_path(self):
        return self._cache_path

    def ensure_cache_path(self):
        # Numba writes a probe file for every decorated function (and before every save); the
        # write probe once per directory is enough, the directory is re-created if it went away
        if self._cache_path in _ENSURED:
            os.makedirs(self._cache_path, exist_ok=True)
        else:
            super().ensure_cache_path()
            _ENSURED.add(self._cache_path)

    @classmethod
    def from_function(cls, py_func, py_file):
        subdir = _in_package(py_file)
        if subdir is None:
            return None  # not numbamosaic's: Numba's own locators decide
        self = cls(py_func, py_file, subdir)
        try:
            self.ensure_cache_path()
        except OSError:
            return None
        return self


def _locator_list():
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    return classes if isinstance(classes, list) else None


def install():
    """Put :class:`PackageCacheLocator` first in Numba's cache locators.

    Idempotent.  Must run before numbamosaic's ``cache=True`` functions are
    decorated (``numbamosaic/__init__`` imports this module first).

    Returns
    -------
    bool
        True if the locator is installed, False if Numba's private caching
        API is not what this module expects (Numba's defaults then apply).
    """
    classes = _locator_list()
    if classes is None:
        return False
    if PackageCacheLocator not in classes:
        classes.insert(0, PackageCacheLocator)
    return True


INSTALLED = install()
