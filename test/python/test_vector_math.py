"""Math functions in loops vectorise through glibc's libmvec.

An exp/tanh/erf/log chain is compiled (float32 and float64, sizes that leave
a scalar remainder) and checked (a) against a float64 numpy reference on
fresh random inputs, with libmvec's 4-ulp accuracy well inside the bounds,
and (b) with FileCheck on the emitted assembly: where the host has libmvec
and AVX2 + FMA (``CpuOptions.vector_math``), the loop calls the 256- or
512-bit variants (``_ZGVdN8v_expf``, ``_ZGVeN16v_erff``...); with
``AXFUSION_VECTOR_MATH=0`` it calls scalar libm only. The tests of (b) skip
with a reason on hosts without vector math.
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_close, compile_ir

import axfusion
from axfusion import config, host, tools
from axfusion.targets.cpu import (CpuBackend, CpuOptions, VectorMathStage, add_vector_variants,
                                  choose_vector_math)

# y = erf(x) + tanh(x) / 2 + log(exp(x) + 1) / 4, element-wise on [37, 53]:
# 53 is not a multiple of any vector width, so the scalar remainder runs too.
CHAIN = """
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @forward(%x: tensor<37x53xT>) -> tensor<37x53xT> {
  %one = arith.constant 1.0 : T
  %half = arith.constant 0.5 : T
  %quarter = arith.constant 0.25 : T
  %init = tensor.empty() : tensor<37x53xT>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<37x53xT>) outs(%init : tensor<37x53xT>) {
  ^bb0(%a: T, %o: T):
    %f = math.erf %a : T
    %t = math.tanh %a : T
    %e = math.exp %a : T
    %e1 = arith.addf %e, %one : T
    %l = math.log %e1 : T
    %th = arith.mulf %t, %half : T
    %lq = arith.mulf %l, %quarter : T
    %s = arith.addf %f, %th : T
    %r = arith.addf %s, %lq : T
    linalg.yield %r : T
  } -> tensor<37x53xT>
  return %y : tensor<37x53xT>
}
"""

DTYPES = {"f32": (np.float32, 1e-5), "f64": (np.float64, 1e-12)}
_erf = np.vectorize(math.erf, otypes=[np.float64])


def chain(dtype: str) -> str:
    return CHAIN.replace("xT>", f"x{dtype}>").replace(": T", f": {dtype}")


def reference(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return _erf(x) + np.tanh(x) / 2 + np.log(np.exp(x) + 1) / 4


def host_vector_math() -> str:
    """What ``CpuOptions.for_host`` picks here with the knob left on."""
    return choose_vector_math(tuple(host.cpu_features()), config.load().cc)


needs_vector_math = pytest.mark.skipif(
    host_vector_math() != "libmvec",
    reason="no vector math on this host: libmvec missing (or older than glibc 2.35, "
           "without tanh and erf) or the CPU lacks AVX2 + FMA")


def filecheck(text: str, checks: str) -> None:
    """FileCheck ``text`` (the input) against ``checks`` (the check file)."""
    with tempfile.TemporaryDirectory() as tmp:
        check_file = Path(tmp) / "checks.txt"
        check_file.write_text(checks)
        proc = subprocess.run([tools.find("FileCheck"), str(check_file)], input=text.encode(),
                              capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("vector_math", ["on", "off"])
def test_chain_matches_numpy(dtype, vector_math, rng, monkeypatch):
    monkeypatch.setenv("AXFUSION_VECTOR_MATH", "1" if vector_math == "on" else "0")
    np_type, bound = DTYPES[dtype]
    module = compile_ir(chain(dtype))
    for _ in range(2):   # fresh inputs each time, over exp's and tanh's interesting range
        x = rng.uniform(-6.0, 6.0, size=(37, 53)).astype(np_type)
        assert_close(module["forward"](x), reference(x), bound, f"{dtype} chain")


@needs_vector_math
@pytest.mark.parametrize("dtype, lanes", [("f32", "(8|16)"), ("f64", "(4|8)")])
def test_chain_calls_vector_variants(dtype, lanes, monkeypatch):
    monkeypatch.delenv("AXFUSION_VECTOR_MATH", raising=False)
    asm = axfusion.emit(chain(dtype), "asm")
    f = "f" if dtype == "f32" else ""
    # erf is a libm call (math.erf has no intrinsic) and tanh an llvm.tanh
    # intrinsic: neither is in LLVM's LIBMVEC table, the vector-math stage
    # names their variants; exp and log come from the table.
    filecheck(asm, "\n".join(
        ["CHECK-LABEL: forward:"] +
        [f"CHECK-DAG: call{{{{q?}}}} {{{{_ZGV[de]N{lanes}v_{fn}{f}(@PLT)?$}}}}"
         for fn in ("erf", "tanh", "exp", "log")] + [""]))


def test_off_calls_scalar_libm(monkeypatch):
    monkeypatch.setenv("AXFUSION_VECTOR_MATH", "0")
    assert CpuOptions.for_host().vector_math == ""
    asm = axfusion.emit(chain("f32"), "asm")
    assert "_ZGV" not in asm
    filecheck(asm, "CHECK-LABEL: forward:\nCHECK: call{{q?}} erff\n")


@needs_vector_math
def test_vector_math_is_in_cache_key_and_repros(monkeypatch):
    monkeypatch.delenv("AXFUSION_VECTOR_MATH", raising=False)
    on = CpuOptions.for_host()
    off = CpuOptions(on.cpu, on.features, fusion=on.fusion)
    assert CpuOptions.from_json(on.to_json()) == on
    assert CpuBackend.pipeline_fingerprint(on, "cc") != CpuBackend.pipeline_fingerprint(off, "cc")
    stages = {s.name: s for s in CpuBackend.stages(on, "cc")}
    assert "-vector-library=LIBMVEC" in stages["llvm-opt"].repro("in.ll")
    assert "-vector-library=LIBMVEC" in stages["codegen"].repro("in.ll")
    assert "-lmvec" in stages["link"].repro("in.o").split()
    assert "vector-math" not in {s.name for s in CpuBackend.stages(off, "cc")}


def test_vector_math_stage_repro_reproduces(tmp_path):
    """The vector-math stage's repro command prints what the stage writes."""
    ll = tmp_path / "in.ll"
    ll.write_text(
        "declare float @erff(float)\n"
        "define float @f(float %x) {\n  %y = call float @erff(float %x)\n  ret float %y\n}\n")
    options = CpuOptions("x86-64-v3", ("avx", "avx2", "fma"), vector_math="libmvec")
    stage = VectorMathStage(options)
    command = stage.repro(str(ll)).replace("python ", f"{sys.executable} ", 1)
    out = subprocess.run(command, shell=True, capture_output=True, text=True, check=True).stdout
    assert out == add_vector_variants(ll.read_text(), "bd")
    assert '"vector-function-abi-variant"="_ZGV_LLVM_N4v_erff(_ZGVbN4v_erff),' \
           '_ZGV_LLVM_N8v_erff(_ZGVdN8v_erff)"' in out
