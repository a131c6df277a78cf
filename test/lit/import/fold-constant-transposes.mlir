// RUN: axfusion-opt %s --axf-fold-constant-transposes --split-input-file | FileCheck %s

// A transpose of a constant is computed at compile time (torch-mlir's
// nn.Linear transposes its weight on every call otherwise).

// CHECK-LABEL: func.func @dense
// CHECK-NOT:     linalg.transpose
// CHECK:         %[[W:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00, 5.000000e+00], [2.000000e+00, 4.000000e+00, 6.000000e+00]]> : tensor<2x3xf32>
// CHECK:         linalg.matmul ins(%{{.*}}, %[[W]] : tensor<4x2xf32>, tensor<2x3xf32>)
func.func @dense(%x: tensor<4x2xf32>) -> tensor<4x3xf32> {
  %w = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %wt = linalg.transpose ins(%w : tensor<3x2xf32>) outs(%e : tensor<2x3xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<4x3xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x3xf32>) -> tensor<4x3xf32>
  %y = linalg.matmul ins(%x, %wt : tensor<4x2xf32>, tensor<2x3xf32>) outs(%acc : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %y : tensor<4x3xf32>
}

// -----

// A transpose of an argument (weights passed at run time) stays.
// CHECK-LABEL: func.func @argument
// CHECK:         linalg.transpose
func.func @argument(%w: tensor<3x2xf32>) -> tensor<2x3xf32> {
  %e = tensor.empty() : tensor<2x3xf32>
  %wt = linalg.transpose ins(%w : tensor<3x2xf32>) outs(%e : tensor<2x3xf32>) permutation = [1, 0]
  return %wt : tensor<2x3xf32>
}

// -----

// torch-mlir's weights are dense_resource blobs (a 4-byte alignment word,
// then the little-endian floats 1, 2, 3, 4).
// CHECK-LABEL: func.func @resource
// CHECK-NOT:     linalg.transpose
// CHECK:         arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00], [2.000000e+00, 4.000000e+00]]> : tensor<2x2xf32>
func.func @resource() -> tensor<2x2xf32> {
  %w = arith.constant dense_resource<weight> : tensor<2x2xf32>
  %e = tensor.empty() : tensor<2x2xf32>
  %wt = linalg.transpose ins(%w : tensor<2x2xf32>) outs(%e : tensor<2x2xf32>) permutation = [1, 0]
  return %wt : tensor<2x2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      weight: "0x040000000000803F000000400000404000008040"
    }
  }
#-}
