"""The PyTorch front end: ``nn.Module`` -> linalg-on-tensors via torch-mlir's
FX importer -> the usual pipeline.

torch-mlir carries its own private copy of MLIR, so its output crosses into
axfusion's MLIR context as text (generic op form, with locations: torch-mlir
keeps each op's Python stack as a ``callsite`` location, so reports and
errors point at the model's source lines). Parameters are baked in as
constants (``dense_resource`` blobs), which lets patterns fold them
(batch-norm into conv weights).

    mod = axfusion.compile(model.eval(), (x,))     # a TorchCompiledModule
    y = mod(x)                                      # torch in -> torch out
    mod(other_shape_x)                              # recompiled (cached) for the new shape
"""

from __future__ import annotations

import re
import sys

import numpy as np

from ..errors import ArgumentError, CompileError


def is_torch_module(obj) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _tuple(example_inputs) -> tuple:
    if isinstance(example_inputs, (tuple, list)):
        return tuple(example_inputs)
    return (example_inputs,)


_OP = re.compile(r"(torch\.aten\.[\w.]+|torch\.prim\.[\w.]+|'[\w.]+')")


def import_module(model, example_inputs: tuple) -> str:
    """The model as linalg-on-tensors MLIR text (generic form, locations)."""
    try:
        from torch_mlir import fx
    except ImportError:
        raise CompileError("compiling a torch.nn.Module needs torch-mlir: "
                           "pip install 'axfusion[torch]'") from None
    if model.training:
        raise CompileError("the model is in training mode; axfusion compiles inference: "
                           "call model.eval() first")
    import torch
    try:
        program = torch.export.export(model, tuple(example_inputs))
    except Exception as exc:  # torch.export refused the model
        raise CompileError(f"torch.export could not capture the model: "
                           f"{str(exc).strip().splitlines()[0]}", stage="import") from None
    # Decomposed (and so functionalised) here, so the signature shows writes.
    program = program.run_decompositions(fx.get_decomposition_table())
    signature = program.graph_signature
    mutated = list(signature.buffers_to_mutate.values()) + \
        list(signature.user_inputs_to_mutate.values())
    if mutated:
        raise CompileError(f"the model writes to {', '.join(mutated)} in forward(); axfusion "
                           "compiles pure functions (the write would be lost)", stage="import")
    module = fx.export_and_import(program, output_type="torch", func_name="forward",
                                  decomposition_table={})
    # Lower to linalg with torch-mlir's pipeline, keeping its diagnostics
    # (which name the op that failed to legalize and its Python line).
    diagnostics: list = []

    def keep(diagnostic):  # valid only during the call: keep its text
        diagnostics.append((str(diagnostic.location), diagnostic.message))
        return True

    handler = module.context.attach_diagnostic_handler(keep)
    try:
        from torch_mlir.compiler_utils import OutputType
        fx.lower_mlir_module(False, OutputType.LINALG_ON_TENSORS, module)
    except Exception as exc:
        raise _lowering_error(exc, diagnostics) from None
    finally:
        handler.detach()
    _drop_asserts(module)
    text = module.operation.get_asm(enable_debug_info=True, print_generic_op_form=True)
    _check_dialects(text)
    return text


def _drop_asserts(module) -> None:
    """torch-mlir guards some ops with ``cf.assert`` inside linalg bodies
    (batch-norm's ``var + eps > 0``, a gather's index bounds). A failing
    assert would abort the caller's process, which axfusion never does, so
    they are dropped; an out-of-range class label then reads out of bounds
    unless SoftmaxCrossEntropy (which clamps labels) took the loss."""
    from torch_mlir import ir as tir
    asserts = []

    def visit(op):
        if op.name == "cf.assert":
            asserts.append(op)
        return tir.WalkResult.ADVANCE

    module.operation.walk(visit)
    for op in asserts:
        op.erase()


def _lowering_error(exc: Exception, diagnostics: list) -> CompileError:
    from ..diagnostics import format_location
    lines = [f"{format_location(loc)}: error: {message}" for loc, message in diagnostics]
    ops = [m.strip("'") for m in _OP.findall(" ".join(lines) or str(exc)) if "torch." in m]
    what = (f"op {ops[0]} is not supported by torch-mlir's linalg lowering" if ops
            else "torch-mlir could not lower the model to linalg")
    return CompileError(
        f"{what}; run that part of the model eagerly, or report the op",
        stage="import", diagnostics=lines or str(exc).strip().splitlines()[:8])


_GENERIC_OP = re.compile(r'^\s*(?:%[^=]+=\s*)?"(\w+)\.([\w.]+)"\(([^\n]*)$', re.M)
_LINE_LOC = re.compile(r"loc\((#loc\d*)\)\s*$")
_LOC_ALIAS = re.compile(r"^(#loc\d*) = (loc\(.*\))\s*$", re.M)


