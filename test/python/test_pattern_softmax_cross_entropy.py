"""SoftmaxCrossEntropy (passes/softmax_cross_entropy.py), end to end.

The IR is written the ways a front end gives cross-entropy with integer
labels: torch-mlir's ``aten._log_softmax`` decomposition (keep-dim
reductions, a two-result max whose argmax is dead) followed by its native
``nll_loss_forward`` lowering (``linalg.index`` + ``tensor.extract`` gather,
``ignore_index = -100`` rows zeroed and left out of the mean's count);
torch's own ``nll_loss_forward`` decomposition (an i1 mask, a gather, a
``where``); and one-hot forms (``linalg.index 1 == label`` with ``select``
inside a class reduction, or a one-hot tensor multiplied in), after a
``softmax`` then ``log`` or a log-softmax. One module holds one entry point
per case, so each set costs one compile.

Results are compared with numpy float64 (log-sum-exp of the float32 inputs)
on fresh random inputs. Bound 2e-6 relative (max |err| / max |want|; about
2e-7 is seen): the per-row loss is log(s) + m - x[label] in float32 (a few
ulps of the largest of |m|, |x[label]|, lse), and the mean adds N = 20 of
them in float32. Logits of +-1e4 keep that bound in the fused build, where
``softmax`` then ``log`` unfused gives log(0) = -inf.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_close, compile_ir

BOUND = 2e-6
N, C = 20, 300         # 13-row tiles: the last one is partial
IGNORE = -100

HEADER = """#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#rows = affine_map<(d0, d1) -> (d0)>
#cols = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0) -> (d0)>
#all = affine_map<(d0) -> ()>
#first = affine_map<(d0) -> (0)>
"""
X = f"tensor<{N}x{C}xf32>"
ROW = f"tensor<{N}xf32>"


def log_softmax_torch() -> str:
    """torch-mlir's ``aten._log_softmax`` decomposition: %logp from %x."""
    return f"""
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0_i64 = arith.constant 0 : i64
  %keep_f = tensor.empty() : tensor<{N}x1xf32>
  %keep_i = tensor.empty() : tensor<{N}x1xi64>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%keep_f : tensor<{N}x1xf32>) -> tensor<{N}x1xf32>
  %arg_acc = linalg.fill ins(%c0_i64 : i64) outs(%keep_i : tensor<{N}x1xi64>) -> tensor<{N}x1xi64>
  %max:2 = linalg.generic {{indexing_maps = [#id, #keep, #keep], iterator_types = ["parallel", "reduction"]}}
      ins(%x : {X}) outs(%max_acc, %arg_acc : tensor<{N}x1xf32>, tensor<{N}x1xi64>) {{
  ^bb0(%in: f32, %m: f32, %arg: i64):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %mx = arith.maximumf %in, %m : f32
    %gt = arith.cmpf ogt, %in, %m : f32
    %a = arith.select %gt, %j64, %arg : i64
    linalg.yield %mx, %a : f32, i64
  }} -> (tensor<{N}x1xf32>, tensor<{N}x1xi64>)
  %full = tensor.empty() : {X}
  %shifted = linalg.generic {{indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%x, %max#0 : {X}, tensor<{N}x1xf32>) outs(%full : {X}) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  }} -> {X}
  %exp = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%shifted : {X}) outs(%full : {X}) {{
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  }} -> {X}
  %sum_acc = linalg.fill ins(%zero : f32) outs(%keep_f : tensor<{N}x1xf32>) -> tensor<{N}x1xf32>
  %sum = linalg.generic {{indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}}
      ins(%exp : {X}) outs(%sum_acc : tensor<{N}x1xf32>) {{
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  }} -> tensor<{N}x1xf32>
  %log = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%sum : tensor<{N}x1xf32>) outs(%keep_f : tensor<{N}x1xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %l = math.log %a : f32
    linalg.yield %l : f32
  }} -> tensor<{N}x1xf32>
  %logp = linalg.generic {{indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%shifted, %log : {X}, tensor<{N}x1xf32>) outs(%full : {X}) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  }} -> {X}
"""


