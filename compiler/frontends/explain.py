"""``axfusion.explain(model, example_inputs)``: which ops of a PyTorch model
axfusion can compile, found before anything is compiled.

The model is exported with torch-mlir's FX importer to the torch dialect;
each ``torch.aten.*`` op is then lowered *alone* with torch-mlir's
linalg-on-tensors pipeline (a one-op function whose tensor operands are
arguments and whose constant operands are cloned along). An op is
unsupported when that lowering fails ("failed to legalize") or produces ops
outside the dialects axfusion compiles (``tm_tensor.sort`` for
``torch.sort``). Lowering ops one at a time names every unsupported op, not
only the first one the whole-model lowering stops at, and each lowering
takes milliseconds. The whole model is lowered last, to catch what only
shows up in context, and its boundary types are checked.

    >>> print(axfusion.explain(Net().eval(), torch.randn(8, 16)))
    axfusion.explain(Net): 6 op kinds, 7 ops; 1 of 6 op kinds unsupported
      op                     count  supported  location
      torch.aten.permute         1  yes        net.py:12:0
      torch.aten.mm              1  yes        net.py:12:0
      ...
      torch.aten.sort            1  NO         net.py:14:0
          torch-mlir lowers it to tm_tensor.sort, outside the dialects axfusion compiles (...)

Nothing is compiled to native code, and nothing runs in the axfusion MLIR
context but the parsing of boundary types.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from ..diagnostics import format_location

# Producers cloned along with an isolated op: they make its constant
# operands (dims, lists of ints, weights) rather than arguments.
_CLONED = ("torch.constant.", "torch.prim.ListConstruct", "torch.vtensor.literal")

# What ``fx.export_and_import(..., output_type="linalg-on-tensors")`` runs
# after the raw import: decompositions (softmax, layer_norm, ...) and shape
# refinement, then the conversion to linalg.
LOWERING = ("builtin.module(func.func(torch-match-quantized-custom-ops), "
            "torchdynamo-export-to-torch-backend-pipeline{ extra-library=}, "
            "torch-backend-to-linalg-on-tensors-backend-pipeline{allow-non-finites=True})")


@dataclass(frozen=True)
class OpSupport:
    """One aten op kind of the model: ``op`` is its torch-dialect name
    (``torch.aten.sort``), ``reason`` says why it is unsupported ("" when it
    is), ``locations`` the model's source lines (``file:line:col``)."""
    op: str
    count: int
    supported: bool
    reason: str = ""
    locations: tuple[str, ...] = ()


@dataclass
class Explanation:
    """What ``explain`` found: ``ops`` in the model's order, and
    ``problems``, reasons the whole model cannot compile that no single op
    explains (an export failure, a boundary type, training mode)."""
    model: str
    ops: list[OpSupport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def supported(self) -> bool:
        return not self.problems and all(op.supported for op in self.ops)

    @property
    def unsupported(self) -> list[OpSupport]:
        return [op for op in self.ops if not op.supported]

    def __getitem__(self, name: str) -> OpSupport:
        """The record of ``torch.aten.<name>`` (``"sort"`` or the full name)."""
        for op in self.ops:
            if name in (op.op, op.op.removeprefix("torch."), op.op.removeprefix("torch.aten.")):
                return op
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps({"model": self.model, "supported": self.supported,
                           "ops": [asdict(op) for op in self.ops],
                           "problems": self.problems}, indent=2)

    def __str__(self) -> str:
        bad = len(self.unsupported)
        verdict = ("all supported" if self.supported else
                   f"{bad} of {len(self.ops)} op kinds unsupported" if bad else
                   "not supported")
        lines = [f"axfusion.explain({self.model}): {len(self.ops)} op kinds, "
                 f"{sum(op.count for op in self.ops)} ops; {verdict}"]
        width = max([len(op.op) for op in self.ops] + [2])
        if self.ops:
            lines.append(f"  {'op':{width}}  count  supported  location")
        for op in self.ops:
            where = op.locations[0] if op.locations else ""
            if len(op.locations) > 1:
                where += f" (+{len(op.locations) - 1} more)"
            lines.append(f"  {op.op:{width}}  {op.count:5}  {'yes' if op.supported else 'NO':9}"
                         f"  {where}".rstrip())
            if not op.supported:
                lines.append(f"      {op.reason}")
        lines += [f"  problem: {p}" for p in self.problems]
        return "\n".join(lines)

    __repr__ = __str__


def explain(model, example_inputs) -> Explanation:
    """List every aten op of ``model`` (called on ``example_inputs``, a
    tensor or a tuple) with whether axfusion can compile it."""
    try:
        import torch
        from torch_mlir import fx
    except ImportError:
        from ..errors import CompileError
        raise CompileError("explaining a torch.nn.Module needs torch and torch-mlir: "
                           "pip install 'axfusion[torch]'") from None
    from .torch_fx import _tuple
    import numpy as np

    inputs = tuple(torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray)
                   else x for x in _tuple(example_inputs))
    result = Explanation(type(model).__name__)
    if model.training:
        result.problems.append("the model is in training mode; axfusion compiles inference: "
                               "call model.eval() first")
    try:
        module = fx.export_and_import(model, *inputs, output_type="raw", func_name="forward")
    except Exception as exc:  # torch.export refused the model
        result.problems.append("torch.export could not capture the model: "
                               f"{str(exc).strip().splitlines()[0]}")
        return result
    _Explainer(module, result).run()
    return result


