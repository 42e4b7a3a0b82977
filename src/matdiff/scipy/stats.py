"""``matdiff.scipy.stats``: densities and distribution functions, differentiable in every argument.

Each distribution is an object with SciPy's call signatures
(``norm.logpdf(x, loc=0, scale=1)``, ``gamma.logpdf(x, a, loc=0, scale=1)``, ...). The
functions are compositions of ``matdiff.numpy`` and ``matdiff.scipy.special``, so they
differentiate (in both modes, to any order) in the quantiles and in every parameter.

SciPy's conventions at the edges are kept: a parameter out of its range (a scale
<= 0, a shape <= 0) gives NaN, a point outside the support gives a log-density of -inf
and a density of 0. Those entries are computed on placeholder inputs and then replaced
(the double-``where`` pattern), so they put no NaN into the derivatives of the others.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> float(grad(norm.logpdf)(1.0))  # -(x - loc) / scale^2
-1.0
"""

from __future__ import annotations

import math

import numpy as _np
import scipy.stats as _ss

from .. import numpy as _mnp
from ..numpy import linalg as _nla
from ..tracer import NotDifferentiableError, branch, getval, isbox
from ..tree import tree_flatten
from . import special as _sp

__all__ = [
    "norm",
    "multivariate_normal",
    "multivariate_t",
    "t",
    "gamma",
    "beta",
    "chi2",
    "laplace",
    "logistic",
    "poisson",
    "dirichlet",
]

_LOG_2PI = math.log(2.0 * math.pi)
_where = _mnp.where
_log = _mnp.log
_exp = _mnp.exp


def _mask(cond, *args):
    """A boolean mask from the values of ``args`` (no derivative), or None if all False."""
    m = cond(*[_value(a) for a in args])
    return m if branch(_np.any(m)) else None


def _value(a):
    """The value of ``a`` as an array; under jit a staged duck array, so the mask and the
    branch on it are recorded (guarded) rather than frozen at the example's values."""
    v = getval(a)
    return v if hasattr(v, "__array_function__") else _np.asarray(v)


def _or(*masks):
    out = None
    for m in masks:
        if m is not None:
            out = m if out is None else _np.logical_or(out, m)
    return out


def _safe(x, mask, fill):
    """``x`` with ``fill`` where ``mask``: the placeholder of the double-where pattern."""
    return x if mask is None else _where(mask, fill, x)


def _fill(val, mask, value):
    return val if mask is None else _where(mask, value, val)


def _refuse_traced(fname: str, **params) -> None:
    """Shape parameters of CDFs: SciPy gives no derivative in them, so tracing them is an error."""
    for argname, value in params.items():
        if isbox(value):
            raise NotDifferentiableError(
                f"{fname}: argument {argname!r} is being differentiated, but the derivative of "
                f"this CDF in its shape parameter is not available in matdiff (SciPy has none "
                f"either). Pass {argname} as a constant (a plain value or "
                f"matdiff.stop_gradient({argname})); x, loc and scale are differentiable."
            )


def _standardize(x, loc, scale):
    """(z, log scale, invalid-scale mask) with the invalid scales replaced by 1."""
    bad = _mask(lambda s: ~(s > 0), scale)
    scale = _safe(scale, bad, 1.0)
    z = _mnp.divide(_mnp.subtract(x, loc), scale)
    return z, _log(scale), bad


def _log_scale(scale):
    """(log scale, invalid-scale mask) for the entropies, the scale's NaN convention."""
    bad = _mask(lambda s: ~(s > 0), scale)
    return _log(_safe(scale, bad, 1.0)), bad


def _over(val, *params):
    """``val`` broadcast over the shapes of ``params`` that it does not depend on."""
    shape = _np.broadcast_shapes(*[_np.shape(getval(p)) for p in params])
    return _mnp.add(val, _np.zeros(shape))


class _Sampler:
    """``rvs`` from SciPy: samples are not differentiated, so traced parameters are refused."""

    name = "distribution"

    def rvs(self, *args, **kwargs):
        """Samples drawn by SciPy's sampler of the same name, with its signature."""
        leaves, _ = tree_flatten((args, kwargs))
        if any(isbox(v) for v in leaves):
            raise NotDifferentiableError(
                f"{self.name}.rvs: a parameter is being differentiated, but the samples are "
                "drawn by SciPy and carry no derivative in the parameters. Pass the "
                "parameters as constants (matdiff.stop_gradient), or draw standard samples "
                "and transform them with matdiff.numpy (loc + scale * z) to differentiate "
                "through the sampling."
            )
        return getattr(_ss, self.name).rvs(*args, **kwargs)


class _Continuous(_Sampler):
    """pdf from logpdf; subclasses define ``logpdf`` with SciPy's signature."""

    name = "distribution"

    def pdf(self, x, *args, **kwargs):
        """The density: exp(logpdf)."""
        return _exp(self.logpdf(x, *args, **kwargs))

    def __repr__(self) -> str:
        return f"<matdiff.scipy.stats.{self.name}>"


