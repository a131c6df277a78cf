"""Attention: ``softmax(Q K^T * scale [+ mask]) V`` becomes one flash-attention
kernel (online softmax) that never materialises the [Sq, Sk] score matrix.

torch-mlir's scaled dot-product attention core, after the Q/K/V projections
(which stay outside: the LinearBias* patterns group them), heads split and
K transposed::

    %kt  = linalg.transpose ins(%k : tensor<8x512x64xf32>) permutation = [0, 2, 1]
    %acc = linalg.fill ins(%zero) outs(%empty : tensor<8x512x512xf32>)
    %s   = linalg.batch_matmul ins(%q, %kt) outs(%acc)        // [BH, Sq, Sk]
    %s4  = tensor.expand_shape %s [[0, 1], [2], [3]]          // [B, H, Sq, Sk], optional
    %x   = linalg.generic ins(%s4)        { divf %s, 8.0 }      // or mulf, or on Q
    %x2  = linalg.generic ins(%x, %mask)  { addf }             // optional, mask broadcast
    %max = linalg.generic ins(%x2) { maximumf }                // reduction over Sk
    // or torch-mlir's aten.max.dim: %max:2 = { maximumf, argmax } with the i64
    // index unused, rank-reduced, then tensor.expand_shape [.., Sq] -> [.., Sq, 1]
    %e   = linalg.generic ins(%x2, %max) { exp(subf) }          // or sub, then exp
    %sum = linalg.generic ins(%e) { addf }                      // into a zero fill
    %p   = linalg.generic ins(%e, %sum) { divf }
    // optional, PyTorch's _safe_softmax (nn.MultiheadAttention): rows whose
    // every score is -inf give zeros, not NaN
    %t   = linalg.generic ins(%x2) { cmpf oeq (extf %x), -inf }  // i1 [.., Sq, Sk]
    %all = linalg.generic ins(%t) { andi }                      // into a true fill
    %p   = linalg.generic ins(%all, %zeros, %p) { select }       // %all read per row
    %p3  = tensor.collapse_shape %p [[0, 1], [2], [3]]          // optional
    %o   = linalg.batch_matmul ins(%p3, %v) outs(%zero_acc)     // [BH, Sq, Dv]

becomes the flash-attention kernel that ``attention_kernel.py`` writes for
these shapes (text, parsed and moved in place of the core)::

    %o = scf.forall (%b, %h, %qb) in (1, 8, 8) shared_outs(%out = %empty) {
      ... Q block^T * scale*log2(e) ...
      %m, %l, %acc, ... = scf.for %j0 = 0 to 512 step 128 iter_args(...) {
        ... S^T = mask^T + K_blk Q^T; online max, exp2, sum; acc += P V_blk ...
      }
      ... acc / l into %out[bh, qb*64, 0] ...
    } {axf.group = G, axf.member = 0, axf.pattern = "Attention", axf.kernel}

Every linalg op of the kernel carries ``axf.group = G`` (so no later pattern
takes it) and the location of the core op whose step it implements; the
``scf.forall`` is the root, and ``axf.kernel`` makes tile-and-fuse leave it
alone. The first contraction's zero fill, the scale/mask generics, the
softmax and the second contraction are erased, and K's transpose when the
kernel reads K itself.

The element-wise ops between the two contractions are recognised by running
their bodies (``activations.evaluate``): together they must compute
``a * s + b * mask`` for constants a, b; the softmax steps must compute max,
``exp(x - max)``, a sum into zero and a division. K may be transposed by a
``linalg.transpose`` or by the first contraction's indexing maps. The safe
softmax step is recognised by running its three bodies on sample rows (all
-inf, partly -inf, finite): together they must give 0 on the first row and
the probabilities on the others; the kernel then starts its running max at
-inf (not -1e30) and writes 0 for rows whose max stays -inf.

A ``?`` batch (``dynamic_dims={0: "batch"}``): the outermost batch dim of
the scores may be ``?`` (so may the leading dim of Q, K, V and the output,
[B*H, S, D]); the kernel's outermost loop then runs to ``dim(V, 0)`` over
the static batch dims after it. On such sizes torch-mlir copies P through a
broadcast of the batch dim before the second contraction::

    %pb = linalg.generic outs(%empty) {   // no inputs, P's type
      %b = arith.select (%n == 1), 0, (linalg.index 0)
      tensor.extract %p[%b, linalg.index 1, ...] }

which is erased with the core; the kernel takes %n and reads Q, K and the
mask at batch ``select(%n == 1, 0, b0)`` (V and the output at b0), which is
what the copy computes. The safe softmax's zeros may be such a broadcast of
a rank-0 constant too.

Refused, with a near miss: the probabilities (or the scores, or a softmax
intermediate) have another user, so the score matrix must be materialised;
the score transform is not scale + additive mask (e.g. a ``select`` with a
boolean mask); a mask not read through a broadcast of the score indices; a
contraction accumulating into a non-zero initial value; a ``?`` sequence
length or head size (the block sizes and register tiles are chosen for
static Sq, Sk, D), or a ``?`` batch dim other than the outermost; non-f32
types; a sequence length without a usable block size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from axfusion._mlir import all_ops, ir
from axfusion.dialects import fusion_allowed, in_group, note_near_miss, tag_group

from . import match
from .activations import evaluate
from .attention_kernel import KernelSpec, block_size, kernel_text
from .fusion import FusionPattern, register_fusion
from .linalg_eval import Unknown, scalar_op

NAME = FusionPattern.Attention.value
P_SECOND_USER = ("attention probabilities have a second user outside the group "
                 "(the score matrix must be materialised)")
SCORES_SECOND_USER = ("attention scores have a second user outside the group "
                      "(the score matrix must be materialised)")
SOFTMAX_SECOND_USER = ("softmax intermediate has a second user outside the group "
                       "(the score matrix must be materialised)")
NOT_LINEAR = "score transform is not a scale plus an additive mask"
NOT_BROADCAST = "mask is not broadcastable to the score matrix"
DYNAMIC = ("dynamic sequence length or head size (the kernel is generated for static Sq, "
           "Sk and head dims; only the batch/head dims of the scores may be ?)")
DYNAMIC_BATCH = ("dynamic batch dim of the scores other than the outermost (the kernel's "
                 "batch loops take one ? size)")

# Sample points for recognising scalar bodies (fixed: the match is deterministic).
_RNG = np.random.default_rng(1234)
_X = _RNG.standard_normal(16) * 3.0
_Y = _RNG.standard_normal(16) * 3.0


class _Refuse(Exception):
    def __init__(self, op, reason):
        super().__init__(reason)
        self.op, self.reason = op, reason


@dataclass
class Core:
    c1: object
    c2: object
    x_type: ir.RankedTensorType       # the score space [b..., Sq, Sk]
    scale: float = 1.0
    mask: ir.Value | None = None
    mask_scale: float = 0.0
    mask_dims: tuple = ()
    mask_op: object = None
    k_layout: str = "kt"
    batched: bool = True
    safe: bool = False                # rows of -inf scores give 0 (PyTorch's _safe_softmax)
    # torch-mlir's `?`-batch broadcast of the probabilities: the index value
    # that, when 1, makes every output batch read score batch 0.
    bcast_cond: ir.Value | None = None
    ops: list = field(default_factory=list)   # the core's ops, in program order
    sources: dict = field(default_factory=dict)  # kernel role -> the op it replaces


# -- small predicates ----------------------------------------------------------

def _is(op, name: str) -> bool:
    return op is not None and match.name(op) == name


def _dims(amap) -> list:
    return match.map_dims(amap)


def _identity(amap) -> bool:
    return amap == ir.AffineMap.get_identity(amap.n_dims)


def _close(got, want) -> bool:
    return bool(np.allclose(got, want, rtol=1e-6, atol=1e-9))


def _body(op, args) -> np.ndarray | None:
    """The body of ``op`` evaluated on ``args`` (one per block argument)."""
    try:
        return evaluate(op, [np.asarray(a, np.float64) * np.ones_like(_X) for a in args])
    except Exception:  # an op the interpreter does not know: not recognised
        return None


def _splat(value: ir.Value) -> float | None:
    """The value of a splat ``arith.constant`` tensor, or of a generic that
    broadcasts one (torch-mlir's form on ``?`` sizes: a rank-0 constant
    yielded as is), else None."""
    owner = match.producer(value)
    if _splat_broadcast(owner):
        owner = match.producer(match.inputs(owner)[0])
    if not _is(owner, "arith.constant"):
        return None
    attr = owner.operation.attributes["value"]
    if isinstance(attr, ir.DenseElementsAttr) and attr.is_splat:
        return float(ir.FloatAttr(attr.get_splat_value()).value)
    return None


def _splat_broadcast(op) -> bool:
    """``op`` is a generic copying a rank-0 ``arith.constant`` into every
    element of its output."""
    if not _is(op, "linalg.generic") or len(match.inputs(op)) != 1 or len(op.results) != 1:
        return False
    src = match.inputs(op)[0]
    block = op.operation.regions[0].blocks[0]
    ops = list(block.operations)
    return _is(match.producer(src), "arith.constant") and \
        ir.RankedTensorType(src.type).rank == 0 and len(ops) == 1 and \
        ops[0].operands[0] == block.arguments[0]


def _scalar_fill(value: ir.Value):
    """(fill, its scalar constant as a float) when ``value`` is a
    ``linalg.fill`` of an ``arith.constant``, else (None, None)."""
    fill = match.producer(value)
    if not _is(fill, "linalg.fill"):
        return None, None
    cst = match.producer(match.inputs(fill)[0])
    if not _is(cst, "arith.constant"):
        return None, None
    attr = cst.operation.attributes["value"]
    if isinstance(attr, (ir.FloatAttr, ir.IntegerAttr, ir.BoolAttr)):  # i1 `true`: BoolAttr
        return fill, float(attr.value)
    return None, None


def _zero_fill(value: ir.Value):
    """The ``linalg.fill`` of 0.0 producing ``value``, else None."""
    fill, init = _scalar_fill(value)
    return fill if init == 0.0 else None


def _lowest_fill(op) -> bool:
    """``op``'s accumulator starts at -inf (or the lowest float): any other
    start would change the softmax of rows below it."""
    _, init = _scalar_fill(match.outputs(op)[0])
    return init is not None and init <= -1e30


def _rank(value: ir.Value) -> int:
    return ir.RankedTensorType(value.type).rank


def _dynamic(size: int) -> bool:
    return ir.ShapedType.is_dynamic_size(size)


def _row_reduction(op, x: ir.Value) -> bool:
    """``op`` reduces ``x`` (its only input, read as is) along the last dim
    into a row tensor (rank-reduced, or keeping a unit last dim)."""
    if not match.is_reduction(op) or match.inputs(op) != [x]:
        return False
    iters = match.iterator_types(op)
    if iters != ["parallel"] * (len(iters) - 1) + ["reduction"]:
        return False
    maps = match.indexing_maps(op)
    return _identity(maps[0]) and _row_map(maps[1])


def _row_map(amap) -> bool:
    """(d0, ..., dn) -> (d0, ..., dn-1) or (d0, ..., dn-1, 0)."""
    dims = _dims(amap)
    n = amap.n_dims - 1
    if dims == list(range(n)):
        return True
    return dims == list(range(n)) + [None] and str(amap.results[-1]) == "0"


# -- matching ------------------------------------------------------------------

def _contraction_roles(op):
    """(batched, k_layout) of a matmul/batch_matmul computing A B ("kt": B is
    K^T) or A B^T ("k"), or None."""
    maps = match.indexing_maps(op)
    if len(maps) != 3:
        return None
    a, b, c = (_dims(m) for m in maps)
    if None in a + b + c or len(c) not in (2, 3):
        return None
    batched = len(c) == 3
    lead = c[:1] if batched else []
    i, j = c[-2], c[-1]
    red = [d for d in range(maps[0].n_dims) if d not in c]
    if len(red) != 1 or a != lead + [i, red[0]]:
        return None
    if b == lead + [red[0], j]:
        return batched, "kt"
    if b == lead + [j, red[0]]:
        return batched, "k"
    return None


def _pointwise_on(op, value: ir.Value) -> bool:
    """A generic with parallel loops and an identity output that reads
    ``value`` as is (its other operands may be read any way: checked later)."""
    if not _is(op, "linalg.generic") or len(op.results) != 1:
        return False
    if any(t != "parallel" for t in match.iterator_types(op)):
        return False
    ins, maps = match.inputs(op), match.indexing_maps(op)
    if not _identity(maps[-1]) or [v for v in ins if v == value] != [value]:
        return False
    return _identity(maps[ins.index(value)]) and not _reads_init(op)


def _reads_init(op) -> bool:
    """The body of an element-wise generic uses the old value of its output
    (then it is not a function of its inputs alone)."""
    args = op.operation.regions[0].blocks[0].arguments
    return any(True for _ in args[len(args) - 1].uses)


def _broadcast(amap) -> bool:
    """Each result is a distinct loop dim or the constant 0 (a broadcast)."""
    dims = _dims(amap)
    seen = [d for d in dims if d is not None]
    return len(seen) == len(set(seen)) and all(
        d is not None or str(e) == "0" for d, e in zip(dims, amap.results))


def _walk_scores(c1):
    """From the first contraction to the value the softmax reads: an optional
    expand_shape, then point-wise ops. Returns (x, chain, expand)."""
    value, chain, expand = c1.results[0], [], None
    while True:
        user = match.single_user(value)
        if user is None or in_group(user):
            break
        if _is(user, "tensor.expand_shape") and expand is None and not chain:
            expand = user
        elif _pointwise_on(user, value):
            chain.append(user)
        else:
            break
        value = user.results[0]
    return value, chain, expand


def _max_argmax(op, x: ir.Value) -> bool:
    """torch-mlir's ``aten.max.dim``: a two-result generic reducing ``x`` along
    the last dim into a rank-reduced max (from -inf) and an i64 argmax index
    that nothing uses. The max result's body must not read the index."""
    if not _is(op, "linalg.generic") or len(op.results) != 2 or match.inputs(op) != [x]:
        return False
    if len(match.users(op.results[1])) != 0:
        return False
    iters = match.iterator_types(op)
    if iters != ["parallel"] * (len(iters) - 1) + ["reduction"]:
        return False
    maps = match.indexing_maps(op)
    n = maps[0].n_dims - 1
    if len(maps) != 3 or not _identity(maps[0]) or \
            any(_dims(m) != list(range(n)) for m in maps[1:]):
        return False
    if not str(ir.RankedTensorType(op.results[1].type).element_type).startswith("i"):
        return False
    got = _first_result(op, [_X, _Y])
    return _lowest_fill(op) and got is not None and _close(got, np.maximum(_X, _Y))


