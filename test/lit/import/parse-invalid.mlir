// RUN: not axfusion-opt %s --split-input-file -o %t 2>&1 | FileCheck %s
// RUN: FileCheck %s --check-prefix=OUT < %t

// Malformed IR is reported as file:line:col: error: message, one split part
// at a time: a broken part does not stop the others, and the exit status
// is 1 when any part failed.

func.func @undefined_value(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: parse-invalid.mlir:[[@LINE+1]]:10: error: use of undeclared SSA value name
  return %y : tensor<4xf32>
}

// -----

// The good part between the broken ones is still printed.
// OUT-LABEL: func.func @well_formed
// OUT-NEXT:    return %arg0 : tensor<4xf32>
// OUT-NOT:     func.func
func.func @well_formed(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// Verifier errors found while parsing carry the op's location and a note.
func.func @verifier(%x: tensor<4xf32>) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  // CHECK: parse-invalid.mlir:[[@LINE+2]]:8: error: 'linalg.generic' op expected the number of indexing_map (1) to be equal to the number of input/output operands (2)
  // CHECK-NEXT: parse-invalid.mlir:[[@LINE+1]]:8: note: see current operation
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%init : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}

// -----

func.func @result_type_mismatch(%x: tensor<4xf32>) -> tensor<8xf32> {
  // CHECK: parse-invalid.mlir:[[@LINE+1]]:3: error: type of return operand 0 ('tensor<4xf32>') doesn't match function result type ('tensor<8xf32>') in function @result_type_mismatch
  return %x : tensor<4xf32>
}

// -----

func.func @unregistered(%x: tensor<4xf32>) -> tensor<4xf32> {
  // CHECK: parse-invalid.mlir:[[@LINE+1]]:17: error: operation being parsed with an unregistered dialect
  %y = "foo.bar"(%x) : (tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
