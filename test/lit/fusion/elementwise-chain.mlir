// RUN: axfusion-opt %s --axf-fuse-elementwise-chain --split-input-file | FileCheck %s
// RUN: axfusion-opt %s --axf-fuse-elementwise-chain --axf-schedule --axf-bufferize \
// RUN:   --split-input-file | FileCheck %s --check-prefix=BUF

// ElementwiseChain (passes/elementwise_chain.py): a chain/DAG of element-wise
// linalg.generic ops over one shape becomes one group; the root is the sink,
// the members follow in reverse topological order. Broadcast operands
// (lower rank, or size-1 dims) stay inputs of the group.

// Broadcasts along rows ([128] -> (d1)), along columns ([64, 1] -> (d0, 0)) and
// of a 0-d tensor (-> ()).
// CHECK-LABEL: func.func @chain_broadcasts
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:           arith.mulf
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:           arith.addf
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:           arith.maximumf
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ElementwiseChain"}
// CHECK:           arith.mulf
// BUF-LABEL:   func.func @chain_broadcasts
// BUF-NOT:       memref.alloc
// BUF:           scf.forall
// BUF-NOT:       memref.alloc
// BUF:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0, 0)>
#scalar = affine_map<(d0, d1) -> ()>
func.func @chain_broadcasts(%x: tensor<64x128xf32>, %s: tensor<128xf32>, %t: tensor<64x1xf32>, %a: tensor<f32>) -> tensor<64x128xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<64x128xf32>
  %0 = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : tensor<64x128xf32>, tensor<128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %r = arith.mulf %in, %b : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %1 = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0, %t : tensor<64x128xf32>, tensor<64x1xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %r = arith.addf %in, %b : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%1 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %zero : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %3 = linalg.generic {indexing_maps = [#id, #scalar, #id], iterator_types = ["parallel", "parallel"]}
      ins(%2, %a : tensor<64x128xf32>, tensor<f32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %r = arith.mulf %in, %b : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  return %3 : tensor<64x128xf32>
}

// -----

// A DAG: %0 feeds two members; all its users are in the group, so it is one
// member (fused once). The root is the sink %3.
// CHECK-LABEL: func.func @dag_shared_inside
// CHECK:         %[[A:.*]] = linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[A]] :
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[A]] :
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ElementwiseChain"}
// CHECK-NOT:     axf.near_miss
// BUF-LABEL:   func.func @dag_shared_inside
// BUF-NOT:       memref.alloc() {{.*}} : memref<64x128xf32>
// BUF:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @dag_shared_inside(%x: tensor<64x128xf32>) -> tensor<64x128xf32> {
  %c = arith.constant 2.0 : f32
  %init = tensor.empty() : tensor<64x128xf32>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.tanh %in : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %3 = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%1, %2 : tensor<64x128xf32>, tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %in_1: f32, %out: f32):
    %r = arith.subf %in, %in_1 : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  return %3 : tensor<64x128xf32>
}

// -----

// A cheap intermediate (%0, addf) is also returned: the tile loop yields
// its tiles as a second result; nothing is computed twice.
// CHECK-LABEL: func.func @shared_cheap_outside
// CHECK:         %[[A:.*]] = linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         %[[R:.*]] = linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ElementwiseChain"}
// CHECK-NOT:     axf.near_miss
// CHECK:         return %[[R]], %[[A]]
// BUF-LABEL:   func.func @shared_cheap_outside
// BUF-NOT:       linalg.generic
// BUF:           scf.forall
// BUF:             arith.addf
// BUF:             arith.mulf
// BUF:             arith.subf
// BUF-NOT:       linalg.generic
// BUF:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @shared_cheap_outside(%x: tensor<64x128xf32>) -> (tensor<64x128xf32>, tensor<64x128xf32>) {
  %c = arith.constant 2.0 : f32
  %init = tensor.empty() : tensor<64x128xf32>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%1 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.subf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  return %2, %0 : tensor<64x128xf32>, tensor<64x128xf32>
}

// -----

// A cheap intermediate (%0, addf) also used before the root (by a
// transpose): recomputed in the group's tiles, and computed in full once
// for the transpose.
// CHECK-LABEL: func.func @shared_cheap_before
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         linalg.transpose
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ElementwiseChain"}
// CHECK-NOT:     axf.near_miss
// BUF-LABEL:   func.func @shared_cheap_before
// BUF:           linalg.generic
// BUF:             arith.addf
// BUF:           linalg.transpose
// BUF:           scf.forall
// BUF:             arith.addf
// BUF:             arith.mulf
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @shared_cheap_before(%x: tensor<64x128xf32>) -> (tensor<64x128xf32>, tensor<128x64xf32>) {
  %c = arith.constant 2.0 : f32
  %init = tensor.empty() : tensor<64x128xf32>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %tinit = tensor.empty() : tensor<128x64xf32>
  %t = linalg.transpose ins(%0 : tensor<64x128xf32>) outs(%tinit : tensor<128x64xf32>) permutation = [1, 0]
  %1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%1 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  return %2, %t : tensor<64x128xf32>, tensor<128x64xf32>
}

