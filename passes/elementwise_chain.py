"""ElementwiseChain: a chain (or DAG) of element-wise ``linalg.generic`` ops
over one iteration space, with broadcast inputs, as one pass over memory.

torch-mlir's ``y = tanh(x * 2 + 1) * scale + shift``::

    %a = linalg.generic {maps = [id, id]} ins(%x)          { mulf, addf }
    %b = linalg.generic {maps = [id, id]} ins(%a)          { tanh }
    %c = linalg.generic {maps = [id, (i,j)->(j), id]} ins(%b, %scale) { mulf }
    %d = linalg.generic {maps = [id, (i,j)->(i,0), id]} ins(%c, %shift) { addf }

becomes the same ops tagged ``axf.group = G``: ``%d`` (the sink of the DAG)
is the root (``axf.member = 0``, ``axf.pattern = "ElementwiseChain"``) and
``%c``, ``%b``, ``%a`` members 1-3, in reverse topological order so that
each member's result is already used inside the tile loop when
``fuse_into_containing_op`` reaches it. Tile-and-fuse then reads ``%x``,
``%scale`` and ``%shift`` once and writes ``%d`` once; ``%a``-``%c`` only
ever exist as one tile in cache.

Members are element-wise generics (``match.is_elementwise``) with the root's
shape, read by their consumers through the identity map, so every tile of
the root needs exactly the same tile of each member. Lower-rank broadcast
operands (``scale``, ``shift`` above, or a small op computing one) stay
inputs: fusing them would recompute them once per tile.

A producer with several consumers inside the group is fused once. One whose
result is also used outside the group is still fused when every such user
comes after the root: ``fuse_into_containing_op`` then makes the tile loop
yield the producer's tiles as a second result, so it is computed once and
written once, never read back. When an outside user comes before the root,
fusing means computing the producer twice (in full for that user, per tile
for the group): done only when it and the members it needs are cheap;
otherwise it stays outside, materialised, with the near miss "intermediate
has a second user outside the group; recomputing it (math.exp) per tile
would cost more than its memory traffic". A group needs two ops. Near
misses are noted at the end, on ops that no group took.

This pattern runs last: ops already in a group are left alone.

``grow_group`` (the DAG search with the outside-user rule) is shared with
``reduction_fusion``.
"""

from __future__ import annotations

from typing import Callable

from axfusion._mlir import ir
from axfusion.dialects import in_group, note_near_miss, tag_group

from . import match
from .fusion import FusionPattern, register_fusion

PATTERN = FusionPattern.ElementwiseChain.value

# admit(producer, consumer, input index) -> the producer may join the group
Admit = Callable[[ir.Operation, ir.Operation, int], bool]
# why_not_recompute(op, members) -> None when ``op`` may be recomputed in the
# group although its result is also used outside, else the near-miss reason
Recompute = Callable[[ir.Operation, set], "str | None"]


def producers(op) -> list[tuple[ir.Operation, int]]:
    """(defining op, input index) of each input of ``op``, plus the op
    defining its init when that is a ``linalg.fill`` (a reduction's
    accumulator: it must be fused with the reduction)."""
    op = op.operation
    found = []
    for index, value in enumerate(match.inputs(op)):
        owner = match.producer(value)
        if owner is not None:
            found.append((owner.operation, index))
    if match.is_reduction(op):
        for value in match.outputs(op):
            owner = match.producer(value)
            if owner is not None and match.name(owner) == "linalg.fill":
                found.append((owner.operation, -1))
    return found


def cone(root, admit: Admit, excluded=()) -> set:
    """``root`` and every op reachable from it through admitted producers."""
    root = root.operation
    found, work = {root}, [root]
    while work:
        op = work.pop()
        for prod, index in producers(op):
            if prod not in found and prod not in excluded and admit(prod, op, index):
                found.add(prod)
                work.append(prod)
    return found


