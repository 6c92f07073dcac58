"""The package's layers point one way (issue 16), checked on the source with :mod:`ast`.

Layers, lowest first (``docs/architecture.md``)::

    cli -> public API -> execution -> methods -> planning -> wcs description -> io -> kernels

A module may import modules of its own layer and of the layers below it,
never above.  The kernel layer (every ``@njit``: ``kernels/`` and the WCS
engine's compiled code) imports nothing above it.  Imports of the package's
own modules are at module level: a function-level import hides a dependency
(or a cycle) from the reader and from this test.  Imports of optional
third-party packages inside functions are fine.  ``try: import ... except
ImportError`` around the package's own modules (which always exist) is
refused too.  The module-level import graph has no cycles.

Every module must be classified in :data:`LAYERS` (a new module fails the
test until it is).  Violations that remain are listed, with their reason, in
:data:`UPWARD_ALLOWED`, :data:`FUNCTION_LEVEL_ALLOWED` and :data:`GUARDED_ALLOWED`; an entry that no
longer occurs fails the test as well, so the lists can only shrink.
"""

import ast
import fnmatch
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "numbamosaic"

#: (layer, module patterns relative to the package; "" is the package itself), lowest first.
#: A module belongs to the first layer with a matching pattern.
LAYERS = [
    # every @njit, the compiled WCS engine, and the leaves everything may import (Numba cache and
    # threading set-up, the version, the memory budget, shared docstring text)
    ("kernels", ["kernels", "kernels.*", "wcs._layout", "wcs._native", "wcs._plane", "wcs._points", "wcs._projections",
                 "wcs._proj_*",
                 "_cache", "_threads", "_version", "_budget", "_docstrings"]),
    # inputs and outputs: parsing, FITS/zarr/AVM files, argument checks, array axes, bounding boxes
    ("io", ["io", "io.*", "_axes", "_bbox", "_validate", "_fitsout", "_fitsheaders", "_zarrout", "synthetic"]),
    # the Python side of the WCS engine: describe a WCS, build a pixel transform
    ("wcs", ["wcs", "wcs.*"]),
    # output frame, memory plan, tiles, background solve; the front end shared by the entry points
    ("planning", ["plan", "plan.*", "mosaic._plan", "mosaic._background", "mosaic._optimal_wcs", "_daskin",
                  "_common"]),
    # per-method resamplers, per-tile resample + deposit, mosaic inputs and products
    ("methods", ["methods", "methods.*", "_resamplers", "mosaic._tiles", "mosaic._inputs", "mosaic._products"]),
    # executors: serial, threads, dask
    ("execution", ["_exec", "_exec.*", "_single", "_cube", "_lazy", "distributed", "distributed.*"]),
    # the public functions
    ("api", ["", "interpolation", "exact", "adaptive", "mosaic", "mosaic.*", "healpix", "healpix.*", "hips",
             "hips.*", "_warmup"]),
    ("cli", ["cli", "cli.*", "__main__"]),
]

#: (importer, imported) -> why an upward import remains (to be removed, never added to)
UPWARD_ALLOWED = {
    ("mosaic._inputs", "interpolation"): "exec: weights on another grid are resampled with reproject_interp",
}

#: (importer, imported) -> why a function-level import of the package's own module remains
FUNCTION_LEVEL_ALLOWED = {
    # exec (issue 16 item 1): what remains of the old orchestrations' imports inside functions
    ("mosaic._inputs", "interpolation"): "exec: cycle (weights resampled with reproject_interp)",
}

#: (importer, package) -> why a module imports a submodule of a package whose ``__init__`` is in a higher
#: layer (importing ``a.b`` runs ``a/__init__.py`` first: the importer depends on that layer too)
PACKAGE_ALLOWED = {
    # distorted (WCS owner): the compiled WCS engine (wcs/_native, _projections, _proj_*, _layout) lives in
    # the wcs package, whose __init__ is the Python side (describe a WCS, build a transform); importing
    # the engine from a kernel runs it.  To move under kernels/ (the review's change 2).
    ("kernels._adaptive", "wcs"): "compiled WCS engine inside the wcs package",
    ("kernels._cube", "wcs"): "compiled WCS engine inside the wcs package",
    ("kernels._healpix", "wcs"): "compiled WCS engine inside the wcs package",
    ("kernels._interp", "wcs"): "compiled WCS engine inside the wcs package",
    ("kernels._products", "wcs"): "compiled WCS engine inside the wcs package",
    ("kernels.exact._measure", "wcs"): "compiled WCS engine inside the wcs package",
    ("kernels.exact._rows", "wcs"): "compiled WCS engine inside the wcs package",
}