def softmax_then_log(elem: str = "f32") -> str:
    """softmax (max, sub+exp, sum, div; [N] row values) then ``log``: %probs
    and %logp from %x. Unstable for large logits: probabilities underflow."""
    return f"""
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %rows_e = tensor.empty() : {ROW}
  %max_acc = linalg.fill ins(%ninf : f32) outs(%rows_e : {ROW}) -> {ROW}
  %max = linalg.generic {{indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}}
      ins(%x : {X}) outs(%max_acc : {ROW}) {{
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  }} -> {ROW}
  %full = tensor.empty() : {X}
  %exp = linalg.generic {{indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%x, %max : {X}, {ROW}) outs(%full : {X}) {{
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  }} -> {X}
  %sum_acc = linalg.fill ins(%zero : f32) outs(%rows_e : {ROW}) -> {ROW}
  %sum = linalg.generic {{indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}}
      ins(%exp : {X}) outs(%sum_acc : {ROW}) {{
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  }} -> {ROW}
  %probs = linalg.generic {{indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%exp, %sum : {X}, {ROW}) outs(%full : {X}) {{
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  }} -> {X}
  %logp = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%probs : {X}) outs(%full : {X}) {{
  ^bb0(%p: f32, %o: f32):
    %l = math.log %p : f32
    linalg.yield %l : f32
  }} -> {X}
"""


def torch_nll(reduction: str) -> str:
    """torch-mlir's ``nll_loss_forward`` (ignore_index = -100) on %logp."""
    text = f"""
  %ignore = arith.constant {IGNORE} : index
  %c0_i32 = arith.constant 0 : i32
  %nll_e = tensor.empty() : {ROW}
  %nll = linalg.generic {{indexing_maps = [#row, #row], iterator_types = ["parallel"]}}
      ins(%y : tensor<{N}xi64>) outs(%nll_e : {ROW}) {{
  ^bb0(%t: i64, %o: f32):
    %ti = arith.index_cast %t : i64 to index
    %skip = arith.cmpi eq, %ti, %ignore : index
    %i = linalg.index 0 : index
    %v = tensor.extract %logp[%i, %ti] : {X}
    %n = arith.negf %v : f32
    %r = arith.select %skip, %zero, %n : f32
    linalg.yield %r : f32
  }} -> {ROW}
"""
    if reduction == "none":
        return text + f"  return %nll : {ROW}\n"
    div = ""
    if reduction == "mean":
        text += f"""  %cnt_e = tensor.empty() : tensor<i32>
  %cnt_acc = linalg.fill ins(%c0_i32 : i32) outs(%cnt_e : tensor<i32>) -> tensor<i32>
  %cnt = linalg.generic {{indexing_maps = [#row, #all], iterator_types = ["reduction"]}}
      ins(%y : tensor<{N}xi64>) outs(%cnt_acc : tensor<i32>) {{
  ^bb0(%t: i64, %acc: i32):
    %ti = arith.index_cast %t : i64 to index
    %keep = arith.cmpi ne, %ti, %ignore : index
    %k = arith.extui %keep : i1 to i32
    %r = arith.addi %acc, %k : i32
    linalg.yield %r : i32
  }} -> tensor<i32>
  %count_i = tensor.extract %cnt[] : tensor<i32>
  %count = arith.sitofp %count_i : i32 to f32
"""
        div = "%a = arith.divf %v, %count : f32"
    else:
        div = "%a = arith.addf %v, %zero : f32"
    return text + f"""  %loss_e = tensor.empty() : tensor<f32>
  %loss_acc = linalg.fill ins(%zero : f32) outs(%loss_e : tensor<f32>) -> tensor<f32>
  %loss = linalg.generic {{indexing_maps = [#row, #all], iterator_types = ["reduction"]}}
      ins(%nll : {ROW}) outs(%loss_acc : tensor<f32>) {{
  ^bb0(%v: f32, %acc: f32):
    {div}
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  }} -> tensor<f32>
  return %loss : tensor<f32>
"""


