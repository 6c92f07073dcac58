"""The public functions' docstrings: shared blocks filled in, every parameter documented."""

import inspect
import re

import pytest

import numbamosaic
from numbamosaic._docstrings import SHARED, shared_doc

SINGLE = ("reproject_interp", "reproject_exact", "reproject_adaptive")


@pytest.mark.parametrize("name", SINGLE)
def test_single_image_docstrings_document_every_parameter(name):
    func = getattr(numbamosaic, name)
    doc = func.__doc__
    assert "%(" not in doc
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        assert re.search(rf"^    (\w+, )*{param.name}(, \w+)* :", doc, re.MULTILINE), f"{name}: {param.name} undocumented"


def test_shared_doc_fills_named_blocks_only():
    def f():
        """Head.

        Parameters
        ----------
        %(execution)s
        ratio : float
            In %, e.g. 10 %(not a token).
        """

    shared_doc(f)
    assert SHARED["execution"] in f.__doc__
    assert "10 %(not a token)" in f.__doc__

    def g():
        """%(no_such_block)s"""

    with pytest.raises(KeyError):
        shared_doc(g)
