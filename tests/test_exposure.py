"""Per target, the Deployment is identical and only the Service's exposure differs (DESIGN §4).

Expected annotations are written from the providers' documentation (links in
components/fleetform/workloads/exposure.py and docs/research/lb-annotations.md), not from the code.
"""

from __future__ import annotations

import pytest

from fleetform.plan.engine import plan
from tests.conftest import cluster, fleet, service

TARGETS = ["aws", "gcp", "azure", "onprem", "existing"]
ALB = "service.beta.kubernetes.io/aws-load-balancer-"


def _cluster(target):
    if target == "onprem":
        return cluster("c-onprem", "onprem", loadBalancer={"provider": "metallb", "publicPool": "pub", "internalPool": "priv"},
                       ssh={"verifyHostKeys": False},
                       hosts=[{"name": "m1", "address": "192.0.2.11", "role": "master"},
                              {"name": "w1", "address": "192.0.2.21", "role": "worker"}])
    if target == "existing":
        return cluster("c-existing", "existing", loadBalancer={"provider": "metallb", "publicPool": "pub", "internalPool": "priv"})
    return cluster(f"c-{target}", target)


SERVICES = [
    service("pub", expose="public", health={"path": "/healthz"}),
    service("int", expose="internal", health={"path": "/ready"}, port=9090, servicePort=8443),
    service("clu", expose="cluster"),
]


@pytest.fixture(scope="module")
def every_target():
    mp = pytest.MonkeyPatch()
    from tests.fakes import install_face_only

    install_face_only(mp)
    try:
        result = plan("targets", config=fleet([_cluster(t) for t in TARGETS], SERVICES, sshPrivateKey="[secret]"))
    finally:
        mp.undo()
    assert result.errors == [] and result.schema_errors == []
    return result


def objects(result, kind, svc):
    return {m.cluster: m.object for m in result.manifests if m.kind == kind and m.name == svc}


@pytest.mark.parametrize("svc", ["pub", "int", "clu"])
def test_deployment_identical_on_every_target(every_target, svc):
    deployments = objects(every_target, "Deployment", svc)
    assert len(deployments) == len(TARGETS)
    first = next(iter(deployments.values()))
    assert all(d == first for d in deployments.values())


@pytest.mark.parametrize("kind", ["ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"])
def test_other_workload_objects_identical_on_every_target(every_target, kind):
    for svc in ("pub", "int", "clu"):
        objs = objects(every_target, kind, svc)
        assert len(objs) == len(TARGETS) and len({repr(o) for o in objs.values()}) == 1


def svc_obj(result, target, name):
    return objects(result, "Service", name)[f"c-{target}"]


def test_cluster_exposure_is_clusterip_everywhere(every_target):
    for target in TARGETS:
        s = svc_obj(every_target, target, "clu")
        assert s["spec"]["type"] == "ClusterIP"
        assert "annotations" not in s["metadata"]
        assert "externalTrafficPolicy" not in s["spec"] and "loadBalancerClass" not in s["spec"]


