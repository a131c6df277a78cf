"""``axf-tile-and-fuse``: one loop nest per fusion group.

For each group (``dialects.groups``) that is not already a finished kernel,
build a transform-dialect script from its ``Schedule`` and apply it:

    %root = transform.structured.match attributes {axf.group = G, axf.member = 0}
    %tiled, %loop = transform.structured.tile_using_forall %root tile_sizes [32, 64]
    %m1 = transform.structured.match attributes {axf.group = G, axf.member = 1}
    %f1, %loop1 = transform.structured.fuse_into_containing_op %m1 into %loop
    ...                                    // members 2, 3, ... in order

so every producer is computed tile by tile inside the root's loop and no
fused intermediate is written to a full-size buffer. The loop is an
``scf.forall`` (lowered to ``scf.for`` today; threads map it later).
"""

from __future__ import annotations

from dataclasses import dataclass

from axfusion._mlir import all_ops, ir
from axfusion.dialects import GROUP, KERNEL, MEMBER, groups
from axfusion.dialects.groups import i64

from . import conv_schedule, match
from .matmul_schedule import (MicroKernel, epilogue_in_place, host_kernel, tile_microkernel,
                              vectorize_microkernels)
from .registry import register_pass


@dataclass(frozen=True)
class Schedule:
    """How one group is tiled: a tile size per loop of the root (0 = whole).

    ``contraction_inner_parallel``: inside the tile, reorder a fused matmul's
    loops from (i, j, k) to (k, i, j) (``CONTRACTION_ORDER``), so the
    innermost loop walks a row of the output and of B (contiguous,
    independent: LLVM vectorises it) rather than a dot product (a serial
    reduction LLVM may not reassociate), and each row of B is used by all
    the tile's rows while it is in L1.

    ``micro_kernel``: fused matmuls get the register-tiled, vectorised
    micro-kernel (``matmul_schedule.py``) instead; the reorder is then for
    the other contractions (convs)."""
    tile_sizes: tuple[int, ...]
    contraction_inner_parallel: bool = True
    micro_kernel: MicroKernel | None = None


# The matmul micro-schedule, shared by fused tiles and unfused matmuls (so
# that fused-vs-unfused measures fusion alone): output tiles of
# ``MicroKernel.tile``, register blocks inside (``matmul_schedule.py``),
# chosen from the host CPU's vector registers. CONTRACTION_ORDER is the loop
# order of a fused matmul in a schedule without a micro-kernel.
CONTRACTION_ORDER = "kij"
# NCHW convolution loops (n, f, oh, ow, c, kh, kw) -> (n, f, oh, c, kh, kw,
# ow): the innermost loop runs along an output row (contiguous, vectorised)
# instead of a serial reduction; for the convs the vectorised micro-kernel
# (``conv_schedule.py``, fused or not) does not take: sizes other than the
# batch dynamic.
CONV_ORDER = {"linalg.conv_2d_nchw_fchw": [0, 1, 2, 4, 5, 6, 3]}


# Elements per tile of an element-wise root: small enough that a tile of
# every fused intermediate stays in L1/L2, large enough to amortise the loop.
TILE_ELEMENTS = 4096


# A dynamic (``?``) dimension is scheduled as if it were this large: it is
# tiled like any big dimension, never taken whole into a tile.
DYNAMIC_EXTENT = 1 << 30


def _root_shape(root) -> list[int]:
    return [DYNAMIC_EXTENT if ir.ShapedType.is_dynamic_size(d) else d
            for d in ir.RankedTensorType(root.results[0].type).shape]


# pattern name -> fn(root op) -> Schedule, for patterns whose groups want
# something other than the defaults below (registered by the pattern's file).
SCHEDULES: dict = {}


def register_schedule(pattern: str):
    def wrap(fn):
        SCHEDULES[pattern] = fn
        return fn
    return wrap


def schedule_for(pattern: str, root) -> Schedule:
    if pattern in SCHEDULES:
        return SCHEDULES[pattern](root)
    return default_schedule(pattern, root)


