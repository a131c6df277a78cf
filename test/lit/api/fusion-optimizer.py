# RUN: %PYTHON %s | FileCheck %s
# FusionOptimizer with a pattern disabled leaves that pattern unfused; the
# others still fuse. optimize() returns the fused IR as an mlir.ir.Module.

import axfusion
from axfusion import FusionOptimizer, FusionPattern

MLP = __file__.rsplit("/test/", 1)[0] + "/examples/mlp.mlir"

# All patterns: both linears and the softmax are groups.
# CHECK-LABEL: all patterns
# CHECK:       linalg.generic {{.*}}axf.pattern = "LinearBiasRelu"
# CHECK:       linalg.generic {{.*}}axf.pattern = "LinearBiasActivation"
# CHECK:       linalg.generic {{.*}}axf.pattern = "ReductionFusion"
# CHECK:       detected: LinearBiasRelu LinearBiasActivation ReductionFusion
print("all patterns")
opt = FusionOptimizer()
print(opt.optimize(MLP))
print("detected:", *[p.pattern for p in opt.detected_patterns()])

# LinearBiasRelu disabled: the first linear is left alone (no axf.group on
# its matmul), the second linear and the softmax are still fused.
# CHECK-LABEL: without LinearBiasRelu
# CHECK-NOT:   "LinearBiasRelu"
# CHECK:       linalg.matmul ins(
# CHECK:       axf.pattern = "LinearBiasActivation"
# CHECK-NOT:   "LinearBiasRelu"
# CHECK:       detected: LinearBiasActivation ReductionFusion
print("without LinearBiasRelu")
opt = FusionOptimizer().disable(FusionPattern.LinearBiasRelu)
print(opt.optimize(MLP))
print("detected:", *[p.pattern for p in opt.detected_patterns()])

# optimize_graph applies every pattern.
# CHECK-LABEL: optimize_graph
# CHECK:       groups 3
print("optimize_graph")
print("groups", str(axfusion.optimize_graph(MLP)).count("axf.pattern"))
