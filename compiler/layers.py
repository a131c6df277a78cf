"""The seed API's layers: ``FusedLinear``, ``FusedConv``, ``FusedElementwise``
and ``FusedAttention``.

    layer = FusedLinear(784, 256).activation(Activation.ReLU)
    y = layer.forward(x)                 # x: [..., 784] numpy array (or torch tensor)
    layer.detected_patterns()            # [LinearBiasRelu (group 0, 4 ops ...)]
    fused = FusedElementwise().add(1.0).mul(2.0).sub(0.5)
    y = fused(x)                         # any shape

Each layer writes its computation as linalg-on-tensors text in the form a
front end (torch-mlir) produces for the same PyTorch module, hands it to
``axfusion.compile`` (so the fusion patterns find it exactly as they would
find it in an imported model, and the artifact lands in the on-disk cache),
and keeps the compiled module in a dict keyed by (input shapes, dtype,
configuration): one compile per input shape. Weights are runtime arguments
of the compiled function, so setting new weights never recompiles; what is
baked into the IR (activation, batch-norm statistics, the element-wise ops)
is part of the key. ``layer.mlir(shape)`` shows the IR for an input shape.
Every layer takes ``target=`` and ``patterns=`` (as ``axfusion.compile``;
``patterns=[]`` builds it unfused).

Weighted layers compute in their ``dtype`` (float32 or float64; inputs are
converted to it); ``FusedElementwise`` computes in the input's dtype when it
is float32/float64, else float32. A torch tensor input gives a torch tensor
result (torch is imported only then).
"""

from __future__ import annotations

import math
import sys

import numpy as np

from axfusion.passes.activations import Activation

from .driver import compile as _compile
from .errors import ArgumentError
from .layer_ir import ELEMENTWISE, IRWriter, activation_body
from .report import FusionReport

_ELT = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def _float_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in _ELT:
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _activation(act) -> Activation:
    try:
        return act if isinstance(act, Activation) else Activation(str(act).lower())
    except ValueError:
        raise ValueError(f"unknown activation {act!r}; known: "
                         + ", ".join(a.name for a in Activation)) from None


# -- arrays in and out -------------------------------------------------------------

def _is_torch(x) -> bool:
    torch = sys.modules.get("torch")  # a torch tensor implies torch is imported
    return torch is not None and isinstance(x, torch.Tensor)


def _array(x, dtype: np.dtype | None = None) -> np.ndarray:
    if _is_torch(x):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=dtype)  # (ascontiguousarray would make a scalar 1-D)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"cannot convert {type(x).__name__} to an array ({exc})") from None


def _returned(y: np.ndarray, like):
    if _is_torch(like):
        import torch
        return torch.from_numpy(y)
    return y


def _param(value, shape, dtype, what: str) -> np.ndarray:
    array = np.array(_array(value, dtype), order="C")  # a copy: later edits of value stay out
    if array.shape != tuple(shape):
        raise ArgumentError(f"{what} must have shape {list(shape)}, got {list(array.shape)}")
    return array


def _pair(v, what: str) -> tuple[int, int]:
    pair = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(pair) != 2 or any(int(p) != p for p in pair):
        raise ValueError(f"{what} must be an int or a pair of ints, got {v!r}")
    return int(pair[0]), int(pair[1])


class _Layer:
    """Compile cache and report shared by the layers."""

    def __init__(self, *, target="cpu", patterns=None):
        self._target = target
        self._patterns = None if patterns is None else tuple(patterns)
        self._modules: dict = {}
        self._last = None

    @property
    def compiled(self) -> dict:
        """The compiled modules, keyed by (input shapes, dtype, configuration)."""
        return self._modules

    def _config(self) -> tuple:
        raise NotImplementedError

    def _ir(self, shapes, dtype: np.dtype) -> str:
        raise NotImplementedError

    def _module(self, shapes, dtype: np.dtype):
        key = (tuple(tuple(s) for s in shapes), dtype.name, self._config())
        module = self._modules.get(key)
        if module is None:
            module = _compile(self._ir(key[0], dtype), self._target, patterns=self._patterns)
            self._modules[key] = module
        self._last = module
        return module

    def report(self) -> FusionReport:
        """The fusion report of the module the last ``forward`` ran."""
        return self._last.report() if self._last is not None else FusionReport({})

    def detected_patterns(self):
        return self.report().groups

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