class _SymmetricLocationScale(_Continuous):
    """The law of ``loc + scale * z`` for a standard ``z`` symmetric about 0.

    Subclasses give ``_logpdf``, ``_cdf``, ``_logcdf`` and ``_ppf`` of ``z``. The upper
    tail is read off the lower one at ``-z``, without the cancellation of ``1 - cdf``.
    """

    def logpdf(self, x, loc=0.0, scale=1.0):
        """The log-density at ``x`` (-inf outside the support, NaN for invalid parameters)."""
        z, log_s, bad = _standardize(x, loc, scale)
        return _fill(_mnp.subtract(self._logpdf(z), log_s), bad, _np.nan)

    def cdf(self, x, loc=0.0, scale=1.0):
        """P(X <= x)."""
        z, _, bad = _standardize(x, loc, scale)
        return _fill(self._cdf(z), bad, _np.nan)

    def logcdf(self, x, loc=0.0, scale=1.0):
        """log P(X <= x), finite far in the lower tail."""
        z, _, bad = _standardize(x, loc, scale)
        return _fill(self._logcdf(z), bad, _np.nan)

    def sf(self, x, loc=0.0, scale=1.0):
        """P(X > x), computed without the cancellation of 1 - cdf."""
        z, _, bad = _standardize(x, loc, scale)
        return _fill(self._cdf(_mnp.negative(z)), bad, _np.nan)

    def logsf(self, x, loc=0.0, scale=1.0):
        """log P(X > x), finite far in the upper tail."""
        z, _, bad = _standardize(x, loc, scale)
        return _fill(self._logcdf(_mnp.negative(z)), bad, _np.nan)

    def entropy(self, loc=0.0, scale=1.0):
        """The differential entropy: a constant plus log(scale), differentiable in scale."""
        log_s, bad = _log_scale(scale)
        return _fill(_over(_mnp.add(self._entropy, log_s), loc), bad, _np.nan)

    def ppf(self, q, loc=0.0, scale=1.0):
        """The quantile function, the inverse of ``cdf``."""
        bad = _mask(lambda s: ~(s > 0), scale)
        val = _mnp.add(loc, _mnp.multiply(_safe(scale, bad, 1.0), self._ppf(q)))
        return _fill(val, bad, _np.nan)


# ---------------------------------------------------------------- normal


class _Norm(_SymmetricLocationScale):
    """The normal distribution: ``norm.logpdf(x, loc=0, scale=1)`` and friends.

    >>> from matdiff import grad
    >>> round(float(grad(norm.cdf)(0.0)), 12)  # the density at 0
    0.398942280401
    """

    name = "norm"
    _entropy = 0.5 * (1.0 + _LOG_2PI)

    @staticmethod
    def _logpdf(z):
        return _mnp.subtract(_mnp.multiply(-0.5, _mnp.square(z)), 0.5 * _LOG_2PI)

    _cdf = staticmethod(_sp.ndtr)
    _logcdf = staticmethod(_sp.log_ndtr)
    _ppf = staticmethod(_sp.ndtri)

    def isf(self, q, loc=0.0, scale=1.0):
        """The inverse of ``sf``."""
        return self.ppf(_mnp.subtract(1.0, q), loc, scale)


norm = _Norm()

# ---------------------------------------------------------------- Student's t


class _T(_Continuous):
    """Student's t: ``t.logpdf(x, df, loc=0, scale=1)``, differentiable in df too.

    >>> from matdiff import grad
    >>> round(float(grad(t.logpdf)(1.0, 1.0)), 12)  # Cauchy: -2x / (1 + x^2)
    -1.0
    """

    name = "t"

    def logpdf(self, x, df, loc=0.0, scale=1.0):
        """The log-density at ``x`` (-inf outside the support, NaN for invalid parameters)."""
        z, log_s, bad_scale = _standardize(x, loc, scale)
        bad_df = _mask(lambda d: ~(d > 0), df)
        df = _safe(df, bad_df, 1.0)
        half = _mnp.multiply(0.5, _mnp.add(df, 1.0))
        norm_const = _mnp.subtract(
            _mnp.subtract(_sp.gammaln(half), _sp.gammaln(_mnp.multiply(0.5, df))),
            _mnp.multiply(0.5, _log(_mnp.multiply(math.pi, df))),
        )
        kernel = _mnp.multiply(half, _sp.log1p(_mnp.divide(_mnp.square(z), df)))
        val = _mnp.subtract(_mnp.subtract(norm_const, kernel), log_s)
        return _fill(val, _or(bad_scale, bad_df), _np.nan)

    def cdf(self, x, df, loc=0.0, scale=1.0):
        """P(X <= x); differentiable in x, loc and scale, not in df (refused if traced)."""
        _refuse_traced("t.cdf", df=df)
        z, _, bad = _standardize(x, loc, scale)
        return _fill(_sp.stdtr(df, z), bad, _np.nan)

    def sf(self, x, df, loc=0.0, scale=1.0):
        """P(X > x); differentiable in x, loc and scale, not in df (refused if traced)."""
        _refuse_traced("t.sf", df=df)
        z, _, bad = _standardize(x, loc, scale)
        return _fill(_sp.stdtr(df, _mnp.negative(z)), bad, _np.nan)

    def logcdf(self, x, df, loc=0.0, scale=1.0):
        """log P(X <= x), SciPy's value; differentiable in x, loc and scale, not in df.

        The derivative in x is pdf / cdf, finite wherever the cdf is (the t's tails are
        polynomial, so the cdf underflows only for |x| beyond 1e300^(1/df)).

        >>> from matdiff import grad
        >>> round(float(grad(t.logcdf)(0.0, 1.0)), 12)  # Cauchy: (1 / pi) / (1 / 2)
        0.636619772368
        """
        _refuse_traced("t.logcdf", df=df)
        z, _, bad = _standardize(x, loc, scale)
        return _fill(_log(_sp.stdtr(df, z)), bad, _np.nan)

    def entropy(self, df, loc=0.0, scale=1.0):
        """The differential entropy, differentiable in df and scale.

        (df + 1)/2 (digamma((df + 1)/2) - digamma(df/2)) + log(sqrt(df) B(df/2, 1/2))
        + log(scale).
        """
        bad_df = _mask(lambda d: ~(d > 0), df)
        df = _safe(df, bad_df, 1.0)
        half, half1 = _mnp.multiply(0.5, df), _mnp.multiply(0.5, _mnp.add(df, 1.0))
        val = _mnp.multiply(half1, _mnp.subtract(_sp.digamma(half1), _sp.digamma(half)))
        val = _mnp.add(val, _mnp.add(_mnp.multiply(0.5, _log(df)), _sp.betaln(half, 0.5)))
        log_s, bad_scale = _log_scale(scale)
        return _fill(_over(_mnp.add(val, log_s), loc), _or(bad_df, bad_scale), _np.nan)


