"""Holding the whole benchmark process to N CPUs, before any framework starts its threads.

Thread variables (``OMP_NUM_THREADS`` and the like) are read by each library in its own way,
and not all of them listen: XLA's CPU client, behind ``jax.jit``, sizes its own pool from the
CPUs it may run on, and torch keeps an inter-op pool apart from ``set_num_threads``. The CPU
affinity mask is different: every thread inherits it from the thread that starts it. So the
process is pinned first, while it has one thread and before NumPy, JAX or torch is imported,
and every pool any of them starts later can only run on those CPUs.

This module imports nothing but the standard library, so that it can run before the rest.
"""

from __future__ import annotations

import argparse
import os
import sys

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
# Libraries that start thread pools when imported (OpenBLAS sizes its pool then).
POOL_MODULES = ("numpy", "scipy", "jax", "jaxlib", "torch", "numba", "numexpr")

# What `pin` did in this process, so the harness pins once and reports what it did.
PINNED: dict | None = None


def arguments() -> argparse.ArgumentParser:
    """The options that pin, shared by the early parse and the harness's full one."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="pin the process to N CPUs (the first N it may use, or --cpus) and set every "
        "framework's thread count to N",
    )
    p.add_argument(
        "--cpus",
        type=parse_cpus,
        default=None,
        help="the CPUs to pin to, e.g. 0,2-3 (default: the first --threads of those allowed)",
    )
    return p


def parse_cpus(spec: str) -> list[int]:
    """CPU numbers from a list such as ``0,2-3``.

    >>> parse_cpus("0,2-3")
    [0, 2, 3]
    """
    cpus: set[int] = set()
    for part in spec.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi if sep else lo)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a CPU list: {spec!r}") from None
        cpus.update(range(first, last + 1))
    return sorted(cpus)


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on now (all of them where affinity is not supported).

    >>> set(allowed_cpus()) <= set(range(os.cpu_count()))
    True
    """
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def choose_cpus(threads: int | None, cpus: list[int] | None = None) -> list[int]:
    """The CPUs to pin to: ``cpus`` if given, else the first ``threads`` of those allowed.

    >>> choose_cpus(1) == allowed_cpus()[:1]
    True
    >>> choose_cpus(2, [0])
    Traceback (most recent call last):
    ...
    ValueError: --threads 2 with --cpus [0]: give as many CPUs as threads
    """
    allowed = allowed_cpus()
    if cpus is None:
        if threads is None or threads < 1:
            raise ValueError(f"--threads must be at least 1, not {threads}")
        if threads > len(allowed):
            raise ValueError(f"--threads {threads}, but this process may use only CPUs {allowed}")
        return allowed[:threads]
    if threads is not None and threads != len(cpus):
        raise ValueError(f"--threads {threads} with --cpus {cpus}: give as many CPUs as threads")
    outside = sorted(set(cpus) - set(allowed))
    if outside:
        raise ValueError(f"--cpus {cpus}: CPUs {outside} are not among those allowed, {allowed}")
    return list(cpus)


def _thread_ids() -> list[int]:
    try:
        return [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return []


def pin(cpus: list[int]) -> dict:
    """Pin this process to ``cpus`` and set every thread variable to ``len(cpus)``.

    Threads already running are pinned one by one (a thread's mask is its own), but pools that
    read their size at import keep it: the result lists the modules that were loaded before,
    so a late pin is visible in the machine info. Returns what was done.
    """
    global PINNED
    n = len(cpus)
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    if n == 1:
        # Eigen's own pool inside XLA; affinity bounds the rest of XLA's threads.
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    loaded = [m for m in POOL_MODULES if m in sys.modules]
    mask = set(cpus)
    unpinned = []
    if hasattr(os, "sched_setaffinity"):
        for tid in _thread_ids():
            try:
                os.sched_setaffinity(tid, mask)
            except OSError:  # a thread that ended meanwhile
                pass
        os.sched_setaffinity(0, mask)
        unpinned = [t for t in _thread_ids() if _affinity_of(t) not in (None, mask)]
    PINNED = {
        "threads": n,
        "affinity": sorted(allowed_cpus()),
        "pinned": hasattr(os, "sched_setaffinity"),
        "loaded_before_pinning": loaded,
        "threads_not_pinned": unpinned,
    }
    return PINNED


def _affinity_of(tid: int) -> set | None:
    try:
        return os.sched_getaffinity(tid)
    except OSError:
        return None


def pin_from_args(args) -> dict | None:
    """Pin as ``args.threads``/``args.cpus`` ask, once per process; None when they ask nothing."""
    if args.threads is None and args.cpus is None:
        return None
    cpus = choose_cpus(args.threads, args.cpus)
    if PINNED is not None and PINNED["affinity"] == sorted(cpus):
        return PINNED
    return pin(cpus)


def pin_from_argv(argv: list[str]) -> dict | None:
    """The early pin: read only the pinning options, before the harness imports NumPy."""
    args, _ = arguments().parse_known_args(argv)
    try:
        return pin_from_args(args)
    except ValueError as e:
        raise SystemExit(f"benchmarks: {e}") from None
