"""Result-shape functions for entry points with dynamic (``?``) result sizes.

The runtime allocates every result before the call (destination passing:
``buffer-results-to-out-params``), so it must know a result's size before the
kernel runs. For each entry point ``@f`` with a dynamic result dimension,
``axf-result-shapes`` adds ``@f__axf_result_shapes``: a copy of ``@f`` that
returns the dynamic sizes as one ``tensor<N x i64>`` (result by result, dim
by dim), instead of the results. Upstream's
``resolve-ranked-shaped-type-result-dims`` then rewrites each
``tensor.dim`` of a result into the sizes it is computed from (``tensor.empty``
operands, ``expand_shape`` output sizes, ...) down to ``tensor.dim`` of the
arguments, and canonicalisation deletes the computation no size needs:

    func.func @f(%x: tensor<?x64xf32>) -> tensor<?x10xf32> { ... }

    func.func @f__axf_result_shapes(%x: tensor<?x64xf32>) -> tensor<1xi64> {
      %c0 = arith.constant 0 : index
      %d = tensor.dim %x, %c0 : tensor<?x64xf32>
      %n = arith.index_cast %d : index to i64
      %s = tensor.from_elements %n : tensor<1xi64>
      return %s : tensor<1xi64>
    }

``axf-check-result-shapes`` then refuses, with the location, an entry point
whose result size depends on the data rather than on argument sizes (the
shape function would still hold a ``linalg`` op after the cleanup).
"""

from __future__ import annotations

import re

from axfusion._mlir import all_ops, arith, func, ir, memref, passmanager, scf, tensor
from axfusion.signature import RESULT_SHAPES_SUFFIX

from .boundary import function_type, is_entry_point, symbol_name
from .registry import register_pass


def dynamic_result_dims(ftype: ir.FunctionType) -> list[tuple[int, int]]:
    """(result, dim) of every dynamic result size, in order."""
    return [(i, d) for i, ty in enumerate(ftype.results) if isinstance(ty, ir.RankedTensorType)
            for d, size in enumerate(ir.RankedTensorType(ty).shape)
            if ir.ShapedType.is_dynamic_size(size)]


def _shape_function(f: ir.Operation, dims: list[tuple[int, int]]) -> None:
    """Insert after ``f`` a copy returning the sizes ``dims`` of its results
    and the number of a failed size check (the last to fail; 0: the sizes
    agree).

    The copy is built and simplified in a scratch module (upstream passes,
    run on the copy only), then moved next to ``f``."""
    scratch = ir.Module.create(loc=f.location)
    with ir.InsertionPoint(scratch.body):
        clone = f.clone()
    name = symbol_name(f) + RESULT_SHAPES_SUFFIX
    clone.attributes["sym_name"] = ir.StringAttr.get(name)
    for attr in ("res_attrs", "llvm.emit_c_interface"):
        if attr in clone.attributes:
            del clone.attributes[attr]
    i64 = ir.IntegerType.get_signless(64)
    shape_type = ir.RankedTensorType.get([len(dims)], i64, loc=f.location)
    for block in clone.regions[0].blocks:
        ret = block.operations[len(block.operations) - 1]
        with ir.InsertionPoint(ret), ret.location:
            sizes = [arith.index_cast(i64, tensor.dim(
                ret.operands[i], arith.constant(ir.IndexType.get(), d))) for i, d in dims]
            func.ReturnOp([tensor.from_elements(shape_type, sizes)])
        ret.operation.erase()
    clone.attributes["function_type"] = ir.TypeAttr.get(
        ir.FunctionType.get(function_type(f).inputs, [shape_type]))
    passmanager.PassManager.parse(
        "builtin.module(generate-runtime-verification,"
        "func.func(resolve-ranked-shaped-type-result-dims),canonicalize,cse)").run(
            scratch.operation)
    _checks_to_code(clone)
    clone.move_after(f)


