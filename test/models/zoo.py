"""The model zoo: small ``torch.nn`` models that exercise each fusion pattern
(the pattern each should form is in brackets).

``build(name)`` gives the model in eval mode, its weights from
``torch.manual_seed(seed)`` (BatchNorm running statistics and all norm
affine parameters randomised, so no norm is the identity);
``inputs(name, gen, batch=...)`` a tuple of inputs drawn from ``gen``, a
``torch.Generator`` the caller seeds fresh for every run, in the shapes
asked for. Sizes are small: every model compiles in a few seconds.

- ``mlp``: Linear-ReLU-Linear-ReLU-Linear (LinearBiasRelu).
- ``cnn``: a conv-BN-ReLU stem, two ResNet basic blocks (the second strided,
  with a 1x1 conv-BN shortcut), global average pool, Linear (ConvBnRelu).
- ``transformer``: one pre-norm encoder block: LayerNorm, hand-written
  multi-head self-attention, LayerNorm, Linear-GELU-Linear, two residual adds
  (Attention, ReductionFusion for the layer-norms, LinearBiasGelu).
- ``transformer_mha``: the same block with ``nn.MultiheadAttention``.
- ``classifier``: Linear-ReLU-Linear logits, then ``F.cross_entropy`` with
  integer labels: ``model(x, labels)`` is a 0-d loss (SoftmaxCrossEntropy).

What they form today, and why not the rest, is pinned in
``test/python/test_torch_zoo.py``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


# -- MLP -----------------------------------------------------------------------

class MLP(nn.Module):
    def __init__(self, d_in=64, hidden=(128, 64), d_out=10):
        super().__init__()
        dims = (d_in, *hidden)
        layers: list[nn.Module] = []
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], d_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# -- CNN with ResNet basic blocks ------------------------------------------------

def _randomise_bn(bn: nn.BatchNorm2d) -> None:
    """Running stats and affine parameters far from (0, 1, 1, 0)."""
    with torch.no_grad():
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)


class BasicBlock(nn.Module):
    """ResNet basic block: conv-BN-ReLU, conv-BN, + shortcut, ReLU."""

    def __init__(self, c_in, c_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    def __init__(self, c_in=3, width=8, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(c_in, width, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        self.block1 = BasicBlock(width, width)
        self.block2 = BasicBlock(width, 2 * width, stride=2)
        self.head = nn.Linear(2 * width, classes)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                _randomise_bn(m)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.head(x.mean(dim=(2, 3)))


# -- transformer encoder block ---------------------------------------------------

class SelfAttention(nn.Module):
    """Multi-head self-attention written out: Q/K/V projections, heads split,
    ``softmax(Q K^T / sqrt(d)) V``, heads merged, output projection."""

    def __init__(self, d_model, heads):
        super().__init__()
        self.heads, self.d_head = heads, d_model // heads
        self.q, self.k, self.v, self.out = (nn.Linear(d_model, d_model) for _ in range(4))

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = (p(x).reshape(b, s, self.heads, self.d_head).transpose(1, 2)
                   for p in (self.q, self.k, self.v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        o = torch.softmax(scores, dim=-1) @ v
        return self.out(o.transpose(1, 2).reshape(b, s, d))


class TorchMHA(nn.Module):
    """``nn.MultiheadAttention`` as a self-attention module (returns only the output)."""

    def __init__(self, d_model, heads):
        super().__init__()
        self.mha = nn.MultiheadAttention(d_model, heads, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=False)[0]


class EncoderBlock(nn.Module):
    """Pre-norm encoder block: x + MHA(LN(x)), then x + MLP(LN(x)) with GELU."""

    def __init__(self, d_model=32, heads=4, d_ff=64, attention=SelfAttention):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = attention(d_model, heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        with torch.no_grad():  # LayerNorm not the identity either
            for ln in (self.ln1, self.ln2):
                ln.weight.uniform_(0.5, 1.5)
                ln.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


# -- classifier with a softmax-cross-entropy loss head ---------------------------

class Classifier(nn.Module):
    """model(x, labels) -> mean cross-entropy loss (a 0-d tensor)."""

    def __init__(self, d_in=32, hidden=64, classes=10):
        super().__init__()
        self.classes = classes
        self.body = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, x, labels):
        return F.cross_entropy(self.body(x), labels)


# -- builders ----------------------------------------------------------------------

def _normal(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float32)


def mlp_inputs(gen, batch=8):
    return (_normal(gen, batch, 64),)


def cnn_inputs(gen, batch=2, size=8):
    return (_normal(gen, batch, 3, size, size),)


def transformer_inputs(gen, batch=2, seq=8):
    return (_normal(gen, batch, seq, 32),)


def classifier_inputs(gen, batch=16):
    labels = torch.randint(0, 10, (batch,), generator=gen, dtype=torch.int64)
    return (_normal(gen, batch, 32), labels)


MODELS: dict[str, tuple[Callable[[], nn.Module], Callable[..., tuple]]] = {
    "mlp": (MLP, mlp_inputs),
    "cnn": (SmallResNet, cnn_inputs),
    "transformer": (EncoderBlock, transformer_inputs),
    "transformer_mha": (partial(EncoderBlock, attention=TorchMHA), transformer_inputs),
    "classifier": (Classifier, classifier_inputs),
}


def build(name: str, seed: int = 0) -> nn.Module:
    """The model ``name`` with weights from ``torch.manual_seed(seed)``, in eval mode."""
    make, _ = MODELS[name]
    torch.manual_seed(seed)
    return make().eval()


def inputs(name: str, gen: torch.Generator, **shape) -> tuple:
    """Example inputs for ``name`` from ``gen``; ``shape`` picks batch/seq/size."""
    return MODELS[name][1](gen, **shape)
