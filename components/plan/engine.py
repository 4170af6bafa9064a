"""``fleetform plan``'s engine: the real program under mocks, then schema and policy checks.

It is not ``pulumi preview``: nothing talks to a cloud or a cluster, so drift and cloud-side
rejections are invisible to it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from ..config import LIST_KEYS, SECRET_KEYS, FleetConfigError, FleetSpec, load_spec
from .mocks import SECRET
from .runner import Capture, run_under_mocks
from .schema import schema_errors

CLUSTER_TYPE_PREFIX = "fleetform:cluster:"

_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP, _BOOL = "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool"


class _YAML_LOADER(_BASE_LOADER):  # noqa: N801
    """libyaml's safe loader where PyYAML was built with it (ten times faster on a large stack
    file), reading plain scalars as Pulumi's YAML reader (YAML 1.2) does: only true/false are
    booleans (on, yes, off, no stay text) and a date stays the text it is. A key written twice in
    one mapping is refused, as Pulumi does (PyYAML would silently keep the last one); merge keys
    (``<<: *anchor``) work as before."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_TIMESTAMP, _BOOL)]
        for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key_node.value!r} appears twice in one mapping (line "
                    f"{key_node.start_mark.line + 1}); Pulumi refuses that", key_node.start_mark)
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_YAML_LOADER.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
"""Pulumi's rule for a stack name: letters, digits, hyphens, underscores and periods, at most 100."""


class StackNotFound(Exception):
    """The STACK argument names no stack file."""


@dataclass
class Manifest:
    """One Kubernetes object the program would apply, with the cluster it goes to."""

    cluster: str
    kubernetes_version: str
    urn: str
    object: dict[str, Any]
    """The object with secrets masked (safe to print or write)."""
    object_raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.object.get("kind"))

    @property
    def name(self) -> str:
        return str((self.object.get("metadata") or {}).get("name"))

    @property
    def namespace(self) -> Optional[str]:
        return (self.object.get("metadata") or {}).get("namespace")


@dataclass
class Violation:
    policy: str
    enforcement: str
    urn: str
    message: str


@dataclass
class PlanResult:
    stack: str
    spec: FleetSpec
    capture: Capture
    manifests: list[Manifest]
    schema_errors: list[str]
    violations: list[Violation]
    errors: list[str]
    """Clusters that could not be planned (e.g. a target not implemented yet)."""
    undecided: list[str] = field(default_factory=list)
    """Policy checks that met an unknown value: "cannot judge yet", never violations (as under
    ``pulumi preview``), but reported so a plan never passes them silently."""

    @property
    def mandatory_violations(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "mandatory"]

    @property
    def exit_code(self) -> int:
        return 1 if (self.schema_errors or self.mandatory_violations or self.errors) else 0

    def resources(self) -> list[dict[str, Any]]:
        """The resources as the JSON report lists them (secrets masked)."""
        return [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "custom": r.custom,
                "inputs": r.plain_inputs(mask=True),
            }
            for r in self.capture.registrations
        ]

    def summary(self) -> dict[str, Any]:
        by_type: dict[str, int] = {}
        for r in self.capture.registrations:
            by_type[r.type] = by_type.get(r.type, 0) + 1
        return {
            "resources": len(self.capture.registrations),
            "byType": dict(sorted(by_type.items())),
            "clusters": sorted({m.cluster for m in self.manifests} | set(self._cluster_names())),
            "manifests": len(self.manifests),
            "schemaErrors": len(self.schema_errors),
            "violations": {
                level: sum(1 for v in self.violations if v.enforcement == level) for level in ("mandatory", "advisory")
            },
            "errors": len(self.errors),
            "undecided": len(self.undecided),
            "exitCode": self.exit_code,
        }

    def _cluster_names(self) -> list[str]:
        return [r.name for r in self.capture.registrations if r.type.startswith(CLUSTER_TYPE_PREFIX)]


# ------------------------------------------------------------------------------ stack files


def project_root() -> Path:
    """The directory holding ``Pulumi.yaml``: the current directory or one above, else the
    checkout this package lives in."""
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file() and (candidate / "stacks").is_dir():
            return candidate
    return Path(__file__).resolve().parents[2]


