"""The seed API's layers (``axfusion.layers``) against float64 numpy
references on fresh random inputs.

Bounds are max |got - want| / max |want| (``conftest.rel_error``): 1e-5 for
float32 layers (a few float32 ulps of rounding over the small reductions
used here, plus the polynomial exp/erf/tanh of the CPU lowering), 1e-12 for
float64. Each distinct (shape, configuration) is one compile (~0.5 s).
"""

from __future__ import annotations

import numpy as np
import pytest

import axfusion
from axfusion import (Activation, ArgumentError, FusedAttention, FusedConv, FusedElementwise,
                      FusedLinear, FusionPattern)
from axfusion.passes.activations import REFERENCE
from axfusion.passes.fusion import all_patterns
from axfusion.passes.linear_epilogue import pattern_for

from conftest import assert_close, conv2d_nchw_reference

F32_BOUND = 1e-5
F64_BOUND = 1e-12


def f64(a):
    return np.asarray(a, dtype=np.float64)


def found(layer) -> set[str]:
    return {p.pattern for p in layer.detected_patterns()}


def implemented(pattern: FusionPattern) -> bool:
    return pattern in all_patterns()


def linear_reference(layer, x, act=Activation.NONE):
    y = f64(x) @ f64(layer.weight).T
    if layer.bias is not None:
        y = y + f64(layer.bias)
    return REFERENCE[act](y)


# -- FusedLinear -----------------------------------------------------------------

@pytest.mark.parametrize("act", list(Activation), ids=lambda a: a.name)
def test_linear_activation_matches_numpy_and_fuses(act, rng):
    layer = FusedLinear(40, 24, rng=rng).activation(act)
    x = rng.standard_normal((2, 3, 40)).astype(np.float32)  # leading dims flatten to 6
    y = layer.forward(x)
    assert y.shape == (2, 3, 24) and y.dtype == np.float32
    assert_close(y, linear_reference(layer, x, act), F32_BOUND, f"FusedLinear + {act.name}")
    assert pattern_for(act).value in found(layer)
    assert isinstance(layer.report(), axfusion.FusionReport)


def test_linear_new_weights_reuse_the_compiled_module(rng):
    layer = FusedLinear(40, 24, rng=rng).activation(Activation.ReLU)
    x = rng.standard_normal((6, 40)).astype(np.float32)
    layer.forward(x)
    (module,) = layer.compiled.values()
    layer.weight = rng.standard_normal((24, 40))             # converted to float32
    layer.bias = rng.standard_normal(24)
    assert_close(layer(x), linear_reference(layer, x, Activation.ReLU), F32_BOUND)
    w, b = rng.standard_normal((24, 40)), rng.standard_normal(24)
    layer.load(w, b)
    y = layer(x.reshape(2, 3, 40))                           # same flattened shape
    assert_close(y.reshape(6, 24), linear_reference(layer, x, Activation.ReLU), F32_BOUND)
    assert len(layer.compiled) == 1 and next(iter(layer.compiled.values())) is module
    # Another layer of the same configuration finds it in the on-disk cache.
    other = FusedLinear(40, 24, rng=rng).activation("relu")
    other(x)
    assert next(iter(other.compiled.values())).path == module.path
    # A new activation is a new configuration: a second compile.
    layer.activation(Activation.NONE)
    assert_close(layer(x), linear_reference(layer, x), F32_BOUND)
    assert len(layer.compiled) == 2


def test_linear_without_bias_in_float64(rng):
    layer = FusedLinear(16, 8, bias=False, rng=rng, dtype=np.float64).activation("tanh")
    assert layer.bias is None
    x = rng.standard_normal((5, 16))
    assert_close(layer(x), linear_reference(layer, x, Activation.Tanh), F64_BOUND)
    with pytest.raises(ArgumentError, match="bias=False"):
        layer.bias = np.zeros(8)


