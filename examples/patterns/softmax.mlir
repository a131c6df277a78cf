// torch.softmax(x, dim=-1) over [1024, 1024] attention-like scores, in the
// form torch-mlir lowers aten._softmax: a max reduction (keepdim: the result
// is [1024, 1], written through (d0, d1) -> (d0, 0)), exp(x - max), a sum
// reduction, and a division, each one linalg.generic.
//   x: [1024, 1024]
#id = affine_map<(d0, d1) -> (d0, d1)>
#keep = affine_map<(d0, d1) -> (d0, 0)>
func.func @forward(%x: tensor<1024x1024xf32>) -> tensor<1024x1024xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %row_init = tensor.empty() : tensor<1024x1xf32>
  %init = tensor.empty() : tensor<1024x1024xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<1024x1xf32>) -> tensor<1024x1xf32>
  %max = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%x : tensor<1024x1024xf32>) outs(%max_acc : tensor<1024x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1024x1xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : tensor<1024x1024xf32>, tensor<1024x1xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted : tensor<1024x1024xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<1024x1xf32>) -> tensor<1024x1xf32>
  %sum = linalg.generic {indexing_maps = [#id, #keep], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<1024x1024xf32>) outs(%sum_acc : tensor<1024x1xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<1024x1xf32>
  %out = linalg.generic {indexing_maps = [#id, #keep, #id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<1024x1024xf32>, tensor<1024x1xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  return %out : tensor<1024x1024xf32>
}
