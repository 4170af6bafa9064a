"""Strict validation of Kubernetes objects against the upstream OpenAPI-derived JSON schemas.

Uses the schemas shipped by ``kubernetes-validate`` (its ``-strict`` variants reject unknown
fields), with one compiled validator per (kind, apiVersion, Kubernetes minor version): the
package's own ``validate()`` re-reads and re-compiles the multi-megabyte definitions file on
every call.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource


class SchemaUnavailable(Exception):
    """No schema for this kind/apiVersion at this Kubernetes version."""


@functools.lru_cache(maxsize=None)
def available_versions() -> tuple[str, ...]:
    """Kubernetes minor versions with strict schemas in the installed kubernetes-validate."""
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    found = []
    for entry in root.iterdir():
        m = re.match(r"^v(\d+)\.(\d+)\.\d+-local-strict$", entry.name)
        if m:
            found.append((int(m.group(1)), int(m.group(2))))
    return tuple(f"{a}.{b}" for a, b in sorted(found))


def _schema_dir(version: str) -> str:
    have = {v: v for v in available_versions()}
    if version not in have:
        raise SchemaUnavailable(f"no strict schemas for Kubernetes {version} (have {', '.join(have)})")
    return f"kubernetes-json-schema/v{version}.0-local-strict"


@functools.lru_cache(maxsize=None)
def _registry(version: str) -> Registry:
    path = resources.files("kubernetes_validate").joinpath(_schema_dir(version), "_definitions.json")
    return Resource.from_contents(json.loads(path.read_text())) @ Registry()


@functools.lru_cache(maxsize=None)
def _validator(version: str, kind: str, api_version: str) -> jsonschema.Draft202012Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = resources.files("kubernetes_validate").joinpath(_schema_dir(version), f"{kind.lower()}-{group_version}.json")
    if not path.is_file():
        raise SchemaUnavailable(f"{kind} {api_version} does not exist in Kubernetes {version}")
    schema = json.loads(path.read_text())
    registry = Resource.from_contents(schema) @ _registry(version)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def schema_errors(obj: dict[str, Any], version: str) -> list[str]:
    """Every strict-schema error of ``obj`` at Kubernetes ``version`` ("1.32"), as readable lines."""
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return ["object has no kind/apiVersion"]
    try:
        validator = _validator(version, kind, api_version)
    except SchemaUnavailable as exc:
        return [str(exc)]
    errors = []
    for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(str(p) for p in err.absolute_path) or "(root)"
        errors.append(f"{where}: {err.message}")
    return errors
