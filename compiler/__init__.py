"""axfusion: a kernel-fusion compiler for ML models on upstream MLIR.

    import axfusion
    mod = axfusion.compile("examples/mlp.mlir", target="cpu")
    y = mod.forward(x, w1, b1, w2, b2)
"""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    ArgumentError, AxfusionError, CompileError, TargetError, ToolchainError)
from .targets import Target  # noqa: E402
from .driver import compile, compile_to, emit  # noqa: E402
from axfusion.runtime import CompiledFunction, CompiledModule, load  # noqa: E402
from .optimizer import Activation, FusionOptimizer, FusionPattern, optimize_graph  # noqa: E402
from .report import DetectedPattern, FusionReport  # noqa: E402
from .layers import FusedAttention, FusedConv, FusedElementwise, FusedLinear  # noqa: E402
from .bisect import BisectResult, bisect  # noqa: E402
from .frontends.explain import explain  # noqa: E402

__all__ = ["compile", "compile_to", "emit", "load", "CompiledModule", "CompiledFunction",
           "Target", "optimize_graph", "FusionOptimizer", "FusionPattern", "Activation",
           "DetectedPattern", "FusionReport", "bisect", "BisectResult", "explain",
           "FusedLinear", "FusedConv", "FusedElementwise", "FusedAttention",
           "AxfusionError", "CompileError", "ArgumentError", "ToolchainError",
           "TargetError", "__version__"]
