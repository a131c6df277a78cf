"""The model zoo (``test/models/zoo.py``) through ``axfusion.compile(nn.Module)``.

Each model is checked against PyTorch eager in float64 (the same weights,
``model.double()``) on fresh random inputs; the bound is 1e-4 relative
(max |got - want| / max |want|; float32 accumulation over at most a few
hundred terms stays well inside it). The ``rng`` fixture prints the seed the
inputs come from.

``detected_patterns()`` of each model is pinned to what the patterns form on
torch-mlir's IR today (``DETECTED``). Where that falls short of what the
model should give (``WANTED``), the gap is a strict xfail naming why, so the
test turns red (XPASS) the day the pattern learns the form and the tables
need updating.
"""

from __future__ import annotations

import copy
import functools
import sys
from collections import Counter

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_mlir")

import axfusion  # noqa: E402
from conftest import ROOT, assert_close  # noqa: E402

if str(ROOT / "test") not in sys.path:
    sys.path.insert(0, str(ROOT / "test"))
from models import zoo  # noqa: E402

pytestmark = pytest.mark.torch

BOUND = 1e-4

# What the patterns form on each model today, as a multiset.
DETECTED = {
    "mlp": ["LinearBiasRelu"] * 2 + ["LinearBiasActivation"],
    "cnn": ["ConvBnRelu"] * 6 + ["LinearBiasActivation"] + ["ElementwiseChain"] * 2,
    "transformer": ["Attention"] + ["LinearBiasActivation"] * 5 + ["LinearBiasGelu"]
    + ["ReductionFusion"] * 2,
    "transformer_mha": ["Attention", "LinearBiasGelu"] + ["LinearBiasActivation"] * 3
    + ["ReductionFusion"] * 2,
    "classifier": ["SoftmaxCrossEntropy", "LinearBiasRelu", "LinearBiasActivation",
                   "ReductionFusion"],
}

# What each model should show, and why it does not (yet).
WANTED = {
    "mlp": (["LinearBiasRelu"], None),
    "cnn": (["ConvBnRelu"], None),
    "transformer": (["Attention", "ReductionFusion", "LinearBiasGelu"], None),
    "transformer_mha": (["Attention", "ReductionFusion", "LinearBiasGelu"], None),
    "classifier": (["SoftmaxCrossEntropy"], None),
}

# Models that do not compile yet (none today): every test that compiles one
# would be a strict xfail, turning red when it starts compiling.
BROKEN: dict = {}


def _models(names=DETECTED):
    return [pytest.param(n, marks=BROKEN[n]) if n in BROKEN else n for n in sorted(names)]


def _torch_generator(rng) -> torch.Generator:
    return torch.Generator().manual_seed(int(rng.integers(2**62)))


@functools.lru_cache(maxsize=None)
def _model(name: str):
    return zoo.build(name)


@functools.lru_cache(maxsize=None)
def _compiled(name: str):
    example = zoo.inputs(name, torch.Generator().manual_seed(0))
    return axfusion.compile(_model(name), example)


def _eager64(model, inputs):
    """The model in float64 on ``inputs`` (floating inputs widened)."""
    wide = copy.deepcopy(model).double()
    with torch.no_grad():
        return wide(*(t.double() if t.is_floating_point() else t for t in inputs))


# -- numbers -------------------------------------------------------------------

@pytest.mark.parametrize("name", _models())
def test_matches_eager(name, rng):
    model, mod = _model(name), _compiled(name)
    inputs = zoo.inputs(name, _torch_generator(rng))
    got = mod(*inputs)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    want = _eager64(model, inputs)
    assert got.shape == want.shape
    assert_close(got.numpy(), want.numpy(), BOUND, f"{name} vs eager")


def test_batch_norm_is_not_identity():
    bns = [m for m in _model("cnn").modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns
    for bn in bns:
        assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
        assert not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean))


# -- patterns ------------------------------------------------------------------

@pytest.mark.parametrize("name", _models())
def test_detected_patterns(name):
    groups = _compiled(name).detected_patterns()
    assert Counter(g.pattern for g in groups) == Counter(DETECTED[name])
    assert str(_compiled(name).report()).startswith("Fusion report")


def _wanted(name):
    why = WANTED[name][1]
    if name in BROKEN:
        why = f"{why}; and {BROKEN[name].kwargs['reason']}"
    return pytest.param(name, marks=pytest.mark.xfail(reason=why, strict=True)) if why else name