class _Explainer:
    def __init__(self, module, result: Explanation):
        from torch_mlir import ir
        self.ir = ir
        self.module = module
        self.result = result
        self.verdicts: dict[str, tuple[bool, str]] = {}   # isolated text -> verdict
        self.diagnostics: list[tuple[str, str]] = []

    def run(self) -> None:
        handler = self.module.context.attach_diagnostic_handler(self._keep)
        try:
            records: dict[str, dict] = {}
            for op in self._aten_ops():
                name = _op_name(op)
                rec = records.setdefault(name, {"count": 0, "locations": [], "why": []})
                rec["count"] += 1
                where = format_location(op.location)
                if where not in rec["locations"]:
                    rec["locations"].append(where)
                ok, why = self._verdict(op)
                if not ok and why not in rec["why"]:
                    rec["why"].append(why)
            self.result.ops = [OpSupport(name, r["count"], not r["why"], "; ".join(r["why"]),
                                         tuple(r["locations"])) for name, r in records.items()]
            self._whole_model()
        finally:
            handler.detach()

    def _keep(self, diagnostic) -> bool:   # valid only during the call: keep its text
        self.diagnostics.append((str(diagnostic.location), diagnostic.message))
        return True

    def _aten_ops(self) -> list:
        ops = []

        def visit(op):
            if op.name.startswith("torch.aten.") or op.name == "torch.operator":
                ops.append(op.operation)
            return self.ir.WalkResult.ADVANCE

        self.module.operation.walk(visit)
        return ops

    def _verdict(self, op) -> tuple[bool, str]:
        if len(op.regions):
            return True, ""   # region ops (rare after export): left to the whole model
        isolated = self._isolate(op)
        key = str(isolated)
        if key not in self.verdicts:
            self.verdicts[key] = self._lower(isolated, op.name)
        return self.verdicts[key]

    def _isolate(self, op):
        """``op`` alone in a new function: tensor operands become arguments,
        constant ones (and the scalars computed from tensors) are cloned."""
        ir = self.ir
        from torch_mlir.dialects import func
        args: list = []
        clones: list = []

        def collect(o):
            for v in o.operands:
                owner = v.owner if isinstance(v.maybe_downcast(), ir.OpResult) else None
                owner = owner.operation if owner is not None else None
                clone = owner is not None and not len(owner.regions) and (
                    owner.name.startswith(_CLONED) or not _is_tensor(v.type))
                if clone:
                    if owner not in clones:
                        collect(owner)
                        clones.append(owner)
                elif v not in args:
                    args.append(v)

        collect(op)
        results = [r for r in op.results if _is_tensor(r.type)]
        with self.module.context, op.location:
            isolated = ir.Module.create()
            ftype = ir.FunctionType.get([a.type for a in args], [r.type for r in results])
            with ir.InsertionPoint(isolated.body):
                fn = func.FuncOp("forward", ftype)
                block = fn.add_entry_block()
            mapping = list(zip(args, block.arguments))
            with ir.InsertionPoint(block):
                for original in clones + [op]:
                    copy = original.clone()
                    for old, new in mapping:
                        copy.operation.replace_uses_of_with(old, new)
                    mapping += list(zip(original.results, copy.results))
                func.ReturnOp([next(new for old, new in mapping if old == r) for r in results])
        return isolated

    def _lower(self, module, name: str) -> tuple[bool, str]:
        """torch-mlir's linalg lowering of ``module``, the isolated op
        ``name``: (supported, reason)."""
        error, _ = self._run_lowering(module)
        failed = re.search(r"failed to legalize operation '([\w.]+)'", error)
        if failed and failed.group(1) != name:
            # The conversion reports a cloned constant it could not remove
            # because the op that reads it was left unconverted.
            return False, "torch-mlir has no linalg lowering for it"
        if error:
            return False, f"torch-mlir cannot lower it to linalg: {error}"
        outside = self._outside(module)
        if outside:
            return False, _outside_reason("it", outside)
        return True, ""

    def _run_lowering(self, module) -> tuple[str, list]:
        """Lower ``module`` in place: the first error ("" if none) and the
        (location, message) of every diagnostic."""
        from torch_mlir.passmanager import PassManager
        first = len(self.diagnostics)
        try:
            with module.context as ctx:
                # torch-mlir passes may emit an error without failing (#3506).
                ctx.emit_error_diagnostics = True
                PassManager.parse(LOWERING).run(module.operation)
            error = ""
        except Exception as exc:
            messages = [m for _, m in self.diagnostics[first:]]
            error = _short(messages[0]) if messages else str(exc).strip().splitlines()[0]
        diagnostics = self.diagnostics[first:]
        del self.diagnostics[first:]
        return error, diagnostics

    def _outside(self, module) -> list[str]:
        """Names of the ops of ``module`` outside axfusion's dialects."""
        from axfusion.passes.boundary import SUPPORTED_DIALECTS
        names: list[str] = []

        def visit(op):
            # cf.assert guards are dropped by the front end (torch_fx._drop_asserts).
            if op.name.split(".", 1)[0] not in SUPPORTED_DIALECTS and op.name not in names \
                    and not op.name.endswith(".yield") and op.name != "cf.assert":
                names.append(op.name)
            return self.ir.WalkResult.ADVANCE

        module.operation.walk(visit)
        return names

    def _whole_model(self) -> None:
        """Lower the whole model: what no single op explains (and the
        boundary types) become problems."""
        result = self.result
        error, diagnostics = self._run_lowering(self.module)
        if error:
            if not result.unsupported:   # else the ops found unsupported are the reason
                lines = [f"{format_location(loc)}: {_short(m)}"
                         for loc, m in diagnostics] or [error]
                result.problems.append("torch-mlir could not lower the model to linalg: " +
                                       "; ".join(lines[:3]))
            return
        outside = self._outside(self.module)
        if outside and not result.unsupported:
            result.problems.append(_outside_reason("part of the model", outside))
        result.problems += self._boundary_problems()

    def _boundary_problems(self) -> list[str]:
        """Arguments and results of types axfusion refuses at the function
        boundary (i1, bf16, dynamic shapes), checked by axfusion's own rule."""
        from axfusion._mlir import ir as axf_ir
        from axfusion.passes.boundary import type_problem
        problems = []
        for op in self.module.body.operations:
            op = op.operation
            if op.name != "func.func":
                continue
            ftype = self.ir.FunctionType(self.ir.TypeAttr(op.attributes["function_type"]).value)
            with axf_ir.Context():
                for kind, types in (("argument", ftype.inputs), ("result", ftype.results)):
                    for i, ty in enumerate(types):
                        try:
                            why = type_problem(axf_ir.Type.parse(str(ty)))
                        except Exception:
                            why = f"type {ty} is not supported"
                        if why:
                            problems.append(f"model {kind} {i}: {why}")
        return problems


def _is_tensor(ty) -> bool:
    return str(ty).startswith(("!torch.vtensor", "!torch.tensor"))


def _op_name(op) -> str:
    if op.name == "torch.operator":   # an op the importer has no definition of
        return "torch." + str(op.attributes["name"]).strip('"')
    return op.name


_OP_DUMP = re.compile(r"(:\s*%|\s*see current operation).*$", re.S)


def _short(message: str) -> str:
    """A diagnostic without the op dump MLIR appends to it."""
    return _OP_DUMP.sub("", message.strip().splitlines()[0]).strip()


def _outside_reason(what: str, names: list[str]) -> str:
    return (f"torch-mlir lowers {what} to {', '.join(names)}, outside the dialects axfusion "
            "compiles (linalg-on-tensors: passes/boundary.py SUPPORTED_DIALECTS)")
