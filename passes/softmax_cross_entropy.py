"""SoftmaxCrossEntropy: log-softmax (or softmax then log) followed by the
negative log-likelihood of integer labels becomes a log-sum-exp per row:
the [N, C] shifted, exp, softmax and log-probability tensors are never
written, and logits of +-1e4 give the right loss.

torch-mlir's ``F.cross_entropy(x, y)`` (``aten._log_softmax`` decomposed,
then its own ``aten.nll_loss_forward`` lowering)::

    %max:2 = linalg.generic {reduction over d1}    // max and a dead argmax
    %sh  = linalg.generic ins(%x, %max#0) { subf }  // [N, C]
    %e   = linalg.generic ins(%sh) { exp }          // [N, C]
    %s   = linalg.generic ins(%e) { addf }          // [N, 1], reduction
    %l   = linalg.generic ins(%s) { log }
    %lp  = linalg.generic ins(%sh, %l) { subf }     // log-probabilities [N, C]
    %nll = linalg.generic ins(%y : tensor<Nxi64>) {
             %i = linalg.index 0 ; %t = arith.index_cast %y
             %v = tensor.extract %lp[%i, %t] ; negf ; select(t == -100, 0, -v) }
    %cnt = linalg.generic ins(%y) { count of y != -100 }   // reduction to tensor<i32>
    %loss = linalg.generic ins(%nll) { acc + v / count }   // tensor<f32>

The same loss written with a one-hot compare (``linalg.index 1 == y`` and
``select`` inside a class reduction, or a multiply by a one-hot tensor),
torch's own ``nll_loss_forward`` decomposition (an i1 mask, a gather of
``y * mask``, ``where``), ``softmax`` then ``log``, reduction ``sum``
(rank-0 or ``[1]`` result) or ``none`` (the ``[N]`` per-row losses) matches
too. Which ops form the loss is read off the graph: a generic that picks a
class by a label, forward along single users to the loss, backward to the
logits (the [N, C] input of the first reduction). *What* they compute is
checked by running them in numpy (``linalg_eval``) on 8 sample rows with
every class, against cross-entropy with each ``ignore_index`` the ops
compare labels with, then without one. Becomes::

    %m    = linalg.generic ins(%x) outs(fill -inf) { maximumf }          // [N], member 2
    %s    = linalg.generic ins(%x, %m) outs(fill 0) { acc + exp(x - m) }  // [N], member 1
    %rows = linalg.generic ins(%s, %m, %y) {                              // [N], root
              %t = arith.index_cast %y ; %ok = 0 <= t < C [and y != ignore]
              %xt = tensor.extract %x[linalg.index 0, ok ? t : 0]
              select(%ok, log(s) + m - xt, 0) }
    %loss = sum(%rows) / N     // or / count(y != ignore); none: %rows itself

tagged ``axf.pattern = "SoftmaxCrossEntropy"`` with the two fills as
members 3 and 4. Tile-and-fuse tiles the rows (``ROW_TILE_BYTES`` of
logits per tile): a tile's max and exp-sum read the logits while they are
in cache, so the loss reads them from memory once and writes no [N, C]
tensor. The sum over rows stays outside the group (an [N] reduction). An
out-of-range label contributes 0 (what the one-hot form computes; the
gather form reads out of bounds there).

A ``?`` row count (``dynamic_dims={0: "batch"}``) with a static class
count matches too: the sample run uses ``SAMPLE_ROWS`` rows, the index
values the ops read only as sizes (``tensor.empty(%n)``, an
``expand_shape``'s output shape) are not inputs of the loss, and a
``tensor.dim`` of the logits' or labels' rows that they compute with (a
mean by N) is the sample's row count; the rewrite sizes its row tensors by
``tensor.dim %x, 0`` and divides a mean by it.

Refused, with a near miss: an intermediate (the softmax or log-probability
tensor, typically) has a user outside the loss ("intermediate has a second
user outside the group"); labels of a float type ("labels of non-integer
type"); the softmax reduces a dim other than the last ("softmax reduction
over a non-last dim"); ops that look like a loss but do not compute
cross-entropy on the sample ("the ops do not compute softmax
cross-entropy"); a loss that reads another tensor (class weights); a ``?``
class count.
"""