def _first_result(op, args) -> np.ndarray | None:
    """The first yielded value of ``op``'s body on ``args`` (the input and the
    first output's old value), or None. The other block arguments (the argmax
    accumulator) and the results of ops the interpreter does not know
    (``linalg.index``, the index casts) are opaque: the value is None if it
    depends on any of them."""
    block = op.operation.regions[0].blocks[0]
    opaque = object()
    env = {}
    for k, arg in enumerate(block.arguments):
        env[arg] = np.asarray(args[k], np.float64) * np.ones_like(_X) \
            if k < len(args) else opaque

    def get(value):
        if value in env:
            return env[value]
        owner = value.owner
        if not isinstance(owner, ir.Block) and owner.name == "arith.constant":
            try:
                return scalar_op(owner.operation, get)
            except Unknown:
                return opaque
        return opaque

    for inner in block.operations:
        inner = inner.operation
        if inner.name == "linalg.yield":
            got = get(inner.operands[0])
            return None if got is opaque else got
        result = opaque
        if all(get(v) is not opaque for v in inner.operands):
            try:
                result = scalar_op(inner, get)
            except Unknown:
                pass
        for r in inner.results:
            env[r] = result
    return None


def _unit_expand(value: ir.Value):
    """The single user of ``value`` when it is a ``tensor.expand_shape``
    appending a unit last dim ([..., S] -> [..., S, 1]), else None."""
    user = match.single_user(value)
    if not _is(user, "tensor.expand_shape"):
        return None
    src, dst = _shape(value), _shape(user.results[0])
    if len(dst) != len(src) + 1 or dst != src + [1]:
        return None
    reassoc = [[ir.IntegerAttr(d).value for d in group]
               for group in ir.ArrayAttr(user.operation.attributes["reassociation"])]
    n = len(src)
    return user if reassoc == [[i] for i in range(n - 1)] + [[n - 1, n]] else None


