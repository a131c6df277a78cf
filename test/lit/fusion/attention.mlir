// RUN: axfusion-opt %s --axf-fuse-attention --split-input-file | FileCheck %s
// RUN: axfusion-opt %s --axf-fuse-attention --axf-schedule --axf-bufferize \
// RUN:   --split-input-file | FileCheck %s --check-prefix=BUF

// Attention (passes/attention.py): softmax(Q K^T * scale [+ mask]) V becomes
// one flash-attention kernel: an scf.forall over (batch dims of the scores,
// blocks of 64 queries) with an scf.for over blocks of keys carrying the
// online-softmax state. The forall is the group's root (axf.kernel: tile-and-
// fuse leaves it alone); every linalg op inside carries the group too. The
// [Sq, Sk] score matrix is never materialised.

// torch-mlir's form for [B=1, H=2, S=256, D=16]: heads collapsed around
// batch_matmul, K^T by a 4-D transpose, the scores expanded back to 4-D for
// the scale (divf by sqrt(D)), the [S, S] mask add and the softmax (row
// statistics kept as [1, 2, 256, 1]; sub and exp separate), P collapsed for
// the second batch_matmul.
// CHECK-LABEL: func.func @torch_form
// CHECK-NOT:     tensor<2x256x256xf32>
// CHECK-NOT:     tensor<1x2x256x256xf32>
// CHECK:         %[[KT:.*]] = tensor.collapse_shape %{{.*}} : tensor<1x2x16x256xf32> into tensor<2x16x256xf32>
// CHECK:         %[[V:.*]] = tensor.collapse_shape %{{.*}} : tensor<1x2x256x16xf32> into tensor<2x256x16xf32>
// CHECK:         %[[O:.*]] = scf.forall (%[[B:.*]], %[[H:.*]], %[[QB:.*]]) in (1, 2, 4) shared_outs(%{{.*}}) -> (tensor<2x256x16xf32>) {
// CHECK:           scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(
// CHECK:             tensor.extract_slice %[[KT]][%{{.*}}, 0, %[[J]]] [1, 16, 128]
// CHECK:             tensor.extract_slice %[[V]][%{{.*}}, %[[J]], 0] [1, 128, 16]
// CHECK:             tensor.extract_slice %{{.*}}[%{{.*}}, %[[J]]] [64, 128] [1, 1] : tensor<256x256xf32> to tensor<64x128xf32>
// CHECK:             linalg.generic {{.*}} attrs = {axf.group = 0 : i64, axf.member = {{[0-9]+}} : i64}
// CHECK:               math.fma
// CHECK:             arith.maximumf
// CHECK:             math.roundeven
// CHECK:             scf.yield
// CHECK:           arith.divf
// CHECK:           scf.forall.in_parallel
// The report's bytes_saved: six [2, 256, 256] f32 intermediates (scores,
// scaled, masked, shifted, exp, probabilities) and two rows, each written
// and read once: 2 * (6 * 524288 + 2 * 2048).
// CHECK:         } {axf.bytes_saved = 6299648 : i64, axf.group = 0 : i64, axf.kernel, axf.member = 0 : i64, axf.pattern = "Attention"}
// CHECK:         %[[E:.*]] = tensor.expand_shape %[[O]] {{\[\[}}0, 1], [2], [3]] output_shape [1, 2, 256, 16]
// CHECK-NOT:     linalg.batch_matmul
// CHECK-NOT:     math.exp
// CHECK:         return %[[E]]
// After bufferization no buffer holds scores of more than one [128 keys x 64
// queries] block; scratch tiles are allocated once per query block, outside
// the loop over key blocks.
// BUF-LABEL: func.func @torch_form
// BUF-NOT:     memref.alloc{{.*}}256x256xf32
// BUF:         scf.forall
// BUF:           memref.alloc() : memref<128x64xf32>
// BUF:           scf.for
// BUF-NOT:         memref.alloc
// BUF:           memref.dealloc
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#mask = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @torch_form(%q: tensor<1x2x256x16xf32>, %k: tensor<1x2x256x16xf32>, %v: tensor<1x2x256x16xf32>,
                      %mask: tensor<256x256xf32>) -> tensor<1x2x256x16xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %sqrt_d = arith.constant 4.0 : f32
  %q3 = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<1x2x256x16xf32> into tensor<2x256x16xf32>
  %kt_init = tensor.empty() : tensor<1x2x16x256xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x256x16xf32>) outs(%kt_init : tensor<1x2x16x256xf32>) permutation = [0, 1, 3, 2]
  %k3 = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<1x2x16x256xf32> into tensor<2x16x256xf32>
  %v3 = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<1x2x256x16xf32> into tensor<2x256x16xf32>
  %s_init = tensor.empty() : tensor<2x256x256xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<2x256x256xf32>) -> tensor<2x256x256xf32>
  %s3 = linalg.batch_matmul ins(%q3, %k3 : tensor<2x256x16xf32>, tensor<2x16x256xf32>) outs(%s_acc : tensor<2x256x256xf32>) -> tensor<2x256x256xf32>
  %s = tensor.expand_shape %s3 [[0, 1], [2], [3]] output_shape [1, 2, 256, 256] : tensor<2x256x256xf32> into tensor<1x2x256x256xf32>
  %x_init = tensor.empty() : tensor<1x2x256x256xf32>
  %scaled = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : tensor<1x2x256x256xf32>) outs(%x_init : tensor<1x2x256x256xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %sqrt_d : f32
    linalg.yield %r : f32
  } -> tensor<1x2x256x256xf32>
  %masked = linalg.generic {indexing_maps = [#id4, #mask, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%scaled, %mask : tensor<1x2x256x256xf32>, tensor<256x256xf32>) outs(%x_init : tensor<1x2x256x256xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x256x256xf32>
  %row_init = tensor.empty() : tensor<1x2x256x1xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<1x2x256x1xf32>) -> tensor<1x2x256x1xf32>
  %max = linalg.generic {indexing_maps = [#id4, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%masked : tensor<1x2x256x256xf32>) outs(%max_acc : tensor<1x2x256x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x256x1xf32>
  %shifted = linalg.generic {indexing_maps = [#id4, #row, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%masked, %max : tensor<1x2x256x256xf32>, tensor<1x2x256x1xf32>) outs(%x_init : tensor<1x2x256x256xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x256x256xf32>
  %exp = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%shifted : tensor<1x2x256x256xf32>) outs(%x_init : tensor<1x2x256x256xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x256x256xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<1x2x256x1xf32>) -> tensor<1x2x256x1xf32>
  %sum = linalg.generic {indexing_maps = [#id4, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%exp : tensor<1x2x256x256xf32>) outs(%sum_acc : tensor<1x2x256x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x256x1xf32>
  %p = linalg.generic {indexing_maps = [#id4, #row, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%exp, %sum : tensor<1x2x256x256xf32>, tensor<1x2x256x1xf32>) outs(%x_init : tensor<1x2x256x256xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x256x256xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<1x2x256x256xf32> into tensor<2x256x256xf32>
  %o_init = tensor.empty() : tensor<2x256x16xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<2x256x16xf32>) -> tensor<2x256x16xf32>
  %o3 = linalg.batch_matmul ins(%p3, %v3 : tensor<2x256x256xf32>, tensor<2x256x16xf32>) outs(%o_acc : tensor<2x256x16xf32>) -> tensor<2x256x16xf32>
  %o = tensor.expand_shape %o3 [[0, 1], [2], [3]] output_shape [1, 2, 256, 16] : tensor<2x256x16xf32> into tensor<1x2x256x16xf32>
  return %o : tensor<1x2x256x16xf32>
}

// -----

// One head, 2-D: K^T by a 2-D linalg.transpose (the kernel reads K itself,
// the transpose is gone), scale and mask in one generic (x * 0.25 + m),
// exp(x - max) in one generic, row statistics rank-reduced.
// CHECK-LABEL: func.func @single_head
// CHECK-NOT:     linalg.transpose
// CHECK:         %[[O:.*]] = scf.forall (%[[QB:.*]]) in (1) shared_outs(%{{.*}}) -> (tensor<64x16xf32>) {
// CHECK:           scf.for %[[J:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(
// CHECK:             tensor.extract_slice %arg1[%[[J]], 0] [64, 16] [1, 1] : tensor<64x16xf32> to tensor<64x16xf32>
// CHECK:         } {axf.bytes_saved = 132096 : i64, axf.group = 0 : i64, axf.kernel, axf.member = 0 : i64, axf.pattern = "Attention"}
// CHECK-NOT:     linalg.matmul
// CHECK:         return %[[O]]
#id = affine_map<(d0, d1) -> (d0, d1)>
#r = affine_map<(d0, d1) -> (d0)>
func.func @single_head(%q: tensor<64x16xf32>, %k: tensor<64x16xf32>, %v: tensor<64x16xf32>,
                       %mask: tensor<64x64xf32>) -> tensor<64x16xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.25 : f32
  %kt_init = tensor.empty() : tensor<16x64xf32>
  %kt = linalg.transpose ins(%k : tensor<64x16xf32>) outs(%kt_init : tensor<16x64xf32>) permutation = [1, 0]
  %s_init = tensor.empty() : tensor<64x64xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<64x64xf32>) -> tensor<64x64xf32>
  %s = linalg.matmul ins(%q, %kt : tensor<64x16xf32>, tensor<16x64xf32>) outs(%s_acc : tensor<64x64xf32>) -> tensor<64x64xf32>
  %x = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %mask : tensor<64x64xf32>, tensor<64x64xf32>) outs(%s_init : tensor<64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %t = arith.mulf %a, %c : f32
    %r = arith.addf %t, %m : f32
    linalg.yield %r : f32
  } -> tensor<64x64xf32>
  %row_init = tensor.empty() : tensor<64xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<64xf32>) -> tensor<64xf32>
  %max = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<64x64xf32>) outs(%max_acc : tensor<64xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<64xf32>
  %exp = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<64x64xf32>, tensor<64xf32>) outs(%s_init : tensor<64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<64x64xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<64xf32>) -> tensor<64xf32>
  %sum = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<64x64xf32>) outs(%sum_acc : tensor<64xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<64xf32>
  %p = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<64x64xf32>, tensor<64xf32>) outs(%s_init : tensor<64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<64x64xf32>
  %o_init = tensor.empty() : tensor<64x16xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<64x16xf32>) -> tensor<64x16xf32>
  %o = linalg.matmul ins(%p, %v : tensor<64x64xf32>, tensor<64x16xf32>) outs(%o_acc : tensor<64x16xf32>) -> tensor<64x16xf32>
  return %o : tensor<64x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#r = affine_map<(d0, d1) -> (d0)>
// Negative: the probabilities are also returned, so the score matrix
// must exist; nothing is rewritten. The near miss is on the division.
// CHECK-LABEL: func.func @probabilities_returned
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.generic {{.*}}axf.near_miss = ["Attention: attention probabilities have a second user outside the group (the score matrix must be materialised)"]
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.matmul
// CHECK:         return %{{.*}}, %{{.*}}
func.func @probabilities_returned(%q: tensor<32x8xf32>, %k: tensor<32x8xf32>, %v: tensor<32x8xf32>, %mask: tensor<32x32xf32>) -> (tensor<32x8xf32>, tensor<32x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.353553385 : f32
  %kt_init = tensor.empty() : tensor<8x32xf32>
  %kt = linalg.transpose ins(%k : tensor<32x8xf32>) outs(%kt_init : tensor<8x32xf32>) permutation = [1, 0]
  %s_init = tensor.empty() : tensor<32x32xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<32x32xf32>) -> tensor<32x32xf32>
  %s = linalg.matmul ins(%q, %kt : tensor<32x8xf32>, tensor<8x32xf32>) outs(%s_acc : tensor<32x32xf32>) -> tensor<32x32xf32>
  %x = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %mask : tensor<32x32xf32>, tensor<32x32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %t = arith.mulf %a, %c : f32
    %r = arith.addf %t, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %row_init = tensor.empty() : tensor<32xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %max = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<32x32xf32>) outs(%max_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %exp = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<32x32xf32>, tensor<32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %sum = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<32x32xf32>) outs(%sum_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %p = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<32x32xf32>, tensor<32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %o_init = tensor.empty() : tensor<32x8xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<32x8xf32>) -> tensor<32x8xf32>
  %o = linalg.matmul ins(%p, %v : tensor<32x32xf32>, tensor<32x8xf32>) outs(%o_acc : tensor<32x8xf32>) -> tensor<32x8xf32>
  return %o, %p : tensor<32x8xf32>, tensor<32x32xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#r = affine_map<(d0, d1) -> (d0)>
