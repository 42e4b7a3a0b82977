"""The runnable examples in matdiff's docstrings run and print what they say.

The modules are discovered, not listed, so the examples of a new module run without a
test to remember. (``test_scipy_doctests`` checks besides that every public function of
``matdiff.scipy`` has an example.)
"""

import doctest
import importlib
import pkgutil

import pytest

import matdiff

# Modules that hold no example, with the reason; any other module must hold one.
NO_EXAMPLES = {
    "matdiff.demo": "a script run by `python -m matdiff.demo`",
    "matdiff.scipy": "a package index; its modules hold the examples",
    "matdiff.symbolic.differentials": "internal rules of the symbolic engine",
    "matdiff.symbolic.expr": "internal node classes, shown through matdiff.symbolic",
    "matdiff.symbolic.printers": "internal printers, shown through matdiff.symbolic",
}

# Importing __main__ runs the command line.
SKIPPED = {"matdiff.__main__"}

# Its primitives carry NumPy's own docstrings (written for NumPy, not for matdiff), so
# only the package docstring itself is run.
OWN_DOCSTRING_ONLY = {"matdiff.numpy"}

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    found = pkgutil.walk_packages(matdiff.__path__, prefix="matdiff.")
    return ["matdiff", *sorted(m.name for m in found if m.name not in SKIPPED)]


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(recurse=name not in OWN_DOCSTRING_ONLY)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in finder.find(module):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring examples of {name} fail"
    if name in NO_EXAMPLES:
        assert result.attempted == 0, f"{name} has examples now: remove it from NO_EXAMPLES"
    else:
        assert result.attempted > 0, f"{name} has no docstring example"
