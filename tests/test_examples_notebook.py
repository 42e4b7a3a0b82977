"""``examples/tour.ipynb`` runs in a real kernel, and shows what its text promises."""

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is not installed (the test extra)")
nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed (the test extra)")
pytest.importorskip("ipykernel", reason="ipykernel is not installed (the test extra)")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "tour.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    where = tmp_path_factory.mktemp("tour")
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(where)}}
    ).execute()
    return [c for c in nb.cells if c.cell_type == "code"]


def result(cell) -> dict:
    (out,) = [o for o in cell.outputs if o.output_type == "execute_result"]
    return out["data"]


def cell_with(cells, source: str):
    return next(c for c in cells if source in c.source)


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_every_cell_runs(executed):
    errors = [o for c in executed for o in c.outputs if o.output_type == "error"]
    assert not errors, errors


def test_graph_displays_with_values_and_adjoints(executed):
    data = result(cell_with(executed, "g = graph(regularised_loss"))
    html = ET.fromstring(data["text/html"])
    if shutil.which("dot"):
        assert html[0].tag == "{http://www.w3.org/2000/svg}svg"
        assert "L_reg" in data["image/svg+xml"]
    else:
        assert [t.tag for t in html.findall("table")] == ["table", "table"]
    table = cell_with(executed, "print(g.table())").outputs[0]["text"]
    assert "forward pass" in table and "backward pass" in table


def test_symbolic_hessian_displays_result_code_and_check(executed):
    data = result(cell_with(executed, "h = sym.derivative("))
    assert set(data) >= {"text/plain", "text/html", "text/latex"}
    html = data["text/html"]
    ET.fromstring(f"<root>{html}</root>")
    assert "diag(t1.*y.^2.*(1 - t1))" in html
    assert "finite differences: relative error" in html and "def derivative(" in html
    printed = cell_with(executed, "print(h.text)").outputs[0]["text"]
    assert printed.rstrip().endswith("X'*diag(t1.*y.^2.*(1 - t1))*X")


def test_steps_and_expression_display(executed):
    steps = result(cell_with(executed, "h.steps"))["text/html"]
    assert ET.fromstring(steps).tag == "ol" and "read off" in steps
    expr = result(cell_with(executed, "sym.parse("))
    assert expr["text/latex"].startswith("$$") and "<math" in expr["text/html"]
