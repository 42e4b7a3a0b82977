"""The JSON API of ``matdiff serve``, through a real server on an ephemeral loopback port."""

import http.client
import json
import shutil
import threading
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from matdiff.web import api
from matdiff.web.server import MAX_BODY, serve_in_thread

HAS_DOT = shutil.which("dot") is not None


@pytest.fixture(scope="module")
def server():
    s = serve_in_thread(port=0, workers=2, timeout=30.0, quiet=True)
    yield s
    s.close()


def request(server, method, path, body=None, headers=None, raw=None):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    conn.request(method, path, body=data, headers=headers or {})
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    ctype = resp.getheader("Content-Type", "")
    return resp.status, (json.loads(payload) if "json" in ctype else payload.decode())


def post(server, path, body):
    return request(server, "POST", path, body, {"Content-Type": "application/json"})


# ---------------------------------------------------------------- good inputs


def test_gradient_answer_has_every_part(server):
    status, a = post(server, "/api/derivative", {"expression": "x'*A*x", "wrt": "x"})
    assert status == 200 and a["ok"]
    r = a["result"]
    assert (r["what"], r["form"], r["text"]) == ("gradient", "matrix", "(A + A')*x")
    assert r["latex"] == r"\nabla_{x} f = \left(A + A^\top\right) x"
    math = ET.fromstring(r["mathml"])
    assert math.tag == "{http://www.w3.org/1998/Math/MathML}math"
    assert [v["name"] for v in a["variables"]] == ["x", "A"]
    assert [v["kind"] for v in a["variables"]] == ["vector", "matrix"]
    assert a["steps"][0] == {"rule": "expression", "expression": "f = x'*A*x"}
    assert a["steps"][-1]["expression"] == "(A + A')*x"
    assert a["check"]["status"] == "passed"
    assert a["check"]["fd_error"] < 1e-6 and a["check"]["engine"] == "ok"


def test_numpy_function_is_self_contained(server):
    _, a = post(server, "/api/derivative", {"expression": "x'*A*x", "wrt": "x"})
    namespace: dict = {}
    # the test runs the code the server generated, as a person who copied it would
    exec(a["result"]["numpy"], namespace)  # noqa: S102
    A = np.array([[1.0, 2.0], [0.0, 3.0]])
    x = np.array([1.0, -1.0])
    value, grad = namespace["derivative"](x, A)
    assert value == pytest.approx(x @ A @ x)
    np.testing.assert_allclose(grad, (A + A.T) @ x)


def test_hessian_with_declared_kinds_and_sizes(server):
    body = {
        "expression": "x'*S*x + sum(exp(B*x))",
        "wrt": "x",
        "order": 2,
        "kinds": {"S": "symmetric n", "B": "matrix m x n"},
        "dims": {"n": 4, "m": 3},
    }
    status, a = post(server, "/api/derivative", body)
    assert status == 200, a
    assert a["result"]["what"] == "hessian"
    assert sorted(a["result"]["text"].split(" + ")) == ["2*S", "B'*diag(exp(B*x))*B"]
    kinds = {v["name"]: (v["kind"], v["dims"], v["declared"]) for v in a["variables"]}
    assert kinds == {
        "x": ("vector", ["n"], False),
        "S": ("symmetric", ["n"], True),
        "B": ("matrix", ["m", "n"], True),
    }
    assert a["check"]["status"] == "passed"
    assert a["check"]["sizes"] == {"m": 3, "n": 4}


def test_large_sizes_are_checked_at_a_bounded_size(server):
    body = {"expression": "x'*A*x", "wrt": "x", "dims": {"rows(A)": 5000}}
    status, a = post(server, "/api/derivative", body)
    assert status == 200
    assert a["check"]["sizes"] == {"rows(A)": api.MAX_CHECK_SIZE}
    assert "_np" in a["result"]["numpy"]


def test_kinds_as_a_list_and_default_wrt(server):
    body = {"expression": "log(det(X))", "kinds": ["X: symmetric"], "check": False}
    status, a = post(server, "/api/derivative", body)
    assert status == 200
    assert a["wrt"] == "X" and a["result"]["text"] == "inv(X)"
    assert a["check"] == {"status": "not requested"}


def test_matrix_derivative_is_a_kronecker_product(server):
    _, a = post(server, "/api/derivative", {"expression": "A*X*B", "wrt": "X", "graph": False})
    assert a["result"]["form"] == "kron" and a["result"]["text"] == "kron(B', A)"
    assert a["graph"] == {"svg": None, "note": "not requested"}


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_graph_is_well_formed_svg(server):
    _, a = post(server, "/api/derivative", {"expression": "sum(exp(A*x))", "wrt": "x"})
    svg = ET.fromstring(a["graph"]["svg"])
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "exp" in a["graph"]["svg"] and "sizes" in a["graph"]["note"]