from __future__ import annotations

import numpy as np
from mlir.dialects import math  # not re-exported by axfusion._mlir

from axfusion._mlir import arith, ir, linalg, tensor
from axfusion.dialects import fusion_allowed, in_group, note_near_miss, tag_group

from . import linalg_eval, match
from .fusion import FusionPattern, register_fusion
from .tile_and_fuse import Schedule, register_schedule

PATTERN = FusionPattern.SoftmaxCrossEntropy.value
# Rows of the sample the candidate ops are run on (all classes are kept).
SAMPLE_ROWS = 8
# Ops a loss may be made of; anything else ends the search.
OPS = frozenset({"linalg.generic", "linalg.fill", "tensor.empty", "arith.constant",
                 "tensor.expand_shape", "tensor.collapse_shape", "tensor.extract",
                 "arith.sitofp", "arith.uitofp", "arith.extf", "arith.truncf",
                 "arith.index_cast", "arith.extsi", "arith.extui", "arith.trunci",
                 "arith.divf", "arith.mulf", "arith.addf", "arith.subf", "arith.negf"})
_CASTS = frozenset({"arith.index_cast", "arith.index_castui", "arith.extsi", "arith.extui",
                    "arith.trunci", "arith.fptosi", "arith.fptoui", "arith.sitofp",
                    "arith.uitofp"})


# -- finding the candidates ---------------------------------------------------

def _body_reaches(value: ir.Value, target) -> bool:
    """``value`` is ``target`` (a block argument) or computed from it inside
    the same body."""
    todo, seen = [value], set()
    while todo:
        v = todo.pop()
        if v == target:
            return True
        if isinstance(v.owner, ir.Block) or v in seen:
            continue
        seen.add(v)
        todo.extend(v.owner.operands)
    return False


def _label_input(op) -> int | None:
    """The input of ``op`` that holds labels, when ``op`` picks a class by
    one: ``tensor.extract`` from an outside tensor with the label as the
    class index (gather), or a compare of the last loop index with the label
    (one-hot); else None."""
    block = op.operation.regions[0].blocks[0]
    n_ins = len(match.inputs(op))
    args = list(block.arguments)[:n_ins]
    last = match.indexing_maps(op)[0].n_dims - 1
    for inner in block.operations:
        inner = inner.operation
        if inner.name == "tensor.extract" and len(inner.operands) == 3:
            source = inner.operands[0]
            if isinstance(source.owner, ir.Block) and source.owner == block:
                continue
            for k, arg in enumerate(args):
                if _body_reaches(inner.operands[2], arg):
                    return k
        if inner.name in ("arith.cmpi", "arith.cmpf"):
            a, b = inner.operands
            for lhs, rhs in ((a, b), (b, a)):
                if not _is_index(lhs, last):
                    continue
                for k, arg in enumerate(args):
                    if _body_reaches(rhs, arg):
                        return k
    return None


def _is_index(value: ir.Value, dim: int) -> bool:
    while not isinstance(value.owner, ir.Block):
        owner = value.owner
        if owner.name == "linalg.index":
            return ir.IntegerAttr(owner.attributes["dim"]).value == dim
        if owner.name not in _CASTS:
            return False
        value = owner.operands[0]
    return False


def _forward_ends(op, n_rows: int) -> list:
    """The ops from ``op`` down its single-user chain whose result could be
    the loss (float, shape [], [1] or [N]), longest chain first."""
    chain, current = [op], op
    while True:
        found = match.users(current.results[0]) if len(current.results) == 1 else []
        if len(found) != 1:
            break
        user = found[0]
        if user.operation.name not in OPS or user.operation.name == "tensor.extract" or \
                in_group(user) or len(user.operation.results) != 1:
            break
        chain.append(user)
        current = user
    ends = []
    for candidate in chain:
        ty = candidate.results[0].type
        if isinstance(ty, ir.RankedTensorType) and isinstance(
                ir.RankedTensorType(ty).element_type, ir.FloatType) and \
                list(ir.RankedTensorType(ty).shape) in ([], [1], [n_rows]):
            ends.append(candidate)
    return list(reversed(ends))