t = _T()

# ---------------------------------------------------------------- gamma and chi2


def _gamma_logpdf(x, a, loc, scale):
    z, log_s, bad_scale = _standardize(x, loc, scale)
    bad_a = _mask(lambda a: ~(a > 0), a)
    a = _safe(a, bad_a, 1.0)
    outside = _mask(lambda z: z < 0, z)
    z = _safe(z, outside, 1.0)
    val = _mnp.subtract(_sp.xlogy(_mnp.subtract(a, 1.0), z), _mnp.add(z, _sp.gammaln(a)))
    val = _fill(_mnp.subtract(val, log_s), outside, -_np.inf)
    return _fill(val, _or(bad_scale, bad_a), _np.nan)


def _gamma_cdf(x, a, loc, scale, upper):
    z, _, bad = _standardize(x, loc, scale)
    below = _mask(lambda z: z < 0, z)
    z = _safe(z, below, 1.0)
    val = _sp.gammaincc(a, z) if upper else _sp.gammainc(a, z)
    return _fill(_fill(val, below, 1.0 if upper else 0.0), bad, _np.nan)


def _gamma_entropy(a, scale):
    """a + gammaln(a) + (1 - a) digamma(a) + log(scale), NaN for invalid parameters."""
    bad_a = _mask(lambda a: ~(a > 0), a)
    a = _safe(a, bad_a, 1.0)
    val = _mnp.add(
        _mnp.add(a, _sp.gammaln(a)), _mnp.multiply(_mnp.subtract(1.0, a), _sp.digamma(a))
    )
    log_s, bad_scale = _log_scale(scale)
    return _fill(_mnp.add(val, log_s), _or(bad_a, bad_scale), _np.nan)


class _Gamma(_Continuous):
    """The gamma distribution: ``gamma.logpdf(x, a, loc=0, scale=1)``.

    >>> from matdiff import grad
    >>> round(float(grad(gamma.logpdf)(2.0, 3.0)), 12)  # (a - 1) / x - 1
    0.0
    """

    name = "gamma"

    def logpdf(self, x, a, loc=0.0, scale=1.0):
        """The log-density at ``x`` (-inf outside the support, NaN for invalid parameters)."""
        return _gamma_logpdf(x, a, loc, scale)

    def cdf(self, x, a, loc=0.0, scale=1.0):
        """P(X <= x); differentiable in x, loc and scale, not in a (refused if traced)."""
        _refuse_traced("gamma.cdf", a=a)
        return _gamma_cdf(x, a, loc, scale, upper=False)

    def sf(self, x, a, loc=0.0, scale=1.0):
        """P(X > x); differentiable in x, loc and scale, not in a (refused if traced)."""
        _refuse_traced("gamma.sf", a=a)
        return _gamma_cdf(x, a, loc, scale, upper=True)

    def entropy(self, a, loc=0.0, scale=1.0):
        """The differential entropy, differentiable in the shape and the scale."""
        return _over(_gamma_entropy(a, scale), loc)


class _Chi2(_Continuous):
    """The chi-squared distribution: ``chi2.logpdf(x, df, loc=0, scale=1)`` = gamma(df/2, scale 2).

    >>> from matdiff import grad
    >>> round(float(grad(chi2.logpdf)(1.0, 4.0)), 12)  # (df/2 - 1) / x - 1/2
    0.5
    """

    name = "chi2"

    def logpdf(self, x, df, loc=0.0, scale=1.0):
        """The log-density at ``x`` (-inf outside the support, NaN for invalid parameters)."""
        return _gamma_logpdf(x, _mnp.multiply(0.5, df), loc, _mnp.multiply(2.0, scale))

    def cdf(self, x, df, loc=0.0, scale=1.0):
        """P(X <= x); differentiable in x, loc and scale, not in df (refused if traced)."""
        _refuse_traced("chi2.cdf", df=df)
        return _gamma_cdf(x, _np.multiply(0.5, df), loc, _mnp.multiply(2.0, scale), False)

    def sf(self, x, df, loc=0.0, scale=1.0):
        """P(X > x); differentiable in x, loc and scale, not in df (refused if traced)."""
        _refuse_traced("chi2.sf", df=df)
        return _gamma_cdf(x, _np.multiply(0.5, df), loc, _mnp.multiply(2.0, scale), True)

    def entropy(self, df, loc=0.0, scale=1.0):
        """The differential entropy (gamma's with a = df/2 and scale 2 scale)."""
        return _over(_gamma_entropy(_mnp.multiply(0.5, df), _mnp.multiply(2.0, scale)), loc)


