"""LinearBiasRelu / LinearBiasGelu / LinearBiasActivation
(passes/linear_epilogue.py), end to end.

The IR is in the form torch-mlir gives ``nn.Linear`` + activation: the
[out, in] weight transposed by ``linalg.transpose``, a matmul into a
zero-filled accumulator, a broadcasting ``linalg.generic`` for the bias, the
activation as its own generic (with the body torch-mlir's TorchToLinalg
writes). One module holds one entry point per case, so the whole positive
set costs one compile. Results are compared with numpy float64 on fresh
random inputs; bound 1e-5 relative (max |err| / max |want|: a few float32
ulps of a K = 40 dot product and of libm's erf/tanh/exp).

Some entry points are named like libm functions (``tanh``, ``sin``) on
purpose: the module's own symbol must win over the loaded libm's (the link
uses -Bsymbolic; without it these calls land in libm and return garbage).

``activations.classify`` is also tested directly (no compile): every known
activation in its usual spellings, and near-identical functions that must
not pass for one.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from conftest import assert_close, compile_ir

import axfusion

BOUND = 1e-5
M, K, N = 20, 40, 36       # 20 rows: the 8-row tiles leave a partial one
TORCH_GELU_BETA = 0.7977240352174656   # torch-mlir's constant for sqrt(2/pi)

HEADER = """#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#bias3 = affine_map<(d0, d1, d2) -> (d2)>
#wbcast = affine_map<(d0, d1, d2) -> (d1, d2)>
"""


def _erf(x):
    return np.vectorize(math.erf)(x)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gelu_tanh(x, beta):
    return 0.5 * x * (1.0 + np.tanh(beta * (x + 0.044715 * x ** 3)))


# name -> (activation body: %in -> yielded value, float64 reference, pattern)
ACTIVATIONS = {
    "relu_max": ("""
    %r = arith.maximumf %in, %zero : f32
    linalg.yield %r : f32""", lambda x: np.maximum(x, 0.0), "LinearBiasRelu"),
    "relu_select": ("""
    %c = arith.cmpf ugt, %in, %zero : f32
    %r = arith.select %c, %in, %zero : f32
    linalg.yield %r : f32""", lambda x: np.maximum(x, 0.0), "LinearBiasRelu"),
    "gelu_erf": ("""
    %c0 = arith.constant 0.0 : f32
    %c1 = arith.constant 1.0 : f32
    %c2 = arith.constant 2.0 : f32
    %half = arith.constant 0.5 : f32
    %centered = arith.subf %in, %c0 : f32
    %sqrt2 = math.sqrt %c2 : f32
    %scaled = arith.divf %centered, %sqrt2 : f32
    %erf = math.erf %scaled : f32
    %onep = arith.addf %c1, %erf : f32
    %cdf = arith.mulf %half, %onep : f32
    %r = arith.mulf %in, %cdf : f32
    linalg.yield %r : f32""", lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))),
        "LinearBiasGelu"),
    "gelu_tanh_torch": (f"""
    %three = arith.constant 3 : i64
    %cube = math.fpowi %in, %three : f32, i64
    %alpha = arith.constant 0.044715 : f32
    %t0 = arith.mulf %cube, %alpha : f32
    %t1 = arith.addf %in, %t0 : f32
    %beta = arith.constant {TORCH_GELU_BETA} : f32
    %t2 = arith.mulf %beta, %t1 : f32
    %t3 = math.tanh %t2 : f32
    %one = arith.constant 1.0 : f32
    %t4 = arith.addf %one, %t3 : f32
    %half = arith.constant 0.5 : f32
    %t5 = arith.mulf %half, %t4 : f32
    %r = arith.mulf %in, %t5 : f32
    linalg.yield %r : f32""", lambda x: _gelu_tanh(x, TORCH_GELU_BETA), "LinearBiasGelu"),
    "gelu_tanh": ("""
    %sq = arith.mulf %in, %in : f32
    %cube = arith.mulf %sq, %in : f32
    %alpha = arith.constant 0.044715 : f32
    %t0 = arith.mulf %alpha, %cube : f32
    %t1 = arith.addf %in, %t0 : f32
    %beta = arith.constant 0.797884583 : f32
    %t2 = arith.mulf %t1, %beta : f32
    %t3 = math.tanh %t2 : f32
    %one = arith.constant 1.0 : f32
    %t4 = arith.addf %t3, %one : f32
    %half = arith.constant 0.5 : f32
    %t5 = arith.mulf %in, %half : f32
    %r = arith.mulf %t5, %t4 : f32
    linalg.yield %r : f32""", lambda x: _gelu_tanh(x, math.sqrt(2.0 / math.pi)),
        "LinearBiasGelu"),
    "sigmoid": ("""
    %neg = arith.negf %in : f32
    %one = arith.constant 1.0 : f32
    %e = math.exp %neg : f32
    %d = arith.addf %e, %one : f32
    %r = arith.divf %one, %d : f32
    linalg.yield %r : f32""", _sigmoid, "LinearBiasActivation"),
    "tanh": ("""
    %r = math.tanh %in : f32
    linalg.yield %r : f32""", np.tanh, "LinearBiasActivation"),
    "silu": ("""
    %neg = arith.negf %in : f32
    %one = arith.constant 1.0 : f32
    %e = math.exp %neg : f32
    %d = arith.addf %e, %one : f32
    %sig = arith.divf %one, %d : f32
    %r = arith.mulf %in, %sig : f32
    linalg.yield %r : f32""", lambda x: x * _sigmoid(x), "LinearBiasActivation"),
    "relu6": ("""
    %six = arith.constant 6.0 : f32
    %below = arith.cmpf ult, %in, %zero : f32
    %t = arith.select %below, %zero, %in : f32
    %above = arith.cmpf ugt, %t, %six : f32
    %r = arith.select %above, %six, %t : f32
    linalg.yield %r : f32""", lambda x: np.clip(x, 0.0, 6.0), "LinearBiasActivation"),
}


def linear(name: str, body: str | None, *, merged: bool = False, bias_first: bool = False,
           m: int = M) -> str:
    """``func @name(x[m,K], w[N,K], b[N]) = act(x @ w^T + b)`` in torch-mlir's
    form. ``body`` None: no activation; ``merged``: bias and activation in one
    generic; ``bias_first``: the bias is the generic's first operand."""
    x, y = f"tensor<{m}x{K}xf32>", f"tensor<{m}x{N}xf32>"
    ins = (f"ins(%b, %mm : tensor<{N}xf32>, {y})" if bias_first
           else f"ins(%mm, %b : {y}, tensor<{N}xf32>)")
    maps = "[#bias, #id, #id]" if bias_first else "[#id, #bias, #id]"
    add = "%s = arith.addf %in_0, %in_1 : f32"
    text = f"""
func.func @{name}(%x: {x}, %w: tensor<{N}x{K}xf32>, %b: tensor<{N}xf32>) -> {y} {{
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<{K}x{N}xf32>
  %wt = linalg.transpose ins(%w : tensor<{N}x{K}xf32>) outs(%wt_init : tensor<{K}x{N}xf32>) permutation = [1, 0]
  %init = tensor.empty() : {y}
  %acc = linalg.fill ins(%zero : f32) outs(%init : {y}) -> {y}
  %mm = linalg.matmul ins(%x, %wt : {x}, tensor<{K}x{N}xf32>) outs(%acc : {y}) -> {y}
"""
    if merged:
        return text + f"""  %r = linalg.generic {{indexing_maps = {maps}, iterator_types = ["parallel", "parallel"]}}
      {ins} outs(%init : {y}) {{
  ^bb0(%in_0: f32, %in_1: f32, %out: f32):
    {add}
    {body.strip().replace("%in,", "%s,").replace("%in ", "%s ")}
  }} -> {y}
  return %r : {y}
}}
"""
    text += f"""  %biased = linalg.generic {{indexing_maps = {maps}, iterator_types = ["parallel", "parallel"]}}
      {ins} outs(%init : {y}) {{
  ^bb0(%in_0: f32, %in_1: f32, %out: f32):
    {add}
    linalg.yield %s : f32
  }} -> {y}
"""
    if body is None:
        return text + f"  return %biased : {y}\n}}\n"
    return text + f"""  %r = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%biased : {y}) outs(%init : {y}) {{
  ^bb0(%in: f32, %out: f32):{body}
  }} -> {y}
  return %r : {y}
}}
"""


