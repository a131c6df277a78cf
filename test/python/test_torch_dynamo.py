"""torch.compile(model, backend="axfusion"): the TorchDynamo backend.

Checked against PyTorch eager on fresh random inputs (relative error bound
1e-5, float32). A test that expects axfusion to run the graph also checks the
log: a graph that fell back to eager would give the same numbers."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

from axfusion.frontends.dynamo import CompiledGraph, axfusion_backend  # noqa: E402
from conftest import ROOT, assert_close  # noqa: E402

pytestmark = pytest.mark.torch
LOGGER = "axfusion.dynamo"


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(24, 32)
        self.fc2 = torch.nn.Linear(32, 5)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class CNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(8)
        self.head = torch.nn.Linear(8, 4)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return self.head(y.mean((2, 3))), y


class Sorted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(16, 16)

    def forward(self, x):
        return torch.sort(self.fc(x), dim=-1).values * 2.0


def _randomised_bn(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
    return model.eval()


def _tensor(rng, *shape):
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))


def _messages(caplog, level=logging.INFO):
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


@pytest.fixture(autouse=True)
def _fresh_dynamo(caplog):
    torch._dynamo.reset()
    caplog.set_level(logging.INFO, logger=LOGGER)
    yield
    torch._dynamo.reset()


def _check(compiled, model, *inputs):
    with torch.no_grad():
        got, want = compiled(*inputs), model(*inputs)
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_close(g.numpy(), w.numpy(), 1e-5)


def test_mlp_matches_eager(rng, caplog):
    torch.manual_seed(0)
    model = MLP().eval()
    _check(torch.compile(model, backend="axfusion"), model, _tensor(rng, 8, 24))
    assert not _messages(caplog, logging.WARNING)
    assert len([m for m in _messages(caplog) if m.startswith("compiling graph")]) == 1


def test_cnn_matches_eager(rng, caplog):
    """dynamic=True: dynamo passes the batch size as a SymInt and bn.eps and
    bn.momentum as 0-d tensors read with .item(); both become literals."""
    torch.manual_seed(0)
    model = _randomised_bn(CNN())
    compiled = torch.compile(model, backend="axfusion", dynamic=True)
    _check(compiled, model, _tensor(rng, 2, 3, 10, 10))
    assert not _messages(caplog, logging.WARNING)
    assert any("compiling graph" in m for m in _messages(caplog))


def test_unsupported_op_runs_eagerly_and_says_why(rng, caplog):
    model = Sorted().eval()
    _check(torch.compile(model, backend="axfusion"), model, _tensor(rng, 4, 16))
    [warning] = _messages(caplog, logging.WARNING)
    assert "runs eagerly" in warning and "tm_tensor.sort" in warning


def test_new_batch_size_needs_no_recompile(rng, caplog):
    """dynamic=True: the batch is a symbol for dynamo and stays one in the
    kernel (``?`` in its signature): a new batch size compiles nothing."""
    torch.manual_seed(0)
    model = MLP().eval()
    compiled = torch.compile(model, backend="axfusion", dynamic=True)
    for batch in (8, 3, 17):
        _check(compiled, model, _tensor(rng, batch, 24))
    info = _messages(caplog)
    [compiled_once] = [m for m in info if "compiling graph" in m]
    assert compiled_once.endswith("for input shapes float32[?, 24]"), info
    assert not _messages(caplog, logging.WARNING)


class Scaled(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(16, 8)

    def forward(self, x, alpha, shift):
        return self.fc(x) * alpha + shift


def test_python_scalars_are_literals(rng, caplog):
    model = Scaled().eval()
    compiled = torch.compile(model, backend="axfusion", dynamic=True)
    x = _tensor(rng, 4, 16)
    _check(compiled, model, x, 0.5, 3)
    _check(compiled, model, x, 0.25, 3)
    assert any("scalars [0.25, 3] (was [0.5, 3])" in m for m in _messages(caplog))


def test_new_parameters_are_seen(rng, caplog):
    """Parameters are baked in; another instance of the class (which shares
    dynamo's graph) or weights loaded in place compile again."""
    torch.manual_seed(0)
    first, second = MLP().eval(), MLP().eval()
    x = _tensor(rng, 8, 24)
    _check(torch.compile(first, backend="axfusion"), first, x)
    _check(torch.compile(second, backend="axfusion"), second, x)
    with torch.no_grad():
        first.fc1.weight.mul_(2.0)
    _check(torch.compile(first, backend="axfusion"), first, x)
    assert sum("new parameter values" in m for m in _messages(caplog)) == 2


def test_autograd_runs_eagerly(rng, caplog):
    model = MLP().eval()
    y = torch.compile(model, backend="axfusion")(_tensor(rng, 4, 24))
    y.sum().backward()                        # eager: gradients still flow
    assert model.fc1.weight.grad is not None
    [warning] = _messages(caplog, logging.WARNING)
    assert "needs autograd" in warning and "torch.no_grad()" in warning


def test_training_batchnorm_runs_eagerly(rng, caplog):
    """Batch-norm in training mode updates its running statistics: axfusion
    would drop the update, so the graph runs eagerly."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.BatchNorm1d(8)).train()
    x = _tensor(rng, 4, 16)
    with torch.no_grad():
        torch.compile(model, backend="axfusion")(x)
    want = x @ model[0].weight.T.detach() + model[0].bias.detach()
    assert_close(model[1].running_mean.numpy(), 0.1 * want.mean(0).numpy(), 1e-5)
    [warning] = _messages(caplog, logging.WARNING)
    assert "writes to" in warning and "pure functions" in warning


def test_backend_options():
    gm = torch.fx.symbolic_trace(MLP().eval())
    with pytest.raises(TypeError, match="unknown axfusion backend option"):
        axfusion_backend(gm, [torch.randn(2, 24)], options={"tile": 4})


def test_found_by_name_in_a_fresh_process():
    """``backend="axfusion"`` resolves through the ``torch_dynamo_backends``
    entry point (``pip install -e .`` registers it); nothing imports axfusion."""
    script = textwrap.dedent("""
        import logging, torch
        logging.basicConfig(level=logging.INFO)
        from torch._dynamo.backends.registry import lookup_backend
        fn = lookup_backend("axfusion")
        print(fn.__module__, fn.__name__)
        model = torch.nn.Sequential(torch.nn.Linear(6, 3), torch.nn.ReLU()).eval()
        x = torch.randn(2, 6)
        with torch.no_grad():
            print(float((torch.compile(model, backend="axfusion")(x) - model(x)).abs().max()))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=ROOT, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    name, error = run.stdout.split("\n")[:2]
    assert name == "axfusion.frontends.dynamo axfusion_backend", \
        "entry point missing: reinstall with pip install -e ."
    assert float(error) < 1e-5
    assert "compiling graph" in run.stderr and "runs eagerly" not in run.stderr


def test_backend_returns_compiled_graph():
    """Given real example inputs, the first specialisation compiles at once."""
    torch.manual_seed(0)
    model = MLP().eval()
    graphs = []

    def spy(gm, example_inputs):
        graphs.append(axfusion_backend(gm, example_inputs))
        return graphs[-1]

    with torch.no_grad():
        torch.compile(model, backend=spy)(torch.randn(8, 24))
    [graph] = graphs
    assert isinstance(graph, CompiledGraph) and "1 specialisation" in repr(graph)
