"""``axf-memref-copy-to-linalg``: strided ``memref.copy`` -> ``linalg.copy``.

Bufferization writes ``memref.copy`` (e.g. a ``tensor.pad`` source copied
into a subview of the padded buffer). The LLVM lowering turns a copy between
identity-layout memrefs into an inline ``memcpy``, but a strided one into a
call to ``memrefCopy`` from MLIR's C runner library, which a self-contained
shared object does not have. As a ``linalg.copy`` it becomes plain loops.

    memref.copy %src, %dst : memref<16x32xf32> to memref<16x32xf32, strided<[34, 1], offset: 35>>
    // becomes
    linalg.copy ins(%src : memref<16x32xf32>) outs(%dst : memref<16x32xf32, strided<...>>)
"""

from axfusion._mlir import ir, linalg, rewrite

from .registry import register_pass


def _identity(ty: ir.Type) -> bool:
    if not isinstance(ty, ir.MemRefType):
        return False
    layout = ty.layout
    return isinstance(layout, ir.AffineMapAttr) and layout.value == ir.AffineMap.get_identity(
        ty.rank)


def _rewrite(op, rewriter: rewrite.PatternRewriter):
    src, dst = op.operands[0], op.operands[1]
    if _identity(src.type) and _identity(dst.type):
        return True  # no match: lowers to an inline memcpy
    with rewriter.ip, op.location:
        linalg.copy(src, outs=[dst])
    rewriter.erase_op(op.operation)
    return None


@register_pass("axf-memref-copy-to-linalg", "strided memref.copy -> linalg.copy (no runtime call)")
def memref_copy_to_linalg(op, pass_):
    patterns = rewrite.RewritePatternSet()
    patterns.add("memref.copy", _rewrite)
    rewrite.apply_patterns_and_fold_greedily(op, patterns.freeze())