// -----

// An expensive intermediate (%0, math.exp) also used before the root (by a
// transpose, which no element-wise group takes) is left outside,
// materialised once: near miss. The rest (%1, %2) is a group.
// CHECK-LABEL: func.func @shared_expensive_before
// CHECK:         %[[E:.*]] = linalg.generic
// CHECK-NOT:       axf.group
// CHECK-SAME:      axf.near_miss = ["ElementwiseChain: intermediate has a second user outside the group; recomputing it (math.exp) per tile would cost more than its memory traffic"]
// CHECK:         linalg.transpose ins(%[[E]]
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[E]] :
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ElementwiseChain"}
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @shared_expensive_before(%x: tensor<64x128xf32>) -> (tensor<64x128xf32>, tensor<128x64xf32>) {
  %c = arith.constant 2.0 : f32
  %init = tensor.empty() : tensor<64x128xf32>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %tinit = tensor.empty() : tensor<128x64xf32>
  %t = linalg.transpose ins(%0 : tensor<64x128xf32>) outs(%tinit : tensor<128x64xf32>) permutation = [1, 0]
  %1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%1 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  return %2, %t : tensor<64x128xf32>, tensor<128x64xf32>
}

// -----

// The same with the other user (%3) after the root: fusing %0 costs nothing,
// the tile loop yields its tiles as a second result (computed and written
// once, never read back). %3 cannot take %0 into a group of its own: %0
// has a user before it.
// CHECK-LABEL: func.func @shared_expensive_after
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:           math.exp
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ElementwiseChain"}
// CHECK-NOT:     axf.near_miss
// CHECK:         return
// BUF-LABEL:   func.func @shared_expensive_after
// BUF-SAME:      (%[[X:.*]]: memref<64x128xf32>, %[[OUT0:.*]]: memref<64x128xf32>, %[[OUT1:.*]]: memref<64x128xf32>)
// BUF-NOT:       memref.alloc() {{.*}} : memref<64x128xf32>
// BUF:           scf.forall
// BUF:             math.exp
// BUF-NOT:       math.exp
// BUF:           arith.negf
// BUF:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @shared_expensive_after(%x: tensor<64x128xf32>) -> (tensor<64x128xf32>, tensor<64x128xf32>) {
  %c = arith.constant 2.0 : f32
  %init = tensor.empty() : tensor<64x128xf32>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%1 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  %3 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.negf %in : f32
    linalg.yield %r : f32
  } -> tensor<64x128xf32>
  return %2, %3 : tensor<64x128xf32>, tensor<64x128xf32>
}

// -----

// A lower-rank producer (%0 on [8], broadcast into [4, 8]) stays outside:
// fusing it would recompute it for every tile. One op alone is no group.
// CHECK-LABEL: func.func @lower_rank_producer
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#vec = affine_map<(d0) -> (d0)>
func.func @lower_rank_producer(%x: tensor<4x8xf32>, %s: tensor<8xf32>) -> tensor<4x8xf32> {
  %c = arith.constant 2.0 : f32
  %vinit = tensor.empty() : tensor<8xf32>
  %init = tensor.empty() : tensor<4x8xf32>
  %0 = linalg.generic {indexing_maps = [#vec, #vec], iterator_types = ["parallel"]}
      ins(%s : tensor<8xf32>) outs(%vinit : tensor<8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %1 = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %0 : tensor<4x8xf32>, tensor<8xf32>) outs(%init : tensor<4x8xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %r = arith.addf %in, %b : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  return %1 : tensor<4x8xf32>
}

// -----

// Ops already in a group (an earlier pattern's) are left alone: only %1 and
// %2 form the chain, with %0 an input.
// CHECK-LABEL: func.func @already_grouped
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "Other"}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 1 : i64, axf.member = 1 : i64}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 1 : i64, axf.member = 0 : i64, axf.pattern = "ElementwiseChain"}
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @already_grouped(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %c = arith.constant 2.0 : f32
  %init = tensor.empty() : tensor<4x8xf32>
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%init : tensor<4x8xf32>) attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "Other"} {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<4x8xf32>) outs(%init : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%1 : tensor<4x8xf32>) outs(%init : tensor<4x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %in : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  return %2 : tensor<4x8xf32>
}

// -----

// Dynamic shapes: not handled (the schedule needs static sizes): near miss.
// CHECK-LABEL: func.func @dynamic
// CHECK-NOT:     axf.group
// CHECK:         axf.near_miss = ["ElementwiseChain: dynamic shapes are not handled"]
// CHECK-NOT:     axf.group
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @dynamic(%x: tensor<?x8xf32>, %init: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %c = arith.constant 2.0 : f32
  %0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<?x8xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.mulf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  %1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%0 : tensor<?x8xf32>) outs(%init : tensor<?x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.addf %in, %c : f32
    linalg.yield %r : f32
  } -> tensor<?x8xf32>
  return %1 : tensor<?x8xf32>
}
