"""GKE as a first real `pulumi up` meets it (issue 13): a fresh project, a project without the
Compute Engine default service account, a private API reachable from listed networks, and a
kubeconfig that authenticates as the identity Pulumi's gcp provider used.

Expected values come from the sources, not from the code under test:
- APIs: Service Usage/Logging/Monitoring are the only relevant ones on by default
  (https://cloud.google.com/service-usage/docs/enabled-service#default); compute (VPC, zones),
  container (cluster), cloudkms (key), iam (service account), cloudresourcemanager (project, its IAM
  policy) are not. ``disable_on_destroy``/``disable_dependent_services``:
  https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/google_project_service.
  The provider reads every ``google_project_service`` back through Cloud Resource Manager
  (terraform-provider-google google/services/resourcemanager/resource_google_project_service.go, Read).
- GKE service agent: ``service-<number>@container-engine-robot.iam.gserviceaccount.com``
  (https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets#grant_permission); no role can be
  granted to an agent not yet created, and an agent created on request gets no roles by itself
  (https://cloud.google.com/iam/docs/create-service-agents); its role roles/container.serviceAgent.
- Default node pool: ``node_config`` configures it and ``service_account`` defaults to the Compute Engine
  default account (https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/container_cluster);
  cluster creation fails where that account is gone (hashicorp/terraform-provider-google#4435); the API reports
  the first pool's config as the cluster's ``nodeConfig`` and a cluster-level ``node_config`` otherwise recreates
  the cluster on every apply (#12070, #17511).
- Authorized networks: ``private_endpoint_enforcement_enabled``, ``gcp_public_cidrs_access_enabled``,
  ``master_global_access_config`` (container_cluster docs above); global access = the private endpoint "accessible
  from sources in other regions" (GKE API IPEndpointsConfig.global_access,
  https://cloud.google.com/php/docs/reference/cloud-container/latest/V1.ControlPlaneEndpointsConfig.IPEndpointsConfig).
- Exec auth: gke-gcloud-auth-plugin flags ``--use_application_default_credentials`` and
  ``--impersonate_service_account`` (ignored in ADC mode), and ``CLOUDSDK_AUTH_ACCESS_TOKEN`` in gcloud mode
  (https://github.com/kubernetes/cloud-provider-gcp/blob/master/cmd/gke-gcloud-auth-plugin/cred.go,
  gcloud_token_provider.go); the provider's credential order and variables
  (https://registry.terraform.io/providers/hashicorp/google/latest/docs/guides/provider_reference, and its
  provider.go: environment only when nothing is configured); ADC reads GOOGLE_APPLICATION_CREDENTIALS
  (https://cloud.google.com/docs/authentication/application-default-credentials#GAC); exec ``env`` is a list of
  name/value (https://kubernetes.io/docs/reference/config-api/kubeconfig.v1/#ExecConfig).
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

import pulumi
import pytest
import yaml

from fleetform import testing
from fleetform.cluster import gke
from fleetform.fleet import program as fleet_program
from fleetform.plan.engine import plan
from fleetform.plan.mocks import plain
from tests.conftest import cluster, fleet, one, regs, service, stack_config

CLUSTER_TYPE = "gcp:container/cluster:Cluster"
SERVICE_API = "gcp:projects/service:Service"
IAM_MEMBER = "gcp:projects/iAMMember:IAMMember"
GKE_AGENT = re.compile(r"^serviceAccount:service-[0-9]+@container-engine-robot\.iam\.gserviceaccount\.com$")
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
APIS = {
    "cloudresourcemanager.googleapis.com",
    "iam.googleapis.com",
    "compute.googleapis.com",
    "cloudkms.googleapis.com",
    "container.googleapis.com",
}
PROVIDER_ENV = (
    "GOOGLE_CREDENTIALS",
    "GOOGLE_CLOUD_KEYFILE_JSON",
    "GCLOUD_KEYFILE_JSON",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "GOOGLE_IMPERSONATE_SERVICE_ACCOUNT",
)
IMPERSONATED = "deployer@acme-prod.iam.gserviceaccount.com"


def inputs(reg) -> dict[str, Any]:
    return plain(reg.inputs, mask=False)


@pytest.fixture(autouse=True)
def _no_ambient_gcp_credentials(monkeypatch):
    """The program reads the provider's environment: keep the developer's own out of the plans."""
    for key in PROVIDER_ENV:
        monkeypatch.delenv(key, raising=False)


def gke_fleet(**control_plane: Any) -> dict[str, Any]:
    spec = cluster("g1", "gcp", network={"cidr": "10.40.0.0/16", "zones": 3})
    if control_plane:
        spec["controlPlane"] = control_plane
    return fleet([spec], [service("web")])


def planned(config: dict[str, Any]):
    """Plan ``config`` with fleetform's program and also record each resource's options
    (``ignore_changes``, ``retain_on_delete`` are options, not inputs)."""
    options: dict[tuple[str, str], pulumi.ResourceOptions] = {}

    def record(args: pulumi.ResourceTransformationArgs):
        options[(args.type_, args.name)] = args.opts
        return None

    def program():
        pulumi.runtime.register_stack_transformation(record)
        fleet_program(skip_unimplemented=True)

    result = testing.plan(program, config=config)
    assert result.exit_code == 0, result.problems()
    return result, options


def kubeconfig_user(result, name: str) -> dict[str, Any]:
    provider = one(result, "pulumi:providers:kubernetes", f"{name}-k8s")
    raw = inputs(provider)["kubeconfig"]
    (user,) = yaml.safe_load(raw)["users"]
    return user["user"]["exec"] | {"_raw": raw}


@pytest.fixture(scope="module")
def prod():
    with pytest.MonkeyPatch.context() as mp:
        for key in PROVIDER_ENV:
            mp.delenv(key, raising=False)
        return plan("prod-gcp")


@pytest.fixture(scope="module")
def inline():
    with pytest.MonkeyPatch.context() as mp:
        for key in PROVIDER_ENV:
            mp.delenv(key, raising=False)
        return planned(gke_fleet())


# ------------------------------------------------------------------------------ a fresh project


def test_every_api_the_cluster_uses_is_enabled_and_never_disabled(prod):
    gke_urn = one(prod, "fleetform:cluster:GkeCluster").urn
    services = {inputs(r)["service"]: r for r in regs(prod, SERVICE_API)}
    assert set(services) == APIS
    for name, reg in services.items():
        props = inputs(reg)
        assert props["disableOnDestroy"] is False and props["disableDependentServices"] is False, name
        assert reg.parent == gke_urn
    # Every other Service is read back through Cloud Resource Manager: it is enabled first.
    crm = services["cloudresourcemanager.googleapis.com"]
    assert crm.dependencies == []
    assert all(crm.urn in r.dependencies for n, r in services.items() if r is not crm)


def test_resources_wait_for_their_api(prod):
    api = {inputs(r)["service"].split(".")[0]: r.urn for r in regs(prod, SERVICE_API)}
    for t in ("gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork", "gcp:compute/router:Router",
              "gcp:compute/routerNat:RouterNat"):
        assert api["compute"] in one(prod, t).dependencies, t
    assert api["iam"] in one(prod, "gcp:serviceaccount/account:Account").dependencies
    for t in ("gcp:kms/keyRing:KeyRing", "gcp:kms/cryptoKey:CryptoKey"):
        assert api["cloudkms"] in one(prod, t).dependencies, t
    for r in regs(prod, IAM_MEMBER):
        assert api["cloudresourcemanager"] in r.dependencies, r.name
    assert api["container"] in one(prod, CLUSTER_TYPE).dependencies
    assert api["container"] in one(prod, "gcp:projects/serviceIdentity:ServiceIdentity").dependencies


def test_the_invokes_wait_for_their_api(monkeypatch):
    """get_project reads Cloud Resource Manager, get_zones Compute Engine: on a fresh project
    they must run after the APIs are on (under preview they then stay unknown)."""
    seen: dict[str, list[str]] = {}
    for module, fn in ((gke.gcp.organizations, "get_project_output"), (gke.gcp.compute, "get_zones_output")):
        original = getattr(module, fn)

        def wrapper(*args, _original=original, _fn=fn, **kwargs):
            deps = kwargs["opts"].depends_on or []
            seen[_fn] = [d._name for d in deps]
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, fn, wrapper)
    planned(gke_fleet())
    assert seen == {"get_project_output": ["g1-api-cloudresourcemanager"], "get_zones_output": ["g1-api-compute"]}


def test_gke_service_agent_exists_and_holds_its_role_before_the_key_grant(prod):
    identity = one(prod, "gcp:projects/serviceIdentity:ServiceIdentity")
    assert inputs(identity)["service"] == "container.googleapis.com"
    grant = one(prod, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert identity.urn in grant.dependencies
    assert GKE_AGENT.match(inputs(grant)["member"])
    (agent_role,) = [r for r in regs(prod, IAM_MEMBER) if inputs(r)["role"] == "roles/container.serviceAgent"]
    assert inputs(agent_role)["member"] == inputs(grant)["member"]
    assert identity.urn in agent_role.dependencies
    cluster_deps = one(prod, CLUSTER_TYPE).dependencies
    assert grant.urn in cluster_deps and agent_role.urn in cluster_deps


def test_the_agents_role_outlives_the_stack(inline):
    """Other clusters of the project need GKE's agent role: destroying this stack keeps it."""
    _, options = inline
    assert options[(IAM_MEMBER, "g1-gke-agent-role")].retain_on_delete is True
    assert not options[(IAM_MEMBER, "g1-nodes-artifactregistry-reader")].retain_on_delete


