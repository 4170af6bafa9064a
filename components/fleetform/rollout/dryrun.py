"""``fleetform rollout FILE --dry-run``: every wave computed offline with the plan engine.

Each affected stack is planned as it is, then after each wave (the stacks the wave touches, with
the ``fleetform:release`` value that wave leaves), then finalized (the images the services' own,
the key gone: this last state must change nothing against the last wave). Per wave, the
resources whose inputs change, appear or go are listed with their stack and cluster.
Exit 0 clean, 1 when a state's plan has schema errors or mandatory violations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..plan.engine import CLUSTER_TYPE_PREFIX, PlanResult, plan
from .release import StackConfig, finalized, release_value, with_release
from .spec import RolloutSpec, Target


@dataclass
class DryRun:
    """The dry run's report (``as_json``) and exit code."""

    release: dict[str, str]
    waves: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0

    def as_json(self) -> dict[str, Any]:
        changes = sum(len(w["changes"]) for w in self.waves)
        return {"release": self.release, "waves": self.waves,
                "summary": {"waves": len(self.waves), "changes": changes, "problems": self.problems,
                            "exitCode": self.exit_code}}


def _snapshot(result: PlanResult) -> dict[str, tuple[str, str, Optional[str], Any]]:
    """urn -> (type, name, cluster, masked inputs) of a plan's custom resources."""
    regs = result.capture.registrations
    parents = {r.urn: r.parent for r in regs}
    types = {r.urn: r.type for r in regs}
    names = {r.urn: r.name for r in regs}

    def cluster_of(urn: Optional[str]) -> Optional[str]:
        while urn is not None:
            if types.get(urn, "").startswith(CLUSTER_TYPE_PREFIX):
                return names[urn]
            urn = parents.get(urn)
        return None

    return {r.urn: (r.type, r.name, cluster_of(r.urn), r.plain_inputs(mask=True)) for r in regs if r.custom}


def changes_between(stack: str, before: PlanResult, after: PlanResult) -> list[dict[str, Any]]:
    """The resources of ``stack`` that a change of config adds, removes or gives other inputs."""
    old, new = _snapshot(before), _snapshot(after)
    out = []
    for urn in sorted(set(old) | set(new)):
        if old.get(urn, (None,) * 4)[3] == new.get(urn, (None,) * 4)[3]:
            continue
        typ, name, cluster, _ = new.get(urn) or old[urn]
        change = "create" if urn not in old else "delete" if urn not in new else "update"
        out.append({"stack": stack, "cluster": cluster, "type": typ, "name": name, "change": change})
    return out


def dry_run(spec: RolloutSpec, waves: list[list[Target]], stacks: Mapping[str, StackConfig],
            progress: Any = None) -> DryRun:
    """Plan every state of the rollout (``progress``: called with a line per plan, optional)."""
    report = DryRun(release=dict(spec.release.images))
    affected = list(dict.fromkeys(t.stack for wave in waves for t in wave))
    done: dict[str, list[str]] = {s: [] for s in affected}

    def planned(stack: str, config: dict[str, Any], label: str) -> PlanResult:
        if progress is not None:
            progress(f"planning {stack} {label}")
        result = plan(stack, config=config)
        report.problems += [f"{stack} ({label}): {p}" for p in result.problems()]
        return result

    last = {s: planned(s, stacks[s].config, "before the rollout") for s in affected}
    for wave, targets in zip(spec.waves, waves):
        changes: list[dict[str, Any]] = []
        for t in targets:
            done[t.stack].append(t.cluster)
        for stack in dict.fromkeys(t.stack for t in targets):
            fleet = stacks[stack].spec
            assert fleet is not None  # stacks with problems stop the rollout before this
            value = release_value(spec.release.images, fleet, done[stack], [])
            result = planned(stack, with_release(stacks[stack].config, value), f"after wave {wave.name}")
            changes += changes_between(stack, last[stack], result)
            last[stack] = result
        report.waves.append({"name": wave.name, "targets": [str(t) for t in targets], "changes": changes})
    final: list[dict[str, Any]] = []
    for stack in affected:
        result = planned(stack, finalized(stacks[stack].config, spec.release.images), "finalized")
        final += changes_between(stack, last[stack], result)
    report.waves.append({"name": "(finalize)", "targets": affected, "changes": final})
    return report


def markdown(report: DryRun) -> str:
    """The dry run as a CI step summary."""
    lines = ["## fleetform rollout (dry run)", "", "| service | image |", "|---|---|"]
    lines += [f"| `{s}` | `{i}` |" for s, i in sorted(report.release.items())]
    lines += ["", "| wave | targets | changes |", "|---|---|---|"]
    for wave in report.waves:
        kinds: dict[str, int] = {}
        for c in wave["changes"]:
            kinds[c["type"].split(":")[-1]] = kinds.get(c["type"].split(":")[-1], 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
        lines.append(f"| {wave['name']} | {', '.join(wave['targets'])} | {summary} |")
    lines += ["", "**Result:** " + ("clean" if not report.problems else f"{len(report.problems)} problem(s)")]
    lines += [f"- {p}" for p in report.problems[:50]]
    return "\n".join(lines) + "\n"
