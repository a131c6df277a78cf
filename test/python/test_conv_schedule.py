"""The convolution micro-kernel (passes/conv_schedule.py), end to end.

NCHW convs, 3x3 and 1x1, stride 1, 2, and 2 along the height only, with
and without zero padding (tensor.pad before the conv), on sizes the
register block (output channels x output columns) does not divide (7x7
images, 3 or 5 input channels, 11 output channels, a 37-wide row); alone
(unfused: ``axf-contraction-loop-order``) and in ConvBnRelu groups (a bias +
ReLU epilogue, or a batch-norm with run-time statistics + ReLU), with a
dynamic batch, and built for AVX2. Results are compared with numpy float64
(``conv2d_nchw_reference``) on fresh random inputs; bound 1e-5 relative
(float32 sums of up to 144 terms).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_close, compile_ir, conv2d_nchw_reference

BOUND = 1e-5
EPS = 1e-5

# name: (N, C, H, W, F, k, stride (both dims, or (height, width)), pad).
# A stride along the width keeps the loop reorder (conv_schedule.STRIDED);
# along the height only, the micro-kernel.
CONVS = {
    "k3s1p1_7x7": (2, 3, 7, 7, 5, 3, 1, 1),
    "k3s2p1_9x9": (2, 5, 9, 9, 8, 3, 2, 1),
    "k1s1_7x7": (1, 16, 7, 7, 12, 1, 1, 0),
    "k1s2_8x8": (2, 8, 8, 8, 16, 1, 2, 0),
    "k3s1p1_20x37": (1, 4, 20, 37, 11, 3, 1, 1),
    "k3s1_6x6": (1, 2, 6, 6, 3, 3, 1, 0),
    "k3s21p1_9x7": (1, 3, 9, 7, 9, 3, (2, 1), 1),
}
EPILOGUES = ("none", "bias_relu", "bn_relu")

HEADER = """#id = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#ch = affine_map<(d0, d1, d2, d3) -> (d1)>
"""


def _out_size(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


def _conv_func(name: str, dims, epilogue: str, batch=None) -> str:
    """MLIR for one conv (+ epilogue) in the form torch-mlir gives it;
    ``batch``: override N (``"?"`` for a dynamic batch)."""
    n, c, h, w, f, k, stride, pad = dims
    n = batch or n
    sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
    oh, ow = _out_size(h, k, sh, pad), _out_size(w, k, sw, pad)
    x_ty, w_ty = f"tensor<{n}x{c}x{h}x{w}xf32>", f"tensor<{f}x{c}x{k}x{k}xf32>"
    p_ty = f"tensor<{n}x{c}x{h + 2 * pad}x{w + 2 * pad}xf32>"
    y_ty, v_ty = f"tensor<{n}x{f}x{oh}x{ow}xf32>", f"tensor<{f}xf32>"
    args = [f"%x: {x_ty}", f"%w: {w_ty}"]
    args += {"none": [], "bias_relu": [f"%b: {v_ty}"],
             "bn_relu": [f"%{p}: {v_ty}" for p in ("gamma", "beta", "mean", "var")]}[epilogue]
    lines = [f"func.func @{name}({', '.join(args)}) -> {y_ty} {{",
             "  %zero = arith.constant 0.0 : f32",
             f"  %eps = arith.constant {EPS:e} : f32"]
    if n == "?":
        lines += ["  %c0 = arith.constant 0 : index",
                  f"  %n = tensor.dim %x, %c0 : {x_ty}",
                  f"  %e = tensor.empty(%n) : {y_ty}"]
    else:
        lines += [f"  %e = tensor.empty() : {y_ty}"]
    src = "%x"
    if pad:
        lines += [f"  %p = tensor.pad %x low[0, 0, {pad}, {pad}] high[0, 0, {pad}, {pad}] {{",
                  "  ^bb0(%i: index, %j: index, %k: index, %l: index):",
                  "    tensor.yield %zero : f32",
                  f"  }} : {x_ty} to {p_ty}"]
        src = "%p"
    lines += [f"  %acc = linalg.fill ins(%zero : f32) outs(%e : {y_ty}) -> {y_ty}",
              "  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : vector<2xi64>, "
              f"strides = dense<[{sh}, {sw}]> : vector<2xi64>}}",
              f"      ins({src}, %w : {p_ty if pad else x_ty}, {w_ty}) "
              f"outs(%acc : {y_ty}) -> {y_ty}"]
    if epilogue == "none":
        return "\n".join(lines + [f"  return %conv : {y_ty}", "}", ""])
    if epilogue == "bias_relu":
        lines += ["  %y = linalg.generic {indexing_maps = [#id, #ch, #id], iterator_types = "
                  '["parallel", "parallel", "parallel", "parallel"]}',
                  f"      ins(%conv, %b : {y_ty}, {v_ty}) outs(%e : {y_ty}) {{",
                  "  ^bb0(%v: f32, %bv: f32, %o: f32):",
                  "    %s = arith.addf %v, %bv : f32",
                  "    %r = arith.maximumf %s, %zero : f32",
                  "    linalg.yield %r : f32",
                  f"  }} -> {y_ty}"]
    else:
        lines += ["  %bn = linalg.generic {indexing_maps = [#id, #ch, #ch, #ch, #ch, #id], "
                  'iterator_types = ["parallel", "parallel", "parallel", "parallel"]}',
                  f"      ins(%conv, %gamma, %beta, %mean, %var : {y_ty}, {v_ty}, {v_ty}, {v_ty}, "
                  f"{v_ty}) outs(%e : {y_ty}) {{",
                  "  ^bb0(%in: f32, %g: f32, %bb: f32, %m: f32, %vv: f32, %o: f32):",
                  "    %d = arith.subf %in, %m : f32",
                  "    %ve = arith.addf %vv, %eps : f32",
                  "    %rs = math.rsqrt %ve : f32",
                  "    %nn = arith.mulf %d, %rs : f32",
                  "    %s = arith.mulf %nn, %g : f32",
                  "    %t = arith.addf %s, %bb : f32",
                  "    linalg.yield %t : f32",
                  f"  }} -> {y_ty}",
                  "  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = "
                  '["parallel", "parallel", "parallel", "parallel"]}',
                  f"      ins(%bn : {y_ty}) outs(%e : {y_ty}) {{",
                  "  ^bb0(%v: f32, %o: f32):",
                  "    %r = arith.maximumf %v, %zero : f32",
                  "    linalg.yield %r : f32",
                  f"  }} -> {y_ty}"]
    return "\n".join(lines + [f"  return %y : {y_ty}", "}", ""])


def _inputs(dims, epilogue: str, rng, batch=None):
    n, c, h, w, f, k = dims[:6]
    x = rng.standard_normal((batch or n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((f, c, k, k), dtype=np.float32)
    extra = {"none": [],
             "bias_relu": [rng.standard_normal(f, dtype=np.float32)],
             "bn_relu": [rng.uniform(0.5, 2.0, f).astype(np.float32),
                         rng.standard_normal(f, dtype=np.float32),
                         rng.standard_normal(f, dtype=np.float32),
                         rng.uniform(0.5, 2.0, f).astype(np.float32)]}[epilogue]
    return [x, wt] + extra


def _reference(dims, epilogue: str, x, wt, *params):
    stride, pad = dims[6], dims[7]
    stride = stride if isinstance(stride, tuple) else (stride, stride)
    y = conv2d_nchw_reference(x, wt, pad=(pad,) * 4, stride=stride)
    per_channel = [np.asarray(p, np.float64)[None, :, None, None] for p in params]
    if epilogue == "bias_relu":
        y = np.maximum(y + per_channel[0], 0.0)
    elif epilogue == "bn_relu":
        gamma, beta, mean, var = per_channel
        y = np.maximum((y - mean) / np.sqrt(var + EPS) * gamma + beta, 0.0)
    return y


def _cases():
    return [(f"{conv}_{epi}", CONVS[conv], epi) for conv in CONVS for epi in EPILOGUES]


@pytest.mark.parametrize("fused", [False, True], ids=["unfused", "fused"])
def test_conv_sizes(rng, fused):
    cases = _cases()
    module = compile_ir(HEADER + "".join(_conv_func(*case) for case in cases),
                        patterns=None if fused else [])
    groups = [g.pattern for g in module.detected_patterns()]
    expected = sum(epi != "none" for _, _, epi in cases) if fused else 0
    assert groups == ["ConvBnRelu"] * expected
    for name, dims, epi in cases:
        args = _inputs(dims, epi, rng)
        assert_close(module[name](*args), _reference(dims, epi, *args), BOUND, name)


def test_conv_dynamic_batch(rng):
    """A ``?`` batch: the ConvBnRelu tile and the unfused conv take one image
    at a time; the same kernel for every batch size."""
    cases = [(f"{conv}_{epi}", CONVS[conv], epi)
             for conv in ("k3s1p1_7x7", "k3s2p1_9x9", "k1s1_7x7") for epi in ("none", "bn_relu")]
    module = compile_ir(HEADER + "".join(_conv_func(*case, batch="?") for case in cases))
    assert [g.pattern for g in module.detected_patterns()] == ["ConvBnRelu"] * 3
    for batch in (1, 3):
        for name, dims, epi in cases:
            args = _inputs(dims, epi, rng, batch=batch)
            assert_close(module[name](*args), _reference(dims, epi, *args), BOUND,
                         f"{name} batch {batch}")



def test_conv_avx2_build(rng, monkeypatch):
    """The AVX2 register block (6 channels x 16 columns: 9 and 11 channels
    leave peeled blocks of 3 and 5), built for a CPU without AVX-512."""
    from axfusion import host
    from axfusion.passes import matmul_schedule
    features = host.cpu_features()
    if "avx2" not in features or "fma" not in features:
        pytest.skip("host has no AVX2 + FMA")
    avx2 = frozenset(f for f in features if not f.startswith("avx512"))
    monkeypatch.setenv("AXFUSION_IN_PROCESS", "1")
    monkeypatch.setattr(host, "cpu_features", lambda: avx2)
    assert matmul_schedule.host_kernel().rows == 6
    cases = [(f"{conv}_{epi}", CONVS[conv], epi)
             for conv in ("k3s21p1_9x7", "k1s1_7x7", "k3s1p1_20x37") for epi in ("none", "bn_relu")]
    module = compile_ir(HEADER + "".join(_conv_func(*case) for case in cases), cache=False)
    for name, dims, epi in cases:
        args = _inputs(dims, epi, rng)
        assert_close(module[name](*args), _reference(dims, epi, *args), BOUND, name)