#rel = affine_map<(d0, d1) -> (d0 + d1)>
// Negative: a bias read at i + j (relative positions) is not a broadcast of
// the score indices: the kernel cannot slice it per block.
// CHECK-LABEL: func.func @relative_position_bias
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.generic {{.*}}axf.near_miss = ["Attention: mask is not broadcastable to the score matrix"]
// CHECK-NOT:     axf.kernel
func.func @relative_position_bias(%q: tensor<32x8xf32>, %k: tensor<32x8xf32>, %v: tensor<32x8xf32>, %mask: tensor<63xf32>) -> (tensor<32x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.353553385 : f32
  %kt_init = tensor.empty() : tensor<8x32xf32>
  %kt = linalg.transpose ins(%k : tensor<32x8xf32>) outs(%kt_init : tensor<8x32xf32>) permutation = [1, 0]
  %s_init = tensor.empty() : tensor<32x32xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<32x32xf32>) -> tensor<32x32xf32>
  %s = linalg.matmul ins(%q, %kt : tensor<32x8xf32>, tensor<8x32xf32>) outs(%s_acc : tensor<32x32xf32>) -> tensor<32x32xf32>
  %x = linalg.generic {indexing_maps = [#id, #rel, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %mask : tensor<32x32xf32>, tensor<63xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %t = arith.mulf %a, %c : f32
    %r = arith.addf %t, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %row_init = tensor.empty() : tensor<32xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %max = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<32x32xf32>) outs(%max_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %exp = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<32x32xf32>, tensor<32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %sum = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<32x32xf32>) outs(%sum_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %p = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<32x32xf32>, tensor<32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %o_init = tensor.empty() : tensor<32x8xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<32x8xf32>) -> tensor<32x8xf32>
  %o = linalg.matmul ins(%p, %v : tensor<32x32xf32>, tensor<32x8xf32>) outs(%o_acc : tensor<32x8xf32>) -> tensor<32x8xf32>
  return %o : tensor<32x8xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#r = affine_map<(d0, d1) -> (d0)>
// Negative: masked_fill with a boolean mask (select, not an additive mask).
// CHECK-LABEL: func.func @boolean_mask
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.generic {{.*}}axf.near_miss = ["Attention: score transform is not a scale plus an additive mask"]
// CHECK-NOT:     axf.kernel
func.func @boolean_mask(%q: tensor<32x8xf32>, %k: tensor<32x8xf32>, %v: tensor<32x8xf32>, %mask: tensor<32x32xi1>) -> (tensor<32x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.353553385 : f32
  %kt_init = tensor.empty() : tensor<8x32xf32>
  %kt = linalg.transpose ins(%k : tensor<32x8xf32>) outs(%kt_init : tensor<8x32xf32>) permutation = [1, 0]
  %s_init = tensor.empty() : tensor<32x32xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<32x32xf32>) -> tensor<32x32xf32>
  %s = linalg.matmul ins(%q, %kt : tensor<32x8xf32>, tensor<8x32xf32>) outs(%s_acc : tensor<32x32xf32>) -> tensor<32x32xf32>
  %x = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %mask : tensor<32x32xf32>, tensor<32x32xi1>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: i1, %o: f32):
    %t = arith.mulf %a, %c : f32
    %r = arith.select %m, %ninf, %t : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %row_init = tensor.empty() : tensor<32xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %max = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<32x32xf32>) outs(%max_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %exp = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<32x32xf32>, tensor<32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %sum = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<32x32xf32>) outs(%sum_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %p = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<32x32xf32>, tensor<32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %o_init = tensor.empty() : tensor<32x8xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<32x8xf32>) -> tensor<32x8xf32>
  %o = linalg.matmul ins(%p, %v : tensor<32x32xf32>, tensor<32x8xf32>) outs(%o_acc : tensor<32x8xf32>) -> tensor<32x8xf32>
  return %o : tensor<32x8xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#r = affine_map<(d0, d1) -> (d0)>
