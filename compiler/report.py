"""The fusion report: which groups were formed, from which source ops, what
memory traffic they remove, and which candidates were refused and why.

It is read off the IR right after the ``fuse`` stage (``FuseStage``), where
patterns have tagged groups and noted near misses (``axfusion.dialects``),
and travels in the artifact's manifest, so a cached module still has it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from .diagnostics import format_location
from .pipeline import MlirStage


@dataclass(frozen=True)
class DetectedPattern:
    """One fusion group: what ``detected_patterns()`` returns."""
    pattern: str
    group: int
    ops: tuple[str, ...]          # op names, root first
    locations: tuple[str, ...]    # file:line:col of each op
    shapes: tuple[str, ...]       # result type of each op
    bytes_saved: int              # intermediate bytes no longer written and read back
    function: str = ""

    @property
    def location(self) -> str:
        return self.locations[0] if self.locations else ""

    def __str__(self) -> str:
        return (f"{self.pattern} (group {self.group}, {len(self.ops)} ops at "
                f"{self.location}, ~{_bytes(self.bytes_saved)} saved)")


@dataclass(frozen=True)
class NearMiss:
    pattern: str
    op: str
    location: str
    reason: str


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def collect(module) -> dict:
    """The report of a module whose groups have been tagged (JSON-ready)."""
    from axfusion._mlir import ir
    from axfusion.dialects import GROUP, PATTERN, groups, near_misses
    from axfusion.passes.match import tensor_bytes

    op_ids: dict = {}
    nodes, edges = [], []
    detected = []
    with module.context:
        root = module.operation
        func_of = {}
        for f in root.regions[0].blocks[0].operations:
            if f.operation.name != "func.func":
                continue
            fname = ir.StringAttr(f.operation.attributes["sym_name"]).value
            for op in f.operation.regions[0].blocks[0].operations:
                op = op.operation
                if op.name in ("func.return", "arith.constant", "tensor.empty"):
                    continue
                op_ids[op] = len(nodes)
                func_of[op] = fname
                nodes.append({"id": len(nodes), "op": op.name, "function": fname,
                              "location": format_location(op.location),
                              "group": ir.IntegerAttr(op.attributes[GROUP]).value
                              if GROUP in op.attributes else None})
            for op in f.operation.regions[0].blocks[0].operations:
                op = op.operation
                if op not in op_ids:
                    continue
                for value in op.operands:
                    owner = value.owner
                    if not isinstance(owner, ir.Block) and owner.operation in op_ids:
                        edges.append([op_ids[owner.operation], op_ids[op]])
        for gid, members in groups(root).items():
            member_set = set(members)
            saved = 0
            for m in members[1:]:
                for result in m.results:
                    if all(use.owner.operation in member_set for use in result.uses):
                        saved += 2 * tensor_bytes(result)  # one write + one read
            if "axf.bytes_saved" in members[0].attributes:  # a kernel rewrote them away
                saved = ir.IntegerAttr(members[0].attributes["axf.bytes_saved"]).value
            detected.append(DetectedPattern(
                pattern=ir.StringAttr(members[0].attributes[PATTERN]).value, group=gid,
                ops=tuple(m.name for m in members),
                locations=tuple(format_location(m.location) for m in members),
                shapes=tuple(str(m.results[0].type) if len(m.results) else "" for m in members),
                bytes_saved=saved, function=func_of.get(members[0], "")))
        misses = []
        for op, note in near_misses(root):
            pattern, _, reason = note.partition(": ")
            misses.append(NearMiss(pattern, op.name, format_location(op.location), reason))
    return {"groups": [asdict(d) for d in detected],
            "near_misses": [asdict(m) for m in misses],
            "graph": {"nodes": nodes, "edges": edges}}


def detected_from_json(report: dict) -> list[DetectedPattern]:
    return [DetectedPattern(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in g.items()}) for g in report.get("groups", [])]


def format_table(report: dict) -> str:
    """The report as text: one block per group, then the near misses."""
    groups = detected_from_json(report)
    lines = [f"Fusion report: {len(groups)} group(s), "
             f"~{_bytes(sum(g.bytes_saved for g in groups))} of intermediates removed"]
    if groups:
        lines.append(f"  {'group':>5}  {'pattern':22} {'ops':>3}  {'saved':>10}  source")
    for g in groups:
        lines.append(f"  {g.group:>5}  {g.pattern:22} {len(g.ops):>3}  "
                     f"{_bytes(g.bytes_saved):>10}  {g.function}")
        for name, loc, shape in zip(g.ops, g.locations, g.shapes):
            lines.append(f"  {'':>5}    {name:26} {shape:34} {loc}")
    misses = report.get("near_misses", [])
    lines.append(f"Near misses: {len(misses)}")
    for m in misses:
        lines.append(f"  {m['pattern']:22} {m['op']:18} {m['location']}: {m['reason']}")
    return "\n".join(lines)


def to_json(report: dict) -> str:
    return json.dumps(report, indent=1)


def to_dot(report: dict) -> str:
    """Graphviz: the op graph, fusion groups drawn as boxes (clusters)."""
    nodes = report.get("graph", {}).get("nodes", [])
    edges = report.get("graph", {}).get("edges", [])
    patterns = {g["group"]: g["pattern"] for g in report.get("groups", [])}
    out = ["digraph axfusion {", "  rankdir=TB;", '  node [shape=box, fontname="monospace"];']
    by_group: dict = {}
    for n in nodes:
        by_group.setdefault(n["group"], []).append(n)
    for gid, members in by_group.items():
        indent = "  "
        if gid is not None:
            out.append(f"  subgraph cluster_{gid} {{")
            out.append(f'    label="group {gid}: {patterns.get(gid, "?")}"; style=filled; '
                       'fillcolor="#e8f0fe";')
            indent = "    "
        for n in members:
            out.append(f'{indent}n{n["id"]} [label="{n["op"]}\\n{n["location"]}"];')
        if gid is not None:
            out.append("  }")
    for a, b in edges:
        out.append(f"  n{a} -> n{b};")
    out.append("}")
    return "\n".join(out) + "\n"


class FuseStage(MlirStage):
    """The ``fuse`` stage: run the fusion patterns (forming at most ``limit``
    groups when ``limit >= 0``), then read the report."""

    def __init__(self, name: str, elements: list[str], limit: int = -1):
        super().__init__(name, elements)
        self.limit = limit

    def run(self, module, ctx):
        from axfusion._mlir import ir
        from axfusion.dialects import LIMIT
        attrs = module.operation.attributes
        if self.limit >= 0:
            with module.context:
                attrs[LIMIT] = ir.IntegerAttr.get(ir.IntegerType.get_signless(64), self.limit)
        module = super().run(module, ctx)
        if LIMIT in attrs:
            del attrs[LIMIT]
        ctx.report = collect(module)
        return module


class FusionReport:
    """What ``CompiledModule.report()`` and ``FusionOptimizer.report()`` give:
    prints as a table; ``to_json()``, ``to_dot()`` and ``write(path)``
    (``.json`` or ``.dot`` by suffix) for tools."""

    def __init__(self, data: dict):
        self.data = data or {"groups": [], "near_misses": [], "graph": {}}

    @property
    def groups(self) -> list[DetectedPattern]:
        return detected_from_json(self.data)

    @property
    def near_misses(self) -> list[NearMiss]:
        return [NearMiss(**m) for m in self.data.get("near_misses", [])]

    def to_json(self) -> str:
        return to_json(self.data)

    def to_dot(self) -> str:
        return to_dot(self.data)

    def write(self, path) -> None:
        from pathlib import Path
        path = Path(path)
        text = self.to_dot() if path.suffix == ".dot" else self.to_json()
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)

    def show(self, table: bool = False, json_path=None, dot_path=None) -> None:
        """What ``axfusec --report/--report-json/--report-dot`` ask for."""
        if table:
            print(self)
        for path, text in ((json_path, self.to_json), (dot_path, self.to_dot)):
            if path:
                with open(path, "w") as f:
                    f.write(text())

    def __str__(self) -> str:
        return format_table(self.data)

    __repr__ = __str__
