"""``fleetform plan``'s engine: the real program under mocks, then schema and policy checks.

It is not ``pulumi preview``: nothing talks to a cloud or a cluster, so drift and cloud-side
rejections are invisible to it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..config import DEFAULT_KUBERNETES_VERSION, SECRET_KEYS, FleetConfigError, FleetSpec, load_spec
from ..config.extends import resolve_extends
from .mocks import SECRET
from .runner import PROJECT, Capture, run_under_mocks
from .schema import schema_errors
# The YAML reader lives beside the models: the program reads a base stack (fleetform:extends) with it.
from ..config.stackfile import STACK_NAME, read_stack_file

CLUSTER_TYPE_PREFIX = "fleetform:cluster:"

if TYPE_CHECKING:
    from fleetform_policies.rules import StackResource as StackResourceLike

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
    hint: str = ""
    """How to fix it (what the rule wants) or waive it (the policy-config entry)."""
    waived: Optional[str] = None
    """The waiver's reason when a waiver covers the resource (then it is listed, not counted)."""


@dataclass
class PolicyInEffect:
    """The policy config a plan ran with, for the reports: where it came from, and what it changes."""

    file: Optional[str] = None
    sha256: Optional[str] = None
    changed: dict[str, str] = field(default_factory=dict)
    """Rules whose enforcement level differs from the pack's default: name -> level."""
    waivers: list[dict[str, str]] = field(default_factory=list)
    """Every waiver: policy, service or resource, reason."""

    def as_json(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "changed": self.changed, "waivers": self.waivers}


