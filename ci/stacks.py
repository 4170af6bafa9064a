#!/usr/bin/env python3
"""The stacks a pipeline runs over, read from the files in stacks/ (never a hand-kept list).

Used by the GitHub workflows (.github/workflows/) and the GitLab template
(ci/gitlab/fleetform.gitlab-ci.yml). Standard library only: it runs on a bare runner before the
project's venv exists.

    python3 ci/stacks.py names [--prefix P] [--only NAME] [--cloud-only]
        -> names=["local","prod-aws",...]          (a line for $GITHUB_OUTPUT)
    python3 ci/stacks.py matrix [--prefix P] [--only NAME] [--cloud-only]
        -> matrix=[{"stack":"prod-aws","aws":true,"gcp":false,"azure":false},...]
    python3 ci/stacks.py targets STACK
        -> aws=true / gcp=false / azure=false      (lines for $GITHUB_OUTPUT)
    python3 ci/stacks.py list [...]                 -> one name per line (shell loops, GitLab)

A stack's targets are the `target:` values of its fleetform:clusters, followed through
`fleetform:extends` (docs/configuration.md). The file is read line by line rather than with a YAML
parser, which a bare runner may lack: a stack file whose clusters come from somewhere else (a
`!include`, a templating step) should set its targets in a comment line `# fleetform-targets: aws gcp`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
CLOUDS = ("aws", "gcp", "azure")
_NAME = re.compile(r"^Pulumi\.(?P<name>[A-Za-z0-9_.-]+)\.yaml$")
_TARGET = re.compile(r"^\s*(?:-\s+)?target:\s*[\"']?(?P<t>[a-z]+)[\"']?\s*(?:#.*)?$")
_EXTENDS = re.compile(r"^\s*fleetform:extends:\s*[\"']?(?P<e>[^\"'#\s]+)[\"']?\s*(?:#.*)?$")
_DECLARED = re.compile(r"^\s*#\s*fleetform-targets:\s*(?P<t>[a-z ]+)$")


def stack_names(folder: Path = STACKS) -> list[str]:
    """Every stack in the folder: Pulumi.<name>.yaml, sorted."""
    return sorted(m["name"] for p in folder.glob("Pulumi.*.yaml") if (m := _NAME.match(p.name)))


def _stack_file(ref: str, folder: Path) -> Path:
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        return (folder / ref).resolve()
    return folder / f"Pulumi.{ref}.yaml"


def targets(name: str, folder: Path = STACKS, _seen: frozenset[str] = frozenset()) -> set[str]:
    """The cluster targets of a stack (aws, gcp, azure, onprem, existing)."""
    path = _stack_file(name, folder)
    if str(path) in _seen or not path.is_file():
        return set()
    found: set[str] = set()
    base = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := _DECLARED.match(line):
            return set(m["t"].split())
        if m := _TARGET.match(line):
            found.add(m["t"])
        elif m := _EXTENDS.match(line):
            base = m["e"]
    if not found and base:
        found = targets(base, path.parent, _seen | {str(path)})
    return found


def _selected(args: argparse.Namespace) -> list[str]:
    names = stack_names()
    if args.prefix:
        names = [n for n in names if n.startswith(args.prefix)]
    if args.only and args.only != "all":
        if args.only not in names:
            sys.exit(f"ci/stacks.py: no stack {args.only!r} among {names}")
        names = [args.only]
    if args.cloud_only:
        names = [n for n in names if targets(n) & set(CLOUDS)]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["names", "matrix", "list", "targets"])
    parser.add_argument("stack", nargs="?", help="the stack (with `targets`)")
    parser.add_argument("--prefix", default="", help="only stacks whose name starts with this")
    parser.add_argument("--only", default="", help="only this stack ('all' or empty: every selected stack)")
    parser.add_argument("--cloud-only", action="store_true", help="only stacks with an aws, gcp or azure cluster")
    args = parser.parse_args(argv)
    if args.what == "targets":
        if not args.stack or args.stack not in stack_names():
            sys.exit(f"ci/stacks.py: no stack {args.stack!r} in {STACKS}")
        found = targets(args.stack)
        print("\n".join(f"{cloud}={'true' if cloud in found else 'false'}" for cloud in CLOUDS))
        return 0
    names = _selected(args)
    if args.what == "list":
        print("\n".join(names))
    elif args.what == "names":
        print("names=" + json.dumps(names, separators=(",", ":")))
    else:
        rows = [{"stack": n, **{c: c in targets(n) for c in CLOUDS}} for n in names]
        print("matrix=" + json.dumps(rows, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