def onehot_select_nll(label_elem: str = "i64", shift: int = 0) -> str:
    """-sum_j select(j == label + shift, logp, 0) per row, then sum / N into
    a tensor<1xf32>; with float labels the compare is a cmpf."""
    if label_elem == "i64":
        compare = f"""%t0 = arith.index_cast %lab : i64 to index
    %shift = arith.constant {shift} : index
    %t = arith.addi %t0, %shift : index
    %hit = arith.cmpi eq, %j, %t : index"""
    else:
        compare = f"""%ji = arith.index_cast %j : index to i64
    %jf = arith.sitofp %ji : i64 to {label_elem}
    %hit = arith.cmpf oeq, %jf, %lab : {label_elem}"""
    return f"""
  %n_rows = arith.constant {float(N)} : f32
  %pick_acc = linalg.fill ins(%zero : f32) outs(%rows_e : {ROW}) -> {ROW}
  %picked = linalg.generic {{indexing_maps = [#id, #rows, #rows], iterator_types = ["parallel", "reduction"]}}
      ins(%logp, %y : {X}, tensor<{N}x{label_elem}>) outs(%pick_acc : {ROW}) {{
  ^bb0(%lp: f32, %lab: {label_elem}, %acc: f32):
    %j = linalg.index 1 : index
    {compare}
    %s = arith.select %hit, %lp, %zero : f32
    %r = arith.addf %acc, %s : f32
    linalg.yield %r : f32
  }} -> {ROW}
  %neg = linalg.generic {{indexing_maps = [#row, #row], iterator_types = ["parallel"]}}
      ins(%picked : {ROW}) outs(%rows_e : {ROW}) {{
  ^bb0(%v: f32, %o: f32):
    %r = arith.negf %v : f32
    linalg.yield %r : f32
  }} -> {ROW}
  %tot_e = tensor.empty() : tensor<1xf32>
  %tot_acc = linalg.fill ins(%zero : f32) outs(%tot_e : tensor<1xf32>) -> tensor<1xf32>
  %tot = linalg.generic {{indexing_maps = [#row, #first], iterator_types = ["reduction"]}}
      ins(%neg : {ROW}) outs(%tot_acc : tensor<1xf32>) {{
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  }} -> tensor<1xf32>
  %loss = linalg.generic {{indexing_maps = [#row, #row], iterator_types = ["parallel"]}}
      ins(%tot : tensor<1xf32>) outs(%tot_e : tensor<1xf32>) {{
  ^bb0(%v: f32, %o: f32):
    %r = arith.divf %v, %n_rows : f32
    linalg.yield %r : f32
  }} -> tensor<1xf32>
"""


def onehot_mask_nll() -> str:
    """A one-hot f32 tensor, multiplied into %logp, summed over classes, then
    the loss summed over rows with the negation in the accumulation."""
    return f"""
  %one_f = arith.constant 1.0 : f32
  %oh_e = tensor.empty() : {X}
  %onehot = linalg.generic {{indexing_maps = [#rows, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%y : tensor<{N}xi64>) outs(%oh_e : {X}) {{
  ^bb0(%lab: i64, %o: f32):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %hit = arith.cmpi eq, %j64, %lab : i64
    %r = arith.select %hit, %one_f, %zero : f32
    linalg.yield %r : f32
  }} -> {X}
  %prod = linalg.generic {{indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%logp, %onehot : {X}, {X}) outs(%oh_e : {X}) {{
  ^bb0(%lp: f32, %h: f32, %o: f32):
    %r = arith.mulf %lp, %h : f32
    linalg.yield %r : f32
  }} -> {X}
  %rs_e = tensor.empty() : {ROW}
  %rs_acc = linalg.fill ins(%zero : f32) outs(%rs_e : {ROW}) -> {ROW}
  %rowsum = linalg.generic {{indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}}
      ins(%prod : {X}) outs(%rs_acc : {ROW}) {{
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  }} -> {ROW}
  %loss_e = tensor.empty() : tensor<f32>
  %loss_acc = linalg.fill ins(%zero : f32) outs(%loss_e : tensor<f32>) -> tensor<f32>
  %loss = linalg.generic {{indexing_maps = [#row, #all], iterator_types = ["reduction"]}}
      ins(%rowsum : {ROW}) outs(%loss_acc : tensor<f32>) {{
  ^bb0(%v: f32, %acc: f32):
    %r = arith.subf %acc, %v : f32
    linalg.yield %r : f32
  }} -> tensor<f32>
  return %loss : tensor<f32>
"""


