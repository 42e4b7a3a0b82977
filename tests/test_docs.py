"""Every Python code block in docs/*.md and README.md runs, so the documentation cannot rot.

The blocks of one page share a namespace and run in order, as in a notebook; each block
asserts what its text claims. A block whose info string is ``python no-run`` is shown,
not run (for output that depends on the machine). ``python requires=module.attr`` runs
the block only when that feature is importable, and otherwise skips it naming what is
missing (for a section whose engine has not landed yet). A block that imports
``matdiff.symbolic`` requires ``matdiff.symbolic.derivative`` without saying so.
"""

from __future__ import annotations

import importlib
import linecache
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]

FENCE = re.compile(r"^```python([^\n]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def blocks(page: Path) -> list[tuple[int, str, str]]:
    """(line, options, code) of each Python block of ``page``."""
    text = page.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(1).strip(), m.group(2))
        for m in FENCE.finditer(text)
    ]


def run_block(page: Path, line: int, code: str, ns: dict) -> None:
    # Compiled at its own line of the page, and the page put in linecache, so that a
    # failing assertion's traceback shows the line of the guide that failed.
    filename = str(page)
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    linecache.cache[filename] = (sum(map(len, lines)), None, lines, filename)
    exec(compile("\n" * (line - 1) + code, filename, "exec"), ns)  # noqa: S102


SYMBOLIC = re.compile(
    r"from matdiff import symbolic|import matdiff\.symbolic|from matdiff\.symbolic"
)

# Pages a link may name before the engine that brings them is in the build.
PENDING_PAGES = {"docs/symbolic.md": "matdiff.symbolic.derivative"}


def requirements(options: str, code: str) -> str:
    if SYMBOLIC.search(code) and "requires=" not in options:
        options += " requires=matdiff.symbolic.derivative"
    return options


def missing_requirement(options: str) -> str | None:
    """What a ``requires=`` option names and this build lacks, or None.

    ``requires=jax`` needs an importable module; ``requires=matdiff.numpy.linalg.det``
    needs matdiff's own function, not NumPy's, which unwrapped names fall through to.
    """
    for opt in options.split():
        if not opt.startswith("requires="):
            continue
        target = opt.removeprefix("requires=")
        try:
            importlib.import_module(target)
            continue
        except ImportError:
            pass
        module, _, attr = target.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError):
            return target
        if target.startswith("matdiff.") and not getattr(obj, "__module__", "").startswith(
            "matdiff"
        ):
            return target
    return None


# Blocks that fail on purpose without saying so; their pages' owners are asked to mark
# them ``no-run`` or catch the error. Strict: once fixed, this entry must go.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def known_failure(page: Path, code: str) -> str | None:
    for (name, snippet), reason in KNOWN_FAILURES.items():
        if page.name == name and snippet in code:
            return reason
    return None


CASES = [(page, i) for page in PAGES if page.exists() for i in range(len(blocks(page)))]
_namespaces: dict[Path, tuple[int, dict]] = {}


def _namespace_before(page: Path, index: int) -> dict:
    """The page's namespace after its blocks before ``index`` (cached between tests)."""
    done, ns = _namespaces.get(page, (-1, None))
    if ns is None or done >= index:
        done, ns = -1, {"__name__": f"docs_{page.stem}"}
    for i, (line, options, code) in enumerate(blocks(page)):
        runnable = "no-run" not in options and not missing_requirement(requirements(options, code))
        if done < i < index and runnable and not known_failure(page, code):
            run_block(page, line, code, ns)
    return ns


@pytest.mark.parametrize(
    "page,index", CASES, ids=[f"{p.relative_to(ROOT)}:block{i}" for p, i in CASES]
)
def test_code_block_runs(page: Path, index: int, monkeypatch, tmp_path, request):
    line, options, code = blocks(page)[index]
    if "no-run" in options:
        pytest.skip(f"{page.name}:{line} is marked no-run (machine-dependent output)")
    missing = missing_requirement(requirements(options, code))
    if missing:
        pytest.skip(f"{page.name}:{line} needs {missing}, which is not in this build yet")
    reason = known_failure(page, code)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=f"{page.name}:{line} {reason}", strict=True))
    monkeypatch.chdir(tmp_path)  # files a block writes land here, not in the repository
    ns = _namespace_before(page, index)
    run_block(page, line, code, ns)
    _namespaces[page] = (index, ns)


def test_docs_exist_and_have_code():
    assert (ROOT / "docs" / "guide.md").exists()
    assert sum(len(blocks(p)) for p in PAGES if p.exists()) > 20


def test_docs_links_resolve():
    # The README's links to generated pages (docs/benchmarks.md) are its owner's to check.
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = re.sub(r"^```.*?^```", "", page.read_text("utf-8"), flags=re.M | re.S)
        text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target:
                continue
            pending = PENDING_PAGES.get(target)
            if pending and missing_requirement(f"requires={pending}"):
                continue  # arrives with an engine not yet in the build
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
