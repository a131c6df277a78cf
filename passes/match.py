"""Small questions fusion patterns ask about linalg IR: who produces and who
uses a value, is a generic element-wise, how does an operand broadcast."""

from __future__ import annotations

from axfusion._mlir import ir

CONTRACTIONS = ("linalg.matmul", "linalg.batch_matmul")


def name(op) -> str:
    return op.operation.name


def producer(value: ir.Value):
    """The op defining ``value``, or None for a block argument."""
    owner = value.owner
    return None if isinstance(owner, ir.Block) else owner


def users(value: ir.Value) -> list:
    return [use.owner for use in value.uses]


def single_user(value: ir.Value):
    found = users(value)
    return found[0] if len(found) == 1 else None


def inputs(op) -> list[ir.Value]:
    view = op.operation.opview
    if hasattr(view, "inputs"):
        return list(view.inputs)
    return [view.input]  # linalg.broadcast, linalg.transpose


def outputs(op) -> list[ir.Value]:
    view = op.operation.opview
    if hasattr(view, "outputs"):
        return list(view.outputs)
    return [view.init]   # linalg.broadcast, linalg.transpose


def iterator_types(op) -> list[str]:
    return ["parallel" if "parallel" in str(a) else "reduction"
            for a in op.operation.opview.iterator_types]


def indexing_maps(op) -> list[ir.AffineMap]:
    return [ir.AffineMapAttr(a).value for a in op.operation.opview.indexing_maps]


def map_dims(amap: ir.AffineMap) -> list[int | None]:
    """Result i of ``amap`` as a loop dimension (None for a constant 0 etc.)."""
    out = []
    for expr in amap.results:
        out.append(ir.AffineDimExpr(expr).position if isinstance(expr, ir.AffineDimExpr)
                   else None)
    return out


def is_elementwise(op) -> bool:
    """A ``linalg.generic`` with only parallel loops, one identity-mapped
    output, and inputs read through projections/broadcasts (no reductions,
    no gathers)."""
    if name(op) != "linalg.generic" or len(op.operation.results) != 1:
        return False
    if any(t != "parallel" for t in iterator_types(op)):
        return False
    maps = indexing_maps(op)
    out = maps[-1]
    if out != ir.AffineMap.get_identity(out.n_dims):
        return False
    return all(_broadcast_map(m) for m in maps[:-1])


def _broadcast_map(amap: ir.AffineMap) -> bool:
    dims = map_dims(amap)
    seen = [d for d in dims if d is not None]
    if len(seen) != len(set(seen)):
        return False
    for expr, d in zip(amap.results, dims):
        if d is None and str(expr) != "0":
            return False
    return True


def is_reduction(op) -> bool:
    """A ``linalg.generic`` with at least one reduction loop and one result."""
    return name(op) == "linalg.generic" and len(op.operation.results) == 1 and \
        "reduction" in iterator_types(op)


def body_ops(op) -> list[str]:
    return [o.operation.name for o in op.operation.regions[0].blocks[0].operations]


EXPENSIVE_BODY_OPS = frozenset({
    "math.exp", "math.exp2", "math.log", "math.log2", "math.tanh", "math.erf",
    "math.sqrt", "math.rsqrt", "math.powf", "arith.divf", "math.sin", "math.cos"})


def is_expensive(op) -> bool:
    """Recomputing this op per consumer costs more than storing its result."""
    return bool(EXPENSIVE_BODY_OPS & set(body_ops(op))) or name(op) in CONTRACTIONS or \
        name(op).startswith("linalg.conv")


def tensor_bytes(value: ir.Value) -> int:
    ty = value.type
    if not isinstance(ty, ir.RankedTensorType) or not ty.has_static_shape:
        return 0
    width = ty.element_type.width if hasattr(ty.element_type, "width") else 32
    count = 1
    for d in ty.shape:
        count *= d
    return count * max(width // 8, 1)


def location(op) -> ir.Location:
    return op.operation.location
