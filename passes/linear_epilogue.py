"""LinearBiasRelu / LinearBiasGelu / LinearBiasActivation: a matmul (or
batch matmul), its zero fill, and the element-wise epilogue that adds a bias
broadcast along N and applies an activation, as one group.

torch-mlir's ``nn.Linear`` + ``ReLU``::

    %wt  = linalg.transpose ins(%w) ...            // stays outside the group
    %acc = linalg.fill ins(%zero) outs(%empty)
    %mm  = linalg.matmul ins(%x, %wt) outs(%acc)
    %b   = linalg.generic {maps = [(i,j)->(i,j), (i,j)->(j), (i,j)->(i,j)]}
             ins(%mm, %bias) { addf }
    %r   = linalg.generic ins(%b) { maximumf %x, 0 }    // or cmpf + select

becomes the same ops tagged ``axf.group = G`` with ``%r`` the root
(``axf.member = 0``, ``axf.pattern = "LinearBiasRelu"``) and ``%b``, ``%mm``,
``%acc`` members 1-3: tile-and-fuse builds one loop nest over tiles of
``%r`` in which the matmul tile is computed and the bias and ReLU applied
while it is in cache. The bias may be merged into the activation's generic,
the activation may be missing (``LinearBiasActivation`` with ``none``), and
``activations.classify`` recognises the activation whatever its spelling.

On a [B, S, K] input torch-mlir runs the matmul and the bias add on the
collapsed [B*S, K] view and the activation reads the result through a
``tensor.expand_shape``. The epilogue may look through one such reshape
(or a collapse_shape): when the group forms, the ops beyond it are moved
before it (``reshape_fold.fold``: the activation runs on [B*S, N] and its
result is expanded), so the activation is still the root and reads the
matmul's tile element by element::

    %b = linalg.generic ins(%mm, %bias) { addf }               : 16x64
    %e = tensor.expand_shape %b [[0, 1], [2]]                    : 2x8x64
    %r = linalg.generic ins(%e) { gelu }                         : 2x8x64
  ->
    %b  = linalg.generic ins(%mm, %bias) { addf }  {member 1}    : 16x64
    %r2 = linalg.generic ins(%b) { gelu }  {member 0, LinearBiasGelu} : 16x64
    %r  = tensor.expand_shape %r2 [[0, 1], [2]]                  : 2x8x64

A reshape followed by anything that cannot join the epilogue (or that
cannot run on the reshape's source shape, such as a bias read along part
of a split N) ends the chain there, without a near miss, and nothing moves.

Refused, with a near miss: the matmul result has another user (fusing
would compute the matmul twice); the added operand is not broadcast along N
("bias is not broadcast along N"); an epilogue function that is not a known
activation ("activation not supported by the epilogue"); an epilogue that
reads the result through a transpose or broadcast, so that its tile is not
the matmul's tile ("epilogue does not read the result element by element").

A zero fill shared by several matmuls (CSE merges the identical fills of
two projections of one input) is cloned for each group, so every group owns
its fill and no op is a member of two groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from axfusion._mlir import ir
from axfusion.dialects import fusion_allowed, in_group, note_near_miss, tag_group

from . import match
from .activations import Activation, classify
from .fusion import FusionPattern, register_fusion
from .reshape_fold import RESHAPES, collapsible, fold

GELUS = (Activation.GELU, Activation.GELUTanh)


def pattern_for(act: Activation) -> FusionPattern:
    if act is Activation.ReLU:
        return FusionPattern.LinearBiasRelu
    if act in GELUS:
        return FusionPattern.LinearBiasGelu
    return FusionPattern.LinearBiasActivation


def _bias_operand(op, acc_index: int) -> int | None:
    """Index of a bias operand broadcast along N (the last loop dim), or None."""
    maps = match.indexing_maps(op)
    n_dims = maps[-1].n_dims
    for i, amap in enumerate(maps[:-1]):
        if i == acc_index:
            continue
        dims = [d for d in match.map_dims(amap) if d is not None]
        if dims == [n_dims - 1]:
            return i
    return None


def _epilogue_step(op, acc_index: int):
    """How ``op`` (an element-wise generic reading the accumulator at input
    ``acc_index``) fits an epilogue: ("bias", None), ("act", A),
    ("bias+act", A), or ("miss", reason)."""
    ins = match.inputs(op)
    maps = match.indexing_maps(op)
    if maps[acc_index] != ir.AffineMap.get_identity(maps[-1].n_dims):
        return ("miss", "epilogue does not read the result element by element")
    if len(ins) == 1:
        act = classify(op, acc_index)
        return ("act", act) if act is not None else \
            ("miss", "activation not supported by the epilogue")
    if len(ins) == 2:
        bias = _bias_operand(op, acc_index)
        if bias is None:
            return ("miss", "bias is not broadcast along N")
        act = classify(op, acc_index, bias_input=bias)
        if act is None:
            return ("miss", "activation not supported by the epilogue")
        return ("bias", None) if act is Activation.NONE else ("bias+act", act)
    return ("miss", "epilogue has more than one extra operand")


@dataclass
class Epilogue:
    """A group to form: ``members`` root first, its activation, and the
    element-wise ops (with the input that carries the chain) that sit beyond
    ``reshape`` and must be moved to its near side (``reshape_fold.fold``)."""
    members: list
    act: Activation
    reshape: object = None
    beyond: list = field(default_factory=list)


def analyse(contraction) -> Epilogue | None:
    """The group anchored at ``contraction``, or None after noting why not."""
    acc_init = match.outputs(contraction)[0]
    fill = match.producer(acc_init)
    result = contraction.operation.results[0]
    consumers = match.users(result)
    if not consumers:
        return None
    if len(consumers) > 1:
        for user in consumers:
            if match.is_elementwise(user):
                note_near_miss(contraction, "LinearBias",
                               "intermediate has a second user outside the group "
                               "(fusing would compute the matmul twice)")
                break
        return None
    chain, act, have_bias = [], Activation.NONE, False
    reshape, beyond = None, []
    current = result
    while True:
        user = match.single_user(current)
        through = None   # a reshape between ``current`` and ``user`` (one per chain)
        if user is not None and reshape is None and match.name(user) in RESHAPES:
            through, current = user, user.results[0]
            user = match.single_user(current)
        if user is None or not match.is_elementwise(user) or in_group(user):
            break  # the chain's last op is the group's output: it may have many users
        acc_index = [i for i, v in enumerate(match.inputs(user)) if v == current]
        if len(acc_index) != 1:
            break
        kind, detail = _epilogue_step(user, acc_index[0])
        if kind == "miss":
            if through is None:  # past a reshape, the chain ends there as it always did
                note_near_miss(user, pattern_for(act).value if chain else "LinearBias", detail)
            break
        if kind in ("bias", "bias+act") and (have_bias or act is not Activation.NONE):
            break  # a second bias, or a bias after the activation: not an epilogue
        if kind == "act" and act is not Activation.NONE:
            break  # one activation per epilogue
        far_side = through or reshape
        if far_side is not None and not collapsible(far_side, user, acc_index[0]):
            break
        if far_side is not None:
            reshape = far_side
            beyond.append((user, acc_index[0]))
        if kind in ("bias", "bias+act"):
            have_bias = True
        if kind in ("act", "bias+act"):
            act = detail
        chain.append(user)
        current = user.operation.results[0]
    if not chain:
        return None
    members = list(reversed(chain)) + [contraction]
    if fill is not None and match.name(fill) == "linalg.fill":
        members.append(fill)   # see _own_fill
    return Epilogue(members, act, reshape, beyond)


def _move_before_reshape(epilogue: Epilogue) -> None:
    """Rewrite the ops beyond the reshape, in chain order, to run on its near
    side; each leaves its result reshaped back, which the next one folds."""
    reshape = epilogue.reshape
    for op, operand in epilogue.beyond:
        index = epilogue.members.index(op)   # before ``fold`` erases ``op``
        new = fold(reshape, op, operand)
        epilogue.members[index] = new
        reshape = match.single_user(new.results[0])   # the result, reshaped back


def _own_fill(contraction, fill):
    """The fill for ``contraction`` alone: ``fill`` itself when the
    contraction is its only user, else a clone placed before the contraction
    (a fill is cheap to repeat and its tile is fused into the group's loop),
    so that a fill is never a member of two groups."""
    if len(match.users(fill.results[0])) == 1 and not in_group(fill):
        return fill
    with ir.InsertionPoint(contraction):
        clone = fill.operation.clone()
    contraction.operation.replace_uses_of_with(fill.results[0], clone.results[0])
    return clone


def _make(pattern: FusionPattern):
    def run(func):
        # Contractions only, picked before any rewrite: ``_move_before_reshape``
        # erases ops, and a stale handle to one would crash.
        ops = [op for op in func.regions[0].blocks[0].operations
               if match.name(op) in match.CONTRACTIONS]
        for op in ops:
            if in_group(op):
                continue
            epilogue = analyse(op)
            if epilogue is None or pattern_for(epilogue.act) is not pattern \
                    or not fusion_allowed(op):
                continue
            members = epilogue.members
            _move_before_reshape(epilogue)
            if match.name(members[-1]) == "linalg.fill":
                members[-1] = _own_fill(op, members[-1])
            tag_group(members, pattern.value)
    return run


register_fusion(FusionPattern.LinearBiasRelu, "axf-fuse-linear-bias-relu",
                "matmul + bias + ReLU")(_make(FusionPattern.LinearBiasRelu))
register_fusion(FusionPattern.LinearBiasGelu, "axf-fuse-linear-bias-gelu",
                "matmul + bias + GELU (erf or tanh form)")(_make(FusionPattern.LinearBiasGelu))
register_fusion(FusionPattern.LinearBiasActivation, "axf-fuse-linear-bias-activation",
                "matmul + bias + sigmoid/tanh/SiLU/ReLU6/none")(
    _make(FusionPattern.LinearBiasActivation))
