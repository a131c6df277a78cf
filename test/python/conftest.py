"""Shared fixtures for the axfusion pytest suite.

Every test runs with the compile cache in a session temporary folder (never
``~/.cache/axfusion``) and with the other ``AXFUSION_*`` knobs cleared, so the
caller's environment cannot change what a test sees. Temporary build folders
(``compile(cache=False)``, ``emit``, failed compiles that keep their saved IR)
also land under the session folder instead of the system ``/tmp``.

Numbers are compared with ``rel_error`` (max |got - want| / max |want|)
against a float64 numpy reference computed on fresh random inputs; the
``rng`` fixture prints its seed, which pytest shows when a test fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

_KNOBS = ("AXFUSION_CACHE_DIR", "AXFUSION_NO_CACHE", "AXFUSION_SAVE_TEMPS", "AXFUSION_VERIFY",
          "AXFUSION_IN_PROCESS", "AXFUSION_CC", "AXFUSION_VECTOR_MATH")


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory):
    base = tmp_path_factory.mktemp("axfusion")
    (base / "tmp").mkdir()
    saved_env = {k: os.environ.get(k) for k in (*_KNOBS, "TMPDIR")}
    saved_tempdir = tempfile.tempdir
    for knob in _KNOBS:
        os.environ.pop(knob, None)
    os.environ["AXFUSION_CACHE_DIR"] = str(base / "cache")
    os.environ["TMPDIR"] = str(base / "tmp")   # for child processes
    tempfile.tempdir = str(base / "tmp")       # for this one
    yield base
    tempfile.tempdir = saved_tempdir
    for key, value in saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def rng():
    """A fresh generator; its seed is printed so a failure can be replayed."""
    seed = int(np.random.SeedSequence().entropy) % 2**63
    print(f"rng seed: {seed}")
    return np.random.default_rng(seed)


def compile_ir(source, target="cpu", **kwargs):
    """Compile MLIR text or a file (through the session cache)."""
    import axfusion
    return axfusion.compile(source, target, **kwargs)


def rel_error(got, want) -> float:
    """max |got - want| / max |want|, computed in float64."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != expected {want.shape}"
    assert np.all(np.isfinite(got)), "result has NaN or inf"
    scale = np.max(np.abs(want), initial=0.0)
    worst = float(np.max(np.abs(got - want), initial=0.0))
    return worst / scale if scale > 0 else worst


def assert_close(got, want, bound: float, what: str = "result") -> None:
    err = rel_error(got, want)
    assert err <= bound, f"{what}: max relative error {err:.3e} > bound {bound:g}"


def rss_bytes() -> int:
    """Resident set size of this process, from /proc/self/statm."""
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def run_cli(*args, env: dict | None = None, stdin: str | None = None,
            timeout: float = 240) -> subprocess.CompletedProcess:
    """Run ``python -m <module> args...`` with this interpreter, text output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", *map(str, args)], input=stdin,
                          capture_output=True, text=True, env=full_env, cwd=ROOT,
                          timeout=timeout)


# -- numpy float64 references for the examples/ models ------------------------

def mlp_reference(x, w1, b1, w2, b2):
    x, w1, b1, w2, b2 = (np.asarray(a, np.float64) for a in (x, w1, b1, w2, b2))
    h = np.maximum(x @ w1.T + b1, 0.0)
    logits = h @ w2.T + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def conv2d_nchw_reference(x, w, pad=(0, 0, 0, 0), stride=(1, 1)):
    """Cross-correlation, NCHW input, FCHW weights; ``pad`` is (top, bottom,
    left, right) zero padding."""
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    top, bottom, left, right = pad
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    kh, kw = w.shape[2:]
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    windows = windows[:, :, ::stride[0], ::stride[1]]       # n c oh ow kh kw
    return np.einsum("nchwij,fcij->nfhw", windows, w)
