"""Compiled kernels against float64 numpy references on fresh random inputs.

Each module-scoped fixture compiles one kernel once; each test draws new
inputs. Bounds are max |got - want| / max |want| (``conftest.rel_error``);
float32 kernels get 1e-5 (a few float32 ulps of accumulated rounding on the
small sizes used here).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_close, compile_ir, conv2d_nchw_reference

F32_BOUND = 1e-5

MATMUL = """
func.func @forward(%a: tensor<24x40xf32>, %b: tensor<40x16xf32>) -> tensor<24x16xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<24x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<24x16xf32>) -> tensor<24x16xf32>
  %c = linalg.matmul ins(%a, %b : tensor<24x40xf32>, tensor<40x16xf32>)
                     outs(%acc : tensor<24x16xf32>) -> tensor<24x16xf32>
  return %c : tensor<24x16xf32>
}
"""

BATCH_MATMUL = """
func.func @forward(%a: tensor<3x8x20xf32>, %b: tensor<3x20x12xf32>) -> tensor<3x8x12xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<3x8x12xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<3x8x12xf32>) -> tensor<3x8x12xf32>
  %c = linalg.batch_matmul ins(%a, %b : tensor<3x8x20xf32>, tensor<3x20x12xf32>)
                           outs(%acc : tensor<3x8x12xf32>) -> tensor<3x8x12xf32>
  return %c : tensor<3x8x12xf32>
}
"""

# y = max(x * a + c, 0) * sigmoid(x) + bias[None, :, None]
#   x: [2, 6, 10]   a: [10] (trailing axis)   c: [2, 1, 1]   bias: [6] via linalg.broadcast
ELEMENTWISE = """
#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#last = affine_map<(d0, d1, d2) -> (d2)>
#lead = affine_map<(d0, d1, d2) -> (d0, 0, 0)>
func.func @forward(%x: tensor<2x6x10xf32>, %a: tensor<10xf32>, %c: tensor<2x1x1xf32>,
                   %bias: tensor<6xf32>) -> tensor<2x6x10xf32> {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %init = tensor.empty() : tensor<2x6x10xf32>
  %axc = linalg.generic {indexing_maps = [#id, #last, #lead, #id],
                         iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %a, %c : tensor<2x6x10xf32>, tensor<10xf32>, tensor<2x1x1xf32>)
      outs(%init : tensor<2x6x10xf32>) {
  ^bb0(%v: f32, %s: f32, %t: f32, %o: f32):
    %m = arith.mulf %v, %s : f32
    %r = arith.addf %m, %t : f32
    %q = arith.maximumf %r, %zero : f32
    linalg.yield %q : f32
  } -> tensor<2x6x10xf32>
  %sig = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : tensor<2x6x10xf32>) outs(%init : tensor<2x6x10xf32>) {
  ^bb0(%v: f32, %o: f32):
    %n = arith.negf %v : f32
    %e = math.exp %n : f32
    %d = arith.addf %one, %e : f32
    %s = arith.divf %one, %d : f32
    linalg.yield %s : f32
  } -> tensor<2x6x10xf32>
  %prod = linalg.mul ins(%axc, %sig : tensor<2x6x10xf32>, tensor<2x6x10xf32>)
                     outs(%init : tensor<2x6x10xf32>) -> tensor<2x6x10xf32>
  %b = linalg.broadcast ins(%bias : tensor<6xf32>) outs(%init : tensor<2x6x10xf32>) dimensions = [0, 2]
  %y = linalg.add ins(%prod, %b : tensor<2x6x10xf32>, tensor<2x6x10xf32>)
                  outs(%init : tensor<2x6x10xf32>) -> tensor<2x6x10xf32>
  return %y : tensor<2x6x10xf32>
}
"""

# Three reductions of one input: row sums, column maxima, and the total (a
# rank-0 result).
REDUCTIONS = """
#id = affine_map<(d0, d1) -> (d0, d1)>
#rows = affine_map<(d0, d1) -> (d0)>
#cols = affine_map<(d0, d1) -> (d1)>
#all = affine_map<(d0, d1) -> ()>
func.func @forward(%x: tensor<12x33xf32>) -> (tensor<12xf32>, tensor<33xf32>, tensor<f32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %r_init = tensor.empty() : tensor<12xf32>
  %r_acc = linalg.fill ins(%zero : f32) outs(%r_init : tensor<12xf32>) -> tensor<12xf32>
  %sum = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<12x33xf32>) outs(%r_acc : tensor<12xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<12xf32>
  %c_init = tensor.empty() : tensor<33xf32>
  %c_acc = linalg.fill ins(%ninf : f32) outs(%c_init : tensor<33xf32>) -> tensor<33xf32>
  %max = linalg.generic {indexing_maps = [#id, #cols], iterator_types = ["reduction", "parallel"]}
      ins(%x : tensor<12x33xf32>) outs(%c_acc : tensor<33xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<33xf32>
  %t_init = tensor.empty() : tensor<f32>
  %t_acc = linalg.fill ins(%zero : f32) outs(%t_init : tensor<f32>) -> tensor<f32>
  %total = linalg.generic {indexing_maps = [#id, #all], iterator_types = ["reduction", "reduction"]}
      ins(%x : tensor<12x33xf32>) outs(%t_acc : tensor<f32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  return %sum, %max, %total : tensor<12xf32>, tensor<33xf32>, tensor<f32>
}
"""

# Numerically stable softmax over the last axis (max, sub, exp, sum, div).
SOFTMAX = """
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @forward(%x: tensor<16x37xf32>) -> tensor<16x37xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %row_init = tensor.empty() : tensor<16xf32>
  %init = tensor.empty() : tensor<16x37xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<16xf32>) -> tensor<16xf32>
  %max = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<16x37xf32>) outs(%max_acc : tensor<16xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<16xf32>
  %exp = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<16x37xf32>, tensor<16xf32>) outs(%init : tensor<16x37xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<16x37xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<16xf32>) -> tensor<16xf32>
  %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<16x37xf32>) outs(%sum_acc : tensor<16xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<16xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<16x37xf32>, tensor<16xf32>) outs(%init : tensor<16x37xf32>) {
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  } -> tensor<16x37xf32>
  return %y : tensor<16x37xf32>
}
"""

# conv_2d_nchw_fchw, stride 2, asymmetric zero padding by tensor.pad
# (top 1, bottom 2, left 2, right 1): [2,3,9,10] -> padded [2,3,12,13]
# -> [2,5,5,6] with a 3x3 kernel.
CONV2D = """
func.func @forward(%x: tensor<2x3x9x10xf32>, %w: tensor<5x3x3x3xf32>) -> tensor<2x5x5x6xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 0, 1, 2] high[0, 0, 2, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<2x3x9x10xf32> to tensor<2x3x12x13xf32>
  %init = tensor.empty() : tensor<2x5x5x6xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<2x5x5x6xf32>) -> tensor<2x5x5x6xf32>
  %y = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<2> : vector<2xi64>}
      ins(%padded, %w : tensor<2x3x12x13xf32>, tensor<5x3x3x3xf32>)
      outs(%acc : tensor<2x5x5x6xf32>) -> tensor<2x5x5x6xf32>
  return %y : tensor<2x5x5x6xf32>
}
"""

TRANSPOSE = """
func.func @forward(%x: tensor<3x5x7xf32>) -> tensor<7x3x5xf32> {
  %init = tensor.empty() : tensor<7x3x5xf32>
  %y = linalg.transpose ins(%x : tensor<3x5x7xf32>) outs(%init : tensor<7x3x5xf32>) permutation = [2, 0, 1]
  return %y : tensor<7x3x5xf32>
}
"""


def _module(text):
    @pytest.fixture(scope="module")
    def fixture():
        return compile_ir(text)
    return fixture


matmul = _module(MATMUL)
batch_matmul = _module(BATCH_MATMUL)
elementwise = _module(ELEMENTWISE)
reductions = _module(REDUCTIONS)
softmax = _module(SOFTMAX)
conv2d = _module(CONV2D)
transpose = _module(TRANSPOSE)


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def test_matmul(matmul, rng):
    a, b = _f32(rng, 24, 40), _f32(rng, 40, 16)
    want = a.astype(np.float64) @ b.astype(np.float64)
    assert_close(matmul.forward(a, b), want, F32_BOUND)


def test_batch_matmul(batch_matmul, rng):
    a, b = _f32(rng, 3, 8, 20), _f32(rng, 3, 20, 12)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert_close(batch_matmul.forward(a, b), want, F32_BOUND)


def test_elementwise_chain_with_broadcasting(elementwise, rng):
    x, a, c, bias = _f32(rng, 2, 6, 10), _f32(rng, 10), _f32(rng, 2, 1, 1), _f32(rng, 6)
    x64 = x.astype(np.float64)
    want = (np.maximum(x64 * a + c, 0.0) * (1.0 / (1.0 + np.exp(-x64)))
            + bias.astype(np.float64)[None, :, None])
    assert_close(elementwise.forward(x, a, c, bias), want, F32_BOUND)


def test_reductions_sum_and_max(reductions, rng):
    x = _f32(rng, 12, 33)
    x64 = x.astype(np.float64)
    row_sum, col_max, total = reductions.forward(x)
    assert_close(row_sum, x64.sum(axis=1), F32_BOUND, "row sums")
    # max selects an input element: exact.
    assert_close(col_max, x64.max(axis=0), 0.0, "column maxima")
    assert total.shape == ()
    assert_close(total, x64.sum(), F32_BOUND, "total")


def test_softmax(softmax, rng):
    # A wide range of logits, to exercise the max subtraction.
    x = (rng.standard_normal((16, 37)) * 20).astype(np.float32)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    want = e / e.sum(axis=1, keepdims=True)
    got = softmax.forward(x)
    assert_close(got, want, F32_BOUND)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


def test_conv2d_nchw_padded_strided(conv2d, rng):
    x, w = _f32(rng, 2, 3, 9, 10), _f32(rng, 5, 3, 3, 3)
    want = conv2d_nchw_reference(x, w, pad=(1, 2, 2, 1), stride=(2, 2))
    assert want.shape == (2, 5, 5, 6)
    assert_close(conv2d.forward(x, w), want, F32_BOUND)


def test_transpose(transpose, rng):
    x = _f32(rng, 3, 5, 7)
    got = transpose.forward(x)
    # A transpose moves values: exact.
    assert_close(got, np.transpose(x, (2, 0, 1)), 0.0)


def test_reference_lowering_matches_numpy(rng):
    """optimize=False (the build ``axfusec --run`` checks against) is itself
    correct, not only consistent with the optimised build."""
    mod = compile_ir(SOFTMAX, optimize=False)
    x = (rng.standard_normal((16, 37)) * 5).astype(np.float32)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(axis=1, keepdims=True))
    assert_close(mod.forward(x), e / e.sum(axis=1, keepdims=True), F32_BOUND)
