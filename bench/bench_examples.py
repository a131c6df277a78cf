"""Compile the example models, check them against numpy and time them.

    python bench/bench_examples.py [--repeats N]

For each model in examples/: compile it with axfusion (cached on disk),
run it on fresh random inputs, compare with a numpy float64 implementation,
and print median times of the fused build, the unfused build (the same
pipeline with fusion off), the reference build (the same IR lowered without
optimisation) and numpy, measured interleaved in one run; then the fusion
report of the first model.
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
from axfusion.measure import interleaved_medians, max_rel_error

HERE = Path(__file__).resolve().parents[1] / "examples"


def mlp(x, w1, b1, w2, b2):
    h = np.maximum(x @ w1.T + b1, 0.0)
    logits = h @ w2.T + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def elementwise(x, scale, shift):
    return np.tanh((x + 1.0) * 2.0 - 0.5) * scale + shift


def conv(x, w, b):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    y = np.einsum("nchwij,fcij->nfhw", cols, w, optimize=True)
    return np.maximum(y + b[None, :, None, None], 0.0)


MODELS = {"mlp.mlir": mlp, "elementwise.mlir": elementwise, "conv.mlir": conv}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=11, help="interleaved samples per build")
    opts = parser.parse_args(argv)
    rng = np.random.default_rng()
    print(f"axfusion {axfusion.__version__}, {datetime.date.today()}, {host.cpu_model()} "
          f"(llc -mcpu={host.cpu_name()}; {', '.join(f for f in sorted(host.cpu_features()) if f.startswith('avx'))})")
    print(f"medians of {opts.repeats} interleaved samples after warm-up; single thread\n")
    print(f"{'model':18} {'compile':>8} {'max rel err':>12} {'fused':>10} {'unfused':>10} "
          f"{'reference':>10} {'numpy':>10} {'vs unfused':>10} {'vs ref':>7} {'vs numpy':>9}")
    failed = False
    reports = []
    for name, numpy_fn in MODELS.items():
        start = time.perf_counter()
        mod = axfusion.compile(HERE / name, target="cpu")
        compile_s = time.perf_counter() - start
        unfused = axfusion.compile(HERE / name, target="cpu", patterns=[])
        ref = axfusion.compile(HERE / name, target="cpu", optimize=False)
        reports.append((name, mod.report()))
        sig = mod.functions["forward"]
        args = [rng.standard_normal(a.shape).astype(a.dtype) for a in sig.args]
        got = mod.forward(*args)
        err = max_rel_error(got, numpy_fn(*[a.astype(np.float64) for a in args]))
        failed |= err > 1e-4  # float32 kernels vs a float64 reference
        out = np.empty_like(got)
        med = interleaved_medians({
            "axf": lambda: mod.forward(*args, out=out),
            "unf": lambda: unfused.forward(*args, out=out),
            "ref": lambda: ref.forward(*args, out=out),
            "np": lambda: numpy_fn(*args)}, repeats=opts.repeats, min_time=5e-3)
        print(f"{name:18} {compile_s:7.2f}s {err:12.2e} {med['axf'] * 1e3:8.3f}ms "
              f"{med['unf'] * 1e3:8.3f}ms {med['ref'] * 1e3:8.3f}ms {med['np'] * 1e3:8.3f}ms "
              f"{med['unf'] / med['axf']:9.2f}x {med['ref'] / med['axf']:6.2f}x "
              f"{med['np'] / med['axf']:8.2f}x")
    name, report = reports[0]
    print(f"\n{name}: {report}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
