"""The runnable examples in the public docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "matdiff.symbolic",
    "matdiff.symbolic.errors",
    "matdiff.symbolic.parser",
    "matdiff.symbolic.simplify",
    "matdiff.symbolic.derivation",
    "matdiff.symbolic.check",
    "matdiff.cli",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0  # every public module carries an example
    assert result.failed == 0
