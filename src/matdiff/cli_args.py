"""Command-line options that several ``matdiff`` subcommands share.

A module of its own so that the subcommands' modules (``graph_cli``) and the command
table (``cli``) both import it, and neither imports the other back.

>>> from matdiff.cli_args import parse_dims
>>> parse_dims(["n=3"])
{'n': 3}
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "UsageError",
    "add_variable_options",
    "check_output_path",
    "non_negative",
    "parse_dims",
    "positive",
    "unused_dims",
]


class UsageError(ValueError):
    """A command-line argument the subcommand cannot use."""


def add_variable_options(p: argparse.ArgumentParser, dim_help: str) -> None:
    """The ``--declare`` and ``--dim`` options of every subcommand that reads an expression."""
    p.add_argument(
        "--declare",
        action="append",
        default=[],
        metavar="DECL",
        help='declare a variable, e.g. "S: symmetric" or "A: m x n" (repeatable)',
    )
    p.add_argument(
        "--dim", action="append", default=[], metavar="NAME=SIZE", help=f"{dim_help} (repeatable)"
    )


def parse_dims(items: Sequence[str]) -> dict[str, int]:
    """The ``--dim NAME=SIZE`` items as a dict; ``UsageError`` names an item that is not.

    >>> parse_dims(["n=5", "m = 2"])
    {'n': 5, 'm': 2}
    """
    dims = {}
    for item in items:
        name, _, size = item.partition("=")
        size = size.strip()
        # ASCII digits only: "²".isdigit() is true, but int("²") fails
        if not name.strip() or not re.fullmatch(r"[0-9]+", size) or int(size) < 1:
            raise UsageError(f"--dim takes NAME=SIZE with a positive size, e.g. n=5; got {item!r}")
        dims[name.strip()] = int(size)
    return dims


def unused_dims(dims: dict, dim_names) -> list[str]:
    """A warning for each ``--dim`` that names no dimension of the expression.

    >>> unused_dims({"n": 3, "k": 2}, ["n"])
    ['--dim k=2 names no dimension of the expression (its dimensions: n); it is ignored']
    """
    known = ", ".join(str(d) for d in dim_names) or "none"
    return [
        f"--dim {name}={size} names no dimension of the expression (its dimensions: "
        f"{known}); it is ignored"
        for name, size in dims.items()
        if name not in {str(d) for d in dim_names}
    ]


def check_output_path(path: str) -> Path:
    """``path`` as a file the command can write, or ``UsageError`` saying why it cannot."""
    out = Path(path)
    if out.is_dir():
        raise UsageError(
            f"-o {path}: that is a directory; give a file name, e.g. {out / 'graph.svg'}"
        )
    parent = out.parent
    if not parent.is_dir():
        raise UsageError(f"-o {path}: the folder {parent} does not exist")
    return out


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    return _integer(text, 1, "a positive integer")


def non_negative(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    return _integer(text, 0, "an integer of at least 0")


def _integer(text: str, least: int, what: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()) or int(text) < least:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
    return int(text)