def decomposed_nll() -> str:
    """torch._decomp's ``nll_loss_forward`` (mean): an i1 mask, the target
    zeroed where ignored, a gather, ``where``, sum / mask.sum()."""
    return f"""
  %ign = arith.constant {IGNORE} : i64
  %c0 = arith.constant 0 : i64
  %m_e = tensor.empty() : tensor<{N}xi1>
  %mask = linalg.generic {{indexing_maps = [#row, #row], iterator_types = ["parallel"]}}
      ins(%y : tensor<{N}xi64>) outs(%m_e : tensor<{N}xi1>) {{
  ^bb0(%t: i64, %o: i1):
    %r = arith.cmpi ne, %t, %ign : i64
    linalg.yield %r : i1
  }} -> tensor<{N}xi1>
  %t_e = tensor.empty() : tensor<{N}xi64>
  %safe = linalg.generic {{indexing_maps = [#row, #row, #row], iterator_types = ["parallel"]}}
      ins(%y, %mask : tensor<{N}xi64>, tensor<{N}xi1>) outs(%t_e : tensor<{N}xi64>) {{
  ^bb0(%t: i64, %k: i1, %o: i64):
    %k64 = arith.extui %k : i1 to i64
    %r = arith.muli %t, %k64 : i64
    linalg.yield %r : i64
  }} -> tensor<{N}xi64>
  %g_e = tensor.empty() : {ROW}
  %gathered = linalg.generic {{indexing_maps = [#row, #row], iterator_types = ["parallel"]}}
      ins(%safe : tensor<{N}xi64>) outs(%g_e : {ROW}) {{
  ^bb0(%t: i64, %o: f32):
    %i = linalg.index 0 : index
    %ti = arith.index_cast %t : i64 to index
    %v = tensor.extract %logp[%i, %ti] : {X}
    linalg.yield %v : f32
  }} -> {ROW}
  %where = linalg.generic {{indexing_maps = [#row, #row, #row], iterator_types = ["parallel"]}}
      ins(%mask, %gathered : tensor<{N}xi1>, {ROW}) outs(%g_e : {ROW}) {{
  ^bb0(%k: i1, %v: f32, %o: f32):
    %n = arith.negf %v : f32
    %r = arith.select %k, %n, %zero : f32
    linalg.yield %r : f32
  }} -> {ROW}
  %s_e = tensor.empty() : tensor<f32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_e : tensor<f32>) -> tensor<f32>
  %total = linalg.generic {{indexing_maps = [#row, #all], iterator_types = ["reduction"]}}
      ins(%where : {ROW}) outs(%s_acc : tensor<f32>) {{
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  }} -> tensor<f32>
  %count = linalg.generic {{indexing_maps = [#row, #all], iterator_types = ["reduction"]}}
      ins(%mask : tensor<{N}xi1>) outs(%s_acc : tensor<f32>) {{
  ^bb0(%k: i1, %acc: f32):
    %kf = arith.uitofp %k : i1 to f32
    %r = arith.addf %kf, %acc : f32
    linalg.yield %r : f32
  }} -> tensor<f32>
  %loss = linalg.generic {{indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []}}
      ins(%total, %count : tensor<f32>, tensor<f32>) outs(%s_e : tensor<f32>) {{
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.divf %a, %b : f32
    linalg.yield %r : f32
  }} -> tensor<f32>
  return %loss : tensor<f32>
"""


def func(name: str, body: str, result: str, labels: str = "i64", extra_result: str = "") -> str:
    results = f"({result}, {extra_result})" if extra_result else result
    return (f"func.func @{name}(%x: {X}, %y: tensor<{N}x{labels}>) -> {results} {{"
            + body + "}\n")


POSITIVE = {
    # name -> (IR, reduction, ignore_index)
    "torch_mean": (func("torch_mean", log_softmax_torch() + torch_nll("mean"), "tensor<f32>"),
                   "mean", IGNORE),
    "torch_sum": (func("torch_sum", log_softmax_torch() + torch_nll("sum"), "tensor<f32>"),
                  "sum", IGNORE),
    "torch_none": (func("torch_none", log_softmax_torch() + torch_nll("none"), ROW),
                   "none", IGNORE),
    "softmax_log_onehot": (func("softmax_log_onehot", softmax_then_log() + onehot_select_nll()
                                + "  return %loss : tensor<1xf32>\n", "tensor<1xf32>"),
                           "mean", None),
    "onehot_mask": (func("onehot_mask", softmax_then_log() + onehot_mask_nll(), "tensor<f32>"),
                    "sum", None),
    "decomposed": (func("decomposed", log_softmax_torch() + decomposed_nll(), "tensor<f32>"),
                   "mean", IGNORE),
}