B = 3
BATCH_GELU = f"""
func.func @batch_gelu(%x: tensor<{B}x{M}x{K}xf32>, %w: tensor<{N}x{K}xf32>, %b: tensor<{N}xf32>) -> tensor<{B}x{M}x{N}xf32> {{
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<{K}x{N}xf32>
  %wt = linalg.transpose ins(%w : tensor<{N}x{K}xf32>) outs(%wt_init : tensor<{K}x{N}xf32>) permutation = [1, 0]
  %wb_init = tensor.empty() : tensor<{B}x{K}x{N}xf32>
  %wb = linalg.generic {{indexing_maps = [#wbcast, #id3], iterator_types = ["parallel", "parallel", "parallel"]}}
      ins(%wt : tensor<{K}x{N}xf32>) outs(%wb_init : tensor<{B}x{K}x{N}xf32>) {{
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }} -> tensor<{B}x{K}x{N}xf32>
  %init = tensor.empty() : tensor<{B}x{M}x{N}xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<{B}x{M}x{N}xf32>) -> tensor<{B}x{M}x{N}xf32>
  %mm = linalg.batch_matmul ins(%x, %wb : tensor<{B}x{M}x{K}xf32>, tensor<{B}x{K}x{N}xf32>) outs(%acc : tensor<{B}x{M}x{N}xf32>) -> tensor<{B}x{M}x{N}xf32>
  %biased = linalg.generic {{indexing_maps = [#id3, #bias3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}}
      ins(%mm, %b : tensor<{B}x{M}x{N}xf32>, tensor<{N}xf32>) outs(%init : tensor<{B}x{M}x{N}xf32>) {{
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  }} -> tensor<{B}x{M}x{N}xf32>
  %r = linalg.generic {{indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}}
      ins(%biased : tensor<{B}x{M}x{N}xf32>) outs(%init : tensor<{B}x{M}x{N}xf32>) {{
  ^bb0(%in: f32, %out: f32):{ACTIVATIONS["gelu_erf"][0]}
  }} -> tensor<{B}x{M}x{N}xf32>
  return %r : tensor<{B}x{M}x{N}xf32>
}}
"""

