"""Dynamic (``?``) sizes at the entry point: one kernel for every size.

The runtime sizes each result with the compiled shape function
(``passes/result_shapes.py``) before the call, so results are still
allocated by the caller (``out=`` works); argument sizes that disagree are an
``ArgumentError`` from the shape function's checks, never a crash. Numbers are
checked against numpy in float64 on fresh random inputs (bound 1e-5).
"""

from __future__ import annotations

import numpy as np
import pytest

import axfusion
from conftest import assert_close

BOUND = 1e-5

LINEAR_RELU = """
#map = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @forward(%x: tensor<?x16xf32>, %w: tensor<16x8xf32>, %b: tensor<8xf32>)
    -> tensor<?x8xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x16xf32>
  %init = tensor.empty(%n) : tensor<?x8xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<?x8xf32>) -> tensor<?x8xf32>
  %mm = linalg.matmul ins(%x, %w : tensor<?x16xf32>, tensor<16x8xf32>)
                      outs(%acc : tensor<?x8xf32>) -> tensor<?x8xf32>
  %r = linalg.generic {indexing_maps = [#map, #bias, #map],
                       iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<?x8xf32>, tensor<8xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %s = arith.addf %v, %bias : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}
"""

# Two dynamic sizes, and two arguments that must agree on them.
ADD_2D = """
#map = affine_map<(d0, d1) -> (d0, d1)>
func.func @add(%a: tensor<?x?xf32>, %b: tensor<?x?xf32>) -> (tensor<?x?xf32>, tensor<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = tensor.dim %a, %c0 : tensor<?x?xf32>
  %m = tensor.dim %a, %c1 : tensor<?x?xf32>
  %init = tensor.empty(%n, %m) : tensor<?x?xf32>
  %r = linalg.generic {indexing_maps = [#map, #map, #map],
                       iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<?x?xf32>, tensor<?x?xf32>) outs(%init : tensor<?x?xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<?x?xf32>
  %k = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  return %r, %k : tensor<?x?xf32>, tensor<4xf32>
}
"""


@pytest.fixture(scope="module")
def linear():
    return axfusion.compile(LINEAR_RELU)


def test_signature_shows_dynamic_sizes(linear):
    assert str(linear.functions["forward"]) == \
        "forward(arg0: f32[?,16], arg1: f32[16,8], arg2: f32[8]) -> f32[?,8]"
    assert [g.pattern for g in linear.detected_patterns()] == ["LinearBiasRelu"]


@pytest.mark.parametrize("batch", [1, 3, 8, 9, 37])
def test_one_kernel_every_batch_size(linear, rng, batch):
    x = rng.standard_normal((batch, 16)).astype(np.float32)
    w = rng.standard_normal((16, 8)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    got = linear.forward(x, w, b)
    assert got.shape == (batch, 8)
    want = np.maximum(x.astype(np.float64) @ w + b, 0.0)
    assert_close(got, want, BOUND)


def test_empty_batch(linear, rng):
    x = np.zeros((0, 16), np.float32)
    w = rng.standard_normal((16, 8)).astype(np.float32)
    got = linear.forward(x, w, np.zeros(8, np.float32))
    assert got.shape == (0, 8)


def test_out_is_sized_per_call(linear, rng):
    x = rng.standard_normal((5, 16)).astype(np.float32)
    w = rng.standard_normal((16, 8)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    out = np.empty((5, 8), np.float32)
    assert linear.forward(x, w, b, out=out) is out
    assert_close(out, np.maximum(x.astype(np.float64) @ w + b, 0.0), BOUND)
    with pytest.raises(axfusion.ArgumentError, match=r"out\[0\]: expected float32\[5, 8\]"):
        linear.forward(x, w, b, out=np.empty((4, 8), np.float32))


def test_static_sizes_are_still_checked(linear, rng):
    x = rng.standard_normal((5, 15)).astype(np.float32)
    with pytest.raises(axfusion.ArgumentError, match=r"argument 0: expected shape \[\?, 16\]"):
        linear.forward(x, np.zeros((16, 8), np.float32), np.zeros(8, np.float32))


def test_two_dynamic_sizes_and_a_static_result(rng):
    mod = axfusion.compile(ADD_2D)
    for shape in ((2, 3), (7, 1), (1, 33)):
        a, b = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
        r, k = mod.add(a, b)
        assert_close(r, a.astype(np.float64) + b, BOUND)
        np.testing.assert_array_equal(k, [1, 2, 3, 4])


def test_disagreeing_sizes_are_an_argument_error(rng):
    mod = axfusion.compile(ADD_2D)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((2, 4)).astype(np.float32)
    with pytest.raises(axfusion.ArgumentError,
                       match=r"argument sizes do not agree \(\[3, 4\], \[2, 4\].*incompatible"):
        mod.add(a, b)


def test_result_size_from_data_is_refused():
    text = """
func.func @f(%x: tensor<i64>) -> tensor<?xf32> {
  %n64 = tensor.extract %x[] : tensor<i64>
  %n = arith.index_cast %n64 : i64 to index
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty(%n) : tensor<?xf32>
  %r = linalg.fill ins(%zero : f32) outs(%e : tensor<?xf32>) -> tensor<?xf32>
  return %r : tensor<?xf32>
}
"""
    with pytest.raises(axfusion.CompileError,
                       match=r"dynamic result size depends on the values of 'tensor.extract'"):
        axfusion.compile(text, cache=False)


LAYER_NORM = """
#map = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @forward(%x: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n32 = arith.constant 32.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %n = tensor.dim %x, %c0 : tensor<?x32xf32>
  %rows = tensor.empty(%n) : tensor<?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%rows : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.generic {indexing_maps = [#map, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x32xf32>) outs(%acc : tensor<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %acc2 = linalg.fill ins(%zero : f32) outs(%rows : tensor<?xf32>) -> tensor<?xf32>
  %sq = linalg.generic {indexing_maps = [#map, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x, %sum : tensor<?x32xf32>, tensor<?xf32>) outs(%acc2 : tensor<?xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %m = arith.divf %s, %n32 : f32
    %d = arith.subf %a, %m : f32
    %d2 = arith.mulf %d, %d : f32
    %r = arith.addf %d2, %o : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  %init = tensor.empty(%n) : tensor<?x32xf32>
  %y = linalg.generic {indexing_maps = [#map, #row, #row, #map], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum, %sq : tensor<?x32xf32>, tensor<?xf32>, tensor<?xf32>) outs(%init : tensor<?x32xf32>) {
  ^bb0(%a: f32, %s: f32, %q: f32, %o: f32):
    %m = arith.divf %s, %n32 : f32
    %v = arith.divf %q, %n32 : f32
    %ve = arith.addf %v, %eps : f32
    %r = math.rsqrt %ve : f32
    %d = arith.subf %a, %m : f32
    %out = arith.mulf %d, %r : f32
    linalg.yield %out : f32
  } -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
"""


def test_reduction_fusion_on_dynamic_rows(rng):
    """A layer-norm over a ``?`` number of rows still fuses (``?`` rows match
    ``?`` rows: every member indexes them in place)."""
    mod = axfusion.compile(LAYER_NORM)
    assert [g.pattern for g in mod.detected_patterns()] == ["ReductionFusion"]
    for rows in (1, 6, 19):
        x = rng.standard_normal((rows, 32)).astype(np.float32) * 3 + 1
        x64 = x.astype(np.float64)
        want = (x64 - x64.mean(1, keepdims=True)) / np.sqrt(x64.var(1, keepdims=True) + 1e-5)
        assert_close(mod.forward(x), want, 1e-5)
