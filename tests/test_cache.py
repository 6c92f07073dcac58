"""Numba's compile cache, scoped to numbamosaic's own functions (``numbamosaic._cache``).

numbamosaic keeps its compiled functions in a directory keyed by a hash of
its Numba sources, through a cache locator that claims only files of the
package: other libraries' ``cache=True`` functions keep Numba's defaults.
These tests pin the private Numba API the locator relies on.
"""

import importlib
import shutil
import sys
import textwrap
from pathlib import Path

import numba
from numba.core import caching
from numba.core.dispatcher import Dispatcher

import numbamosaic  # noqa: F401  (installs the locator)
from numbamosaic import _cache


def test_private_numba_caching_api_is_present():
    # what _cache relies on; if Numba renames any of it the locator silently stops working
    assert isinstance(caching.CacheImpl._locator_classes, list)
    assert issubclass(caching.UserProvidedCacheLocator, caching._SourceFileBackedLocatorMixin)
    assert issubclass(caching.UserProvidedCacheLocator, caching._CacheLocator)
    for name in ("ensure_cache_path", "get_cache_path", "get_source_stamp", "get_disambiguator", "from_function"):
        assert callable(getattr(caching._CacheLocator, name))
    assert _cache.INSTALLED
    assert caching.CacheImpl._locator_classes[0] is _cache.PackageCacheLocator
    # every CacheImpl subclass shares the list (CompileResultCacheImpl is what @njit(cache=True) uses)
    assert caching.CompileResultCacheImpl._locator_classes is caching.CacheImpl._locator_classes


def _cached_dispatchers():
    """Every cache=True dispatcher of numbamosaic's imported modules, however decorated."""
    importlib.import_module("numbamosaic.kernels._interp")
    found = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("numbamosaic") and mod is not None:
            for obj in vars(mod).values():
                if isinstance(obj, Dispatcher) and obj._cache.__class__.__name__ != "NullCache":
                    found[obj.py_func.__module__ + "." + obj.py_func.__qualname__] = obj
    return found


def test_numbamosaic_functions_use_the_package_cache():
    found = _cached_dispatchers()
    assert len(found) > 10, sorted(found)
    root = Path(_cache.cache_root())
    for name, d in found.items():
        assert isinstance(d._cache._impl.locator, _cache.PackageCacheLocator), name
        path = Path(d.stats.cache_path)
        assert root in path.parents or path == root, (name, path)
        sub = Path(d.py_func.__code__.co_filename).resolve().parent.relative_to(_cache._HERE)
        assert path == root.joinpath(*sub.parts), (name, path)  # relative layout: portable between installs


def test_other_modules_keep_numbas_cache(tmp_path, monkeypatch):
    (tmp_path / "othermod_nm_cache.py").write_text(textwrap.dedent(
        """
        from numba import njit

        @njit(cache=True)
        def g(x):
            return x + 1
        """
    ))
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("othermod_nm_cache")
    try:
        locator = mod.g._cache._impl.locator
        assert not isinstance(locator, _cache.PackageCacheLocator)
        assert "numbamosaic" not in str(mod.g.stats.cache_path)
        assert _cache.PackageCacheLocator.from_function(mod.g.py_func, str(tmp_path / "othermod_nm_cache.py")) is None
    finally:
        sys.modules.pop("othermod_nm_cache", None)


def test_import_sets_no_process_wide_numba_option():
    import os

    assert numba.config.CACHE_DIR == os.environ.get("NUMBA_CACHE_DIR", "")
    assert numba.config.THREADING_LAYER == os.environ.get("NUMBA_THREADING_LAYER", "default")


def test_cache_root_honours_numba_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    assert _cache.cache_root() == str(tmp_path / "numbamosaic" / _cache.source_hash())
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _cache.cache_root() == str(tmp_path / "xdg" / "numbamosaic" / _cache.source_hash())


def test_source_hash_follows_numba_sources_only(tmp_path):
    pkg = tmp_path / "pkg"
    shutil.copytree(_cache._HERE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    h0 = _cache.source_hash(pkg)
    assert h0 == _cache.source_hash(_cache._HERE)
    # a pure-Python layer: same cache
    with open(pkg / "cli" / "_mosaic.py", "a") as f:
        f.write("\n# edited\n")
    assert _cache.source_hash(pkg) == h0
    # a callee in another module than the kernels (the WCS engine): new cache
    with open(pkg / "wcs" / "_projections.py", "a") as f:
        f.write("\n# edited\n")
    h1 = _cache.source_hash(pkg)
    assert h1 != h0
    # any module that imports numba (or the JIT policy module) counts, wherever it lives
    (pkg / "mosaic" / "_newkernel.py").write_text("from ..kernels._jit import kernel\n")
    assert _cache.source_hash(pkg) != h1


def test_locator_recreates_a_removed_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    from numbamosaic.kernels import _sinks

    d = next(v for v in vars(_sinks).values() if isinstance(v, Dispatcher))
    loc = _cache.PackageCacheLocator.from_function(d.py_func, d.py_func.__code__.co_filename)
    path = Path(loc.get_cache_path())
    assert tmp_path in path.parents and path.is_dir()
    shutil.rmtree(tmp_path / "numbamosaic")
    loc.ensure_cache_path()  # Numba calls this before every save
    assert path.is_dir()
