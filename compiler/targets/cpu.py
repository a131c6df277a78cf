"""The CPU backend: linalg-on-tensors -> LLVM dialect -> LLVM IR -> object for
the host CPU (``llc`` with explicit ``-mcpu``/``-mattr``) -> shared object
(the system C compiler), loaded through ctypes.

Stages (``axfusec --emit=`` names in brackets):

    import -> optimize -> fuse [linalg] -> schedule -> bufferize -> parallelize
           -> lower [llvm-dialect] -> llvm-ir (-> vector-math) -> llvm-opt [llvm-ir]
           -> codegen [asm] -> link

``fuse`` runs the enabled fusion patterns (``CpuOptions.fusion``), which tag
fusion groups; ``schedule`` tiles each group and fuses its members into the
tile loop (``axf-tile-and-fuse``).

Math functions (exp, tanh, erf, log, ...) in loops vectorise through glibc's
vector math library, libmvec (``CpuOptions.vector_math``): ``opt`` and ``llc``
get ``-vector-library=LIBMVEC``, the ``vector-math`` stage names the libmvec
variants of the functions LLVM's own table lacks, and the shared object links
``-lmvec``. It is on where the C compiler links libmvec with every variant the
code may call and the CPU has AVX2 and FMA (glibc's 256-bit kernels), unless
``AXFUSION_VECTOR_MATH=0``; libmvec is accurate to 4 ulp.

With ``AXFUSION_THREADS=0`` (all cores) or ``N`` (``CpuOptions.threads``;
the default is 1, serial: on the zoo models threads were slower), the
``parallelize`` stage turns the outermost tile loop of each nest, when it
has enough work, into tasks of MLIR's async runtime (``axf-parallelize`` in
``passes/pipelines.py``; empty for ``threads=1``), and the shared object links
``libmlir_async_runtime.so`` from the ``mlir`` wheel (with an rpath to it).
``threads=1`` is serial code that links no runtime; where the runtime library
is missing, a threaded request falls back to it with a warning.

The reference build (``CpuOptions(optimize=False)``), used by ``axfusec --run``
and ``--bench`` to check and time the optimised one, skips ``optimize``,
``fuse`` and ``schedule``, calls scalar libm and runs LLVM's optimiser and code
generator at ``-O0``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import re
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

from .. import config, host, tools
from ..errors import TargetError, ToolchainError
from ..importer import ImportStage
from ..pipeline import BuildContext, MlirStage, Stage, module_text


@dataclass(frozen=True)
class CpuOptions:
    cpu: str
    features: tuple[str, ...]
    optimize: bool = True
    fusion: tuple[str, ...] = ()   # enabled fusion patterns (FusionPattern values)
    fusion_limit: int = -1         # form at most this many groups (-1: no limit)
    vector_math: str = ""          # "libmvec", or "" for scalar libm calls
    threads: int = 1               # tile loop workers: 1 serial, 0 all cores, N

    @staticmethod
    def for_host(optimize: bool = True, fusion=None, fusion_limit: int = -1) -> "CpuOptions":
        from axfusion.passes.fusion import all_patterns, parse_patterns
        if not optimize:
            chosen: tuple[str, ...] = ()
        elif fusion is None:
            chosen = tuple(p.value for p in all_patterns())
        else:
            chosen = tuple(sorted(p.value for p in parse_patterns(fusion)))
        features = tuple(sorted(host.cpu_features()))
        cfg = config.load()
        vector_math = (choose_vector_math(features, cfg.cc)
                       if optimize and cfg.vector_math else "")
        return CpuOptions(host.cpu_name(), features, optimize, chosen, fusion_limit,
                          vector_math, choose_threads(cfg.threads, optimize))

    @property
    def opt_level(self) -> int:
        return 3 if self.optimize else 0

    def to_json(self) -> dict:
        return {"target": "cpu", **dataclasses.asdict(self)}

    @staticmethod
    def from_json(data: dict) -> "CpuOptions":
        return CpuOptions(data["cpu"], tuple(data["features"]), data.get("optimize", True),
                          tuple(data.get("fusion", ())), data.get("fusion_limit", -1),
                          data.get("vector_math", ""), data.get("threads", 1))


# --- Threads: MLIR's async runtime --------------------------------------------

ASYNC_RUNTIME = "libmlir_async_runtime.so"


@functools.cache
def async_runtime() -> Path | None:
    """``libmlir_async_runtime.so`` of the installed ``mlir`` wheel (it loads
    the wheel's ``libLLVM.so`` through its own rpath), or None."""
    spec = importlib.util.find_spec("mlir")
    for base in (spec.submodule_search_locations or []) if spec else []:
        path = Path(base) / "lib" / ASYNC_RUNTIME
        if path.is_file():
            return path.resolve()
    return None


def choose_threads(threads: int, optimize: bool) -> int:
    """``CpuOptions.threads`` for ``AXFUSION_THREADS=threads``: 1 (serial)
    for the reference build and where the async runtime is missing."""
    if not optimize or threads == 1:
        return 1
    if async_runtime() is None:
        warnings.warn(f"axfusion: MLIR's async runtime ({ASYNC_RUNTIME}) is not in the "
                      "installed mlir package; tile loops run serially (AXFUSION_THREADS=1)",
                      RuntimeWarning, stacklevel=3)
        return 1
    return threads


def _runtime_link_flags(threads: int) -> list[str]:
    if threads == 1:
        return []
    path = async_runtime()
    if path is None:
        raise ToolchainError(f"threads={threads} needs MLIR's async runtime ({ASYNC_RUNTIME}), "
                             "which the installed mlir package lacks; build with "
                             "AXFUSION_THREADS=1")
    return [str(path), f"-Wl,-rpath,{path.parent}"]


# --- Vector math: glibc's libmvec --------------------------------------------
#
# LLVM's loop and SLP vectorisers widen a math call when they know a vector
# variant of it. ``-vector-library=LIBMVEC`` gives them LLVM's table of
# libmvec functions, which in LLVM 22 holds only exp, log, sin, cos, tan and
# pow (as ``llvm.exp.f32`` & co. or libm calls), in SSE ('b') and AVX2 ('d')
# variants. libmvec (glibc >= 2.35) has many more, tanh and erf among them:
# ``add_vector_variants`` names those per call. Variant names follow the x86
# vector function ABI: ``_ZGV<isa>N<lanes><args>_<libm name>``, e.g.
# ``_ZGVdN8v_expf`` (8 floats in a ymm register).

LIBMVEC = "libmvec"


def libmvec_loadable() -> bool:
    """Whether the dynamic loader finds glibc's ``libmvec.so.1`` here."""
    import ctypes
    try:
        ctypes.CDLL("libmvec.so.1")
    except OSError:
        return False
    return True
_ISA_BITS = {"b": 128, "d": 256, "e": 512}     # ISA letter -> vector register bits
_LLVM_TABLE = {"exp": "v", "log": "v", "sin": "v", "cos": "v", "tan": "v", "pow": "vv"}
# libmvec functions outside LLVM's table that axf-lower-to-llvm emits, as an
# intrinsic (llvm.tanh.f32) or a libm call (erff: math.erf has no intrinsic).
_EXTRA = ("tanh", "sinh", "cosh", "asin", "acos", "atan", "asinh", "acosh", "atanh",
          "erf", "erfc", "cbrt", "exp2", "log2", "log10")
_NEEDS = ("avx2", "fma")   # glibc's 256-bit kernels; slower SSE wrappers without


def vector_isas(features) -> str:
    """The variants the code may call: 128- and 256-bit; 512-bit with AVX-512."""
    return "bde" if "avx512f" in features else "bd"


def _mangled(isa: str, elem_bits: int, args: str, name: str) -> tuple[int, str]:
    lanes = _ISA_BITS[isa] // elem_bits
    return lanes, f"_ZGV{isa}N{lanes}{args}_{name}"


def libmvec_symbols(features) -> tuple[str, ...]:
    """Every libmvec function code built for ``features`` may call."""
    out = [_mangled(isa, bits, args, base + suffix)[1]
           for base, args in _LLVM_TABLE.items() for isa in "bd"
           for bits, suffix in ((32, "f"), (64, ""))]
    out += [_mangled(isa, bits, "v", base + suffix)[1]
            for base in _EXTRA for isa in vector_isas(features)
            for bits, suffix in ((32, "f"), (64, ""))]
    return tuple(out)


def choose_vector_math(features, cc: str) -> str:
    """``"libmvec"`` when ``features`` has what its fast variants need and
    ``cc`` links every variant the code may call (an old glibc lacks tanh and
    erf), else ``""``."""
    if not set(_NEEDS) <= set(features):
        return ""
    return LIBMVEC if host.links_with(cc, "mvec", libmvec_symbols(features)) else ""


_DECLARE = re.compile(r"^declare [^@\n]*?(float|double) @([\w.$]+)\((float|double)\)", re.M)
_DEFINE = re.compile(r"^define [^@\n]*@([\w.$]+)\(", re.M)
_CALL = re.compile(r"\bcall [^@\n]*@([\w.$]+)\(")
_VECTOR_CALL = re.compile(r"(\bcall [^@\n]*@)llvm\.(\w+)\.v(\d+)f(32|64)\(")
# Names LLVM's table maps by name alone, whatever the prototype.
_TLI_NAMES = {b + s for b in _LLVM_TABLE for s in ("", "f")} | {
    f"__{b}{s}_finite" for b in ("exp", "log", "pow") for s in ("", "f")}


def _tag_calls(ll: str, groups: dict[str, int]) -> str:
    """Give every call of a function in ``groups`` that attribute group."""
    out, pos = [], 0
    for m in _CALL.finditer(ll):
        if m.group(1) not in groups:
            continue
        depth, end = 1, m.end()
        while depth:   # to the end of the argument list
            depth += {"(": 1, ")": -1}.get(ll[end], 0)
            end += 1
        out += [ll[pos:end], f" #{groups[m.group(1)]}"]
        pos = end
    return "".join(out) + ll[pos:]


def add_vector_variants(ll: str, isas: str) -> str:
    """Name the libmvec variants of the math calls in LLVM IR text ``ll`` that
    LLVM's LIBMVEC table lacks (``_EXTRA``), for variants ``isas``: a scalar
    call gets a ``vector-function-abi-variant`` attribute, which the loop and
    SLP vectorisers read, and a vector intrinsic call (from MLIR's vectoriser)
    calls the variant of its width:

        %y = call float @erff(float %x)
        %v = call <8 x float> @llvm.tanh.v8f32(<8 x float> %u)
      ->
        %y = call float @erff(float %x) #7
        %v = call <8 x float> @_ZGVdN8v_tanhf(<8 x float> %u)
        declare <4 x float> @_ZGVbN4v_erff(<4 x float>) #8
        declare <8 x float> @_ZGVdN8v_erff(<8 x float>) #8
        declare <8 x float> @_ZGVdN8v_tanhf(<8 x float>) #8
        @llvm.compiler.used = appending global [3 x ptr] [ptr @_ZGVbN4v_erff, ...]
        attributes #7 = { "vector-function-abi-variant"="_ZGV_LLVM_N4v_erff(_ZGVbN4v_erff),_ZGV_LLVM_N8v_erff(_ZGVdN8v_erff)" }
        attributes #8 = { nounwind willreturn memory(none) }

    ``llvm.compiler.used`` keeps the variant declarations, unused until the
    vectoriser runs, from being deleted before it does. A call of a function
    the module defines under a name in LLVM's table (an entry point ``@sin``,
    called by its C-interface wrapper) becomes ``nobuiltin``: LLVM 22 matches
    that table by name alone and asserts on the prototype mismatch."""
    if re.search(r"^@llvm\.compiler\.used\b", ll, re.M):
        return ll   # mlir-translate writes none; merging two lists is not worth it
    declared = {name: (ret, arg) for ret, name, arg in _DECLARE.findall(ll)}
    first = max(map(int, re.findall(r"^attributes #(\d+)", ll, re.M)), default=-1) + 1
    groups = {name: first for name in set(_DEFINE.findall(ll)) & _TLI_NAMES}
    lines = [f"attributes #{first} = {{ nobuiltin }}"] if groups else []
    types: dict[str, str] = {}      # variant -> its vector type
    renames: dict[str, str] = {}    # vector intrinsic -> variant
    used: dict[str, None] = {}      # variants named or called, in order
    for base in _EXTRA:
        for bits, suffix, ty in ((32, "f", "float"), (64, "", "double")):
            abi = []
            for isa in isas:
                lanes, name = _mangled(isa, bits, "v", base + suffix)
                types[name] = f"<{lanes} x {ty}>"
                renames[f"llvm.{base}.v{lanes}f{bits}"] = name
                abi.append((lanes, name))
            for callee in (base + suffix, f"llvm.{base}.f{bits}"):
                if declared.get(callee) != (ty, ty):
                    continue
                groups[callee] = first + 1 + len(lines)
                text = ",".join(f"_ZGV_LLVM_N{n}v_{callee}({v})" for n, v in abi)
                lines.append(f'attributes #{groups[callee]} = '
                             f'{{ "vector-function-abi-variant"="{text}" }}')
                used.update(dict.fromkeys(v for _, v in abi))

    def rename(m: re.Match) -> str:
        name = renames.get(f"llvm.{m.group(2)}.v{m.group(3)}f{m.group(4)}")
        if name is None:
            return m.group(0)
        used[name] = None
        return f"{m.group(1)}{name}("

    ll = _VECTOR_CALL.sub(rename, _tag_calls(ll, groups))
    if used:
        vector_group = first + 1 + len(lines)
        lines += [f"declare {types[n]} @{n}({types[n]}) #{vector_group}"
                  for n in used if n not in declared]
        lines.append(f"@llvm.compiler.used = appending global [{len(used)} x ptr] ["
                     + ", ".join(f"ptr @{n}" for n in used) + '], section "llvm.metadata"')
        lines.append(f"attributes #{vector_group} = {{ nounwind willreturn memory(none) }}")
    return "\n".join([ll.rstrip("\n"), "", *lines]) + "\n" if lines else ll


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


class VectorMathStage(_FileStage):
    """``add_vector_variants`` on the LLVM IR (only with ``vector_math``)."""
    name, suffix, out_name = "vector-math", ".ll", "module.vm.ll"

    def __init__(self, options: CpuOptions):
        self.isas = vector_isas(options.features)

    def run(self, ll: Path, ctx: BuildContext) -> Path:
        out = ctx.work_dir / self.out_name
        out.write_text(add_vector_variants(ll.read_text(), self.isas))
        return out

    def repro(self, saved: str) -> str:
        code = ("import sys; from axfusion.targets.cpu import add_vector_variants as f; "
                f"sys.stdout.write(f(open(sys.argv[1]).read(), {self.isas!r}))")
        return f"python -c {shlex.quote(code)} {shlex.quote(saved)}"


def _vector_library(options: CpuOptions) -> list[str]:
    return ["-vector-library=LIBMVEC"] if options.vector_math == LIBMVEC else []


class LlvmOptStage(_FileStage):
    """LLVM's own optimisation pipeline for the host CPU: loop vectorisation,
    unrolling, LICM. The triple matters: without one, the cost model sees no
    vector registers and vectorises nothing."""
    name, suffix, out_name = "llvm-opt", ".ll", "module.opt.ll"

    def __init__(self, options: CpuOptions):
        self.options = options

    def flags(self) -> list[str]:
        return [f"-O{self.options.opt_level}", f"-mtriple={host.triple()}",
                f"-mcpu={self.options.cpu}", f"-mattr={host.mattr(self.options.features)}",
                *_vector_library(self.options)]

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
                f"-mattr={host.mattr(self.options.features)}", *_vector_library(self.options)]

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

    def __init__(self, cc: str, vector_math: str = "", threads: int = 1):
        self.cc = cc
        self.libs = (_runtime_link_flags(threads) + (["-lmvec"] if vector_math == LIBMVEC else [])
                     + ["-lm"])

    def command(self, obj: str, out: str) -> list[str]:
        # -z text: refuse text relocations instead of producing a .so that
        # needs writable code pages. -Bsymbolic: the module's calls to its own
        # functions bind to them, not to a libm symbol of the same name
        # already loaded (an entry point @tanh or @sin called libm's).
        return [self.cc, "-shared", "-Wl,-z,text", "-Wl,-z,noexecstack", "-Wl,-Bsymbolic",
                obj, "-o", out, *self.libs]

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
        from axfusion.passes.pipelines import parallelize
        from ..report import FuseStage
        # The reference build still needs the shape functions of dynamic results.
        stages.append(MlirStage("optimize", ["axf-optimize"] if options.optimize else
                                ["axf-result-shapes", "axf-check-result-shapes"]))
        stages.append(FuseStage("fuse", fuse_pipeline(options.fusion), options.fusion_limit))
        stages.append(MlirStage("schedule", ["axf-schedule"] if options.optimize else []))
        stages += [
            MlirStage("bufferize", ["axf-bufferize"]),
            MlirStage("parallelize", parallelize(options.threads)),
            MlirStage("lower", ["axf-lower-to-llvm"]),
            TranslateStage(),
        ]
        if options.vector_math == LIBMVEC:
            stages.append(VectorMathStage(options))
        stages += [LlvmOptStage(options), CodegenStage(options),
                   LinkStage(cc, options.vector_math, options.threads)]
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
            elif isinstance(stage, VectorMathStage):
                parts.append(f"vector-math:{stage.isas}:{','.join(_EXTRA)}")
            else:
                parts.append(stage.name)
        return "|".join(parts)

    @staticmethod
    def check_loadable(options_json: dict) -> None:
        """Refuse an artifact this CPU cannot run (instead of SIGILL later)."""
        if options_json.get("target") != "cpu":
            raise TargetError(f"artifact is for target {options_json.get('target')!r}, not cpu")
        if options_json.get("threads", 1) != 1 and async_runtime() is None:
            raise TargetError(f"artifact runs its tile loops on MLIR's async runtime "
                              f"({ASYNC_RUNTIME}), which the installed mlir package lacks; "
                              "rebuild it with AXFUSION_THREADS=1")
        if options_json.get("vector_math") == LIBMVEC and not libmvec_loadable():
            raise TargetError("artifact calls glibc's vector math library (libmvec.so.1), "
                              "which this machine lacks (glibc older than 2.35?); rebuild "
                              "it here (or with AXFUSION_VECTOR_MATH=0)")
        missing = host.missing_features(options_json.get("features", ()))
        if missing:
            raise TargetError(
                f"artifact was built for CPU '{options_json.get('cpu')}' with features this "
                f"CPU ('{host.cpu_name()}', {host.cpu_model()}) lacks: {', '.join(missing)}; "
                "recompile it on this machine")
