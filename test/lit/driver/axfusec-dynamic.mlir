// RUN: axfusec %s --run --seed 0 --dynamic-size 5 | FileCheck %s
// RUN: axfusec %s --emit=llvm-dialect | FileCheck %s --check-prefix=LLVM

// A dynamic batch: the signature shows '?', --run fills it with
// --dynamic-size, and the library exports the result-shape function next to
// the entry point.

// CHECK:      CompiledModule(cpu, 1 function):
// CHECK-NEXT:   forward(arg0: f32[?,16], arg1: f32[16]) -> f32[?,16]
// CHECK:      forward {{ *}}max relative error {{[0-9.e+-]+}}  (rtol 0.0001)  ok

// LLVM-DAG: llvm.func @_mlir_ciface_forward(
// LLVM-DAG: llvm.func @_mlir_ciface_forward__axf_result_shapes(

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
func.func @forward(%x: tensor<?x16xf32>, %b: tensor<16xf32>) -> tensor<?x16xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x16xf32>
  %init = tensor.empty(%n) : tensor<?x16xf32>
  %y = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %b : tensor<?x16xf32>, tensor<16xf32>) outs(%init : tensor<?x16xf32>) {
  ^bb0(%a: f32, %c: f32, %o: f32):
    %s = arith.addf %a, %c : f32
    %t = math.tanh %s : f32
    linalg.yield %t : f32
  } -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}
