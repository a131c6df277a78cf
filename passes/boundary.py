"""Passes at the edge of the compiler: what axfusion accepts as input, and the
C interface of what it emits.

``axf-check-input`` refuses, with the location, what the CPU pipeline cannot
compile: entry points whose arguments or results are not ranked tensors of a
supported element type, and ops outside linalg-on-tensors. Dynamic sizes
(``tensor<?x4xf32>``) are accepted: results get a shape function
(``result_shapes.py``).

    func.func @f(%a: tensor<4xi1>) -> ...
    // error: entry point @f argument 0: tensor<4xi1>: i1 tensors cannot cross
    //        the function boundary (...); widen to i8 with arith.extui in the model

``axf-readonly-arguments`` marks entry-point arguments
``bufferization.writable = false``, so bufferization never writes into the
caller's input arrays.

``axf-emit-c-interface`` marks every public function with
``llvm.emit_c_interface`` so the LLVM lowering emits ``_mlir_ciface_<name>``,
which takes memref descriptors by pointer (what the ctypes runtime calls).
"""

from __future__ import annotations

from axfusion._mlir import ir
from axfusion.signature import DTYPES

from .registry import register_pass

# Dialects whose ops the CPU pipeline lowers (linalg-on-tensors and the
# scalar dialects its bodies use).
SUPPORTED_DIALECTS = frozenset(
    {"builtin", "func", "linalg", "tensor", "arith", "math", "affine", "scf", "ub"})

_WHY = {
    "i1": "i1 tensors cannot cross the function boundary (MLIR's memref lowering "
          "needs byte-sized elements); widen to i8 with arith.extui in the model",
    "bf16": "bf16 tensors have no numpy dtype; pass f32 and convert inside "
            "the model with arith.truncf",
}


def is_entry_point(op: ir.Operation) -> bool:
    if op.name != "func.func" or len(op.regions[0].blocks) == 0:
        return False
    vis = op.attributes["sym_visibility"] if "sym_visibility" in op.attributes else None
    return vis is None or ir.StringAttr(vis).value == "public"


def function_type(op: ir.Operation) -> ir.FunctionType:
    return ir.FunctionType(ir.TypeAttr(op.attributes["function_type"]).value)


def symbol_name(op: ir.Operation) -> str:
    return ir.StringAttr(op.attributes["sym_name"]).value


def type_problem(ty: ir.Type) -> str | None:
    """Why a boundary type is refused, or None when it is accepted."""
    if not isinstance(ty, ir.RankedTensorType):
        return f"type {ty} is not a ranked tensor; entry points take and return tensors"
    tensor = ir.RankedTensorType(ty)
    elem = str(tensor.element_type)
    if elem in _WHY:
        return f"{ty}: {_WHY[elem]}"
    if elem not in DTYPES:
        return f"{ty}: element type {elem} is not supported (supported: {', '.join(DTYPES)})"
    return None


def input_problems(module: ir.Operation) -> list[tuple[ir.Location, str]]:
    """Every reason the module cannot be compiled, with its location."""
    problems: list[tuple[ir.Location, str]] = []
    entry_points = 0
    for op in module.regions[0].blocks[0].operations:
        op = op.operation
        if op.name == "func.func" and len(op.regions[0].blocks) == 0:
            problems.append((op.location, f"external function @{symbol_name(op)} has no "
                             "body; axfusion compiles whole programs"))
            continue
        if not is_entry_point(op):
            continue
        entry_points += 1
        name = symbol_name(op)
        ftype = function_type(op)
        for kind, types in (("argument", ftype.inputs), ("result", ftype.results)):
            for i, ty in enumerate(types):
                why = type_problem(ty)
                if why:
                    problems.append((op.location, f"entry point @{name} {kind} {i}: {why}"))

    def visit(op):
        dialect = op.name.split(".", 1)[0]
        if dialect not in SUPPORTED_DIALECTS:
            problems.append((op.location, f"unsupported op '{op.name}': axfusion compiles "
                             "linalg-on-tensors (dialects: "
                             + ", ".join(sorted(SUPPORTED_DIALECTS)) + ")"))
            return ir.WalkResult.SKIP
        return ir.WalkResult.ADVANCE

    module.walk(visit)
    if entry_points == 0:
        problems.append((module.location, "no entry point: the module has no public "
                         "func.func with a body"))
    return problems


@register_pass("axf-check-input", "refuse IR the CPU pipeline cannot compile, with locations")
def check_input(op, pass_):
    problems = input_problems(op)
    for loc, message in problems:
        loc.emit_error(message)
    if problems:
        pass_.signal_pass_failure()


@register_pass("axf-emit-c-interface", "mark public functions llvm.emit_c_interface")
def emit_c_interface(op, pass_):
    for f in op.regions[0].blocks[0].operations:
        if is_entry_point(f.operation):
            f.operation.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()


@register_pass("axf-readonly-arguments",
               "mark entry-point arguments bufferization.writable = false")
def readonly_arguments(op, pass_):
    """The caller's input arrays are read-only: without this, one-shot
    bufferization may reuse an argument's buffer for a result (e.g. the
    ``outs`` of an element-wise op) and overwrite the caller's data."""
    for f in op.regions[0].blocks[0].operations:
        f = f.operation
        if not is_entry_point(f):
            continue
        count = len(function_type(f).inputs)
        old = list(ir.ArrayAttr(f.attributes["arg_attrs"])) if "arg_attrs" in f.attributes \
            else [ir.DictAttr.get({})] * count
        new = []
        for attrs in old:
            entries = {a.name: a.attr for a in ir.DictAttr(attrs)}
            entries["bufferization.writable"] = ir.BoolAttr.get(False)
            new.append(ir.DictAttr.get(entries))
        f.attributes["arg_attrs"] = ir.ArrayAttr.get(new)
