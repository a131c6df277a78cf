"""The Attention pattern: softmax(Q K^T * scale + mask) V becomes one
flash-attention kernel (online softmax, no [Sq, Sk] score matrix); checked
against numpy float64 (and nn.MultiheadAttention against PyTorch eager in
float64) on fresh random inputs (max relative error <= 1e-4;
the kernel's exp2 polynomial is accurate to ~1e-7 and the key blocks are
summed in a different order than numpy's).

The IR is written the way torch-mlir imports ``softmax(q @ k.transpose(-2,
-1) / sqrt(d) + mask) @ v`` for [B, H, S, D] tensors: heads collapsed into
one batch dim around ``linalg.batch_matmul`` (``tensor.collapse_shape`` /
``expand_shape``), the scale, mask add and every softmax step its own
``linalg.generic``, the row statistics kept as [B, H, S, 1]. With
``safe=True`` it ends like PyTorch's ``_safe_softmax`` (what
``nn.MultiheadAttention`` imports as): rows whose every score is -inf are
selected to 0 (an i1 ``x == -inf`` test, an ``andi`` row reduction, a
select), and the kernel must give those zeros, not NaN.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_close, compile_ir

BOUND = 1e-4


def _t(shape) -> str:
    return "tensor<" + "".join(f"{s}x" for s in shape) + "f32>"


def attention_ir(s: int, *, b: int = 1, h: int = 2, d: int = 16, sk: int | None = None,
                 mask: str | None = "ss", k_form: str = "transpose4d",
                 exp_form: str = "two", scale_form: str = "div", keepdim: bool = True,
                 probs_returned: bool = False, safe: bool = False) -> str:
    """``@forward(q[B,H,S,D], k[B,H,Sk,D], v[B,H,Sk,D], mask?) -> [B,H,S,D]``.

    mask: None, "ss" ([S, Sk] broadcast over B, H), "b11k" ([B, 1, 1, Sk]
    padding mask), "full" ([B, H, S, Sk]), "toeplitz" (relative-position
    bias indexed by i + j: not a broadcast). k_form: "transpose4d" (K^T by a
    4-D linalg.transpose, then collapsed), "transpose3d" (collapsed, then
    transposed), "maps" (batch_matmul with transposed indexing maps).
    exp_form: "two" (subf, then exp) or "one". scale_form: "div", "mul", "q"
    (Q scaled before the product), "none". safe: torch's _safe_softmax select
    after the division.
    """
    sk = sk or s
    bh = b * h
    scale = float(np.sqrt(d))
    rows = [b, h, s, 1] if keepdim else [b, h, s]
    row_map = "(d0, d1, d2, 0)" if keepdim else "(d0, d1, d2)"
    args = [f"%q: {_t([b, h, s, d])}", f"%k: {_t([b, h, sk, d])}", f"%v: {_t([b, h, sk, d])}"]
    mask_shape, mask_map = {
        None: (None, None),
        "ss": ([s, sk], "(d2, d3)"),
        "b11k": ([b, 1, 1, sk], "(d0, 0, 0, d3)"),
        "full": ([b, h, s, sk], "(d0, d1, d2, d3)"),
        "toeplitz": ([s + sk - 1], "(d2 + d3)"),
    }[mask]
    if mask:
        args.append(f"%mask: {_t(mask_shape)}")
    results = [_t([b, h, s, d])] + ([_t([b, h, s, sk])] if probs_returned else [])
    L = [f"func.func @forward({', '.join(args)}) -> ({', '.join(results)}) {{",
         "  %zero = arith.constant 0.0 : f32",
         "  %ninf = arith.constant 0xFF800000 : f32",
         f"  %scale = arith.constant {scale!r} : f32",
         f"  %rscale = arith.constant {1.0 / scale!r} : f32"]
    id4 = "affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>"
    par4 = '["parallel", "parallel", "parallel", "parallel"]'
    q = "%q"
    if scale_form == "q":
        L += [f"  %qs_init = tensor.empty() : {_t([b, h, s, d])}",
              f"  %qs = linalg.generic {{indexing_maps = [{id4}, {id4}], iterator_types = {par4}}}"
              f" ins(%q : {_t([b, h, s, d])}) outs(%qs_init : {_t([b, h, s, d])}) {{",
              "  ^bb0(%a: f32, %o: f32):",
              "    %r = arith.mulf %a, %rscale : f32",
              "    linalg.yield %r : f32",
              f"  }} -> {_t([b, h, s, d])}"]
        q = "%qs"
    L.append(f"  %q3 = tensor.collapse_shape {q} [[0, 1], [2], [3]] : {_t([b, h, s, d])} "
             f"into {_t([bh, s, d])}")
    bmm_maps = ""
    if k_form == "transpose4d":
        L += [f"  %kt_init = tensor.empty() : {_t([b, h, d, sk])}",
              f"  %kt = linalg.transpose ins(%k : {_t([b, h, sk, d])}) outs(%kt_init : "
              f"{_t([b, h, d, sk])}) permutation = [0, 1, 3, 2]",
              f"  %k3 = tensor.collapse_shape %kt [[0, 1], [2], [3]] : {_t([b, h, d, sk])} "
              f"into {_t([bh, d, sk])}"]
    elif k_form == "transpose3d":
        L += [f"  %kc = tensor.collapse_shape %k [[0, 1], [2], [3]] : {_t([b, h, sk, d])} "
              f"into {_t([bh, sk, d])}",
              f"  %kt_init = tensor.empty() : {_t([bh, d, sk])}",
              f"  %k3 = linalg.transpose ins(%kc : {_t([bh, sk, d])}) outs(%kt_init : "
              f"{_t([bh, d, sk])}) permutation = [0, 2, 1]"]
    else:
        L += [f"  %k3 = tensor.collapse_shape %k [[0, 1], [2], [3]] : {_t([b, h, sk, d])} "
              f"into {_t([bh, sk, d])}"]
        bmm_maps = (" indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>, "
                    "affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>, "
                    "affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>]")
    k3_type = _t([bh, sk, d]) if k_form == "maps" else _t([bh, d, sk])
    x4 = _t([b, h, s, sk])
    L += [f"  %v3 = tensor.collapse_shape %v [[0, 1], [2], [3]] : {_t([b, h, sk, d])} "
          f"into {_t([bh, sk, d])}",
          f"  %s_init = tensor.empty() : {_t([bh, s, sk])}",
          f"  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : {_t([bh, s, sk])}) "
          f"-> {_t([bh, s, sk])}",
          f"  %s3 = linalg.batch_matmul{bmm_maps} ins(%q3, %k3 : {_t([bh, s, d])}, {k3_type}) "
          f"outs(%s_acc : {_t([bh, s, sk])}) -> {_t([bh, s, sk])}",
          f"  %s4 = tensor.expand_shape %s3 [[0, 1], [2], [3]] output_shape [{b}, {h}, {s}, {sk}]"
          f" : {_t([bh, s, sk])} into {x4}",
          f"  %x_init = tensor.empty() : {x4}"]
    x = "%s4"
    if scale_form in ("div", "mul"):
        op, c = ("divf", "%scale") if scale_form == "div" else ("mulf", "%rscale")
        L += [f"  %sc = linalg.generic {{indexing_maps = [{id4}, {id4}], iterator_types = {par4}}}"
              f" ins(%s4 : {x4}) outs(%x_init : {x4}) {{",
              "  ^bb0(%a: f32, %o: f32):",
              f"    %r = arith.{op} %a, {c} : f32",
              "    linalg.yield %r : f32",
              f"  }} -> {x4}"]
        x = "%sc"
    if mask:
        L += [f"  %sm = linalg.generic {{indexing_maps = [{id4}, "
              f"affine_map<(d0, d1, d2, d3) -> {mask_map}>, {id4}], iterator_types = {par4}}}"
              f" ins({x}, %mask : {x4}, {_t(mask_shape)}) outs(%x_init : {x4}) {{",
              "  ^bb0(%a: f32, %m: f32, %o: f32):",
              "    %r = arith.addf %a, %m : f32",
              "    linalg.yield %r : f32",
              f"  }} -> {x4}"]
        x = "%sm"
    red = '["parallel", "parallel", "parallel", "reduction"]'
    rmap = f"affine_map<(d0, d1, d2, d3) -> {row_map}>"
    L += [f"  %row_init = tensor.empty() : {_t(rows)}",
          f"  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : {_t(rows)}) -> {_t(rows)}",
          f"  %max = linalg.generic {{indexing_maps = [{id4}, {rmap}], iterator_types = {red}}}"
          f" ins({x} : {x4}) outs(%max_acc : {_t(rows)}) {{",
          "  ^bb0(%a: f32, %m: f32):",
          "    %r = arith.maximumf %a, %m : f32",
          "    linalg.yield %r : f32",
          f"  }} -> {_t(rows)}"]
    if exp_form == "two":
        L += [f"  %sub = linalg.generic {{indexing_maps = [{id4}, {rmap}, {id4}], "
              f"iterator_types = {par4}}} ins({x}, %max : {x4}, {_t(rows)}) "
              f"outs(%x_init : {x4}) {{",
              "  ^bb0(%a: f32, %m: f32, %o: f32):",
              "    %r = arith.subf %a, %m : f32",
              "    linalg.yield %r : f32",
              f"  }} -> {x4}",
              f"  %exp = linalg.generic {{indexing_maps = [{id4}, {id4}], iterator_types = {par4}}}"
              f" ins(%sub : {x4}) outs(%x_init : {x4}) {{",
              "  ^bb0(%a: f32, %o: f32):",
              "    %r = math.exp %a : f32",
              "    linalg.yield %r : f32",
              f"  }} -> {x4}"]
    else:
        L += [f"  %exp = linalg.generic {{indexing_maps = [{id4}, {rmap}, {id4}], "
              f"iterator_types = {par4}}} ins({x}, %max : {x4}, {_t(rows)}) "
              f"outs(%x_init : {x4}) {{",
              "  ^bb0(%a: f32, %m: f32, %o: f32):",
              "    %d = arith.subf %a, %m : f32",
              "    %r = math.exp %d : f32",
              "    linalg.yield %r : f32",
              f"  }} -> {x4}"]
    L += [f"  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : {_t(rows)}) -> {_t(rows)}",
          f"  %sum = linalg.generic {{indexing_maps = [{id4}, {rmap}], iterator_types = {red}}}"
          f" ins(%exp : {x4}) outs(%sum_acc : {_t(rows)}) {{",
          "  ^bb0(%a: f32, %m: f32):",
          "    %r = arith.addf %a, %m : f32",
          "    linalg.yield %r : f32",
          f"  }} -> {_t(rows)}",
          f"  %p = linalg.generic {{indexing_maps = [{id4}, {rmap}, {id4}], "
          f"iterator_types = {par4}}} ins(%exp, %sum : {x4}, {_t(rows)}) outs(%x_init : {x4}) {{",
          "  ^bb0(%a: f32, %m: f32, %o: f32):",
          "    %r = arith.divf %a, %m : f32",
          "    linalg.yield %r : f32",
          f"  }} -> {x4}"]
    p = "%p"
    if safe:   # torch-mlir's import of aten._safe_softmax's where(all(x == -inf), 0, p)
        i1x, i1r = _t([b, h, s, sk]).replace("f32", "i1"), _t(rows).replace("f32", "i1")
        L += ["  %dninf = arith.constant 0xFFF0000000000000 : f64",
              "  %true = arith.constant true",
              f"  %zeros = arith.constant dense<0.0> : {x4}",
              f"  %t_init = tensor.empty() : {i1x}",
              f"  %t = linalg.generic {{indexing_maps = [{id4}, {id4}], iterator_types = {par4}}}"
              f" ins({x} : {x4}) outs(%t_init : {i1x}) {{",
              "  ^bb0(%a: f32, %o: i1):",
              "    %w = arith.extf %a : f32 to f64",
              "    %r = arith.cmpf oeq, %w, %dninf : f64",
              "    linalg.yield %r : i1",
              f"  }} -> {i1x}",
              f"  %all_init = tensor.empty() : {i1r}",
              f"  %all_acc = linalg.fill ins(%true : i1) outs(%all_init : {i1r}) -> {i1r}",
              f"  %all = linalg.generic {{indexing_maps = [{id4}, {rmap}], iterator_types = {red}}}"
              f" ins(%t : {i1x}) outs(%all_acc : {i1r}) {{",
              "  ^bb0(%a: i1, %o: i1):",
              "    %r = arith.andi %a, %o : i1",
              "    linalg.yield %r : i1",
              f"  }} -> {i1r}",
              f"  %ps = linalg.generic {{indexing_maps = [{rmap}, {id4}, {id4}, {id4}], "
              f"iterator_types = {par4}}} ins(%all, %zeros, %p : {i1r}, {x4}, {x4}) "
              f"outs(%x_init : {x4}) {{",
              "  ^bb0(%c: i1, %z: f32, %a: f32, %o: f32):",
              "    %r = arith.select %c, %z, %a : f32",
              "    linalg.yield %r : f32",
              f"  }} -> {x4}"]
        p = "%ps"
    L += [f"  %p3 = tensor.collapse_shape {p} [[0, 1], [2], [3]] : {x4} into {_t([bh, s, sk])}",
          f"  %o_init = tensor.empty() : {_t([bh, s, d])}",
          f"  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : {_t([bh, s, d])}) "
          f"-> {_t([bh, s, d])}",
          f"  %o3 = linalg.batch_matmul ins(%p3, %v3 : {_t([bh, s, sk])}, {_t([bh, sk, d])}) "
          f"outs(%o_acc : {_t([bh, s, d])}) -> {_t([bh, s, d])}",
          f"  %o = tensor.expand_shape %o3 [[0, 1], [2], [3]] output_shape [{b}, {h}, {s}, {d}]"
          f" : {_t([bh, s, d])} into {_t([b, h, s, d])}"]
    rets = ["%o"] + ([p] if probs_returned else [])
    L += [f"  return {', '.join(rets)} : {', '.join(results)}", "}"]
    return "\n".join(L) + "\n"


def reference(q, k, v, mask=None, mask_kind=None):
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    sc = np.einsum("bhid,bhjd->bhij", q, k) / np.sqrt(q.shape[-1])
    if mask is not None:
        m = np.asarray(mask, np.float64)
        sc = sc + (m.reshape(m.shape) if mask_kind != "toeplitz" else
                   m[np.add.outer(np.arange(q.shape[2]), np.arange(k.shape[2]))])
    masked = np.all(sc == -np.inf, axis=-1, keepdims=True)   # 0 there (safe softmax)
    sc = np.where(masked, 0.0, sc - np.where(masked, 0.0, sc.max(-1, keepdims=True)))
    p = np.exp(sc)
    p = np.where(masked, 0.0, p / p.sum(-1, keepdims=True))
    return np.einsum("bhij,bhjd->bhid", p, v), p


def _inputs(rng, s, b=1, h=2, d=16, sk=None, mask=None):
    sk = sk or s
    q = rng.standard_normal((b, h, s, d)).astype(np.float32)
    k = rng.standard_normal((b, h, sk, d)).astype(np.float32)
    v = rng.standard_normal((b, h, sk, d)).astype(np.float32)
    shapes = {"ss": (s, sk), "b11k": (b, 1, 1, sk), "full": (b, h, s, sk),
              "toeplitz": (s + sk - 1,)}
    m = None
    if mask:
        m = rng.standard_normal(shapes[mask]).astype(np.float32)
    if mask == "ss":   # causal, as -inf above the diagonal (key 0 is always kept)
        m = np.where(np.tri(s, sk, dtype=bool), m, -np.inf).astype(np.float32)
    return [q, k, v] + ([m] if m is not None else [])


def _patterns(mod) -> list[str]:
    return [g.pattern for g in mod.detected_patterns()]


CASES = [
    # (s, kwargs): torch-mlir's form and its variants
    (64, dict()),
    (128, dict(mask=None, k_form="transpose3d", exp_form="one", scale_form="mul")),
    (192, dict(mask="b11k", k_form="maps", keepdim=False, b=2, h=2)),
    (256, dict(mask="full", scale_form="q", d=32)),
    (512, dict(h=4, d=64)),
    (96, dict(sk=320, mask="ss")),          # cross-attention: Sq != Sk, unaligned blocks
    (20, dict(sk=100, d=12, mask="b11k")),  # one odd-sized block each way
]


@pytest.mark.parametrize("s,kw", CASES, ids=[f"S{s}-{i}" for i, (s, _) in enumerate(CASES)])
def test_attention_matches_numpy(rng, s, kw):
    mod = compile_ir(attention_ir(s, **kw))
    assert _patterns(mod) == ["Attention"]
    dims = {k: kw[k] for k in ("b", "h", "d", "sk") if k in kw}
    args = _inputs(rng, s, mask=kw.get("mask", "ss"), **dims)
    want, _ = reference(*args[:3], *(args[3:] or [None]))
    assert_close(mod.forward(*args), want, BOUND, "attention")


@pytest.mark.slow
def test_attention_s2048(rng):
    mod = compile_ir(attention_ir(2048, h=2, d=64))
    assert _patterns(mod) == ["Attention"]
    args = _inputs(rng, 2048, h=2, d=64, mask="ss")
    want, _ = reference(*args)
    assert_close(mod.forward(*args), want, BOUND, "attention S=2048")


def _near_misses(mod) -> list[str]:
    return [m.reason for m in mod.report().near_misses if m.pattern == "Attention"]


def test_probabilities_returned_stay_unfused(rng):
    mod = compile_ir(attention_ir(64, probs_returned=True))
    assert "Attention" not in _patterns(mod)
    assert ("attention probabilities have a second user outside the group "
            "(the score matrix must be materialised)") in _near_misses(mod)
    args = _inputs(rng, 64, mask="ss")
    want, p = reference(*args)
    out, probs = mod.forward(*args)
    assert_close(out, want, BOUND, "attention")
    assert_close(probs, p, BOUND, "probabilities")


def test_mask_not_broadcastable_stays_unfused(rng):
    mod = compile_ir(attention_ir(64, mask="toeplitz"))
    assert "Attention" not in _patterns(mod)
    assert "mask is not broadcastable to the score matrix" in _near_misses(mod)
    args = _inputs(rng, 64, mask="toeplitz")
    want, _ = reference(*args, mask_kind="toeplitz")
    assert_close(mod.forward(*args), want, BOUND, "attention")


def test_example_with_projections(rng):
    """examples/patterns/attention.mlir: Q/K/V/output projections become
    LinearBias groups, the core the Attention kernel. Weights scaled like
    nn.Linear's initialisation (uniform in +-1/sqrt(E)), so the softmax is
    not one-hot and the comparison is meaningful."""
    from conftest import EXAMPLES
    mod = compile_ir(EXAMPLES / "patterns" / "attention.mlir")
    patterns = _patterns(mod)
    assert patterns[0] == "Attention"
    assert len(patterns) == 5 and all(p.startswith("LinearBias") for p in patterns[1:])
    s, e, h = 512, 512, 8
    d = e // h
    x = rng.standard_normal((1, s, e)).astype(np.float32)
    params = []
    for _ in range(4):
        params += [(rng.uniform(-1, 1, (e, e)) / np.sqrt(e)).astype(np.float32),
                   (rng.uniform(-1, 1, e) / np.sqrt(e)).astype(np.float32)]
    mask = np.where(np.tri(s, dtype=bool), 0.0, -np.inf).astype(np.float32)
    wq, bq, wk, bk, wv, bv, wo, bo = (p.astype(np.float64) for p in params)
    x2 = x[0].astype(np.float64)

    def heads(t):
        return t.reshape(s, h, d).transpose(1, 0, 2)[None]

    out, _ = reference(heads(x2 @ wq.T + bq), heads(x2 @ wk.T + bk), heads(x2 @ wv.T + bv),
                       mask)
    want = (out[0].transpose(1, 0, 2).reshape(s, e) @ wo.T + bo)[None]
    assert_close(mod.forward(x, *params, mask), want, BOUND, "attention block")


# -- PyTorch's safe softmax (nn.MultiheadAttention) ------------------------------

def _kill_rows(mask, sk):
    """Row 0 of the [.., S, Sk] mask all -inf (0 out, not NaN); row 1 -inf on
    the first key block only (its running max goes from -inf to finite)."""
    m = np.array(mask)
    m[..., 0, :] = -np.inf
    m[..., 1, :min(128, sk - 1)] = -np.inf
    return m


SAFE_CASES = [
    (64, dict(mask="full")),
    (256, dict(mask="full", h=2, exp_form="one")),       # two key blocks of 128
    (192, dict(mask="b11k", b=2, k_form="maps", keepdim=False)),
    (128, dict(mask=None, scale_form="q")),
]


@pytest.mark.parametrize("s,kw", SAFE_CASES, ids=[f"S{s}-{i}" for i, (s, _) in
                                                  enumerate(SAFE_CASES)])
def test_safe_softmax_matches_numpy(rng, s, kw):
    mod = compile_ir(attention_ir(s, safe=True, **kw))
    assert _patterns(mod) == ["Attention"]
    dims = {k: kw[k] for k in ("b", "h", "d", "sk") if k in kw}
    args = _inputs(rng, s, mask=kw.get("mask"), **dims)
    if kw.get("mask") == "full":
        args[3] = _kill_rows(args[3], s)
    elif kw.get("mask") == "b11k":   # batch 1 all padding: every row of it masked
        args[3][1] = -np.inf
    want, p = reference(*args[:3], *(args[3:] or [None]))
    dead = p.sum(-1) == 0.0                 # [B, H, S]: rows of -inf scores
    assert dead.any() == (len(args) == 4)
    got = mod.forward(*args)
    assert_close(got, want, BOUND, "safe attention")
    assert np.all(got[dead] == 0.0)


def test_plain_softmax_of_masked_row_stays_nan(rng):
    """Without the select, a row of -inf scores is 0/0 in the softmax (NaN
    in numpy and torch.softmax alike): the kernel keeps that."""
    mod = compile_ir(attention_ir(64, mask="full"))
    assert _patterns(mod) == ["Attention"]
    args = _inputs(rng, 64, mask="full")
    args[3] = _kill_rows(args[3], 64)
    got = mod.forward(*args)
    assert np.all(np.isnan(got[..., 0, :]))
    want, _ = reference(*args)
    assert_close(got[..., 1:, :], want[..., 1:, :], BOUND, "attention")


def _mha_module(torch, e, heads, seed):
    class MHA(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = torch.nn.MultiheadAttention(e, heads, batch_first=True)

        def forward(self, x, mask=None):
            return self.mha(x, x, x, attn_mask=mask, need_weights=False)[0]

    torch.manual_seed(seed)
    model = MHA().eval()
    with torch.no_grad():   # biases are zero at initialisation: make them count
        model.mha.in_proj_bias.uniform_(-0.5, 0.5)
        model.mha.out_proj.bias.uniform_(-0.5, 0.5)
    return model


@pytest.mark.torch
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "float-mask"])
def test_multihead_attention_matches_pytorch(rng, masked):
    """nn.MultiheadAttention as torch-mlir imports it (with _safe_softmax)
    becomes the kernel; a float attn_mask with a row of -inf gives that
    row's attention 0 (the output is the out_proj bias), like PyTorch."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    import axfusion
    b, s, e, heads = 2, 256, 64, 4
    model = _mha_module(torch, e, heads, int(rng.integers(2**31)))

    def inputs():
        x = torch.from_numpy(rng.standard_normal((b, s, e)).astype(np.float32))
        if not masked:
            return (x,)
        m = rng.standard_normal((s, s))
        m = np.where(np.tri(s, dtype=bool), m, -np.inf)   # causal
        m = _kill_rows(m, s)
        m[1, 128:] = rng.standard_normal(s - 128)        # row 1: keys of block 2 only
        return x, torch.from_numpy(m.astype(np.float32))

    mod = axfusion.compile(model, inputs())
    assert "Attention" in [g.pattern for g in mod.detected_patterns()]
    args = inputs()
    with torch.no_grad():
        want = model.double()(*(a.double() for a in args)).numpy()
    model.float()
    got = mod(*args).numpy()
    assert_close(got, want, BOUND, "nn.MultiheadAttention")
    if masked:
        bias = model.mha.out_proj.bias.detach().numpy()
        assert_close(got[:, 0, :], np.broadcast_to(bias, (b, e)), 1e-6, "masked row")


