// F.cross_entropy(logits, labels) (reduction="mean", ignore_index=-100) over
// a [2048, 1000] batch, in the form torch-mlir gives it: aten._log_softmax
// decomposed into max(dim=-1, keepdim) (a two-result generic whose argmax
// result is dead), sub, exp, sum(keepdim), log, sub; then its native
// aten.nll_loss_forward lowering: a generic over the labels that gathers
// -logp[i, label[i]] with linalg.index + tensor.extract and zeroes ignored
// rows, a count of the non-ignored labels, and a sum that divides by it.
//   logits: [2048, 1000] f32  labels: [2048] i64  ->  loss: [] f32
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#row = affine_map<(d0) -> (d0)>
#all = affine_map<(d0) -> ()>
func.func @forward(%logits: tensor<2048x1000xf32>, %labels: tensor<2048xi64>) -> tensor<f32> {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0_i64 = arith.constant 0 : i64
  %c0_i32 = arith.constant 0 : i32
  %ignore = arith.constant -100 : index
  // max(logits, dim=-1, keepdim=True)
  %row_f32 = tensor.empty() : tensor<2048x1xf32>
  %row_i64 = tensor.empty() : tensor<2048x1xi64>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_f32 : tensor<2048x1xf32>) -> tensor<2048x1xf32>
  %arg_acc = linalg.fill ins(%c0_i64 : i64) outs(%row_i64 : tensor<2048x1xi64>) -> tensor<2048x1xi64>
  %max:2 = linalg.generic {indexing_maps = [#id, #keep, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%logits : tensor<2048x1000xf32>) outs(%max_acc, %arg_acc : tensor<2048x1xf32>, tensor<2048x1xi64>) {
  ^bb0(%in: f32, %m: f32, %arg: i64):
    %j = linalg.index 1 : index
    %j64 = arith.index_cast %j : index to i64
    %mx = arith.maximumf %in, %m : f32
    %gt = arith.cmpf ogt, %in, %m : f32
    %a = arith.select %gt, %j64, %arg : i64
    linalg.yield %mx, %a : f32, i64
  } -> (tensor<2048x1xf32>, tensor<2048x1xi64>)
  // shifted = logits - max  (aten.sub.Tensor, alpha = 1)
  %full = tensor.empty() : tensor<2048x1000xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%logits, %max#0 : tensor<2048x1000xf32>, tensor<2048x1xf32>) outs(%full : tensor<2048x1000xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<2048x1000xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<2048x1000xf32>) outs(%full : tensor<2048x1000xf32>) {
  ^bb0(%a: f32, %o: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<2048x1000xf32>
  // sum(exp, dim=-1, keepdim=True), log
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_f32 : tensor<2048x1xf32>) -> tensor<2048x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<2048x1000xf32>) outs(%sum_acc : tensor<2048x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<2048x1xf32>
  %log = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<2048x1xf32>) outs(%row_f32 : tensor<2048x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %l = math.log %a : f32
    linalg.yield %l : f32
  } -> tensor<2048x1xf32>
  // logp = shifted - log(sum)
  %logp = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted, %log : tensor<2048x1000xf32>, tensor<2048x1xf32>) outs(%full : tensor<2048x1000xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %b, %one : f32
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  } -> tensor<2048x1000xf32>
  // nll_loss_forward: -logp[i, label[i]], 0 where label == ignore_index
  %rows = tensor.empty() : tensor<2048xf32>
  %nll = linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel"]}
      ins(%labels : tensor<2048xi64>) outs(%rows : tensor<2048xf32>) {
  ^bb0(%t: i64, %o: f32):
    %ti = arith.index_cast %t : i64 to index
    %skip = arith.cmpi eq, %ti, %ignore : index
    %i = linalg.index 0 : index
    %v = tensor.extract %logp[%i, %ti] : tensor<2048x1000xf32>
    %n = arith.negf %v : f32
    %r = arith.select %skip, %zero, %n : f32
    linalg.yield %r : f32
  } -> tensor<2048xf32>
  // mean over the non-ignored labels
  %cnt_init = tensor.empty() : tensor<i32>
  %cnt_acc = linalg.fill ins(%c0_i32 : i32) outs(%cnt_init : tensor<i32>) -> tensor<i32>
  %cnt = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%labels : tensor<2048xi64>) outs(%cnt_acc : tensor<i32>) {
  ^bb0(%t: i64, %acc: i32):
    %ti = arith.index_cast %t : i64 to index
    %keep_row = arith.cmpi ne, %ti, %ignore : index
    %k = arith.extui %keep_row : i1 to i32
    %r = arith.addi %acc, %k : i32
    linalg.yield %r : i32
  } -> tensor<i32>
  %count_i = tensor.extract %cnt[] : tensor<i32>
  %count = arith.sitofp %count_i : i32 to f32
  %loss_init = tensor.empty() : tensor<f32>
  %loss_acc = linalg.fill ins(%zero : f32) outs(%loss_init : tensor<f32>) -> tensor<f32>
  %loss = linalg.generic {indexing_maps = [#row, #all], iterator_types = ["reduction"]}
      ins(%nll : tensor<2048xf32>) outs(%loss_acc : tensor<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %d = arith.divf %a, %count : f32
    %r = arith.addf %d, %acc : f32
    linalg.yield %r : f32
  } -> tensor<f32>
  return %loss : tensor<f32>
}
