"""ReductionFusion: row-wise reductions with their element-wise prologue and
epilogue (layer-norm, RMSNorm, mean/var, softmax) as one kernel that reads
each row once per reduction and writes only the final result.

torch-mlir's ``nn.LayerNorm`` (reductions keep the reduced dim)::

    %acc  = linalg.fill ins(%zero) outs(%e : tensor<Rx1xf32>)
    %sum  = linalg.generic {maps = [(i,j)->(i,j), (i,j)->(i,0)],
                            iterators = [parallel, reduction]} ins(%x) outs(%acc)
    %mean = linalg.generic ins(%sum)          { divf %s, N }      // [R, 1]
    %xc   = linalg.generic ins(%x, %mean)     { subf }            // [R, N]
    %sq   = linalg.generic ins(%xc, %xc)      { mulf }
    %vsum = linalg.generic {... reduction} ins(%sq) outs(%acc)
    %var  = ... divf N;  %rstd = ... addf eps, rsqrt              // [R, 1]
    %norm = linalg.generic ins(%xc, %rstd)    { mulf }
    %y    = linalg.generic ins(%norm, %gamma) { mulf };  %out = ... { addf %beta }

becomes the same ops tagged ``axf.group = G`` with the final element-wise op
``%out`` the root (``axf.pattern = "ReductionFusion"``) and every other op
above (the fills included) a member, in reverse topological order. The
reductions are rewritten to index their result by a loop of one iteration
instead of the constant 0 (``project_output``: same result, but tileable).
Tile-and-fuse tiles the root over rows (every leading dim by 1, the reduced
last dim whole: ``schedule`` below) and fuses the members into the row loop,
so each reduction runs over one row held in cache, its ``linalg.fill`` is
fused with it (a fresh accumulator per row, never one carried across
tiles), and no [R, N] intermediate is written to memory. Softmax (max, sub,
exp, sum, div), mean/var and RMSNorm (mean of squares, rsqrt, mul) take the
same form; so do reductions without keepdim (results [R], maps (i, j) -> (i)).

A group is built backwards from its root (the last op of the DAG) through
producers that are row-local: reductions whose one reduction loop runs
along the innermost dim of their input and whose other loops are the rows,
and element-wise ops whose leading dims are the rows, read by their consumer
with the rows in place (``(i, j) -> (i, 0)``, ``(i, j) -> (i, j)``). A group
needs a reduction and an element-wise op. A member also used outside the
group is fused as in ``ElementwiseChain``: free when those users come after
the root (the loop yields its rows: a layer-norm may also return its mean
and rstd), recomputed when cheap otherwise.

Refused, with a near miss: a reduction over another dim than the innermost
("reduces dimension 0, not the innermost (row) dimension"); a reduction
result with a user outside the group that runs before the root (fusing would
compute the reduction twice); an expensive intermediate in the same
position. Dynamic (``?``) row counts and row lengths are fine: ``?`` rows
match ``?`` rows (every member indexes them in place, so they are one size).
"""

from __future__ import annotations

from axfusion._mlir import ir, linalg
from axfusion.dialects import GROUP, group_id, in_group, tag_group

from . import match
from .elementwise_chain import block_positions, cone, grow_group, note_misses, recompute_reason
from .fusion import FusionPattern, register_fusion
from .tile_and_fuse import Schedule, register_schedule

PATTERN = FusionPattern.ReductionFusion.value


def loop_bounds(op) -> list[int] | None:
    """Trip count of each loop of a linalg.generic (static where an operand
    says so, else the dynamic-size value: a ``?`` row count is one size, the
    same for every op that indexes the rows in place); None when an operand
    is not a ranked tensor."""
    op = op.operation
    maps = match.indexing_maps(op)
    bounds: list = [None] * maps[0].n_dims
    for value, amap in zip(list(match.inputs(op)) + list(match.outputs(op)), maps):
        ty = value.type
        if not isinstance(ty, ir.RankedTensorType):
            return None
        for size, dim in zip(ty.shape, match.map_dims(amap)):
            if dim is not None and (bounds[dim] is None or not ir.ShapedType.is_dynamic_size(size)):
                bounds[dim] = size
    return None if None in bounds else bounds


def _projection(amap: ir.AffineMap) -> bool:
    """Results are loop dims or the constant 0 (no sliding windows)."""
    return all(d is not None or str(e) == "0"
               for e, d in zip(amap.results, match.map_dims(amap)))