def _uniform(rng, bound: float, shape, dtype) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


# -- FusedLinear -------------------------------------------------------------------

class _Weighted:
    """``weight`` and ``bias`` parameters checked against the layer's
    ``weight_shape`` and ``bias_shape``; new values need no recompile (they
    are run-time arguments of the compiled kernel)."""

    @property
    def weight(self) -> np.ndarray:
        return self._weight

    @weight.setter
    def weight(self, value) -> None:
        self._weight = _param(value, self.weight_shape, self.dtype,
                              f"{type(self).__name__}.weight")

    @property
    def bias(self) -> np.ndarray | None:
        return self._bias

    @bias.setter
    def bias(self, value) -> None:
        if self._bias is None:
            raise ArgumentError(f"this {type(self).__name__} was built with bias=False")
        self._bias = _param(value, self.bias_shape, self.dtype, f"{type(self).__name__}.bias")

    def load(self, weight, bias=None):
        self.weight = weight
        if bias is not None:
            self.bias = bias
        return self


class FusedLinear(_Weighted, _Layer):
    """``y = act(x @ weight.T + bias)``, as torch ``nn.Linear`` + activation.

    ``weight`` [out, in] and ``bias`` [out] start like torch's (uniform in
    +-1/sqrt(in)) and can be set (``.weight = w``, ``.load(w, b)``) without
    recompiling. ``forward(x)`` takes x of shape [..., in]."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 seed=None, rng=None, dtype=np.float32, target="cpu", patterns=None):
        super().__init__(target=target, patterns=patterns)
        self.in_features, self.out_features = int(in_features), int(out_features)
        if self.in_features <= 0 or self.out_features <= 0:
            raise ValueError("in_features and out_features must be positive")
        self.dtype = _float_dtype(dtype)
        self._act = Activation.NONE
        rng = rng if rng is not None else np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(self.in_features)
        self._weight = _uniform(rng, bound, (self.out_features, self.in_features), self.dtype)
        self._bias = _uniform(rng, bound, (self.out_features,), self.dtype) if bias else None

    def activation(self, act) -> "FusedLinear":
        self._act = _activation(act)
        return self

    @property
    def weight_shape(self) -> tuple:
        return (self.out_features, self.in_features)

    @property
    def bias_shape(self) -> tuple:
        return (self.out_features,)

    def _config(self) -> tuple:
        return (self._act.value, self._bias is not None)

    def _ir(self, shapes, dtype) -> str:
        (batch, n_in), = shapes
        ir = IRWriter(_ELT[dtype])
        x = ir.arg("x", (batch, n_in))
        w = ir.arg("weight", (self.out_features, n_in))
        b = ir.arg("bias", (self.out_features,)) if self._bias is not None else None
        shape = (batch, self.out_features)
        y = ir.linear(x, (batch, n_in), w, b, self.out_features)
        if self._act is not Activation.NONE:
            y = ir.map(y, shape, lambda v: activation_body(ir, self._act, v))
        return ir.text([(y, shape)])

    def mlir(self, input_shape) -> str:
        """The IR compiled for inputs of ``input_shape`` ([..., in])."""
        return self._ir([(int(np.prod(input_shape[:-1])), input_shape[-1])], self.dtype)

    def forward(self, x):
        array = _array(x, self.dtype)
        if array.ndim == 0 or array.shape[-1] != self.in_features:
            raise ArgumentError(
                f"FusedLinear({self.in_features} -> {self.out_features}).forward: input must "
                f"have shape [..., {self.in_features}] (last dim = in_features), got "
                f"{list(array.shape)}")
        lead = array.shape[:-1]
        flat = array.reshape(-1, self.in_features)
        if flat.shape[0] == 0:
            return _returned(np.empty((*lead, self.out_features), self.dtype), x)
        module = self._module([flat.shape], self.dtype)
        args = [flat, self._weight] + ([self._bias] if self._bias is not None else [])
        return _returned(module.forward(*args).reshape(*lead, self.out_features), x)

    def __repr__(self) -> str:
        return (f"FusedLinear(in_features={self.in_features}, out_features="
                f"{self.out_features}, bias={self._bias is not None}, "
                f"activation={self._act.name}, dtype={self.dtype.name})")


# -- FusedConv ---------------------------------------------------------------------

class FusedConv(_Weighted, _Layer):
    """2-D convolution (NCHW input, [out, in, kh, kw] weights, zero padding),
    optional inference batch-norm and activation: torch ``nn.Conv2d`` +
    ``nn.BatchNorm2d`` (eval) + activation.

    The batch-norm statistics are baked into the IR as constants (so the
    ConvBnRelu pattern may fold them; new statistics mean a new compile);
    ``weight`` [out, in, kh, kw] and ``bias`` [out] are runtime arguments."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, *, seed=None, rng=None, dtype=np.float32, target="cpu",
                 patterns=None):
        super().__init__(target=target, patterns=patterns)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        if min(self.kernel_size + self.stride) <= 0 or min(self.padding) < 0:
            raise ValueError("kernel_size and stride must be positive, padding non-negative")
        self.dtype = _float_dtype(dtype)
        self._act = Activation.NONE
        self._bn = None  # (mean, var, gamma, beta, eps)
        rng = rng if rng is not None else np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        self._weight = _uniform(rng, bound, self.weight_shape, self.dtype)
        self._bias = _uniform(rng, bound, (self.out_channels,), self.dtype) if bias else None

    @property
    def weight_shape(self) -> tuple:
        return (self.out_channels, self.in_channels, *self.kernel_size)

    def activation(self, act) -> "FusedConv":
        self._act = _activation(act)
        return self

    def batch_norm(self, mean, var, gamma=None, beta=None, eps: float = 1e-5) -> "FusedConv":
        """Apply ``(y - mean) / sqrt(var + eps) * gamma + beta`` per output
        channel (gamma defaults to 1, beta to 0)."""
        c = self.out_channels
        one, zero = np.ones(c, self.dtype), np.zeros(c, self.dtype)
        self._bn = tuple(_param(v, (c,), self.dtype, f"batch_norm {name}")
                         for v, name in ((mean, "mean"), (var, "var"),
                                         (one if gamma is None else gamma, "gamma"),
                                         (zero if beta is None else beta, "beta")))
        self._bn += (float(eps),)
        return self

    @property
    def bias_shape(self) -> tuple:
        return (self.out_channels,)

    def _config(self) -> tuple:
        bn = None if self._bn is None else \
            (tuple(a.tobytes() for a in self._bn[:4]), self._bn[4])
        return (self._act.value, self._bias is not None, bn)

    def output_shape(self, input_shape) -> tuple:
        n, _, h, w = input_shape
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (n, self.out_channels, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)

    def _ir(self, shapes, dtype) -> str:
        (xshape,) = shapes
        ir = IRWriter(_ELT[dtype])
        x = ir.arg("x", xshape)
        w = ir.arg("weight", self.weight_shape)
        b = ir.arg("bias", (self.out_channels,)) if self._bias is not None else None
        n, c, h, wd = xshape
        ph, pw = self.padding
        if ph or pw:
            padded_shape = (n, c, h + 2 * ph, wd + 2 * pw)
            padded, zero = ir.fresh("pad"), ir.const(0.0)
            ir.emit(f"{padded} = tensor.pad {x} low[0, 0, {ph}, {pw}] high[0, 0, {ph}, {pw}] {{")
            ir.emit("^bb0(%i0: index, %i1: index, %i2: index, %i3: index):")
            ir.emit(f"  tensor.yield {zero} : {ir.elt}")
            ir.emit(f"}} : {ir.ty(xshape)} to {ir.ty(padded_shape)}")
            x, xshape = padded, padded_shape
        shape = self.output_shape(shapes[0])
        acc, y = ir.fill(0.0, shape), ir.fresh("conv")
        ir.emit(f"{y} = linalg.conv_2d_nchw_fchw {{dilations = dense<1> : vector<2xi64>, "
                f"strides = dense<[{self.stride[0]}, {self.stride[1]}]> : vector<2xi64>}} "
                f"ins({x}, {w} : {ir.ty(xshape)}, {ir.ty(self.weight_shape)}) "
                f"outs({acc} : {ir.ty(shape)}) -> {ir.ty(shape)}")
        ident, chan = "d0, d1, d2, d3", "d1"
        if b is not None:
            y = ir.generic([(y, shape, ident), (b, (self.out_channels,), chan)], shape,
                           lambda a: ir.op("arith.addf", a[0], a[1]))
        if self._bn is not None:
            # torch-mlir's inference batch_norm: one generic over x and the four
            # per-channel parameters.
            *params, eps = self._bn
            consts = [ir.dense(p) for p in params]

            def bn(a):
                centered = ir.op("arith.subf", a[0], a[1])
                inv_std = ir.op("math.rsqrt", ir.op("arith.addf", a[2], ir.const(eps)))
                scaled = ir.op("arith.mulf", ir.op("arith.mulf", centered, inv_std), a[3])
                return ir.op("arith.addf", scaled, a[4])
            y = ir.generic([(y, shape, ident)] +
                           [(p, (self.out_channels,), chan) for p in consts], shape, bn)
        if self._act is not Activation.NONE:
            y = ir.map(y, shape, lambda v: activation_body(ir, self._act, v))
        return ir.text([(y, shape)])

    def mlir(self, input_shape) -> str:
        return self._ir([tuple(input_shape)], self.dtype)

    def forward(self, x):
        array = _array(x, self.dtype)
        what = (f"FusedConv({self.in_channels} -> {self.out_channels}, kernel "
                f"{self.kernel_size[0]}x{self.kernel_size[1]}).forward")
        if array.ndim != 4 or array.shape[1] != self.in_channels:
            raise ArgumentError(f"{what}: input must have shape [N, {self.in_channels}, H, W] "
                                f"(NCHW, C = in_channels), got {list(array.shape)}")
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if array.shape[2] + 2 * ph < kh or array.shape[3] + 2 * pw < kw or array.shape[0] == 0:
            raise ArgumentError(f"{what}: input {list(array.shape)} is smaller than the kernel "
                                f"after padding {list(self.padding)} (or has an empty batch)")
        module = self._module([array.shape], self.dtype)
        args = [array, self._weight] + ([self._bias] if self._bias is not None else [])
        return _returned(module.forward(*args), x)

    def __repr__(self) -> str:
        bn = "None" if self._bn is None else f"(eps={self._bn[4]:g})"
        return (f"FusedConv(in_channels={self.in_channels}, out_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"bias={self._bias is not None}, batch_norm={bn}, "
                f"activation={self._act.name}, dtype={self.dtype.name})")


