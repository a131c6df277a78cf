"""Writing the seed layers' computations as linalg-on-tensors text.

``IRWriter`` builds one ``func.func @forward`` line by line, in the form
torch-mlir's FX importer gives the same PyTorch modules: function-level
scalar constants, ``tensor.empty`` + ``linalg.fill`` accumulators,
``linalg.transpose`` of ``[out, in]`` weights, one ``linalg.generic`` per
element-wise step. Fresh SSA names come from one counter, so the text never
redefines a name. ``activation_body`` and ``ELEMENTWISE`` give the scalar
code of each activation and element-wise op.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from axfusion.passes.activations import Activation


def _literal(value: float, elt: str) -> str:
    """An MLIR float literal for ``value`` rounded to ``elt`` (exact: shortest
    repr of the rounded value, or the bit pattern for inf/nan)."""
    v = float(np.float32(value)) if elt == "f32" else float(value)
    if not math.isfinite(v):
        return "0x" + struct.pack(">f" if elt == "f32" else ">d", v).hex().upper()
    text = repr(v)
    mantissa, e, exponent = text.partition("e")
    if "." not in mantissa:  # MLIR wants a '.' in a decimal float: 1e-05 -> 1.0e-05
        text = mantissa + ".0" + e + exponent
    return text


class IRWriter:
    """One ``func.func @forward`` being written as text, with fresh SSA names
    and function-level scalar constants (as torch-mlir places them)."""

    def __init__(self, elt: str):
        self.elt = elt
        self.args: list[str] = []
        self.lines: list[str] = []
        self._consts: dict[float, str] = {}
        self._n = 0

    def ty(self, shape) -> str:
        return "tensor<" + "".join(f"{d}x" for d in shape) + self.elt + ">"

    def arg(self, name: str, shape) -> str:
        self.args.append(f"%{name}: {self.ty(shape)}")
        return f"%{name}"

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"%{hint}{self._n}"

    def emit(self, line: str) -> None:
        self.lines.append("  " + line)

    def const(self, value: float) -> str:
        lit = _literal(value, self.elt)
        if lit not in self._consts:
            name = self.fresh("cst")
            self.lines.insert(0, f"  {name} = arith.constant {lit} : {self.elt}")
            self._consts[lit] = name
        return self._consts[lit]

    def dense(self, values: np.ndarray) -> str:
        """A rank-1 ``arith.constant dense<...>`` tensor."""
        name = self.fresh("dense")
        body = ", ".join(_literal(v, self.elt) for v in values.ravel())
        self.emit(f"{name} = arith.constant dense<[{body}]> : {self.ty(values.shape)}")
        return name

    def op(self, opname: str, *operands: str) -> str:
        """A scalar op inside a generic body: ``%r = opname a, b : elt``."""
        name = self.fresh("v")
        self.emit(f"  {name} = {opname} {', '.join(operands)} : {self.elt}")
        return name

    def empty(self, shape) -> str:
        name = self.fresh("empty")
        self.emit(f"{name} = tensor.empty() : {self.ty(shape)}")
        return name

    def fill(self, value: float, shape) -> str:
        init, name, scalar = self.empty(shape), self.fresh("fill"), self.const(value)
        self.emit(f"{name} = linalg.fill ins({scalar} : {self.elt}) outs({init} : "
                  f"{self.ty(shape)}) -> {self.ty(shape)}")
        return name

    def generic(self, ins, shape, body, *, reduce_last=False, init=None) -> str:
        """``linalg.generic`` over ``shape`` (the iteration space). ``ins``:
        (value, value shape, map results as dims like "d0, d2"); the output is
        identity-mapped, or drops the last dim when ``reduce_last`` (into
        ``init``). ``body(args)`` writes the scalar ops and returns the yield."""
        rank = len(shape)
        dims = ", ".join(f"d{i}" for i in range(rank))
        out_dims = ", ".join(f"d{i}" for i in range(rank - 1 if reduce_last else rank))
        out_shape = shape[:-1] if reduce_last else shape
        maps = [f"affine_map<({dims}) -> ({m})>" for _, _, m in ins]
        maps.append(f"affine_map<({dims}) -> ({out_dims})>")
        iters = ["parallel"] * rank
        if reduce_last:
            iters[-1] = "reduction"
        init = init or self.empty(out_shape)
        name = self.fresh("g")
        ins_text = ", ".join(v for v, _, _ in ins)
        ins_types = ", ".join(self.ty(s) for _, s, _ in ins)
        iter_text = ", ".join(f'"{i}"' for i in iters)
        self.emit(f"{name} = linalg.generic {{indexing_maps = [{', '.join(maps)}], "
                  f"iterator_types = [{iter_text}]}}")
        self.emit(f"    ins({ins_text} : {ins_types}) outs({init} : {self.ty(out_shape)}) {{")
        block = [self.fresh("a") for _ in range(len(ins) + 1)]
        self.emit("^bb0(" + ", ".join(f"{b}: {self.elt}" for b in block) + "):")
        result = body(block[:-1] if not reduce_last else block)
        self.emit(f"  linalg.yield {result} : {self.elt}")
        self.emit(f"}} -> {self.ty(out_shape)}")
        return name

    def map(self, x: str, shape, fn) -> str:
        """An element-wise generic of one input."""
        dims = ", ".join(f"d{i}" for i in range(len(shape)))
        return self.generic([(x, shape, dims)], shape, lambda a: fn(a[0]))

    def transpose(self, x: str, shape, perm) -> tuple[str, tuple]:
        out_shape = tuple(shape[p] for p in perm)
        init, name = self.empty(out_shape), self.fresh("t")
        self.emit(f"{name} = linalg.transpose ins({x} : {self.ty(shape)}) outs({init} : "
                  f"{self.ty(out_shape)}) permutation = [{', '.join(map(str, perm))}]")
        return name, out_shape

    def contract(self, opname: str, a: str, ashape, b: str, bshape, out_shape) -> str:
        acc, name = self.fill(0.0, out_shape), self.fresh("mm")
        self.emit(f"{name} = {opname} ins({a}, {b} : {self.ty(ashape)}, {self.ty(bshape)}) "
                  f"outs({acc} : {self.ty(out_shape)}) -> {self.ty(out_shape)}")
        return name

    def reshape(self, kind: str, x: str, shape, groups, out_shape) -> str:
        """``tensor.collapse_shape`` / ``tensor.expand_shape`` with ``groups``."""
        name = self.fresh("r")
        assoc = "[" + ", ".join("[" + ", ".join(map(str, g)) + "]" for g in groups) + "]"
        if kind == "collapse":
            self.emit(f"{name} = tensor.collapse_shape {x} {assoc} : {self.ty(shape)} "
                      f"into {self.ty(out_shape)}")
        else:
            self.emit(f"{name} = tensor.expand_shape {x} {assoc} output_shape "
                      f"[{', '.join(map(str, out_shape))}] : {self.ty(shape)} "
                      f"into {self.ty(out_shape)}")
        return name

    def linear(self, x: str, xshape, w: str, b: str | None, out: int) -> str:
        """torch-mlir's ``nn.Linear`` on a 2-D input: transpose the [out, in]
        weight, matmul into a zero fill, broadcast-add the bias."""
        wt, wt_shape = self.transpose(w, (out, xshape[1]), (1, 0))
        shape = (xshape[0], out)
        y = self.contract("linalg.matmul", x, xshape, wt, wt_shape, shape)
        if b is not None:
            y = self.generic([(y, shape, "d0, d1"), (b, (out,), "d1")], shape,
                             lambda a: self.op("arith.addf", a[0], a[1]))
        return y

    def text(self, results: list[tuple[str, tuple]]) -> str:
        rets = ", ".join(v for v, _ in results)
        types = ", ".join(self.ty(s) for _, s in results)
        head = f"func.func @forward({', '.join(self.args)}) -> {types} {{"
        return "\n".join([head, *self.lines, f"  return {rets} : {types}", "}", ""])


def activation_body(ir: IRWriter, act: Activation, x: str) -> str:
    """The scalar ops of ``act`` applied to ``x`` (the spellings torch-mlir
    uses); returns the result's name."""
    if act is Activation.NONE:
        return x
    if act is Activation.ReLU:
        return ir.op("arith.maximumf", x, ir.const(0.0))
    if act is Activation.ReLU6:
        return ir.op("arith.minimumf", ir.op("arith.maximumf", x, ir.const(0.0)),
                     ir.const(6.0))
    if act is Activation.GELU:  # 0.5 x (1 + erf(x / sqrt 2))
        erf = ir.op("math.erf", ir.op("arith.mulf", x, ir.const(1.0 / math.sqrt(2.0))))
        return ir.op("arith.mulf", ir.op("arith.mulf", x, ir.const(0.5)),
                     ir.op("arith.addf", erf, ir.const(1.0)))
    if act is Activation.GELUTanh:  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = ir.op("arith.mulf", ir.op("arith.mulf", x, x), x)
        inner = ir.op("arith.addf", x, ir.op("arith.mulf", cube, ir.const(0.044715)))
        t = ir.op("math.tanh", ir.op("arith.mulf", inner, ir.const(math.sqrt(2.0 / math.pi))))
        return ir.op("arith.mulf", ir.op("arith.mulf", x, ir.const(0.5)),
                     ir.op("arith.addf", t, ir.const(1.0)))
    if act is Activation.Tanh:
        return ir.op("math.tanh", x)
    one = ir.const(1.0)
    denom = ir.op("arith.addf", ir.op("math.exp", ir.op("arith.negf", x)), one)
    if act is Activation.Sigmoid:
        return ir.op("arith.divf", one, denom)
    if act is Activation.SiLU:
        return ir.op("arith.divf", x, denom)
    raise ValueError(f"no IR for activation {act}")


