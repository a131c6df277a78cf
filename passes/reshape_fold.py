"""Move a ``tensor.expand_shape`` / ``tensor.collapse_shape`` from before an
element-wise ``linalg.generic`` to after it, so that the generic runs on the
reshape's source shape (a helper of ``linear_epilogue.py``; no pass of its own).

torch-mlir lowers ``nn.Linear`` on a [B, S, D] input to a matmul on the
collapsed [B*S, D] view, and the activation after it reads the result
expanded back::

    %mm  = linalg.matmul ins(%x2, %wt) outs(%acc)       : tensor<16x64xf32>
    %b   = linalg.generic ins(%mm, %bias) { addf }       : tensor<16x64xf32>
    %e   = tensor.expand_shape %b [[0, 1], [2]] output_shape [2, 8, 64]
    %r   = linalg.generic {maps = [(i,j,k)->(i,j,k), (i,j,k)->(i,j,k)]}
             ins(%e) outs(%empty3) { gelu }             : tensor<2x8x64xf32>

``fold(%e, %r, 0)`` rewrites it to::

    %r2  = linalg.generic {maps = [(i,j)->(i,j), (i,j)->(i,j)]}
             ins(%b) outs(%empty2) { gelu }             : tensor<16x64xf32>
    %r   = tensor.expand_shape %r2 [[0, 1], [2]] output_shape [2, 8, 64]

so the epilogue reads the matmul's tile element by element and the group can
be tiled as one loop nest. This is upstream's "fold reshape by collapsing"
(``linalg::populateFoldReshapeOpsByCollapsingPatterns``) restricted to the
element-wise case; upstream exposes it neither as a pass nor as a transform
op (``linalg-fuse-elementwise-ops`` folds by *expansion*, which would turn the
matmul itself into a rank-3 generic). A collapse_shape is handled the same
way in the other direction.

The generic may also read other operands: one read through the identity map
is reshaped like the generic (a ``tensor.empty`` init is simply recreated in
the new shape); one read through a broadcast (a bias ``(i,j,k)->(k)``) keeps
its tensor and gets its map rewritten, provided every dimension it reads is
one that the reshape leaves alone (a singleton group). Dynamic sizes are
fine: a new ``tensor.empty`` or expand_shape is sized with ``tensor.dim`` of
the reshape's source, and the expand_shape after the generic keeps the
original one's ``output_shape``.
"""

from __future__ import annotations

from axfusion._mlir import arith, ir, linalg, tensor

from . import match

RESHAPES = ("tensor.expand_shape", "tensor.collapse_shape")


def _ranked(value: ir.Value) -> bool:
    return isinstance(value.type, ir.RankedTensorType)


def _rank(value: ir.Value) -> int:
    return ir.RankedTensorType(value.type).rank


def _groups(reshape) -> list[list[int]]:
    return [[ir.IntegerAttr(d).value for d in ir.ArrayAttr(g)]
            for g in ir.ArrayAttr(reshape.operation.attributes["reassociation"])]


def _dim_map(reshape) -> dict[int, int]:
    """Dims of the reshape's result that the reshape leaves whole -> the
    matching dim of its source (the singleton groups)."""
    groups = _groups(reshape)
    if match.name(reshape) == "tensor.expand_shape":   # group k of result dims <- source dim k
        return {g[0]: k for k, g in enumerate(groups) if len(g) == 1}
    return {k: g[0] for k, g in enumerate(groups) if len(g) == 1}


def _new_map(amap: ir.AffineMap, dims: dict[int, int], rank: int) -> ir.AffineMap | None:
    """``amap`` over the source's loops, or None if it reads a reshaped dim."""
    exprs = []
    for expr, d in zip(amap.results, match.map_dims(amap)):
        if d is None:
            exprs.append(expr)            # a constant 0 (is_elementwise allows no other)
        elif d in dims:
            exprs.append(ir.AffineDimExpr.get(dims[d]))
        else:
            return None
    return ir.AffineMap.get(rank, 0, exprs)


def _identity(amap: ir.AffineMap) -> bool:
    return amap == ir.AffineMap.get_identity(amap.n_dims)


def collapsible(reshape, generic, operand: int) -> bool:
    """Can ``generic`` (element-wise, reading a value shaped like the result of
    ``reshape`` at input ``operand``) run on ``reshape``'s source shape?

    No ``linalg.index`` in the body (its loop indices would change meaning),
    the value read through the identity map, every operand a ranked tensor,
    and every broadcast operand reading only dims the reshape leaves whole."""
    src, dst = reshape.operation.operands[0], reshape.operation.results[0]
    if not _ranked(src) or not _ranked(dst) or "linalg.index" in match.body_ops(generic):
        return False
    maps = match.indexing_maps(generic)
    if not match.is_elementwise(generic) or maps[-1].n_dims != _rank(dst) \
            or not _identity(maps[operand]):
        return False
    dims, rank = _dim_map(reshape), _rank(src)
    values = match.inputs(generic) + match.outputs(generic)
    for value, amap in zip(values, maps):
        if _identity(amap):
            if not _ranked(value):
                return False
        elif _new_map(amap, dims, rank) is None:
            return False
    return True