def _softmax(x: ir.Value):
    """The softmax ops reading ``x``: (max, expand, [sub/exp ops], sum, div),
    or None. The max is a single-result row reduction, or torch-mlir's
    max-with-argmax whose index result is unused; its row result may reach
    the subtraction through an expand_shape appending a unit dim (expand is
    that op, else None)."""
    maxes = [u for u in match.users(x) if (_row_reduction(u, x) and _lowest_fill(u) and
             _close(_body(u, [_X, _Y]), np.maximum(_X, _Y))) or _max_argmax(u, x)]
    if len(maxes) != 1:
        return None
    mx = maxes[0]
    m = mx.results[0]
    expand = None
    if ir.RankedTensorType(m.type).rank == ir.RankedTensorType(x.type).rank - 1:
        expand = _unit_expand(m)
        if expand is not None:
            m = expand.results[0]
    g1 = match.single_user(m)
    if g1 is None or not _row_op(g1, x, m):
        return None
    exps = [g1]
    got = _row_body(g1, x, m, _X, _Y)
    if got is not None and _close(got, _X - _Y):
        g2 = match.single_user(g1.results[0])
        if g2 is None or not _pointwise_on(g2, g1.results[0]) or len(match.inputs(g2)) != 1 or \
                not _close(_body(g2, [_X, 0.0]), np.exp(_X)):
            return None
        exps.append(g2)
    elif got is None or not _close(got, np.exp(_X - _Y)):
        return None
    e = exps[-1].results[0]
    sums = [u for u in match.users(e) if _row_reduction(u, e) and
            _close(_body(u, [_X, _Y]), _X + _Y) and _zero_fill(match.outputs(u)[0])]
    if len(sums) != 1:
        return None
    sm = sums[0]
    s = sm.results[0]
    div = match.single_user(s)
    if div is None or not _row_op(div, e, s):
        return None
    y = np.abs(_Y) + 0.5
    if not _close(_row_body(div, e, s, _X, y), _X / y):
        return None
    return mx, expand, exps, sm, div


