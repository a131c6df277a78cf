"""detected_patterns() lists exactly what was fused on the example models,
and the fused build of each gives the unfused build's numbers."""

from __future__ import annotations

import numpy as np
import pytest

import axfusion
from axfusion.measure import max_rel_error, random_inputs
from conftest import EXAMPLES

EXPECTED = {
    "conv.mlir": ["ConvBnRelu"],
    "elementwise.mlir": ["ElementwiseChain"],
    "mlp.mlir": ["LinearBiasRelu", "LinearBiasActivation", "ReductionFusion"],
    "patterns/attention.mlir": ["Attention"] + ["LinearBiasActivation"] * 4,
    "patterns/conv_bn_relu.mlir": ["ConvBnRelu"],
    "patterns/elementwise_chain.mlir": ["ElementwiseChain"],
    "patterns/layer_norm.mlir": ["ReductionFusion"],
    "patterns/linear_bias_gelu.mlir": ["LinearBiasGelu"],
    "patterns/linear_bias_relu.mlir": ["LinearBiasRelu"],
    "patterns/softmax.mlir": ["ReductionFusion"],
    "patterns/softmax_cross_entropy.mlir": ["SoftmaxCrossEntropy", "ReductionFusion"],
}


def test_every_example_is_listed():
    found = {str(p.relative_to(EXAMPLES)) for p in EXAMPLES.rglob("*.mlir")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_detected_patterns_of_example(name):
    mod = axfusion.compile(EXAMPLES / name)
    groups = mod.detected_patterns()
    assert [g.pattern for g in groups] == EXPECTED[name]
    assert [g.group for g in groups] == list(range(len(groups)))
    for g in groups:
        assert g.locations[0].startswith(str(EXAMPLES / name) + ":")
        assert len(g.ops) == len(g.locations) == len(g.shapes) >= 1


# Attention: float32 summation order on near-one-hot softmaxes (see
# bench/RESULTS.md); everything else is bit-for-bit or close to it.
BOUND = {"patterns/attention.mlir": 5e-4}


@pytest.mark.parametrize("name", ["mlp.mlir", "patterns/layer_norm.mlir",
                                  "patterns/softmax_cross_entropy.mlir"])
def test_fused_example_matches_unfused(name):
    fused = axfusion.compile(EXAMPLES / name)
    unfused = axfusion.compile(EXAMPLES / name, patterns=[])
    args = random_inputs(fused.functions["forward"], np.random.default_rng())
    err = max_rel_error(fused.forward(*args), unfused.forward(*args))
    assert err <= BOUND.get(name, 1e-5), f"{name}: fused vs unfused {err:.2e}"
