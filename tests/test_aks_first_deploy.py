"""AKS on a first real `pulumi up` (issue 13): who the deployer is, a Key Vault name that survives
`destroy`, waiting for role assignments to propagate, a private API reachable from connected
networks, and load balancer probes through the NSG.

Expected values come from the providers' documentation and source, cited next to each test; the
gates' shell scripts are run for real against stand-ins for kubelogin and curl.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from fleetform.cluster.aks import (
    SECRET_SETTINGS,
    admin_grant_probe,
    created_epoch,
    deployer_login,
    grant_propagation_wait,
    vault_name,
)
from fleetform.plan.engine import plan
from fleetform.plan.mocks import plain
from fleetform.plan.canned.random import placeholder_password
from tests.conftest import one, planned, regs, stack_config

CLUSTER = "prod-azure"
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"  # https://azure.github.io/kubelogin/concepts/aks.html
CLIENT_ID, TENANT_ID = "11111111-2222-3333-4444-555555555555", "66666666-7777-8888-9999-000000000000"
SECRET = "s3cr3t-value-that-must-never-appear"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"  # built-in role id
ROLE = "azure-native:authorization:RoleAssignment"
MC = "azure-native:containerservice:ManagedCluster"
NSG = "azure-native:network:NetworkSecurityGroup"
VAULT = "azure-native:keyvault:Vault"
COMMAND = "command:local:Command"
K8S_PROVIDER = "pulumi:providers:kubernetes"

# kubelogin's login modes and the get-token flags this module may emit, from Azure/kubelogin
# pkg/internal/token/options.go (supportedLogin, AddFlags) and
# https://azure.github.io/kubelogin/concepts/login-modes.html.
KUBELOGIN_MODES = {"devicecode", "interactive", "spn", "ropc", "msi", "azurecli", "azd", "workloadidentity", "azurepipelines"}
KUBELOGIN_FLAGS = {"--login", "--client-id", "--tenant-id", "--client-certificate", "--federated-token-file",
                   "--use-azurerm-env-vars", "--server-id"}

# Key Vault names: "3-24", "Alphanumerics and hyphens. Start with letter. End with letter or digit.
# Can't contain consecutive hyphens"
# (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftkeyvault).
VAULT_NAME = re.compile(r"^(?!.*--)[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")


def inputs(reg):
    return plain(reg.inputs, mask=False)


def kubeconfig_of(result):
    return yaml.safe_load(inputs(one(result, K8S_PROVIDER, f"{CLUSTER}-k8s"))["kubeconfig"])


def exec_args(result):
    (user,) = kubeconfig_of(result)["users"]
    return user["user"]["exec"]["args"]


def admin_assignment(result):
    (admin,) = [r for r in regs(result, ROLE) if inputs(r)["roleDefinitionId"].endswith(AKS_RBAC_CLUSTER_ADMIN)]
    return admin


def prod_with(**control_plane):
    cfg = copy.deepcopy(stack_config("prod-azure"))
    cfg["fleetform:clusters"][0]["controlPlane"] = control_plane
    return cfg


@pytest.fixture(scope="module")
def prod():
    """The example stack as a laptop plans it: no ARM_* variables, so the Azure CLI signs in."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("ARM_", "ACTIONS_ID_TOKEN", "AZURE_")):
                mp.delenv(key)
        return plan("prod-azure")


