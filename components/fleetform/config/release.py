"""A release on its way across the fleet: :class:`ReleaseSpec`, the ``fleetform:release`` key.

``fleetform rollout`` (``fleetform.rollout``) moves pinned images across clusters in waves. Which
image each cluster runs is decided by stack config alone, so every state in between is an
ordinary stack that ``fleetform plan`` checks and ``pulumi up`` reproduces:

```yaml
fleetform:release:
  images: {web: ghcr.io/acme/web@sha256:..., api: ghcr.io/acme/api:2.4.1}
  clusters: [hy-dc, hy-aws]   # these clusters run the images above; the others the services' own
  drained: [hy-aws]           # clusters the weighted traffic entries send nothing (weight 0)
```

When the last wave has passed, the images become the services' own and the key is cleared.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, field_validator

from .errors import _problems
from .service import image_problem
from .values import _Model


class ReleaseSpec(_Model):
    """Images a rollout is moving, and the clusters that run them already."""

    images: dict[str, str] = Field(
        default_factory=dict, description="Service name -> the release's image, pinned (a digest or a tag other "
        "than latest)."
    )
    clusters: list[str] = Field(
        default_factory=list, description="The clusters that run the release's images; every other cluster runs "
        "the services' own image."
    )
    drained: list[str] = Field(
        default_factory=list, description="Clusters the weighted fleetform:traffic entries route nothing to while a "
        "rollout updates them (weight 0; Disabled on Traffic Manager)."
    )

    _pinned = field_validator("images", mode="after")(lambda cls, v: pinned_images(v))

    def image_for(self, service: str, cluster: str) -> Optional[str]:
        """The release's image of ``service`` where ``cluster`` runs the release, else None."""
        return self.images.get(service) if cluster in self.clusters else None


def pinned_images(images: dict[str, str]) -> dict[str, str]:
    """``images`` (service -> image) when every image is pinned; else every unpinned one, named by
    its service (a release here and in a rollout file follows the services' own rule)."""
    found = [(("", name), image, why) for name, image in images.items() if (why := image_problem(image)) is not None]
    if found:
        raise _problems(found)
    return images


def release_problems(release: Optional[ReleaseSpec], clusters: list[Any], services: list[Any],
                     traffic: list[Any]) -> list[tuple[str, Any, str]]:
    """The release checked against the stack: its services and clusters exist, and a drained cluster
    is routed by a weighted traffic entry (nothing else can drain it)."""
    if release is None:
        return []
    found: list[tuple[str, Any, str]] = []
    cluster_names = [c.name for c in clusters if c is not None]
    service_names = [s.name for s in services if s is not None]
    for name in release.images:
        if name not in service_names:
            found.append((f"release.images.{name}", name, "a service of this stack: " + ", ".join(sorted(service_names))))
    for key in ("clusters", "drained"):
        for j, name in enumerate(getattr(release, key)):
            if name not in cluster_names:
                found.append((f"release.{key}[{j}]", name, "a cluster of this stack: " + ", ".join(sorted(cluster_names))))
    routed: set[str] = set()  # clusters some weighted entry routes ("*": every cluster of a service)
    for entry in traffic:
        if entry is not None and entry.policy == "weighted":
            routed |= {"*"} if entry.clusters is None else {c.name for c in entry.clusters}
    for j, name in enumerate(release.drained):
        if name in cluster_names and name not in routed and "*" not in routed:
            found.append((f"release.drained[{j}]", name, "a cluster a weighted fleetform:traffic entry routes (draining "
                          "sets its weight to 0)"))
    return found
