"""``torch.compile(model, backend="axfusion")``: a TorchDynamo backend.

Dynamo hands the backend each graph it captured (a torch-level FX
``GraphModule``) with the graph's inputs. In torch 2.x those inputs include
the model's parameters and buffers (dynamo lifts them out of the module),
the user's tensors, ``SymInt`` sizes of dynamic dimensions and, with
``dynamic=True``, Python floats wrapped as 0-d tensors (``bn.eps``, used
through ``.item()``). For each new combination of input shapes, the backend
rewrites a copy of the graph so that parameters and buffers are constants
(``get_attr``, baked in by the torch-mlir front end, which lets patterns fold
them) and sizes and scalars are literals, then compiles it with the PyTorch
front end (``torch_fx.import_module``) and the usual pipeline:

    placeholder w (a Parameter)      ->  get_attr _axf_const_0
    placeholder s77 (SymInt)          ->  aten.sym_size(x, 0) (or the literal 8)
    placeholder eps; eps.item()       ->  the literal 1e-05
    placeholder x                     ->  placeholder x (the compiled function's argument)

What it cannot compile (an op torch-mlir or axfusion does not take, a graph
that needs autograd or mutates its inputs, tensors off the CPU) runs eagerly,
and the logger ``axfusion.dynamo`` says why (WARNING). Compiles and
recompiles are logged at INFO with the shapes that caused them.

Sizes dynamo made symbolic (``torch.compile(..., dynamic=True)``,
``torch._dynamo.mark_dynamic``, or dynamo's automatic-dynamic after a second
size) stay symbolic in the kernel: the SIZE placeholder is read from its
input (``aten.sym_size``), torch.export gets a ``Dim`` for it, and the
compiled signature shows ``?`` (``float32[?, 24]``), so a new batch size
compiles nothing. Where the model fixes such a size (torch.export finds it
specialised), the graph falls back to one specialisation per size (logged).

Parameters are constants: a specialisation is reused only while each
parameter is the same tensor object at the same version (an in-place update
such as ``p.copy_(...)`` or ``load_state_dict`` bumps it). Writes through
``p.data`` do not bump the version and are not seen.

    model = torch.compile(model.eval(), backend="axfusion", dynamic=True)
    with torch.no_grad():
        y = model(x)
"""

from __future__ import annotations

import logging
import re
import weakref
from collections import OrderedDict

import numpy as np

from ..errors import AxfusionError, CompileError

log = logging.getLogger("axfusion.dynamo")

INPUT, CONST, SCALAR, SIZE = "input", "const", "scalar", "size"
_MAX_SPECIALISATIONS = 8   # per graph; the oldest is dropped (the disk cache keeps it)
_OPTIONS = ("target", "patterns", "cache")


