"""``matdiff graph``: draw the computation graph of a symbolic expression.

The expression is parsed by the symbolic engine, its value code is run with
``matdiff.numpy`` at random inputs of the declared kinds, and the resulting graph, with
every forward value and adjoint, is drawn or printed::

    matdiff graph "sum(log(1+exp(-y.*(X*w))))" --wrt w -o loss.svg
    matdiff graph "x'*A*x" --wrt x --table
    matdiff graph "log(det(X))" --wrt X -o logdet.dot

``register(subparsers)`` adds the subcommand to an argparse parser; ``configure`` and
``run`` are the two halves, for a command table that adds them itself.
"""

from __future__ import annotations

import argparse
import sys

from .cli_args import (
    UsageError,
    add_variable_options,
    check_output_path,
    non_negative,
    parse_dims,
    positive,
    unused_dims,
)

HELP = "draw the computation graph of an expression, with forward values and adjoints"

# Sizes for dimensions that no --dim fixes: distinct, so that shape mistakes show.
_DEFAULT_SIZES = (3, 4, 2, 5, 6, 7, 8)


def configure(p: argparse.ArgumentParser) -> None:
    """Add the ``graph`` subcommand's arguments to ``p``."""
    p.add_argument("expression", help='expression, e.g. "x\'*A*x" (quote it for the shell)')
    p.add_argument("--wrt", required=True, help="the input variable; the others are constants")
    p.add_argument(
        "-o",
        "--output",
        help="write the picture here: .svg, .png or .pdf (needs Graphviz), or .dot (DOT text)",
    )
    p.add_argument("--table", action="store_true", help="print the forward and backward passes")
    add_variable_options(
        p, dim_help="size of a dimension, e.g. n=5; others get small distinct sizes"
    )
    p.add_argument(
        "--seed", type=non_negative, default=0, help="seed of the random inputs (default 0)"
    )
    p.add_argument(
        "--max-nodes",
        type=positive,
        default=200,
        help="draw at most this many nodes, with a note of how many were left out",
    )


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``graph`` to the subparsers of the ``matdiff`` command.

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="matdiff")
    >>> _ = register(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["graph", "x'*x", "--wrt", "x", "--table"])
    >>> args.command, args.wrt, args.table
    ('graph', 'x', True)
    """
    p = subparsers.add_parser("graph", help=HELP, description=HELP)
    configure(p)
    p.set_defaults(_run=run)
    return p


def random_point(expression: str, wrt: str, declare=(), dims=None, seed: int = 0):
    """``(derivative, inputs)``: the parsed expression and random values for its variables.

    Inputs follow the declared kinds and the domains the expression needs (positive
    definite matrices under ``det``, positive entries under ``log``...); dimensions that
    ``dims`` does not fix get small distinct sizes.
    """
    import numpy

    from matdiff.symbolic import derivative
    from matdiff.symbolic.check import domains, random_inputs, refuse_huge

    d = derivative(expression, wrt=wrt, kinds=list(declare), dims=dict(dims or {}))
    sizes = {}
    k = 0
    for dim in d.parsed.dim_names:
        if dim in d.dims:
            sizes[dim] = int(d.dims[dim])
        else:
            sizes[dim] = _DEFAULT_SIZES[k % len(_DEFAULT_SIZES)]
            k += 1
    refuse_huge(d, sizes, "the graph", derivative=False)
    return d, random_inputs(d, numpy.random.default_rng(seed), sizes, domains(d.expr))


def build_graph(expression: str, wrt: str, declare=(), dims=None, seed: int = 0, **options):
    """The :class:`~matdiff.graph.Graph` of ``expression`` at :func:`random_point`.

    ``wrt`` is the input, the other variables are constants. A non-scalar expression is
    seeded with a cotangent of ones: its adjoints are those of the sum of its entries.
    ``options`` go to :func:`matdiff.graph.graph`.
    """
    import numpy

    import matdiff.numpy as mnp
    from matdiff.graph import graph

    d, inputs = random_point(expression, wrt, declare, dims, seed)
    value = d.value_function(np_module=mnp, fast=False)
    args = [inputs[name] for name in d.variables]
    out = value(*args)
    cotangent = None if numpy.ndim(out) == 0 else numpy.ones(numpy.shape(out))
    return graph(value, argnums=d.variables.index(wrt), cotangent=cotangent, **options)(*args)


def run(args: argparse.Namespace) -> int:
    """Run ``matdiff graph`` with parsed arguments; returns the exit status."""
    from matdiff.graph import GraphvizNotFoundError

    try:
        from matdiff.symbolic import SymbolicError, derivative  # noqa: F401
        from matdiff.symbolic.parser import parse
    except ImportError:
        print(
            "matdiff graph: error: the symbolic engine (matdiff.symbolic) is not in this "
            "build; draw a Python function with matdiff.graph.graph(f)(x) instead",
            file=sys.stderr,
        )
        return 2
    try:
        path = check_output_path(args.output) if args.output else None
        dims = parse_dims(args.dim)
        g = build_graph(args.expression, args.wrt, args.declare, dims, args.seed)
        if dims:
            parsed = parse(args.expression, list(args.declare), _with_info=True)
            for warning in unused_dims(dims, parsed.dim_names):
                print(f"matdiff graph: warning: {warning}", file=sys.stderr)
    except (SymbolicError, UsageError) as err:
        print(f"matdiff graph: error: {err}", file=sys.stderr)
        return 2
    if args.table or not args.output:
        print(g.table(max_nodes=args.max_nodes))
    out = g.outputs[0]
    if out.shape != ():
        print(
            f"(the expression is a {out.type}: the backward pass is seeded with ones, so the "
            "adjoints are those of the sum of its entries)"
        )
    if path is None:
        return 0
    if path.suffix.lower() == ".dot":
        try:
            path.write_text(g.to_dot(max_nodes=args.max_nodes), encoding="utf-8")
        except OSError as err:
            print(f"matdiff graph: error: cannot write {path}: {err.strerror}", file=sys.stderr)
            return 2
    else:
        try:
            g.render(path, max_nodes=args.max_nodes)
        except GraphvizNotFoundError as err:
            print(
                f"matdiff graph: error: {err} Or write the DOT text with -o {path.stem}.dot.",
                file=sys.stderr,
            )
            return 1
        except (ValueError, OSError) as err:
            print(f"matdiff graph: error: {err}", file=sys.stderr)
            return 2
    print(f"graph of {args.expression} ({len(g.nodes)} nodes) written to {path}")
    return 0
