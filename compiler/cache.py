"""The on-disk compile cache.

An entry is a folder ``<root>/<key[:2]>/<key>/`` holding ``module.so`` and
``manifest.json``. The key hashes the input IR, the pipeline (every pass and
tool flag), the target options (CPU name and features) and the compiler's own
source, so a change to any of them compiles anew. Entries are built in a
scratch folder under the root and published with one ``rename``: a reader
sees a whole entry or none, and a crash mid-build leaves only scratch behind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .runtime_names import LIBRARY, MANIFEST


@functools.cache
def compiler_fingerprint() -> str:
    """Hash of axfusion's own Python source (the installed package)."""
    import axfusion
    digest = hashlib.sha256(getattr(axfusion, "__version__", "").encode())
    roots = [Path(axfusion.__file__).parent]
    for sub in ("passes", "runtime", "dialects"):
        module = __import__(f"axfusion.{sub}", fromlist=["_"])
        roots.append(Path(module.__file__).parent)
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(ir_text: str, target: dict, pipeline: str) -> str:
    digest = hashlib.sha256()
    for part in (compiler_fingerprint(), json.dumps(target, sort_keys=True), pipeline, ir_text):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class Cache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def entry(self, key: str) -> Path:
        return self.root / key[:2] / key

    def lookup(self, key: str) -> Path | None:
        path = self.entry(key)
        if (path / MANIFEST).is_file() and (path / LIBRARY).is_file():
            return path
        return None

    def scratch(self) -> Path:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="build-", dir=self.root / "tmp"))

    def publish(self, key: str, built: Path) -> Path:
        """Move a finished build into place atomically; first writer wins."""
        final = self.entry(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(built, final)
        except OSError:
            if self.lookup(key) is None:  # a broken entry: replace it
                stale = Path(tempfile.mkdtemp(prefix="stale-", dir=self.root / "tmp"))
                os.rename(final, stale / "entry")
                shutil.rmtree(stale, ignore_errors=True)
                os.rename(built, final)
            else:
                shutil.rmtree(built, ignore_errors=True)
        return final

    def evict(self, key: str) -> None:
        """Drop an entry that failed to load (e.g. a truncated file)."""
        path = self.entry(key)
        if path.exists():
            stale = Path(tempfile.mkdtemp(prefix="stale-", dir=self.root / "tmp"))
            os.rename(path, stale / "entry")
            shutil.rmtree(stale, ignore_errors=True)
