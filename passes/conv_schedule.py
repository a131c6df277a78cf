"""The convolution micro-kernel: register blocks of output channels x output
columns, vector FMAs along the output row, written as transform-dialect
steps that ``tile_and_fuse.py`` appends to its scripts (for a conv fused
into a ConvBnRelu tile and for a conv alone: the same code, so fused vs
unfused measures fusion alone).

An NCHW conv (loops n, f, oh, ow, c, kh, kw) is tiled to blocks of
``rows`` output channels x ``cols`` output columns of one output row, with
the reductions (c, kh, kw) as loops of one step each::

    for n, f in 0..F step rows, oh, ow in 0..OW step cols
      %acc = vector.transfer_read out[n, f, oh, ow]      // rows x cols
      for c, kh, kw:                                      // acc in registers
        %x = vector.transfer_read in[n, c, oh*s + kh, ow*s + kw ...]   : vector<cols>
        %acc[r] = vector.fma(broadcast(w[f + r, c, kh, kw]), %x, %acc[r])
      vector.transfer_write %acc, out[n, f, oh, ow]

Upstream's conv path does the work: ``transform.structured.decompose``
turns the one-row block (kh = oh = 1) into a ``linalg.conv_1d_ncw_fcw``,
``transform.structured.vectorize`` gives the 1-D conv's
``vector.contract`` between transposes (NCW to NWC and back), and the
contraction patterns fold the transposes into it and lower it to outer
products, i.e. FMAs along the output row (contiguous in NCHW). The
accumulator is hoisted out of the three reduction loops. The conv
vectoriser does not mask, so blocks the sizes do not divide are peeled:
the remainder is one smaller static block.

STRIDED: a conv with a stride along the width keeps the loop reorder
(``tile_and_fuse.CONV_ORDER``). Upstream's 1-D conv vectoriser unrolls a
strided conv into one contraction per output column, which the patterns
lower to FMAs along the channels with the accumulator transposed by
shuffles at every step: 1.27x slower than the reorder on a 3x3 stride-2
conv (2x32x56x56 -> 64 channels: 10.6 ms vs 8.3 ms). Sizes other than the
batch must be static (the vectoriser needs static blocks).

The block is the matmul micro-kernel's (``matmul_schedule.kernel_for``),
``rows`` channels x ``cols`` columns (8 x 32 with AVX-512), capped by the
conv's own sizes (a 7-wide image gets 7-wide vectors).
"""

from __future__ import annotations

from axfusion._mlir import all_ops, ir

from .matmul_schedule import MicroKernel, apply_patterns, lower_contractions_to_fma, try_script

MARK = "axf.conv_kernel"
# On a conv outside any group: its register block (``mark_blocks``).
BLOCK = "axf.conv_block"

# conv op -> its loops' tile sizes for a (rows x cols) block, in the op's
# loop order.
CONVS = {
    "linalg.conv_2d_nchw_fchw": lambda rows, cols: [1, rows, 1, cols, 1, 1, 1],
}


def takes(conv) -> bool:
    """Whether ``conv`` gets the micro-kernel: a conv of ``CONVS`` on
    floats, with stride 1 along the width (STRIDED above), whose sizes are
    static but the batch (the batch is tiled by 1)."""
    if conv.name not in CONVS:
        return False
    if list(ir.DenseIntElementsAttr(conv.attributes["strides"]))[-1] != 1:
        return False
    for value in list(conv.operands) + list(conv.results):
        ty = ir.RankedTensorType(value.type)
        if not isinstance(ty.element_type, (ir.F32Type, ir.F64Type, ir.F16Type)) or \
                any(ir.ShapedType.is_dynamic_size(d) for d in ty.shape[1:]):
            return False
    # (the filter's dim 0 is F: static too)
    return not ir.ShapedType.is_dynamic_size(ir.RankedTensorType(conv.operands[1].type).shape[0])


def block_sizes(conv, kernel: MicroKernel) -> list[int]:
    """The register block of ``conv`` as tile sizes of its loops: ``rows``
    output channels x ``cols`` output columns, capped by the conv's sizes."""
    out = ir.RankedTensorType(conv.results[0].type).shape
    # A power of two: LLVM handles vector<28xf32> FMAs ~20x slower than
    # vector<16xf32> ones (examples/patterns/conv_bn_relu.mlir, 28-wide).
    cols = 1 << (min(kernel.cols, out[3]).bit_length() - 1)
    return CONVS[conv.name](min(kernel.rows, out[1]), cols)


