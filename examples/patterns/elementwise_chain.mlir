// A seven-op element-wise chain with broadcasting, as torch-mlir lowers
//   y = clamp(relu(x * scale + shift + residual) * alpha, max=6) - 0.5 * x
// (one linalg.generic per aten op): scale broadcasts along rows ([1024],
// (d0, d1) -> (d1)), shift along columns ([1024, 1], (d0, d1) -> (d0, 0)),
// alpha is a 0-d tensor ((d0, d1) -> ()); x is read twice (a DAG, not a line).
//   x, residual: [1024, 1024]  scale: [1024]  shift: [1024, 1]  alpha: []
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0, 0)>
#scalar = affine_map<(d0, d1) -> ()>
func.func @forward(%x: tensor<1024x1024xf32>, %residual: tensor<1024x1024xf32>, %scale: tensor<1024xf32>,
                   %shift: tensor<1024x1xf32>, %alpha: tensor<f32>) -> tensor<1024x1024xf32> {
  %zero = arith.constant 0.0 : f32
  %six = arith.constant 6.0 : f32
  %half = arith.constant 0.5 : f32
  %init = tensor.empty() : tensor<1024x1024xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %scale : tensor<1024x1024xf32>, tensor<1024xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %r = arith.mulf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  %shifted = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%scaled, %shift : tensor<1024x1024xf32>, tensor<1024x1xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  %summed = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%shifted, %residual : tensor<1024x1024xf32>, tensor<1024x1024xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  %relu = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%summed : tensor<1024x1024xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  %weighted = linalg.generic {indexing_maps = [#id, #scalar, #id], iterator_types = ["parallel", "parallel"]}
      ins(%relu, %alpha : tensor<1024x1024xf32>, tensor<f32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %r = arith.mulf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  %clamped = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%weighted : tensor<1024x1024xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.minimumf %a, %six : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  %half_x = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<1024x1024xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.mulf %a, %half : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  %out = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%clamped, %half_x : tensor<1024x1024xf32>, tensor<1024x1024xf32>) outs(%init : tensor<1024x1024xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.subf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<1024x1024xf32>
  return %out : tensor<1024x1024xf32>
}
