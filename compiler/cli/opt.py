"""``axfusion-opt``: run axfusion passes and upstream pipelines on an .mlir
file and print the result, like ``mlir-opt`` (and usable from lit RUN lines).

    axfusion-opt in.mlir --axf-bufferize
    axfusion-opt in.mlir --pass-pipeline='builtin.module(canonicalize,cse)'
    axfusion-opt in.mlir --axf-check-input --split-input-file
    axfusion-opt --list-passes

Passes run in the order their flags are given. Diagnostics go to stderr as
``file:line:col: error: message``; the exit status is 1 when any input
failed.
"""

from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="axfusion-opt", description=__doc__.split("\n\n")[0],
        epilog="Pass flags: --axf-NAME (see --list-passes) and --pass-pipeline=TEXT, "
               "applied in the order given.")
    p.add_argument("input", nargs="?", default="-", help="input .mlir file ('-' = stdin)")
    p.add_argument("-o", dest="output", default="-", help="output file")
    p.add_argument("--split-input-file", action="store_true",
                   help="split the input at '// -----' and process each part alone")
    p.add_argument("--mlir-print-debuginfo", action="store_true", help="print locations")
    p.add_argument("--print-ir-after-all", action="store_true", help="dump IR after each pass")
    p.add_argument("--no-verify", action="store_true", help="skip the verifier between passes")
    p.add_argument("--list-passes", action="store_true", help="list axfusion passes and exit")
    return p


def _pass_elements(unknown: list[str], parser) -> list[str]:
    from axfusion.passes.registry import is_known
    elements = []
    for arg in unknown:
        if arg.startswith("--pass-pipeline="):
            text = arg.split("=", 1)[1].strip()
            if text.startswith("builtin.module(") and text.endswith(")"):
                text = text[len("builtin.module("):-1]
            if text:
                elements.append(text)
        elif arg.startswith("--") and is_known(arg[2:]):
            elements.append(arg[2:])
        else:
            parser.error(f"unknown option {arg!r} (see --list-passes)")
    return elements


def _chunks(text: str, split: bool) -> list[tuple[int, str]]:
    """(first line number - 1, text) per part; lines keep their numbers."""
    if not split:
        return [(0, text)]
    parts, line = [], 0
    current: list[str] = []
    for raw in text.splitlines(keepends=True):
        if raw.strip() == "// -----":
            parts.append((line - len(current), "".join(current)))
            current = []
        else:
            current.append(raw)
        line += 1
    parts.append((line - len(current), "".join(current)))
    return parts


def main(argv: list[str] | None = None) -> int:
    import axfusion.passes  # noqa: F401  (registers the passes)
    from axfusion._mlir import MLIRError, ir
    from axfusion.diagnostics import format_diagnostics
    from axfusion.passes.registry import build_pass_manager, describe

    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if args.list_passes:
        for name, description in describe():
            print(f"  --{name:28} {description}")
        return 0
    elements = _pass_elements(unknown, parser)
    try:  # a bad --pass-pipeline is a usage error, not a traceback
        with ir.Context():
            build_pass_manager(elements)
    except ValueError as exc:
        print(f"axfusion-opt: error: {exc}", file=sys.stderr)
        return 2
    name = "<stdin>" if args.input == "-" else args.input
    try:
        text = sys.stdin.read() if args.input == "-" else open(args.input).read()
    except OSError as exc:
        print(f"axfusion-opt: cannot read {name}: {exc.strerror}", file=sys.stderr)
        return 1

    outputs, failed = [], False
    for offset, chunk in _chunks(text, args.split_input_file):
        context = ir.Context()
        try:
            with context:
                if args.input != "-" and not args.split_input_file:
                    module = ir.Module.parseFile(args.input)  # locations name the file
                else:
                    # Leading newlines keep line numbers those of the whole file.
                    module = ir.Module.parse("\n" * offset + chunk)
                pm = build_pass_manager(elements, print_ir_after_all=args.print_ir_after_all,
                                        verify_each=not args.no_verify)
                pm.run(module.operation)
                outputs.append(module.operation.get_asm(
                    enable_debug_info=args.mlir_print_debuginfo))
        except MLIRError as exc:
            failed = True
            for line in format_diagnostics(exc.error_diagnostics, stdin_name=name) or [
                    f"{name}: error: {exc.message}"]:
                print(line, file=sys.stderr)
    result = "// -----\n".join(outputs)
    if args.output == "-":
        sys.stdout.write(result)
    else:
        with open(args.output, "w") as f:
            f.write(result)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
