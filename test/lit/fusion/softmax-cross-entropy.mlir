// RUN: axfusion-opt %s --axf-fuse-softmax-cross-entropy --split-input-file | FileCheck %s
// RUN: axfusion-opt %s --axf-fuse-softmax-cross-entropy --axf-schedule --axf-bufferize \
// RUN:   --split-input-file | FileCheck %s --check-prefix=BUF

// SoftmaxCrossEntropy (passes/softmax_cross_entropy.py): log-softmax (or
// softmax then log) + the NLL of integer labels becomes a log-sum-exp per row:
// the row max and exp-sum (members 2 and 1, with their fills 4 and 3) and the
// per-row loss log(s) + m - x[i, label] (root, which reads the label's logit
// with tensor.extract), then the reduction over rows. 8 rows x 1024 classes:
// the schedule tiles 4 rows (16 KiB of logits) at a time.

// torch-mlir's F.cross_entropy (mean, ignore_index = -100): the log-softmax
// decomposition (keep-dim reductions, a two-result max whose argmax is dead)
// and the native nll_loss_forward lowering (linalg.index + tensor.extract
// gather, a count of the kept labels, a sum that divides by it). After:
// max and exp-sum over rows (members 2, 1), the per-row loss (root), a sum
// divided by the count; no [N, C] tensor is computed.
// CHECK-LABEL: func.func @torch_mean
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         %[[MAXI:.*]] = linalg.fill {axf.group = 0 : i64, axf.member = 4 : i64}
// CHECK:         %[[MAX:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%arg0 : tensor<8x1024xf32>) outs(%[[MAXI]] : tensor<8xf32>) attrs = {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:           arith.maximumf
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         %[[SUMI:.*]] = linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         %[[SUM:.*]] = linalg.generic {{.*}} ins(%arg0, %[[MAX]] : tensor<8x1024xf32>, tensor<8xf32>) outs(%[[SUMI]] : tensor<8xf32>) attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:           arith.subf
// CHECK:           math.exp
// CHECK:           arith.addf
// CHECK:         %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[SUM]], %[[MAX]], %arg1 : tensor<8xf32>, tensor<8xf32>, tensor<8xi64>) {{.*}} attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "SoftmaxCrossEntropy"}
// CHECK:           math.log
// CHECK:           arith.cmpi ult
// CHECK:           arith.cmpi ne, %{{.*}}, %c-100_i64
// CHECK:           tensor.extract %arg0[
// CHECK:         %[[TOTAL:.*]] = linalg.generic {{.*}} ins(%[[ROWS]] : tensor<8xf32>) outs(%{{.*}} : tensor<f32>)
// CHECK-NOT:       axf.group
// CHECK:         %[[COUNT:.*]] = linalg.generic {{.*}} ins(%arg1 : tensor<8xi64>) outs(%{{.*}} : tensor<i64>)
// CHECK:         linalg.generic {{.*}} ins(%[[TOTAL]], %[[COUNT]] : tensor<f32>, tensor<i64>)
// CHECK:           arith.divf
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         return
// BUF-LABEL:   func.func @torch_mean
// BUF-NOT:       memref.alloc() {{.*}} : memref<8x1024xf32>
// BUF:           memref.alloc() {{.*}} : memref<8xf32>
// BUF-NOT:       memref.alloc() {{.*}} : memref<8x1024xf32>
// BUF:           scf.forall
// BUF:             memref.alloc() {{.*}} : memref<4xf32>
// BUF:             memref.alloc() {{.*}} : memref<4xf32>
// BUF-NOT:         memref.alloc
// BUF:             axf.pattern = "SoftmaxCrossEntropy"
// BUF:             memref.load %arg0
// BUF-NOT:       memref.alloc() {{.*}} : memref<8x1024xf32>
// BUF:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#row = affine_map<(d0) -> (d0)>
#all = affine_map<(d0) -> ()>
func.func @torch_mean(%x: tensor<8x1024xf32>, %y: tensor<8xi64>) -> tensor<f32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0_i64 = arith.constant 0 : i64
  %keep_f = tensor.empty() : tensor<8x1xf32>
  %keep_i = tensor.empty() : tensor<8x1xi64>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %arg_acc = linalg.fill ins(%c0_i64 : i64) outs(%keep_i : tensor<8x1xi64>) -> tensor<8x1xi64>
  %max:2 = linalg.generic {indexing_maps = [#id, #keep, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc, %arg_acc : tensor<8x1xf32>, tensor<8x1xi64>) {
  ^bb0(%in: f32, %m: f32, %arg: i64):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %mx = arith.maximumf %in, %m : f32
    %gt = arith.cmpf ogt, %in, %m : f32
    %a = arith.select %gt, %j64, %arg : i64
    linalg.yield %mx, %a : f32, i64
  } -> (tensor<8x1xf32>, tensor<8x1xi64>)
  %full = tensor.empty() : tensor<8x1024xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max#0 : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1xf32>
  %log = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<8x1xf32>) outs(%keep_f : tensor<8x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %l = math.log %a : f32
    linalg.yield %l : f32
  } -> tensor<8x1xf32>
  %logp = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted, %log : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>

  %ignore = arith.constant -100 : index
  %c0_i32 = arith.constant 0 : i32
  %nll_e = tensor.empty() : tensor<8xf32>
  %nll = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%y : tensor<8xi64>) outs(%nll_e : tensor<8xf32>) {
  ^bb0(%t: i64, %o: f32):
    %ti = arith.index_cast %t : i64 to index
    %skip = arith.cmpi eq, %ti, %ignore : index
    %i = linalg.index 0 : index
    %v = tensor.extract %logp[%i, %ti] : tensor<8x1024xf32>
    %n = arith.negf %v : f32
    %r = arith.select %skip, %zero, %n : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %cnt_e = tensor.empty() : tensor<i32>
  %cnt_acc = linalg.fill ins(%c0_i32 : i32) outs(%cnt_e : tensor<i32>) -> tensor<i32>
  %cnt = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%y : tensor<8xi64>) outs(%cnt_acc : tensor<i32>) {
  ^bb0(%t: i64, %acc: i32):
    %ti = arith.index_cast %t : i64 to index
    %keep = arith.cmpi ne, %ti, %ignore : index
    %k = arith.extui %keep : i1 to i32
    %r = arith.addi %acc, %k : i32
    linalg.yield %r : i32
  } -> tensor<i32>
  %count_i = tensor.extract %cnt[] : tensor<i32>
  %count = arith.sitofp %count_i : i32 to f32
  %loss_e = tensor.empty() : tensor<f32>
  %loss_acc = linalg.fill ins(%zero : f32) outs(%loss_e : tensor<f32>) -> tensor<f32>
  %loss = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%nll : tensor<8xf32>) outs(%loss_acc : tensor<f32>) {
  ^bb0(%v: f32, %acc: f32):
    %a = arith.divf %v, %count : f32
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// reduction="none": the per-row losses are the root's result.
// CHECK-LABEL: func.func @torch_none
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         %[[ROWS:.*]] = linalg.generic {{.*}} attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "SoftmaxCrossEntropy"}
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         return %[[ROWS]] : tensor<8xf32>
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#row = affine_map<(d0) -> (d0)>
func.func @torch_none(%x: tensor<8x1024xf32>, %y: tensor<8xi64>) -> tensor<8xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0_i64 = arith.constant 0 : i64
  %keep_f = tensor.empty() : tensor<8x1xf32>
  %keep_i = tensor.empty() : tensor<8x1xi64>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %arg_acc = linalg.fill ins(%c0_i64 : i64) outs(%keep_i : tensor<8x1xi64>) -> tensor<8x1xi64>
  %max:2 = linalg.generic {indexing_maps = [#id, #keep, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc, %arg_acc : tensor<8x1xf32>, tensor<8x1xi64>) {
  ^bb0(%in: f32, %m: f32, %arg: i64):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %mx = arith.maximumf %in, %m : f32
    %gt = arith.cmpf ogt, %in, %m : f32
    %a = arith.select %gt, %j64, %arg : i64
    linalg.yield %mx, %a : f32, i64
  } -> (tensor<8x1xf32>, tensor<8x1xi64>)
  %full = tensor.empty() : tensor<8x1024xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max#0 : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1xf32>
  %log = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<8x1xf32>) outs(%keep_f : tensor<8x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %l = math.log %a : f32
    linalg.yield %l : f32
  } -> tensor<8x1xf32>
  %logp = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted, %log : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>

  %ignore = arith.constant -100 : index
  %c0_i32 = arith.constant 0 : i32
  %nll_e = tensor.empty() : tensor<8xf32>
  %nll = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%y : tensor<8xi64>) outs(%nll_e : tensor<8xf32>) {
  ^bb0(%t: i64, %o: f32):
    %ti = arith.index_cast %t : i64 to index
    %skip = arith.cmpi eq, %ti, %ignore : index
    %i = linalg.index 0 : index
    %v = tensor.extract %logp[%i, %ti] : tensor<8x1024xf32>
    %n = arith.negf %v : f32
    %r = arith.select %skip, %zero, %n : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  return %nll : tensor<8xf32>
}

