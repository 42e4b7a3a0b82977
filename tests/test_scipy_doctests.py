"""Every public function of matdiff.scipy's modules has a runnable example, and it runs.

Primitives are made by matdiff.tracer, so doctest's module filter skips them; their
docstrings are parsed and run directly here.
"""

import doctest
import importlib

import pytest

MODULES = [
    "matdiff.scipy.special",
    "matdiff.scipy.stats",
    "matdiff.scipy.signal",
    "matdiff.scipy.integrate",
    "matdiff.scipy.optimize",
]


def _cases():
    for modname in MODULES:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", []):
            yield pytest.param(modname, name, id=f"{modname.rsplit('.', 1)[1]}.{name}")


@pytest.mark.parametrize("modname, name", list(_cases()))
def test_public_function_has_running_example(modname, name):
    mod = importlib.import_module(modname)
    obj = getattr(mod, name)
    doc = obj.__doc__ or ""
    assert ">>>" in doc, f"{modname}.{name} has no runnable example in its docstring"
    test = doctest.DocTestParser().get_doctest(doc, dict(vars(mod)), name, modname, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0, f"{modname}.{name}: its docstring example fails"
