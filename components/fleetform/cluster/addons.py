"""Every version of third-party software fleetform installs into a cluster, in one place, as data.

Each pin names what it is, where it comes from, the version, the page that proves the version exists
(and, for Helm charts, which application version it ships) and the day that page was read. A bump
changes one line here and the check date; the tests check that every pin has a source and a date.
No cloud SDK is imported here: the module holds plain data for any target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Optional

import pulumi
from pulumi_kubernetes.helm.v3 import Release, ReleaseArgs, RepositoryOptsArgs

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


# ------------------------------------------------------------------------------ self-managed aws: cloud-provider-aws

AWS_CCM = Pin(
    kind="helm-chart",
    name="aws-cloud-controller-manager",
    repo="https://kubernetes.github.io/cloud-provider-aws",
    version="0.0.11",
    app_version="v1.35.0",
    source="https://github.com/kubernetes/cloud-provider-aws/blob/helm-chart-aws-cloud-controller-manager-0.0.11/charts/aws-cloud-controller-manager/Chart.yaml",
    note="Latest chart release (2026-03-25, listed in the repository's gh-pages index.yaml; repo URL from the chart's "
    "Readme.md). The image is set per cluster from AWS_CCM_IMAGES: a cloud-provider-aws release is compatible only with "
    "its own Kubernetes minor (https://github.com/kubernetes/cloud-provider-aws#compatibility-with-kubernetes).",
)

AWS_CCM_IMAGE = "registry.k8s.io/provider-aws/cloud-controller-manager"
"""The chart's ``image.repository`` default (values.yaml at chart 0.0.11)."""


def _aws_ccm(version: str, promoted: str) -> Pin:
    return Pin(
        kind="image",
        name=AWS_CCM_IMAGE,
        version=version,
        source=f"https://github.com/kubernetes/cloud-provider-aws/releases/tag/{version}",
        note=f"On registry.k8s.io: promoted by {promoted}. A tag alone is not enough: several tagged builds "
        "(v1.33.3, v1.34.1, v1.35.1, v1.36.0) were never promoted (kubernetes/cloud-provider-aws#1450).",
    )


_PROMOTED_9580 = "https://github.com/kubernetes/k8s.io/pull/9580 (merged; approved 2026-06-25)"
AWS_CCM_IMAGES: dict[str, Pin] = {
    "1.32": _aws_ccm("v1.32.8", _PROMOTED_9580),
    "1.33": _aws_ccm("v1.33.4", _PROMOTED_9580),
    "1.34": _aws_ccm("v1.34.3", _PROMOTED_9580),
    "1.35": _aws_ccm("v1.35.2", _PROMOTED_9580),
    "1.36": _aws_ccm("v1.36.1", "https://github.com/kubernetes/k8s.io/pull/9796 (merged; approved 2026-07-30)"),
}
"""Kubernetes minor -> the newest promoted cloud-provider-aws release of that minor (tags ``v<minor>.<patch>``
of kubernetes/cloud-provider-aws; registry.k8s.io/images/k8s-staging-provider-aws/images.yaml of kubernetes/k8s.io).
No 1.37 release (no tag, no release-1.37 branch) when checked: a 1.37 self-managed AWS cluster is refused."""

PINS = (*PINS, AWS_CCM, *AWS_CCM_IMAGES.values())


def aws_ccm_image(kubernetes_version: str) -> Optional[Pin]:
    """The cloud-provider-aws image for a cluster of ``kubernetes_version``, or None when none is pinned."""
    return AWS_CCM_IMAGES.get(kubernetes_version)


# ------------------------------------------------- cloud-provider-azure (target azure, self-managed)

AZURE_CLOUD_PROVIDER_REGISTRY = "mcr.microsoft.com/oss/v2/kubernetes"
"""Where cloud-provider-azure publishes its images for Kubernetes 1.32 and later: the chart switches
to ``mcr.microsoft.com/oss/v2/kubernetes`` from minor 32 on (helm/cloud-provider-azure/templates/
cloud-provider-azure.yaml and README.md at master, read 2026-12-02)."""


def _azure_cloud_provider(image: str, version: str) -> Pin:
    return Pin(
        kind="image",
        name=f"{AZURE_CLOUD_PROVIDER_REGISTRY}/{image}",
        version=version,
        source=f"https://github.com/kubernetes-sigs/cloud-provider-azure/releases/tag/{version}",
        note="The newest tag of the minor in kubernetes-sigs/cloud-provider-azure (repository snapshot of "
        "2026-08-19, read 2026-12-02); its minor is the Kubernetes minor (README 'Version matrix').",
    )


_AZURE_CLOUD_PROVIDER_RELEASES = {
    "1.32": "v1.32.20", "1.33": "v1.33.17", "1.34": "v1.34.13", "1.35": "v1.35.8", "1.36": "v1.36.5",
}
AZURE_CLOUD_CONTROLLER_MANAGER_IMAGES: dict[str, Pin] = {
    minor: _azure_cloud_provider("azure-cloud-controller-manager", v) for minor, v in _AZURE_CLOUD_PROVIDER_RELEASES.items()
}
"""Kubernetes minor -> cloud-controller-manager image. No v1.37.x tag existed in the snapshot read: a
1.37 self-managed Azure cluster is refused until one (and a 1.37 Cluster Autoscaler) is pinned."""
AZURE_CLOUD_NODE_MANAGER_IMAGES: dict[str, Pin] = {
    minor: _azure_cloud_provider("azure-cloud-node-manager", v) for minor, v in _AZURE_CLOUD_PROVIDER_RELEASES.items()
}
"""Kubernetes minor -> cloud-node-manager image (released together with the controller manager)."""