# Two projections of one input sharing one zero fill (what CSE leaves).
SHARED_FILL = f"""
func.func @shared_fill(%x: tensor<{M}x{K}xf32>, %wq: tensor<{K}x{N}xf32>, %bq: tensor<{N}xf32>,
                       %wk: tensor<{K}x{N}xf32>, %bk: tensor<{N}xf32>)
    -> (tensor<{M}x{N}xf32>, tensor<{M}x{N}xf32>) {{
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<{M}x{N}xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %q_mm = linalg.matmul ins(%x, %wq : tensor<{M}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%acc : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %q = linalg.generic {{indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%q_mm, %bq : tensor<{M}x{N}xf32>, tensor<{N}xf32>) outs(%init : tensor<{M}x{N}xf32>) {{
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  }} -> tensor<{M}x{N}xf32>
  %k_mm = linalg.matmul ins(%x, %wk : tensor<{M}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%acc : tensor<{M}x{N}xf32>) -> tensor<{M}x{N}xf32>
  %k = linalg.generic {{indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%k_mm, %bk : tensor<{M}x{N}xf32>, tensor<{N}xf32>) outs(%init : tensor<{M}x{N}xf32>) {{
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    %r = math.tanh %s : f32
    linalg.yield %r : f32
  }} -> tensor<{M}x{N}xf32>
  return %q, %k : tensor<{M}x{N}xf32>, tensor<{M}x{N}xf32>
}}
"""