gamma = _Gamma()
chi2 = _Chi2()

# ---------------------------------------------------------------- beta


class _Beta(_Continuous):
    """The beta distribution: ``beta.logpdf(x, a, b, loc=0, scale=1)``.

    >>> from matdiff import grad
    >>> round(float(grad(beta.logpdf)(0.25, 2.0, 2.0)), 12)  # 1/x - 1/(1 - x)
    2.666666666667
    """

    name = "beta"

    def logpdf(self, x, a, b, loc=0.0, scale=1.0):
        """The log-density at ``x`` (-inf outside the support, NaN for invalid parameters)."""
        z, log_s, bad_scale = _standardize(x, loc, scale)
        bad_ab = _mask(lambda a, b: ~((a > 0) & (b > 0)), a, b)
        a, b = _safe(a, bad_ab, 1.0), _safe(b, bad_ab, 1.0)
        outside = _mask(lambda z: (z < 0) | (z > 1), z)
        z = _safe(z, outside, 0.5)
        val = _mnp.add(
            _sp.xlogy(_mnp.subtract(a, 1.0), z),
            _sp.xlog1py(_mnp.subtract(b, 1.0), _mnp.negative(z)),
        )
        val = _mnp.subtract(val, _mnp.add(_sp.betaln(a, b), log_s))
        val = _fill(val, outside, -_np.inf)
        return _fill(val, _or(bad_scale, bad_ab), _np.nan)

    def cdf(self, x, a, b, loc=0.0, scale=1.0):
        """P(X <= x); differentiable in x, loc and scale, not in a or b (refused if traced)."""
        return self._cdf(x, a, b, loc, scale, upper=False)

    def sf(self, x, a, b, loc=0.0, scale=1.0):
        """P(X > x); differentiable in x, loc and scale, not in a or b (refused if traced)."""
        return self._cdf(x, a, b, loc, scale, upper=True)

    def _cdf(self, x, a, b, loc, scale, upper):
        _refuse_traced("beta.sf" if upper else "beta.cdf", a=a, b=b)
        z, _, bad = _standardize(x, loc, scale)
        below = _mask(lambda z: z < 0, z)
        above = _mask(lambda z: z > 1, z)
        z = _safe(_safe(z, below, 0.5), above, 0.5)
        # The upper tail by symmetry, I_(1-z)(b, a), not by the cancellation 1 - I_z(a, b).
        val = _sp.betainc(b, a, _mnp.subtract(1.0, z)) if upper else _sp.betainc(a, b, z)
        val = _fill(_fill(val, below, 1.0 if upper else 0.0), above, 0.0 if upper else 1.0)
        return _fill(val, bad, _np.nan)

    def entropy(self, a, b, loc=0.0, scale=1.0):
        """The differential entropy, differentiable in a, b and scale.

        betaln(a, b) - (a - 1) digamma(a) - (b - 1) digamma(b) + (a + b - 2) digamma(a + b)
        + log(scale).
        """
        bad_ab = _mask(lambda a, b: ~((a > 0) & (b > 0)), a, b)
        a, b = _safe(a, bad_ab, 1.0), _safe(b, bad_ab, 1.0)
        ab = _mnp.add(a, b)
        val = _mnp.subtract(
            _sp.betaln(a, b),
            _mnp.add(
                _mnp.multiply(_mnp.subtract(a, 1.0), _sp.digamma(a)),
                _mnp.multiply(_mnp.subtract(b, 1.0), _sp.digamma(b)),
            ),
        )
        val = _mnp.add(val, _mnp.multiply(_mnp.subtract(ab, 2.0), _sp.digamma(ab)))
        log_s, bad_scale = _log_scale(scale)
        return _fill(_over(_mnp.add(val, log_s), loc), _or(bad_ab, bad_scale), _np.nan)


beta = _Beta()

# ---------------------------------------------------------------- Laplace and logistic


class _Laplace(_Continuous):
    """The Laplace distribution: ``laplace.logpdf(x, loc=0, scale=1)``, ``cdf``, ``sf``.

    At x = loc the log-density has a kink; its derivative there is taken as 0, the
    minimum-norm subgradient (matdiff's convention for ``abs``).

    >>> from matdiff import grad
    >>> float(grad(laplace.logpdf)(2.0)), float(grad(laplace.cdf)(0.0))
    (-1.0, 0.5)
    """

    name = "laplace"

    def logpdf(self, x, loc=0.0, scale=1.0):
        """The log-density at ``x`` (-inf outside the support, NaN for invalid parameters)."""
        z, log_s, bad = _standardize(x, loc, scale)
        val = _mnp.negative(_mnp.add(_mnp.absolute(z), _mnp.add(log_s, math.log(2.0))))
        return _fill(val, bad, _np.nan)

    def cdf(self, x, loc=0.0, scale=1.0):
        """P(X <= x)."""
        z, _, bad = _standardize(x, loc, scale)
        # Each branch sees only its own side of 0, so neither exp overflows.
        left = _np.less(getval(z), 0)
        zl, zr = _where(left, z, 0.0), _where(left, 0.0, z)
        val = _where(
            left,
            _mnp.multiply(0.5, _exp(zl)),
            _mnp.subtract(1.0, _mnp.multiply(0.5, _exp(_mnp.negative(zr)))),
        )
        return _fill(val, bad, _np.nan)

    def sf(self, x, loc=0.0, scale=1.0):
        """P(X > x), computed without the cancellation of 1 - cdf."""
        return self.cdf(_mnp.negative(x), _mnp.negative(loc), scale)

    def entropy(self, loc=0.0, scale=1.0):
        """The differential entropy 1 + log(2 scale), differentiable in scale."""
        log_s, bad = _log_scale(scale)
        return _fill(_over(_mnp.add(1.0 + math.log(2.0), log_s), loc), bad, _np.nan)