@pytest.mark.parametrize("name", [_wanted(n) for n in sorted(WANTED)])
def test_wanted_patterns(name):
    found = {g.pattern for g in _compiled(name).detected_patterns()}
    missing = set(WANTED[name][0]) - found
    assert not missing, f"{name}: {sorted(missing)} not detected (found {sorted(found)})"


# -- shapes and input kinds ------------------------------------------------------

def test_new_shape_recompiles(rng):
    model = _model("mlp")
    mod = axfusion.compile(model, zoo.inputs("mlp", torch.Generator().manual_seed(0)))
    gen = _torch_generator(rng)
    for batch in (8, 3, 17, 8):
        x, = zoo.inputs("mlp", gen, batch=batch)
        got = mod(x)
        assert got.shape == (batch, 10)
        assert_close(got.numpy(), _eager64(model, (x,)).numpy(), BOUND, f"batch {batch}")
    assert [g.pattern for g in mod.detected_patterns()] == \
        ["LinearBiasRelu", "LinearBiasRelu", "LinearBiasActivation"]


def test_new_spatial_size_recompiles(rng):
    model = _model("cnn")
    mod = axfusion.compile(model, zoo.inputs("cnn", torch.Generator().manual_seed(0)))
    gen = _torch_generator(rng)
    for batch, size in ((1, 12), (2, 8)):
        x, = zoo.inputs("cnn", gen, batch=batch, size=size)
        assert_close(mod(x).numpy(), _eager64(model, (x,)).numpy(), BOUND, f"{size}x{size}")
    assert Counter(g.pattern for g in mod.detected_patterns()) == Counter(DETECTED["cnn"])


def test_static_shapes_refuse_new_shape(rng):
    model = _model("mlp")
    gen = _torch_generator(rng)
    mod = axfusion.compile(model, zoo.inputs("mlp", gen), dynamic=False)
    x, = zoo.inputs("mlp", gen)
    assert_close(mod(x).numpy(), _eager64(model, (x,)).numpy(), BOUND)
    with pytest.raises(axfusion.ArgumentError):
        mod(*zoo.inputs("mlp", gen, batch=5))
    with pytest.raises(axfusion.ArgumentError):
        mod(x.double())                           # same shape, other dtype


@pytest.mark.parametrize("name", _models(["mlp", "classifier"]))
def test_numpy_in_numpy_out(name, rng):
    model, mod = _model(name), _compiled(name)
    inputs = zoo.inputs(name, _torch_generator(rng))
    got = mod(*(t.numpy() for t in inputs))
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    assert_close(got, _eager64(model, inputs).numpy(), BOUND, f"{name}, numpy inputs")


# -- a symbolic batch ------------------------------------------------------------

@pytest.mark.parametrize("name", _models())
def test_dynamic_batch_one_kernel(name, rng):
    """``dynamic_dims={0: "batch"}``: one kernel (a ``?`` in the signature)
    serves every batch size, the result sized by the shape function."""
    model = _model(name)
    mod = axfusion.compile(model, zoo.inputs(name, torch.Generator().manual_seed(0)),
                           dynamic_dims={0: "batch"})
    assert str(mod.compiled.functions["forward"]).startswith("forward(arg0: f32[?,")
    gen = _torch_generator(rng)
    for batch in (1, 5):
        inputs = zoo.inputs(name, gen, batch=batch)
        got, want = mod(*inputs), _eager64(model, inputs)
        assert got.shape == want.shape
        assert_close(got.numpy(), want.numpy(), BOUND, f"{name}, batch {batch}")
    assert "1 specialisation" in repr(mod)
    found = {g.pattern for g in mod.detected_patterns()}
    assert DYNAMIC_AT_LEAST[name] <= found, f"{name}: {sorted(found)}"


# Patterns that form with a symbolic batch too.
DYNAMIC_AT_LEAST = {
    "mlp": {"LinearBiasRelu"},
    "cnn": {"ConvBnRelu"},
    "transformer": {"Attention", "ReductionFusion", "LinearBiasActivation", "LinearBiasGelu"},
    "transformer_mha": {"Attention", "ReductionFusion", "LinearBiasActivation",
                        "LinearBiasGelu"},
    "classifier": {"LinearBiasRelu", "ReductionFusion", "SoftmaxCrossEntropy"},
}
