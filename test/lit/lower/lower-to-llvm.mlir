// RUN: axfusion-opt %s --axf-lower-to-llvm --split-input-file \
// RUN:   | FileCheck %s --implicit-check-not=linalg. --implicit-check-not=memref. \
// RUN:       --implicit-check-not=scf. --implicit-check-not=cf. --implicit-check-not=affine. \
// RUN:       --implicit-check-not=arith. --implicit-check-not=math. --implicit-check-not=func.func \
// RUN:       --implicit-check-not=unrealized_conversion_cast --implicit-check-not=memrefCopy

// axf-lower-to-llvm: bufferized linalg (what axf-bufferize produces) to the
// LLVM dialect only. Public functions marked llvm.emit_c_interface get a
// _mlir_ciface_ wrapper that takes memref descriptors by pointer; temporaries
// are malloc/free; math ops without an LLVM intrinsic become libm calls.

// CHECK-DAG:   llvm.func @erff(f32) -> f32
// CHECK-DAG:   llvm.func @free(!llvm.ptr)
// CHECK-DAG:   llvm.func @malloc(i64) -> !llvm.ptr
// Each rank-2 memref argument expands to 7 values (allocated and aligned
// pointers, offset, 2 sizes, 2 strides): 3 x 7 = 21 arguments.
// CHECK-LABEL: llvm.func @forward(
// CHECK-SAME:    %arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: i64, %arg3: i64, %arg4: i64, %arg5: i64, %arg6: i64,
// CHECK-SAME:    %arg20: i64) attributes {llvm.emit_c_interface}
// CHECK:         %[[BUF:.*]] = llvm.call @malloc(%{{.*}}) : (i64) -> !llvm.ptr
// CHECK:         llvm.cond_br
// CHECK:         llvm.fmul
// CHECK:         llvm.fadd
// CHECK:         llvm.intr.tanh
// CHECK:         llvm.call @erff(%{{.*}}) : (f32) -> f32
// CHECK:         llvm.intr.exp
// CHECK:         llvm.call @free(%[[BUF]]) : (!llvm.ptr) -> ()
// CHECK-NEXT:    llvm.return
// CHECK-LABEL: llvm.func @_mlir_ciface_forward(
// CHECK-SAME:    %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr) attributes {llvm.emit_c_interface}
// CHECK:         llvm.load %{{.*}} : !llvm.ptr -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
// CHECK:         llvm.call @forward(
// CHECK-NEXT:    llvm.return
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @forward(%x: memref<4x8xf32>, %w: memref<16x8xf32>, %out: memref<4x16xf32>) attributes {llvm.emit_c_interface} {
  %zero = arith.constant 0.0 : f32
  %wt = memref.alloc() {alignment = 64 : i64} : memref<8x16xf32>
  linalg.transpose ins(%w : memref<16x8xf32>) outs(%wt : memref<8x16xf32>) permutation = [1, 0]
  linalg.fill ins(%zero : f32) outs(%out : memref<4x16xf32>)
  linalg.matmul ins(%x, %wt : memref<4x8xf32>, memref<8x16xf32>) outs(%out : memref<4x16xf32>)
  linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%out : memref<4x16xf32>) {
  ^bb0(%o: f32):
    %t = math.tanh %o : f32
    %g = math.erf %t : f32
    %e = math.exp %g : f32
    linalg.yield %e : f32
  }
  memref.dealloc %wt : memref<8x16xf32>
  return
}

// -----

// Loops, affine index arithmetic, reshapes and strided views lower too; a
// private function gets no C interface wrapper.
// CHECK-LABEL: llvm.func @helper(
// CHECK-SAME:    attributes {sym_visibility = "private"}
// CHECK:         llvm.cond_br
// CHECK:         llvm.load %{{.*}} : !llvm.ptr -> f32
// CHECK:         llvm.store %{{.*}}, %{{.*}} : f32, !llvm.ptr
// CHECK:         llvm.return
// CHECK-NOT:   @_mlir_ciface_helper
// CHECK-LABEL: llvm.func @entry(
// CHECK:         llvm.call @helper(
// CHECK:         llvm.return
// CHECK-LABEL: llvm.func @_mlir_ciface_entry(
func.func private @helper(%src: memref<2x4xf32>, %dst: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %flat = memref.collapse_shape %src [[0, 1]] : memref<2x4xf32> into memref<8xf32>
  %odd = memref.subview %flat[1] [4] [2] : memref<8xf32> to memref<4xf32, strided<[2], offset: 1>>
  scf.for %i = %c0 to %c4 step %c1 {
    %j = affine.apply affine_map<(d0) -> (d0 * 2)>(%i)
    %v = memref.load %odd[%i] : memref<4xf32, strided<[2], offset: 1>>
    memref.store %v, %dst[%j] : memref<8xf32>
  }
  return
}
func.func @entry(%src: memref<2x4xf32>, %dst: memref<8xf32>) attributes {llvm.emit_c_interface} {
  call @helper(%src, %dst) : (memref<2x4xf32>, memref<8xf32>) -> ()
  return
}