def expand_linear(name: str, body: str) -> str:
    """``func @name(x[B,m,K], w[N,K], b[N]) = act(x @ w^T + b)`` as torch-mlir
    lowers ``nn.Linear`` + activation on a 3-D input: the matmul and the bias
    add on the collapsed [B*m, K] view, the activation reading the result
    through a ``tensor.expand_shape``."""
    rows, x3, y3 = B * M, f"tensor<{B}x{M}x{K}xf32>", f"tensor<{B}x{M}x{N}xf32>"
    x, y = f"tensor<{rows}x{K}xf32>", f"tensor<{rows}x{N}xf32>"
    return f"""
func.func @{name}(%x3: {x3}, %w: tensor<{N}x{K}xf32>, %b: tensor<{N}xf32>) -> {y3} {{
  %zero = arith.constant 0.0 : f32
  %x = tensor.collapse_shape %x3 [[0, 1], [2]] : {x3} into {x}
  %wt_init = tensor.empty() : tensor<{K}x{N}xf32>
  %wt = linalg.transpose ins(%w : tensor<{N}x{K}xf32>) outs(%wt_init : tensor<{K}x{N}xf32>) permutation = [1, 0]
  %init = tensor.empty() : {y}
  %acc = linalg.fill ins(%zero : f32) outs(%init : {y}) -> {y}
  %mm = linalg.matmul ins(%x, %wt : {x}, tensor<{K}x{N}xf32>) outs(%acc : {y}) -> {y}
  %biased = linalg.generic {{indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%mm, %b : {y}, tensor<{N}xf32>) outs(%init : {y}) {{
  ^bb0(%in_0: f32, %in_1: f32, %out: f32):
    %s = arith.addf %in_0, %in_1 : f32
    linalg.yield %s : f32
  }} -> {y}
  %e = tensor.expand_shape %biased [[0, 1], [2]] output_shape [{B}, {M}, {N}] : {y} into {y3}
  %init3 = tensor.empty() : {y3}
  %r = linalg.generic {{indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}}
      ins(%e : {y3}) outs(%init3 : {y3}) {{
  ^bb0(%in: f32, %out: f32):{body}
  }} -> {y3}
  return %r : {y3}
}}
"""


EXPAND_GELUS = ("gelu_erf", "gelu_tanh_torch")
EXPANDED = "".join(expand_linear(f"expand_{name}", ACTIVATIONS[name][0]) for name in EXPAND_GELUS)

# name -> (IR, reference, pattern, op names of the group root first)
TWO_GENERICS = ("linalg.generic", "linalg.generic", "linalg.matmul", "linalg.fill")
ONE_GENERIC = ("linalg.generic", "linalg.matmul", "linalg.fill")
CASES = {name: (linear(name, body), ref, pattern, TWO_GENERICS)
         for name, (body, ref, pattern) in ACTIVATIONS.items()}
CASES["bias_only"] = (linear("bias_only", None), lambda x: x, "LinearBiasActivation", ONE_GENERIC)
CASES["relu_merged"] = (linear("relu_merged", ACTIVATIONS["relu_max"][0], merged=True),
                        lambda x: np.maximum(x, 0.0), "LinearBiasRelu", ONE_GENERIC)
CASES["relu_bias_first"] = (linear("relu_bias_first", ACTIVATIONS["relu_max"][0],
                                   bias_first=True),
                            lambda x: np.maximum(x, 0.0), "LinearBiasRelu", TWO_GENERICS)
POSITIVE = HEADER + "".join(c[0] for c in CASES.values()) + BATCH_GELU + SHARED_FILL + \
    EXPANDED


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def linear_ref(x, w, b):
    return np.asarray(x, np.float64) @ np.asarray(w, np.float64).T + b


@pytest.fixture(scope="module")
def positive():
    return compile_ir(POSITIVE)


def groups_of(mod, function):
    return [g for g in mod.detected_patterns() if g.function == function]


# -- numerics ------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_fused_matches_numpy(positive, rng, name):
    _, ref, _, _ = CASES[name]
    x, w, b = rand(rng, M, K), rand(rng, N, K), rand(rng, N)
    assert_close(positive[name](x, w, b), ref(linear_ref(x, w, b)), BOUND, name)


def test_batch_matmul_gelu(positive, rng):
    x, w, b = rand(rng, B, M, K), rand(rng, N, K), rand(rng, N)
    want = CASES["gelu_erf"][1](linear_ref(x, w, b))
    assert_close(positive.batch_gelu(x, w, b), want, BOUND)
    (group,) = groups_of(positive, "batch_gelu")
    assert group.pattern == "LinearBiasGelu"
    assert group.ops == ("linalg.generic", "linalg.generic", "linalg.batch_matmul", "linalg.fill")


