# RUN: %PYTHON %s | FileCheck %s
"""The pass registry from Python: what a pass writer uses to add a named pass
and to see what the named pipelines expand to."""

import axfusion.passes  # noqa: F401  (registers the built-in passes)
from axfusion._mlir import ir
from axfusion.passes.registry import (build_pass_manager, expand_all, is_known,
                                      register_pass)


def run(elements, text):
    with ir.Context():
        module = ir.Module.parse(text)
        build_pass_manager(elements).run(module.operation)
        print(module)


# The CPU pipeline, flattened: stage order is part of the contract.
# CHECK-LABEL: pipeline axf-cpu-pipeline
# CHECK-NEXT:  axf-check-input
# CHECK-NEXT:  axf-result-shapes
# CHECK-NEXT:  axf-fold-constant-transposes
# CHECK-NEXT:  canonicalize
# CHECK-NEXT:  cse
# CHECK-NEXT:  axf-check-result-shapes
# CHECK-NEXT:  axf-fuse-{{.*}}
# CHECK:       axf-fuse-linear-bias-gelu
# CHECK:       axf-tile-and-fuse
# CHECK-NEXT:  axf-contraction-loop-order
# CHECK-NEXT:  canonicalize
# CHECK-NEXT:  cse
# CHECK-NEXT:  axf-emit-c-interface
# CHECK-NEXT:  axf-readonly-arguments
# CHECK-NEXT:  func.func(convert-elementwise-to-linalg)
# CHECK-NEXT:  one-shot-bufferize{bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map}
# CHECK-NEXT:  canonicalize
# CHECK-NEXT:  buffer-results-to-out-params{{.*}}
# CHECK:       buffer-deallocation-pipeline
# CHECK-NEXT:  axf-memref-copy-to-linalg
# CHECK:       reconcile-unrealized-casts
# CHECK-NEXT:  end
print("pipeline axf-cpu-pipeline")
for element in expand_all(["axf-cpu-pipeline"]):
    print(element)
print("end")


# A pass defined here is known by name and runs between upstream passes.
@register_pass("test-tag-functions", "set axf.visited on every func.func")
def tag_functions(op, pass_):
    for f in op.regions[0].blocks[0].operations:
        f.operation.attributes["axf.visited"] = ir.UnitAttr.get()


# CHECK-LABEL: known
# CHECK-NEXT:  True True False
print("known")
print(is_known("test-tag-functions"), is_known("axf-bufferize"), is_known("no-such-pass"))

# canonicalize folds the add before the Python pass tags the function.
# CHECK-LABEL: func.func @f() -> index
# CHECK-SAME:    attributes {axf.visited}
# CHECK-NEXT:    %[[C:.*]] = arith.constant 3 : index
# CHECK-NEXT:    return %[[C]] : index
run(["canonicalize", "test-tag-functions"], """
func.func @f() -> index {
  %a = arith.constant 1 : index
  %b = arith.constant 2 : index
  %s = arith.addi %a, %b : index
  return %s : index
}
""")
