"""What scalar function an element-wise body computes, found by running it.

Front ends spell the same activation many ways: ReLU as ``maximumf(x, 0)``
or ``select(cmpf ugt x 0, x, 0)``; GELU with ``erf`` or with the ``tanh``
approximation; SiLU as ``x * sigmoid(x)`` or ``x / (1 + exp(-x))``. Rather
than one matcher per spelling, ``classify`` evaluates the body of a
``linalg.generic`` on sample points (numpy, float64) and compares the values
with each known activation. The body's ops must all be known to the scalar
interpreter (``linalg_eval.scalar_op``), so an unknown op never passes as a
known function.

The samples decide what "the same function" means, so they are many: fixed
points at every breakpoint a known activation has (0, 6) and on either side
of it, hundreds of log-spaced magnitudes from 1e-8 to 100 of both signs
(a ReLU with a threshold of 1e-6 is not ReLU), and huge values (a clamp at
1000 is not the identity). The result may not depend on the output block
argument (an accumulation into ``outs`` is not an activation). The tolerance
(1e-6 relative) absorbs the float32 rounding of constants such as
``sqrt(2/pi)``; the one front-end spelling with a *different* constant,
torch-mlir's tanh GELU (``0.7977240352174656`` for ``sqrt(2/pi)``), is
listed as a variant of ``GELUTanh``.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np

from axfusion._mlir import ir

from .linalg_eval import Unknown, erf, scalar_op


class Activation(str, Enum):
    NONE = "none"
    ReLU = "relu"
    ReLU6 = "relu6"
    GELU = "gelu"            # 0.5 x (1 + erf(x / sqrt 2))
    GELUTanh = "gelu_tanh"   # the tanh approximation
    Sigmoid = "sigmoid"
    Tanh = "tanh"
    SiLU = "silu"


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _gelu_tanh(x, beta):
    return 0.5 * x * (1.0 + np.tanh(beta * (x + 0.044715 * x ** 3)))


REFERENCE = {
    Activation.NONE: lambda x: x,
    Activation.ReLU: lambda x: np.maximum(x, 0.0),
    Activation.ReLU6: lambda x: np.clip(x, 0.0, 6.0),
    Activation.GELU: lambda x: 0.5 * x * (1.0 + erf(x / math.sqrt(2.0))),
    Activation.GELUTanh: lambda x: _gelu_tanh(x, math.sqrt(2.0 / math.pi)),
    Activation.Sigmoid: _sigmoid,
    Activation.Tanh: np.tanh,
    Activation.SiLU: lambda x: x * _sigmoid(x),
}

# Spellings with other constants, as front ends emit them.
VARIANTS = {
    # torch-mlir's TorchToLinalg writes sqrt(2/pi) as 0.7977240352174656.
    Activation.GELUTanh: (lambda x: _gelu_tanh(x, 0.7977240352174656),),
}


def _samples() -> np.ndarray:
    fixed = [0.0, 0.5, 1.0, 2.0, 3.0, 5.999, 6.0, 6.001, 6.5, 7.5, 9.0, 30.0, 1e3, 1e5]
    rng = np.random.default_rng(20240917)
    magnitudes = 10.0 ** rng.uniform(-8.0, 2.0, 400)
    signs = rng.choice([-1.0, 1.0], magnitudes.size)
    return np.concatenate([fixed, [-v for v in fixed[1:]], signs * magnitudes])


SAMPLES = _samples()


def evaluate(generic, args: list[np.ndarray]) -> np.ndarray:
    """Run the scalar body of ``generic`` on arrays (one per block argument),
    with ``linalg_eval.scalar_op``; an op it does not know raises
    ``linalg_eval.Unknown``."""
    block = generic.operation.regions[0].blocks[0]
    env: dict = dict(zip(block.arguments, args))

    def get(value):
        if value in env:
            return env[value]
        owner = value.owner
        if not isinstance(owner, ir.Block) and owner.name == "arith.constant":
            return scalar_op(owner.operation, get)
        raise Unknown("value defined outside the body")

    for op in block.operations:
        op = op.operation
        if op.name == "linalg.yield":
            return np.broadcast_arrays(get(op.operands[0]), args[0])[0]
        env[op.results[0]] = scalar_op(op, get)
    raise Unknown("no yield")


def _matches(got: np.ndarray, want: np.ndarray) -> bool:
    # atol only covers cancellation in the tails (1 + erf(x) near -1 etc.),
    # where the values are ~1e-14; a slope or an offset of 1e-12 is caught.
    return bool(np.allclose(got, want, rtol=1e-6, atol=1e-12, equal_nan=False))


def classify(generic, main_input: int = 0, *, bias_input: int | None = None) -> Activation | None:
    """The activation ``generic`` applies to input ``main_input`` (after adding
    input ``bias_input``, when given), or None if it is not a known one."""
    block = generic.operation.regions[0].blocks[0]
    nargs = len(block.arguments)
    rng = np.random.default_rng(0)
    pre = SAMPLES
    bias = rng.standard_normal(pre.size) if bias_input is not None else None
    x = pre - bias if bias is not None else pre
    pre = x + bias if bias is not None else x   # what the body sees, rounding included
    # Every other block argument (the output's old value) gets two different
    # fillings: an activation does not read it.
    results = []
    for other in (np.zeros_like(x), rng.standard_normal(x.size) * 10.0 + 3.0):
        args = []
        for i in range(nargs):
            if i == main_input:
                args.append(x.copy())
            elif i == bias_input:
                args.append(bias.copy())
            else:
                args.append(other.copy())
        try:
            results.append(evaluate(generic, args))
        except Unknown:
            return None
    with np.errstate(all="ignore"):   # exp(1e5) is inf, as it should be
        for act, fn in REFERENCE.items():
            for ref in (fn, *VARIANTS.get(act, ())):
                if all(_matches(got, ref(pre)) for got in results):
                    return act
    return None
