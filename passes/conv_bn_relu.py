"""ConvBnRelu: a 2-D convolution, the inference batch-norm after it and a
ReLU/ReLU6 (or no activation), as one kernel; with constant weights and
statistics the batch-norm is folded into the weights at compile time.

torch-mlir's ``Conv2d`` + ``BatchNorm2d.eval()`` + ``ReLU``, NCHW::

    %pad  = tensor.pad %x low[0, 0, 1, 1] high[0, 0, 1, 1] { yield 0 }
    %acc  = linalg.fill ins(%zero) outs(%empty)     // or a generic broadcasting
                                                    // the conv bias along dim 1
    %conv = linalg.conv_2d_nchw_fchw ins(%pad, %w) outs(%acc)
    %rstd = linalg.generic (c)->(c) ins(%var) { rsqrt(var + eps) }   // on [C]
    %m3   = tensor.expand_shape %mean into tensor<Cx1x1xf32>          // ...
    %sub  = linalg.generic {maps = [id, (n,c,h,w)->(c,0,0), id]} ins(%conv, %m3)   { subf }
    %mul  = linalg.generic ... ins(%sub, %rstd3)  { mulf }
    %mulg = linalg.generic ... ins(%mul, %gamma3) { mulf }
    %bn   = linalg.generic ... ins(%mulg, %beta3) { addf }
    %r    = linalg.generic ins(%bn) { maximumf %x, 0 }        // or cmpf + select

(or the whole batch-norm in one generic with five inputs and ``rsqrt``, or
``sqrt`` + ``divf``: the spelling does not matter). Each element-wise step
after the conv is recognised by running its body (``activations.evaluate``
on sample points with random per-channel parameters): it must be affine in
the conv's value, ``y = a_c * x + b_c``, with per-channel ``a_c``, ``b_c``
(inputs broadcast along the channel dim only); the last step may be
ReLU/ReLU6 (``activations.classify``), alone or after a bias add.

When the weights, the conv bias and every batch-norm parameter are
constants (``dense`` or ``dense_resource``, possibly through element-wise
ops and reshapes), the chain composes to one ``A_c x + B_c`` computed in
float64 and the IR becomes::

    %w2   = arith.constant dense<w * A[:, None, None, None]>     // new weights
    %conv = linalg.conv_2d_nchw_fchw ins(%pad, %w2) outs(%acc)  // %acc: fill 0
    %r    = linalg.generic {maps = [id, (n,c,h,w)->(c), id]} ins(%conv, %B) {
              addf, maximumf 0 } {axf.group = G, axf.member = 0,
                                  axf.pattern = "ConvBnRelu"}

with ``%conv`` and ``%acc`` members 1-2 and the pad member 3: tile-and-fuse
computes each output tile of the conv, adds the bias and applies the ReLU
while it is in cache, padding only the input rows the tile reads. With
constant statistics but weights given at run time, the epilogue is
``max(A_c x + B_c, 0)`` (near miss on it: folded into the epilogue, not the
weights). With statistics given at run time nothing is folded (that would
need their values) and the batch-norm generics themselves are the epilogue,
with the near miss "batch-norm statistics are not constants: ...".

``linalg.conv_2d_nhwc_hwcf`` is handled the same way (channels last, the
filter's F dim scaled). The schedule tiles one image x all channels x a
band of rows (``schedule`` below).

Refused, with a near miss: the conv result has another user (fusing would
compute the conv twice); an epilogue operand that is not broadcast along
the channel dim; an element-wise function that is neither per-channel
affine nor ReLU/ReLU6 ("activation not supported by the epilogue"; the
group stops before it), a batch-norm and its activation merged into one
generic included; dynamic sizes other than the batch (a `?` batch is fine:
the schedule tiles it by one image).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from axfusion._mlir import arith, ir, linalg
from axfusion.dialects import fusion_allowed, group_id, in_group, note_near_miss, tag_group

from . import match
from .activations import SAMPLES, Activation, classify, evaluate
from .fusion import FusionPattern, register_fusion
from .tile_and_fuse import Schedule, register_schedule

PATTERN = FusionPattern.ConvBnRelu.value

# conv op -> (channel dim of its result, output-channel dim of its filter)
CONVS = {
    "linalg.conv_2d_nchw_fchw": (1, 0),
    "linalg.conv_2d_nhwc_hwcf": (3, 3),
}
ACTIVATIONS = (Activation.ReLU, Activation.ReLU6)
FOLDABLE = {"f32": np.float32, "f64": np.float64, "f16": np.float16}

# Points an epilogue step is evaluated at (``activations.SAMPLES``: every
# breakpoint of a known activation, log-spaced magnitudes of both signs, huge
# values); x = 0 and x = 1 give b and a + b.
X = np.concatenate([[0.0, 1.0], SAMPLES])
X0, X1 = 0, 1


@dataclass
class Step:
    """One element-wise op of the epilogue: ``act(a_c * x + b_c)``."""
    op: ir.Operation
    main: int                  # the input carrying the conv's value
    params: list[int]          # per-channel inputs
    act: Activation = Activation.NONE
    bias_only: bool = False    # a == 1 (a bias add): nothing to fold into weights


@dataclass
class Plan:
    conv: ir.Operation
    channel: int               # channel dim of the conv result
    steps: list[Step] = field(default_factory=list)
    init: ir.Operation | None = None   # the accumulator's producer (fill or bias)
    pad: ir.Operation | None = None

    @property
    def act(self) -> Activation:
        return self.steps[-1].act if self.steps else Activation.NONE


def _shape(value) -> list[int]:
    return list(ir.RankedTensorType(value.type).shape)


def _elem(value) -> ir.Type:
    return ir.RankedTensorType(value.type).element_type


def _static(value) -> bool:
    ty = value.type
    return isinstance(ty, ir.RankedTensorType) and ty.has_static_shape


def _static_but_batch(value) -> bool:
    """Every size static, except perhaps the batch (dim 0 of an activation;
    a schedule tiles it by 1 anyway)."""
    ty = value.type
    return isinstance(ty, ir.RankedTensorType) and \
        not any(ir.ShapedType.is_dynamic_size(d) for d in ir.RankedTensorType(ty).shape[1:])


def _out_unused(op) -> bool:
    """The body never reads its output's old value (so evaluating it with
    zeros there is exact)."""
    block = op.operation.regions[0].blocks[0]
    return all(not list(arg.uses) for arg in list(block.arguments)[len(match.inputs(op)):])


def _run(op, args) -> np.ndarray | None:
    try:
        return np.asarray(evaluate(op, args), dtype=np.float64)
    except Exception:  # an op the interpreter does not know, a bad shape, ...
        return None


# -- values of constant tensors -------------------------------------------------

def _resource_blob(const_op) -> np.ndarray | None:
    """The bytes of a ``dense_resource`` constant: the bindings cannot read a
    resource blob, but printing a module holding a clone of the op writes it
    (as hex after a 4-byte alignment word)."""
    attr = const_op.attributes["value"]
    name = re.match(r"dense_resource<([^>]+)>", str(attr))
    ty = ir.RankedTensorType(const_op.results[0].type)
    dtype = FOLDABLE.get(str(ty.element_type))
    if name is None or dtype is None:
        return None
    scratch = ir.Module.create(loc=const_op.location)
    with ir.InsertionPoint(scratch.body):
        const_op.clone()
    text = str(scratch)
    blob = re.search(re.escape(name.group(1)) + r'"?\s*:\s*"0x([0-9A-Fa-f]*)"', text)
    if blob is None:
        return None
    data = bytes.fromhex(blob.group(1))[4:]
    count = int(np.prod(ty.shape))
    if len(data) != count * np.dtype(dtype).itemsize:
        return None
    return np.frombuffer(data, dtype=dtype).astype(np.float64).reshape(ty.shape)


def _scalar(value) -> float | None:
    op = match.producer(value)
    if op is None or match.name(op) != "arith.constant":
        return None
    attr = op.attributes["value"]
    return float(ir.FloatAttr(attr).value) if isinstance(attr, ir.FloatAttr) else None


def _broadcast_in(array, amap: ir.AffineMap, domain: list[int]) -> np.ndarray:
    """``array`` read through ``amap`` over the loop ``domain`` (a projection
    or broadcast map: results are loop dims or the constant 0)."""
    dims = match.map_dims(amap)
    array = array[tuple(0 if d is None else slice(None) for d in dims)]
    kept = [d for d in dims if d is not None]
    array = np.transpose(array, np.argsort(kept)) if kept else array
    shape = [domain[d] if d in kept else 1 for d in range(len(domain))]
    return np.broadcast_to(np.reshape(array, shape), domain)


def constant_value(value, depth: int = 0) -> np.ndarray | None:
    """The float64 value of a static tensor computed only from constants
    (through reshapes, fills, broadcasts and element-wise generics), or None
    when it depends on a function argument or an op not understood here."""
    op = match.producer(value)
    if op is None or not _static(value) or str(_elem(value)) not in FOLDABLE or depth > 32:
        return None
    name, shape = match.name(op), _shape(value)
    if name == "arith.constant":
        attr = op.attributes["value"]
        if isinstance(attr, ir.DenseElementsAttr):
            if attr.is_splat:
                return np.full(shape, float(ir.FloatAttr(attr.get_splat_value()).value))
            return np.array(attr, dtype=np.float64).reshape(shape)
        return _resource_blob(op.operation)
    if name in ("tensor.expand_shape", "tensor.collapse_shape", "tensor.cast"):
        source = constant_value(op.operands[0], depth + 1)
        return None if source is None else source.reshape(shape)
    if name == "linalg.fill":
        scalar = _scalar(match.inputs(op)[0])
        return None if scalar is None else np.full(shape, scalar)
    if name == "linalg.transpose":
        source = constant_value(match.inputs(op)[0], depth + 1)
        permutation = list(ir.DenseI64ArrayAttr(op.attributes["permutation"]))
        return None if source is None else np.transpose(source, permutation)
    if name == "linalg.broadcast":
        source = constant_value(match.inputs(op)[0], depth + 1)
        if source is None:
            return None
        added = list(ir.DenseI64ArrayAttr(op.attributes["dimensions"]))
        return np.broadcast_to(np.expand_dims(source, added), shape)
    if name == "linalg.generic" and match.is_elementwise(op) and _out_unused(op):
        args = []
        for v, amap in zip(match.inputs(op), match.indexing_maps(op)):
            source = constant_value(v, depth + 1)
            if source is None:
                return None
            args.append(_broadcast_in(source, amap, shape))
        args.append(np.zeros(shape))
        return _run(op, args)
    return None


def _channel_values(op, index: int, channel: int, count: int) -> np.ndarray | None:
    """Input ``index`` of ``op`` (broadcast along ``channel``) as a vector of
    ``count`` values, or None when it is not a constant."""
    value = match.inputs(op)[index]
    array = constant_value(value)
    if array is None:
        return None
    domain = [1] * len(match.indexing_maps(op)[-1].results)
    domain[channel] = count
    return _broadcast_in(array, match.indexing_maps(op)[index], domain).reshape(count)


# -- the epilogue ---------------------------------------------------------------

def _per_channel(amap: ir.AffineMap, channel: int) -> bool:
    return all(d in (None, channel) for d in match.map_dims(amap)) and \
        all(d is not None or str(e) == "0" for d, e in zip(match.map_dims(amap), amap.results))


def _affine(op, main: int, params: dict[int, np.ndarray]):
    """(a, b) per row of the parameter vectors (all of one length K) when the
    body is ``a * x + b`` at every sample x, else None."""
    count = len(next(iter(params.values()))) if params else 1
    nargs = len(op.operation.regions[0].blocks[0].arguments)
    args = []
    for i in range(nargs):
        if i == main:
            args.append(np.broadcast_to(X, (count, len(X))))
        elif i in params:
            args.append(np.broadcast_to(params[i][:, None], (count, len(X))))
        else:
            args.append(np.zeros((count, len(X))))
    y = _run(op, args)
    if y is None or y.shape != (count, len(X)) or not np.all(np.isfinite(y)):
        return None
    b = y[:, X0]
    a = y[:, X1] - b
    ax = a[:, None] * X
    want = ax + b[:, None]
    # float64 rounding of the body is ~1e-16 of its terms (about |a x| and
    # |a| + |b|, cancellation included); a threshold, a clamp or a curve
    # anywhere among the samples is far above 1e-9 of them.
    terms = np.abs(ax) + np.abs(y) + (np.abs(a) + np.abs(b))[:, None]
    if np.any(np.abs(y - want) > 1e-9 * terms):
        return None
    return a, b


def _step(op, main: int, channel: int) -> Step | str:
    """How ``op`` fits the epilogue, or why it does not."""
    maps = match.indexing_maps(op)
    if maps[main] != ir.AffineMap.get_identity(maps[main].n_dims):
        return "epilogue reads the convolution through a non-identity map"
    params = [i for i in range(len(maps) - 1) if i != main]
    if not all(_per_channel(maps[i], channel) for i in params):
        return "epilogue operand is not broadcast along the channel dim"
    draws = np.random.default_rng(0).uniform(0.5, 2.0, (len(params), 4))
    fit = _affine(op, main, dict(zip(params, draws)))
    if fit is not None:
        return Step(op, main, params, bias_only=bool(np.allclose(fit[0], 1.0, rtol=0,
                                                                 atol=1e-12)))
    if len(params) > 1:
        return "not a per-channel scale and shift (batch-norm), nor one then ReLU/ReLU6"
    act = classify(op, main, bias_input=params[0] if params else None)
    if act in ACTIVATIONS:
        return Step(op, main, params, act, bias_only=True)
    return "activation not supported by the epilogue"


def _accumulator(conv, channel: int):
    """The accumulator's producer when it is a zero fill or a per-channel
    conv bias broadcast (torch-mlir's two forms), else None."""
    init = match.producer(match.outputs(conv)[0])
    if init is None or len(match.users(init.results[0])) != 1:
        return None
    name = match.name(init)
    if name == "linalg.fill":
        return init if _scalar(match.inputs(init)[0]) is not None else None
    if name == "linalg.broadcast":
        dims = list(ir.DenseI64ArrayAttr(init.attributes["dimensions"]))
        rank = len(_shape(init.results[0]))
        return init if sorted(dims + [channel]) == list(range(rank)) else None
    if name == "linalg.generic" and match.is_elementwise(init) and \
            len(match.inputs(init)) == 1 and \
            _per_channel(match.indexing_maps(init)[0], channel):
        block = init.operation.regions[0].blocks[0]
        yielded = block.operations[len(block.operations) - 1].operands[0]
        return init if yielded == block.arguments[0] else None
    return None


def _init_shift(plan: Plan, count: int) -> np.ndarray | None:
    """What the accumulator adds per channel (the conv bias), if constant."""
    init = plan.init
    if init is None:
        return None
    if match.name(init) == "linalg.fill":
        return np.full(count, _scalar(match.inputs(init)[0]))
    source = constant_value(match.inputs(init)[0])
    return None if source is None else np.broadcast_to(source.reshape(-1), count)


def analyse(conv) -> Plan | None:
    """The group anchored at ``conv``, or None after noting why not."""
    channel = CONVS[match.name(conv)][0]
    result = conv.results[0]
    consumers = match.users(result)
    if not consumers:
        return None
    if not all(_static_but_batch(v) for v in list(conv.operands) + [result]):
        note_near_miss(conv, PATTERN, "dynamic sizes other than the batch are not handled")
        return None
    if len(consumers) > 1:
        if any(match.is_elementwise(u) for u in consumers):
            note_near_miss(conv, PATTERN, "intermediate has a second user outside the group "
                           "(fusing would compute the convolution twice)")
        return None
    plan = Plan(conv, channel)
    current = result
    while True:
        user = match.single_user(current)
        if user is None or not match.is_elementwise(user) or in_group(user) or \
                not _out_unused(user) or _shape(user.results[0]) != _shape(result):
            break
        mains = [i for i, v in enumerate(match.inputs(user)) if v == current]
        if len(mains) != 1:
            break
        step = _step(user, mains[0], channel)
        if isinstance(step, str):
            note_near_miss(user, PATTERN, step)
            break
        plan.steps.append(step)
        current = user.results[0]
        if step.act is not Activation.NONE:
            break
    if not plan.steps:
        return None
    plan.init = _accumulator(conv, channel)
    pad = match.producer(match.inputs(conv)[0])
    if pad is not None and match.name(pad) == "tensor.pad" and \
            len(match.users(pad.results[0])) == 1:
        plan.pad = pad
    return plan


# -- folding --------------------------------------------------------------------

NOT_CONSTANT = ("batch-norm statistics are not constants: applied at run time in the "
                "epilogue, not folded into the weights")
NOT_FINITE = "batch-norm parameters give non-finite scales: not folded"


class _NoFold(Exception):
    def __init__(self, step: Step, reason: str):
        super().__init__(reason)
        self.step, self.reason = step, reason


def _coefficients(plan: Plan, count: int):
    """(A, B) with epilogue(x) = act(A * x + B), from the constant parameters;
    raises ``_NoFold`` at the first step that cannot be folded."""
    scale, shift = np.ones(count), np.zeros(count)
    for step in plan.steps:
        values = {i: _channel_values(step.op, i, plan.channel, count) for i in step.params}
        if any(v is None for v in values.values()):
            raise _NoFold(step, NOT_CONSTANT)
        if step.act is not Activation.NONE:   # bias + act, or act alone
            a, b = np.ones(count), (values[step.params[0]] if step.params else np.zeros(count))
        else:
            fit = _affine(step.op, step.main, values)
            if fit is None:
                raise _NoFold(step, NOT_FINITE)
            a, b = np.broadcast_to(fit[0], count), np.broadcast_to(fit[1], count)
        scale, shift = a * scale, a * shift + b
    if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(shift))):
        raise _NoFold(plan.steps[0], NOT_FINITE)
    return scale, shift