def test_linear_initialisation_is_like_torch():
    layer = FusedLinear(100, 50, seed=0)
    assert layer.weight.shape == (50, 100) and layer.bias.shape == (50,)
    assert layer.weight.dtype == np.float32
    assert np.abs(layer.weight).max() <= 0.1 and np.abs(layer.bias).max() <= 0.1
    assert np.abs(layer.weight).max() > 0.09          # uniform over +-1/sqrt(100)
    assert np.array_equal(FusedLinear(100, 50, seed=0).weight, layer.weight)


def test_linear_bad_inputs_are_argument_errors():
    layer = FusedLinear(8, 4, seed=0)
    with pytest.raises(ArgumentError, match=r"shape \[\.\.\., 8\].*got \[3, 5\]"):
        layer(np.zeros((3, 5), np.float32))
    with pytest.raises(ArgumentError, match="got \\[\\]"):
        layer(np.float32(1.0))
    with pytest.raises(ArgumentError, match=r"weight must have shape \[4, 8\]"):
        layer.weight = np.zeros((8, 4))
    with pytest.raises(ValueError, match="unknown activation"):
        layer.activation("swish")
    assert layer(np.zeros((0, 8), np.float32)).shape == (0, 4)   # nothing to compile
    assert layer.compiled == {}


def test_linear_ir_is_the_torch_mlir_form():
    text = FusedLinear(8, 4, seed=0).activation(Activation.GELU).mlir((2, 3, 8))
    assert "%x: tensor<6x8xf32>, %weight: tensor<4x8xf32>, %bias: tensor<4xf32>" in text
    for op in ("linalg.transpose", "linalg.fill", "linalg.matmul", "math.erf"):
        assert op in text
    assert text.count("linalg.generic") == 2      # bias add, then the activation


# -- FusedConv -------------------------------------------------------------------

