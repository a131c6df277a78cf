// RUN: axfusion-opt %s --axf-check-input --split-input-file | FileCheck %s

// axf-check-input only inspects the module: what it accepts comes out as it
// went in (modulo the printer's spelling).

// CHECK-LABEL: func.func @elementwise
// CHECK-SAME:    (%[[X:.*]]: tensor<4x8xf32>, %[[Y:.*]]: tensor<4x8xf32>) -> tensor<4x8xf32>
// CHECK:         %[[INIT:.*]] = tensor.empty() : tensor<4x8xf32>
// CHECK:         %[[R:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[X]], %[[Y]] : tensor<4x8xf32>, tensor<4x8xf32>) outs(%[[INIT]] : tensor<4x8xf32>)
// CHECK:           arith.addf
// CHECK:           linalg.yield
// CHECK:         return %[[R]] : tensor<4x8xf32>
// CHECK-NOT:   llvm.emit_c_interface
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @elementwise(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %init = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : tensor<4x8xf32>, tensor<4x8xf32>) outs(%init : tensor<4x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}

// -----

// Every supported boundary element type, and a rank-0 tensor.
// CHECK-LABEL: func.func @dtypes
// CHECK-SAME:    tensor<2xf16>, %{{.*}}: tensor<2xf64>, %{{.*}}: tensor<2xi8>, %{{.*}}: tensor<2xi16>, %{{.*}}: tensor<2xi32>, %{{.*}}: tensor<2xi64>, %{{.*}}: tensor<f32>)
// CHECK-SAME:    -> (tensor<2xf16>, tensor<f32>)
// CHECK-NEXT:    return
func.func @dtypes(%a: tensor<2xf16>, %b: tensor<2xf64>, %c: tensor<2xi8>, %d: tensor<2xi16>,
                  %e: tensor<2xi32>, %f: tensor<2xi64>, %g: tensor<f32>) -> (tensor<2xf16>, tensor<f32>) {
  return %a, %g : tensor<2xf16>, tensor<f32>
}

// -----

// i1 and dynamic shapes are fine inside the program, and a private helper
// is not an entry point: only public functions' boundaries are checked.
// CHECK-LABEL: func.func private @helper
// CHECK-SAME:    (%{{.*}}: tensor<?xf32>) -> tensor<?xi1>
// CHECK:         arith.cmpf ogt
// CHECK-LABEL: func.func @relu_select
// CHECK:         %[[MASK:.*]] = call @helper
// CHECK:         linalg.generic
// CHECK:           arith.select
// CHECK:         return
func.func private @helper(%x: tensor<?xf32>) -> tensor<?xi1> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?xf32>
  %init = tensor.empty(%n) : tensor<?xi1>
  %m = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : tensor<?xf32>) outs(%init : tensor<?xi1>) {
  ^bb0(%v: f32, %o: i1):
    %p = arith.cmpf ogt, %v, %zero : f32
    linalg.yield %p : i1
  } -> tensor<?xi1>
  return %m : tensor<?xi1>
}
func.func @relu_select(%x: tensor<8xf32>) -> tensor<8xf32> {
  %zero = arith.constant 0.0 : f32
  %dyn = tensor.cast %x : tensor<8xf32> to tensor<?xf32>
  %mdyn = call @helper(%dyn) : (tensor<?xf32>) -> tensor<?xi1>
  %mask = tensor.cast %mdyn : tensor<?xi1> to tensor<8xi1>
  %init = tensor.empty() : tensor<8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x, %mask : tensor<8xf32>, tensor<8xi1>) outs(%init : tensor<8xf32>) {
  ^bb0(%v: f32, %p: i1, %o: f32):
    %s = arith.select %p, %v, %zero : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  return %r : tensor<8xf32>
}

// -----

// The other dialects a linalg-on-tensors body may use: tensor.pad, math, scf.
// CHECK-LABEL: func.func @pad_math_scf
// CHECK:         %[[P:.*]] = tensor.pad
// CHECK:         scf.for {{.*}} iter_args(%{{.*}} = %[[P]]) -> (tensor<6xf32>)
// CHECK:           math.exp
// CHECK:           scf.yield
// CHECK:         return
func.func @pad_math_scf(%x: tensor<4xf32>) -> tensor<6xf32> {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c6 = arith.constant 6 : index
  %p = tensor.pad %x low[1] high[1] {
  ^bb0(%i: index):
    tensor.yield %zero : f32
  } : tensor<4xf32> to tensor<6xf32>
  %r = scf.for %i = %c0 to %c6 step %c1 iter_args(%t = %p) -> (tensor<6xf32>) {
    %v = tensor.extract %t[%i] : tensor<6xf32>
    %e = math.exp %v : f32
    %u = tensor.insert %e into %t[%i] : tensor<6xf32>
    scf.yield %u : tensor<6xf32>
  }
  return %r : tensor<6xf32>
}
