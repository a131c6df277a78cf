"""Targets: one backend class per target, each owning its stages and its
loader, with frozen, hashable options that are part of the cache key."""

from __future__ import annotations

from enum import Enum

from ..errors import CompileError


class Target(str, Enum):
    CPU = "cpu"
    CUDA = "cuda"


def get_backend(target):
    """The backend class for ``target`` (a ``Target`` or its string name)."""
    try:
        target = Target(target.value if isinstance(target, Target) else str(target).lower())
    except ValueError:
        raise CompileError(f"unknown target {target!r}; choose one of: "
                           + ", ".join(t.value for t in Target)) from None
    if target is Target.CPU:
        from .cpu import CpuBackend
        return CpuBackend
    raise CompileError("target 'cuda' is not built yet: the NVVM/PTX path lands with "
                       "the CUDA issue; use target='cpu'", stage="target")
