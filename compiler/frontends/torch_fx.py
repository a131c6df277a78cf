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

    mod = axfusion.compile(model.eval(), (x,), dynamic_dims={0: "batch"})
    mod(x_of_any_batch)                             # one kernel: forward(f32[?,64]) -> ...
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


def import_module(model, example_inputs: tuple, dynamic_shapes=None) -> str:
    """The model as linalg-on-tensors MLIR text (generic form, locations).

    ``dynamic_shapes``: torch.export's, one entry per input (``{dim:
    torch.export.Dim}`` or None); those sizes become ``?`` in the IR."""
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
        program = torch.export.export(model, tuple(example_inputs),
                                      dynamic_shapes=dynamic_shapes)
    except Exception as exc:  # torch.export refused the model
        lines = str(exc).strip().splitlines()
        if dynamic_shapes is not None and "Constraints violated" in lines[0]:
            # "You marked batch as dynamic but your code specialized it to be
            # a constant (8)": the model fixes that size.
            why = next((ln.strip(" -") for ln in lines[1:] if ln.strip()), lines[0])
            raise CompileError(f"a dynamic dimension cannot stay symbolic: {why.split('. ')[0]}; "
                               "leave it out of dynamic_dims (each size then compiles "
                               "its own specialisation)", stage="import") from None
        raise CompileError(f"torch.export could not capture the model: {lines[0]}",
                           stage="import") from None
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



def _dynamic_dims(spec, inputs: tuple) -> list[dict]:
    """``dynamic_dims`` as one ``{dim: name}`` per input: a dict applies to
    every input of rank > dim; a list/tuple gives each input its own (or
    None)."""
    if not spec:
        return [{} for _ in inputs]
    if isinstance(spec, dict):
        per_input = [{d: n for d, n in spec.items() if d < getattr(x, "ndim", 0)}
                     for x in inputs]
    elif isinstance(spec, (list, tuple)) and len(spec) == len(inputs):
        per_input = [dict(s or {}) for s in spec]
    else:
        raise ArgumentError(f"dynamic_dims={spec!r}: give {{dim: name}} (for every input) or "
                            f"one dict or None per input ({len(inputs)} inputs)")
    for i, dims in enumerate(per_input):
        for d, n in dims.items():
            if not isinstance(d, int) or d < 0 or not isinstance(n, str) or not n.isidentifier():
                raise ArgumentError(f"dynamic_dims: input {i}: {d!r}: {n!r} must be a "
                                    "non-negative dim and a name (an identifier)")
            if d >= getattr(inputs[i], "ndim", 0):
                raise ArgumentError(f"dynamic_dims: input {i} has rank "
                                    f"{getattr(inputs[i], 'ndim', 0)}, no dim {d}")
    if not any(per_input):
        raise ArgumentError(f"dynamic_dims={spec!r} names no dimension of the inputs")
    return per_input


class TorchCompiledModule:
    """A compiled ``nn.Module``: call it like the model.

    Specialised to the shapes and dtypes of the inputs it has seen: new
    shapes compile again (cached on disk) unless ``dynamic=False``, which
    refuses them with ``ArgumentError``. The sizes named in ``dynamic_dims``
    stay symbolic instead: one kernel serves every value of them (the
    compiled signature shows ``?``), e.g. ``dynamic_dims={0: "batch"}`` (dim
    0 of every input, one size) or one dict per input
    (``[{0: "batch"}, {0: "batch", 1: "seq"}]``). Inputs whose sizes of one
    name differ are refused (``ArgumentError``)."""

    def __init__(self, model, example_inputs, target="cpu", *, patterns=None,
                 dynamic: bool = True, cache: bool = True, weights: str = "constants",
                 dynamic_dims=None):
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
        example_inputs = _tuple(example_inputs)
        self._dims = _dynamic_dims(dynamic_dims, example_inputs)
        self._last = self._specialise(example_inputs)

    def _state_tensors(self) -> list:
        if not self._state:   # weights baked in: nothing to read per call
            return []
        values = dict(self.model.named_parameters())
        values.update(self.model.named_buffers())
        return [values[name].detach() for name in self._state]

    def _key(self, arrays) -> tuple:
        """Shapes and dtypes, with None for the symbolic sizes (checked to
        agree across inputs)."""
        key, sizes = [], {}
        for i, a in enumerate(arrays):
            dims = self._dims[i] if i < len(self._dims) else {}
            shape = list(a.shape)
            for d, name in dims.items():
                if d >= len(shape):
                    raise ArgumentError(f"input {i} has rank {len(shape)}; dynamic_dims names "
                                        f"its dim {d} ({name!r})")
                size = sizes.setdefault(name, (shape[d], i, d))
                if size[0] != shape[d]:
                    raise ArgumentError(
                        f"dynamic size {name!r} differs between inputs: input {size[1]} dim "
                        f"{size[2]} is {size[0]}, input {i} dim {d} is {shape[d]}")
                shape[d] = None
            key.append((tuple(shape), str(a.dtype)))
        return tuple(key)

    def _export_dims(self) -> list | None:
        """torch.export's dynamic_shapes for ``self._dims`` (one Dim per name)."""
        if not any(self._dims):
            return None
        import torch
        named: dict = {}
        shapes = [None] * len(self._state)
        for dims in self._dims:
            shapes.append({d: named.setdefault(n, torch.export.Dim(n)) for d, n in dims.items()}
                          or None)
        return shapes

    def _specialise(self, inputs: tuple):
        import torch

        from ..driver import compile as compile_mlir
        tensors = tuple(torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray)
                        else x for x in inputs)
        key = self._key([t.detach().cpu().numpy() for t in tensors])
        if key not in self._modules:
            shapes = self._export_dims()
            if self._state:
                # forward(*args): torch.export wants the varargs as one entry.
                text = import_module(_functional(self.model, self._state),
                                     tuple(self._state_tensors()) + tensors,
                                     dynamic_shapes=(tuple(shapes),) if shapes else None)
            else:
                text = import_module(self.model, tensors,
                                     dynamic_shapes=tuple(shapes) if shapes else None)
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
