"""Per-group numeric bisection: which fusion group broke the numbers?

``bisect(model)`` builds the model unfused (the same pipeline with fusion
off) and fused, runs both on the same random inputs, and if they differ
beyond ``rtol`` searches for the first group whose fusion makes them
differ. Groups are numbered in the order the patterns form them, and a
build with ``fusion_limit=k`` fuses exactly groups ``0..k-1`` (as LLVM's
``-opt-bisect-limit`` does for passes), so a binary search over ``k`` names
the culprit in about log2(groups) compiles. Because the limit stops
rewrites too, groups whose pattern changes the algorithm (batch-norm
folding, log-sum-exp, flash attention) are checked against their original
ops, not against themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .driver import compile as _compile
from .measure import max_rel_error, random_inputs
from .report import DetectedPattern


@dataclass
class BisectResult:
    groups: int
    rtol: float
    full_error: float
    culprit: DetectedPattern | None = None
    error: float = 0.0
    steps: list[tuple[int, float]] = field(default_factory=list)  # (limit, error)

    def __str__(self) -> str:
        head = (f"bisect: {self.groups} fusion group(s); fused vs unfused max relative "
                f"error {self.full_error:.3e} (rtol {self.rtol:g})")
        if self.culprit is None:
            return head + "\nno group differs beyond tolerance"
        c = self.culprit
        lines = [head, f"first differing group: {c.group} {c.pattern} in @{c.function}, "
                       f"max relative error {self.error:.3e}"]
        lines += [f"  {op:26} {shape:34} {loc}"
                  for op, shape, loc in zip(c.ops, c.shapes, c.locations)]
        lines.append("  checked: " + ", ".join(f"first {k} group(s) -> {e:.2e}"
                                              for k, e in self.steps))
        return "\n".join(lines)


def bisect(source, target="cpu", *, patterns=None, rtol: float = 1e-4,
           seed: int | None = None) -> BisectResult:
    """Find the first fusion group whose fused result differs from the same
    ops compiled unfused (see the module docstring)."""
    unfused = _compile(source, target, patterns=[])
    full = _compile(source, target, patterns=patterns)
    rng = np.random.default_rng(seed)
    inputs = {name: random_inputs(sig, rng) for name, sig in unfused.functions.items()}
    want = {name: _as_tuple(unfused[name](*args)) for name, args in inputs.items()}

    def error(module) -> float:
        worst = 0.0
        for name, args in inputs.items():
            got = _as_tuple(module[name](*args))
            worst = max([worst] + [max_rel_error(g, w) for g, w in zip(got, want[name])])
        return worst

    groups = len(full.detected_patterns())
    result = BisectResult(groups=groups, rtol=rtol, full_error=error(full))
    if result.full_error <= rtol:
        return result
    lo, hi, hi_module, hi_error = 0, groups, full, result.full_error
    while hi - lo > 1:
        mid = (lo + hi) // 2
        module = _compile(source, target, patterns=patterns, fusion_limit=mid)
        err = error(module)
        result.steps.append((mid, err))
        if err > rtol:
            hi, hi_module, hi_error = mid, module, err
        else:
            lo = mid
    culprits = [g for g in hi_module.detected_patterns() if g.group == hi - 1]
    result.culprit = culprits[0] if culprits else None
    result.error = hi_error
    return result


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)