# ------------------------------------------------------------------------------ default node pool


def test_default_pool_runs_as_the_node_account_not_the_compute_default(prod):
    cluster_in = inputs(one(prod, CLUSTER_TYPE))
    account = inputs(one(prod, "gcp:serviceaccount/account:Account"))
    nc = cluster_in["nodeConfig"]
    assert nc["serviceAccount"].startswith(account["accountId"] + "@")
    assert "-compute@developer.gserviceaccount.com" not in nc["serviceAccount"] and nc["serviceAccount"] != "default"
    # The same account and hardening as the real pools (GKE hardening guide).
    pools = [inputs(r)["nodeConfig"] for r in regs(prod, "gcp:container/nodePool:NodePool")]
    assert {p["serviceAccount"] for p in pools} == {nc["serviceAccount"]}
    assert nc["oauthScopes"] == [CLOUD_PLATFORM]
    assert nc["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
    assert nc["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    assert nc["kubeletConfig"]["insecureKubeletReadonlyPortEnabled"] == "FALSE"
    assert nc["metadata"]["disable-legacy-endpoints"] == "true"
    # The nodes start as that account: its roles are granted before the cluster is created.
    node_grants = [r.urn for r in regs(prod, IAM_MEMBER) if inputs(r)["member"] == f"serviceAccount:{nc['serviceAccount']}"]
    assert len(node_grants) == 2 and set(node_grants) <= set(one(prod, CLUSTER_TYPE).dependencies)


def test_default_pool_config_never_replaces_the_cluster(inline):
    _, options = inline
    assert "nodeConfig" in (options[(CLUSTER_TYPE, "g1-cluster")].ignore_changes or [])


# ------------------------------------------------------------------------------ private API reach


def test_private_api_reachable_from_the_vpc_and_private_access_cidrs():
    result, _ = planned(gke_fleet(privateAccessCidrs=["192.168.10.0/24", "100.64.0.0/16"]))
    c = inputs(one(result, CLUSTER_TYPE))
    man = c["masterAuthorizedNetworksConfig"]
    assert [(b["cidrBlock"], b["displayName"]) for b in man["cidrBlocks"]] == [
        ("10.40.0.0/16", "network.cidr"),
        ("192.168.10.0/24", "privateAccessCidrs[0]"),
        ("100.64.0.0/16", "privateAccessCidrs[1]"),
    ]
    assert man["privateEndpointEnforcementEnabled"] is True
    assert man["gcpPublicCidrsAccessEnabled"] is False
    # Still private: no public endpoint, DNS endpoint closed to user traffic.
    assert c["privateClusterConfig"]["enablePrivateEndpoint"] is True
    assert c["privateClusterConfig"]["masterGlobalAccessConfig"] == {"enabled": True}
    assert c["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is False
    # The kubeconfig points at the private endpoint (canned 192.0.2.x in the plan).
    server = yaml.safe_load(kubeconfig_user(result, "g1")["_raw"])["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://192.0.2.")


def test_without_private_access_cidrs_no_global_access(inline):
    result, _ = inline
    c = inputs(one(result, CLUSTER_TYPE))
    assert c["privateClusterConfig"]["masterGlobalAccessConfig"] == {"enabled": False}
    assert [b["cidrBlock"] for b in c["masterAuthorizedNetworksConfig"]["cidrBlocks"]] == ["10.40.0.0/16"]


def test_each_cidr_is_authorized_once():
    result, _ = planned(
        gke_fleet(privateAccessCidrs=["198.51.100.0/24"], publicAccess=True,
                  apiAllowedCidrs=["198.51.100.0/24", "203.0.113.9/32"])
    )
    man = inputs(one(result, CLUSTER_TYPE))["masterAuthorizedNetworksConfig"]
    assert [b["cidrBlock"] for b in man["cidrBlocks"]] == ["10.40.0.0/16", "198.51.100.0/24", "203.0.113.9/32"]


# ------------------------------------------------------------------------------ exec-auth identity


def test_default_kubeconfig_uses_application_default_credentials(prod):
    exec_ = kubeconfig_user(prod, "prod-gcp")
    assert exec_["command"] == "gke-gcloud-auth-plugin"
    assert exec_["args"] == ["--use_application_default_credentials"]
    assert "env" not in exec_


@pytest.mark.parametrize(
    ("config", "environ", "args", "env"),
    [
        pytest.param({}, {}, ["--use_application_default_credentials"], None, id="adc"),
        pytest.param({"gcp:credentials": "/secrets/deployer.json"}, {}, ["--use_application_default_credentials"],
                     [{"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/secrets/deployer.json"}], id="key-file"),
        pytest.param({}, {"GOOGLE_CREDENTIALS": "/ci/wif.json"}, ["--use_application_default_credentials"],
                     [{"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/ci/wif.json"}], id="key-file-env"),
        pytest.param({"gcp:credentials": "~/deployer.json"}, {}, ["--use_application_default_credentials"],
                     [{"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": os.path.expanduser("~/deployer.json")}],
                     id="key-file-home"),
        pytest.param({"gcp:impersonateServiceAccount": IMPERSONATED}, {},
                     [f"--impersonate_service_account={IMPERSONATED}"], None, id="impersonation"),
        pytest.param({}, {"GOOGLE_IMPERSONATE_SERVICE_ACCOUNT": IMPERSONATED},
                     [f"--impersonate_service_account={IMPERSONATED}"], None, id="impersonation-env"),
        pytest.param({"gcp:accessToken": "ya29.secret-token"}, {}, [], None, id="access-token"),
        pytest.param({}, {"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.secret-token"}, [], None, id="access-token-env"),
        # Configured credentials win: the provider reads the environment only when none are configured.
        pytest.param({"gcp:credentials": "/secrets/deployer.json"}, {"GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.secret-token"},
                     ["--use_application_default_credentials"],
                     [{"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/secrets/deployer.json"}], id="config-first"),
    ],
)
def test_kubeconfig_authenticates_as_the_provider(monkeypatch, config, environ, args, env):
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    cfg = gke_fleet()
    cfg.update(config)
    result, _ = planned(cfg)
    exec_ = kubeconfig_user(result, "g1")
    assert exec_["args"] == args
    assert exec_.get("env") == env
    # ADC mode ignores --impersonate_service_account: never both.
    assert not ("--use_application_default_credentials" in args and any("impersonate" in a for a in args))
    assert "secret-token" not in exec_["_raw"]


def test_key_content_never_enters_the_kubeconfig():
    key = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMII..."}'
    cfg = gke_fleet()
    cfg["gcp:credentials"] = key
    result, _ = planned(cfg)
    exec_ = kubeconfig_user(result, "g1")
    assert exec_["args"] == ["--use_application_default_credentials"] and "env" not in exec_
    assert "PRIVATE KEY" not in exec_["_raw"]


@pytest.mark.parametrize(
    ("config", "environ", "warns"),
    [
        ({}, {}, None),
        ({"credentials": "/secrets/deployer.json"}, {}, None),
        ({"impersonateServiceAccount": IMPERSONATED}, {}, None),
        ({"credentials": '{"type": "service_account"}'}, {}, "GOOGLE_APPLICATION_CREDENTIALS"),
        ({"accessToken": "ya29.x"}, {}, "CLOUDSDK_AUTH_ACCESS_TOKEN"),
        ({"impersonateServiceAccount": IMPERSONATED, "credentials": "/k.json"}, {}, "impersonate"),
    ],
)
def test_combinations_the_kubeconfig_cannot_carry_are_reported(config, environ, warns):
    auth = gke.plugin_auth(config.get, environ)
    if warns is None:
        assert auth.warning is None
    else:
        assert auth.warning and warns in auth.warning


def test_the_stack_file_plans_with_the_fixes(prod):
    assert prod.exit_code == 0 and prod.errors == [] and prod.schema_errors == []
    cfg = copy.deepcopy(stack_config("prod-gcp"))
    assert cfg["fleetform:clusters"][0]["network"]["cidr"] == "10.30.0.0/16"
    authorized = inputs(one(prod, CLUSTER_TYPE))["masterAuthorizedNetworksConfig"]["cidrBlocks"]
    assert authorized[0]["cidrBlock"] == "10.30.0.0/16"
