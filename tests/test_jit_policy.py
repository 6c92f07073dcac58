"""The JIT policy (``numbamosaic/kernels/_jit.py``) is the only place that calls Numba's jit.

AST checks over the package sources, so they cost no compilation:

* no raw ``njit``/``jit``/``generated_jit``/``vectorize``/``guvectorize``/
  ``cfunc`` decorator or call (any spelling: ``numba.njit``, ``from numba
  import njit as nj``...) outside ``kernels/_jit.py``;
* no ``inline=`` keyword outside ``kernels/_jit.py`` (inlining goes through
  ``inline_kernel``, for small scalar leaf helpers only);
* every module holding compiled code is part of the compile-cache key
  (``numbamosaic._cache``), so editing it cannot leave stale machine code in
  the cache entries of the kernels that call it.
"""

import ast
import shutil
from pathlib import Path

import pytest

import numbamosaic

PKG = Path(numbamosaic.__file__).resolve().parent
POLICY = PKG / "kernels" / "_jit.py"
JIT_NAMES = {"njit", "jit", "generated_jit", "vectorize", "guvectorize", "cfunc"}
POLICY_DECORATORS = {"kernel", "inline_kernel", "parallel_kernel"}


def _sources():
    return sorted(p for p in PKG.rglob("*.py") if p != POLICY)


def _jit_aliases(tree):
    """Local names bound to Numba's jit functions, and names bound to the numba module."""
    funcs, modules = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "numba":
            for a in node.names:
                if a.name in JIT_NAMES:
                    funcs.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "numba":
                    modules.add((a.asname or a.name).split(".")[0])
    return funcs, modules


def _raw_jit_uses(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    funcs, modules = _jit_aliases(tree)
    bad = []
    for node in ast.walk(tree):
        target = node.func if isinstance(node, ast.Call) else node
        if isinstance(target, ast.Name) and target.id in funcs:
            bad.append((node.lineno, target.id))
        elif isinstance(target, ast.Attribute) and target.attr in JIT_NAMES:
            root = target.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in modules:
                bad.append((node.lineno, ast.unparse(target)))
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "inline":
                    bad.append((node.lineno, "inline= (use kernels._jit.inline_kernel)"))
    return sorted(set(bad))


def test_no_raw_jit_outside_policy():
    offenders = {str(p.relative_to(PKG)): bad for p in _sources() if (bad := _raw_jit_uses(p))}
    assert offenders == {}, f"raw Numba jit (use numbamosaic.kernels._jit): {offenders}"


def test_checker_catches_every_spelling(tmp_path):
    # the checker itself must fail on the spellings it is meant to reject
    src = tmp_path / "m.py"
    src.write_text(
        "import numba\nimport numba as nb\nfrom numba import njit as nj, jit\n"
        "@numba.njit\ndef a(): pass\n@nb.jit(nopython=True)\ndef b(): pass\n"
        "@nj(cache=True)\ndef c(): pass\nd = jit(lambda: 0)\n"
        "from numbamosaic.kernels._jit import kernel\n@kernel\ndef e(): pass\n"
        "f = other(inline='always')\n"
    )
    assert [line for line, _ in _raw_jit_uses(src)] == [4, 6, 8, 10, 14]


def _compiled_modules():
    """Modules that define compiled functions with the policy decorators."""
    out = []
    for p in _sources():
        tree = ast.parse(p.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                names = {d.id if isinstance(d, ast.Name) else getattr(d, "attr", None) for d in node.decorator_list}
                if names & POLICY_DECORATORS:
                    out.append(p)
                    break
    return out


def test_policy_is_used():
    mods = {str(p.relative_to(PKG)) for p in _compiled_modules()}
    # the kernels and the native WCS engine are compiled through the policy
    assert {"kernels/exact/_rows.py", "kernels/_interp.py", "wcs/_native.py", "wcs/_projections.py"} <= mods


def test_every_compiled_module_is_in_the_cache_key(tmp_path, monkeypatch):
    from numbamosaic import _cache

    mods = _compiled_modules()
    copy = tmp_path / "numbamosaic"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(_cache, "_HERE", copy)
    before = _cache.source_hash()
    changed = []
    for p in mods:
        q = copy / p.relative_to(PKG)
        text = q.read_text()
        q.write_text(text + "\n# edited\n")
        if _cache.source_hash() == before:
            changed.append(str(p.relative_to(PKG)))
        q.write_text(text)
    assert changed == [], f"editing these compiled modules does not change the cache key: {changed}"


def test_copy_free_inliner_is_scoped_to_numbamosaic_compilations(monkeypatch):
    """The copy-free IR inliner (``_jit._inline_function``) is in force while a
    numbamosaic dispatcher compiles, not at import and not for other code."""
    import numba
    from numba.core import inline_closurecall as icc

    from numbamosaic.kernels import _jit

    numba_own = icc.InlineWorker.inline_function
    assert numba_own is not _jit._inline_function  # nothing swapped by the import
    if not _jit._PATCHABLE:
        pytest.skip("this Numba lacks the names the copy-free inliner relies on")
    calls = []
    real = _jit._inline_function

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_jit, "_inline_function", spy)

    def leaf(x):
        y = x * 2.0
        if y > 10.0:
            y -= 1.0
        return y + 1.0

    ours_leaf = _jit._policy(inline="always", nogil=True)(leaf)
    ours = _jit._policy(nogil=True)(lambda x: ours_leaf(x) + ours_leaf(x + 1.0))
    assert ours(3.0) == leaf(3.0) + leaf(4.0)
    assert len(calls) == 2  # both call sites inlined by the copy-free inliner
    assert icc.InlineWorker.inline_function is numba_own  # restored after the compile

    theirs_leaf = numba.njit(inline="always")(leaf)
    theirs = numba.njit(lambda x: theirs_leaf(x) * 3.0)
    assert theirs(7.0) == leaf(7.0) * 3.0
    assert len(calls) == 2  # a user's function compiles with Numba's own inliner
