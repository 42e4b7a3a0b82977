"""The matdiff diff command: output, options and exit status."""

import pytest

from matdiff.cli import SUBCOMMANDS, main


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_gradient(capsys):
    status, out, err = run(capsys, "diff", "x'*A*x", "--wrt", "x")
    assert status == 0 and out == "(A + A')*x\n" and err == ""


def test_hessian_with_everything(capsys):
    status, out, _ = run(
        capsys,
        "diff",
        "x'*A*x",
        "--wrt",
        "x",
        "--order",
        "2",
        "--latex",
        "--code",
        "--steps",
        "--check",
    )
    assert status == 0
    assert out.startswith("A + A'\n")
    assert "A + A^\\top" in out
    assert "def derivative(x, A):" in out
    assert "read off" in out
    assert "finite differences: relative error" in out


def test_declare(capsys):
    status, out, _ = run(capsys, "diff", "log(det(S))", "--wrt", "S", "--declare", "S: symmetric")
    assert status == 0 and out == "inv(S)\n"
    status, out, _ = run(
        capsys, "diff", "a'*X*b", "--wrt", "X", "--declare", "a: vector", "--declare", "b: vector"
    )
    assert status == 0 and out == "a*b'\n"


def test_dim(capsys):
    status, out, _ = run(
        capsys, "diff", "sum(x) + sum(vector(1))", "--wrt", "x", "--code", "--dim", "len(vector)=3"
    )
    assert status == 0 and "_np.full((3,), 1.0)" in out


@pytest.mark.parametrize(
    "argv,needle,caret_col",
    [
        (["diff", "x*y", "--wrt", "x"], "inner dimensions disagree", 2),
        (["diff", "x'*A*", "--wrt", "x"], "unexpected end of input", 6),
        (["diff", "foo(x)", "--wrt", "x"], "unknown function", 1),
    ],
)
def test_positioned_error_exit_2(capsys, argv, needle, caret_col):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert needle in err and "line 1, column" in err
    caret_line = err.rstrip("\n").split("\n")[-1]
    assert caret_line.index("^") - 2 == caret_col - 1


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["diff", "x'*x", "--wrt", "y"], "not a variable"),
        (["diff", "tr(X^a)", "--wrt", "a"], "needs a matrix logarithm"),
        (["diff", "x'*x", "--wrt", "x", "--declare", "x vector"], "declaration"),
        (["diff", "x'*x", "--wrt", "x", "--dim", "n"], "NAME=SIZE"),
        (["diff", "x'*x", "--wrt", "x", "--dim", "n=0"], "a positive size, e.g. n=5; got 'n=0'"),
    ],
)
def test_other_errors_exit_2(capsys, argv, needle):
    status, _, err = run(capsys, *argv)
    assert status == 2 and needle in err


def test_usage_errors():
    with pytest.raises(SystemExit) as info:
        main(["diff", "x'*x"])  # --wrt is required
    assert info.value.code == 2
    assert main([]) == 2


def test_subcommand_table():
    assert {"diff", "demo"} <= set(SUBCOMMANDS)
