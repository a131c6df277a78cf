"""--bisect names the fusion group that changes the numbers.

The culprit is a deliberately broken, test-only pattern (``TestPerturb``,
passes/testing.py) enabled by name; the real patterns in the same model
must not be blamed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import axfusion
from conftest import run_cli

# Two Linear+ReLU layers with an element-wise scale between them (line 18):
# LinearBiasRelu forms groups 0 and 1, TestPerturb then takes the scale as
# group 2.
MODEL = """
#id = affine_map<(d0, d1) -> (d0, d1)>
#bias = affine_map<(d0, d1) -> (d1)>
func.func @forward(%x: tensor<16x32xf32>, %w1: tensor<32x24xf32>, %b1: tensor<24xf32>,
                   %w2: tensor<24x8xf32>, %b2: tensor<8xf32>) -> tensor<16x8xf32> {
  %zero = arith.constant 0.0 : f32
  %two = arith.constant 2.0 : f32
  %e1 = tensor.empty() : tensor<16x24xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<16x24xf32>) -> tensor<16x24xf32>
  %m1 = linalg.matmul ins(%x, %w1 : tensor<16x32xf32>, tensor<32x24xf32>) outs(%f1 : tensor<16x24xf32>) -> tensor<16x24xf32>
  %h1 = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%m1, %b1 : tensor<16x24xf32>, tensor<24xf32>) outs(%e1 : tensor<16x24xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<16x24xf32>
  %scaled = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%h1 : tensor<16x24xf32>) outs(%e1 : tensor<16x24xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.mulf %a, %two : f32
    linalg.yield %s : f32
  } -> tensor<16x24xf32>
  %e2 = tensor.empty() : tensor<16x8xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<16x8xf32>) -> tensor<16x8xf32>
  %m2 = linalg.matmul ins(%scaled, %w2 : tensor<16x24xf32>, tensor<24x8xf32>) outs(%f2 : tensor<16x8xf32>) -> tensor<16x8xf32>
  %h2 = linalg.generic {indexing_maps = [#id, #bias, #id], iterator_types = ["parallel", "parallel"]}
      ins(%m2, %b2 : tensor<16x8xf32>, tensor<8xf32>) outs(%e2 : tensor<16x8xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<16x8xf32>
  return %h2 : tensor<16x8xf32>
}
"""
SCALE_LINE = 18  # the line of %scaled in MODEL

BROKEN = ["LinearBiasRelu", "TestPerturb"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("bisect") / "model.mlir"
    path.write_text(MODEL)
    return path


def test_fusion_limit_forms_that_many_groups(model):
    assert [g.pattern for g in axfusion.compile(model, patterns=BROKEN).detected_patterns()] \
        == ["LinearBiasRelu", "LinearBiasRelu", "TestPerturb"]
    limited = axfusion.compile(model, patterns=BROKEN, fusion_limit=1)
    assert [g.group for g in limited.detected_patterns()] == [0]


def test_bisect_names_the_broken_group(model):
    result = axfusion.bisect(model, patterns=BROKEN, rtol=1e-4, seed=0)
    assert result.groups == 3
    assert result.full_error > 1e-3
    assert result.culprit is not None
    assert result.culprit.pattern == "TestPerturb" and result.culprit.group == 2
    assert result.culprit.location == f"{model}:{SCALE_LINE}:13"
    assert result.error > 1e-4
    text = str(result)
    assert "first differing group: 2 TestPerturb" in text and f"{model}:{SCALE_LINE}:13" in text


def test_bisect_clean_model_names_nothing(model):
    result = axfusion.bisect(model, rtol=1e-5)
    assert result.culprit is None and result.full_error <= 1e-5
    assert "no group differs" in str(result)


def test_fused_model_matches_numpy(model, rng):
    mod = axfusion.compile(model)
    x, w1, b1, w2, b2 = (rng.standard_normal(s).astype(np.float32)
                         for s in [(16, 32), (32, 24), (24,), (24, 8), (8,)])
    h = np.maximum(x.astype(np.float64) @ w1 + b1, 0) * 2
    want = np.maximum(h @ w2 + b2, 0)
    got = mod.forward(x, w1, b1, w2, b2)
    assert np.max(np.abs(got - want)) / np.max(np.abs(want)) < 1e-5


def test_cli_bisect_exit_status_and_report(model, tmp_path):
    proc = run_cli("axfusion.cli.axfusec", str(model), "--bisect", "--patterns", ",".join(BROKEN))
    assert proc.returncode == 3, proc.stderr
    assert "first differing group: 2 TestPerturb" in proc.stdout
    proc = run_cli("axfusion.cli.axfusec", str(model), "--bisect")
    assert proc.returncode == 0, proc.stderr
    assert "no group differs beyond tolerance" in proc.stdout


def test_cli_report_json_and_dot(model, tmp_path):
    proc = run_cli("axfusion.cli.axfusec", str(model), "--report", "--report-json", str(tmp_path / "r.json"),
                   "--report-dot", str(tmp_path / "r.dot"))
    assert proc.returncode == 0, proc.stderr
    assert "LinearBiasRelu" in proc.stdout and f"{model}:" in proc.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert [g["pattern"] for g in data["groups"]][:2] == ["LinearBiasRelu", "LinearBiasRelu"]
    dot = (tmp_path / "r.dot").read_text()
    assert dot.startswith("digraph") and "subgraph cluster_0" in dot


def test_unknown_pattern_is_a_compile_error(model):
    with pytest.raises(axfusion.CompileError, match="unknown fusion pattern 'Bogus'"):
        axfusion.compile(model, patterns=["Bogus"])
