"""The runtime: calling compiled functions from Python (out= buffers, tuples
of results, several entry points, signatures, argument conversion), loading
artifacts, and memory staying flat over many calls."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import axfusion
from conftest import assert_close, compile_ir, rss_bytes

F32_BOUND = 1e-5

# Three public entry points and a private helper (not an entry point):
#   forward(x, w) = relu(x @ w)                     [6,5] x [5,4] -> [6,4]
#   stats(x) = (row sums, row maxima)               [6,5] -> ([6], [6])
#   scale(x, s) = x * s, s a rank-0 tensor          [6,5], [] -> [6,5]
MODULE = """
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#scalar = affine_map<(d0, d1) -> ()>
func.func private @relu(%x: tensor<6x4xf32>) -> tensor<6x4xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<6x4xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<6x4xf32>) outs(%init : tensor<6x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  } -> tensor<6x4xf32>
  return %y : tensor<6x4xf32>
}
func.func @forward(%x: tensor<6x5xf32>, %w: tensor<5x4xf32>) -> tensor<6x4xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<6x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<6x4xf32>) -> tensor<6x4xf32>
  %mm = linalg.matmul ins(%x, %w : tensor<6x5xf32>, tensor<5x4xf32>) outs(%acc : tensor<6x4xf32>) -> tensor<6x4xf32>
  %y = func.call @relu(%mm) : (tensor<6x4xf32>) -> tensor<6x4xf32>
  return %y : tensor<6x4xf32>
}
func.func @stats(%x: tensor<6x5xf32>) -> (tensor<6xf32>, tensor<6xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %init = tensor.empty() : tensor<6xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%init : tensor<6xf32>) -> tensor<6xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<6x5xf32>) outs(%s_acc : tensor<6xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<6xf32>
  %m_acc = linalg.fill ins(%ninf : f32) outs(%init : tensor<6xf32>) -> tensor<6xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<6x5xf32>) outs(%m_acc : tensor<6xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<6xf32>
  return %sum, %max : tensor<6xf32>, tensor<6xf32>
}
func.func @scale(%x: tensor<6x5xf32>, %s: tensor<f32>) -> tensor<6x5xf32> {
  %init = tensor.empty() : tensor<6x5xf32>
  %y = linalg.generic {indexing_maps = [#id, #scalar, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : tensor<6x5xf32>, tensor<f32>) outs(%init : tensor<6x5xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.mulf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<6x5xf32>
  return %y : tensor<6x5xf32>
}
"""


@pytest.fixture(scope="module")
def mod():
    return compile_ir(MODULE)


def _forward_ref(x, w):
    return np.maximum(x.astype(np.float64) @ w.astype(np.float64), 0.0)


@pytest.fixture
def xw(rng):
    return (rng.standard_normal((6, 5)).astype(np.float32),
            rng.standard_normal((5, 4)).astype(np.float32))


def test_entry_points_by_attribute_and_by_name(mod, xw):
    assert mod.forward is mod["forward"]
    want = _forward_ref(*xw)
    assert_close(mod.forward(*xw), want, F32_BOUND)
    assert_close(mod["forward"](*xw), want, F32_BOUND)
    assert "forward" in mod and "relu" not in mod
    with pytest.raises(AttributeError, match="no entry point 'relu'"):
        mod.relu
    with pytest.raises(KeyError, match="no entry point 'nope'"):
        mod["nope"]


def test_functions_lists_names_and_signatures(mod):
    functions = mod.functions
    assert list(functions) == ["forward", "stats", "scale"]   # the private helper is not one
    fwd = functions["forward"]
    assert [(a.shape, a.dtype) for a in fwd.args] == [((6, 5), "float32"), ((5, 4), "float32")]
    assert [(r.shape, r.dtype) for r in fwd.results] == [((6, 4), "float32")]
    assert [r.shape for r in functions["stats"].results] == [(6,), (6,)]
    assert functions["scale"].args[1].shape == ()
    assert sorted(f.name for f in mod) == ["forward", "scale", "stats"]


def test_repr_shows_signatures(mod):
    text = repr(mod)
    assert text.splitlines()[0] == "CompiledModule(cpu, 3 functions):"
    assert "  forward(arg0: f32[6,5], arg1: f32[5,4]) -> f32[6,4]" in text
    assert "  stats(arg0: f32[6,5]) -> (f32[6], f32[6])" in text
    assert "  scale(arg0: f32[6,5], arg1: f32[]) -> f32[6,5]" in text
    assert repr(mod.forward) == ("<axfusion function "
                                 "forward(arg0: f32[6,5], arg1: f32[5,4]) -> f32[6,4]>")


def test_several_results_come_back_as_a_tuple(mod, rng):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    result = mod.stats(x)
    assert isinstance(result, tuple) and len(result) == 2
    sums, maxes = result
    assert_close(sums, x.astype(np.float64).sum(axis=1), F32_BOUND, "sums")
    np.testing.assert_array_equal(maxes, x.max(axis=1))


def test_out_returns_the_same_object(mod, xw):
    out = np.full((6, 4), np.nan, dtype=np.float32)
    result = mod.forward(*xw, out=out)
    assert result is out
    assert_close(out, _forward_ref(*xw), F32_BOUND)


def test_out_tuple_for_several_results(mod, rng):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    outs = (np.full(6, np.nan, np.float32), np.full(6, np.nan, np.float32))
    sums, maxes = mod.stats(x, out=outs)
    assert sums is outs[0] and maxes is outs[1]
    assert_close(sums, x.astype(np.float64).sum(axis=1), F32_BOUND, "sums")
    np.testing.assert_array_equal(maxes, x.max(axis=1))
    # A list works as well as a tuple.
    again = mod.stats(x, out=list(outs))
    assert again[0] is outs[0] and again[1] is outs[1]


def test_out_reused_across_calls(mod, rng):
    out = np.empty((6, 4), np.float32)
    for _ in range(3):
        x = rng.standard_normal((6, 5)).astype(np.float32)
        w = rng.standard_normal((5, 4)).astype(np.float32)
        assert mod.forward(x, w, out=out) is out
        assert_close(out, _forward_ref(x, w), F32_BOUND)


def test_fresh_results_do_not_alias(mod, xw):
    a = mod.forward(*xw)
    b = mod.forward(*xw)
    assert a is not b and not np.shares_memory(a, b)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("layout", ["transposed", "strided", "fortran", "negative-stride",
                                    "broadcast"])
def test_non_contiguous_inputs(mod, rng, layout):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    w = rng.standard_normal((5, 4)).astype(np.float32)
    if layout == "transposed":
        x_arg = np.ascontiguousarray(x.T).T
    elif layout == "strided":
        big = np.zeros((12, 15), np.float32)
        big[::2, ::3] = x
        x_arg = big[::2, ::3]
    elif layout == "fortran":
        x_arg = np.asfortranarray(x)
    elif layout == "negative-stride":
        x_arg = np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]
    else:   # zero strides: every row is the same
        x = np.repeat(x[:1], 6, axis=0)
        x_arg = np.broadcast_to(x[0], (6, 5))
    assert not x_arg.flags.c_contiguous
    np.testing.assert_array_equal(x_arg, x)
    assert_close(mod.forward(x_arg, w), _forward_ref(x, w), F32_BOUND)


def test_scalar_and_list_inputs_convert(mod, rng):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    s = float(rng.uniform(0.5, 2.0))
    want = x.astype(np.float64) * np.float32(s)
    assert_close(mod.scale(x, s), want, F32_BOUND, "python float")
    assert_close(mod.scale(x.tolist(), np.float32(s)), want, F32_BOUND, "nested list")
    assert_close(mod.scale(x, np.array(s, dtype=np.float32)), want, F32_BOUND, "0-d array")
    ints = rng.integers(-5, 5, size=(6, 5))
    assert_close(mod.scale(ints.tolist(), 3), ints * 3.0, 0.0, "python ints")


def test_target_enum_and_name_agree(mod):
    same = compile_ir(MODULE, target=axfusion.Target.CPU)
    assert same.path == mod.path    # one cache entry for both spellings
    assert list(same.functions) == list(mod.functions)


def test_compile_to_and_load(tmp_path, xw):
    out = axfusion.compile_to(MODULE, tmp_path / "art")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "module.so"]
    loaded = axfusion.load(out)
    assert list(loaded.functions) == ["forward", "stats", "scale"]
    assert loaded.path == out
    assert_close(loaded.forward(*xw), _forward_ref(*xw), F32_BOUND)


def test_load_rejects_a_folder_without_manifest(tmp_path):
    with pytest.raises(axfusion.AxfusionError, match="is not an axfusion artifact"):
        axfusion.load(tmp_path)


# -- memory --------------------------------------------------------------------

# Two chained matmuls, y = relu(x @ w1) @ w2: the hidden activation
# (64x64 f32, 16 KiB) is a heap temporary that every call must free, since
# the second matmul reads all of it while writing the result.
TWO_LAYER = """
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @forward(%x: tensor<64x8xf32>, %w1: tensor<8x64xf32>, %w2: tensor<64x4xf32>) -> tensor<64x4xf32> {
  %zero = arith.constant 0.0 : f32
  %h_init = tensor.empty() : tensor<64x64xf32>
  %h_acc = linalg.fill ins(%zero : f32) outs(%h_init : tensor<64x64xf32>) -> tensor<64x64xf32>
  %h_mm = linalg.matmul ins(%x, %w1 : tensor<64x8xf32>, tensor<8x64xf32>)
                        outs(%h_acc : tensor<64x64xf32>) -> tensor<64x64xf32>
  %h = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%h_mm : tensor<64x64xf32>) outs(%h_init : tensor<64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  } -> tensor<64x64xf32>
  %y_init = tensor.empty() : tensor<64x4xf32>
  %y_acc = linalg.fill ins(%zero : f32) outs(%y_init : tensor<64x4xf32>) -> tensor<64x4xf32>
  %y = linalg.matmul ins(%h, %w2 : tensor<64x64xf32>, tensor<64x4xf32>)
                     outs(%y_acc : tensor<64x4xf32>) -> tensor<64x4xf32>
  return %y : tensor<64x4xf32>
}
"""

RSS_SLACK = 2 * 1024 * 1024  # bytes; leaking the hidden buffer would be 160 MiB


@pytest.fixture(scope="module")
def two_layer():
    return compile_ir(TWO_LAYER)


def _two_layer_inputs(rng):
    return (rng.standard_normal((64, 8)).astype(np.float32),
            rng.standard_normal((8, 64)).astype(np.float32),
            rng.standard_normal((64, 4)).astype(np.float32))


def _rss_growth(call, warmup=300, calls=10_000) -> int:
    for _ in range(warmup):      # allocator pools, ctypes caches
        call()
    gc.collect()
    before = rss_bytes()
    for _ in range(calls):
        call()
    gc.collect()
    return rss_bytes() - before


def test_two_layer_kernel_allocates_a_temporary(two_layer, rng):
    """The memory tests below exercise deallocation only if the kernel
    heap-allocates its temporary; check that it does, and computes right."""
    x, w1, w2 = _two_layer_inputs(rng)
    want = np.maximum(x.astype(np.float64) @ w1.astype(np.float64), 0.0) @ w2.astype(np.float64)
    assert_close(two_layer.forward(x, w1, w2), want, F32_BOUND)
    lowered = axfusion.emit(TWO_LAYER, "llvm-dialect")
    assert "llvm.call @malloc" in lowered and "llvm.call @free" in lowered


def test_repeated_calls_keep_memory_flat(two_layer, rng):
    x, w1, w2 = _two_layer_inputs(rng)
    f = two_layer.forward
    growth = _rss_growth(lambda: f(x, w1, w2))
    assert growth < RSS_SLACK, f"RSS grew by {growth / 1024:.0f} KiB over 10,000 calls"


def test_repeated_calls_with_out_keep_memory_flat(two_layer, rng):
    x, w1, w2 = _two_layer_inputs(rng)
    out = np.empty((64, 4), np.float32)
    f = two_layer.forward
    growth = _rss_growth(lambda: f(x, w1, w2, out=out))
    assert growth < RSS_SLACK, f"RSS grew by {growth / 1024:.0f} KiB over 10,000 calls"
    want = np.maximum(x.astype(np.float64) @ w1.astype(np.float64), 0.0) @ w2.astype(np.float64)
    assert_close(out, want, F32_BOUND)


# Element-wise ops on whole tensors: bufferization would happily reuse %x's
# buffer for the result unless entry-point arguments are marked read-only.
INPLACE_CANDIDATE = """
func.func @f(%x: tensor<64xf32>, %y: tensor<64xf32>) -> tensor<64xf32> {
  %0 = arith.addf %x, %y : tensor<64xf32>
  %1 = math.exp %0 : tensor<64xf32>
  return %1 : tensor<64xf32>
}
"""


@pytest.mark.parametrize("optimize", [True, False])
def test_inputs_are_never_written(rng, optimize):
    mod = compile_ir(INPLACE_CANDIDATE, optimize=optimize)
    x = rng.standard_normal(64).astype(np.float32)
    y = rng.standard_normal(64).astype(np.float32)
    x0, y0 = x.copy(), y.copy()
    got = mod.f(x, y)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    assert_close(got, np.exp(x0.astype(np.float64) + y0), 1e-6)
