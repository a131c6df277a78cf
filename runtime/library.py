"""Opening a compiled shared object and finding its entry points.

Threaded modules (``CpuOptions.threads != 1``) run their outermost tile loops
on MLIR's async runtime, whose worker threads start at the first parallel
loop. A process forked after that inherits the runtime's thread pool but not
its threads: a parallel loop in the child would wait forever. So every
threaded module exports an ``i32`` flag, ``__axf_parallel``
(``passes/parallel_loops.py``), and in a forked child every such flag,
already loaded or loaded later, is 0: the loops run serially.
"""

from __future__ import annotations

import ctypes
import os

from axfusion.errors import AxfusionError

PARALLEL_FLAG = "__axf_parallel"
_flags: list[ctypes.c_int32] = []   # the flags of the threaded modules loaded
_serial_only = False                # a forked child of a process that loaded one


def _after_fork_in_child() -> None:
    global _serial_only
    if _flags:
        _serial_only = True
        for flag in _flags:
            flag.value = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Library:
    """A loaded ``module.so``; ``entry(name, nargs)`` is its C-interface
    wrapper ``_mlir_ciface_<name>`` taking ``nargs`` descriptor pointers."""

    def __init__(self, path: str):
        self.path = path
        try:
            self._lib = ctypes.CDLL(os.fspath(path), mode=os.RTLD_LOCAL | os.RTLD_NOW)
        except OSError as exc:
            raise AxfusionError(f"cannot load compiled module {path}: {exc}") from None
        try:
            flag = ctypes.c_int32.in_dll(self._lib, PARALLEL_FLAG)
        except ValueError:
            flag = None   # serial code
        if flag is not None:
            if _serial_only:
                flag.value = 0
            _flags.append(flag)

    def entry(self, name: str, nargs: int):
        symbol = f"_mlir_ciface_{name}"
        try:
            fn = getattr(self._lib, symbol)
        except AttributeError:
            raise AxfusionError(f"{self.path} has no entry point '{symbol}'; the artifact "
                                "does not match its manifest (rebuild it)") from None
        fn.argtypes = [ctypes.c_void_p] * nargs
        fn.restype = None
        return fn


def address(struct: ctypes.Structure) -> int:
    return ctypes.addressof(struct)
