// RUN: not axfusec %s --emit=llvm-ir 2>&1 | FileCheck %s
// RUN: not axfusec - --emit=llvm-ir < %s 2>&1 | FileCheck %s --check-prefix=STDIN

// A refused input names the stage, the located diagnostic, the saved IR and
// a command that reproduces the failure alone; nothing is printed to stdout.

// CHECK-NOT: define
// CHECK:      axfusec: error: [import] entry point @unranked argument 0: type tensor<*xf32> is not a ranked tensor; entry points take and return tensors
// CHECK-NEXT:   axfusec-invalid.mlir:[[@LINE+5]]:1: error: entry point @unranked argument 0: type tensor<*xf32> is not a ranked tensor
// CHECK-NEXT:   IR saved to: {{.*}}axfusec-invalid.mlir
// CHECK-NEXT:   reproduce with: axfusion-opt --axf-check-input {{.*}}axfusec-invalid.mlir

// STDIN:      <input>:[[@LINE+1]]:1: error: entry point @unranked argument 0
func.func @unranked(%a: tensor<*xf32>) -> tensor<4xf32> {
  %r = tensor.cast %a : tensor<*xf32> to tensor<4xf32>
  return %r : tensor<4xf32>
}
