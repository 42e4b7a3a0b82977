"""The linear-algebra docs stay true: docstring examples run, and every function and test
that ``docs/coverage_linalg.md`` names exists."""

from __future__ import annotations

import pathlib
import re

import pytest
import test_linalg_degenerate

import matdiff.numpy.linalg as nla
import matdiff.scipy.linalg as sla

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "coverage_linalg.md"


def _table_rows(section: str) -> list[str]:
    text = DOC.read_text().split(section, 1)[1].split("\n## ", 1)[0]
    return [line for line in text.splitlines() if line.startswith("| `")]


@pytest.mark.parametrize(
    "section,module", [("## `matdiff.numpy.linalg`", nla), ("## `matdiff.scipy.linalg`", sla)]
)
def test_every_function_in_the_coverage_table_is_ours(section, module):
    rows = _table_rows(section)
    assert len(rows) > 10
    for row in rows:
        for name in re.findall(r"`([a-z_]+)`", row.split("|")[1]):
            f = getattr(module, name)
            assert f.__module__.startswith("matdiff"), f"{name} is not wrapped by matdiff"


def test_public_functions_are_in_the_table():
    listed = " ".join(
        _table_rows("## `matdiff.numpy.linalg`") + _table_rows("## `matdiff.scipy.linalg`")
    )
    for module in (nla, sla):
        for name in module.__all__:
            if name != "LinAlgError":
                assert f"`{name}`" in listed or f" {name}" in listed, name


def test_every_test_the_doc_cites_exists():
    cited = set(re.findall(r"`(test_[a-z0-9_]+)`", DOC.read_text()))
    assert len(cited) > 10
    missing = [t for t in cited if not hasattr(test_linalg_degenerate, t)]
    assert not missing, missing