#: a module longer than this says at its top why (issue 16: files split where they naturally divide)
MAX_LINES = 600

#: ... in a line of its module docstring that starts with this, followed by the reason
WHY_LONG = "Why this module is long"

#: module path -> owner and plan, for modules over MAX_LINES without the reason yet (to be removed, never
#: added to; an entry that is no longer too long, or has its reason, fails the test)
LONG_ALLOWED = {
    "hips/_generate.py": "hips (issue 14): reproject_to_hips, mosaic_to_hips and coadd_hips with their shared build",
    "mosaic/_coadd.py": "exec (issue 16.1): the driver is moving to numbamosaic/_exec/",
    "mosaic/_products.py": "products (issue 15): product specs and product computation in one module",
}

#: (importer, imported) -> why an ``except ImportError`` guard around the package's own module remains
GUARDED_ALLOWED = {}


def _module_name(path):
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


MODULES = _modules()


def _layer(name):
    for rank, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(name, pat) for pat in patterns):
            return rank
    return None


def _target(importer, path, node, alias):
    """Package-relative name of the module an import refers to, or None (not the package's)."""
    if isinstance(node, ast.Import):
        full = alias.name
        if full != "numbamosaic" and not full.startswith("numbamosaic."):
            return None
        name = full[len("numbamosaic."):] if full != "numbamosaic" else ""
    else:
        if node.level == 0:
            if node.module != "numbamosaic" and not (node.module or "").startswith("numbamosaic."):
                return None
            base = node.module[len("numbamosaic."):] if node.module != "numbamosaic" else ""
        else:
            parts = importer.split(".") if importer else []
            if path.name != "__init__.py":
                parts = parts[:-1]
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join(parts + ([node.module] if node.module else []))
        sub = f"{base}.{alias.name}" if base else alias.name
        name = sub if sub in MODULES else base  # ``from pkg import submodule`` names the submodule
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _imports():
    """Yield ``(importer, imported, lineno, kind)``; kind: 'module', 'function' or 'guarded'."""
    for importer, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        in_function = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                in_function.update(id(n) for n in ast.walk(fn) if n is not fn)
        guarded = set()
        for t in ast.walk(tree):
            if isinstance(t, ast.Try) and any(_catches_import_error(h) for h in t.handlers):
                guarded.update(id(n) for stmt in t.body for n in ast.walk(stmt))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for alias in node.names:
                target = _target(importer, path, node, alias)
                if target is None:
                    continue
                kind = "guarded" if id(node) in guarded else "function" if id(node) in in_function else "module"
                yield importer, target, node.lineno, kind


