"""Parameter descriptions shared by the docstrings of the single-image functions.

``reproject_interp``, ``reproject_exact`` and ``reproject_adaptive`` take the
same execution arguments (``block_size``, ``parallel``, ``return_type``,
``dask_method``) with the same meaning.  Their numpydoc docstrings write
``%(execution)s`` where these belong; :func:`shared_doc` fills it in, so the
text lives once and ``help()`` shows it in full.  Only ``%(name)s`` tokens of
:data:`SHARED` are replaced: any other ``%`` in a docstring is left alone.
"""

import re

#: Named numpydoc parameter blocks (indented for a function's docstring).
SHARED = {
    "execution": """\
    block_size : tuple, optional
        Output block shape of a ``return_type='dask'`` result (default
        1024 x 1024); otherwise ignored (the kernels work in rows and tiles).
    parallel : bool, int or 'current-scheduler'
        ``True`` (default) uses all cores, an int sets the thread count,
        ``'current-scheduler'`` (or a ``distributed.Client``) runs on dask.
        Results are bitwise identical for any thread count.
    return_type : None, 'numpy' or 'dask'
        ``'dask'`` returns lazy dask arrays whose blocks run the same kernels
        (equal to the NumPy result bit for bit; no ``output_array``).  For a
        cube the leading axes are one chunk, as in reproject (``block_size``
        of two entries, or ``-1``/the full length on the leading axes).
    dask_method : None, 'memmap' or 'none'
        Accepted for compatibility: a dask input is computed only over the
        input box the output reaches, whichever the value.""",
}

_TOKEN = re.compile(r"^[ \t]*%\((\w+)\)s[ \t]*$", re.MULTILINE)


def shared_doc(func):
    """Replace each line ``%(name)s`` of ``func``'s docstring by ``SHARED[name]``.

    Raises
    ------
    KeyError
        A token names no shared block (a typo is caught at import).
    """
    if func.__doc__:
        func.__doc__ = _TOKEN.sub(lambda m: SHARED[m.group(1)], func.__doc__)
    return func
