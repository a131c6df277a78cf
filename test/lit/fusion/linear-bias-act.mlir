// RUN: axfusion-opt %s --axf-fuse --split-input-file | FileCheck %s
// RUN: axfusion-opt %s --axf-fuse-linear-bias-relu --split-input-file | FileCheck %s --check-prefix=RELU
// RUN: axfusion-opt %s --axf-fuse-linear-bias-gelu --split-input-file | FileCheck %s --check-prefix=GELU
// RUN: axfusion-opt %s --axf-fuse-linear-bias-activation --split-input-file \
// RUN:   | FileCheck %s --check-prefix=ACT
// RUN: axfusion-opt %s --axf-fuse --axf-schedule --split-input-file \
// RUN:   | FileCheck %s --check-prefix=SCHED
// RUN: axfusion-opt %s --axf-fuse --axf-schedule --axf-bufferize --split-input-file \
// RUN:   | FileCheck %s --check-prefix=BUF

// LinearBiasRelu / LinearBiasGelu / LinearBiasActivation (passes/linear_epilogue.py):
// a matmul, its zero fill and the element-wise epilogue (bias broadcast along
// N, then an activation) become one group, root = the epilogue's last op.
// Inputs are in the form torch-mlir gives nn.Linear: the [out, in] weight is
// transposed by a linalg.transpose (which stays outside the group), the bias
// is added by a broadcasting linalg.generic, the activation is its own generic.

