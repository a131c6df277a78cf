// A two-layer MLP classifier head in linalg-on-tensors, in the form
// torch-mlir's FX importer gives nn.Linear: transpose the [out, in] weight,
// matmul into a zero-filled accumulator, broadcast-add the bias; then ReLU
// (arith.maximumf), the second linear layer and a numerically stable softmax
// (max, sub, exp, sum, div).
//   x: [32, 256]  w1: [128, 256]  b1: [128]  w2: [10, 128]  b2: [10]
#map_id = affine_map<(d0, d1) -> (d0, d1)>
#map_bias = affine_map<(d0, d1) -> (d1)>
#map_row = affine_map<(d0, d1) -> (d0)>
func.func @forward(%x: tensor<32x256xf32>, %w1: tensor<128x256xf32>, %b1: tensor<128xf32>,
                   %w2: tensor<10x128xf32>, %b2: tensor<10xf32>) -> tensor<32x10xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  // layer 1: relu(x @ w1^T + b1)
  %w1t_init = tensor.empty() : tensor<256x128xf32>
  %w1t = linalg.transpose ins(%w1 : tensor<128x256xf32>) outs(%w1t_init : tensor<256x128xf32>) permutation = [1, 0]
  %h_init = tensor.empty() : tensor<32x128xf32>
  %h_acc = linalg.fill ins(%zero : f32) outs(%h_init : tensor<32x128xf32>) -> tensor<32x128xf32>
  %h_mm = linalg.matmul ins(%x, %w1t : tensor<32x256xf32>, tensor<256x128xf32>) outs(%h_acc : tensor<32x128xf32>) -> tensor<32x128xf32>
  %h_bias = linalg.generic {indexing_maps = [#map_id, #map_bias, #map_id], iterator_types = ["parallel", "parallel"]}
      ins(%h_mm, %b1 : tensor<32x128xf32>, tensor<128xf32>) outs(%h_init : tensor<32x128xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<32x128xf32>
  %h = linalg.generic {indexing_maps = [#map_id, #map_id], iterator_types = ["parallel", "parallel"]}
      ins(%h_bias : tensor<32x128xf32>) outs(%h_init : tensor<32x128xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  } -> tensor<32x128xf32>
  // layer 2: h @ w2^T + b2
  %w2t_init = tensor.empty() : tensor<128x10xf32>
  %w2t = linalg.transpose ins(%w2 : tensor<10x128xf32>) outs(%w2t_init : tensor<128x10xf32>) permutation = [1, 0]
  %l_init = tensor.empty() : tensor<32x10xf32>
  %l_acc = linalg.fill ins(%zero : f32) outs(%l_init : tensor<32x10xf32>) -> tensor<32x10xf32>
  %l_mm = linalg.matmul ins(%h, %w2t : tensor<32x128xf32>, tensor<128x10xf32>) outs(%l_acc : tensor<32x10xf32>) -> tensor<32x10xf32>
  %logits = linalg.generic {indexing_maps = [#map_id, #map_bias, #map_id], iterator_types = ["parallel", "parallel"]}
      ins(%l_mm, %b2 : tensor<32x10xf32>, tensor<10xf32>) outs(%l_init : tensor<32x10xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<32x10xf32>
  // softmax over the last dimension
  %row_init = tensor.empty() : tensor<32xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %max = linalg.generic {indexing_maps = [#map_id, #map_row], iterator_types = ["parallel", "reduction"]}
      ins(%logits : tensor<32x10xf32>) outs(%max_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %exp = linalg.generic {indexing_maps = [#map_id, #map_row, #map_id], iterator_types = ["parallel", "parallel"]}
      ins(%logits, %max : tensor<32x10xf32>, tensor<32xf32>) outs(%l_init : tensor<32x10xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  } -> tensor<32x10xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<32xf32>) -> tensor<32xf32>
  %sum = linalg.generic {indexing_maps = [#map_id, #map_row], iterator_types = ["parallel", "reduction"]}
      ins(%exp : tensor<32x10xf32>) outs(%sum_acc : tensor<32xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<32xf32>
  %probs = linalg.generic {indexing_maps = [#map_id, #map_row, #map_id], iterator_types = ["parallel", "parallel"]}
      ins(%exp, %sum : tensor<32x10xf32>, tensor<32xf32>) outs(%l_init : tensor<32x10xf32>) {
  ^bb0(%e: f32, %s: f32, %o: f32):
    %r = arith.divf %e, %s : f32
    linalg.yield %r : f32
  } -> tensor<32x10xf32>
  return %probs : tensor<32x10xf32>
}