class _Logistic(_SymmetricLocationScale):
    """The logistic distribution: ``logpdf``, ``cdf``, ``logcdf``, ``sf``, ``logsf``, ``ppf``.

    >>> from matdiff import grad
    >>> round(float(grad(logistic.cdf)(0.0)), 12)
    0.25
    """

    name = "logistic"
    _entropy = 2.0

    @staticmethod
    def _logpdf(z):
        return _mnp.add(_sp.log_expit(z), _sp.log_expit(_mnp.negative(z)))

    _cdf = staticmethod(_sp.expit)
    _logcdf = staticmethod(_sp.log_expit)
    _ppf = staticmethod(_sp.logit)


laplace = _Laplace()
logistic = _Logistic()

# ---------------------------------------------------------------- Poisson


def _refuse_counts(fname: str, k, loc) -> None:
    if isbox(k):
        raise NotDifferentiableError(
            f"{fname}: argument 'k' is being differentiated, but k is a count and "
            "has no derivative. Pass k as a constant (a plain array, or "
            "matdiff.stop_gradient(k)); mu is differentiable."
        )
    if isbox(loc):
        raise NotDifferentiableError(
            f"{fname}: argument 'loc' is being differentiated, but it shifts a "
            "discrete support and has no derivative. Pass loc as a constant."
        )


class _Poisson(_Sampler):
    """The Poisson distribution: ``logpmf``, ``pmf``, ``cdf``, ``entropy``, differentiable in mu.

    ``k`` counts: it has no derivative, and a traced ``k`` is refused.

    >>> from matdiff import grad
    >>> round(float(grad(lambda mu: poisson.logpmf(3, mu))(2.0)), 12)  # k / mu - 1
    0.5
    """

    name = "poisson"

    def logpmf(self, k, mu, loc=0):
        """The log-probability of the counts ``k`` (-inf off the support, NaN for mu < 0)."""
        _refuse_counts("poisson.logpmf", k, loc)
        kk = _np.asarray(k, dtype=float) - _np.asarray(loc, dtype=float)
        bad_mu = _mask(lambda m: ~(m >= 0), mu)
        mu = _safe(mu, bad_mu, 1.0)
        outside = (kk < 0) | (kk != _np.floor(kk))
        ks = _np.where(outside, 0.0, kk)
        val = _mnp.subtract(_sp.xlogy(ks, mu), _mnp.add(mu, _sp.gammaln(ks + 1.0)))
        val = _fill(val, outside if branch(_np.any(outside)) else None, -_np.inf)
        return _fill(val, bad_mu, _np.nan)

    def pmf(self, k, mu, loc=0):
        """The probability mass: exp(logpmf)."""
        return _exp(self.logpmf(k, mu, loc))

    def cdf(self, k, mu, loc=0):
        """P(K <= k) = gammaincc(floor(k - loc) + 1, mu), differentiable in mu.

        Its derivative in mu is -pmf(floor(k - loc), mu), as in autograd.

        >>> from matdiff import grad
        >>> round(float(grad(lambda mu: poisson.cdf(1, mu))(2.0)), 12)  # -2 e^-2
        -0.270670566473
        """
        _refuse_counts("poisson.cdf", k, loc)
        kk = _np.floor(_np.asarray(k, dtype=float) - _np.asarray(loc, dtype=float))
        bad_mu = _mask(lambda m: ~(m >= 0), mu)
        mu = _safe(mu, bad_mu, 1.0)
        below = kk < 0
        val = _sp.gammaincc(_np.where(below, 0.0, kk) + 1.0, mu)
        val = _fill(val, below if branch(_np.any(below)) else None, 0.0)
        return _fill(val, bad_mu, _np.nan)

    def entropy(self, mu, loc=0):
        """The entropy -sum_k pmf log pmf, differentiable in mu.

        The sum runs over k < mu + 40 sqrt(mu) + 60, past which the terms are below
        double precision's resolution of the sum.
        """
        _refuse_counts("poisson.entropy", 0, loc)
        muv = _value(mu)
        bad_mu = _mask(lambda m: ~(m >= 0), mu)
        zero = _mask(lambda m: m == 0, mu)
        mu = _safe(_safe(mu, bad_mu, 1.0), zero, 1.0)
        top = _np.max(_np.where(muv > 0, muv, 0.0), initial=0.0)
        ks = _np.arange(int(top + 40.0 * math.sqrt(top) + 60.0)).reshape((-1,) + (1,) * muv.ndim)
        logp = _mnp.subtract(_sp.xlogy(ks, mu), _mnp.add(mu, _sp.gammaln(ks + 1.0)))
        val = _mnp.negative(_mnp.sum(_mnp.multiply(_exp(logp), logp), axis=0))
        val = _over(_fill(val, zero, 0.0), loc)
        return _fill(val, bad_mu, _np.nan)

    def __repr__(self) -> str:
        return "<matdiff.scipy.stats.poisson>"