@pytest.fixture(scope="module")
def ci_private():
    """CI with a service principal in ARM_* variables, reaching the API from a peered network."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("ARM_", "ACTIONS_ID_TOKEN", "AZURE_")):
                mp.delenv(key)
        mp.setenv("ARM_CLIENT_ID", CLIENT_ID)
        mp.setenv("ARM_TENANT_ID", TENANT_ID)
        mp.setenv("ARM_CLIENT_SECRET", SECRET)
        return plan("prod-azure", config=prod_with(privateAccessCidrs=["10.200.0.0/16"]))


@pytest.fixture(scope="module")
def msi_public():
    """A managed identity set in Pulumi config; a public API, with privateAccessCidrs listed for later."""
    cfg = prod_with(publicAccess=True, apiAllowedCidrs=["198.51.100.0/24"], privateAccessCidrs=["10.200.0.0/16"])
    cfg["azure-native:useMsi"] = "true"
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("ARM_", "ACTIONS_ID_TOKEN", "AZURE_")):
                mp.delenv(key)
        return plan("prod-azure", config=cfg)


# ------------------------------------------------------------------------ the deployer's identity

GITHUB = {"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "gh-request-token", "ACTIONS_ID_TOKEN_REQUEST_URL": "https://gh.invalid/t"}
SP_ENV = {"ARM_CLIENT_ID": CLIENT_ID, "ARM_TENANT_ID": TENANT_ID}
IDS = ["--client-id", CLIENT_ID, "--tenant-id", TENANT_ID]

# (config, environment) -> (method, principalType, kubelogin args). The provider's order is
# DefaultAzureCredential, client certificate, client secret, OIDC, MSI, Azure CLI
# (pulumi-azure-native provider/pkg/provider/auth_azidentity.go, newSingleMethodAuthCredential);
# config wins over the environment (provider.go, getConfig). principalType: service principals
# and managed identities are "ServicePrincipal"
# (https://learn.microsoft.com/azure/role-based-access-control/role-assignments-rest#new-service-principal);
# the Azure CLI may be signed in as either, so nothing is sent and Azure looks the principal up.
# kubelogin: https://azure.github.io/kubelogin/concepts/login-modes.html, secrets from ARM_* with
# --use-azurerm-env-vars (options.go, UpdateFromEnv).
LOGINS = {
    "laptop-az-login": ({}, {}, "azure-cli", None, ["--login", "azurecli"]),
    "az-login-pinned-tenant": ({"tenantId": TENANT_ID}, {}, "azure-cli", None, ["--login", "azurecli", "--tenant-id", TENANT_ID]),
    "sp-secret-env": ({}, {**SP_ENV, "ARM_CLIENT_SECRET": SECRET}, "client-secret", "ServicePrincipal",
                      ["--login", "spn", *IDS, "--use-azurerm-env-vars"]),
    "sp-certificate": ({}, {**SP_ENV, "ARM_CLIENT_CERTIFICATE_PATH": "/ci/sp.pfx", "ARM_CLIENT_SECRET": SECRET},
                       "client-certificate", "ServicePrincipal",
                       ["--login", "spn", *IDS, "--client-certificate", "/ci/sp.pfx", "--use-azurerm-env-vars"]),
    "github-oidc": ({}, {**SP_ENV, "ARM_USE_OIDC": "true", **GITHUB}, "oidc", "ServicePrincipal",
                    ["--login", "workloadidentity", *IDS, "--use-azurerm-env-vars"]),
    "oidc-token-file": ({"useOidc": "true", "oidcTokenFilePath": "/var/run/token"}, SP_ENV, "oidc", "ServicePrincipal",
                        ["--login", "workloadidentity", *IDS, "--federated-token-file", "/var/run/token",
                         "--use-azurerm-env-vars"]),
    "system-msi": ({}, {"ARM_USE_MSI": "true"}, "msi", "ServicePrincipal", ["--login", "msi", "--use-azurerm-env-vars"]),
    "user-msi": ({"useMsi": "true", "clientId": CLIENT_ID}, {}, "msi", "ServicePrincipal",
                 ["--login", "msi", "--client-id", CLIENT_ID, "--use-azurerm-env-vars"]),
    "config-overrides-env": ({"useMsi": "false"}, {"ARM_USE_MSI": "true"}, "azure-cli", None, ["--login", "azurecli"]),
    "default-credential": ({}, {"ARM_USE_DEFAULT_AZURE_CREDENTIAL": "true", **SP_ENV, "ARM_CLIENT_SECRET": SECRET},
                           "default-credential", None, ["--login", "azurecli", "--tenant-id", TENANT_ID]),
}


@pytest.mark.parametrize("case", sorted(LOGINS))
def test_the_deployer_is_who_the_provider_signs_in_as(case):
    config, environ, method, principal_type, args = LOGINS[case]
    login = deployer_login(config.get, environ)
    assert (login.method, login.principal_type, list(login.kubelogin)) == (method, principal_type, args)
    assert login.kubelogin[0] == "--login" and login.kubelogin[1] in KUBELOGIN_MODES
    assert {a for a in login.kubelogin if a.startswith("--")} <= KUBELOGIN_FLAGS
    assert SECRET not in json.dumps(login.kubelogin)  # secrets reach kubelogin from the environment only


@pytest.mark.parametrize(
    "config,environ,mentions",
    [
        # The secret only in Pulumi config: kubelogin cannot read it there.
        ({"clientSecret": "[secret]", "clientId": CLIENT_ID, "tenantId": TENANT_ID}, {}, "ARM_CLIENT_SECRET"),
        # A bare OIDC token: kubelogin's workloadidentity takes GitHub's request variables or a file.
        ({}, {**SP_ENV, "ARM_USE_OIDC": "true", "ARM_OIDC_TOKEN": "eyJ"}, "ARM_OIDC_TOKEN"),
        ({}, {**SP_ENV, "ARM_USE_OIDC": "true", "ARM_OIDC_AUDIENCE": "api://other", **GITHUB}, "api://AzureADTokenExchange"),
        ({}, {"ARM_USE_DEFAULT_AZURE_CREDENTIAL": "true"}, "DefaultAzureCredential"),
    ],
)
def test_what_the_kubeconfig_cannot_carry_is_a_warning(config, environ, mentions):
    (warning,) = deployer_login(config.get, environ).warnings
    assert mentions in warning


def test_secret_settings_are_only_tested_for_presence():
    # The provider's secret-bearing keys (auth_azidentity.go, readAuthConfig).
    assert SECRET_SETTINGS == {"clientSecret", "clientCertificatePassword", "oidcToken", "oidcRequestToken"}


def test_laptop_deployer_assignment_sends_no_principal_type(prod):
    # The SDK would send "User" (pulumi_azure_native/authorization/role_assignment.py), which Azure
    # refuses for a service principal signed in to the CLI ("UnmatchedPrincipalType",
    # Azure/modern-web-app-pattern-dotnet#129). principalType is optional: the documented request
    # has none (https://learn.microsoft.com/azure/role-based-access-control/role-assignments-rest),
    # and the spec's "User" default is wrong (Azure/azure-rest-api-specs#21664).
    admin = inputs(admin_assignment(prod))
    assert "principalType" not in admin
    assert admin["principalId"]  # the provider's object id (getClientConfig)
    # The control plane's managed identity is new: its grants name the type, so no lookup of a
    # principal that has not replicated yet (same REST page, "New service principal").
    others = [inputs(r) for r in regs(prod, ROLE) if r is not admin_assignment(prod)]
    assert len(others) == 2 and all(a["principalType"] == "ServicePrincipal" for a in others)
    assert exec_args(prod) == ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_APP]


def test_service_principal_in_ci_is_granted_and_signs_in_as_itself(ci_private):
    assert ci_private.exit_code == 0, ci_private.problems()
    assert inputs(admin_assignment(ci_private))["principalType"] == "ServicePrincipal"
    assert exec_args(ci_private) == ["get-token", "--login", "spn", *IDS, "--use-azurerm-env-vars",
                                     "--server-id", AKS_SERVER_APP]
    # The client secret enters nothing the program registers or exports, secret or not.
    everything = json.dumps([inputs(r) for r in ci_private.capture.registrations]) + json.dumps(
        ci_private.capture.outputs_raw, default=str
    )
    assert SECRET not in everything


def test_managed_identity_from_pulumi_config(msi_public):
    assert msi_public.exit_code == 0, msi_public.problems()
    assert inputs(admin_assignment(msi_public))["principalType"] == "ServicePrincipal"
    assert exec_args(msi_public) == ["get-token", "--login", "msi", "--use-azurerm-env-vars", "--server-id", AKS_SERVER_APP]


# ------------------------------------------------------------------------ Key Vault name


@pytest.mark.parametrize("cluster", ["a", "prod-azure", "x" * 63, "eu-west-1-prod-cluster-blue", "9lives"])
def test_vault_names_follow_azures_rules(cluster):
    name = vault_name(cluster, "k3x9q2zr")
    assert VAULT_NAME.fullmatch(name) and 3 <= len(name) <= 24, name
    assert name.endswith("-k3x9q2zr")


def test_the_vault_name_ends_in_a_random_suffix_the_stack_keeps(prod):
    suffix = one(prod, "random:index/randomString:RandomString", f"{CLUSTER}-kv-suffix")
    params = inputs(suffix)
    # Letters and digits only: the name may hold nothing else (resource-name-rules, above).
    assert (params["length"], params["special"], params["upper"]) == (8, False, False)
    vault = one(prod, VAULT, f"{CLUSTER}-kv")  # the logical name (URN) is the one stacks already have
    assert vault.parent == suffix.parent
    name = inputs(vault)["vaultName"]
    assert VAULT_NAME.fullmatch(name) and len(name) <= 24
    # The suffix is the random string's result (the plan's placeholder: plan/canned/random.py).
    assert name.endswith("-" + placeholder_password(suffix.name, 8))
    assert suffix.urn in vault.dependencies
    # An existing stack keeps its vault: a rename would replace vault and key, and AKS: "Deleting
    # the key or the key vault isn't supported and causes the secrets in the cluster to be
    # unrecoverable" (https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption).
    assert vault.ignore_changes == ["vaultName"]
    key = inputs(one(prod, "azure-native:keyvault:Key"))
    assert key["vaultName"] == name


# ------------------------------------------------------------------------ waiting for grants


def test_the_kubernetes_provider_waits_for_the_admin_grant_to_work(prod):
    provider = one(prod, K8S_PROVIDER, f"{CLUSTER}-k8s")
    gate = one(prod, COMMAND, f"{CLUSTER}-deployer-admin-ready")
    assert gate.urn in provider.dependencies
    assert admin_assignment(prod).urn in gate.dependencies
    g = inputs(gate)
    assert g["triggers"] == [f"{admin_assignment(prod).name}-id"]  # a new grant is probed again
    server = kubeconfig_of(prod)["clusters"][0]["cluster"]["server"]
    assert f"{server}/api/v1/namespaces?limit=1" in g["create"]
    # It signs in exactly as the kubeconfig does.
    assert "kubelogin get-token --login azurecli --server-id " + AKS_SERVER_APP in g["create"]
    # Bounded: AKS "New role assignments can take up to five minutes to propagate"
    # (https://learn.microsoft.com/azure/aks/entra-id-authorization); RBAC changes "can take up to
    # 10 minutes" (https://learn.microsoft.com/azure/role-based-access-control/troubleshooting).
    assert "+ 600 ))" in g["create"]
    ca = kubeconfig_of(prod)["clusters"][0]["cluster"]["certificate-authority-data"]
    assert g["environment"]["FLEETFORM_API_CA"] == base64.b64decode(ca).decode()


def test_the_cluster_waits_for_the_kms_grant(prod):
    cluster = one(prod, MC)
    wait = one(prod, COMMAND, f"{CLUSTER}-identity-kms-propagation")
    kms = one(prod, ROLE, f"{CLUSTER}-identity-kms")
    assert wait.urn in cluster.dependencies and kms.urn in wait.dependencies
    # The plan knows no creation time (createdOn is an output): the whole bound. Key Vault RBAC:
    # "up to 10 minutes (600 seconds) after role assignments is changed for role to be applied"
    # (https://learn.microsoft.com/azure/key-vault/general/rbac-guide, "Known limits and performance").
    assert "sleep 600" in inputs(wait)["create"]
    # ... and for the subnet grant, which the create checks too (the later of the two counts).
    subnet = one(prod, ROLE, f"{CLUSTER}-identity-subnet")
    assert subnet.urn in wait.dependencies


def test_the_kms_key_goes_with_its_vault_on_destroy(prod):
    """azure-native deletes a key through the vault's data plane (pulumi-azure-native
    provider/pkg/resources/customresources/custom_keyvault.go), which an RBAC vault refuses to the
    deployer's Owner role; deleting the vault soft-deletes its keys
    (https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview)."""
    key = one(prod, "azure-native:keyvault:Key", f"{CLUSTER}-kms-key")
    vault = one(prod, "azure-native:keyvault:Vault")
    assert key.deleted_with == vault.urn


@pytest.mark.parametrize("ci", [{"GITHUB_ACTIONS": "true"}, {"TF_BUILD": "True"}])
def test_azure_cli_sign_in_inside_ci_is_warned(ci):
    """azure/login's federated token lasts minutes and az cannot renew it (Azure/login#372,
    Azure/azure-cli#28708): kubelogin --login azurecli would fail after the cluster is created."""
    (warning,) = deployer_login({}.get, ci).warnings
    assert "ARM_USE_OIDC=true" in warning
    assert deployer_login({}.get, {}).warnings == ()


