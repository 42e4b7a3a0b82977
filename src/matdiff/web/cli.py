"""``matdiff serve``: the page on a local server.

Registered in :mod:`matdiff.cli` as ``COMMAND``; the server itself is imported only when
the subcommand runs.

>>> p = argparse.ArgumentParser()
>>> configure(p)
>>> args = p.parse_args(["--port", "0"])
>>> args.host, args.port, args.open
('127.0.0.1', 0, False)
"""

from __future__ import annotations

import argparse
import signal
import sys


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: only this machine can reach the page)",
    )
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.add_argument(
        "--timeout", type=float, default=10.0, help="seconds one derivation may take (default 10)"
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")


def run(args: argparse.Namespace) -> int:
    import webbrowser

    from .server import make_server

    try:
        server = make_server(args.host, args.port, args.workers, args.timeout)
    except OSError as err:
        print(
            f"matdiff serve: error: cannot listen on {args.host}:{args.port}: {err}",
            file=sys.stderr,
        )
        return 1
    print(f"matdiff: serving on {server.url} (Ctrl-C stops)", flush=True)
    if args.open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # a second Ctrl-C must not interrupt the workers' shutdown half way
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.server_close()
    return 0


COMMAND = (configure, run)
