"""Compiled modules and their functions, as plain Python callables.

Arguments are checked (count, rank, shape, dtype) before any pointer crosses
into native code; results are allocated by the caller (destination passing),
so nothing returned ever needs a foreign ``free``.

    >>> mod = axfusion.compile("examples/mlp.mlir")
    >>> mod
    CompiledModule(cpu, 1 function):
      forward(arg0: f32[8,64], ...) -> f32[8,10]
    >>> y = mod.forward(x, w1, b1, w2, b2)        # or mod["forward"](...)
    >>> mod.forward(x, w1, b1, w2, b2, out=y)     # reuse the result buffer
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from axfusion.errors import ArgumentError, AxfusionError
from axfusion.signature import RESULT_SHAPES_SUFFIX, FunctionSignature

from .library import Library, address
from .memref import descriptor

from axfusion.runtime_names import MANIFEST


def _shape_text(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


class CompiledFunction:
    def __init__(self, signature: FunctionSignature, native, result_shapes=None):
        self.signature = signature
        self.name = signature.name
        self._native = native
        # Native sizes of the dynamic result dims (and a check code), when
        # some result size is dynamic (passes/result_shapes.py).
        self._result_shapes = result_shapes
        self._dtypes = [np.dtype(a.dtype) for a in signature.args]
        self._out_dtypes = [np.dtype(r.dtype) for r in signature.results]

    def __repr__(self) -> str:
        return f"<axfusion function {self.signature}>"

    def _argument(self, i: int, value) -> np.ndarray:
        spec, dtype = self.signature.args[i], self._dtypes[i]
        where = f"{self.name}() argument {i}"
        if isinstance(value, np.ndarray):
            if value.dtype != dtype:
                raise ArgumentError(f"{where}: expected dtype {dtype}, got {value.dtype} "
                                    f"(signature: {self.signature})")
            array = value
        else:
            try:
                array = np.asarray(value, dtype=dtype)
            except (TypeError, ValueError) as exc:
                raise ArgumentError(f"{where}: cannot convert {type(value).__name__} to a "
                                    f"{dtype} array ({exc})") from None
        if array.ndim != len(spec.shape):
            raise ArgumentError(f"{where}: expected rank {len(spec.shape)} {spec}, got rank "
                                f"{array.ndim} with shape {list(array.shape)}")
        if any(want is not None and want != got for want, got in zip(spec.shape, array.shape)):
            raise ArgumentError(f"{where}: expected shape {_shape_text(spec.shape)}, got "
                                f"{list(array.shape)}")
        if not (array.flags.c_contiguous and array.flags.aligned):
            array = np.ascontiguousarray(array)  # the kernel assumes row-major
        return array

    def result_shapes(self, args: list[np.ndarray]) -> list[tuple[int, ...]]:
        """The result shapes for these (checked) arguments: the dynamic sizes
        come from the compiled shape function, which also checks that the
        arguments' sizes agree with each other."""
        specs = self.signature.results
        if self._result_shapes is None:
            return [s.shape for s in specs]
        n = sum(d is None for s in specs for d in s.shape)
        sizes = np.zeros(n + 1, dtype=np.int64)
        descs = [descriptor(a) for a in args] + [descriptor(sizes)]
        self._result_shapes(*[address(d) for d in descs])
        if sizes[-1] != 0:
            k = int(sizes[-1])
            why = self.signature.checks[k - 1] if k <= len(self.signature.checks) else f"#{k}"
            shapes = ", ".join(str(list(a.shape)) for a in args)
            raise ArgumentError(f"{self.name}(): argument sizes do not agree ({shapes}; "
                                f"signature: {self.signature}): {why}")
        found, shapes = iter(sizes[:-1].tolist()), []
        for spec in specs:
            shapes.append(tuple(next(found) if d is None else d for d in spec.shape))
        return shapes

    def _results(self, out, args: list[np.ndarray]) -> list[np.ndarray]:
        shapes = self.result_shapes(args)
        if out is None:
            return [np.empty(s, dtype=d) for s, d in zip(shapes, self._out_dtypes)]
        outs = [out] if isinstance(out, np.ndarray) else list(out)
        if len(outs) != len(shapes):
            raise ArgumentError(f"{self.name}(): out= needs {len(shapes)} array(s), got {len(outs)}")
        for i, (o, shape, dtype) in enumerate(zip(outs, shapes, self._out_dtypes)):
            where = f"{self.name}() out[{i}]"
            if not isinstance(o, np.ndarray):
                raise ArgumentError(f"{where}: expected a numpy array, got {type(o).__name__}")
            if o.dtype != dtype or o.shape != tuple(shape):
                raise ArgumentError(f"{where}: expected {dtype}{list(shape)}, got "
                                    f"{o.dtype}{list(o.shape)}")
            if not (o.flags.c_contiguous and o.flags.aligned and o.flags.writeable):
                raise ArgumentError(f"{where}: must be a writeable, C-contiguous array")
            for j, a in enumerate(args):
                if np.may_share_memory(o, a):
                    raise ArgumentError(f"{where} overlaps argument {j}; results are written "
                                        "while arguments are read")
            for j in range(i):
                if np.may_share_memory(o, outs[j]):
                    raise ArgumentError(f"{where} overlaps out[{j}]")
        return outs

    def __call__(self, *args, out=None):
        if len(args) != len(self.signature.args):
            raise ArgumentError(f"{self.name}() takes {len(self.signature.args)} arguments, "
                                f"got {len(args)} (signature: {self.signature})")
        arrays = [self._argument(i, a) for i, a in enumerate(args)]
        results = self._results(out, arrays)
        descs = [descriptor(a) for a in arrays] + [descriptor(r) for r in results]
        self._native(*[address(d) for d in descs])
        return results[0] if len(results) == 1 else tuple(results)


