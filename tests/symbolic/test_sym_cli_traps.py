"""The matdiff command: every failure is exit status 2 and one line, never a traceback."""

import dataclasses
import re

import numpy as np
import pytest

from matdiff import __version__
from matdiff.cli import main


def run(capsys, *argv):
    try:
        status = main(list(argv))
    except SystemExit as exit:  # argparse's own exits (--version, usage errors)
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def test_version(capsys):
    status, out, err = run(capsys, "--version")
    assert status == 0 and out == f"matdiff {__version__}\n"


@pytest.mark.parametrize(
    "argv,message",
    [
        (
            ["diff", "x'*x", "--wrt", "x", "--dim", "n=²"],
            "matdiff diff: error: --dim takes NAME=SIZE with a positive size, e.g. n=5; got 'n=²'",
        ),
        (
            [
                "diff",
                "x'*A*x",
                "--wrt",
                "x",
                "--declare",
                "A: n x n",
                "--dim",
                "n=100000",
                "--check",
            ],
            "matdiff diff: error: the check would need 10,000,000,000 entries (74.5 GiB) for A "
            "at sizes n=100000",
        ),
        (
            ["graph", "x'*A*x", "--wrt", "x", "--declare", "A: n x n", "--dim", "n=100000"],
            "matdiff graph: error: the graph would need 10,000,000,000 entries (74.5 GiB) for A",
        ),
        (
            ["graph", "x'*x", "--wrt", "x", "-o", "no/such/folder/g.dot"],
            "matdiff graph: error: -o no/such/folder/g.dot: the folder no/such/folder does not exist",
        ),
        (
            ["graph", "x'*x", "--wrt", "x", "--max-nodes", "0"],
            "matdiff graph: error: argument --max-nodes: must be a positive integer, not '0'",
        ),
        (
            ["graph", "x'*x", "--wrt", "x", "--seed", "-1"],
            "matdiff graph: error: argument --seed: must be an integer of at least 0, not '-1'",
        ),
        (
            ["diff", "x'*A*x", "--wrt", "x", "--declare", "A: 3 x 4"],
            "matdiff diff: error: dimension 3 in declaration of A is a number; declarations name "
            "dimensions and sizes are given apart: 'A: m x n' with dims={'m': 3, 'n': 4} (on the "
            'command line --declare "A: m x n" --dim m=3 --dim n=4)',
        ),
        (["diff", "x'*x", "--order", "3", "--wrt", "x"], "matdiff diff: error: argument --order"),
        (["diff", "x'*x"], "matdiff diff: error: the following arguments are required: --wrt"),
    ],
)
def test_failures_are_one_line_with_status_2(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert err.startswith(message), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_output_onto_a_directory(capsys, tmp_path):
    status, _, err = run(capsys, "graph", "x'*x", "--wrt", "x", "-o", str(tmp_path))
    assert status == 2 and err.count("\n") == 1
    assert f"-o {tmp_path}: that is a directory; give a file name" in err


def test_output_into_a_file_still_works(capsys, tmp_path):
    status, out, _ = run(capsys, "graph", "x'*x", "--wrt", "x", "-o", str(tmp_path / "g.dot"))
    assert status == 0 and (tmp_path / "g.dot").read_text().startswith("digraph")


def test_an_unused_dim_warns(capsys):
    status, out, err = run(
        capsys, "diff", "x'*x", "--wrt", "x", "--declare", "x: n", "--dim", "k=3"
    )
    assert status == 0 and out == "2*x\n"
    assert err == (
        "matdiff diff: warning: --dim k=3 names no dimension of the expression "
        "(its dimensions: n); it is ignored\n"
    )
    status, out, err = run(
        capsys, "diff", "x'*x", "--wrt", "x", "--declare", "x: n", "--dim", "n=3"
    )
    assert status == 0 and err == ""


def test_the_letter_rule_note_is_printed(capsys):
    status, out, err = run(capsys, "diff", "norm2(A*x - b)^2", "--wrt", "x")
    assert status == 0 and out == "2*A'*(A*x - b*vector(1))\n"
    assert err.startswith("matdiff diff: note: b is a scalar by the letter rule")


@pytest.mark.parametrize(
    "argv",
    [
        ["x'*A*x", "--wrt", "x"],
        ["norm2(T - U*V')^2", "--wrt", "U", "--order", "2"],
        ["log(det(X))", "--wrt", "X", "--order", "2"],
        ["sum(log(1 + exp(-y.*(X*w))))", "--wrt", "w", "--order", "2"],
        ["t = A*x - b\nf = t'*t", "--wrt", "x", "--declare", "b: vector"],
    ],
)
def test_printed_code_runs_when_pasted(capsys, argv):
    status, out, _ = run(capsys, "diff", *argv, "--code")
    assert status == 0
    code = out[out.index("import numpy") :]
    namespace = {}
    exec(code, namespace)  # a fresh namespace: nothing but what was printed
    rng = np.random.default_rng(0)
    args = {
        "x": rng.normal(size=3),
        "A": rng.normal(size=(4, 3)),
        "b": rng.normal(size=4),
        "T": rng.normal(size=(3, 4)),
        "U": rng.normal(size=(3, 2)),
        "V": rng.normal(size=(4, 2)),
        "X": np.eye(3) + 0.1,
        "y": rng.normal(size=5),
        "w": rng.normal(size=3),
    }
    if "w" in argv[0]:
        args["X"] = rng.normal(size=(5, 3))
    if argv[0] == "x'*A*x":
        args["A"] = rng.normal(size=(3, 3))
    fn = namespace["derivative"]
    params = re.search(r"def derivative\((.*)\):", code).group(1).split(", ")
    value, deriv = fn(**{p: args[p] for p in params})
    assert np.all(np.isfinite(deriv))


def test_latex_is_labelled(capsys):
    status, out, _ = run(capsys, "diff", "X*X", "--wrt", "X", "--latex")
    assert status == 0
    assert r"\frac{\partial \operatorname{vec} f}{\partial \operatorname{vec} X} = " in out
    assert r"\nabla" not in out


def test_an_unforeseen_failure_is_still_one_line(capsys, monkeypatch):
    from matdiff import cli

    def broken(args):
        raise MemoryError("cannot allocate 80.0 GiB")

    diff = dataclasses.replace(cli.SUBCOMMANDS["diff"], run=broken)
    monkeypatch.setitem(cli.SUBCOMMANDS, "diff", diff)
    status, _, err = run(capsys, "diff", "x'*x", "--wrt", "x")
    assert status == 2
    assert err == "matdiff diff: error: MemoryError: cannot allocate 80.0 GiB\n"
