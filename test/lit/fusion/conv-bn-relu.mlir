// RUN: axfusion-opt %s --axf-fuse-conv-bn-relu --split-input-file | FileCheck %s
// RUN: axfusion-opt %s --axf-fuse-conv-bn-relu --axf-schedule --axf-bufferize \
// RUN:   --split-input-file | FileCheck %s --check-prefix=BUF

// ConvBnRelu (passes/conv_bn_relu.py): a 2-D convolution, the inference
// batch-norm after it and ReLU/ReLU6/none become one group. With constant
// weights and statistics the batch-norm is folded into the weights and one
// bias(+activation) epilogue; otherwise the batch-norm generics are the
// epilogue. Inputs are in the form torch-mlir gives Conv2d + BatchNorm2d
// (eval) + ReLU: tensor.pad, the conv bias broadcast into the accumulator,
// var + eps and rsqrt on [C], parameters expanded to [C, 1, 1] and applied by
// broadcast generics ((n, c, h, w) -> (c, 0, 0)).

// All constants: w = 1, conv bias 2, mean 1, var 4 (eps 0 keeps the numbers
// exact), gamma [1, 2, 3], beta [0, 1, 2]: a = gamma / 2 = [0.5, 1, 1.5],
// weights become a_f, the bias a * (2 - 1) + beta = [0.5, 2, 3.5]. The
// batch-norm ops, their parameters and the old weights are gone.
// CHECK-LABEL: func.func @folded
// CHECK-NOT:     math.rsqrt
// CHECK:         %[[PAD:.*]] = tensor.pad
// CHECK:         {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         %[[W:.*]] = arith.constant dense<{{\[\[\[\[}}5.000000e-01, 5.000000e-01
// CHECK-SAME:      1.000000e+00, 1.000000e+00
// CHECK-SAME:      1.500000e+00, 1.500000e+00
// CHECK-SAME:      tensor<3x2x3x3xf32>
// CHECK:         %[[ACC:.*]] = linalg.fill {axf.group = 0 : i64, axf.member = 2 : i64} ins(%{{.*}} : f32)
// CHECK:         %[[CONV:.*]] = linalg.conv_2d_nchw_fchw {axf.group = 0 : i64, axf.member = 1 : i64
// CHECK-SAME:      ins(%[[PAD]], %[[W]] : {{.*}}) outs(%[[ACC]] :
// CHECK:         %[[B:.*]] = arith.constant dense<[5.000000e-01, 2.000000e+00, 3.500000e+00]> : tensor<3xf32>
// CHECK:         %[[Y:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[CONV]], %[[B]] :
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ConvBnRelu"}
// CHECK:           arith.addf
// CHECK:           arith.maximumf
// CHECK-NOT:     linalg.generic
// CHECK:         return %[[Y]]
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
#c11 = affine_map<(d0, d1, d2, d3) -> (d1, 0, 0)>
#v = affine_map<(d0) -> (d0)>
func.func @folded(%x: tensor<1x2x4x4xf32>) -> tensor<1x3x4x4xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2x3x3xf32>
  %cb = arith.constant dense<2.0> : tensor<3xf32>
  %gamma = arith.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %beta = arith.constant dense<[0.0, 1.0, 2.0]> : tensor<3xf32>
  %mean = arith.constant dense<1.0> : tensor<3xf32>
  %var = arith.constant dense<4.0> : tensor<3xf32>
  %zero = arith.constant 0.0 : f32
  %eps = arith.constant 0.0 : f64
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x2x4x4xf32> to tensor<1x2x6x6xf32>
  %empty = tensor.empty() : tensor<1x3x4x4xf32>
  %acc = linalg.generic {indexing_maps = [#ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%cb : tensor<3xf32>) outs(%empty : tensor<1x3x4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<1x3x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%padded, %w : tensor<1x2x6x6xf32>, tensor<3x2x3x3xf32>) outs(%acc : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %e1 = tensor.empty() : tensor<3xf32>
  %ve = linalg.generic {indexing_maps = [#v, #v], iterator_types = ["parallel"]} ins(%var : tensor<3xf32>) outs(%e1 : tensor<3xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = arith.truncf %eps : f64 to f32
    %s = arith.addf %in, %t : f32
    linalg.yield %s : f32
  } -> tensor<3xf32>
  %rs = linalg.generic {indexing_maps = [#v, #v], iterator_types = ["parallel"]} ins(%ve : tensor<3xf32>) outs(%e1 : tensor<3xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = math.rsqrt %in : f32
    linalg.yield %s : f32
  } -> tensor<3xf32>
  %mean3 = tensor.expand_shape %mean [[0, 1, 2]] output_shape [3, 1, 1] : tensor<3xf32> into tensor<3x1x1xf32>
  %rs3 = tensor.expand_shape %rs [[0, 1, 2]] output_shape [3, 1, 1] : tensor<3xf32> into tensor<3x1x1xf32>
  %gamma3 = tensor.expand_shape %gamma [[0, 1, 2]] output_shape [3, 1, 1] : tensor<3xf32> into tensor<3x1x1xf32>
  %beta3 = tensor.expand_shape %beta [[0, 1, 2]] output_shape [3, 1, 1] : tensor<3xf32> into tensor<3x1x1xf32>
  %sub = linalg.generic {indexing_maps = [#id, #c11, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %mean3 : tensor<1x3x4x4xf32>, tensor<3x1x1xf32>) outs(%empty : tensor<1x3x4x4xf32>) {
  ^bb0(%in: f32, %p: f32, %out: f32):
    %s = arith.subf %in, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x3x4x4xf32>
  %mul = linalg.generic {indexing_maps = [#id, #c11, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%sub, %rs3 : tensor<1x3x4x4xf32>, tensor<3x1x1xf32>) outs(%empty : tensor<1x3x4x4xf32>) {
  ^bb0(%in: f32, %p: f32, %out: f32):
    %s = arith.mulf %in, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x3x4x4xf32>
  %mulg = linalg.generic {indexing_maps = [#id, #c11, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%mul, %gamma3 : tensor<1x3x4x4xf32>, tensor<3x1x1xf32>) outs(%empty : tensor<1x3x4x4xf32>) {
  ^bb0(%in: f32, %p: f32, %out: f32):
    %s = arith.mulf %in, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x3x4x4xf32>
  %bn = linalg.generic {indexing_maps = [#id, #c11, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%mulg, %beta3 : tensor<1x3x4x4xf32>, tensor<3x1x1xf32>) outs(%empty : tensor<1x3x4x4xf32>) {
  ^bb0(%in: f32, %p: f32, %out: f32):
    %s = arith.addf %in, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x3x4x4xf32>
  %relu = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bn : tensor<1x3x4x4xf32>) outs(%empty : tensor<1x3x4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.cmpf ugt, %in, %zero : f32
    %s = arith.select %c, %in, %zero : f32
    linalg.yield %s : f32
  } -> tensor<1x3x4x4xf32>
  return %relu : tensor<1x3x4x4xf32>
}

// -----

// The batch-norm as one generic (x - mean) / sqrt(var + eps) * gamma + beta,
// NHWC/HWCF, weights in a dense_resource blob (as torch-mlir imports
// parameters), ReLU6 as maximumf + minimumf. Weights 1.0, var 4, eps 0,
// gamma [2, 4], mean 0, beta [1, -1]: a = [1, 2] scales the F (last) dim of
// the weights; the bias is beta.
// CHECK-LABEL: func.func @folded_nhwc_relu6
// CHECK-NOT:     math.sqrt
// CHECK:         arith.constant dense<{{\[\[\[\[}}1.000000e+00, 2.000000e+00], [1.000000e+00, 2.000000e+00]
// CHECK-SAME:      tensor<3x3x2x2xf32>
// CHECK:         linalg.conv_2d_nhwc_hwcf {axf.group = 0 : i64, axf.member = 1 : i64
// CHECK:         arith.constant dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf32>
// CHECK:         linalg.generic {indexing_maps = [#{{.*}}, #[[LAST:map[0-9]*]], #{{.*}}]
// CHECK-SAME:      axf.pattern = "ConvBnRelu"
// CHECK:           arith.addf
// CHECK:           arith.maximumf
// CHECK:           arith.minimumf
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d3)>
func.func @folded_nhwc_relu6(%x: tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32> {
  %w = arith.constant dense_resource<conv_w> : tensor<3x3x2x2xf32>
  %gamma = arith.constant dense<[2.0, 4.0]> : tensor<2xf32>
  %beta = arith.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %mean = arith.constant dense<0.0> : tensor<2xf32>
  %var = arith.constant dense<4.0> : tensor<2xf32>
  %zero = arith.constant 0.0 : f32
  %six = arith.constant 6.0 : f32
  %eps = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 1, 1, 0] high[0, 1, 1, 0] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x4x4x2xf32> to tensor<1x6x6x2xf32>
  %empty = tensor.empty() : tensor<1x4x4x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %conv = linalg.conv_2d_nhwc_hwcf {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%padded, %w : tensor<1x6x6x2xf32>, tensor<3x3x2x2xf32>) outs(%acc : tensor<1x4x4x2xf32>) -> tensor<1x4x4x2xf32>
  %bn = linalg.generic {indexing_maps = [#id, #ch, #ch, #ch, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %gamma, %beta, %mean, %var : tensor<1x4x4x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      outs(%empty : tensor<1x4x4x2xf32>) {
  ^bb0(%in: f32, %g: f32, %b: f32, %m: f32, %v: f32, %out: f32):
    %ve = arith.addf %v, %eps : f32
    %sd = math.sqrt %ve : f32
    %d = arith.subf %in, %m : f32
    %n = arith.divf %d, %sd : f32
    %s = arith.mulf %n, %g : f32
    %t = arith.addf %s, %b : f32
    linalg.yield %t : f32
  } -> tensor<1x4x4x2xf32>
  %act = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bn : tensor<1x4x4x2xf32>) outs(%empty : tensor<1x4x4x2xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    %r = arith.minimumf %m, %six : f32
    linalg.yield %r : f32
  } -> tensor<1x4x4x2xf32>
  return %act : tensor<1x4x4x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      conv_w: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F"
    }
  }
#-}

// -----

// Statistics given at run time: nothing is folded (their values are not
// known), the batch-norm generic is the epilogue, with a near miss. After
// scheduling (BUF): the conv is the vectorised micro-kernel
// (passes/conv_schedule.py: R output channels x 16 columns in registers,
// FMAs along the row), written into the result's tile, then the epilogue
// runs on that tile; no full-size temporary.
// CHECK-LABEL: func.func @runtime_statistics
// CHECK:         {axf.group = 0 : i64, axf.member = 4 : i64} : tensor<2x4x16x16xf32> to tensor<2x4x18x18xf32>
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.conv_2d_nchw_fchw {axf.group = 0 : i64, axf.member = 2 : i64
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64, axf.near_miss = ["ConvBnRelu: batch-norm statistics are not constants: applied at run time in the epilogue, not folded into the weights"]}
// CHECK:           math.rsqrt
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "ConvBnRelu"}
// CHECK:           arith.maximumf
// BUF-LABEL:   func.func @runtime_statistics
// BUF-NOT:       memref.alloc() {{.*}} : memref<2x8x16x16xf32>
// BUF:           scf.forall
// BUF-NOT:         linalg.conv_2d_nchw_fchw
// BUF:             %[[ACC:.*]] = vector.transfer_read {{.*}} vector<[[R:[0-9]+]]x16xf32>
// BUF:             scf.for {{.*}} iter_args(%{{.*}} = %[[ACC]]) -> (vector<[[R]]x16xf32>)
// BUF:               vector.fma {{.*}} : vector<16xf32>
// BUF:             vector.transfer_write
// BUF:             linalg.generic
// BUF:               math.rsqrt
// BUF:           return
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @runtime_statistics(%x: tensor<2x4x16x16xf32>, %w: tensor<8x4x3x3xf32>,
    %gamma: tensor<8xf32>, %beta: tensor<8xf32>, %mean: tensor<8xf32>, %var: tensor<8xf32>) -> tensor<2x8x16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<2x4x16x16xf32> to tensor<2x4x18x18xf32>
  %empty = tensor.empty() : tensor<2x8x16x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<2x8x16x16xf32>) -> tensor<2x8x16x16xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%padded, %w : tensor<2x4x18x18xf32>, tensor<8x4x3x3xf32>) outs(%acc : tensor<2x8x16x16xf32>) -> tensor<2x8x16x16xf32>
  %bn = linalg.generic {indexing_maps = [#id, #ch, #ch, #ch, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %gamma, %beta, %mean, %var : tensor<2x8x16x16xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
      outs(%empty : tensor<2x8x16x16xf32>) {
  ^bb0(%in: f32, %g: f32, %b: f32, %m: f32, %v: f32, %out: f32):
    %d = arith.subf %in, %m : f32
    %ve = arith.addf %v, %eps : f32
    %r = math.rsqrt %ve : f32
    %n = arith.mulf %d, %r : f32
    %s = arith.mulf %n, %g : f32
    %t = arith.addf %s, %b : f32
    linalg.yield %t : f32
  } -> tensor<2x8x16x16xf32>
  %relu = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bn : tensor<2x8x16x16xf32>) outs(%empty : tensor<2x8x16x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = arith.maximumf %in, %zero : f32
    linalg.yield %y : f32
  } -> tensor<2x8x16x16xf32>
  return %relu : tensor<2x8x16x16xf32>
}

// -----

// Constant statistics, weights given at run time: the batch-norm folds into
// one per-channel scale and shift (a = [0.5, 1], b = beta - a * mean).
// CHECK-LABEL: func.func @runtime_weights
// CHECK:         linalg.conv_2d_nchw_fchw {axf.group = 0 : i64, axf.member = 1 : i64
// CHECK-SAME:      ins(%{{.*}}, %arg1 :
// CHECK-DAG:     arith.constant dense<[5.000000e-01, 1.000000e+00]> : tensor<2xf32>
// CHECK-DAG:     arith.constant dense<[-5.000000e-01, 0.000000e+00]> : tensor<2xf32>
// CHECK:         linalg.generic
// CHECK-SAME:      axf.near_miss = ["ConvBnRelu: convolution weights or bias are not constants: batch-norm folded into a per-channel scale and shift in the epilogue, not the weights"]
// CHECK-SAME:      axf.pattern = "ConvBnRelu"
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK-NOT:       arith.maximumf
// CHECK:           linalg.yield
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @runtime_weights(%x: tensor<1x2x4x4xf32>, %w: tensor<2x2x3x3xf32>) -> tensor<1x2x4x4xf32> {
  %gamma = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %beta = arith.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %mean = arith.constant dense<1.0> : tensor<2xf32>
  %var = arith.constant dense<4.0> : tensor<2xf32>
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x2x4x4xf32> to tensor<1x2x6x6xf32>
  %empty = tensor.empty() : tensor<1x2x4x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%padded, %w : tensor<1x2x6x6xf32>, tensor<2x2x3x3xf32>) outs(%acc : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %bn = linalg.generic {indexing_maps = [#id, #ch, #ch, #ch, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %gamma, %beta, %mean, %var : tensor<1x2x4x4xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      outs(%empty : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %g: f32, %b: f32, %m: f32, %v: f32, %out: f32):
    %d = arith.subf %in, %m : f32
    %r = math.rsqrt %v : f32
    %n = arith.mulf %d, %r : f32
    %s = arith.mulf %n, %g : f32
    %t = arith.addf %s, %b : f32
    linalg.yield %t : f32
  } -> tensor<1x2x4x4xf32>
  return %bn : tensor<1x2x4x4xf32>
}

// -----

// An activation the epilogue does not support (tanh): the group stops
// before it, with a near miss. (The scale before it is a run-time
// argument: not folded either.)
// CHECK-LABEL: func.func @tanh
// CHECK:         linalg.conv_2d_nchw_fchw {axf.group = 0 : i64, axf.member = 1 : i64
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.near_miss = ["ConvBnRelu: batch-norm statistics are not constants{{.*}}"], axf.pattern = "ConvBnRelu"}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.near_miss = ["ConvBnRelu: activation not supported by the epilogue"]}
// CHECK:           math.tanh
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @tanh(%x: tensor<1x2x6x6xf32>, %w: tensor<2x2x3x3xf32>, %scale: tensor<2xf32>) -> tensor<1x2x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x2x4x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x2x6x6xf32>, tensor<2x2x3x3xf32>) outs(%acc : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %bn = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %scale : tensor<1x2x4x4xf32>, tensor<2xf32>) outs(%empty : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %m = arith.mulf %in, %s : f32
    linalg.yield %m : f32
  } -> tensor<1x2x4x4xf32>
  %t = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%bn : tensor<1x2x4x4xf32>) outs(%empty : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %y = math.tanh %in : f32
    linalg.yield %y : f32
  } -> tensor<1x2x4x4xf32>
  return %t : tensor<1x2x4x4xf32>
}

// -----

// Negative cases: the conv result is also returned (fusing would compute the
// conv twice); an operand broadcast along the width, not the channels.
// CHECK-LABEL: func.func @second_user
// CHECK-NOT:     axf.group
// CHECK:         linalg.conv_2d_nchw_fchw {axf.near_miss = ["ConvBnRelu: intermediate has a second user outside the group (fusing would compute the convolution twice)"]
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
func.func @second_user(%x: tensor<1x2x6x6xf32>, %w: tensor<2x2x3x3xf32>, %b: tensor<2xf32>) -> (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x2x4x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x2x6x6xf32>, tensor<2x2x3x3xf32>) outs(%acc : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %y = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %b : tensor<1x2x4x4xf32>, tensor<2xf32>) outs(%empty : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %a = arith.addf %in, %s : f32
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x2x4x4xf32>
  return %y, %conv : tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>
}

// -----

// CHECK-LABEL: func.func @not_per_channel
// CHECK-NOT:     axf.group
// CHECK:         linalg.generic
// CHECK-SAME:      axf.near_miss = ["ConvBnRelu: epilogue operand is not broadcast along the channel dim"]
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#col = affine_map<(d0, d1, d2, d3) -> (d3)>
func.func @not_per_channel(%x: tensor<1x2x6x6xf32>, %w: tensor<2x2x3x3xf32>, %s: tensor<4xf32>) -> tensor<1x2x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x2x4x4xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x2x6x6xf32>, tensor<2x2x3x3xf32>) outs(%acc : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %y = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv, %s : tensor<1x2x4x4xf32>, tensor<4xf32>) outs(%empty : tensor<1x2x4x4xf32>) {
  ^bb0(%in: f32, %p: f32, %out: f32):
    %m = arith.mulf %in, %p : f32
    linalg.yield %m : f32
  } -> tensor<1x2x4x4xf32>
  return %y : tensor<1x2x4x4xf32>
}