def _operands_with_captures(op) -> list[ir.Value]:
    """Operands of ``op`` and the values its regions use from outside it."""
    found = list(op.operands)
    if not len(op.regions):
        return found
    inner_ops, own = [], set()

    def visit(inner):
        if inner != op:
            inner_ops.append(inner)
            own.update(inner.results)
            for region in inner.regions:
                for block in region.blocks:
                    own.update(block.arguments)
        return ir.WalkResult.ADVANCE

    op.walk(visit)
    for region in op.regions:
        for block in region.blocks:
            own.update(block.arguments)
    for inner in inner_ops:
        for v in inner.operands:
            if v not in own and v not in found:
                found.append(v)
    return found


def _top(op, parent):
    """The ancestor of ``op`` whose parent is ``parent`` (op itself if so)."""
    op = op.operation
    while op.parent is not None and op.parent != parent:
        op = op.parent
    return op


def _backward_slice(end, stops: list, block) -> tuple[list, list]:
    """(the ops of ``block`` that ``end`` is computed from, stopping at the
    values in ``stops``, in block order; the leaf values reached)."""
    seen, leaves, todo = set(), [], [end.operation]
    while todo:
        op = todo.pop()
        if op in seen:
            continue
        seen.add(op)
        for v in _operands_with_captures(op):
            if v in stops:
                continue
            owner = v.owner
            if isinstance(owner, ir.Block) or owner.operation.parent != end.operation.parent \
                    or owner.name not in OPS:
                if v not in leaves:
                    leaves.append(v)
                continue
            todo.append(owner.operation)
    ordered = [op.operation for op in block.operations if op.operation in seen]
    return ordered, [v for v in leaves if not _only_sizes(v, ordered)]


def _only_sizes(value, ops) -> bool:
    """``value`` is an index that the ops read only as a size (of a
    ``tensor.empty``, or an ``expand_shape`` result: a ``?`` row count); the
    sizes follow from the types, so it is not an input of the loss."""
    if not isinstance(value.type, ir.IndexType):
        return False
    for use in value.uses:
        owner = use.owner.operation
        if owner not in ops:
            if ops and _top(owner, ops[0].parent) in ops:
                return False                 # read inside a body
            continue
        if owner.name not in ("tensor.empty", "tensor.expand_shape") or \
                (owner.name == "tensor.expand_shape" and use.operand_number == 0):
            return False
    return True


def _row_count(value, x, labels) -> bool:
    """``value`` is ``tensor.dim`` of the logits or labels along the rows."""
    owner = value.owner
    if isinstance(owner, ir.Block) or owner.name != "tensor.dim" or \
            owner.operands[0] not in (x, labels):
        return False
    index = match.producer(owner.operands[1])
    return index is not None and index.name == "arith.constant" and \
        ir.IntegerAttr(index.attributes["value"]).value == 0


def _through_unit_reshapes(value):
    """``value`` before any ``tensor.expand_shape``/``collapse_shape`` that
    only adds or removes unit dims (torch-mlir's ``nll_loss_forward`` gathers
    through ``[N] -> [N, 1]``); ``value`` itself when there is none."""
    while not isinstance(value.owner, ir.Block) and \
            value.owner.name in ("tensor.expand_shape", "tensor.collapse_shape"):
        source = value.owner.operands[0]
        if not all(isinstance(t, ir.RankedTensorType) for t in (source.type, value.type)):
            break
        if [d for d in source.type.shape if d != 1] != [d for d in value.type.shape if d != 1]:
            break
        value = source
    return value


def _label_source(value, block):
    """The tensor the gathered labels are computed from (torch's own
    decomposition gathers ``labels * (labels != ignore)``), looking through
    reshapes that only add or remove unit dims: the one rank-1 tensor
    ``value`` is made from, or ``value`` itself (or before such reshapes)."""
    value = _through_unit_reshapes(value)
    owner = value.owner
    if isinstance(owner, ir.Block) or owner.name != "linalg.generic":
        return value
    _, leaves = _backward_slice(owner, [], block)
    if len(leaves) == 1 and leaves[0].type.shape == value.type.shape and \
            isinstance(leaves[0].type.element_type, ir.IntegerType):
        return _through_unit_reshapes(leaves[0])
    return value


