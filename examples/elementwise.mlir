// An element-wise chain with broadcasting: y = tanh((x + 1) * 2 - 0.5) * scale + shift
// where scale broadcasts along rows ([1024]) and shift along columns ([512, 1]).
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
#row = affine_map<(d0, d1) -> (d0, 0)>
func.func @forward(%x: tensor<512x1024xf32>, %scale: tensor<1024xf32>, %shift: tensor<512x1xf32>) -> tensor<512x1024xf32> {
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  %half = arith.constant 0.5 : f32
  %init = tensor.empty() : tensor<512x1024xf32>
  %a = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<512x1024xf32>) outs(%init : tensor<512x1024xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.addf %v, %one : f32
    linalg.yield %r : f32
  } -> tensor<512x1024xf32>
  %b = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<512x1024xf32>) outs(%init : tensor<512x1024xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.mulf %v, %two : f32
    linalg.yield %r : f32
  } -> tensor<512x1024xf32>
  %c = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%b : tensor<512x1024xf32>) outs(%init : tensor<512x1024xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.subf %v, %half : f32
    %t = math.tanh %r : f32
    linalg.yield %t : f32
  } -> tensor<512x1024xf32>
  %d = linalg.generic {indexing_maps = [#id, #col, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c, %scale, %shift : tensor<512x1024xf32>, tensor<1024xf32>, tensor<512x1xf32>) outs(%init : tensor<512x1024xf32>) {
  ^bb0(%v: f32, %s: f32, %t: f32, %o: f32):
    %m = arith.mulf %v, %s : f32
    %r = arith.addf %m, %t : f32
    linalg.yield %r : f32
  } -> tensor<512x1024xf32>
  return %d : tensor<512x1024xf32>
}
