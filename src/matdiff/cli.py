"""The ``matdiff`` command.

Each subcommand is a ``(configure, run)`` pair registered in ``SUBCOMMANDS``: ``configure``
adds its arguments to an argparse subparser, ``run`` takes the parsed namespace and
returns the exit status. To add one (``graph``, ``demo``), define the two functions and
call ``register("name", "help", configure, run)`` in this module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import graph_cli
from .cli_args import UsageError, add_variable_options, parse_dims, unused_dims
from .web import cli as web_cli

#: The array libraries ``matdiff diff --code`` writes for (``matdiff.symbolic`` keeps the
#: table; the names are here so that building the parser imports no symbolic engine).
BACKEND_NAMES = ("numpy", "array-api", "dask", "cupy")


@dataclass(frozen=True)
class Subcommand:
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


SUBCOMMANDS: dict[str, Subcommand] = {}


def register(
    name: str,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
) -> None:
    """Add a subcommand to ``matdiff``."""
    SUBCOMMANDS[name] = Subcommand(help, configure, run)


# ---------------------------------------------------------------- matdiff diff


def _configure_diff(p: argparse.ArgumentParser) -> None:
    p.add_argument("expression", help='expression, e.g. "x\'*A*x" (quote it for the shell)')
    p.add_argument("--wrt", required=True, help="the variable to differentiate with respect to")
    p.add_argument("--order", type=int, default=1, choices=(1, 2), help="2 for the Hessian")
    p.add_argument("--latex", action="store_true", help="also print LaTeX")
    p.add_argument(
        "--code",
        nargs="?",
        const="numpy",
        default=None,
        choices=BACKEND_NAMES,
        metavar="BACKEND",
        help="also print source for an array library: numpy (the default), array-api "
        "(the namespace of the arguments), dask or cupy",
    )
    p.add_argument("--steps", action="store_true", help="also print the derivation")
    p.add_argument("--check", action="store_true", help="check numerically at random inputs")
    add_variable_options(p, dim_help="size of a dimension no variable fixes, e.g. n=5")


def _run_diff(args: argparse.Namespace) -> int:
    from matdiff.symbolic import CheckError, SymbolicError, derivative

    try:
        dims = parse_dims(args.dim)
        d = derivative(
            args.expression, wrt=args.wrt, order=args.order, kinds=args.declare, dims=dims
        )
        for warning in unused_dims(dims, d.parsed.dim_names):
            print(f"matdiff diff: warning: {warning}", file=sys.stderr)
        for note in d.notes:
            print(f"matdiff diff: note: {note}", file=sys.stderr)
        # before any output: a backend that lacks a function the code needs is an error
        code = d.code(args.code) if args.code else None
        print(d.text)
        if args.latex:
            print()
            print(d.latex)
        if args.code:
            # self-contained: it can be pasted into a file or a notebook and run
            print()
            print(code, end="")
        if args.steps:
            print()
            print(d.steps)
        if args.check:
            print()
            print(d.check(seed=0))
    except (SymbolicError, UsageError) as err:
        print(f"matdiff diff: error: {err}", file=sys.stderr)
        return 2
    except CheckError as err:
        print(f"matdiff diff: check failed: {err}", file=sys.stderr)
        return 1
    return 0


register("diff", "derivative of an expression in matrix notation", _configure_diff, _run_diff)


# ---------------------------------------------------------------- matdiff demo


def _configure_demo(p: argparse.ArgumentParser) -> None:
    pass


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import main as demo_main

    return demo_main()


register("demo", "a tour of both engines", _configure_demo, _run_demo)


register("graph", graph_cli.HELP, graph_cli.configure, graph_cli.run)
register("serve", "a local web page for matrix calculus", *web_cli.COMMAND)


# ---------------------------------------------------------------- entry point


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (with where to find the usage)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _ArgumentParser(
        prog="matdiff", description="Matrix calculus and automatic differentiation."
    )
    parser.add_argument("--version", action="version", version=f"matdiff {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    for name, cmd in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``matdiff`` command line; returns the exit status.

    >>> main(["diff", "x'*A*x", "--wrt", "x"])
    (A + A')*x
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return args._run(args)
    except (OSError, MemoryError, ValueError, ArithmeticError) as err:
        # a failure no subcommand foresaw is still one line, never a traceback
        print(f"matdiff {args.command}: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
