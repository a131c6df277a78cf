"""Opening a compiled shared object and finding its entry points."""

from __future__ import annotations

import ctypes
import os

from axfusion.errors import AxfusionError


class Library:
    """A loaded ``module.so``; ``entry(name, nargs)`` is its C-interface
    wrapper ``_mlir_ciface_<name>`` taking ``nargs`` descriptor pointers."""

    def __init__(self, path: str):
        self.path = path
        try:
            self._lib = ctypes.CDLL(os.fspath(path), mode=os.RTLD_LOCAL | os.RTLD_NOW)
        except OSError as exc:
            raise AxfusionError(f"cannot load compiled module {path}: {exc}") from None

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
