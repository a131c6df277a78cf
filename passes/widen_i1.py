"""``axf-widen-i1-memrefs``: store ``i1`` buffers as bytes.

A boolean tensor between two ops (a mask: torch's ``ignore_index`` test in
``cross_entropy``, ``nn.MultiheadAttention``'s all-masked-row test) becomes
a ``memref<...xi1>`` buffer, and MLIR 22's ``memref.store`` lowering asserts
on sub-byte elements (``integralElementType.getWidth() >= 8``), which aborts
the compile. Once linalg is lowered to loops, the buffers are only
allocated, viewed, loaded, stored and freed, so this pass gives every such
buffer the element type ``i8``, zero-extends what is stored and truncates
what is loaded:

    %m = memref.alloc() : memref<16xi1>         %m = memref.alloc() : memref<16xi8>
    memref.store %b, %m[%i] : memref<16xi1>     %w = arith.extui %b : i1 to i8
                                                memref.store %w, %m[%i] : memref<16xi8>
    %v = memref.load %m[%i] : memref<16xi1>     %l = memref.load %m[%i] : memref<16xi8>
                                                %v = arith.trunci %l : i8 to i1

Entry points never take or return ``i1`` (``axf-check-input`` refuses it),
so no buffer the caller sees changes type.
"""

from __future__ import annotations

from axfusion._mlir import all_ops, arith, ir

from .registry import register_pass


def _is_i1_memref(ty: ir.Type) -> bool:
    return isinstance(ty, ir.MemRefType) and isinstance(ty.element_type, ir.IntegerType) \
        and ty.element_type.width == 1


def _widened(ty: ir.MemRefType) -> ir.MemRefType:
    return ir.MemRefType.get(ty.shape, ir.IntegerType.get_signless(8), ty.layout,
                             ty.memory_space, loc=ir.Location.unknown())


@register_pass("axf-widen-i1-memrefs", "store i1 buffers as i8 (MLIR cannot lower i1 stores)")
def widen_i1_memrefs(op, pass_):
    ops = all_ops(op)
    i8 = ir.IntegerType.get_signless(8)
    i1 = ir.IntegerType.get_signless(1)
    for o in ops:
        if o.name == "memref.store" and _is_i1_memref(o.operands[1].type):
            with ir.InsertionPoint(o), o.location:
                o.operands[0] = arith.extui(i8, o.operands[0])
        elif o.name == "memref.load" and _is_i1_memref(o.operands[0].type):
            result = o.results[0]
            with ir.InsertionPoint.after(o), o.location:
                narrow = arith.trunci(i1, result)
            result.replace_all_uses_except(narrow, narrow.owner.operation)
            result.set_type(i8)
        for region in o.regions:
            for block in region.blocks:
                for arg in block.arguments:
                    if _is_i1_memref(arg.type):
                        arg.set_type(_widened(arg.type))
    for o in ops:
        for result in o.results:
            if _is_i1_memref(result.type):
                result.set_type(_widened(result.type))