@pytest.mark.parametrize("name", EXPAND_GELUS)
def test_gelu_through_expand_shape(positive, rng, name):
    """The GELU after torch-mlir's expand_shape joins the group (it is moved
    before the reshape): LinearBiasGelu with the GELU as the root."""
    x, w, b = rand(rng, B, M, K), rand(rng, N, K), rand(rng, N)
    got = positive[f"expand_{name}"](x, w, b)
    assert got.shape == (B, M, N)
    assert_close(got, ACTIVATIONS[name][1](linear_ref(x, w, b)), BOUND, name)
    (group,) = groups_of(positive, f"expand_{name}")
    assert group.pattern == "LinearBiasGelu"
    assert group.ops == TWO_GENERICS


@pytest.mark.torch
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_torch_linear_gelu_3d(rng, approximate):
    """nn.Linear + nn.GELU on a [batch, seq, features] input, end to end
    through torch-mlir, against PyTorch eager in float64."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    model = torch.nn.Sequential(torch.nn.Linear(K, N), torch.nn.GELU(approximate=approximate))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    model.eval()
    x = torch.randn(B, M, K, generator=gen)
    mod = axfusion.compile(model, (x,))
    x = torch.randn(B, M, K, generator=gen)     # fresh inputs, not the example
    got = mod(x)
    with torch.no_grad():
        want = model.double()(x.double()).numpy()
    assert_close(got.numpy(), want, BOUND, f"GELU({approximate})")
    patterns = [g.pattern for g in mod.detected_patterns()]
    assert patterns == ["LinearBiasGelu"], patterns


def test_shared_fill_gives_each_group_its_own(positive, rng):
    x, wq, bq, wk, bk = rand(rng, M, K), rand(rng, K, N), rand(rng, N), rand(rng, K, N), rand(rng, N)
    q, k = positive.shared_fill(x, wq, bq, wk, bk)
    x64 = np.asarray(x, np.float64)
    assert_close(q, np.maximum(x64 @ wq + bq, 0.0), BOUND, "q")
    assert_close(k, np.tanh(x64 @ wk + bk), BOUND, "k")
    found = sorted(groups_of(positive, "shared_fill"), key=lambda g: g.pattern)
    assert [g.pattern for g in found] == ["LinearBiasActivation", "LinearBiasRelu"]
    for g in found:   # each with a fill of its own
        assert g.ops == ONE_GENERIC


# -- the report ----------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_detected_pattern(positive, name):
    text, _, pattern, ops = CASES[name]
    (group,) = groups_of(positive, name)
    assert group.pattern == pattern
    assert group.ops == ops
    # The root's location is the activation generic's line in the source.
    root_line = POSITIVE[:POSITIVE.index(text)].count("\n") + text.count("\n", 0, text.rindex(
        "linalg.generic")) + 1
    assert re.fullmatch(r"<input>:\d+:\d+", group.location), group.location
    assert int(group.location.split(":")[1]) == root_line
    # The bias result and the matmul tile (and the fill) never reach memory.
    assert group.bytes_saved == 2 * M * N * 4 * (len(ops) - 1)
    assert pattern in str(group)


def test_report_renders(positive):
    report = positive.report()
    table = str(report)
    assert isinstance(table, str)
    assert "LinearBiasRelu" in table and "LinearBiasGelu" in table
    assert "Near misses:" in table
    data = json.loads(report.to_json())
    assert {g["pattern"] for g in data["groups"]} >= {
        "LinearBiasRelu", "LinearBiasGelu", "LinearBiasActivation"}
    dot = report.to_dot()
    assert dot.startswith("digraph") and "subgraph cluster_" in dot
    assert 'label="group 0: ' in dot


RELU_ONLY = HEADER + linear("forward", ACTIVATIONS["relu_max"][0])


def test_disabling_the_pattern_leaves_the_matmul_unfused(rng):
    opt = axfusion.FusionOptimizer().disable(axfusion.FusionPattern.LinearBiasRelu)
    mod = opt.compile(RELU_ONLY)
    for found in (opt.detected_patterns(), mod.detected_patterns()):
        assert not any(g.pattern.startswith("LinearBias") for g in found), found
        assert not any("linalg.matmul" in g.ops for g in found), found
    x, w, b = rand(rng, M, K), rand(rng, N, K), rand(rng, N)
    assert_close(mod.forward(x, w, b), np.maximum(linear_ref(x, w, b), 0.0), BOUND)


def test_optimize_graph_returns_a_tagged_module():
    from axfusion._mlir import ir
    module = axfusion.optimize_graph(RELU_ONLY)
    assert isinstance(module, ir.Module)
    text = str(module)
    assert 'axf.pattern = "LinearBiasRelu"' in text
    assert text.count("axf.group = 0") == 4   # relu, bias, matmul, fill
    assert "linalg.transpose ins" in text     # the weight transpose stays outside


# -- near misses: left unfused, results unchanged ------------------------------

def _epilogue_fn(name, extra_args, generic, *, results=None, ret=None):
    y = f"tensor<{M}x{N}xf32>"
    results = results or y
    ret = ret or f"%r : {y}"
    return f"""