def test_conv_batch_norm_relu_matches_numpy(rng):
    c = 6
    mean, var = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    gamma, beta = rng.standard_normal(c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    layer = FusedConv(3, c, 3, stride=2, padding=1, rng=rng) \
        .batch_norm(mean, var, gamma, beta, eps=1e-3).activation(Activation.ReLU)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    y = layer(x)
    want = conv2d_nchw_reference(x, layer.weight, (1, 1, 1, 1), (2, 2))
    per_channel = [f64(v)[None, :, None, None] for v in (layer.bias, mean, var, gamma, beta)]
    bias, mean64, var64, gamma64, beta64 = per_channel
    want = np.maximum((want + bias - mean64) / np.sqrt(var64 + 1e-3) * gamma64 + beta64, 0.0)
    assert y.shape == (2, c, 5, 5)
    assert_close(y, want, F32_BOUND, "FusedConv + BN + ReLU")
    if implemented(FusionPattern.ConvBnRelu):
        assert "ConvBnRelu" in found(layer)
    # New weights: same compiled module.
    layer.load(rng.standard_normal(layer.weight_shape), rng.standard_normal(c))
    y = layer(x)
    want = conv2d_nchw_reference(x, layer.weight, (1, 1, 1, 1), (2, 2)) + f64(layer.bias)[
        None, :, None, None]
    want = np.maximum((want - mean64) / np.sqrt(var64 + 1e-3) * gamma64 + beta64, 0.0)
    assert_close(y, want, F32_BOUND, "FusedConv after load()")
    assert len(layer.compiled) == 1
    assert "batch_norm=(eps=0.001)" in repr(layer) and "stride=(2, 2)" in repr(layer)


def test_conv_without_bias_or_padding(rng):
    layer = FusedConv(4, 5, (3, 2), bias=False, rng=rng).activation("sigmoid")
    x = rng.standard_normal((1, 4, 6, 7)).astype(np.float32)
    want = REFERENCE[Activation.Sigmoid](conv2d_nchw_reference(x, layer.weight))
    assert_close(layer(x), want, F32_BOUND, "FusedConv 3x2, no bias")
    assert "tensor.pad" not in layer.mlir(x.shape)
    assert "tensor.pad" in FusedConv(4, 5, 3, padding=1).mlir(x.shape)


def test_conv_bad_inputs_are_argument_errors():
    layer = FusedConv(3, 4, 3)
    with pytest.raises(ArgumentError, match=r"\[N, 3, H, W\].*got \[2, 4, 8, 8\]"):
        layer(np.zeros((2, 4, 8, 8), np.float32))
    with pytest.raises(ArgumentError, match="smaller than the kernel"):
        layer(np.zeros((1, 3, 2, 8), np.float32))
    with pytest.raises(ArgumentError, match=r"batch_norm var must have shape \[4\]"):
        layer.batch_norm(np.zeros(4), np.ones(3))


# -- FusedElementwise ------------------------------------------------------------

def test_elementwise_seed_example(rng):
    fused = FusedElementwise().add(1.0).mul(2.0).sub(0.5)
    assert repr(fused) == "FusedElementwise(add(1.0) -> mul(2.0) -> sub(0.5))"
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    assert_close(fused.forward(x), (f64(x) + 1.0) * 2.0 - 0.5, F32_BOUND)
    if implemented(FusionPattern.ElementwiseChain):
        (group,) = fused.detected_patterns()
        assert group.pattern == "ElementwiseChain" and len(group.ops) == 3
    # float64 input: computed in float64, a second compile
    x64 = rng.standard_normal((3, 4, 5))
    y64 = fused(x64)
    assert y64.dtype == np.float64
    assert_close(y64, (x64 + 1.0) * 2.0 - 0.5, F64_BOUND)
    assert len(fused.compiled) == 2


def test_elementwise_every_op(rng):
    fused = (FusedElementwise().add(0.25).mul(1.5).clamp(-2.0, 2.5).pow(2.0).sub(1.0)
             .gelu().div(3.0).abs().sqrt().exp().neg().tanh().sigmoid()
             .gelu(approximate="tanh").silu().relu().activation(Activation.ReLU6).log())
    x = rng.standard_normal((7, 9)).astype(np.float32)
    r = np.clip((f64(x) + 0.25) * 1.5, -2.0, 2.5) ** 2 - 1.0
    r = np.sqrt(np.abs(REFERENCE[Activation.GELU](r) / 3.0))
    r = REFERENCE[Activation.Sigmoid](np.tanh(-np.exp(r)))
    r = REFERENCE[Activation.SiLU](REFERENCE[Activation.GELUTanh](r))
    r = np.log(np.clip(r, 0.0, 6.0))
    assert_close(fused(x), r, F32_BOUND, "every element-wise op")
    assert fused.mlir(x.shape).count("linalg.generic") == len(fused.ops)


def test_elementwise_scalar_and_empty(rng):
    fused = FusedElementwise().mul(-2.0).add(3.0)
    s = fused(np.float32(4.0))                       # a scalar runs as one element
    assert s.shape == () and s == np.float32(-5.0)
    assert fused(np.zeros((0, 3), np.float32)).shape == (0, 3)   # nothing to compile
    assert len(fused.compiled) == 1
    v = rng.standard_normal(11).astype(np.float32)
    assert np.array_equal(FusedElementwise()(v), v)  # the empty chain is a copy


# -- FusedAttention --------------------------------------------------------------

def attention_reference(layer, q, k, v, mask=None):
    e, h = layer.embed_dim, layer.num_heads
    d = e // h
    w, b = f64(layer.in_proj_weight), f64(layer.in_proj_bias)

    def heads(x, i):
        n, s, _ = x.shape
        y = f64(x) @ w[i * e:(i + 1) * e].T + b[i * e:(i + 1) * e]
        return y.reshape(n, s, h, d).transpose(0, 2, 1, 3)

    n, length, _ = q.shape
    qh, kh, vh = heads(q, 0), heads(k, 1), heads(v, 2)
    s = qh @ kh.transpose(0, 1, 3, 2) / np.sqrt(d)
    if mask is not None:
        m = np.where(mask, -np.inf, 0.0) if mask.dtype == np.bool_ else f64(mask)
        s = s + (m.reshape(n, h, length, -1) if m.ndim == 3 else m)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    o = (p @ vh).transpose(0, 2, 1, 3).reshape(n, length, e)
    return o @ f64(layer.out_proj_weight).T + f64(layer.out_proj_bias)


def test_attention_self_with_boolean_mask(rng):
    layer = FusedAttention(16, 4, rng=rng)
    layer.in_proj_bias = 0.1 * rng.standard_normal(48)   # torch starts them at zero
    layer.out_proj_bias = 0.1 * rng.standard_normal(16)
    x = rng.standard_normal((2, 5, 16)).astype(np.float32)
    causal = np.triu(np.ones((5, 5), bool), k=1)        # True = masked out, as in torch
    y = layer(x, mask=causal)
    assert y.shape == (2, 5, 16)
    assert_close(y, attention_reference(layer, x, x, x, causal), F32_BOUND, "self-attention")
    if implemented(FusionPattern.Attention):
        assert "Attention" in found(layer)
    layer.load(rng.standard_normal((48, 16)) * 0.3, None, rng.standard_normal((16, 16)) * 0.3)
    assert_close(layer(x, mask=causal), attention_reference(layer, x, x, x, causal), F32_BOUND)
    assert len(layer.compiled) == 1


def test_attention_cross_with_per_head_mask(rng):
    layer = FusedAttention(24, 3, rng=rng)
    layer.out_proj_bias = 0.1 * rng.standard_normal(24)
    q = rng.standard_normal((2, 4, 24)).astype(np.float32)
    k, v = (rng.standard_normal((2, 7, 24)).astype(np.float32) for _ in range(2))
    mask = rng.standard_normal((2 * 3, 4, 7)).astype(np.float32)   # [batch * heads, L, S]
    y = layer.forward(q, k, v, mask=mask)
    assert_close(y, attention_reference(layer, q, k, v, mask), F32_BOUND, "cross-attention")
    if implemented(FusionPattern.Attention):
        assert "Attention" in found(layer)
    text = layer.mlir(q.shape, k.shape, mask.shape)
    for op in ("tensor.expand_shape", "linalg.transpose", "linalg.batch_matmul"):
        assert op in text


def test_attention_bad_inputs_are_argument_errors():
    layer = FusedAttention(8, 2, seed=0)
    q = np.zeros((1, 3, 8), np.float32)
    with pytest.raises(ArgumentError, match=r"\[batch, seq, 8\].*got \[1, 3, 6\]"):
        layer(np.zeros((1, 3, 6), np.float32))
    with pytest.raises(ArgumentError, match="both key and value"):
        layer(q, q)
    with pytest.raises(ArgumentError, match=r"value must have the key's shape"):
        layer(q, np.zeros((1, 4, 8), np.float32), np.zeros((1, 5, 8), np.float32))
    with pytest.raises(ArgumentError, match=r"mask must have shape \[3, 3\] or \[2, 3, 3\]"):
        layer(q, mask=np.zeros((3, 4), np.float32))
    with pytest.raises(ArgumentError, match=r"in_proj_weight must have shape \[24, 8\]"):
        layer.in_proj_weight = np.zeros((8, 8))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        FusedAttention(10, 3)


# -- all layers ------------------------------------------------------------------

def test_repr_and_empty_report():
    layer = FusedLinear(784, 256).activation(Activation.ReLU)
    assert repr(layer) == ("FusedLinear(in_features=784, out_features=256, bias=True, "
                           "activation=ReLU, dtype=float32)")
    assert repr(FusedAttention(64, 8)) == \
        "FusedAttention(embed_dim=64, num_heads=8, bias=True, dtype=float32)"
    assert "kernel_size=(3, 3)" in repr(FusedConv(3, 16, 3))
    assert layer.detected_patterns() == []          # nothing compiled yet


@pytest.mark.torch
def test_torch_tensors_in_and_out(rng):
    torch = pytest.importorskip("torch")
    layer = FusedLinear(40, 24, rng=rng).activation(Activation.ReLU)
    x = torch.from_numpy(rng.standard_normal((6, 40)).astype(np.float32))
    y = layer(x)
    assert isinstance(y, torch.Tensor)
    assert_close(y.numpy(), linear_reference(layer, x.numpy(), Activation.ReLU), F32_BOUND)
    fused = FusedElementwise().add(1.0).mul(2.0)
    assert isinstance(fused(x), torch.Tensor)