def _dense(array: np.ndarray, like: ir.Type, shape: list[int]) -> ir.Value:
    ty = ir.RankedTensorType.get(shape, like)
    return arith.ConstantOp(ty, ir.DenseElementsAttr.get(
        np.ascontiguousarray(array.astype(FOLDABLE[str(like)])), type=ty)).result


def _epilogue(plan: Plan, conv_value, empty, scale, shift) -> ir.Operation:
    """``act(x * scale_c + shift_c)`` over the conv result, as one generic
    (inserted at the current insertion point)."""
    elem = _elem(conv_value)
    rank = len(_shape(conv_value))
    count = _shape(conv_value)[plan.channel]
    identity = ir.AffineMap.get_identity(rank)
    per_channel = ir.AffineMap.get(rank, 0, [ir.AffineDimExpr.get(plan.channel)])
    inputs = [conv_value] + [_dense(v, elem, [count]) for v in (scale, shift) if v is not None]
    maps = [identity] + [per_channel] * (len(inputs) - 1) + [identity]
    parallel = ir.Attribute.parse("#linalg.iterator_type<parallel>")
    op = linalg.GenericOp([conv_value.type], inputs, [empty],
                          ir.ArrayAttr.get([ir.AffineMapAttr.get(m) for m in maps]),
                          ir.ArrayAttr.get([parallel] * rank))
    block = op.regions[0].blocks.append(*([elem] * (len(inputs) + 1)))
    with ir.InsertionPoint(block):
        args = list(block.arguments)
        y = args[0]
        if scale is not None:
            y = arith.mulf(y, args[1])
        y = arith.addf(y, args[len(inputs) - 1])
        if plan.act is not Activation.NONE:
            y = arith.maximumf(y, arith.constant(elem, 0.0))
        if plan.act is Activation.ReLU6:
            y = arith.minimumf(y, arith.constant(elem, 6.0))
        linalg.YieldOp([y])
    return op.operation