def _row_op(op, x: ir.Value, row: ir.Value) -> bool:
    """An element-wise op of exactly ``x`` (as is) and ``row`` (broadcast along
    the last dim)."""
    if not match.is_elementwise(op) or len(match.inputs(op)) != 2:
        return False
    ins, maps = match.inputs(op), match.indexing_maps(op)
    if x not in ins or row not in ins or x == row or _reads_init(op):
        return False
    return _identity(maps[ins.index(x)]) and _row_map(maps[ins.index(row)])


def _row_body(op, x, row, xv, rv):
    ins = match.inputs(op)
    args = [0.0] * 3
    args[ins.index(x)], args[ins.index(row)] = xv, rv
    return _body(op, args)


# Sample rows for the safe-softmax step: every score -inf (selected to 0);
# some -inf; -inf and finite scores of -1e30 down to the lowest f32 (not
# masked); none -inf.
_LOWEST = float(np.finfo(np.float32).min)
_ROWS = np.array([[-np.inf] * 8,
                  [-np.inf, 0.5, -np.inf, -np.inf, 2.0, -np.inf, -np.inf, -np.inf],
                  [-np.inf, _LOWEST, -np.inf, -1e30, -np.inf, -np.inf, -np.inf, -np.inf],
                  _X[:8]])
