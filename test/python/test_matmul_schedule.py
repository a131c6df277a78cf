"""The matmul micro-kernel (passes/matmul_schedule.py), end to end.

Matmuls whose sizes the register block (8 x 32 with AVX-512, 6 x 16 with
AVX2) and the K block do not divide, from a single row to a few tiles: alone
(unfused, ``axf-contraction-loop-order``) and as LinearBiasRelu groups (the
matmul inside the epilogue's tile loop), with a dynamic batch size, as batch
matmuls, and once more built for an AVX2-only CPU (other register blocks,
and ``llc`` without AVX-512). Results are compared with numpy float64 on
fresh random inputs; bound 1e-5 relative (max |err| / max |want|: float32
rounding of dot products of up to K = 300 terms).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_close, compile_ir

import axfusion
from axfusion import host
from axfusion.passes import matmul_schedule

BOUND = 1e-5
# (M, K, N): one row; all smaller than a block; partial blocks in M, N and K
# (K = 300 > the 256 K block); exact blocks.
SIZES = [(1, 37, 50), (7, 13, 17), (65, 300, 129), (128, 64, 256)]


def _linear(name: str, m, k: int, n: int, relu: bool) -> str:
    """``x @ w`` (``relu``: ``+ bias``, then ReLU, as separate generics the
    way torch-mlir writes them); ``m`` may be ``?``."""
    dyn = m == "?"
    x_ty, w_ty, y_ty = f"tensor<{m}x{k}xf32>", f"tensor<{k}x{n}xf32>", f"tensor<{m}x{n}xf32>"
    args = f"%x: {x_ty}, %w: {w_ty}" + (f", %b: tensor<{n}xf32>" if relu else "")
    empty = ("%c0 = arith.constant 0 : index\n  %m = tensor.dim %x, %c0 : " + x_ty +
             f"\n  %e = tensor.empty(%m) : {y_ty}") if dyn else f"%e = tensor.empty() : {y_ty}"
    body = f"""
func.func @{name}({args}) -> {y_ty} {{
  %zero = arith.constant 0.0 : f32
  {empty}
  %acc = linalg.fill ins(%zero : f32) outs(%e : {y_ty}) -> {y_ty}
  %mm = linalg.matmul ins(%x, %w : {x_ty}, {w_ty}) outs(%acc : {y_ty}) -> {y_ty}
"""
    if not relu:
        return body + f"  return %mm : {y_ty}\n}}\n"
    return body + f"""  %biased = linalg.generic {{indexing_maps = [#id, #bias, #id],
      iterator_types = ["parallel", "parallel"]}}
      ins(%mm, %b : {y_ty}, tensor<{n}xf32>) outs(%e : {y_ty}) {{
  ^bb0(%v: f32, %bv: f32, %o: f32):
    %s = arith.addf %v, %bv : f32
    linalg.yield %s : f32
  }} -> {y_ty}
  %r = linalg.generic {{indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%biased : {y_ty}) outs(%e : {y_ty}) {{
  ^bb0(%v: f32, %o: f32):
    %p = arith.cmpf ugt, %v, %zero : f32
    %q = arith.select %p, %v, %zero : f32
    linalg.yield %q : f32
  }} -> {y_ty}
  return %r : {y_ty}
}}
"""


HEADER = """#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
"""


def _cases(m_override=None):
    for m, k, n in SIZES:
        for relu in (False, True):
            name = f"mm_{m}x{k}x{n}" + ("_relu" if relu else "")
            yield name, (m, k, n), relu, _linear(name, m_override or m, k, n, relu)


def _reference(x, w, b=None):
    y = np.asarray(x, np.float64) @ np.asarray(w, np.float64)
    return y if b is None else np.maximum(y + b, 0.0)


def _check(module, cases, rng, rows=None):
    for name, (m, k, n), relu, _ in cases:
        m = rows or m
        x = rng.standard_normal((m, k), dtype=np.float32)
        w = rng.standard_normal((k, n), dtype=np.float32)
        args = [x, w] + ([rng.standard_normal(n, dtype=np.float32)] if relu else [])
        assert_close(module[name](*args), _reference(*args), BOUND, name)


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
def test_awkward_sizes(rng, fused):
    cases = list(_cases())
    module = compile_ir(HEADER + "".join(c[3] for c in cases),
                        patterns=None if fused else [])
    groups = [g.pattern for g in module.detected_patterns()]
    assert groups == (["LinearBiasRelu"] * len(SIZES) if fused else [])
    _check(module, cases, rng)


def test_dynamic_rows(rng):
    """A dynamic M: the row loops are peeled at run time, the remainder
    masked; the same kernel for every batch size."""
    cases = [c for c in _cases(m_override="?") if c[1][1:] in ((300, 129), (13, 17))]
    module = compile_ir(HEADER + "".join(c[3] for c in cases))
    for rows in (1, 8, 9, 70):
        _check(module, cases, rng, rows=rows)


BATCH = """
func.func @bmm(%a: tensor<3x37x300xf32>, %b: tensor<3x300x45xf32>) -> tensor<3x37x45xf32> {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x37x45xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<3x37x45xf32>) -> tensor<3x37x45xf32>
  %r = linalg.batch_matmul ins(%a, %b : tensor<3x37x300xf32>, tensor<3x300x45xf32>)
      outs(%acc : tensor<3x37x45xf32>) -> tensor<3x37x45xf32>
  return %r : tensor<3x37x45xf32>
}
"""


def test_batch_matmul(rng):
    module = compile_ir(BATCH)
    a = rng.standard_normal((3, 37, 300), dtype=np.float32)
    b = rng.standard_normal((3, 300, 45), dtype=np.float32)
    assert_close(module["bmm"](a, b), np.asarray(a, np.float64) @ b, BOUND)


def test_avx2_build(rng, monkeypatch):
    """The AVX2 kernel (6 x 16), built for a CPU without AVX-512: the
    feature set decides both the register block and ``llc``'s -mattr."""
    features = host.cpu_features()
    if "avx2" not in features or "fma" not in features:
        pytest.skip("host has no AVX2 + FMA")
    avx2 = frozenset(f for f in features if not f.startswith("avx512"))
    monkeypatch.setenv("AXFUSION_IN_PROCESS", "1")
    monkeypatch.setattr(host, "cpu_features", lambda: avx2)
    assert matmul_schedule.host_kernel() == matmul_schedule.kernel_for(avx2)
    cases = [c for c in _cases() if c[1] == (65, 300, 129)]
    module = compile_ir(HEADER + "".join(c[3] for c in cases), cache=False)
    assert not any(f.startswith("avx512") for f in module.manifest["target"]["features"])
    _check(module, cases, rng)


def test_kernel_follows_vector_registers():
    """Register blocks fill the vector registers: rows x cols/lanes
    accumulators, leaving room for B's vectors and A's broadcast."""
    for features, lanes, registers in (({"avx512f", "avx2", "fma"}, 16, 32),
                                       ({"avx2", "fma", "avx"}, 8, 16),
                                       ({"sse2"}, 4, 16)):
        kernel = matmul_schedule.kernel_for(features)
        assert kernel.cols % lanes == 0
        accumulators = kernel.rows * kernel.cols // lanes
        assert accumulators + kernel.cols // lanes + 1 <= registers
        assert kernel.tile[0] % kernel.rows == 0 and kernel.tile[1] % kernel.cols == 0
