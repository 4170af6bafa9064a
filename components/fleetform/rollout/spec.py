"""The rollout file: :class:`RolloutSpec`, and its checks against the project's stacks.

```yaml
release:
  images: {web: ghcr.io/acme/web@sha256:..., api: ghcr.io/acme/api:2.4.1}
waves:
  - {name: canary, targets: [hybrid/hy-dc], bake: 10m}
  - {name: clouds, targets: [hybrid/hy-aws, staging-aws], maxParallel: 2, bake: 5m}
  - {name: rest, targets: [hybrid/hy-gcp, hybrid/hy-azure, prod-aws], approval: true}
gates: {timeout: 15m, http: {successes: 3}, prometheus: {url: ..., query: ..., max: ...}}
drain: true
onFailure: rollback
```

A target is ``STACK`` (all its clusters) or ``STACK/CLUSTER``. :func:`load_rollout` reads the file
and checks it against the stacks (:func:`rollout_problems`); every problem is one line naming
its key, and nothing runs while there is one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

from pydantic import Field, ValidationError, field_validator

from ..config.errors import _problem
from ..config.fleet import FleetSpec
from ..config.release import pinned_images
from ..config.values import _dns_label, _Model

_DURATION = re.compile(r"^(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?$")


def seconds(text: str) -> int:
    """``1h30m``, ``10m``, ``45s`` (or a bare number of seconds) in seconds; ValueError otherwise."""
    text = str(text).strip()
    if text.isdigit():
        return int(text)
    m = _DURATION.fullmatch(text)
    if not text or m is None:
        raise ValueError(text)
    return int(m["h"] or 0) * 3600 + int(m["m"] or 0) * 60 + int(m["s"] or 0)


def _duration(v: Any) -> str:
    try:
        seconds(str(v))
    except ValueError:
        raise _problem("a duration such as 30s, 10m or 1h30m") from None
    return str(v)


class ReleaseImages(_Model):
    """What moves: a pinned image per service."""

    images: dict[str, str] = Field(min_length=1, description="Service name -> image, pinned by digest or a tag "
                                   "other than latest.")

    _pinned = field_validator("images", mode="after")(lambda cls, v: pinned_images(v))


class WaveSpec(_Model):
    """Targets updated together; the next wave starts when every target here passed its gates and bake."""

    name: str = Field(description="The wave's name (a DNS-1123 label), used by --approve.")
    targets: list[str] = Field(min_length=1, description="STACK or STACK/CLUSTER, each in one wave only.")
    bake: str = Field(default="0s", description="How long the wave's targets keep passing their gates before the next wave.")
    max_parallel: int = Field(default=1, description="Targets updated at once (at least 1).")
    approval: bool = Field(default=False, description="Ask before the wave starts (on a terminal; in CI --approve NAME).")

    _name = field_validator("name", mode="after")(lambda cls, v: _dns_label(v, 63))
    _bake = field_validator("bake", mode="before")(lambda cls, v: _duration(v))

    @field_validator("max_parallel", mode="after")
    @classmethod
    def _at_least_one(cls, v: int) -> int:
        if v < 1:
            raise _problem("a whole number >= 1")
        return v


class HttpGate(_Model):
    """The service's health path through the cluster's own load balancer."""

    successes: int = Field(default=3, ge=1, le=100, description="Consecutive 2xx answers each target needs.")
    interval: str = Field(default="5s", description="Time between probes.")

    _interval = field_validator("interval", mode="before")(lambda cls, v: _duration(v))


class PrometheusGate(_Model):
    """An instant query whose every sample must stay at or below ``max``."""

    url: str = Field(description="Prometheus' base URL, e.g. http://prometheus.monitoring:9090.")
    query: str = Field(description="A PromQL instant query, e.g. an error ratio.")
    max: float = Field(description="The largest value that passes.")

    @field_validator("url", mode="after")
    @classmethod
    def _http(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise _problem("an http:// or https:// URL")
        return v.rstrip("/")

    @field_validator("max", mode="after")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise _problem("a finite number")
        return v


class GatesSpec(_Model):
    """What a target must pass after its update, and during its bake."""

    timeout: str = Field(default="15m", description="How long a target may take to pass its gates.")
    http: HttpGate = Field(default_factory=HttpGate, description="HTTP on each public/internal service's health path.")
    prometheus: Optional[PrometheusGate] = Field(default=None, description="An optional Prometheus query.")

    _timeout = field_validator("timeout", mode="before")(lambda cls, v: _duration(v))


class RolloutSpec(_Model):
    """A rollout file."""

    release: ReleaseImages = Field(description="What moves: pinned images per service.")
    waves: list[WaveSpec] = Field(min_length=1, description="The waves, in order.")
    gates: GatesSpec = Field(default_factory=GatesSpec, description="Health gates per target.")
    drain: bool = Field(default=False, description="Drain each cluster through the weighted traffic entries "
                        "(weight 0) before it updates, restore it after its gates.")
    on_failure: Literal["halt", "rollback"] = Field(
        default="halt", description="halt (leave every target as it is) or rollback (the previous images back on the "
        "targets already changed, in reverse order)."
    )


@dataclass(frozen=True)
class Target:
    """One cluster of one stack, as a wave updates it."""

    stack: str
    cluster: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.cluster}"


class RolloutError(Exception):
    """A rollout file or a stack it names is invalid: ``problems`` holds one line each (exit 2)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid rollout:\n" + "\n".join("  " + p for p in problems))


