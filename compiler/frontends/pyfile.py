"""A Python file that defines a PyTorch model, as ``axfusec`` input.

    axfusec model.py:make_model --example-shape 8,3,32,32 --run

``model.py:NAME`` names a function or class in the file that, called with no
arguments, returns an ``nn.Module`` (``NAME`` defaults to ``make_model``; a
module instance bound to ``NAME`` works too). The file runs with
``__name__ != "__main__"``, so its own script part does not. Example inputs
are random tensors of the ``--example-shape`` shapes (one per model input)
and ``--example-dtype`` (float32 unless given; once for all inputs or once
per input).

``--run`` and ``--bench`` compare the compiled model against PyTorch eager
on fresh random inputs of the same shapes; ``-o``, ``--emit`` and
``--bisect`` work on the linalg MLIR the torch front end imports.
"""

from __future__ import annotations

import inspect
import re
import runpy
import sys
from pathlib import Path

import numpy as np

DEFAULT_FACTORY = "make_model"


class ModelFileError(ValueError):
    """The model file, its factory or the example-input options are unusable
    (``axfusec`` exits 2: a bad command line)."""


def is_model_file(spec: str) -> bool:
    """``model.py`` or ``model.py:NAME``."""
    return _split(spec)[0].endswith(".py")


def _split(spec: str) -> tuple[str, str | None]:
    path, sep, name = spec.rpartition(":")
    if sep and path.endswith(".py") and name.isidentifier():
        return path, name
    return spec, None


def load_model(spec: str):
    """Run the file, call its factory and return the model in eval mode."""
    torch = _torch()
    path, name = _split(spec)
    file = Path(path)
    if not file.is_file():
        raise ModelFileError(f"{path}: no such file")
    # Like `python model.py`: the file's folder is importable while it runs.
    sys.path.insert(0, str(file.resolve().parent))
    try:
        namespace = runpy.run_path(str(file), run_name="__axfusec_model__")
    except Exception as exc:
        raise ModelFileError(f"{path}: running the file failed: "
                             f"{type(exc).__name__}: {exc}") from None
    finally:
        sys.path.pop(0)
    name = name or DEFAULT_FACTORY
    if name not in namespace:
        defined = sorted(k for k, v in namespace.items()
                         if callable(v) and getattr(v, "__module__", None) == "__axfusec_model__")
        raise ModelFileError(f"{path} defines no '{name}'; name the function or class that "
                             f"returns the model as {path}:NAME (defined there: "
                             f"{', '.join(defined) or 'nothing callable'})")
    factory = namespace[name]
    if isinstance(factory, torch.nn.Module):
        model = factory
    elif callable(factory):
        try:
            model = factory()
        except Exception as exc:
            raise ModelFileError(f"{path}:{name}() failed (it is called with no arguments): "
                                 f"{type(exc).__name__}: {exc}") from None
    else:
        raise ModelFileError(f"{path}:{name} is a {type(factory).__name__}, not a function "
                             "or class that returns a torch.nn.Module")
    if not isinstance(model, torch.nn.Module):
        raise ModelFileError(f"{path}:{name}() returned a {type(model).__name__}, "
                             "not a torch.nn.Module")
    return model.eval()


def parse_shape(text: str) -> tuple[int, ...]:
    """``8,3,32,32`` (or ``8x3x32x32``); an empty string is a 0-d tensor."""
    try:
        shape = tuple(int(p) for p in re.split(r"[,x]", text) if p.strip())
    except ValueError:
        shape = None
    if shape is None or any(d <= 0 for d in shape):
        raise ModelFileError(f"--example-shape {text!r}: expected positive integers "
                             "separated by commas, e.g. 8,3,32,32")
    return shape


def input_specs(shapes: list[str] | None, dtypes: list[str] | None) -> list[tuple]:
    """``(shape, torch dtype)`` per model input, from the command line."""
    torch = _torch()
    if not shapes:
        raise ModelFileError("a Python model needs --example-shape (once per model input, "
                             "e.g. --example-shape 8,3,32,32)")
    dtypes = dtypes or ["float32"]
    if len(dtypes) == 1:
        dtypes = dtypes * len(shapes)
    if len(dtypes) != len(shapes):
        raise ModelFileError(f"{len(dtypes)} --example-dtype for {len(shapes)} "
                             "--example-shape; give one dtype for all inputs, or one per input")
    specs = []
    for shape, dtype in zip(shapes, dtypes):
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise ModelFileError(f"--example-dtype {dtype!r} is not a torch dtype "
                                 "(float32, float16, int64, ...)")
        specs.append((parse_shape(shape), torch_dtype))
    return specs


def _check_arity(model, count: int) -> None:
    """As many ``--example-shape`` as ``forward`` takes tensors."""
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    if count < len(required) or (count > len(positional) and not varargs):
        names = ", ".join(p.name for p in positional)
        raise ModelFileError(f"{type(model).__name__}.forward takes {len(required)} input(s) "
                             f"({names}); give one --example-shape per input, not {count}")


