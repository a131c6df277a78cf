"""The matmul micro-kernel: register tiling, vector FMAs, written as
transform-dialect steps that ``tile_and_fuse.py`` appends to its scripts.

Every matmul (or batch matmul) the schedule reaches, fused into a group's
tile or alone, is already one output tile of ``MicroKernel.tile`` (the
tile-and-fuse loop). Inside it:

    for j in 0..N step cols             // a panel of B: cols columns
      for kc in 0..K step k_block       //   k_block x cols of B stays in L1
        for i in 0..M step rows         //     rows x cols of C in registers
          %acc = vector.transfer_read C[i, j]           (hoisted out of k)
          for k in kc..kc+k_block:
            %b = vector.transfer_read B[k, j]   : vector<cols>
            %acc[r] = vector.fma(broadcast(A[i+r, k]), %b, %acc[r])  r < rows
          vector.transfer_write %acc, C[i, j]

so for AVX-512 (``rows x cols`` = 8 x 32: 16 zmm accumulators) the inner
loop is two loads of B, eight broadcasts of A and sixteen FMAs, e.g.

    vmovups (%r9), %zmm16 ; vmovups 64(%r9), %zmm17
    vbroadcastss ..., %zmm18
    vfmadd231ps %zmm17, %zmm18, %zmm8 ; vfmadd231ps %zmm18, %zmm16, %zmm7 ...

Loops whose extent the block does not divide (M = 65, a dynamic batch) are
peeled: the main part has static ``rows x cols`` tiles and unmasked vectors;
the remainder is vectorised with masks (``vector_sizes``). The vector ops are
lowered here down to 1-D ``vector.fma``/``broadcast``/``extract`` and
``transfer_read``/``transfer_write`` on tensors; after bufferization,
``axf-lower-vectors`` (in ``axf-lower-to-llvm``) takes them to LLVM.

The kernel depends on the vector registers (``kernel_for``): 8 x 32 with
AVX-512 (32 registers of 16 floats), 6 x 16 with AVX2 (16 registers of 8),
4 x 8 with SSE; it is chosen from the host's features, which are part of
every CPU artifact's cache key.
"""

from __future__ import annotations

from dataclasses import dataclass

from axfusion import host
from axfusion._mlir import all_ops, ir

from .registry import register_pipeline

MARK = "axf.microkernel"


@dataclass(frozen=True)
class MicroKernel:
    """``rows x cols`` of C held in vector registers; ``k_block`` rows of B
    per pass over the tile's rows (a ``k_block x cols`` panel of B stays in
    L1); ``tile``: the output tile (rows, cols) that tile-and-fuse gives each
    matmul (its epilogue runs on it while it is in L2)."""
    rows: int
    cols: int
    k_block: int
    tile: tuple[int, int]


def kernel_for(features) -> MicroKernel:
    """The micro-kernel for a CPU with these LLVM features."""
    if "avx512f" in features:
        return MicroKernel(rows=8, cols=32, k_block=256, tile=(128, 256))
    if "avx2" in features or "avx" in features:
        return MicroKernel(rows=6, cols=16, k_block=256, tile=(96, 256))
    return MicroKernel(rows=4, cols=8, k_block=256, tile=(64, 256))


def host_kernel() -> MicroKernel:
    return kernel_for(host.cpu_features())


def apply_patterns(target, *makers, cse: bool = False) -> None:
    """``transform.apply_patterns to %target { makers... }``."""
    from mlir.dialects import transform
    op = transform.ApplyPatternsOp(target, apply_cse=cse)
    with ir.InsertionPoint(op.patterns):
        for make in makers:
            make()


def try_script(handle, body) -> None:
    """Run ``body(h)`` in a sequence whose failures are suppressed (peeling a
    loop the block divides fails, and there is nothing to do)."""
    from mlir.dialects import transform
    seq = transform.SequenceOp(transform.FailurePropagationMode.Suppress, [], handle)
    with ir.InsertionPoint(seq.body):
        body(seq.bodyTarget)
        transform.YieldOp([])


def _mark(kernel: MicroKernel) -> ir.Attribute:
    """The value of ``MARK`` on a block of ``kernel``: its vector sizes."""
    return ir.DenseI64ArrayAttr.get([kernel.rows, kernel.cols])


def tile_microkernel(matmul, kernel: MicroKernel, batch: int = 0) -> None:
    """Tile the matmul(s) behind ``matmul`` (loops (batch..., i, j, k)) to
    register blocks and peel the partial blocks off. The blocks are marked
    with ``MARK`` = [rows, cols] for ``vectorize_microkernels``."""
    from mlir.dialects import transform
    from mlir.dialects.transform import loop, structured
    any_op = transform.AnyOpType.get()
    lead = [0] * batch
    # j by cols, k by k_block, in that order (j outer).
    order = list(range(batch)) + [batch + 1, batch + 2, batch]
    panel = structured.TileUsingForOp(matmul, sizes=lead + [0, kernel.cols, kernel.k_block],
                                      interchange=order)
    lj = panel.results[1]
    # batch by 1, i by rows, k by 1 (one outer product per step).
    block = structured.TileUsingForOp(panel.results[0], sizes=[1] * batch + [kernel.rows, 0, 1])
    li = block.results[1 + batch]
    mark = transform.ParamConstantOp(transform.AnyParamType.get(), _mark(kernel)).result
    transform.AnnotateOp(block.results[0], MARK, param=mark)
    # Innermost first: peeling a loop invalidates handles to loops inside it.
    try_script(li, lambda h: loop.LoopPeelOp(any_op, any_op, h))
    try_script(lj, lambda h: loop.LoopPeelOp(any_op, any_op, h))