def outside_users(op, members: set) -> list:
    return [u.operation for r in op.operation.results for u in match.users(r)
            if u.operation not in members]


def block_positions(func) -> dict:
    return {op.operation: i for i, op in enumerate(func.regions[0].blocks[0].operations)}


def _position(op, positions: dict) -> int:
    """Position in the function's block of ``op`` or of the op holding it."""
    while op not in positions and op.parent is not None:
        op = op.parent
    return positions.get(op, -1)


def grow_group(root, admit: Admit, why_not_recompute: Recompute):
    """The group around ``root``: (members root first in fuse order, {op:
    near-miss reason} for producers of members left outside)."""
    root = root.operation
    positions = block_positions(root.parent)
    excluded: dict = {}
    while True:
        members = cone(root, admit, excluded)
        refused = {}
        for op in members - {root}:
            early = [u for u in outside_users(op, members)
                     if _position(u, positions) < positions[root]]
            if not early:
                continue  # none, or all after the tile loop: it yields op's tiles
            reason = why_not_recompute(op, members)
            if reason is not None:
                refused[op] = reason
        if not refused:
            break
        excluded.update(refused)
    inputs = {p for m in members for p, _ in producers(m)}
    notes = {op: reason for op, reason in excluded.items() if op in inputs}
    ordered = sorted(members, key=lambda op: positions[op], reverse=True)
    return ordered, notes


def note_misses(notes: dict, pattern: str) -> None:
    """Record the refusals on the ops that no group took in the end."""
    for op, reasons in notes.items():
        if not in_group(op):
            for reason in reasons:
                note_near_miss(op, pattern, reason)


def upstream(op, members: set) -> set:
    """``op`` and the members it is computed from."""
    return cone(op, lambda prod, _consumer, _index: prod in members)


def recompute_reason(op, members: set) -> str | None:
    """None when recomputing ``op`` (and the members it needs) per tile is
    cheap, else why not."""
    costly = [m for m in upstream(op, members) if match.is_expensive(m) or match.is_reduction(m)]
    if not costly:
        return None
    if any(match.is_reduction(m) for m in costly):
        return ("intermediate has a second user outside the group; recomputing it "
                "per tile would repeat a reduction")
    names = sorted({b for m in costly for b in match.body_ops(m)} & match.EXPENSIVE_BODY_OPS
                   or {match.name(m) for m in costly})
    return ("intermediate has a second user outside the group; recomputing it "
            f"({', '.join(names)}) per tile would cost more than its memory traffic")


def result_shape(op) -> list[int] | None:
    ty = op.operation.results[0].type
    if not isinstance(ty, ir.RankedTensorType) or not ty.has_static_shape:
        return None
    return list(ty.shape)


def _admit_for(root) -> Admit:
    shape = result_shape(root)

    def admit(prod, consumer, index):
        if in_group(prod) or not match.is_elementwise(prod) or result_shape(prod) != shape:
            return False
        amap = match.indexing_maps(consumer)[index]
        return amap == ir.AffineMap.get_identity(amap.n_dims)
    return admit


@register_fusion(FusionPattern.ElementwiseChain, "axf-fuse-elementwise-chain",
                 "a chain/DAG of element-wise ops with broadcasting, one pass over memory")
def run(func):
    notes: dict = {}
    for op in reversed(list(func.regions[0].blocks[0].operations)):
        op = op.operation
        if in_group(op) or not match.is_elementwise(op):
            continue
        if result_shape(op) is None:
            if any(match.is_elementwise(p) and not in_group(p) for p, _ in producers(op)):
                notes.setdefault(op, []).append("dynamic shapes are not handled")
            continue
        members, refused = grow_group(op, _admit_for(op), recompute_reason)
        for other, reason in refused.items():
            notes.setdefault(other, []).append(reason)
        if len(members) >= 2:
            tag_group(members, PATTERN)
    note_misses(notes, PATTERN)
