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
    # A callsite location lists the innermost frame first (torch's
    # linear.py); the model's own frame, outside installed packages, is the
    # one a user wants to see.
    own = [m for m in matches if "-packages/" not in m[0]]
    file, line, col = own[0] if own else matches[0]
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