def test_graph_note_without_graphviz(monkeypatch):
    from matdiff.graph import render
    from matdiff.symbolic import derivative

    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    g = api._graph(derivative("sum(exp(A*x))", wrt="x"))
    assert g == {"svg": None, "note": "Graphviz is not installed, so there is no picture"}


def test_parse_reports_variables_and_dimensions(server):
    status, a = post(server, "/api/parse", {"expression": "norm2(X*w - y)^2"})
    assert status == 200
    assert [(v["name"], v["kind"]) for v in a["variables"]] == [
        ("X", "matrix"),
        ("w", "vector"),
        ("y", "vector"),
    ]
    assert a["kind"] == "scalar" and a["dimensions"] == ["len(w)", "len(y)"]


def test_page_and_static_files(server):
    status, page = request(server, "GET", "/")
    assert status == 200 and '<input id="expression"' in page
    for path in ("/static/app.js", "/static/style.css"):
        assert request(server, "GET", path)[0] == 200
    assert request(server, "HEAD", "/")[0] == 200


# ---------------------------------------------------------------- every error path


def error_of(server, body, path="/api/derivative"):
    status, a = post(server, path, body)
    assert a["ok"] is False
    return status, a["error"]


def test_syntax_error_has_its_position(server):
    status, err = error_of(server, {"expression": "x'*A*"}, "/api/parse")
    assert status == 422 and err["kind"] == "expression"
    assert (err["line"], err["column"]) == (1, 6)
    assert err["message"].startswith("unexpected end of input")
    status, err = error_of(server, {"expression": "x * y + )"})
    assert (status, err["column"]) == (422, 9)


def test_shape_error_has_its_position(server):
    status, err = error_of(server, {"expression": "x*A*x", "wrt": "x"})
    assert (status, err["line"], err["column"]) == (422, 1, 2)
    assert err["message"].startswith("inner dimensions disagree in product")


def test_a_refused_derivative_has_its_position(server):
    status, err = error_of(server, {"expression": "tr(X^a)", "wrt": "a"})
    assert status == 422 and (err["line"], err["column"]) == (1, 5)
    assert err["message"].startswith("the derivative of X^a in its exponent needs a matrix")


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "'expression' must be a string"),
        ({"expression": 3}, "'expression' must be a string"),
        ({"expression": "x'*x", "order": 3}, "'order' must be 1 (derivative) or 2 (Hessian)"),
        ({"expression": "x'*x", "order": True}, "'order' must be 1 (derivative) or 2"),
        ({"expression": "x'*x", "wrt": 5}, "'wrt' must be the name of a variable"),
        ({"expression": "x'*x", "kinds": "S"}, "'kinds' must map variable names to kinds"),
        ({"expression": "x'*x", "kinds": [3]}, "'kinds' as a list holds strings"),
        ({"expression": "x'*x", "kinds": {"1x": "matrix"}}, "'kinds': '1x' is not a variable"),
        ({"expression": "x'*x", "kinds": {"x": 1}}, "'kinds': the kind of x must be a string"),
        ({"expression": "x'*x", "dims": [1]}, "'dims' must map dimension names to sizes"),
        ({"expression": "x'*x", "dims": {"n": 0}}, "'dims': the size of n must be a whole"),
        ({"expression": "x'*x", "dims": {"n": 2.5}}, "'dims': the size of n must be a whole"),
        ({"expression": "x'*x", "check": "yes"}, "'check' must be true or false"),
        ({"expression": "x'*x", "dims": {"n" * 65: 3}}, "'dims': 'nnnn"),
    ],
)
def test_bad_fields_are_refused(server, body, message):
    status, err = error_of(server, body)
    assert status == 400 and err["kind"] == "request"
    assert err["message"].startswith(message)


def test_unknown_variable_and_bad_declaration(server):
    status, err = error_of(server, {"expression": "x'*x", "wrt": "y"})
    assert status == 422
    assert err["message"].startswith("'y' is not a variable of the expression (variables: x)")
    assert "declare it: kinds={'y': 'vector'}" in err["message"]
    status, err = error_of(server, {"expression": "x'*x", "kinds": {"x": "matrix n"}})
    assert status == 422 and err["message"] == "a matrix takes 0 or 2 dimension names"


def test_body_that_is_not_json(server):
    status, a = request(server, "POST", "/api/parse", raw=b"{nope")
    assert status == 400 and a["error"]["message"].startswith("the body is not JSON")
    status, a = request(server, "POST", "/api/parse", raw=b"[1, 2]")
    assert status == 400 and a["error"]["message"] == "the request body must be a JSON object"