def vectorize_microkernels(module, kernel: MicroKernel) -> None:
    """Vectorise every block of ``kernel`` in ``module``, keep its
    accumulator in registers across the k loop and lower the contraction to
    FMAs."""
    from mlir.dialects import transform
    from mlir.dialects.transform import loop, structured, vector
    from mlir.dialects.transform import tensor as ttensor
    any_op = transform.AnyOpType.get()
    func = structured.MatchOp(any_op, module, ops=["func.func"]).result
    apply_patterns(func, structured.ApplyTilingCanonicalizationPatternsOp,
              transform.ApplyCanonicalizationPatternsOp)
    k_loops = []
    for name, batch in (("linalg.matmul", 0), ("linalg.batch_matmul", 1)):
        blocks = structured.MatchOp(any_op, module, ops=[name],
                                    op_attrs=ir.DictAttr.get({MARK: _mark(kernel)})).result
        k_loops.append(transform.GetParentOp(any_op, blocks, op_name="scf.for").result)
        # Static blocks vectorise without masks; partial ones get masks.
        vectorize = structured.VectorizeOp(
            blocks, vector_sizes=[1] * batch + [kernel.rows, kernel.cols, 1])
        # vector.contract (masked too), not mul + multi_reduction.
        vectorize.operation.attributes["create_named_contraction"] = ir.UnitAttr.get()
    apply_patterns(func, vector.ApplyVectorReductionToContractPatternsOp,
              vector.ApplyCastAwayVectorLeadingOneDimPatternsOp,
              vector.ApplyTransferPermutationPatternsOp,
              ttensor.ApplyFoldTensorSubsetOpsIntoVectorTransfersPatternsOp,
              transform.ApplyCanonicalizationPatternsOp)
    # C's read and write are invariant in k: the accumulator becomes a
    # vector iter_arg of the k loop.
    for handle in k_loops:
        loop.HoistLoopInvariantSubsetsOp(handle)
    lower_contractions_to_fma(func)


def lower_contractions_to_fma(func) -> None:
    """The micro-kernels' last step (matmul and conv alike): each
    ``vector.contract`` to outer products, then to 1-D ``vector.fma`` with
    broadcasts, masked transfers and transposes lowered too."""
    from mlir.dialects import transform
    from mlir.dialects.transform import vector
    outer = vector.VectorContractLowering.OuterProduct
    apply_patterns(func, lambda: vector.ApplyLowerContractionPatternsOp(lowering_strategy=outer),
                   vector.ApplyLowerMaskedTransfersPatternsOp,
                   vector.ApplyTransferPermutationPatternsOp)
    # Transposed masks of partial blocks fold to masks (before the insert
    # chains of the outer-product lowering exist: canonicalising those
    # scalarises them).
    apply_patterns(func, transform.ApplyCanonicalizationPatternsOp)
    apply_patterns(func, vector.ApplyLowerShapeCastPatternsOp,
                   vector.ApplyLowerOuterProductPatternsOp,
                   vector.ApplyLowerBroadcastPatternsOp,
                   lambda: vector.ApplyLowerTransposePatternsOp(
                       lowering_strategy=vector.VectorTransposeLowering.Shuffle1D))


# After bufferization: n-D transfers to 1-D ones (unrolled), then every
# vector op to LLVM.
register_pipeline(
    "axf-lower-vectors", "vector transfers to 1-D, vector ops to the LLVM dialect",
    "func.func(convert-vector-to-scf{full-unroll=true target-rank=1})",
    "convert-vector-to-llvm")


def epilogue_in_place(module_op, group: int) -> None:
    """Let each element-wise op of ``group`` write its result over the tile
    it reads (``outs`` = that input), when nothing else reads the input and
    the body never reads ``outs``::

        %acc = scf.for ... -> tensor<128x256xf32>          // the matmul blocks
        %r = linalg.generic ins(%acc, %bias) outs(%tile)   // %tile: the result slice
    becomes
        %r = linalg.generic ins(%acc, %bias) outs(%acc)

    Bufferization then keeps the whole chain (fill, matmul blocks,
    epilogue) in the result's tile; otherwise it cannot prove the vector
    loop's writes and the epilogue's writes to the same tile do not
    conflict, and gives the matmul a temporary tile of its own. (Where the
    whole result is one tile, the loop returning it folds in the
    ``canonicalize`` right after bufferization, so the caller's buffer is
    the tile.)"""
    from axfusion.dialects import GROUP

    from . import match
    for op in all_ops(module_op):
        if op.name != "linalg.generic" or GROUP not in op.attributes \
                or ir.IntegerAttr(op.attributes[GROUP]).value != group:
            continue
        ins, outs = match.inputs(op), match.outputs(op)
        maps = match.indexing_maps(op)
        out_arg = op.regions[0].blocks[0].arguments[len(ins)]
        if len(outs) != 1 or set(match.iterator_types(op)) != {"parallel"} or \
                maps[-1] != ir.AffineMap.get_identity(maps[-1].n_dims) or \
                list(out_arg.uses):
            continue
        for value, amap in zip(ins, maps):
            if amap == maps[-1] and value.type == outs[0].type and \
                    not isinstance(value.owner, ir.Block) and len(list(value.uses)) == 1:
                op.operands[len(ins)] = value
                break
