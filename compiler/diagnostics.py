"""MLIR diagnostics as ``file:line:col: severity: message`` lines."""

from __future__ import annotations

import re

_FILE_LOC = re.compile(r'"([^"]*)":(\d+):(\d+)')


def format_location(loc, stdin_name: str = "<input>") -> str:
    """``file:line:col`` of the first file location in ``loc``; ``stdin_name``
    names text parsed from a string (MLIR calls it "-")."""
    text = str(loc)
    matches = _FILE_LOC.findall(text)
    if not matches:
        return text
    file, line, col = matches[0]
    name = stdin_name if file == "-" else file
    more = f" (+{len(matches) - 1} fused)" if text.startswith("loc(fused") and \
        len(matches) > 1 else ""
    return f"{name}:{line}:{col}{more}"


def format_diagnostics(diagnostics, stdin_name: str = "<input>") -> list[str]:
    lines = []
    for d in diagnostics:
        severity = str(d.severity).rsplit(".", 1)[-1].lower()
        lines.append(f"{format_location(d.location, stdin_name)}: {severity}: {d.message}")
        for note in d.notes:
            lines.append(f"  {format_location(note.location, stdin_name)}: note: {note.message}")
    return lines