def resolve_stack(stack: str) -> tuple[str, Path]:
    """``stack`` is a stack name in ``stacks/`` or a path to a ``Pulumi.<name>.yaml``."""
    path = Path(stack)
    if path.suffix in (".yaml", ".yml") or os.sep in stack:
        if not path.is_file():
            raise StackNotFound(f"no stack file {stack}")
        name = path.name
        if name.startswith("Pulumi.") and name.count(".") >= 2:
            name = name[len("Pulumi."):].rsplit(".", 1)[0]
        else:
            name = path.stem
        if not _STACK_NAME.fullmatch(name):
            raise StackNotFound(
                f"{stack}: the stack name from the file name is {name!r}; allowed: letters, digits, "
                "'-', '_' and '.' (at most 100), as Pulumi requires"
            )
        return name, path
    candidate = project_root() / "stacks" / f"Pulumi.{stack}.yaml"
    if not candidate.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (project_root() / "stacks").glob("Pulumi.*.yaml"))
        raise StackNotFound(f"no stack {stack!r} in {candidate.parent}; known stacks: {', '.join(known)}")
    return stack, candidate


def read_stack_config(path: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A stack file's ``config:`` map. Encrypted values (``secure:``) cannot be decrypted offline:
    they are replaced by a placeholder and reported as secret keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FleetConfigError([f"{path}: not UTF-8 text (byte offset {exc.start}); allowed: a YAML stack file"]) from None
    except OSError as exc:
        raise FleetConfigError([f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    try:
        doc = yaml.load(text, Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as exc:
        raise FleetConfigError([f"{path}: not valid YAML: {str(exc).splitlines()[0]}"]) from None
    if not isinstance(doc, dict):
        raise FleetConfigError([f"{path}: expected a mapping with a config: key"])
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise FleetConfigError([f"{path}: config: must be a mapping of key: value"])
    secret_keys = []
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.append(str(key))
            value = SECRET
        elif key in SECRET_KEYS and value is not None:
            # Pulumi refuses a stack whose value for a `secret: true` key is plain text; the value
            # itself is never shown.
            raise FleetConfigError([
                f"{key}: set in plain text in {path.name}; allowed: an encrypted value only "
                f"(pulumi config set --secret {key} ...; then remove the plain-text key from the file)"
            ])
        if ":" not in str(key):
            raise FleetConfigError([f"{key}: a key without a namespace; allowed: <namespace>:<name> keys, "
                                    f"such as fleetform:{key} (Pulumi refuses others)"])
        if key in LIST_KEYS and isinstance(value, str):
            raise FleetConfigError([f"{key}: got a string; allowed: a YAML list (Pulumi checks the type Pulumi.yaml "
                                    "declares, array)"])
        try:
            value = _plain(value)
        except _NotPlain as exc:
            raise FleetConfigError([f"{key}: {exc}; allowed: plain YAML values (strings, numbers, true/false, "
                                    "lists and mappings), as Pulumi config holds"]) from None
        out[str(key)] = value
    return out, tuple(secret_keys)


class _NotPlain(ValueError):
    """A config value Pulumi config cannot hold; the message says what in it."""


def _plain(value: Any, within: frozenset[int] = frozenset()) -> Any:
    """A stack file's config value as Pulumi hands it on: mapping keys that are numbers or
    booleans become their text (Pulumi formats every key as a string). Raises :class:`_NotPlain`
    for what Pulumi config cannot hold: a YAML-only type (``!!binary``, ``!!set``, an explicit
    ``!!timestamp``), a key that is a list, mapping or null, an alias that contains itself."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, dict)):
        if id(value) in within:
            raise _NotPlain("holds an alias that contains itself")
        inner = within | {id(value)}
        if isinstance(value, list):
            return [_plain(v, inner) for v in value]
        return {_key_text(k): _plain(v, inner) for k, v in value.items()}
    raise _NotPlain(f"holds a YAML {_yaml_type(value)} value")


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (str, int, float)):
        return str(key)
    raise _NotPlain(f"holds a mapping key that is {'null' if key is None else 'a ' + _yaml_type(key)}")


def _yaml_type(value: Any) -> str:
    return {bytes: "!!binary", set: "!!set", tuple: "list"}.get(type(value), type(value).__name__)


# ------------------------------------------------------------------------------ the plan


def _cluster_of(urn: str, parents: Mapping[str, Optional[str]], types: Mapping[str, str], names: Mapping[str, str]) -> Optional[str]:
    current: Optional[str] = urn
    while current is not None:
        if types.get(current, "").startswith(CLUSTER_TYPE_PREFIX):
            return names[current]
        current = parents.get(current)
    return None


def manifests_of(capture: Capture, spec: FleetSpec, version_override: Optional[str] = None) -> list[Manifest]:
    """Every Kubernetes object of the run, attributed to its cluster."""
    parents = {r.urn: r.parent for r in capture.registrations}
    types = {r.urn: r.type for r in capture.registrations}
    names = {r.urn: r.name for r in capture.registrations}
    versions = {c.name: spec.version_of(c) for c in spec.clusters}
    out = []
    for r in capture.registrations:
        if not r.custom or not r.type.startswith("kubernetes:") or not {"apiVersion", "kind"} <= set(r.inputs):
            # Providers and Helm releases are not Kubernetes objects.
            continue
        cluster = _cluster_of(r.urn, parents, types, names) or "(unknown)"
        out.append(
            Manifest(
                cluster=cluster,
                kubernetes_version=version_override or versions.get(cluster, spec.kubernetes_version),
                urn=r.urn,
                object=r.plain_inputs(mask=True),
                object_raw=r.plain_inputs(mask=False),
            )
        )
    return out


def run_policies(capture: Capture, config: Optional[Mapping[str, Any]] = None) -> tuple[list[Violation], list[str]]:
    """Run the policy pack's rules in-process over every custom resource, with a policy-pack
    ``config`` in Pulumi's format (as given to ``--policy-pack-config``). Returns the violations
    and the "cannot judge yet" notes (checks that met an unknown value)."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    from policies.rules import StackResource, evaluate

    # An unknown input reaches the rules as pulumi_policy's own sentinel, so they report it as
    # "cannot judge yet" exactly as under `pulumi preview`, never as a violation.
    resources = [
        StackResource(r.type, r.urn, r.name, r.plain_inputs(mask=False, unknown=UNKNOWN_STRING_VALUE))
        for r in capture.registrations
        if r.custom and not r.type.startswith("pulumi:providers:")
    ]
    findings, undecided = evaluate(resources, config)
    return [Violation(f.policy, f.enforcement, f.urn, f.message) for f in findings], undecided


def duplicate_objects(manifests: list[Manifest]) -> list[str]:
    """One line per Kubernetes object that two resources of the run declare on the same cluster
    (same API group, kind, namespace and name): applying both, the second would take the first
    over."""
    seen: dict[tuple[str, str, str, str, str], str] = {}
    lines = []
    for m in manifests:
        api_version = str(m.object.get("apiVersion", ""))
        group = api_version.split("/")[0] if "/" in api_version else ""
        key = (m.cluster, group, m.kind, m.namespace or "", m.name)
        first = seen.setdefault(key, m.urn)
        if first != m.urn:
            lines.append(
                f"{m.cluster}: {m.kind} {m.namespace + '/' if m.namespace else ''}{m.name} is declared by two "
                f"resources, {first.rsplit('::', 1)[-1]} and {m.urn.rsplit('::', 1)[-1]}: the second would take "
                "over the first"
            )
    return lines


def plan(
    stack: str,
    *,
    config: Optional[Mapping[str, Any]] = None,
    kubernetes_version: Optional[str] = None,
    policy_config: Optional[Mapping[str, Any]] = None,
) -> PlanResult:
    """Plan ``stack`` offline. ``config`` overrides reading the stack file (tests).

    Raises :class:`FleetConfigError` for invalid config (before any resource is registered) and
    :class:`StackNotFound` for an unknown stack.
    """
    from ..fleet import program

    secret_keys: tuple[str, ...] = ()
    if config is None:
        stack, path = resolve_stack(stack)
        config, secret_keys = read_stack_config(path)
    spec = load_spec(config)
    capture = run_under_mocks(
        stack, config, lambda: program(skip_unimplemented=True), secret_keys=secret_keys
    )
    fleet = capture.program_result
    manifests = manifests_of(capture, spec, kubernetes_version)
    errors_found = []
    for m in manifests:
        for line in schema_errors(m.object_raw, m.kubernetes_version):
            errors_found.append(f"{m.cluster}: {m.kind} {m.namespace or ''}/{m.name} (Kubernetes {m.kubernetes_version}): {line}")
    violations, undecided = run_policies(capture, policy_config)
    return PlanResult(
        stack=stack,
        spec=spec,
        capture=capture,
        manifests=manifests,
        schema_errors=errors_found,
        violations=violations,
        errors=list(fleet.skipped) + duplicate_objects(manifests),
        undecided=undecided,
    )