def _catches_import_error(handler):
    names = []
    t = handler.type
    for e in (t.elts if isinstance(t, ast.Tuple) else [t]):
        if isinstance(e, ast.Name):
            names.append(e.id)
    return t is None or bool({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"} & set(names))


IMPORTS = list(_imports())


def _where(importer, lineno):
    return f"{MODULES[importer].relative_to(PKG.parent)}:{lineno}"


def test_every_module_has_a_layer():
    missing = sorted(name or "numbamosaic" for name in MODULES if _layer(name) is None)
    assert missing == [], f"classify these modules in tests/test_layering.py LAYERS: {missing}"


def test_imports_point_down():
    bad, seen = {}, set()
    for importer, target, lineno, _ in IMPORTS:
        if _layer(target) is None or _layer(importer) is None or _layer(target) <= _layer(importer):
            continue
        seen.add((importer, target))
        if (importer, target) not in UPWARD_ALLOWED:
            bad.setdefault((importer, target), f"{_where(importer, lineno)}: {LAYERS[_layer(importer)][0]} module "
                           f"{importer or 'numbamosaic'} imports {LAYERS[_layer(target)][0]} module {target or 'numbamosaic'}")
    assert not bad, "upward imports:\n" + "\n".join(bad.values())
    stale = sorted(set(UPWARD_ALLOWED) - seen)
    assert stale == [], f"no longer occur: remove them from UPWARD_ALLOWED in tests/test_layering.py: {stale}"


def _packages_run(importer, target):
    """Packages whose ``__init__`` an import of ``target`` runs, other than those holding ``importer``."""
    parts = target.split(".")
    for k in range(1, len(parts)):
        pkg = ".".join(parts[:k])
        if pkg in MODULES and importer != pkg and not importer.startswith(pkg + "."):
            yield pkg


def test_packages_on_the_way_point_down():
    bad, seen = {}, set()
    for importer, target, lineno, _ in IMPORTS:
        for pkg in _packages_run(importer, target):
            if _layer(pkg) <= _layer(importer):
                continue
            seen.add((importer, pkg))
            if (importer, pkg) not in PACKAGE_ALLOWED:
                bad.setdefault((importer, pkg), f"{_where(importer, lineno)}: {LAYERS[_layer(importer)][0]} module "
                               f"{importer} imports {target}, which runs the {LAYERS[_layer(pkg)][0]} package {pkg}")
    assert not bad, "upward imports through a package __init__:\n" + "\n".join(bad.values())
    stale = sorted(set(PACKAGE_ALLOWED) - seen)
    assert stale == [], f"no longer occur: remove them from PACKAGE_ALLOWED in tests/test_layering.py: {stale}"


def test_no_function_level_imports_of_own_modules():
    _check("function", FUNCTION_LEVEL_ALLOWED, "imports {t} inside a function (import it at the top of the module)")


def _check(kind, allowed, what):
    """Fail on imports of ``kind`` not in ``allowed``, and on entries of ``allowed`` that no longer occur."""
    bad, seen = {}, set()
    for importer, target, lineno, k in IMPORTS:
        if k != kind:
            continue
        seen.add((importer, target))
        if (importer, target) not in allowed:
            bad.setdefault((importer, target), f"{_where(importer, lineno)}: {importer or 'numbamosaic'} "
                           + what.format(t=target or "numbamosaic"))
    assert not bad, "\n".join(bad.values())
    stale = sorted(set(allowed) - seen)
    assert stale == [], f"no longer occur: remove them from the allow-list in tests/test_layering.py: {stale}"


def test_no_import_guards_around_own_modules():
    _check("guarded", GUARDED_ALLOWED, "guards the import of {t} with except ImportError (it always exists)")


def test_no_import_cycles():
    graph = {}
    for importer, target, _, kind in IMPORTS:
        if kind != "function" and target != importer:
            graph.setdefault(importer, set()).add(target)
            graph[importer].update(_packages_run(importer, target))  # their __init__ runs first
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(name or "numbamosaic" for name in comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == [], f"module-level import cycles: {cycles}"


def _long_without_reason(source):
    """Line count of a module's ``source`` if it is over :data:`MAX_LINES` with no :data:`WHY_LONG` line, else 0."""
    n = len(source.splitlines())
    doc = ast.get_docstring(ast.parse(source)) or ""
    has_reason = any(line.strip().startswith(WHY_LONG) for line in doc.splitlines())
    return n if n > MAX_LINES and not has_reason else 0


def test_long_modules_say_why():
    bad, stale = {}, []
    for path in MODULES.values():
        rel = path.relative_to(PKG).as_posix()
        n = _long_without_reason(path.read_text(encoding="utf-8"))
        if n and rel not in LONG_ALLOWED:
            bad[rel] = n
        elif not n and rel in LONG_ALLOWED:
            stale.append(rel)
    assert bad == {}, (f"modules over {MAX_LINES} lines: split them where they naturally divide, or write "
                       f"'{WHY_LONG}: <reason>' in the module docstring: {bad}")
    assert stale == [], f"no longer too long or reasoned: remove them from LONG_ALLOWED in tests/test_layering.py: {stale}"


def test_the_checker_sees_violations():
    # a probe, so that the tests above cannot pass by seeing nothing
    kinds = {kind for *_, kind in IMPORTS}
    assert {"module", "function"} <= kinds
    assert _layer("kernels._interp") < _layer("wcs._describe") < _layer("interpolation") < _layer("cli._parser")
    assert _layer("wcs._native") == _layer("kernels.exact._rows")
    assert list(_packages_run("_common", "mosaic._plan")) == ["mosaic"]
    assert list(_packages_run("mosaic._coadd", "mosaic._plan")) == []
    long = '"""Doc."""\n' + "x = 1\n" * MAX_LINES
    assert _long_without_reason(long) == MAX_LINES + 1
    assert _long_without_reason(long.replace("Doc.", f"Doc.\n\n{WHY_LONG}: one algorithm.")) == 0
    assert _long_without_reason('"""Doc."""\n' + "x = 1\n" * (MAX_LINES - 1)) == 0
    tree = ast.parse("def f():\n    from .kernels import _jit\n")
    node = tree.body[0].body[0]
    assert _target("interpolation", PKG / "interpolation.py", node, node.names[0]) == "kernels._jit"