def axfusion_backend(gm, example_inputs, *, options: dict | None = None,
                     mode: str | None = None):
    """The dynamo backend: a callable that runs ``gm`` compiled by axfusion,
    or ``gm.forward`` when axfusion cannot compile it (logged).

    ``options`` (``torch.compile(..., options={...})``): ``target`` ("cpu"),
    ``patterns`` (fusion patterns, ``[]`` for none) and ``cache``, as in
    ``axfusion.compile``. ``mode`` is accepted and ignored."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(f"unknown axfusion backend option(s) {unknown}; known: {list(_OPTIONS)}")
    graph = CompiledGraph(gm, example_inputs, **options)
    reason = graph.unsupported(example_inputs)
    if reason is None and graph.concrete(example_inputs):
        try:
            graph.specialise(list(example_inputs))
        except AxfusionError as exc:
            reason = str(exc)
    if reason is not None:
        log.warning("%s runs eagerly: %s", graph.name, reason)
        return gm.forward
    return graph


class CompiledGraph:
    """One dynamo graph: its specialisations, keyed by the parameters'
    identity, the input shapes and dtypes and the scalar values."""

    def __init__(self, gm, example_inputs, target="cpu", patterns=None, cache=True):
        self.gm = gm
        self.target = target
        self._options = {"patterns": patterns, "cache": cache}
        self.name = _graph_name(gm)
        self.placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        self.kinds = [_kind(n, x) for n, x in zip(self.placeholders, example_inputs)]
        self.outputs = _output_args(gm)
        # Sizes dynamo made symbolic: input index -> {dim: symbol}, and each
        # SIZE placeholder -> the (input, dim) it is read from.
        self._dims, self._size_of = _symbolic_dims(self.placeholders, self.kinds)
        self._specialisations: OrderedDict = OrderedDict()
        self._last_key = None
        self._eager_reason = None

    # -- what is compiled ------------------------------------------------------

    def unsupported(self, example_inputs) -> str | None:
        """Why this graph cannot be compiled whatever the shapes, or None."""
        import torch
        if len(self.placeholders) != len(example_inputs):
            return "the graph's placeholders do not match its example inputs"
        tensors = [x for x in example_inputs if isinstance(x, torch.Tensor)]
        if any(t.device.type != "cpu" for t in tensors):
            return "it has tensors off the CPU; the backend takes CPU tensors only"
        if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
            return ("it needs autograd (grad mode is on and inputs or parameters require "
                    "grad); axfusion compiles inference: call the model under "
                    "torch.no_grad() or torch.inference_mode()")
        if not any(n.op in ("call_function", "call_method", "call_module")
                   for n in self.gm.graph.nodes):
            return "the graph computes nothing"
        for out in self.outputs:
            if not isinstance(out, torch.fx.Node):
                return f"it returns a constant {type(out).__name__}"
            value = out.meta.get("example_value")
            if value is not None and not isinstance(value, torch.Tensor):
                return f"it returns a {type(value).__name__}, not a tensor"
            if out.op == "placeholder":
                return "it returns one of its inputs unchanged"
        return None

    @staticmethod
    def concrete(args) -> bool:
        """Whether ``args`` are real values (dynamo may pass fake tensors or
        symbolic sizes): then the first specialisation compiles now."""
        import torch
        from torch._subclasses.fake_tensor import is_fake
        return not any(isinstance(a, (torch.SymInt, torch.SymFloat, torch.SymBool))
                       or (isinstance(a, torch.Tensor) and is_fake(a)) for a in args)

    def _key(self, args) -> tuple:
        import torch
        consts, shapes, scalars = [], [], []
        for i, (kind, a) in enumerate(zip(self.kinds, args)):
            if kind == CONST:
                consts.append((id(a), a.data_ptr(), _version(a)))
            elif kind == INPUT:
                dims = self._dims.get(i, {})
                shapes.append((tuple(None if d in dims else n for d, n in enumerate(a.shape)),
                               a.dtype))
            elif kind == SCALAR or (kind == SIZE and i not in self._size_of):
                scalars.append(a.item() if isinstance(a, torch.Tensor) else a)
        return tuple(consts), tuple(shapes), tuple(scalars)

    def specialise(self, args: list):
        """The ``CompiledModule`` for these arguments, compiled if new."""
        key = self._key(args)
        consts = [a for kind, a in zip(self.kinds, args) if kind == CONST]
        entry = self._specialisations.get(key)
        if entry is not None and all(ref() is a for ref, a in zip(entry[1], consts)):
            self._specialisations.move_to_end(key)
            self._last_key = key
            return entry[0]
        self._log_compile(key)
        module = self._compile(args)
        self._specialisations[key] = (module, [weakref.ref(a) for a in consts])
        while len(self._specialisations) > _MAX_SPECIALISATIONS:
            self._specialisations.popitem(last=False)
        self._last_key = key
        return module

    def _compile(self, args: list):
        from ..driver import compile as compile_mlir
        from .torch_fx import import_module
        gm, inputs = self._specialised_graph(args)
        try:
            text = import_module(gm, tuple(inputs), dynamic_shapes=self._export_dims())
        except CompileError as exc:
            if not self._dims or "cannot stay symbolic" not in str(exc):
                raise
            log.info("%s: sizes stay static (%s)", self.name, exc.args[0])
            self._dims, self._size_of = {}, {}
            self._specialisations.clear()
            return self._compile(args)
        module = compile_mlir(text, self.target, **self._options)
        results = len(module.functions["forward"].results)
        if results != len(self.outputs):
            # torch.export returns the new value of each mutated input or buffer
            # as an extra result; axfusion does not write them back.
            raise CompileError(f"the graph mutates its inputs or buffers ({results} results "
                               f"for {len(self.outputs)} outputs: in-place ops on inputs, "
                               "or batch-norm in training mode)", stage="import")
        return module

    def _export_dims(self):
        """torch.export's dynamic_shapes for the symbolic sizes, or None."""
        if not self._dims:
            return None
        import torch
        named: dict = {}
        return tuple({d: named.setdefault(n, torch.export.Dim(n)) for d, n in
                      self._dims.get(i, {}).items()} or None
                     for i, kind in enumerate(self.kinds) if kind == INPUT)

    def _specialised_graph(self, args: list):
        """A copy of the graph with constants and literals for everything
        but the tensor inputs, and those inputs."""
        import torch
        from torch.fx import Graph, GraphModule
        graph = Graph()
        env: dict = {}
        graph.output(graph.graph_copy(self.gm.graph, env))
        root = torch.nn.Module()
        inputs = []
        anchor = next(n for n in graph.nodes if n.op != "placeholder")
        for i, (node, kind, value) in enumerate(zip(self.placeholders, self.kinds, args)):
            new = env[node]
            if kind == INPUT:
                inputs.append(value)
                continue
            if kind == SIZE and i in self._size_of:   # symbolic: read from its input
                j, d = self._size_of[i]
                with graph.inserting_before(anchor):
                    size = graph.call_function(torch.ops.aten.sym_size.int,
                                               (env[self.placeholders[j]], d))
                _replace_uses(new, size)
                graph.erase_node(new)
                continue
            if kind in (SCALAR, SIZE):
                number = value.item() if isinstance(value, torch.Tensor) else value
                for user in list(new.users):
                    if user.op == "call_method" and user.target == "item":
                        _replace_uses(user, number)
                        graph.erase_node(user)
                if not new.users:
                    graph.erase_node(new)
                    continue
                if not isinstance(value, torch.Tensor):
                    _replace_uses(new, number)
                    graph.erase_node(new)
                    continue
            name = f"_axf_const_{i}"
            root.register_buffer(name, value.detach())
            with graph.inserting_before(new):
                _replace_uses(new, graph.get_attr(name))
            graph.erase_node(new)
        for node in graph.nodes:      # the graph's own attributes, if any (constants)
            if node.op == "get_attr" and not node.target.startswith("_axf_const_"):
                _copy_attr(self.gm, root, node.target)
        gm = GraphModule(root, graph, class_name="AxfusionGraph")
        return gm.eval(), inputs

    def _log_compile(self, key) -> None:
        shapes = _describe(key[1])
        if self._last_key is None:
            log.info("compiling %s for input shapes %s", self.name, shapes)
            return
        last = self._last_key
        why = [f"input shapes {shapes} (was {_describe(last[1])})" if key[1] != last[1] else "",
               f"scalars {list(key[2])} (was {list(last[2])})" if key[2] != last[2] else "",
               "new parameter values (other tensors, or updated in place)"
               if key[0] != last[0] else ""]
        log.info("recompiling %s for %s", self.name,
                 "; ".join(w for w in why if w) or "new parameter tensors")

    # -- what runs -------------------------------------------------------------

    def __call__(self, *args):
        if self._eager_reason is None:
            try:
                module = self.specialise(list(args))
            except AxfusionError as exc:
                self._eager_reason = str(exc)
                log.warning("%s runs eagerly from now on: %s", self.name, exc)
        if self._eager_reason is not None:
            return self.gm(*args)
        import torch
        arrays = [a.detach().numpy() for kind, a in zip(self.kinds, args) if kind == INPUT]
        out = module["forward"](*arrays)
        out = out if isinstance(out, tuple) else (out,)
        return tuple(torch.from_numpy(np.asarray(o)) for o in out)

    def __repr__(self) -> str:
        return (f"CompiledGraph({self.name}, {len(self._specialisations)} specialisation(s)"
                + (f", eager: {self._eager_reason.splitlines()[0]})" if self._eager_reason
                   else ")"))


