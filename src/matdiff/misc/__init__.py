"""autograd's ``misc``: :func:`flatten` and :func:`flatten_func`, :func:`fixed_point`, and the
gradient-descent ``optimizers``.

>>> from matdiff.misc import flatten
>>> flat, unflatten = flatten({"w": [1.0, 2.0], "b": 3.0})
>>> flat
array([3., 1., 2.])
>>> unflatten(flat)
{'b': np.float64(3.0), 'w': [np.float64(1.0), np.float64(2.0)]}
"""

from . import optimizers
from .fixed_points import fixed_point
from .flatten import flatten, flatten_func

__all__ = ["fixed_point", "flatten", "flatten_func", "optimizers"]
