"""The table of named passes and pipelines, and the PassManager builder."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from axfusion._mlir import ir, passmanager


@dataclass(frozen=True)
class PassInfo:
    name: str
    run: Callable  # (op: ir.Operation, pass_) -> None
    description: str


PASSES: dict[str, PassInfo] = {}
# name -> (description, elements); an element is upstream pipeline text such
# as "canonicalize,cse" or the name of a registered Python pass.
PIPELINES: dict[str, tuple[str, tuple[str, ...]]] = {}


def register_pass(name: str, description: str):
    """Decorator: make ``fn(op, pass_)`` a pass named ``name``."""
    def wrap(fn):
        PASSES[name] = PassInfo(name, fn, description)
        return fn
    return wrap


def register_pipeline(name: str, description: str, *elements: str) -> None:
    PIPELINES[name] = (description, tuple(elements))


def expand(name_or_text: str) -> list[str]:
    """Flatten a pipeline name into upstream text and Python pass names."""
    if name_or_text in PIPELINES:
        out: list[str] = []
        for element in PIPELINES[name_or_text][1]:
            out += expand(element)
        return out
    return [name_or_text]


def build_pass_manager(elements: list[str], *, print_ir_after_all: bool = False,
                       verify_each: bool = True) -> passmanager.PassManager:
    """A module-level PassManager running ``elements`` in order.

    An element is a registered pass or pipeline name, or upstream pipeline
    text relative to ``builtin.module`` (``"func.func(convert-linalg-to-loops)"``).
    """
    pm = passmanager.PassManager("builtin.module")
    for element in elements:
        for item in expand(element):
            if item in PASSES:
                info = PASSES[item]
                pm.add(info.run, name=info.name, argument=info.name,
                       description=info.description)
            else:
                pm.add(item)
    pm.enable_verifier(verify_each)
    if print_ir_after_all:
        # MLIR aborts ("IR printing can't be setup on a pass-manager without
        # disabling multi-threading first") unless the context is single-threaded.
        ir.Context.current.enable_multithreading(False)
        pm.enable_ir_printing(print_after_all=True, print_module_scope=True)
    return pm


def pipeline_text(elements: list[str]) -> str:
    """A readable, hashable spelling of a pipeline (for cache keys and repros)."""
    return ",".join(expand_all(elements))


def expand_all(elements: list[str]) -> list[str]:
    out: list[str] = []
    for element in elements:
        out += expand(element)
    return out


def is_known(name: str) -> bool:
    return name in PASSES or name in PIPELINES


def describe() -> list[tuple[str, str]]:
    rows = [(n, p.description) for n, p in PASSES.items()]
    rows += [(n, d) for n, (d, _) in PIPELINES.items()]
    return sorted(rows)


__all__ = ["PASSES", "PIPELINES", "register_pass", "register_pipeline",
           "build_pass_manager", "pipeline_text", "is_known", "describe", "ir"]
