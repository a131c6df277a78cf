"""``axf-test-perturb``: a deliberately wrong fusion, for testing ``--bisect``.

Enabled only when asked for by name (``patterns=[..., "TestPerturb"]``);
``all_patterns()`` leaves it out. It takes the first element-wise generic
that no other pattern grouped, makes it a one-op group, and perturbs its
result (v -> 1.01 v + 0.01, visible through softmax and ReLU alike), the kind of silent numeric bug a broken rewrite would introduce:

    linalg.yield %v : f32
    // becomes
    %s = arith.mulf %v, 1.01 : f32
    %p = arith.addf %s, 0.01 : f32
    linalg.yield %p : f32
"""

from axfusion._mlir import arith, ir
from axfusion.dialects import fusion_allowed, in_group, tag_group

from . import match
from .fusion import FusionPattern, register_fusion


@register_fusion(FusionPattern.TestPerturb, "axf-test-perturb",
                 "TEST ONLY: perturb one element-wise op's result")
def perturb(func):
    for op in func.regions[0].blocks[0].operations:
        if not match.is_elementwise(op) or in_group(op) or not fusion_allowed(op):
            continue
        block = op.operation.regions[0].blocks[0]
        yield_op = block.operations[len(block.operations) - 1]
        value = yield_op.operands[0]
        if not isinstance(value.type, ir.F32Type):
            continue
        with ir.InsertionPoint(yield_op), yield_op.location:
            scale = arith.constant(ir.F32Type.get(), 1.01)
            delta = arith.constant(ir.F32Type.get(), 0.01)
            yield_op.operands[0] = arith.addf(arith.mulf(value, scale), delta)
        tag_group([op], FusionPattern.TestPerturb.value)
        return