def _reduced_operand(op, loop: int):
    """Index of the first input that reads the reduced loop."""
    for i, amap in enumerate(match.indexing_maps(op)[:-1]):
        if loop in match.map_dims(amap):
            return i
    return None


def row_reduction(op):
    """(rows, row loops) for a reduction whose one reduction loop runs along
    the innermost dim of its input and whose output is indexed by the input's
    other dims in order (constant-0 or unit dims allowed between them);
    (None, reason) otherwise."""
    iters = match.iterator_types(op)
    maps = match.indexing_maps(op)
    bounds = loop_bounds(op)
    if bounds is None:
        return None, "an operand is not a ranked tensor"
    reduced = [i for i, t in enumerate(iters) if t == "reduction"]
    if not all(_projection(m) for m in maps):
        return None, "reduction reads its input through a non-projected map"
    source = _reduced_operand(op, reduced[0])
    if source is None:
        return None, "no input spans the reduced loop"
    in_dims = match.map_dims(maps[source])
    positions = sorted(in_dims.index(r) for r in reduced if r in in_dims)
    if len(reduced) > 1:
        dims = ", ".join(str(p) for p in positions)
        return None, f"reduces dimensions {dims}: only one, the innermost (row) one, is fused"
    if positions != [len(in_dims) - 1]:
        return None, f"reduces dimension {positions[0]}, not the innermost (row) dimension"
    row_loops = in_dims[:-1]
    if None in row_loops or any(iters[d] != "parallel" for d in row_loops):
        return None, "reduction input is broadcast along its rows"
    out_dims = [d for d in match.map_dims(maps[-1]) if d is not None and d in row_loops]
    if out_dims != row_loops:
        return None, "reduction output is not indexed by the rows in order"
    return [bounds[d] for d in row_loops], row_loops


def _rows_in_place(amap: ir.AffineMap, rank: int) -> bool:
    """The consumer reads the producer with the row dims in place."""
    dims = match.map_dims(amap)
    return len(dims) >= rank and dims[:rank] == list(range(rank))


def _shape(op) -> list[int] | None:
    """The result's shape (``?`` as the dynamic-size value), None if unranked."""
    ty = op.operation.results[0].type
    return list(ir.RankedTensorType(ty).shape) if isinstance(ty, ir.RankedTensorType) else None


def _admit_for(rows: list[int]):
    p = len(rows)

    def admit(prod, consumer, index):
        if in_group(prod):
            return False
        shape = _shape(prod)
        if shape is None or shape[:p] != rows:
            return False
        if match.name(prod) == "linalg.fill":
            return index == -1  # the accumulator of a reduction member
        if match.is_reduction(prod):
            if row_reduction(prod)[0] != rows:
                return False
        elif not match.is_elementwise(prod):
            return False
        return _rows_in_place(match.indexing_maps(consumer)[index], p)
    return admit


def _any_linalg(prod, _consumer, _index) -> bool:
    return not in_group(prod) and (match.is_elementwise(prod) or match.is_reduction(prod))


def _reason_for(op, members: set) -> str | None:
    if match.is_reduction(op):
        return ("reduction result has a user outside the group that runs before it "
                "(fusing would compute the reduction twice)")
    if match.name(op) == "linalg.fill":
        return None
    return recompute_reason(op, members)


def analyse(root, notes: dict):
    """Members (root first, fuse order) of the group ending at ``root``, or
    None; adds the near misses to ``notes`` (op -> reasons)."""
    nearby = cone(root, _any_linalg)
    positions = block_positions(root.parent)
    rows = None
    for op in sorted(nearby, key=lambda o: positions[o], reverse=True):  # nearest first
        if not match.is_reduction(op):
            continue
        found, reason = row_reduction(op)
        if found is None:
            notes.setdefault(op, []).append(reason)
        elif rows is None:
            rows = found
    root_shape = _shape(root)
    if rows is None or root_shape is None or root_shape[:len(rows)] != rows:
        return None
    members, refused = grow_group(root, _admit_for(rows), _reason_for)
    for op, reason in refused.items():
        notes.setdefault(op, []).append(reason)
    if not any(match.is_reduction(m) for m in members) or \
            not any(match.is_elementwise(m) for m in members):
        return None
    return members


