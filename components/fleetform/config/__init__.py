"""The fleet's typed configuration: what users write under ``fleetform:`` in ``Pulumi.<stack>.yaml``.

Every model here is the single source of the config keys' meaning: ``Pulumi.yaml``'s config
declarations and the README's config reference use the same words as the field descriptions.

Invalid config never reaches a resource: :func:`load_spec` turns every problem into one line
``<key path>: got <value>; allowed: <what is allowed>`` and raises :class:`FleetConfigError`
carrying all of them.

Where things are (import them from here, ``fleetform.config``):

- :mod:`.errors`: raising a problem, :class:`FleetConfigError`, how key paths and values are shown;
- :mod:`.values`: constants (targets, Kubernetes versions, defaults) and Kubernetes value rules
  (DNS labels, label keys and values, quantities, image references), the models' base class; the
  Kubernetes minors come from ``fleetform_policies.versions`` (the table the policy pack shares);
- :mod:`.nodes`: node labels and :class:`Taint` (mapping or kubectl's ``key=value:Effect``);
- :mod:`.cluster`: :class:`ClusterSpec` with its control plane, node pools, existing
  cluster and load balancer settings, the rules per target and each cloud's naming rules;
- :mod:`.network`: :class:`NetworkSpec` (VPC/VNet CIDR and zones) and :class:`RouteSpec` (AWS
  routes back to peered and VPN networks);
- :mod:`.onprem`: :class:`SshSpec`, :class:`HostSpec`, :class:`InstallSpec` (target onprem);
- :mod:`.service`: :class:`ServiceSpec` and its autoscaling, health, resources and egress;
- :mod:`.traffic`: :class:`TrafficSpec`, a global hostname over a public service on several clusters,
  what each DNS provider can express, and the checks against the stack's clusters and services;
- :mod:`.fleet`: :class:`FleetSpec`, the whole namespace, and the checks across clusters and services;
- :mod:`.loading`: :func:`load_spec`, :data:`SECRET_KEYS`, :data:`LIST_KEYS`, pydantic errors as lines.
- :mod:`.stackfile`: reading a ``Pulumi.<stack>.yaml`` as Pulumi's YAML reader does (PyYAML);
- :mod:`.extends`: ``fleetform:extends``, a stack merged over its base stack's config.

Importing this package imports pydantic only: no Pulumi or cloud SDK (``.stackfile`` and
``.extends`` are imported where used, and add PyYAML).
"""

from __future__ import annotations

from .cluster import (
    AKS_SYSTEM_NODES,
    MAX_AZURE_ZONES,
    ClusterSpec,
    ControlPlaneSpec,
    ExistingSpec,
    LoadBalancerSpec,
    NetworkSpec,
    RouteSpec,
    NodePoolSpec,
)
from .errors import NAMESPACE, FleetConfigError
from .fleet import FleetSpec
from .loading import LIST_KEYS, SECRET_KEYS, load_spec
from .nodes import KUBELET_LABELS, Taint
from .onprem import SSH_PRIVATE_KEY_DESCRIPTION, HostSpec, InstallSpec, SshSpec
from .service import AutoscaleSpec, EgressRule, HealthSpec, ResourcesSpec, ServiceSpec
from .traffic import TrafficClusterSpec, TrafficDnsSpec, TrafficHealthSpec, TrafficSpec
from .values import (
    CLOUD_TARGETS,
    DEFAULT_DENY_POLICY,
    DEFAULT_KUBERNETES_VERSION,
    DEFAULT_NODE_SIZE,
    EXPOSURES,
    K3S_NETWORKS,
    MODES,
    SUPPORTED_KUBERNETES_VERSIONS,
    TARGETS,
)

__all__ = [
    # loading and errors
    "load_spec",
    "FleetConfigError",
    "SECRET_KEYS",
    "LIST_KEYS",
    "NAMESPACE",
    # models
    "FleetSpec",
    "ClusterSpec",
    "NetworkSpec",
    "RouteSpec",
    "ControlPlaneSpec",
    "NodePoolSpec",
    "Taint",
    "ExistingSpec",
    "LoadBalancerSpec",
    "SshSpec",
    "HostSpec",
    "InstallSpec",
    "ServiceSpec",
    "AutoscaleSpec",
    "HealthSpec",
    "ResourcesSpec",
    "EgressRule",
    "TrafficSpec",
    "TrafficDnsSpec",
    "TrafficHealthSpec",
    "TrafficClusterSpec",
    # constants
    "TARGETS",
    "CLOUD_TARGETS",
    "MODES",
    "EXPOSURES",
    "DEFAULT_NODE_SIZE",
    "SUPPORTED_KUBERNETES_VERSIONS",
    "DEFAULT_KUBERNETES_VERSION",
    "DEFAULT_DENY_POLICY",
    "SSH_PRIVATE_KEY_DESCRIPTION",
    "KUBELET_LABELS",
    "K3S_NETWORKS",
    "AKS_SYSTEM_NODES",
    "MAX_AZURE_ZONES",
]
