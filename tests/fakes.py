"""Test-only clusters that show the cluster *face* (DESIGN §3) for targets whose real modules
are not built yet, so workload behaviour per target can be planned end to end.

They provision nothing but a Kubernetes provider; they are never used by `fleetform plan`.
"""

from __future__ import annotations

from typing import Optional

import pulumi

from fleetform.cluster import IMPLEMENTED, cluster_module
from fleetform.cluster.base import Cluster, ClusterContext
from fleetform.config import ClusterSpec


class FaceOnlyCluster(Cluster):
    def __init__(self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("fleetform:cluster:FaceOnlyCluster", name, opts)
        self.target = spec.target
        self.self_managed = spec.effective_mode == "self-managed"
        self.kubernetes_version = ctx.kubernetes_version
        self.provider = self._make_provider(kubeconfig="{}")
        self.kubeconfig = pulumi.Output.secret("apiVersion: v1\nkind: Config\n")
        self.endpoint = pulumi.Output.from_input(f"https://{name}.example.invalid")
        self._publish()


def install_face_only(monkeypatch) -> None:
    """Make every (target, mode) without a real module use FaceOnlyCluster (this test only)."""
    for target in ("aws", "gcp", "azure", "onprem"):
        for mode in ("managed", "self-managed"):
            if cluster_module(target, mode) is None:
                monkeypatch.setitem(IMPLEMENTED, (target, mode), "tests.fakes:FaceOnlyCluster")
