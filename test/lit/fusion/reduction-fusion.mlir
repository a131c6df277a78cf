// RUN: axfusion-opt %s --axf-fuse-reduction --split-input-file | FileCheck %s
// RUN: axfusion-opt %s --axf-fuse-reduction --axf-schedule --split-input-file \
// RUN:   | FileCheck %s --check-prefix=TILE
// RUN: axfusion-opt %s --axf-fuse-reduction --axf-schedule --axf-bufferize --split-input-file \
// RUN:   | FileCheck %s --check-prefix=BUF

// ReductionFusion (passes/reduction_fusion.py): row-wise reductions with
// their element-wise prologue/epilogue become one group, root = the last
// element-wise op; the reductions' fills are members; reductions written in
// torch-mlir's keepdim form ((d0, d1) -> (d0, 0)) are rewritten with a unit
// loop ((d0, d1, d2) -> (d0, d1)) so that they can be tiled. The schedule
// tiles rows by 1 and fuses everything into the row loop.

// Layer-norm as torch-mlir decomposes it (keepdim reductions).
// CHECK-DAG:   #[[IN:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG:   #[[OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @layer_norm
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 12 : i64}
// CHECK:         linalg.generic {indexing_maps = [#[[IN]], #[[OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 11 : i64}
// CHECK:           arith.addf
// CHECK:         axf.member = 10 : i64
// CHECK:           arith.divf
// CHECK:         axf.member = 9 : i64
// CHECK:           arith.subf
// CHECK:         axf.member = 8 : i64
// CHECK:           arith.mulf
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 7 : i64}
// CHECK:         iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 6 : i64}
// CHECK:         axf.member = 5 : i64
// CHECK:         axf.member = 4 : i64
// CHECK:         axf.member = 3 : i64
// CHECK:           math.rsqrt
// CHECK:         axf.member = 2 : i64
// CHECK:         axf.member = 1 : i64
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ReductionFusion"}
// CHECK-NOT:     axf.near_miss
// Tiled by rows: the fills and the reductions run inside the row loop, each
// on a [1, 1] accumulator (a fresh one per row).
// TILE-LABEL:  func.func @layer_norm
// TILE-NOT:      linalg.fill
// TILE:          scf.forall (%{{.*}}) in (64)
// TILE:            linalg.fill {{.*}} -> tensor<1x1xf32>
// TILE:            linalg.generic {{.*}} ins(%{{.*}} : tensor<1x96xf32>) outs(%{{.*}} : tensor<1x1xf32>)
// TILE:              arith.addf
// TILE:            linalg.generic {{.*}} ins(%{{.*}} : tensor<1x96xf32>) outs(%{{.*}} : tensor<1x1xf32>)
// TILE:              arith.addf
// TILE:            axf.pattern = "ReductionFusion"
// TILE:            tensor.parallel_insert_slice
// No full-size buffer for any intermediate: only row-sized ones.
// BUF-LABEL:   func.func @layer_norm
// BUF-NOT:       memref.alloc() {{.*}} : memref<64x
// BUF:           scf.forall
// BUF-NOT:       memref.alloc() {{.*}} : memref<64x
// BUF:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @layer_norm(%x: tensor<64x96xf32>, %gamma: tensor<96xf32>, %beta: tensor<96xf32>) -> tensor<64x96xf32> {
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 96.0 : f32
  %eps = arith.constant 1.0e-05 : f32
  %row_init = tensor.empty() : tensor<64x1xf32>
  %init = tensor.empty() : tensor<64x96xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<64x1xf32>) -> tensor<64x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<64x96xf32>) outs(%sum_acc : tensor<64x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<64x1xf32>
  %mean = linalg.generic {indexing_maps = [#keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<64x1xf32>) outs(%row_init : tensor<64x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %n : f32
    linalg.yield %r : f32
  } -> tensor<64x1xf32>
  %xc = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %mean : tensor<64x96xf32>, tensor<64x1xf32>) outs(%init : tensor<64x96xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<64x96xf32>
  %sq = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%xc, %xc : tensor<64x96xf32>, tensor<64x96xf32>) outs(%init : tensor<64x96xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.mulf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<64x96xf32>
  %var_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<64x1xf32>) -> tensor<64x1xf32>
  %var_sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%sq : tensor<64x96xf32>) outs(%var_acc : tensor<64x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<64x1xf32>
  %var = linalg.generic {indexing_maps = [#keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%var_sum : tensor<64x1xf32>) outs(%row_init : tensor<64x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %n : f32
    linalg.yield %r : f32
  } -> tensor<64x1xf32>
  %var_eps = linalg.generic {indexing_maps = [#keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%var : tensor<64x1xf32>) outs(%row_init : tensor<64x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.addf %a, %eps : f32
    linalg.yield %r : f32
  } -> tensor<64x1xf32>
  %rstd = linalg.generic {indexing_maps = [#keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%var_eps : tensor<64x1xf32>) outs(%row_init : tensor<64x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.rsqrt %a : f32
    linalg.yield %r : f32
  } -> tensor<64x1xf32>
  %norm = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%xc, %rstd : tensor<64x96xf32>, tensor<64x1xf32>) outs(%init : tensor<64x96xf32>) {
  ^bb0(%a: f32, %r: f32, %o: f32):
    %m = arith.mulf %a, %r : f32
    linalg.yield %m : f32
  } -> tensor<64x96xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%norm, %gamma : tensor<64x96xf32>, tensor<96xf32>) outs(%init : tensor<64x96xf32>) {
  ^bb0(%a: f32, %g: f32, %o: f32):
    %m = arith.mulf %a, %g : f32
    linalg.yield %m : f32
  } -> tensor<64x96xf32>
  %out = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%scaled, %beta : tensor<64x96xf32>, tensor<96xf32>) outs(%init : tensor<64x96xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<64x96xf32>
  return %out : tensor<64x96xf32>
}

// -----

// Softmax with the reduced dim dropped (results [R], read through (d0)):
// already tileable, kept as it is. Root: the division.
// CHECK-LABEL: func.func @softmax
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 5 : i64}
// CHECK:         iterator_types = ["parallel", "reduction"]
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 4 : i64}
// CHECK:           arith.maximumf
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:           math.exp
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ReductionFusion"}
// CHECK:           arith.divf
// The exp, used by the sum and by the division, is computed once per row.
// TILE-LABEL:  func.func @softmax
// TILE:          scf.forall
// TILE-COUNT-1:    math.exp
// TILE-NOT:        math.exp
// TILE:          return
// BUF-LABEL:   func.func @softmax
// BUF-NOT:       memref.alloc() {{.*}} : memref<32x
// BUF:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
#drop = affine_map<(d0, d1) -> (d0)>
func.func @softmax(%x: tensor<32x10xf32>) -> tensor<32x10xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %rows = tensor.empty() : tensor<32xf32>
  %init = tensor.empty() : tensor<32x10xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%rows : tensor<32xf32>) -> tensor<32xf32>
  %max = linalg.generic {indexing_maps = [#id, #drop], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<32x10xf32>) outs(%max_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %exp = linalg.generic {indexing_maps = [#id, #drop, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<32x10xf32>, tensor<32xf32>) outs(%init : tensor<32x10xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<32x10xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%rows : tensor<32xf32>) -> tensor<32xf32>
  %sum = linalg.generic {indexing_maps = [#id, #drop], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<32x10xf32>) outs(%sum_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %probs = linalg.generic {indexing_maps = [#id, #drop, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<32x10xf32>, tensor<32xf32>) outs(%init : tensor<32x10xf32>) {
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  } -> tensor<32x10xf32>
  return %probs : tensor<32x10xf32>
}

// -----

// A reduction over dimension 0 (a column sum) is not a row reduction.
// CHECK-LABEL: func.func @column_sum
// CHECK-NOT:     axf.group
// CHECK:         linalg.generic
// CHECK-SAME:      axf.near_miss = ["ReductionFusion: reduces dimension 0, not the innermost (row) dimension"]
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#vec = affine_map<(d0) -> (d0)>
func.func @column_sum(%x: tensor<16x8xf32>) -> tensor<8xf32> {
  %zero = arith.constant 0.0 : f32
  %two = arith.constant 2.0 : f32
  %cols = tensor.empty() : tensor<8xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%cols : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #col], iterator_types = ["reduction", "parallel"]}
      ins(%x : tensor<16x8xf32>) outs(%acc : tensor<8xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %out = linalg.generic {indexing_maps = [#vec, #vec], iterator_types = ["parallel"]}
      ins(%sum : tensor<8xf32>) outs(%cols : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.mulf %a, %two : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  return %out : tensor<8xf32>
}

// -----

// The row max is also used before the root (transposed): fusing it would
// compute it twice, so it stays outside, and the group is exp, sum, div.
// CHECK-LABEL: func.func @reduction_used_before_root
// CHECK:         linalg.fill
// CHECK-NOT:       axf.group
// CHECK:         %[[MAX:.*]] = linalg.generic
// CHECK-NOT:       axf.group
// CHECK-SAME:      axf.near_miss = ["ReductionFusion: reduction result has a user outside the group that runs before it (fusing would compute the reduction twice)"]
// CHECK:         linalg.transpose ins(%[[MAX]]
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%{{.*}}, %[[MAX]] :
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         axf.member = 1 : i64
// CHECK:         axf.pattern = "ReductionFusion"
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
func.func @reduction_used_before_root(%x: tensor<32x10xf32>) -> (tensor<32x10xf32>, tensor<1x32xf32>) {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %rows = tensor.empty() : tensor<32x1xf32>
  %init = tensor.empty() : tensor<32x10xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%rows : tensor<32x1xf32>) -> tensor<32x1xf32>
  %max = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<32x10xf32>) outs(%max_acc : tensor<32x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x1xf32>
  %t_init = tensor.empty() : tensor<1x32xf32>
  %max_t = linalg.transpose ins(%max : tensor<32x1xf32>) outs(%t_init : tensor<1x32xf32>) permutation = [1, 0]
  %exp = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<32x10xf32>, tensor<32x1xf32>) outs(%init : tensor<32x10xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<32x10xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%rows : tensor<32x1xf32>) -> tensor<32x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<32x10xf32>) outs(%sum_acc : tensor<32x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<32x1xf32>
  %probs = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<32x10xf32>, tensor<32x1xf32>) outs(%init : tensor<32x10xf32>) {
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  } -> tensor<32x10xf32>
  return %probs, %max_t : tensor<32x10xf32>, tensor<1x32xf32>
}

// -----

// The mean is returned too (after the root): it stays a member and the row
// loop yields it as a second result: one pass, no recomputation.
// CHECK-LABEL: func.func @mean_also_returned
// CHECK:         axf.pattern = "ReductionFusion"
// CHECK-NOT:     axf.near_miss
// TILE-LABEL:  func.func @mean_also_returned
// TILE:          %[[LOOP:.*]]:2 = scf.forall
// TILE:            linalg.fill
// TILE:              arith.addf
// TILE:            %[[MEAN:.*]] = linalg.generic
// TILE-NEXT:         ^bb0
// TILE-NEXT:           arith.divf
// TILE:            tensor.parallel_insert_slice %[[MEAN]]
// TILE:          return %[[LOOP]]#0, %[[LOOP]]#1 :
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
func.func @mean_also_returned(%x: tensor<32x10xf32>) -> (tensor<32x10xf32>, tensor<32x1xf32>) {
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 10.0 : f32
  %rows = tensor.empty() : tensor<32x1xf32>
  %init = tensor.empty() : tensor<32x10xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%rows : tensor<32x1xf32>) -> tensor<32x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<32x10xf32>) outs(%acc : tensor<32x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<32x1xf32>
  %mean = linalg.generic {indexing_maps = [#keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<32x1xf32>) outs(%rows : tensor<32x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %n : f32
    linalg.yield %r : f32
  } -> tensor<32x1xf32>
  %xc = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %mean : tensor<32x10xf32>, tensor<32x1xf32>) outs(%init : tensor<32x10xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x10xf32>
  return %xc, %mean : tensor<32x10xf32>, tensor<32x1xf32>
}

// -----

// One fill (as CSE leaves it) feeding the reductions of two groups: each
// reduction gets its own copy, fused with it.
// CHECK-LABEL: func.func @shared_fill
// CHECK:         linalg.fill {axf.group = 1 : i64, axf.member = 2 : i64}
// CHECK:         axf.group = 1 : i64, axf.member = 1 : i64
// CHECK:         axf.group = 1 : i64, axf.member = 0 : i64, axf.pattern = "ReductionFusion"
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         axf.group = 0 : i64, axf.member = 1 : i64
// CHECK:         axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ReductionFusion"
// TILE-LABEL:  func.func @shared_fill
// TILE-NOT:      linalg.fill
// TILE:          scf.forall
// TILE:            linalg.fill
// TILE:          scf.forall
// TILE:            linalg.fill
#id = affine_map<(d0, d1) -> (d0, d1)>
#drop = affine_map<(d0, d1) -> (d0)>
func.func @shared_fill(%x: tensor<32x10xf32>, %y: tensor<32x10xf32>) -> (tensor<32x10xf32>, tensor<32x10xf32>) {
  %zero = arith.constant 0.0 : f32
  %rows = tensor.empty() : tensor<32xf32>
  %init = tensor.empty() : tensor<32x10xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%rows : tensor<32xf32>) -> tensor<32xf32>
  %sx = linalg.generic {indexing_maps = [#id, #drop], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<32x10xf32>) outs(%acc : tensor<32xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %xc = linalg.generic {indexing_maps = [#id, #drop, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sx : tensor<32x10xf32>, tensor<32xf32>) outs(%init : tensor<32x10xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x10xf32>
  %sy = linalg.generic {indexing_maps = [#id, #drop], iterator_types = ["parallel", "reduction"]}
      ins(%y : tensor<32x10xf32>) outs(%acc : tensor<32xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %yc = linalg.generic {indexing_maps = [#id, #drop, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y, %sy : tensor<32x10xf32>, tensor<32xf32>) outs(%init : tensor<32x10xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32x10xf32>
  return %xc, %yc : tensor<32x10xf32>, tensor<32x10xf32>
}

// -----

// A '?' number of rows: '?' rows match '?' rows (every member indexes them
// in place), so the group forms and the row loop runs to the dynamic size.
// CHECK-LABEL: func.func @dynamic_rows
// CHECK:         axf.pattern = "ReductionFusion"
// CHECK-NOT:     axf.near_miss
// TILE-LABEL:  func.func @dynamic_rows
// TILE:          %[[N:.*]] = tensor.dim
// TILE:          scf.forall (%{{.*}}) in (%[[N]])
// TILE:            linalg.generic {{.*}} ins(%{{.*}} : tensor<1x32xf32>) outs(%{{.*}} : tensor<1xf32>)
// BUF-LABEL:   func.func @dynamic_rows
// BUF-SAME:      memref<?x32xf32>
#map = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @dynamic_rows(%x: tensor<?x32xf32>) -> tensor<?x32xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n32 = arith.constant 32.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %n = tensor.dim %x, %c0 : tensor<?x32xf32>
  %rows = tensor.empty(%n) : tensor<?xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%rows : tensor<?xf32>) -> tensor<?xf32>
  %sum = linalg.generic {indexing_maps = [#map, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x32xf32>) outs(%acc : tensor<?xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<?xf32>
  %acc2 = linalg.fill ins(%zero : f32) outs(%rows : tensor<?xf32>) -> tensor<?xf32>
  %sq = linalg.generic {indexing_maps = [#map, #row, #row], iterator_types = ["parallel", "reduction"]}
      ins(%x, %sum : tensor<?x32xf32>, tensor<?xf32>) outs(%acc2 : tensor<?xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %m = arith.divf %s, %n32 : f32
    %d = arith.subf %a, %m : f32
    %d2 = arith.mulf %d, %d : f32
    %r = arith.addf %d2, %o : f32
    linalg.yield %r : f32
  } -> tensor<?xf32>
  %init = tensor.empty(%n) : tensor<?x32xf32>
  %y = linalg.generic {indexing_maps = [#map, #row, #row, #map], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum, %sq : tensor<?x32xf32>, tensor<?xf32>, tensor<?xf32>) outs(%init : tensor<?x32xf32>) {
  ^bb0(%a: f32, %s: f32, %q: f32, %o: f32):
    %m = arith.divf %s, %n32 : f32
    %v = arith.divf %q, %n32 : f32
    %ve = arith.addf %v, %eps : f32
    %r = math.rsqrt %ve : f32
    %d = arith.subf %a, %m : f32
    %out = arith.mulf %d, %r : f32
    linalg.yield %out : f32
  } -> tensor<?x32xf32>
  return %y : tensor<?x32xf32>
}
