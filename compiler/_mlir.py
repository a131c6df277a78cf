"""The one place axfusion imports the MLIR Python bindings from.

Everything else writes ``from ._mlir import ir, passmanager`` so that a change
of binding package (today the ``xtc-mlir-python-bindings`` wheel, which
installs upstream's ``mlir`` package) is a one-line edit here.
"""

from mlir import ir, passmanager, rewrite  # noqa: F401
from mlir.dialects import arith, func, linalg, memref, scf, tensor  # noqa: F401

MLIRError = ir.MLIRError


def all_ops(root, pre_order: bool = False) -> list:
    """Every operation nested under ``root`` (``root`` included), in walk
    order (post-order by default, as ``Operation.walk``)."""
    found = []

    def visit(op):
        found.append(op)
        return ir.WalkResult.ADVANCE

    order = ir.WalkOrder.PRE_ORDER if pre_order else ir.WalkOrder.POST_ORDER
    root.operation.walk(visit, walk_order=order)
    return found
