"""The fusion stage: which patterns exist, in what order they run, and the
registration that makes each one a named pass.

A pattern is one file in ``passes/`` that decorates a function
``fn(func_op)`` with ``@register_fusion(...)``. The function looks at the
ops of one ``func.func``, tags the groups it forms (``dialects.tag_group``)
and notes its near misses (``dialects.note_near_miss``); patterns that
change the algorithm (batch-norm folding, log-sum-exp, flash attention)
rewrite the IR first. Each becomes a pass ``axf-fuse-...`` that
``axfusion-opt`` can run alone; the ``fuse`` stage runs the enabled ones,
most specific first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Iterable

from .registry import register_pass


class FusionPattern(str, Enum):
    Attention = "Attention"
    SoftmaxCrossEntropy = "SoftmaxCrossEntropy"
    ConvBnRelu = "ConvBnRelu"
    LinearBiasRelu = "LinearBiasRelu"
    LinearBiasGelu = "LinearBiasGelu"
    LinearBiasActivation = "LinearBiasActivation"  # sigmoid, tanh, SiLU, ReLU6, none
    ReductionFusion = "ReductionFusion"             # layer-norm, softmax, mean/var
    ElementwiseChain = "ElementwiseChain"
    # Test-only, never enabled by default: a deliberately wrong rewrite that
    # ``--bisect`` must find (passes/testing.py).
    TestPerturb = "TestPerturb"


TEST_PATTERNS = frozenset({FusionPattern.TestPerturb})


@dataclass(frozen=True)
class FusionPass:
    pattern: FusionPattern
    pass_name: str
    run: Callable  # fn(func_op)


# Run order: the patterns that consume the most ops first, the catch-all
# element-wise chain last (it fuses what the others left).
ORDER = list(FusionPattern)
FUSIONS: dict[FusionPattern, FusionPass] = {}


def functions(module_op):
    for op in module_op.regions[0].blocks[0].operations:
        if op.operation.name == "func.func" and len(op.operation.regions[0].blocks):
            yield op.operation


def register_fusion(pattern: FusionPattern, pass_name: str, description: str):
    def wrap(fn):
        def run(op, pass_):
            for f in list(functions(op)):
                fn(f)
        run.__name__ = pass_name
        register_pass(pass_name, f"fusion pattern {pattern.value}: {description}")(run)
        FUSIONS[pattern] = FusionPass(pattern, pass_name, fn)
        return fn
    return wrap


def parse_patterns(patterns: Iterable) -> list[FusionPattern]:
    out = []
    for p in patterns:
        try:
            out.append(p if isinstance(p, FusionPattern) else FusionPattern(str(p)))
        except ValueError:
            raise ValueError(f"unknown fusion pattern {p!r}; known: "
                             + ", ".join(x.value for x in FusionPattern)) from None
    return out


def fuse_pipeline(enabled: Iterable) -> list[str]:
    """The pass names of the enabled (and implemented) patterns, in run order."""
    chosen = set(parse_patterns(enabled))
    return [FUSIONS[p].pass_name for p in ORDER if p in chosen and p in FUSIONS]


def all_patterns() -> list[FusionPattern]:
    """The patterns that are implemented (a pass is registered for them),
    test-only ones excepted."""
    return [p for p in ORDER if p in FUSIONS and p not in TEST_PATTERNS]
