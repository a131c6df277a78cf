"""``axfusec model.py:make_model --example-shape ...``: a Python file that
defines a PyTorch model as compiler input. ``--run`` checks against PyTorch
eager on fresh random inputs (the CLI's default bound, 1e-5 relative)."""

from __future__ import annotations

import json
import re

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

from axfusion.cli import axfusec  # noqa: E402
from conftest import EXAMPLES, run_cli  # noqa: E402

pytestmark = pytest.mark.torch

MLP = f"{EXAMPLES / 'torch_mlp.py'}:make_model"

TWO_INPUTS = """\
import torch


class Gate(torch.nn.Module):
    def forward(self, x, y):
        return torch.sigmoid(x) * y + 1.0


make_model = Gate
not_a_model = 42


def returns_a_list():
    return [1, 2]
"""


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "gate.py"
    path.write_text(TWO_INPUTS)
    return path


def test_run_and_report_on_the_example_mlp():
    proc = run_cli("axfusion.cli.axfusec", MLP, "--example-shape", "32,256", "--target=cpu",
                   "--run", "--report")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "forward(arg0: f32[32,256]) -> f32[32,10]" in out
    assert out.count("LinearBiasRelu") == 2, out      # the two hidden layers
    assert re.search(r"torch_mlp\.py:22:\d+", out), out   # the model's line in the report
    match = re.search(r"^forward\s+max relative error (\S+)\s+\(rtol 1e-05\) vs PyTorch eager"
                      r"\s+ok$", out, re.M)
    assert match and float(match.group(1)) <= 1e-5, out


def test_several_inputs_output_folder_and_bench(model_file, tmp_path, capsys):
    out = tmp_path / "gate"
    argv = [f"{model_file}:make_model", "--example-shape", "4,8", "--example-shape", "4,8",
            "-o", str(out), "--run", "--bench", "--repeats=3"]
    assert axfusec.main(argv) == 0
    text = capsys.readouterr().out
    assert f"wrote {out}/module.so and {out}/manifest.json" in text
    [fn] = json.loads((out / "manifest.json").read_text())["functions"]
    assert [a["shape"] for a in fn["args"]] == [[4, 8], [4, 8]]
    assert "vs PyTorch eager  ok" in text
    header = next(line for line in text.splitlines() if line.startswith("function"))
    assert header.split() == ["function", "axfusion", "eager", "speed-up"]
    assert re.search(r"^forward\s+[\d.]+us\s+[\d.]+us\s+[\d.]+x$", text, re.M), text


def test_emit_and_failing_tolerance(model_file, capsys):
    assert axfusec.main([str(model_file), "--example-shape", "4,8", "--example-shape", "4,8",
                         "--emit=linalg"]) == 0
    assert "func.func @forward" in capsys.readouterr().out
    assert axfusec.main([str(model_file), "--example-shape", "4,8", "--example-shape", "4,8",
                         "--run", "--rtol=-1"]) == 3
    assert "MISMATCH" in capsys.readouterr().out


@pytest.mark.parametrize("spec,options,message", [
    ("missing.py:make_model", ["--example-shape", "2"], r"missing\.py: no such file"),
    ("{file}:nope", ["--example-shape", "2"],
     r"defines no 'nope'.*\(defined there: Gate, make_model, returns_a_list\)"),
    ("{file}:not_a_model", ["--example-shape", "2"], r"not_a_model is a int, not a function"),
    ("{file}:returns_a_list", ["--example-shape", "2"],
     r"returns_a_list\(\) returned a list, not a torch\.nn\.Module"),
    ("{file}:make_model", [], r"needs --example-shape"),
    ("{file}:make_model", ["--example-shape", "2,a"], r"--example-shape '2,a'"),
    ("{file}:make_model", ["--example-shape", "2"], r"Gate\.forward takes 2 input\(s\) \(x, y\)"),
    ("{file}:make_model", ["--example-shape", "2", "--example-shape", "2",
                           "--example-dtype", "f32"], r"'f32' is not a torch dtype"),
    (str(EXAMPLES / "mlp.mlir"), ["--example-shape", "2"], r"are for Python model files"),
])
def test_bad_model_or_options_exit_2(model_file, capsys, spec, options, message):
    assert axfusec.main([spec.format(file=model_file), *options]) == 2
    err = capsys.readouterr().err
    assert re.search(rf"^axfusec: error: .*{message}", err, re.M), err
