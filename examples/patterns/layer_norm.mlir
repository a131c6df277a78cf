// nn.LayerNorm(1024) over a [2048, 1024] activation, in the form torch-mlir
// gives it after decomposing aten.native_layer_norm: reductions keep the
// reduced dim ((d0, d1) -> (d0, 0), tensor<2048x1xf32>), the per-row values
// broadcast back with the same map, the mean is sum / N, the variance is
// mean((x - mean)^2) (biased), and the affine part multiplies by gamma and
// adds beta ([1024], broadcast along rows).
//   x: [2048, 1024]  gamma: [1024]  beta: [1024]
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @forward(%x: tensor<2048x1024xf32>, %gamma: tensor<1024xf32>, %beta: tensor<1024xf32>) -> tensor<2048x1024xf32> {
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 1024.0 : f32
  %eps = arith.constant 1.0e-05 : f32
  %row_init = tensor.empty() : tensor<2048x1xf32>
  %init = tensor.empty() : tensor<2048x1024xf32>
  // mean = sum(x, dim=-1, keepdim=True) / N
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<2048x1xf32>) -> tensor<2048x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<2048x1024xf32>) outs(%sum_acc : tensor<2048x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<2048x1xf32>
  %mean = linalg.generic {indexing_maps = [#keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<2048x1xf32>) outs(%row_init : tensor<2048x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %n : f32
    linalg.yield %r : f32
  } -> tensor<2048x1xf32>
  // xc = x - mean
  %xc = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %mean : tensor<2048x1024xf32>, tensor<2048x1xf32>) outs(%init : tensor<2048x1024xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<2048x1024xf32>
  // var = sum(xc * xc, dim=-1, keepdim=True) / N
  %sq = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%xc, %xc : tensor<2048x1024xf32>, tensor<2048x1024xf32>) outs(%init : tensor<2048x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.mulf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<2048x1024xf32>
  %var_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<2048x1xf32>) -> tensor<2048x1xf32>
  %var_sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%sq : tensor<2048x1024xf32>) outs(%var_acc : tensor<2048x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<2048x1xf32>
  %var = linalg.generic {indexing_maps = [#keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%var_sum : tensor<2048x1xf32>) outs(%row_init : tensor<2048x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %n : f32
    linalg.yield %r : f32
  } -> tensor<2048x1xf32>
  // rstd = rsqrt(var + eps)
  %var_eps = linalg.generic {indexing_maps = [#keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%var : tensor<2048x1xf32>) outs(%row_init : tensor<2048x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.addf %a, %eps : f32
    linalg.yield %r : f32
  } -> tensor<2048x1xf32>
  %rstd = linalg.generic {indexing_maps = [#keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%var_eps : tensor<2048x1xf32>) outs(%row_init : tensor<2048x1xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.rsqrt %a : f32
    linalg.yield %r : f32
  } -> tensor<2048x1xf32>
  // y = xc * rstd * gamma + beta
  %norm = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%xc, %rstd : tensor<2048x1024xf32>, tensor<2048x1xf32>) outs(%init : tensor<2048x1024xf32>) {
  ^bb0(%a: f32, %r: f32, %o: f32):
    %m = arith.mulf %a, %r : f32
    linalg.yield %m : f32
  } -> tensor<2048x1024xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%norm, %gamma : tensor<2048x1024xf32>, tensor<1024xf32>) outs(%init : tensor<2048x1024xf32>) {
  ^bb0(%a: f32, %g: f32, %o: f32):
    %m = arith.mulf %a, %g : f32
    linalg.yield %m : f32
  } -> tensor<2048x1024xf32>
  %out = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%scaled, %beta : tensor<2048x1024xf32>, tensor<1024xf32>) outs(%init : tensor<2048x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<2048x1024xf32>
  return %out : tensor<2048x1024xf32>
}