def reference(x, y, reduction, ignore):
    x = x.astype(np.float64)
    m = x.max(axis=1)
    lse = np.log(np.exp(x - m[:, None]).sum(axis=1)) + m
    valid = np.ones(len(y), bool) if ignore is None else y != ignore
    rows = np.where(valid, lse - x[np.arange(len(y)), np.where(valid, y, 0)], 0.0)
    if reduction == "none":
        return rows
    if reduction == "sum":
        return np.asarray(rows.sum())
    return np.asarray(rows.sum() / valid.sum())


def _inputs(rng, scale=3.0, ignore=None):
    x = (rng.standard_normal((N, C)) * scale).astype(np.float32)
    y = rng.integers(0, C, N).astype(np.int64)
    if ignore is not None:
        y[rng.choice(N, 5, replace=False)] = ignore
    return x, y


@pytest.fixture(scope="module")
def fused():
    return compile_ir(HEADER + "".join(ir for ir, _, _ in POSITIVE.values()))


@pytest.mark.parametrize("name", list(POSITIVE))
def test_matches_numpy(fused, rng, name):
    _, reduction, ignore = POSITIVE[name]
    x, y = _inputs(rng, ignore=ignore)
    got = fused[name](x, y)
    want = reference(x, y, reduction, ignore)
    assert_close(np.reshape(got, want.shape), want, BOUND, name)


def test_every_form_detected(fused):
    found = {g.function: g for g in fused.detected_patterns() if g.pattern == "SoftmaxCrossEntropy"}
    assert set(found) == set(POSITIVE)
    for g in found.values():
        # root (per-row loss), exp-sum, max, their two fills
        assert g.ops == ("linalg.generic",) * 3 + ("linalg.fill",) * 2
        assert "fused)" in g.location   # the matched ops' locations, e.g. "<input>:17:12 (+8 fused)"
    assert not [m for m in fused.report().near_misses if m.pattern == "SoftmaxCrossEntropy"]


@pytest.mark.parametrize("scale", [1e4, 3e3])
def test_large_logits_stable(rng, scale):
    """Logits of +-1e4: float64 log-sum-exp is finite and the fused loss
    matches it; softmax then log unfused takes log(0) = -inf."""
    text = HEADER + POSITIVE["softmax_log_onehot"][0] + POSITIVE["torch_none"][0]
    fused_mod, unfused = compile_ir(text), compile_ir(text, patterns=[])
    x, y = _inputs(rng, scale=scale)
    x[0, :] = 1e4                      # a row of ties at the top of the range
    x[1, :] = -1e4
    x[2, y[2]] = -1e4                  # the label's logit far below the max
    for name, reduction in (("softmax_log_onehot", "mean"), ("torch_none", "none")):
        want = reference(x, y, reduction, None)
        assert np.all(np.isfinite(want))
        got = np.reshape(fused_mod[name](x, y), want.shape)
        assert_close(got, want, BOUND, f"{name} fused, logits x{scale:g}")
    assert not np.all(np.isfinite(unfused["softmax_log_onehot"](x, y)))


def test_ignored_rows_left_out_of_mean(fused, rng):
    """ignore_index rows (and only those) are left out of the mean."""
    x, y = _inputs(rng)
    y[:] = IGNORE
    y[3] = 7
    got = fused["torch_mean"](x, y)
    want = reference(x, y, "mean", IGNORE)
    assert_close(got, want, BOUND)