def _stubs(tmp_path: Path, curl_body: str) -> dict:
    """A PATH whose kubelogin prints an ExecCredential (one JSON line, as kubelogin does) and whose
    curl runs ``curl_body``, recording its arguments and the header file it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    credential = {"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {},
                  "status": {"expirationTimestamp": "2026-12-02T12:00:00Z", "token": "eyJ.stub-token.sig"}}
    scripts = {
        "kubelogin": f"#!/bin/sh\necho \"$*\" >> {tmp_path}/kubelogin.args\necho '{json.dumps(credential, separators=(',', ':'))}'\n",
        "curl": "#!/bin/sh\n"
        f"echo \"$*\" >> {tmp_path}/curl.args\n"
        "for a in \"$@\"; do case \"$a\" in @*) cat \"${a#@}\" >> " + f"{tmp_path}/headers ;; esac; done\n" + curl_body,
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FLEETFORM_API_CA": "-----BEGIN CERTIFICATE-----\n"}


def test_the_admin_gate_retries_until_the_grant_works(tmp_path):
    # 403 twice (the grant not propagated yet), then 200.
    env = _stubs(tmp_path, f"n=$(wc -l < {tmp_path}/curl.args)\n[ \"$n\" -ge 3 ]\n")
    login = ["--login", "spn", *IDS, "--use-azurerm-env-vars"]
    script = admin_grant_probe("https://api.example.invalid:443", login, timeout_seconds=60, interval_seconds=0)
    done = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "authorized"
    calls = (tmp_path / "curl.args").read_text().splitlines()
    assert len(calls) == 3
    assert all("https://api.example.invalid:443/api/v1/namespaces?limit=1" in c for c in calls)
    assert all("stub-token" not in c for c in calls)  # the token is never on a command line
    assert (tmp_path / "headers").read_text().splitlines()[0] == "Authorization: Bearer eyJ.stub-token.sig"
    kubelogin = (tmp_path / "kubelogin.args").read_text().splitlines()[0]
    assert kubelogin == " ".join(["get-token", *login, "--server-id", AKS_SERVER_APP])


def test_the_admin_gate_gives_up_with_a_reason(tmp_path):
    env = _stubs(tmp_path, "echo 'curl: (22) The requested URL returned error: 403' >&2\nexit 22\n")
    script = admin_grant_probe("https://api.example.invalid:443", ["--login", "azurecli"], timeout_seconds=1,
                               interval_seconds=0)
    started = time.monotonic()
    done = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and time.monotonic() - started < 10
    assert "could not list namespaces at https://api.example.invalid:443 within 1 s" in done.stderr
    assert "privateAccessCidrs" in done.stderr and "403" in done.stderr


def test_the_kms_wait_counts_from_the_grants_creation(tmp_path):
    # createdOn as Azure returns it ("2020-05-06T23:55:23.7679147Z",
    # https://learn.microsoft.com/azure/role-based-access-control/role-assignments-rest).
    assert created_epoch("2020-05-06T23:55:23.7679147Z") == 1588809323
    assert created_epoch(None) is None and created_epoch("not a time") is None
    # A `sleep` that records what it was asked to wait, instead of waiting.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sleep").write_text(f"#!/bin/sh\necho \"$1\" >> {tmp_path}/slept\n")
    (bin_dir / "sleep").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    def waited(created_on):
        (tmp_path / "slept").unlink(missing_ok=True)
        done = subprocess.run(["/bin/sh", "-c", grant_propagation_wait(created_on)], env=env, capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0 and done.stdout.strip() == "propagated", done.stderr
        return [int(x) for x in (tmp_path / "slept").read_text().split()] if (tmp_path / "slept").exists() else []

    stamp = lambda ago: time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(time.time() - ago))  # noqa: E731
    (just_created,) = waited(stamp(0))
    assert 590 <= just_created <= 600  # a first deploy waits out the 600 s
    (halfway,) = waited(stamp(300))
    assert 290 <= halfway <= 300
    assert waited(stamp(3600)) == []  # an old grant (a later `up`) does not wait again


# ------------------------------------------------------------------------ reaching a private API


def test_private_access_cidrs_give_the_private_api_a_public_name(ci_private, prod):
    access = inputs(one(ci_private, MC))["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is True and access["privateDNSZone"] == "system"
    # "A public FQDN doesn't create a public API endpoint" and "is only a publicly resolvable DNS
    # name, while API communication for private clusters still occurs through the private endpoint"
    # (https://learn.microsoft.com/azure/aks/private-clusters); the private zone is "linked only to
    # the VNet that the cluster nodes are attached to" (same page).
    assert access["enablePrivateClusterPublicFQDN"] is True
    assert "authorizedIPRanges" not in access
    server = kubeconfig_of(ci_private)["clusters"][0]["cluster"]["server"]
    assert ".hcp." in server and ".privatelink." not in server
    assert ci_private.capture.outputs_raw["clusters"][CLUSTER]["endpoint"] == server
    assert f"{server}/api/v1/namespaces" in inputs(one(ci_private, COMMAND, f"{CLUSTER}-deployer-admin-ready"))["create"]
    # Without them: no public name, the private FQDN.
    assert inputs(one(prod, MC))["apiServerAccessProfile"]["enablePrivateClusterPublicFQDN"] is False


def test_a_public_api_ignores_private_access_cidrs(msi_public):
    access = inputs(one(msi_public, MC))["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is False
    assert "10.200.0.0/16" not in access["authorizedIPRanges"]  # authorized ranges are public sources


def test_the_system_private_dns_zone_needs_no_dns_role(prod):
    # privatednszones/* is "Required if using a private DNS zone in another resource group such as a
    # custom privateDNSZone" (https://learn.microsoft.com/azure/aks/aks-service-permissions): with
    # "system" the identity keeps exactly its two grants.
    assert inputs(one(prod, MC))["apiServerAccessProfile"]["privateDNSZone"] == "system"
    assert len(regs(prod, ROLE)) == 3  # subnet, KMS key, deployer


# ------------------------------------------------------------------------ load balancer probes


def test_load_balancer_probes_pass_the_nsg_before_the_internet_deny(prod):
    rules = inputs(one(prod, NSG))["securityRules"]
    nodes = inputs(one(prod, "azure-native:network:Subnet"))["addressPrefix"]
    (probes,) = [r for r in rules if r["sourceAddressPrefix"] == "AzureLoadBalancer"]
    # AzureLoadBalancer "translates to the virtual IP address of the host (168.63.129.16) where the
    # Azure health probes originate" (https://learn.microsoft.com/azure/virtual-network/service-tags-overview);
    # "If you block this IP address, your probes fail"
    # (https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16); Azure's own
    # AllowAzureLoadBalancerInBound is at 65001, after any rule of ours
    # (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules).
    assert (probes["direction"], probes["access"]) == ("Inbound", "Allow")
    assert probes["destinationAddressPrefix"] == nodes
    assert 100 <= probes["priority"] <= 4096  # the range an NSG rule may use (same page)
    internet_denies = [r for r in rules if r["sourceAddressPrefix"] == "Internet" and r["access"] == "Deny"]
    assert internet_denies and all(probes["priority"] < r["priority"] for r in internet_denies)
    assert ipaddress.ip_network(probes["destinationAddressPrefix"]).prefixlen > 0


def test_the_self_managed_nsg_keeps_its_own_rules():
    # The self-managed Azure cluster passes its own rule set to the shared network module.
    result = planned("selfmanaged-azure")
    names = [r["name"] for nsg in regs(result, NSG) for r in inputs(nsg)["securityRules"]]
    assert names and not {"allow-azure-load-balancer-probes", "deny-internet-to-nodes"} & set(names)
