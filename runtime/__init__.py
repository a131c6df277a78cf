"""axfusion.runtime: loading compiled artifacts and calling them.

ctypes lives here and nowhere else: ``memref`` builds MLIR memref
descriptors from numpy arrays, ``library`` opens a compiled shared object,
``module`` wraps its entry points as checked Python callables.
"""

from .module import CompiledFunction, CompiledModule, load  # noqa: F401
