"""docs/autograd_migration.md lists every public name of the installed autograd, and every
matdiff name it gives imports: the page is checked against both packages, so it cannot drift.

A name is public if it is bound at the top level of an autograd module's source (by def,
class or assignment, or by import in a module that only imports, such as ``autograd`` and
``autograd.extend``), does not start with an underscore, is not a module, and is not a
NumPy name that ``autograd.numpy`` mirrors (those are covered by the coverage pages).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import types
from pathlib import Path

import numpy
import pytest

autograd = pytest.importorskip("autograd")

PAGE = Path(__file__).resolve().parents[1] / "docs" / "autograd_migration.md"

# autograd modules that wrap a NumPy namespace: names NumPy has there are mirrors.
MIRRORS = {
    "autograd.numpy": numpy,
    "autograd.numpy.numpy_wrapper": numpy,
    "autograd.numpy.linalg": numpy.linalg,
    "autograd.numpy.fft": numpy.fft,
    "autograd.numpy.random": numpy.random,
}

SECTION = re.compile(r"^### `(autograd[\w.]*)`\s*$", re.MULTILINE)
ROW = re.compile(r"^\|(?P<names>[^|]*)\|(?P<status>[^|]*)\|(?P<note>[^|]*)\|\s*$", re.MULTILINE)
TICKED = re.compile(r"`([^`]+)`")
MATDIFF_NAME = re.compile(r"`(matdiff(?:\.\w+)+)`")
COUNTS = re.compile(
    r"\*\*(\d+) names\*\* in (\d+) modules: \*\*(\d+)\*\* in matdiff, \*\*(\d+)\*\* missing,"
    r"\s+\*\*(\d+)\*\* not planned"
)


def autograd_modules() -> list[str]:
    found = pkgutil.walk_packages(autograd.__path__, prefix="autograd.")
    return ["autograd", *sorted(m.name for m in found)]


def _bound_names(tree: ast.Module) -> set[str]:
    body = [
        s for s in tree.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    reexports = all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in body)
    names = set()
    for s in body:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(s.name)
        elif isinstance(s, ast.Assign):
            for target in s.targets:
                elts = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
                names.update(e.id for e in elts if isinstance(e, ast.Name))
        elif isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name):
            names.add(s.target.id)
        elif reexports and isinstance(s, ast.ImportFrom):
            names.update(a.asname or a.name for a in s.names if a.name != "*")
    return names


def public_names(modname: str) -> set[str]:
    module = importlib.import_module(modname)
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    mirror = MIRRORS.get(modname)
    return {
        n
        for n in _bound_names(tree)
        if not n.startswith("_")
        and hasattr(module, n)
        and not isinstance(getattr(module, n), types.ModuleType)
        and not (mirror is not None and hasattr(mirror, n))
    }


def page_sections() -> dict[str, list[tuple[list[str], str, str]]]:
    """module -> rows (autograd names, status cell, note cell) of its table."""
    text = PAGE.read_text(encoding="utf-8")
    heads = list(SECTION.finditer(text))
    sections = {}
    for head, after in zip(heads, heads[1:] + [None]):
        chunk = text[head.end() : after.start() if after else len(text)]
        rows = []
        for m in ROW.finditer(chunk):
            names = TICKED.findall(m["names"])
            if not names:  # the header and the rule under it
                continue
            rows.append((names, m["status"].strip(), m["note"].strip()))
        assert head[1] not in sections, f"{head[1]} has two sections"
        sections[head[1]] = rows
    return sections


def resolve(dotted: str):
    """The object a dotted matdiff name refers to, importing the longest module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def status_kind(status: str) -> str:
    if status.startswith("`"):
        return "present"
    for kind in ("missing", "not planned"):
        if status == kind:
            return kind
    raise AssertionError(f"status {status!r}: expected a `matdiff.…` name, missing or not planned")


SECTIONS = page_sections()
MODULES = autograd_modules()


def test_every_autograd_module_has_a_section_and_no_other():
    assert list(SECTIONS) == MODULES


@pytest.mark.parametrize("module", MODULES)
def test_every_public_name_is_listed_once(module):
    listed = [n for names, _, _ in SECTIONS[module] for n in names]
    assert len(listed) == len(set(listed)), f"{module}: a name is listed twice"
    public = public_names(module)
    assert sorted(public - set(listed)) == [], f"{module}: public in autograd, not on the page"
    assert sorted(set(listed) - public) == [], f"{module}: on the page, not public in autograd"


@pytest.mark.parametrize("module", MODULES)
def test_present_names_import_and_missing_ones_are_absent(module):
    for names, status, note in SECTIONS[module]:
        kind = status_kind(status)
        if kind == "present":
            (target,) = TICKED.findall(status)
            assert target.startswith("matdiff"), status
            assert resolve(target) is not None
        elif kind == "missing":
            assert note, f"{module}: {names} missing without a reason"
            # A name matdiff has gained would be listed as missing by mistake.
            home = module.replace("autograd", "matdiff", 1)
            for n in names:
                for where in {home, "matdiff", "matdiff.extend"}:
                    try:
                        found = resolve(f"{where}.{n}")
                    except (ImportError, AttributeError):
                        continue
                    pytest.fail(f"{module}.{n} is listed missing but {where}.{n} is {found!r}")
        else:
            assert note, f"{module}: {names} not planned without a reason"


def test_every_matdiff_name_on_the_page_imports():
    text = PAGE.read_text(encoding="utf-8")
    for dotted in sorted(set(MATDIFF_NAME.findall(text))):
        assert resolve(dotted) is not None, dotted


def test_the_counts_line_is_true():
    rows = [row for rows in SECTIONS.values() for row in rows]
    per_kind = {"present": 0, "missing": 0, "not planned": 0}
    for names, status, _ in rows:
        per_kind[status_kind(status)] += len(names)
    total = sum(per_kind.values())
    m = COUNTS.search(PAGE.read_text(encoding="utf-8"))
    assert m, "the page states its counts"
    assert [int(g) for g in m.groups()] == [
        total,
        len(MODULES),
        per_kind["present"],
        per_kind["missing"],
        per_kind["not planned"],
    ]


def test_the_issue_names_are_present():
    # The names an autograd program was found to miss, now in matdiff.
    listed = {
        (module, n): status
        for module, rows in SECTIONS.items()
        for names, status, _ in rows
        for n in names
    }
    for key in [
        ("autograd.misc.flatten", "flatten_func"),
        ("autograd.misc.fixed_points", "fixed_point"),
        ("autograd.util", "quick_grad_check"),
        ("autograd.util", "toposort"),
        ("autograd.scipy.integrate", "odeint"),
    ]:
        assert status_kind(listed[key]) == "present", key