def log_softmax_dim0() -> str:
    """log_softmax over dim 0 (columns): %logp from %x."""
    return f"""
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %rows_e = tensor.empty() : {ROW}
  %cols_e = tensor.empty() : tensor<{C}xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%cols_e : tensor<{C}xf32>) -> tensor<{C}xf32>
  %max = linalg.generic {{indexing_maps = [#id, #cols], iterator_types = ["reduction", "parallel"]}}
      ins(%x : {X}) outs(%max_acc : tensor<{C}xf32>) {{
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  }} -> tensor<{C}xf32>
  %full = tensor.empty() : {X}
  %exp = linalg.generic {{indexing_maps = [#id, #cols, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%x, %max : {X}, tensor<{C}xf32>) outs(%full : {X}) {{
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  }} -> {X}
  %sum_acc = linalg.fill ins(%zero : f32) outs(%cols_e : tensor<{C}xf32>) -> tensor<{C}xf32>
  %sum = linalg.generic {{indexing_maps = [#id, #cols], iterator_types = ["reduction", "parallel"]}}
      ins(%exp : {X}) outs(%sum_acc : tensor<{C}xf32>) {{
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  }} -> tensor<{C}xf32>
  %logp = linalg.generic {{indexing_maps = [#id, #cols, #cols, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%x, %max, %sum : {X}, tensor<{C}xf32>, tensor<{C}xf32>) outs(%full : {X}) {{
  ^bb0(%a: f32, %m: f32, %s: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %l = math.log %s : f32
    %r = arith.subf %d, %l : f32
    linalg.yield %r : f32
  }} -> {X}
"""


def negative_cases() -> dict[str, str]:
    one_hot = onehot_select_nll()
    return {
        # the probabilities are returned too
        "probs_escape": func("probs_escape", softmax_then_log() + one_hot
                             + f"  return %loss, %probs : tensor<1xf32>, {X}\n",
                             "tensor<1xf32>", extra_result=X),
        "float_labels": func("float_labels", softmax_then_log() + onehot_select_nll("f32")
                             + "  return %loss : tensor<1xf32>\n", "tensor<1xf32>",
                             labels="f32"),
        "dim0": func("dim0", log_softmax_dim0() + one_hot + "  return %loss : tensor<1xf32>\n",
                     "tensor<1xf32>"),
        # reads the log-probability next to the label's: looks alike, is not
        "next_class": func("next_class", log_softmax_torch() + "  %rows_e = tensor.empty() : "
                           + ROW + "\n" + onehot_select_nll(shift=1)
                           + "  return %loss : tensor<1xf32>\n", "tensor<1xf32>"),
    }


NEGATIVE = HEADER + "".join(negative_cases().values())


def test_negative_cases_stay_unfused(rng):
    # This pattern alone: what the other patterns make of the leftovers is
    # tested in their own files.
    mod = compile_ir(NEGATIVE, patterns=["SoftmaxCrossEntropy"])
    assert not [g for g in mod.detected_patterns() if g.pattern == "SoftmaxCrossEntropy"]
    reasons = [m.reason for m in mod.report().near_misses if m.pattern == "SoftmaxCrossEntropy"]
    assert any(r.startswith("intermediate has a second user outside the group") for r in reasons)
    assert any(r.startswith("labels of non-integer type") for r in reasons)
    assert any(r.startswith("softmax reduction over a non-last dim") for r in reasons)
    assert any(r.startswith("the ops do not compute softmax cross-entropy") for r in reasons)
    # Still right, unfused.
    x, y = _inputs(rng)
    loss, probs = mod["probs_escape"](x, y)
    assert_close(np.reshape(loss, ()), reference(x, y, "mean", None), BOUND)
    e = np.exp(x - x.max(axis=1, keepdims=True).astype(np.float64))
    assert_close(probs, e / e.sum(axis=1, keepdims=True), 1e-5, "probs")
    assert_close(np.reshape(mod["float_labels"](x, y.astype(np.float32)), ()),
                 reference(x, y, "mean", None), BOUND, "float labels")


# -- a `?` row count: one kernel for every batch size ----------------------------

def dynamic_rows(text: str) -> str:
    """``text`` with its N rows made ``?`` (the classes stay C): every
    N-row tensor type gets a ``?``, every such ``tensor.empty`` takes the
    row count of %x."""
    text = text.replace(f"tensor<{N}x", "tensor<?x")
    lines = []
    for line in text.splitlines():
        if "tensor.empty()" in line and ": tensor<?x" in line:
            line = line.replace("tensor.empty()", "tensor.empty(%rows_n)")
        lines.append(line)
        if line.startswith("func.func"):
            lines += ["  %c0_rows = arith.constant 0 : index",
                      f"  %rows_n = tensor.dim %x, %c0_rows : tensor<?x{C}xf32>"]
    return "\n".join(lines) + "\n"


