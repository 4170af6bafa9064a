"""The fleet: every cluster of a stack, with every service on each (DESIGN §1).

:func:`program` is *the* Pulumi program: ``stacks/__main__.py`` calls it under the engine, and
``fleetform plan`` calls it under mocks. There is no second description of the infrastructure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import pulumi

from .cluster import Cluster, ClusterContext, FrontedService, TargetNotImplemented, build_cluster
from .config import FleetConfigError, FleetSpec, load_spec
from .config.extends import EXTENDS_KEY
from .workloads import AppNamespace, Microservice

if TYPE_CHECKING:
    from .traffic import GlobalHostname


class Fleet(pulumi.ComponentResource):
    """All clusters of a stack and the services on them.

    ``skip_unimplemented``: when true (the offline plan), clusters whose target is not built yet
    are left out and listed in ``skipped`` instead of failing the whole program; a real deployment
    fails before registering anything.

    Outputs: ``clusters`` (per cluster: target, endpoint, and each service's address),
    ``kubeconfigs`` (per cluster, secret) and ``traffic`` (per global hostname: its DNS provider,
    record, and each cluster's endpoint, weight or priority and health check).
    """

    clusters: dict[str, Cluster]
    services: dict[str, dict[str, Microservice]]
    skipped: list[str]

    def __init__(
        self,
        name: str,
        spec: FleetSpec,
        *,
        skip_unimplemented: bool = False,
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        from .cluster import cluster_module

        unimplemented = [
            f"fleetform:clusters[{i}].target: target {c.target!r} (mode {c.effective_mode}) is not implemented yet"
            for i, c in enumerate(spec.clusters)
            if cluster_module(c.target, c.effective_mode) is None
        ]
        if unimplemented and not skip_unimplemented:
            raise pulumi.RunError("\n".join(unimplemented))
        super().__init__("fleetform:index:Fleet", name, None, opts)
        self.skipped = unimplemented
        self.clusters = {}
        self.services = {}
        stack = pulumi.get_stack()
        peers = {s.name: s for s in spec.services}
        for index, cspec in enumerate(spec.clusters):
            try:
                cluster = build_cluster(
                    cspec,
                    ClusterContext(
                        kubernetes_version=spec.version_of(cspec),
                        stack=stack,
                        services=tuple(
                            FrontedService(s.name, s.expose, s.service_port, spec.node_port_of(s), s.health.path)
                            for s in spec.services_on(cspec)
                            if s.expose != "cluster"
                        ),
                    ),
                    index,
                    pulumi.ResourceOptions(parent=self),
                )
            except TargetNotImplemented:
                continue
            self.clusters[cspec.name] = cluster
            k8s_opts = pulumi.ResourceOptions(parent=cluster, providers={"kubernetes": cluster.provider})
            namespace = AppNamespace(f"{cspec.name}-namespace", spec.namespace, opts=k8s_opts)
            self.services[cspec.name] = {
                svc.name: Microservice(
                    f"{cspec.name}-{svc.name}",
                    # The image a rollout's release gives this cluster, else the service's own.
                    svc if spec.image_of(svc, cspec) == svc.image else svc.model_copy(update={"image": spec.image_of(svc, cspec)}),
                    namespace=spec.namespace,
                    target=cluster.target,
                    self_managed=cluster.self_managed,
                    load_balancer=cspec.load_balancer,
                    node_port=spec.node_port_of(svc),
                    peers=peers,
                    opts=pulumi.ResourceOptions.merge(k8s_opts, pulumi.ResourceOptions(depends_on=[namespace])),
                )
                for svc in spec.services_on(cspec)
            }
        self.cluster_outputs = {
            name: {
                "target": cluster.target,
                "endpoint": cluster.endpoint,
                **cluster.details,
                "services": {
                    svc: cluster.service_addresses.get(svc, ms.address) for svc, ms in self.services[name].items()
                },
            }
            for name, cluster in self.clusters.items()
        }
        self.kubeconfigs = pulumi.Output.secret({name: c.kubeconfig for name, c in self.clusters.items()})
        self.traffic = self._traffic(spec)
        self.traffic_outputs = {host: hostname.outputs for host, hostname in self.traffic.items()}
        self.register_outputs({"clusters": self.cluster_outputs, "kubeconfigs": self.kubeconfigs,
                               "traffic": self.traffic_outputs})

    def _traffic(self, spec: FleetSpec) -> dict[str, "GlobalHostname"]:
        """One :class:`~fleetform.traffic.GlobalHostname` per ``fleetform:traffic`` entry, over the
        clusters built here (a cluster the offline plan skipped is left out of it too)."""
        if not spec.traffic:
            return {}
        from .config.traffic import routed
        from .traffic import Endpoint, GlobalHostname, endpoint_kind

        by_name = {c.name: c for c in spec.clusters}
        out: dict[str, GlobalHostname] = {}
        for entry in spec.traffic:
            service = next(s for s in spec.services if s.name == entry.service)
            endpoints: list[Endpoint] = []
            for r in routed(entry, spec.clusters, service, drained=spec.drained()):
                cluster = self.clusters.get(r.cluster)
                if cluster is None:
                    continue
                if r.address is not None:
                    endpoints.append(Endpoint(r, r.address, endpoint_kind(r.address)))
                    continue
                address = cluster.service_hosts.get(service.name) or cluster.service_addresses.get(
                    service.name, self.services[r.cluster][service.name].address)
                aws = by_name[r.cluster].target == "aws"
                endpoints.append(Endpoint(r, address, "aws-lb" if aws else "ip",
                                          by_name[r.cluster].region if aws else None))
            out[entry.hostname] = GlobalHostname(entry.hostname, entry, service, endpoints,
                                                 opts=pulumi.ResourceOptions(parent=self))
        return out


def _refuse_plain_text_secrets(config: dict) -> None:
    """A secret key (``fleetform:sshPrivateKey``) set without ``--secret`` is refused, as the plan
    refuses it in a stack file. Pulumi.yaml cannot declare it ``secret: true``: the engine would
    then demand it of every stack."""
    from pulumi.runtime.config import is_config_secret

    from .config import SECRET_KEYS

    plain = [k for k in sorted(SECRET_KEYS) if config.get(k) not in (None, "") and not is_config_secret(k)]
    if plain:
        raise FleetConfigError([f"{k}: set in plain text; allowed: an encrypted value only (pulumi config set --secret "
                                f"{k} ...)" for k in plain])


def load_spec_from_pulumi_config() -> FleetSpec:
    """The stack's :class:`FleetSpec` from the Pulumi config the engine (or the plan) provides.

    A stack with ``fleetform:extends`` is merged over its base stack's file, found in the project's
    ``stackConfigDir`` (the plan hands over config it merged already, without the key)."""
    from pulumi.runtime.config import CONFIG

    config = dict(CONFIG.get())
    _refuse_plain_text_secrets(config)
    if config.get(EXTENDS_KEY) not in (None, ""):
        from pulumi.runtime.settings import get_root_directory

        from .config.extends import find_project_root, resolve_extends, stack_config_dir

        stack_dir = stack_config_dir(find_project_root(get_root_directory()))
        stack = pulumi.get_stack()
        config = resolve_extends(config, stack_dir, stack_dir / f"Pulumi.{stack}.yaml" if stack else None)
    return load_spec(config)


def program(*, skip_unimplemented: bool = False) -> Fleet:
    """The fleetform Pulumi program: validate the config, build the fleet, export its outputs.

    Invalid config raises :class:`pulumi.RunError` (printed without a traceback) before any
    resource is registered; so does a config problem found while building (a configured
    kubeconfig that cannot be read). ``skip_unimplemented`` is the offline plan's mode: there such
    a problem stays a :class:`FleetConfigError`, the plan's exit 2.
    """
    try:
        spec = load_spec_from_pulumi_config()
    except FleetConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    try:
        fleet = Fleet("fleet", spec, skip_unimplemented=skip_unimplemented)
    except FleetConfigError as exc:
        if skip_unimplemented:
            raise
        raise pulumi.RunError(str(exc)) from None
    pulumi.export("clusters", fleet.cluster_outputs)
    pulumi.export("kubeconfigs", fleet.kubeconfigs)
    if fleet.traffic_outputs:
        pulumi.export("traffic", fleet.traffic_outputs)
    return fleet
