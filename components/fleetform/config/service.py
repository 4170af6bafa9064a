"""A microservice of the fleet: :class:`ServiceSpec` and its parts.

Autoscaling bounds (:class:`AutoscaleSpec`), the HTTP health endpoint (:class:`HealthSpec`),
CPU and memory requests and limits (:class:`ResourcesSpec`) and allowed egress
(:class:`EgressRule`). References to other services and clusters are checked by
:class:`~fleetform.config.fleet.FleetSpec`, which knows them all.
"""

from __future__ import annotations

import ipaddress
import json
from decimal import Decimal
from typing import Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from .errors import _problem, _raise_all
from .values import (
    DEFAULT_DENY_POLICY,
    _DIGEST,
    _ENV_NAME,
    _HTTP_PATH,
    _IMAGE,
    _IMAGE_NAME_MAX,
    _dns_label,
    _Model,
    _quantity,
)

class AutoscaleSpec(_Model):
    """Horizontal pod autoscaling bounds (autoscaling/v2 on CPU)."""

    min: Optional[int] = Field(default=None, ge=1, le=1000, description="Fewest replicas; default: replicas.")
    max: Optional[int] = Field(default=None, ge=1, le=1000, description="Most replicas; default: 3 x replicas.")
    cpu_percent: int = Field(default=70, ge=1, le=100, description="Target average CPU utilisation, in percent of requests.")