# -- FusedElementwise --------------------------------------------------------------

class FusedElementwise(_Layer):
    """A chain of element-wise ops on one tensor of any shape, built by
    chaining: ``FusedElementwise().add(1.0).mul(2.0).sub(0.5)`` computes
    ``(x + 1) * 2 - 0.5``. Each op is one ``linalg.generic`` (as a front end
    writes them); the ElementwiseChain pattern fuses them into one loop."""

    def __init__(self, *, dtype=None, target="cpu", patterns=None):
        super().__init__(target=target, patterns=patterns)
        self.dtype = None if dtype is None else _float_dtype(dtype)
        self.ops: list[tuple] = []

    def _push(self, name: str, *params) -> "FusedElementwise":
        self.ops.append((name, *(None if p is None else float(p) for p in params)))
        return self

    def add(self, c: float): return self._push("add", c)          # noqa: E704
    def sub(self, c: float): return self._push("sub", c)          # noqa: E704
    def mul(self, c: float): return self._push("mul", c)          # noqa: E704
    def div(self, c: float): return self._push("div", c)          # noqa: E704
    def pow(self, p: float): return self._push("pow", p)          # noqa: E704
    def exp(self): return self._push("exp")                       # noqa: E704
    def log(self): return self._push("log")                       # noqa: E704
    def sqrt(self): return self._push("sqrt")                     # noqa: E704
    def abs(self): return self._push("abs")                       # noqa: E704
    def neg(self): return self._push("neg")                       # noqa: E704
    def relu(self): return self._push("relu")                     # noqa: E704
    def sigmoid(self): return self._push("sigmoid")               # noqa: E704
    def tanh(self): return self._push("tanh")                     # noqa: E704
    def silu(self): return self._push("silu")                     # noqa: E704

    def gelu(self, approximate: str = "none") -> "FusedElementwise":
        """GELU, exact (erf) or ``approximate="tanh"`` (as torch spells it)."""
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        return self._push("gelu" if approximate == "none" else "gelu_tanh")

    def clamp(self, lo: float | None = None, hi: float | None = None) -> "FusedElementwise":
        if lo is None and hi is None:
            raise ValueError("clamp needs lo, hi or both")
        return self._push("clamp", lo, hi)

    def activation(self, act) -> "FusedElementwise":
        act = _activation(act)
        return self if act is Activation.NONE else self._push(act.value)

    def _config(self) -> tuple:
        return tuple(self.ops)

    def _ir(self, shapes, dtype) -> str:
        (shape,) = shapes
        ir = IRWriter(_ELT[dtype])
        y = ir.arg("x", shape)
        for name, *params in self.ops:
            y = ir.map(y, shape, lambda v: ELEMENTWISE[name](ir, v, *params))
        return ir.text([(y, shape)])

    def mlir(self, input_shape, dtype=np.float32) -> str:
        return self._ir([tuple(input_shape)], _float_dtype(self.dtype or dtype))

    def forward(self, x):
        array = _array(x, self.dtype)
        if array.dtype not in _ELT:
            array = array.astype(np.float32)
        if not self.ops or array.size == 0:
            return _returned(array.copy(), x)
        shape = array.shape or (1,)  # a scalar runs as one element
        module = self._module([shape], array.dtype)
        return _returned(module.forward(array.reshape(shape)).reshape(array.shape), x)

    def __repr__(self) -> str:
        steps = [f"{name}({', '.join(map(repr, params))})" for name, *params in self.ops]
        return f"FusedElementwise({' -> '.join(steps)})"


