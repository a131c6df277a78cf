// nn.Linear(1024, 1024) + nn.ReLU() on a batch of 256, as torch-mlir's FX
// importer lowers it to linalg-on-tensors (torch_mlir.fx.export_and_import
// with output_type="linalg-on-tensors"), before any canonicalisation:
//   - nn.Linear is aten.linear -> transpose(weight) + mm + add: the [out, in]
//     weight is transposed by linalg.transpose, the matmul accumulates into a
//     zero-filled tensor, and aten.add.Tensor(mm, bias, alpha=1) is a
//     broadcasting generic computing mm + bias * sitofp(alpha);
//   - nn.ReLU is aten.relu: select(cmpf ugt x 0, x, 0).
// Fused, the matmul tile, the bias and the activation are one loop nest
// (LinearBiasRelu); unfused, the 256x1024 result is written and read back
// twice more.
//   x: [256, 1024]  weight: [1024, 1024]  bias: [1024]
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
module {
  func.func @forward(%x: tensor<256x1024xf32>, %weight: tensor<1024x1024xf32>, %bias: tensor<1024xf32>) -> tensor<256x1024xf32> {
    %zero = arith.constant 0.000000e+00 : f32
    %alpha = arith.constant 1 : i64
    %wt_init = tensor.empty() : tensor<1024x1024xf32>
    %wt = linalg.transpose ins(%weight : tensor<1024x1024xf32>) outs(%wt_init : tensor<1024x1024xf32>) permutation = [1, 0]
    %init = tensor.empty() : tensor<256x1024xf32>
    %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<256x1024xf32>) -> tensor<256x1024xf32>
    %mm = linalg.matmul ins(%x, %wt : tensor<256x1024xf32>, tensor<1024x1024xf32>) outs(%acc : tensor<256x1024xf32>) -> tensor<256x1024xf32>
    %add_init = tensor.empty() : tensor<256x1024xf32>
    %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]} ins(%mm, %bias : tensor<256x1024xf32>, tensor<1024xf32>) outs(%add_init : tensor<256x1024xf32>) {
    ^bb0(%in: f32, %in_0: f32, %out: f32):
      %a = arith.sitofp %alpha : i64 to f32
      %scaled = arith.mulf %in_0, %a : f32
      %sum = arith.addf %in, %scaled : f32
      linalg.yield %sum : f32
    } -> tensor<256x1024xf32>
    %act_init = tensor.empty() : tensor<256x1024xf32>
    %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%biased : tensor<256x1024xf32>) outs(%act_init : tensor<256x1024xf32>) {
    ^bb0(%in: f32, %out: f32):
      %c0 = arith.constant 0.000000e+00 : f32
      %c = arith.cmpf ugt, %in, %c0 : f32
      %r = arith.select %c, %in, %c0 : f32
      linalg.yield %r : f32
    } -> tensor<256x1024xf32>
    return %y : tensor<256x1024xf32>
  }
}
