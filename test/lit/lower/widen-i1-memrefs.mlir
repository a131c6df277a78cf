// RUN: axfusion-opt %s --axf-widen-i1-memrefs | FileCheck %s
// RUN: axfusion-opt %s --axf-widen-i1-memrefs --pass-pipeline='builtin.module(finalize-memref-to-llvm)' | FileCheck %s --check-prefix=LLVM

// An i1 buffer between two loops (a mask) is stored as bytes: i8 elements,
// extui before stores, trunci after loads. MLIR 22's memref.store lowering
// would otherwise assert on the sub-byte element.
// CHECK-LABEL: func.func @mask
// CHECK:         %[[M:.*]] = memref.alloc() : memref<16xi8>
// CHECK:         %[[W:.*]] = arith.extui %{{.*}} : i1 to i8
// CHECK:         memref.store %[[W]], %[[M]][%{{.*}}] : memref<16xi8>
// CHECK:         %[[L:.*]] = memref.load %[[M]][%{{.*}}] : memref<16xi8>
// CHECK:         %[[B:.*]] = arith.trunci %[[L]] : i8 to i1
// CHECK:         arith.select %[[B]]
// CHECK:         memref.dealloc %[[M]] : memref<16xi8>
// CHECK-NOT:     xi1>
// LLVM-LABEL:  func.func @mask
// LLVM:          llvm.store %{{.*}} : i8, !llvm.ptr
func.func @mask(%i: index, %a: f32, %b: f32) -> f32 {
  %m = memref.alloc() : memref<16xi1>
  %c = arith.cmpf ogt, %a, %b : f32
  memref.store %c, %m[%i] : memref<16xi1>
  %l = memref.load %m[%i] : memref<16xi1>
  %r = arith.select %l, %a, %b : f32
  memref.dealloc %m : memref<16xi1>
  return %r : f32
}
