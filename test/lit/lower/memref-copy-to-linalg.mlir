// RUN: axfusion-opt %s --axf-memref-copy-to-linalg --split-input-file | FileCheck %s
// RUN: axfusion-opt %s --axf-lower-to-llvm --split-input-file | FileCheck %s --check-prefix=LLVM --implicit-check-not=memrefCopy

// axf-memref-copy-to-linalg: a memref.copy with a strided side becomes a
// linalg.copy (later plain loops) instead of a call to memrefCopy from MLIR's
// C runner library, which a self-contained shared object does not link. A
// copy between identity layouts stays: it lowers to an inline memcpy.

// The padded-buffer case bufferization produces for tensor.pad.
// CHECK-LABEL: func.func @strided_destination
// CHECK-SAME:    (%[[SRC:.*]]: memref<16x32xf32>, %[[DST:.*]]: memref<18x34xf32>)
// CHECK:         %[[SV:.*]] = memref.subview %[[DST]][1, 1] [16, 32] [1, 1]
// CHECK-NOT:     memref.copy
// CHECK:         linalg.copy
// CHECK-SAME:      ins(%[[SRC]] : memref<16x32xf32>) outs(%[[SV]] : memref<16x32xf32, strided<[34, 1], offset: 35>>)
// CHECK-NOT:     memref.copy
// CHECK:         return
// LLVM-LABEL: llvm.func @strided_destination
// LLVM:         llvm.load
// LLVM:         llvm.store
// LLVM:         llvm.return
func.func @strided_destination(%src: memref<16x32xf32>, %dst: memref<18x34xf32>) {
  %sv = memref.subview %dst[1, 1] [16, 32] [1, 1] : memref<18x34xf32> to memref<16x32xf32, strided<[34, 1], offset: 35>>
  memref.copy %src, %sv : memref<16x32xf32> to memref<16x32xf32, strided<[34, 1], offset: 35>>
  return
}

// -----

// CHECK-LABEL: func.func @strided_source
// CHECK-SAME:    (%[[SRC:.*]]: memref<18x34xf32>, %[[DST:.*]]: memref<16x32xf32>)
// CHECK:         %[[SV:.*]] = memref.subview %[[SRC]]
// CHECK-NEXT:    linalg.copy {{.*}}ins(%[[SV]] : memref<16x32xf32, strided<[34, 1], offset: 35>>) outs(%[[DST]] : memref<16x32xf32>)
// CHECK-NEXT:    return
func.func @strided_source(%src: memref<18x34xf32>, %dst: memref<16x32xf32>) {
  %sv = memref.subview %src[1, 1] [16, 32] [1, 1] : memref<18x34xf32> to memref<16x32xf32, strided<[34, 1], offset: 35>>
  memref.copy %sv, %dst : memref<16x32xf32, strided<[34, 1], offset: 35>> to memref<16x32xf32>
  return
}

// -----

// Identity layouts on both sides: left alone, lowered to llvm.intr.memcpy.
// CHECK-LABEL: func.func @identity
// CHECK-SAME:    (%[[SRC:.*]]: memref<16x32xf32>, %[[DST:.*]]: memref<16x32xf32>)
// CHECK-NEXT:    memref.copy %[[SRC]], %[[DST]] : memref<16x32xf32> to memref<16x32xf32>
// CHECK-NOT:     linalg.copy
// CHECK:         return
// LLVM-LABEL: llvm.func @identity
// LLVM:         "llvm.intr.memcpy"
// LLVM:         llvm.return
func.func @identity(%src: memref<16x32xf32>, %dst: memref<16x32xf32>) {
  memref.copy %src, %dst : memref<16x32xf32> to memref<16x32xf32>
  return
}

// -----

// Copies of other element types and ranks are rewritten the same way.
// CHECK-LABEL: func.func @strided_i8_1d
// CHECK:         linalg.copy {{.*}}ins(%{{.*}} : memref<8xi8, strided<[2]>>) outs(%{{.*}} : memref<8xi8>)
// CHECK-NOT:     memref.copy
func.func @strided_i8_1d(%src: memref<16xi8>, %dst: memref<8xi8>) {
  %sv = memref.subview %src[0] [8] [2] : memref<16xi8> to memref<8xi8, strided<[2]>>
  memref.copy %sv, %dst : memref<8xi8, strided<[2]>> to memref<8xi8>
  return
}