# -- a `?` batch: one kernel for every batch size ------------------------------

def _self_attention_module(torch, e, heads, seed):
    """``softmax(q @ k^T / sqrt(d) [+ mask]) @ v`` written out, heads split
    from [B, S, E] (what the zoo's transformer block does)."""
    class SelfAttention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v = (torch.nn.Linear(e, e) for _ in range(3))

        def forward(self, x, mask=None):
            b, s, _ = x.shape
            q, k, v = (p(x).reshape(b, s, heads, e // heads).transpose(1, 2)
                       for p in (self.q, self.k, self.v))
            scores = q @ k.transpose(-2, -1) / float(np.sqrt(e // heads))
            if mask is not None:
                scores = scores + mask
            return torch.softmax(scores, dim=-1) @ v

    torch.manual_seed(seed)
    return SelfAttention().eval()


def _dynamic_batch_check(torch, rng, model, s, e, mask=None, batches=(1, 3, 2)):
    """Compile ``model`` once with a `?` batch (mask static), then compare it
    with PyTorch eager in float64 at each of ``batches``."""
    import axfusion
    extra = () if mask is None else (torch.from_numpy(mask.astype(np.float32)),)

    def x(b):
        return torch.from_numpy(rng.standard_normal((b, s, e)).astype(np.float32))

    mod = axfusion.compile(model, (x(2), *extra),
                           dynamic_dims=[{0: "batch"}] + [{}] * len(extra))
    assert "Attention" in _patterns(mod), _near_misses(mod)
    assert str(mod.compiled.functions["forward"]).startswith("forward(arg0: f32[?,")
    for b in batches:
        args = (x(b), *extra)
        with torch.no_grad():
            want = model.double()(*(a.double() for a in args)).numpy()
        model.float()
        got = mod(*args).numpy()
        assert got.shape == want.shape
        assert_close(got, want, BOUND, f"batch {b}")
    assert "1 specialisation" in repr(mod)
    return mod


@pytest.mark.torch
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "float-mask"])
def test_dynamic_batch_attention_matches_pytorch(rng, masked):
    """The hand-written attention on a `?` batch: the kernel's outermost loop
    runs to the batch of the call (1, 3, 2 through one compiled kernel);
    Q, K and the mask are read through torch-mlir's `?`-batch broadcast."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    s, e, heads = 128, 32, 2
    model = _self_attention_module(torch, e, heads, int(rng.integers(2**31)))
    mask = rng.standard_normal((s, s)) if masked else None
    _dynamic_batch_check(torch, rng, model, s, e, mask)


@pytest.mark.torch
def test_dynamic_batch_multihead_attention_matches_pytorch(rng):
    """nn.MultiheadAttention (safe softmax) on a `?` batch with a causal
    float mask that kills row 0: that row gives the out_proj bias."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    s, e, heads = 256, 32, 4
    model = _mha_module(torch, e, heads, int(rng.integers(2**31)))
    m = np.where(np.tri(s, dtype=bool), rng.standard_normal((s, s)), -np.inf)
    mod = _dynamic_batch_check(torch, rng, model, s, e, _kill_rows(m, s), batches=(1, 4))
    x = torch.from_numpy(rng.standard_normal((3, s, e)).astype(np.float32))
    got = mod(x, torch.from_numpy(_kill_rows(m, s).astype(np.float32))).numpy()
    bias = model.mha.out_proj.bias.detach().numpy()
    assert_close(got[:, 0, :], np.broadcast_to(bias, (3, e)), 1e-6, "masked row")


@pytest.mark.torch
def test_dynamic_sequence_length_stays_unfused(rng):
    """A `?` sequence length stays unfused (the kernel's blocks and register
    tiles need static Sq, Sk; torch-mlir reshapes such scores with
    ``tensor.reshape``, which the matcher does not follow: no near miss,
    test/lit/fusion/attention.mlir pins the one for `?` sizes it reaches),
    and the result is still right at another length."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("torch_mlir")
    import axfusion
    s, e, heads = 16, 32, 2
    model = _self_attention_module(torch, e, heads, int(rng.integers(2**31)))
    x = torch.from_numpy(rng.standard_normal((2, s, e)).astype(np.float32))
    mod = axfusion.compile(model, (x,), dynamic_dims={1: "seq"})
    assert "Attention" not in _patterns(mod)
    x = torch.from_numpy(rng.standard_normal((2, 24, e)).astype(np.float32))
    with torch.no_grad():
        want = model.double()(x.double()).numpy()
    model.float()
    assert_close(mod(x).numpy(), want, BOUND, "unfused")
