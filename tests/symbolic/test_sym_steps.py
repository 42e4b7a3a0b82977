"""The derivation shows every rule application and ends in the printed result."""

import pytest

from matdiff import symbolic as sym


def expressions(d):
    return [s.expression for s in d.steps]


def test_the_division_by_det_is_shown():
    d = sym.derivative("log(det(X))", wrt="X")
    steps = list(d.steps)
    det_step = next(s for s in steps if s.rule.startswith("d det(X)"))
    assert det_step.expression == "d(det(X)) = det(X)*tr(dX*inv(X))"
    log_step = steps[steps.index(det_step) + 1]
    assert log_step.rule == "d f(X) = f'(X) .* dX"
    assert log_step.expression == (
        "df = d(det(X))/det(X) = (det(X)*tr(dX*inv(X)))/det(X) = tr(dX*inv(X))"
    )


def test_one_step_per_rule_application_children_first():
    d = sym.derivative("sum(log(1 + exp(-y.*(X*w))))", wrt="w")
    lhs = [s.expression.split(" = ")[0] for s in d.steps if s.rule.startswith("d")]
    assert lhs == [
        "d(X*w)",
        "d(y.*(X*w))",
        "d(-y.*(X*w))",
        "d(exp(-y.*(X*w)))",
        "d(1 + exp(-y.*(X*w)))",
        "d(log(1 + exp(-y.*(X*w))))",
        "df",
    ]
    sum_step = d.steps[lhs.index("df") + 1]
    assert sum_step.rule == "d sum(X) = sum(dX)"


@pytest.mark.parametrize(
    "expression,wrt,order",
    [
        ("x'*A*x", "x", 1),
        ("x'*A*x", "x", 2),
        ("sum(log(1 + exp(-y.*(X*w))))", "w", 2),  # a result with temporaries
        ("sum(log(1 + exp(-y.*(X*w))))", "w", 1),
        ("log(det(X))", "X", 2),  # no matrix form: the differential
        ("norm2(T - U*V')^2", "U", 2),  # a Kronecker form
        ("exp(A*x)", "x", 1),
        ("A*X*B", "X", 1),
        ("diag(x)", "x", 1),
        ("a^3", "a", 2),
        ("tr(A*S)", "S", 1),
    ],
)
def test_the_last_step_is_the_printed_result(expression, wrt, order):
    kinds = {"S": "symmetric"} if "S" in expression else None
    d = sym.derivative(expression, wrt=wrt, order=order, kinds=kinds)
    assert d.steps[-1].expression == d.text
    assert d.steps[0].rule == "expression"


def test_temporaries_are_named_in_the_last_step():
    d = sym.derivative("sum(log(1 + exp(-y.*(X*w))))", wrt="w", order=2)
    last = d.steps[-1]
    assert last.rule == "name shared subexpressions"
    assert last.expression == d.text and last.expression.startswith("t0 = exp(-y.*(X*w))\n")
    # printed, every line of the result sits under its rule
    assert str(last) == "name shared subexpressions:\n    " + d.text.replace("\n", "\n    ")


def test_steps_are_written_once_when_read():
    d = sym.derivative(" + ".join(f"x'*A{i}*x" for i in range(200)), wrt="x")
    assert d.steps is d.steps
    assert len([s for s in d.steps if s.rule == "d(XY) = dX Y + X dY"]) == 200
