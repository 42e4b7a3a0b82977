"""Derivations in worker processes, each answer within a time limit.

A thread cannot be stopped, so a hostile expression run in the server's own process would
keep a core busy after its request gave up. Each derivation instead runs in one of a few
long-lived worker processes; one that overruns its time limit is killed and replaced, its
request answers with a clear error, and the other workers go on serving.

>>> pool = WorkerPool(size=1, timeout=30.0)
>>> pool.call("parse", {"expression": "x'*A*x"})["kind"]
'scalar'
>>> pool.close()
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
from typing import Any

from .api import ApiError

OPERATIONS = ("parse", "derivative")
# Seconds a new worker may take to import NumPy and the engine.
_START_TIMEOUT = 120.0


def _serve(conn) -> None:
    """A worker's loop: read ``(operation, payload)``, answer ``(True, json)`` or the error."""
    # Ctrl-C in the terminal reaches the whole process group; the server stops the workers
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # the engine is imported before the worker says it is ready, so that the time limit
    # measures derivations only
    import matdiff.graph  # noqa: F401
    import matdiff.numpy  # noqa: F401
    import matdiff.symbolic  # noqa: F401

    from . import api

    functions = {"parse": api.analyze, "derivative": api.compute}
    conn.send("ready")
    while True:
        try:
            operation, payload = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: Any = (True, functions[operation](payload))
        except ApiError as err:
            answer = (False, (err.status, err.kind, err.message, err.line, err.column))
        except RecursionError:
            answer = (False, (422, "expression", "the expression is nested too deeply", None, None))
        except MemoryError:
            answer = (False, (422, "limit", "the derivation ran out of memory", None, None))
        except Exception as err:  # a bug: answer it rather than lose the worker
            answer = (False, (500, "internal", f"{type(err).__name__}: {err}", None, None))
        conn.send(answer)


class WorkerPool:
    """``size`` worker processes; :meth:`call` runs an operation with a time limit.

    Workers are started with ``spawn`` so that they share no locks with the server's
    threads.
    """

    def __init__(self, size: int = 2, timeout: float = 10.0) -> None:
        if size < 1:
            raise ValueError(f"WorkerPool: size must be at least 1, got {size}")
        self.timeout = timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: queue.Queue = queue.Queue()
        self._all: list = []
        self._lock = threading.Lock()
        for _ in range(size):
            self._idle.put(self._start())

    def _start(self):
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_serve, args=(child,), daemon=True)
        process.start()
        child.close()
        if not parent.poll(_START_TIMEOUT) or parent.recv() != "ready":
            process.kill()
            raise RuntimeError("matdiff.web: a worker process did not start")
        worker = (process, parent)
        with self._lock:
            self._all.append(worker)
        return worker

    def _replace(self, worker):
        process, conn = worker
        process.kill()
        process.join()
        conn.close()
        with self._lock:
            self._all.remove(worker)
        return self._start()

    def call(self, operation: str, payload: Any) -> dict:
        """The answer of ``operation`` on ``payload``; raises :class:`ApiError` on refusal."""
        if operation not in OPERATIONS:
            raise ValueError(f"WorkerPool.call: no operation {operation!r}")
        try:
            worker = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            raise ApiError(
                503, "busy", "the server is busy with other derivations; try again"
            ) from None
        try:
            process, conn = worker
            conn.send((operation, payload))
            if not conn.poll(self.timeout):
                worker = self._replace(worker)
                raise ApiError(
                    503,
                    "timeout",
                    f"the derivation took longer than {self.timeout:g} s and was stopped; "
                    "try a smaller expression",
                )
            ok, answer = conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            worker = self._replace(worker)
            raise ApiError(500, "internal", "the worker process stopped; try again") from None
        finally:
            self._idle.put(worker)
        if not ok:
            raise ApiError(*answer)
        return answer

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            workers, self._all = self._all, []
        for process, conn in workers:
            conn.close()
            process.kill()
            process.join()
