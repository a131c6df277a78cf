"""Fused vs unfused, per fusion pattern, on the same compiler.

    python bench/bench_fusion.py [--repeats N] [FILE.mlir ...]

For each model (default: examples/patterns/*.mlir), compile it twice with
the same pipeline, once with every fusion pattern and once with fusion off
(``patterns=[]``), check that both give the same numbers on fresh random
inputs, and time them interleaved (medians after warm-up, one run). The
"claim" column is the original design's speed-up for that pattern.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

import axfusion
from axfusion import host
from axfusion.measure import interleaved_medians, max_rel_error, random_inputs

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = {"LinearBiasRelu": "~1.5x", "LinearBiasGelu": "~1.5x", "ConvBnRelu": "~1.8x",
          "ElementwiseChain": "~2x", "SoftmaxCrossEntropy": "~1.3x"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--repeats", type=int, default=15)
    opts = parser.parse_args(argv)
    models = opts.models or sorted((ROOT / "examples" / "patterns").glob("*.mlir"))
    rng = np.random.default_rng()
    print(f"axfusion {axfusion.__version__}, {datetime.date.today()}, {host.cpu_model()} "
          f"(llc -mcpu={host.cpu_name()}); single thread; medians of {opts.repeats} "
          "interleaved samples after warm-up\n")
    print(f"{'model':28} {'groups':34} {'compile':>8} {'unfused':>10} {'fused':>10} "
          f"{'speed-up':>8} {'claim':>6} {'max rel err':>11}")
    for path in models:
        start = time.perf_counter()
        fused = axfusion.compile(path)
        compile_s = time.perf_counter() - start
        unfused = axfusion.compile(path, patterns=[])
        name, sig = next(iter(fused.functions.items()))
        args = random_inputs(sig, rng)
        got, want = fused[name](*args), unfused[name](*args)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        err = max(max_rel_error(g, w) for g, w in zip(got, want))
        outs = tuple(np.empty_like(w) for w in want)
        med = interleaved_medians({
            "fused": lambda: fused[name](*args, out=outs),
            "unfused": lambda: unfused[name](*args, out=outs)},
            repeats=opts.repeats, min_time=5e-3)
        patterns = [g.pattern for g in fused.detected_patterns()]
        summary = ", ".join(f"{p}x{patterns.count(p)}" if patterns.count(p) > 1 else p
                            for p in dict.fromkeys(patterns)) or "-"
        claim = next((CLAIMS[p] for p in patterns if p in CLAIMS), "")
        print(f"{path.stem:28} {summary[:34]:34} {compile_s:7.2f}s "
              f"{med['unfused'] * 1e3:8.3f}ms {med['fused'] * 1e3:8.3f}ms "
              f"{med['unfused'] / med['fused']:7.2f}x {claim:>6} {err:11.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