// -----

// softmax (max, sub+exp, sum, div) then log; NLL as a one-hot select summed
// over the classes, negated, then sum / N into a tensor<1xf32>. No label is
// ignored: no compare with a constant, and the mean divides by N.
// CHECK-LABEL: func.func @softmax_log_onehot
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         axf.member = 2
// CHECK:         axf.member = 1
// CHECK:         axf.pattern = "SoftmaxCrossEntropy"
// CHECK-NOT:       arith.cmpi ne
// CHECK:           tensor.extract %arg0[
// CHECK:         linalg.generic {{.*}} outs(%{{.*}} : tensor<1xf32>)
// CHECK:         arith.constant 8.000000e+00 : f32
// CHECK:         linalg.generic {{.*}} ins(%{{.*}} : tensor<1xf32>) outs(%{{.*}} : tensor<1xf32>)
// CHECK:           arith.divf
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#rows = affine_map<(d0, d1) -> (d0)>
#row = affine_map<(d0) -> (d0)>
#first = affine_map<(d0) -> (0)>
func.func @softmax_log_onehot(%x: tensor<8x1024xf32>, %y: tensor<8xi64>) -> tensor<1xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %rows_e = tensor.empty() : tensor<8xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %max = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc : tensor<8xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %full = tensor.empty() : tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<8x1024xf32>, tensor<8xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %probs = linalg.generic {indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<8x1024xf32>, tensor<8xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1024xf32>
  %logp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%probs : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%p: f32, %o: f32):
    %l = math.log %p : f32
    linalg.yield %l : f32
  } -> tensor<8x1024xf32>

  %n_rows = arith.constant 8.0 : f32
  %pick_acc = linalg.fill ins(%zero : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %picked = linalg.generic {indexing_maps = [#id, #rows, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%logp, %y : tensor<8x1024xf32>, tensor<8xi64>) outs(%pick_acc : tensor<8xf32>) {
  ^bb0(%lp: f32, %lab: i64, %acc: f32):
    %j = linalg.index 1 : index
    %t0 = arith.index_cast %lab : i64 to index
    %shift = arith.constant 0 : index
    %t = arith.addi %t0, %shift : index
    %hit = arith.cmpi eq, %j, %t : index
    %s = arith.select %hit, %lp, %zero : f32
    %r = arith.addf %acc, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %neg = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%picked : tensor<8xf32>) outs(%rows_e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.negf %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %tot_e = tensor.empty() : tensor<1xf32>
  %tot_acc = linalg.fill ins(%zero : f32) outs(%tot_e : tensor<1xf32>) -> tensor<1xf32>
  %tot = linalg.generic {indexing_maps = [#row, #first], iterator_types = ["reduction"]}
      ins(%neg : tensor<8xf32>) outs(%tot_acc : tensor<1xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  %loss = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%tot : tensor<1xf32>) outs(%tot_e : tensor<1xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.divf %v, %n_rows : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  return %loss : tensor<1xf32>
}

// -----

// A one-hot f32 tensor multiplied into the log-probabilities, summed over
// classes, then over rows with the negation in the accumulation (sum).
// CHECK-LABEL: func.func @onehot_mask
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         axf.pattern = "SoftmaxCrossEntropy"
// CHECK:         %[[TOTAL:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<f32>)
// CHECK-NOT:       arith.divf
// CHECK:         return %[[TOTAL]] : tensor<f32>
#id = affine_map<(d0, d1) -> (d0, d1)>
#rows = affine_map<(d0, d1) -> (d0)>
#row = affine_map<(d0) -> (d0)>
#all = affine_map<(d0) -> ()>
func.func @onehot_mask(%x: tensor<8x1024xf32>, %y: tensor<8xi64>) -> tensor<f32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %rows_e = tensor.empty() : tensor<8xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %max = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc : tensor<8xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %full = tensor.empty() : tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<8x1024xf32>, tensor<8xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %probs = linalg.generic {indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<8x1024xf32>, tensor<8xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1024xf32>
  %logp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%probs : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%p: f32, %o: f32):
    %l = math.log %p : f32
    linalg.yield %l : f32
  } -> tensor<8x1024xf32>

  %one_f = arith.constant 1.0 : f32
  %oh_e = tensor.empty() : tensor<8x1024xf32>
  %onehot = linalg.generic {indexing_maps = [#rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y : tensor<8xi64>) outs(%oh_e : tensor<8x1024xf32>) {
  ^bb0(%lab: i64, %o: f32):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %hit = arith.cmpi eq, %j64, %lab : i64
    %r = arith.select %hit, %one_f, %zero : f32
    linalg.yield %r : f32
  } -> tensor<8x1024xf32>
  %prod = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%logp, %onehot : tensor<8x1024xf32>, tensor<8x1024xf32>) outs(%oh_e : tensor<8x1024xf32>) {
  ^bb0(%lp: f32, %h: f32, %o: f32):
    %r = arith.mulf %lp, %h : f32
    linalg.yield %r : f32
  } -> tensor<8x1024xf32>
  %rs_e = tensor.empty() : tensor<8xf32>
  %rs_acc = linalg.fill ins(%zero : f32) outs(%rs_e : tensor<8xf32>) -> tensor<8xf32>
  %rowsum = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%prod : tensor<8x1024xf32>) outs(%rs_acc : tensor<8xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %loss_e = tensor.empty() : tensor<f32>
  %loss_acc = linalg.fill ins(%zero : f32) outs(%loss_e : tensor<f32>) -> tensor<f32>
  %loss = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%rowsum : tensor<8xf32>) outs(%loss_acc : tensor<f32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.subf %acc, %v : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// torch._decomp's nll_loss_forward: an i1 mask of the kept labels, the label
// zeroed where ignored, a gather, where(mask, -v, 0), sum / mask.sum(). The
// i1 tensors go with the rest.
// CHECK-LABEL: func.func @decomposed
// CHECK-NOT:     tensor<8xi1>
// CHECK:         axf.pattern = "SoftmaxCrossEntropy"
// CHECK:           arith.cmpi ne, %{{.*}}, %c-100_i64
// CHECK-NOT:     tensor<8xi1>
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#row = affine_map<(d0) -> (d0)>
#all = affine_map<(d0) -> ()>
func.func @decomposed(%x: tensor<8x1024xf32>, %y: tensor<8xi64>) -> tensor<f32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0_i64 = arith.constant 0 : i64
  %keep_f = tensor.empty() : tensor<8x1xf32>
  %keep_i = tensor.empty() : tensor<8x1xi64>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %arg_acc = linalg.fill ins(%c0_i64 : i64) outs(%keep_i : tensor<8x1xi64>) -> tensor<8x1xi64>
  %max:2 = linalg.generic {indexing_maps = [#id, #keep, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc, %arg_acc : tensor<8x1xf32>, tensor<8x1xi64>) {
  ^bb0(%in: f32, %m: f32, %arg: i64):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %mx = arith.maximumf %in, %m : f32
    %gt = arith.cmpf ogt, %in, %m : f32
    %a = arith.select %gt, %j64, %arg : i64
    linalg.yield %mx, %a : f32, i64
  } -> (tensor<8x1xf32>, tensor<8x1xi64>)
  %full = tensor.empty() : tensor<8x1024xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max#0 : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1xf32>
  %log = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<8x1xf32>) outs(%keep_f : tensor<8x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %l = math.log %a : f32
    linalg.yield %l : f32
  } -> tensor<8x1xf32>
  %logp = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted, %log : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>

  %ign = arith.constant -100 : i64
  %c0 = arith.constant 0 : i64
  %m_e = tensor.empty() : tensor<8xi1>
  %mask = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%y : tensor<8xi64>) outs(%m_e : tensor<8xi1>) {
  ^bb0(%t: i64, %o: i1):
    %r = arith.cmpi ne, %t, %ign : i64
    linalg.yield %r : i1
  } -> tensor<8xi1>
  %t_e = tensor.empty() : tensor<8xi64>
  %safe = linalg.generic {indexing_maps = [#row, #row, #row], iterator_types = ["parallel"]}
      ins(%y, %mask : tensor<8xi64>, tensor<8xi1>) outs(%t_e : tensor<8xi64>) {
  ^bb0(%t: i64, %k: i1, %o: i64):
    %k64 = arith.extui %k : i1 to i64
    %r = arith.muli %t, %k64 : i64
    linalg.yield %r : i64
  } -> tensor<8xi64>
  %g_e = tensor.empty() : tensor<8xf32>
  %gathered = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%safe : tensor<8xi64>) outs(%g_e : tensor<8xf32>) {
  ^bb0(%t: i64, %o: f32):
    %i = linalg.index 0 : index
    %ti = arith.index_cast %t : i64 to index
    %v = tensor.extract %logp[%i, %ti] : tensor<8x1024xf32>
    linalg.yield %v : f32
  } -> tensor<8xf32>
  %where = linalg.generic {indexing_maps = [#row, #row, #row], iterator_types = ["parallel"]}
      ins(%mask, %gathered : tensor<8xi1>, tensor<8xf32>) outs(%g_e : tensor<8xf32>) {
  ^bb0(%k: i1, %v: f32, %o: f32):
    %n = arith.negf %v : f32
    %r = arith.select %k, %n, %zero : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %s_e = tensor.empty() : tensor<f32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_e : tensor<f32>) -> tensor<f32>
  %total = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%where : tensor<8xf32>) outs(%s_acc : tensor<f32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  %count = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%mask : tensor<8xi1>) outs(%s_acc : tensor<f32>) {
  ^bb0(%k: i1, %acc: f32):
    %kf = arith.uitofp %k : i1 to f32
    %r = arith.addf %kf, %acc : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  %loss = linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []}
      ins(%total, %count : tensor<f32>, tensor<f32>) outs(%s_e : tensor<f32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.divf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// The softmax probabilities are also returned: the [N, C] tensor has to be
// written anyway, so the loss is left as it is.
// CHECK-LABEL: func.func @probs_escape
// CHECK-NOT:     axf.group
// CHECK:         linalg.generic {{.*}}axf.near_miss = ["SoftmaxCrossEntropy: intermediate has a second user outside the group
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#rows = affine_map<(d0, d1) -> (d0)>
#row = affine_map<(d0) -> (d0)>
#first = affine_map<(d0) -> (0)>
func.func @probs_escape(%x: tensor<8x1024xf32>, %y: tensor<8xi64>) -> (tensor<1xf32>, tensor<8x1024xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %rows_e = tensor.empty() : tensor<8xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %max = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc : tensor<8xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %full = tensor.empty() : tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<8x1024xf32>, tensor<8xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %probs = linalg.generic {indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<8x1024xf32>, tensor<8xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1024xf32>
  %logp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%probs : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%p: f32, %o: f32):
    %l = math.log %p : f32
    linalg.yield %l : f32
  } -> tensor<8x1024xf32>

  %n_rows = arith.constant 8.0 : f32
  %pick_acc = linalg.fill ins(%zero : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %picked = linalg.generic {indexing_maps = [#id, #rows, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%logp, %y : tensor<8x1024xf32>, tensor<8xi64>) outs(%pick_acc : tensor<8xf32>) {
  ^bb0(%lp: f32, %lab: i64, %acc: f32):
    %j = linalg.index 1 : index
    %t0 = arith.index_cast %lab : i64 to index
    %shift = arith.constant 0 : index
    %t = arith.addi %t0, %shift : index
    %hit = arith.cmpi eq, %j, %t : index
    %s = arith.select %hit, %lp, %zero : f32
    %r = arith.addf %acc, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %neg = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%picked : tensor<8xf32>) outs(%rows_e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.negf %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %tot_e = tensor.empty() : tensor<1xf32>
  %tot_acc = linalg.fill ins(%zero : f32) outs(%tot_e : tensor<1xf32>) -> tensor<1xf32>
  %tot = linalg.generic {indexing_maps = [#row, #first], iterator_types = ["reduction"]}
      ins(%neg : tensor<8xf32>) outs(%tot_acc : tensor<1xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  %loss = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%tot : tensor<1xf32>) outs(%tot_e : tensor<1xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.divf %v, %n_rows : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  return %loss, %probs : tensor<1xf32>, tensor<8x1024xf32>
}

// -----

// Float labels compared with the class index: not a gather of integer labels.
// CHECK-LABEL: func.func @float_labels
// CHECK-NOT:     axf.group
// CHECK:         axf.near_miss = ["SoftmaxCrossEntropy: labels of non-integer type (f32)
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#rows = affine_map<(d0, d1) -> (d0)>
#row = affine_map<(d0) -> (d0)>
#first = affine_map<(d0) -> (0)>
func.func @float_labels(%x: tensor<8x1024xf32>, %y: tensor<8xf32>) -> tensor<1xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %rows_e = tensor.empty() : tensor<8xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %max = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc : tensor<8xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %full = tensor.empty() : tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<8x1024xf32>, tensor<8xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %probs = linalg.generic {indexing_maps = [#id, #rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<8x1024xf32>, tensor<8xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1024xf32>
  %logp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%probs : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%p: f32, %o: f32):
    %l = math.log %p : f32
    linalg.yield %l : f32
  } -> tensor<8x1024xf32>

  %n_rows = arith.constant 8.0 : f32
  %pick_acc = linalg.fill ins(%zero : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %picked = linalg.generic {indexing_maps = [#id, #rows, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%logp, %y : tensor<8x1024xf32>, tensor<8xf32>) outs(%pick_acc : tensor<8xf32>) {
  ^bb0(%lp: f32, %lab: f32, %acc: f32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i64
    %jf = arith.sitofp %ji : i64 to f32
    %hit = arith.cmpf oeq, %jf, %lab : f32
    %s = arith.select %hit, %lp, %zero : f32
    %r = arith.addf %acc, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %neg = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%picked : tensor<8xf32>) outs(%rows_e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.negf %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %tot_e = tensor.empty() : tensor<1xf32>
  %tot_acc = linalg.fill ins(%zero : f32) outs(%tot_e : tensor<1xf32>) -> tensor<1xf32>
  %tot = linalg.generic {indexing_maps = [#row, #first], iterator_types = ["reduction"]}
      ins(%neg : tensor<8xf32>) outs(%tot_acc : tensor<1xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  %loss = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%tot : tensor<1xf32>) outs(%tot_e : tensor<1xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.divf %v, %n_rows : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  return %loss : tensor<1xf32>
}

// -----

// log_softmax over dim 0 (the max and sum reduce rows, per column).
// CHECK-LABEL: func.func @dim0
// CHECK-NOT:     axf.group
// CHECK:         iterator_types = ["reduction", "parallel"]{{.*}}axf.near_miss = ["SoftmaxCrossEntropy: softmax reduction over a non-last dim
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#rows = affine_map<(d0, d1) -> (d0)>
#cols = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0) -> (d0)>
#first = affine_map<(d0) -> (0)>
func.func @dim0(%x: tensor<8x1024xf32>, %y: tensor<8xi64>) -> tensor<1xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %rows_e = tensor.empty() : tensor<8xf32>
  %cols_e = tensor.empty() : tensor<1024xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%cols_e : tensor<1024xf32>) -> tensor<1024xf32>
  %max = linalg.generic {indexing_maps = [#id, #cols], iterator_types = ["reduction", "parallel"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc : tensor<1024xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1024xf32>
  %full = tensor.empty() : tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #cols, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<8x1024xf32>, tensor<1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%cols_e : tensor<1024xf32>) -> tensor<1024xf32>
  %sum = linalg.generic {indexing_maps = [#id, #cols], iterator_types = ["reduction", "parallel"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<1024xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<1024xf32>
  %logp = linalg.generic {indexing_maps = [#id, #cols, #cols, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max, %sum : tensor<8x1024xf32>, tensor<1024xf32>, tensor<1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %m: f32, %s: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %l = math.log %s : f32
    %r = arith.subf %d, %l : f32
    linalg.yield %r : f32
  } -> tensor<8x1024xf32>

  %n_rows = arith.constant 8.0 : f32
  %pick_acc = linalg.fill ins(%zero : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %picked = linalg.generic {indexing_maps = [#id, #rows, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%logp, %y : tensor<8x1024xf32>, tensor<8xi64>) outs(%pick_acc : tensor<8xf32>) {
  ^bb0(%lp: f32, %lab: i64, %acc: f32):
    %j = linalg.index 1 : index
    %t0 = arith.index_cast %lab : i64 to index
    %shift = arith.constant 0 : index
    %t = arith.addi %t0, %shift : index
    %hit = arith.cmpi eq, %j, %t : index
    %s = arith.select %hit, %lp, %zero : f32
    %r = arith.addf %acc, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %neg = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%picked : tensor<8xf32>) outs(%rows_e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.negf %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %tot_e = tensor.empty() : tensor<1xf32>
  %tot_acc = linalg.fill ins(%zero : f32) outs(%tot_e : tensor<1xf32>) -> tensor<1xf32>
  %tot = linalg.generic {indexing_maps = [#row, #first], iterator_types = ["reduction"]}
      ins(%neg : tensor<8xf32>) outs(%tot_acc : tensor<1xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  %loss = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%tot : tensor<1xf32>) outs(%tot_e : tensor<1xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.divf %v, %n_rows : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  return %loss : tensor<1xf32>
}

// -----

// Reads the log-probability of the class after the label's: the ops are run
// on sample rows and do not give cross-entropy, so nothing changes.
// CHECK-LABEL: func.func @next_class
// CHECK-NOT:     axf.group
// CHECK:         axf.near_miss = ["SoftmaxCrossEntropy: the ops do not compute softmax cross-entropy
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#rows = affine_map<(d0, d1) -> (d0)>
#row = affine_map<(d0) -> (d0)>
#first = affine_map<(d0) -> (0)>
func.func @next_class(%x: tensor<8x1024xf32>, %y: tensor<8xi64>) -> tensor<1xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0_i64 = arith.constant 0 : i64
  %keep_f = tensor.empty() : tensor<8x1xf32>
  %keep_i = tensor.empty() : tensor<8x1xi64>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %arg_acc = linalg.fill ins(%c0_i64 : i64) outs(%keep_i : tensor<8x1xi64>) -> tensor<8x1xi64>
  %max:2 = linalg.generic {indexing_maps = [#id, #keep, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc, %arg_acc : tensor<8x1xf32>, tensor<8x1xi64>) {
  ^bb0(%in: f32, %m: f32, %arg: i64):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %mx = arith.maximumf %in, %m : f32
    %gt = arith.cmpf ogt, %in, %m : f32
    %a = arith.select %gt, %j64, %arg : i64
    linalg.yield %mx, %a : f32, i64
  } -> (tensor<8x1xf32>, tensor<8x1xi64>)
  %full = tensor.empty() : tensor<8x1024xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max#0 : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1xf32>
  %log = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<8x1xf32>) outs(%keep_f : tensor<8x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %l = math.log %a : f32
    linalg.yield %l : f32
  } -> tensor<8x1xf32>
  %logp = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted, %log : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>
  %rows_e = tensor.empty() : tensor<8xf32>

  %n_rows = arith.constant 8.0 : f32
  %pick_acc = linalg.fill ins(%zero : f32) outs(%rows_e : tensor<8xf32>) -> tensor<8xf32>
  %picked = linalg.generic {indexing_maps = [#id, #rows, #rows], iterator_types = ["parallel", "reduction"]}
      ins(%logp, %y : tensor<8x1024xf32>, tensor<8xi64>) outs(%pick_acc : tensor<8xf32>) {
  ^bb0(%lp: f32, %lab: i64, %acc: f32):
    %j = linalg.index 1 : index
    %t0 = arith.index_cast %lab : i64 to index
    %shift = arith.constant 1 : index
    %t = arith.addi %t0, %shift : index
    %hit = arith.cmpi eq, %j, %t : index
    %s = arith.select %hit, %lp, %zero : f32
    %r = arith.addf %acc, %s : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %neg = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%picked : tensor<8xf32>) outs(%rows_e : tensor<8xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.negf %v : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  %tot_e = tensor.empty() : tensor<1xf32>
  %tot_acc = linalg.fill ins(%zero : f32) outs(%tot_e : tensor<1xf32>) -> tensor<1xf32>
  %tot = linalg.generic {indexing_maps = [#row, #first], iterator_types = ["reduction"]}
      ins(%neg : tensor<8xf32>) outs(%tot_acc : tensor<1xf32>) {
  ^bb0(%v: f32, %acc: f32):
    %r = arith.addf %v, %acc : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  %loss = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%tot : tensor<1xf32>) outs(%tot_e : tensor<1xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.divf %v, %n_rows : f32
    linalg.yield %r : f32
  } -> tensor<1xf32>
  return %loss : tensor<1xf32>
}

// -----

// NLL with class weights: the loss reads a third tensor.
// CHECK-LABEL: func.func @weighted
// CHECK-NOT:     axf.group
// CHECK:         axf.near_miss = ["SoftmaxCrossEntropy: the loss reads a tensor other than the logits and labels"]
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#row = affine_map<(d0) -> (d0)>
func.func @weighted(%x: tensor<8x1024xf32>, %y: tensor<8xi64>, %w: tensor<1024xf32>) -> tensor<8xf32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0_i64 = arith.constant 0 : i64
  %keep_f = tensor.empty() : tensor<8x1xf32>
  %keep_i = tensor.empty() : tensor<8x1xi64>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %arg_acc = linalg.fill ins(%c0_i64 : i64) outs(%keep_i : tensor<8x1xi64>) -> tensor<8x1xi64>
  %max:2 = linalg.generic {indexing_maps = [#id, #keep, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc, %arg_acc : tensor<8x1xf32>, tensor<8x1xi64>) {
  ^bb0(%in: f32, %m: f32, %arg: i64):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %mx = arith.maximumf %in, %m : f32
    %gt = arith.cmpf ogt, %in, %m : f32
    %a = arith.select %gt, %j64, %arg : i64
    linalg.yield %mx, %a : f32, i64
  } -> (tensor<8x1xf32>, tensor<8x1xi64>)
  %full = tensor.empty() : tensor<8x1024xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max#0 : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1xf32>
  %log = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<8x1xf32>) outs(%keep_f : tensor<8x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %l = math.log %a : f32
    linalg.yield %l : f32
  } -> tensor<8x1xf32>
  %logp = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted, %log : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>

  %ignore = arith.constant -100 : index
  %c0_i32 = arith.constant 0 : i32
  %nll_e = tensor.empty() : tensor<8xf32>
  %nll = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%y : tensor<8xi64>) outs(%nll_e : tensor<8xf32>) {
  ^bb0(%t: i64, %o: f32):
    %ti = arith.index_cast %t : i64 to index
    %skip = arith.cmpi eq, %ti, %ignore : index
    %i = linalg.index 0 : index
    %v = tensor.extract %logp[%i, %ti] : tensor<8x1024xf32>
    %wt = tensor.extract %w[%ti] : tensor<1024xf32>
    %vw = arith.mulf %v, %wt : f32
    %n = arith.negf %vw : f32
    %r = arith.select %skip, %zero, %n : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  return %nll : tensor<8xf32>
}

// -----

// An embedding lookup gathers by integer ids too, but no softmax feeds it:
// untouched, and no near miss.
// CHECK-LABEL: func.func @embedding
// CHECK-NOT:     axf.
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#rows = affine_map<(d0, d1) -> (d0)>
#row = affine_map<(d0) -> (d0)>
func.func @embedding(%table: tensor<1024x16xf32>, %ids: tensor<8xi64>) -> tensor<8x16xf32> {
  %e = tensor.empty() : tensor<8x16xf32>
  %r = linalg.generic {indexing_maps = [#rows, #id], iterator_types = ["parallel", "parallel"]}
      ins(%ids : tensor<8xi64>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%t: i64, %o: f32):
    %ti = arith.index_cast %t : i64 to index
    %j = linalg.index 1 : index
    %v = tensor.extract %table[%ti, %j] : tensor<1024x16xf32>
    linalg.yield %v : f32
  } -> tensor<8x16xf32>
  return %r : tensor<8x16xf32>
}

// -----

// torch-mlir's F.cross_entropy (mean, ignore_index = -100) as it lowers
// today: the labels are masked (y != -100 ? y : 0) and reach the gather
// through tensor.expand_shape [8] -> [8, 1]; the gather is a 2-d generic
// over [8, 1] whose result is collapsed back to [8] before the negf and the
// select on the mask. The pattern looks through the unit-dim reshape (and
// the masking) to the rank-1 labels %arg1, which the rewrite reads: the same
// group as @torch_mean, and no reshape of the labels is left.
// CHECK-LABEL: func.func @torch_expand_shape
// CHECK-NOT:     tensor.expand_shape
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 4 : i64}
// CHECK:         %[[MAX:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<8x1024xf32>) {{.*}} attrs = {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         %[[SUM:.*]] = linalg.generic {{.*}} ins(%arg0, %[[MAX]] : tensor<8x1024xf32>, tensor<8xf32>) {{.*}} attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[SUM]], %[[MAX]], %arg1 : tensor<8xf32>, tensor<8xf32>, tensor<8xi64>) {{.*}} attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "SoftmaxCrossEntropy"}
// CHECK:           arith.cmpi ult
// CHECK:           arith.cmpi ne, %{{.*}}, %c-100_i64
// CHECK:           tensor.extract %arg0[
// CHECK:         %[[TOTAL:.*]] = linalg.generic {{.*}} ins(%[[ROWS]] : tensor<8xf32>) outs(%{{.*}} : tensor<f32>)
// CHECK:         %[[COUNT:.*]] = linalg.generic {{.*}} ins(%arg1 : tensor<8xi64>) outs(%{{.*}} : tensor<i64>)
// CHECK:         linalg.generic {{.*}} ins(%[[TOTAL]], %[[COUNT]] : tensor<f32>, tensor<i64>)
// CHECK:           arith.divf
// CHECK-NOT:     tensor.expand_shape
// CHECK-NOT:     tensor.collapse_shape
// CHECK-NOT:     -> tensor<8x1024xf32>
// CHECK:         return
// BUF-LABEL:   func.func @torch_expand_shape
// BUF-NOT:       memref.alloc() {{.*}} : memref<8x1024xf32>
// BUF:           scf.forall
// BUF:             axf.pattern = "SoftmaxCrossEntropy"
// BUF-NOT:       memref.alloc() {{.*}} : memref<8x1024xf32>
// BUF:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
#rowk = affine_map<(d0, d1) -> (d0)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#row = affine_map<(d0) -> (d0)>
#all = affine_map<(d0) -> ()>
#scalar = affine_map<() -> ()>
func.func @torch_expand_shape(%x: tensor<8x1024xf32>, %y: tensor<8xi64>) -> tensor<f32> {
  %c-100_i64 = arith.constant -100 : i64
  %zero = arith.constant 0.0 : f32
  %c1024 = arith.constant 1024 : index
  %c0_i64 = arith.constant 0 : i64
  %ninf = arith.constant 0xFF800000 : f32
  %zero_t = arith.constant dense<0.0> : tensor<f32>
  %zero_it = arith.constant dense<0> : tensor<i64>
  %full = tensor.empty() : tensor<8x1024xf32>
  %rows_i = tensor.empty() : tensor<8xi64>
  %arg_acc = linalg.fill ins(%c0_i64 : i64) outs(%rows_i : tensor<8xi64>) -> tensor<8xi64>
  %rows_f = tensor.empty() : tensor<8xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%rows_f : tensor<8xf32>) -> tensor<8xf32>
  %max:2 = linalg.generic {indexing_maps = [#id, #rowk, #rowk], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<8x1024xf32>) outs(%max_acc, %arg_acc : tensor<8xf32>, tensor<8xi64>) {
  ^bb0(%in: f32, %m: f32, %arg: i64):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %mx = arith.maximumf %in, %m : f32
    %gt = arith.cmpf ogt, %in, %m : f32
    %a = arith.select %gt, %j64, %arg : i64
    linalg.yield %mx, %a : f32, i64
  } -> (tensor<8xf32>, tensor<8xi64>)
  %max_k = tensor.expand_shape %max#0 [[0, 1]] output_shape [8, 1] : tensor<8xf32> into tensor<8x1xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max_k : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<8x1024xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<8x1024xf32>
  %keep_f = tensor.empty() : tensor<8x1xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%keep_f : tensor<8x1xf32>) -> tensor<8x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<8x1024xf32>) outs(%sum_acc : tensor<8x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<8x1xf32>
  %log = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<8x1xf32>) outs(%keep_f : tensor<8x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %l = math.log %a : f32
    linalg.yield %l : f32
  } -> tensor<8x1xf32>
  %logp = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted, %log : tensor<8x1024xf32>, tensor<8x1xf32>) outs(%full : tensor<8x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<8x1024xf32>

  %mask_e = tensor.empty() : tensor<8xi1>
  %mask = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%y : tensor<8xi64>) outs(%mask_e : tensor<8xi1>) {
  ^bb0(%t: i64, %o: i1):
    %ne = arith.cmpi ne, %t, %c-100_i64 : i64
    linalg.yield %ne : i1
  } -> tensor<8xi1>
  %safe = linalg.generic {indexing_maps = [#row, #row, #all, #row], iterator_types = ["parallel"]}
      ins(%mask, %y, %zero_it : tensor<8xi1>, tensor<8xi64>, tensor<i64>) outs(%rows_i : tensor<8xi64>) {
  ^bb0(%k: i1, %t: i64, %z: i64, %o: i64):
    %s = arith.select %k, %t, %z : i64
    linalg.yield %s : i64
  } -> tensor<8xi64>
  %safe_k = tensor.expand_shape %safe [[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
  %picked = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%safe_k : tensor<8x1xi64>) outs(%sum_acc : tensor<8x1xf32>) {
  ^bb0(%t: i64, %o: f32):
    %i = linalg.index 0 : index
    %ti = arith.index_cast %t : i64 to index
    %lt = arith.cmpi slt, %ti, %c1024 : index
    %ge = arith.cmpi sge, %t, %c0_i64 : i64
    %v = tensor.extract %logp[%i, %ti] : tensor<8x1024xf32>
    linalg.yield %v : f32
  } -> tensor<8x1xf32>
  %picked_r = tensor.collapse_shape %picked [[0, 1]] : tensor<8x1xf32> into tensor<8xf32>
  %neg = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%picked_r : tensor<8xf32>) outs(%rows_f : tensor<8xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<8xf32>
  %nll = linalg.generic {indexing_maps = [#row, #row, #all, #row], iterator_types = ["parallel"]}
      ins(%mask, %neg, %zero_t : tensor<8xi1>, tensor<8xf32>, tensor<f32>) outs(%rows_f : tensor<8xf32>) {
  ^bb0(%k: i1, %a: f32, %z: f32, %o: f32):
    %s = arith.select %k, %a, %z : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>
  %cnt_e = tensor.empty() : tensor<i64>
  %cnt_acc = linalg.fill ins(%c0_i64 : i64) outs(%cnt_e : tensor<i64>) -> tensor<i64>
  %cnt = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%mask : tensor<8xi1>) outs(%cnt_acc : tensor<i64>) {
  ^bb0(%k: i1, %acc: i64):
    %e = arith.extui %k : i1 to i64
    %r = arith.addi %e, %acc : i64
    linalg.yield %r : i64
  } -> tensor<i64>
  %loss_e = tensor.empty() : tensor<f32>
  %count = linalg.generic {indexing_maps = [#scalar, #scalar], iterator_types = []}
      ins(%cnt : tensor<i64>) outs(%loss_e : tensor<f32>) {
  ^bb0(%c: i64, %o: f32):
    %f = arith.sitofp %c : i64 to f32
    linalg.yield %f : f32
  } -> tensor<f32>
  %loss_acc = linalg.fill ins(%zero : f32) outs(%loss_e : tensor<f32>) -> tensor<f32>
  %total = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%nll : tensor<8xf32>) outs(%loss_acc : tensor<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  %loss = linalg.generic {indexing_maps = [#scalar, #scalar, #scalar], iterator_types = []}
      ins(%total, %count : tensor<f32>, tensor<f32>) outs(%loss_e : tensor<f32>) {
  ^bb0(%s: f32, %c: f32, %o: f32):
    %d = arith.divf %s, %c : f32
    linalg.yield %d : f32
  } -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// A `?` row count with a static class count (one kernel for every batch):
// the matcher checks the ops on 8 sample rows (the `tensor.dim` row count
// they read is 8 there); the row tensors are sized by the logits at run
// time, and the mean divides by that row count.
// CHECK-LABEL: func.func @dynamic_rows_mean
// CHECK-NOT:     -> tensor<?x16xf32>
// CHECK:         tensor.dim %arg0
// CHECK:         %[[N:.*]] = tensor.dim %arg0, %{{.*}} : tensor<?x16xf32>
// CHECK-NOT:     tensor.dim
// CHECK:         tensor.empty(%[[N]]) : tensor<?xf32>
// CHECK:         %[[MAX:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<?x16xf32>) outs(%{{.*}} : tensor<?xf32>) attrs = {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         %[[SUM:.*]] = linalg.generic {{.*}} ins(%arg0, %[[MAX]] : tensor<?x16xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?xf32>) attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         %[[ROWS:.*]] = linalg.generic {{.*}} ins(%[[SUM]], %[[MAX]], %arg1 : tensor<?xf32>, tensor<?xf32>, tensor<?xi64>) {{.*}} axf.pattern = "SoftmaxCrossEntropy"
// CHECK:         %[[TOTAL:.*]] = linalg.generic {{.*}} ins(%[[ROWS]] : tensor<?xf32>) outs(%{{.*}} : tensor<f32>)
// CHECK:         %[[NI:.*]] = arith.index_cast %[[N]] : index to i64
// CHECK:         %[[NF:.*]] = arith.sitofp %[[NI]] : i64 to f32
// CHECK:         linalg.generic {{.*}} ins(%[[TOTAL]] : tensor<f32>)
// CHECK:           arith.divf %{{.*}}, %[[NF]] : f32
// CHECK-NOT:     -> tensor<?x16xf32>
// CHECK:         return
// BUF-LABEL:   func.func @dynamic_rows_mean
// BUF-NOT:       memref.alloc({{.*}}) {{.*}} : memref<?x16xf32>
// BUF:           memref.alloc(%{{.*}}) {{.*}} : memref<?xf32>
// BUF:           scf.forall
// BUF:             memref.alloc(%{{.*}}) {{.*}} : memref<?xf32>
// BUF:             memref.alloc(%{{.*}}) {{.*}} : memref<?xf32>
// BUF-NOT:         memref.alloc
// BUF:             axf.pattern = "SoftmaxCrossEntropy"
// BUF-NOT:       memref.alloc({{.*}}) {{.*}} : memref<?x16xf32>
// BUF:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#row = affine_map<(d0) -> (d0)>
#all = affine_map<(d0) -> ()>
#scalar = affine_map<() -> ()>
func.func @dynamic_rows_mean(%x: tensor<?x16xf32>, %y: tensor<?xi64>) -> tensor<f32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x16xf32>
  %keep_f = tensor.empty(%n) : tensor<?x1xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%keep_f : tensor<?x1xf32>) -> tensor<?x1xf32>
  %max = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<?x16xf32>) outs(%max_acc : tensor<?x1xf32>) {
  ^bb0(%in: f32, %m: f32):
    %mx = arith.maximumf %in, %m : f32
    linalg.yield %mx : f32
  } -> tensor<?x1xf32>
  %full = tensor.empty(%n) : tensor<?x16xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<?x16xf32>, tensor<?x1xf32>) outs(%full : tensor<?x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.subf %a, %b : f32
    linalg.yield %d : f32
  } -> tensor<?x16xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<?x16xf32>) outs(%full : tensor<?x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<?x16xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%keep_f : tensor<?x1xf32>) -> tensor<?x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<?x16xf32>) outs(%sum_acc : tensor<?x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<?x1xf32>
  %logp = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted, %sum : tensor<?x16xf32>, tensor<?x1xf32>) outs(%full : tensor<?x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %l = math.log %b : f32
    %d = arith.subf %a, %l : f32
    linalg.yield %d : f32
  } -> tensor<?x16xf32>
  %rows_init = tensor.empty(%n) : tensor<?xf32>
  %nll = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%y : tensor<?xi64>) outs(%rows_init : tensor<?xf32>) {
  ^bb0(%label: i64, %o: f32):
    %i = linalg.index 0 : index
    %t = arith.index_cast %label : i64 to index
    %v = tensor.extract %logp[%i, %t] : tensor<?x16xf32>
    %neg = arith.negf %v : f32
    linalg.yield %neg : f32
  } -> tensor<?xf32>
  %scalar_init = tensor.empty() : tensor<f32>
  %total_acc = linalg.fill ins(%zero : f32) outs(%scalar_init : tensor<f32>) -> tensor<f32>
  %total = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%nll : tensor<?xf32>) outs(%total_acc : tensor<f32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  %n64 = arith.index_cast %n : index to i64
  %nf = arith.sitofp %n64 : i64 to f32
  %mean = linalg.generic {indexing_maps = [#scalar, #scalar], iterator_types = []}
      ins(%total : tensor<f32>) outs(%scalar_init : tensor<f32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %nf : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  return %mean : tensor<f32>
}
