"""Progress bars for work a person waits on: ``progress=True`` in the Jacobians and the
Hessian, the symbolic self-check, and the benchmark harness.

The bars are ``tqdm``'s (the ``progress`` extra), which render in terminals and notebooks.
Without ``progress=True`` nothing is imported and nothing is drawn.

>>> bar = progress_bar(3, "directions", enabled=False)
>>> bar.update(3); bar.close()
"""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


class _Silent:
    __slots__ = ()

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


_SILENT = _Silent()


def progress_bar(total: int, desc: str, enabled: bool, who: str = "progress") -> Any:
    """A ``tqdm`` bar of ``total`` steps when ``enabled``, else one that draws nothing.

    ``who`` names the caller in the error raised when ``tqdm`` is missing.
    """
    if not enabled:
        return _SILENT
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            f"{who}: progress=True draws a progress bar with tqdm, which is not installed; "
            "pip install 'matdiff[progress]' (or pip install tqdm)"
        ) from None
    return tqdm(total=total, desc=desc, leave=False)