# -- FusedAttention ----------------------------------------------------------------

class FusedAttention(_Layer):
    """Multi-head attention as torch ``nn.MultiheadAttention(embed_dim,
    num_heads, batch_first=True)`` computes it (no dropout): inputs are
    [batch, seq, embed]; ``forward(query, key=None, value=None, mask=None)``
    returns the attention output [batch, query seq, embed] (self-attention
    when key and value are omitted). ``mask``: additive float or boolean
    (True = masked out), of shape [L, S] or [batch * num_heads, L, S].

    Parameters, like torch's: ``in_proj_weight`` [3E, E] (Q, K, V rows),
    ``in_proj_bias`` [3E], ``out_proj_weight`` [E, E], ``out_proj_bias`` [E];
    all are runtime arguments."""

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = True, seed=None,
                 rng=None, dtype=np.float32, target="cpu", patterns=None):
        super().__init__(target=target, patterns=patterns)
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        if self.embed_dim <= 0 or self.num_heads <= 0 or self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be a positive multiple of "
                             f"num_heads ({num_heads})")
        self.head_dim = self.embed_dim // self.num_heads
        self.dtype = _float_dtype(dtype)
        self.bias = bool(bias)
        rng = rng if rng is not None else np.random.default_rng(seed)
        e = self.embed_dim
        # torch: xavier_uniform_ in_proj_weight, zero biases, out_proj like nn.Linear.
        self.in_proj_weight = _uniform(rng, math.sqrt(6.0 / (4 * e)), (3 * e, e), self.dtype)
        self.out_proj_weight = _uniform(rng, 1.0 / math.sqrt(e), (e, e), self.dtype)
        self.in_proj_bias = np.zeros(3 * e, self.dtype) if bias else None
        self.out_proj_bias = np.zeros(e, self.dtype) if bias else None

    def __setattr__(self, name, value):
        shapes = {"in_proj_weight": (3, 1), "in_proj_bias": (3,), "out_proj_weight": (1, 1),
                  "out_proj_bias": (1,)}
        if name in shapes and value is not None:
            if name.endswith("bias") and not self.bias:
                raise ArgumentError(f"this FusedAttention was built with bias=False ({name})")
            shape = tuple(k * self.embed_dim for k in shapes[name])
            value = _param(value, shape, self.dtype, f"FusedAttention.{name}")
        super().__setattr__(name, value)

    def load(self, in_proj_weight, in_proj_bias=None, out_proj_weight=None,
             out_proj_bias=None) -> "FusedAttention":
        for name, value in (("in_proj_weight", in_proj_weight), ("in_proj_bias", in_proj_bias),
                            ("out_proj_weight", out_proj_weight),
                            ("out_proj_bias", out_proj_bias)):
            if value is not None:
                setattr(self, name, value)
        return self

    def _config(self) -> tuple:
        return (self.num_heads, self.bias)

    def _ir(self, shapes, dtype) -> str:
        """Shapes: (query, key or None, mask or None); key stands for value too."""
        qshape, kshape, mshape = shapes
        n, length, e = qshape
        src = kshape[1] if kshape else length
        h, d = self.num_heads, self.head_dim
        ir = IRWriter(_ELT[dtype])
        q_in = ir.arg("query", qshape)
        k_in, v_in = (ir.arg("key", kshape), ir.arg("value", kshape)) if kshape else (q_in, q_in)
        mask = ir.arg("mask", mshape) if mshape else None
        ws = [ir.arg(f"w_{x}", (e, e)) for x in "qkvo"]
        bs = [ir.arg(f"b_{x}", (e,)) for x in "qkvo"] if self.bias else [None] * 4

        def heads(x, seq, w, b):
            """[n, seq, e] -> projection -> [n * h, seq, d]"""
            flat = ir.reshape("collapse", x, (n, seq, e), [[0, 1], [2]], (n * seq, e))
            y = ir.linear(flat, (n * seq, e), w, b, e)
            y4 = ir.reshape("expand", y, (n * seq, e), [[0, 1], [2, 3]], (n, seq, h, d))
            yt, tshape = ir.transpose(y4, (n, seq, h, d), (0, 2, 1, 3))
            return ir.reshape("collapse", yt, tshape, [[0, 1], [2], [3]], (n * h, seq, d))

        q = heads(q_in, length, ws[0], bs[0])
        k = heads(k_in, src, ws[1], bs[1])
        v = heads(v_in, src, ws[2], bs[2])
        kt, kt_shape = ir.transpose(k, (n * h, src, d), (0, 2, 1))
        shape = (n * h, length, src)
        s = ir.contract("linalg.batch_matmul", q, (n * h, length, d), kt, kt_shape, shape)
        ident = "d0, d1, d2"
        scale = ir.const(1.0 / math.sqrt(d))
        s = ir.map(s, shape, lambda x: ir.op("arith.mulf", x, scale))
        if mask is not None:
            mmap = ident if len(mshape) == 3 else "d1, d2"
            s = ir.generic([(s, shape, ident), (mask, mshape, mmap)], shape,
                           lambda a: ir.op("arith.addf", a[0], a[1]))
        # softmax over the last dim: max, exp(x - max), sum, divide
        row = "d0, d1"
        mx = ir.generic([(s, shape, ident)], shape,
                        lambda a: ir.op("arith.maximumf", a[0], a[1]),
                        reduce_last=True, init=ir.fill(-math.inf, shape[:2]))
        ex = ir.generic([(s, shape, ident), (mx, shape[:2], row)], shape,
                        lambda a: ir.op("math.exp", ir.op("arith.subf", a[0], a[1])))
        sm = ir.generic([(ex, shape, ident)], shape,
                        lambda a: ir.op("arith.addf", a[0], a[1]),
                        reduce_last=True, init=ir.fill(0.0, shape[:2]))
        p = ir.generic([(ex, shape, ident), (sm, shape[:2], row)], shape,
                       lambda a: ir.op("arith.divf", a[0], a[1]))
        o = ir.contract("linalg.batch_matmul", p, shape, v, (n * h, src, d), (n * h, length, d))
        o4 = ir.reshape("expand", o, (n * h, length, d), [[0, 1], [2], [3]], (n, h, length, d))
        ot, oshape = ir.transpose(o4, (n, h, length, d), (0, 2, 1, 3))
        merged = ir.reshape("collapse", ot, oshape, [[0, 1], [2, 3]], (n * length, e))
        out = ir.linear(merged, (n * length, e), ws[3], bs[3], e)
        out = ir.reshape("expand", out, (n * length, e), [[0, 1], [2]], (n, length, e))
        return ir.text([(out, (n, length, e))])

    def mlir(self, query_shape, key_shape=None, mask_shape=None) -> str:
        return self._ir([tuple(query_shape), key_shape and tuple(key_shape),
                         mask_shape and tuple(mask_shape)], self.dtype)

    def forward(self, query, key=None, value=None, mask=None):
        e, h = self.embed_dim, self.num_heads
        what = f"FusedAttention(embed_dim={e}, num_heads={h}).forward"
        q = _array(query, self.dtype)
        if q.ndim != 3 or q.shape[2] != e or 0 in q.shape:
            raise ArgumentError(f"{what}: query must have shape [batch, seq, {e}] "
                                f"(last dim = embed_dim), got {list(q.shape)}")
        if (key is None) != (value is None):
            raise ArgumentError(f"{what}: pass both key and value, or neither "
                                "(self-attention)")
        args, kshape = [q], None
        if key is not None:
            k, v = _array(key, self.dtype), _array(value, self.dtype)
            if k.ndim != 3 or k.shape[0] != q.shape[0] or k.shape[2] != e or k.shape[1] == 0:
                raise ArgumentError(f"{what}: key must have shape [{q.shape[0]}, seq, {e}] "
                                    f"(the query's batch), got {list(k.shape)}")
            if v.shape != k.shape:
                raise ArgumentError(f"{what}: value must have the key's shape "
                                    f"{list(k.shape)}, got {list(v.shape)}")
            args, kshape = [q, k, v], k.shape
        mshape = None
        if mask is not None:
            m = _array(mask)
            m = np.where(m, -np.inf, 0.0).astype(self.dtype) if m.dtype == np.bool_ \
                else m.astype(self.dtype, copy=False)
            src = kshape[1] if kshape else q.shape[1]
            allowed = [(q.shape[1], src), (q.shape[0] * h, q.shape[1], src)]
            if m.shape not in allowed:
                raise ArgumentError(f"{what}: mask must have shape {list(allowed[0])} or "
                                    f"{list(allowed[1])} ([L, S] or [batch * num_heads, L, "
                                    f"S]), got {list(m.shape)}")
            args.append(m)
            mshape = m.shape
        module = self._module([q.shape, kshape or (), mshape or ()], self.dtype)
        w, b = self.in_proj_weight, self.in_proj_bias
        args += [w[:e], w[e:2 * e], w[2 * e:], self.out_proj_weight]
        if self.bias:
            args += [b[:e], b[e:2 * e], b[2 * e:], self.out_proj_bias]
        return _returned(module.forward(*args), query)

    def __repr__(self) -> str:
        return (f"FusedAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"bias={self.bias}, dtype={self.dtype.name})")
