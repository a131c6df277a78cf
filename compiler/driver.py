"""``axfusion.compile``: source -> cached artifact -> ``CompiledModule``.

The parent process never runs an MLIR pass: it hashes the input, looks in
the cache, and on a miss starts a compile worker (``axfusion.worker``) whose
crash, if an upstream assertion fires, becomes a ``CompileError``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from . import config
from .build import build, clean_work_dir
from .cache import Cache, cache_key
from .errors import CompileError, error_from_json
from .importer import Source
from .pipeline import BuildContext
from .targets import Target, get_backend


def as_source(source) -> Source:
    """A path, MLIR text (str or bytes) or an ``mlir.ir.Module``."""
    if hasattr(source, "operation") and hasattr(source, "body"):
        return Source(source.operation.get_asm(enable_debug_info=True))
    if isinstance(source, bytes):
        source = source.decode()
    if isinstance(source, os.PathLike) or (
            isinstance(source, str) and "\n" not in source and "{" not in source):
        path = Path(source)
        if not path.is_file():
            raise CompileError(f"no such MLIR file: {path}", stage="import")
        return Source(path.read_text(), str(path))
    if isinstance(source, str):
        return Source(source)
    raise CompileError(f"cannot compile a {type(source).__name__}: pass a path, MLIR text "
                       "or an mlir.ir.Module (PyTorch modules arrive with the torch front end)")


def _run_build(source: Source, target_json: dict, work_dir: Path, *, stop_after=None,
               print_ir_after_all=False, emit_asm=False) -> dict:
    cfg = config.load()
    request = {
        "work_dir": str(work_dir), "target": target_json, "cc": cfg.cc,
        "source_path": source.path, "stop_after": stop_after,
        "print_ir_after_all": print_ir_after_all, "emit_asm": emit_asm,
        "verify_each": cfg.verify_each,
        "save_temps": str(cfg.save_temps) if cfg.save_temps else None,
    }
    if cfg.in_process:
        ctx = BuildContext(work_dir=work_dir, save_temps=cfg.save_temps,
                           print_ir_after_all=print_ir_after_all,
                           verify_each=cfg.verify_each, emit_asm=emit_asm)
        return build(source, target_json, ctx, cc=cfg.cc, stop_after=stop_after)
    text_path = work_dir / "source.mlir"
    text_path.write_text(source.text)
    request["source_text"] = str(text_path)
    request_path = work_dir / "request.json"
    request_path.write_text(json.dumps(request))
    stderr_path = work_dir / "worker.stderr"
    with open(stderr_path, "wb") as err:
        proc = subprocess.run([sys.executable, "-m", "axfusion.worker", str(request_path)],
                              stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    log = stderr_path.read_text(errors="replace")
    if print_ir_after_all and log:
        sys.stderr.write(log)
    result_path = work_dir / "result.json"
    if proc.returncode == 0 and result_path.is_file():
        result = json.loads(result_path.read_text())
        if not result["ok"]:
            raise error_from_json(result["error"])
        return result
    raise _worker_died(proc.returncode, work_dir, log)


def _worker_died(returncode: int, work_dir: Path, log: str) -> CompileError:
    stage, saved = None, None
    progress = work_dir / "progress.jsonl"
    if progress.is_file():
        lines = progress.read_text().splitlines()
        if lines:
            last = json.loads(lines[-1])
            stage, saved = last["stage"], last["saved_ir"]
    if returncode < 0:
        how = (f"was killed by {signal.Signals(-returncode).name} in stage '{stage}' "
               "(an assertion or crash inside MLIR/LLVM; the calling process is unharmed)")
    else:
        how = (f"failed with status {returncode} in stage '{stage}' (an internal axfusion "
               "error; please report it with the saved IR)")
    tail = [line for line in log.strip().splitlines()[-8:] if line.strip()]
    repro = None
    if stage and saved:
        from .targets.cpu import CpuBackend  # only the CPU target exists today
        stages = {s.name: s for s in CpuBackend.stages(CpuBackend.default_options(), "cc")}
        if stage in stages:
            repro = stages[stage].repro(saved)
    return CompileError(
        f"the compile worker {how}", stage=stage, diagnostics=tail,
        saved_ir=saved, repro=repro)


def _options(backend, optimize: bool, patterns=None, fusion_limit: int = -1) -> dict:
    try:
        return backend.default_options(optimize, patterns, fusion_limit).to_json()
    except ValueError as exc:  # an unknown pattern name
        raise CompileError(str(exc)) from None


def compile(source, example_inputs=None, target="cpu", *, cache: bool = True,
            optimize: bool = True, patterns=None, fusion_limit: int = -1, dynamic: bool = True,
            weights: str = "constants", dynamic_dims: dict | None = None):
    """Compile a model to a ``CompiledModule``.

    ``source``: a path, MLIR text (linalg-on-tensors) or an ``mlir.ir.Module``;
    or a ``torch.nn.Module`` with its ``example_inputs`` (a tensor or a tuple),
    which gives a ``TorchCompiledModule`` (``frontends/torch_fx.py``; other
    input shapes recompile unless ``dynamic=False``; ``weights="runtime"``
    reads parameters at every call instead of baking them in;
    ``dynamic_dims={0: "batch"}`` keeps those sizes symbolic: one kernel for
    every batch size). ``target``: "cpu"
    (or ``Target.CPU``); ``compile(path, "cpu")`` also works. ``patterns``: the fusion patterns to apply
    (``FusionPattern`` members or names; default all, ``[]`` for none).
    ``optimize=False`` builds the reference lowering (no optimisation or
    fusion, ``-O0`` codegen). ``fusion_limit``: form at most that many
    groups (bisecting). Cached on disk unless ``cache=False`` or
    ``AXFUSION_NO_CACHE=1``."""
    from axfusion.runtime import load
    from .frontends.torch_fx import TorchCompiledModule, is_torch_module
    if isinstance(example_inputs, (str, Target)):   # compile(source, "cpu")
        target, example_inputs = example_inputs, None
    if is_torch_module(source):
        if example_inputs is None:
            raise CompileError("compiling a torch.nn.Module needs example_inputs "
                               "(a tensor or a tuple of tensors)")
        return TorchCompiledModule(source, example_inputs, target, patterns=patterns,
                                   dynamic=dynamic, cache=cache, weights=weights,
                                   dynamic_dims=dynamic_dims)
    if example_inputs is not None:
        raise CompileError("example_inputs are for torch.nn.Module sources; MLIR sources "
                           "carry their own shapes")
    if dynamic_dims:
        raise CompileError("dynamic_dims is for torch.nn.Module sources; in MLIR, a dynamic "
                           "size is a '?' in the entry point's tensor types")
    backend = get_backend(target)
    src = as_source(source)
    target_json = _options(backend, optimize, patterns, fusion_limit)
    cfg = config.load()
    store = Cache(cfg.cache_dir)
    use_cache = cache and not cfg.no_cache
    key = cache_key(src.text, target_json,
                    backend.pipeline_fingerprint(backend.Options.from_json(target_json), cfg.cc))
    if use_cache:
        hit = store.lookup(key)
        if hit is not None:
            try:
                return load(hit)
            except Exception:
                store.evict(key)  # unreadable entry: rebuild it
    work_dir = store.scratch() if use_cache else Path(tempfile.mkdtemp(prefix="axfusion-"))
    _run_build(src, target_json, work_dir)
    clean_work_dir(work_dir)
    if use_cache:
        return load(store.publish(key, work_dir))
    module = load(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)  # the loaded .so stays mapped
    return module


def emit(source, stage: str, target="cpu", *, optimize: bool = True, patterns=None,
         print_ir_after_all: bool = False) -> str:
    """Compile up to ``stage`` (a stage name or an ``--emit`` alias: linalg,
    llvm-dialect, llvm-ir, asm) and return that stage's output as text."""
    return _emit(source, stage, target, optimize=optimize, patterns=patterns,
                 print_ir_after_all=print_ir_after_all)["emit"]


def _emit(source, stage: str, target="cpu", *, optimize=True, patterns=None,
          print_ir_after_all=False) -> dict:
    backend = get_backend(target)
    stop = backend.EMIT.get(stage, stage)
    work_dir = Path(tempfile.mkdtemp(prefix="axfusion-"))
    # On a CompileError work_dir stays: the error points at the saved IR in it.
    result = _run_build(as_source(source), _options(backend, optimize, patterns), work_dir,
                        stop_after=stop, print_ir_after_all=print_ir_after_all,
                        emit_asm=(stage == "asm"))
    shutil.rmtree(work_dir, ignore_errors=True)
    result.setdefault("emit", "")
    return result


def compile_to(source, out_dir, target="cpu", *, optimize: bool = True, patterns=None,
               print_ir_after_all: bool = False) -> Path:
    """Build an artifact folder (``module.so`` + ``manifest.json``) at ``out_dir``."""
    backend = get_backend(target)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix=".axfusion-", dir=out_dir.parent))
    _run_build(as_source(source), _options(backend, optimize, patterns), work_dir,
               print_ir_after_all=print_ir_after_all)
    clean_work_dir(work_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.rename(work_dir, out_dir)
    return out_dir
