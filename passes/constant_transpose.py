"""``axf-fold-constant-transposes``: transposes of constants, done at
compile time.

torch-mlir lowers ``nn.Linear`` to ``x @ W^T`` with the transpose as an op of
its own, so a model whose weights are baked in transposes every weight on
every call (the transpose of a 1024x1024 weight costs as much as a small
matmul). The weight is a constant, so its transpose is one too: computed here
with numpy and stored in the transposed layout.

    %w  = arith.constant dense_resource<torch_tensor_10_64> : tensor<10x64xf32>
    %e  = tensor.empty() : tensor<64x10xf32>
    %wt = linalg.transpose ins(%w : tensor<10x64xf32>) outs(%e : tensor<64x10xf32>)
            permutation = [1, 0]

becomes

    %wt = arith.constant dense<...> : tensor<64x10xf32>

Upstream's linalg constant folding reads ``DenseElementsAttr`` only, not the
``dense_resource`` blobs torch-mlir emits; ``conv_bn_relu.constant_value``
reads both (and sees through reshapes, fills and element-wise ops of
constants, which this pass folds too when a transpose reads them). Weights
passed at run time (``weights="runtime"``) are arguments, not constants, and
stay transposed per call.
"""

from __future__ import annotations

import numpy as np

from axfusion._mlir import all_ops, arith, ir

from .conv_bn_relu import FOLDABLE, constant_value
from .registry import register_pass


@register_pass("axf-fold-constant-transposes",
               "compute transposes of constant tensors (nn.Linear weights) at compile time")
def fold_constant_transposes(op, pass_):
    for transpose in [o for o in all_ops(op) if o.name == "linalg.transpose"]:
        result = transpose.results[0]
        value = constant_value(result)
        if value is None:
            continue
        ty = ir.RankedTensorType(result.type)
        data = np.ascontiguousarray(value.astype(FOLDABLE[str(ty.element_type)]))
        with ir.InsertionPoint(transpose), transpose.location:
            folded = arith.ConstantOp(ty, ir.DenseElementsAttr.get(data, type=ty)).result
        result.replace_all_uses_with(folded)
        transpose.erase()