// -----

// A '?' batch fuses: the schedule tiles it by one image anyway.
// CHECK-LABEL: func.func @dynamic_batch
// CHECK:         linalg.conv_2d_nchw_fchw {axf.group = 0 : i64, axf.member = 1 : i64,
// CHECK:         axf.pattern = "ConvBnRelu"
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @dynamic_batch(%x: tensor<?x2x6x6xf32>, %w: tensor<2x2x3x3xf32>, %acc: tensor<?x2x4x4xf32>) -> tensor<?x2x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<?x2x6x6xf32>, tensor<2x2x3x3xf32>) outs(%acc : tensor<?x2x4x4xf32>) -> tensor<?x2x4x4xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv : tensor<?x2x4x4xf32>) outs(%acc : tensor<?x2x4x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %zero : f32
    linalg.yield %r : f32
  } -> tensor<?x2x4x4xf32>
  return %y : tensor<?x2x4x4xf32>
}

// -----

// CHECK-LABEL: func.func @dynamic_image
// CHECK-NOT:     axf.group
// CHECK:         linalg.conv_2d_nchw_fchw {axf.near_miss = ["ConvBnRelu: dynamic sizes other than the batch are not handled"]
#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @dynamic_image(%x: tensor<1x2x?x?xf32>, %w: tensor<2x2x3x3xf32>, %acc: tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32> {
  %zero = arith.constant 0.0 : f32
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, strides = dense<1> : vector<2xi64>}
      ins(%x, %w : tensor<1x2x?x?xf32>, tensor<2x2x3x3xf32>) outs(%acc : tensor<1x2x?x?xf32>) -> tensor<1x2x?x?xf32>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%conv : tensor<1x2x?x?xf32>) outs(%acc : tensor<1x2x?x?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = arith.maximumf %in, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x2x?x?xf32>
  return %y : tensor<1x2x?x?xf32>
}
