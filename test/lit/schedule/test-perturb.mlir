// RUN: axfusion-opt %s --axf-test-perturb | FileCheck %s

// The test-only TestPerturb pattern (used to test --bisect) makes the first
// ungrouped element-wise op a one-op group and perturbs its result.
// CHECK-LABEL: func.func @f
// CHECK:         linalg.generic
// CHECK-SAME:      attrs = {axf.group = 0 : i64, axf.member = 0 : i64, axf.pattern = "TestPerturb"}
// CHECK:           %[[S:.*]] = arith.mulf
// CHECK:           %[[M:.*]] = arith.mulf %[[S]], %{{.*}} : f32
// CHECK:           %[[P:.*]] = arith.addf %[[M]], %{{.*}} : f32
// CHECK:           linalg.yield %[[P]]
#id = affine_map<(d0) -> (d0)>
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %two = arith.constant 2.0 : f32
  %e = tensor.empty() : tensor<4xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.mulf %a, %two : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  return %r : tensor<4xf32>
}
