"""Every version of third-party software fleetform installs into a cluster, in one place, as data.

Each pin names what it is, where it comes from, the version, the page that proves the version exists
(and, for Helm charts, which application version it ships) and the day that page was read. A bump
changes one line here and the check date; the tests check that every pin has a source and a date.
No cloud SDK is imported here: the module holds plain data for any target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, Optional

CHECKED = date(2026, 12, 2)
"""The day the pins below were last checked against their sources."""


@dataclass(frozen=True)
class Pin:
    """One pinned piece of software."""

    kind: Literal["helm-chart", "image", "eks-addon"]
    name: str
    """Chart name, image repository or EKS add-on name."""
    version: Optional[str]
    """The pinned version; ``None`` only for an EKS add-on deliberately left at the version EKS
    installs by default for the cluster's Kubernetes version (``note`` says why)."""
    source: str
    """The page (release tag, Chart.yaml at the tag, documentation) that shows this version."""
    checked: date = CHECKED
    repo: Optional[str] = None
    """Helm repository URL (charts only)."""
    app_version: Optional[str] = None
    """The application version a chart ships (charts only)."""
    note: str = ""


# ------------------------------------------------------------------------------ EKS (target aws)

LBC = Pin(
    kind="helm-chart",
    name="aws-load-balancer-controller",
    repo="https://aws.github.io/eks-charts",
    version="1.14.1",
    app_version="v2.14.1",
    source="https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v2.14.1/helm/aws-load-balancer-controller/Chart.yaml",
    note="Installed by the EKS user guide (https://docs.aws.amazon.com/eks/latest/userguide/lbc-helm.html). "
    "Newer releases exist (v2.17.1; the v3 line up to v3.5.0 of 2026-08-03, whose docs/install/iam_policy.json is "
    "byte-identical to v2.14.1's); a move to the v3 major is its own change, together with eks_lbc_iam_policy.json.",
)

METRICS_SERVER = Pin(
    kind="helm-chart",
    name="metrics-server",
    repo="https://kubernetes-sigs.github.io/metrics-server/",
    version="3.13.1",
    app_version="0.8.1",
    source="https://github.com/kubernetes-sigs/metrics-server/blob/metrics-server-helm-chart-3.13.1/charts/metrics-server/Chart.yaml",
    note="Latest chart release (2026-06-11). Metrics Server 0.8.x supports Kubernetes 1.31+ "
    "(compatibility matrix: https://github.com/kubernetes-sigs/metrics-server#compatibility-matrix).",
)

CLUSTER_AUTOSCALER = Pin(
    kind="helm-chart",
    name="cluster-autoscaler",
    repo="https://kubernetes.github.io/autoscaler",
    version="9.59.0",
    app_version="1.35.0",
    source="https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-chart-9.59.0/cluster-autoscaler/charts/cluster-autoscaler/Chart.yaml",
    note="Latest chart release (2026-07-21). The image is set per cluster from CLUSTER_AUTOSCALER_IMAGES: the "
    "autoscaler's minor must be the cluster's (https://github.com/kubernetes/autoscaler/tree/master/cluster-autoscaler#releases).",
)

CLUSTER_AUTOSCALER_IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
"""The image repository of the chart's ``image.repository`` default (values.yaml at chart 9.59.0)."""


def _ca(version: str) -> Pin:
    return Pin(
        kind="image",
        name=CLUSTER_AUTOSCALER_IMAGE,
        version=f"v{version}",
        source=f"https://github.com/kubernetes/autoscaler/releases/tag/cluster-autoscaler-{version}",
    )


CLUSTER_AUTOSCALER_IMAGES: dict[str, Pin] = {
    "1.32": _ca("1.32.7"),
    "1.33": _ca("1.33.6"),
    "1.34": _ca("1.34.5"),
    "1.35": _ca("1.35.2"),
    "1.36": _ca("1.36.1"),
}
"""Kubernetes minor -> the newest Cluster Autoscaler release of that minor (the tags
``cluster-autoscaler-<version>`` of kubernetes/autoscaler). No 1.37 release existed when checked (the
``cluster-autoscaler-release-1.37`` branch still said "dev"): a 1.37 EKS cluster is refused until one is pinned."""

VPC_CNI = Pin(
    kind="eks-addon",
    name="vpc-cni",
    version=None,
    source="https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html",
    note="Left at the version EKS installs by default for the cluster's Kubernetes version: add-on builds "
    "(vX.Y.Z-eksbuild.N) are offered per Kubernetes version, and pinning one not offered for a minor fails the "
    "create. Network policy needs v1.14 or later, which every default for Kubernetes 1.25+ is (the user guide's "
    "table listed v1.19.0-eksbuild.1 as latest for 1.24-1.31 in December 2024).",
)

PINS: tuple[Pin, ...] = (LBC, METRICS_SERVER, CLUSTER_AUTOSCALER, *CLUSTER_AUTOSCALER_IMAGES.values(), VPC_CNI)
"""Every pin, for the tests and for anyone auditing what a cluster runs."""


def cluster_autoscaler_image(kubernetes_version: str) -> Optional[Pin]:
    """The Cluster Autoscaler image for a cluster of ``kubernetes_version`` ("1.35"), or None when no
    release of that minor is pinned."""
    return CLUSTER_AUTOSCALER_IMAGES.get(kubernetes_version)
