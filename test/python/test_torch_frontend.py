"""axfusion.compile(nn.Module, example_inputs): the torch-mlir front end.

Checked against PyTorch eager on fresh random inputs (relative error bound
1e-5 for these float32 MLPs)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import axfusion  # noqa: E402
from conftest import assert_close  # noqa: E402

pytestmark = pytest.mark.torch


class TwoHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(24, 16)
        self.head = torch.nn.Linear(16, 4)

    def forward(self, x):
        h = torch.relu(self.fc(x))          # LinearBiasRelu, reported at this line
        return self.head(h), h.sum()


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TwoHeads().eval()


@pytest.fixture(scope="module")
def compiled(model):
    return axfusion.compile(model, (torch.randn(8, 24),))


def _eager(model, x):
    with torch.no_grad():
        return model(x)


def test_torch_in_torch_out(model, compiled, rng):
    x = torch.from_numpy(rng.standard_normal((8, 24)).astype(np.float32))
    logits, total = compiled(x)
    want_logits, want_total = _eager(model, x)
    assert isinstance(logits, torch.Tensor) and isinstance(total, torch.Tensor)
    assert logits.shape == (8, 4) and total.shape == ()
    assert_close(logits.numpy(), want_logits.numpy(), 1e-5)
    assert_close(total.numpy(), want_total.numpy(), 1e-5)


def test_numpy_in_numpy_out(model, compiled, rng):
    x = rng.standard_normal((8, 24)).astype(np.float32)
    logits, _ = compiled(x)
    assert isinstance(logits, np.ndarray)
    assert_close(logits, _eager(model, torch.from_numpy(x))[0].numpy(), 1e-5)


def test_new_shape_recompiles(model, rng):
    mod = axfusion.compile(model, torch.randn(8, 24))
    x = torch.from_numpy(rng.standard_normal((3, 24)).astype(np.float32))
    assert_close(mod(x)[0].numpy(), _eager(model, x)[0].numpy(), 1e-5)
    assert mod.compiled.functions["forward"].args[0].shape == (3, 24)


def test_static_module_refuses_new_shape(model):
    mod = axfusion.compile(model, torch.randn(8, 24), dynamic=False)
    with pytest.raises(axfusion.ArgumentError, match=r"\(3, 24\).*dynamic=True"):
        mod(torch.randn(3, 24))


def test_patterns_and_python_locations(compiled):
    groups = compiled.detected_patterns()
    assert [g.pattern for g in groups][:1] == ["LinearBiasRelu"]
    # torch-mlir keeps the Python stack; the report shows the model's line.
    assert groups[0].location.startswith(f"{__file__}:"), groups[0].location


class Sort(torch.nn.Module):
    def forward(self, x):
        return torch.sort(x).values        # lowered to torch-mlir's tm_tensor.sort


class Fft(torch.nn.Module):
    def forward(self, x):
        return torch.fft.fft(x).real       # not lowered to linalg at all


def test_unsupported_op_outside_linalg_is_named():
    with pytest.raises(axfusion.CompileError, match="tm_tensor.sort") as info:
        axfusion.compile(Sort().eval(), torch.randn(8))
    assert any(d.startswith(f"{__file__}:") for d in info.value.diagnostics)


def test_unlowerable_op_is_a_compile_error():
    with pytest.raises(axfusion.CompileError, match="not supported by torch-mlir") as info:
        axfusion.compile(Fft().eval(), torch.randn(8))
    assert any("failed to legalize" in d for d in info.value.diagnostics)


def test_training_mode_and_missing_inputs_are_refused():
    with pytest.raises(axfusion.CompileError, match="model.eval"):
        axfusion.compile(TwoHeads().train(), torch.randn(8, 24))
    with pytest.raises(axfusion.CompileError, match="example_inputs"):
        axfusion.compile(TwoHeads().eval())


class Counter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(3))

    def forward(self, x):
        self.calls.add_(1)                 # state the compiled function would drop
        return x + self.calls


def test_buffer_mutation_is_refused():
    with pytest.raises(axfusion.CompileError, match="writes to calls"):
        axfusion.compile(Counter().eval(), torch.randn(3))


def test_runtime_weights_need_no_recompile(rng):
    torch.manual_seed(1)
    model = TwoHeads().eval()
    x = torch.from_numpy(rng.standard_normal((8, 24)).astype(np.float32))
    mod = axfusion.compile(model, x, weights="runtime")
    assert mod.compiled.functions["forward"].args[0].shape == (16, 24)   # fc.weight first
    assert_close(mod(x)[0].numpy(), _eager(model, x)[0].numpy(), 1e-5)
    with torch.no_grad():
        model.fc.weight.mul_(-2.0)
        model.head.bias.add_(1.0)
    assert_close(mod(x)[0].numpy(), _eager(model, x)[0].numpy(), 1e-5)
    assert "1 specialisation" in repr(mod)
    with pytest.raises(axfusion.ArgumentError, match="weights='bogus'"):
        axfusion.compile(model, x, weights="bogus")


# -- symbolic sizes (dynamic_dims) ---------------------------------------------

def test_dynamic_batch_is_one_kernel(model, rng):
    mod = axfusion.compile(model, torch.randn(8, 24), dynamic_dims={0: "batch"})
    assert str(mod.compiled.functions["forward"]).startswith("forward(arg0: f32[?,24]) -> (f32[?,4]")
    for batch in (3, 1, 8, 13):
        x = torch.from_numpy(rng.standard_normal((batch, 24)).astype(np.float32))
        logits, total = mod(x)
        want_logits, want_total = _eager(model, x)
        assert logits.shape == (batch, 4)
        assert_close(logits.numpy(), want_logits.numpy(), 1e-5)
        assert_close(total.numpy(), want_total.numpy(), 1e-5)
    assert "1 specialisation" in repr(mod)
    # numpy inputs take the same kernel
    x = rng.standard_normal((5, 24)).astype(np.float32)
    assert_close(mod(x)[0], _eager(model, torch.from_numpy(x))[0].numpy(), 1e-5)
    assert "1 specialisation" in repr(mod)


class Pair(torch.nn.Module):
    def forward(self, x, y):
        return x * 2.0 + y


def test_named_sizes_must_agree_across_inputs(rng):
    x, y = torch.randn(4, 6), torch.randn(4, 6)
    mod = axfusion.compile(Pair().eval(), (x, y), dynamic_dims={0: "batch"})
    a, b = torch.randn(7, 6), torch.randn(7, 6)
    assert_close(mod(a, b).numpy(), (a * 2.0 + b).numpy(), 1e-6)
    with pytest.raises(axfusion.ArgumentError,
                       match=r"'batch' differs between inputs: input 0 dim 0 is 7, input 1 dim 0 is 3"):
        mod(a, torch.randn(3, 6))


class Concat(torch.nn.Module):
    def forward(self, x, y):
        return torch.cat([x, y * 3.0], 0).tanh()


def test_sizes_of_other_names_and_result_arithmetic(rng):
    """One dict per input, two names: the result's rows are n + m, computed
    by the shape function from both arguments."""
    mod = axfusion.compile(Concat().eval(), (torch.randn(4, 6), torch.randn(3, 6)),
                           dynamic_dims=[{0: "n"}, {0: "m"}])
    assert str(mod.compiled.functions["forward"]) == \
        "forward(arg0: f32[?,6], arg1: f32[?,6]) -> f32[?,6]"
    for n, m in ((1, 9), (5, 2)):
        x, y = (torch.from_numpy(rng.standard_normal((k, 6)).astype(np.float32)) for k in (n, m))
        got = mod(x, y)
        assert got.shape == (n + m, 6)
        assert_close(got.numpy(), Concat()(x, y).numpy(), 1e-5)
    assert "1 specialisation" in repr(mod)


class FixedBatch(torch.nn.Module):
    def forward(self, x):
        return x.reshape(8, -1).sum(1)      # the batch of 8 is part of the model


def test_specialised_size_is_refused_clearly():
    with pytest.raises(axfusion.CompileError,
                       match=r"cannot stay symbolic.*specialized it to be a constant \(8\)"):
        axfusion.compile(FixedBatch().eval(), torch.randn(8, 4), dynamic_dims={0: "batch"})


@pytest.mark.parametrize("spec,why", [
    ({3: "batch"}, r"names no dimension"),
    ({0: "not a name"}, r"must be a non-negative dim and a name"),
    ([{0: "b"}, {0: "b"}], r"one dict or None per input"),
])
def test_bad_dynamic_dims(model, spec, why):
    with pytest.raises(axfusion.ArgumentError, match=why):
        axfusion.compile(model, torch.randn(8, 24), dynamic_dims=spec)


def test_dynamic_dims_with_runtime_weights(rng):
    torch.manual_seed(2)
    model = TwoHeads().eval()
    mod = axfusion.compile(model, torch.randn(8, 24), weights="runtime",
                           dynamic_dims={0: "batch"})
    for batch in (2, 11):
        x = torch.from_numpy(rng.standard_normal((batch, 24)).astype(np.float32))
        assert_close(mod(x)[0].numpy(), _eager(model, x)[0].numpy(), 1e-5)
    assert "1 specialisation" in repr(mod)


def test_dynamic_dims_are_for_torch_models():
    with pytest.raises(axfusion.CompileError, match=r"'\?' in the entry point"):
        axfusion.compile("func.func @f(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
                         "  return %a : tensor<4xf32>\n}\n", dynamic_dims={0: "batch"})