@dataclass
class PlanResult:
    stack: str
    spec: Optional[FleetSpec]
    """The validated config of a fleetform stack; None for another program (``fleetform.testing``)."""
    capture: Capture
    manifests: list[Manifest]
    schema_errors: list[str]
    violations: list[Violation]
    errors: list[str]
    """Clusters that could not be planned (e.g. a target not implemented yet)."""
    undecided: list[str] = field(default_factory=list)
    """Policy checks that met an unknown value: "cannot judge yet", never violations (as under
    ``pulumi preview``), but reported so a plan never passes them silently."""
    waived: list[Violation] = field(default_factory=list)
    """Findings a waiver of the policy config covers, each with its reason (not violations)."""
    policy: PolicyInEffect = field(default_factory=PolicyInEffect)

    @property
    def mandatory_violations(self) -> list[Violation]:
        return [v for v in self.violations if v.enforcement == "mandatory"]

    @property
    def exit_code(self) -> int:
        return 1 if (self.schema_errors or self.mandatory_violations or self.errors) else 0

    def problems(self) -> list[str]:
        """One line per reason the plan fails (exit 1): schema errors, mandatory violations,
        clusters not planned, objects declared twice."""
        return [*self.schema_errors, *(f"{v.policy} (mandatory): {v.message} [{v.urn}]" for v in self.mandatory_violations),
                *self.errors]

    def report(self) -> dict[str, Any]:
        """The ``fleetform plan --json`` document of this plan (secrets as ``"[secret]"``)."""
        from .render import to_json

        return to_json(self)

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
            "waived": len(self.waived),
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
        if path.name == "Pulumi.yaml":
            raise StackNotFound(f"{stack} is the project file; allowed: a stack file, Pulumi.<stack>.yaml")
        name = path.name
        if name.startswith("Pulumi.") and name.count(".") >= 2:
            name = name[len("Pulumi."):].rsplit(".", 1)[0]
        else:
            name = path.stem
        if not STACK_NAME.fullmatch(name):
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
    they are replaced by a placeholder and reported as secret keys. (Its own keys only: ``plan``
    merges a base stack named by ``fleetform:extends`` afterwards.)"""
    return read_stack_file(path, SECRET)


# ------------------------------------------------------------------------------ the plan


def _cluster_of(urn: Optional[str], parents: Mapping[str, Optional[str]], types: Mapping[str, str], names: Mapping[str, str]) -> Optional[str]:
    current: Optional[str] = urn
    while current is not None:
        if types.get(current, "").startswith(CLUSTER_TYPE_PREFIX):
            return names[current]
        current = parents.get(current)
    return None


def manifests_of(capture: Capture, spec: Optional[FleetSpec], version_override: Optional[str] = None) -> list[Manifest]:
    """Every Kubernetes object of the run, attributed to its cluster: the fleetform cluster
    component above it, else (a program's own provider) the name of its Kubernetes provider."""
    parents = {r.urn: r.parent for r in capture.registrations}
    types = {r.urn: r.type for r in capture.registrations}
    names = {r.urn: r.name for r in capture.registrations}
    versions = {c.name: spec.version_of(c) for c in spec.clusters} if spec is not None else {}
    default_version = spec.kubernetes_version if spec is not None else DEFAULT_KUBERNETES_VERSION
    out = []
    for r in capture.registrations:
        if not r.custom or not r.type.startswith("kubernetes:") or not {"apiVersion", "kind"} <= set(r.inputs):
            # Providers and Helm releases are not Kubernetes objects.
            continue
        provider_urn = r.provider.rsplit("::", 1)[0] if r.provider else None
        cluster = (_cluster_of(r.urn, parents, types, names) or _cluster_of(provider_urn, parents, types, names)
                   or _provider_name(provider_urn) or "(unknown)")
        out.append(
            Manifest(
                cluster=cluster,
                kubernetes_version=version_override or versions.get(cluster, default_version),
                urn=r.urn,
                object=r.plain_inputs(mask=True),
                object_raw=r.plain_inputs(mask=False),
            )
        )
    return out


def _provider_name(urn: Optional[str]) -> Optional[str]:
    """The name of an explicit provider (by its URN), or None for none or the default provider."""
    if not urn:
        return None
    name = urn.rsplit("::", 1)[-1]
    return None if name.startswith("default") else name


def _hint(policy: str, description: str, resource: StackResourceLike) -> str:
    """How to fix a finding (what the rule wants) or waive it, scoped as narrowly as fleetform knows."""
    from fleetform_policies.rules.base import SERVICE_LABEL, labels

    service = labels(resource.props).get(SERVICE_LABEL) if resource.type.startswith("kubernetes:") else None
    scope = {"service": service} if isinstance(service, str) else {"resource": resource.name}
    waiver = json.dumps({policy: {"waivers": [{**scope, "reason": "..."}]}})
    return f"fix: {description} Or waive it in the policy config (--policy-config): {waiver}"


def run_policies(capture: Capture, config: Optional[Mapping[str, Any]] = None) -> tuple[list[Violation], list[str]]:
    """Run the policy pack's rules in-process over every custom resource, with a policy-pack
    ``config`` in Pulumi's format (as given to ``--policy-pack-config``). Returns the findings
    (violations, and those a waiver covers with ``waived`` set) and the "cannot judge yet" notes
    (checks that met an unknown value)."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    from fleetform_policies.rules import RULES, StackResource, evaluate, on_the_wire

    # An unknown input reaches the rules as pulumi_policy's own sentinel, so they report it as
    # "cannot judge yet" exactly as under `pulumi preview`, never as a violation. Numbers reach them
    # as the engine sends them (every one a double: the mocks' plain() turned them back into ints),
    # and each resource with what it depends on, so plan and preview give the same verdicts.
    resources = [
        StackResource(r.type, r.urn, r.name, on_the_wire(r.plain_inputs(mask=False, unknown=UNKNOWN_STRING_VALUE)),
                      tuple(r.dependencies))
        for r in capture.registrations
        if r.custom and not r.type.startswith("pulumi:providers:")
    ]
    findings, undecided = evaluate(resources, config)
    descriptions = {r.name: r.description for r in RULES}
    by_urn = {r.urn: r for r in resources}
    out = []
    for f in findings:
        hint = _hint(f.policy, descriptions[f.policy], by_urn[f.urn]) if f.urn in by_urn else ""
        out.append(Violation(f.policy, f.enforcement, f.urn, f.message, hint, f.waived))
    return out, undecided


def policy_in_effect(config: Optional[Mapping[str, Any]], source: Optional[tuple[str, str]] = None) -> PolicyInEffect:
    """What a policy config changes against the pack's defaults, and where it came from
    (``source``: its file and the SHA-256 of its bytes)."""
    from fleetform_policies.rules import RULES, effective_levels

    config = config or {}
    levels = effective_levels(config)
    changed = {r.name: levels[r.name] for r in RULES if levels[r.name] != r.enforcement}
    waivers = []
    for name, value in config.items():
        if isinstance(value, Mapping):
            for waiver in value.get("waivers") or []:
                if isinstance(waiver, Mapping):
                    waivers.append({"policy": name, **{k: str(v) for k, v in waiver.items()}})
    return PolicyInEffect(source[0] if source else None, source[1] if source else None, changed, waivers)


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
    policy_source: Optional[tuple[str, str]] = None,
) -> PlanResult:
    """Plan ``stack`` offline. ``config`` overrides reading the stack file (tests).

    Raises :class:`FleetConfigError` for invalid config (before any resource is registered) and
    :class:`StackNotFound` for an unknown stack.
    """
    from ..fleet import program

    # Config given directly stands for what the engine hands a program: its secret keys are
    # secrets. From a stack file, only encrypted values are (the reader refuses plain-text ones).
    secret_keys: tuple[str, ...] = tuple(k for k in sorted(SECRET_KEYS) if config and config.get(k) not in (None, ""))
    stack_dir, own = project_root() / "stacks", None
    if config is None:
        stack, path = resolve_stack(stack)
        config, secret_keys = read_stack_config(path)
        stack_dir, own = path.parent, path
    # A base stack (fleetform:extends) is merged here: the program then gets the effective config.
    config = resolve_extends(config, stack_dir, own)
    spec = load_spec(config)
    return plan_program(
        lambda: program(skip_unimplemented=True),
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        spec=spec,
        kubernetes_version=kubernetes_version,
        policy_config=policy_config,
        policy_source=policy_source,
    )


def plan_program(
    program: Callable[[], Any],
    *,
    stack: str,
    config: Mapping[str, Any],
    project: str = PROJECT,
    secret_keys: tuple[str, ...] = (),
    spec: Optional[FleetSpec] = None,
    kubernetes_version: Optional[str] = None,
    policy_config: Optional[Mapping[str, Any]] = None,
    packages: frozenset[str] = frozenset(),
    policy_source: Optional[tuple[str, str]] = None,
) -> PlanResult:
    """Run any Pulumi ``program`` under the plan's mocks, then check what it registered: every
    Kubernetes object against the schema of its cluster's version (``spec``'s, else
    ``kubernetes_version``, else fleetform's default), the policy pack over every resource, and
    objects declared twice. ``packages``: more resource packages whose custom resources the mocks
    accept (their outputs echo their inputs). A ``policy_config`` the pack would not accept raises
    :class:`ValueError` with one line per problem, as ``--policy-config`` exits 2."""
    if policy_config:
        from fleetform_policies.rules import config_problems

        problems = config_problems(policy_config)
        if problems:
            raise ValueError("invalid policy config:\n" + "\n".join(f"  {line}" for line in problems))
    capture = run_under_mocks(stack, config, program, secret_keys=secret_keys, project=project, packages=packages)
    manifests = manifests_of(capture, spec, kubernetes_version)
    errors_found = []
    for m in manifests:
        for line in schema_errors(m.object_raw, m.kubernetes_version):
            errors_found.append(f"{m.cluster}: {m.kind} {m.namespace or ''}/{m.name} (Kubernetes {m.kubernetes_version}): {line}")
    findings, undecided = run_policies(capture, policy_config)
    skipped = getattr(capture.program_result, "skipped", None)
    return PlanResult(
        stack=stack,
        spec=spec,
        capture=capture,
        manifests=manifests,
        schema_errors=errors_found,
        violations=[f for f in findings if f.waived is None],
        errors=(list(skipped) if isinstance(skipped, list) else []) + duplicate_objects(manifests),
        undecided=undecided,
        waived=[f for f in findings if f.waived is not None],
        policy=policy_in_effect(policy_config, policy_source),
    )
