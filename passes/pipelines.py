"""Named lowering pipelines, built from upstream MLIR passes.

The CPU path, in stage order (``compiler/targets/cpu.py`` runs them):

- ``axf-optimize``: a result-shape function for each entry point with
  dynamic result sizes (``result_shapes.py``), transposes of constant
  weights done at compile time (``constant_transpose.py``), then
  canonicalize + CSE on linalg-on-tensors.
- ``axf-fuse``: every fusion pattern, in ``passes.fusion.ORDER``.
- ``axf-schedule``: tile-and-fuse each fusion group (``tile_and_fuse.py``),
  and give every other matmul the same vectorised micro-kernel
  (``matmul_schedule.py``).
- ``axf-bufferize``: element-wise ``arith``/``math`` ops on whole tensors
  to ``linalg.generic``, then one-shot bufferization (arguments read-only:
  the caller's arrays are never written) with identity layouts at the
  function boundary (a ``canonicalize`` right after folds loops that return
  their own buffer, e.g. a matmul's vector loop over a whole result, so that
  the result is the caller's buffer instead of a copy), results turned into
  caller-allocated out-params
  (destination passing: the runtime allocates results, so nothing native ever
  has to be freed by Python), and ownership-based deallocation of every
  temporary buffer (no leak per call).
- ``axf-lower-to-llvm``: strided copies to linalg (no runtime library
  call), ``scf.forall`` tile loops to ``scf.for``, linalg to loops, vector
  ops (the matmul micro-kernel; ``axf-lower-vectors``) and memref/scf/math/arith/cf/func to
  the LLVM dialect. ``finalize-memref-to-llvm`` runs before ``scf-to-cf``
  (``memref.alloca_scope`` needs structured control flow); math ops without
  an LLVM intrinsic become libm calls.
"""

from .registry import register_pipeline

register_pipeline(
    "axf-optimize", "shape functions for dynamic results, canonicalize and CSE "
    "linalg-on-tensors",
    "axf-result-shapes", "axf-fold-constant-transposes", "canonicalize", "cse",
    "axf-check-result-shapes")

register_pipeline(
    "axf-schedule", "tile-and-fuse every fusion group, then clean up",
    "axf-tile-and-fuse", "axf-contraction-loop-order", "canonicalize", "cse")

register_pipeline(
    "axf-bufferize", "tensors to buffers with caller-allocated results",
    "axf-emit-c-interface", "axf-readonly-arguments",
    "func.func(convert-elementwise-to-linalg)",
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map}",
    "canonicalize",
    "buffer-results-to-out-params{modify-public-functions hoist-static-allocs "
    "hoist-dynamic-allocs}",
    "canonicalize",
    "buffer-deallocation-pipeline")

register_pipeline(
    "axf-lower-to-llvm", "buffers and loops to the LLVM dialect",
    "axf-memref-copy-to-linalg",
    "scf-forall-to-for",
    "func.func(convert-linalg-to-loops)",
    "axf-lower-vectors",
    "axf-widen-i1-memrefs",
    "expand-strided-metadata", "lower-affine",
    "finalize-memref-to-llvm",
    "convert-scf-to-cf",
    "convert-math-to-llvm", "convert-math-to-libm",
    "convert-arith-to-llvm", "convert-index-to-llvm", "convert-cf-to-llvm",
    "convert-func-to-llvm", "convert-ub-to-llvm",
    "reconcile-unrealized-casts")

register_pipeline(
    "axf-cpu-pipeline", "the whole CPU lowering: linalg-on-tensors to the LLVM dialect",
    "axf-check-input", "axf-optimize", "axf-fuse", "axf-schedule", "axf-bufferize",
    "axf-lower-to-llvm")


def register_fuse_all() -> None:
    """``axf-fuse``: all fusion patterns (called once the pattern files are
    imported, so the list is complete)."""
    from .fusion import all_patterns, fuse_pipeline
    register_pipeline("axf-fuse", "run every fusion pattern, most specific first",
                      *fuse_pipeline(all_patterns()))
