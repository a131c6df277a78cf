// Multi-head self-attention (batch 1, 8 heads, sequence 512, head dim 64,
// model dim 512) with an additive [S, S] attention mask, in the form
// torch-mlir's FX importer gives
//     q, k, v = (lin(x).view(B, S, H, D).transpose(1, 2) for lin in (wq, wk, wv))
//     p = softmax(q @ k.transpose(-2, -1) / sqrt(D) + mask, dim=-1)
//     y = wo((p @ v).transpose(1, 2).reshape(B, S, H * D))
// nn.Linear as transpose + matmul into a zero fill + broadcast bias add (on
// the [B*S, E] view of x); the heads collapsed into one batch dim around
// linalg.batch_matmul; the scale, the mask add and every softmax step
// (max with keepdim, sub, exp, sum, div) one linalg.generic each.
//   x: [1, 512, 512]  wq, wk, wv, wo: [512, 512]  bq, bk, bv, bo: [512]
//   mask: [512, 512]  ->  y: [1, 512, 512]
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#mask = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#row = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, 0)>
func.func @forward(%x: tensor<1x512x512xf32>,
                   %wq: tensor<512x512xf32>, %bq: tensor<512xf32>, %wk: tensor<512x512xf32>, %bk: tensor<512xf32>,
                   %wv: tensor<512x512xf32>, %bv: tensor<512xf32>, %wo: tensor<512x512xf32>, %bo: tensor<512xf32>,
                   %mask: tensor<512x512xf32>) -> tensor<1x512x512xf32> {
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %sqrt_d = arith.constant 8.0 : f32
  %x2 = tensor.collapse_shape %x [[0, 1], [2]] : tensor<1x512x512xf32> into tensor<512x512xf32>
  %proj_init = tensor.empty() : tensor<512x512xf32>
  %proj_acc = linalg.fill ins(%zero : f32) outs(%proj_init : tensor<512x512xf32>) -> tensor<512x512xf32>
  %wt_init = tensor.empty() : tensor<512x512xf32>
  // q = x2 @ wq^T + bq
  %wqt = linalg.transpose ins(%wq : tensor<512x512xf32>) outs(%wt_init : tensor<512x512xf32>) permutation = [1, 0]
  %q_mm = linalg.matmul ins(%x2, %wqt : tensor<512x512xf32>, tensor<512x512xf32>) outs(%proj_acc : tensor<512x512xf32>) -> tensor<512x512xf32>
  %q = linalg.generic {indexing_maps = [#id2, #bias, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%q_mm, %bq : tensor<512x512xf32>, tensor<512xf32>) outs(%proj_init : tensor<512x512xf32>) {
  ^bb0(%a: f32, %bb: f32, %o: f32):
    %r = arith.addf %a, %bb : f32
    linalg.yield %r : f32
  } -> tensor<512x512xf32>
  %q4 = tensor.expand_shape %q [[0, 1], [2, 3]] output_shape [1, 512, 8, 64] : tensor<512x512xf32> into tensor<1x512x8x64xf32>
  %qh_init = tensor.empty() : tensor<1x8x512x64xf32>
  %qh = linalg.transpose ins(%q4 : tensor<1x512x8x64xf32>) outs(%qh_init : tensor<1x8x512x64xf32>) permutation = [0, 2, 1, 3]
  // k = x2 @ wk^T + bk
  %wkt = linalg.transpose ins(%wk : tensor<512x512xf32>) outs(%wt_init : tensor<512x512xf32>) permutation = [1, 0]
  %k_mm = linalg.matmul ins(%x2, %wkt : tensor<512x512xf32>, tensor<512x512xf32>) outs(%proj_acc : tensor<512x512xf32>) -> tensor<512x512xf32>
  %k = linalg.generic {indexing_maps = [#id2, #bias, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%k_mm, %bk : tensor<512x512xf32>, tensor<512xf32>) outs(%proj_init : tensor<512x512xf32>) {
  ^bb0(%a: f32, %bb: f32, %o: f32):
    %r = arith.addf %a, %bb : f32
    linalg.yield %r : f32
  } -> tensor<512x512xf32>
  %k4 = tensor.expand_shape %k [[0, 1], [2, 3]] output_shape [1, 512, 8, 64] : tensor<512x512xf32> into tensor<1x512x8x64xf32>
  %kh_init = tensor.empty() : tensor<1x8x512x64xf32>
  %kh = linalg.transpose ins(%k4 : tensor<1x512x8x64xf32>) outs(%kh_init : tensor<1x8x512x64xf32>) permutation = [0, 2, 1, 3]
  // v = x2 @ wv^T + bv
  %wvt = linalg.transpose ins(%wv : tensor<512x512xf32>) outs(%wt_init : tensor<512x512xf32>) permutation = [1, 0]
  %v_mm = linalg.matmul ins(%x2, %wvt : tensor<512x512xf32>, tensor<512x512xf32>) outs(%proj_acc : tensor<512x512xf32>) -> tensor<512x512xf32>
  %v = linalg.generic {indexing_maps = [#id2, #bias, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%v_mm, %bv : tensor<512x512xf32>, tensor<512xf32>) outs(%proj_init : tensor<512x512xf32>) {
  ^bb0(%a: f32, %bb: f32, %o: f32):
    %r = arith.addf %a, %bb : f32
    linalg.yield %r : f32
  } -> tensor<512x512xf32>
  %v4 = tensor.expand_shape %v [[0, 1], [2, 3]] output_shape [1, 512, 8, 64] : tensor<512x512xf32> into tensor<1x512x8x64xf32>
  %vh_init = tensor.empty() : tensor<1x8x512x64xf32>
  %vh = linalg.transpose ins(%v4 : tensor<1x512x8x64xf32>) outs(%vh_init : tensor<1x8x512x64xf32>) permutation = [0, 2, 1, 3]
  // scores = q @ k^T: k^T by a 4-D transpose, heads collapsed for batch_matmul
  %kt_init = tensor.empty() : tensor<1x8x64x512xf32>
  %kt = linalg.transpose ins(%kh : tensor<1x8x512x64xf32>) outs(%kt_init : tensor<1x8x64x512xf32>) permutation = [0, 1, 3, 2]
  %q3 = tensor.collapse_shape %qh [[0, 1], [2], [3]] : tensor<1x8x512x64xf32> into tensor<8x512x64xf32>
  %kt3 = tensor.collapse_shape %kt [[0, 1], [2], [3]] : tensor<1x8x64x512xf32> into tensor<8x64x512xf32>
  %v3 = tensor.collapse_shape %vh [[0, 1], [2], [3]] : tensor<1x8x512x64xf32> into tensor<8x512x64xf32>
  %s_init = tensor.empty() : tensor<8x512x512xf32>
  %s_acc = linalg.fill ins(%zero : f32) outs(%s_init : tensor<8x512x512xf32>) -> tensor<8x512x512xf32>
  %s3 = linalg.batch_matmul ins(%q3, %kt3 : tensor<8x512x64xf32>, tensor<8x64x512xf32>) outs(%s_acc : tensor<8x512x512xf32>) -> tensor<8x512x512xf32>
  %s = tensor.expand_shape %s3 [[0, 1], [2], [3]] output_shape [1, 8, 512, 512] : tensor<8x512x512xf32> into tensor<1x8x512x512xf32>
  %x4_init = tensor.empty() : tensor<1x8x512x512xf32>
  %scaled = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%s : tensor<1x8x512x512xf32>) outs(%x4_init : tensor<1x8x512x512xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.divf %a, %sqrt_d : f32
    linalg.yield %r : f32
  } -> tensor<1x8x512x512xf32>
  %masked = linalg.generic {indexing_maps = [#id4, #mask, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%scaled, %mask : tensor<1x8x512x512xf32>, tensor<512x512xf32>) outs(%x4_init : tensor<1x8x512x512xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x8x512x512xf32>
  // softmax over the keys
  %row_init = tensor.empty() : tensor<1x8x512x1xf32>
  %max_acc = linalg.fill ins(%ninf : f32) outs(%row_init : tensor<1x8x512x1xf32>) -> tensor<1x8x512x1xf32>
  %max = linalg.generic {indexing_maps = [#id4, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%masked : tensor<1x8x512x512xf32>) outs(%max_acc : tensor<1x8x512x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.maximumf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x8x512x1xf32>
  %shifted = linalg.generic {indexing_maps = [#id4, #row, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%masked, %max : tensor<1x8x512x512xf32>, tensor<1x8x512x1xf32>) outs(%x4_init : tensor<1x8x512x512xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.subf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x8x512x512xf32>
  %exp = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%shifted : tensor<1x8x512x512xf32>) outs(%x4_init : tensor<1x8x512x512xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  } -> tensor<1x8x512x512xf32>
  %sum_acc = linalg.fill ins(%zero : f32) outs(%row_init : tensor<1x8x512x1xf32>) -> tensor<1x8x512x1xf32>
  %sum = linalg.generic {indexing_maps = [#id4, #row], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%exp : tensor<1x8x512x512xf32>) outs(%sum_acc : tensor<1x8x512x1xf32>) {
  ^bb0(%a: f32, %m: f32):
    %r = arith.addf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x8x512x1xf32>
  %p = linalg.generic {indexing_maps = [#id4, #row, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%exp, %sum : tensor<1x8x512x512xf32>, tensor<1x8x512x1xf32>) outs(%x4_init : tensor<1x8x512x512xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %r = arith.divf %a, %m : f32
    linalg.yield %r : f32
  } -> tensor<1x8x512x512xf32>
  // attn = p @ v, heads merged back
  %p3 = tensor.collapse_shape %p [[0, 1], [2], [3]] : tensor<1x8x512x512xf32> into tensor<8x512x512xf32>
  %o_init = tensor.empty() : tensor<8x512x64xf32>
  %o_acc = linalg.fill ins(%zero : f32) outs(%o_init : tensor<8x512x64xf32>) -> tensor<8x512x64xf32>
  %o3 = linalg.batch_matmul ins(%p3, %v3 : tensor<8x512x512xf32>, tensor<8x512x64xf32>) outs(%o_acc : tensor<8x512x64xf32>) -> tensor<8x512x64xf32>
  %o4 = tensor.expand_shape %o3 [[0, 1], [2], [3]] output_shape [1, 8, 512, 64] : tensor<8x512x64xf32> into tensor<1x8x512x64xf32>
  %ot_init = tensor.empty() : tensor<1x512x8x64xf32>
  %ot = linalg.transpose ins(%o4 : tensor<1x8x512x64xf32>) outs(%ot_init : tensor<1x512x8x64xf32>) permutation = [0, 2, 1, 3]
  %attn = tensor.collapse_shape %ot [[0, 1], [2, 3]] : tensor<1x512x8x64xf32> into tensor<512x512xf32>
  // y = attn @ wo^T + bo
  %wot = linalg.transpose ins(%wo : tensor<512x512xf32>) outs(%wt_init : tensor<512x512xf32>) permutation = [1, 0]
  %y_mm = linalg.matmul ins(%attn, %wot : tensor<512x512xf32>, tensor<512x512xf32>) outs(%proj_acc : tensor<512x512xf32>) -> tensor<512x512xf32>
  %y = linalg.generic {indexing_maps = [#id2, #bias, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y_mm, %bo : tensor<512x512xf32>, tensor<512xf32>) outs(%proj_init : tensor<512x512xf32>) {
  ^bb0(%a: f32, %bb: f32, %o: f32):
    %r = arith.addf %a, %bb : f32
    linalg.yield %r : f32
  } -> tensor<512x512xf32>
  %y3 = tensor.expand_shape %y [[0, 1], [2]] output_shape [1, 512, 512] : tensor<512x512xf32> into tensor<1x512x512xf32>
  return %y3 : tensor<1x512x512xf32>
}
