"""The stacks a rollout reads, and the ``fleetform:release`` value each state of it gives a stack.

A rollout never edits a stack in any other way: it sets ``fleetform:release`` (images, the
clusters that run them, the clusters drained of traffic) and, when the last wave has passed,
makes the images the services' own and removes the key (:func:`finalized`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from ..config import FleetConfigError, FleetSpec, load_spec

RELEASE_KEY = "fleetform:release"
SERVICES_KEY = "fleetform:services"


@dataclass
class StackConfig:
    """One stack of the project as a rollout sees it."""

    name: str
    path: Path
    config: dict[str, Any]
    """Its config after ``fleetform:extends`` is merged (what the program gets)."""
    spec: Optional[FleetSpec]
    problems: list[str] = field(default_factory=list)


def load_stacks(stack_dir: Path) -> dict[str, StackConfig]:
    """Every ``Pulumi.<stack>.yaml`` in ``stack_dir``, read and validated (problems kept, not raised)."""
    from ..config.extends import resolve_extends
    from ..plan.engine import read_stack_config

    stacks: dict[str, StackConfig] = {}
    for path in sorted(stack_dir.glob("Pulumi.*.yaml")):
        name = path.name[len("Pulumi."):-len(".yaml")]
        try:
            config, _ = read_stack_config(path)
            config = resolve_extends(config, stack_dir, path)
            stacks[name] = StackConfig(name, path, config, load_spec(config))
        except FleetConfigError as exc:
            stacks[name] = StackConfig(name, path, {}, None, [f"{name}: {p}" for p in exc.problems])
        except Exception as exc:  # a stack file the reader refuses: its own message
            stacks[name] = StackConfig(name, path, {}, None, [f"{name}: {exc}"])
    return stacks


def release_value(images: Mapping[str, str], spec: FleetSpec, clusters: list[str], drained: list[str]) -> Optional[dict]:
    """The ``fleetform:release`` value for a stack whose ``clusters`` run the release and whose
    ``drained`` clusters get no traffic; only the images of services the stack has. None when no
    cluster of the stack is touched (the key is then absent)."""
    if not clusters and not drained:
        return None
    own = {s.name for s in spec.services}
    order = [c.name for c in spec.clusters]
    return {
        "images": {name: image for name, image in sorted(images.items()) if name in own},
        "clusters": sorted(clusters, key=order.index),
        "drained": sorted(drained, key=order.index),
    }


def with_release(config: Mapping[str, Any], value: Optional[dict]) -> dict[str, Any]:
    """``config`` with ``fleetform:release`` set to ``value`` (removed for None)."""
    out = copy.deepcopy(dict(config))
    out.pop(RELEASE_KEY, None)
    if value is not None:
        out[RELEASE_KEY] = copy.deepcopy(value)
    return out


def finalized(config: Mapping[str, Any], images: Mapping[str, str]) -> dict[str, Any]:
    """``config`` after the last wave: the release's images are the services' own, the key is gone."""
    out = with_release(config, None)
    services = out.get(SERVICES_KEY)
    if isinstance(services, list):
        out[SERVICES_KEY] = [{**s, "image": images[s["name"]]} if isinstance(s, dict) and s.get("name") in images else s
                             for s in services]
    return out