def mark_blocks(root, kernel: MicroKernel) -> list[list[int]]:
    """Put ``BLOCK`` (its block sizes) on every conv under ``root`` that
    ``takes`` the micro-kernel; returns the distinct block sizes."""
    found = []
    for op in all_ops(root):
        if takes(op):
            sizes = block_sizes(op, kernel)
            op.attributes[BLOCK] = ir.DenseI64ArrayAttr.get(sizes)
            found += [sizes] if sizes not in found else []
    return found


def match_block(target, sizes: list[int]):
    """The handle of the convs ``mark_blocks`` gave ``sizes``."""
    from mlir.dialects import transform
    from mlir.dialects.transform import structured
    attrs = ir.DictAttr.get({BLOCK: ir.DenseI64ArrayAttr.get(sizes)})
    return structured.MatchOp(transform.AnyOpType.get(), target, op_attrs=attrs).result


def tile_conv_kernel(conv, sizes: list[int]) -> None:
    """Tile the conv(s) behind ``conv`` to register blocks of ``sizes``,
    mark them with ``MARK`` for ``vectorize_conv_kernels`` and peel the
    partial blocks off (columns, then channels)."""
    from mlir.dialects import transform
    from mlir.dialects.transform import loop, structured
    any_op = transform.AnyOpType.get()
    tiled = structured.TileUsingForOp(conv, sizes=sizes)
    loops = tiled.results[1:]
    transform.AnnotateOp(tiled.results[0], MARK)
    # loops: n, f, oh, ow, c, kh, kw. Innermost first: peeling a loop
    # invalidates handles to the loops inside it.
    try_script(loops[3], lambda h: loop.LoopPeelOp(any_op, any_op, h))
    try_script(loops[1], lambda h: loop.LoopPeelOp(any_op, any_op, h))


def vectorize_conv_kernels(module) -> None:
    """Vectorise every block ``tile_conv_kernel`` marked: decompose to a 1-D
    conv, vectorise, keep the accumulator in registers across the
    reduction loops and lower the contraction to FMAs."""
    from mlir.dialects import transform
    from mlir.dialects.transform import loop, structured, vector
    from mlir.dialects.transform import tensor as ttensor
    any_op = transform.AnyOpType.get()
    func = structured.MatchOp(any_op, module, ops=["func.func"]).result
    # Peeled remainders and single-step loops fold to static blocks.
    apply_patterns(func, structured.ApplyTilingCanonicalizationPatternsOp,
              transform.ApplyCanonicalizationPatternsOp)
    attrs = ir.DictAttr.get({MARK: ir.UnitAttr.get()})
    blocks = structured.MatchOp(any_op, module, op_attrs=attrs).result
    # The reduction loops around each block, innermost first (a loop of
    # one step has folded away: the parent is then a parallel loop, where
    # nothing is invariant and hoisting does nothing).
    parents, loops = blocks, []
    for _ in range(3):   # kw, kh, c
        parents = transform.GetParentOp(any_op, parents, op_name="scf.for", deduplicate=True,
                                        allow_empty_results=True).result
        loops.append(parents)
    conv1d = structured.DecomposeOp(blocks).result
    structured.VectorizeOp(conv1d)
    # The 1-D conv's contraction is (w, f) += (w, c) x (c, f) between
    # transposes from and to NCW: fold them into it first (out (f, w):
    # outer products along w), before transfers absorb them.
    apply_patterns(func, vector.ApplyVectorReductionToContractPatternsOp)
    # (Separately: with the canonicalisations they rewrite each other's
    # results forever.)
    apply_patterns(func, vector.ApplyCastAwayVectorLeadingOneDimPatternsOp)
    apply_patterns(func, vector.ApplyTransferPermutationPatternsOp,
              ttensor.ApplyMergeConsecutiveInsertExtractSlicePatternsOp,
              transform.ApplyCanonicalizationPatternsOp)
    for handle in loops:
        loop.HoistLoopInvariantSubsetsOp(handle)
    apply_patterns(func, ttensor.ApplyFoldTensorSubsetOpsIntoVectorTransfersPatternsOp)
    lower_contractions_to_fma(func)