def _check_dialects(text: str) -> None:
    """Ops of dialects the upstream pipeline cannot take (torch-mlir's own
    TMTensor ops for sort, scatter, ...) are named with their Python line."""
    from axfusion.passes.boundary import SUPPORTED_DIALECTS

    from ..diagnostics import format_location
    aliases = dict(_LOC_ALIAS.findall(text))
    bad = []
    for dialect, op, rest in _GENERIC_OP.findall(text):
        if dialect in SUPPORTED_DIALECTS:
            continue
        loc = _LINE_LOC.search(rest)
        bad.append((f"{dialect}.{op}", aliases.get(loc.group(1), "") if loc else ""))
    if bad:
        # A region op's location follows its body: name the op, not its yield.
        name = next((n for n, _ in bad if not n.endswith(".yield")), bad[0][0])
        where = next((format_location(loc) for _, loc in bad if loc), "<model>")
        raise CompileError(
            f"op {name} is not supported: torch-mlir lowered part of the model outside "
            "linalg; run that part eagerly, or report the op", stage="import",
            diagnostics=[f"{where}: error: unsupported op '{name}'"])


def _functional(model, names):
    import torch

    class Functional(torch.nn.Module):
        """``model`` with its parameters and buffers as leading inputs."""

        def __init__(self):
            super().__init__()
            self._model = [model]   # a list: not registered, so not exported as constants

        def forward(self, *args):
            state = dict(zip(names, args[:len(names)]))
            return torch.func.functional_call(self._model[0], state, args[len(names):])

    return Functional().eval()



class TorchCompiledModule:
    """A compiled ``nn.Module``: call it like the model.

    Specialised to the shapes and dtypes of the inputs it has seen: new
    shapes compile again (cached on disk) unless ``dynamic=False``, which
    refuses them with ``ArgumentError``."""

    def __init__(self, model, example_inputs, target="cpu", *, patterns=None,
                 dynamic: bool = True, cache: bool = True, weights: str = "constants"):
        if weights not in ("constants", "runtime"):
            raise ArgumentError(f"weights={weights!r}: choose 'constants' (baked into the "
                                "kernel) or 'runtime' (passed at every call)")
        self.model = model
        self.target = target
        self.dynamic = dynamic
        self.weights = weights
        # weights="runtime": parameters and buffers become leading arguments
        # of the compiled function, read from the model at every call.
        self._state = [] if weights == "constants" else \
            [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_buffers()]
        self._options = {"patterns": patterns, "cache": cache}
        self._modules: dict = {}
        self._last = self._specialise(_tuple(example_inputs))

    def _state_tensors(self) -> list:
        if not self._state:   # weights baked in: nothing to read per call
            return []
        values = dict(self.model.named_parameters())
        values.update(self.model.named_buffers())
        return [values[name].detach() for name in self._state]

    @staticmethod
    def _key(arrays) -> tuple:
        return tuple((tuple(a.shape), str(a.dtype)) for a in arrays)

    def _specialise(self, inputs: tuple):
        import torch

        from ..driver import compile as compile_mlir
        tensors = tuple(torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray)
                        else x for x in inputs)
        key = self._key([t.detach().cpu().numpy() for t in tensors])
        if key not in self._modules:
            if self._state:
                text = import_module(_functional(self.model, self._state),
                                     tuple(self._state_tensors()) + tensors)
            else:
                text = import_module(self.model, tensors)
            self._modules[key] = compile_mlir(text, self.target, **self._options)
        return self._modules[key]

    def __call__(self, *inputs):
        torch = sys.modules.get("torch")
        as_torch = torch is not None and any(isinstance(x, torch.Tensor) for x in inputs)
        arrays = [x.detach().cpu().numpy() if torch is not None and isinstance(x, torch.Tensor)
                  else np.asarray(x) for x in inputs]
        key = self._key(arrays)
        module = self._modules.get(key)
        if module is None:
            if not self.dynamic:
                seen = ", ".join(str(k) for k in self._modules)
                raise ArgumentError(f"compiled for input shapes/dtypes {seen}, called with "
                                    f"{key}; pass dynamic=True to compile for new shapes")
            module = self._specialise(tuple(inputs))
        self._last = module
        state = [t.cpu().numpy() for t in self._state_tensors()]
        out = module["forward"](*state, *arrays)
        if not as_torch:
            return out
        if isinstance(out, tuple):
            return tuple(torch.from_numpy(o) for o in out)
        return torch.from_numpy(out)

    forward = __call__

    @property
    def compiled(self):
        """The ``CompiledModule`` of the shapes last called (or compiled)."""
        return self._last

    def report(self):
        return self._last.report()

    def detected_patterns(self):
        return self._last.detected_patterns()

    def __repr__(self) -> str:
        return (f"TorchCompiledModule({type(self.model).__name__}, {len(self._modules)} "
                f"specialisation(s)):\n  " + repr(self._last).replace("\n", "\n  "))
