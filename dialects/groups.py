"""Reading and writing fusion-group attributes (see the package docstring)."""

from __future__ import annotations

from axfusion._mlir import all_ops, ir

GROUP = "axf.group"
MEMBER = "axf.member"
PATTERN = "axf.pattern"
KERNEL = "axf.kernel"
NEAR_MISS = "axf.near_miss"
# Module attribute: form at most this many groups (``axfusec --bisect`` uses
# it like LLVM's -opt-bisect-limit).
LIMIT = "axf.fusion_limit"


def i64(value: int) -> ir.IntegerAttr:
    """The ``i64`` attribute group ids and member indices are written with."""
    return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), value)


def group_id(op) -> int | None:
    op = op.operation
    return ir.IntegerAttr(op.attributes[GROUP]).value if GROUP in op.attributes else None


def in_group(op) -> bool:
    return GROUP in op.operation.attributes


def next_group_id(anchor) -> int:
    """One more than the largest group id in the enclosing module."""
    op = _module(anchor)
    ids = [group_id(o) for o in all_ops(op) if GROUP in o.attributes]
    return max(ids, default=-1) + 1


def _module(anchor) -> ir.Operation:
    op = anchor.operation
    while op.parent is not None and op.name != "builtin.module":
        op = op.parent
    return op


def fusion_allowed(anchor) -> bool:
    """False once the module's fusion limit is reached. A pattern that
    rewrites IR before tagging must ask first; ``tag_group`` asks too."""
    module = _module(anchor)
    if LIMIT not in module.attributes:
        return True
    return next_group_id(anchor) < ir.IntegerAttr(module.attributes[LIMIT]).value


def tag_group(ops: list, pattern: str, *, kernel: bool = False) -> int | None:
    """Make ``ops`` (root first, then producers in fuse order) a group; None
    (nothing tagged) when the fusion limit is reached."""
    if not fusion_allowed(ops[0]):
        return None
    gid = next_group_id(ops[0])
    for index, op in enumerate(ops):
        op = op.operation
        op.attributes[GROUP] = i64(gid)
        op.attributes[MEMBER] = i64(index)
    root = ops[0].operation
    root.attributes[PATTERN] = ir.StringAttr.get(pattern)
    if kernel:
        root.attributes[KERNEL] = ir.UnitAttr.get()
    return gid


def note_near_miss(op, pattern: str, reason: str) -> None:
    """Record on ``op`` that ``pattern`` looked at it and why it refused."""
    op = op.operation
    notes = [ir.StringAttr(a).value for a in ir.ArrayAttr(op.attributes[NEAR_MISS])] \
        if NEAR_MISS in op.attributes else []
    text = f"{pattern}: {reason}"
    if text not in notes:
        notes.append(text)
    op.attributes[NEAR_MISS] = ir.ArrayAttr.get([ir.StringAttr.get(n) for n in notes])


def groups(root: ir.Operation) -> dict[int, list[ir.Operation]]:
    """Group id -> members ordered by ``axf.member`` (root first)."""
    found: dict[int, list] = {}
    for op in all_ops(root):
        if GROUP in op.attributes:
            found.setdefault(group_id(op), []).append(op)
    for members in found.values():
        members.sort(key=lambda o: ir.IntegerAttr(o.attributes[MEMBER]).value)
    return dict(sorted(found.items()))


def near_misses(root: ir.Operation) -> list[tuple[ir.Operation, str]]:
    out = []
    for op in all_ops(root):
        if NEAR_MISS in op.attributes:
            for note in ir.ArrayAttr(op.attributes[NEAR_MISS]):
                out.append((op, ir.StringAttr(note).value))
    return out
