// RUN: axfusion-opt %s --axf-bufferize --split-input-file | FileCheck %s

// axf-bufferize: tensors become memrefs with identity layouts at the
// function boundary; results become caller-allocated out-params (appended
// after the inputs, the function returns nothing); public functions carry
// llvm.emit_c_interface; every temporary buffer is freed.

// An element-wise op writes straight into the out-param: no allocation.
// CHECK-LABEL: func.func @elementwise
// CHECK-SAME:    (%[[X:.*]]: memref<4x8xf32>, %[[Y:.*]]: memref<4x8xf32>, %[[OUT:.*]]: memref<4x8xf32>)
// CHECK-SAME:    attributes {llvm.emit_c_interface}
// CHECK-NOT:     memref.alloc
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[X]], %[[Y]] : memref<4x8xf32>, memref<4x8xf32>) outs(%[[OUT]] : memref<4x8xf32>)
// CHECK:           arith.addf
// CHECK:         return{{$}}
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

// The transposed weight is a temporary: allocated, used by the matmul, and
// deallocated before returning. The result is accumulated in the out-param.
// CHECK-LABEL: func.func @linear
// CHECK-SAME:    (%[[X:.*]]: memref<4x8xf32>, %[[W:.*]]: memref<16x8xf32>, %[[OUT:.*]]: memref<4x16xf32>)
// CHECK-SAME:    attributes {llvm.emit_c_interface}
// CHECK:         %[[WT:.*]] = memref.alloc() {{.*}}: memref<8x16xf32>
// CHECK:         linalg.transpose ins(%[[W]] : memref<16x8xf32>) outs(%[[WT]] : memref<8x16xf32>)
// CHECK:         linalg.fill ins(%{{.*}} : f32) outs(%[[OUT]] : memref<4x16xf32>)
// CHECK:         linalg.matmul ins(%[[X]], %[[WT]] : memref<4x8xf32>, memref<8x16xf32>) outs(%[[OUT]] : memref<4x16xf32>)
// CHECK-NEXT:    memref.dealloc %[[WT]] : memref<8x16xf32>
// CHECK-NEXT:    return{{$}}
func.func @linear(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Several results: one out-param each, in order.
// CHECK-LABEL: func.func @two_results
// CHECK-SAME:    (%[[X:.*]]: memref<4xf32>, %[[OUT0:.*]]: memref<4xf32>, %[[OUT1:.*]]: memref<2x2xf32>)
// CHECK-SAME:    attributes {llvm.emit_c_interface}
// CHECK:         linalg.generic {{.*}} ins(%[[X]] : memref<4xf32>) outs(%[[OUT0]] : memref<4xf32>)
// CHECK:         %[[E:.*]] = memref.expand_shape %[[OUT0]]
// CHECK:         memref.copy %[[E]], %[[OUT1]] : memref<2x2xf32> to memref<2x2xf32>
// CHECK:         return{{$}}
func.func @two_results(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<2x2xf32>) {
  %e = tensor.empty() : tensor<4xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.exp %v : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %b = tensor.expand_shape %a [[0, 1]] output_shape [2, 2] : tensor<4xf32> into tensor<2x2xf32>
  return %a, %b : tensor<4xf32>, tensor<2x2xf32>
}

// -----

// Returning an argument copies it into the out-param (the caller's buffer
// never aliases an input).
// CHECK-LABEL: func.func @returns_argument
// CHECK-SAME:    (%[[X:.*]]: memref<4xf32>, %[[OUT:.*]]: memref<4xf32>)
// CHECK-NEXT:    memref.copy %[[X]], %[[OUT]] : memref<4xf32> to memref<4xf32>
// CHECK-NEXT:    return{{$}}
func.func @returns_argument(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}

// -----

// A constant is a private global; a private function gets out-params too but
// no C interface (it is not an entry point), and the buffer its caller passes
// for the result is a temporary, freed after the copy out.
// CHECK:       memref.global "private" constant @[[G:.*]] : memref<2xf32> = dense<[1.000000e+00, 2.000000e+00]>
// CHECK-LABEL: func.func private @helper
// CHECK-SAME:    (%{{.*}}: memref<2xf32>, %{{.*}}: memref<2xf32>)
// CHECK-NOT:     llvm.emit_c_interface
// CHECK:         return{{$}}
// CHECK-LABEL: func.func @constant
// CHECK-SAME:    (%[[OUT:.*]]: memref<2xf32>) attributes {llvm.emit_c_interface}
// CHECK:         %[[C:.*]] = memref.get_global @[[G]] : memref<2xf32>
// CHECK:         %[[TMP:.*]] = memref.alloc() : memref<2xf32>
// CHECK:         call @helper(%[[C]], %[[TMP]]) : (memref<2xf32>, memref<2xf32>) -> ()
// CHECK:         memref.copy %[[TMP]], %[[OUT]]
// CHECK:         memref.dealloc %[[TMP]] : memref<2xf32>
// CHECK:         return{{$}}
func.func private @helper(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}
func.func @constant() -> tensor<2xf32> {
  %c = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %r = call @helper(%c) : (tensor<2xf32>) -> tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

// tensor.pad writes the padding value, then copies the source into a strided
// subview of the out-param (axf-lower-to-llvm turns this copy into loops).
// CHECK-LABEL: func.func @pad
// CHECK-SAME:    (%[[X:.*]]: memref<2x3xf32>, %[[OUT:.*]]: memref<4x5xf32>)
// CHECK:         linalg.map outs(%[[OUT]] : memref<4x5xf32>)
// CHECK:         %[[SV:.*]] = memref.subview %[[OUT]][1, 1] [2, 3] [1, 1] : memref<4x5xf32> to memref<2x3xf32, strided<[5, 1], offset: 6>>
// CHECK:         memref.copy %[[X]], %[[SV]] : memref<2x3xf32> to memref<2x3xf32, strided<[5, 1], offset: 6>>
// CHECK:         return{{$}}
func.func @pad(%x: tensor<2x3xf32>) -> tensor<4x5xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[1, 1] high[1, 1] {
  ^bb0(%i: index, %j: index):
    tensor.yield %zero : f32
  } : tensor<2x3xf32> to tensor<4x5xf32>
  return %p : tensor<4x5xf32>
}

// -----

// A slice of a temporary is a subview of its buffer; the buffer is freed
// after its last use, and no tensor or bufferization op is left.
// CHECK-LABEL: func.func @chain
// CHECK-SAME:    (%[[X:.*]]: memref<8xf32>, %[[Y:.*]]: memref<4xf32>, %[[OUT:.*]]: memref<4xf32>)
// CHECK-NOT:     tensor
// CHECK-NOT:     bufferization.
// CHECK:         %[[T:.*]] = memref.alloc() {{.*}}: memref<8xf32>
// CHECK:         linalg.generic {{.*}} ins(%[[X]] : memref<8xf32>) outs(%[[T]] : memref<8xf32>)
// CHECK:         %[[S:.*]] = memref.subview %[[T]][2] [4] [1]
// CHECK:         linalg.generic {{.*}} ins(%[[S]], %[[Y]] : {{.*}}) outs(%[[OUT]] : memref<4xf32>)
// CHECK-NOT:     bufferization.
// CHECK:         memref.dealloc %[[T]] : memref<8xf32>
// CHECK-NEXT:    return{{$}}
func.func @chain(%x: tensor<8xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<8xf32>
  %a = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = math.tanh %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %s = tensor.extract_slice %a[2] [4] [1] : tensor<8xf32> to tensor<4xf32>
  %e2 = tensor.empty() : tensor<4xf32>
  %b = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]}
      ins(%s, %y : tensor<4xf32>, tensor<4xf32>) outs(%e2 : tensor<4xf32>) {
  ^bb0(%u: f32, %v: f32, %o: f32):
    %r = arith.mulf %u, %v : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  return %b : tensor<4xf32>
}

// -----

// Entry-point arguments are read-only (axf-readonly-arguments): an
// element-wise op on whole tensors would otherwise be bufferized in place
// into the caller's %x. It writes the out-param instead.
// CHECK-LABEL: func.func @tensor_arith
// CHECK-SAME:    (%[[X:.*]]: memref<16xf32>, %[[Y:.*]]: memref<16xf32>, %[[OUT:.*]]: memref<16xf32>)
// CHECK:         linalg.generic
// CHECK-SAME:      outs(%[[OUT]] : memref<16xf32>)
// CHECK-NOT:     outs(%[[X]]
// CHECK:         return{{$}}
func.func @tensor_arith(%x: tensor<16xf32>, %y: tensor<16xf32>) -> tensor<16xf32> {
  %0 = arith.addf %x, %y : tensor<16xf32>
  %1 = math.exp %0 : tensor<16xf32>
  return %1 : tensor<16xf32>
}