// Negative: P V accumulates into a caller's tensor instead of zeros.
// CHECK-LABEL: func.func @accumulating_pv
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.matmul {{.*}}axf.near_miss = ["Attention: a contraction accumulates into a non-zero initial value"]
// CHECK-NOT:     axf.kernel
func.func @accumulating_pv(%q: tensor<32x8xf32>, %k: tensor<32x8xf32>, %v: tensor<32x8xf32>, %mask: tensor<32x32xf32>, %acc: tensor<32x8xf32>) -> (tensor<32x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.353553385 : f32
  %kt_init = tensor.empty() : tensor<8x32xf32>
  %kt = linalg.transpose ins(%k : tensor<32x8xf32>) outs(%kt_init : tensor<8x32xf32>) permutation = [1, 0]
  %s_init = tensor.empty() : tensor<32x32xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<32x32xf32>) -> tensor<32x32xf32>
  %s = linalg.matmul ins(%q, %kt : tensor<32x8xf32>, tensor<8x32xf32>) outs(%s_acc : tensor<32x32xf32>) -> tensor<32x32xf32>
  %x = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %mask : tensor<32x32xf32>, tensor<32x32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %t = arith.mulf %a, %c : f32
    %r = arith.addf %t, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %row_init = tensor.empty() : tensor<32xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %max = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<32x32xf32>) outs(%max_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %exp = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<32x32xf32>, tensor<32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %sum = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<32x32xf32>) outs(%sum_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %p = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<32x32xf32>, tensor<32xf32>) outs(%s_init : tensor<32x32xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x32xf32>
  %o = linalg.matmul ins(%p, %v : tensor<32x32xf32>, tensor<32x8xf32>) outs(%acc : tensor<32x8xf32>) -> tensor<32x8xf32>
  return %o : tensor<32x8xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#r = affine_map<(d0, d1) -> (d0)>
// Negative: a sequence length (257, prime, > 256) with no block size.
// CHECK-LABEL: func.func @prime_length
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.matmul {{.*}}axf.near_miss = ["Attention: sequence length 257 has no block size that divides it"]
// CHECK-NOT:     axf.kernel
func.func @prime_length(%q: tensor<257x8xf32>, %k: tensor<257x8xf32>, %v: tensor<257x8xf32>, %mask: tensor<257x257xf32>) -> (tensor<257x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.353553385 : f32
  %kt_init = tensor.empty() : tensor<8x257xf32>
  %kt = linalg.transpose ins(%k : tensor<257x8xf32>) outs(%kt_init : tensor<8x257xf32>) permutation = [1, 0]
  %s_init = tensor.empty() : tensor<257x257xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<257x257xf32>) -> tensor<257x257xf32>
  %s = linalg.matmul ins(%q, %kt : tensor<257x8xf32>, tensor<8x257xf32>) outs(%s_acc : tensor<257x257xf32>) -> tensor<257x257xf32>
  %x = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %mask : tensor<257x257xf32>, tensor<257x257xf32>) outs(%s_init : tensor<257x257xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %t = arith.mulf %a, %c : f32
    %r = arith.addf %t, %m : f32
    linalg.yield %r : f32
  } -> tensor<257x257xf32>
  %row_init = tensor.empty() : tensor<257xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<257xf32>) -> tensor<257xf32>
  %max = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<257x257xf32>) outs(%max_acc : tensor<257xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<257xf32>
  %exp = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<257x257xf32>, tensor<257xf32>) outs(%s_init : tensor<257x257xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<257x257xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<257xf32>) -> tensor<257xf32>
  %sum = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<257x257xf32>) outs(%sum_acc : tensor<257xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<257xf32>
  %p = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<257x257xf32>, tensor<257xf32>) outs(%s_init : tensor<257x257xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<257x257xf32>
  %o_init = tensor.empty() : tensor<257x8xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<257x8xf32>) -> tensor<257x8xf32>
  %o = linalg.matmul ins(%p, %v : tensor<257x257xf32>, tensor<257x8xf32>) outs(%o_acc : tensor<257x8xf32>) -> tensor<257x8xf32>
  return %o : tensor<257x8xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#r = affine_map<(d0, d1) -> (d0)>
