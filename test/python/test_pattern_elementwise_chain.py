"""ElementwiseChain (passes/elementwise_chain.py), end to end.

Chains and DAGs of element-wise ``linalg.generic`` ops, one per aten op as
torch-mlir writes them, with broadcasting operands along rows ((d0, d1) ->
(d1)), columns ((d0, d1) -> (d0, 0)) and of 0-d tensors ((d0, d1) -> ()).
One module holds one entry point per case (one compile); results are
compared with numpy float64 on fresh random inputs, bound 1e-5 relative
(max |err| / max |want|: a few float32 ulps through a handful of ops and
libm's exp).

The shapes make the default element-wise schedule cut rows into tiles that
leave a partial last one (96 columns: 42-row tiles over 64 rows).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import EXAMPLES, assert_close, compile_ir

BOUND = 1e-5
R, C = 64, 96
T = f"tensor<{R}x{C}xf32>"

HEADER = """#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0, 0)>
#scalar = affine_map<(d0, d1) -> ()>
"""


def ew(result: str, ins: list[tuple[str, str, str]], body: str) -> str:
    """``result = linalg.generic`` over [R, C] reading ``ins`` (value, type,
    map); ``body`` uses %a0, %a1, ... and defines %r."""
    args = ", ".join(f"%a{i}: f32" for i in range(len(ins)))
    return f"""
  {result} = linalg.generic {{indexing_maps = [{", ".join(m for _, _, m in ins)}, #id],
                             iterator_types = ["parallel", "parallel"]}}
      ins({", ".join(v for v, _, _ in ins)} : {", ".join(t for _, t, _ in ins)})
      outs(%init : {T}) {{
  ^bb0({args}, %o: f32):
    {body}
    linalg.yield %r : f32
  }} -> {T}"""


def x_(value="%x"):
    return (value, T, "#id")


def func(name: str, args: str, results: list[str], body: str, types: str = "") -> str:
    types = types or ", ".join([T] * len(results))
    return f"""
func.func @{name}({args}) -> ({types}) {{
  %c2 = arith.constant 2.0 : f32
  %c3 = arith.constant 3.0 : f32
  %zero = arith.constant 0.0 : f32
  %tenth = arith.constant 0.1 : f32
  %init = tensor.empty() : {T}
  {body}
  return {", ".join(results)} : {types}
}}
"""


CASES = {
    # y = max(x * s + t, 0) * a - x / 2: s along rows, t along columns, a 0-d.
    "broadcasts": func(
        "broadcasts",
        f"%x: {T}, %s: tensor<{C}xf32>, %t: tensor<{R}x1xf32>, %a: tensor<f32>", ["%y"],
        ew("%0", [x_(), ("%s", f"tensor<{C}xf32>", "#col")], "%r = arith.mulf %a0, %a1 : f32")
        + ew("%1", [x_("%0"), ("%t", f"tensor<{R}x1xf32>", "#row")],
             "%r = arith.addf %a0, %a1 : f32")
        + ew("%2", [x_("%1")], "%r = arith.maximumf %a0, %zero : f32")
        + ew("%3", [x_("%2"), ("%a", "tensor<f32>", "#scalar")], "%r = arith.mulf %a0, %a1 : f32")
        + ew("%4", [x_()], "%r = arith.divf %a0, %c2 : f32")
        + ew("%y", [x_("%3"), x_("%4")], "%r = arith.subf %a0, %a1 : f32")),
    # a = x + 2 feeds two members (b = a * a, c = a - 3) and is returned after
    # the root d = b * c: fused once, its tiles yielded by the loop.
    "shared_cheap_after": func(
        "shared_cheap_after", f"%x: {T}", ["%d", "%a"],
        ew("%a", [x_()], "%r = arith.addf %a0, %c2 : f32")
        + ew("%b", [x_("%a"), x_("%a")], "%r = arith.mulf %a0, %a1 : f32")
        + ew("%c", [x_("%a")], "%r = arith.subf %a0, %c3 : f32")
        + ew("%d", [x_("%b"), x_("%c")], "%r = arith.mulf %a0, %a1 : f32")),
    # a = x + 2 is also used by e, before the chain b -> c: cheap, so it is
    # recomputed per tile (and computed in full for e).
    "shared_cheap_before": func(
        "shared_cheap_before", f"%x: {T}", ["%c", "%e"],
        ew("%a", [x_()], "%r = arith.addf %a0, %c2 : f32")
        + ew("%e", [x_("%a")], "%r = arith.mulf %a0, %c3 : f32")
        + ew("%b", [x_("%a")], "%r = arith.mulf %a0, %c2 : f32")
        + ew("%c", [x_("%b")], "%r = arith.addf %a0, %c3 : f32")),
    # a = exp(x / 10) is also transposed (e) before the chain b -> c:
    # recomputing exp per tile costs more than reading it back, so it stays
    # outside (near miss).
    "shared_expensive_before": func(
        "shared_expensive_before", f"%x: {T}", ["%c", "%e"],
        ew("%a", [x_()], "%m = arith.mulf %a0, %tenth : f32\n    %r = math.exp %m : f32")
        + f"""
  %tinit = tensor.empty() : tensor<{C}x{R}xf32>
  %e = linalg.transpose ins(%a : {T}) outs(%tinit : tensor<{C}x{R}xf32>) permutation = [1, 0]"""
        + ew("%b", [x_("%a")], "%r = arith.mulf %a0, %c2 : f32")
        + ew("%c", [x_("%b")], "%r = arith.addf %a0, %c3 : f32"),
        types=f"{T}, tensor<{C}x{R}xf32>"),
    # The same with e after the chain's root: exp is fused and its tiles
    # yielded; nothing is computed twice, no near miss.
    "shared_expensive_after": func(
        "shared_expensive_after", f"%x: {T}", ["%c", "%e"],
        ew("%a", [x_()], "%m = arith.mulf %a0, %tenth : f32\n    %r = math.exp %m : f32")
        + ew("%b", [x_("%a")], "%r = arith.mulf %a0, %c2 : f32")
        + ew("%c", [x_("%b")], "%r = arith.addf %a0, %c3 : f32")
        + ew("%e", [x_("%a")], "%r = arith.negf %a0 : f32")),
}

EXPENSIVE_MISS = ("intermediate has a second user outside the group; recomputing it "
                  "(math.exp) per tile would cost more than its memory traffic")


@pytest.fixture(scope="module")
def mod():
    return compile_ir(HEADER + "".join(CASES.values()))


def _groups(mod, function):
    return [g for g in mod.detected_patterns() if g.function == function]


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_broadcasts(mod, rng):
    x, s, t = _f32(rng, R, C), _f32(rng, C), _f32(rng, R, 1)
    a = np.array(rng.standard_normal(), dtype=np.float32)
    x64, s64, t64, a64 = (v.astype(np.float64) for v in (x, s, t, a))
    want = np.maximum(x64 * s64 + t64, 0.0) * a64 - x64 / 2.0
    assert_close(mod.broadcasts(x, s, t, a), want, BOUND)
    [group] = _groups(mod, "broadcasts")
    assert group.pattern == "ElementwiseChain" and len(group.ops) == 6


def test_shared_cheap_producer(mod, rng):
    x = _f32(rng, R, C)
    a = x.astype(np.float64) + 2.0
    d, got_a = mod.shared_cheap_after(x)
    assert_close(d, (a * a) * (a - 3.0), BOUND)
    assert_close(got_a, a, BOUND)
    [group] = _groups(mod, "shared_cheap_after")
    assert len(group.ops) == 4

    c, e = mod.shared_cheap_before(x)
    assert_close(c, a * 2.0 + 3.0, BOUND)
    assert_close(e, a * 3.0, BOUND)
    [group] = _groups(mod, "shared_cheap_before")
    assert len(group.ops) == 3   # a recomputed in the group's tiles


def test_shared_expensive_producer(mod, rng):
    x = _f32(rng, R, C)
    a = np.exp(x.astype(np.float64) / 10.0)
    c, e = mod.shared_expensive_before(x)
    assert_close(c, a * 2.0 + 3.0, BOUND)
    assert_close(e, a.T, BOUND)
    c, e = mod.shared_expensive_after(x)
    assert_close(c, a * 2.0 + 3.0, BOUND)
    assert_close(e, -a, BOUND)
    [before] = _groups(mod, "shared_expensive_before")
    assert len(before.ops) == 2          # exp left outside
    [after] = _groups(mod, "shared_expensive_after")
    assert len(after.ops) == 3           # exp fused, its tiles yielded
    # The only near miss of the whole module (cheap shared producers are not).
    misses = [m for m in mod.report().near_misses if m.pattern == "ElementwiseChain"]
    assert [m.reason for m in misses] == [EXPENSIVE_MISS]


def test_unfused_build_agrees(mod, rng):
    """The unfused build of the same case gives the same numbers, bit for bit."""
    plain = compile_ir(HEADER + CASES["broadcasts"], patterns=[])
    assert plain.detected_patterns() == []
    x, s, t = _f32(rng, R, C), _f32(rng, C), _f32(rng, R, 1)
    a = np.array(0.7, dtype=np.float32)
    np.testing.assert_array_equal(mod.broadcasts(x, s, t, a), plain.broadcasts(x, s, t, a))


def test_example(rng):
    mod = compile_ir(EXAMPLES / "patterns" / "elementwise_chain.mlir")
    [group] = mod.detected_patterns()
    assert group.pattern == "ElementwiseChain" and len(group.ops) == 8
    x, res = _f32(rng, 1024, 1024), _f32(rng, 1024, 1024)
    s, t = _f32(rng, 1024), _f32(rng, 1024, 1)
    a = np.array(1.5, dtype=np.float32)
    x64 = x.astype(np.float64)
    want = np.minimum(np.maximum(x64 * s + t + res, 0.0) * 1.5, 6.0) - 0.5 * x64
    assert_close(mod.forward(x, res, s, t, a), want, BOUND)
