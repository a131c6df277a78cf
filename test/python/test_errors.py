"""Bad input gets a clear error of the right class, never a crash:
CompileError (bad IR), ArgumentError (bad call), ToolchainError (a missing
tool), TargetError (an artifact for another CPU), and an MLIR assertion abort
in the compile worker (a CompileError naming the stage)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import axfusion
from conftest import compile_ir

# -- CompileError -------------------------------------------------------------

MALFORMED = """\
func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = linalg.abs ins(%x : tensor<4xf32) outs(%x : tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}
"""


def _compile_error(source, **kwargs) -> axfusion.CompileError:
    with pytest.raises(axfusion.CompileError) as info:
        axfusion.compile(source, **kwargs)
    return info.value


def test_malformed_ir_file_names_file_line_col(tmp_path):
    path = tmp_path / "broken.mlir"
    path.write_text(MALFORMED)
    err = _compile_error(path)
    assert err.stage == "import"
    # The parser stops at the ')' that should have been '>' (line 2, col 40).
    assert re.search(rf"{re.escape(str(path))}:2:40: error: expected '>'", str(err)), str(err)
    assert err.repro and "axfusion-opt" in err.repro


def test_malformed_ir_string_has_line_col():
    err = _compile_error(MALFORMED)
    assert re.search(r"<input>:2:40: error: expected '>'", str(err)), str(err)
    # The text was saved so the repro command has a file to run on.
    assert err.saved_ir and open(err.saved_ir).read() == MALFORMED


@pytest.mark.parametrize("body,op", [
    ("%y = tosa.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>", "tosa.add"),
    ("%m = memref.alloc() : memref<4xf32>\n"
     "  %y = bufferization.to_tensor %m : memref<4xf32> to tensor<4xf32>", "memref.alloc"),
], ids=["tosa", "memref-op"])
def test_unsupported_op(body, op, tmp_path):
    path = tmp_path / "model.mlir"
    path.write_text(f"func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {{\n  {body}\n"
                    "  return %y : tensor<4xf32>\n}\n")
    err = _compile_error(path)
    assert err.stage == "import"
    assert f"unsupported op '{op}'" in str(err)
    assert f"{path}:2:" in str(err), str(err)


def test_memref_at_the_boundary(tmp_path):
    path = tmp_path / "model.mlir"
    path.write_text("func.func @forward(%x: memref<4xf32>, %y: memref<4xf32>) {\n"
                    "  memref.copy %x, %y : memref<4xf32> to memref<4xf32>\n  return\n}\n")
    err = _compile_error(path)
    text = str(err)
    assert "entry point @forward argument 0: type memref<4xf32> is not a ranked tensor" in text
    assert f"{path}:1:1: error:" in text
    assert f"{path}:2:3: error: unsupported op 'memref.copy'" in text


def test_verifier_failure(tmp_path):
    # Parses, but linalg.matmul's verifier rejects the operand shapes.
    path = tmp_path / "model.mlir"
    path.write_text(textwrap.dedent("""\
        func.func @forward(%a: tensor<4x5xf32>, %b: tensor<6x7xf32>) -> tensor<4x7xf32> {
          %init = tensor.empty() : tensor<4x7xf32>
          %c = linalg.matmul ins(%a, %b : tensor<4x5xf32>, tensor<6x7xf32>) outs(%init : tensor<4x7xf32>) -> tensor<4x7xf32>
          return %c : tensor<4x7xf32>
        }
        """))
    err = _compile_error(path)
    assert err.stage == "import"
    where = re.escape(str(path))
    assert re.search(rf"{where}:3:\d+: error: 'linalg.matmul' op", str(err)), str(err)


def test_no_entry_point():
    err = _compile_error("func.func private @helper(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
                         "  return %x : tensor<4xf32>\n}\n")
    assert err.stage == "import"
    assert "no entry point" in str(err)


def test_external_function_refused(tmp_path):
    path = tmp_path / "model.mlir"
    path.write_text("func.func private @ext(tensor<4xf32>) -> tensor<4xf32>\n"
                    "func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
                    "  %y = func.call @ext(%x) : (tensor<4xf32>) -> tensor<4xf32>\n"
                    "  return %y : tensor<4xf32>\n}\n")
    err = _compile_error(path)
    assert "external function @ext has no body" in str(err)
    assert f"{path}:1:1:" in str(err)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.mlir"
    err = _compile_error(missing)
    assert "no such MLIR file" in str(err) and str(missing) in str(err)
    err = _compile_error(str(missing))
    assert str(missing) in str(err)


def test_unknown_source_kind():
    err = _compile_error(12345)
    assert "cannot compile a int" in str(err)


def test_unknown_target():
    with pytest.raises(axfusion.CompileError, match="unknown target 'tpu'"):
        compile_ir(MALFORMED.replace("tensor<4xf32)", "tensor<4xf32>"), target="tpu")


# -- ArgumentError -------------------------------------------------------------

TWO_FUNCTIONS = """
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @add(%x: tensor<4x3xf32>, %y: tensor<4x3xf32>) -> tensor<4x3xf32> {
  %init = tensor.empty() : tensor<4x3xf32>
  %z = linalg.add ins(%x, %y : tensor<4x3xf32>, tensor<4x3xf32>) outs(%init : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %z : tensor<4x3xf32>
}
func.func @both(%x: tensor<4x3xf32>, %y: tensor<4x3xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>) {
  %init = tensor.empty() : tensor<4x3xf32>
  %s = linalg.add ins(%x, %y : tensor<4x3xf32>, tensor<4x3xf32>) outs(%init : tensor<4x3xf32>) -> tensor<4x3xf32>
  %d = linalg.sub ins(%x, %y : tensor<4x3xf32>, tensor<4x3xf32>) outs(%init : tensor<4x3xf32>) -> tensor<4x3xf32>
  return %s, %d : tensor<4x3xf32>, tensor<4x3xf32>
}
"""


@pytest.fixture(scope="module")
def mod():
    return compile_ir(TWO_FUNCTIONS)


@pytest.fixture
def xy(rng):
    return (rng.standard_normal((4, 3)).astype(np.float32),
            rng.standard_normal((4, 3)).astype(np.float32))


def _argument_error(fn, *args, **kwargs) -> str:
    with pytest.raises(axfusion.ArgumentError) as info:
        fn(*args, **kwargs)
    assert isinstance(info.value, ValueError)  # also a ValueError, as numpy users expect
    return str(info.value)


def test_wrong_argument_count(mod, xy):
    msg = _argument_error(mod.add, xy[0])
    assert "takes 2 arguments, got 1" in msg
    msg = _argument_error(mod.add, *xy, xy[0])
    assert "takes 2 arguments, got 3" in msg


def test_wrong_shape(mod, xy):
    msg = _argument_error(mod.add, xy[0], xy[1].reshape(3, 4))
    assert "argument 1" in msg and "expected shape [4, 3], got [3, 4]" in msg


def test_wrong_rank(mod, xy):
    msg = _argument_error(mod.add, xy[0].reshape(12), xy[1])
    assert "argument 0" in msg and "expected rank 2" in msg and "rank 1" in msg


def test_wrong_dtype(mod, xy):
    msg = _argument_error(mod.add, xy[0].astype(np.float64), xy[1])
    assert "argument 0" in msg and "expected dtype float32, got float64" in msg


def test_unconvertible_argument(mod, xy):
    msg = _argument_error(mod.add, "not an array", xy[1])
    assert "argument 0" in msg and "cannot convert str" in msg


def test_out_wrong_shape(mod, xy):
    msg = _argument_error(mod.add, *xy, out=np.empty((3, 4), np.float32))
    assert "out[0]" in msg and "[4, 3]" in msg


def test_out_wrong_dtype(mod, xy):
    msg = _argument_error(mod.add, *xy, out=np.empty((4, 3), np.float64))
    assert "out[0]" in msg and "float32" in msg


def test_out_non_contiguous(mod, xy):
    out = np.empty((4, 6), np.float32)[:, ::2]
    msg = _argument_error(mod.add, *xy, out=out)
    assert "out[0]" in msg and "C-contiguous" in msg


def test_out_read_only(mod, xy):
    out = np.empty((4, 3), np.float32)
    out.setflags(write=False)
    msg = _argument_error(mod.add, *xy, out=out)
    assert "out[0]" in msg and "writeable" in msg


def test_out_is_an_input(mod, xy):
    msg = _argument_error(mod.add, *xy, out=xy[1])
    assert "out[0] overlaps argument 1" in msg


def test_out_partially_overlaps_an_input(mod, rng):
    buf = rng.standard_normal(24).astype(np.float32)
    x, out = buf[:12].reshape(4, 3), buf[6:18].reshape(4, 3)
    before = buf.copy()
    msg = _argument_error(mod.add, x, x.copy(), out=out)
    assert "out[0] overlaps argument 0" in msg
    np.testing.assert_array_equal(buf, before)   # nothing was written


def test_out_wrong_count_and_type(mod, xy):
    msg = _argument_error(mod.both, *xy, out=np.empty((4, 3), np.float32))
    assert "needs 2 array(s), got 1" in msg
    msg = _argument_error(mod.both, *xy, out=(np.empty((4, 3), np.float32), [[0.0] * 3] * 4))
    assert "out[1]" in msg and "expected a numpy array, got list" in msg


def test_outs_overlap_each_other(mod, xy):
    out = np.empty((4, 3), np.float32)
    msg = _argument_error(mod.both, *xy, out=(out, out))
    assert "out[1] overlaps out[0]" in msg


def test_function_still_works_after_argument_errors(mod, xy):
    for bad in ((xy[0],), (xy[0], xy[1].T), (xy[0].astype(np.int32), xy[1])):
        with pytest.raises(axfusion.ArgumentError):
            mod.add(*bad)
    np.testing.assert_array_equal(mod.add(*xy), xy[0] + xy[1])


# -- ToolchainError ------------------------------------------------------------

ADD = TWO_FUNCTIONS.split("func.func @both")[0]


@pytest.mark.parametrize("how", ["cache=False", "AXFUSION_NO_CACHE=1"])
def test_missing_c_compiler(how, monkeypatch):
    monkeypatch.setenv("AXFUSION_CC", "/nonexistent/cc")
    kwargs = {}
    if how == "cache=False":
        kwargs["cache"] = False
    else:
        monkeypatch.setenv("AXFUSION_NO_CACHE", "1")
    with pytest.raises(axfusion.ToolchainError) as info:
        compile_ir(ADD, **kwargs)
    err = info.value
    assert err.command and err.command[0] == "/nonexistent/cc"
    assert "linking the shared object" in str(err) and "/nonexistent/cc" in str(err)


def test_c_compiler_not_on_path(monkeypatch):
    monkeypatch.setenv("AXFUSION_CC", "axfusion-no-such-cc")
    with pytest.raises(axfusion.ToolchainError, match="tool 'axfusion-no-such-cc' not found"):
        compile_ir(ADD, cache=False)


# -- TargetError ---------------------------------------------------------------

def _artifact_with_features(tmp_path, features):
    out = axfusion.compile_to(ADD, tmp_path / "artifact")
    axfusion.load(out)  # loads as built
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["target"]["features"] = sorted(set(manifest["target"]["features"]) | set(features))
    manifest_path.write_text(json.dumps(manifest))
    return out


def test_artifact_needs_a_missing_cpu_feature(tmp_path):
    out = _artifact_with_features(tmp_path, ["amx-fp8"])
    with pytest.raises(axfusion.TargetError) as info:
        axfusion.load(out)
    msg = str(info.value)
    assert "amx-fp8" in msg and "recompile it on this machine" in msg


def test_artifact_needs_a_tracked_feature_this_host_lacks(tmp_path):
    from axfusion import host
    lacking = [f for f in host.known_features() if f not in host.cpu_features()]
    if not lacking:
        pytest.skip("this CPU has every feature axfusion tracks")
    out = _artifact_with_features(tmp_path, lacking[:1])
    with pytest.raises(axfusion.TargetError, match=re.escape(lacking[0])):
        axfusion.load(out)


def test_artifact_needs_libmvec_this_machine_lacks(tmp_path, monkeypatch):
    """An artifact that calls libmvec, loaded where the loader cannot find
    it: a TargetError saying so, not an OSError from ctypes."""
    from axfusion.targets import cpu
    out = axfusion.compile_to(ADD, tmp_path / "artifact")
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["target"]["vector_math"] = cpu.LIBMVEC
    manifest_path.write_text(json.dumps(manifest))
    monkeypatch.setattr(cpu, "libmvec_loadable", lambda: False)
    with pytest.raises(axfusion.TargetError, match=r"libmvec\.so\.1.*AXFUSION_VECTOR_MATH=0"):
        axfusion.load(out)
    monkeypatch.undo()
    if cpu.libmvec_loadable():
        assert axfusion.load(out).functions      # where it is present, it loads


# -- an MLIR assertion in the compile worker -----------------------------------

# An i1 tensor between two linalg.generic ops: arith.cmpf writes it,
# arith.select reads it. Bufferized, it is a memref<...xi1>, and the pinned
# MLIR 22 wheel's finalize-memref-to-llvm asserts
# `integralElementType.getWidth() >= 8` on its memref.store: the worker
# process aborts with SIGABRT in the 'lower' stage.
I1_INTERMEDIATE = """
#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @forward(%x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %m_init = tensor.empty() : tensor<4x8xi1>
  %m = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x, %y : tensor<4x8xf32>, tensor<4x8xf32>) outs(%m_init : tensor<4x8xi1>) {
  ^bb0(%a: f32, %b: f32, %o: i1):
    %c = arith.cmpf ogt, %a, %b : f32
    linalg.yield %c : i1
  } -> tensor<4x8xi1>
  %init = tensor.empty() : tensor<4x8xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%m, %x, %y : tensor<4x8xi1>, tensor<4x8xf32>, tensor<4x8xf32>) outs(%init : tensor<4x8xf32>) {
  ^bb0(%c: i1, %a: f32, %b: f32, %o: f32):
    %s = arith.select %c, %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<4x8xf32>
  return %r : tensor<4x8xf32>
}
"""

# MLIR 22's memref.store lowering asserts on i1 elements; the
# axf-widen-i1-memrefs pass avoids that, so to see a real upstream assertion
# the worker here runs the CPU lowering without it.
_ASSERTING_WORKER = """
import sys
from axfusion.passes.registry import PIPELINES
description, elements = PIPELINES["axf-lower-to-llvm"]
PIPELINES["axf-lower-to-llvm"] = (
    description, tuple(e for e in elements if e != "axf-widen-i1-memrefs"))
