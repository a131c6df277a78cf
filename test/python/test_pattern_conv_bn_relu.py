"""ConvBnRelu (passes/conv_bn_relu.py) against float64 numpy on fresh random
inputs.

The IR is written the way torch-mlir lowers ``Conv2d`` + ``BatchNorm2d``
(eval) + ``ReLU``: padding by ``tensor.pad``, the conv bias broadcast into
the accumulator (or added after), and the batch-norm either decomposed
(rsqrt of var + eps on [C], parameters expanded to [C, 1, 1] and applied by
four broadcast generics) or as one generic. Variants: every parameter a
constant (the batch-norm is folded into the weights at compile time), the
statistics constant but the weights an argument (folded into a
scale-and-shift epilogue), everything an argument (the batch-norm generics
are the epilogue).

Bound: max |got - want| / max |want| <= 1e-5, the float32 bound of
test_numerics. Folding rounds w * a_c to float32 once and sums in a different
order than the float64 reference; measured errors are ~2e-7.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import EXAMPLES, assert_close, compile_ir, conv2d_nchw_reference

BOUND = 1e-5
EPS = 1e-5


def _hex(array) -> str:
    return "0x" + np.ascontiguousarray(array, dtype="<f4").tobytes().hex().upper()


def params(rng, c_in, c_out, k=3):
    return {"w": rng.standard_normal((c_out, c_in, k, k)) / np.sqrt(c_in * k * k),
            "cb": rng.standard_normal(c_out), "gamma": rng.uniform(0.5, 2.0, c_out),
            "beta": rng.standard_normal(c_out), "mean": rng.standard_normal(c_out) * 0.5,
            "var": rng.uniform(0.2, 3.0, c_out)}


def conv_bn_ir(n, c_in, c_out, h, w, p=None, *, const=("w", "cb", "gamma", "beta", "mean",
                                                       "var"),
               layout="nchw", bias="init", bn="decomposed", act="relu", extra_user=False, k=3,
               blobs=("w",)):
    """MLIR text for conv(k x k, stride 1, "same" padding) [+ bias] +
    batch-norm + act; names in ``const`` are constants (values from ``p``;
    those in ``blobs`` as ``dense_resource``, the way torch-mlir imports
    parameters), the others arguments after ``%x`` in the order w, cb, gamma,
    beta, mean, var."""
    nchw = layout == "nchw"
    r = k // 2
    xs = [n, c_in, h, w] if nchw else [n, h, w, c_in]
    ps = [n, c_in, h + 2 * r, w + 2 * r] if nchw else [n, h + 2 * r, w + 2 * r, c_in]
    ys = [n, c_out, h, w] if nchw else [n, h, w, c_out]
    ws = [c_out, c_in, k, k] if nchw else [k, k, c_in, c_out]
    ch = "d1" if nchw else "d3"
    bc = "(d1, 0, 0)" if nchw else "(d3)"     # [C,1,1] NCHW, [C] NHWC
    t = lambda s: "tensor<" + "x".join(map(str, s)) + "xf32>"   # noqa: E731
    X, P, Y, Wt, V = t(xs), t(ps), t(ys), t(ws), t([c_out])
    V3 = t([c_out, 1, 1]) if nchw else V
    par = '["parallel", "parallel", "parallel", "parallel"]'
    args, lines, resources = ["%x: " + X], [], []
    types = {"w": Wt, "cb": V, "gamma": V, "beta": V, "mean": V, "var": V}
    if bias is None:
        types.pop("cb")
    for name, ty in types.items():
        if name not in const:
            args.append(f"%{name}: {ty}")
            continue
        value = p[name] if nchw or name != "w" else p["w"].transpose(2, 3, 1, 0)
        if name in blobs:
            lines.append(f"%{name} = arith.constant dense_resource<{name}_blob> : {ty}")
            resources.append(f'{name}_blob: "0x04000000' + _hex(value)[2:] + '"')
        else:
            lines.append(f'%{name} = arith.constant dense<"{_hex(value)}"> : {ty}')
    pad = f"low[0, 0, {r}, {r}] high[0, 0, {r}, {r}]" if nchw else \
        f"low[0, {r}, {r}, 0] high[0, {r}, {r}, 0]"
    conv = "conv_2d_nchw_fchw" if nchw else "conv_2d_nhwc_hwcf"

    def generic(res, ins, maps, body, rank=4, out="%empty", ty=Y):
        names = ", ".join(v for v, _ in ins)
        tys = ", ".join(tt for _, tt in ins)
        arg_list = ", ".join(f"%a{i}: f32" for i in range(len(ins)))
        dims = "d0, d1, d2, d3" if rank == 4 else "d0"
        map_list = ", ".join(f"affine_map<({dims}) -> {m}>" for m in maps)
        iters = par if rank == 4 else '["parallel"]'
        lines.append(f"{res} = linalg.generic {{indexing_maps = [{map_list}], "
                     f"iterator_types = {iters}}} ins({names} : {tys}) outs({out} : {ty}) {{")
        lines.append(f"^bb0({arg_list}, %o: f32):")
        lines.extend("  " + b for b in body)
        lines.append(f"}} -> {ty}")

    ident = "(d0, d1, d2, d3)"
    lines += ["%zero = arith.constant 0.0 : f32"]
    lines += ["%six = arith.constant 6.0 : f32"] if act == "relu6" else []
    lines += [f"%eps = arith.constant {EPS:e} : f64", f"%empty = tensor.empty() : {Y}"]
    if r:
        lines += [f"%padded = tensor.pad %x {pad} {{",
                  "^bb0(%i0: index, %i1: index, %i2: index, %i3: index):",
                  "  tensor.yield %zero : f32", f"}} : {X} to {P}"]
    else:
        lines.append("%padded = tensor.cast %x : " + X + " to " + P)
    if bias == "init":
        generic("%acc", [("%cb", V)], [f"({ch})", ident], ["linalg.yield %a0 : f32"])
    else:
        lines.append(f"%acc = linalg.fill ins(%zero : f32) outs(%empty : {Y}) -> {Y}")
    lines.append(f"%conv = linalg.{conv} {{dilations = dense<1> : vector<2xi64>, "
                 f"strides = dense<1> : vector<2xi64>}} ins(%padded, %w : {P}, {Wt}) "
                 f"outs(%acc : {Y}) -> {Y}")
    cur = "%conv"
    if bias == "add":
        generic("%biased", [(cur, Y), ("%cb", V)], [ident, f"({ch})", ident],
                ["%s = arith.addf %a0, %a1 : f32", "linalg.yield %s : f32"])
        cur = "%biased"
    if bn == "decomposed":
        lines.append(f"%e1 = tensor.empty() : {V}")
        generic("%ve", [("%var", V)], ["(d0)", "(d0)"],
                ["%t = arith.truncf %eps : f64 to f32", "%s = arith.addf %a0, %t : f32",
                 "linalg.yield %s : f32"], rank=1, out="%e1", ty=V)
        generic("%rs", [("%ve", V)], ["(d0)", "(d0)"],
                ["%s = math.rsqrt %a0 : f32", "linalg.yield %s : f32"], rank=1, out="%e1", ty=V)
        for src, op in (("mean", "subf"), ("rs", "mulf"), ("gamma", "mulf"), ("beta", "addf")):
            operand = f"%{src}"
            if nchw:
                lines.append(f"%{src}3 = tensor.expand_shape %{src} [[0, 1, 2]] output_shape "
                             f"[{c_out}, 1, 1] : {V} into {V3}")
                operand = f"%{src}3"
            generic(f"%bn_{src}", [(cur, Y), (operand, V3)], [ident, bc, ident],
                    [f"%s = arith.{op} %a0, %a1 : f32", "linalg.yield %s : f32"])
            cur = f"%bn_{src}"
    elif bn in ("single", "sqrt_div"):
        norm = (["%t = arith.truncf %eps : f64 to f32", "%ve = arith.addf %a4, %t : f32",
                 "%r = math.rsqrt %ve : f32", "%d = arith.subf %a0, %a3 : f32",
                 "%n = arith.mulf %d, %r : f32"] if bn == "single" else
                ["%t = arith.truncf %eps : f64 to f32", "%ve = arith.addf %a4, %t : f32",
                 "%r = math.sqrt %ve : f32", "%d = arith.subf %a0, %a3 : f32",
                 "%n = arith.divf %d, %r : f32"])
        generic("%bn", [(cur, Y), ("%gamma", V), ("%beta", V), ("%mean", V), ("%var", V)],
                [ident] + [f"({ch})"] * 4 + [ident],
                norm + ["%g = arith.mulf %n, %a1 : f32", "%s = arith.addf %g, %a2 : f32",
                        "linalg.yield %s : f32"])
        cur = "%bn"
    bodies = {"relu": ["%s = arith.maximumf %a0, %zero : f32"],
              "relu_select": ["%c = arith.cmpf ugt, %a0, %zero : f32",
                              "%s = arith.select %c, %a0, %zero : f32"],
              "relu6": ["%m = arith.maximumf %a0, %zero : f32",
                        "%s = arith.minimumf %m, %six : f32"],
              "tanh": ["%s = math.tanh %a0 : f32"]}
    if act in bodies:
        generic("%act", [(cur, Y)], [ident, ident], bodies[act] + ["linalg.yield %s : f32"])
        cur = "%act"
    results, rtypes = [cur], [Y]
    if extra_user:
        results.append("%conv")
        rtypes.append(Y)
    lines.append(f"return {', '.join(results)} : {', '.join(rtypes)}")
    text = (f"func.func @forward({', '.join(args)}) -> ({', '.join(rtypes)}) {{\n  "
            + "\n  ".join(lines) + "\n}\n")
    if resources:
        text += "{-#\n  dialect_resources: {\n    builtin: {\n      " + \
            ",\n      ".join(resources) + "\n    }\n  }\n#-}\n"
    return text


def reference(x, p, *, layout="nchw", bias=True, bn=True, act="relu"):
    """float64: conv ("same" padding) + bias + batch-norm + activation."""
    x = np.asarray(x, np.float64)
    if layout == "nhwc":
        x = x.transpose(0, 3, 1, 2)
    r = p["w"].shape[-1] // 2
    y = conv2d_nchw_reference(x, p["w"], pad=(r, r, r, r))
    col = lambda v: np.asarray(v, np.float64)[None, :, None, None]   # noqa: E731
    if bias:
        y = y + col(p["cb"])
    if bn:
        y = (y - col(p["mean"])) / np.sqrt(col(p["var"]) + EPS) * col(p["gamma"]) + col(p["beta"])
    if act in ("relu", "relu_select"):
        y = np.maximum(y, 0.0)
    elif act == "relu6":
        y = np.clip(y, 0.0, 6.0)
    elif act == "tanh":
        y = np.tanh(y)
    return y.transpose(0, 2, 3, 1) if layout == "nhwc" else y


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


SHAPE = (2, 5, 12, 10, 7)   # N, C_in, C_out, H, W


@pytest.fixture(scope="module")
def fixed_params():
    return params(np.random.default_rng(1234), SHAPE[1], SHAPE[2])


@pytest.mark.parametrize("bn,bias,act,layout", [
    ("decomposed", "init", "relu", "nchw"),
    ("single", "add", "relu6", "nchw"),
    ("sqrt_div", None, "none", "nchw"),
    ("decomposed", "add", "relu_select", "nhwc"),
])
def test_constant_folded(rng, fixed_params, bn, bias, act, layout):
    """Every parameter a constant: the batch-norm disappears into the weights
    and one bias(+activation) epilogue."""
    n, c, f, h, w = SHAPE
    mod = compile_ir(conv_bn_ir(n, c, f, h, w, fixed_params, layout=layout, bias=bias,
                                bn=bn, act=act))
    (group,) = mod.detected_patterns()
    assert group.pattern == "ConvBnRelu"
    assert group.ops[:2] == ("linalg.generic", f"linalg.conv_2d_{layout}_"
                             + ("fchw" if layout == "nchw" else "hwcf"))
    assert len(group.ops) == 4   # epilogue, conv, fill, pad: the batch-norm is gone
    x = rng.standard_normal((n, c, h, w) if layout == "nchw" else (n, h, w, c))
    want = reference(x, fixed_params, layout=layout, bias=bias is not None, act=act)
    assert_close(mod.forward(f32(x)), want, BOUND)


@pytest.mark.parametrize("bn", ["decomposed", "single"])
def test_runtime_statistics(rng, bn):
    """Statistics (and weights) as arguments: nothing can be folded; the
    batch-norm generics run as the epilogue of the conv's tiles."""
    n, c, f, h, w = SHAPE
    mod = compile_ir(conv_bn_ir(n, c, f, h, w, const=(), bn=bn))
    (group,) = [g for g in mod.detected_patterns() if g.pattern == "ConvBnRelu"]
    # relu, the batch-norm generic(s), conv, bias init, pad
    assert len(group.ops) == (8 if bn == "decomposed" else 5)
    reasons = [m.reason for m in mod.report().near_misses]
    assert any(r.startswith("batch-norm statistics are not constants") for r in reasons)
    p = params(rng, c, f)
    x = rng.standard_normal((n, c, h, w))
    got = mod.forward(f32(x), *(f32(p[k]) for k in ("w", "cb", "gamma", "beta", "mean", "var")))
    assert_close(got, reference(x, p), BOUND)