// Negative: dynamic sequence length (the kernel's blocks and register tiles
// are generated for static Sq, Sk and head dims; only batch dims may be ?).
// CHECK-LABEL: func.func @dynamic
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.matmul {{.*}}axf.near_miss = ["Attention: dynamic sequence length or head size (the kernel is generated for static Sq, Sk and head dims; only the batch/head dims of the scores may be ?)"]
// CHECK-NOT:     axf.kernel
func.func @dynamic(%q: tensor<?x8xf32>, %k: tensor<?x8xf32>, %v: tensor<?x8xf32>, %mask: tensor<?x?xf32>) -> (tensor<?x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %c = arith.constant 0.353553385 : f32
  %c0 = arith.constant 0 : index
  %n = tensor.dim %q, %c0 : tensor<?x8xf32>
  %kt_init = tensor.empty(%n) : tensor<8x?xf32>
  %kt = linalg.transpose ins(%k : tensor<?x8xf32>) outs(%kt_init : tensor<8x?xf32>) permutation = [1, 0]
  %s_init = tensor.empty(%n, %n) : tensor<?x?xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<?x?xf32>) -> tensor<?x?xf32>
  %s = linalg.matmul ins(%q, %kt : tensor<?x8xf32>, tensor<8x?xf32>) outs(%s_acc : tensor<?x?xf32>) -> tensor<?x?xf32>
  %x = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s, %mask : tensor<?x?xf32>, tensor<?x?xf32>) outs(%s_init : tensor<?x?xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %t = arith.mulf %a, %c : f32
    %r = arith.addf %t, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x?xf32>
  %row_init = tensor.empty(%n) : tensor<?xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<?xf32>) -> tensor<?xf32>
  %max = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x?xf32>) outs(%max_acc : tensor<?xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  %exp = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<?x?xf32>, tensor<?xf32>) outs(%s_init : tensor<?x?xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<?x?xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.generic {indexing_maps = [#id, #r], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<?x?xf32>) outs(%sum_acc : tensor<?xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  %p = linalg.generic {indexing_maps = [#id, #r, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<?x?xf32>, tensor<?xf32>) outs(%s_init : tensor<?x?xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x?xf32>
  %o_init = tensor.empty(%n) : tensor<?x8xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<?x8xf32>) -> tensor<?x8xf32>
  %o = linalg.matmul ins(%p, %v : tensor<?x?xf32>, tensor<?x8xf32>) outs(%o_acc : tensor<?x8xf32>) -> tensor<?x8xf32>
  return %o : tensor<?x8xf32>
}

// -----

// torch-mlir's softmax from aten._softmax decomposed through aten.max.dim:
// the max is a two-result generic (maximumf plus an argmax i64 index that
// nothing reads), rank-reduced to [1, 2, 64] and expanded to [1, 2, 64, 1]
// for the subtraction. The whole core, the argmax and its fill included,
// becomes the kernel.
// CHECK-LABEL: func.func @torch_max_with_argmax
// CHECK-NOT:     xi64>
// CHECK-NOT:     tensor<2x64x64xf32>
// CHECK-NOT:     tensor<1x2x64x64xf32>
// CHECK:         %[[O:.*]] = scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 1) shared_outs(%{{.*}}) -> (tensor<2x64x16xf32>) {
// CHECK:         } {axf.bytes_saved = {{[0-9]+}} : i64, axf.group = 0 : i64, axf.kernel, axf.member = 0 : i64, axf.pattern = "Attention"}
// CHECK-NOT:     linalg.batch_matmul
// CHECK-NOT:     xi64>
// CHECK:         return %[[O]]
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @torch_max_with_argmax(%q: tensor<2x64x16xf32>, %kt: tensor<2x16x64xf32>,
                                 %v: tensor<2x64x16xf32>) -> tensor<2x64x16xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %i0 = arith.constant 0 : i64
  %d = arith.constant 4.0 : f64
  %s_init = tensor.empty() : tensor<2x64x64xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<2x64x64xf32>) -> tensor<2x64x64xf32>
  %s = linalg.batch_matmul ins(%q, %kt : tensor<2x64x16xf32>, tensor<2x16x64xf32>) outs(%s_acc : tensor<2x64x64xf32>) -> tensor<2x64x64xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 2, 64, 64] : tensor<2x64x64xf32> into tensor<1x2x64x64xf32>
  %x_init = tensor.empty() : tensor<1x2x64x64xf32>
  %x = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s4 : tensor<1x2x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = arith.truncf %d : f64 to f32
    %r = arith.divf %a, %t : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %idx_init = tensor.empty() : tensor<1x2x64xi64>
  %idx_acc = linalg.fill ins(%i0 : i64) outs(%idx_init : tensor<1x2x64xi64>) -> tensor<1x2x64xi64>
  %max_init = tensor.empty() : tensor<1x2x64xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%max_init : tensor<1x2x64xf32>) -> tensor<1x2x64xf32>
  %max:2 = linalg.generic {indexing_maps = [#id4, #row, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<1x2x64x64xf32>) outs(%max_acc, %idx_acc : tensor<1x2x64xf32>, tensor<1x2x64xi64>) {
  ^bb0(%a: f32, %m: f32, %i: i64):
    %j = linalg.index 3 : index
    %ji = arith.index_cast %j : index to i64
    %r = arith.maximumf %a, %m : f32
    %gt = arith.cmpf ogt, %a, %m : f32
    %ri = arith.select %gt, %ji, %i : i64
    linalg.yield %r, %ri : f32, i64
  } -> (tensor<1x2x64xf32>, tensor<1x2x64xi64>)
  %max4 = tensor.expand_shape %max#0 [[0], [1], [2, 3]] output_shape [1, 2, 64, 1] : tensor<1x2x64xf32> into tensor<1x2x64x1xf32>
  %sub = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %max4 : tensor<1x2x64x64xf32>, tensor<1x2x64x1xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %exp = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%sub : tensor<1x2x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %sum_init = tensor.empty() : tensor<1x2x64x1xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%sum_init : tensor<1x2x64x1xf32>) -> tensor<1x2x64x1xf32>
  %sum = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%exp : tensor<1x2x64x64xf32>) outs(%sum_acc : tensor<1x2x64x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x1xf32>
  %p = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%exp, %sum : tensor<1x2x64x64xf32>, tensor<1x2x64x1xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<1x2x64x64xf32> into tensor<2x64x64xf32>
  %o_init = tensor.empty() : tensor<2x64x16xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<2x64x16xf32>) -> tensor<2x64x16xf32>
  %o = linalg.batch_matmul ins(%p3, %v : tensor<2x64x64xf32>, tensor<2x64x16xf32>) outs(%o_acc : tensor<2x64x16xf32>) -> tensor<2x64x16xf32>
  return %o : tensor<2x64x16xf32>
}

// -----

// PyTorch's _safe_softmax, as torch-mlir imports nn.MultiheadAttention:
// after the division, rows whose every score is -inf are selected to 0
// (an i1 `extf x == -inf` test, an andi reduction into a `true` fill, a
// select between a zero splat and P, read per row). The whole core, the i1
// steps included, becomes the kernel in its safe mode: the running max
// starts at -inf (not -1e30), -inf - -inf is guarded (0 is subtracted from
// a row whose max is still -inf) both for the rescale factor and for P,
// and a row whose max stays -inf writes 0 instead of 0/0.
// bytes_saved: six [2, 64, 64] f32 (scores, masked, shifted, exp, P, the
// select), two rows, the i1 test [2, 64, 64] and the i1 row [2, 64]:
// 2 * (6 * 32768 + 2 * 512 + 8192 + 128).
// CHECK-LABEL: func.func @torch_safe_softmax
// CHECK-NOT:     xi1>
// CHECK:         %[[O:.*]] = scf.forall (%{{.*}}, %{{.*}}, %{{.*}}) in (1, 2, 1) shared_outs(%{{.*}}) -> (tensor<2x64x16xf32>) {
// CHECK:           %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:           %[[NINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK:           linalg.fill {{.*}}ins(%[[NINF]] : f32)
// CHECK:           scf.for
// CHECK:             linalg.fill {{.*}}ins(%[[NINF]] : f32)
// CHECK:             arith.maximumf
// CHECK:             %[[MN:.*]] = arith.maximumf %[[MO:[^,]*]], %{{.*}} : f32
// CHECK-NEXT:        %[[MZ:.*]] = arith.cmpf oeq, %[[MN]], %[[NINF]] : f32
// CHECK-NEXT:        %[[MS:.*]] = arith.select %[[MZ]], %[[ZERO]], %[[MN]] : f32
// CHECK-NEXT:        arith.subf %[[MO]], %[[MS]] : f32
// CHECK:             ^bb0(%[[MV:.*]]: f32, %[[S:.*]]: f32):
// CHECK-NEXT:        %[[VZ:.*]] = arith.cmpf oeq, %[[MV]], %[[NINF]] : f32
// CHECK-NEXT:        %[[VS:.*]] = arith.select %[[VZ]], %[[ZERO]], %[[MV]] : f32
// CHECK-NEXT:        arith.subf %[[S]], %[[VS]] : f32
// CHECK:             scf.yield
// CHECK:           ^bb0(%[[A:.*]]: f32, %[[L:.*]]: f32, %[[M:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT:      %[[D:.*]] = arith.divf %[[A]], %[[L]] : f32
// CHECK-NEXT:      %[[DEAD:.*]] = arith.cmpf oeq, %[[M]], %[[NINF]] : f32
// CHECK-NEXT:      %[[Z:.*]] = arith.select %[[DEAD]], %[[ZERO]], %[[D]] : f32
// CHECK-NEXT:      linalg.yield %[[Z]] : f32
// CHECK:           scf.forall.in_parallel
// CHECK:         } {axf.bytes_saved = 411904 : i64, axf.group = 0 : i64, axf.kernel, axf.member = 0 : i64, axf.pattern = "Attention"}
// CHECK-NOT:     linalg.batch_matmul
// CHECK-NOT:     xi1>
// CHECK:         return %[[O]]
// No i1 buffer is left after bufferization either.
// BUF-LABEL: func.func @torch_safe_softmax
// BUF-NOT:     xi1>
// BUF:         scf.forall
// BUF-NOT:       xi1>
// BUF:         return
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#mask = affine_map<(d0, d1, d2, d3) -> (0, 0, d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @torch_safe_softmax(%q: tensor<2x64x16xf32>, %kt: tensor<2x16x64xf32>, %v: tensor<2x64x16xf32>,
                              %mask: tensor<1x1x64x64xf32>) -> tensor<2x64x16xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %dninf = arith.constant 0xFFF0000000000000 : f64
  %true = arith.constant true
  %zeros = arith.constant dense<0.0> : tensor<1x2x64x64xf32>
  %i0 = arith.constant 0 : i64
  %s_init = tensor.empty() : tensor<2x64x64xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<2x64x64xf32>) -> tensor<2x64x64xf32>
  %s = linalg.batch_matmul ins(%q, %kt : tensor<2x64x16xf32>, tensor<2x16x64xf32>) outs(%s_acc : tensor<2x64x64xf32>) -> tensor<2x64x64xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 2, 64, 64] : tensor<2x64x64xf32> into tensor<1x2x64x64xf32>
  %x_init = tensor.empty() : tensor<1x2x64x64xf32>
  %x = linalg.generic {indexing_maps = [#id4, #mask, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s4, %mask : tensor<1x2x64x64xf32>, tensor<1x1x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %idx_init = tensor.empty() : tensor<1x2x64xi64>
  %idx_acc = linalg.fill ins(%i0 : i64) outs(%idx_init : tensor<1x2x64xi64>) -> tensor<1x2x64xi64>
  %max_init = tensor.empty() : tensor<1x2x64xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%max_init : tensor<1x2x64xf32>) -> tensor<1x2x64xf32>
  %max:2 = linalg.generic {indexing_maps = [#id4, #row, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<1x2x64x64xf32>) outs(%max_acc, %idx_acc : tensor<1x2x64xf32>, tensor<1x2x64xi64>) {
  ^bb0(%a: f32, %m: f32, %i: i64):
    %j = linalg.index 3 : index
    %ji = arith.index_cast %j : index to i64
    %r = arith.maximumf %a, %m : f32
    %gt = arith.cmpf ogt, %a, %m : f32
    %ri = arith.select %gt, %ji, %i : i64
    linalg.yield %r, %ri : f32, i64
  } -> (tensor<1x2x64xf32>, tensor<1x2x64xi64>)
  %max4 = tensor.expand_shape %max#0 [[0], [1], [2, 3]] output_shape [1, 2, 64, 1] : tensor<1x2x64xf32> into tensor<1x2x64x1xf32>
  %sub = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %max4 : tensor<1x2x64x64xf32>, tensor<1x2x64x1xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %exp = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%sub : tensor<1x2x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %sum_init = tensor.empty() : tensor<1x2x64x1xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%sum_init : tensor<1x2x64x1xf32>) -> tensor<1x2x64x1xf32>
  %sum = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%exp : tensor<1x2x64x64xf32>) outs(%sum_acc : tensor<1x2x64x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x1xf32>
  %p = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%exp, %sum : tensor<1x2x64x64xf32>, tensor<1x2x64x1xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %t_init = tensor.empty() : tensor<1x2x64x64xi1>
  %t = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x2x64x64xf32>) outs(%t_init : tensor<1x2x64x64xi1>) {
  ^bb0(%a: f32, %o: i1):
    %w = arith.extf %a : f32 to f64
    %r = arith.cmpf oeq, %w, %dninf : f64
    linalg.yield %r : i1
  } -> tensor<1x2x64x64xi1>
  %all_init = tensor.empty() : tensor<1x2x64x1xi1>
  %all_acc = linalg.fill ins(%true : i1) outs(%all_init : tensor<1x2x64x1xi1>) -> tensor<1x2x64x1xi1>
  %all = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%t : tensor<1x2x64x64xi1>) outs(%all_acc : tensor<1x2x64x1xi1>) {
  ^bb0(%a: i1, %o: i1):
    %r = arith.andi %a, %o : i1
    linalg.yield %r : i1
  } -> tensor<1x2x64x1xi1>
  %ps = linalg.generic {indexing_maps = [#keep, #id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%all, %zeros, %p : tensor<1x2x64x1xi1>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%c: i1, %z: f32, %a: f32, %o: f32):
    %r = arith.select %c, %z, %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %p3 = tensor.collapse_shape %ps [[0, 1], [2], [3]] : tensor<1x2x64x64xf32> into tensor<2x64x64xf32>
  %o_init = tensor.empty() : tensor<2x64x16xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<2x64x16xf32>) -> tensor<2x64x16xf32>
  %o = linalg.batch_matmul ins(%p3, %v : tensor<2x64x64xf32>, tensor<2x64x16xf32>) outs(%o_acc : tensor<2x64x16xf32>) -> tensor<2x64x16xf32>
  return %o : tensor<2x64x16xf32>
}

