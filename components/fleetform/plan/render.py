"""What ``fleetform plan`` writes: a terminal tree, JSON, a Markdown PR comment, manifest files.

Everything here reads the masked views of the plan (``"[secret]"`` in place of secret values).
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml
from rich.console import Console
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:  # the engine (and pydantic with it) is not needed to check an output path
    from .engine import PlanResult, PolicyInEffect  # noqa: F401 (PolicyInEffect: annotations)



def to_json(result: PlanResult) -> dict[str, Any]:
    """The ``--json`` document (DESIGN §5)."""
    return {
        "stack": result.stack,
        "resources": result.resources(),
        "manifests": [
            {"cluster": m.cluster, "kubernetesVersion": m.kubernetes_version, "urn": m.urn, "object": m.object}
            for m in result.manifests
        ],
        "violations": [
            {"policy": v.policy, "enforcement": v.enforcement, "urn": v.urn, "message": v.message, "hint": v.hint}
            for v in result.violations
        ],
        "waived": [
            {"policy": v.policy, "enforcement": v.enforcement, "urn": v.urn, "message": v.message, "reason": v.waived}
            for v in result.waived
        ],
        "policyConfig": result.policy.as_json(),
        "schemaErrors": result.schema_errors,
        "errors": result.errors,
        "undecided": result.undecided,
        "outputs": result.capture.outputs,
        "summary": result.summary(),
    }


def policy_lines(policy: PlanResult | PolicyInEffect) -> list[str]:
    """The policy config in effect, as the reports state it: a PR that disables rules or waives
    findings says so next to its result."""
    from .engine import PolicyInEffect

    p = policy if isinstance(policy, PolicyInEffect) else policy.policy
    source = f"policy config {p.file} (sha256 {p.sha256[:12]})" if p.file and p.sha256 else "policy config: the pack's defaults"
    lines = [source + (":" if p.changed or p.waivers else "")]
    if p.changed:
        lines.append("levels changed from the defaults: " + ", ".join(f"{k}={v}" for k, v in sorted(p.changed.items())))
    for w in p.waivers:
        scope = f"service {w['service']}" if "service" in w else f"resource {w.get('resource', '?')}"
        lines.append(f"waiver: {w['policy']} for {scope}: {w.get('reason', '')}")
    return lines


def write_json(result: PlanResult, path: Path) -> None:
    path.write_text(json.dumps(to_json(result), indent=2, sort_keys=False) + "\n")


def tree(result: PlanResult) -> Tree:
    """The resource tree, parents above children. Labels are plain Text, never parsed as markup:
    a name with brackets prints as it is (and the tree renders faster)."""
    root = Tree(Text(f"stack {result.stack}", style="bold"))
    known = {r.urn for r in result.capture.registrations}
    children: dict[str, list] = {}
    for r in result.capture.registrations:
        children.setdefault(r.parent if r.parent in known else "", []).append(r)

    def add(node: Tree, key: str) -> None:
        for r in sorted(children.get(key, []), key=lambda r: r.name):
            add(node.add(Text.assemble(r.name, " ", (r.type, "dim"))), r.urn)

    add(root, "")
    return root


def _line(label: str, style: str, text: str) -> Text:
    """``label`` in ``style``, then ``text`` as it is: names, URNs and messages are never read as
    rich markup or emoji codes (a message with ``:x:`` or ``[bold]`` in it prints unchanged)."""
    return Text.assemble((label, style), " ", text)


def traffic_lines(result: PlanResult) -> list[str]:
    """One line per global hostname (``fleetform:traffic``): provider, policy and each cluster's
    endpoint with its weight, priority or region."""
    lines = []
    for host, info in (result.capture.outputs.get("traffic") or {}).items():
        parts = []
        for cluster, c in (info.get("clusters") or {}).items():
            how = (f"weight {c['weight']}" + (" (drained)" if c.get("drained") else "") if "weight" in c
                   else f"priority {c['priority']}" if "priority" in c else f"region {c.get('region')}")
            parts.append(f"{cluster} {c.get('address')} {how}")
        lines.append(f"{host} ({info.get('provider')}, {info.get('policy')}): " + "; ".join(parts))
    return lines


def print_report(result: PlanResult, console: Console) -> None:
    console.print(tree(result))
    s = result.summary()
    console.print(Text.assemble(
        "\n", (str(s["resources"]), "bold"), " resources, ", (str(s["manifests"]), "bold"),
        f" Kubernetes objects on {len(s['clusters'])} cluster(s)",
    ))
    for name, info in (result.capture.outputs.get("clusters") or {}).items():
        for svc, address in (info.get("services") or {}).items():
            console.print(Text(f"  {name}/{svc}: {address}"))
    for line in traffic_lines(result):
        console.print(Text(f"  {line}"))
    for line in result.errors:
        console.print(_line("error", "red", line))
    for line in result.schema_errors:
        console.print(_line("schema", "red", line))
    for v in result.violations:
        console.print(_line(v.enforcement, "red" if v.enforcement == "mandatory" else "yellow",
                            f"{v.policy}: {v.message} ({v.urn})"))
        if v.hint:
            console.print(Text(f"  {v.hint}", style="dim"))
    for v in result.waived:
        console.print(_line("waived", "cyan", f"{v.policy}: {v.message} ({v.urn}); reason: {v.waived}"))
    for line in policy_lines(result):
        console.print(Text(line))
    for line in result.undecided:
        console.print(_line("cannot judge yet", "yellow", line))
    console.print(Text.assemble(
        f"schema errors: {s['schemaErrors']}, mandatory violations: {s['violations']['mandatory']}, "
        f"advisory: {s['violations']['advisory']}, errors: {s['errors']}"
        + (f", cannot judge yet: {s['undecided']}" if s["undecided"] else "") + " -> ",
        ("clean", "green") if result.exit_code == 0 else ("not clean", "red"),
    ))
    console.print(Text(
        "Offline plan: no cloud or cluster was contacted, so drift and cloud-side "
        "rejections are not visible here (use pulumi preview for those).", style="dim",
    ))


def _mermaid_id(urn: str, ids: dict[str, str]) -> str:
    return ids.setdefault(urn, f"n{len(ids)}")


MERMAID_MAX_TEXT = 50_000
"""Mermaid's default ``maxTextSize``: a longer diagram is not drawn, only an error box."""
COMMENT_MAX = 65_536
"""GitHub's limit on a pull-request comment, in characters."""