_PURE = frozenset({"arith.constant", "tensor.empty", "tensor.expand_shape",
                   "tensor.collapse_shape", "tensor.cast", "linalg.generic", "linalg.fill",
                   "linalg.broadcast", "linalg.transpose"})


def _erase_dead(func) -> None:
    """Erase the pure ops left without users (the old batch-norm parameters,
    weights, accumulator), users before producers."""
    for op in reversed(list(func.regions[0].blocks[0].operations)):
        op = op.operation
        if op.name in _PURE and op.results and not any(list(r.uses) for r in op.results):
            op.erase()


def fold(plan: Plan) -> Plan:
    """Fold the constant batch-norm into the weights (or, with run-time
    weights, into one scale-and-shift epilogue); returns the new plan. The
    plan is returned unchanged when a parameter is not a constant."""
    conv = plan.conv
    result = conv.results[0]
    count = _shape(result)[plan.channel]
    elem = str(_elem(result))
    if elem not in FOLDABLE:
        return plan
    scaling = [s for s in plan.steps if not s.bias_only]
    try:
        scale, shift = _coefficients(plan, count)
    except _NoFold as refused:
        if scaling:   # a bias alone has nothing to fold into the weights
            note_near_miss(refused.step.op, PATTERN, refused.reason)
        return plan
    if len(plan.steps) == 1 and not scaling:
        return plan   # already one bias(+activation) generic
    weight = constant_value(conv.operands[1])
    bias = _init_shift(plan, count)
    last = plan.steps[-1].op
    loc = (scaling or plan.steps)[0].op.location   # the batch-norm's
    into_weights = weight is not None and bias is not None
    with loc:
        if into_weights:
            filter_dim = CONVS[match.name(conv)][1]
            shape = [1] * weight.ndim
            shape[filter_dim] = count
            with ir.InsertionPoint(conv):
                conv.operands[1] = _dense(weight * scale.reshape(shape),
                                          _elem(conv.operands[1]), list(weight.shape))
                if match.name(plan.init) != "linalg.fill" or bias.any():
                    with plan.init.location:   # the bias moved to the epilogue
                        zero = arith.constant(_elem(result), 0.0)
                        empty = match.outputs(plan.init)[0]
                        conv.operands[2] = linalg.fill(zero, outs=[empty])
                    plan.init = match.producer(conv.operands[2])
            shift = scale * bias + shift
            scale = None
        with ir.InsertionPoint(last):
            epilogue = _epilogue(plan, result, match.outputs(last)[0], scale, shift)
    last.results[0].replace_all_uses_with(epilogue.results[0])
    for step in reversed(plan.steps):
        step.op.erase()
    _erase_dead(conv.parent)
    plan.steps = [Step(epilogue, 0, [1], plan.act, bias_only=into_weights)]
    if not into_weights and scaling:
        note_near_miss(epilogue, PATTERN,
                       "convolution weights or bias are not constants: batch-norm folded "
                       "into a per-channel scale and shift in the epilogue, not the weights")
    return plan


