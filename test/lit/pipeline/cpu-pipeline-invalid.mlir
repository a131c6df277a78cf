// RUN: not axfusion-opt %s --axf-cpu-pipeline --split-input-file 2>&1 | FileCheck %s

// The pipeline starts with axf-check-input: what it cannot compile is
// refused with a location before any lowering runs (and no IR is printed).

// CHECK-NOT: llvm.func
// CHECK: cpu-pipeline-invalid.mlir:[[@LINE+1]]:1: error: entry point @unranked argument 0: type tensor<*xf32> is not a ranked tensor
func.func @unranked(%a: tensor<*xf32>) -> tensor<4xf32> {
  %r = tensor.cast %a : tensor<*xf32> to tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

func.func @tosa(%a: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: cpu-pipeline-invalid.mlir:[[@LINE+1]]:8: error: unsupported op 'tosa.abs'
  %r = tosa.abs %a : (tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}
// CHECK-NOT: llvm.func
