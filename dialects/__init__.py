"""axfusion.dialects: the ``axf`` dialect and builders for fused ops.

Fusion groups (the unit of fusion: an anchor op plus the producers and
consumers fused into it, and the pattern that formed them) are represented
here; they arrive with the fusion issue. Until then axfusion compiles
linalg-on-tensors as given, without fusion groups.
"""
