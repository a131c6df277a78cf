// RUN: axfusec %s --emit=linalg | FileCheck %s --check-prefix=LINALG
// RUN: axfusec %s --emit=llvm-dialect | FileCheck %s --check-prefix=LLVMDIALECT
// RUN: axfusec %s --emit=llvm-ir | FileCheck %s --check-prefix=LLVMIR
// RUN: axfusec %s --emit=asm | FileCheck %s --check-prefix=ASM
// RUN: not axfusec %s --target=cuda 2>&1 | FileCheck %s --check-prefix=CUDA
// RUN: not axfusec %s --target=tpu 2>&1 | FileCheck %s --check-prefix=TARGET

// axfusec --emit=STAGE stops the CPU build after that stage and prints it.

// linalg: after axf-optimize, still on tensors; the duplicate bias-add is
// gone (CSE).
// LINALG-LABEL: func.func @forward
// LINALG-SAME:    tensor<4x8xf32>
// LINALG:         linalg.transpose
// LINALG:         linalg.matmul
// LINALG:         %[[G:[0-9]+]] = linalg.generic
// LINALG-NOT:     linalg.generic
// LINALG:         linalg.add ins(%[[G]], %[[G]] : tensor<4x16xf32>, tensor<4x16xf32>)
// LINALG-NOT:     memref
// LINALG:         return

// llvm-dialect: after axf-lower-to-llvm.
// LLVMDIALECT: llvm.func @forward(
// LLVMDIALECT: llvm.func @_mlir_ciface_forward(
// LLVMDIALECT-NOT: linalg.

// llvm-ir: LLVM IR text, the function and its C-interface wrapper (which
// takes one descriptor pointer per argument and result: x, w, b, out).
// LLVMIR-NOT: declare {{.*}}@memrefCopy
// LLVMIR:     define void @forward(
// LLVMIR:     call void @free(
// LLVMIR:     define void @_mlir_ciface_forward(ptr {{[^,]*}}%0, ptr {{[^,]*}}%1, ptr {{[^,]*}}%2, ptr {{[^,]*}}%3)
// LLVMIR-NOT: define

// asm: host assembly with both symbols exported.
// ASM:     .globl forward
// ASM:     forward:
// ASM:     .globl _mlir_ciface_forward
// ASM:     _mlir_ciface_forward:

// CUDA: axfusec: error: [target] target 'cuda' is not built yet
// TARGET: axfusec: error: unknown target 'tpu'; choose one of: cpu, cuda

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
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %init2 = tensor.empty() : tensor<4x16xf32>
  %y2 = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init2 : tensor<4x16xf32>) {
  ^bb0(%v: f32, %bv: f32, %o: f32):
    %s = arith.addf %v, %bv : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %init3 = tensor.empty() : tensor<4x16xf32>
  %sum = linalg.add ins(%y, %y2 : tensor<4x16xf32>, tensor<4x16xf32>) outs(%init3 : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %sum : tensor<4x16xf32>
}
