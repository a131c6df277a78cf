"""What the host CPU is and can do, in LLVM's terms.

The machines axfusion runs on differ (an AVX-512 Zen 5 one day, an AVX2-only
EPYC the next), so the CPU name and its feature set are explicit target
options: they go into the cache key and the manifest, and ``llc`` gets them as
``-mcpu=NAME -mattr=+a,-b,...`` rather than ``-mcpu=native``. Features the
``-mcpu`` name implies but the machine (or its hypervisor) hides are turned
off explicitly, so the code never uses an instruction the CPU lacks.
"""

from __future__ import annotations

import functools
import platform
import re
import tempfile
from pathlib import Path

from . import tools
from .errors import ToolchainError

# /proc/cpuinfo flag -> LLVM feature name, for the features that change code
# generation for ML kernels (vector ISA, FMA, bit manipulation).
_X86_FEATURES = {
    "sse": "sse", "sse2": "sse2", "pni": "sse3", "ssse3": "ssse3",
    "sse4_1": "sse4.1", "sse4_2": "sse4.2", "popcnt": "popcnt", "avx": "avx",
    "avx2": "avx2", "fma": "fma", "f16c": "f16c", "bmi1": "bmi", "bmi2": "bmi2",
    "abm": "lzcnt", "movbe": "movbe",
    "avx512f": "avx512f", "avx512cd": "avx512cd", "avx512bw": "avx512bw",
    "avx512dq": "avx512dq", "avx512vl": "avx512vl", "avx512ifma": "avx512ifma",
    "avx512vbmi": "avx512vbmi", "avx512_vbmi2": "avx512vbmi2",
    "avx512_vnni": "avx512vnni", "avx512_bf16": "avx512bf16",
    "avx512_fp16": "avx512fp16", "avx512_bitalg": "avx512bitalg",
    "avx512_vpopcntdq": "avx512vpopcntdq", "avx_vnni": "avxvnni",
    "amx_tile": "amx-tile", "amx_bf16": "amx-bf16", "amx_int8": "amx-int8",
}


@functools.cache
def _llc_version() -> str:
    return tools.run([tools.find("llc"), "--version"], what="llc --version").decode()


def cpu_name() -> str:
    """LLVM's name for the host CPU (what ``-mcpu=native`` would pick)."""
    out = _llc_version()
    match = re.search(r"Host CPU:\s*(\S+)", out)
    return match.group(1) if match else "generic"


def triple() -> str:
    """LLVM's default target triple (the host's), e.g. x86_64-unknown-linux-gnu."""
    out = _llc_version()
    match = re.search(r"Default target:\s*(\S+)", out)
    return match.group(1) if match else "x86_64-unknown-linux-gnu"


@functools.cache
def cpu_model() -> str:
    """The marketing name of the CPU, for benchmark reports."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def known_features() -> tuple[str, ...]:
    """Every feature axfusion tracks, in a stable order."""
    return tuple(sorted(set(_X86_FEATURES.values())))


@functools.cache
def cpu_features() -> frozenset[str]:
    """The LLVM feature names, among those tracked, that the host has."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return frozenset()
    flags = _cpu_flags()
    return frozenset(llvm for flag, llvm in _X86_FEATURES.items() if flag in flags)


def mattr(features: frozenset[str] | tuple[str, ...]) -> str:
    """``-mattr`` value: tracked features on if present, off if absent."""
    have = set(features)
    if platform.machine() not in ("x86_64", "AMD64"):
        return ",".join(f"+{f}" for f in sorted(have))
    return ",".join(("+" if f in have else "-") + f for f in known_features())


def missing_features(required) -> list[str]:
    """Features an artifact needs that this host lacks."""
    return sorted(set(required) - cpu_features())


@functools.cache
def links_with(cc: str, library: str, symbols: tuple[str, ...]) -> bool:
    """Whether the C compiler ``cc`` links a program that references every
    one of ``symbols`` against ``-l<library>`` (e.g. glibc's libmvec and the
    vector math functions the code generator may call). Cached per process."""
    decls = "".join(f"extern char {s}[];\n" for s in symbols)
    refs = ", ".join(symbols)
    source = f"{decls}void *axfusion_probe[] = {{{refs}}};\nint main(void) {{ return 0; }}\n"
    with tempfile.TemporaryDirectory(prefix="axfusion-probe-") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(source)
        try:
            cc_path = tools.find(cc) if "/" not in cc else cc
            tools.run([cc_path, str(src), "-o", str(Path(tmp) / "probe"), f"-l{library}", "-lm"],
                      what=f"probing -l{library}", timeout=60)
        except ToolchainError:
            return False
    return True