class CompiledModule:
    """The entry points of one compiled artifact, by attribute and by name."""

    def __init__(self, path: Path, manifest: dict, library: Library):
        self.path = Path(path)
        self.manifest = manifest
        self._library = library  # keeps the shared object loaded
        self._functions = {}
        for data in manifest["functions"]:
            sig = FunctionSignature.from_json(data)
            native = library.entry(sig.name, len(sig.args) + len(sig.results))
            shapes = None
            if not all(r.is_static for r in sig.results):
                shapes = library.entry(sig.name + RESULT_SHAPES_SUFFIX, len(sig.args) + 1)
            self._functions[sig.name] = CompiledFunction(sig, native, shapes)

    @property
    def functions(self) -> dict[str, FunctionSignature]:
        """Entry-point names and their signatures."""
        return {name: f.signature for name, f in self._functions.items()}

    @property
    def target(self) -> dict:
        return self.manifest["target"]

    def report(self):
        """The fusion report (``FusionReport``): groups, near misses, graph."""
        from axfusion.report import FusionReport
        return FusionReport(self.manifest.get("report", {}))

    def detected_patterns(self):
        """One ``DetectedPattern`` per fusion group in this module."""
        return self.report().groups

    def __getitem__(self, name: str) -> CompiledFunction:
        try:
            return self._functions[name]
        except KeyError:
            raise KeyError(f"no entry point {name!r}; this module has: "
                           + ", ".join(self._functions)) from None

    def __getattr__(self, name: str) -> CompiledFunction:
        functions = self.__dict__.get("_functions", {})
        if name in functions:
            return functions[name]
        raise AttributeError(f"no entry point {name!r}; this module has: "
                             + ", ".join(functions))

    def __contains__(self, name: str) -> bool:
        return name in self._functions

    def __iter__(self):
        return iter(self._functions.values())

    def __dir__(self):
        return list(super().__dir__()) + list(self._functions)

    def __repr__(self) -> str:
        n = len(self._functions)
        lines = [f"CompiledModule({self.target.get('target')}, {n} function{'s' * (n != 1)}):"]
        lines += [f"  {f.signature}" for f in self._functions.values()]
        return "\n".join(lines)


def read_manifest(path: Path) -> dict:
    try:
        return json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise AxfusionError(f"{path} is not an axfusion artifact ({exc})") from None


def load(path) -> CompiledModule:
    """Load an artifact folder written by ``axfusec -o`` or the cache.

    Refuses (``TargetError``) an artifact built for CPU features this machine
    lacks, rather than crashing later on an illegal instruction."""
    from axfusion.targets import get_backend
    path = Path(path)
    manifest = read_manifest(path)
    from axfusion.errors import CompileError, TargetError
    try:
        backend = get_backend(manifest["target"]["target"])
    except CompileError as exc:
        raise TargetError(f"cannot load {path}: {exc.args[0]}") from None
    backend.check_loadable(manifest["target"])
    return CompiledModule(path, manifest, Library(str(path / manifest["library"])))
