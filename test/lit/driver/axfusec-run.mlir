// RUN: axfusec %s --run --seed 0 | FileCheck %s

// axfusec --run compiles the optimised and the reference build (through the
// compile cache, which lit points at Output/ or $AXFUSION_CACHE_DIR), calls
// every entry point on the same random inputs and compares.

// CHECK:      CompiledModule(cpu, 2 functions):
// CHECK-DAG:    forward(arg0: f32[8,16], arg1: f32[16]) -> f32[8,16]
// CHECK-DAG:    twice(arg0: i32[5]) -> (i32[5], i32[5])
// CHECK-DAG:  forward {{ *}}max relative error {{[0-9.e+-]+}}  (rtol 0.0001)  ok
// CHECK-DAG:  twice {{ *}}max relative error 0.000e+00  (rtol 0.0001)  ok
// CHECK-NOT:  MISMATCH

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
func.func @forward(%x: tensor<8x16xf32>, %b: tensor<16xf32>) -> tensor<8x16xf32> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<8x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %b : tensor<8x16xf32>, tensor<16xf32>) outs(%init : tensor<8x16xf32>) {
  ^bb0(%v: f32, %bv: f32, %o: f32):
    %s = arith.addf %v, %bv : f32
    %t = math.tanh %s : f32
    %r = arith.maximumf %t, %zero : f32
    linalg.yield %r : f32
  } -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

func.func @twice(%x: tensor<5xi32>) -> (tensor<5xi32>, tensor<5xi32>) {
  %init = tensor.empty() : tensor<5xi32>
  %y = linalg.add ins(%x, %x : tensor<5xi32>, tensor<5xi32>) outs(%init : tensor<5xi32>) -> tensor<5xi32>
  return %y, %x : tensor<5xi32>, tensor<5xi32>
}