def _dynamic_sizes(value: ir.Value) -> list[ir.Value]:
    """``tensor.dim`` of each dynamic dimension of ``value``."""
    index = ir.IndexType.get()
    return [tensor.DimOp(value, arith.ConstantOp(index, i).result).result
            for i, d in enumerate(ir.RankedTensorType(value.type).shape)
            if ir.ShapedType.is_dynamic_size(d)]


def _reshaped(value: ir.Value, reshape) -> ir.Value:
    """``value`` (shaped like ``reshape``'s result) in the source's shape."""
    src = reshape.operation.operands[0]
    shape = list(ir.RankedTensorType(src.type).shape)
    elem = ir.RankedTensorType(value.type).element_type
    new_type = ir.RankedTensorType.get(shape, elem)
    assoc = reshape.operation.attributes["reassociation"]
    owner = match.producer(value)
    if owner is not None and match.name(owner) == "tensor.empty":
        sizes = iter(_dynamic_sizes(src))
        return tensor.EmptyOp([next(sizes) if ir.ShapedType.is_dynamic_size(d) else d
                               for d in shape], elem).result
    if match.name(reshape) == "tensor.expand_shape":
        return tensor.CollapseShapeOp(new_type, value, assoc).result
    return tensor.ExpandShapeOp(new_type, value, assoc, _dynamic_sizes(src),
                                ir.DenseI64ArrayAttr.get(shape)).result


def _reshaped_back(value: ir.Value, reshape, dst_type: ir.RankedTensorType) -> ir.Value:
    """The inverse of ``_reshaped``: ``value`` in the reshape's result shape
    (an expand_shape takes the original one's output sizes)."""
    new_type = ir.RankedTensorType.get(dst_type.shape,
                                       ir.RankedTensorType(value.type).element_type)
    op = reshape.operation
    if match.name(reshape) == "tensor.expand_shape":
        return tensor.ExpandShapeOp(new_type, value, op.attributes["reassociation"],
                                    list(op.operands[1:]),
                                    op.attributes["static_output_shape"]).result
    return tensor.CollapseShapeOp(new_type, value, op.attributes["reassociation"]).result


_INHERENT = ("indexing_maps", "iterator_types", "operandSegmentSizes")


def fold(reshape, generic, operand: int):
    """Rewrite ``generic`` (``collapsible(reshape, generic, operand)``, its
    input ``operand`` the result of ``reshape``) to run on the reshape's
    source shape, followed by the reshape of its result; ``reshape`` and the
    old ``tensor.empty`` init are erased if nothing else uses them. Returns
    the new generic (same location, body and discardable attributes)."""
    src = reshape.operation.operands[0]
    src_type = ir.RankedTensorType(src.type)
    dims, rank = _dim_map(reshape), src_type.rank
    maps = match.indexing_maps(generic)
    ins, outs = match.inputs(generic), match.outputs(generic)
    old_result = generic.operation.results[0]
    with ir.InsertionPoint(generic.operation), generic.operation.location:
        new_values, new_maps = [], []
        for i, (value, amap) in enumerate(zip(ins + outs, maps)):
            if i == operand:
                new_values.append(src)
                new_maps.append(ir.AffineMap.get_identity(rank))
            elif _identity(amap):
                new_values.append(_reshaped(value, reshape))
                new_maps.append(ir.AffineMap.get_identity(rank))
            else:
                new_values.append(value)
                new_maps.append(_new_map(amap, dims, rank))
        elem = ir.RankedTensorType(old_result.type).element_type
        parallel = ir.Attribute.parse("#linalg.iterator_type<parallel>")
        new = linalg.GenericOp([ir.RankedTensorType.get(src_type.shape, elem)],
                               new_values[:len(ins)], new_values[len(ins):],
                               ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in new_maps]),
                               ir.ArrayAttr.get([parallel] * rank))
        attrs = generic.operation.attributes
        for name in [n for n in attrs if n not in _INHERENT]:
            new.operation.attributes[name] = attrs[name]
        generic.operation.regions[0].blocks[0].append_to(new.regions[0])
        back = _reshaped_back(new.results[0], reshape, ir.RankedTensorType(old_result.type))
    old_result.replace_all_uses_with(back)
    generic.operation.erase()
    # The reshape and the old init, once dead, would only be noise for later patterns.
    for dead in [reshape] + [match.producer(v) for v in outs]:
        if dead is not None and match.name(dead) in RESHAPES + ("tensor.empty",) \
                and not list(dead.results[0].uses):
            dead.operation.erase()
    return new
