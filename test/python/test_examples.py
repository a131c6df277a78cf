"""The models in examples/ against numpy float64 implementations, through
both the optimised build and the reference lowering (``optimize=False``,
what ``axfusec --run`` compares against)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import EXAMPLES, assert_close, compile_ir, conv2d_nchw_reference, mlp_reference

F32_BOUND = 1e-5
# conv: 144-term float32 dot products per output, before bias and ReLU.
CONV_BOUND = 2e-5


@pytest.fixture(scope="module", params=[True, False], ids=["optimized", "reference"])
def optimize(request):
    return request.param


def _f32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def test_mlp(optimize, rng):
    mod = compile_ir(EXAMPLES / "mlp.mlir", optimize=optimize)
    x, w1, b1 = _f32(rng, 32, 256), _f32(rng, 128, 256, scale=0.1), _f32(rng, 128)
    w2, b2 = _f32(rng, 10, 128, scale=0.3), _f32(rng, 10)
    got = mod.forward(x, w1, b1, w2, b2)
    want = mlp_reference(x, w1, b1, w2, b2)
    assert_close(got, want, F32_BOUND)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


def test_elementwise(optimize, rng):
    mod = compile_ir(EXAMPLES / "elementwise.mlir", optimize=optimize)
    x, scale, shift = _f32(rng, 512, 1024), _f32(rng, 1024), _f32(rng, 512, 1)
    x64 = x.astype(np.float64)
    want = np.tanh((x64 + 1.0) * 2.0 - 0.5) * scale + shift
    assert_close(mod.forward(x, scale, shift), want, F32_BOUND)


def test_conv(optimize, rng):
    mod = compile_ir(EXAMPLES / "conv.mlir", optimize=optimize)
    x, w, b = _f32(rng, 4, 16, 32, 32), _f32(rng, 32, 16, 3, 3, scale=0.2), _f32(rng, 32)
    want = np.maximum(conv2d_nchw_reference(x, w, pad=(1, 1, 1, 1))
                      + b.astype(np.float64)[None, :, None, None], 0.0)
    got = mod.forward(x, w, b)
    assert_close(got, want, CONV_BOUND)
    # ReLU really clips: about half the outputs are exactly zero.
    assert 0.2 < np.mean(got == 0.0) < 0.8