def _checks_to_code(shape_fn: ir.Operation) -> None:
    """Turn each ``cf.assert`` (from ``generate-runtime-verification``) into
    "remember my number if I fail", and return the number as one more
    element of the sizes: the runtime raises an ``ArgumentError`` with the
    check's message instead of the process aborting. The messages go on the
    function as ``axf.checks`` (number k+1 is ``axf.checks[k]``)."""
    asserts = [op for op in all_ops(shape_fn) if op.name == "cf.assert"]
    i64 = ir.IntegerType.get_signless(64)
    entry = shape_fn.regions[0].blocks[0]
    with ir.InsertionPoint.at_block_begin(entry), shape_fn.location:
        code = memref.alloca(ir.MemRefType.get([], i64), [], [])
        memref.store(arith.constant(i64, 0), code, [])
    messages: dict[str, int] = {}
    for op in asserts:
        if not _on_sizes(op, shape_fn):
            # A check of an element's value (a gather's index inside a
            # linalg body): not a size; dropped, as the kernel drops it.
            op.erase()
            continue
        text = _check_message(ir.StringAttr(op.attributes["msg"]).value)
        number = messages.setdefault(text, len(messages) + 1)
        with ir.InsertionPoint(op), op.location:
            failed = arith.xori(op.operands[0], arith.constant(ir.IntegerType.get_signless(1), 1))
            branch = scf.IfOp(failed)
            with ir.InsertionPoint(branch.then_block):
                memref.store(arith.constant(i64, number), code, [])
                scf.YieldOp([])
        op.erase()
    ret = entry.operations[len(entry.operations) - 1] if len(shape_fn.regions[0].blocks) == 1 \
        else None
    if ret is None or ret.operation.name != "func.return":
        raise ValueError("shape function: expected a single block ending in func.return")
    sizes = ret.operands[0].owner
    with ir.InsertionPoint(ret), ret.location:
        shape_type = ir.RankedTensorType.get([len(sizes.operands) + 1], i64)
        values = list(sizes.operands) + [memref.load(code, [])]
        func.ReturnOp([tensor.from_elements(shape_type, values)])
    ret.operation.erase()
    shape_fn.attributes["function_type"] = ir.TypeAttr.get(ir.FunctionType.get(
        function_type(shape_fn).inputs, [shape_type]))
    shape_fn.attributes["axf.checks"] = ir.ArrayAttr.get(
        [ir.StringAttr.get(m) for m in messages])


def _on_sizes(op, shape_fn) -> bool:
    """Whether ``op`` sits in the function body or in ``scf.if`` regions
    only (so it tests sizes, not the values of elements)."""
    parent = op.parent
    while parent is not None and parent != shape_fn:
        if parent.name != "scf.if":
            return False
        parent = parent.parent
    return True


def _check_message(text: str) -> str:
    """``generate-runtime-verification``'s message, without the op dump:
    'dimension #0 of input/output operand #1 is incompatible with inferred
    dimension size (at model.py:12:4)'."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    why = next((ln.lstrip("^ ").strip() for ln in lines if ln.startswith("^")), lines[-1])
    where = next((ln[len("Location: "):] for ln in lines if ln.startswith("Location: ")), "")
    place = _FILE_LINE.search(where)
    if place:
        where = ":".join(place.groups())
    return f"{why} (at {where})" if where else why


_FILE_LINE = re.compile(r'"([^"]+)":(\d+):(\d+)')


@register_pass("axf-result-shapes",
               "add @f__axf_result_shapes for entry points with dynamic result sizes")
def result_shapes(op, pass_):
    for f in list(op.regions[0].blocks[0].operations):
        f = f.operation
        if not is_entry_point(f) or symbol_name(f).endswith(RESULT_SHAPES_SUFFIX):
            continue
        dims = dynamic_result_dims(function_type(f))
        if dims:
            _shape_function(f, dims)


# What a shape function may hold once the computation is gone.
_SHAPE_OPS = ("arith.", "affine.apply", "affine.min", "affine.max", "tensor.dim",
              "tensor.from_elements", "func.return", "func.func", "index.", "scf.if",
              "scf.yield", "memref.alloca", "memref.load", "memref.store")


@register_pass("axf-check-result-shapes",
               "refuse entry points whose result sizes depend on data, not argument sizes")
def check_result_shapes(op, pass_):
    failed = False
    for f in op.regions[0].blocks[0].operations:
        f = f.operation
        if f.name != "func.func" or not symbol_name(f).endswith(RESULT_SHAPES_SUFFIX):
            continue
        for inner in all_ops(f):
            if not inner.name.startswith(_SHAPE_OPS):
                name = symbol_name(f)[:-len(RESULT_SHAPES_SUFFIX)]
                inner.location.emit_error(
                    f"entry point @{name}: a dynamic result size depends on the values of "
                    f"'{inner.name}', not only on argument sizes; the runtime cannot size "
                    "the result before the call (give the result a static shape)")
                failed = True
                break
    if failed:
        pass_.signal_pass_failure()


def check_messages(module: ir.Operation) -> dict[str, list[str]]:
    """Entry-point name -> the messages of its shape function's checks."""
    found = {}
    for f in module.regions[0].blocks[0].operations:
        f = f.operation
        if f.name == "func.func" and "axf.checks" in f.attributes:
            name = symbol_name(f)[:-len(RESULT_SHAPES_SUFFIX)]
            found[name] = [ir.StringAttr(a).value for a in ir.ArrayAttr(f.attributes["axf.checks"])]
    return found
