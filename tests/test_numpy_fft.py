"""matdiff.numpy.fft: every transform's rules against finite differences, from one table.

Each row is ``(id, function, args)``; the check differentiates ``Re f + 2 Im f`` (so
both parts of a complex answer are tested) in forward and reverse mode to second order,
and compares the value with NumPy's.
"""

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian, jacfwd, jacobian
from matdiff.test_util import check_grads

rng = onp.random.default_rng(11)


def R(*shape):
    return rng.standard_normal(shape)


def C(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


F = np.fft
NORMS = ["backward", "ortho", "forward"]

ROWS = [
    # complex transforms, 1-D: real and complex input, n padding and truncation, axis
    ("fft-real", lambda x: F.fft(x), R(5)),
    ("fft-complex", lambda x: F.fft(x), C(5)),
    ("fft-pad", lambda x: F.fft(x, n=8), C(5)),
    ("fft-truncate", lambda x: F.fft(x, n=3), R(5)),
    ("fft-axis0", lambda x: F.fft(x, axis=0), C(4, 3)),
    ("fft-axis-neg-pad", lambda x: F.fft(x, n=6, axis=-2), R(4, 3)),
    ("ifft-real", lambda x: F.ifft(x), R(5)),
    ("ifft-complex-truncate", lambda x: F.ifft(x, n=4), C(6)),
    ("ifft-pad-axis0", lambda x: F.ifft(x, n=5, axis=0), C(3, 2)),
    # n-dimensional complex transforms
    ("fft2", lambda x: F.fft2(x), R(3, 4)),
    ("fft2-s", lambda x: F.fft2(x, s=(2, 6)), C(3, 4)),
    ("ifft2", lambda x: F.ifft2(x), C(3, 4)),
    ("ifft2-axes", lambda x: F.ifft2(x, axes=(0, 2)), C(2, 3, 2)),
    ("fftn-all", lambda x: F.fftn(x), C(2, 3, 2)),
    ("fftn-axes", lambda x: F.fftn(x, axes=(0, 2)), R(2, 3, 4)),
    ("fftn-s-axes", lambda x: F.fftn(x, s=(3, 2), axes=(2, 0)), C(2, 3, 4)),
    ("ifftn-s", lambda x: F.ifftn(x, s=(4, 2)), R(3, 3)),
    # real transforms: halving, even and odd n, padding and truncation
    ("rfft-even", lambda x: F.rfft(x), R(6)),
    ("rfft-odd", lambda x: F.rfft(x), R(7)),
    ("rfft-pad-odd", lambda x: F.rfft(x, n=9), R(6)),
    ("rfft-truncate-axis0", lambda x: F.rfft(x, n=3, axis=0), R(5, 2)),
    ("irfft-even", lambda x: F.irfft(x), C(4)),
    ("irfft-odd-n", lambda x: F.irfft(x, n=7), C(4)),
    ("irfft-n-pads-input", lambda x: F.irfft(x, n=10), C(4)),
    ("irfft-n-cuts-input", lambda x: F.irfft(x, n=4), C(5)),
    ("irfft-real-input", lambda x: F.irfft(x, axis=0), R(4, 2)),
    ("irfft-of-rfft", lambda x: F.irfft(F.rfft(x)), R(6)),
    ("rfft2", lambda x: F.rfft2(x), R(4, 4)),
    ("rfft2-s", lambda x: F.rfft2(x, s=(3, 5)), R(4, 4)),
    ("irfft2", lambda x: F.irfft2(x), C(3, 3)),
    ("irfft2-s-odd", lambda x: F.irfft2(x, s=(3, 5)), C(3, 3)),
    ("rfftn-axes", lambda x: F.rfftn(x, axes=(2, 0)), R(3, 2, 4)),
    ("irfftn-axes", lambda x: F.irfftn(x, axes=(0, 1)), C(3, 3, 2)),
    ("irfftn-s", lambda x: F.irfftn(x, s=(2, 2, 5)), C(2, 3, 3)),
    # Hermitian transforms
    ("hfft", lambda x: F.hfft(x), C(4)),
    ("hfft-odd-axis0", lambda x: F.hfft(x, n=5, axis=0), C(3, 2)),
    ("ihfft", lambda x: F.ihfft(x), R(5)),
    ("ihfft-pad", lambda x: F.ihfft(x, n=8), R(5)),
    # shifts (rolls) and frequencies (differentiable in the spacing)
    ("fftshift", lambda x: F.fftshift(x), R(5)),
    ("fftshift-2d", lambda x: F.fftshift(x), C(4, 3)),
    ("ifftshift-axis", lambda x: F.ifftshift(x, axes=1), R(2, 5)),
    ("ifftshift-axes-list", lambda x: F.ifftshift(x, axes=[0, -1]), R(3, 2, 5)),
    ("fftfreq-d", lambda d: F.fftfreq(5, d), 0.7),
    ("rfftfreq-d", lambda d: F.rfftfreq(6, d=d), 0.3),
    # single precision stays single precision (complex64 answers, float32 weights)
    ("irfft-float32", lambda x: F.irfft(F.rfft(x) * 2.0, n=5), R(4).astype(onp.float32)),
    ("fft2-complex64", lambda x: F.fft2(x, s=(3, 5), norm="ortho"), C(2, 4).astype(onp.complex64)),
    # composites
    ("power-spectrum", lambda x: np.abs(F.fft(x)) ** 2, R(6)),
    ("circular-convolution", lambda x: F.irfft(F.rfft(x) * F.rfft(x[::-1]), n=6), R(6)),
]
ROWS += [(f"fft-{n}", lambda x, n=n: F.fft(x, n=7, norm=n), C(5)) for n in NORMS]
ROWS += [(f"ifft-{n}", lambda x, n=n: F.ifft(x, n=4, norm=n), C(5)) for n in NORMS]
ROWS += [(f"rfft-{n}", lambda x, n=n: F.rfft(x, norm=n), R(5)) for n in NORMS]
ROWS += [(f"irfft-{n}", lambda x, n=n: F.irfft(x, n=7, norm=n), C(4)) for n in NORMS]
ROWS += [(f"irfftn-{n}", lambda x, n=n: F.irfftn(x, norm=n), C(2, 3)) for n in NORMS]
ROWS += [(f"hfft-{n}", lambda x, n=n: F.hfft(x, norm=n), C(3)) for n in NORMS]
ROWS += [(f"ihfft-{n}", lambda x, n=n: F.ihfft(x, norm=n), R(4)) for n in NORMS]


def _both_parts(f):
    return lambda x: np.real(f(x)) + 2.0 * np.imag(f(x))


@pytest.mark.parametrize("f, x", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_fft_rules(f, x):
    check_grads(_both_parts(f), modes=("fwd", "rev"), order=2)(x)


RAW = [
    ("fft", lambda x: onp.fft.fft(x, n=6, norm="ortho"), lambda x: F.fft(x, n=6, norm="ortho")),
    (
        "irfftn",
        lambda x: onp.fft.irfftn(x, s=(3, 5), axes=(0, 1)),
        lambda x: F.irfftn(x, s=(3, 5), axes=(0, 1)),
    ),
    ("hfft", lambda x: onp.fft.hfft(x, n=5), lambda x: F.hfft(x, n=5)),
    ("fftshift", lambda x: onp.fft.fftshift(x, axes=0), lambda x: F.fftshift(x, axes=0)),
]


@pytest.mark.parametrize("raw, ours", [r[1:] for r in RAW], ids=[r[0] for r in RAW])
def test_values_and_raw_numpy_calls_on_traced_values(raw, ours):
    x = C(3, 4)
    onp.testing.assert_allclose(ours(x), raw(x), rtol=1e-13, atol=1e-13)
    # numpy.fft.* called on a traced value reaches the same rules
    u = R(*onp.shape(raw(x)))
    loss_raw = lambda v: np.sum(np.real(raw(v)) * u)  # noqa: E731
    loss_ours = lambda v: np.sum(np.real(ours(v)) * u)  # noqa: E731
    onp.testing.assert_allclose(grad(loss_raw)(x), grad(loss_ours)(x), rtol=1e-12)


def test_parseval_gradient_is_exact():
    # sum |fft(x)|^2 = n sum |x|^2, so the gradient is 2 n x (Parseval).
    x = R(7)
    onp.testing.assert_allclose(
        grad(lambda x: np.sum(np.abs(F.fft(x)) ** 2))(x), 2 * 7 * x, rtol=1e-12
    )
    onp.testing.assert_allclose(
        grad(lambda x: np.sum(np.abs(F.fft(x, norm="ortho")) ** 2))(x), 2 * x, rtol=1e-12
    )


def test_jacobian_of_fft_is_the_dft_matrix_in_both_modes():
    n = 5
    dft = onp.exp(-2j * onp.pi * onp.outer(onp.arange(n), onp.arange(n)) / n)
    x = C(n)
    onp.testing.assert_allclose(jacfwd(F.fft)(x), dft, atol=1e-12)
    onp.testing.assert_allclose(
        jacobian(lambda x: F.fft(x, norm="ortho"))(x), dft / n**0.5, atol=1e-12
    )


BATCHED = [
    ("fft2-pad", lambda x: F.fft2(x, s=(4, 5)), R(3, 4)),
    ("rfftn-axes", lambda x: F.rfftn(x, axes=(0, 1)), R(4, 3)),
    ("irfft-of-product", lambda x: F.irfft(F.rfft(np.sin(x)) * F.rfft(x), n=7), R(6)),
    ("ifftn-axis0", lambda x: F.ifftn(x, axes=(0,)), R(3, 2)),
]


@pytest.mark.parametrize("f, x", [r[1:] for r in BATCHED], ids=[r[0] for r in BATCHED])
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_batched_forward_jacobian_equals_reverse(f, x, chunk_size):
    # jacfwd pushes all directions through one call per transform (the batch axis rides
    # in front of the trailing transformed axes); chunk_size=2 takes several passes.
    g = _both_parts(f)
    onp.testing.assert_allclose(jacfwd(g, chunk_size=chunk_size)(x), jacobian(g)(x), atol=1e-10)


def test_hessian_through_a_spectral_loss():
    # sum over the half spectrum of |X_k|^2 = x^T Re(D^H D) x, with D the first n // 2 + 1
    # rows of the DFT matrix: a mirrored bin counts once, unlike the full spectrum's 2 n I.
    x = R(6)
    dft = onp.exp(-2j * onp.pi * onp.outer(onp.arange(4), onp.arange(6)) / 6)
    H = hessian(lambda x: np.sum(np.abs(F.rfft(x)) ** 2))(x)
    onp.testing.assert_allclose(H, 2 * onp.real(dft.conj().T @ dft), atol=1e-10)
    H_full = hessian(lambda x: np.sum(np.abs(F.fft(x)) ** 2))(x)
    onp.testing.assert_allclose(H_full, 2 * 6 * onp.eye(6), atol=1e-10)


ERRORS = [
    (
        "norm",
        lambda: F.fft(R(4), norm="unitary"),
        ValueError,
        r"fft: norm='unitary' is not a normalization; pass 'backward'",
    ),
    (
        "axis",
        lambda: F.fft(R(4), axis=1),
        ValueError,
        r"fft: axis 1 is out of bounds for an array of dimension 1",
    ),
    (
        "repeated-axes",
        lambda: F.fftn(R(3, 3), axes=(0, 0)),
        ValueError,
        r"fftn: axes=\(0, 0\) name an axis twice",
    ),
    (
        "s-length",
        lambda: F.fftn(R(3, 3), s=(2,), axes=(0, 1)),
        ValueError,
        r"fftn: s=\(2,\) gives 1 sizes for 2 axes",
    ),
    ("n-zero", lambda: F.rfft(R(3), n=0), ValueError, r"rfft: invalid number of points 0"),
    (
        "rfft-complex",
        lambda: F.rfft(C(4)),
        TypeError,
        r"rfft: the input is complex.*Use fft for complex input",
    ),
    (
        "rfftn-complex-traced",
        lambda: grad(lambda x: np.sum(np.abs(F.rfftn(x * 1j))))(R(4)),
        TypeError,
        r"rfftn: the input is complex.*Use fftn",
    ),
]


@pytest.mark.parametrize("call, exc, match", [r[1:] for r in ERRORS], ids=[r[0] for r in ERRORS])
def test_fft_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_unwrapped_names_still_reach_numpy():
    assert F.fftfreq(4).tolist() == [0.0, 0.25, -0.5, -0.25]
    with pytest.raises(AttributeError):
        F.no_such_transform  # noqa: B018
