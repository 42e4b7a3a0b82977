"""NumPy for traced code: ``import matdiff.numpy as np``.

Every differentiable function here is an explicit wrapper with its VJP and JVP rules
right under it; functions whose results carry no derivative are declared so. Names that
matdiff does not wrap fall through to NumPy itself (dtypes, constants...): on plain
arrays they behave as NumPy does, and on a traced value they raise an error that names
the function instead of returning an untraced result. ``linalg``, ``fft`` and ``random``
are modules (``import matdiff.numpy.random as npr``), the last one NumPy's sampling. The
ufuncs carry NumPy's methods (``np.add.reduce``, ``np.maximum.accumulate``), and every
function NumPy's ``__name__`` and, after matdiff's own note, NumPy's documentation.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> float(grad(lambda x: np.sum(np.sin(x) ** 2))(np.array([0.5, 1.0]))[0])  # sin(1.0)
0.8414709848078965
"""

import numpy as _np

from . import _docs, fft, linalg, random
from . import boxes as _boxes
from . import construction as _construction
from . import indexing as _indexing
from . import manipulation as _shape
from . import nondiff as _nondiff
from . import products as _products
from . import reductions as _reductions
from . import ufunc_methods as _ufunc_methods
from . import ufuncs as _ufuncs
from ._wrap import all_wrapped as _all_wrapped

__version__ = _np.__version__

_docs.install_all(linalg, fft)
globals().update(_all_wrapped)


def __getattr__(name):
    try:
        return getattr(_np, name)
    except AttributeError:
        raise AttributeError(f"module 'matdiff.numpy' has no attribute {name!r}") from None
