"""The runnable examples in the public API's docstrings run and print what they say."""

import doctest
import importlib

import pytest

MODULES = [
    "matdiff",
    "matdiff.differential_operators",
    "matdiff.batching",
    "matdiff.tree",
    "matdiff.test_util",
    "matdiff.extend",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
