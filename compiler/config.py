"""Every knob axfusion reads from the environment, read in one place.

| variable               | meaning                                                    |
| ---------------------- | ---------------------------------------------------------- |
| AXFUSION_CACHE_DIR     | compile cache folder (default ``~/.cache/axfusion``)       |
| AXFUSION_NO_CACHE      | ``1`` turns the compile cache off                          |
| AXFUSION_SAVE_TEMPS    | folder: keep every stage's IR and the tool outputs there    |
| AXFUSION_VERIFY        | ``1`` verifies the IR after every stage (debug mode)       |
| AXFUSION_IN_PROCESS    | ``1`` compiles in the calling process instead of a worker  |
|                        | (faster to debug; an MLIR assertion then kills the caller)  |
| AXFUSION_CC            | C compiler used to link shared objects (default ``cc``)    |
| AXFUSION_VECTOR_MATH   | ``0``: math calls (exp, tanh, erf...) stay scalar libm     |
|                        | instead of glibc's libmvec (on by default where the host   |
|                        | has libmvec and AVX2 + FMA)                                |
| AXFUSION_THREADS       | outermost tile loops on MLIR's async runtime: ``0`` (or    |
|                        | ``all``): all cores; unset or ``1``: serial code, no       |
|                        | runtime library; ``N``: sharded for N workers (the         |
|                        | runtime's pool still has one thread per core). Serial is   |
|                        | the default: on the zoo models (0.04-1.8 ms) threads were  |
|                        | slower (bench/RESULTS.md)                                  |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Config:
    cache_dir: Path
    no_cache: bool
    save_temps: Path | None
    verify_each: bool
    in_process: bool
    cc: str
    vector_math: bool
    threads: int            # 0: all cores; 1: serial code; N: N workers


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _on_unless_off(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("0", "false", "no", "off")


def _threads() -> int:
    text = os.environ.get("AXFUSION_THREADS", "").strip().lower()
    if text == "":
        return 1
    if text in ("all", "auto"):
        return 0
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        from .errors import AxfusionError
        raise AxfusionError(f"AXFUSION_THREADS={text!r}: expected a thread count "
                            "(1 or unset: serial, 0: all cores)")
    return n


def load() -> Config:
    """Read the environment now (tests change it between calls)."""
    env = os.environ
    cache = env.get("AXFUSION_CACHE_DIR") or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "axfusion")
    temps = env.get("AXFUSION_SAVE_TEMPS")
    return Config(
        cache_dir=Path(cache),
        no_cache=_flag("AXFUSION_NO_CACHE"),
        save_temps=Path(temps) if temps else None,
        verify_each=_flag("AXFUSION_VERIFY"),
        in_process=_flag("AXFUSION_IN_PROCESS"),
        cc=env.get("AXFUSION_CC") or env.get("CC") or "cc",
        vector_math=_on_unless_off("AXFUSION_VECTOR_MATH"),
        threads=_threads(),
    )