def _kind(node, example) -> str:
    """INPUT (a tensor the compiled function takes), CONST (a parameter or
    buffer, baked in), SIZE (a dynamic dimension of an input) or SCALAR (a
    number); sizes and numbers become literals."""
    import torch
    grapharg = node.meta.get("grapharg")
    source = getattr(grapharg, "source", None)
    if not isinstance(example, torch.Tensor):
        prop = getattr(getattr(source, "prop", None), "name", None)
        return SIZE if type(source).__name__ == "TensorPropertySource" and prop == "SIZE" \
            else SCALAR
    if grapharg is not None and not getattr(grapharg, "is_tensor", True):
        return SCALAR              # a Python float that dynamo wrapped in a tensor
    if isinstance(example, torch.nn.Parameter):
        return CONST
    try:
        from torch._dynamo.utils import get_static_address_type
        if get_static_address_type(example) == "unguarded":   # a module's buffer
            return CONST
    except ImportError:
        pass
    return CONST if "ParamBufferSource" in repr(source) else INPUT


def _symbolic_dims(placeholders, kinds) -> tuple[dict, dict]:
    """Input sizes dynamo made symbolic (plain symbols such as ``s77`` in
    a tensor input's fake shape): ``{input index: {dim: symbol}}``, and for
    each SIZE placeholder of such a symbol the (input index, dim) it equals."""
    import torch
    dims: dict = {}
    where: dict = {}
    for j, (node, kind) in enumerate(zip(placeholders, kinds)):
        value = node.meta.get("example_value")
        if kind != INPUT or not isinstance(value, torch.Tensor):
            continue
        for d, size in enumerate(value.shape):
            if isinstance(size, torch.SymInt) and size.node.expr.is_Symbol:
                name = str(size.node.expr)
                dims.setdefault(j, {})[d] = name
                where.setdefault(name, (j, d))
    size_of = {}
    for i, (node, kind) in enumerate(zip(placeholders, kinds)):
        value = node.meta.get("example_value")
        if kind == SIZE and isinstance(value, torch.SymInt) and str(value.node.expr) in where:
            size_of[i] = where[str(value.node.expr)]
    return dims, size_of


