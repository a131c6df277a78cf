// RUN: not axfusion-opt %s --axf-check-input --split-input-file 2>&1 | FileCheck %s

// Each case is refused with its location (the function, or the op) and a
// message saying why and what to do instead.

// CHECK-NOT: @i1_boundary argument
// CHECK: check-input-invalid.mlir:[[@LINE+1]]:1: error: entry point @i1_boundary result 0: tensor<4xi1>: i1 tensors cannot cross the function boundary {{.*}}; widen to i8 with arith.extui in the model
func.func @i1_boundary(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xi1> {
  %init = tensor.empty() : tensor<4xi1>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%a, %b : tensor<4xf32>, tensor<4xf32>) outs(%init : tensor<4xi1>) {
  ^bb0(%x: f32, %y: f32, %o: i1):
    %p = arith.cmpf olt, %x, %y : f32
    linalg.yield %p : i1
  } -> tensor<4xi1>
  return %r : tensor<4xi1>
}

// -----

// CHECK: check-input-invalid.mlir:[[@LINE+1]]:1: error: entry point @bf16_boundary argument 0: tensor<4xbf16>: bf16 tensors have no numpy dtype; pass f32 and convert inside the model with arith.truncf
func.func @bf16_boundary(%a: tensor<4xbf16>) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%a : tensor<4xbf16>) outs(%init : tensor<4xf32>) {
  ^bb0(%x: bf16, %o: f32):
    %y = arith.extf %x : bf16 to f32
    linalg.yield %y : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// CHECK: check-input-invalid.mlir:[[@LINE+4]]:1: error: entry point @other_types argument 0: tensor<4xi4>: element type i4 is not supported (supported: f16, f32, f64, i8, i16, i32, i64)
// CHECK: check-input-invalid.mlir:[[@LINE+3]]:1: error: entry point @other_types argument 1: type memref<4xf32> is not a ranked tensor; entry points take and return tensors
// CHECK: check-input-invalid.mlir:[[@LINE+2]]:1: error: entry point @other_types argument 2: type f32 is not a ranked tensor
// CHECK-NOT: @other_types result
func.func @other_types(%a: tensor<4xi4>, %b: memref<4xf32>, %c: f32) -> tensor<4xf32> {
  %r = tensor.splat %c : tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

func.func @tosa(%a: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: check-input-invalid.mlir:[[@LINE+1]]:8: error: unsupported op 'tosa.abs': axfusion compiles linalg-on-tensors (dialects: affine, arith, builtin, func, linalg, math, scf, tensor, ub)
  %r = tosa.abs %a : (tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// An op of an unsupported dialect nested in a linalg body is found too.
func.func @nested(%a: tensor<4xf32>) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%a : tensor<4xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%x: f32, %o: f32):
    // CHECK: check-input-invalid.mlir:[[@LINE+2]]:10: error: unsupported op 'complex.create'
    // CHECK: check-input-invalid.mlir:[[@LINE+2]]:10: error: unsupported op 'complex.re'
    %c = complex.create %x, %x : complex<f32>
    %y = complex.re %c : complex<f32>
    linalg.yield %y : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// CHECK: check-input-invalid.mlir:[[@LINE+1]]:1: error: external function @library has no body; axfusion compiles whole programs
func.func private @library(tensor<4xf32>) -> tensor<4xf32>
func.func @calls_library(%a: tensor<4xf32>) -> tensor<4xf32> {
  %r = func.call @library(%a) : (tensor<4xf32>) -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

// Only private functions: nothing to call from outside.
// The implicit top-level module is located at line 0 of the file, as in mlir-opt.
// CHECK: check-input-invalid.mlir:0:0: error: no entry point: the module has no public func.func with a body
func.func private @helper(%a: tensor<4xf32>) -> tensor<4xf32> {
  return %a : tensor<4xf32>
}

