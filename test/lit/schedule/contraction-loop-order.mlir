// RUN: axfusion-opt %s --axf-contraction-loop-order --split-input-file | FileCheck %s

// A matmul outside any fusion group gets the fused tiles' micro-schedule:
// 8 x 512 output tiles, loops (k, i, j) inside: the innermost loop walks a
// row of the output and of B, which LLVM vectorises.
// CHECK-DAG:   #[[A:.*]] = affine_map<(d0, d1, d2) -> (d1, d0)>
// CHECK-DAG:   #[[B:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG:   #[[C:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-LABEL: func.func @matmul
// CHECK-NOT:     linalg.matmul
// CHECK:         scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C8:.*]] iter_args
// CHECK:           scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C512:.*]] iter_args
// CHECK:             linalg.generic
// CHECK-SAME:          indexing_maps = [#[[A]], #[[B]], #[[C]]]
// CHECK-SAME:          iterator_types = ["reduction", "parallel", "parallel"]
// CHECK:               arith.mulf
// CHECK:               arith.addf
func.func @matmul(%a: tensor<8x16xf32>, %b: tensor<16x32xf32>, %c: tensor<8x32xf32>) -> tensor<8x32xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<8x16xf32>, tensor<16x32xf32>) outs(%c : tensor<8x32xf32>) -> tensor<8x32xf32>
  return %r : tensor<8x32xf32>
}

// -----

// batch_matmul: (b, i, j, k) -> (b, k, i, j), one batch per tile.
// CHECK-LABEL: func.func @batch_matmul
// CHECK-NOT:     linalg.batch_matmul
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "reduction", "parallel", "parallel"]
func.func @batch_matmul(%a: tensor<2x8x16xf32>, %b: tensor<2x16x32xf32>, %c: tensor<2x8x32xf32>) -> tensor<2x8x32xf32> {
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x8x16xf32>, tensor<2x16x32xf32>) outs(%c : tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
  return %r : tensor<2x8x32xf32>
}

// -----

// A function without contractions is left alone.
// CHECK-LABEL: func.func @none
// CHECK-NEXT:    return %arg0
func.func @none(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// An NCHW convolution: loops (n, f, oh, ow, c, kh, kw) -> (n, f, oh, c, kh,
// kw, ow), the output row innermost.
// CHECK-LABEL: func.func @conv
// CHECK-NOT:     linalg.conv_2d_nchw_fchw
// CHECK:         linalg.generic
// CHECK-SAME:      iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "parallel"]
func.func @conv(%x: tensor<1x4x10x10xf32>, %w: tensor<8x4x3x3xf32>, %acc: tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32> {
  %r = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x4x10x10xf32>, tensor<8x4x3x3xf32>) outs(%acc : tensor<1x8x8x8xf32>) -> tensor<1x8x8x8xf32>
  return %r : tensor<1x8x8x8xf32>
}
