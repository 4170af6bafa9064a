"""The Kubernetes minor versions each target offers, read from ``kubernetes_versions.json``.

One table for the config (a cluster's version must be one its target offers) and the policy pack
(rule ``cluster-lifecycle``). It is data, with the date it was checked and a source per target;
it lives in this package because the pack folder must stand alone (``pulumi policy publish``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

TABLE_FILE = Path(__file__).with_name("kubernetes_versions.json")
_TABLE: dict[str, Any] = json.loads(TABLE_FILE.read_text())

CHECKED: str = _TABLE["checked"]
"""The date every source of the table was last read (YYYY-MM-DD)."""
TARGETS: dict[str, dict[str, Any]] = _TABLE["targets"]
"""Target key (eks, gke, aks, k3s) -> {name, sources, note, minors: {minor: {support, end dates}}}."""


def _minor_key(minor: str) -> tuple[int, int]:
    major, _, rest = minor.partition(".")
    return int(major), int(rest)


def offered(target: str) -> tuple[str, ...]:
    """The minors ``target`` (eks, gke, aks, k3s) offers a new cluster, oldest first."""
    return tuple(sorted(TARGETS[target]["minors"], key=_minor_key))


ALL_MINORS: tuple[str, ...] = tuple(sorted({m for t in TARGETS for m in TARGETS[t]["minors"]}, key=_minor_key))
"""Every minor some target offers (what fleetform accepts at all)."""


def support_of(target: str, minor: str) -> Optional[str]:
    """standard, extended (EKS's paid extension), end-of-life (k3s: kept only as a step of a
    one-minor-at-a-time upgrade) or None when ``target`` does not offer ``minor``."""
    entry = TARGETS[target]["minors"].get(minor)
    return None if entry is None else entry["support"]


def described(target: str) -> str:
    """What ``target`` offers, for an error message: "1.33 (extended support), 1.35, 1.36 (as of ...)"."""
    notes = {"extended": " (extended support)", "end-of-life": " (end of life: upgrade step only)"}
    parts = [m + notes.get(str(support_of(target, m)), "") for m in offered(target)]
    return f"{', '.join(parts)} (as of {CHECKED})"