poisson = _Poisson()

# ---------------------------------------------------------------- Dirichlet


class _Dirichlet(_Sampler):
    """The Dirichlet distribution: ``dirichlet.logpdf(x, alpha)``, ``pdf``.

    As in SciPy, the components run along the first axis of ``x`` (shape (k,) or (k, n)),
    and ``x`` may leave out its last component (then 1 - the sum of the others).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> x = np.array([0.2, 0.3, 0.5])  # d/d alpha_i = log x_i - digamma(alpha_i) + digamma(3)
    >>> grad(lambda a: dirichlet.logpdf(x, a))(np.ones(3)).round(6)
    array([-0.109438,  0.296027,  0.806853])
    """

    name = "dirichlet"

    def logpdf(self, x, alpha):
        """The log-density at ``x`` (-inf outside the support, NaN for invalid parameters)."""
        av = _value(alpha)
        if av.ndim != 1:
            raise ValueError(
                f"Parameter vector 'a' must be one dimensional, but a.shape = {av.shape}."
            )
        if branch(_np.any(av <= 0)):
            raise ValueError("All parameters must be greater than 0")
        k = av.shape[0]
        xv = _value(x)
        if xv.shape[0] == k - 1:
            rest = _mnp.subtract(1.0, _mnp.sum(x, axis=0))
            x = _mnp.stack([_mnp.getitem(x, i) for i in range(k - 1)] + [rest])
            xv = _value(x)
        if xv.shape[0] != k:
            raise ValueError(
                f"Vector 'x' must have either the same number of entries as, or one entry "
                f"fewer than, parameter vector 'a', but alpha.shape = {av.shape} and "
                f"x.shape = {xv.shape}."
            )
        if branch(_np.any(xv < 0)):
            raise ValueError("Each entry in 'x' must be greater than or equal to zero.")
        if branch(_np.any(xv > 1)):
            raise ValueError("Each entry in 'x' must be smaller or equal one.")
        if branch(_np.any(_np.abs(_np.sum(xv, 0) - 1.0) > 10e-10)):
            raise ValueError(
                "The input vector 'x' must lie within the normal simplex. but "
                f"np.sum(x, 0) = {_np.sum(xv, 0)}."
            )
        a = _mnp.reshape(alpha, (k,) + (1,) * (xv.ndim - 1))
        log_b = _mnp.subtract(_mnp.sum(_sp.gammaln(alpha)), _sp.gammaln(_mnp.sum(alpha)))
        return _mnp.subtract(_mnp.sum(_sp.xlogy(_mnp.subtract(a, 1.0), x), axis=0), log_b)

    def pdf(self, x, alpha):
        """The density: exp(logpdf)."""
        return _exp(self.logpdf(x, alpha))

    def entropy(self, alpha):
        """The differential entropy, differentiable in alpha.

        log B(alpha) + (alpha_0 - k) digamma(alpha_0) - sum_j (alpha_j - 1) digamma(alpha_j),
        alpha_0 = sum_j alpha_j.
        """
        av = _value(alpha)
        if av.ndim != 1:
            raise ValueError(
                f"Parameter vector 'a' must be one dimensional, but a.shape = {av.shape}."
            )
        if branch(_np.any(av <= 0)):
            raise ValueError("All parameters must be greater than 0")
        a0 = _mnp.sum(alpha)
        log_b = _mnp.subtract(_mnp.sum(_sp.gammaln(alpha)), _sp.gammaln(a0))
        val = _mnp.add(log_b, _mnp.multiply(_mnp.subtract(a0, av.shape[0]), _sp.digamma(a0)))
        return _mnp.subtract(
            val, _mnp.sum(_mnp.multiply(_mnp.subtract(alpha, 1.0), _sp.digamma(alpha)))
        )

    def __repr__(self) -> str:
        return "<matdiff.scipy.stats.dirichlet>"


dirichlet = _Dirichlet()

# ---------------------------------------------------------------- multivariate


def _mv_params(fname: str, mean, cov):
    """(mean as a k-vector, cov as a (k, k) matrix, k) with SciPy's conventions."""
    mv = _value(mean)
    cv = _value(cov)
    if mv.ndim > 1:
        raise ValueError(f"{fname}: mean must be a scalar or a 1-D array, got shape {mv.shape}")
    k = mv.shape[0] if mv.ndim == 1 else (cv.shape[0] if cv.ndim >= 1 else 1)
    if mv.ndim == 0:
        mean = _mnp.multiply(mean, _np.ones(k))
    if cv.ndim == 0:
        cov = _mnp.multiply(cov, _np.eye(k))
    elif cv.ndim == 1:
        cov = _mnp.multiply(_np.eye(k), cov)
    cshape = (k, k)
    if _np.shape(getval(cov)) != cshape:
        raise ValueError(
            f"Dimension mismatch: array 'cov' is of shape {cv.shape}, but 'mean' is a "
            f"vector of length {k}."
        )
    # As SciPy (and JAX, through Cholesky) do, only the lower triangle is read: the values
    # agree with SciPy's for any input, and the derivative lands on the lower triangle.
    lower = _np.tril(_np.ones(cshape))
    cov = _mnp.add(
        _mnp.multiply(cov, lower), _mnp.transpose(_mnp.multiply(cov, lower - _np.eye(k)))
    )
    return mean, cov, k


