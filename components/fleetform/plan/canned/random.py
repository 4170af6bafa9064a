"""Canned outputs for ``pulumi_random`` resources (no SDK import): deterministic placeholders,
derived from the resource name, never random values."""

from __future__ import annotations

import hashlib
from typing import Any


def placeholder_password(name: str, length: int = 48) -> str:
    """The "random" result the plan gives resource ``name``."""
    digest = hashlib.sha256(f"fleetform-plan:{name}".encode()).hexdigest()
    return ("planplaceholder" + digest)[:length]


def _password(args) -> dict[str, Any]:
    length = int(args.inputs.get("length") or 32)
    return {"result": placeholder_password(args.name, length), "bcryptHash": "$2a$10$fleetformplanplaceholder"}


OUTPUTS = {
    "random:index/randomPassword:RandomPassword": _password,
    "random:index/randomString:RandomString": _password,
}
INVOKES: dict = {}
