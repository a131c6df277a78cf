"""Signatures of compiled entry points: names, shapes and dtypes of arguments
and results. These are plain data: they live in the manifest and drive the
runtime's argument checks."""

from __future__ import annotations

from dataclasses import dataclass

# MLIR element type -> numpy dtype name. i1 and bf16 have no numpy dtype the
# runtime can pass through without a conversion, so they are refused at the
# function boundary (importer.py says so with the location).
DTYPES = {"f16": "float16", "f32": "float32", "f64": "float64",
          "i8": "int8", "i16": "int16", "i32": "int32", "i64": "int64"}


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int | None, ...]   # None: a dynamic (``?``) size
    dtype: str  # numpy dtype name

    def __str__(self) -> str:
        short = {v: k for k, v in DTYPES.items()}[self.dtype]
        return f"{short}[{','.join('?' if d is None else str(d) for d in self.shape)}]"

    @property
    def is_static(self) -> bool:
        return None not in self.shape

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype}

    @staticmethod
    def from_json(data: dict) -> "TensorSpec":
        return TensorSpec(tuple(data["shape"]), data["dtype"])


@dataclass(frozen=True)
class FunctionSignature:
    name: str
    args: tuple[TensorSpec, ...]
    results: tuple[TensorSpec, ...]
    arg_names: tuple[str, ...] = ()
    # Messages of the size checks of the result-shape function (dynamic
    # results only): check k failed -> checks[k - 1].
    checks: tuple[str, ...] = ()

    def __str__(self) -> str:
        names = self.arg_names or tuple(f"arg{i}" for i in range(len(self.args)))
        args = ", ".join(f"{n}: {a}" for n, a in zip(names, self.args))
        if len(self.results) == 1:
            res = str(self.results[0])
        else:
            res = "(" + ", ".join(map(str, self.results)) + ")"
        return f"{self.name}({args}) -> {res}"

    def to_json(self) -> dict:
        return {"name": self.name, "args": [a.to_json() for a in self.args],
                "results": [r.to_json() for r in self.results],
                "arg_names": list(self.arg_names), "checks": list(self.checks)}

    @staticmethod
    def from_json(data: dict) -> "FunctionSignature":
        return FunctionSignature(
            data["name"], tuple(TensorSpec.from_json(a) for a in data["args"]),
            tuple(TensorSpec.from_json(r) for r in data["results"]),
            tuple(data.get("arg_names", ())), tuple(data.get("checks", ())))


# ``@f`` with dynamic result sizes comes with ``@f<suffix>``: the sizes as
# one i64 array, computed from the arguments (passes/result_shapes.py).
RESULT_SHAPES_SUFFIX = "__axf_result_shapes"
