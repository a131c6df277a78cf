"""``axf-parallel-tile-loops``: the outermost tile loop of each nest runs on
all cores.

Runs in ``axf-parallelize`` (before ``axf-lower-to-llvm``) once linalg is
lowered to loops (so a tile's work can be counted) and before
``scf-forall-to-for``. Each
``scf.forall`` that no other ``scf.forall`` encloses and that does enough
work becomes an ``scf.parallel`` (``transform.loop.forall_to_parallel``);
``async-parallel-for`` then shards it over MLIR's async runtime. Every other
forall (nested tile loops, small problems) stays serial:

    scf.forall (%i) in (4) {            scf.parallel (%i) = (%c0) to (%c4) step (%c1) {
      scf.for %j = %c0 to %c256 ...  ->   scf.for %j = %c0 to %c256 ...
    }                                   }

The work of one iteration is the number of elements the ops of its body
produce, each multiplied by the static trip counts of the ``scf.for`` loops
around it (a ``vector<8x32xf32>`` FMA counts 256; a loop of unknown trip
count counts ``DYNAMIC_TRIPS``). A forall is parallel when it has at least
two iterations and its total work (iterations x work of one) reaches
``MIN_PARALLEL_WORK``: below that, waking a worker thread costs more than it
saves. A forall of unknown trip count is parallel when, at run time, its
trip count times that work reaches the same threshold.

Every parallel loop keeps a serial copy, taken when the exported ``i32``
global ``__axf_parallel`` is 0 (or a dynamic loop is small):

    memref.global @__axf_parallel : memref<i32> = dense<1>
    %on = arith.cmpi ne, (memref.load @__axf_parallel), 0   [and trips * work >= min]
    scf.if %on { scf.parallel ... } else { scf.forall ... (serial) }

``runtime/library.py`` clears it in a child process forked after the parent
ran threaded code: the child inherits the async runtime's thread pool but
not its threads, and would wait forever for the first task.
"""

from __future__ import annotations

from axfusion._mlir import all_ops, arith, ir

from .registry import register_pass

# Element operations below which a loop nest stays serial. Vectorised code
# on the 2-core Xeon measured does about 70 of them per ns, so 2^22 is about
# 60 us of serial work: a few times what handing a task to a sleeping worker
# thread costs on an idle machine (on a loaded one, where the worker must
# wait for a core, even 400 us loops gained nothing).
MIN_PARALLEL_WORK = 1 << 22
DYNAMIC_TRIPS = 16          # assumed trip count of an inner loop of unknown size
_DYNAMIC = -(1 << 63)       # ShapedType::kDynamic in static bound arrays
MARK = "axf.parallel"
FLAG = "__axf_parallel"     # exported i32: 0 runs every tile loop serially


def _const_index(value: ir.Value) -> int | None:
    owner = value.owner   # an op, or a block for a block argument
    if isinstance(owner, ir.OpView):
        owner = owner.operation
    if isinstance(owner, ir.Operation) and owner.name == "arith.constant":
        attr = owner.attributes["value"]
        if isinstance(attr, ir.IntegerAttr):
            return attr.value
    return None


