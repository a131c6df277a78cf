"""One error type per failure kind.

Every error carries what a user needs to act on it: the stage that failed,
the MLIR diagnostics with their ``file:line:col`` locations, where the IR that
failed was saved, and a one-line command that reproduces the failure.
"""

from __future__ import annotations


class AxfusionError(RuntimeError):
    """Base class of every error axfusion raises on purpose."""


class CompileError(AxfusionError):
    """The input IR could not be compiled: malformed IR, an unsupported op or
    type, a verifier failure, or a pass that failed or aborted."""

    def __init__(self, message: str, *, stage: str | None = None,
                 diagnostics: list[str] | None = None,
                 saved_ir: str | None = None, repro: str | None = None):
        self.stage = stage
        self.diagnostics = list(diagnostics or [])
        self.saved_ir = saved_ir
        self.repro = repro
        super().__init__(message)

    def __str__(self) -> str:
        lines = [f"[{self.stage}] {self.args[0]}" if self.stage else self.args[0]]
        lines += [f"  {d}" for d in self.diagnostics]
        if self.saved_ir:
            lines.append(f"  IR saved to: {self.saved_ir}")
        if self.repro:
            lines.append(f"  reproduce with: {self.repro}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"kind": type(self).__name__, "message": self.args[0],
                "stage": self.stage, "diagnostics": self.diagnostics,
                "saved_ir": self.saved_ir, "repro": self.repro}


class ArgumentError(AxfusionError, ValueError):
    """A compiled function was called with arguments of the wrong count,
    shape, dtype or rank, or with an unusable ``out=`` array."""


class ToolchainError(AxfusionError):
    """An external tool (mlir-translate, llc, the C compiler) is missing or
    failed."""

    def __init__(self, message: str, *, command: list[str] | None = None,
                 output: str = ""):
        self.command = list(command or [])
        self.output = output
        super().__init__(message)

    def __str__(self) -> str:
        lines = [self.args[0]]
        if self.command:
            lines.append("  command: " + " ".join(self.command))
        if self.output:
            lines += ["  " + line for line in self.output.strip().splitlines()[-20:]]
        return "\n".join(lines)


class TargetError(AxfusionError):
    """An artifact was built for a CPU feature set this machine lacks (loading
    it would end in an illegal-instruction crash), or for another target."""


def error_from_json(data: dict) -> AxfusionError:
    """Rebuild an error sent back by the compile worker."""
    kind = data.get("kind")
    if kind == "ToolchainError":
        return ToolchainError(data["message"], command=data.get("command"),
                              output=data.get("output", ""))
    return CompileError(data["message"], stage=data.get("stage"),
                        diagnostics=data.get("diagnostics"),
                        saved_ir=data.get("saved_ir"), repro=data.get("repro"))