def _softmax_input(ops: list, n_rows: int):
    """(logits, the first reduction reading them) among ``ops``: the [N, C]
    float input of the earliest reduction generic, or (None, None)."""
    for op in ops:
        if op.name != "linalg.generic" or "reduction" not in match.iterator_types(op):
            continue
        for v in match.inputs(op):
            ty = v.type
            if isinstance(ty, ir.RankedTensorType) and len(ty.shape) == 2 and \
                    ty.shape[0] == n_rows and isinstance(ty.element_type, ir.FloatType):
                return v, op
    return None, None


def _reduces_last_dim(reduction, x) -> bool:
    iters = match.iterator_types(reduction)
    ins = match.inputs(reduction)
    amap = match.indexing_maps(reduction)[ins.index(x)]
    dims = match.map_dims(amap)
    return dims[-1] is not None and iters[dims[-1]] == "reduction" and \
        all(d is None or iters[d] == "parallel" for d in dims[:-1])


# -- what the candidate computes ---------------------------------------------

def _ignore_candidates(ops: list) -> list[int]:
    """Integer constants the ops compare something with (ignore_index)."""
    found = []

    def visit(inner):
        if inner.name == "arith.cmpi":
            for v in inner.operands:
                owner = v.owner
                if not isinstance(owner, ir.Block) and owner.name == "arith.constant" and \
                        isinstance(owner.attributes["value"], ir.IntegerAttr):
                    k = ir.IntegerAttr(owner.attributes["value"]).value
                    if k not in found:
                        found.append(k)
        return ir.WalkResult.ADVANCE

    for op in ops:
        op.walk(visit)
    return found


def _reference(x, y, ignore, reduction, n_rows):
    m = x.max(axis=1)
    lse = np.log(np.exp(x - m[:, None]).sum(axis=1)) + m
    valid = (y >= 0) & (y < x.shape[1])
    if ignore is not None:
        valid &= y != ignore
    picked = x[np.arange(len(y)), np.where(valid, y, 0)]
    rows = np.where(valid, lse - picked, 0.0)
    if reduction == "none":
        return rows
    if reduction == "sum":
        return rows.sum()
    if reduction == "mean":
        return rows.sum() / n_rows
    count = np.sum(y != ignore) if ignore is not None else len(y)  # "mean-count"
    return rows.sum() / count


class Samples:
    """Sample logits and labels (``SAMPLE_ROWS`` rows, every class) and what
    the candidate ops compute from them, one run per ignore_index tried.
    The candidate loss values of one label gather are tried longest chain
    first, and a shorter chain's ops are a subset of a longer one's, so the
    first run serves them all."""

    def __init__(self, x, labels, n_rows: int, sizes=()):
        self.x, self.labels, self.n_rows = x, labels, n_rows
        # A `?` row count: the ops run on SAMPLE_ROWS rows, and the
        # `tensor.dim` row counts they read (``sizes``) are that number
        # (N itself when it is static).
        self.dynamic = ir.ShapedType.is_dynamic_size(n_rows)
        self.rows = SAMPLE_ROWS if self.dynamic else min(n_rows, SAMPLE_ROWS)
        self.sizes = list(sizes)
        self.classes = x.type.shape[1]
        rng = np.random.default_rng(0)
        self.sample_x = rng.standard_normal((self.rows, self.classes)) * 3.0
        self.ignores: list | None = None
        self.runs: dict = {}    # ignore -> (labels, env or None)

    def shape_of(self, ty):
        shape = list(ir.RankedTensorType(ty).shape)
        if shape and shape[0] == self.n_rows:
            shape[0] = self.rows
        return [self.rows if ir.ShapedType.is_dynamic_size(d) else d for d in shape]

    def run(self, ops, end, ignore):
        if ignore not in self.runs:
            rng = np.random.default_rng(1)
            y = rng.integers(0, self.classes, self.rows)
            for k, other in enumerate(i for i in self.ignores if 0 <= i < self.classes):
                y[k % self.rows] = other            # in-range constants seen too
            if ignore is not None:
                y[1::3] = ignore                    # row 0 always counts
            try:
                env = {self.x: self.sample_x, self.labels: y}
                n = self.rows if self.dynamic else self.n_rows   # what the IR divides by
                env.update({v: np.int64(n) for v in self.sizes})
                env = linalg_eval.run(ops, env, self.shape_of, wanted=[end.results[0]])
            except Exception:  # noqa: BLE001  (anything the interpreter cannot run)
                env = None
            self.runs[ignore] = (y, env)
        return self.runs[ignore]