def test_limits(server):
    long = "x'*x" + " + x'*x" * (api.MAX_EXPRESSION // 7 + 1)
    status, err = error_of(server, {"expression": long})
    assert status == 413 and err["kind"] == "limit"
    assert err["message"] == f"the expression is longer than {api.MAX_EXPRESSION} characters"
    many = {f"v{i}": "scalar" for i in range(api.MAX_ENTRIES + 1)}
    status, err = error_of(server, {"expression": "x'*x", "kinds": many})
    assert status == 413 and err["message"] == f"more than {api.MAX_ENTRIES} declarations"
    sizes = {f"n{i}": 2 for i in range(api.MAX_ENTRIES + 1)}
    status, err = error_of(server, {"expression": "x'*x", "dims": sizes})
    assert status == 413 and err["message"] == f"more than {api.MAX_ENTRIES} sizes"
    big = json.dumps({"expression": "x" * (MAX_BODY + 1)}).encode()
    status, a = request(server, "POST", "/api/derivative", raw=big)
    assert status == 413
    assert a["error"]["message"] == f"the request body is larger than {MAX_BODY} bytes"


def test_routes_methods_and_host(server):
    status, a = request(server, "GET", "/api/derivative")
    assert status == 405 and a["error"]["message"] == "/api/derivative takes POST with a JSON body"
    status, a = request(server, "GET", "/nothing")
    assert status == 404 and a["error"]["message"] == "no page /nothing"
    status, a = post(server, "/api/nothing", {})
    assert status == 404 and a["error"]["message"] == "no API route /api/nothing"
    status, a = request(server, "GET", "/", headers={"Host": "attacker.example:80"})
    assert status == 403 and a["error"]["message"] == "unknown Host for a local server"


def test_server_binds_loopback_by_default(server):
    assert server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


# ---------------------------------------------------------------- the time limit


def hostile(k=9):
    # each definition doubles what the simplifier has to look at
    chain = "; ".join(f"t{i + 1} = A*tanh(t{i}) + t{i}" for i in range(k))
    return f"t0 = x; {chain}; sum(t{k})"


def test_time_limit_stops_a_derivation_and_the_server_keeps_serving():
    server = serve_in_thread(port=0, workers=2, timeout=0.5, quiet=True)
    try:
        answers = {}

        def slow():
            answers["slow"] = post(server, "/api/derivative", {"expression": hostile(), "order": 2})

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.1)
        # the other worker answers while the first is busy
        status, a = post(server, "/api/parse", {"expression": "x'*A*x"})
        assert status == 200 and a["ok"]
        t.join(60)
        status, a = answers["slow"]
        assert status == 503 and a["error"]["kind"] == "timeout"
        assert a["error"]["message"] == (
            "the derivation took longer than 0.5 s and was stopped; try a smaller expression"
        )
        # the stopped worker was replaced: both answer again
        for _ in range(2):
            status, a = post(server, "/api/parse", {"expression": "x'*A*x"})
            assert status == 200
    finally:
        server.close()


def test_serve_subcommand_is_registered():
    from matdiff.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "0", "--open"])
    assert (args.command, args.port, args.open, args.host) == ("serve", 0, True, "127.0.0.1")


# ---------------------------------------------------------------- the workers and the command


def test_missing_content_length(server):
    import socket

    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(b"POST /api/parse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = sock.makefile("rb").read().decode()
    assert reply.startswith("HTTP/1.1 411")
    assert '"message": "a Content-Length header is needed"' in reply


def test_worker_pool_refusals():
    from matdiff.web.worker import WorkerPool

    with pytest.raises(ValueError, match="WorkerPool: size must be at least 1, got 0"):
        WorkerPool(size=0)
    pool = WorkerPool(size=1, timeout=0.5)
    try:
        with pytest.raises(ValueError, match="WorkerPool.call: no operation 'exec'"):
            pool.call("exec", {})
        # every worker busy for the whole time limit
        held = pool._idle.get()
        with pytest.raises(api.ApiError) as info:
            pool.call("parse", {"expression": "x"})
        assert (info.value.status, info.value.kind) == (503, "busy")
        assert info.value.message == "the server is busy with other derivations; try again"
        pool._idle.put(held)
        # a worker that died is replaced, and its request says so
        held[0].kill()
        held[0].join()
        with pytest.raises(api.ApiError) as info:
            pool.call("parse", {"expression": "x"})
        assert (info.value.status, info.value.message) == (
            500,
            "the worker process stopped; try again",
        )
        assert pool.call("parse", {"expression": "x"})["kind"] == "vector"
    finally:
        pool.close()


def test_serve_command_starts_the_page_and_reports_a_busy_port():
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "matdiff", "serve", "--port", "0", "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("matdiff: serving on http://127.0.0.1:")
        url = line.split()[3]
        with urllib.request.urlopen(url, timeout=30) as page:
            assert b'<input id="expression"' in page.read()
        port = url.rstrip("/").rsplit(":", 1)[1]
        busy = subprocess.run(
            [sys.executable, "-m", "matdiff", "serve", "--port", port, "--workers", "1"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert busy.returncode == 1
        assert busy.stderr.startswith(f"matdiff serve: error: cannot listen on 127.0.0.1:{port}: ")
    finally:
        proc.terminate()
        proc.wait(30)