def default_schedule(pattern: str, root) -> Schedule:
    shape = _root_shape(root)
    iters = match.iterator_types(root)
    if len(iters) != len(shape):   # a root with reduction loops: tile parallel ones
        return Schedule(tuple(1 if t == "parallel" else 0 for t in iters))
    if pattern.startswith("LinearBias"):
        # The matmul micro-kernel's output tile; the epilogue is applied to
        # it while it is in L2.
        kernel = host_kernel()
        lead = [1] * (len(shape) - 2)
        return Schedule(tuple(lead + [min(kernel.tile[0], shape[-2]),
                                      min(kernel.tile[1], shape[-1])]),
                        micro_kernel=kernel)
    if pattern == "ReductionFusion":
        # Rows: every dim but the last (the reduced one) is tiled.
        return Schedule(tuple([1] * (len(shape) - 1) + [0]))
    # Element-wise (and conv epilogues): keep inner dims whole up to
    # TILE_ELEMENTS, tile the next one to fill it, outer dims by 1.
    sizes = [0] * len(shape)
    inner = 1
    for d in range(len(shape) - 1, -1, -1):
        if inner * shape[d] <= TILE_ELEMENTS:
            inner *= shape[d]
            continue
        sizes[d] = max(1, TILE_ELEMENTS // inner)
        for outer in range(d):
            sizes[outer] = 1
        break
    return Schedule(tuple(sizes))


def _inner_parallel_permutation(rank: int, order: str = CONTRACTION_ORDER) -> list[int]:
    """(batch..., i, j, k) -> (batch..., <order>), e.g. (batch..., k, i, j)."""
    pos = {"i": rank - 3, "j": rank - 2, "k": rank - 1}
    return list(range(rank - 3)) + [pos[c] for c in order]


def _apply_script(payload: ir.Operation, build) -> None:
    """Build a transform script whose entry sequence is ``build(target)``
    (``target``: the handle of ``payload``) and apply it to ``payload``."""
    from mlir.dialects import transform
    from mlir.dialects.transform import interpreter

    with ir.Location.unknown(payload.context):
        script = ir.Module.create()
        script.operation.attributes["transform.with_named_sequence"] = ir.UnitAttr.get()
        with ir.InsertionPoint(script.body):
            seq = transform.NamedSequenceOp(
                "__transform_main", [transform.AnyOpType.get()], [],
                arg_attrs=[{"transform.readonly": ir.UnitAttr.get()}])
            with ir.InsertionPoint(seq.body):
                build(seq.bodyTarget)
                transform.YieldOp([])
    interpreter.apply_named_sequence(payload, seq, script)


def _reorder_loops(handle, permutation: list[int]) -> None:
    """Generalise the named op(s) behind ``handle`` and permute their loops."""
    from mlir.dialects.transform import structured
    generic = structured.GeneralizeOp(handle).result
    structured.InterchangeOp(generic, iterator_interchange=permutation)


def _tile_and_fuse_script(group: int, members: list[str], schedule: Schedule,
                          conv_blocks: dict[int, list[int]] | None = None):
    """The body of the transform script that tiles and fuses one group;
    ``conv_blocks``: member index -> register block of a conv member
    (``conv_schedule.block_sizes``)."""
    from mlir.dialects import transform
    from mlir.dialects.transform import structured

    def build(target):
        any_op = transform.AnyOpType.get()

        def member(k):
            attrs = ir.DictAttr.get({GROUP: i64(group), MEMBER: i64(k)})
            return structured.MatchOp(any_op, target, op_attrs=attrs).result
        tiled = structured.TileUsingForallOp(any_op, any_op, member(0),
                                             tile_sizes=list(schedule.tile_sizes))
        loop = tiled.results[1]
        contractions = []
        for k in range(1, len(members)):
            fused = structured.FuseIntoContainingOp(any_op, any_op, member(k), loop)
            loop = fused.results[1]
            if members[k] in match.CONTRACTIONS and schedule.micro_kernel:
                tile_microkernel(fused.results[0], schedule.micro_kernel,
                                 batch=_batch_dims(members[k]))
            elif members[k] in match.CONTRACTIONS:
                rank = 3 if members[k] == "linalg.matmul" else 4
                contractions.append((fused.results[0], _inner_parallel_permutation(rank)))
            elif k in (conv_blocks or {}):
                conv_schedule.tile_conv_kernel(fused.results[0], conv_blocks[k])
            elif members[k] in CONV_ORDER:
                contractions.append((fused.results[0], CONV_ORDER[members[k]]))
        if schedule.contraction_inner_parallel:
            for handle, permutation in contractions:
                _reorder_loops(handle, permutation)
    return build


def _batch_dims(name: str) -> int:
    return 1 if name == "linalg.batch_matmul" else 0


def _vectorize_script(kernel: MicroKernel):
    """The body of the script that vectorises the blocks ``tile_microkernel``
    marked, in every function."""
    def build(target):
        vectorize_microkernels(target, kernel)
    return build


def tile_and_fuse_group(module_op: ir.Operation, group: int, members: list):
    """Tile and fuse one group; returns its schedule's micro-kernel (or
    ``conv_schedule.MARK`` for a conv micro-kernel), if it has one and
    tiling happened."""
    root = members[0]
    if KERNEL in root.attributes:
        return None
    pattern = ir.StringAttr(root.attributes["axf.pattern"]).value
    schedule = schedule_for(pattern, root)
    if not any(schedule.tile_sizes):
        return None  # nothing to tile: the group is one tile
    conv_blocks = {k: conv_schedule.block_sizes(m, host_kernel())
                   for k, m in enumerate(members) if k and conv_schedule.takes(m)}
    _apply_script(module_op, _tile_and_fuse_script(group, [m.name for m in members],
                                                   schedule, conv_blocks))
    if schedule.micro_kernel or conv_blocks:
        epilogue_in_place(module_op, group)
    return schedule.micro_kernel or (conv_schedule.MARK if conv_blocks else None)


@register_pass("axf-tile-and-fuse", "tile each fusion group's root and fuse its members "
               "into the tile loop (transform dialect)")
def tile_and_fuse(op, pass_):
    kernels = set()
    for gid, members in groups(op).items():
        # Members inside an earlier group's loop nest are clones: skip them.
        members = [m for m in members if m.parent is not None]
        kernels.add(tile_and_fuse_group(op, gid, members))
    # Once all groups are tiled: a vectorising canonicalisation between two
    # groups could rebuild the next group's ops without their attributes.
    if conv_schedule.MARK in kernels:
        _apply_script(op, conv_schedule.vectorize_conv_kernels)
    for kernel in kernels - {None, conv_schedule.MARK}:
        _apply_script(op, _vectorize_script(kernel))


@register_pass("axf-contraction-loop-order",
               "matmuls and convs outside fusion groups: the fused tiles' schedule "
               "(matmul: output tiles, vectorised register blocks; conv: vectorised register "
               "blocks of channels x columns)")
def contraction_loop_order(op, pass_):
    """The matmul micro-kernel of fused tiles (``matmul_schedule.py``: the
    same output tiles and register blocks) for the matmuls no group took,
    and the conv micro-kernel (``conv_schedule.py``) for the convs, so
    fused and unfused builds differ only by fusion (the benchmark's
    fused-vs-unfused ratio measures fusion alone)."""
    from mlir.dialects import transform
    from mlir.dialects.transform import structured

    names = {o.name for o in all_ops(op)}
    if not names & ({*match.CONTRACTIONS, *CONV_ORDER}):
        return
    kernel = host_kernel()
    convs = conv_schedule.mark_blocks(op, kernel)

    def build(target):
        any_op = transform.AnyOpType.get()
        for name in match.CONTRACTIONS:
            batch = _batch_dims(name)
            found = structured.MatchOp(any_op, target, ops=[name]).result
            sizes = [1] * batch + list(kernel.tile) + [0]
            tiled = structured.TileUsingForOp(found, sizes=sizes).results[0]
            tile_microkernel(tiled, kernel, batch=batch)
        vectorize_microkernels(target, kernel)
        for sizes in convs:
            conv_schedule.tile_conv_kernel(conv_schedule.match_block(target, sizes), sizes)
        if convs:
            conv_schedule.vectorize_conv_kernels(target)
        for name, permutation in CONV_ORDER.items():
            _reorder_loops(structured.MatchOp(any_op, target, ops=[name]).result, permutation)

    _apply_script(op, build)
