"""The public namespace: every advertised name resolves, autograd's aliases are aliases."""

import subprocess
import sys
from pathlib import Path

import pytest

import matdiff
import matdiff.extend

SRC = Path(__file__).resolve().parents[1] / "src"


def test_every_name_in_all_resolves():
    for name in matdiff.__all__:
        assert getattr(matdiff, name) is not None, name
    for name in matdiff.extend.__all__:
        assert getattr(matdiff.extend, name) is not None, name


def test_aliases():
    assert matdiff.jacrev is matdiff.jacobian
    assert matdiff.hessian_vector_product is matdiff.hessian_tensor_product
    assert matdiff.vector_jacobian_product is matdiff.tensor_jacobian_product


def test_jit_is_loaded_on_first_use_only():
    code = (
        "import sys, matdiff; assert 'matdiff.compile' not in sys.modules; "
        "from matdiff.compile import jit; assert matdiff.jit is jit; "
        "assert matdiff.make_program is sys.modules['matdiff.compile'].make_program; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SRC)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(
        AttributeError, match="module 'matdiff' has no attribute 'no_such_operator'"
    ):
        matdiff.no_such_operator  # noqa: B018