def _mermaid(result: PlanResult, collapse: bool) -> list[str]:
    """The component graph, each node with the kinds of resources right under it; ``collapse``
    keeps the root and the clusters only, each counting everything beneath it."""
    from .engine import CLUSTER_TYPE_PREFIX

    regs = result.capture.registrations
    parents = {r.urn: r.parent for r in regs}
    components = {r.urn for r in regs if not r.custom}
    shown = [r for r in regs if not r.custom and (
        not collapse or r.parent not in components or r.type.startswith(CLUSTER_TYPE_PREFIX))]
    shown_urns = {r.urn for r in shown}
    counts: dict[str, dict[str, int]] = {}
    for r in regs:
        if r.urn in shown_urns or not r.parent:
            continue
        owner = r.parent
        if collapse:  # the nearest shown ancestor counts it
            while owner is not None and owner not in shown_urns:
                owner = parents.get(owner)
            if owner is None:
                continue
        elif not r.custom:
            continue
        kind = r.type.split(":")[-1]
        counts.setdefault(owner, {}).setdefault(kind, 0)
        counts[owner][kind] += 1
    ids: dict[str, str] = {}
    lines = ["```mermaid", "graph TD"]
    for r in shown:
        node = _mermaid_id(r.urn, ids)
        detail = "<br/>".join(f"{n} {k}" for k, n in sorted(counts.get(r.urn, {}).items()))
        label = f"{r.name}<br/><i>{r.type}</i>" + (f"<br/>{detail}" if detail else "")
        lines.append(f'  {node}["{_escape(label)}"]')
    for r in shown:
        parent = r.parent
        while collapse and parent is not None and parent not in ids:
            parent = parents.get(parent)
        if parent in ids:
            lines.append(f"  {ids[parent]} --> {ids[r.urn]}")
    lines.append("```")
    return lines


def _within(lines: list[str], budget: int, what: str) -> list[str]:
    """``lines`` cut to fit ``budget`` characters, the cut said in a last line."""
    kept: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        if used + len(line) + 1 > budget - 120:
            return kept + [f"- _... {len(lines) - i} more {what}: see `fleetform plan --json`_"]
        kept.append(line)
        used += len(line) + 1
    return kept