_P = np.abs(_Y[:8]) + 0.25 * np.ones((len(_ROWS), 1))


def _safe_select(p: ir.Value, x: ir.Value):
    """PyTorch's ``_safe_softmax`` step after the division ``p``: a select of
    0 for the rows of ``x`` whose every score is -inf. Returns (test, fill,
    all, select, splats): an element-wise i1 test of ``x``, its reduction
    along the last dim (into ``fill``) and the select reading that row value,
    the probabilities and splat constants (``splats``: the generics among
    them that broadcast a scalar constant); or None. What they compute is checked
    by running their bodies on ``_ROWS``."""
    for sel in match.users(p):
        if not _pointwise_on(sel, p):
            continue
        ins, maps = match.inputs(sel), match.indexing_maps(sel)
        rows = [v for v in ins if v != p and _splat(v) is None]
        if len(rows) != 1 or not _row_map(maps[ins.index(rows[0])]):
            continue
        red = match.producer(rows[0])
        if red is None or len(match.inputs(red)) != 1:
            continue
        t = match.inputs(red)[0]
        test = match.producer(t)
        fill, init = _scalar_fill(match.outputs(red)[0])
        if not _row_reduction(red, t) or fill is None or test is None or \
                not _pointwise_on(test, x) or len(match.inputs(test)) != 1:
            continue
        got = _safe_rows(test, red, init, sel, rows[0], p)
        if got is not None and np.array_equal(got, np.concatenate([0 * _P[:1], _P[1:]])):
            splats = [match.producer(v) for v in ins if _splat_broadcast(match.producer(v))]
            return test, fill, red, sel, splats
    return None


def _safe_rows(test, red, init, sel, row, p) -> np.ndarray | None:
    """The select's result on ``_P`` when the scores are ``_ROWS``."""
    try:
        flags = evaluate(test, [_ROWS, np.zeros_like(_ROWS)])
        acc = np.full(len(_ROWS), init)
        for j in range(_ROWS.shape[1]):
            acc = evaluate(red, [flags[:, j], acc])
        args = [_P if v == p else (acc[:, None] if v == row else _splat(v))
                for v in match.inputs(sel)] + [0.0]
        return evaluate(sel, [np.broadcast_to(np.asarray(a, np.float64), _P.shape)
                              for a in args])
    except Exception:  # an op the interpreter does not know: not recognised
        return None


def _find_c2(p: ir.Value):
    """The contraction reading the probabilities as its left operand (maybe
    through torch-mlir's ``?``-size broadcast, then a collapse_shape):
    (c2, collapse, broadcast, {dim: its size-1 test value}) or (None,) * 4."""
    bcast, conds, users, read = None, {}, match.users(p), p
    for user in users:
        if _is(user, "tensor.extract"):          # read inside a generic's body
            user = user.operation.parent.opview
        found = _size_one_broadcast(user, p)
        if found is not None:
            bcast, conds, read = user, found, user.results[0]
            users = match.users(read)
            break
    for user in users:
        if _is(user, "tensor.collapse_shape"):
            for w in match.users(user.results[0]):
                if match.name(w) in match.CONTRACTIONS and \
                        match.inputs(w)[0] == user.results[0]:
                    return w, user, bcast, conds
        elif match.name(user) in match.CONTRACTIONS and match.inputs(user)[0] == read:
            return user, None, bcast, conds
    return (None,) * 4