def _for_trips(op: ir.Operation) -> int:
    lb, ub, step = (_const_index(op.operands[i]) for i in range(3))
    if None in (lb, ub, step) or step <= 0:
        return DYNAMIC_TRIPS
    return max(0, -(-(ub - lb) // step))


def forall_trips(op: ir.Operation) -> int | None:
    """Iterations of an ``scf.forall`` (``None``: not known at compile time)."""
    bounds = [list(ir.DenseI64ArrayAttr(op.attributes[name]))
              for name in ("staticLowerBound", "staticUpperBound", "staticStep")]
    total = 1
    for lb, ub, step in zip(*bounds):
        if _DYNAMIC in (lb, ub, step) or step <= 0:
            return None
        total *= max(0, -(-(ub - lb) // step))
    return total


def _elements(op: ir.Operation) -> int:
    n = 1
    for result in op.results:
        if isinstance(result.type, ir.VectorType):
            size = 1
            for d in result.type.shape:
                size *= d
            n = max(n, size)
    return n


def body_work(forall: ir.Operation) -> int:
    """Element operations of one iteration of ``forall`` (see module doc)."""
    def region_work(region) -> int:
        total = 0
        for block in region.blocks:
            for op in block.operations:
                op = op.operation
                if len(op.regions) == 0:
                    total += _elements(op)
                    continue
                inner = sum(region_work(r) for r in op.regions)
                total += inner * (_for_trips(op) if op.name == "scf.for" else 1)
        return total
    return sum(region_work(r) for r in forall.regions)


def _outermost_foralls(root: ir.Operation) -> list[ir.Operation]:
    found = []
    for op in all_ops(root, pre_order=True):
        if op.name != "scf.forall":
            continue
        parent = op.parent
        while parent is not None and parent.name not in ("scf.forall", "func.func"):
            parent = parent.parent
        if parent is None or parent.name != "scf.forall":
            found.append(op)
    return found


def wants_parallel(forall: ir.Operation, min_work: int = MIN_PARALLEL_WORK) -> bool:
    trips = forall_trips(forall)
    if trips is None:
        return True
    return trips >= 2 and trips * body_work(forall) >= min_work


def _to_parallel(payload: ir.Operation) -> None:
    from mlir.dialects import transform
    from mlir.dialects.transform import loop, structured

    from .tile_and_fuse import _apply_script

    def build(target):
        any_op = transform.AnyOpType.get()
        loops = structured.MatchOp(any_op, target, ops=["scf.forall"],
                                   op_attrs={MARK: ir.UnitAttr.get()}).result
        foreach = transform.ForeachOp([], [loops])
        block = foreach.body
        with ir.InsertionPoint(block):
            loop.ForallToParallelOp([any_op], block.arguments[0])
            transform.YieldOp([])

    _apply_script(payload, build)


def _flag_global(module: ir.Operation) -> None:
    from mlir.dialects import memref
    block = module.regions[0].blocks[0]
    for op in block.operations:
        if op.operation.name == "memref.global" and \
                ir.StringAttr(op.operation.attributes["sym_name"]).value == FLAG:
            return
    i32 = ir.IntegerType.get_signless(32)
    with ir.InsertionPoint.at_block_begin(block), ir.Location.unknown():
        memref.GlobalOp(FLAG, ir.TypeAttr.get(ir.MemRefType.get([], i32)),
                        initial_value=ir.DenseElementsAttr.get_splat(
                            ir.RankedTensorType.get([], i32), ir.IntegerAttr.get(i32, 1)))


def _index(v: int) -> ir.Value:
    return arith.constant(ir.IndexType.get(), v)


def _dynamic_trips(forall: ir.Operation) -> ir.Value:
    """The trip count of ``forall`` as an ``index`` value (before ``forall``)."""
    sizes = list(ir.DenseI32ArrayAttr(forall.attributes["operandSegmentSizes"]))
    operands = list(forall.operands)
    groups, pos = [], 0
    for name, count in zip(("staticLowerBound", "staticUpperBound", "staticStep"), sizes):
        dynamic = iter(operands[pos:pos + count])
        pos += count
        groups.append([next(dynamic) if v == _DYNAMIC else _index(v)
                       for v in ir.DenseI64ArrayAttr(forall.attributes[name])])
    total = _index(1)
    for lb, ub, step in zip(*groups):
        total = arith.muli(total, arith.ceildivsi(arith.subi(ub, lb), step))
    return total


def _guard(forall: ir.Operation) -> None:
    """``scf.if %on { forall (marked parallel) } else { serial copy }``."""
    from mlir.dialects import memref, scf
    i32 = ir.IntegerType.get_signless(32)
    with ir.InsertionPoint(forall), forall.location:
        flag = memref.get_global(ir.MemRefType.get([], i32), FLAG)
        on = arith.cmpi(arith.CmpIPredicate.ne, memref.load(flag, []),
                        arith.constant(i32, 0))
        if forall_trips(forall) is None:
            work = arith.muli(_dynamic_trips(forall), _index(max(1, body_work(forall))))
            on = arith.andi(on, arith.cmpi(arith.CmpIPredicate.sge, work,
                                           _index(MIN_PARALLEL_WORK)))
        branch = scf.IfOp(on, [], has_else=True)
        with ir.InsertionPoint(branch.then_block):
            then_end = scf.YieldOp([])
        with ir.InsertionPoint(branch.else_block):
            else_end = scf.YieldOp([])
    forall.clone(ip=ir.InsertionPoint(else_end))
    forall.move_before(then_end)
    forall.attributes[MARK] = ir.UnitAttr.get()


@register_pass("axf-parallel-tile-loops",
               "outermost scf.forall tile loops with enough work to scf.parallel")
def parallel_tile_loops(op, pass_):
    chosen = [f for f in _outermost_foralls(op) if wants_parallel(f)]
    if not chosen:
        return
    _flag_global(op)
    for f in chosen:
        _guard(f)
    _to_parallel(op)
