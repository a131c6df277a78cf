"""The CPU backend: linalg-on-tensors -> LLVM dialect -> LLVM IR -> object for
the host CPU (``llc`` with explicit ``-mcpu``/``-mattr``) -> shared object
(the system C compiler), loaded through ctypes.

Stages (``axfusec --emit=`` names in brackets):

    import -> optimize -> fuse [linalg] -> schedule -> bufferize
           -> lower [llvm-dialect] -> llvm-ir -> llvm-opt [llvm-ir]
           -> codegen [asm] -> link

``fuse`` runs the enabled fusion patterns (``CpuOptions.fusion``), which tag
fusion groups; ``schedule`` tiles each group and fuses its members into the
tile loop (``axf-tile-and-fuse``).

The reference build (``CpuOptions(optimize=False)``), used by ``axfusec --run``
and ``--bench`` to check and time the optimised one, skips ``optimize``,
``fuse`` and ``schedule`` and runs LLVM's optimiser and code generator at ``-O0``.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from pathlib import Path

from .. import host, tools
from ..errors import TargetError
from ..importer import ImportStage
from ..pipeline import BuildContext, MlirStage, Stage, module_text


@dataclass(frozen=True)
class CpuOptions:
    cpu: str
    features: tuple[str, ...]
    optimize: bool = True
    fusion: tuple[str, ...] = ()   # enabled fusion patterns (FusionPattern values)
    fusion_limit: int = -1         # form at most this many groups (-1: no limit)

    @staticmethod
    def for_host(optimize: bool = True, fusion=None, fusion_limit: int = -1) -> "CpuOptions":
        from axfusion.passes.fusion import all_patterns, parse_patterns
        if not optimize:
            chosen: tuple[str, ...] = ()
        elif fusion is None:
            chosen = tuple(p.value for p in all_patterns())
        else:
            chosen = tuple(sorted(p.value for p in parse_patterns(fusion)))
        return CpuOptions(host.cpu_name(), tuple(sorted(host.cpu_features())), optimize,
                          chosen, fusion_limit)

    @property
    def opt_level(self) -> int:
        return 3 if self.optimize else 0

    def to_json(self) -> dict:
        return {"target": "cpu", **dataclasses.asdict(self)}

    @staticmethod
    def from_json(data: dict) -> "CpuOptions":
        return CpuOptions(data["cpu"], tuple(data["features"]), data.get("optimize", True),
                          tuple(data.get("fusion", ())), data.get("fusion_limit", -1))


class _FileStage(Stage):
    """A stage whose output is a file written by an external tool."""
    out_name = ""

    def dump(self, path: Path):
        return path.read_bytes() if self.out_name.endswith((".o", ".so")) else path.read_text()


class TranslateStage(_FileStage):
    name, out_name = "llvm-ir", "module.ll"

    def run(self, module, ctx: BuildContext) -> Path:
        src = ctx.work_dir / "module.llvm.mlir"
        src.write_text(module_text(module))
        out = ctx.work_dir / self.out_name
        tools.run([tools.find("mlir-translate"), "--mlir-to-llvmir", str(src), "-o", str(out)],
                  what="mlir-translate --mlir-to-llvmir")
        return out

    def repro(self, saved: str) -> str:
        return f"mlir-translate --mlir-to-llvmir {shlex.quote(saved)}"


class LlvmOptStage(_FileStage):
    """LLVM's own optimisation pipeline for the host CPU: loop vectorisation,
    unrolling, LICM. The triple matters: without one, the cost model sees no
    vector registers and vectorises nothing."""
    name, suffix, out_name = "llvm-opt", ".ll", "module.opt.ll"

    def __init__(self, options: CpuOptions):
        self.options = options

    def flags(self) -> list[str]:
        return [f"-O{self.options.opt_level}", f"-mtriple={host.triple()}",
                f"-mcpu={self.options.cpu}", f"-mattr={host.mattr(self.options.features)}"]

    def run(self, ll: Path, ctx: BuildContext) -> Path:
        out = ctx.work_dir / self.out_name
        tools.run([tools.find("opt"), *self.flags(), "-S", str(ll), "-o", str(out)],
                  what="opt (LLVM optimiser)")
        return out

    def repro(self, saved: str) -> str:
        return " ".join(["opt", *self.flags(), "-S", shlex.quote(saved)])


class CodegenStage(_FileStage):
    name, suffix = "codegen", ".ll"

    def __init__(self, options: CpuOptions):
        self.options = options

    def flags(self, asm: bool) -> list[str]:
        return [f"-O{self.options.opt_level}", f"-mtriple={host.triple()}", "-relocation-model=pic",
                f"-filetype={'asm' if asm else 'obj'}", f"-mcpu={self.options.cpu}",
                f"-mattr={host.mattr(self.options.features)}"]

    def run(self, ll: Path, ctx: BuildContext) -> Path:
        self.out_name = "module.s" if ctx.emit_asm else "module.o"
        out = ctx.work_dir / self.out_name
        tools.run([tools.find("llc"), *self.flags(ctx.emit_asm), str(ll), "-o", str(out)],
                  what="llc")
        return out

    def repro(self, saved: str) -> str:
        return " ".join(["llc", *self.flags(False), shlex.quote(saved), "-o", "module.o"])


class LinkStage(_FileStage):
    name, suffix, out_name = "link", ".o", "module.so"

    def __init__(self, cc: str):
        self.cc = cc

    def command(self, obj: str, out: str) -> list[str]:
        # -z text: refuse text relocations instead of producing a .so that
        # needs writable code pages. -Bsymbolic: the module's calls to its own
        # functions bind to them, not to a libm symbol of the same name
        # already loaded (an entry point @tanh or @sin called libm's).
        return [self.cc, "-shared", "-Wl,-z,text", "-Wl,-z,noexecstack", "-Wl,-Bsymbolic",
                obj, "-o", out, "-lm"]

    def run(self, obj: Path, ctx: BuildContext) -> Path:
        out = ctx.work_dir / self.out_name
        cc = tools.find(self.cc) if "/" not in self.cc else self.cc
        tools.run([cc, *self.command(str(obj), str(out))[1:]], what="linking the shared object")
        return out

    def repro(self, saved: str) -> str:
        return " ".join(self.command(shlex.quote(saved), "module.so"))


class CpuBackend:
    name = "cpu"
    Options = CpuOptions
    # --emit names -> stage names
    EMIT = {"linalg": "fuse", "llvm-dialect": "lower", "llvm-ir": "llvm-opt",
            "asm": "codegen"}

    @staticmethod
    def default_options(optimize: bool = True, fusion=None, fusion_limit: int = -1) -> CpuOptions:
        return CpuOptions.for_host(optimize, fusion, fusion_limit)

    @staticmethod
    def stages(options: CpuOptions, cc: str) -> list[Stage]:
        stages: list[Stage] = [ImportStage()]
        from axfusion.passes.fusion import fuse_pipeline
        from ..report import FuseStage
        # The reference build still needs the shape functions of dynamic results.
        stages.append(MlirStage("optimize", ["axf-optimize"] if options.optimize else
                                ["axf-result-shapes", "axf-check-result-shapes"]))
        stages.append(FuseStage("fuse", fuse_pipeline(options.fusion), options.fusion_limit))
        stages.append(MlirStage("schedule", ["axf-schedule"] if options.optimize else []))
        stages += [
            MlirStage("bufferize", ["axf-bufferize"]),
            MlirStage("lower", ["axf-lower-to-llvm"]),
            TranslateStage(), LlvmOptStage(options), CodegenStage(options), LinkStage(cc),
        ]
        return stages

    @staticmethod
    def pipeline_fingerprint(options: CpuOptions, cc: str) -> str:
        """Text that changes whenever the stages would produce other code."""
        from axfusion.passes.registry import expand_all
        parts = []
        for stage in CpuBackend.stages(options, cc):
            if isinstance(stage, MlirStage):
                parts.append(f"{stage.name}:{','.join(expand_all(stage.elements))}")
            elif isinstance(stage, CodegenStage):
                parts.append("codegen:" + " ".join(stage.flags(False)))
            elif isinstance(stage, LinkStage):
                parts.append("link:" + " ".join(stage.command("in.o", "out.so")))
            elif isinstance(stage, LlvmOptStage):
                parts.append("llvm-opt:" + " ".join(stage.flags()))
            else:
                parts.append(stage.name)
        return "|".join(parts)

    @staticmethod
    def check_loadable(options_json: dict) -> None:
        """Refuse an artifact this CPU cannot run (instead of SIGILL later)."""
        if options_json.get("target") != "cpu":
            raise TargetError(f"artifact is for target {options_json.get('target')!r}, not cpu")
        missing = host.missing_features(options_json.get("features", ()))
        if missing:
            raise TargetError(
                f"artifact was built for CPU '{options_json.get('cpu')}' with features this "
                f"CPU ('{host.cpu_name()}', {host.cpu_model()}) lacks: {', '.join(missing)}; "
                "recompile it on this machine")
