"""The ``import`` stage: MLIR text or file -> verified module in a fresh
context, refused with located diagnostics when the CPU pipeline cannot take it
(see ``passes/boundary.py``)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from ._mlir import ir
from .diagnostics import format_location
from .errors import CompileError
from .pipeline import Stage, module_text
from .signature import DTYPES, FunctionSignature, TensorSpec


@dataclass(frozen=True)
class Source:
    text: str
    path: str | None = None   # parse from the file so locations name it


def parse(source: Source, context: ir.Context) -> ir.Module:
    """Parse and verify; raises ``MLIRError`` with diagnostics."""
    with context:
        if source.path is not None:
            module = ir.Module.parseFile(source.path)
        else:
            module = ir.Module.parse(source.text)
        module.operation.verify()
    return module


def check(module: ir.Module) -> None:
    from axfusion.passes.boundary import input_problems
    with module.context:
        problems = input_problems(module.operation)
    if problems:
        raise CompileError(
            problems[0][1] if len(problems) == 1 else
            f"{len(problems)} problems make this module uncompilable",
            stage="import",
            diagnostics=[f"{format_location(loc)}: error: {msg}" for loc, msg in problems])


def signatures(module: ir.Module) -> list[FunctionSignature]:
    from axfusion.passes.boundary import function_type, is_entry_point, symbol_name

    def spec(ty) -> TensorSpec:
        tensor = ir.RankedTensorType(ty)
        shape = tuple(None if ir.ShapedType.is_dynamic_size(d) else d for d in tensor.shape)
        return TensorSpec(shape, DTYPES[str(tensor.element_type)])

    out = []
    with module.context:
        for op in module.body.operations:
            op = op.operation
            if is_entry_point(op):
                ftype = function_type(op)
                out.append(FunctionSignature(symbol_name(op),
                                             tuple(spec(t) for t in ftype.inputs),
                                             tuple(spec(t) for t in ftype.results)))
    return out


class ImportStage(Stage):
    name = "import"

    def run(self, source: Source, ctx):
        module = parse(source, ir.Context())
        check(module)
        ctx.signatures = signatures(module)
        return module

    def repro(self, saved: str) -> str:
        return f"axfusion-opt --axf-check-input {shlex.quote(saved)}"

    def dump(self, module) -> str:
        return module_text(module)
