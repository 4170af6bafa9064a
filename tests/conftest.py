from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STACKS = ROOT / "stacks"
SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"

DIGEST = "@sha256:" + "ab" * 32


def stack_config(name: str) -> dict[str, Any]:
    return yaml.safe_load((STACKS / f"Pulumi.{name}.yaml").read_text())["config"]


def service(name: str = "web", **overrides: Any) -> dict[str, Any]:
    base = {
        "name": name,
        "image": f"registry.example.com/acme/{name}{DIGEST}",
        "port": 8080,
        "replicas": 2,
        "health": {"path": "/healthz"},
        "expose": "public",
    }
    base.update(overrides)
    return base


def cluster(name: str, target: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": name, "target": target}
    if target in ("aws", "gcp", "azure"):
        base["region"] = {"aws": "us-east-1", "gcp": "europe-west4", "azure": "westeurope"}[target]
        base["nodePools"] = [{"name": "general", "size": "standard", "min": 1, "max": 3}]
    base.update(overrides)
    return base


def fleet(clusters: list[dict[str, Any]], services: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    cfg = {"fleetform:clusters": copy.deepcopy(clusters), "fleetform:services": copy.deepcopy(services)}
    cfg.update({f"fleetform:{k}": v for k, v in extra.items()})
    return cfg


@pytest.fixture
def face_only(monkeypatch):
    from tests.fakes import install_face_only

    install_face_only(monkeypatch)


def aws_takes_tags(resource_type: str) -> bool:
    """Whether the pulumi_aws class of ``resource_type`` (``aws:ec2/vpc:Vpc``) has a ``tags`` input
    (read from the SDK's own constructor, so a new resource type needs no list here)."""
    import importlib
    import inspect

    module, cls = resource_type.split(":")[1].split("/")[0], resource_type.split(":")[2]
    klass = getattr(importlib.import_module(f"pulumi_aws.{module}"), cls)
    return "tags" in inspect.signature(klass._internal_init).parameters


def regs(result: Any, type_: str) -> list:
    """The registrations of a plan (or capture) of one resource type, in registration order."""
    return [r for r in result.capture.registrations if r.type == type_]


def one(result: Any, type_: str, name: Optional[str] = None) -> Any:
    """The only registration of ``type_`` (named ``name`` when given); fails naming what it found."""
    found = [r for r in regs(result, type_) if name is None or r.name == name]
    assert len(found) == 1, f"expected one {type_} {name or ''}, got {[r.name for r in found]}"
    return found[0]