def test_runtime_weights(rng, fixed_params):
    """Constant statistics, weights given at run time: the batch-norm becomes
    one per-channel scale and shift in the epilogue."""
    n, c, f, h, w = SHAPE
    mod = compile_ir(conv_bn_ir(n, c, f, h, w, fixed_params,
                                const=("cb", "gamma", "beta", "mean", "var")))
    (group,) = mod.detected_patterns()
    assert len(group.ops) == 4   # scale-and-shift epilogue, conv, bias init, pad
    reasons = [m.reason for m in mod.report().near_misses]
    assert any("folded into a per-channel scale and shift" in r for r in reasons)
    wt = rng.standard_normal(fixed_params["w"].shape) * 0.2
    p = dict(fixed_params, w=wt)
    x = rng.standard_normal((n, c, h, w))
    assert_close(mod.forward(f32(x), f32(wt)), reference(x, p), BOUND)


def test_unsupported_activation_stays_outside(rng, fixed_params):
    n, c, f, h, w = SHAPE
    mod = compile_ir(conv_bn_ir(n, c, f, h, w, fixed_params, act="tanh"))
    (group,) = mod.detected_patterns()
    assert group.pattern == "ConvBnRelu" and "math" not in group.ops
    reasons = [m.reason for m in mod.report().near_misses]
    assert "activation not supported by the epilogue" in reasons
    x = rng.standard_normal((n, c, h, w))
    assert_close(mod.forward(f32(x)), reference(x, fixed_params, act="tanh"), BOUND)


