"""axfusion.dialects: how fusion groups are written in the IR.

A fusion group is a set of linalg ops that becomes one kernel. axfusion
writes it as **attributes on the ops themselves** rather than as ops of its
own ``axf`` dialect (an IRDL-defined region op wrapping the group would be
the alternative):

- every member carries ``axf.group = N : i64`` and ``axf.member = K : i64``
  (0 for the root, the op the kernel's loop nest is built around; 1, 2, ...
  for the producers in the order they are fused into its tiles);
- the root also carries ``axf.pattern = "LinearBiasRelu"`` and, when the
  pattern rewrote the algorithm into a finished kernel (flash attention, a
  log-sum-exp loss), ``axf.kernel`` (and ``axf.bytes_saved = N : i64`` when
  the traffic it removed can no longer be read off the IR, e.g. the score
  matrices a flash-attention kernel never writes);
- ``axf.fusion_limit = N`` on the module caps how many groups are formed
  (for bisecting; patterns that rewrite IR ask ``fusion_allowed`` first);
- a candidate a pattern looked at and refused carries
  ``axf.near_miss = ["LinearBiasRelu: bias is not broadcast along N", ...]``.

Why attributes: every upstream pass keeps unknown discardable attributes on
the ops it does not touch, and tiling copies them onto the tiled ops, so the
groups survive canonicalisation and tile-and-fuse without any C++; the
transform dialect's ``structured.match attributes {...}`` finds a group's
members by them; they print in the IR (lit tests check them) and cost
nothing to lower (bufferization and the LLVM lowering drop them). A wrapper
op would need its own bufferization and tiling interfaces, which Python
cannot provide.
"""

from .groups import (  # noqa: F401
    GROUP, KERNEL, LIMIT, MEMBER, NEAR_MISS, PATTERN, fusion_allowed, group_id, groups,
    in_group, near_misses, note_near_miss, tag_group)
