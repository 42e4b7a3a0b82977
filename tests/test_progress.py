"""progress=True draws a tqdm bar over the work a person waits on, and changes no result."""

import builtins

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import hessian, jacfwd, jacobian, operators
from matdiff.progress import progress_bar
from matdiff.symbolic import check as check_module
from matdiff.symbolic import derivative


def f(x):
    return np.sum(np.sin(x) * x**2)


X = onp.linspace(0.1, 1.0, 40)


@pytest.mark.parametrize(
    "make, label",
    [
        (lambda: jacobian(np.sin, progress=True), "jacobian: output elements"),
        (lambda: jacfwd(np.sin, progress=True, chunk_size=7), "jacfwd: directions"),
        (lambda: hessian(f, progress=True, chunk_size=7), "hessian: directions"),
    ],
)
def test_a_bar_counts_the_work_and_the_result_is_unchanged(make, label, capsys, monkeypatch):
    bars = []

    def recording(total, desc, enabled, who="progress"):
        bar = progress_bar(total, desc, enabled, who)
        if enabled:
            bars.append((bar, desc))
        return bar

    monkeypatch.setattr(operators, "progress_bar", recording)
    got = make()(X)
    plain = {"jacobian": jacobian(np.sin), "jacfwd": jacfwd(np.sin), "hessian": hessian(f)}
    onp.testing.assert_array_equal(got, plain[label.split(":")[0]](X))
    drawn = [(bar, desc) for bar, desc in bars if desc == label]
    assert len(drawn) == 1 and drawn[0][0].n == drawn[0][0].total == 40
    assert label in capsys.readouterr().err  # tqdm drew it


def test_the_symbolic_check_shows_its_finite_differences(capsys, monkeypatch):
    bars = []

    def recording(total, desc, enabled, who="progress"):
        bars.append(progress_bar(total, desc, enabled, who))
        return bars[-1]

    monkeypatch.setattr(check_module, "progress_bar", recording)
    d = derivative("x'*A*x", wrt="x", order=2)
    d.check(seed=0, sizes=dict.fromkeys(d.parsed.dim_names, 6), progress=True)
    assert [(b.n, b.total) for b in bars] == [(21, 21)]  # n (n + 1) / 2 pairs for n = 6
    assert "check: finite differences" in capsys.readouterr().err


def test_without_tqdm_the_error_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    with pytest.raises(ImportError, match=r"hessian: progress=True .*'matdiff\[progress\]'"):
        hessian(f, progress=True)(X)
    # without progress=True nothing is imported
    assert hessian(f)(X).shape == (40, 40)


def test_a_disabled_bar_draws_nothing(capsys):
    bar = progress_bar(5, "nothing", enabled=False)
    bar.update(5)
    bar.close()
    assert capsys.readouterr() == ("", "")