// -----

// Negative: the select zeroes the rows with *any* -inf score (an ori
// reduction into `false`), which is not _safe_softmax: running the bodies on
// a partly masked row tells them apart, and nothing is rewritten (the
// probabilities feed that select, not the P V contraction).
// CHECK-LABEL: func.func @select_on_any_masked_score
// CHECK-NOT:     axf.
// CHECK:         linalg.batch_matmul
// CHECK-NOT:     axf.
// CHECK:         arith.ori
// CHECK-NOT:     axf.
// CHECK:         linalg.batch_matmul
// CHECK-NOT:     axf.
// CHECK:         return
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#mask = affine_map<(d0, d1, d2, d3) -> (0, 0, d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @select_on_any_masked_score(%q: tensor<2x64x16xf32>, %kt: tensor<2x16x64xf32>, %v: tensor<2x64x16xf32>,
                              %mask: tensor<1x1x64x64xf32>) -> tensor<2x64x16xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %dninf = arith.constant 0xFFF0000000000000 : f64
  %false = arith.constant false
  %zeros = arith.constant dense<0.0> : tensor<1x2x64x64xf32>
  %i0 = arith.constant 0 : i64
  %s_init = tensor.empty() : tensor<2x64x64xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<2x64x64xf32>) -> tensor<2x64x64xf32>
  %s = linalg.batch_matmul ins(%q, %kt : tensor<2x64x16xf32>, tensor<2x16x64xf32>) outs(%s_acc : tensor<2x64x64xf32>) -> tensor<2x64x64xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 2, 64, 64] : tensor<2x64x64xf32> into tensor<1x2x64x64xf32>
  %x_init = tensor.empty() : tensor<1x2x64x64xf32>
  %x = linalg.generic {indexing_maps = [#id4, #mask, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s4, %mask : tensor<1x2x64x64xf32>, tensor<1x1x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %idx_init = tensor.empty() : tensor<1x2x64xi64>
  %idx_acc = linalg.fill ins(%i0 : i64) outs(%idx_init : tensor<1x2x64xi64>) -> tensor<1x2x64xi64>
  %max_init = tensor.empty() : tensor<1x2x64xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%max_init : tensor<1x2x64xf32>) -> tensor<1x2x64xf32>
  %max:2 = linalg.generic {indexing_maps = [#id4, #row, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<1x2x64x64xf32>) outs(%max_acc, %idx_acc : tensor<1x2x64xf32>, tensor<1x2x64xi64>) {
  ^bb0(%a: f32, %m: f32, %i: i64):
    %j = linalg.index 3 : index
    %ji = arith.index_cast %j : index to i64
    %r = arith.maximumf %a, %m : f32
    %gt = arith.cmpf ogt, %a, %m : f32
    %ri = arith.select %gt, %ji, %i : i64
    linalg.yield %r, %ri : f32, i64
  } -> (tensor<1x2x64xf32>, tensor<1x2x64xi64>)
  %max4 = tensor.expand_shape %max#0 [[0], [1], [2, 3]] output_shape [1, 2, 64, 1] : tensor<1x2x64xf32> into tensor<1x2x64x1xf32>
  %sub = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %max4 : tensor<1x2x64x64xf32>, tensor<1x2x64x1xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %exp = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%sub : tensor<1x2x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %sum_init = tensor.empty() : tensor<1x2x64x1xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%sum_init : tensor<1x2x64x1xf32>) -> tensor<1x2x64x1xf32>
  %sum = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%exp : tensor<1x2x64x64xf32>) outs(%sum_acc : tensor<1x2x64x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x1xf32>
  %p = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%exp, %sum : tensor<1x2x64x64xf32>, tensor<1x2x64x1xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %t_init = tensor.empty() : tensor<1x2x64x64xi1>
  %t = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x2x64x64xf32>) outs(%t_init : tensor<1x2x64x64xi1>) {
  ^bb0(%a: f32, %o: i1):
    %w = arith.extf %a : f32 to f64
    %r = arith.cmpf oeq, %w, %dninf : f64
    linalg.yield %r : i1
  } -> tensor<1x2x64x64xi1>
  %all_init = tensor.empty() : tensor<1x2x64x1xi1>
  %all_acc = linalg.fill ins(%false : i1) outs(%all_init : tensor<1x2x64x1xi1>) -> tensor<1x2x64x1xi1>
  %all = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%t : tensor<1x2x64x64xi1>) outs(%all_acc : tensor<1x2x64x1xi1>) {
  ^bb0(%a: i1, %o: i1):
    %r = arith.ori %a, %o : i1
    linalg.yield %r : i1
  } -> tensor<1x2x64x1xi1>
  %ps = linalg.generic {indexing_maps = [#keep, #id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%all, %zeros, %p : tensor<1x2x64x1xi1>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%c: i1, %z: f32, %a: f32, %o: f32):
    %r = arith.select %c, %z, %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %p3 = tensor.collapse_shape %ps [[0, 1], [2], [3]] : tensor<1x2x64x64xf32> into tensor<2x64x64xf32>
  %o_init = tensor.empty() : tensor<2x64x16xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<2x64x16xf32>) -> tensor<2x64x16xf32>
  %o = linalg.batch_matmul ins(%p3, %v : tensor<2x64x64xf32>, tensor<2x64x16xf32>) outs(%o_acc : tensor<2x64x16xf32>) -> tensor<2x64x16xf32>
  return %o : tensor<2x64x16xf32>
}

