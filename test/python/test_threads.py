"""Tile loops on all cores (``AXFUSION_THREADS``, ``axf-parallelize``).

With ``AXFUSION_THREADS=0`` (all cores) or ``N`` the outermost tile loop of
each nest with enough work runs on MLIR's async runtime; unset or ``1`` (the
default) is serial code with no runtime calls.
Both builds are compared with numpy (float64) on fresh random inputs for the
fusion patterns' examples (linear + bias + ReLU, an element-wise chain,
layer norm, attention with its projections), an attention-sized batch
matmul (unfused: its tile loops are ``scf.for``, so it stays serial for now)
and a dynamic batch; the LLVM IR
calls the runtime (``mlirAsyncRuntimeExecute``) exactly when threads > 1 and
the problem is big enough.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

import axfusion
from axfusion import config
from axfusion.targets import cpu
from conftest import assert_close

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "patterns"
RUNTIME_CALL = "@mlirAsyncRuntimeExecute"

pytestmark = pytest.mark.skipif(cpu.async_runtime() is None,
                                reason="the mlir wheel has no libmlir_async_runtime.so")

BMM = """
func.func @scores(%q: tensor<8x512x64xf32>, %k: tensor<8x64x512xf32>) -> tensor<8x512x512xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x512x512xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<8x512x512xf32>) -> tensor<8x512x512xf32>
  %r = linalg.batch_matmul ins(%q, %k : tensor<8x512x64xf32>, tensor<8x64x512xf32>)
      outs(%acc : tensor<8x512x512xf32>) -> tensor<8x512x512xf32>
  return %r : tensor<8x512x512xf32>
}
"""

DYNAMIC = """
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @forward(%x: tensor<?x256xf32>, %w: tensor<256x384xf32>, %b: tensor<384xf32>)
    -> tensor<?x384xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = tensor.dim %x, %c0 : tensor<?x256xf32>
  %init = tensor.empty(%n) : tensor<?x384xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<?x384xf32>) -> tensor<?x384xf32>
  %mm = linalg.matmul ins(%x, %w : tensor<?x256xf32>, tensor<256x384xf32>)
                      outs(%acc : tensor<?x384xf32>) -> tensor<?x384xf32>
  %r = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%mm, %b : tensor<?x384xf32>, tensor<384xf32>) outs(%init : tensor<?x384xf32>) {
  ^bb0(%v: f32, %bias: f32, %o: f32):
    %s = arith.addf %v, %bias : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<?x384xf32>
  return %r : tensor<?x384xf32>
}
"""

SMALL = """
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @add(%a: tensor<16x32xf32>, %b: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %e = tensor.empty() : tensor<16x32xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a, %b : tensor<16x32xf32>, tensor<16x32xf32>) outs(%e : tensor<16x32xf32>) {
  ^bb0(%x: f32, %y: f32, %o: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  } -> tensor<16x32xf32>
  return %r : tensor<16x32xf32>
}
"""


def _f64(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def _linear_bias_relu(rng):
    x = rng.standard_normal((256, 1024), dtype=np.float32)
    w = rng.standard_normal((1024, 1024), dtype=np.float32)   # [out, in], as nn.Linear
    b = rng.standard_normal(1024, dtype=np.float32)
    x64, w64, b64 = _f64(x, w, b)
    return [x, w, b], np.maximum(x64 @ w64.T + b64, 0.0), 1e-5


def _elementwise_chain(rng):
    x = rng.standard_normal((1024, 1024), dtype=np.float32)
    res = rng.standard_normal((1024, 1024), dtype=np.float32)
    scale = rng.standard_normal(1024, dtype=np.float32)
    shift = rng.standard_normal((1024, 1), dtype=np.float32)
    alpha = np.asarray(rng.uniform(0.5, 2.0), dtype=np.float32)
    x64, r64, s64, sh64 = _f64(x, res, scale, shift)
    y = np.minimum(np.maximum(x64 * s64 + sh64 + r64, 0.0) * float(alpha), 6.0) - 0.5 * x64
    return [x, res, scale, shift, alpha], y, 1e-6


def _layer_norm(rng):
    x = rng.standard_normal((2048, 1024), dtype=np.float32)
    g = rng.standard_normal(1024, dtype=np.float32)
    b = rng.standard_normal(1024, dtype=np.float32)
    x64, g64, b64 = _f64(x, g, b)
    mean = x64.mean(-1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(-1, keepdims=True)
    return [x, g, b], (x64 - mean) / np.sqrt(var + 1e-5) * g64 + b64, 2e-5


def _scores(rng):
    q = rng.standard_normal((8, 512, 64), dtype=np.float32)
    k = rng.standard_normal((8, 64, 512), dtype=np.float32)
    return [q, k], np.matmul(*_f64(q, k)), 1e-5


def _attention(rng):
    """examples/patterns/attention.mlir (projections + the Attention kernel),
    checked as in test_pattern_attention.py."""
    from test_pattern_attention import reference
    s, e, h = 512, 512, 8
    d = e // h
    x = rng.standard_normal((1, s, e)).astype(np.float32)
    params = [(rng.uniform(-1, 1, shape) / np.sqrt(e)).astype(np.float32)
              for _ in range(4) for shape in ((e, e), (e,))]
    mask = np.where(np.tri(s, dtype=bool), 0.0, -np.inf).astype(np.float32)
    wq, bq, wk, bk, wv, bv, wo, bo = _f64(*params)
    x2 = x[0].astype(np.float64)

    def heads(t):
        return t.reshape(s, h, d).transpose(1, 0, 2)[None]

    out, _ = reference(heads(x2 @ wq.T + bq), heads(x2 @ wk.T + bk), heads(x2 @ wv.T + bv),
                       mask)
    want = (out[0].transpose(1, 0, 2).reshape(s, e) @ wo.T + bo)[None]
    return [x, *params, mask], want, 1e-4   # test_pattern_attention.py's bound


CASES = {
    "linear_bias_relu": (EXAMPLES / "linear_bias_relu.mlir", "forward", _linear_bias_relu),
    "elementwise_chain": (EXAMPLES / "elementwise_chain.mlir", "forward", _elementwise_chain),
    "layer_norm": (EXAMPLES / "layer_norm.mlir", "forward", _layer_norm),
    "attention": (EXAMPLES / "attention.mlir", "forward", _attention),
    "batch_matmul": (BMM, "scores", _scores),
}


def _source(src):
    return src.read_text() if isinstance(src, Path) else src


def _with_threads(monkeypatch, threads: str | None) -> None:
    if threads is None:
        monkeypatch.delenv("AXFUSION_THREADS", raising=False)
    else:
        monkeypatch.setenv("AXFUSION_THREADS", threads)


@pytest.mark.parametrize("threads", ["0", "2", "1"], ids=["all", "two", "serial"])
@pytest.mark.parametrize("case", list(CASES))
def test_numbers(rng, monkeypatch, case, threads):
    src, entry, make = CASES[case]
    _with_threads(monkeypatch, threads)
    module = axfusion.compile(_source(src), "cpu")
    for _ in range(2):   # the runtime's worker threads are reused across calls
        args, want, bound = make(rng)
        assert_close(module[entry](*args), want, bound, case)


@pytest.mark.parametrize("threads", ["0", "1"], ids=["all", "serial"])
def test_dynamic_batch(rng, monkeypatch, threads):
    """One kernel for every batch size: a single row runs inline, a big batch
    on the workers."""
    _with_threads(monkeypatch, threads)
    module = axfusion.compile(DYNAMIC, "cpu")
    for rows in (1, 7, 64, 513):
        x = rng.standard_normal((rows, 256), dtype=np.float32)
        w = rng.standard_normal((256, 384), dtype=np.float32)
        b = rng.standard_normal(384, dtype=np.float32)
        x64, w64, b64 = _f64(x, w, b)
        assert_close(module.forward(x, w, b), np.maximum(x64 @ w64 + b64, 0.0), 1e-5,
                     f"{rows} rows")


@pytest.mark.parametrize("case", ["linear_bias_relu", "elementwise_chain", "layer_norm",
                                  "attention"])
def test_runtime_calls_in_llvm_ir(monkeypatch, case):
    src = _source(CASES[case][0])
    _with_threads(monkeypatch, "0")
    assert RUNTIME_CALL in axfusion.emit(src, "llvm-ir")
    _with_threads(monkeypatch, "1")
    serial = axfusion.emit(src, "llvm-ir")
    assert "mlirAsyncRuntime" not in serial


def test_runtime_calls_in_asm(monkeypatch):
    _with_threads(monkeypatch, "2")
    asm = axfusion.emit(DYNAMIC, "asm")
    assert "mlirAsyncRuntimeExecute" in asm
    _with_threads(monkeypatch, "1")
    assert "mlirAsyncRuntime" not in axfusion.emit(DYNAMIC, "asm")


def test_small_problem_stays_serial(monkeypatch, rng):
    """A 16 x 32 add is less work than waking a worker: no runtime call."""
    _with_threads(monkeypatch, "0")
    assert "mlirAsyncRuntime" not in axfusion.emit(SMALL, "llvm-ir")
    a, b = (rng.standard_normal((16, 32), dtype=np.float32) for _ in range(2))
    assert_close(axfusion.compile(SMALL, "cpu").add(a, b), _f64(a)[0] + b, 1e-7)


def test_threads_in_cache_key(monkeypatch):
    """AXFUSION_THREADS changes the generated code, so it is a target option
    and part of the pipeline fingerprint; the reference build stays serial."""
    backend = cpu.CpuBackend
    _with_threads(monkeypatch, "1")
    serial = backend.default_options()
    _with_threads(monkeypatch, "4")
    four = backend.default_options()
    assert (serial.threads, four.threads) == (1, 4)
    assert backend.default_options(optimize=False).threads == 1
    cc = config.load().cc
    prints = {backend.pipeline_fingerprint(o, cc) for o in (serial, four)}
    _with_threads(monkeypatch, "0")
    prints.add(backend.pipeline_fingerprint(backend.default_options(), cc))
    assert len(prints) == 3
    _with_threads(monkeypatch, None)          # the default is serial code
    assert backend.default_options().threads == 1
    assert cpu.CpuOptions.from_json(four.to_json()) == four


def test_bad_thread_count(monkeypatch):
    monkeypatch.setenv("AXFUSION_THREADS", "many")
    with pytest.raises(axfusion.AxfusionError, match="AXFUSION_THREADS"):
        config.load()


def test_missing_runtime_falls_back(monkeypatch, rng):
    """Without the runtime library the default build is serial, with a warning."""
    monkeypatch.setattr(cpu, "async_runtime", lambda: None)
    _with_threads(monkeypatch, "0")
    with pytest.warns(RuntimeWarning, match="async runtime"):
        options = cpu.CpuBackend.default_options()
    assert options.threads == 1
    with pytest.raises(axfusion.ToolchainError, match="AXFUSION_THREADS=1"):
        cpu.LinkStage("cc", "", threads=0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_forked_child_runs_serially(rng, monkeypatch):
    """A child forked after the parent ran a parallel loop inherits the async
    runtime's pool without its threads: its loops must run serially (the
    exported ``__axf_parallel`` flag), not wait forever."""
    _with_threads(monkeypatch, "0")
    src, entry, make = CASES["linear_bias_relu"]
    module = axfusion.compile(_source(src), "cpu")
    args, want, bound = make(rng)
    assert_close(module[entry](*args), want, bound, "parent")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: report the error through the pipe, never raise
        code = 1
        try:
            from conftest import rel_error
            signal.alarm(60)
            err = rel_error(module[entry](*args), want)
            os.write(write, repr(float(err)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    text = os.read(read, 100).decode()
    os.close(read)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"child status {status}"
    assert float(text) <= bound