def semantics(ops: list, end, samples: Samples):
    """(reduction, ignore_index) that ``ops`` compute into ``end``'s result
    from the logits and labels, found by running them on ``samples``; None
    when they are not a cross-entropy. reduction: "none", "sum", "mean"
    (by N) or "mean-count" (by the number of labels != ignore_index)."""
    n_rows = samples.rows if samples.dynamic else samples.n_rows
    out_shape = list(end.results[0].type.shape)
    reductions = ["none"] if out_shape == [samples.n_rows] else ["mean", "mean-count", "sum"]
    if samples.ignores is None:
        samples.ignores = _ignore_candidates(ops)
    for ignore in samples.ignores + [None]:
        y, env = samples.run(ops, end, ignore)
        if env is None or end.results[0] not in env:
            continue
        got = np.asarray(env[end.results[0]], np.float64).reshape(-1)
        for reduction in reductions:
            want = np.asarray(_reference(samples.sample_x, y, ignore, reduction,
                                         n_rows)).reshape(-1)
            if got.shape == want.shape and np.allclose(got, want, rtol=1e-7, atol=1e-9):
                if reduction == "mean-count" and ignore is None:
                    reduction = "mean"               # every label counts: N
                return reduction, ignore
    return None


# -- analysis ----------------------------------------------------------------

class Match:
    def __init__(self, x, labels, end, ops, reduction, ignore):
        self.x, self.labels, self.end, self.ops = x, labels, end, ops
        self.reduction, self.ignore = reduction, ignore


def analyse(nll, block):
    """The cross-entropy whose label gather is ``nll``, or None after noting
    why not (when it looked like one)."""
    found = _label_input(nll)
    if found is None:
        return None
    labels = _label_source(match.inputs(nll)[found], block)
    ty = labels.type
    if not isinstance(ty, ir.RankedTensorType) or len(ty.shape) != 1:
        return None
    n_rows = ty.shape[0]
    miss, samples = None, None
    for end in _forward_ends(nll, n_rows):
        ops, _ = _backward_slice(end, [labels], block)
        x, reduction = _softmax_input(ops, n_rows)
        if x is None:
            continue
        if not isinstance(ty.element_type, ir.IntegerType):
            note_near_miss(nll, PATTERN, "labels of non-integer type "
                           f"({ty.element_type}); the gather needs integer class indices")
            return None
        if not _reduces_last_dim(reduction, x):
            note_near_miss(reduction, PATTERN, "softmax reduction over a non-last dim "
                           "(the log-sum-exp rewrite reduces rows)")
            return None
        if ir.ShapedType.is_dynamic_size(x.type.shape[1]):
            note_near_miss(reduction, PATTERN, "dynamic class count (the rows may be ?, "
                           "the classes must be static)")
            return None
        ops, leaves = _backward_slice(end, [labels, x], block)
        sizes = [v for v in leaves if _row_count(v, x, labels)]
        leaves = [v for v in leaves if v not in sizes]
        if leaves:
            miss = (nll, "the loss reads a tensor other than the logits and labels")
            continue
        escaping = _second_user(ops, end, {x, labels})
        if escaping is not None:
            note_near_miss(escaping, PATTERN, "intermediate has a second user outside "
                           "the group (it would still have to be written in full)")
            return None
        if x.type.element_type != end.results[0].type.element_type:
            miss = (nll, "logits and loss have different element types")
            continue
        samples = samples or Samples(x, labels, n_rows, sizes)
        samples.sizes += [v for v in sizes if v not in samples.sizes]
        found = semantics(ops, end, samples)
        if found is None:
            miss = (nll, "the ops do not compute softmax cross-entropy of the logits "
                    "(checked on sample rows)")
            continue
        return Match(x, labels, end, ops, *found)
    if miss is not None:
        note_near_miss(miss[0], PATTERN, miss[1])
    return None


