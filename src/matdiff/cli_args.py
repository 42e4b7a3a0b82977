"""Command-line options that several ``matdiff`` subcommands share.

A module of its own so that the subcommands' modules (``graph_cli``) and the command
table (``cli``) both import it, and neither imports the other back.

>>> from matdiff.cli_args import parse_dims
>>> parse_dims(["n=3"])
{'n': 3}
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["UsageError", "add_variable_options", "parse_dims"]


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
        if not name.strip() or not size.strip().isdigit() or int(size) < 1:
            raise UsageError(f"--dim takes NAME=SIZE with a positive size, e.g. n=5; got {item!r}")
        dims[name.strip()] = int(size)
    return dims