PINS = (*PINS, *AZURE_CLOUD_CONTROLLER_MANAGER_IMAGES.values(), *AZURE_CLOUD_NODE_MANAGER_IMAGES.values())


# ------------------------------------------------------------------------------ GCP self-managed (cloud-provider-gcp)

GCP_CCM_IMAGE = "registry.k8s.io/cloud-provider-gcp/cloud-controller-manager"
"""The image kubernetes/cloud-provider-gcp promotes (docs/RELEASE.md, "Promote Image"; its own
deploy/packages/default/manifest.yaml names this repository). Tags are ``v<k8s minor>.<k8s
patch>.<ccm patch>``, one release branch per Kubernetes minor (docs/RELEASE.md, "Version Schema")."""


def _gcp_ccm(version: str, evidence: str, git_tag: str = "") -> Pin:
    return Pin(
        kind="image",
        name=GCP_CCM_IMAGE,
        version=version,
        source=f"https://github.com/kubernetes/cloud-provider-gcp/releases/tag/{git_tag or version}",
        note="Tag on the project's release branch of the minor (repository snapshot of 2026-08-21). A git tag "
        "only pushes to the staging registry; promotion to registry.k8s.io is a separate pull request to "
        f"kubernetes/k8s.io, so the pin is a tag seen promoted: {evidence}.",
    )


GCP_CCM_PROMOTED = (
    "https://github.com/kubernetes/k8s.io/blob/43401df3a194312edc6710a586f4e260bef26d97/"
    "registry.k8s.io/images/k8s-staging-cloud-provider-gcp/images.yaml"
)
"""The promoter's manifest for cloud-provider-gcp: each promoted tag of ``cloud-controller-manager``
with the digest registry.k8s.io serves for it (``dmap``)."""


def _promoted(digest: str) -> str:
    return f"listed in {GCP_CCM_PROMOTED} as {digest}"


_KUBEONE_IMAGES = "https://github.com/kubermatic/kubeone/blob/{}/pkg/templates/images/images.go"
GCP_CCM_IMAGES: dict[str, Pin] = {
    "1.32": _gcp_ccm("v32.2.4", _promoted("sha256:210d919487bd3d7e916d116b734bdec68977702cf851751ece893c0b64e211fd")),
    # The 1.33 line was tagged ccm/v33.1.1 in git (the image tag has no prefix).
    "1.33": _gcp_ccm("v33.1.1", _promoted("sha256:6fdc9a4e3eee967bd9775b6f607541ec00d114754b490b6a87fea3df40b87c26"),
                     "ccm/v33.1.1"),
    # v34.2.0: tag v34.2.0 (= ccm/v34.2.0, commit d9e21957) on release-1.34, built against k8s.io/* v0.34.2 (go.mod).
    "1.34": _gcp_ccm("v34.2.0", _promoted("sha256:4795f50bd273894d46e21b5569a716374377ae06d276343a6e5eae5aa93d5de8")),
    # v35.0.2 is on release-1.35 but its go.mod still requires k8s.io/* v0.34.2: a 1.34-built
    # controller manager on a 1.35 API server, one minor older, which the skew policy allows
    # (https://kubernetes.io/releases/version-skew-policy/#kube-controller-manager-kube-scheduler-and-cloud-controller-manager).
    "1.35": _gcp_ccm("v35.0.2", _promoted("sha256:f1cfeca80d58695683ddaeebb41215bf7239cb49534c5eb2b6e6205929822389")),
    # Not in the promoter's manifest at 43401df3 (its newest tag there is v35.0.2): a newer
    # promotion is assumed from kubeone running it. Unverified offline; check
    # `crane ls registry.k8s.io/cloud-provider-gcp/cloud-controller-manager` before a 1.36 deploy.
    "1.36": _gcp_ccm("v36.0.7", "kubermatic/kubeone " + _KUBEONE_IMAGES.format("ce6bae0a")
                     + " (not yet in " + GCP_CCM_PROMOTED + ")"),
}
"""Kubernetes minor -> cloud-provider-gcp image. Newer tags exist (v35.1.3, v36.3.8) but none was
seen on registry.k8s.io; no release-1.37 branch existed. A 1.37 self-managed GCP cluster is also
refused for want of a 1.37 Cluster Autoscaler (:data:`CLUSTER_AUTOSCALER_IMAGES`)."""


def gcp_ccm_image(kubernetes_version: str) -> Optional[Pin]:
    """The cloud-provider-gcp image for a cluster of ``kubernetes_version`` ("1.35"), or None."""
    return GCP_CCM_IMAGES.get(kubernetes_version)


PINS = (*PINS, *GCP_CCM_IMAGES.values())


TAG_PINNED_UPSTREAM_IMAGE = {
    # checkov reads a resource-scoped skip from this annotation
    # (https://www.checkov.io/2.Basics/Suppressing%20and%20Skipping%20Policies.html, "Kubernetes").
    "checkov.io/skip1": "CKV_K8S_43=upstream cloud-provider image pinned by its release tag per Kubernetes minor "
    "(cluster/addons.py); its registry digest could not be checked offline",
}
"""Annotations of the workloads that run an upstream cloud-controller image pinned by release tag
(fleetform's own rule accepts a tag other than latest; checkov's CKV_K8S_43 asks for a digest)."""


def helm_release(resource_name: str, chart: Pin, release: str, namespace: str, values: Mapping[str, Any],
                 opts: Optional[pulumi.ResourceOptions]) -> Release:
    """A Helm release of a pinned chart: its repository and version come from ``chart`` only."""
    return Release(
        resource_name,
        ReleaseArgs(
            chart=chart.name,
            version=chart.version,
            repository_opts=RepositoryOptsArgs(repo=chart.repo),
            name=release,
            namespace=namespace,
            values=dict(values),
        ),
        opts=opts,
    )