// CHECK-LABEL: func.func @relu_maximumf
// CHECK:         linalg.transpose
// CHECK-NOT:       axf.group
// CHECK-SAME:      permutation
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:           arith.addf
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasRelu"}
// CHECK:           arith.maximumf
// RELU-LABEL:  func.func @relu_maximumf
// RELU:          axf.pattern = "LinearBiasRelu"
// GELU-LABEL:  func.func @relu_maximumf
// GELU-NOT:      axf.group
// GELU:          return
// ACT-LABEL:   func.func @relu_maximumf
// ACT-NOT:       axf.group
// ACT:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @relu_maximumf(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// ReLU as torch-mlir writes it: select(cmpf ugt x 0, x, 0).
// CHECK-LABEL: func.func @relu_cmpf_select
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasRelu"}
// CHECK:           arith.cmpf ugt
// CHECK:           arith.select
// RELU-LABEL:  func.func @relu_cmpf_select
// RELU:          axf.pattern = "LinearBiasRelu"
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @relu_cmpf_select(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.cmpf ugt, %in, %zero : f32
    %s = arith.select %c, %in, %zero : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// GELU, erf form, as torch-mlir builds it: x * 0.5 * (1 + erf((x - 0) / sqrt(2))).
// CHECK-LABEL: func.func @gelu_erf
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasGelu"}
// CHECK:           math.erf
// RELU-LABEL:  func.func @gelu_erf
// RELU-NOT:      axf.group
// RELU:          return
// GELU-LABEL:  func.func @gelu_erf
// GELU:          axf.pattern = "LinearBiasGelu"
// ACT-LABEL:   func.func @gelu_erf
// ACT-NOT:       axf.group
// ACT:           return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @gelu_erf(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c0 = arith.constant 0.0 : f32
    %c1 = arith.constant 1.0 : f32
    %c2 = arith.constant 2.0 : f32
    %half = arith.constant 0.5 : f32
    %centered = arith.subf %in, %c0 : f32
    %sqrt2 = math.sqrt %c2 : f32
    %scaled = arith.divf %centered, %sqrt2 : f32
    %erf = math.erf %scaled : f32
    %onep = arith.addf %c1, %erf : f32
    %cdf = arith.mulf %half, %onep : f32
    %g = arith.mulf %in, %cdf : f32
    linalg.yield %g : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// GELU, tanh form, exactly as torch-mlir builds it: x^3 by math.fpowi, and
// its constant 0.7977240352174656 for sqrt(2/pi) (0.02% off, but that is
// what nn.GELU(approximate="tanh") imports as).
// CHECK-LABEL: func.func @gelu_tanh_torch
// CHECK:         axf.member = 0 : i64, axf.pattern = "LinearBiasGelu"
// CHECK:           math.fpowi
// CHECK:           math.tanh
// GELU-LABEL:  func.func @gelu_tanh_torch
// GELU:          axf.pattern = "LinearBiasGelu"
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @gelu_tanh_torch(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %three = arith.constant 3 : i64
    %cube = math.fpowi %in, %three : f32, i64
    %alpha = arith.constant 0.044715 : f32
    %t0 = arith.mulf %cube, %alpha : f32
    %t1 = arith.addf %in, %t0 : f32
    %beta = arith.constant 0.7977240352174656 : f32
    %t2 = arith.mulf %beta, %t1 : f32
    %t3 = math.tanh %t2 : f32
    %one = arith.constant 1.0 : f32
    %t4 = arith.addf %one, %t3 : f32
    %half = arith.constant 0.5 : f32
    %t5 = arith.mulf %half, %t4 : f32
    %g = arith.mulf %in, %t5 : f32
    linalg.yield %g : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// GELU, tanh form with the exact constant and x*x*x.
// CHECK-LABEL: func.func @gelu_tanh_exact
// CHECK:         axf.member = 0 : i64, axf.pattern = "LinearBiasGelu"
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @gelu_tanh_exact(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %sq = arith.mulf %in, %in : f32
    %cube = arith.mulf %sq, %in : f32
    %alpha = arith.constant 0.044715 : f32
    %t0 = arith.mulf %alpha, %cube : f32
    %t1 = arith.addf %in, %t0 : f32
    %beta = arith.constant 0.797884583 : f32
    %t2 = arith.mulf %t1, %beta : f32
    %t3 = math.tanh %t2 : f32
    %one = arith.constant 1.0 : f32
    %t4 = arith.addf %t3, %one : f32
    %half = arith.constant 0.5 : f32
    %t5 = arith.mulf %in, %half : f32
    %g = arith.mulf %t5, %t4 : f32
    linalg.yield %g : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// Sigmoid as torch-mlir builds it: 1 / (exp(-x) + 1).
// CHECK-LABEL: func.func @sigmoid
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         axf.member = 0 : i64, axf.pattern = "LinearBiasActivation"
// RELU-LABEL:  func.func @sigmoid
// RELU-NOT:      axf.group
// RELU:          return
// GELU-LABEL:  func.func @sigmoid
// GELU-NOT:      axf.group
// GELU:          return
// ACT-LABEL:   func.func @sigmoid
// ACT:           axf.pattern = "LinearBiasActivation"
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @sigmoid(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %neg = arith.negf %in : f32
    %one = arith.constant 1.0 : f32
    %e = math.exp %neg : f32
    %d = arith.addf %e, %one : f32
    %s = arith.divf %one, %d : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// CHECK-LABEL: func.func @tanh
// CHECK:         axf.member = 0 : i64, axf.pattern = "LinearBiasActivation"
// CHECK:           math.tanh
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @tanh(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %t = math.tanh %in : f32
    linalg.yield %t : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// SiLU in one generic: x * sigmoid(x).
// CHECK-LABEL: func.func @silu
// CHECK:         axf.member = 0 : i64, axf.pattern = "LinearBiasActivation"
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @silu(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %neg = arith.negf %in : f32
    %one = arith.constant 1.0 : f32
    %e = math.exp %neg : f32
    %d = arith.addf %e, %one : f32
    %sig = arith.divf %one, %d : f32
    %s = arith.mulf %in, %sig : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// ReLU6 as torch-mlir's clamp (hardtanh(0, 6)): the bounds are f64 constants
// outside the body, truncated inside; ult/ugt compares and selects.
// CHECK-LABEL: func.func @relu6
// CHECK:         axf.member = 0 : i64, axf.pattern = "LinearBiasActivation"
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @relu6(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %lo = arith.constant 0.0 : f64
  %hi = arith.constant 6.0 : f64
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %lo32 = arith.truncf %lo : f64 to f32
    %below = arith.cmpf ult, %in, %lo32 : f32
    %t = arith.select %below, %lo32, %in : f32
    %hi32 = arith.truncf %hi : f64 to f32
    %above = arith.cmpf ugt, %t, %hi32 : f32
    %c = arith.select %above, %hi32, %t : f32
    linalg.yield %c : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// No activation: the bias generic is the root (LinearBiasActivation, "none").
// CHECK-LABEL: func.func @bias_only
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasActivation"}
// CHECK:           arith.addf
// ACT-LABEL:   func.func @bias_only
// ACT:           axf.pattern = "LinearBiasActivation"
// RELU-LABEL:  func.func @bias_only
// RELU-NOT:      axf.group
// RELU:          return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @bias_only(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %biased : tensor<4x16xf32>
}

// -----

// Bias and activation merged into one generic (as elementwise fusion leaves it).
// CHECK-LABEL: func.func @bias_relu_merged
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasRelu"}
// CHECK:           arith.addf
// CHECK:           arith.maximumf
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @bias_relu_merged(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// The bias added first (addf %bias, %acc) and passed as the first operand.
// CHECK-LABEL: func.func @bias_first
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         axf.member = 0 : i64, axf.pattern = "LinearBiasRelu"
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @bias_first(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#bias, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%b, %mm : tensor<16xf32>, tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// The add exactly as torch-mlir lowers aten.add.Tensor before canonicalization:
// acc + bias * sitofp(alpha = 1); the bias operand's block argument comes first
// in the addf.
// CHECK-LABEL: func.func @bias_alpha_raw
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:           arith.sitofp
// CHECK:         axf.member = 0 : i64, axf.pattern = "LinearBiasRelu"
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @bias_alpha_raw(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %alpha = arith.constant 1 : i64
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %a = arith.sitofp %alpha : i64 to f32
    %scaled = arith.mulf %in_0, %a : f32
    %s = arith.addf %scaled, %in : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.cmpf ugt, %in, %zero : f32
    %s = arith.select %c, %in, %zero : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// nn.Linear on a [B, S, K] input: torch-mlir broadcasts the transposed weight
// and uses linalg.batch_matmul; the epilogue is 3-D, the bias read along d2.
// CHECK-LABEL: func.func @batch_matmul_gelu
// CHECK:         linalg.generic
// CHECK-NOT:       axf.group
// CHECK-SAME:      ins(%{{.*}} : tensor<8x16xf32>)
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.batch_matmul {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasGelu"}
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#bias3 = affine_map<(d0, d1, d2) -> (d2)>
#wbcast = affine_map<(d0, d1, d2) -> (d1, d2)>
func.func @batch_matmul_gelu(%x: tensor<2x4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<2x4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %wb_init = tensor.empty() : tensor<2x8x16xf32>
  %wb = linalg.generic {indexing_maps = [#wbcast, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%wt : tensor<8x16xf32>) outs(%wb_init : tensor<2x8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  } -> tensor<2x8x16xf32>
  %init = tensor.empty() : tensor<2x4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  %mm = linalg.batch_matmul ins(%x, %wb : tensor<2x4x8xf32>, tensor<2x8x16xf32>) outs(%acc : tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id3, #bias3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%mm, %b : tensor<2x4x16xf32>, tensor<16xf32>) outs(%init : tensor<2x4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<2x4x16xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%biased : tensor<2x4x16xf32>) outs(%init : tensor<2x4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c1 = arith.constant 1.0 : f32
    %c2 = arith.constant 2.0 : f32
    %half = arith.constant 0.5 : f32
    %sqrt2 = math.sqrt %c2 : f32
    %scaled = arith.divf %in, %sqrt2 : f32
    %erf = math.erf %scaled : f32
    %onep = arith.addf %c1, %erf : f32
    %cdf = arith.mulf %half, %onep : f32
    %g = arith.mulf %in, %cdf : f32
    linalg.yield %g : f32
  } -> tensor<2x4x16xf32>
  return %r : tensor<2x4x16xf32>
}

// -----

// nn.Linear + GELU on a [B, S, K] input as torch-mlir lowers it today: the
// matmul and the bias add run on the collapsed [B*S, K] view and the GELU
// reads the result through a tensor.expand_shape. The GELU is moved before
// the reshape (run on 16x16, its result expanded), so the group is the
// usual fill + matmul + bias + GELU with the GELU as the root, and
// tile-and-fuse gives one loop nest over 8-row tiles of it.
// CHECK-LABEL: func.func @gelu_through_expand
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK-SAME:      -> tensor<16x16xf32>
// CHECK:         %[[B:.*]] = linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         %[[G:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[B]] : tensor<16x16xf32>) outs(%{{.*}} : tensor<16x16xf32>)
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasGelu"}
// CHECK:           math.erf
// CHECK:         } -> tensor<16x16xf32>
// CHECK-NEXT:    %[[E:.*]] = tensor.expand_shape %[[G]] {{\[\[}}0, 1], [2]] output_shape [2, 8, 16] : tensor<16x16xf32> into tensor<2x8x16xf32>
// CHECK-NEXT:    return %[[E]]
// GELU-LABEL:  func.func @gelu_through_expand
// GELU:          axf.pattern = "LinearBiasGelu"
// GELU:          tensor.expand_shape
// GELU-NEXT:     return
// Other patterns leave the IR as it was: the reshape still before the GELU.
// RELU-LABEL:  func.func @gelu_through_expand
// RELU-NOT:      axf.group
// RELU:          tensor.expand_shape
// RELU:          math.erf
// RELU:          return
// ACT-LABEL:   func.func @gelu_through_expand
// ACT-NOT:       axf.group
// ACT:           tensor.expand_shape
// ACT:           math.erf
// ACT:           return
// 16 x 16 is one output tile of the matmul micro-kernel: the tile loop
// folds away; the matmul is vectorised register blocks, the epilogue follows.
// SCHED-LABEL: func.func @gelu_through_expand
// SCHED:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64} {{.*}} -> tensor<16x16xf32>
// SCHED:         scf.for
// SCHED:           vector.fma
// SCHED:         axf.member = 1 : i64
// SCHED:         axf.pattern = "LinearBiasGelu"
// SCHED:         tensor.expand_shape
// SCHED-NEXT:    return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @gelu_through_expand(%x: tensor<2x8x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %x2 = tensor.collapse_shape %x [[0, 1], [2]] : tensor<2x8x8xf32> into tensor<16x8xf32>
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<16x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<16x16xf32>) -> tensor<16x16xf32>
  %mm = linalg.matmul ins(%x2, %wt : tensor<16x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<16x16xf32>) -> tensor<16x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<16x16xf32>, tensor<16xf32>) outs(%init : tensor<16x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<16x16xf32>
  %e = tensor.expand_shape %biased [[0, 1], [2]] output_shape [2, 8, 16] : tensor<16x16xf32> into tensor<2x8x16xf32>
  %init3 = tensor.empty() : tensor<2x8x16xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%e : tensor<2x8x16xf32>) outs(%init3 : tensor<2x8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c1 = arith.constant 1.0 : f32
    %half = arith.constant 0.5 : f32
    %sqrt2 = arith.constant 1.41421354 : f32
    %scaled = arith.divf %in, %sqrt2 : f32
    %erf = math.erf %scaled : f32
    %onep = arith.addf %erf, %c1 : f32
    %cdf = arith.mulf %onep, %half : f32
    %g = arith.mulf %in, %cdf : f32
    linalg.yield %g : f32
  } -> tensor<2x8x16xf32>
  return %r : tensor<2x8x16xf32>
}

// -----

// The same with a dynamic batch: the GELU's new init is sized by tensor.dim
// of the bias result, and the expand after it keeps the original's sizes.
// CHECK-LABEL: func.func @gelu_through_expand_dynamic
// CHECK:         %[[B:.*]] = linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         %[[BATCH:.*]] = arith.divsi
// CHECK:         %[[ROWS:.*]] = tensor.dim %[[B]], %{{.*}} : tensor<?x16xf32>
// CHECK:         %[[INIT:.*]] = tensor.empty(%[[ROWS]]) : tensor<?x16xf32>
// CHECK:         %[[G:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[B]] : tensor<?x16xf32>) outs(%[[INIT]] : tensor<?x16xf32>)
// CHECK-SAME:      axf.pattern = "LinearBiasGelu"
// CHECK:         %[[E:.*]] = tensor.expand_shape %[[G]] {{\[\[}}0, 1], [2]] output_shape [%[[BATCH]], 8, 16] : tensor<?x16xf32> into tensor<?x8x16xf32>
// CHECK-NEXT:    return %[[E]]
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @gelu_through_expand_dynamic(%x: tensor<?x8xf32>, %wt: tensor<8x16xf32>, %b: tensor<16xf32>) -> tensor<?x8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %c0 = arith.constant 0 : index
  %c8 = arith.constant 8 : index
  %rows = tensor.dim %x, %c0 : tensor<?x8xf32>
  %init = tensor.empty(%rows) : tensor<?x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<?x16xf32>) -> tensor<?x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<?x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<?x16xf32>) -> tensor<?x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<?x16xf32>, tensor<16xf32>) outs(%init : tensor<?x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<?x16xf32>
  %batch = arith.divsi %rows, %c8 : index
  %e = tensor.expand_shape %biased [[0, 1], [2]] output_shape [%batch, 8, 16] : tensor<?x16xf32> into tensor<?x8x16xf32>
  %init3 = tensor.empty(%batch) : tensor<?x8x16xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%e : tensor<?x8x16xf32>) outs(%init3 : tensor<?x8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c1 = arith.constant 1.0 : f32
    %half = arith.constant 0.5 : f32
    %sqrt2 = arith.constant 1.41421354 : f32
    %scaled = arith.divf %in, %sqrt2 : f32
    %erf = math.erf %scaled : f32
    %onep = arith.addf %erf, %c1 : f32
    %cdf = arith.mulf %onep, %half : f32
    %g = arith.mulf %in, %cdf : f32
    linalg.yield %g : f32
  } -> tensor<?x8x16xf32>
  return %r : tensor<?x8x16xf32>
}

// -----

// The reshape right after the matmul (bias added on the [B, S, N] side): the
// bias generic and the GELU both move before it, the bias map (d2) becoming
// (d1) (N = 24 differs from M = 16, so a wrong map would not verify); one
// reshape is left, after the GELU.
// CHECK-LABEL: func.func @bias_and_gelu_through_expand
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         %[[B:.*]] = linalg.generic {indexing_maps = [#[[ID:.*]], #[[BIAS:.*]], #[[ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      tensor<16x24xf32>, tensor<24xf32>
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         %[[G:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[B]] : tensor<16x24xf32>)
// CHECK-SAME:      axf.pattern = "LinearBiasGelu"
// CHECK:         %[[E:.*]] = tensor.expand_shape %[[G]]
// CHECK-NEXT:    return %[[E]]
// CHECK-NOT:     tensor.expand_shape
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#bias3 = affine_map<(d0, d1, d2) -> (d2)>
func.func @bias_and_gelu_through_expand(%x: tensor<16x8xf32>, %wt: tensor<8x24xf32>, %b: tensor<24xf32>) -> tensor<2x8x24xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<16x24xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<16x24xf32>) -> tensor<16x24xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<16x8xf32>, tensor<8x24xf32>) outs(%acc : tensor<16x24xf32>) -> tensor<16x24xf32>
  %e = tensor.expand_shape %mm [[0, 1], [2]] output_shape [2, 8, 24] : tensor<16x24xf32> into tensor<2x8x24xf32>
  %init3 = tensor.empty() : tensor<2x8x24xf32>
  %biased = linalg.generic {indexing_maps = [#id3, #bias3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%e, %b : tensor<2x8x24xf32>, tensor<24xf32>) outs(%init3 : tensor<2x8x24xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<2x8x24xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%biased : tensor<2x8x24xf32>) outs(%init3 : tensor<2x8x24xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c1 = arith.constant 1.0 : f32
    %half = arith.constant 0.5 : f32
    %sqrt2 = arith.constant 1.41421354 : f32
    %scaled = arith.divf %in, %sqrt2 : f32
    %erf = math.erf %scaled : f32
    %onep = arith.addf %erf, %c1 : f32
    %cdf = arith.mulf %onep, %half : f32
    %g = arith.mulf %in, %cdf : f32
    linalg.yield %g : f32
  } -> tensor<2x8x24xf32>
  return %r : tensor<2x8x24xf32>
}

// -----

// The other direction: a batch_matmul epilogue read through a collapse_shape.
// The ReLU moves before it (runs on 2x8x16) and its result is collapsed.
// CHECK-LABEL: func.func @relu_through_collapse
// CHECK:         linalg.batch_matmul {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         %[[B:.*]] = linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         %[[R:.*]] = linalg.generic
// CHECK-SAME:      ins(%[[B]] : tensor<2x8x16xf32>) outs(%{{.*}} : tensor<2x8x16xf32>)
// CHECK-SAME:      axf.pattern = "LinearBiasRelu"
// CHECK:         %[[C:.*]] = tensor.collapse_shape %[[R]] {{\[\[}}0, 1], [2]] : tensor<2x8x16xf32> into tensor<16x16xf32>
// CHECK-NEXT:    return %[[C]]
#id = affine_map<(d0, d1) -> (d0, d1)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#bias3 = affine_map<(d0, d1, d2) -> (d2)>
func.func @relu_through_collapse(%x: tensor<2x8x8xf32>, %wb: tensor<2x8x16xf32>, %b: tensor<16xf32>) -> tensor<16x16xf32> {
  %zero = arith.constant 0.0 : f32
  %init3 = tensor.empty() : tensor<2x8x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init3 : tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  %mm = linalg.batch_matmul ins(%x, %wb : tensor<2x8x8xf32>, tensor<2x8x16xf32>) outs(%acc : tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  %biased = linalg.generic {indexing_maps = [#id3, #bias3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%mm, %b : tensor<2x8x16xf32>, tensor<16xf32>) outs(%init3 : tensor<2x8x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<2x8x16xf32>
  %c = tensor.collapse_shape %biased [[0, 1], [2]] : tensor<2x8x16xf32> into tensor<16x16xf32>
  %init = tensor.empty() : tensor<16x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%c : tensor<16x16xf32>) outs(%init : tensor<16x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<16x16xf32>
  return %r : tensor<16x16xf32>
}

// -----

// Negative: the reshape splits N (heads), and the bias is read along the
// inner part of the split: it cannot run on the matmul's shape, so nothing
// is fused (and nothing is noted: the reshape ends the chain, as before).
// CHECK-LABEL: func.func @bias_across_split_n
// CHECK-NOT:     axf.
// CHECK:         tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2]]
// CHECK-NOT:     axf.
// CHECK:         return
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#inner = affine_map<(d0, d1, d2) -> (d2)>
func.func @bias_across_split_n(%x: tensor<16x8xf32>, %wt: tensor<8x16xf32>, %b: tensor<4xf32>) -> tensor<16x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<16x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<16x16xf32>) -> tensor<16x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<16x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<16x16xf32>) -> tensor<16x16xf32>
  %e = tensor.expand_shape %mm [[0], [1, 2]] output_shape [16, 4, 4] : tensor<16x16xf32> into tensor<16x4x4xf32>
  %init3 = tensor.empty() : tensor<16x4x4xf32>
  %r = linalg.generic {indexing_maps = [#id3, #inner, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%e, %b : tensor<16x4x4xf32>, tensor<4xf32>) outs(%init3 : tensor<16x4x4xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<16x4x4xf32>
  return %r : tensor<16x4x4xf32>
}

// -----

// Two projections of the same input share one zero-filled accumulator (CSE
// merges the identical fills). Each group gets its own fill: the pattern
// clones the shared one, so no fill is a member of two groups.
// (LinearBiasRelu runs first: the relu projection is group 0.)
// CHECK-LABEL: func.func @shared_fill
// CHECK:         %[[FQ:.*]] = linalg.fill {axf.group = 1 : i64, axf.member = 2 : i64}
// CHECK:         linalg.matmul {axf.group = 1 : i64, axf.member = 1 : i64}
// CHECK-SAME:      outs(%[[FQ]] :
// CHECK:         axf.group = 1 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasActivation"
// CHECK:         %[[FK:.*]] = linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64}
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK-SAME:      outs(%[[FK]] :
// CHECK:         axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasRelu"
// CHECK-NOT:     linalg.fill
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @shared_fill(%x: tensor<4x8xf32>, %wq: tensor<8x16xf32>, %bq: tensor<16xf32>,
                       %wk: tensor<8x16xf32>, %bk: tensor<16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %q_mm = linalg.matmul ins(%x, %wq : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %q = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%q_mm, %bq : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %k_mm = linalg.matmul ins(%x, %wk : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %k_b = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%k_mm, %bk : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %k = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%k_b : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x16xf32>
  return %q, %k : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Negative: the matmul result has a second user; fusing would compute the
// matmul twice (once per tile, once for the other user).
// CHECK-LABEL: func.func @matmul_second_user
// CHECK-NOT:     axf.group
// CHECK:         linalg.matmul {axf.near_miss = ["LinearBias: intermediate has a second user outside the group (fusing would compute the matmul twice)"]}
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @matmul_second_user(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %biased, %mm : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Negative: a residual add of a full matrix is not a bias.
// CHECK-LABEL: func.func @residual_add
// CHECK-NOT:     axf.group
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.near_miss = ["LinearBias: bias is not broadcast along N"]}
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @residual_add(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %res: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %res : tensor<4x16xf32>, tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %sum : tensor<4x16xf32>
}

// -----

// Negative: a per-row (broadcast along M) "bias" is not a Linear bias.
// CHECK-LABEL: func.func @row_bias
// CHECK-NOT:     axf.group
// CHECK:         axf.near_miss = ["LinearBias: bias is not broadcast along N"]
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
func.func @row_bias(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<4xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<4xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %biased : tensor<4x16xf32>
}

// -----

// Negative: sin is not an activation the epilogue supports. The bias is
// still fused (LinearBiasActivation, none); the sin generic stays outside.
// CHECK-LABEL: func.func @sin_epilogue
// CHECK:         linalg.fill {axf.group = 0 : i64, axf.member = 2 : i64}
// CHECK:         linalg.matmul {axf.group = 0 : i64, axf.member = 1 : i64}
// CHECK:         attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "LinearBiasActivation"}
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.near_miss = ["LinearBiasActivation: activation not supported by the epilogue"]}
// CHECK-NEXT:    ^bb0
// CHECK-NEXT:      math.sin
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @sin_epilogue(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = math.sin %in : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// Negative: bias + sin in one generic: nothing to fuse.
// CHECK-LABEL: func.func @bias_sin_merged
// CHECK-NOT:     axf.group
// CHECK:         axf.near_miss = ["LinearBias: activation not supported by the epilogue"]
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @bias_sin_merged(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    %t = math.sin %s : f32
    linalg.yield %t : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// Negative: leaky ReLU (torch-mlir's select(x > 0, x, 0.01 x)) is not ReLU.
// CHECK-LABEL: func.func @leaky_relu
// CHECK:         axf.pattern = "LinearBiasActivation"
// CHECK:         axf.near_miss = ["LinearBiasActivation: activation not supported by the epilogue"]
// RELU-LABEL:  func.func @leaky_relu
// RELU-NOT:      axf.group
// RELU:          return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @leaky_relu(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %slope = arith.constant 0.01 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<4x16xf32>, tensor<16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<4x16xf32>) outs(%init : tensor<4x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = arith.cmpf ugt, %in, %zero : f32
    %neg = arith.mulf %in, %slope : f32
    %s = arith.select %c, %in, %neg : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// Negative: an epilogue that reads the matmul result transposed is not an
// element-wise epilogue of its tiles.
// CHECK-LABEL: func.func @transposed_epilogue
// CHECK-NOT:     axf.group
// CHECK:         axf.near_miss = ["LinearBias: epilogue does not read the result element by element"]
// CHECK-NOT:     axf.group
// CHECK:         return
#id = affine_map<(d0, d1) -> (d0, d1)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
func.func @transposed_epilogue(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) -> tensor<16x4xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x16xf32>
  %wt = linalg.transpose ins(%w : tensor<16x8xf32>) outs(%wt_init : tensor<8x16xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<4x16xf32>) -> tensor<4x16xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<4x8xf32>, tensor<8x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %t_init = tensor.empty() : tensor<16x4xf32>
  %r = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm : tensor<4x16xf32>) outs(%t_init : tensor<16x4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<16x4xf32>
  return %r : tensor<16x4xf32>
}

// -----

// After tile-and-fuse and bufferization, the matmul, bias and ReLU of a tile
// live in the tile of the result: no full-size buffer for any intermediate
// (only the transposed weight, which is outside the group, is allocated).
// BUF-LABEL: func.func @tiled_no_intermediate_buffer
// BUF-SAME:    %[[OUT:[a-z0-9]+]]: memref<64x128xf32>)
// BUF-NOT:     memref.alloc() {{.*}} : memref<64x128xf32>
// BUF:         memref.alloc() {{.*}} : memref<8x128xf32>
// BUF-NOT:     memref.alloc
// BUF:         linalg.fill {axf.group = 0 : i64, axf.member = 3 : i64} {{.*}} outs(%[[OUT]]
// BUF-NOT:     memref.alloc
// BUF:         vector.transfer_write
// BUF-NOT:     memref.alloc
// BUF:         ins(%[[OUT]], %{{.*}}) outs(%[[OUT]] : memref<64x128xf32>)
// BUF:         axf.pattern = "LinearBiasRelu"
// BUF-NOT:     memref.alloc
// BUF:         memref.dealloc
// BUF-NEXT:    return
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @tiled_no_intermediate_buffer(%x: tensor<64x8xf32>, %w: tensor<128x8xf32>, %b: tensor<128xf32>) -> tensor<64x128xf32> {
  %zero = arith.constant 0.0 : f32
  %wt_init = tensor.empty() : tensor<8x128xf32>
  %wt = linalg.transpose ins(%w : tensor<128x8xf32>) outs(%wt_init : tensor<8x128xf32>) permutation = [1, 0]
  %init = tensor.empty() : tensor<64x128xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<64x128xf32>) -> tensor<64x128xf32>
  %mm = linalg.matmul ins(%x, %wt : tensor<64x8xf32>, tensor<8x128xf32>) outs(%acc : tensor<64x128xf32>) -> tensor<64x128xf32>
  %biased = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<64x128xf32>, tensor<128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %s = arith.addf %in, %in_0 : f32
    linalg.yield %s : f32
  } -> tensor<64x128xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%biased : tensor<64x128xf32>) outs(%init : tensor<64x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<64x128xf32>
  return %r : tensor<64x128xf32>
}