def _size_one_broadcast(op, p: ir.Value):
    """torch-mlir's broadcast of a ``?`` batch dim before a batched matmul:
    a generic without inputs whose output has ``p``'s type and whose body
    yields ``tensor.extract %p[select(%n == 1, 0, i0), i1, ...]``. Returns
    {dim: %n} for the dims read that way (the kernel follows it on dim 0
    only), else None."""
    if not _is(op, "linalg.generic") or match.inputs(op) or len(op.results) != 1 or \
            op.results[0].type != p.type or any(
                t != "parallel" for t in match.iterator_types(op)) or \
            not _identity(match.indexing_maps(op)[0]):
        return None
    block = op.operation.regions[0].blocks[0]
    ops = [o.operation for o in block.operations]
    last = ops[-1]
    if last.name != "linalg.yield" or len(last.operands) != 1:
        return None
    ext = last.operands[0].owner
    if isinstance(ext, ir.Block) or ext.name != "tensor.extract" or ext.operands[0] != p:
        return None
    conds, inner = {}, {ext}
    for d, idx in enumerate(list(ext.operands)[1:]):
        inner.add(idx.owner)
        if _loop_index(idx) == d:
            continue
        sel = idx.owner
        if isinstance(sel, ir.Block) or sel.name != "arith.select" or \
                _loop_index(sel.operands[2]) != d or _index_const(sel.operands[1]) != 0:
            return None
        cmp = sel.operands[0].owner
        if isinstance(cmp, ir.Block) or cmp.name != "arith.cmpi" or \
                ir.IntegerAttr(cmp.attributes["predicate"]).value != 0:   # eq
            return None
        a, b = cmp.operands
        cond = a if _index_const(b) == 1 else (b if _index_const(a) == 1 else None)
        if cond is None or (not isinstance(cond.owner, ir.Block) and
                            cond.owner.parent == op.operation):
            return None
        conds[d] = cond
        inner.update({sel.operands[2].owner, cmp})
    # The body does nothing else (the loop indices it reads, the test, the read).
    rest = [o for o in ops[:-1] if o not in inner and o.name not in ("linalg.index",
                                                                     "arith.constant")]
    return None if rest else conds


def _loop_index(value) -> int | None:
    owner = value.owner
    if isinstance(owner, ir.Block) or owner.name != "linalg.index":
        return None
    return ir.IntegerAttr(owner.attributes["dim"]).value


def _index_const(value) -> int | None:
    owner = value.owner
    if isinstance(owner, ir.Block) or owner.name != "arith.constant" or \
            not isinstance(owner.attributes["value"], ir.IntegerAttr):
        return None
    return ir.IntegerAttr(owner.attributes["value"]).value


def _ops(values) -> set:
    return {v.operation for v in values}


def analyse(c1) -> Core | None:
    """The attention core whose first contraction is ``c1``, or None; raises
    ``_Refuse`` when it is attention but cannot become the kernel."""
    roles = _contraction_roles(c1)
    if roles is None:
        return None
    batched, k_layout = roles
    x, chain, expand = _walk_scores(c1)
    soft = _softmax(x)
    if soft is None:
        return None
    mx, max_expand, exps, sm, div = soft
    safe = _safe_select(div.results[0], x)
    p = safe[3].results[0] if safe else div.results[0]
    c2, collapse, bcast, bcast_conds = _find_c2(p)
    roles2 = _contraction_roles(c2) if c2 is not None else None
    if roles2 != (batched, "kt") or in_group(c2):
        return None
    # From here on it is attention: a refusal is a near miss.
    if len(match.users(p)) != 1 or \
            (collapse is not None and len(match.users(collapse.results[0])) != 1) or \
            (bcast is not None and len(match.users(bcast.results[0])) != 1) or \
            (safe and len(match.users(div.results[0])) != 1):
        raise _Refuse(div, P_SECOND_USER)
    test, all_fill, all_rows, sel, splats = safe or (None,) * 4 + ([],)
    if _ops(match.users(x)) != _ops([mx, exps[0]] + ([test] if safe else [])):
        raise _Refuse(mx, SCORES_SECOND_USER)
    if safe and (len(match.users(test.results[0])) != 1 or
                 len(match.users(all_rows.results[0])) != 1):
        raise _Refuse(all_rows, SOFTMAX_SECOND_USER)
    e = exps[-1].results[0]
    if _ops(match.users(e)) != _ops([sm, div]) or len(match.users(mx.results[0])) != 1 \
            or any(len(match.users(r)) for r in list(mx.results)[1:]) or \
            (max_expand is not None and len(match.users(max_expand.results[0])) != 1) \
            or len(match.users(sm.results[0])) != 1 or \
            (len(exps) == 2 and len(match.users(exps[0].results[0])) != 1):
        raise _Refuse(div, SOFTMAX_SECOND_USER)
    values = [*match.inputs(c1), *match.inputs(c2), c1.results[0], c2.results[0], x]
    values += [v for op in chain for v in match.inputs(op)]
    _check_sizes(c1, c2, x, batched)
    if set(bcast_conds or {}) - ({0} if _rank(x) > 2 else set()):
        raise _Refuse(c1, DYNAMIC_BATCH)
    core = Core(c1, c2, ir.RankedTensorType(x.type))
    _score_transform(core, chain, expand.results[0] if expand else c1.results[0])
    if core.mask is not None and any(_dynamic(n) and dim != "b0" for n, dim in zip(
            _shape(core.mask), core.mask_dims)):
        raise _Refuse(core.mask_op, DYNAMIC)
    if any(str(ir.RankedTensorType(v.type).element_type) != "f32" for v in values):
        raise _Refuse(c1, "only f32 attention is handled")
    fill1, fill2 = _zero_fill(match.outputs(c1)[0]), _zero_fill(match.outputs(c2)[0])
    if fill1 is None or fill2 is None:
        raise _Refuse(c1 if fill1 is None else c2,
                      "a contraction accumulates into a non-zero initial value")
    # Broadcasts of scalar constants the scale/mask steps read (`?` sizes):
    # erased with the core when nothing else reads them.
    chain_splats = [match.producer(v) for op in chain for v in match.inputs(op)
                    if _splat_broadcast(match.producer(v))]
    core.ops = chain_splats + [fill1, c1] + ([expand] if expand else []) + chain + \
        _producer_fills(mx) + [mx] + ([max_expand] if max_expand else []) + exps + \
        [_producer_fill(sm), sm, div] + ([test, all_fill, all_rows] + splats + [sel]
                                         if safe else []) + \
        ([bcast] if bcast else []) + ([collapse] if collapse else []) + [fill2, c2]
    core.ops = [op for op in core.ops if op is not None]
    core.k_layout, core.batched, core.safe = k_layout, batched, bool(safe)
    core.bcast_cond = (bcast_conds or {}).get(0)
    core.sources = {"q": chain[0] if chain else c1, "scores": c1, "max": mx, "exp": exps[-1],
                    "sum": sm, "div": sel or div, "pv": c2, "mask": core.mask_op or c1}
    return core