// -----

// Negative: the fully-masked-row flags are also returned; the row test must
// stay, so the core is left alone with a near miss on the reduction.
// CHECK-LABEL: func.func @safe_softmax_flags_returned
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.generic {{.*}}axf.near_miss = ["Attention: softmax intermediate has a second user outside the group (the score matrix must be materialised)"]
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.batch_matmul
// CHECK:         return %{{.*}}, %{{.*}}
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#mask = affine_map<(d0, d1, d2, d3) -> (0, 0, d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @safe_softmax_flags_returned(%q: tensor<2x64x16xf32>, %kt: tensor<2x16x64xf32>, %v: tensor<2x64x16xf32>,
                              %mask: tensor<1x1x64x64xf32>)
    -> (tensor<2x64x16xf32>, tensor<1x2x64x1xi1>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %dninf = arith.constant 0xFFF0000000000000 : f64
  %true = arith.constant true
  %zeros = arith.constant dense<0.0> : tensor<1x2x64x64xf32>
  %i0 = arith.constant 0 : i64
  %s_init = tensor.empty() : tensor<2x64x64xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<2x64x64xf32>) -> tensor<2x64x64xf32>
  %s = linalg.batch_matmul ins(%q, %kt : tensor<2x64x16xf32>, tensor<2x16x64xf32>) outs(%s_acc : tensor<2x64x64xf32>) -> tensor<2x64x64xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [1, 2, 64, 64] : tensor<2x64x64xf32> into tensor<1x2x64x64xf32>
  %x_init = tensor.empty() : tensor<1x2x64x64xf32>
  %x = linalg.generic {indexing_maps = [#id4, #mask, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s4, %mask : tensor<1x2x64x64xf32>, tensor<1x1x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %idx_init = tensor.empty() : tensor<1x2x64xi64>
  %idx_acc = linalg.fill ins(%i0 : i64) outs(%idx_init : tensor<1x2x64xi64>) -> tensor<1x2x64xi64>
  %max_init = tensor.empty() : tensor<1x2x64xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%max_init : tensor<1x2x64xf32>) -> tensor<1x2x64xf32>
  %max:2 = linalg.generic {indexing_maps = [#id4, #row, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<1x2x64x64xf32>) outs(%max_acc, %idx_acc : tensor<1x2x64xf32>, tensor<1x2x64xi64>) {
  ^bb0(%a: f32, %m: f32, %i: i64):
    %j = linalg.index 3 : index
    %ji = arith.index_cast %j : index to i64
    %r = arith.maximumf %a, %m : f32
    %gt = arith.cmpf ogt, %a, %m : f32
    %ri = arith.select %gt, %ji, %i : i64
    linalg.yield %r, %ri : f32, i64
  } -> (tensor<1x2x64xf32>, tensor<1x2x64xi64>)
  %max4 = tensor.expand_shape %max#0 [[0], [1], [2, 3]] output_shape [1, 2, 64, 1] : tensor<1x2x64xf32> into tensor<1x2x64x1xf32>
  %sub = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %max4 : tensor<1x2x64x64xf32>, tensor<1x2x64x1xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %exp = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%sub : tensor<1x2x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %sum_init = tensor.empty() : tensor<1x2x64x1xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%sum_init : tensor<1x2x64x1xf32>) -> tensor<1x2x64x1xf32>
  %sum = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%exp : tensor<1x2x64x64xf32>) outs(%sum_acc : tensor<1x2x64x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x1xf32>
  %p = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%exp, %sum : tensor<1x2x64x64xf32>, tensor<1x2x64x1xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %t_init = tensor.empty() : tensor<1x2x64x64xi1>
  %t = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<1x2x64x64xf32>) outs(%t_init : tensor<1x2x64x64xi1>) {
  ^bb0(%a: f32, %o: i1):
    %w = arith.extf %a : f32 to f64
    %r = arith.cmpf oeq, %w, %dninf : f64
    linalg.yield %r : i1
  } -> tensor<1x2x64x64xi1>
  %all_init = tensor.empty() : tensor<1x2x64x1xi1>
  %all_acc = linalg.fill ins(%true : i1) outs(%all_init : tensor<1x2x64x1xi1>) -> tensor<1x2x64x1xi1>
  %all = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%t : tensor<1x2x64x64xi1>) outs(%all_acc : tensor<1x2x64x1xi1>) {
  ^bb0(%a: i1, %o: i1):
    %r = arith.andi %a, %o : i1
    linalg.yield %r : i1
  } -> tensor<1x2x64x1xi1>
  %ps = linalg.generic {indexing_maps = [#keep, #id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%all, %zeros, %p : tensor<1x2x64x1xi1>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>) outs(%x_init : tensor<1x2x64x64xf32>) {
  ^bb0(%c: i1, %z: f32, %a: f32, %o: f32):
    %r = arith.select %c, %z, %a : f32
    linalg.yield %r : f32
  } -> tensor<1x2x64x64xf32>
  %p3 = tensor.collapse_shape %ps [[0, 1], [2], [3]] : tensor<1x2x64x64xf32> into tensor<2x64x64xf32>
  %o_init = tensor.empty() : tensor<2x64x16xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<2x64x16xf32>) -> tensor<2x64x16xf32>
  %o = linalg.batch_matmul ins(%p3, %v : tensor<2x64x64xf32>, tensor<2x64x16xf32>) outs(%o_acc : tensor<2x64x16xf32>) -> tensor<2x64x16xf32>
  return %o, %all : tensor<2x64x16xf32>, tensor<1x2x64x1xi1>
}

// -----

