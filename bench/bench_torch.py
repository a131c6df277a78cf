"""The model zoo (test/models/zoo.py): PyTorch eager, torch.compile
(inductor), axfusion unfused, axfusion fused and axfusion fused with a
symbolic batch (``dynamic_dims={0: "batch"}``), from one run.

    python bench/bench_torch.py [--repeats N] [--threads T]

Each model is run at a benchmark size on fresh random inputs under
``torch.no_grad()``; times are medians of interleaved samples after warm-up,
ratios are to eager; compile times (cold for inductor, and for axfusion when
the on-disk cache is empty) are a separate table. torch and axfusion both
use ``--threads`` (default 1: ``torch.set_num_threads`` and
``AXFUSION_THREADS``) for a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test"))

import axfusion  # noqa: E402
from axfusion import host  # noqa: E402
from axfusion.measure import interleaved_medians, max_rel_error  # noqa: E402
from models import zoo  # noqa: E402

SIZES = {"mlp": {"batch": 64}, "cnn": {"batch": 8, "size": 32},
         "transformer": {"batch": 4, "seq": 64}, "transformer_mha": {"batch": 4, "seq": 64},
         "classifier": {"batch": 256}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    opts = parser.parse_args(argv)
    torch.set_num_threads(opts.threads)
    os.environ["AXFUSION_THREADS"] = str(opts.threads)   # read when compiling
    gen = torch.Generator().manual_seed(int(time.time()))
    print(f"axfusion {axfusion.__version__}, torch {torch.__version__}, "
          f"{datetime.date.today()}, {host.cpu_model()} (llc -mcpu={host.cpu_name()}); "
          f"torch and axfusion threads {opts.threads}; medians of {opts.repeats} interleaved samples\n")
    rows, compiles = [], []
    for name, shape in SIZES.items():
        model = zoo.build(name)
        inputs = zoo.inputs(name, gen, **shape)
        with torch.no_grad():
            want = model(*inputs)
            t = time.perf_counter()
            fused = axfusion.compile(model, inputs)
            fused(*inputs)
            t_axf = time.perf_counter() - t
            unfused = axfusion.compile(model, inputs, patterns=[])
            dynamic = axfusion.compile(model, inputs, dynamic_dims={0: "batch"})
            t = time.perf_counter()
            inductor = torch.compile(model)
            inductor(*inputs)
            t_ind = time.perf_counter() - t
            got = fused(*inputs)
            err = max(max_rel_error(g.numpy(), w.numpy()) for g, w in
                      zip(_tuple(got), _tuple(want)))
            med = interleaved_medians({
                "eager": lambda: model(*inputs), "inductor": lambda: inductor(*inputs),
                "unfused": lambda: unfused(*inputs), "fused": lambda: fused(*inputs),
                "dynamic": lambda: dynamic(*inputs)},
                repeats=opts.repeats, min_time=5e-3)
        groups = ", ".join(sorted({g.pattern for g in fused.detected_patterns()}))
        rows.append((name, med, err, groups))
        compiles.append((name, t_ind, t_axf))
    print(f"{'model':16} {'eager':>10} {'inductor':>10} {'axf unfused':>12} {'axf fused':>10} "
          f"{'axf dyn':>10} {'ind/eager':>9} {'fused/eager':>11} {'dyn/eager':>9} "
          f"{'max rel err':>11}  patterns (static batch)")
    for name, med, err, groups in rows:
        print(f"{name:16} {med['eager'] * 1e3:8.3f}ms {med['inductor'] * 1e3:8.3f}ms "
              f"{med['unfused'] * 1e3:10.3f}ms {med['fused'] * 1e3:8.3f}ms "
              f"{med['dynamic'] * 1e3:8.3f}ms "
              f"{med['eager'] / med['inductor']:8.2f}x {med['eager'] / med['fused']:10.2f}x "
              f"{med['eager'] / med['dynamic']:8.2f}x {err:11.1e}  {groups}")
    print(f"\n{'compile (first call)':22} {'inductor':>10} {'axfusion':>10}")
    for name, t_ind, t_axf in compiles:
        print(f"{name:22} {t_ind:9.2f}s {t_axf:9.2f}s")
    return 0


def _tuple(x):
    return x if isinstance(x, tuple) else (x,)


if __name__ == "__main__":
    sys.exit(main())
