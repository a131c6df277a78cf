"""File names inside an artifact folder (shared by the cache, the driver and
the runtime loader)."""

MANIFEST = "manifest.json"
LIBRARY = "module.so"