def parse_rollout(data: Any) -> RolloutSpec:
    """Validate a parsed rollout file; :class:`RolloutError` lists every problem."""
    from ..config.loading import _format_errors

    if not isinstance(data, Mapping):
        raise RolloutError([f"(the file): got {type(data).__name__}; allowed: a mapping with release and waves"])
    try:
        return RolloutSpec.model_validate(data)
    except ValidationError as exc:
        prefix = "fleetform:"
        raise RolloutError([line[len(prefix):] if line.startswith(prefix) else line
                            for line in _format_errors(exc.errors(include_url=False), root=RolloutSpec)]) from None


def expand(spec: RolloutSpec, stacks: Mapping[str, FleetSpec]) -> list[list[Target]]:
    """Each wave's targets as (stack, cluster) pairs, in order (a STACK target: all its clusters)."""
    waves: list[list[Target]] = []
    for wave in spec.waves:
        out: list[Target] = []
        for text in wave.targets:
            stack, _, cluster = text.partition("/")
            fleet = stacks.get(stack)
            if fleet is None:
                continue
            names = [c.name for c in fleet.clusters] if not cluster else [cluster]
            out += [Target(stack, n) for n in names if Target(stack, n) not in out]
        waves.append(out)
    return waves


def rollout_problems(spec: RolloutSpec, stacks: Mapping[str, Optional[FleetSpec]]) -> list[str]:
    """``spec`` against the project's stacks (None: a stack whose config is invalid, reported by its
    own lines): targets exist, each in one wave, run something the release moves; the release's
    services exist in the stacks; drain has weighted traffic entries to work through."""
    found: list[str] = []
    known = sorted(stacks)
    valid = {n: s for n, s in stacks.items() if s is not None}
    seen: dict[Target, str] = {}
    released = set(spec.release.images)
    for w, wave in enumerate(spec.waves):
        for t, text in enumerate(wave.targets):
            key = f"waves[{w}].targets[{t}]"
            stack, slash, cluster = text.partition("/")
            if stack not in stacks:
                found.append(f"{key}: got {text!r}; allowed: STACK or STACK/CLUSTER with a stack of this project: "
                             + ", ".join(known))
                continue
            fleet = valid.get(stack)
            if fleet is None:
                continue
            names = [c.name for c in fleet.clusters]
            if slash and cluster not in names:
                found.append(f"{key}: got {text!r}; allowed: a cluster of stack {stack}: " + ", ".join(names))
                continue
            for name in [cluster] if slash else names:
                target = Target(stack, name)
                if target in seen:
                    found.append(f"{key}: got {text!r}; allowed: a target in one wave only ({target} is in "
                                 f"{seen[target]})")
                    break
                seen[target] = f"waves[{w}] ({wave.name})"
            cspecs = [c for c in fleet.clusters if not slash or c.name == cluster]
            runs = {s.name for c in cspecs for s in fleet.services_on(c)}
            if not runs & released:
                found.append(f"{key}: got {text!r}; allowed: a target that runs a service of the release ("
                             + ", ".join(sorted(released)) + f"; it runs {', '.join(sorted(runs)) or 'none'})")
            elif spec.drain:
                found += _drain_problems(key, text, fleet, cspecs, released)
    for name in sorted(released):
        if valid and not any(name in {s.name for s in f.services} for f in valid.values()):
            found.append(f"release.images.{name}: got {name!r}; allowed: a service of the target stacks")
    names = [wave.name for wave in spec.waves]
    for w, name in enumerate(names):
        if name in names[:w]:
            found.append(f"waves[{w}].name: got {name!r}; allowed: a name no earlier wave has")
    return found


def _drain_problems(key: str, text: str, fleet: FleetSpec, clusters: list[Any], released: set[str]) -> list[str]:
    from ..config.traffic import routed

    lacking = []
    for c in clusters:
        routes = [
            entry for entry in fleet.traffic
            if entry.policy == "weighted" and entry.service in released
            and any(r.cluster == c.name for r in routed(entry, fleet.clusters, next(s for s in fleet.services
                                                                                     if s.name == entry.service)))
        ]
        if not routes:
            lacking.append(c.name)
    if not lacking:
        return []
    return [f"drain: got true; allowed: drain with a weighted fleetform:traffic entry for a service of the release on "
            f"every cluster of each target ({key} {text!r}: none on {', '.join(lacking)}); set drain: false or add "
            "traffic entries"]


def load_rollout(path: Path, stacks: Mapping[str, Optional[FleetSpec]]) -> tuple[RolloutSpec, list[list[Target]]]:
    """Read, validate and expand a rollout file; :class:`RolloutError` lists every problem."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RolloutError([f"{path}: cannot be read ({exc.strerror})"]) from None
    except yaml.YAMLError as exc:
        raise RolloutError([f"{path}: not YAML ({str(exc).splitlines()[0]})"]) from None
    spec = parse_rollout(data)
    problems = rollout_problems(spec, stacks)
    if problems:
        raise RolloutError(problems)
    return spec, expand(spec, {k: v for k, v in stacks.items() if v is not None})
