"""The compile worker: ``python -m axfusion.worker REQUEST.json``.

Runs one build (``build.build``) in its own process. The MLIR wheels are
built with assertions, and a pass that trips one aborts its process; here
that process is this worker, and the caller turns the abort into a
``CompileError`` naming the stage (read from ``progress.jsonl``). The result,
or a raised error, is written to ``result.json`` in the work folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def serve(request: dict) -> dict:
    from .build import build
    from .errors import CompileError, ToolchainError
    from .importer import Source
    from .pipeline import BuildContext

    work_dir = Path(request["work_dir"])
    ctx = BuildContext(
        work_dir=work_dir,
        save_temps=Path(request["save_temps"]) if request.get("save_temps") else None,
        print_ir_after_all=request.get("print_ir_after_all", False),
        verify_each=request.get("verify_each", True),
        emit_asm=request.get("emit_asm", False))
    source = Source(Path(request["source_text"]).read_text(), request.get("source_path"))
    try:
        return {"ok": True, **build(source, request["target"], ctx, cc=request["cc"],
                                     stop_after=request.get("stop_after"))}
    except ToolchainError as exc:
        return {"ok": False, "error": {"kind": "ToolchainError", "message": exc.args[0],
                                       "command": exc.command, "output": exc.output}}
    except CompileError as exc:
        return {"ok": False, "error": exc.to_json()}


def main(argv: list[str]) -> int:
    request_path = Path(argv[0])
    request = json.loads(request_path.read_text())
    result = serve(request)
    tmp = request_path.with_name("result.json.tmp")
    tmp.write_text(json.dumps(result))
    tmp.rename(request_path.with_name("result.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
