"""The package's structure: imports run one way, and no code reads the call stack.

``lint-imports`` (run by ``.ci/run``) checks the layers named in ``pyproject.toml``; these
tests check what holds for every module, named in a contract or not.
"""

import pathlib
import re

import grimp
import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "matdiff"

# The two places allowed to read frames: error messages that name the user's line, and
# graph's labels from the user's function names and variables (a debugging aid).
READS_FRAMES = {"errors.py", "graph/_frames.py"}
FRAME_READS = re.compile(
    r"sys\._getframe|\.f_code\b|\.f_back\b|\.f_lasti\b|\.f_locals\b|\bimport dis\b"
    r"|inspect\.(stack|currentframe)|traceback\.extract_stack|sys\.setprofile"
)


def test_no_module_reads_the_call_stack_outside_the_named_aids():
    readers = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if FRAME_READS.search(p.read_text(encoding="utf-8"))
    )
    assert set(readers) <= READS_FRAMES, f"frame reads in {set(readers) - READS_FRAMES}"
    assert readers, "the pattern no longer finds the named aids: it has rotted"


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("matdiff")


def test_no_import_circles(graph):
    # Function-level imports count too: one placed to dodge a circle is still a circle.
    modules = sorted(graph.modules)
    circles = [
        (a, b)
        for a in modules
        for b in graph.find_modules_directly_imported_by(a)
        if b != a and graph.chain_exists(importer=b, imported=a)
    ]
    assert circles == []


def test_the_circle_check_can_fail(graph):
    # The two directions the layers forbid do exist one way: the check would see a return.
    assert graph.chain_exists(importer="matdiff.numpy.boxes", imported="matdiff.tracer")
    assert not graph.chain_exists(importer="matdiff.tracer", imported="matdiff.numpy.boxes")


def test_differential_operators_reexports_exactly_the_three_modules():
    # The explicit list keeps linters and editors informed; this keeps it from drifting.
    import matdiff.autograd_names as a
    import matdiff.custom_rules as c
    import matdiff.differential_operators as d
    import matdiff.operators as o

    assert d.__all__ == [*o.__all__, *c.__all__, *a.__all__]
    assert all(getattr(d, name) is getattr(m, name) for m in (o, c, a) for name in m.__all__)