def _unary(opname):
    return lambda ir, v: ir.op(opname, v)


def _with_const(opname):
    return lambda ir, v, c: ir.op(opname, v, ir.const(c))


def _clamp(ir, v, lo, hi):
    if lo is not None:
        v = ir.op("arith.maximumf", v, ir.const(lo))
    if hi is not None:
        v = ir.op("arith.minimumf", v, ir.const(hi))
    return v


def _act(act):
    return lambda ir, v: activation_body(ir, act, v)


# name -> body(ir, value, *params) writing one op's scalar code
ELEMENTWISE = {
    "add": _with_const("arith.addf"), "sub": _with_const("arith.subf"),
    "mul": _with_const("arith.mulf"), "div": _with_const("arith.divf"),
    "pow": _with_const("math.powf"), "clamp": _clamp,
    "exp": _unary("math.exp"), "log": _unary("math.log"), "sqrt": _unary("math.sqrt"),
    "abs": _unary("math.absf"), "neg": _unary("arith.negf"),
    "relu": _act(Activation.ReLU), "relu6": _act(Activation.ReLU6),
    "gelu": _act(Activation.GELU), "gelu_tanh": _act(Activation.GELUTanh),
    "sigmoid": _act(Activation.Sigmoid), "tanh": _act(Activation.Tanh),
    "silu": _act(Activation.SiLU),
}
