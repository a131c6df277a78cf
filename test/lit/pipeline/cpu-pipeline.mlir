// RUN: axfusion-opt %s --axf-cpu-pipeline --split-input-file \
// RUN:   | FileCheck %s --implicit-check-not=linalg. --implicit-check-not=memref. \
// RUN:       --implicit-check-not=tensor. --implicit-check-not=scf. --implicit-check-not=cf. \
// RUN:       --implicit-check-not=arith. --implicit-check-not=math. --implicit-check-not=func.func \
// RUN:       --implicit-check-not=bufferization. --implicit-check-not=unrealized_conversion_cast \
// RUN:       --implicit-check-not=memrefCopy
// The pipeline is its stages run in order: the same flags one by one give the same result.
// RUN: axfusion-opt %s --axf-check-input --axf-optimize --axf-bufferize --axf-lower-to-llvm \
// RUN:   --split-input-file | FileCheck %s --implicit-check-not=linalg.

// axf-cpu-pipeline: linalg-on-tensors in, LLVM dialect out. Each entry point
// becomes @NAME (expanded memref descriptors) plus @_mlir_ciface_NAME (one
// descriptor pointer per argument, results last), which the runtime calls.

// Linear + bias + ReLU, as torch-mlir imports nn.Linear: the transposed
// weight is the one temporary, freed before returning.
// CHECK-LABEL: llvm.func @forward(
// CHECK-SAME:    attributes {llvm.emit_c_interface}
// CHECK:         %[[BUF:.*]] = llvm.call @malloc
// (With axf-schedule the matmul is vector FMAs, without it scalar loops.)
// CHECK:         llvm.{{fmul|intr.fmuladd}}
// CHECK:         llvm.fadd
// CHECK:         llvm.intr.maximum
// CHECK:         llvm.call @free(%[[BUF]])
// CHECK-NEXT:    llvm.return{{$}}
// x, w, b, out:
// CHECK-LABEL: llvm.func @_mlir_ciface_forward(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: !llvm.ptr, %arg3: !llvm.ptr)
// CHECK-SAME:    attributes {llvm.emit_c_interface}
// CHECK:         llvm.call @forward(
// CHECK-NEXT:    llvm.return{{$}}
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @forward(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%v: f32, %bv: f32, %o: f32):
    %s = arith.addf %v, %bv : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// Two entry points, two results, a padded input: every public function gets
// its wrapper, results are out-params, the pad copy becomes loops (no
// memrefCopy call) and nothing is allocated that is not freed.
// CHECK-LABEL: llvm.func @pad(
// CHECK-NOT:     llvm.call @malloc
// CHECK:         llvm.return{{$}}
// x, out:
// CHECK-LABEL: llvm.func @_mlir_ciface_pad(%arg0: !llvm.ptr, %arg1: !llvm.ptr)
// CHECK-LABEL: llvm.func @split(
// CHECK:         llvm.intr.exp
// CHECK:         llvm.return{{$}}
// x, out0, out1:
// CHECK-LABEL: llvm.func @_mlir_ciface_split(%arg0: !llvm.ptr, %arg1: !llvm.ptr, %arg2: !llvm.ptr)
func.func @pad(%x: tensor<2x3xf32>) -> tensor<4x5xf32> {
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %x low[1, 1] high[1, 1] {
  ^bb0(%i: index, %j: index):
    tensor.yield %zero : f32
  } : tensor<2x3xf32> to tensor<4x5xf32>
  return %p : tensor<4x5xf32>
}
func.func @split(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<2x2xf32>) {
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