@register_fusion(FusionPattern.ConvBnRelu, "axf-fuse-conv-bn-relu",
                 "conv2d + batch-norm (folded into constant weights) + ReLU/ReLU6/none")
def run(func):
    convs = [op.operation for op in func.regions[0].blocks[0].operations
             if match.name(op) in CONVS and not in_group(op)]
    for conv in convs:
        plan = analyse(conv)
        if plan is None or not fusion_allowed(conv):
            continue
        plan = fold(plan)
        members = [s.op for s in reversed(plan.steps)] + [conv]
        members += [op for op in (plan.init, plan.pad) if op is not None]
        tag_group(members, PATTERN)


def _conv_of(root):
    """The conv in ``root``'s group (reached through inputs in the group)."""
    gid, work = group_id(root), [root]
    while work:
        op = work.pop()
        if match.name(op) in CONVS:
            return op
        for value in op.operands:
            producer = match.producer(value)
            if producer is not None and group_id(producer) == gid:
                work.append(producer.operation)
    return None


# Output elements per tile (64 KiB of float32): a band of whole output rows
# for all channels, written by the conv and rewritten by the epilogue while
# it is in L2.
TILE_ELEMENTS = 16384


def _largest_divisor(n: int, limit: int) -> int:
    return max((d for d in range(1, n + 1) if n % d == 0 and d <= limit), default=1)