func.func @{name}(%x: tensor<{M}x{K}xf32>, %w: tensor<{K}x{N}xf32>{extra_args}) -> {results} {{
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : {y}
  %acc = linalg.fill ins(%zero : f32) outs(%init : {y}) -> {y}
  %mm = linalg.matmul ins(%x, %w : tensor<{M}x{K}xf32>, tensor<{K}x{N}xf32>) outs(%acc : {y}) -> {y}
{generic}  return {ret}
}}
"""


def _generic(ins, types, maps, body, name="%r"):
    y = f"tensor<{M}x{N}xf32>"
    args = ", ".join(f"%a{i}: f32" for i in range(len(ins.split(","))))
    return f"""  {name} = linalg.generic {{indexing_maps = {maps}, iterator_types = ["parallel", "parallel"]}}
      ins({ins} : {types}) outs(%init : {y}) {{
  ^bb0({args}, %out: f32):
{body}
  }} -> {y}
"""


_Y = f"tensor<{M}x{N}xf32>"
NEGATIVE = HEADER + "".join([
    # The matmul result is also returned: fusing would compute it twice.
    _epilogue_fn("second_user", f", %b: tensor<{N}xf32>",
                 _generic("%mm, %b", f"{_Y}, tensor<{N}xf32>", "[#id, #bias, #id]",
                          "    %s = arith.addf %a0, %a1 : f32\n    linalg.yield %s : f32"),
                 results=f"({_Y}, {_Y})", ret=f"%r, %mm : {_Y}, {_Y}"),
    # A residual: the added operand is a full matrix.
    _epilogue_fn("residual", f", %res: {_Y}",
                 _generic("%mm, %res", f"{_Y}, {_Y}", "[#id, #id, #id]",
                          "    %s = arith.addf %a0, %a1 : f32\n    linalg.yield %s : f32")),
    # sin after the bias: the bias is fused, sin is not.
    _epilogue_fn("sin", f", %b: tensor<{N}xf32>",
                 _generic("%mm, %b", f"{_Y}, tensor<{N}xf32>", "[#id, #bias, #id]",
                          "    %s = arith.addf %a0, %a1 : f32\n    linalg.yield %s : f32",
                          name="%biased")
                 + _generic("%biased", _Y, "[#id, #id]",
                            "    %s = math.sin %a0 : f32\n    linalg.yield %s : f32")),
])


@pytest.fixture(scope="module")
def negative():
    return compile_ir(NEGATIVE)


def test_near_misses_name_their_reasons(negative):
    by_reason = {m.reason: m for m in negative.report().near_misses}
    second = ("intermediate has a second user outside the group "
              "(fusing would compute the matmul twice)")
    assert second in by_reason and by_reason[second].op == "linalg.matmul"
    assert by_reason[second].pattern == "LinearBias"
    assert "bias is not broadcast along N" in by_reason
    assert by_reason["bias is not broadcast along N"].op == "linalg.generic"
    unsupported = by_reason["activation not supported by the epilogue"]
    assert unsupported.pattern == "LinearBiasActivation" and unsupported.op == "linalg.generic"
    for m in negative.report().near_misses:
        assert re.fullmatch(r"<input>:\d+:\d+", m.location), m.location


def test_near_misses_stay_unfused(negative):
    found = negative.detected_patterns()
    for function in ("second_user", "residual"):
        assert not any("linalg.matmul" in g.ops for g in found if g.function == function)
    (sin_group,) = [g for g in found if g.function == "sin" and "linalg.matmul" in g.ops]
    assert sin_group.pattern == "LinearBiasActivation" and sin_group.ops == ONE_GENERIC


def test_near_miss_results_unchanged(negative, rng):
    x, w, b, res = rand(rng, M, K), rand(rng, K, N), rand(rng, N), rand(rng, M, N)
    mm = np.asarray(x, np.float64) @ w
    r, m = negative.second_user(x, w, b)
    assert_close(r, mm + b, BOUND, "second_user bias")
    assert_close(m, mm, BOUND, "second_user matmul")
    assert_close(negative.residual(x, w, res), mm + res, BOUND, "residual")
    assert_close(negative.sin(x, w, b), np.sin(mm + b), BOUND, "sin")


# -- activations.classify: the right name, or none -----------------------------

def _classify(body: str, *, bias: bool = False, extra: str = ""):
    """classify() of a generic whose block is (%x[, %b], %out) -> body."""
    from axfusion._mlir import ir
    from axfusion.passes.activations import classify
    args = "%x: f32, %b: f32, %out: f32" if bias else "%x: f32, %out: f32"
    maps = "[#id, #bias, #id]" if bias else "[#id, #id]"
    ins = ("ins(%in_t, %in_v : tensor<4x4xf32>, tensor<4xf32>)" if bias
           else "ins(%in_t : tensor<4x4xf32>)")
    text = HEADER + f"""
