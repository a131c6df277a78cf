// RUN: axfusion-opt %s --axf-optimize --split-input-file | FileCheck %s

// axf-optimize gives every entry point with a dynamic result size a shape
// function @<name>__axf_result_shapes: the dynamic sizes computed from the
// argument sizes, then a check code (0: the argument sizes agree; k: check k
// failed, its message in axf.checks).

// A matmul with a dynamic batch: the result's rows are the input's rows.
// CHECK-LABEL: func.func @batch
// CHECK-SAME:    -> tensor<?x3xf32>
// CHECK:         linalg.matmul
// CHECK-LABEL: func.func @batch__axf_result_shapes
// CHECK-SAME:    (%[[X:.*]]: tensor<?x4xf32>, %{{.*}}: tensor<4x3xf32>) -> tensor<2xi64>
// CHECK-SAME:    axf.checks = [
// CHECK-NOT:     linalg.
// CHECK:         %[[D:.*]] = tensor.dim %[[X]], %{{.*}} : tensor<?x4xf32>
// CHECK:         %[[N:.*]] = arith.index_cast %[[D]] : index to i64
// CHECK:         %[[CODE:.*]] = memref.load
// CHECK:         %[[S:.*]] = tensor.from_elements %[[N]], %[[CODE]] : tensor<2xi64>
// CHECK:         return %[[S]] : tensor<2xi64>
func.func @batch(%x: tensor<?x4xf32>, %w: tensor<4x3xf32>) -> tensor<?x3xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x4xf32>
  %init = tensor.empty(%n) : tensor<?x3xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<?x3xf32>) -> tensor<?x3xf32>
  %r = linalg.matmul ins(%x, %w : tensor<?x4xf32>, tensor<4x3xf32>)
                     outs(%acc : tensor<?x3xf32>) -> tensor<?x3xf32>
  return %r : tensor<?x3xf32>
}

// -----

// Two dynamic arguments that must agree: the element-wise op's runtime
// verification (upstream generate-runtime-verification) becomes a check
// that stores its number instead of aborting.
// CHECK-LABEL: func.func @add__axf_result_shapes
// CHECK-SAME:    (%[[A:.*]]: tensor<?xf32>, %[[B:.*]]: tensor<?xf32>) -> tensor<2xi64>
// CHECK-SAME:    axf.checks = [{{.*}}"dimension #0 of input/output operand #1 is incompatible with inferred dimension size (at {{.*}}:[[# @LINE + 11]]:8)"
// CHECK:         %[[CODE:.*]] = memref.alloca() : memref<i64>
// CHECK:         tensor.dim %[[B]]
// CHECK:         scf.if
// CHECK:           memref.store %{{.*}}, %[[CODE]][]
// CHECK-NOT:     cf.assert
// CHECK:         return
func.func @add(%a: tensor<?xf32>, %b: tensor<?xf32>) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %a, %c0 : tensor<?xf32>
  %init = tensor.empty(%n) : tensor<?xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%a, %b : tensor<?xf32>, tensor<?xf32>) outs(%init : tensor<?xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}

// -----

// Static results need no shape function.
// CHECK-LABEL: func.func @static
// CHECK-NOT:   __axf_result_shapes
func.func @static(%a: tensor<?x4xf32>) -> tensor<4xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4xf32>) -> tensor<4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>], iterator_types = ["reduction", "parallel"]}
      ins(%a : tensor<?x4xf32>) outs(%acc : tensor<4xf32>) {
  ^bb0(%x: f32, %o: f32):
    %s = arith.addf %x, %o : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}