def _check_sizes(c1, c2, x: ir.Value, batched: bool) -> None:
    """Only the outermost batch dim of the scores (and the leading dim of
    Q, K, V and the output, which holds it) may be ``?``: the kernel's
    block sizes and register tiles need static Sq, Sk and head dims, and
    its batch index arithmetic one ``?`` size."""
    xs = _shape(x)
    if any(_dynamic(n) for n in xs[-2:]):
        raise _Refuse(c1, DYNAMIC)
    if any(_dynamic(n) for n in xs[1:-2]):
        raise _Refuse(c1, DYNAMIC_BATCH)
    for v in [*match.inputs(c1), *match.inputs(c2), c1.results[0], c2.results[0]]:
        if any(_dynamic(n) for n in _shape(v)[1 if batched else 0:]):
            raise _Refuse(c1, DYNAMIC)


def _producer_fills(op) -> list:
    """The fills initialising each of ``op``'s outputs (the max, and the
    argmax index of a two-result max)."""
    fills = []
    for out in match.outputs(op):
        fill = match.producer(out)
        if _is(fill, "linalg.fill"):
            fills.append(fill)
    return fills


def _producer_fill(op):
    fill = match.producer(match.outputs(op)[0])
    return fill if _is(fill, "linalg.fill") else None


def _score_transform(core: Core, chain, value: ir.Value) -> None:
    """Check the point-wise chain computes ``a * s + b * mask`` (constants a,
    b; at most one mask, read through a broadcast of the score indices) and
    record a, b and the mask."""
    nb = core.x_type.rank - 2
    mask, mask_map = None, None
    lanes = [(_X, 0.0), (0.0, _Y), (_X, _Y)]          # (scores, mask) samples
    vals = [np.asarray(s) * np.ones_like(_X) for s, _ in lanes]
    for op in chain:
        ins, maps = match.inputs(op), match.indexing_maps(op)
        for k, v in enumerate(ins):
            if v == value or _splat(v) is not None:
                continue
            if mask is not None:
                raise _Refuse(op, "more than one mask is added to the scores")
            if not _broadcast(maps[k]):
                raise _Refuse(op, NOT_BROADCAST)
            mask, mask_map, core.mask_op = v, maps[k], op
        for lane, (_, m) in enumerate(lanes):
            args = [vals[lane] if v == value else
                    (_splat(v) if _splat(v) is not None else m) for v in ins] + [0.0]
            got = _body(op, args)
            if got is None:
                raise _Refuse(op, NOT_LINEAR)
            vals[lane] = got
        value = op.results[0]
    a = float(np.mean(vals[0] / _X))
    b = float(np.mean(vals[1] / _Y)) if mask is not None else 0.0
    if chain and not (_close(vals[0], a * _X) and _close(vals[2], a * _X + b * _Y)):
        raise _Refuse(chain[-1], NOT_LINEAR)
    core.scale, core.mask_scale, core.mask = a, b, mask
    if mask is not None:
        core.mask_dims = tuple(
            "0" if d is None else (f"b{d}" if d < nb else ("i" if d == nb else "j"))
            for d in _dims(mask_map))


# -- rewriting -----------------------------------------------------------------

def _shape(value) -> list[int]:
    return list(ir.RankedTensorType(value.type).shape)


