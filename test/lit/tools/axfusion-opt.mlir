// RUN: axfusion-opt --list-passes | FileCheck %s --check-prefix=LIST
// RUN: axfusion-opt %s --print-ir-after-all --axf-emit-c-interface \
// RUN:   --pass-pipeline='builtin.module(canonicalize)' --axf-optimize 2>&1 >/dev/null \
// RUN:   | FileCheck %s --check-prefix=ORDER
// RUN: axfusion-opt --axf-optimize < %s -o %t
// RUN: FileCheck %s --check-prefix=FOLD < %t
// RUN: axfusion-opt %s --mlir-print-debuginfo | FileCheck %s --check-prefix=LOC
// RUN: not axfusion-opt %s --axf-no-such-pass 2>&1 | FileCheck %s --check-prefix=USAGE
// RUN: not axfusion-opt %s --pass-pipeline='builtin.module(no-such-pass)' 2>&1 \
// RUN:   | FileCheck %s --check-prefix=PIPELINE

// The axfusion-opt command line, as pass writers and lit tests use it.

// Every registered pass and pipeline is listed with its description.
// LIST-DAG: --axf-check-input {{ *}}refuse IR
// LIST-DAG: --axf-emit-c-interface
// LIST-DAG: --axf-memref-copy-to-linalg
// LIST-DAG: --axf-optimize
// LIST-DAG: --axf-bufferize
// LIST-DAG: --axf-lower-to-llvm
// LIST-DAG: --axf-cpu-pipeline

// Pass flags run in the order given, Python passes and upstream text alike.
// ORDER:      IR Dump After axf-emit-c-interface (axf-emit-c-interface)
// ORDER-NEXT: module {
// ORDER-NEXT:   func.func @f({{.*}}) -> index attributes {llvm.emit_c_interface} {
// ORDER:      IR Dump After Canonicalizer (canonicalize)
// ORDER:      IR Dump After axf-result-shapes (axf-result-shapes)
// ORDER:      IR Dump After axf-fold-constant-transposes (axf-fold-constant-transposes)
// ORDER:      IR Dump After Canonicalizer (canonicalize)
// ORDER:      IR Dump After CSE (cse)
// ORDER:      IR Dump After axf-check-result-shapes (axf-check-result-shapes)
// ORDER-NOT:  IR Dump

// Standard input works, and -o writes the result to a file.
// FOLD-LABEL: func.func @f
// FOLD-NEXT:    arith.constant 5 : index

// A bad option or pipeline is a usage error (status 2), never a traceback.
// USAGE: axfusion-opt: error: unknown option '--axf-no-such-pass' (see --list-passes)
// PIPELINE-NOT: Traceback
// PIPELINE: axfusion-opt: error: {{.*}}'no-such-pass' does not refer to a registered pass or pass pipeline

func.func @f(%x: tensor<4xf32>) -> index {
  // Locations are printed on request, with the lines of this file.
  // LOC: arith.constant 2 : index loc(#[[L2:loc[0-9]+]])
  // LOC: #[[L2]] = loc({{.*}}:[[@LINE+1]]:9)
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %s = arith.addi %c2, %c3 : index
  return %s : index
}
