"""The frameworks under comparison: which are installed, and how each turns NumPy in and out."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Framework:
    name: str
    module: Any = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        return self.module is not None


def _try(name: str):
    try:
        return importlib.import_module(name), ""
    except Exception as e:  # any import failure means "skip with a note"
        return None, f"{name} not installed ({type(e).__name__}: {e})"


def load(names: list[str]) -> dict[str, Framework]:
    """Import each requested framework; a missing one is kept with a note, never an error."""
    out: dict[str, Framework] = {}
    for name in names:
        if name in ("numpy", "matdiff", "matdiff-jit", "symbolic"):
            mod = importlib.import_module("matdiff") if name != "numpy" else np
            fw = Framework(name, mod)
            if name == "matdiff-jit" and not hasattr(mod, "jit"):
                fw = Framework(name, None, "matdiff.jit is not available in this build")
            if name == "symbolic":
                try:
                    from matdiff import symbolic

                    symbolic.derivative  # noqa: B018
                except Exception as e:
                    fw = Framework(name, None, f"matdiff.symbolic not available ({e})")
            out[name] = fw
        elif name == "autograd":
            mod, note = _try("autograd")
            out[name] = Framework(name, mod, note)
        elif name in ("jax", "jax-jit"):
            mod, note = _try("jax")
            if mod is not None:
                mod.config.update("jax_enable_x64", True)
            out[name] = Framework(name, mod, note)
        elif name == "torch":
            mod, note = _try("torch")
            if mod is not None:
                mod.set_default_dtype(mod.float64)
            out[name] = Framework(name, mod, note)
        else:
            raise SystemExit(f"benchmarks: unknown framework {name!r}")
    return out


ALL = ["numpy", "matdiff", "matdiff-jit", "symbolic", "autograd", "jax", "jax-jit", "torch"]


def to_numpy(x: Any) -> Any:
    """Bring a result (array, scalar or tuple of them) of any framework back to NumPy."""
    if isinstance(x, (tuple, list)):
        return type(x)(to_numpy(v) for v in x)
    if hasattr(x, "detach"):
        return x.detach().numpy()
    if hasattr(x, "block_until_ready"):
        return np.asarray(x)
    return np.asarray(x)


def block(x: Any) -> Any:
    """Wait for asynchronous results (JAX) so the timing covers the computation."""
    if isinstance(x, (tuple, list)):
        for v in x:
            block(v)
        return x
    if hasattr(x, "block_until_ready"):
        x.block_until_ready()
    return x
