"""``axfusec``: the axfusion compiler driver.

    axfusec model.mlir --target=cpu -o out/     # module.so + manifest.json
    axfusec model.mlir --run                    # check against the reference lowering
    axfusec model.mlir --bench                  # time optimised vs reference
    axfusec model.mlir --emit=llvm-ir           # stop early and print
    axfusec model.mlir --report                 # fusion groups and near misses
    axfusec model.mlir --bisect                 # which fusion group breaks the numbers?
    axfusec model.py:make_model --example-shape 8,3,32,32 --run   # a PyTorch model:
                                                # --run/--bench against PyTorch eager

Exit status: 0 success; 1 compile error (or artifact for another CPU);
2 bad command line; 3 ``--run`` found an error above ``--rtol``, or
``--bisect`` found a group that differs; 4 toolchain missing or failing.
"""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="axfusec", description="Compile linalg-on-tensors MLIR "
                                "to a native kernel library, and run or time it.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("input", help="model .mlir file ('-' reads standard input), or a Python "
                   "file and the function or class in it that returns an nn.Module: "
                   "model.py:make_model")
    p.add_argument("--target", default="cpu", help="cpu (default) or cuda")
    p.add_argument("-o", dest="output", help="write the artifact folder here")
    p.add_argument("--emit", choices=["linalg", "llvm-dialect", "llvm-ir", "asm"],
                   help="stop after this stage and print its output")
    p.add_argument("--run", action="store_true",
                   help="run each entry point on random inputs against the reference lowering")
    p.add_argument("--bench", action="store_true",
                   help="median time of the optimised build vs the reference build")
    p.add_argument("--print-ir-after-all", action="store_true",
                   help="dump the IR after every pass and stage (to stderr)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument("--patterns", default="all",
                   help="fusion patterns, comma-separated FusionPattern names; 'all' (default) "
                        "or 'none' (the unfused build)")
    p.add_argument("--report", action="store_true",
                   help="print the fusion report: groups, source ops, bytes saved, near misses")
    p.add_argument("--report-json", metavar="PATH", help="write the fusion report as JSON")
    p.add_argument("--report-dot", metavar="PATH",
                   help="write the op graph with fusion groups boxed, as Graphviz DOT")
    p.add_argument("--bisect", action="store_true",
                   help="find the first fusion group whose result differs from the same ops "
                        "compiled unfused (tolerance --rtol, default 1e-4 here)")
    p.add_argument("--rtol", type=float, default=None,
                   help="--run and --bisect fail above this max relative error (default "
                        "1e-4: float32 sums in another order)")
    p.add_argument("--seed", type=int, default=None, help="seed for --run/--bench inputs")
    p.add_argument("--repeats", type=int, default=21, help="--bench samples per build")
    p.add_argument("--dynamic-size", type=int, default=8, metavar="N",
                   help="--run/--bench: the size of every dynamic (?) dimension (default 8)")
    p.add_argument("--example-shape", action="append", metavar="SHAPE",
                   help="Python models: the shape of an input, e.g. 8,3,32,32 (once per input)")
    p.add_argument("--example-dtype", action="append", metavar="DTYPE",
                   help="Python models: torch dtype of the inputs (default float32; once for "
                        "all, or once per input)")
    return p


def _check(optimised, reference, seed, dynamic_size: int = 8) -> bool:
    import numpy as np

    from axfusion.measure import max_rel_error, random_inputs
    rng = np.random.default_rng(seed)
    ok = True
    for name, sig in optimised.functions.items():
        args = random_inputs(sig, rng, dynamic_size)
        got, want = optimised[name](*args), reference[name](*args)
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple) else (want,)
        errors = [max_rel_error(g, w) for g, w in zip(got, want)]
        worst = max(errors, default=0.0)
        status = "ok" if worst <= _check.rtol else "MISMATCH"
        ok &= worst <= _check.rtol
        print(f"{name:24} max relative error {worst:.3e}  (rtol {_check.rtol:g})  {status}")
    return ok


def _bench(optimised, reference, seed, repeats, dynamic_size: int = 8) -> None:
    import numpy as np

    from axfusion import host
    from axfusion.measure import interleaved_medians, random_inputs
    rng = np.random.default_rng(seed)
    print(f"CPU: {host.cpu_model()} (llc -mcpu={host.cpu_name()}); medians of {repeats} "
          "interleaved samples after warm-up")
    print(f"{'function':24} {'optimised':>12} {'reference':>12} {'speed-up':>9}")
    for name, sig in optimised.functions.items():
        args = random_inputs(sig, rng, dynamic_size)
        outs = optimised[name](*args)
        med = interleaved_medians({
            "opt": lambda: optimised[name](*args, out=outs),
            "ref": lambda: reference[name](*args, out=outs)}, repeats=repeats, min_time=2e-3)
        print(f"{name:24} {med['opt'] * 1e6:10.1f}us {med['ref'] * 1e6:10.1f}us "
              f"{med['ref'] / med['opt']:8.2f}x")


def _patterns(text: str):
    if text == "all":
        return None
    if text == "none":
        return []
    return [p.strip() for p in text.split(",") if p.strip()]


def main(argv: list[str] | None = None) -> int:
    import axfusion
    from axfusion.errors import AxfusionError, ToolchainError
    from axfusion.frontends import pyfile

    args = _parser().parse_args(argv)
    python_model = pyfile.is_model_file(args.input)
    if not python_model and (args.example_shape or args.example_dtype):
        print("axfusec: error: --example-shape/--example-dtype are for Python model files; "
              "an .mlir file carries its own shapes", file=sys.stderr)
        return 2
    source = sys.stdin.read() if args.input == "-" else args.input
    _check.rtol = 1e-4 if args.rtol is None else args.rtol
    patterns = _patterns(args.patterns)
    try:
        if python_model:
            return pyfile.run(args, patterns)
        if args.bisect:
            result = axfusion.bisect(source, args.target, patterns=patterns,
                                     rtol=1e-4 if args.rtol is None else args.rtol,
                                     seed=args.seed)
            print(result)
            return 3 if result.culprit is not None else 0
        if args.emit:
            sys.stdout.write(axfusion.emit(source, args.emit, args.target, patterns=patterns,
                                           print_ir_after_all=args.print_ir_after_all))
            return 0
        if args.output:
            out = axfusion.compile_to(source, args.output, args.target, patterns=patterns,
                                      print_ir_after_all=args.print_ir_after_all)
            module = axfusion.load(out)
            print(f"wrote {out}/module.so and {out}/manifest.json")
        elif args.print_ir_after_all:
            axfusion.emit(source, "link", args.target, patterns=patterns,
                          print_ir_after_all=True)
            module = axfusion.compile(source, args.target, cache=not args.no_cache,
                                      patterns=patterns)
        else:
            module = axfusion.compile(source, args.target, cache=not args.no_cache,
                                      patterns=patterns)
        print(module)
        module.report().show(args.report, args.report_json, args.report_dot)
        if args.run or args.bench:
            reference = axfusion.compile(source, args.target, cache=not args.no_cache,
                                         optimize=False)
            if args.run and not _check(module, reference, args.seed, args.dynamic_size):
                return 3
            if args.bench:
                _bench(module, reference, args.seed, args.repeats, args.dynamic_size)
        return 0
    except pyfile.ModelFileError as exc:
        print(f"axfusec: error: {exc}", file=sys.stderr)
        return 2
    except ToolchainError as exc:
        print(f"axfusec: error: {exc}", file=sys.stderr)
        return 4
    except AxfusionError as exc:
        print(f"axfusec: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
