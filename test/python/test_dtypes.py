"""Element types at the function boundary: f64, i32, i64 and f16 are accepted
and compute the right numbers; i1, bf16, unranked and complex tensors are refused at
import with a CompileError that says why and where."""

from __future__ import annotations

import re

import numpy as np
import pytest

import axfusion
from conftest import assert_close, compile_ir


def _axpy(elem: str) -> str:
    """y = a * x + b, element-wise over a 2-D tensor, with ``b`` a row
    vector broadcast over rows."""
    kind = "f" if elem.startswith("f") else "i"
    mul, add = f"arith.mul{kind}", f"arith.add{kind}"
    t = f"tensor<5x7x{elem}>"
    return f"""
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
func.func @forward(%a: {t}, %x: {t}, %b: tensor<7x{elem}>) -> {t} {{
  %init = tensor.empty() : {t}
  %y = linalg.generic {{indexing_maps = [#id, #id, #row, #id], iterator_types = ["parallel", "parallel"]}}
      ins(%a, %x, %b : {t}, {t}, tensor<7x{elem}>) outs(%init : {t}) {{
  ^bb0(%va: {elem}, %vx: {elem}, %vb: {elem}, %o: {elem}):
    %m = {mul} %va, %vx : {elem}
    %s = {add} %m, %vb : {elem}
    linalg.yield %s : {elem}
  }} -> {t}
  return %y : {t}
}}
"""


# (MLIR type, numpy dtype, bound on the relative error vs float64)
ACCEPTED = [
    ("f64", np.float64, 1e-14),   # two roundings in float64
    ("f32", np.float32, 1e-6),
    # two float16 roundings (unit roundoff 4.9e-4) of values up to a few
    # times max |want|
    ("f16", np.float16, 5e-3),
    ("i32", np.int32, 0.0),       # integers are exact
    ("i64", np.int64, 0.0),
]


@pytest.mark.parametrize("elem,dtype,bound", ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_boundary_dtype_accepted(elem, dtype, bound, rng):
    mod = compile_ir(_axpy(elem))
    sig = mod.functions["forward"]
    assert [s.dtype for s in sig.args] == [np.dtype(dtype).name] * 3
    assert sig.results[0].dtype == np.dtype(dtype).name
    if np.dtype(dtype).kind == "f":
        a, x, b = (rng.standard_normal(s).astype(dtype) for s in ((5, 7), (5, 7), (7,)))
    else:
        # Large enough to overflow int16 but not the type itself.
        a, x, b = (rng.integers(-3000, 3000, size=s).astype(dtype) for s in ((5, 7), (5, 7), (7,)))
    got = mod.forward(a, x, b)
    assert got.dtype == dtype
    want = a.astype(np.float64) * x.astype(np.float64) + b.astype(np.float64)
    assert_close(got, want, bound)
    if bound == 0.0:
        np.testing.assert_array_equal(got, a * x + b)


def _identity(ty: str) -> str:
    return f"func.func @forward(%x: {ty}) -> {ty} {{\n  return %x : {ty}\n}}\n"


REFUSED = [
    ("tensor<4xi1>", r"i1 tensors cannot cross the function boundary"),
    ("tensor<4xbf16>", r"bf16 tensors have no numpy dtype"),
    ("tensor<*xf32>", r"not a ranked tensor"),
    ("tensor<4xcomplex<f32>>", r"element type complex<f32> is not supported"),
]


@pytest.mark.parametrize("ty,why", REFUSED, ids=[r[0] for r in REFUSED])
def test_boundary_type_refused(ty, why, tmp_path):
    path = tmp_path / "model.mlir"
    path.write_text(_identity(ty))
    with pytest.raises(axfusion.CompileError) as info:
        axfusion.compile(path)
    err = info.value
    assert err.stage == "import"
    text = str(err)
    assert re.search(why, text), text
    assert f"entry point @forward argument 0: {ty}" in text or \
        f"entry point @forward argument 0: type {ty}" in text, text
    # The location names the file and the func.func line.
    assert f"{path}:1:1: error:" in text, text
    assert err.diagnostics and all(str(path) in d for d in err.diagnostics)


def test_i1_inside_a_function_is_not_a_boundary_problem():
    """i1 is refused only where it crosses the boundary: a comparison result
    widened to i8 inside the function is accepted by the import check."""
    text = """
#id = affine_map<(d0) -> (d0)>
func.func @forward(%x: tensor<8xf32>) -> tensor<8xi8> {
  %zero = arith.constant 0.0 : f32
  %init = tensor.empty() : tensor<8xi8>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%x : tensor<8xf32>) outs(%init : tensor<8xi8>) {
  ^bb0(%v: f32, %o: i8):
    %c = arith.cmpf ogt, %v, %zero : f32
    %w = arith.extui %c : i1 to i8
    linalg.yield %w : i8
  } -> tensor<8xi8>
  return %y : tensor<8xi8>
}
"""
    mod = compile_ir(text)
    x = np.array([-1.5, 0.0, 2.0, -0.0, 3.0, -7.0, 1e-30, np.inf], dtype=np.float32)
    np.testing.assert_array_equal(mod.forward(x), (x > 0).astype(np.int8))
