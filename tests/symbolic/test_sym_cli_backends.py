"""``matdiff diff --code BACKEND``: source for a named array library."""

import numpy as np
import pytest

from matdiff.cli import BACKEND_NAMES, main
from matdiff.symbolic.derivation import BACKENDS

LOGISTIC = "sum(log(1 + exp(-y.*(X*w))))"


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_the_command_offers_every_backend_the_engine_writes_for():
    assert BACKEND_NAMES == tuple(BACKENDS)


def test_code_alone_still_means_numpy(capsys):
    status, bare, _ = run(capsys, "diff", LOGISTIC, "--wrt", "w", "--code")
    status2, named, _ = run(capsys, "diff", LOGISTIC, "--wrt", "w", "--code", "numpy")
    assert status == status2 == 0 and bare == named
    assert "\nimport numpy as _np\n\n\ndef derivative(y, X, w):\n" in bare


@pytest.mark.parametrize(
    "backend,header",
    [
        ("array-api", "from array_api_compat import array_namespace"),
        ("dask", "import array_api_compat.dask.array as _xp"),
        ("cupy", "import array_api_compat.cupy as _xp"),
    ],
)
def test_code_for_a_named_backend(capsys, backend, header):
    status, out, err = run(
        capsys, "diff", LOGISTIC, "--wrt", "w", "--order", "2", "--code", backend
    )
    assert status == 0 and err == ""
    text, _, code = out.partition("\n\n")
    assert text.endswith("X'*diag(t1.*y.^2.*(1 - t1))*X")
    assert code.startswith(header + "\n\n\ndef derivative(y, X, w):\n")
    assert "_np" not in code and "diag" not in code.split('"""')[-1]


def test_printed_array_api_code_runs_on_dask(capsys):
    da = pytest.importorskip("dask.array")
    pytest.importorskip("array_api_compat")
    _, out, _ = run(capsys, "diff", LOGISTIC, "--wrt", "w", "--code", "array-api")
    namespace: dict = {}
    exec(compile(out.partition("\n\n")[2], "<printed>", "exec"), namespace)  # noqa: S102
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(40, 3)), np.sign(rng.normal(size=40)), rng.normal(size=3)
    # array_namespace takes one library: every argument a Dask array
    value, grad = namespace["derivative"](
        da.from_array(y, chunks=10), da.from_array(X, chunks=(10, 3)), da.from_array(w)
    )
    assert isinstance(grad, da.Array)
    s = 1 / (1 + np.exp(y * (X @ w)))
    assert np.allclose(grad.compute(scheduler="sync"), -X.T @ (y * s), rtol=1e-10)


def test_code_for_a_backend_that_lacks_a_function_is_an_error(capsys):
    pytest.importorskip("dask.array")
    status, out, err = run(capsys, "diff", "logdet(X)", "--wrt", "X", "--code", "dask")
    assert status == 2 and out == ""
    assert err == (
        "matdiff diff: error: the code for the derivative of 'logdet(X)' calls "
        "linalg.slogdet, which dask.array (array_api_compat.dask.array) does not have; "
        "evaluate it on NumPy arrays (x.compute() of a Dask array, cupy.asnumpy(x) of a "
        "CuPy one) or on arrays of another library that has it\n"
    )


def test_an_unknown_backend_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["diff", "x'*x", "--wrt", "x", "--code", "jax"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --code: invalid choice: 'jax'" in err
    assert "(choose from numpy, array-api, dask, cupy)" in err or "'numpy'" in err


def test_the_page_shows_what_the_command_prints(capsys):
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "backends_symbolic.md"
    status, out, _ = run(
        capsys, "diff", LOGISTIC, "--wrt", "w", "--order", "2", "--code", "array-api"
    )
    assert status == 0
    assert out in page.read_text(encoding="utf-8")