def test_pointwise_conv(rng):
    """A 1x1 conv (no padding), bias added after the conv, ReLU6."""
    n, c, f, h, w = 2, 8, 6, 5, 7
    p = params(rng, c, f, k=1)
    mod = compile_ir(conv_bn_ir(n, c, f, h, w, p, k=1, bias="add", act="relu6"))
    (group,) = mod.detected_patterns()
    assert group.ops == ("linalg.generic", "linalg.conv_2d_nchw_fchw", "linalg.fill")
    x = rng.standard_normal((n, c, h, w))
    assert_close(mod.forward(f32(x)), reference(x, p, act="relu6"), BOUND)


def test_second_user_is_not_fused(rng, fixed_params):
    n, c, f, h, w = SHAPE
    mod = compile_ir(conv_bn_ir(n, c, f, h, w, fixed_params, extra_user=True))
    assert not [g for g in mod.detected_patterns() if g.pattern == "ConvBnRelu"]
    reasons = [m.reason for m in mod.report().near_misses if m.pattern == "ConvBnRelu"]
    assert any(r.startswith("intermediate has a second user outside the group")
               for r in reasons)
    x = rng.standard_normal((n, c, h, w))
    y, conv = mod.forward(f32(x))
    assert_close(y, reference(x, fixed_params), BOUND)
    assert_close(conv, reference(x, fixed_params, bn=False, act="none"), BOUND)