@pytest.mark.parametrize("name,scheme,path", [("pub", "internet-facing", "/healthz"), ("int", "internal", "/ready")])
def test_aws_nlb_ip_targets_http_health_check(every_target, name, scheme, path):
    s = svc_obj(every_target, "aws", name)
    assert s["spec"]["type"] == "LoadBalancer"
    assert s["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"
    assert "externalTrafficPolicy" not in s["spec"]
    assert s["metadata"]["annotations"] == {
        ALB + "scheme": scheme,
        ALB + "nlb-target-type": "ip",
        ALB + "healthcheck-protocol": "http",
        ALB + "healthcheck-port": "traffic-port",
        ALB + "healthcheck-path": path,
        ALB + "healthcheck-healthy-threshold": "3",
        ALB + "healthcheck-unhealthy-threshold": "3",
        ALB + "healthcheck-interval": "10",
        ALB + "healthcheck-success-codes": "200-399",
    }


@pytest.mark.parametrize("name,annotations", [
    ("pub", {"cloud.google.com/l4-rbs": "enabled"}),
    ("int", {"networking.gke.io/load-balancer-type": "Internal"}),
])
def test_gcp_l4_lb_local_traffic_policy(every_target, name, annotations):
    s = svc_obj(every_target, "gcp", name)
    assert s["spec"]["type"] == "LoadBalancer"
    assert s["metadata"]["annotations"] == annotations
    # GKE's per-Service health check (healthCheckNodePort) follows pod readiness only with Local.
    assert s["spec"]["externalTrafficPolicy"] == "Local"


@pytest.mark.parametrize("name,port,path,internal", [("pub", 80, "/healthz", False), ("int", 8443, "/ready", True)])
def test_azure_http_probe_on_health_path(every_target, name, port, path, internal):
    s = svc_obj(every_target, "azure", name)
    expected = {
        f"service.beta.kubernetes.io/port_{port}_health-probe_protocol": "http",
        f"service.beta.kubernetes.io/port_{port}_health-probe_request-path": path,
    }
    if internal:
        expected["service.beta.kubernetes.io/azure-load-balancer-internal"] = "true"
    assert s["metadata"]["annotations"] == expected
    # The probe annotations are ignored by AKS under Local, so Cluster is explicit.
    assert s["spec"]["externalTrafficPolicy"] == "Cluster"


@pytest.mark.parametrize("target", ["onprem", "existing"])
@pytest.mark.parametrize("name,pool", [("pub", "pub"), ("int", "priv")])
def test_metallb_pool_and_local_policy(every_target, target, name, pool):
    s = svc_obj(every_target, target, name)
    assert s["spec"]["type"] == "LoadBalancer"
    assert s["metadata"]["annotations"] == {"metallb.io/address-pool": pool}
    assert s["spec"]["externalTrafficPolicy"] == "Local"


def test_servicelb_has_no_annotations():
    result = plan("slb", config=fleet([cluster("k3s", "existing")], [service("pub", expose="public")]))
    s = next(m.object for m in result.manifests if m.kind == "Service")
    assert s["spec"]["type"] == "LoadBalancer" and s["spec"]["externalTrafficPolicy"] == "Local"
    assert "annotations" not in s["metadata"]


def test_self_managed_cloud_is_nodeport_fronted_by_fleetform(monkeypatch):
    from tests.fakes import install_face_only

    install_face_only(monkeypatch)
    result = plan("sm", config=fleet([cluster("sm-aws", "aws", mode="self-managed")], SERVICES))
    by_name = {m.name: m.object for m in result.manifests if m.kind == "Service"}
    assert by_name["pub"]["spec"]["type"] == "NodePort"
    assert by_name["pub"]["metadata"]["annotations"] == {"fleetform.io/fronted-by": "public"}
    # The NodePort is fixed (fleetform's own LB must know it before the Service exists): derived
    # from the name with CRC-32 into 30000-32767 unless configured.
    import zlib

    assert by_name["pub"]["spec"]["ports"][0]["nodePort"] == 30000 + zlib.crc32(b"pub") % 2768
    assert by_name["int"]["spec"]["ports"][0]["nodePort"] == 30000 + zlib.crc32(b"int") % 2768
    assert by_name["int"]["metadata"]["annotations"] == {"fleetform.io/fronted-by": "internal"}
    assert by_name["clu"]["spec"]["type"] == "ClusterIP"


def test_service_ports_and_selector(every_target):
    s = svc_obj(every_target, "aws", "int")
    assert s["spec"]["ports"] == [{"name": "http", "port": 8443, "targetPort": "http", "protocol": "TCP"}]
    d = objects(every_target, "Deployment", "int")["c-aws"]
    assert s["spec"]["selector"] == d["spec"]["selector"]["matchLabels"]
    assert d["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"name": "http", "containerPort": 9090, "protocol": "TCP"}]


def test_configured_node_port_and_clash(monkeypatch):
    from fleetform.config import FleetConfigError, load_spec
    from tests.fakes import install_face_only

    install_face_only(monkeypatch)
    cfg = fleet([cluster("sm-gcp", "gcp", mode="self-managed")], [service("pub", nodePort=31234)])
    svc = next(m.object for m in plan("sm", config=cfg).manifests if m.kind == "Service")
    assert svc["spec"]["ports"][0]["nodePort"] == 31234
    services = [service("a", nodePort=31000), service("b", nodePort=31000, servicePort=8080)]
    clash = fleet([cluster("c", "existing"), cluster("sm", "aws", mode="self-managed")], services)
    with pytest.raises(FleetConfigError) as info:
        load_spec(clash)
    assert info.value.problems == [
        "fleetform:services[1].nodePort: got 31000; allowed: a NodePort not used by service a on cluster sm "
        "(set nodePort explicitly, 30000-32767)"
    ]
    # Only fleetform's own load balancers on self-managed cloud clusters use the NodePorts: no
    # clash where none runs, or where the two services do not meet.
    assert load_spec(fleet([cluster("c", "existing"), cluster("eks", "aws")], services))
    apart = [service("a", nodePort=31000, clusters=["c"]), service("b", nodePort=31000, clusters=["sm"])]
    assert load_spec(fleet([cluster("c", "existing"), cluster("sm", "aws", mode="self-managed")], apart))


def test_cloud_provider_on_existing_takes_the_configured_annotations():
    """An existing cluster with a cloud controller (EKS, GKE, AKS used as `existing`): the
    annotations config gives, public or internal."""
    from fleetform.config import LoadBalancerSpec, ServiceSpec
    from fleetform.workloads import exposure_for

    lb = LoadBalancerSpec(provider="cloud", public_annotations={"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"},
                          internal_annotations={"networking.gke.io/load-balancer-type": "Internal"})
    spec = {"name": "api", "image": "ghcr.io/acme/api:1.2.3", "port": 9090}
    internal = exposure_for("existing", False, ServiceSpec.model_validate({**spec, "expose": "internal"}), lb)
    public = exposure_for("existing", False, ServiceSpec.model_validate({**spec, "expose": "public"}), lb)
    assert internal.type == public.type == "LoadBalancer"
    assert internal.annotations == {"networking.gke.io/load-balancer-type": "Internal"}
    assert public.annotations == {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}


@pytest.mark.parametrize("lb,why", [
    ({}, "servicelb answers on the nodes' own addresses"),
    ({"provider": "metallb", "publicPool": "pub"}, "metallb has no internalPool"),
    ({"provider": "cloud"}, "the cloud.s load balancer is internet-facing unless internalAnnotations"),
])
def test_microservice_alone_refuses_internal_without_private_addresses(lb, why):
    """The library path (no config validation in front): the exposure itself refuses."""
    from fleetform.config import LoadBalancerSpec, ServiceSpec
    from fleetform.workloads import exposure_for

    spec = ServiceSpec.model_validate({"name": "api", "image": "ghcr.io/acme/api:1.2.3", "port": 9090, "expose": "internal"})
    with pytest.raises(ValueError, match=f"service api: expose internal, but {why}"):
        exposure_for("existing", False, spec, LoadBalancerSpec.model_validate(lb))


def test_provider_none_keeps_public_services_clusterip_and_waits_for_nothing():
    """kind without cloud-provider-kind, minikube without a tunnel: a LoadBalancer Service would
    never get an address and the update would wait for it until the provider's timeout (issue 18).
    With provider none a public service stays ClusterIP (nothing opened, nothing awaited)."""
    from fleetform.config import FleetConfigError, LoadBalancerSpec, ServiceSpec, load_spec
    from fleetform.workloads import exposure_for

    web = ServiceSpec.model_validate({"name": "web", "image": "ghcr.io/acme/web:1.2.3", "port": 8080, "expose": "public"})
    exposure = exposure_for("existing", False, web, LoadBalancerSpec(provider="none"))
    assert exposure.type == "ClusterIP" and exposure.annotations == {} and exposure.external_traffic_policy is None
    result = plan("local", config=fleet([cluster("kind", "existing", existing={"context": "kind-kind"},
                                                 loadBalancer={"provider": "none"})], [service("web")]))
    assert result.exit_code == 0, result.problems()
    (svc,) = [m for m in result.manifests if m.kind == "Service"]
    assert svc.object["spec"]["type"] == "ClusterIP"
    assert result.capture.outputs["clusters"]["kind"]["services"]["web"] == "web.fleetform.svc.cluster.local:80"
    # internal has no private address to get, and onprem runs k3s's ServiceLB: both refused by config.
    bad = fleet([cluster("kind", "existing", existing={"context": "kind-kind"}, loadBalancer={"provider": "none"})],
                [service("api", expose="internal")])
    with pytest.raises(FleetConfigError, match="provider none gives services no load-balancer address at all"):
        load_spec(bad)
    onprem = fleet([cluster("dc", "onprem", loadBalancer={"provider": "none"})], [service("web")])
    with pytest.raises(FleetConfigError, match=r"loadBalancer.provider: got \"none\"; allowed: servicelb or metallb for target onprem"):
        load_spec(onprem)


def test_services_on_self_hosted_load_balancers_wait_five_minutes_for_their_address(every_target):
    """pulumi-kubernetes waits 10 minutes for a Service (no unready endpoint, and a LoadBalancer's
    address: provider/pkg/await/service.go) unless its customTimeouts say otherwise
    (provider/pkg/await/await.go, Creation/Update, the default when none is given). The Service is
    created after its Deployment is ready, so the 5 minutes are the address's. ServiceLB and
    MetalLB give one in seconds: on a cluster without either (kind without cloud-provider-kind) the
    update fails after 5 minutes, not 10 (issue 18). Managed clouds and ClusterIP keep the default."""
    deployments = {r.name: r.urn for r in every_target.capture.registrations if r.type == "kubernetes:apps/v1:Deployment"}
    services = {r.name: r for r in every_target.capture.registrations if r.type == "kubernetes:core/v1:Service"}
    for name, reg in services.items():
        on_self_hosted = name.startswith(("c-onprem-", "c-existing-"))
        load_balanced = not name.endswith("-clu-service")
        expected = {"create": "5m", "update": "5m"} if on_self_hosted and load_balanced else {}
        assert reg.custom_timeouts == expected, name
        assert reg.dependencies == [deployments[name.removesuffix("-service") + "-deployment"]], name
    assert {n for n, r in services.items() if r.custom_timeouts} == {
        f"c-{t}-{s}-service" for t in ("onprem", "existing") for s in ("pub", "int")}