def project_output(reduction) -> ir.Operation:
    """The same reduction with each constant-0 output index turned into a
    loop of one iteration: torch-mlir's keepdim form ``(i, j) -> (i, 0)``
    cannot be tiled (TilingInterface needs the result indexed by a projected
    permutation), ``(i, u, j) -> (i, u)`` with ``u`` in [0, 1) can."""
    op = reduction.operation
    maps = match.indexing_maps(op)
    out = maps[-1]
    units = [k for k, d in enumerate(match.map_dims(out)) if d is None]
    if not units:
        return op
    iters = match.iterator_types(op)
    n = out.n_dims
    # New loops: the old ones up to the reduction loops, the unit loops, then
    # the reduction loops (still innermost).
    first_red = iters.index("reduction")
    shift = len(units)

    def renumber(d):
        return d if d < first_red else d + shift

    def remap(amap, unit_at=()):
        exprs = []
        for k, d in enumerate(match.map_dims(amap)):
            if d is not None:
                exprs.append(ir.AffineDimExpr.get(renumber(d)))
            elif k in unit_at:
                exprs.append(ir.AffineDimExpr.get(first_red + unit_at.index(k)))
            else:
                exprs.append(ir.AffineConstantExpr.get(0))
        return ir.AffineMap.get(n + shift, 0, exprs)

    new_maps = [remap(m) for m in maps[:-1]] + [remap(out, units)]
    new_iters = iters[:first_red] + ["parallel"] * shift + iters[first_red:]
    with op.location, ir.InsertionPoint(op):
        new = linalg.GenericOp(
            [r.type for r in op.results], match.inputs(op), match.outputs(op),
            ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in new_maps]),
            ir.ArrayAttr.get([ir.Attribute.parse(f"#linalg.iterator_type<{t}>")
                              for t in new_iters]))
        old_body = op.regions[0].blocks[0]
        body = new.regions[0].blocks.append(*[a.type for a in old_body.arguments])
        for old_arg, new_arg in zip(old_body.arguments, body.arguments):
            old_arg.replace_all_uses_with(new_arg)
        for inner in list(old_body.operations):
            body.append(inner.operation)
    for named in list(op.attributes):
        name = named if isinstance(named, str) else named.name
        if name.startswith("axf."):
            new.operation.attributes[name] = op.attributes[name]
    op.results[0].replace_all_uses_with(new.results[0])
    op.erase()
    return new.operation


def unshare_fills(func) -> None:
    """Give every reduction its own ``linalg.fill``: CSE merges equal fills
    (the two zero accumulators of a layer-norm, or of two layer-norms), but
    a fill joins one group only, and a reduction whose fill is outside its
    group reads a full-size accumulator instead of a per-row one."""
    positions = block_positions(func)
    for op in list(positions):
        if match.name(op) != "linalg.fill":
            continue
        uses = sorted(((u.owner.operation, u.operand_number) for u in op.results[0].uses),
                      key=lambda use: positions.get(use[0], -1))
        for user, index in uses[1:]:  # the first keeps the original
            if match.is_reduction(user):
                clone = op.clone(ir.InsertionPoint(user))
                user.operands[index] = clone.results[0]


@register_fusion(FusionPattern.ReductionFusion, "axf-fuse-reduction",
                 "row-wise reductions with element-wise prologue/epilogue "
                 "(layer-norm, softmax, mean/var)")
def run(func):
    formed, notes = set(), {}
    unshare_fills(func)
    for op in reversed(list(func.regions[0].blocks[0].operations)):
        op = op.operation
        if in_group(op) or not (match.is_elementwise(op) or match.is_reduction(op)):
            continue
        members = analyse(op, notes)
        if members is not None:
            formed.add(tag_group(members, PATTERN))
    note_misses(notes, PATTERN)  # before the rewrite below replaces reductions
    for op in list(func.regions[0].blocks[0].operations):
        if group_id(op) in formed and match.is_reduction(op):
            project_output(op)


@register_schedule(PATTERN)
def schedule(root) -> Schedule:
    """Tile the rows by 1, keep the rest whole: every reduction member then
    runs over whole rows held in cache."""
    if match.is_reduction(root):
        _, row_loops = row_reduction(root)
        return Schedule(tuple(1 if d in row_loops else 0
                              for d in range(len(match.iterator_types(root)))))
    gid = root.attributes[GROUP]
    rows = 1
    for op in root.parent.regions[0].blocks[0].operations:
        op = op.operation
        if GROUP in op.attributes and op.attributes[GROUP] == gid and match.is_reduction(op):
            found, _ = row_reduction(op)
            rows = max(rows, len(found or ()))
    return Schedule(tuple(1 if d < rows else 0 for d in range(len(_shape(root)))))
