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
  an LLVM intrinsic become libm calls. Alone, it gives serial code
  (``AXFUSION_THREADS=1`` and the reference build).
- ``axf-parallelize`` (``parallelize(threads)``; the ``parallelize`` stage,
  before ``axf-lower-to-llvm``; empty for ``AXFUSION_THREADS=1``): once
  linalg is lowered to loops, the outermost ``scf.forall`` of each nest with
  enough work (iterations x element ops of one; at run time for a dynamic
  trip count) becomes an ``scf.parallel`` (``axf-parallel-tile-loops``;
  nested and small foralls stay serial, and each parallel loop keeps a serial
  copy for a forked child process), which ``async-parallel-for`` shards into
  tasks of MLIR's async runtime (``async-to-async-runtime``, reference
  counting, ``convert-async-to-llvm``: calls of ``mlirAsyncRuntime*``). The
  calling thread runs the first block itself, and a one-block loop entirely.
  ``compiler/targets/cpu.py`` links ``libmlir_async_runtime.so``.

  Why MLIR's async runtime rather than OpenMP (``convert-scf-to-openmp``,
  ``__kmpc_*`` calls): it ships in the ``mlir`` wheel axfusion already pins
  (no new dependency; the OpenMP route needs Intel's ``intel-openmp`` wheel,
  50 MB, whose ``libiomp5.so`` lands in ``<venv>/lib`` outside any package,
  since torch's libgomp lacks the ``__kmpc`` ABI); it shares that wheel's
  ``libLLVM.so`` with the compiler, so no second copy of LLVM enters the
  process; and its worker threads sleep on a condition variable when idle,
  where an OpenMP runtime's spin for ``KMP_BLOCKTIME`` (200 ms) after each
  parallel region, next to torch's own libgomp pool in the same process.
"""

from .registry import PIPELINES, register_pipeline

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
    "axf-lower-to-llvm", "buffers and loops to the LLVM dialect (serial tile loops)",
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


def async_parallel_for(threads: int) -> str:
    """``async-parallel-for`` sharding for ``threads`` workers (0: ask the
    runtime, one worker per core); one tile loop iteration is the smallest
    task (the iterations are tiles, and ``axf-parallel-tile-loops`` already
    kept the small loops serial)."""
    workers = threads if threads > 1 else -1
    return f"async-parallel-for{{async-dispatch=true num-workers={workers} min-task-size=1}}"


def parallelize(threads: int) -> list[str]:
    """The ``parallelize`` stage's pipeline, run before ``axf-lower-to-llvm``:
    nothing for ``threads == 1``, else the outermost tile loops on the async
    runtime (``threads`` workers; 0: all cores, the registered
    ``axf-parallelize``)."""
    if threads == 1:
        return []
    if threads == 0 and "axf-parallelize" in PIPELINES:
        return ["axf-parallelize"]
    # axf-lower-to-llvm then finds its first three passes with nothing left
    # to do, and lowers the outlined task bodies with the rest.
    return ["axf-memref-copy-to-linalg",
            "func.func(convert-linalg-to-loops)",
            "axf-parallel-tile-loops",
            "scf-forall-to-for",
            async_parallel_for(threads),
            "async-to-async-runtime", "async-runtime-ref-counting",
            "async-runtime-ref-counting-opt", "convert-async-to-llvm"]


register_pipeline(
    "axf-parallelize", "the outermost tile loops with enough work on MLIR's async "
    "runtime, all cores (run before axf-lower-to-llvm)", *parallelize(0))

register_pipeline(
    "axf-cpu-pipeline", "the whole CPU lowering: linalg-on-tensors to the LLVM dialect",
    "axf-check-input", "axf-optimize", "axf-fuse", "axf-schedule", "axf-bufferize",
    "axf-parallelize", "axf-lower-to-llvm")


def register_fuse_all() -> None:
    """``axf-fuse``: all fusion patterns (called once the pattern files are
    imported, so the list is complete)."""
    from .fusion import all_patterns, fuse_pipeline
    register_pipeline("axf-fuse", "run every fusion pattern, most specific first",
                      *fuse_pipeline(all_patterns()))
