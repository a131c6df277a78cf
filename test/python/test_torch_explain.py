"""axfusion.explain(nn.Module, example_inputs): every aten op of the model
with whether axfusion can compile it, found without compiling anything."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import axfusion  # noqa: E402

pytestmark = pytest.mark.torch


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 32)
        self.fc2 = torch.nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class Sort(torch.nn.Module):
    def forward(self, x):
        y = torch.relu(x)
        return torch.sort(y).values        # lowered to torch-mlir's tm_tensor.sort


class Fft(torch.nn.Module):
    def forward(self, x):
        return torch.fft.fft(x).real       # no linalg lowering at all


def _line_of(cls, text: str) -> str:
    import inspect
    lines, start = inspect.getsourcelines(cls)
    return f"{__file__}:{start + next(i for i, l in enumerate(lines) if text in l)}:"


def test_mlp_is_all_supported():
    found = axfusion.explain(MLP().eval(), (torch.randn(8, 16),))
    assert found.supported, str(found)
    names = [op.op for op in found.ops]
    assert {"torch.aten.mm", "torch.aten.relu", "torch.aten.add.Tensor"} <= set(names), names
    assert found["mm"].count == 2
    assert all(op.supported and op.reason == "" for op in found.ops)
    assert all(loc.startswith(f"{__file__}:") for op in found.ops for loc in op.locations)
    text = str(found)
    assert text.splitlines()[0].endswith("all supported"), text
    assert "torch.aten.mm" in text and " NO " not in text


def test_sort_is_named_with_its_line():
    found = axfusion.explain(Sort().eval(), torch.randn(4, 8))
    assert not found.supported
    [bad] = found.unsupported
    assert bad.op == "torch.aten.sort" and bad.count == 1
    assert "tm_tensor.sort" in bad.reason
    assert bad.locations == (_line_of(Sort, "torch.sort") + "0",)
    assert found["relu"].supported          # the rest of the model is still listed
    assert "torch.aten.sort" in str(found) and "NO" in str(found)


def test_fft_is_named_with_its_line():
    found = axfusion.explain(Fft().eval(), torch.randn(8))
    assert not found.supported
    bad = found["fft_fft"]
    assert not bad.supported and "no linalg lowering" in bad.reason
    assert bad.locations[0].startswith(_line_of(Fft, "torch.fft.fft"))


def test_json_and_model_level_problems():
    found = axfusion.explain(Sort(), torch.randn(4, 8))   # training mode: a problem
    data = json.loads(found.to_json())
    assert data["model"] == "Sort" and data["supported"] is False
    assert [op["op"] for op in data["ops"] if not op["supported"]] == ["torch.aten.sort"]
    assert any("model.eval()" in p for p in data["problems"])