def _second_user(ops: list, end, inputs: set):
    """The first op among ``ops`` with a result computed from the inputs that
    something outside ``ops`` also reads (the loss itself excepted)."""
    inside = set(ops)
    dynamic = set(inputs)
    for op in ops:
        if not any(v in dynamic for v in _operands_with_captures(op)):
            continue
        dynamic.update(op.results)
        if op == end.operation:
            continue
        for result in op.results:
            if any(_top(use.owner, op.parent) not in inside for use in result.uses):
                return op
    return None


# -- the rewrite -------------------------------------------------------------

def _maps(*texts: str) -> ir.ArrayAttr:
    return ir.ArrayAttr.get([ir.Attribute.parse(f"affine_map<{t}>") for t in texts])


def _iters(*kinds: str) -> ir.ArrayAttr:
    return ir.ArrayAttr.get([ir.Attribute.parse(f"#linalg.iterator_type<{k}>")
                             for k in kinds])


def _generic(result_type, ins, outs, maps, iters, body):
    op = linalg.GenericOp([result_type], ins, outs, _maps(*maps), _iters(*iters))
    types = [ir.RankedTensorType(v.type).element_type for v in ins + outs]
    block = op.regions[0].blocks.append(*types)
    with ir.InsertionPoint(block):
        linalg.YieldOp([body(*block.arguments)])
    return op


def _empty(result_type, rows=None):
    """A ``tensor.empty`` of ``result_type``; ``rows`` (an index value) gives
    its ``?`` size."""
    ty = ir.RankedTensorType(result_type)
    sizes = [rows if ir.ShapedType.is_dynamic_size(d) else d for d in ty.shape]
    return tensor.EmptyOp(sizes, ty.element_type)


def _fill(value, result_type, rows=None):
    return linalg.fill(value, outs=[_empty(result_type, rows).result]).owner


def _const(ty, value):
    return arith.ConstantOp(ty, value).result


def rewrite(m: Match):
    """Replace ``m``'s ops with the log-sum-exp loss; returns the group's ops
    (root first)."""
    x, labels = m.x, m.labels
    loc = ir.Location.fused([op.location for op in m.ops if op.name == "linalg.generic"],
                            context=x.context)
    with loc, ir.InsertionPoint(m.end.operation):
        f = ir.RankedTensorType(x.type).element_type
        n_rows, classes = ir.RankedTensorType(x.type).shape
        rows_t = ir.RankedTensorType.get([n_rows], f)
        index = ir.IndexType.get()
        # A `?` row count: the row tensors are sized by the logits at run time.
        rows = tensor.dim(x, _const(index, 0)) if ir.ShapedType.is_dynamic_size(n_rows) \
            else None
        label_t = ir.RankedTensorType(labels.type).element_type
        ninf, zero = _const(f, float("-inf")), _const(f, 0.0)
        max_init = _fill(ninf, rows_t, rows)
        row_max = _generic(rows_t, [x], [max_init.result], ["(i, j) -> (i, j)", "(i, j) -> (i)"],
                           ["parallel", "reduction"], lambda a, acc: arith.maximumf(a, acc))
        sum_init = _fill(zero, rows_t, rows)
        exp_sum = _generic(rows_t, [x, row_max.result], [sum_init.result],
                           ["(i, j) -> (i, j)", "(i, j) -> (i)", "(i, j) -> (i)"],
                           ["parallel", "reduction"],
                           lambda a, mx, acc: arith.addf(acc, math.exp(arith.subf(a, mx))))

        n_classes, col0 = _const(index, classes), _const(index, 0)
        ignore = _const(label_t, m.ignore) if m.ignore is not None else None

        def row_loss(s, mx, y, _out):
            lse = arith.addf(math.log(s), mx)
            t = arith.index_cast(index, y)
            ok = arith.cmpi(arith.CmpIPredicate.ult, t, n_classes)   # 0 <= t < C
            if ignore is not None:
                ok = arith.andi(ok, arith.cmpi(arith.CmpIPredicate.ne, y, ignore))
            col = arith.select(ok, t, col0)
            picked = tensor.extract(x, [linalg.IndexOp(0).result, col])
            return arith.select(ok, arith.subf(lse, picked), zero)

        root = _generic(rows_t, [exp_sum.result, row_max.result, labels],
                        [_empty(rows_t, rows).result],
                        ["(i) -> (i)"] * 4, ["parallel"], row_loss)
        loss = root.result
        if m.reduction != "none":
            loss = _reduce_rows(m, root.result, zero, f, rows)
    m.end.results[0].replace_all_uses_with(loss)
    for op in reversed(m.ops):
        if all(len(list(r.uses)) == 0 for r in op.results):
            op.erase()
    return [root, exp_sum, row_max, sum_init, max_init]


