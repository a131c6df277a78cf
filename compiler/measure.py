"""Random inputs, error measures and interleaved timing, shared by
``axfusec --run/--bench`` and ``bench/``."""

from __future__ import annotations

import statistics
import time

import numpy as np

from .signature import FunctionSignature


# The size a dynamic (``?``) dimension takes in generated inputs.
DYNAMIC_SIZE = 8


def random_inputs(signature: FunctionSignature, rng: np.random.Generator,
                  dynamic_size: int = DYNAMIC_SIZE) -> list[np.ndarray]:
    """Inputs for ``signature``; every ``?`` size is ``dynamic_size`` (one
    value for all, so sizes that must agree do)."""
    out = []
    for spec in signature.args:
        dtype = np.dtype(spec.dtype)
        shape = tuple(dynamic_size if d is None else d for d in spec.shape)
        if dtype.kind == "f":
            out.append(rng.standard_normal(shape).astype(dtype))
        else:
            # Non-negative: integer inputs are mostly indices (labels, ids),
            # and reading at a negative one is undefined in any build.
            out.append(rng.integers(0, 8, size=shape).astype(dtype))
    return out


def max_rel_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want| (NaN where both are NaN counts as equal)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return float("inf")
    both_nan = np.isnan(got) & np.isnan(want)
    diff = np.where(both_nan, 0.0, np.abs(got - want))
    if np.isnan(diff).any():
        return float("inf")
    scale = np.max(np.abs(np.where(both_nan, 0.0, want)), initial=0.0)
    worst = float(np.max(diff, initial=0.0))
    return worst / scale if scale > 0 else worst


def interleaved_medians(callables: dict, repeats: int = 20, warmup: int = 3,
                        min_time: float = 0.0) -> dict[str, float]:
    """Median seconds per call of each callable, timed A, B, A, B, ... so that
    machine noise hits all of them alike."""
    for fn in callables.values():
        for _ in range(warmup):
            fn()
    # Calls per sample, so each sample lasts at least ~min_time.
    inner = 1
    if min_time > 0:
        start = time.perf_counter()
        next(iter(callables.values()))()
        one = max(time.perf_counter() - start, 1e-7)
        inner = max(1, int(min_time / one))
    samples: dict[str, list[float]] = {k: [] for k in callables}
    for _ in range(repeats):
        for name, fn in callables.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - start) / inner)
    return {k: statistics.median(v) for k, v in samples.items()}
