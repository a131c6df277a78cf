"""ReductionFusion (passes/reduction_fusion.py), end to end.

Row-wise reductions with their element-wise prologue and epilogue, in the
form torch-mlir lowers them: one ``linalg.generic`` per aten op, reductions
into a ``linalg.fill``-ed accumulator, with the reduced dim kept
((d0, d1) -> (d0, 0), tensor<Rx1xf32>) or dropped ((d0, d1) -> (d0),
tensor<Rxf32>). One module holds one entry point per case (one compile).

Each group is tiled one row at a time with its reductions and their fills
fused into the row loop; the numbers are checked against numpy float64 on
fresh random inputs, which is what shows that every row starts from a fresh
accumulator. Bound 1e-5 relative (max |err| / max |want|): float32 sums of
at most 80 terms and libm's exp/rsqrt. Softmax inputs span +-50, where an
unstabilised exp would overflow.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import EXAMPLES, assert_close, compile_ir

BOUND = 1e-5
R, N = 48, 80
B, S, H = 2, 12, 40
EPS = 1e-5

HEADER = """#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#drop = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#keep3 = affine_map<(d0, d1, d2) -> (d0, d1, 0)>
#last3 = affine_map<(d0, d1, d2) -> (d2)>
"""


def generic(result, ins, out, maps, iters, body):
    """``result = linalg.generic``: ``ins`` and ``out`` are (value, type);
    ``body`` uses %a0, %a1, ... and %o (the output) and defines %r."""
    args = ", ".join([f"%a{i}: f32" for i in range(len(ins))] + ["%o: f32"])
    iters = ", ".join(f'"{t}"' for t in iters)
    return f"""
  {result} = linalg.generic {{indexing_maps = [{", ".join(maps)}], iterator_types = [{iters}]}}
      ins({", ".join(v for v, _ in ins)} : {", ".join(t for _, t in ins)})
      outs({out[0]} : {out[1]}) {{
  ^bb0({args}):
    {body}
    linalg.yield %r : f32
  }} -> {out[1]}"""


def reduce_rows(result, x, xt, acc, acct, out_map, body, maps=("#id",), iters=None):
    return generic(result, [(x, xt)], (acc, acct), [*maps, out_map],
                   iters or ["parallel", "reduction"], body)


def func(name, args, results, types, body):
    return f"""
