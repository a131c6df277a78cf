"""The command-line tools, run as separate processes: ``axfusec`` (compile,
write an artifact, run, time, emit) and ``axfusion-opt`` (passes on a file).
They share the session's compile cache through AXFUSION_CACHE_DIR."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import axfusion
from conftest import EXAMPLES, assert_close, mlp_reference, run_cli

MLP = EXAMPLES / "mlp.mlir"
AXFUSEC = "axfusion.cli.axfusec"
OPT = "axfusion.cli.opt"

MALFORMED = """\
func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
  %oops = arith.constant 1.0 :
}
"""


def _ok(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


# -- axfusec -------------------------------------------------------------------

def test_run_reports_small_error():
    out = _ok(run_cli(AXFUSEC, MLP, "--target=cpu", "--run")).stdout
    match = re.search(r"^forward\s+max relative error (\S+)\s+\(rtol 0.0001\)\s+ok$", out, re.M)
    assert match, out
    assert float(match.group(1)) <= 1e-4
    assert "forward(arg0: f32[32,256]" in out   # the module's repr


def test_run_failing_tolerance_exits_3():
    proc = run_cli(AXFUSEC, MLP, "--run", "--rtol=-1")
    assert proc.returncode == 3, proc.stderr
    assert "MISMATCH" in proc.stdout


def test_output_folder_has_library_and_manifest(tmp_path, rng):
    out = tmp_path / "mlp-artifact"
    proc = _ok(run_cli(AXFUSEC, MLP, "--target=cpu", "-o", out))
    assert f"wrote {out}/module.so and {out}/manifest.json" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "module.so"]
    manifest = json.loads((out / "manifest.json").read_text())
    [fn] = manifest["functions"]
    assert fn["name"] == "forward"
    assert [a["shape"] for a in fn["args"]] == [[32, 256], [128, 256], [128], [10, 128], [10]]
    assert {a["dtype"] for a in fn["args"]} == {"float32"}
    assert fn["results"] == [{"shape": [32, 10], "dtype": "float32"}]
    assert manifest["target"]["target"] == "cpu" and manifest["target"]["cpu"]
    assert manifest["library"] == "module.so"
    # The artifact loads on its own and computes the MLP.
    mod = axfusion.load(out)
    args = [rng.standard_normal(a["shape"]).astype(np.float32) * 0.2 for a in fn["args"]]
    assert_close(mod.forward(*args), mlp_reference(*args), 1e-5)


@pytest.mark.parametrize("stage,present,absent", [
    ("linalg", ["linalg.matmul", "linalg.generic", "func.func @forward"], ["llvm.func"]),
    ("llvm-dialect", ["llvm.func @forward", "llvm.func @_mlir_ciface_forward"], ["linalg."]),
    ("llvm-ir", ["define void @_mlir_ciface_forward(", "define "], ["llvm.func"]),
    ("asm", ["_mlir_ciface_forward:", ".text"], ["define "]),
])
def test_emit(stage, present, absent):
    out = _ok(run_cli(AXFUSEC, MLP, f"--emit={stage}")).stdout
    for text in present:
        assert text in out, f"--emit={stage} lacks {text!r}"
    for text in absent:
        assert text not in out, f"--emit={stage} has {text!r}"


def test_emit_reads_stdin():
    out = _ok(run_cli(AXFUSEC, "-", "--emit=llvm-dialect", stdin=MLP.read_text())).stdout
    assert "llvm.func @_mlir_ciface_forward" in out


def test_target_cuda_is_refused():
    proc = run_cli(AXFUSEC, MLP, "--target=cuda")
    assert proc.returncode != 0
    assert re.search(r"axfusec: error: .*target 'cuda' is not built yet", proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr


def test_malformed_input_exits_1_with_location(tmp_path):
    path = tmp_path / "bad.mlir"
    path.write_text(MALFORMED)
    proc = run_cli(AXFUSEC, path, "--target=cpu")
    assert proc.returncode == 1, proc.stderr
    assert re.search(rf"{re.escape(str(path))}:3:\d+: error:", proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr


def test_unsupported_op_exits_1(tmp_path):
    path = tmp_path / "tosa.mlir"
    path.write_text("func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
                    "  %y = tosa.abs %x : (tensor<4xf32>) -> tensor<4xf32>\n"
                    "  return %y : tensor<4xf32>\n}\n")
    proc = run_cli(AXFUSEC, path)
    assert proc.returncode == 1
    assert f"{path}:2:8: error: unsupported op 'tosa.abs'" in proc.stderr


def test_missing_compiler_exits_4():
    proc = run_cli(AXFUSEC, MLP, "--no-cache", env={"AXFUSION_CC": "/nonexistent/cc"})
    assert proc.returncode == 4, proc.stderr
    assert "/nonexistent/cc" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_command_line_exits_2():
    proc = run_cli(AXFUSEC, MLP, "--emit=bogus")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_bench_prints_speedup_column():
    out = _ok(run_cli(AXFUSEC, MLP, "--bench", "--repeats=3")).stdout
    header = next(line for line in out.splitlines() if line.startswith("function"))
    assert header.split() == ["function", "optimised", "reference", "speed-up"]
    row = re.search(r"^forward\s+([\d.]+)us\s+([\d.]+)us\s+([\d.]+)x$", out, re.M)
    assert row, out
    opt, ref, ratio = map(float, row.groups())
    assert opt > 0 and ref > 0
    assert ratio == pytest.approx(ref / opt, rel=0.02, abs=0.01)


def test_print_ir_after_all_names_stages(tmp_path):
    proc = _ok(run_cli(AXFUSEC, MLP, "--print-ir-after-all", "--no-cache"))
    for stage in ("import", "bufferize", "lower", "link"):
        assert f"axfusion stage '{stage}'" in proc.stderr
    # ...and the IR after each MLIR pass inside the stages.
    assert "IR Dump After" in proc.stderr and "(one-shot-bufferize)" in proc.stderr
    assert "forward(arg0: f32[32,256]" in proc.stdout   # and it still compiled


# -- axfusion-opt ----------------------------------------------------------------

def test_opt_list_passes():
    out = _ok(run_cli(OPT, "--list-passes")).stdout
    for name in ("axf-check-input", "axf-optimize", "axf-bufferize", "axf-lower-to-llvm",
                 "axf-cpu-pipeline"):
        assert re.search(rf"^\s+--{name}\s+\S", out, re.M), f"{name} missing:\n{out}"


def test_opt_cpu_pipeline_produces_llvm_dialect():
    out = _ok(run_cli(OPT, MLP, "--axf-cpu-pipeline")).stdout
    assert "llvm.func @forward" in out and "llvm.func @_mlir_ciface_forward" in out
    assert "linalg." not in out and "memref." not in out


def test_opt_pass_pipeline_text():
    out = _ok(run_cli(OPT, MLP, "--pass-pipeline=builtin.module(canonicalize,cse)")).stdout
    assert "linalg.matmul" in out and "llvm.func" not in out


def test_opt_print_ir_after_all():
    proc = _ok(run_cli(OPT, MLP, "--axf-optimize", "--print-ir-after-all"))
    assert "IR Dump After Canonicalizer (canonicalize)" in proc.stderr
    assert "IR Dump After CSE (cse)" in proc.stderr
    assert "linalg.matmul" in proc.stdout


def test_opt_malformed_reports_location(tmp_path):
    path = tmp_path / "bad.mlir"
    path.write_text(MALFORMED)
    proc = run_cli(OPT, path, "--axf-cpu-pipeline")
    assert proc.returncode == 1
    assert re.search(rf"^{re.escape(str(path))}:3:\d+: error:", proc.stderr, re.M), proc.stderr


def test_opt_check_input_split_file_keeps_line_numbers(tmp_path):
    path = tmp_path / "cases.mlir"
    path.write_text("func.func @ok(%x: tensor<4xf32>) -> tensor<4xf32> {\n"
                    "  return %x : tensor<4xf32>\n}\n"
                    "// -----\n"
                    "func.func @bad(%x: tensor<4xi1>) -> tensor<4xi1> {\n"
                    "  return %x : tensor<4xi1>\n}\n")
    proc = run_cli(OPT, path, "--axf-check-input", "--split-input-file")
    assert proc.returncode == 1
    assert f"{path}:5:1: error: entry point @bad argument 0" in proc.stderr, proc.stderr
    assert "func.func @ok" in proc.stdout


def test_opt_unknown_flag_exits_2():
    proc = run_cli(OPT, MLP, "--axf-no-such-pass")
    assert proc.returncode == 2 and "unknown option" in proc.stderr