class HealthSpec(_Model):
    """The service's HTTP health endpoint: probes and load balancer health checks use it."""

    path: str = Field(default="/healthz", description="Absolute URL path answering 2xx when the service can take traffic.")
    liveness_path: Optional[str] = Field(
        default=None,
        description="Path for the HTTP liveness probe; default: none, liveness is a TCP check on the port (a "
        "liveness probe asking the readiness question restarts pods that are only busy).",
    )

    @field_validator("path", "liveness_path", mode="after")
    @classmethod
    def _absolute(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and (len(v) > 1024 or not _HTTP_PATH.fullmatch(v)):
            raise _problem("an absolute URL path such as /healthz (starts with '/', no spaces, query or fragment)")
        return v


class ResourcesSpec(_Model):
    """Container resources: requests are what the scheduler reserves, limits the ceiling."""

    cpu: str = Field(default="100m", description="CPU request, e.g. 250m.")
    memory: str = Field(default="128Mi", description="Memory request, e.g. 256Mi.")
    cpu_limit: str = Field(default="1", description="CPU limit.")
    memory_limit: Optional[str] = Field(default=None, description="Memory limit; default: the memory request.")

    @field_validator("cpu", "cpu_limit", "memory", "memory_limit", mode="before")
    @classmethod
    def _numbers_as_text(cls, v: Any) -> Any:
        # Kubernetes takes a plain number too (cpu: 2, memory: 134217728).
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    @field_validator("cpu", "cpu_limit", mode="after")
    @classmethod
    def _cpu(cls, v: str) -> str:
        amount = _quantity(v)
        if amount is None or amount < Decimal("0.001"):
            raise _problem("a CPU quantity of at least 1m, such as 250m, 1 or 1.5")
        return v

    @field_validator("memory", "memory_limit", mode="after")
    @classmethod
    def _memory(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        amount = _quantity(v)
        # A lower-case m means milli: 128m is an eighth of a byte, a classic slip for 128Mi.
        if amount is None or v.endswith(("m", "u", "n")) or amount < 1024 * 1024:
            raise _problem("a memory quantity of at least 1Mi, such as 256Mi, 1Gi or 500M (m would mean thousandths of a byte)")
        return v

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "ResourcesSpec":
        # The API server refuses a request above its limit (pod validation).
        found: list[tuple[Any, Any, str]] = []
        if (_quantity(self.cpu) or 0) > (_quantity(self.cpu_limit) or 0):
            default = "" if "cpu_limit" in self.model_fields_set else ", the default: set cpuLimit to raise it"
            found.append(("cpu", self.cpu, f"at most the CPU limit, cpuLimit ({self.cpu_limit}{default})"))
        if self.memory_limit is not None and (_quantity(self.memory) or 0) > (_quantity(self.memory_limit) or 0):
            found.append(("memory", self.memory, f"at most the memory limit, memoryLimit ({self.memory_limit})"))
        _raise_all(found)
        return self


class EgressRule(_Model):
    """One allowed egress destination beyond DNS: another fleet service, or a CIDR and ports."""

    service: Optional[str] = Field(default=None, description="Name of a fleet service this one calls.")
    cidr: Optional[ipaddress.IPv4Network] = Field(default=None, description="Destination CIDR.")
    ports: list[int] = Field(default_factory=list, description="Destination TCP ports (required with cidr).")

    @field_validator("ports", mode="after")
    @classmethod
    def _ports(cls, v: list[int]) -> list[int]:
        if any(p < 1 or p > 65535 for p in v):
            raise _problem("TCP ports from 1 to 65535")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> "EgressRule":
        found: list[tuple[Any, Any, str]] = []
        if (self.service is None) == (self.cidr is None):
            found.append(("service", self.service, "exactly one of service or cidr"))
        if self.cidr is not None and not self.ports:
            found.append(("ports", [], "at least one port with cidr (no all-ports egress)"))
        _raise_all(found)
        return self


def _digest_problem(image: str) -> Optional[str]:
    """What is wrong with an image reference's digest, said so it can be fixed (the value shown in
    the message may be shortened), or None when the digest is not the problem."""
    if "@" not in image:
        return None
    digest = image.rsplit("@", 1)[1]
    algorithm, _, hex_part = digest.partition(":")
    if algorithm != "sha256":
        return "digest does not start with sha256: (the only algorithm accepted)"
    if not hex_part or any(c not in "0123456789abcdefABCDEF" for c in hex_part):
        bad = sorted({c for c in hex_part if c not in "0123456789abcdefABCDEF"})
        return ("sha256 digest is empty, want 64 hex digits" if not hex_part
                else "sha256 digest has characters that are not hex digits: " + " ".join(json.dumps(c) for c in bad[:5]))
    if hex_part != hex_part.lower():
        return "sha256 digest has upper-case hex digits, want lower-case"
    if len(hex_part) != 64:
        return f"sha256 digest has {len(hex_part)} hex digits, want 64"
    return None


def image_problem(image: str) -> Optional[str]:
    """What an image reference must be, when ``image`` is not a pinned one (None when it is): a
    service's image and a release's (``fleetform:release``) follow the same rule."""
    m = _IMAGE.fullmatch(image)
    if not m or len(m.group("repo")) > _IMAGE_NAME_MAX:
        why = _digest_problem(image)
        return ("an image reference like registry/repo:1.2.3 or registry/repo@sha256:<64 hex> "
                f"(name at most {_IMAGE_NAME_MAX} characters)" + (f"; here the {why}" if why else ""))
    if m.group("digest") is None and (m.group("tag") is None or m.group("tag") == "latest"):
        return "a pinned image: a digest (@sha256:...) or a tag other than latest"
    return None


class ServiceSpec(_Model):
    """A containerized microservice fleetform deploys, the same way, on every cluster."""

    name: str = Field(description="Service name, a DNS-1123 label unique in the fleet.")
    image: str = Field(description="Container image pinned by digest (@sha256:...) or by a tag other than latest.")
    port: int = Field(description="Container port the service listens on (1024-65535: it runs as non-root).")
    service_port: int = Field(default=80, ge=1, le=65535, description="Port the Service and load balancer listen on.")
    replicas: int = Field(default=2, ge=1, le=1000, description="Initial replicas; within the autoscale bounds.")
    autoscale: AutoscaleSpec = Field(default_factory=AutoscaleSpec, description="Autoscaling bounds.")
    health: HealthSpec = Field(default_factory=HealthSpec, description="HTTP health endpoint.")
    expose: Literal["public", "internal", "cluster"] = Field(
        default="cluster",
        description="public (internet-facing load balancer), internal (private load balancer) or cluster (ClusterIP only).",
    )
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec, description="CPU and memory requests and limits.")
    env: dict[str, str] = Field(default_factory=dict, description="Plain environment variables (no secrets here).")
    egress: list[EgressRule] = Field(default_factory=list, description="Allowed egress beyond DNS.")
    spot: bool = Field(
        default=False,
        description="May run on spot/preemptible nodes (reclaimed at short notice): tolerates AKS's spot taint and "
        "prefers spot nodes. Default false: the pods stay off the clouds' spot nodes.",
    )
    clusters: Optional[list[str]] = Field(default=None, min_length=1, description="Clusters to deploy on; default: all.")
    node_port: Optional[int] = Field(
        default=None,
        ge=30000,
        le=32767,
        description="NodePort on self-managed cloud clusters, where fleetform's own load balancer forwards to it; "
        "default: derived from the service name.",
    )

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str) -> str:
        if v[:1].isdigit():
            # Its Kubernetes Service is named after it, and a Service name is a DNS-1035 label.
            raise _problem("a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and "
                           "ending with a letter or digit, at most 40 characters")
        if v == DEFAULT_DENY_POLICY:
            # A service's objects are named after it: its NetworkPolicy would replace the namespace's.
            raise _problem(f"a DNS-1123 label other than {DEFAULT_DENY_POLICY} (the name of the namespace's "
                           "default-deny NetworkPolicy)")
        return _dns_label(v, 40)

    @field_validator("image", mode="after")
    @classmethod
    def _pinned(cls, v: str) -> str:
        why = image_problem(v)
        if why is not None:
            raise _problem(why)
        return v

    @field_validator("port", mode="after")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 1024 <= v <= 65535:
            raise _problem("a port from 1024 to 65535 (the container runs as non-root with no capabilities)")
        return v

    @field_validator("env", mode="after")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [key for key in v if not _ENV_NAME.fullmatch(key) or key in (".", "..") or key.startswith("..")]
        if bad:  # the names are the problem (a value may be a credential: never shown)
            raise _problem("environment variable names of letters, digits, '_', '-', '.', not starting with a digit "
                           "or '..'",
                           key=None, got=None, shown=", ".join(json.dumps(k) for k in bad) + " (names)")
        return v

    @model_validator(mode="after")
    def _replica_bounds(self) -> "ServiceSpec":
        lo, hi = self.min_replicas, self.max_replicas
        if lo > hi:
            # autoscale.min defaults to replicas: name the key the user actually set.
            key = "autoscale.min" if self.autoscale.min is not None else "replicas"
            raise _problem(f"at most autoscale.max ({hi})", key=key, got=lo)
        if not lo <= self.replicas <= hi:
            raise _problem(f"from autoscale.min ({lo}) to autoscale.max ({hi})", key="replicas", got=self.replicas)
        return self

    @property
    def min_replicas(self) -> int:
        return self.autoscale.min if self.autoscale.min is not None else self.replicas

    @property
    def max_replicas(self) -> int:
        return self.autoscale.max if self.autoscale.max is not None else max(self.min_replicas, 3 * self.replicas)

    @property
    def pinned_by_digest(self) -> bool:
        return bool(_DIGEST.search(self.image))