def _copy_attr(src, dst, target: str) -> None:
    """``dst.<target> = src.<target>``, a tensor as a buffer (a constant)."""
    import torch
    *path, last = target.split(".")
    for part in path:
        src = getattr(src, part)
        if not hasattr(dst, part):
            dst.add_module(part, torch.nn.Module())
        dst = getattr(dst, part)
    value = getattr(src, last)
    if isinstance(value, torch.Tensor):
        dst.register_buffer(last, value.detach())
    else:
        setattr(dst, last, value)


def _output_args(gm) -> list:
    out = next(n for n in reversed(gm.graph.nodes) if n.op == "output").args[0]
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _replace_uses(node, value) -> None:
    from torch.fx.node import map_arg
    for user in list(node.users):
        user.args = map_arg(user.args, lambda n: value if n is node else n)
        user.kwargs = map_arg(user.kwargs, lambda n: value if n is node else n)


def _version(tensor) -> int:
    try:
        return tensor._version
    except RuntimeError:      # inference tensors have no version counter
        return -1


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\w+)')


def _graph_name(gm) -> str:
    """``graph 0/1 (forward, model.py:12)``: dynamo's compile id (frame /
    recompile) and the first model line the graph runs."""
    name = f"graph {gm.meta.get('dynamo_compile_id', '?')}" if hasattr(gm, "meta") else "graph"
    for node in gm.graph.nodes:
        frames = _FRAME.findall(node.meta.get("stack_trace") or "")
        if frames:
            path, line, func = frames[-1]
            return f"{name} ({func}, {path.rsplit('/', 1)[-1]}:{line})"
    return name


def _describe(shapes) -> str:
    return ", ".join(f"{str(dtype).replace('torch.', '')}"
                     f"[{', '.join('?' if n is None else str(n) for n in shape)}]"
                     for shape, dtype in shapes) or "()"
