"""A small PyTorch MLP, for ``axfusec`` and ``axfusion.compile``.

    axfusec examples/torch_mlp.py:make_model --example-shape 32,256 --run --report
    axfusec examples/torch_mlp.py:make_model --example-shape 32,256 --bench
    python examples/torch_mlp.py          # the same from Python, with axfusion.explain

Both hidden layers are Linear + bias + ReLU (the LinearBiasRelu pattern).
"""

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, d_in: int = 256, hidden: int = 128, classes: int = 10):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.head(x)


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return MLP()


if __name__ == "__main__":
    import axfusion

    model = make_model().eval()
    x = torch.randn(32, 256)
    print(axfusion.explain(model, x))
    mod = axfusion.compile(model, x)
    with torch.no_grad():
        want = model(x)
    got = mod(x)
    print(mod)
    print(f"max relative error vs PyTorch eager: "
          f"{float((got - want).abs().max() / want.abs().max()):.2e}")
    print(mod.report())
