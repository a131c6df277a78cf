"""One build: run a backend's stages on a source and write the artifact
folder (library + manifest), or stop at a stage and return its text.

This runs inside the compile worker (``axfusion.worker``), so that an MLIR
assertion aborts the worker, not the caller; ``AXFUSION_IN_PROCESS=1`` runs
it in the caller instead.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import __version__, host
from .importer import Source
from .pipeline import BuildContext, run_stages
from .runtime_names import LIBRARY, MANIFEST
from .targets import get_backend


def build(source: Source, target: dict, ctx: BuildContext, *, cc: str,
          stop_after: str | None = None) -> dict:
    """Returns ``{"manifest": ...}`` after a full build (artifact written to
    ``ctx.work_dir``), or ``{"emit": text}`` when stopped at ``stop_after``."""
    backend = get_backend(target["target"])
    options = backend.Options.from_json(target)
    stages = backend.stages(options, cc)
    names = [s.name for s in stages]
    if stop_after is not None and stop_after not in names:
        from .errors import CompileError
        raise CompileError(f"unknown stage {stop_after!r}; stages: {', '.join(names)}")
    value = run_stages(stages, source, ctx, stop_after=stop_after)
    if stop_after is not None and stop_after != names[-1]:
        return {"emit": stages[names.index(stop_after)].dump(value), "report": ctx.report}
    shutil.move(str(value), ctx.work_dir / LIBRARY)
    manifest = {
        "format": 1,
        "axfusion": __version__,
        "source": source.path or "<string>",
        "target": options.to_json(),
        "cpu_model": host.cpu_model(),
        "library": LIBRARY,
        "functions": [s.to_json() for s in ctx.signatures],
        "report": ctx.report,
        "compile_seconds": {k: round(v, 4) for k, v in ctx.timings.items()},
    }
    (ctx.work_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return {"manifest": manifest}


def clean_work_dir(work_dir: Path) -> None:
    """Drop everything but the artifact from a finished build folder."""
    for path in Path(work_dir).iterdir():
        if path.name not in (LIBRARY, MANIFEST):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