func.func @{name}({args}) -> ({types}) {{
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %n = arith.constant {float(N)} : f32
  %h = arith.constant {float(H)} : f32
  %eps = arith.constant {EPS:.1e} : f32
  %two = arith.constant 2.0 : f32
  {body}
  return {results} : {types}
}}
"""


X = f"tensor<{R}x{N}xf32>"
K = f"tensor<{R}x1xf32>"     # keepdim row values
D = f"tensor<{R}xf32>"       # row values without the reduced dim


def _keep_rows_prologue():
    return f"""
  %rows = tensor.empty() : {K}
  %init = tensor.empty() : {X}
  %acc0 = linalg.fill ins(%zero : f32) outs(%rows : {K}) -> {K}"""


LAYER_NORM = func(
    "layer_norm", f"%x: {X}, %g: tensor<{N}xf32>, %b: tensor<{N}xf32>", "%out", X,
    _keep_rows_prologue()
    + reduce_rows("%sum", "%x", X, "%acc0", K, "#keep", "%r = arith.addf %a0, %o : f32")
    + generic("%mean", [("%sum", K)], ("%rows", K), ["#keep", "#id"], ["parallel"] * 2,
              "%r = arith.divf %a0, %n : f32")
    + generic("%xc", [("%x", X), ("%mean", K)], ("%init", X), ["#id", "#keep", "#id"],
              ["parallel"] * 2, "%r = arith.subf %a0, %a1 : f32")
    + generic("%sq", [("%xc", X), ("%xc", X)], ("%init", X), ["#id", "#id", "#id"],
              ["parallel"] * 2, "%r = arith.mulf %a0, %a1 : f32")
    + f"\n  %acc1 = linalg.fill ins(%zero : f32) outs(%rows : {K}) -> {K}"
    + reduce_rows("%vsum", "%sq", X, "%acc1", K, "#keep", "%r = arith.addf %a0, %o : f32")
    + generic("%var", [("%vsum", K)], ("%rows", K), ["#keep", "#id"], ["parallel"] * 2,
              "%r = arith.divf %a0, %n : f32")
    + generic("%ve", [("%var", K)], ("%rows", K), ["#keep", "#id"], ["parallel"] * 2,
              "%r = arith.addf %a0, %eps : f32")
    + generic("%rstd", [("%ve", K)], ("%rows", K), ["#keep", "#id"], ["parallel"] * 2,
              "%r = math.rsqrt %a0 : f32")
    + generic("%norm", [("%xc", X), ("%rstd", K)], ("%init", X), ["#id", "#keep", "#id"],
              ["parallel"] * 2, "%r = arith.mulf %a0, %a1 : f32")
    + generic("%scaled", [("%norm", X), ("%g", f"tensor<{N}xf32>")], ("%init", X),
              ["#id", "#col", "#id"], ["parallel"] * 2, "%r = arith.mulf %a0, %a1 : f32")
    + generic("%out", [("%scaled", X), ("%b", f"tensor<{N}xf32>")], ("%init", X),
              ["#id", "#col", "#id"], ["parallel"] * 2, "%r = arith.addf %a0, %a1 : f32"))

# Softmax with the reduced dim dropped: the row values are [R], read back
# through (d0, d1) -> (d0).
SOFTMAX = func(
    "softmax", f"%x: {X}", "%out", X,
    f"""
  %rows = tensor.empty() : {D}
  %init = tensor.empty() : {X}
  %macc = linalg.fill ins(%ninf : f32) outs(%rows : {D}) -> {D}"""
    + reduce_rows("%max", "%x", X, "%macc", D, "#drop", "%r = arith.maximumf %a0, %o : f32")
    + generic("%e", [("%x", X), ("%max", D)], ("%init", X), ["#id", "#drop", "#id"],
              ["parallel"] * 2, "%d = arith.subf %a0, %a1 : f32\n    %r = math.exp %d : f32")
    + f"\n  %sacc = linalg.fill ins(%zero : f32) outs(%rows : {D}) -> {D}"
    + reduce_rows("%sum", "%e", X, "%sacc", D, "#drop", "%r = arith.addf %a0, %o : f32")
    + generic("%out", [("%e", X), ("%sum", D)], ("%init", X), ["#id", "#drop", "#id"],
              ["parallel"] * 2, "%r = arith.divf %a0, %a1 : f32"))

# mean and (biased) variance, both returned: the mean is a member whose rows
# the loop yields for the caller.
MEAN_VAR = func(
    "mean_var", f"%x: {X}", "%mean, %var", f"{K}, {K}",
    _keep_rows_prologue()
    + reduce_rows("%sum", "%x", X, "%acc0", K, "#keep", "%r = arith.addf %a0, %o : f32")
    + generic("%mean", [("%sum", K)], ("%rows", K), ["#keep", "#id"], ["parallel"] * 2,
              "%r = arith.divf %a0, %n : f32")
    + generic("%sq", [("%x", X), ("%mean", K)], ("%init", X), ["#id", "#keep", "#id"],
              ["parallel"] * 2, "%d = arith.subf %a0, %a1 : f32\n    %r = arith.mulf %d, %d : f32")
    + reduce_rows("%vsum", "%sq", X, "%acc0", K, "#keep", "%r = arith.addf %a0, %o : f32")
    + generic("%var", [("%vsum", K)], ("%rows", K), ["#keep", "#id"], ["parallel"] * 2,
              "%r = arith.divf %a0, %n : f32"))

# RMSNorm over the last dim of [B, S, H]: x * rsqrt(mean(x^2) + eps) * w.
X3 = f"tensor<{B}x{S}x{H}xf32>"
K3 = f"tensor<{B}x{S}x1xf32>"
RMS_NORM = func(
    "rms_norm", f"%x: {X3}, %w: tensor<{H}xf32>", "%out", X3,
    f"""
  %rows = tensor.empty() : {K3}
  %init = tensor.empty() : {X3}
  %acc = linalg.fill ins(%zero : f32) outs(%rows : {K3}) -> {K3}"""
    + generic("%sq", [("%x", X3)], ("%init", X3), ["#id3", "#id3"], ["parallel"] * 3,
              "%r = arith.mulf %a0, %a0 : f32")
    + generic("%ss", [("%sq", X3)], ("%acc", K3), ["#id3", "#keep3"],
              ["parallel", "parallel", "reduction"], "%r = arith.addf %a0, %o : f32")
    + generic("%rs", [("%ss", K3)], ("%rows", K3), ["#keep3", "#id3"], ["parallel"] * 3,
              "%m = arith.divf %a0, %h : f32\n    %v = arith.addf %m, %eps : f32\n"
              "    %r = math.rsqrt %v : f32")
    + generic("%y", [("%x", X3), ("%rs", K3)], ("%init", X3), ["#id3", "#keep3", "#id3"],
              ["parallel"] * 3, "%r = arith.mulf %a0, %a1 : f32")
    + generic("%out", [("%y", X3), ("%w", f"tensor<{H}xf32>")], ("%init", X3),
              ["#id3", "#last3", "#id3"], ["parallel"] * 3, "%r = arith.mulf %a0, %a1 : f32"))

# Softmax whose row max is also transposed, before the division (the root):
# fusing the max would compute it twice, so it stays outside (near miss).
SOFTMAX_MAX_USED = func(
    "softmax_max_used", f"%x: {X}", "%out, %mt", f"{X}, tensor<1x{R}xf32>",
    _keep_rows_prologue().replace("%acc0 = linalg.fill ins(%zero", "%acc0 = linalg.fill ins(%ninf")
    + reduce_rows("%max", "%x", X, "%acc0", K, "#keep", "%r = arith.maximumf %a0, %o : f32")
    + f"""
  %tinit = tensor.empty() : tensor<1x{R}xf32>
  %mt = linalg.transpose ins(%max : {K}) outs(%tinit : tensor<1x{R}xf32>) permutation = [1, 0]"""
    + generic("%e", [("%x", X), ("%max", K)], ("%init", X), ["#id", "#keep", "#id"],
              ["parallel"] * 2, "%d = arith.subf %a0, %a1 : f32\n    %r = math.exp %d : f32")
    + f"\n  %sacc = linalg.fill ins(%zero : f32) outs(%rows : {K}) -> {K}"
    + reduce_rows("%sum", "%e", X, "%sacc", K, "#keep", "%r = arith.addf %a0, %o : f32")
    + generic("%out", [("%e", X), ("%sum", K)], ("%init", X), ["#id", "#keep", "#id"],
              ["parallel"] * 2, "%r = arith.divf %a0, %a1 : f32"))

# A column sum (over dim 0) then a scale: not a row reduction (near miss).
COLUMN_SUM = func(
    "column_sum", f"%x: {X}", "%out", f"tensor<{N}xf32>",
    f"""
  %cols = tensor.empty() : tensor<{N}xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%cols : tensor<{N}xf32>) -> tensor<{N}xf32>"""
    + generic("%sum", [("%x", X)], ("%acc", f"tensor<{N}xf32>"), ["#id", "#col"],
              ["reduction", "parallel"], "%r = arith.addf %a0, %o : f32")
    + generic("%out", [("%sum", f"tensor<{N}xf32>")], ("%cols", f"tensor<{N}xf32>"),
              ["affine_map<(d0) -> (d0)>", "affine_map<(d0) -> (d0)>"], ["parallel"],
              "%r = arith.mulf %a0, %two : f32"))

SOURCE = HEADER + LAYER_NORM + SOFTMAX + MEAN_VAR + RMS_NORM + SOFTMAX_MAX_USED + COLUMN_SUM


@pytest.fixture(scope="module")
def mod():
    return compile_ir(SOURCE)


def _groups(mod, function):
    return [g for g in mod.detected_patterns() if g.function == function]


def _misses(mod):
    return sorted((m.op, m.reason) for m in mod.report().near_misses
                  if m.pattern == "ReductionFusion")


def _layer_norm(x, g, b):
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * g + b


def _softmax(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_layer_norm(mod, rng):
    x = (rng.standard_normal((R, N)) * 3 + 1).astype(np.float32)
    g, b = rng.standard_normal(N).astype(np.float32), rng.standard_normal(N).astype(np.float32)
    assert_close(mod.layer_norm(x, g, b), _layer_norm(x, g, b), BOUND)
    [group] = _groups(mod, "layer_norm")
    # Every linalg op of the function: CSE merges the two zero fills, the
    # pattern gives each reduction its own again.
    assert group.pattern == "ReductionFusion" and len(group.ops) == 13
    assert group.ops[0] == "linalg.generic" and group.ops.count("linalg.fill") == 2


def test_softmax(mod, rng):
    x = rng.uniform(-50.0, 50.0, (R, N)).astype(np.float32)
    got = mod.softmax(x)
    assert_close(got, _softmax(x), BOUND)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-5)
    [group] = _groups(mod, "softmax")
    assert group.pattern == "ReductionFusion" and len(group.ops) == 6


def test_mean_var(mod, rng):
    x = (rng.standard_normal((R, N)) * 2 - 0.5).astype(np.float32)
    mean, var = mod.mean_var(x)
    x64 = x.astype(np.float64)
    assert_close(mean, x64.mean(axis=-1, keepdims=True), BOUND, "mean")
    assert_close(var, x64.var(axis=-1, keepdims=True), BOUND, "var")
    [group] = _groups(mod, "mean_var")
    assert len(group.ops) == 7   # 2 fills, sum, mean, sq, vsum, var


def test_rms_norm_rank3(mod, rng):
    x = rng.standard_normal((B, S, H)).astype(np.float32)
    w = rng.standard_normal(H).astype(np.float32)
    x64 = x.astype(np.float64)
    want = x64 / np.sqrt((x64 ** 2).mean(axis=-1, keepdims=True) + EPS) * w
    assert_close(mod.rms_norm(x, w), want, BOUND)
    [group] = _groups(mod, "rms_norm")
    assert len(group.ops) == 6


def test_reduction_used_before_root(mod, rng):
    x = rng.uniform(-50.0, 50.0, (R, N)).astype(np.float32)
    out, mt = mod.softmax_max_used(x)
    assert_close(out, _softmax(x), BOUND)
    assert_close(mt, x.astype(np.float64).max(axis=-1)[None, :], BOUND)
    [group] = _groups(mod, "softmax_max_used")
    assert len(group.ops) == 4   # div, sum, its fill, exp: the max is an input
    assert ("linalg.generic", "reduction result has a user outside the group that runs "
            "before it (fusing would compute the reduction twice)") in _misses(mod)


def test_column_reduction_is_a_near_miss(mod, rng):
    x = rng.standard_normal((R, N)).astype(np.float32)
    assert_close(mod.column_sum(x), x.astype(np.float64).sum(axis=0) * 2.0, BOUND)
    assert _groups(mod, "column_sum") == []
    assert ("linalg.generic", "reduces dimension 0, not the innermost (row) dimension") \
        in _misses(mod)
    assert len(_misses(mod)) == 2   # the two above, nothing else in the module


def test_layer_norm_example(rng):
    mod = compile_ir(EXAMPLES / "patterns" / "layer_norm.mlir")
    [group] = mod.detected_patterns()
    assert group.pattern == "ReductionFusion" and len(group.ops) == 13
    x = rng.standard_normal((2048, 1024)).astype(np.float32)
    g = rng.standard_normal(1024).astype(np.float32)
    b = rng.standard_normal(1024).astype(np.float32)
    # 1024-term float32 sums.
    assert_close(mod.forward(x, g, b), _layer_norm(x, g, b), 2e-5)


def test_mlp_softmax_is_one_group():
    mod = compile_ir(EXAMPLES / "mlp.mlir")
    [group] = [g for g in mod.detected_patterns() if g.pattern == "ReductionFusion"]
    assert group.ops.count("linalg.fill") == 2 and len(group.ops) == 6