def _mv_points(fname: str, x, mean, k):
    """(residuals (m, k), result shape) with SciPy's conventions for the points ``x``."""
    xv = _value(x)
    if xv.ndim == 0:
        x = _mnp.reshape(x, (1, 1) if k == 1 else (1,))
    elif xv.ndim == 1 and k == 1:
        x = _mnp.reshape(x, (xv.shape[0], 1))
    xs = _np.shape(getval(x))
    if xs[-1] != k:
        raise ValueError(
            f"{fname}: the last axis of x has length {xs[-1]} but the distribution has "
            f"dimension {k}"
        )
    return _mnp.reshape(_mnp.subtract(x, mean), (-1, k)), xs[:-1]


class _Psd:
    """SciPy's reading of a positive semidefinite ``cov``: its rank, log pseudo-determinant
    and Mahalanobis form, with derivatives.

    A positive definite ``cov`` goes through ``solve`` and ``slogdet``. A singular one
    (``allow_singular=True``) is read on the manifold of matrices of its rank, where SciPy's
    functions are smooth: with U the eigenvectors of the r eigenvalues SciPy keeps (taken
    from the values, as constants), W = cov U and C = U^T cov U, every cov of rank r near
    this one is W C^-1 W^T, so pdet(cov) = det(W^T W) / det(C) and, for d in the range,
    d^T cov^+ d = v^T C v with v = (W^T W)^-1 W^T d. Both are exact for every such cov, so
    the derivatives along rank-preserving directions (those that keep the support) are
    the true ones to any order. A point off the support gets SciPy's -inf.
    """

    def __init__(self, fname: str, cov, k: int, allow_singular: bool):
        cv = _value(cov)
        self.cov, self.k = cov, k
        # SciPy's cut-off between a small eigenvalue and a zero one, both for the error
        # without allow_singular and for the rank with it.
        if allow_singular:
            s, u = _np.linalg.eigh(cv)
        else:
            s = _np.linalg.eigvalsh(cv)
        cond = {4: 1e3, 8: 1e6}.get(s.dtype.itemsize, 1e6) * _np.finfo(s.dtype).eps
        eps = cond * _np.max(_np.abs(s))
        if branch(_np.min(s) < -eps):
            raise ValueError(
                f"{fname}: The input matrix must be symmetric positive semidefinite (as in SciPy)"
            )
        keep = _np.greater(s, eps)
        singular = branch(_np.any(_np.logical_not(keep)))
        if not allow_singular and singular:
            raise ValueError(
                f"{fname}: The input matrix must be symmetric positive definite unless "
                "allow_singular=True (as in SciPy); pass allow_singular=True to use the "
                "pseudo-inverse and pseudo-determinant"
            )
        if not singular:
            self.basis, self.rank = None, k
            return
        self.rank = int(_np.sum(keep))
        self.basis, self.null, self.eps = u[:, keep], u[:, ~keep], 1e3 * eps
        self.w = _mnp.matmul(cov, self.basis)
        self.c = _mnp.matmul(_np.transpose(self.basis), self.w)
        self.wtw = _mnp.matmul(_mnp.transpose(self.w), self.w)

    def log_pdet(self):
        if self.basis is None:
            return _nla.slogdet(self.cov)[1]
        return _mnp.subtract(_nla.slogdet(self.wtw)[1], _nla.slogdet(self.c)[1])

    def mahalanobis(self, d):
        """d_i^T cov^+ d_i for each row of ``d``, and the mask of rows off the support."""
        dt = _mnp.transpose(d)
        if self.basis is None:
            sol = _nla.solve(self.cov, dt)
            return _mnp.sum(_mnp.multiply(dt, sol), axis=0), None
        v = _nla.solve(self.wtw, _mnp.matmul(_mnp.transpose(self.w), dt))
        maha = _mnp.sum(_mnp.multiply(v, _mnp.matmul(self.c, v)), axis=0)
        residual = _np.linalg.norm(_value(d) @ self.null, axis=-1)
        off = residual >= self.eps
        return maha, off if branch(_np.any(off)) else None


def _squeeze(val, out_shape):
    """SciPy's output convention: a scalar for one point, size-1 axes dropped."""
    val = _mnp.reshape(val, out_shape)
    shape = tuple(n for n in out_shape if n != 1)
    return val if shape == tuple(out_shape) else _mnp.reshape(val, shape)


