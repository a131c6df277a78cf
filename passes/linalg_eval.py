"""Run a straight-line list of linalg-on-tensors ops in numpy (float64).

``activations.evaluate`` runs one element-wise body with ``scalar_op``
below; patterns that
change the algorithm (log-sum-exp cross-entropy) need more: a whole
subgraph of generics with broadcasts, reductions (``(d0, d1) -> (d0, 0)``
included), ``linalg.index``, ``tensor.extract`` gathers, fills and scalar
ops between them. ``run`` interprets such a list so a pattern can check
what the ops compute on sample inputs before it replaces them. Every op
must be known here: anything else raises ``Unknown`` (the pattern refuses).

Shapes come from the IR's static types through ``shape_of`` (a pattern may
shrink a dimension, e.g. run 8 rows of a 4096-row loss). Reductions whose
body is ``yield combine(f(ins), acc)`` with an associative ``combine`` are
evaluated whole with numpy; others (argmax, select-based max) one
reduction index at a time.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from axfusion._mlir import ir

from . import match


class Unknown(Exception):
    """An op, attribute or shape this interpreter does not handle."""


class Fill:
    """A ``tensor.empty`` (value None) or ``linalg.fill`` result whose shape
    is only known at its use: it broadcasts to the iteration space."""

    def __init__(self, value=None):
        self.value = value


_erf = np.frompyfunc(math.erf, 1, 1)


def erf(x) -> np.ndarray:
    """Elementwise erf in float64 (numpy has none)."""
    return _erf(np.asarray(x, np.float64)).astype(np.float64)


_FBIN = {"arith.addf": np.add, "arith.subf": np.subtract, "arith.mulf": np.multiply,
         "arith.divf": np.divide, "arith.maximumf": np.maximum, "arith.minimumf": np.minimum,
         "arith.maxnumf": np.fmax, "arith.minnumf": np.fmin, "math.powf": np.power,
         "math.fpowi": np.power}
_IBIN = {"arith.addi": np.add, "arith.subi": np.subtract, "arith.muli": np.multiply,
         "arith.maxsi": np.maximum, "arith.minsi": np.minimum, "arith.andi": np.bitwise_and,
         "arith.ori": np.bitwise_or, "arith.xori": np.bitwise_xor}
_UNARY = {"math.exp": np.exp, "math.exp2": np.exp2, "math.log": np.log, "math.log1p": np.log1p,
          "math.log2": np.log2, "math.tanh": np.tanh, "math.sqrt": np.sqrt,
          "math.rsqrt": lambda x: 1.0 / np.sqrt(x), "math.absf": np.abs,
          "math.expm1": np.expm1, "math.erf": erf, "arith.negf": np.negative}
_TO_FLOAT = ("arith.extf", "arith.truncf", "arith.sitofp", "arith.uitofp")
_TO_INT = ("arith.index_cast", "arith.index_castui", "arith.extsi", "arith.extui",
           "arith.trunci", "arith.fptosi", "arith.fptoui")
# arith::CmpFPredicate (ordered and unordered agree off NaN) and CmpIPredicate.
_CMPF = {1: np.equal, 2: np.greater, 3: np.greater_equal, 4: np.less, 5: np.less_equal,
         6: np.not_equal, 8: np.equal, 9: np.greater, 10: np.greater_equal, 11: np.less,
         12: np.less_equal, 13: np.not_equal}
_CMPI = {0: np.equal, 1: np.not_equal, 2: np.less, 3: np.less_equal, 4: np.greater,
         5: np.greater_equal}
_UCMPI = {6: np.less, 7: np.less_equal, 8: np.greater, 9: np.greater_equal}
# Reduction combiners numpy can apply along axes in any order.
_REDUCE = {"arith.addf": np.add, "arith.mulf": np.multiply, "arith.maximumf": np.maximum,
           "arith.minimumf": np.minimum, "arith.maxnumf": np.fmax, "arith.minnumf": np.fmin,
           "arith.addi": np.add, "arith.maxsi": np.maximum, "arith.minsi": np.minimum,
           "arith.ori": np.bitwise_or, "arith.andi": np.bitwise_and}


def _constant(op):
    attr = op.attributes["value"]
    if isinstance(attr, ir.FloatAttr):
        return np.float64(attr.value)
    if isinstance(attr, ir.IntegerAttr):
        ty = str(attr.type)
        return np.bool_(attr.value & 1) if ty == "i1" else np.int64(attr.value)
    if isinstance(attr, ir.DenseElementsAttr) and attr.is_splat:
        return Fill(_constant_value(attr.get_splat_value()))
    raise Unknown(f"constant {attr}")


def _constant_value(attr):
    if isinstance(attr, ir.FloatAttr):
        return float(attr.value)
    if isinstance(attr, ir.IntegerAttr):
        return int(attr.value)
    raise Unknown(f"constant {attr}")


def scalar_op(op, get):
    """One arith/math/tensor.extract op on numpy arrays (0-d or broadcast);
    ``get`` gives the value of each operand. The one scalar interpreter:
    ``activations.evaluate`` and the attention matcher use it too."""
    n = op.name
    if n == "arith.constant":
        return _constant(op)
    args = [get(v) for v in op.operands]
    with np.errstate(all="ignore"):
        if n in _FBIN:
            return _FBIN[n](np.asarray(args[0], np.float64), np.asarray(args[1], np.float64))
        if n in _IBIN:
            return _IBIN[n](np.asarray(args[0], np.int64), np.asarray(args[1], np.int64))
        if n in _UNARY:
            return _UNARY[n](np.asarray(args[0], np.float64))
        if n in _TO_FLOAT:
            return np.asarray(args[0], np.float64)
        if n in _TO_INT:
            value = np.asarray(args[0])
            if n in ("arith.fptosi", "arith.fptoui"):
                return np.trunc(value).astype(np.int64)
            if str(op.results[0].type) == "i1":
                return (value.astype(np.int64) & 1).astype(bool)
            if n == "arith.extsi" and value.dtype == bool:
                return -value.astype(np.int64)   # i1 true sign-extends to -1
            return value.astype(np.int64)
        if n == "arith.cmpf":
            pred = ir.IntegerAttr(op.attributes["predicate"]).value
            if pred not in _CMPF:
                raise Unknown(f"cmpf predicate {pred}")
            return _CMPF[pred](args[0], args[1])
        if n == "arith.cmpi":
            pred = ir.IntegerAttr(op.attributes["predicate"]).value
            a, b = np.asarray(args[0], np.int64), np.asarray(args[1], np.int64)
            if pred in _CMPI:
                return _CMPI[pred](a, b)
            if pred in _UCMPI:
                return _UCMPI[pred](a.astype(np.uint64), b.astype(np.uint64))
            raise Unknown(f"cmpi predicate {pred}")
        if n == "arith.select":
            return np.where(args[0], args[1], args[2])
        if n == "tensor.extract":
            return _extract(args[0], args[1:])
    raise Unknown(n)


def _extract(tensor, indices):
    """``tensor.extract`` with (broadcast) index arrays; out-of-bounds reads
    give NaN, so a result that depends on one never matches a reference."""
    if isinstance(tensor, Fill) or not isinstance(tensor, np.ndarray):
        raise Unknown("tensor.extract from a value without data")
    if not indices:
        return tensor[()]
    idx = np.broadcast_arrays(*[np.asarray(i, np.int64) for i in indices])
    inside = np.ones(idx[0].shape, bool)
    for axis, i in enumerate(idx):
        inside &= (i >= 0) & (i < tensor.shape[axis])
    clipped = tuple(np.clip(i, 0, tensor.shape[axis] - 1) for axis, i in enumerate(idx))
    got = tensor[clipped].astype(np.float64)
    return np.where(inside, got, np.nan)


def _read(value, amap: ir.AffineMap, ranges: list[int]) -> np.ndarray:
    """``value`` read through ``amap`` at every point of the iteration space."""
    nd = len(ranges)
    if isinstance(value, Fill):
        if value.value is None:
            return np.zeros(ranges)  # an empty tensor's contents are never read here
        return np.full(ranges, value.value)
    idx = []
    for k, d in enumerate(match.map_dims(amap)):
        if d is None:
            if str(amap.results[k]) != "0":
                raise Unknown(f"map {amap}")
            idx.append(0)
        else:
            idx.append(np.arange(ranges[d]).reshape([-1 if q == d else 1 for q in range(nd)]))
    return np.broadcast_to(value[tuple(idx)] if idx else value, ranges)


def _loop_ranges(op, operands: list, shape_of) -> list[int]:
    maps = match.indexing_maps(op)
    ranges: list[int | None] = [None] * maps[0].n_dims
    for value, amap in zip(operands, maps):
        shape = shape_of(value.type)
        for k, d in enumerate(match.map_dims(amap)):
            if d is not None:
                ranges[d] = shape[k]
    if any(r is None for r in ranges):
        raise Unknown("a loop dimension no operand fixes")
    return ranges  # type: ignore[return-value]


def _combiner(block, acc):
    """For a result ``yield combine(f(ins), acc)`` (``acc`` used nowhere
    else on the way to it): (the combine op, index of its other operand),
    else None."""
    yield_op = block.operations[len(block.operations) - 1]
    yielded = yield_op.operands[list(block.arguments).index(acc) - _n_ins(block, yield_op)]
    owner = yielded.owner
    if isinstance(owner, ir.Block) or owner.name not in _REDUCE:
        return None
    cone = _cone(yielded)
    uses = [u for u in acc.uses if u.owner.operation in cone]
    if len(uses) != 1 or uses[0].owner != owner:
        return None
    operands = list(owner.operands)
    if operands.count(acc) != 1:
        return None
    return owner, 1 - operands.index(acc)


def _n_ins(block, yield_op) -> int:
    return len(block.arguments) - len(yield_op.operands)


def _cone(value) -> set:
    """The ops of a body that ``value`` is computed with."""
    todo, seen = [value], set()
    while todo:
        v = todo.pop()
        if isinstance(v.owner, ir.Block) or v.owner.operation in seen:
            continue
        seen.add(v.owner.operation)
        todo.extend(v.owner.operands)
    return seen


def _reaches(value, targets: set) -> bool:
    """``value`` is computed (inside its block) from one of ``targets``."""
    todo, seen = [value], set()
    while todo:
        v = todo.pop()
        if v in targets:
            return True
        if v in seen or isinstance(v.owner, ir.Block):
            continue
        seen.add(v)
        todo.extend(v.owner.operands)
    return False


def _generic(op, get, shape_of, live) -> list:
    """The results of ``op`` (None for a result not in ``live`` that the
    live ones do not depend on)."""
    view = op.opview
    ins, outs = list(view.inputs), list(view.outputs)
    ranges = _loop_ranges(op, ins + outs, shape_of)
    nd = len(ranges)
    maps = match.indexing_maps(op)
    iters = match.iterator_types(op)
    block = op.regions[0].blocks[0]
    yield_op = block.operations[len(block.operations) - 1]
    red = [d for d, t in enumerate(iters) if t == "reduction"]
    out_maps = maps[len(ins):]
    for m in out_maps:
        if any(d in red for d in match.map_dims(m) if d is not None):
            raise Unknown("an output indexed by a reduction loop")
    # Results nobody reads (torch-mlir's argmax next to the max) are skipped
    # when the others do not depend on their accumulators.
    out_args = list(block.arguments)[len(ins):]
    keep = [k for k in range(len(outs)) if live[k]]
    dead = {out_args[k] for k in range(len(outs)) if not live[k]}
    if any(_reaches(yield_op.operands[k], dead) for k in keep):
        keep = list(range(len(outs)))
    full_ins = [_read(get(v), m, ranges) for v, m in zip(ins, maps)]
    inits = {k: _read(get(outs[k]), out_maps[k], ranges) for k in keep}
    first = tuple(slice(0, 1) if d in red else slice(None) for d in range(nd))

    def iota(d):
        return np.arange(ranges[d]).reshape([-1 if q == d else 1 for q in range(nd)])

    def body(args, index_of, stop=None):
        local = dict(zip(block.arguments, args))

        def lookup(v):
            return local[v] if v in local else get(v)

        for inner in block.operations:
            inner = inner.operation
            if stop is not None and inner == stop:
                return lookup
            if inner.name == "linalg.yield":
                return [lookup(v) for v in inner.operands]
            if inner.name == "linalg.index":
                local[inner.results[0]] = index_of(ir.IntegerAttr(inner.attributes["dim"]).value)
            else:
                local[inner.results[0]] = scalar_op(inner, lookup)
        raise Unknown("body without yield")

    def out_values(sample):
        return [sample[k] if k in sample else np.int64(0) for k in range(len(outs))]

    combine = _combiner(block, out_args[keep[0]]) if red and len(keep) == 1 else None
    if not red:
        got = body(full_ins + out_values(inits), iota)
        results = {k: got[k] for k in keep}
    elif combine is not None:
        # f(ins) over the whole space, reduced along the reduction loops.
        comb_op, operand = combine
        lookup = body(full_ins + out_values({}), iota, stop=comb_op)
        f = np.broadcast_to(lookup(comb_op.operands[operand]), ranges)
        ufunc = _REDUCE[comb_op.name]
        with np.errstate(all="ignore"):
            results = {keep[0]: ufunc(inits[keep[0]][first],
                                      ufunc.reduce(f, axis=tuple(red), keepdims=True))}
    else:
        # One reduction point at a time, vectorised over the parallel loops.
        accs = {k: np.array(inits[k][first]) for k in keep}
        for point in itertools.product(*[range(ranges[d]) for d in red]):
            at = dict(zip(red, point))
            key = tuple(slice(at[d], at[d] + 1) if d in at else slice(None) for d in range(nd))
            got = body([a[key] for a in full_ins] + out_values(accs),
                       lambda d: np.int64(at[d]) if d in at else iota(d))
            accs = {k: np.broadcast_to(np.asarray(got[k]), accs[k].shape).copy() for k in keep}
        results = accs
    out = []
    for k, (value, amap) in enumerate(zip(outs, out_maps)):
        if k not in results:
            out.append(None)
            continue
        full = np.broadcast_to(np.asarray(results[k]), [1 if d in red else ranges[d]
                                                        for d in range(nd)])
        out.append(_write(full, amap, shape_of(value.type)))
    return out


def _write(full: np.ndarray, amap: ir.AffineMap, shape) -> np.ndarray:
    """The output tensor of a generic from its values over the iteration
    space (reduction loops already of extent 1)."""
    dims = match.map_dims(amap)
    order = [d for d in dims if d is not None]
    squeezed = full.transpose(order + [d for d in range(full.ndim) if d not in order])
    squeezed = squeezed.reshape(squeezed.shape[:len(order)])
    return np.asarray(squeezed, np.float64 if squeezed.dtype.kind == "f" else squeezed.dtype) \
        .reshape(shape)


def _reshape(op, value, shape_of):
    if isinstance(value, Fill):
        return value
    return np.reshape(value, shape_of(op.results[0].type))


def _used(ops: list) -> set:
    """Every value the ops (and the ops in their regions) read."""
    found = set()

    def visit(inner):
        found.update(inner.operands)
        return ir.WalkResult.ADVANCE

    for op in ops:
        op.operation.walk(visit)
    return found


def run(ops: list, env: dict, shape_of=None, wanted=None) -> dict:
    """Evaluate ``ops`` (in order) with block arguments and external values
    given in ``env`` (Value -> numpy array); returns ``env`` with the
    results added: all of them, or (``wanted`` given) at least those and
    what they are computed from. ``shape_of(type)`` gives a tensor type's
    shape."""
    shape_of = shape_of or (lambda ty: list(ir.RankedTensorType(ty).shape))
    used = None if wanted is None else _used(ops) | set(wanted)

    def get(v):
        if v in env:
            return env[v]
        owner = v.owner
        if not isinstance(owner, ir.Block) and owner.name == "arith.constant":
            env[v] = _constant(owner)
            return env[v]
        raise Unknown("a value defined outside the evaluated ops")

    for op in ops:
        op = op.operation
        n = op.name
        if n == "arith.constant":
            env[op.results[0]] = _constant(op)
        elif n == "tensor.empty":
            env[op.results[0]] = Fill()
        elif n == "linalg.fill":
            env[op.results[0]] = Fill(get(op.operands[0]))
        elif n == "linalg.generic":
            live = [used is None or r in used for r in op.results]
            for result, value in zip(op.results, _generic(op, get, shape_of, live)):
                if value is not None:
                    env[result] = value
        elif n in ("tensor.expand_shape", "tensor.collapse_shape"):
            env[op.results[0]] = _reshape(op, get(op.operands[0]), shape_of)
        elif len(op.results) == 1 and len(op.regions) == 0:
            env[op.results[0]] = scalar_op(op, get)
        else:
            raise Unknown(n)
    return env