def _reduce_rows(m: Match, rows, zero, f, n=None):
    """sum(rows), divided by N (``n``: its index value when it is ``?``) or
    by the count of non-ignored labels."""
    out_t = m.end.results[0].type
    scalar = "()" if len(out_t.shape) == 0 else "(0)"
    total = _generic(out_t, [rows], [_fill(zero, out_t).result],
                     ["(i) -> (i)", f"(i) -> {scalar}"], ["reduction"],
                     lambda a, acc: arith.addf(acc, a))
    if m.reduction == "sum":
        return total.result
    same = "() -> ()" if len(out_t.shape) == 0 else "(i) -> (i)"
    iters = [] if len(out_t.shape) == 0 else ["parallel"]
    init = tensor.EmptyOp(list(out_t.shape), f).result
    if m.reduction == "mean":
        if n is None:
            n_rows = _const(f, float(ir.RankedTensorType(m.x.type).shape[0]))
        else:
            n_rows = arith.sitofp(f, arith.index_cast(ir.IntegerType.get_signless(64), n))
        return _generic(out_t, [total.result], [init], [same] * 2, iters,
                        lambda s, _o: arith.divf(s, n_rows)).result
    # mean over the labels that are not ignore_index (NaN when none is)
    i64 = ir.IntegerType.get_signless(64)
    count_t = ir.RankedTensorType.get(list(out_t.shape), i64)
    label_t = ir.RankedTensorType(m.labels.type).element_type
    ignore = _const(label_t, m.ignore)
    count = _generic(count_t, [m.labels], [_fill(_const(i64, 0), count_t).result],
                     ["(i) -> (i)", f"(i) -> {scalar}"], ["reduction"],
                     lambda y, acc: arith.addi(acc, arith.extui(
                         i64, arith.cmpi(arith.CmpIPredicate.ne, y, ignore))))
    return _generic(out_t, [total.result, count.result], [init], [same] * 3, iters,
                    lambda s, c, _o: arith.divf(s, arith.sitofp(f, c))).result


@register_fusion(FusionPattern.SoftmaxCrossEntropy, "axf-fuse-softmax-cross-entropy",
                 "log-softmax + NLL of integer labels -> per-row log-sum-exp")
def fuse_softmax_cross_entropy(func):
    block = func.regions[0].blocks[0]
    found, taken = [], set()
    for op in block.operations:
        op = op.operation
        if op.name != "linalg.generic" or in_group(op):
            continue
        m = analyse(op, block)
        if m is not None and not taken & set(m.ops):
            taken.update(m.ops)
            found.append(m)
    for m in found:
        if not fusion_allowed(m.end):
            return
        tag_group(rewrite(m), PATTERN)


# Logits per row tile: the tile is read twice (max, then exp-sum), the
# second time from L1.
ROW_TILE_BYTES = 16 * 1024


@register_schedule(PATTERN)
def schedule(root) -> Schedule:
    """Tile the rows so that a tile's logits fit ``ROW_TILE_BYTES``."""
    rows, = ir.RankedTensorType(root.results[0].type).shape
    if ir.ShapedType.is_dynamic_size(rows):
        rows = ROW_TILE_BYTES           # `?` rows: the tile size alone decides
    row_bytes = 4096
    for inner in root.regions[0].blocks[0].operations:
        if inner.operation.name == "tensor.extract":   # the label's logit
            logits = ir.RankedTensorType(inner.operation.operands[0].type)
            row_bytes = logits.shape[1] * max(1, logits.element_type.width // 8)
    return Schedule((max(1, min(rows, ROW_TILE_BYTES // row_bytes)),))
