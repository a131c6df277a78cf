"""axfusion.passes: named passes and pipelines.

Every pass and pipeline here has a name that ``axfusion-opt --NAME``,
``--print-ir-after-all`` and the lit tests see. Python-defined passes are
plain functions registered with ``@register_pass``; pipelines are ordered
lists of upstream pass-pipeline text and registered pass names.
"""

from .registry import PASSES, PIPELINES, build_pass_manager, register_pass  # noqa: F401
from . import boundary, memref_copy, pipelines, tile_and_fuse  # noqa: F401
# Fusion patterns: importing a pattern file registers its passes.
from . import linear_epilogue  # noqa: F401

pipelines.register_fuse_all()