func.func @f(%in_t: tensor<4x4xf32>, %in_v: tensor<4xf32>) -> tensor<4x4xf32> {{
  %zero = arith.constant 0.0 : f32
  {extra}
  %init = tensor.empty() : tensor<4x4xf32>
  %r = linalg.generic {{indexing_maps = {maps}, iterator_types = ["parallel", "parallel"]}}
      {ins} outs(%init : tensor<4x4xf32>) {{
  ^bb0({args}):
{body}
  }} -> tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}}
"""
    with ir.Context():
        module = ir.Module.parse(text)
        func = module.body.operations[0]
        generic = [op for op in func.regions[0].blocks[0].operations
                   if op.operation.name == "linalg.generic"][0]
        return classify(generic, 0, bias_input=1 if bias else None)


def _rename(body: str) -> str:
    return body.replace("%in", "%x")


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_classify_known_spellings(name):
    from axfusion.passes.activations import Activation
    body, _, pattern = ACTIVATIONS[name]
    want = {"relu_max": Activation.ReLU, "relu_select": Activation.ReLU,
            "gelu_erf": Activation.GELU, "gelu_tanh_torch": Activation.GELUTanh,
            "gelu_tanh": Activation.GELUTanh, "sigmoid": Activation.Sigmoid,
            "tanh": Activation.Tanh, "silu": Activation.SiLU, "relu6": Activation.ReLU6}[name]
    assert _classify(_rename(body)) is want
    # The same activation after the bias, in one generic.
    merged = "    %y = arith.addf %b, %x : f32\n" + _rename(body).replace("%x", "%y")
    assert _classify(merged, bias=True) is want


WRONG = {
    "leaky relu": """
    %c = arith.cmpf ugt, %x, %zero : f32
    %s = arith.constant 0.01 : f32
    %n = arith.mulf %x, %s : f32
    %r = arith.select %c, %x, %n : f32
    linalg.yield %r : f32""",
    "leaky relu, slope 1e-9": """
    %s = arith.constant 1.0e-9 : f32
    %n = arith.mulf %x, %s : f32
    %r = arith.maximumf %x, %n : f32
    linalg.yield %r : f32""",
    "x * x": """
    %r = arith.mulf %x, %x : f32
    linalg.yield %r : f32""",
    "clamp(-1, 1)": """
    %lo = arith.constant -1.0 : f32
    %hi = arith.constant 1.0 : f32
    %a = arith.maximumf %x, %lo : f32
    %r = arith.minimumf %a, %hi : f32
    linalg.yield %r : f32""",
    "relu capped at 1000": """
    %hi = arith.constant 1000.0 : f32
    %a = arith.maximumf %x, %zero : f32
    %r = arith.minimumf %a, %hi : f32
    linalg.yield %r : f32""",
    "max(x, -500): not the identity": """
    %lo = arith.constant -500.0 : f32
    %r = arith.maximumf %x, %lo : f32
    linalg.yield %r : f32""",
    "threshold 1e-6": """
    %t = arith.constant 1.0e-6 : f32
    %c = arith.cmpf ugt, %x, %t : f32
    %r = arith.select %c, %x, %zero : f32
    linalg.yield %r : f32""",
    "relu(x) + 1e-9": """
    %e = arith.constant 1.0e-9 : f32
    %a = arith.maximumf %x, %zero : f32
    %r = arith.addf %a, %e : f32
    linalg.yield %r : f32""",
    "2 x": """
    %r = arith.addf %x, %x : f32
    linalg.yield %r : f32""",
    "|x|": """
    %r = math.absf %x : f32
    linalg.yield %r : f32""",
    "softplus": """
    %one = arith.constant 1.0 : f32
    %e = math.exp %x : f32
    %a = arith.addf %e, %one : f32
    %r = math.log %a : f32
    linalg.yield %r : f32""",
    "hardswish": """
    %three = arith.constant 3.0 : f32
    %six = arith.constant 6.0 : f32
    %a = arith.addf %x, %three : f32
    %b0 = arith.maximumf %a, %zero : f32
    %c = arith.minimumf %b0, %six : f32
    %d = arith.divf %c, %six : f32
    %r = arith.mulf %x, %d : f32
    linalg.yield %r : f32""",
    "GELU with x * sigmoid(1.702 x)": """
    %k = arith.constant 1.702 : f32
    %kx = arith.mulf %x, %k : f32
    %n = arith.negf %kx : f32
    %one = arith.constant 1.0 : f32
    %e = math.exp %n : f32
    %d = arith.addf %e, %one : f32
    %r = arith.divf %x, %d : f32
    linalg.yield %r : f32""",
    "accumulates into the output": """
    %r = arith.addf %x, %out : f32
    linalg.yield %r : f32""",
    "max with the output": """
    %r = arith.maximumf %x, %out : f32
    linalg.yield %r : f32""",
    "sin": """
    %r = math.sin %x : f32
    linalg.yield %r : f32""",
}


@pytest.mark.parametrize("name", list(WRONG))
def test_classify_refuses_other_functions(name):
    assert _classify(WRONG[name]) is None


WRONG_BIAS = {
    "x + 2 b": """
    %two = arith.constant 2.0 : f32
    %t = arith.mulf %b, %two : f32
    %r = arith.addf %x, %t : f32
    linalg.yield %r : f32""",
    "x - b": """
    %r = arith.subf %x, %b : f32
    linalg.yield %r : f32""",
    "x * b": """
    %r = arith.mulf %x, %b : f32
    linalg.yield %r : f32""",
    "bias ignored": """
    %r = arith.maximumf %x, %zero : f32
    linalg.yield %r : f32""",
    "relu(x) + b (bias after the activation)": """
    %a = arith.maximumf %x, %zero : f32
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32""",
}


@pytest.mark.parametrize("name", list(WRONG_BIAS))
def test_classify_refuses_wrong_bias(name):
    assert _classify(WRONG_BIAS[name], bias=True) is None


def test_classify_torch_add_with_alpha():
    """aten.add.Tensor before canonicalisation: x + b * sitofp(alpha = 1)."""
    from axfusion.passes.activations import Activation
    body = """
    %a = arith.sitofp %alpha : i64 to f32
    %s = arith.mulf %b, %a : f32
    %r = arith.addf %x, %s : f32
    linalg.yield %r : f32"""
    extra = "%alpha = arith.constant 1 : i64"
    assert _classify(body, bias=True, extra=extra) is Activation.NONE
    assert _classify(body, bias=True, extra=extra.replace("1 : i64", "2 : i64")) is None
