"""Each cloud's rules for the names and tags of a cluster's resources (:func:`cloud_naming_problems`),
checked before any resource exists: AWS tags, GCP labels and resource names, Azure tags, zones
and AKS pool names."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import ClusterSpec

_AWS_TAG_TEXT = re.compile(r"^[\w .:/=+\-@]*$")
_GCP_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_AKS_POOL = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_AZURE_TAG_NAME_FORBIDDEN = "<>%&\\?/"


def cloud_naming_problems(spec: "ClusterSpec") -> list[tuple[Any, Any, str]]:
    """What each cloud refuses in names and tags, caught before any resource exists: every
    (key below the cluster or (key, tag name), value given, what is allowed)."""
    found: list[tuple[Any, Any, str]] = []
    t = spec.target
    if t == "aws":
        # https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html (50 per resource;
        # fleetform adds up to 5 of its own). Keys 1-127 and values up to 256 characters: EC2's Tag
        # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Tag.html), the strictest of
        # the services fleetform tags (others allow keys of 128).
        if len(spec.tags) > 45:
            found.append(("tags", f"{len(spec.tags)} tags", "at most 45 tags on aws (AWS allows 50 per resource; fleetform adds up to 5)"))
        for k, v in spec.tags.items():
            if not 1 <= len(k) <= 127 or k.lower().startswith("aws:") or not _AWS_TAG_TEXT.fullmatch(k) \
                    or len(v) > 256 or not _AWS_TAG_TEXT.fullmatch(v):
                found.append((("tags", k), v, "AWS tags: keys of 1-127 and values of at most 256 letters, digits, "
                              "spaces and _ . : / = + - @; keys must not start with aws:"))
    elif t == "gcp":
        # https://cloud.google.com/resource-manager/docs/labels-overview#requirements
        if not spec.name[0].isalpha():
            found.append(("name", spec.name, "a name starting with a letter (GKE cluster and service account names must)"))
        if len(spec.tags) > 63:
            found.append(("tags", f"{len(spec.tags)} labels", "at most 63 labels on gcp (GCP allows 64 per resource; fleetform adds 1)"))
        for k, v in spec.tags.items():
            if not _GCP_LABEL_KEY.fullmatch(k) or not _GCP_LABEL_VALUE.fullmatch(v):
                found.append((("tags", k), v, "GCP labels: keys of 1-63 lower-case letters, digits, '_' or '-' "
                              "starting with a letter; values of at most 63 of those"))
        # Node pools (GKE) and instance templates (self-managed) are GCP resource names:
        # https://cloud.google.com/compute/docs/naming-resources#resource-name-format
        for i, pool in enumerate(spec.node_pools or []):
            if not pool.name[0].isalpha():
                found.append((f"nodePools[{i}].name", pool.name, "on gcp, a name starting with a letter (GCP resource names must)"))
    elif t == "azure":
        # https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations
        if len(spec.tags) > 49:
            found.append(("tags", f"{len(spec.tags)} tags", "at most 49 tags on azure (Azure allows 50 per resource; fleetform adds 1)"))
        for k, v in spec.tags.items():
            if not 1 <= len(k) <= 512 or len(v) > 256 or any(c in k for c in _AZURE_TAG_NAME_FORBIDDEN):
                found.append((("tags", k), v, "Azure tags: names of 1-512 characters without < > % & \\ ? /, "
                              "values of at most 256 characters"))
        from .cluster import MAX_AZURE_ZONES

        if spec.network.zones > MAX_AZURE_ZONES:
            found.append(("network.zones", spec.network.zones, f"at most {MAX_AZURE_ZONES} (Azure regions have 3 availability zones)"))
        if spec.effective_mode == "managed":
            # AKS Linux pool names: lower-case letters and digits, starting with a letter, 1-12
            # (https://learn.microsoft.com/azure/aks/create-node-pools); fleetform drops '-'.
            seen = {"system"}
            for i, pool in enumerate(spec.effective_node_pools):
                aks = re.sub(r"[^a-z0-9]", "", pool.name)
                if not _AKS_POOL.fullmatch(aks) or aks in seen:
                    found.append((f"nodePools[{i}].name", pool.name, "on AKS, a name that is 1-12 lower-case letters "
                                  "and digits once '-' is dropped, starts with a letter, is not system and differs from "
                                  "the other pools"))
                seen.add(aks)
    return found