@register_schedule(PATTERN)
def schedule(root) -> Schedule:
    """One image at a time, every output channel (so each tile pads its input
    rows once, not once per channel block), and a band of output rows: the
    most whole rows that keep the tile within ``TILE_ELEMENTS`` (a divisor
    of the height, so all tiles have one static shape). Channels are split
    only when a single row of all of them is over the budget.

    Inside the tile the conv is the vectorised micro-kernel
    (``conv_schedule.py``: blocks of output channels x output columns in
    registers), the same as an unfused conv's, so fused vs unfused measures
    fusion alone. On examples/patterns/conv_bn_relu.mlir (medians of 11,
    one thread, ``bench/bench_fusion.py``): fused 0.54 ms, unfused 0.63 ms;
    with the scalar loops it replaced, 15.7 ms and 15.8 ms."""
    shape = _shape(root.results[0])
    conv = _conv_of(root)
    channel = CONVS[match.name(conv)][0] if conv is not None else 1
    rows_dim = 2 if channel == 1 else 1
    width = int(np.prod([d for i, d in enumerate(shape) if i > rows_dim and i != channel]))
    sizes = [1] + [0] * (len(shape) - 1)
    channels = _largest_divisor(shape[channel], max(1, TILE_ELEMENTS // width))
    sizes[channel] = 0 if channels == shape[channel] else channels
    sizes[rows_dim] = _largest_divisor(shape[rows_dim], TILE_ELEMENTS // (channels * width))
    return Schedule(tuple(sizes))