def kernel_spec(core: Core) -> tuple[KernelSpec, ir.Value, ir.Value]:
    """The kernel for ``core`` and the Q, K values it reads."""
    c1, c2 = core.c1, core.c2
    q, k = match.inputs(c1)
    layout = core.k_layout
    t = match.producer(k)
    perm = list(ir.DenseI64ArrayAttr(t.operation.attributes["permutation"])) \
        if _is(t, "linalg.transpose") and "permutation" in t.operation.attributes else None
    if perm is not None:
        rank = len(perm)
        if perm == list(range(rank - 2)) + [rank - 1, rank - 2]:
            k, layout = t.operands[0], ("k" if layout == "kt" else "kt")
    v = match.inputs(c2)[1]
    qs, vs, xs = _shape(q), _shape(v), list(core.x_type.shape)
    sq, d = qs[-2], qs[-1]
    sk, dv = xs[-1], vs[-1]
    lead = qs[0] if core.batched else 1
    batch = tuple(None if _dynamic(n) else n for n in xs[:-2])
    if _dynamic(lead):     # `?` batch: the outermost score dim, the others static
        follows = bool(batch) and batch[0] is None and None not in batch[1:]
    else:
        follows = None not in batch and math.prod(batch) == lead
    if not follows or xs[-2] != sq:
        raise _Refuse(c1, "the score matrix is reshaped in a way the kernel does not follow")
    br = block_size(sq, 64, 256)
    bc = block_size(sk, 128, 512)
    if br is None or bc is None:
        n = sq if br is None else sk
        raise _Refuse(c1, f"sequence length {n} has no block size that divides it")
    spec = KernelSpec(
        score_batch=batch, q_type=str(q.type), k_type=str(k.type), k_layout=layout,
        v_type=str(v.type), out_type=str(c2.results[0].type), batched=core.batched,
        sq=sq, sk=sk, d=d, dv=dv, scale=core.scale,
        mask_type=str(core.mask.type) if core.mask is not None else None,
        mask_scale=core.mask_scale, mask_dims=core.mask_dims, br=br, bc=bc, safe=core.safe,
        bcast=core.bcast_cond is not None)
    return spec, q, k




def rewrite(core: Core) -> None:
    spec, q, k = kernel_spec(core)
    c2 = core.c2
    template = ir.Operation.parse(kernel_text(spec), source_name="axf-attention")
    block = template.operation.regions[0].blocks[0]
    actual = [q, k, match.inputs(c2)[1]] + ([core.mask] if core.mask is not None else []) + \
        ([core.bcast_cond] if core.bcast_cond is not None else [])
    for arg, value in zip(block.arguments, actual):
        arg.replace_all_uses_with(value)
    body = list(block.operations)
    result = body[-1].operands[0]
    moved = []
    for op in body[:-1]:
        op.operation.move_before(c2.operation)
        moved.append(op.operation)
    forall = result.owner
    members = [forall]
    for op in moved:
        for inner in all_ops(op, pre_order=True):
            # Each kernel op takes the location of the step it implements.
            role = inner.attributes["axf.role"].value if "axf.role" in inner.attributes \
                else "scores"
            inner.location = core.sources[role].location
            for region in inner.regions:
                for blk in region.blocks:
                    for arg in blk.arguments:
                        arg.set_location(inner.location)
            if "axf.role" in inner.attributes:
                del inner.attributes["axf.role"]
            if inner.name.startswith("linalg.") and inner.name != "linalg.yield":
                members.append(inner)
    # What the report counts as saved: every score-sized intermediate the
    # core wrote and read back (reshapes and fills are not extra traffic).
    removed = [op for op in core.ops if match.name(op) not in (
        "linalg.fill", "tensor.expand_shape", "tensor.collapse_shape") and op != c2]
    forall.attributes["axf.bytes_saved"] = ir.IntegerAttr.get(
        ir.IntegerType.get_signless(64), sum(2 * match.tensor_bytes(op.results[0])
                                             for op in removed))
    c2.results[0].replace_all_uses_with(result)
    template.operation.erase()
    _erase_dead(core.ops)
    tag_group(members, NAME, kernel=True)


def _erase_dead(ops) -> None:
    """Erase the replaced core (users first), then the tensor.empty and
    linalg.transpose ops that only it used."""
    pending = list(dict.fromkeys(op.operation for op in reversed(ops)))  # fills may be shared
    feeders: list = []
    while pending:
        op = pending.pop(0)
        if any(len(match.users(r)) for r in op.results):
            continue
        for value in op.operands:
            owner = match.producer(value)
            if owner is not None and match.name(owner) in ("tensor.empty", "linalg.transpose") \
                    and owner.operation not in pending + feeders:
                feeders.append(owner.operation)
        op.erase()
        if not pending:
            pending, feeders = feeders, []


@register_fusion(FusionPattern.Attention, "axf-fuse-attention",
                 "softmax(Q K^T * scale + mask) V as a flash-attention kernel")
def fuse_attention(func):
    rewritten = True
    while rewritten:   # a rewrite erases ops: scan again from the top
        rewritten = False
        for op in func.regions[0].blocks[0].operations:
            if match.name(op) not in match.CONTRACTIONS or in_group(op):
                continue
            try:
                core = analyse(op)
                if core is None or not fusion_allowed(op):
                    continue
                rewrite(core)
            except _Refuse as refusal:
                note_near_miss(refusal.op, NAME, refusal.reason)
                continue
            rewritten = True
            break
