// A 3x3 convolution block, NCHW/FCHW, stride 1, padding 1 (tensor.pad), with
// a per-channel bias and ReLU: the form torch-mlir gives nn.Conv2d + ReLU.
//   x: [4, 16, 32, 32]  w: [32, 16, 3, 3]  b: [32]  ->  [4, 32, 32, 32]
#id = affine_map<(n, c, h, w) -> (n, c, h, w)>
#ch = affine_map<(n, c, h, w) -> (c)>
func.func @forward(%x: tensor<4x16x32x32xf32>, %w: tensor<32x16x3x3xf32>, %b: tensor<32xf32>) -> tensor<4x32x32x32xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<4x16x32x32xf32> to tensor<4x16x34x34xf32>
  %init = tensor.empty() : tensor<4x32x32x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x32x32x32xf32>) -> tensor<4x32x32x32xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%padded, %w : tensor<4x16x34x34xf32>, tensor<32x16x3x3xf32>) outs(%acc : tensor<4x32x32x32xf32>) -> tensor<4x32x32x32xf32>
  %y = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %b : tensor<4x32x32x32xf32>, tensor<32xf32>) outs(%init : tensor<4x32x32x32xf32>) {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %s = arith.addf %v, %bias : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x32x32x32xf32>
  return %y : tensor<4x32x32x32xf32>
}
