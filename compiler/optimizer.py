"""The seed API for fusion: ``optimize_graph`` and ``FusionOptimizer``.

    optimized = optimize_graph("model.mlir")            # all patterns
    opt = FusionOptimizer().disable(FusionPattern.ElementwiseChain)
    optimized = opt.optimize(model)                      # an mlir.ir.Module
    for p in opt.detected_patterns():
        print(p)                                         # pattern, ops, location, bytes saved
    mod = axfusion.compile(optimized)                    # or opt.compile(model)

The optimised module is linalg-on-tensors with the fusion groups tagged
(``axf.group`` attributes, see ``axfusion.dialects``); compiling it tiles
each group into one loop nest.
"""

from __future__ import annotations

from axfusion.passes.activations import Activation  # noqa: F401  (re-exported)
from axfusion.passes.fusion import FusionPattern, all_patterns, parse_patterns

from .driver import _emit, compile as _compile
from .report import FusionReport


class FusionOptimizer:
    """Choose fusion patterns, apply them, and see what they found."""

    def __init__(self, patterns=None):
        self._enabled = list(all_patterns()) if patterns is None else parse_patterns(patterns)
        self._report = FusionReport({})

    def enable(self, *patterns) -> "FusionOptimizer":
        for p in parse_patterns(patterns):
            if p not in self._enabled:
                self._enabled.append(p)
        return self

    def disable(self, *patterns) -> "FusionOptimizer":
        drop = set(parse_patterns(patterns))
        self._enabled = [p for p in self._enabled if p not in drop]
        return self

    def only(self, *patterns) -> "FusionOptimizer":
        self._enabled = parse_patterns(patterns)
        return self

    @property
    def enabled(self) -> list[FusionPattern]:
        return list(self._enabled)

    def optimize(self, model, *, context=None):
        """Apply the enabled patterns; return the fused module as an
        ``mlir.ir.Module`` (in ``context``, or a new one)."""
        from axfusion._mlir import ir
        result = _emit(model, "fuse", patterns=self._enabled)
        self._report = FusionReport(result.get("report", {}))
        ctx = context or ir.Context()
        with ctx:
            return ir.Module.parse(result["emit"])

    def compile(self, model, target="cpu", **kwargs):
        """Compile ``model`` with the enabled patterns (a ``CompiledModule``)."""
        module = _compile(model, target, patterns=self._enabled, **kwargs)
        self._report = module.report()
        return module

    def detected_patterns(self):
        """The groups the last ``optimize``/``compile`` formed."""
        return self._report.groups

    def report(self) -> FusionReport:
        return self._report


def optimize_graph(model, *, context=None):
    """Apply every fusion pattern to ``model`` (a path, MLIR text or an
    ``mlir.ir.Module``); return the fused ``mlir.ir.Module``."""
    return FusionOptimizer().optimize(model, context=context)