from axfusion.worker import main
sys.exit(main(sys.argv[1:]))
"""

# Runs in a child interpreter so that, should the worker shield ever break,
# the abort takes down that child (a test failure), not the pytest process.
_CALLER = """
import json, subprocess, sys, axfusion
real_run = subprocess.run
def run(command, *args, **kwargs):
    if command[1:3] == ["-m", "axfusion.worker"]:
        command = [command[0], "-c", WORKER, *command[3:]]
    return real_run(command, *args, **kwargs)
subprocess.run = run
try:
    axfusion.compile(sys.stdin.read(), cache=False)
    print(json.dumps({"compiled": True}))
except axfusion.CompileError as exc:
    print(json.dumps(exc.to_json()))
print("caller still alive")
"""


def test_mlir_assertion_in_worker_becomes_compile_error():
    caller = f"WORKER = {_ASSERTING_WORKER!r}\n" + _CALLER
    proc = subprocess.run([sys.executable, "-c", caller], input=I1_INTERMEDIATE,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"the calling process died ({proc.returncode}):\n{proc.stderr}"
    lines = proc.stdout.splitlines()
    assert lines[-1] == "caller still alive"
    error = json.loads(lines[-2])
    assert error.get("kind") == "CompileError", error
    assert error["stage"] == "lower"
    assert "SIGABRT" in error["message"] and "stage 'lower'" in error["message"]
    # The assertion text from the worker's stderr is carried along.
    assert any("integralElementType.getWidth() >= 8" in d for d in error["diagnostics"]), error
    # The input of the failing stage was kept, and the repro command runs on it.
    assert error["saved_ir"] and error["saved_ir"].endswith("-lower.input.mlir")
    with open(error["saved_ir"]) as f:
        assert "memref<4x8xi1>" in f.read()
    assert error["repro"] == f"axfusion-opt --axf-lower-to-llvm {error['saved_ir']}"


def test_i1_intermediates_compile(rng):
    """The same IR compiles with the full pipeline (i1 buffers stored as i8)."""
    mod = compile_ir(I1_INTERMEDIATE)
    x, y = (rng.standard_normal((4, 8)).astype(np.float32) for _ in range(2))
    np.testing.assert_array_equal(mod.forward(x, y), np.where(x > y, x, y))


def test_worker_killed_by_signal_is_a_compile_error(monkeypatch):
    """Any death of the worker, not only SIGABRT, becomes a CompileError
    naming the last stage it reported. The worker here is the real one,
    started through a wrapper that makes it SIGKILL itself as soon as it
    reports the 'bufferize' stage (no hook in the library)."""
    monkeypatch.setattr(subprocess, "run", _run_with_kill_on("bufferize"))
    with pytest.raises(axfusion.CompileError) as info:
        compile_ir(ADD.replace("4x3", "4x5"), cache=False)
    err = info.value
    assert err.stage == "bufferize"
    assert "killed by SIGKILL in stage 'bufferize'" in str(err)
    assert err.saved_ir and err.saved_ir.endswith("-bufferize.input.mlir")
    assert err.repro == f"axfusion-opt --axf-bufferize {err.saved_ir}"


_KILLING_WORKER = """
import os, signal, sys
import axfusion.pipeline as p
original = p.BuildContext.progress
def progress(self, stage, saved):
    original(self, stage, saved)
    if stage == {stage!r}:
        os.kill(os.getpid(), signal.SIGKILL)
p.BuildContext.progress = progress
from axfusion.worker import main
sys.exit(main(sys.argv[1:]))
"""


def _run_with_kill_on(stage):
    real_run = subprocess.run

    def run(command, *args, **kwargs):
        if command[1:3] == ["-m", "axfusion.worker"]:
            command = [command[0], "-c", _KILLING_WORKER.format(stage=stage), *command[3:]]
        return real_run(command, *args, **kwargs)
    return run
