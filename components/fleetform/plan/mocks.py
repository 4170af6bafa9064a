"""Pulumi SDK mocks shared by ``fleetform plan`` and the tests.

- Resource outputs are canned and deterministic for the resources whose outputs the program
  reads (Kubernetes Service status, ...); other resources echo their inputs, as the engine does
  for inputs that become outputs.
- Resource types outside the packages fleetform uses, and *every* invoke not in
  :data:`INVOKES`, raise: a mock that accepts anything would hide a program reading something
  nobody planned for.
- :class:`RecordingMonitor` keeps each registration as the engine would see it: URN, type, name,
  parent, custom flag, provider, aliases and inputs with secrets still marked.
"""

from __future__ import annotations

import functools
import importlib
import json
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _ensure_event_loop

SECRET = "[secret]"
UNKNOWN = "[unknown]"

KNOWN_PACKAGES = frozenset({"kubernetes", "aws", "gcp", "azure-native", "tls", "random", "command", "fleetform"})
"""Packages whose resources the program may register (providers included)."""


class UnexpectedMockCall(Exception):
    """The program asked the mocks for something no canned answer exists for."""


# ----------------------------------------------------------------------------- canned outputs


def _k8s_service(args: pulumi_mocks.MockResourceArgs) -> dict[str, Any]:
    """A LoadBalancer Service's address as its controller would set it: a hostname for an AWS load
    balancer (the AWS Load Balancer Controller's NLBs answer with a DNS name), else an IP address
    (GKE, AKS, ServiceLB, MetalLB), here from 198.51.100.0/24 (RFC 5737's documentation range)."""
    spec = args.inputs.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return {}
    meta = args.inputs.get("metadata") or {}
    name, namespace = meta.get("name", args.name), meta.get("namespace", "default")
    if any(str(k).startswith("service.beta.kubernetes.io/aws-load-balancer-") for k in meta.get("annotations") or {}):
        return {"status": {"loadBalancer": {"ingress": [{"hostname": f"{name}.{namespace}.lb.plan.invalid"}]}}}
    host = 1 + zlib.crc32(f"{args.name}/{namespace}/{name}".encode()) % 254
    return {"status": {"loadBalancer": {"ingress": [{"ip": f"198.51.100.{host}"}]}}}


OUTPUTS: dict[str, Callable[[pulumi_mocks.MockResourceArgs], dict[str, Any]]] = {
    "kubernetes:core/v1:Service": _k8s_service,
}
"""Resource type -> extra output properties (beyond the echoed inputs)."""

INVOKES: dict[str, Callable[[pulumi_mocks.MockCallArgs], dict[str, Any]]] = {}
"""Invoke token -> canned result; anything else raises."""


@functools.lru_cache(maxsize=None)
def _canned(package: str) -> tuple[dict, dict]:
    """Per-package canned outputs and invokes from ``fleetform.plan.canned.<package>`` (loaded
    only when a resource of that package appears; those modules import no cloud SDK). Looked up
    once per package: a package without a module (kubernetes) would otherwise cost a failed
    import search on every registration."""
    module_name = "fleetform.plan.canned." + package.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return {}, {}
    return getattr(module, "OUTPUTS", {}), getattr(module, "INVOKES", {})


def _output_handler(typ: str):
    if typ in OUTPUTS:
        return OUTPUTS[typ]
    return _canned(typ.split(":")[0])[0].get(typ)


def _invoke_handler(token: str):
    if token in INVOKES:
        return INVOKES[token]
    return _canned(token.split(":")[0])[1].get(token)


class FleetMocks(pulumi.runtime.Mocks):
    """Deterministic mocks: ids are ``<name>-id``, outputs come from :data:`OUTPUTS`.

    ``packages``: resource packages accepted besides :data:`KNOWN_PACKAGES` (a user's program
    with other providers); component resources of any package are accepted (they have no
    provider to mock)."""

    def __init__(self, packages: frozenset[str] = frozenset()):
        self.packages = KNOWN_PACKAGES | frozenset(packages)

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[Optional[str], dict]:
        package = args.typ.split(":")[0]
        if args.typ.startswith("pulumi:providers:"):
            package = args.typ.split(":")[2]
        if package not in self.packages and args.custom is not False:
            raise UnexpectedMockCall(f"unexpected resource type {args.typ} ({args.name}): no mock for package {package!r}")
        if package == "kubernetes" and not args.typ.startswith("pulumi:providers:"):
            # Kubernetes objects: echo only metadata. The program reads nothing else of them, and
            # with preview off the SDK resolves every other output from the input of that name.
            state = {"metadata": args.inputs["metadata"]} if "metadata" in args.inputs else {}
        else:
            # The state a resource reference would be rebuilt from holds the inputs, as a
            # provider's would.
            state = dict(args.inputs)
        handler = _output_handler(args.typ)
        if handler is not None:
            state.update(handler(args))
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, Optional[list[tuple[str, str]]]]:
        handler = _invoke_handler(args.token)
        if handler is None:
            raise UnexpectedMockCall(
                f"unexpected invoke {args.token}: no canned result (add one to fleetform.plan.canned)"
            )
        return handler(args), []


# ----------------------------------------------------------------------------- recording


