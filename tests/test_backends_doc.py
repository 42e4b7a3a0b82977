"""The primitive x library table of docs/backends.md is generated, not typed.

``python tests/test_backends_doc.py`` runs every case of the spec tables
(``backend_cases.CASES``) on each library, to first order in both modes, and writes the
table between the markers of docs/backends.md; the test checks that the file holds what
a fresh run gives. The CuPy column is regenerated only where CuPy and a CUDA device are
present; elsewhere it is kept as it was last generated.
"""

from __future__ import annotations

import pathlib
import re
import sys
from collections import OrderedDict

import pytest

pytest.importorskip("dask.array")
pytest.importorskip("array_api_strict")

import backend_cases as bc  # noqa: E402
import dask  # noqa: E402

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "backends.md"
BEGIN, END = "<!-- table: begin (generated) -->", "<!-- table: end -->"
MARK = {"all": "yes", "none": "no", "some": "partly"}


def _cupy_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def statuses(backend: str) -> OrderedDict:
    """Per primitive: 'yes' (every case passes), 'no' (every case raises BackendError) or
    'partly'; the cases run in order 1 with Dask's synchronous scheduler."""
    seen: OrderedDict = OrderedDict()
    with dask.config.set(scheduler="synchronous"):
        for prim, _, fun, args in bc.CASES:
            if (backend, _) in bc.UNNAMED_REFUSALS:
                ok = False
            else:
                ok = bc.run_case(backend, fun, args, order=1) is None
            seen.setdefault(prim, set()).add(ok)
    return OrderedDict(
        (p, MARK["all"] if s == {True} else MARK["none"] if s == {False} else MARK["some"])
        for p, s in seen.items()
    )


def _old_column(text: str, col: int) -> dict:
    rows = {}
    for line in text.split(BEGIN)[-1].split(END)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > col and cells[0] and not set(cells[0]) <= set("-: "):
            rows[cells[0].strip("`")] = cells[col]
    return rows


def render(old_text: str = "") -> str:
    cols = {b: statuses(b) for b in ("NumPy", "Dask", "array_api_strict")}
    cupy = statuses("CuPy") if _cupy_available() else _old_column(old_text, 4)
    lines = [
        BEGIN,
        "",
        "| primitive | NumPy | Dask | array_api_strict | CuPy |",
        "|---|---|---|---|---|",
    ]
    for prim in cols["NumPy"]:
        cells = [cols[b][prim] for b in ("NumPy", "Dask", "array_api_strict")]
        cells.append(cupy.get(prim, "not run"))
        lines.append(f"| `{prim}` | " + " | ".join(cells) + " |")
    lines += ["", END]
    return "\n".join(lines)


def _current():
    text = DOC.read_text()
    return text, re.search(re.escape(BEGIN) + ".*?" + re.escape(END), text, re.S).group(0)


@pytest.mark.slow
def test_docs_backends_table_is_current():
    text, table = _current()
    assert table == render(text), "docs/backends.md is stale: run python tests/test_backends_doc.py"


if __name__ == "__main__":
    text, table = _current()
    DOC.write_text(text.replace(table, render(text)))
    print(f"wrote {DOC}", file=sys.stderr)