// A `?` batch (one kernel for every batch size): Q, K, V [?, 64, 16] with
// the scores [?, 64, 64] scaled by 1/4. The outermost loop of the kernel runs
// to dim 0 of V (the output's lead); Sq, Sk and the head dim stay static.
// CHECK-LABEL: func.func @dynamic_batch
// CHECK-NOT:     tensor<?x64x64xf32>
// CHECK:         %[[NV:.*]] = tensor.dim %arg2, %{{.*}} : tensor<?x64x16xf32>
// CHECK-NEXT:    %[[NB:.*]] = affine.apply #{{.*}}()[%[[NV]]]
// CHECK-NEXT:    %[[OUT:.*]] = tensor.empty(%[[NV]]) : tensor<?x64x16xf32>
// CHECK:         %[[O:.*]] = scf.forall (%[[B:.*]], %{{.*}}) in (%[[NB]], 1) shared_outs(%{{.*}} = %[[OUT]]) -> (tensor<?x64x16xf32>) {
// CHECK:           tensor.extract_slice %{{.*}}[%[[BH:.*]], %{{.*}}, 0] [1, 64, 16] [1, 1, 1] : tensor<?x64x16xf32> to tensor<64x16xf32>
// CHECK:           scf.for
// CHECK:             tensor.extract_slice %{{.*}}[%[[BH]], 0, %{{.*}}] [1, 16, 64] [1, 1, 1] : tensor<?x16x64xf32> to tensor<16x64xf32>
// CHECK:             tensor.extract_slice %arg2[%[[BH]], %{{.*}}, 0] [1, 64, 16] [1, 1, 1] : tensor<?x64x16xf32> to tensor<64x16xf32>
// CHECK:           scf.forall.in_parallel
// CHECK:         } {axf.bytes_saved = 0 : i64, axf.group = 0 : i64, axf.kernel, axf.member = 0 : i64, axf.pattern = "Attention"}
// CHECK-NOT:     linalg.batch_matmul
// CHECK:         return %[[O]]
// BUF-LABEL: func.func @dynamic_batch
// BUF:         scf.forall
// BUF:         return
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row3 = affine_map<(d0, d1, d2) -> (d0, d1)>
func.func @dynamic_batch(%q: tensor<?x64x16xf32>, %kt: tensor<?x16x64xf32>, %v: tensor<?x64x16xf32>) -> tensor<?x64x16xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %four = arith.constant 4.0 : f32
  %c0 = arith.constant 0 : index
  %n = tensor.dim %q, %c0 : tensor<?x64x16xf32>
  %s_init = tensor.empty(%n) : tensor<?x64x64xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<?x64x64xf32>) -> tensor<?x64x64xf32>
  %s = linalg.batch_matmul ins(%q, %kt : tensor<?x64x16xf32>, tensor<?x16x64xf32>) outs(%s_acc : tensor<?x64x64xf32>) -> tensor<?x64x64xf32>
  %x = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%s : tensor<?x64x64xf32>) outs(%s_init : tensor<?x64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %four : f32
    linalg.yield %r : f32
  } -> tensor<?x64x64xf32>
  %row_init = tensor.empty(%n) : tensor<?x64xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<?x64xf32>) -> tensor<?x64xf32>
  %max = linalg.generic {indexing_maps = [#id3, #row3], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x : tensor<?x64x64xf32>) outs(%max_acc : tensor<?x64xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x64xf32>
  %exp = linalg.generic {indexing_maps = [#id3, #row3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %max : tensor<?x64x64xf32>, tensor<?x64xf32>) outs(%s_init : tensor<?x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<?x64x64xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<?x64xf32>) -> tensor<?x64xf32>
  %sum = linalg.generic {indexing_maps = [#id3, #row3], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%exp : tensor<?x64x64xf32>) outs(%sum_acc : tensor<?x64xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x64xf32>
  %p = linalg.generic {indexing_maps = [#id3, #row3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%exp, %sum : tensor<?x64x64xf32>, tensor<?x64xf32>) outs(%s_init : tensor<?x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x64x64xf32>
  %o_init = tensor.empty(%n) : tensor<?x64x16xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<?x64x16xf32>) -> tensor<?x64x16xf32>
  %o = linalg.batch_matmul ins(%p, %v : tensor<?x64x64xf32>, tensor<?x64x16xf32>) outs(%o_acc : tensor<?x64x16xf32>) -> tensor<?x64x16xf32>
  return %o : tensor<?x64x16xf32>
}

// -----

// torch-mlir's nn.MultiheadAttention on a `?` batch: the scores expanded to
// [?, 2, 64, 64] (heads static), the safe softmax's zeros a broadcast of a
// rank-0 constant, and P copied through the matmul broadcast of a `?` batch
// dim (`extract %p[select(%n == 1, 0, i0), ...]`) before the collapse. The
// kernel takes %n: where it is 1, every output batch reads Q, K and the mask
// at score batch 0 (V and the output at their own index).
// CHECK-LABEL: func.func @torch_safe_softmax_dynamic_batch
// CHECK-NOT:     xi1>
// CHECK:         %[[NB:.*]] = affine.apply #{{.*}}()[%{{.*}}]
// CHECK-NEXT:    tensor.empty(%{{.*}}) : tensor<?x64x16xf32>
// CHECK-NEXT:    %[[O:.*]] = scf.forall (%[[B:.*]], %[[H:.*]], %{{.*}}) in (%[[NB]], 2, 1) shared_outs(%{{.*}}) -> (tensor<?x64x16xf32>) {
// CHECK:           %[[ONE:.*]] = arith.cmpi eq, %arg4, %{{.*}} : index
// CHECK:           %[[BS:.*]] = arith.select %[[ONE]], %{{.*}}, %[[B]] : index
// CHECK:           %[[BH:.*]] = affine.apply #{{.*}}(%[[B]], %[[H]])
// CHECK:           %[[BHS:.*]] = affine.apply #{{.*}}(%[[BS]], %[[H]])
// CHECK:           tensor.extract_slice %{{.*}}[%[[BHS]], %{{.*}}, 0] [1, 64, 16]
// CHECK:           scf.for
// CHECK:             tensor.extract_slice %{{.*}}[%[[BHS]], 0, %{{.*}}] [1, 16, 64]
// CHECK:             tensor.extract_slice %arg2[%[[BH]], %{{.*}}, 0] [1, 64, 16]
// CHECK:             tensor.extract_slice %{{.*}}[%[[BS]], 0, %{{.*}}, %{{.*}}] [1, 1, 64, 64] [1, 1, 1, 1] : tensor<?x1x64x64xf32> to tensor<64x64xf32>
// CHECK:           arith.divf
// CHECK:           arith.cmpf oeq
// CHECK:           tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%[[BH]], %{{.*}}, 0] [1, 64, 16]
// CHECK:         } {axf.bytes_saved = 0 : i64, axf.group = 0 : i64, axf.kernel, axf.member = 0 : i64, axf.pattern = "Attention"}
// CHECK-NOT:     linalg.batch_matmul
// CHECK-NOT:     xi1>
// CHECK:         return %[[O]]
// BUF-LABEL: func.func @torch_safe_softmax_dynamic_batch
// BUF-NOT:     xi1>
// BUF:         scf.forall
// BUF-NOT:       xi1>
// BUF:         return
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#mask = affine_map<(d0, d1, d2, d3) -> (d0, 0, d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
#scalar = affine_map<(d0, d1, d2, d3) -> ()>
func.func @torch_safe_softmax_dynamic_batch(%q: tensor<?x64x16xf32>, %kt: tensor<?x16x64xf32>, %v: tensor<?x64x16xf32>,
                                            %mask: tensor<?x1x64x64xf32>, %nb: index) -> tensor<?x64x16xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %dninf = arith.constant 0xFFF0000000000000 : f64
  %true = arith.constant true
  %zeros = arith.constant dense<0.0> : tensor<f32>
  %i0 = arith.constant 0 : i64
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = tensor.dim %q, %c0 : tensor<?x64x16xf32>
  %s_init = tensor.empty(%n) : tensor<?x64x64xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<?x64x64xf32>) -> tensor<?x64x64xf32>
  %s = linalg.batch_matmul ins(%q, %kt : tensor<?x64x16xf32>, tensor<?x16x64xf32>) outs(%s_acc : tensor<?x64x64xf32>) -> tensor<?x64x64xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [%nb, 2, 64, 64] : tensor<?x64x64xf32> into tensor<?x2x64x64xf32>
  %x_init = tensor.empty(%nb) : tensor<?x2x64x64xf32>
  %x = linalg.generic {indexing_maps = [#id4, #mask, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s4, %mask : tensor<?x2x64x64xf32>, tensor<?x1x64x64xf32>) outs(%x_init : tensor<?x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x2x64x64xf32>
  %idx_init = tensor.empty(%nb) : tensor<?x2x64xi64>
  %idx_acc = linalg.fill ins(%i0 : i64) outs(%idx_init : tensor<?x2x64xi64>) -> tensor<?x2x64xi64>
  %max_init = tensor.empty(%nb) : tensor<?x2x64xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%max_init : tensor<?x2x64xf32>) -> tensor<?x2x64xf32>
  %max:2 = linalg.generic {indexing_maps = [#id4, #row, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<?x2x64x64xf32>) outs(%max_acc, %idx_acc : tensor<?x2x64xf32>, tensor<?x2x64xi64>) {
  ^bb0(%a: f32, %m: f32, %i: i64):
    %j = linalg.index 3 : index
    %ji = arith.index_cast %j : index to i64
    %r = arith.maximumf %a, %m : f32
    %gt = arith.cmpf ogt, %a, %m : f32
    %ri = arith.select %gt, %ji, %i : i64
    linalg.yield %r, %ri : f32, i64
  } -> (tensor<?x2x64xf32>, tensor<?x2x64xi64>)
  %max4 = tensor.expand_shape %max#0 [[0], [1], [2, 3]] output_shape [%nb, 2, 64, 1] : tensor<?x2x64xf32> into tensor<?x2x64x1xf32>
  %sub = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %max4 : tensor<?x2x64x64xf32>, tensor<?x2x64x1xf32>) outs(%x_init : tensor<?x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x2x64x64xf32>
  %exp = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%sub : tensor<?x2x64x64xf32>) outs(%x_init : tensor<?x2x64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<?x2x64x64xf32>
  %sum_init = tensor.empty(%nb) : tensor<?x2x64x1xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%sum_init : tensor<?x2x64x1xf32>) -> tensor<?x2x64x1xf32>
  %sum = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%exp : tensor<?x2x64x64xf32>) outs(%sum_acc : tensor<?x2x64x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x2x64x1xf32>
  %p = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%exp, %sum : tensor<?x2x64x64xf32>, tensor<?x2x64x1xf32>) outs(%x_init : tensor<?x2x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x2x64x64xf32>
  %t_init = tensor.empty(%nb) : tensor<?x2x64x64xi1>
  %t = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<?x2x64x64xf32>) outs(%t_init : tensor<?x2x64x64xi1>) {
  ^bb0(%a: f32, %o: i1):
    %w = arith.extf %a : f32 to f64
    %r = arith.cmpf oeq, %w, %dninf : f64
    linalg.yield %r : i1
  } -> tensor<?x2x64x64xi1>
  %all_init = tensor.empty(%nb) : tensor<?x2x64x1xi1>
  %all_acc = linalg.fill ins(%true : i1) outs(%all_init : tensor<?x2x64x1xi1>) -> tensor<?x2x64x1xi1>
  %all = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%t : tensor<?x2x64x64xi1>) outs(%all_acc : tensor<?x2x64x1xi1>) {
  ^bb0(%a: i1, %o: i1):
    %r = arith.andi %a, %o : i1
    linalg.yield %r : i1
  } -> tensor<?x2x64x1xi1>
  %zb = linalg.generic {indexing_maps = [#scalar, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%zeros : tensor<f32>) outs(%x_init : tensor<?x2x64x64xf32>) {
  ^bb0(%z: f32, %o: f32):
    linalg.yield %z : f32
  } -> tensor<?x2x64x64xf32>
  %ps = linalg.generic {indexing_maps = [#keep, #id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%all, %zb, %p : tensor<?x2x64x1xi1>, tensor<?x2x64x64xf32>, tensor<?x2x64x64xf32>) outs(%x_init : tensor<?x2x64x64xf32>) {
  ^bb0(%c: i1, %z: f32, %a: f32, %o: f32):
    %r = arith.select %c, %z, %a : f32
    linalg.yield %r : f32
  } -> tensor<?x2x64x64xf32>
  %bcast = linalg.generic {indexing_maps = [#id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      outs(%x_init : tensor<?x2x64x64xf32>) {
  ^bb0(%o: f32):
    %i = linalg.index 0 : index
    %h = linalg.index 1 : index
    %r = linalg.index 2 : index
    %c = linalg.index 3 : index
    %one = arith.cmpi eq, %nb, %c1 : index
    %b = arith.select %one, %c0, %i : index
    %e = tensor.extract %ps[%b, %h, %r, %c] : tensor<?x2x64x64xf32>
    linalg.yield %e : f32
  } -> tensor<?x2x64x64xf32>
  %p3 = tensor.collapse_shape %bcast [[0, 1], [2], [3]] : tensor<?x2x64x64xf32> into tensor<?x64x64xf32>
  %nv = tensor.dim %v, %c0 : tensor<?x64x16xf32>
  %o_init = tensor.empty(%nv) : tensor<?x64x16xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<?x64x16xf32>) -> tensor<?x64x16xf32>
  %o = linalg.batch_matmul ins(%p3, %v : tensor<?x64x64xf32>, tensor<?x64x16xf32>) outs(%o_acc : tensor<?x64x16xf32>) -> tensor<?x64x16xf32>
  return %o : tensor<?x64x16xf32>
}

// -----

// Negative: `?` heads as well as a `?` batch (scores [?, ?, 64, 64]): the
// kernel's batch loops take one `?` size, the outermost.
// CHECK-LABEL: func.func @dynamic_heads
// CHECK-NOT:     axf.kernel
// CHECK:         linalg.batch_matmul {{.*}}axf.near_miss = ["Attention: dynamic batch dim of the scores other than the outermost (the kernel's batch loops take one ? size)"]
// CHECK-NOT:     axf.kernel
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#keep = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @dynamic_heads(%q: tensor<?x64x16xf32>, %kt: tensor<?x16x64xf32>, %v: tensor<?x64x16xf32>,
                         %b: index, %h: index) -> tensor<?x64x16xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %four = arith.constant 4.0 : f32
  %c0 = arith.constant 0 : index
  %n = tensor.dim %q, %c0 : tensor<?x64x16xf32>
  %s_init = tensor.empty(%n) : tensor<?x64x64xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<?x64x64xf32>) -> tensor<?x64x64xf32>
  %s = linalg.batch_matmul ins(%q, %kt : tensor<?x64x16xf32>, tensor<?x16x64xf32>) outs(%s_acc : tensor<?x64x64xf32>) -> tensor<?x64x64xf32>
  %s4 = tensor.expand_shape %s [[0, 1], [2], [3]] output_shape [%b, %h, 64, 64] : tensor<?x64x64xf32> into tensor<?x?x64x64xf32>
  %x_init = tensor.empty(%b, %h) : tensor<?x?x64x64xf32>
  %x = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s4 : tensor<?x?x64x64xf32>) outs(%x_init : tensor<?x?x64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %four : f32
    linalg.yield %r : f32
  } -> tensor<?x?x64x64xf32>
  %row_init = tensor.empty(%b, %h) : tensor<?x?x64x1xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<?x?x64x1xf32>) -> tensor<?x?x64x1xf32>
  %max = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x : tensor<?x?x64x64xf32>) outs(%max_acc : tensor<?x?x64x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x?x64x1xf32>
  %exp = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x, %max : tensor<?x?x64x64xf32>, tensor<?x?x64x1xf32>) outs(%x_init : tensor<?x?x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %r = math.exp %d : f32
    linalg.yield %r : f32
  } -> tensor<?x?x64x64xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<?x?x64x1xf32>) -> tensor<?x?x64x1xf32>
  %sum = linalg.generic {indexing_maps = [#id4, #keep], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%exp : tensor<?x?x64x64xf32>) outs(%sum_acc : tensor<?x?x64x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x?x64x1xf32>
  %p = linalg.generic {indexing_maps = [#id4, #keep, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%exp, %sum : tensor<?x?x64x64xf32>, tensor<?x?x64x1xf32>) outs(%x_init : tensor<?x?x64x64xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<?x?x64x64xf32>
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<?x?x64x64xf32> into tensor<?x64x64xf32>
  %o_init = tensor.empty(%n) : tensor<?x64x16xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<?x64x16xf32>) -> tensor<?x64x16xf32>
  %o = linalg.batch_matmul ins(%p3, %v : tensor<?x64x64xf32>, tensor<?x64x16xf32>) outs(%o_acc : tensor<?x64x16xf32>) -> tensor<?x64x16xf32>
  return %o : tensor<?x64x16xf32>
}
