"""A compile is an ordered list of named stages.

Each stage takes the previous stage's output (an MLIR module, then LLVM IR,
then an object file, then a shared object) and can be stopped at
(``--emit``), dumped (``--print-ir-after-all``, ``AXFUSION_SAVE_TEMPS``) and
reproduced alone: before a stage runs, its input is saved, so a failure (an
MLIR diagnostic, a failing tool, or an assertion that aborts the worker
process) names the stage, the saved input and the command that reproduces it.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CompileError


@dataclass
class BuildContext:
    """Where one build writes, and what it was asked to show."""
    work_dir: Path                       # scratch files; saved stage inputs
    save_temps: Path | None = None       # keep every stage's output here
    print_ir_after_all: bool = False
    verify_each: bool = True
    emit_asm: bool = False               # codegen writes assembly, not an object
    signatures: list = field(default_factory=list)  # entry points, set by import
    report: dict = field(default_factory=dict)      # fusion report, set by fuse
    timings: dict = field(default_factory=dict)

    def progress(self, stage: str, saved: str | None) -> None:
        # Read by the parent when the worker dies without a word (SIGABRT).
        with open(self.work_dir / "progress.jsonl", "a") as f:
            f.write(json.dumps({"stage": stage, "saved_ir": saved}) + "\n")


class Stage:
    name: str = ""
    suffix: str = ".mlir"    # of the stage's saved input

    def run(self, value, ctx: BuildContext):
        raise NotImplementedError

    def repro(self, saved: str) -> str:
        raise NotImplementedError

    def dump(self, value) -> str:
        """Text form of this stage's output, for --emit and save-temps."""
        raise NotImplementedError


def _record_checks(module, ctx: BuildContext) -> None:
    """Put the size-check messages of result-shape functions (after the stage
    that makes them, ``optimize``) into the entry points' signatures, for the
    manifest."""
    from dataclasses import replace

    from axfusion.passes.result_shapes import check_messages
    found = check_messages(module.operation)
    ctx.signatures = [replace(s, checks=tuple(found[s.name])) if s.name in found else s
                      for s in ctx.signatures]


def module_text(module) -> str:
    return module.operation.get_asm(enable_debug_info=True)


class MlirStage(Stage):
    """Runs named passes and pipelines (``passes.registry``) on the module."""

    def __init__(self, name: str, elements: list[str]):
        self.name, self.elements = name, list(elements)

    def run(self, module, ctx: BuildContext):
        from axfusion.passes.registry import build_pass_manager, expand_all
        with module.context:
            pm = build_pass_manager(self.elements, print_ir_after_all=ctx.print_ir_after_all,
                                    verify_each=ctx.verify_each)
            pm.run(module.operation)
            if "axf-result-shapes" in expand_all(self.elements):
                _record_checks(module, ctx)
        return module

    def repro(self, saved: str) -> str:
        from axfusion.passes.registry import is_known
        flags = [f"--{e}" if is_known(e) else f"--pass-pipeline=builtin.module({e})"
                 for e in self.elements]
        return " ".join(["axfusion-opt", *map(shlex.quote, flags), shlex.quote(saved)])

    def dump(self, module) -> str:
        return module_text(module)


def run_stages(stages: list[Stage], value, ctx: BuildContext, stop_after: str | None = None):
    """Run ``stages`` in order on ``value``; return the last output.

    MLIR errors become ``CompileError`` naming the stage, with diagnostics,
    the saved stage input and a repro command.
    """
    from ._mlir import MLIRError
    from .diagnostics import format_diagnostics

    for index, stage in enumerate(stages):
        saved_path = ctx.work_dir / f"{index:02d}-{stage.name}.input{stage.suffix}"
        if index == 0:   # the source: its own file, or its text saved
            saved = getattr(value, "path", None)
            if saved is None:
                saved_path.write_text(value.text)
                saved = str(saved_path)
        else:
            dumped = stages[index - 1].dump(value)
            if isinstance(dumped, bytes):
                saved_path.write_bytes(dumped)
            else:
                saved_path.write_text(dumped)
            saved = str(saved_path)
        ctx.progress(stage.name, saved)
        if ctx.print_ir_after_all:
            print(f"// -----// axfusion stage '{stage.name}' //----- //", file=sys.stderr)
        start = time.perf_counter()
        try:
            value = stage.run(value, ctx)
        except MLIRError as exc:
            raise CompileError(
                f"stage '{stage.name}' failed: {exc.message}", stage=stage.name,
                diagnostics=format_diagnostics(exc.error_diagnostics), saved_ir=saved,
                repro=stage.repro(saved) if saved else None) from None
        except CompileError as exc:
            exc.stage = exc.stage or stage.name
            if saved and not exc.saved_ir:
                exc.saved_ir, exc.repro = saved, stage.repro(saved)
            raise
        ctx.timings[stage.name] = time.perf_counter() - start
        if ctx.save_temps is not None:
            ctx.save_temps.mkdir(parents=True, exist_ok=True)
            out = stages[index].dump(value)
            target = ctx.save_temps / f"{index:02d}-{stage.name}.out{_out_suffix(stages, index)}"
            target.write_bytes(out) if isinstance(out, bytes) else target.write_text(out)
        if stop_after == stage.name:
            break
    return value


def _out_suffix(stages: list[Stage], index: int) -> str:
    return stages[index + 1].suffix if index + 1 < len(stages) else ".so"
