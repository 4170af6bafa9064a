from __future__ import annotations

import ast
import copy
import gc
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

if sys.version_info[:3] < (3, 11, 8) or (3, 12, 0) <= sys.version_info[:3] < (3, 12, 1):
    # CPython before 3.11.8 / 3.12.1 keeps the AST constructor's recursion depth in state shared
    # by every parse (gh-106905): a parse that starts while another is under way raises
    # "SystemError: AST constructor recursion depth mismatch". Here the second parse comes from
    # the garbage collector: it runs inside a parse (which allocates many objects), finalizes an
    # asyncio task a failed Pulumi run left with its exception unretrieved, and logging that
    # exception formats a traceback, which in 3.11 parses each line for its ^^^ carets. So no
    # collection runs during a parse, and parses in two threads take turns.
    _AST_LOCK = threading.Lock()
    _ast_parse = ast.parse

    def _serial_parse(*args, **kwargs):
        with _AST_LOCK:
            collecting = gc.isenabled()
            gc.disable()
            try:
                return _ast_parse(*args, **kwargs)
            finally:
                if collecting:
                    gc.enable()

    ast.parse = _serial_parse

ROOT = Path(__file__).resolve().parents[1]
STACKS = ROOT / "stacks"
EXAMPLE_STACKS = ("hybrid", "local", "onprem", "prod-aws", "prod-azure", "prod-gcp", "selfmanaged-aws",
                  "selfmanaged-azure", "selfmanaged-gcp", "staging-aws")
"""The example stacks fleetform ships, which the project's own tests plan. A stack a user adds to
stacks/ is theirs to check with `fleetform check` (docs/plan.md)."""
SHARED_SCHEMAS = ROOT.parent / "shared" / "schemas"

_PLANNED: dict[str, tuple[Any, tuple]] = {}


def _shape(result: Any) -> tuple:
    regs = result.capture.registrations
    return (len(regs), tuple(map(id, regs)), tuple(map(id, result.manifests)), len(result.violations),
            len(result.schema_errors), len(result.errors), len(result.undecided), len(result.waived))


def planned(stack: str) -> Any:
    """The plan of an example stack as shipped (no config override, the session's environment),
    made once per test process and shared: planning the ten example stacks again in every module
    that reads them cost about 80 s of the suite's CPU. Callers read it and never change it; a
    shared plan whose lists changed under it fails the next caller. A test that patches anything
    the plan reads (a module, the environment) calls ``plan`` itself."""
    from fleetform.plan.engine import plan

    if stack not in EXAMPLE_STACKS:
        raise ValueError(f"planned() shares only the example stacks' plans, not {stack!r}")
    if stack not in _PLANNED:
        result = plan(stack)
        _PLANNED[stack] = (result, _shape(result))
    result, shape = _PLANNED[stack]
    assert _shape(result) == shape, f"a test changed the shared plan of {stack}: copy it before changing it"
    return result


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