def test_two_blocks_share_folding(rng):
    """conv-bn-relu twice in a row (the second block pads the first one's
    output; constants are CSE'd across blocks where equal): two groups, both
    folded."""
    n, c, m, f, h, w = 1, 3, 6, 6, 9, 8
    p1, p2 = params(rng, c, m), params(rng, m, f)
    p2["var"] = p1["var"]   # the same var + eps and rsqrt ops after CSE
    first = conv_bn_ir(n, c, m, h, w, p1, blobs=())
    second = conv_bn_ir(n, m, f, h, w, p2, blobs=())
    body1 = first[first.index("{\n") + 2:first.rindex("return")]
    result1 = first[first.rindex("return") + 7:].split(" :")[0]
    body2 = second[second.index("{\n") + 2:second.rindex("return")]
    body2 = re.sub(r"%([A-Za-z_][A-Za-z0-9_]*)", r"%\1_b", body2).replace("%x_b", result1)
    result2 = second[second.rindex("return") + 7:].split(" :")[0] + "_b"
    ty = f"tensor<{n}x{f}x{h}x{w}xf32>"
    text = (f"func.func @forward(%x: tensor<{n}x{c}x{h}x{w}xf32>) -> {ty} {{\n  "
            + body1 + body2 + f"return {result2} : {ty}\n}}\n")
    mod = compile_ir(text)
    groups = [g for g in mod.detected_patterns() if g.pattern == "ConvBnRelu"]
    assert [len(g.ops) for g in groups] == [4, 4]
    x = rng.standard_normal((n, c, h, w))
    assert_close(mod.forward(f32(x)), reference(reference(x, p1), p2), BOUND)


def test_example(rng):
    """examples/patterns/conv_bn_relu.mlir, folded, against the parameters in
    its resource blobs."""
    path = EXAMPLES / "patterns" / "conv_bn_relu.mlir"
    blobs = dict(re.findall(r'(\w+)_blob: "0x04000000([0-9A-F]*)"', path.read_text()))
    p = {k: np.frombuffer(bytes.fromhex(v), dtype="<f4").astype(np.float64)
         for k, v in blobs.items()}
    p["w"] = p["w"].reshape(64, 32, 3, 3)
    mod = compile_ir(path)
    (group,) = mod.detected_patterns()
    assert group.pattern == "ConvBnRelu" and len(group.ops) == 4
    x = rng.standard_normal((2, 32, 28, 28))
    assert_close(mod.forward(f32(x)), reference(x, p), BOUND)
