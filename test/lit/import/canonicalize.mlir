// RUN: axfusion-opt %s --axf-optimize --split-input-file | FileCheck %s

// axf-optimize (canonicalize + CSE) cleans what importers leave behind.

// Constant arithmetic folds.
// CHECK-LABEL: func.func @fold_constants
// CHECK-NEXT:    %[[C5:.*]] = arith.constant 5 : index
// CHECK-NEXT:    return %[[C5]] : index
func.func @fold_constants(%x: tensor<4xf32>) -> index {
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %s = arith.addi %c2, %c3 : index
  return %s : index
}

// -----

// Two identical element-wise ops become one (CSE), and the duplicate
// tensor.empty goes with it.
// CHECK-LABEL: func.func @cse_duplicate_generic
// CHECK-COUNT-1: tensor.empty
// CHECK-COUNT-1: linalg.generic
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[R:.*]], %[[R]] : tensor<4xf32>, tensor<4xf32>
#id = affine_map<(d0) -> (d0)>
func.func @cse_duplicate_generic(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %e1 = tensor.empty() : tensor<4xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%e1 : tensor<4xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.exp %v : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %e2 = tensor.empty() : tensor<4xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%e2 : tensor<4xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.exp %v : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  return %a, %b : tensor<4xf32>, tensor<4xf32>
}

// -----

// A result nobody uses is erased.
// CHECK-LABEL: func.func @dead_generic
// CHECK-SAME:    (%[[X:.*]]: tensor<4xf32>)
// CHECK-NEXT:    return %[[X]] : tensor<4xf32>
func.func @dead_generic(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.exp %v : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  return %x : tensor<4xf32>
}

// -----

// transpose(transpose(x)) with inverse permutations is x.
// CHECK-LABEL: func.func @transpose_of_transpose
// CHECK-SAME:    (%[[X:.*]]: tensor<4x8xf32>)
// CHECK-NOT:     linalg.transpose
// CHECK:         return %[[X]] : tensor<4x8xf32>
func.func @transpose_of_transpose(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %e1 = tensor.empty() : tensor<8x4xf32>
  %t1 = linalg.transpose ins(%x : tensor<4x8xf32>) outs(%e1 : tensor<8x4xf32>) permutation = [1, 0]
  %e2 = tensor.empty() : tensor<4x8xf32>
  %t2 = linalg.transpose ins(%t1 : tensor<8x4xf32>) outs(%e2 : tensor<4x8xf32>) permutation = [1, 0]
  return %t2 : tensor<4x8xf32>
}

// -----

// Casts that only forget static information fold into their consumer.
// CHECK-LABEL: func.func @fold_cast_roundtrip
// CHECK-SAME:    (%[[X:.*]]: tensor<4xf32>)
// CHECK-NOT:     tensor.cast
// CHECK:         return %[[X]] : tensor<4xf32>
func.func @fold_cast_roundtrip(%x: tensor<4xf32>) -> tensor<4xf32> {
  %d = tensor.cast %x : tensor<4xf32> to tensor<?xf32>
  %s = tensor.cast %d : tensor<?xf32> to tensor<4xf32>
  return %s : tensor<4xf32>
}