@dataclass
class Registration:
    """One resource as registered with the (mock) engine."""

    urn: str
    type: str
    name: str
    parent: Optional[str]
    custom: bool
    provider: Optional[str]
    inputs: dict[str, Any]
    """Inputs with secret values still wrapped (see :func:`plain`)."""
    aliases: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    """Property names the engine is told to keep from the old state (``ignore_changes``)."""
    deleted_with: str = ""
    """URN of the resource whose deletion deletes this one (``deleted_with``), or empty."""
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """The ``customTimeouts`` option's non-empty entries (create, update, delete)."""
    _raw: Any = field(default=None, init=False, repr=False, compare=False)
    _marks: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    _views: dict[tuple[bool, str], Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def plain_inputs(self, *, mask: bool, unknown: str = UNKNOWN) -> Any:
        """:func:`plain` of the inputs, computed once per view and shared: read it, never modify
        it. Inputs holding no secret (no unknown) look the same masked or not (whatever stands
        for an unknown), so the plan walks them once for manifests, policies and reports."""
        if self._raw is None:
            self._raw = _plain_marking(self.inputs, self._marks)
        if (mask and "secret" in self._marks) or (unknown != UNKNOWN and "unknown" in self._marks):
            key = (mask, unknown)
            if key not in self._views:
                self._views[key] = plain(self.inputs, mask=mask, unknown=unknown)
            return self._views[key]
        return self._raw


def _plain_marking(value: Any, marks: set[str]) -> Any:
    """``plain(value, mask=False)``, adding "secret" / "unknown" to ``marks`` for what it met."""
    if _is_secret(value):
        marks.add("secret")
        return _plain_marking(value.get("value"), marks)
    if isinstance(value, dict):
        return {k: _plain_marking(v, marks) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_marking(v, marks) for v in value]
    if isinstance(value, pulumi.output.Unknown):
        marks.add("unknown")
    return plain(value, mask=False)


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def plain(value: Any, *, mask: bool, unknown: str = UNKNOWN) -> Any:
    """JSON-friendly copy of deserialized properties: secrets become ``"[secret]"`` when
    ``mask`` (else their value), unknowns ``unknown`` (default ``"[unknown]"``), resource
    references their URN."""
    if _is_secret(value):
        return SECRET if mask else plain(value.get("value"), mask=mask, unknown=unknown)
    if isinstance(value, pulumi.Resource):
        return f"[resource {type(value).__name__}]"
    if isinstance(value, dict):
        return {k: plain(v, mask=mask, unknown=unknown) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, mask=mask, unknown=unknown) for v in value]
    if isinstance(value, pulumi.output.Unknown):
        return unknown
    if isinstance(value, float) and value.is_integer():
        # The wire format (protobuf Struct) carries every number as a double.
        return int(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return json.loads(json.dumps(value, default=str))


class _Witness(pulumi.runtime.Mocks):
    """The mocks as :class:`RecordingMonitor` hands them to ``MockMonitor``: every call goes
    through, and the inputs ``MockMonitor`` deserialized for the registration in progress are kept
    for this thread (``RegisterResource`` runs on the SDK's executor threads)."""

    def __init__(self, mocks: pulumi.runtime.Mocks, seen: threading.local):
        self.wrapped = mocks
        self._seen = seen

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[Optional[str], dict]:
        self._seen.inputs = args.inputs
        return self.wrapped.new_resource(args)

    def call(self, args: pulumi_mocks.MockCallArgs) -> Any:
        return self.wrapped.call(args)

    def register_transform(self, transform: Any) -> None:
        self.wrapped.register_transform(transform)

    def register_invoke_transform(self, transform: Any) -> None:
        self.wrapped.register_invoke_transform(transform)


_UNKNOWN_ON_THE_WIRE = rpc.UNKNOWN.encode()


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that keeps every registration in order and makes URNs as the engine does."""

    def __init__(self, mocks: pulumi.runtime.Mocks):
        self._seen = threading.local()
        super().__init__(_Witness(mocks, self._seen))
        self.registrations: list[Registration] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine qualifies a type with its parent's *whole* qualified type, except under the
        # root stack (pkg/resource/deploy/step_generator.go); the SDK's mock keeps only the last
        # link. URN snapshots must match what `pulumi up` will create, so follow the engine.
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                type_ = parent_type + "$" + type_
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def _inputs(self, request) -> dict[str, Any]:
        """The registration's inputs, deserialized once: those ``MockMonitor`` deserialized for
        the mocks, unless the wire holds an unknown value, which that deserialization (made for a
        mock's eyes) drops; then again, keeping it."""
        inputs = getattr(self._seen, "inputs", None)
        if inputs is None or _UNKNOWN_ON_THE_WIRE in request.object.SerializeToString():
            _ensure_event_loop()
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        return inputs

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        self._seen.inputs = None
        if getattr(request, "remote", False):
            # A multi-language component (a Helm Chart v4, a yaml/v2 ConfigGroup, awsx, eks...)
            # is built by its provider at deploy time: its children cannot be planned, checked or
            # policed offline, and accepting it would report a clean plan of nothing.
            raise UnexpectedMockCall(
                f"{request.type} ({request.name}) is a component its provider builds at deploy time: its resources "
                "cannot be planned offline (use pulumi preview, or resources the program registers itself)"
            )
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent or None,
                    custom=bool(request.custom),
                    provider=request.provider or None,
                    inputs=self._inputs(request),
                    aliases=[a.spec.name or a.urn for a in request.aliases] if request.aliases else [],
                    dependencies=list(request.dependencies),
                    ignore_changes=list(request.ignoreChanges),
                    deleted_with=request.deletedWith,
                    custom_timeouts={k: v for k in ("create", "update", "delete")
                                     if (v := getattr(request.customTimeouts, k))},
                )
            )
        return response