class _MultivariateNormal(_Sampler):
    """``multivariate_normal.logpdf(x, mean=None, cov=1)`` and ``pdf``: derivatives in x, mean, cov.

    The last axis of ``x`` holds the components. ``cov`` may be a matrix, a vector (the
    diagonal) or a scalar, as in SciPy; it must be positive definite, and only its lower
    triangle is read (as SciPy and JAX do), so the derivative in ``cov`` lies on the lower
    triangle: along a symmetric direction it is the usual 1/2 (P d d^T P - P), P = cov^-1.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(multivariate_normal.logpdf)(np.array([1.0, 2.0]), np.zeros(2), np.eye(2))
    array([-1., -2.])
    """

    name = "multivariate_normal"

    def logpdf(self, x, mean=None, cov=1, allow_singular=False):
        """The log-density at ``x`` (-inf outside the support, NaN for invalid parameters).

        With ``allow_singular=True`` a singular ``cov`` is read as SciPy reads it (the
        pseudo-inverse and pseudo-determinant over its range, -inf off the support).

        >>> import matdiff.numpy as np
        >>> cov = np.array([[1.0, 1.0], [1.0, 1.0]])  # rank 1: the line x0 = x1
        >>> round(float(multivariate_normal.logpdf(np.ones(2), np.zeros(2), cov, True)), 6)
        -1.765512
        """
        if mean is None:
            mean = _np.zeros(_np.shape(getval(x))[-1:] or (1,))
        fname = "multivariate_normal.logpdf"
        mean, cov, k = _mv_params(fname, mean, cov)
        psd = _Psd(fname, cov, k, allow_singular)
        d, out_shape = _mv_points(fname, x, mean, k)
        maha, off = psd.mahalanobis(d)
        val = _mnp.multiply(-0.5, _mnp.add(maha, _mnp.add(psd.log_pdet(), psd.rank * _LOG_2PI)))
        return _squeeze(_fill(val, off, -_np.inf), out_shape)

    def pdf(self, x, mean=None, cov=1, allow_singular=False):
        """The density: exp(logpdf)."""
        return _exp(self.logpdf(x, mean, cov, allow_singular))

    def entropy(self, mean=None, cov=1):
        """The differential entropy 0.5 (r (1 + log 2 pi) + log pdet(cov)), r = rank(cov).

        As in SciPy, a singular ``cov`` is allowed (its rank and pseudo-determinant).

        >>> import matdiff.numpy as np
        >>> from matdiff import grad
        >>> grad(lambda c: multivariate_normal.entropy(cov=c))(np.eye(2) * 2.0)  # cov^-1 / 2
        array([[0.25, 0.  ],
               [0.  , 0.25]])
        """
        if mean is None:
            mean = _np.zeros(_np.shape(getval(cov))[-1:] or (1,))
        mean, cov, k = _mv_params("multivariate_normal.entropy", mean, cov)
        psd = _Psd("multivariate_normal.entropy", cov, k, True)
        return _mnp.multiply(0.5, _mnp.add(psd.log_pdet(), psd.rank * (1.0 + _LOG_2PI)))

    def __repr__(self) -> str:
        return "<matdiff.scipy.stats.multivariate_normal>"


class _MultivariateT(_Sampler):
    """``multivariate_t.logpdf(x, loc=None, shape=1, df=1)`` and ``pdf``, differentiable in all.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: multivariate_t.logpdf(x, np.zeros(2), np.eye(2), 3.0))(np.ones(2))
    array([-1., -1.])
    """

    name = "multivariate_t"

    def logpdf(self, x, loc=None, shape=1, df=1):
        """The log-density at ``x`` (-inf outside the support, NaN for invalid parameters)."""
        if loc is None:
            loc = _np.zeros(_np.shape(getval(x))[-1:] or (1,))
        if branch(_np.any(_value(df) <= 0)):
            raise ValueError("'df' must be greater than zero.")
        fname = "multivariate_t.logpdf"
        loc, shape, k = _mv_params(fname, loc, shape)
        psd = _Psd(fname, shape, k, False)
        d, out_shape = _mv_points(fname, x, loc, k)
        maha, _ = psd.mahalanobis(d)
        logdet = psd.log_pdet()
        half = _mnp.multiply(0.5, _mnp.add(df, k))
        const = _mnp.subtract(_sp.gammaln(half), _sp.gammaln(_mnp.multiply(0.5, df)))
        const = _mnp.subtract(
            const,
            _mnp.add(
                _mnp.multiply(0.5 * k, _log(_mnp.multiply(math.pi, df))),
                _mnp.multiply(0.5, logdet),
            ),
        )
        val = _mnp.subtract(const, _mnp.multiply(half, _sp.log1p(_mnp.divide(maha, df))))
        return _squeeze(val, out_shape)

    def pdf(self, x, loc=None, shape=1, df=1):
        """The density: exp(logpdf)."""
        return _exp(self.logpdf(x, loc, shape, df))

    def entropy(self, loc=None, shape=1, df=1):
        """The differential entropy, differentiable in ``shape`` and ``df`` (SciPy's formula).

        gammaln(df/2) - gammaln((df + k)/2) + k/2 log(df pi)
        + (df + k)/2 (digamma((df + k)/2) - digamma(df/2)) + log pdet(shape) / 2.
        """
        if loc is None:
            loc = _np.zeros(_np.shape(getval(shape))[-1:] or (1,))
        if branch(_np.any(_value(df) <= 0)):
            raise ValueError("'df' must be greater than zero.")
        if branch(_np.all(_np.isinf(_value(df)))):
            return multivariate_normal.entropy(loc, shape)  # SciPy's limit
        loc, shape, k = _mv_params("multivariate_t.entropy", loc, shape)
        psd = _Psd("multivariate_t.entropy", shape, k, True)
        half, halfsum = _mnp.multiply(0.5, df), _mnp.multiply(0.5, _mnp.add(df, k))
        val = _mnp.subtract(_sp.gammaln(half), _sp.gammaln(halfsum))
        val = _mnp.add(val, _mnp.multiply(0.5 * k, _log(_mnp.multiply(math.pi, df))))
        val = _mnp.add(
            val, _mnp.multiply(halfsum, _mnp.subtract(_sp.digamma(halfsum), _sp.digamma(half)))
        )
        return _mnp.add(val, _mnp.multiply(0.5, psd.log_pdet()))

    def __repr__(self) -> str:
        return "<matdiff.scipy.stats.multivariate_t>"


multivariate_normal = _MultivariateNormal()
multivariate_t = _MultivariateT()
