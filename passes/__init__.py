"""axfusion.passes: named passes and pipelines.

Every pass and pipeline here has a name that ``axfusion-opt --NAME``,
``--print-ir-after-all`` and the lit tests see. Python-defined passes are
plain functions registered with ``@register_pass``; pipelines are ordered
lists of upstream pass-pipeline text and registered pass names. Every module
of this package is imported here, so a new pattern file registers itself:
adding a pattern touches no other file.
"""

import importlib
import pkgutil

from .registry import PASSES, PIPELINES, build_pass_manager, register_pass  # noqa: F401

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    importlib.import_module(f"{__name__}.{_info.name}")

from . import pipelines  # noqa: E402

pipelines.register_fuse_all()
