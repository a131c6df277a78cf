"""The flash-attention kernel the ``Attention`` pattern (``attention.py``)
puts in place of the attention core, written as MLIR text for static
sequence lengths and head sizes (the batch may be ``?``).

One ``scf.forall`` iteration per (batch indices of the score matrix, block
of ``Br`` queries); inside it an ``scf.for`` over blocks of ``Bc`` keys
carries the running row max ``m``, the running sum ``l`` and the
accumulator ``acc[Br, Dv]`` (online softmax). Scores are computed
transposed, ``S^T = K_blk . Q_blk^T`` with ``Q`` pre-scaled by
``scale * log2(e)``, so every exponential is an ``exp2`` and the innermost
loop of every block op runs along the queries (contiguous, vectorisable by
LLVM after ``convert-linalg-to-loops``)::

    %out = scf.forall (%b0, ..., %qb) in (B0, ..., Sq/Br) shared_outs(%o = %empty) {
      %qt = Q[bh, qb*Br : +Br, :]^T * (scale * log2 e)       // [D, Br]
      %m, %l, %acc, ... = scf.for %j0 = 0 to Sk step Bc iter_args(-1e30, 0, 0, ...) {
        %s   = mask[.., i, j]^T * (mask_scale * log2 e)       // or 0; [Bc, Br]
        %s   = %s + K[bh, j0 : +Bc, :] . %qt                  // [Bc, Br]
        %bm  = max_j %s
        %m', %l', %alpha = max(%m, %bm), %l * 2^(%m - %m'), 2^(%m - %m')
        %p   = 2^(%s - %m')                                    // in place of %s
        %l'  = %l' + sum_j %p
        %acc = %acc * %alpha + %p^T . V[bh, j0 : +Bc, :]
      }
      %o[bh, qb*Br : +Br, :] = %acc / %l
    }

With a ``?`` outermost batch dim (``spec.score_batch[0] is None``) the
kernel's outermost loop runs to ``dim(%v, 0) floordiv (the other batch
dims)`` and the output is ``tensor.empty(dim(%v, 0))``; with ``spec.bcast``
it takes an index %bc and reads Q, K and the mask at batch
``select(%bc == 1, 0, b0)`` (torch-mlir's broadcast of a ``?`` batch).

In safe mode (PyTorch's ``_safe_softmax``, ``spec.safe``) a row whose
every score is -inf gives 0, exactly: ``m`` starts at -inf instead of
-1e30 (so only such rows keep it), the two subtractions of the running max
subtract 0 where it is still -inf (-inf - -inf would be NaN; 2^-inf is the
0 those rows need), and the last step writes 0 where ``m`` is -inf instead
of ``0 / 0``. Without it the kernel text is unchanged: such a row is NaN,
as in ``torch.softmax``.

Scratch per task is O(Br * Bc + Br * Dv + Bc * (D + Dv)); the [Sq, Sk]
score matrix never exists. The pipeline has no vectoriser of its own, so
the text is shaped for LLVM's:

- ``math.exp2`` would lower to a scalar libm call per element, so the
  kernel carries its own exp2 (clamp, ``math.roundeven``, degree-7
  polynomial with ``math.fma``, 2^n by building the exponent bits);
- the two block products are 5-loop generics over tensors reshaped into
  register tiles (4 keys x 16 queries of S^T, 4 queries x 16 of acc) as the
  two innermost loops: LLVM unrolls them, keeps the tile in registers across
  the reduction loop and turns it into vector FMAs;
- every buffer those loops touch is the kernel's own: scratch tensors are
  ``bufferization.to_tensor`` of a ``memref.alloc`` without an alignment
  (a plain malloc, which LLVM knows aliases nothing; the aligned allocations
  of bufferization go through ``inttoptr``), and the K and V blocks are
  copied into such buffers. Otherwise a load from K or V may alias the tile
  as far as LLVM knows, and the tile is stored and reloaded every step
  (measured: 3-6x slower). The scratch tensors travel as ``scf.for``
  iter_args so bufferization writes them in place.

Each linalg op carries ``axf.role`` (q, mask, scores, max, exp, sum, pv,
div): the step of the original core it implements, so the pattern can give
it that op's location (and then drops the attribute).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LOG2E = 1.0 / math.log(2.0)

# Taylor coefficients of 2^f = e^(f ln 2) for |f| <= 1/2: error < 1e-8.
_EXP2_COEFFS = [math.log(2.0) ** k / math.factorial(k) for k in range(8)]


@dataclass(frozen=True)
class KernelSpec:
    """Everything the kernel text depends on."""
    # Batch dims of the score space (b..., i, j); the first may be None (`?`):
    # its loop then runs to dim 0 of V (the output's lead) over the rest.
    score_batch: tuple[int | None, ...]
    q_type: str                      # Q as the first contraction reads it: [BH?, Sq, D]
    k_type: str                      # K (layout "k": [BH?, Sk, D]) or K^T ("kt": [BH?, D, Sk])
    k_layout: str                    # "k" or "kt"
    v_type: str                      # [BH?, Sk, Dv]
    out_type: str                    # [BH?, Sq, Dv]: the second contraction's result
    batched: bool                    # Q/K/V/out carry a leading batch dim (BH)
    sq: int
    sk: int
    d: int
    dv: int
    scale: float                     # scores = scale * Q K^T + mask_scale * mask
    mask_type: str | None = None
    mask_scale: float = 0.0
    # Per mask dim: "b<k>" (score batch dim k), "i", "j", or "0" (a broadcast
    # dim of size 1).
    mask_dims: tuple[str, ...] = ()
    br: int = 64
    bc: int = 128
    # PyTorch's _safe_softmax: a row whose every score is -inf gives zeros.
    safe: bool = False
    # torch-mlir's `?`-batch broadcast of the probabilities: the kernel takes
    # one more argument, %bc: index; where it is 1, every output batch index
    # b0 reads Q, K and the mask at score batch 0 (V and the output at b0).
    bcast: bool = False


def block_size(n: int, most: int, whole_up_to: int, least: int = 8) -> int | None:
    """The largest divisor of ``n`` that is at most ``most`` (at least
    ``least``), else ``n`` itself when ``n <= whole_up_to``, else None."""
    if n <= most:
        return n
    best = max(d for d in range(1, most + 1) if n % d == 0)
    if best >= least:
        return best
    return n if n <= whole_up_to else None


def _tile(n: int, prefs) -> int:
    return next((t for t in prefs if n % t == 0), 1)


def _f(x: float) -> str:
    return f"{float(x):.9e}"


def _exp2(x: str, out: str, p: str) -> list[str]:
    """Lines computing ``out = 2^x`` (f32) with the polynomial above; uses
    constants %k_lo, %k_hi, %k_c0..%k_c7, %k_127, %k_23 defined by the caller."""
    lines = [
        f"%{p}cl = arith.maximumf {x}, %k_lo : f32",
        f"%{p}xc = arith.minimumf %{p}cl, %k_hi : f32",
        f"%{p}n = math.roundeven %{p}xc : f32",
        f"%{p}f = arith.subf %{p}xc, %{p}n : f32",
        f"%{p}h7 = math.fma %k_c7, %{p}f, %k_c6 : f32",
    ]
    prev = f"%{p}h7"
    for k in range(5, -1, -1):
        lines.append(f"%{p}h{k} = math.fma {prev}, %{p}f, %k_c{k} : f32")
        prev = f"%{p}h{k}"
    lines += [
        f"%{p}ni = arith.fptosi %{p}n : f32 to i32",
        f"%{p}nb = arith.addi %{p}ni, %k_127 : i32",
        f"%{p}bits = arith.shli %{p}nb, %k_23 : i32",
        f"%{p}two = arith.bitcast %{p}bits : i32 to f32",
        f"%{out} = arith.mulf {prev}, %{p}two : f32",
    ]
    return lines


def _tensor(shape, elem="f32") -> str:
    return "tensor<" + "".join(f"{s}x" for s in shape) + f"{elem}>"


def kernel_text(spec: KernelSpec, name: str = "attention") -> str:
    """A ``func.func @name(%q, %k, %v[, %mask]) -> out_type`` computing the
    attention core with the flash algorithm."""
    s = spec

    def _finite_max(m: str, out: str, p: str) -> list[str]:
        """Safe mode: the running max ``m`` is -inf while every score so far
        was -inf; subtract 0 then, since -inf - -inf is NaN (and exp2 of
        -inf - 0 is the 0 those rows need)."""
        if not s.safe:
            return []
        return [f"%{p} = arith.cmpf oeq, {m}, %k_neg : f32",
                f"%{out} = arith.select %{p}, %k_zero, {m} : f32"]

    nb = len(s.score_batch)
    dynamic = nb > 0 and s.score_batch[0] is None
    br, bc, d, dv = s.br, s.bc, s.d, s.dv
    f32 = "f32"
    t_qt, t_s, t_acc, t_row = _tensor([d, br]), _tensor([bc, br]), _tensor([br, dv]), \
        _tensor([br])
    bivs = [f"%b{k}" for k in range(nb)]
    ivs = bivs + ["%qb"]
    ubs = ["%nb0" if n is None else str(n) for n in s.score_batch] + [s.sq // br]
    args = [f"%q: {s.q_type}", f"%k: {s.k_type}", f"%v: {s.v_type}"]
    if s.mask_type:
        args.append(f"%mask: {s.mask_type}")
    if s.bcast:
        args.append("%bc: index")

    L = []
    L.append(f"func.func @{name}({', '.join(args)}) -> {s.out_type} {{")
    if dynamic:
        # `?` batch: the outermost loop runs to V's lead (the output's) over
        # the static batch dims after it.
        rest = math.prod(s.score_batch[1:])
        L.append("  %c0_lead = arith.constant 0 : index")
        L.append(f"  %nv = tensor.dim %v, %c0_lead : {s.v_type}")
        L.append(f"  %nb0 = affine.apply affine_map<()[s0] -> (s0 floordiv {rest})>()[%nv]")
        out_lead = "%nv" if s.out_type.startswith("tensor<?") else ""
        L.append(f"  %out0 = tensor.empty({out_lead}) : {s.out_type}")
    else:
        L.append(f"  %out0 = tensor.empty() : {s.out_type}")
    L.append(f"  %res = scf.forall ({', '.join(ivs)}) in ({', '.join(map(str, ubs))}) "
             f"shared_outs(%out = %out0) -> ({s.out_type}) {{")
    B = []  # forall body
    consts = {
        "k_zero": ("0.0", f32), "k_neg": ("0xFF800000" if s.safe else "-1.0e+30", f32),
        "k_lo": ("-127.0", f32),
        "k_hi": ("127.0", f32), "k_qs": (_f(s.scale * LOG2E), f32),
        "k_ms": (_f(s.mask_scale * LOG2E), f32),
    }
    for k, c in enumerate(_EXP2_COEFFS):
        consts[f"k_c{k}"] = (_f(c), f32)
    for key, (val, ty) in consts.items():
        B.append(f"%{key} = arith.constant {val} : {ty}")
    B.append("%k_127 = arith.constant 127 : i32")
    B.append("%k_23 = arith.constant 23 : i32")
    B.append("%c0 = arith.constant 0 : index")
    B.append(f"%c_sk = arith.constant {s.sk} : index")
    B.append(f"%c_bc = arith.constant {bc} : index")
    # bh: the linear batch index of the contractions (row-major over score batch).
    # bhs: the same for Q, K and the mask, whose score batch index 0 is
    # select(%bc == 1, 0, %b0) under torch-mlir's broadcast (s.bcast).
    sbivs = list(bivs)
    if s.bcast:
        B.append("%c1_bc = arith.constant 1 : index")
        B.append("%bc_one = arith.cmpi eq, %bc, %c1_bc : index")
        B.append("%b0s = arith.select %bc_one, %c0, %b0 : index")
        sbivs[0] = "%b0s"
    if nb:
        strides = [math.prod(s.score_batch[k + 1:]) for k in range(nb)]
        expr = " + ".join(f"d{k} * {st}" for k, st in enumerate(strides))
        dims = ", ".join(f"d{k}" for k in range(nb))
        B.append(f"%bh = affine.apply affine_map<({dims}) -> ({expr})>({', '.join(bivs)})")
        if s.bcast:
            B.append(f"%bhs = affine.apply affine_map<({dims}) -> ({expr})>({', '.join(sbivs)})")
    else:
        B.append("%bh = arith.constant 0 : index")
    bh_s = "%bhs" if s.bcast and nb else "%bh"
    B.append(f"%i0 = affine.apply affine_map<(d0) -> (d0 * {br})>(%qb)")

    def slice_of(src, src_type, offsets, sizes, result_type):
        strides = ", ".join("1" for _ in offsets)
        return (f"tensor.extract_slice {src}[{', '.join(offsets)}] [{', '.join(map(str, sizes))}]"
                f" [{strides}] : {src_type} to {result_type}")

    def scratch(nm, shape):
        """A buffer of its own for a scratch tensor: memref.alloc without an
        alignment attribute lowers to a plain malloc, so LLVM knows it
        aliases nothing (bufferization's aligned allocations go through
        inttoptr, which hides that and keeps every tile in memory)."""
        mt, tt = "memref<" + "".join(f"{x}x" for x in shape) + "f32>", _tensor(shape)
        return [f"%{nm}_buf = memref.alloc() : {mt}",
                f"%{nm} = bufferization.to_tensor %{nm}_buf restrict writable : {mt} to {tt}"]

    lead_off = ["%bh"] if s.batched else []
    lead_size = [1] if s.batched else []
    src_off = [bh_s] if s.batched else []      # Q, K: the score batch index
    B.append("%qs = " + slice_of("%q", s.q_type, src_off + ["%i0", "0"],
                                 lead_size + [br, d], _tensor([br, d])))
    B += scratch("qt0", [d, br])
    B += [
          "%qt = linalg.generic {axf.role = \"q\", indexing_maps = [affine_map<(d, i) -> (i, d)>, "
          "affine_map<(d, i) -> (d, i)>], iterator_types = [\"parallel\", \"parallel\"]} "
          f"ins(%qs : {_tensor([br, d])}) outs(%qt0 : {t_qt}) {{",
          "^bb0(%x: f32, %o: f32):",
          "  %y = arith.mulf %x, %k_qs : f32",
          "  linalg.yield %y : f32",
          f"}} -> {t_qt}"]
    for nm, ty, val in (("m", t_row, "%k_neg"), ("l", t_row, "%k_zero"),
                        ("a", t_acc, "%k_zero")):
        B += scratch(f"{nm}e", [br, dv] if nm == "a" else [br])
        B.append(f"%{nm}0 = linalg.fill {{axf.role = \"{'pv' if nm == 'a' else 'exp'}\"}} "
                 f"ins({val} : f32) outs(%{nm}e : {ty}) -> {ty}")
    # Register tiles: rj keys x ri queries of S^T, pi queries x pe of acc,
    # as the two innermost loops (LLVM unrolls them and keeps the tile in
    # registers across the reduction loop around them).
    rj, ri = _tile(bc, (4, 2)), _tile(br, (16, 8, 4, 2))
    t_k3 = _tensor([bc // rj, rj, d]) if s.k_layout == "k" else _tensor([d, bc // rj, rj])
    k3_map = "(jo, io, dd, ji, ii) -> " + ("(jo, ji, dd)" if s.k_layout == "k" else "(dd, jo, ji)")
    k_assoc = "[[0, 1], [2]]" if s.k_layout == "k" else "[[0], [1, 2]]"
    k_shape = [bc // rj, rj, d] if s.k_layout == "k" else [d, bc // rj, rj]
    t_qt3, t_s4 = _tensor([d, br // ri, ri]), _tensor([bc // rj, rj, br // ri, ri])
    pi, pe = _tile(br, (4, 2)), _tile(dv, (16, 8, 4, 2))
    t_p3, t_v3 = _tensor([bc, br // pi, pi]), _tensor([bc, dv // pe, pe])
    t_acc4 = _tensor([br // pi, pi, dv // pe, pe])
    # The K and V blocks are copied into buffers of their own too: loads
    # from the caller's (or an aligned temporary's) memory may alias the
    # tiles as far as LLVM knows, which would keep the tiles in memory.
    B += scratch("se0", [bc, br]) + scratch("bme0", [br]) + scratch("ale0", [br])
    B += scratch("kb0", k_shape) + scratch("vb0", [bc, dv // pe, pe])
    B.append(f"%r:8 = scf.for %j0 = %c0 to %c_sk step %c_bc iter_args(%m = %m0, %l = %l0, "
             f"%acc = %a0, %se = %se0, %bme = %bme0, %ale = %ale0, %kb = %kb0, %vb = %vb0) -> "
             f"({t_row}, {t_row}, {t_acc}, {t_s}, {t_row}, {t_row}, {t_k3}, {t_v3}) {{")
    F = []  # key-block loop body
    if s.k_layout == "k":
        F.append("%ks = " + slice_of("%k", s.k_type, src_off + ["%j0", "0"],
                                     lead_size + [bc, d], _tensor([bc, d])))
        t_k = _tensor([bc, d])
    else:
        F.append("%ks = " + slice_of("%k", s.k_type, src_off + ["0", "%j0"],
                                     lead_size + [d, bc], _tensor([d, bc])))
        t_k = _tensor([d, bc])
    F.append("%vs = " + slice_of("%v", s.v_type, lead_off + ["%j0", "0"],
                                 lead_size + [bc, dv], _tensor([bc, dv])))
    if s.mask_type:
        offsets, sizes, kept, kept_sizes = [], [], [], []
        for dim in s.mask_dims:
            if dim == "i":
                offsets.append("%i0"), sizes.append(br), kept.append("i"), kept_sizes.append(br)
            elif dim == "j":
                offsets.append("%j0"), sizes.append(bc), kept.append("j"), kept_sizes.append(bc)
            elif dim.startswith("b"):
                offsets.append(sbivs[int(dim[1:])]), sizes.append(1)
            else:
                offsets.append("0"), sizes.append(1)
        t_mask = _tensor(kept_sizes)
        F.append("%mk = " + slice_of("%mask", s.mask_type, offsets, sizes, t_mask))
        F += ["%s0 = linalg.generic {axf.role = \"mask\", indexing_maps = ["
              f"affine_map<(j, i) -> ({', '.join(kept)})>, affine_map<(j, i) -> (j, i)>], "
              "iterator_types = [\"parallel\", \"parallel\"]} "
              f"ins(%mk : {t_mask}) outs(%se : {t_s}) {{",
              "^bb0(%x: f32, %o: f32):",
              "  %y = arith.mulf %x, %k_ms : f32",
              "  linalg.yield %y : f32",
              f"}} -> {t_s}"]
    else:
        F.append(f"%s0 = linalg.fill {{axf.role = \"scores\"}} ins(%k_zero : f32) "
                 f"outs(%se : {t_s}) -> {t_s}")
    F += [f"%ksx = tensor.expand_shape %ks {k_assoc} output_shape {k_shape} : {t_k} into {t_k3}",
          f"%ks3 = linalg.copy {{axf.role = \"scores\"}} ins(%ksx : {t_k3}) outs(%kb : {t_k3}) "
          f"-> {t_k3}",
          f"%qt3 = tensor.expand_shape %qt [[0], [1, 2]] output_shape {[d, br // ri, ri]} : "
          f"{t_qt} into {t_qt3}",
          f"%s04 = tensor.expand_shape %s0 [[0, 1], [2, 3]] output_shape "
          f"{[bc // rj, rj, br // ri, ri]} : {t_s} into {t_s4}",
          "%s4 = linalg.generic {axf.role = \"scores\", indexing_maps = ["
          f"affine_map<{k3_map}>, affine_map<(jo, io, dd, ji, ii) -> (dd, io, ii)>, "
          "affine_map<(jo, io, dd, ji, ii) -> (jo, ji, io, ii)>], iterator_types = "
          "[\"parallel\", \"parallel\", \"reduction\", \"parallel\", \"parallel\"]} "
          f"ins(%ks3, %qt3 : {t_k3}, {t_qt3}) outs(%s04 : {t_s4}) {{",
          "^bb0(%x: f32, %y: f32, %o: f32):",
          "  %z = math.fma %x, %y, %o : f32",
          "  linalg.yield %z : f32",
          f"}} -> {t_s4}",
          f"%s = tensor.collapse_shape %s4 [[0, 1], [2, 3]] : {t_s4} into {t_s}",
          f"%bm0 = linalg.fill {{axf.role = \"max\"}} ins(%k_neg : f32) outs(%bme : {t_row}) "
          f"-> {t_row}",
          "%bm = linalg.generic {axf.role = \"max\", indexing_maps = ["
          "affine_map<(j, i) -> (j, i)>, affine_map<(j, i) -> (i)>], "
          "iterator_types = [\"reduction\", \"parallel\"]} "
          f"ins(%s : {t_s}) outs(%bm0 : {t_row}) {{",
          "^bb0(%x: f32, %o: f32):",
          "  %y = arith.maximumf %x, %o : f32",
          "  linalg.yield %y : f32",
          f"}} -> {t_row}",
          "%u:3 = linalg.generic {axf.role = \"exp\", indexing_maps = [affine_map<(i) -> (i)>, "
          "affine_map<(i) -> (i)>, affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], "
          "iterator_types = [\"parallel\"]} "
          f"ins(%bm : {t_row}) outs(%m, %l, %ale : {t_row}, {t_row}, {t_row}) {{",
          "^bb0(%x: f32, %mo: f32, %lo: f32, %ao: f32):",
          "  %mn = arith.maximumf %mo, %x : f32"]
    F += ["  " + line for line in _finite_max("%mn", "ms", "mz")]
    F += [f"  %dm = arith.subf %mo, {'%ms' if s.safe else '%mn'} : f32"]
    F += ["  " + line for line in _exp2("%dm", "al", "ea_")]
    F += ["  %ls = arith.mulf %lo, %al : f32",
          "  linalg.yield %mn, %ls, %al : f32, f32, f32",
          f"}} -> ({t_row}, {t_row}, {t_row})",
          "%p = linalg.generic {axf.role = \"exp\", indexing_maps = [affine_map<(j, i) -> (i)>, "
          "affine_map<(j, i) -> (j, i)>], iterator_types = [\"parallel\", \"parallel\"]} "
          f"ins(%u#0 : {t_row}) outs(%s : {t_s}) {{",
          "^bb0(%mv: f32, %o: f32):"]
    F += ["  " + line for line in _finite_max("%mv", "mvs", "mvz")]
    F += [f"  %ds = arith.subf %o, {'%mvs' if s.safe else '%mv'} : f32"]
    F += ["  " + line for line in _exp2("%ds", "e", "ep_")]
    F += ["  linalg.yield %e : f32",
          f"}} -> {t_s}",
          "%ln = linalg.generic {axf.role = \"sum\", indexing_maps = ["
          "affine_map<(j, i) -> (j, i)>, affine_map<(j, i) -> (i)>], "
          "iterator_types = [\"reduction\", \"parallel\"]} "
          f"ins(%p : {t_s}) outs(%u#1 : {t_row}) {{",
          "^bb0(%x: f32, %o: f32):",
          "  %y = arith.addf %o, %x : f32",
          "  linalg.yield %y : f32",
          f"}} -> {t_row}",
          "%as = linalg.generic {axf.role = \"pv\", indexing_maps = [affine_map<(i, e) -> (i)>, "
          "affine_map<(i, e) -> (i, e)>], iterator_types = [\"parallel\", \"parallel\"]} "
          f"ins(%u#2 : {t_row}) outs(%acc : {t_acc}) {{",
          "^bb0(%x: f32, %o: f32):",
          "  %y = arith.mulf %o, %x : f32",
          "  linalg.yield %y : f32",
          f"}} -> {t_acc}",
          f"%p3 = tensor.expand_shape %p [[0], [1, 2]] output_shape {[bc, br // pi, pi]} : "
          f"{t_s} into {t_p3}",
          f"%vsx = tensor.expand_shape %vs [[0], [1, 2]] output_shape {[bc, dv // pe, pe]} : "
          f"{_tensor([bc, dv])} into {t_v3}",
          f"%vs3 = linalg.copy {{axf.role = \"pv\"}} ins(%vsx : {t_v3}) outs(%vb : {t_v3}) "
          f"-> {t_v3}",
          f"%as4 = tensor.expand_shape %as [[0, 1], [2, 3]] output_shape "
          f"{[br // pi, pi, dv // pe, pe]} : {t_acc} into {t_acc4}",
          "%an4 = linalg.generic {axf.role = \"pv\", indexing_maps = ["
          "affine_map<(io, eo, j, ii, ei) -> (j, io, ii)>, "
          "affine_map<(io, eo, j, ii, ei) -> (j, eo, ei)>, "
          "affine_map<(io, eo, j, ii, ei) -> (io, ii, eo, ei)>], iterator_types = "
          "[\"parallel\", \"parallel\", \"reduction\", \"parallel\", \"parallel\"]} "
          f"ins(%p3, %vs3 : {t_p3}, {t_v3}) outs(%as4 : {t_acc4}) {{",
          "^bb0(%x: f32, %y: f32, %o: f32):",
          "  %z = math.fma %x, %y, %o : f32",
          "  linalg.yield %z : f32",
          f"}} -> {t_acc4}",
          f"%an = tensor.collapse_shape %an4 [[0, 1], [2, 3]] : {t_acc4} into {t_acc}",
          f"scf.yield %u#0, %ln, %an, %p, %bm, %u#2, %ks3, %vs3 : {t_row}, {t_row}, {t_acc}, "
          f"{t_s}, {t_row}, {t_row}, {t_k3}, {t_v3}"]
    B += ["  " + line for line in F]
    B.append("}")
    B.append("%os = " + slice_of("%out", s.out_type, lead_off + ["%i0", "0"],
                                 lead_size + [br, dv], t_acc))
    # Safe mode: 0, not 0/0, where the row max stayed -inf (every score -inf).
    m_in = (", %r#0", f", {t_row}", " %mv: f32,") if s.safe else ("", "", "")
    B += ["%o = linalg.generic {axf.role = \"div\", indexing_maps = [affine_map<(i, e) -> (i, e)>, "
          + "affine_map<(i, e) -> (i)>, " * (2 if s.safe else 1) + "affine_map<(i, e) -> (i, e)>], "
          "iterator_types = [\"parallel\", \"parallel\"]} "
          f"ins(%r#2, %r#1{m_in[0]} : {t_acc}, {t_row}{m_in[1]}) outs(%os : {t_acc}) {{",
          f"^bb0(%x: f32, %y: f32,{m_in[2]} %o: f32):"]
    B += ["  %dq = arith.divf %x, %y : f32",
          "  %masked = arith.cmpf oeq, %mv, %k_neg : f32",
          "  %z = arith.select %masked, %k_zero, %dq : f32"] if s.safe else \
        ["  %z = arith.divf %x, %y : f32"]
    B += ["  linalg.yield %z : f32",
          f"}} -> {t_acc}",
          "scf.forall.in_parallel {",
          f"  tensor.parallel_insert_slice %o into %out[{', '.join(lead_off + ['%i0', '0'])}] "
          f"[{', '.join(map(str, lead_size + [br, dv]))}] "
          f"[{', '.join('1' for _ in lead_off + [0, 0])}] : {t_acc} into {s.out_type}",
          "}"]
    L += ["    " + line for line in B]
    L.append("  }")
    L.append(f"  return %res : {s.out_type}")
    L.append("}")
    return "\n".join(L) + "\n"
