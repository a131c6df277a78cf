"""Front ends: turning a model from a framework into linalg-on-tensors MLIR
that the compiler pipeline takes (``.mlir`` files and text need none)."""