def markdown(result: PlanResult) -> str:
    """A PR-comment summary with a Mermaid graph of the components (leaf resources counted).

    It stays a comment GitHub takes and a diagram Mermaid draws: past Mermaid's size limit the
    graph shows the clusters only, and past GitHub's comment limit the longest lists are cut (the
    JSON report has everything)."""
    s = result.summary()
    status = "✅ clean" if result.exit_code == 0 else "❌ not clean"
    head = [
        f"## fleetform plan: `{result.stack}` — {status}",
        "",
        f"**{s['resources']}** resources, **{s['manifests']}** Kubernetes objects, clusters: "
        + ", ".join(f"`{c}`" for c in s["clusters"]),
        "",
        "| check | count |",
        "|---|---|",
        f"| schema errors | {s['schemaErrors']} |",
        f"| mandatory violations | {s['violations']['mandatory']} |",
        f"| advisory violations | {s['violations']['advisory']} |",
        f"| clusters not planned | {s['errors']} |",
        f"| waived findings | {s['waived']} |",
        "",
        *(f"- {line}" for line in policy_lines(result)),
        "",
    ]
    graph = _mermaid(result, collapse=False)
    full = len("\n".join(graph))
    if full > MERMAID_MAX_TEXT:
        graph = _mermaid(result, collapse=True) + [
            "", f"_The graph shows the clusters only: the whole one ({full:,} characters) is over Mermaid's "
            f"{MERMAID_MAX_TEXT:,}-character limit._",
        ]
    findings = (
        [f"- **error** {e}" for e in result.errors]
        + [f"- **schema** {e}" for e in result.schema_errors]
        + [f"- **{v.enforcement}** `{v.policy}` on `{v.urn.rsplit('::', 1)[-1]}`: {v.message}" for v in result.violations]
        + [f"- **cannot judge yet** {u}" for u in result.undecided]
        + [f"- **waived** `{v.policy}` on `{v.urn.rsplit('::', 1)[-1]}`: {v.message} — reason: {v.waived}" for v in result.waived]
    )
    addresses = [
        f"| {cluster} | {svc} | `{address}` |"
        for cluster, info in (result.capture.outputs.get("clusters") or {}).items()
        for svc, address in (info.get("services") or {}).items()
    ] + [f"| (global) | | `{line}` |" for line in traffic_lines(result)]
    foot = ["", "_Offline plan: no cloud or cluster was contacted; drift and cloud-side rejections are not visible._", ""]
    room = COMMENT_MAX - len("\n".join(head + graph + foot)) - 200
    # Findings first: they are why the comment is read. Addresses get what is left.
    findings = _within(findings, max(room, 0), "findings")
    room -= len("\n".join(findings))
    addresses = _within(addresses, max(room, 0), "addresses")
    lines = head + graph
    if findings:
        lines += ["", "### Findings", "", *findings]
    if addresses:
        lines += ["", "### Service addresses (as planned)", "", "| cluster | service | address |", "|---|---|---|", *addresses]
    return "\n".join(lines + foot)


def _escape(text: str) -> str:
    return text.replace('"', "#quot;")


MANIFESTS_MARKER = ".fleetform-manifests"
"""File in a ``--manifests`` directory listing what the plan wrote there, so the next plan into the
same directory removes exactly those files first (objects no longer planned leave no stale file)."""


def manifests_dir_problem(directory: Path) -> Optional[str]:
    """Why ``directory`` cannot take the manifests: it holds files an earlier plan did not list."""
    if not directory.is_dir() or not any(directory.iterdir()):
        return None
    marker = directory / MANIFESTS_MARKER
    if marker.is_symlink() or not marker.is_file():
        return (f"{directory} is not empty and holds no {MANIFESTS_MARKER} list of an earlier fleetform plan "
                "(a directory from a fleetform without that list has to be emptied once)")
    return None


_LISTED = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\.yaml")
"""What the marker may list: ``<cluster>/<file>.yaml``, the only files the plan writes."""


def _remove_listed(directory: Path) -> None:
    """Remove what the marker says an earlier plan wrote: regular files named like the plan's,
    one folder down, never through a symbolic link; a folder left empty goes too."""
    marker = directory / MANIFESTS_MARKER
    if marker.is_symlink() or not marker.is_file():
        return
    root = directory.resolve()
    for rel in marker.read_bytes().decode("utf-8", "replace").splitlines():
        if not _LISTED.fullmatch(rel) or ".." in rel.split("/"):
            continue
        old = directory / rel
        if old.parent.is_symlink() or old.is_symlink() or not old.is_file() or old.resolve().parent.parent != root:
            continue
        old.unlink()
        if not any(old.parent.iterdir()):
            old.parent.rmdir()


def write_manifests(result: PlanResult, directory: Path) -> list[Path]:
    """Every Kubernetes object as YAML, one folder per cluster, one file per object. What an
    earlier plan listed in ``directory`` is removed first; nothing is written through a symbolic
    link (one where a file or folder of the plan goes is an error)."""
    _remove_listed(directory)
    written: list[Path] = []
    taken: set[Path] = set()
    for m in result.manifests:
        folder = directory / m.cluster
        folder.mkdir(parents=True, exist_ok=True)
        if folder.is_symlink():
            raise OSError(errno.ELOOP, "a symbolic link where the plan writes a cluster's folder", str(folder))
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(p for p in (m.kind.lower(), m.namespace, m.name) if p))
        path = folder / (stem + ".yaml")
        if path in taken:  # same kind and name in another API group: keep both
            group = str(m.object.get("apiVersion", "")).replace("/", "_")
            path = folder / f"{stem}-{re.sub(r'[^A-Za-z0-9_.-]', '_', group)}.yaml"
        taken.add(path)
        if path.is_symlink():
            raise OSError(errno.ELOOP, "a symbolic link where the plan writes a manifest", str(path))
        _write_new(path, yaml.safe_dump(m.object, sort_keys=False))
        written.append(path)
    _write_new(directory / MANIFESTS_MARKER, "".join(f"{p.relative_to(directory).as_posix()}\n" for p in written))
    return written


def _write_new(path: Path, text: str) -> None:
    """Write ``path`` as a new file (a temporary one renamed over it): never into whatever a link
    of the same name, symbolic or hard, points at."""
    temporary = path.with_name(f".{path.name}.fleetform-tmp")
    temporary.unlink(missing_ok=True)
    temporary.write_text(text)
    os.replace(temporary, path)
