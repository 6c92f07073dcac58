"""Command-line inputs and outputs: expand file names, globs and ``@list`` files; check the output path."""

import glob
import os
import re
import tempfile

from ._parser import UsageError

_GLOB_CHARS = re.compile(r"[*?\[]")


def _read_list(listfile, what):
    try:
        with open(listfile, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        raise UsageError(f"{what} list file not found: {listfile}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} list file {listfile}: {exc.strerror or exc}") from None
    entries = []
    for line in lines:
        line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if line:
            entries.append(line)
    return entries


def _expand_one(item, base, what, origin):
    path = os.path.expanduser(item)
    alternatives = [path]
    if base is not None and not os.path.isabs(path):
        alternatives.append(os.path.join(base, path))  # relative to the list file
    for p in alternatives:
        if os.path.isfile(p):
            return [p]
    if _GLOB_CHARS.search(path):
        for pattern in alternatives:
            matches = sorted(m for m in glob.glob(pattern, recursive=True) if os.path.isfile(m))
            if matches:
                return matches
        raise UsageError(f"no {what} files match {item!r}{origin}")
    if os.path.isdir(path):
        raise UsageError(f"{what} is a directory: {item}{origin} (give files, e.g. '{os.path.join(item, '*.fits')}')")
    raise UsageError(f"{what} file not found: {item}{origin}")


def expand_inputs(items, what="input"):
    """Expand command-line inputs into a list of file names.

    Parameters
    ----------
    items : sequence of str
        File names, glob patterns (sorted matches; ``**`` recurses) and
        ``@list.txt`` files, which list one name or pattern per line (blank
        lines and ``#`` comments are skipped; relative names are looked up
        from the current directory, then from the list file's directory).
    what : str
        Word used in error messages (``'input'``, ``'weight'``).

    Returns
    -------
    list of str
        Existing files, in the order given.

    Raises
    ------
    UsageError
        A file is missing, a pattern matches nothing, or nothing was given.
    """
    out = []
    for item in items:
        if item.startswith("@") and len(item) > 1:
            listfile = os.path.expanduser(item[1:])
            base = os.path.dirname(listfile) or "."
            for entry in _read_list(listfile, what):
                out.extend(_expand_one(entry, base, what, f" (listed in {listfile})"))
        else:
            out.extend(_expand_one(item, None, what, ""))
    if not out:
        raise UsageError(f"no {what} files given")
    return out


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _is_zarr_path(path):
    return os.fspath(path).rstrip("/").lower().endswith(".zarr")


def _check_output(path, overwrite, inputs):
    if _is_zarr_path(path):
        try:
            import zarr  # noqa: F401
        except ImportError:
            raise UsageError(f"output {path}: writing zarr needs the zarr package (pip install zarr)") from None
    elif os.path.isdir(path):
        raise UsageError(f"output is a directory: {path}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"output directory does not exist: {directory}")
    try:  # a probe, not os.access: it also catches read-only mounts, ACLs and root squash
        with tempfile.TemporaryFile(prefix=".numbamosaic-probe-", dir=directory):
            pass
    except OSError as exc:
        raise UsageError(f"output directory is not writable: {directory} ({exc.strerror or exc})") from None
    if os.path.exists(path):
        if not overwrite:
            raise UsageError(f"output file exists: {path} (use --overwrite to replace it)")
        for name in inputs:
            if _same_file(path, name):
                raise UsageError(f"output {path} is also an input")