def random_inputs(specs: list[tuple], rng: np.random.Generator) -> tuple:
    """Torch tensors: floats standard normal, integers in [0, 8) (they are
    mostly indices), as ``axfusion.measure.random_inputs`` makes them."""
    torch = _torch()
    out = []
    for shape, dtype in specs:
        if dtype.is_floating_point:
            array = rng.standard_normal(shape)
        elif dtype == torch.bool:
            array = rng.integers(0, 2, size=shape).astype(bool)
        else:
            array = rng.integers(0, 8, size=shape)
        out.append(torch.from_numpy(np.asarray(array)).to(dtype))
    return tuple(out)


def eager(model, inputs: tuple) -> list[np.ndarray]:
    """The model's outputs in PyTorch, flattened to a list of arrays."""
    torch = _torch()
    with torch.no_grad():
        return [t.detach().cpu().numpy() for t in _leaves(model(*inputs))]


def _leaves(out) -> list:
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _leaves(o)]
    if isinstance(out, dict):
        return [leaf for o in out.values() for leaf in _leaves(o)]
    return [out]


def run(args, patterns) -> int:
    """``axfusec`` on a Python model file (``args`` is its parsed command
    line, ``patterns`` its ``--patterns``)."""
    import axfusion

    from .torch_fx import import_module
    model = load_model(args.input)
    specs = input_specs(args.example_shape, args.example_dtype)
    _check_arity(model, len(specs))
    seed = args.seed if args.seed is not None else 0
    inputs = random_inputs(specs, np.random.default_rng(seed))
    if args.bisect:
        result = axfusion.bisect(import_module(model, inputs), args.target, patterns=patterns,
                                 rtol=1e-4 if args.rtol is None else args.rtol, seed=args.seed)
        print(result)
        return 3 if result.culprit is not None else 0
    if args.emit:
        sys.stdout.write(axfusion.emit(import_module(model, inputs), args.emit, args.target,
                                       patterns=patterns,
                                       print_ir_after_all=args.print_ir_after_all))
        return 0
    if args.output:
        out = axfusion.compile_to(import_module(model, inputs), args.output, args.target,
                                  patterns=patterns, print_ir_after_all=args.print_ir_after_all)
        module = axfusion.load(out)
        print(f"wrote {out}/module.so and {out}/manifest.json")
        print(module)
    else:
        if args.print_ir_after_all:
            axfusion.emit(import_module(model, inputs), "link", args.target, patterns=patterns,
                          print_ir_after_all=True)
        torch_module = axfusion.compile(model, inputs, args.target, cache=not args.no_cache,
                                        patterns=patterns, dynamic=False)
        print(torch_module)
        module = torch_module.compiled
    module.report().show(args.report, args.report_json, args.report_dot)
    rng = np.random.default_rng(args.seed)
    if args.run and not check(module, model, specs, rng, 1e-5 if args.rtol is None else args.rtol):
        return 3
    if args.bench:
        bench(module, model, specs, rng, args.repeats)
    return 0


def check(module, model, specs, rng, rtol: float) -> bool:
    """Compiled vs eager on fresh random inputs: prints the max relative error."""
    from axfusion.measure import max_rel_error
    inputs = random_inputs(specs, rng)
    got = module["forward"](*[t.numpy() for t in inputs])
    got = list(got) if isinstance(got, tuple) else [got]
    want = eager(model, inputs)
    if len(got) != len(want):
        print(f"forward returned {len(got)} results, PyTorch eager {len(want)}  MISMATCH")
        return False
    worst = max((max_rel_error(g, w) for g, w in zip(got, want)), default=0.0)
    ok = worst <= rtol
    print(f"{'forward':24} max relative error {worst:.3e}  (rtol {rtol:g}) vs PyTorch eager  "
          f"{'ok' if ok else 'MISMATCH'}")
    return ok


def bench(module, model, specs, rng, repeats: int) -> None:
    """Median times, axfusion vs PyTorch eager, sampled interleaved."""
    torch = _torch()
    from axfusion import host
    from axfusion.measure import interleaved_medians
    inputs = random_inputs(specs, rng)
    arrays = [t.numpy() for t in inputs]
    fn = module["forward"]
    outs = fn(*arrays)

    def run_eager():
        with torch.no_grad():
            model(*inputs)

    med = interleaved_medians({"axfusion": lambda: fn(*arrays, out=outs), "eager": run_eager},
                              repeats=repeats, min_time=2e-3)
    print(f"CPU: {host.cpu_model()} (llc -mcpu={host.cpu_name()}); PyTorch eager with "
          f"{torch.get_num_threads()} threads; medians of {repeats} interleaved samples "
          "after warm-up")
    print(f"{'function':24} {'axfusion':>12} {'eager':>12} {'speed-up':>9}")
    print(f"{'forward':24} {med['axfusion'] * 1e6:10.1f}us {med['eager'] * 1e6:10.1f}us "
          f"{med['eager'] / med['axfusion']:8.2f}x")


def _torch():
    try:
        import torch
        import torch_mlir  # noqa: F401
    except ImportError:
        raise ModelFileError("a Python model file needs torch and torch-mlir: "
                             "pip install 'axfusion[torch]'") from None
    return torch