def mean_by_rows() -> str:
    """The per-row losses summed, then divided by the row count of %x (what
    ``loss.mean()`` of ``reduction="none"`` gives on a `?` batch)."""
    nll = torch_nll("none").replace(f"  return %nll : {ROW}\n", "")
    return nll + f"""  %loss_e = tensor.empty() : tensor<f32>
  %loss_acc = linalg.fill ins(%zero : f32) outs(%loss_e : tensor<f32>) -> tensor<f32>
  %total = linalg.generic {{indexing_maps = [#row, #all], iterator_types = ["reduction"]}}
      ins(%nll : {ROW}) outs(%loss_acc : tensor<f32>) {{
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  }} -> tensor<f32>
  %rows_i = arith.index_cast %rows_n : index to i64
  %rows_f = arith.sitofp %rows_i : i64 to f32
  %loss = linalg.generic {{indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>],
      iterator_types = []}} ins(%total : tensor<f32>) outs(%loss_e : tensor<f32>) {{
  ^bb0(%v: f32, %o: f32):
    %r = arith.divf %v, %rows_f : f32
    linalg.yield %r : f32
  }} -> tensor<f32>
  return %loss : tensor<f32>
"""


DYNAMIC = {name: POSITIVE[name] for name in ("torch_mean", "torch_sum", "torch_none",
                                              "decomposed")}
# reduction "mean" by the row count: the rows' sum times 1 / N, N from %x.
DYNAMIC["mean_by_rows"] = (func("mean_by_rows", log_softmax_torch() + mean_by_rows(),
                                "tensor<f32>"), "mean-rows", IGNORE)


@pytest.fixture(scope="module")
def fused_dynamic():
    return compile_ir(HEADER + "".join(dynamic_rows(ir) for ir, _, _ in DYNAMIC.values()))


def test_dynamic_rows_detected(fused_dynamic):
    found = {g.function for g in fused_dynamic.detected_patterns()
             if g.pattern == "SoftmaxCrossEntropy"}
    assert found == set(DYNAMIC)
    assert str(fused_dynamic.functions["torch_none"]).startswith(
        f"torch_none(arg0: f32[?,{C}], arg1: i64[?])")


@pytest.mark.parametrize("name", list(DYNAMIC))
def test_dynamic_rows_match_numpy(fused_dynamic, rng, name):
    """One compiled kernel per form, called at 1, 7 and 50 rows (13-row
    tiles: 50 ends in a partial one), ignore_index rows included."""
    _, reduction, ignore = DYNAMIC[name]
    for rows in (1, 7, 50):
        x = (rng.standard_normal((rows, C)) * 3.0).astype(np.float32)
        y = rng.integers(0, C, rows).astype(np.int64)
        if rows > 1:
            y[rng.choice(rows, rows // 3, replace=False)] = ignore
        got = fused_dynamic[name](x, y)
        if reduction == "mean-rows":
            want = reference(x, y, "sum", ignore) / rows
        else:
            want = reference(x, y, reduction, ignore)
        assert_close(np.reshape(got, want.shape), want, BOUND, f"{name}, {rows} rows")


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_dynamic_batch_cross_entropy_matches_pytorch(rng, reduction):
    """F.cross_entropy after a Linear, compiled with a `?` batch: one kernel
    for batches of 1, 5 and 40 (ignore_index rows included), checked
    against PyTorch in float64."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    import axfusion
    classes = 50

    class Loss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(16, classes)

        def forward(self, x, labels):
            return torch.nn.functional.cross_entropy(self.fc(x), labels, reduction=reduction)

    torch.manual_seed(int(rng.integers(2**31)))
    model = Loss().eval()

    def inputs(b):
        x = torch.from_numpy(rng.standard_normal((b, 16)).astype(np.float32) * 3)
        y = rng.integers(0, classes, b)
        if b > 1:
            y[rng.choice(b, b // 3, replace=False)] = IGNORE
        return x, torch.from_numpy(y.astype(np.int64))

    mod = axfusion.compile(model, inputs(8), dynamic_dims={0: "batch"})
    assert "SoftmaxCrossEntropy" in {g.pattern for g in mod.detected_patterns()}
    for b in (1, 5, 40):
        args = inputs(b)
        with torch.no_grad():
            want = model.double()(args[0].double(), args[1]).numpy()
        model.float()
        got = mod(*args).numpy()
        assert_close(np.reshape(got, want.shape), want, BOUND, f"batch {b}")
    assert "1 specialisation" in repr(mod)
