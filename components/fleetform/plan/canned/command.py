"""Canned outputs for ``pulumi_command`` resources (no SDK import).

Nothing runs in a plan: a command's stdout is what fleetform would read from it, which is only
the API readiness gate's "ready"; every other command reports empty output.
"""

from __future__ import annotations

from typing import Any


def _local(args) -> dict[str, Any]:
    create = str(args.inputs.get("create") or "")
    return {"stdout": "ready" if "/readyz" in create else "", "stderr": ""}


def _remote(args) -> dict[str, Any]:
    return {"stdout": "", "stderr": ""}


OUTPUTS = {
    "command:local:Command": _local,
    "command:remote:Command": _remote,
}
INVOKES: dict = {}
