"""Target ``azure``, mode ``managed``: an AKS cluster in a network of its own, secure by default.

Only the azure-native submodules used here are touched (the package loads each submodule lazily,
on first attribute access); no other cloud's SDK is imported (pulumi_random names the Key Vault,
pulumi_command runs the access gates where ``pulumi up`` runs).

The identity running ``pulumi up`` is read from the azure-native provider's own settings
(:func:`deployer_login`): it decides the deployer's role assignment's ``principalType`` and the
kubeconfig's ``kubelogin`` login mode, so both name the identity the provider uses.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_command as command
import pulumi_random as random
import yaml
from pulumi_azure_native import (
    authorization,
    containerservice,
    keyvault,
    managedidentity,
    monitor,
    operationalinsights,
)

from ..bootstrap.script import PRIVATE_CA_PROLOGUE
from ..config import DEFAULT_NODE_SIZE, ClusterSpec, NodePoolSpec, Taint
from ..network.azure import MAX_AZURE_ZONES, AzureNetwork, AzureNetworkArgs
from .base import Cluster, ClusterContext

# The "Azure Kubernetes Service AAD Server" application: the audience of every Entra ID token
# that AKS accepts, the same in every tenant (https://azure.github.io/kubelogin/concepts/aks.html).
AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"

# Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
ROLE_NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
ROLE_KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
ROLE_AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"

SYSTEM_POOL_NAME = "system"
SYSTEM_POOL_COUNT = 3
"""AKS: "a production AKS cluster with a single system node pool ... at least three nodes"
(https://learn.microsoft.com/azure/aks/use-system-pools)."""
SYSTEM_POOL_SIZE = DEFAULT_NODE_SIZE["azure"]
"""4 vCPUs: system pools need "a VM SKU of at least 4 vCPUs and 4GB memory" (same page)."""

AUDIT_LOG_CATEGORIES = ("kube-audit-admin", "guard")
"""kube-audit-admin: every API server audit event except get/list (what changed, by whom);
guard: Entra ID and Azure RBAC authorization decisions. kube-audit would add every read, at many
times the volume (https://learn.microsoft.com/azure/aks/monitor-aks-reference#resource-logs,
https://azure.github.io/PSRule.Rules.Azure/en/rules/Azure.AKS.AuditLogs/)."""
AUDIT_RETENTION_DAYS = 90

_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_VAULT_NAME_PREFIX = "kv-"
VAULT_SUFFIX_LENGTH = 8
"""Random lower-case letters and digits ending the Key Vault name: "kv-" + at most 12 of the
cluster name + "-" + 8 = 24, the longest vault name (see :func:`vault_name`)."""
VAULT_SKU = keyvault.SkuName.PREMIUM
"""Premium: HSM-protected keys live in Premium vaults ("HSM-protected keys (Key Vault Premium)",
https://learn.microsoft.com/azure/key-vault/keys/about-keys). The SKU is one of the properties a
vault update takes (VaultPatchProperties.sku, https://learn.microsoft.com/rest/api/keyvault/keyvault/vaults/update),
so a Standard vault of an existing stack moves up in place, under the same name."""
KMS_KEY_TYPE = "RSA-HSM"
"""An HSM-protected RSA key. The KMS plugin AKS runs lists "Use a key in Key Vault protected by a
Hardware Security Module (HSM)" among its features and only encrypts and decrypts with it
(RSA-OAEP-256 under KMS v2: Azure/kubernetes-kms README and pkg/plugin/kms_v2_server.go), which
Key Vault supports "with RSA and RSA-HSM keys"
(https://learn.microsoft.com/azure/key-vault/keys/about-keys-details); AKS asks only that
"encrypt and decrypt key operations are enabled" (https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption)."""
KMS_KEY_SIZE = 2048
"""RSA-HSM keys are 2048, 3072 or 4096 bits (about-keys, above)."""
KMS_KEY_CREATE_ONLY = ("properties.kty", "properties.keySize")
"""Settings an existing key keeps (``ignore_changes``). ARM's key PUT is Keys_CreateIfNotExist: it
"does not create subsequent versions, and does not update existing keys" (azure-rest-api-specs,
Microsoft.KeyVault 2024-11-01 keys.json), and refuses other creation parameters for an existing key
("KeyCreationParametersDidNotMatchExistingKey", Azure/bicep-types-az#1906); replacing the key would
delete the one the cluster's Secrets are encrypted with. A stack whose key was created as "RSA"
keeps that software-protected key (docs/targets.md, AKS)."""
KMS_KEY_VAULT_NETWORK_ACCESS = "Public"
"""How the KMS plugin reaches the vault; see the etcd encryption section of :class:`AksCluster`
for why the vault's firewall stays open."""

ADMIN_GRANT_TIMEOUT_SECONDS = 600
"""How long the deployer's admin grant may take to reach the API server's authorization before the
first Kubernetes call: "New role assignments can take up to five minutes to propagate and be updated
by the authorization server" (https://learn.microsoft.com/azure/aks/entra-id-authorization, formerly
manage-azure-rbac), and role assignment changes in general "can take up to 10 minutes" to take effect
(https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected).
The gate polls, so it usually ends long before."""
KMS_GRANT_PROPAGATION_SECONDS = 600
"""How long after its creation the control plane's Key Vault Crypto User grant is given before the
cluster (AKS checks the key at create time: AzureKeyVaultKmsValidateIdentityPermissionCustomerError,
MicrosoftDocs/azure-docs#98954). Key Vault RBAC: "it will take up to 10 minutes (600 seconds) after
role assignments is changed for role to be applied" (Key Vault RBAC guide, "Known limits and
performance", in the revisions that had that section; https://learn.microsoft.com/azure/key-vault/general/rbac-guide),
and the troubleshooting page above says the same 10 minutes. No API tells when another identity's
data-plane access is effective, so this one is a bounded wait, counted from the grant's creation."""
PROBE_INTERVAL_SECONDS = 10

SERVICE_PRINCIPAL = "ServicePrincipal"
"""principalType of service principals and managed identities alike: "if you create a new managed
identity ... set the principalType property to ServicePrincipal"
(https://learn.microsoft.com/azure/role-based-access-control/role-assignments-rest#new-service-principal)."""

_PROVIDER_SETTINGS = {
    # azure-native config key -> the environment variable the provider reads when the key is unset
    # (pulumi-azure-native provider/pkg/provider/auth_azidentity.go, readAuthConfig; provider.go,
    # getConfig: "if val, ok := k.config[configName]; ok { return val }; return os.Getenv(envName)").
    "useDefaultAzureCredential": "ARM_USE_DEFAULT_AZURE_CREDENTIAL",
    "clientCertificatePath": "ARM_CLIENT_CERTIFICATE_PATH",
    "clientCertificatePassword": "ARM_CLIENT_CERTIFICATE_PASSWORD",
    "clientSecret": "ARM_CLIENT_SECRET",
    "useOidc": "ARM_USE_OIDC",
    "oidcToken": "ARM_OIDC_TOKEN",
    "oidcTokenFilePath": "ARM_OIDC_TOKEN_FILE_PATH",
    "oidcRequestToken": "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "oidcRequestUrl": "ACTIONS_ID_TOKEN_REQUEST_URL",
    "oidcAudience": "ARM_OIDC_AUDIENCE",
    "useMsi": "ARM_USE_MSI",
    "clientId": "ARM_CLIENT_ID",
    "tenantId": "ARM_TENANT_ID",
}
SECRET_SETTINGS = frozenset({"clientSecret", "clientCertificatePassword", "oidcToken", "oidcRequestToken"})
"""Provider settings fleetform only tests for presence: their values never enter the program."""

# kubelogin reads ARM_CLIENT_ID, ARM_CLIENT_SECRET, ARM_CLIENT_CERTIFICATE_PATH,
# ARM_CLIENT_CERTIFICATE_PASSWORD and ARM_TENANT_ID with this flag (Azure/kubelogin
# pkg/internal/token/options.go, UpdateFromEnv; since v0.0.18): the secrets the provider read from
# the environment reach kubelogin the same way, at use time, and never enter the kubeconfig.
_ARM_ENV = "--use-azurerm-env-vars"
_GITHUB_AUDIENCE = "api://AzureADTokenExchange"


@dataclass(frozen=True)
class DeployerLogin:
    """How the identity running ``pulumi up`` signs in, as the azure-native provider resolves it."""

    method: str
    """The provider's credential: client-certificate, client-secret, oidc, msi, azure-cli or
    default-credential."""
    principal_type: Optional[str]
    """``principalType`` of the deployer's role assignment: ``ServicePrincipal`` when the credential
    can only belong to a service principal or managed identity; ``None`` (omitted, Azure looks the
    principal up) for the Azure CLI and DefaultAzureCredential, which may hold a user or a service
    principal."""
    kubelogin: tuple[str, ...]
    """``kubelogin get-token`` arguments naming the same identity: the login mode and non-secret
    identifiers (client and tenant ids, file paths); secrets come from the environment at use time."""
    warnings: tuple[str, ...] = ()
    """What the kubeconfig cannot carry by itself (logged, and in docs/targets.md)."""


def aks_pool_name(pool: NodePoolSpec) -> str:
    """The AKS agent pool name of a fleetform node pool. AKS: "lowercase alphanumeric characters
    and must begin with a lowercase letter ... 1-12 characters" for Linux pools
    (https://learn.microsoft.com/azure/aks/create-node-pools), so hyphens are dropped; a name that
    is still too long is refused rather than cut (see :func:`_user_pools`)."""
    return re.sub(r"[^a-z0-9]", "", pool.name)


def _taint(t: Taint) -> str:
    # AKS nodeTaints use kubectl's syntax: key=value:Effect (key:Effect for an empty value).
    return f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"


def vault_name(cluster: str, suffix: str) -> str:
    """The Key Vault name of ``cluster``: "kv-", up to 12 letters and digits of the cluster name and
    the stack's random ``suffix``. Vault names are global, "3-24", "Alphanumerics and hyphens. Start
    with letter. End with letter or digit. Can't contain consecutive hyphens"
    (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftkeyvault).
    The suffix lives as long as the stack: after ``pulumi destroy`` the purge-protected vault stays
    soft-deleted for 90 days under its old name, and the next ``up`` draws a new one."""
    compact = re.sub(r"[^a-z0-9]", "", cluster.lower())[:12]
    return f"{_VAULT_NAME_PREFIX}{compact}-{suffix}" if compact else f"{_VAULT_NAME_PREFIX}{suffix}"


def deployer_login(setting: Callable[[str], Optional[str]], environ: Mapping[str, str]) -> DeployerLogin:
    """The identity the azure-native provider signs in as, for its role assignment and kubelogin.

    ``setting``: an ``azure-native:`` config key's value, ``None`` when unset (for
    :data:`SECRET_SETTINGS` any non-``None`` value means "set"); ``environ``: the environment of
    ``pulumi up``, which the Kubernetes provider also runs kubelogin in. The provider tries, in this
    order, DefaultAzureCredential, a client certificate, a client secret, OIDC, a managed identity,
    then the Azure CLI (pulumi-azure-native ``auth_azidentity.go``, ``newSingleMethodAuthCredential``).
    kubelogin's matching login modes (https://azure.github.io/kubelogin/concepts/login-modes.html):
    ``spn`` (secret or certificate), ``workloadidentity`` (a federated token: GitHub Actions'
    ``ACTIONS_ID_TOKEN_REQUEST_*`` since v0.0.34, or a token file), ``msi`` and ``azurecli``.
    """

    def get(key: str) -> str:
        value = setting(key)
        return value if value is not None else environ.get(_PROVIDER_SETTINGS[key], "")

    def from_config_only(key: str) -> bool:
        return setting(key) is not None and not environ.get(_PROVIDER_SETTINGS[key])

    client_id, tenant_id = get("clientId"), get("tenantId")
    ids = (*(("--client-id", client_id) if client_id else ()), *(("--tenant-id", tenant_id) if tenant_id else ()))
    tenant = ("--tenant-id", tenant_id) if tenant_id else ()
    warnings: list[str] = []
    if get("useDefaultAzureCredential") == "true":
        warnings.append(
            "azure-native uses DefaultAzureCredential, which kubelogin has no mode for: the kubeconfig signs in "
            "with the Azure CLI (kubelogin --login azurecli), which must be signed in as the same identity"
        )
        return DeployerLogin("default-credential", None, ("--login", "azurecli", *tenant), tuple(warnings))
    if get("clientCertificatePath"):
        if from_config_only("clientCertificatePassword"):
            warnings.append("azure-native:clientCertificatePassword is set only in Pulumi config: kubelogin reads "
                            "the certificate password from ARM_CLIENT_CERTIFICATE_PASSWORD when it runs")
        args = ("--login", "spn", *ids, "--client-certificate", get("clientCertificatePath"), _ARM_ENV)
        return DeployerLogin("client-certificate", SERVICE_PRINCIPAL, args, tuple(warnings))
    if get("clientSecret"):
        if from_config_only("clientSecret"):
            warnings.append("azure-native:clientSecret is set only in Pulumi config: kubelogin reads the client "
                            "secret from ARM_CLIENT_SECRET when it runs, so export it there too")
        return DeployerLogin("client-secret", SERVICE_PRINCIPAL, ("--login", "spn", *ids, _ARM_ENV), tuple(warnings))
    if get("useOidc") == "true":
        token_file = get("oidcTokenFilePath")
        github = environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN") and environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        if not token_file and not github and not environ.get("AZURE_FEDERATED_TOKEN_FILE"):
            warnings.append(
                "azure-native uses OIDC without GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_TOKEN/URL or a token file: "
                "kubelogin --login workloadidentity takes the federated token only from those (or "
                "AZURE_FEDERATED_TOKEN_FILE), not from a token value such as ARM_OIDC_TOKEN"
            )
        if get("oidcAudience") not in ("", _GITHUB_AUDIENCE):
            warnings.append(f"azure-native:oidcAudience is not {_GITHUB_AUDIENCE}, the audience kubelogin requests")
        args = ("--login", "workloadidentity", *ids, *(("--federated-token-file", token_file) if token_file else ()))
        return DeployerLogin("oidc", SERVICE_PRINCIPAL, (*args, _ARM_ENV), tuple(warnings))
    if get("useMsi") == "true":
        # A user-assigned identity is chosen by client id, as the provider does (msiOpts.ID).
        args = ("--login", "msi", *(("--client-id", client_id) if client_id else ()), _ARM_ENV)
        return DeployerLogin("msi", SERVICE_PRINCIPAL, args)
    warnings = []
    if environ.get("GITHUB_ACTIONS") == "true" or environ.get("TF_BUILD"):
        # azure/login's OIDC sign-in gives az a federated token that lasts minutes and that az cannot
        # renew (Azure/login#372, Azure/azure-cli#28708): kubelogin --login azurecli fails once the
        # cluster exists (AADSTS700024). azure-native's own OIDC settings let kubelogin fetch a fresh
        # token each time (--login workloadidentity).
        warnings.append(
            "Pulumi signs in to Azure through the Azure CLI inside CI: if az was signed in with a federated (OIDC) "
            "token, it expires within minutes and the kubeconfig's kubelogin --login azurecli fails after the cluster "
            "is created; set ARM_USE_OIDC=true, ARM_CLIENT_ID and ARM_TENANT_ID instead (docs/targets.md, AKS)"
        )
    return DeployerLogin("azure-cli", None, ("--login", "azurecli", *tenant), tuple(warnings))


def _provider_setting(config: pulumi.Config, key: str) -> Optional[str]:
    """An ``azure-native:`` key as :func:`deployer_login` wants it (secrets: presence only)."""
    if key in SECRET_SETTINGS:
        return "[secret]" if config.get_secret(key) is not None else None
    return config.get(key)


def _role(subscription_id: pulumi.Input[str], role_id: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/", role_id
    )


def ca_from_user_kubeconfig(result: Any) -> str:
    """``certificate-authority-data`` of the first cluster in the first kubeconfig that
    listClusterUserCredential returned (values are base64 kubeconfig files)."""
    kubeconfigs = result.kubeconfigs if hasattr(result, "kubeconfigs") else result["kubeconfigs"]
    first = kubeconfigs[0]
    value = first.value if hasattr(first, "value") else first["value"]
    doc = yaml.safe_load(base64.b64decode(value)) or {}
    try:
        return doc["clusters"][0]["cluster"]["certificate-authority-data"]
    except (KeyError, IndexError, TypeError) as exc:
        raise pulumi.RunError(f"the AKS user kubeconfig has no certificate-authority-data: {exc}") from None


def exec_kubeconfig(name: str, endpoint: str, ca_data: str, login: Sequence[str] = ("--login", "azurecli")) -> str:
    """A kubeconfig for ``name`` whose credentials come from kubelogin at use time (an Entra ID
    token of the identity ``login`` names, see :func:`deployer_login`): nothing long-lived is
    stored, and no secret is an argument."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
            "users": [
                {
                    "name": f"{name}-entra",
                    "user": {
                        # https://azure.github.io/kubelogin/cli/get-token.html
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "kubelogin",
                            "args": ["get-token", *login, "--server-id", AKS_AAD_SERVER_APP_ID],
                            "interactiveMode": "Never",
                            "provideClusterInfo": False,
                        }
                    },
                }
            ],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-entra"}}],
            "current-context": name,
        },
        indent=2,
        sort_keys=True,
    )


def admin_grant_probe(
    api_url: str,
    login: Sequence[str],
    timeout_seconds: int = ADMIN_GRANT_TIMEOUT_SECONDS,
    interval_seconds: int = PROBE_INTERVAL_SECONDS,
) -> str:
    """A local command that waits, at most ``timeout_seconds``, until the deployer may list
    namespaces at ``api_url`` with the kubeconfig's own kubelogin ``login``: reachable, signed in,
    and authorized by the propagated admin grant (403 until then). The CA comes from
    ``FLEETFORM_API_CA`` (PEM). The token is written to a private file and sent with ``curl -H
    @file`` ("Starting in 7.55.0, this option can take an argument in @filename style",
    https://curl.se/docs/manpage.html#-H), never put on a command line; kubelogin prints the
    ExecCredential as one line of JSON (Azure/kubelogin execCredentialWriter.go, json.Encoder)."""
    get_token = shlex.join(["kubelogin", "get-token", *login, "--server-id", AKS_AAD_SERVER_APP_ID])
    url = shlex.quote(f"{api_url}/api/v1/namespaces?limit=1")
    failed = (
        f"fleetform: the deploying identity could not list namespaces at {api_url} within {int(timeout_seconds)} s: "
        "the API is not reachable from here (a private API needs a connected network, controlPlane.privateAccessCidrs) "
        "or the cluster admin grant has not reached the API server yet (re-run pulumi up)"
    )
    return "\n".join([
        *PRIVATE_CA_PROLOGUE,
        f"deadline=$(( $(date +%s) + {int(timeout_seconds)} ))",
        "while :; do",
        f'  if {get_token} > "$d/credential" 2> "$d/error"; then',
        '    sed -n \'s/.*"token":"\\([^"]*\\)".*/Authorization: Bearer \\1/p\' "$d/credential" > "$d/header"',
        f'    if curl -sSf --max-time 10 --cacert "$d/ca.crt" -H @"$d/header" -o /dev/null {url} 2> "$d/error"; then',
        "      echo authorized",
        "      exit 0",
        "    fi",
        "  fi",
        '  if [ "$(date +%s)" -ge "$deadline" ]; then',
        f"    echo {shlex.quote(failed)} >&2",
        '    cat "$d/error" >&2',
        "    exit 1",
        "  fi",
        f"  sleep {int(interval_seconds)}",
        "done",
    ])


def created_epoch(created_on: Optional[str]) -> Optional[int]:
    """Seconds since the epoch of a role assignment's ``createdOn`` (UTC, e.g.
    "2020-05-06T23:55:23.7679147Z" in https://learn.microsoft.com/azure/role-based-access-control/role-assignments-rest),
    ``None`` when absent or unreadable."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", created_on or "")
    if not match:
        return None
    moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())


def grant_propagation_wait(created_on: Optional[str], seconds: int = KMS_GRANT_PROPAGATION_SECONDS) -> str:
    """A local command that returns once ``seconds`` have passed since a grant was created
    (``createdOn``; the whole ``seconds`` when unknown): a first deploy waits, a later run of an
    older grant does not."""
    start = created_epoch(created_on)
    if start is None:
        wait = [f"sleep {int(seconds)}"]
    else:
        wait = [f"remaining=$(( {start} + {int(seconds)} - $(date +%s) ))",
                'if [ "$remaining" -gt 0 ]; then sleep "$remaining"; fi']
    return "\n".join(["set -eu", *wait, "echo propagated"])


class AksCluster(Cluster):
    """An AKS cluster (``target: azure``, ``mode: managed``) with everything it needs.

    Builds, in the cluster's own resource group (:class:`fleetform.network.azure.AzureNetwork`
    makes it, with the VNet, node subnet, NAT gateway and NSG):

    - a user-assigned managed identity for the control plane, with exactly two role assignments:
      Network Contributor on the node subnet (joining it, and internal load balancers whose
      frontends live in it) and Key Vault Crypto User on the etcd encryption key;
    - a Premium Key Vault (Azure RBAC only, purge protection, 90-day soft delete) named with a
      random suffix the stack keeps (``<name>-kv-suffix``, so a stack re-created after ``destroy``
      does not collide with its soft-deleted vault) and an HSM-protected RSA key used for KMS
      envelope encryption of Secrets in etcd; the vault stays public with its firewall open and the
      key has no rotation policy, because AKS' KMS works only so without API Server VNet
      Integration and uses one key version; the cluster waits until the key grant has had time to propagate
      (``<name>-identity-kms-propagation``);
    - a Log Analytics workspace (local auth off) and a diagnostic setting sending the API server
      audit log (``kube-audit-admin``) and Entra ID/Azure RBAC decisions (``guard``) to it;
    - the ManagedCluster: SKU tier Standard (financially backed API server SLA), private API
      server unless ``controlPlane.publicAccess`` (then only ``apiAllowedCidrs`` and the NAT IP);
      with ``controlPlane.privateAccessCidrs`` a private cluster also gets a public DNS name that
      resolves to its private address, so connected networks need no link to its private zone;
      Entra ID integration with Azure RBAC, local accounts disabled, Kubernetes RBAC, workload
      identity with the OIDC issuer, Azure CNI Overlay with the Cilium dataplane enforcing
      NetworkPolicies, egress only through the NAT gateway, automatic patch upgrades and weekly
      node images, node resource group locked read-only, and a system pool (3 nodes, tainted
      ``CriticalAddonsOnly``) spread over the zones;
    - one AgentPool per configured node pool (mode User, autoscaled between min and max, zones,
      labels, taints, spot), so a node-pool change never touches the ManagedCluster;
    - a role assignment making the deploying identity cluster admin (Azure RBAC), so the
      workloads can be applied with its Entra ID token (``principalType`` from
      :func:`deployer_login`), and a gate (``<name>-deployer-admin-ready``) the Kubernetes provider
      waits for: the deployer can list namespaces through the API with the kubeconfig's login.

    Every node pool: no public IPs, the node subnet, encryption at host (needs the subscription
    feature ``Microsoft.Compute/EncryptionAtHost``,
    https://learn.microsoft.com/azure/aks/enable-host-encryption).

    The kubeconfig (secret) holds the API endpoint (the private FQDN for a private cluster, the
    public one that resolves to the private address with ``privateAccessCidrs``), the cluster CA
    read through listClusterUserCredential (which, with local accounts disabled, returns no
    credential at all) and kubelogin exec auth in the login mode of the identity the azure-native
    provider uses (:func:`deployer_login`). The Kubernetes provider is built from it alone.
    """

    network: AzureNetwork
    identity: managedidentity.UserAssignedIdentity
    vault: keyvault.Vault
    vault_suffix: random.RandomString
    kms_key: keyvault.Key
    workspace: operationalinsights.Workspace
    managed_cluster: containerservice.ManagedCluster
    audit: monitor.DiagnosticSetting
    node_pools: dict[str, containerservice.AgentPool]
    oidc_issuer: pulumi.Output[str]

    def __init__(
        self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__("fleetform:cluster:AksCluster", name, opts)
        self.target = "azure"
        self.self_managed = False
        self.kubernetes_version = ctx.kubernetes_version
        zones = _zones(spec)
        pools = _user_pools(spec)
        location = spec.region
        tags = {**spec.tags, "fleetform-cluster": name}
        child = pulumi.ResourceOptions(parent=self)

        self.network = AzureNetwork(f"{name}-network", AzureNetworkArgs(spec=spec, tags=tags), opts=child)
        rg_name = self.network.resource_group_name
        rg = self.network.resource_group.name
        plan = self.network.plan
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        provider_config = pulumi.Config("azure-native")
        login = deployer_login(lambda key: _provider_setting(provider_config, key), os.environ)
        for warning in login.warnings:
            pulumi.log.warn(f"cluster {name}: {warning} (docs/targets.md, AKS)", resource=self)

        # --- control-plane identity -------------------------------------------------------------
        # KMS "doesn't work with system-assigned managed identity" (the key must be usable before
        # the cluster exists): https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption
        # Keyword form: the SDK's Args-object form of resources with a `resource_name` property
        # collides with the constructor's own resource_name (azure-native names it resource_name_).
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=rg,
            resource_name_=f"{name}-control-plane",
            location=location,
            tags=tags,
            opts=child,
        )
        # Custom VNet: the cluster identity needs subnets/read + join on the node subnet (and
        # creates internal load balancers there): https://learn.microsoft.com/azure/aks/aks-service-permissions
        # and https://learn.microsoft.com/azure/aks/internal-lb ("the cluster identity needs at
        # least Network Contributor on the subnet"). Scoped to the subnet, not the VNet.
        subnet_role = authorization.RoleAssignment(
            f"{name}-identity-subnet",
            authorization.RoleAssignmentArgs(
                scope=self.network.node_subnet_id,
                role_definition_id=_role(client.subscription_id, ROLE_NETWORK_CONTRIBUTOR),
                principal_id=self.identity.principal_id,
                principal_type=SERVICE_PRINCIPAL,
                description=f"AKS {name}: join the node subnet, internal load balancers",
            ),
            opts=child,
        )

        # --- etcd encryption ---------------------------------------------------------------------
        # A public key vault with its firewall open (KMS_KEY_VAULT_NETWORK_ACCESS). AKS' KMS:
        # "Because the firewall blocks traffic from the KMS plugin to Key Vault, two scenarios aren't
        # supported. First, Azure Key Vault can't be configured with the firewall option Allow public
        # access from specific virtual networks and IP addresses. Second, Azure Key Vault can't be
        # configured with Disable public access unless API Server VNet Integration is enabled", and
        # a cluster with a private key vault "must use the API Server VNet Integration tunnel"
        # (https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption#limitations); fleetform does
        # not use VNet Integration. Default action Deny with bypass AzureServices is the first of the
        # two: AKS is not in Key Vault's trusted services table
        # (https://learn.microsoft.com/azure/key-vault/general/overview-vnet-service-endpoints#trusted-services).
        # Only the KMS data encryption in preview reaches a firewalled vault as a trusted service
        # (https://learn.microsoft.com/azure/aks/kms-data-encryption), through
        # securityProfile.kubernetesResourceObjectEncryptionProfile, which the ManagedCluster API
        # version of this SDK (2025-09-01) does not have. Access is by Entra ID and Azure RBAC only
        # (no access policies), purge protection on: deleting the key would make every Secret
        # unrecoverable.
        # The name ends in a random suffix the stack keeps (see vault_name). ignore_changes: a stack
        # whose vault predates the suffix keeps its vault. Renaming would replace the vault and key
        # and delete the old ones, and AKS: "Deleting the key or the key vault isn't supported and
        # causes the secrets in the cluster to be unrecoverable"
        # (https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption).
        self.vault_suffix = random.RandomString(
            f"{name}-kv-suffix", length=VAULT_SUFFIX_LENGTH, special=False, upper=False, lower=True, numeric=True,
            opts=child,
        )
        self.vault = keyvault.Vault(
            f"{name}-kv",
            keyvault.VaultArgs(
                resource_group_name=rg,
                vault_name=self.vault_suffix.result.apply(lambda suffix: vault_name(name, suffix)),
                location=location,
                properties=keyvault.VaultPropertiesArgs(
                    tenant_id=client.tenant_id,
                    sku=keyvault.SkuArgs(family="A", name=VAULT_SKU),
                    enable_rbac_authorization=True,
                    enable_purge_protection=True,
                    enable_soft_delete=True,
                    soft_delete_retention_in_days=90,
                    enabled_for_deployment=False,
                    enabled_for_disk_encryption=False,
                    enabled_for_template_deployment=False,
                    public_network_access="Enabled",
                    network_acls=keyvault.NetworkRuleSetArgs(default_action="Allow", bypass="AzureServices"),
                ),
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["vaultName"]),
        )
        # The KMS plugin calls Encrypt/Decrypt on one key version
        # (https://github.com/Azure/kubernetes-kms, pkg/plugin/keyvault.go), so only those
        # operations are allowed, and the cluster gets the versioned key id. HSM-protected
        # (KMS_KEY_TYPE). No expiry: an expired key stops the API server from reading Secrets.
        # No rotation policy: this KMS uses the one version in keyId. Rotating is `az aks update`
        # with the new version's id, then rewriting every Secret ("Remember to update all secrets
        # after key rotation"; old and new versions must stay valid until the next rotation: KMS
        # page above), while Key Vault's auto-rotation only adds versions for services that "use
        # versionless key URI to automatically refresh to the latest version"
        # (https://learn.microsoft.com/azure/key-vault/keys/how-to-configure-key-rotation). A
        # refresh and the next up would then put the newest version in keyId, no Secret rewritten. The KMS
        # that follows rotations (versionless key id, checked every 6 hours) is the preview one
        # (https://learn.microsoft.com/azure/aks/kms-data-encryption#key-rotation).
        self.kms_key = keyvault.Key(
            f"{name}-kms-key",
            keyvault.KeyArgs(
                resource_group_name=rg,
                vault_name=self.vault.name,
                key_name="etcd-kms",
                properties=keyvault.KeyPropertiesArgs(
                    kty=KMS_KEY_TYPE, key_size=KMS_KEY_SIZE, key_ops=["encrypt", "decrypt"]
                ),
                tags=tags,
            ),
            # azure-native deletes a key through the vault's data plane (customresources/custom_keyvault.go),
            # where the deployer's Owner/Contributor role grants nothing in an RBAC vault: the delete would
            # get 403 and strand the destroy. Deleting the vault soft-deletes its keys with it
            # (https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview), so the key goes
            # with the vault. Create, read and update go through ARM (same file: "schema, create,
            # update, read use default implementation"). An existing key keeps its type and size
            # (KMS_KEY_CREATE_ONLY).
            opts=pulumi.ResourceOptions(
                parent=self, deleted_with=self.vault, ignore_changes=list(KMS_KEY_CREATE_ONLY)
            ),
        )
        kms_role = authorization.RoleAssignment(
            f"{name}-identity-kms",
            authorization.RoleAssignmentArgs(
                scope=self.kms_key.id,
                role_definition_id=_role(client.subscription_id, ROLE_KEY_VAULT_CRYPTO_USER),
                principal_id=self.identity.principal_id,
                principal_type=SERVICE_PRINCIPAL,
                description=f"AKS {name}: KMS encryption of Secrets in etcd",
            ),
            opts=child,
        )
        # Counted from the later of the two grants the cluster's create checks (KMS key, subnet).
        kms_propagated = command.local.Command(
            f"{name}-identity-kms-propagation",
            create=pulumi.Output.all(kms_role.created_on, subnet_role.created_on).apply(
                lambda v: grant_propagation_wait(max((c for c in v if c), default=None, key=lambda c: created_epoch(c) or 0))
            ),
            interpreter=["/bin/sh", "-c"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[kms_role, subnet_role]),
        )

        # --- audit logs ----------------------------------------------------------------------------
        self.workspace = operationalinsights.Workspace(
            f"{name}-logs",
            operationalinsights.WorkspaceArgs(
                resource_group_name=rg,
                workspace_name=f"{name}-logs",
                location=location,
                sku=operationalinsights.WorkspaceSkuArgs(name="PerGB2018"),
                retention_in_days=AUDIT_RETENTION_DAYS,
                # Entra ID only for ingestion and queries (no workspace shared keys).
                features=operationalinsights.WorkspaceFeaturesArgs(disable_local_auth=True),
                tags=tags,
            ),
            opts=child,
        )

        # --- the cluster ---------------------------------------------------------------------------
        public = spec.control_plane.public_access
        # A public endpoint is reached by its public address: privateAccessCidrs change nothing then.
        public_fqdn = bool(spec.control_plane.private_access_cidrs) and not public
        if public:
            # Authorized IP ranges: https://learn.microsoft.com/azure/aks/api-server-authorized-ip-ranges.
            # The NAT gateway's IP is added so the nodes themselves (egressing through it) reach
            # the public endpoint.
            api_access = containerservice.ManagedClusterAPIServerAccessProfileArgs(
                enable_private_cluster=False,
                authorized_ip_ranges=pulumi.Output.all(
                    [str(c) for c in spec.control_plane.api_allowed_cidrs], self.network.nat_public_ip_address
                ).apply(lambda v: sorted({*v[0], f"{v[1]}/32"} if v[1] else set(v[0]))),
            )
        else:
            # Private cluster (https://learn.microsoft.com/azure/aks/private-clusters): the API
            # server has only a private endpoint in the VNet; "system" private DNS zone in the node
            # resource group, which is "linked only to the VNet that the cluster nodes are attached
            # to" (same page). With privateAccessCidrs, connected networks (peering, VPN) resolve the
            # API through a public FQDN instead: "only a publicly resolvable DNS name, while API
            # communication for private clusters still occurs through the private endpoint" (same
            # page, "Disable a public FQDN on a private AKS cluster"). Without them, no public name.
            # The system zone needs no Private DNS Zone Contributor grant: privatednszones/* is
            # "Required if using a private DNS zone in another resource group such as a custom
            # privateDNSZone" (https://learn.microsoft.com/azure/aks/aks-service-permissions).
            api_access = containerservice.ManagedClusterAPIServerAccessProfileArgs(
                enable_private_cluster=True,
                enable_private_cluster_public_fqdn=public_fqdn,
                private_dns_zone="system",
            )

        system_pool = containerservice.ManagedClusterAgentPoolProfileArgs(
            name=SYSTEM_POOL_NAME,
            mode="System",
            os_type="Linux",
            vm_size=SYSTEM_POOL_SIZE,
            count=SYSTEM_POOL_COUNT,
            enable_auto_scaling=False,
            availability_zones=zones,
            # "CriticalAddonsOnly=true:NoSchedule taint ... prevent application pods from being
            # scheduled on system node pools" (https://learn.microsoft.com/azure/aks/use-system-pools).
            node_taints=["CriticalAddonsOnly=true:NoSchedule"],
            **_pool_security(self.network.node_subnet_id),
            orchestrator_version=ctx.kubernetes_version,
            os_disk_type="Managed",
            tags=tags,
        )

        # Keyword form, as for the identity (ManagedCluster and AgentPool have resource_name too).
        self.managed_cluster = containerservice.ManagedCluster(
            f"{name}-aks",
            resource_group_name=rg,
            resource_name_=name,
            location=location,
            dns_prefix=name,
            kubernetes_version=ctx.kubernetes_version,
            # Standard tier: the uptime SLA recommended for production
            # (https://learn.microsoft.com/azure/aks/free-standard-pricing-tiers).
            sku=containerservice.ManagedClusterSKUArgs(name="Base", tier="Standard"),
            identity=containerservice.ManagedClusterIdentityArgs(
                type=containerservice.ResourceIdentityType.USER_ASSIGNED,
                user_assigned_identities=[self.identity.id],
            ),
            node_resource_group=f"{name}-nodes-rg",
            # Only */read on the AKS-managed node resource group: nobody edits the VMSS, NICs
            # or load balancers behind AKS' back
            # (https://learn.microsoft.com/azure/aks/node-resource-group-lockdown).
            node_resource_group_profile=containerservice.ManagedClusterNodeResourceGroupProfileArgs(
                restriction_level="ReadOnly"
            ),
            agent_pool_profiles=[system_pool],
            api_server_access_profile=api_access,
            # Entra ID with Azure RBAC for Kubernetes authorization, and no local (certificate)
            # accounts: every API call carries an Entra ID identity
            # (https://learn.microsoft.com/azure/aks/manage-azure-rbac,
            # https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad).
            aad_profile=containerservice.ManagedClusterAADProfileArgs(
                managed=True, enable_azure_rbac=True, tenant_id=client.tenant_id
            ),
            disable_local_accounts=True,
            enable_rbac=True,
            # Workload identity needs the OIDC issuer
            # (https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster).
            oidc_issuer_profile=containerservice.ManagedClusterOIDCIssuerProfileArgs(enabled=True),
            security_profile=containerservice.ManagedClusterSecurityProfileArgs(
                workload_identity=containerservice.ManagedClusterSecurityProfileWorkloadIdentityArgs(enabled=True),
                azure_key_vault_kms=containerservice.AzureKeyVaultKmsArgs(
                    enabled=True,
                    key_id=self.kms_key.key_uri_with_version,
                    key_vault_network_access=KMS_KEY_VAULT_NETWORK_ACCESS,
                ),
            ),
            network_profile=containerservice.ContainerServiceNetworkProfileArgs(
                # Azure CNI Overlay with the Cilium dataplane; networkPolicy "cilium" enforces
                # Kubernetes NetworkPolicy and "requires networkDataplane to be 'cilium'"
                # (https://learn.microsoft.com/azure/aks/azure-cni-powered-by-cilium).
                network_plugin="azure",
                network_plugin_mode="overlay",
                network_dataplane="cilium",
                network_policy="cilium",
                pod_cidr=str(plan.pods),
                service_cidr=str(plan.services),
                # Inside serviceCidr, not its first address (kubernetes.default).
                dns_service_ip=str(plan.services.network_address + 10),
                load_balancer_sku="standard",
                outbound_type="userAssignedNATGateway",
            ),
            # patch: new patch releases of the configured minor version as they come; minor
            # upgrades stay a config change. NodeImage: weekly node images with OS security
            # fixes (https://learn.microsoft.com/azure/aks/auto-upgrade-cluster,
            # https://learn.microsoft.com/azure/aks/auto-upgrade-node-os-image).
            auto_upgrade_profile=containerservice.ManagedClusterAutoUpgradeProfileArgs(
                upgrade_channel="patch", node_os_upgrade_channel="NodeImage"
            ),
            tags=tags,
            # AKS checks the identity's access to the subnet and the key while it creates the
            # cluster, so the role assignments come first, and the key grant has had time to
            # propagate (KMS_GRANT_PROPAGATION_SECONDS).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[subnet_role, kms_role, kms_propagated]),
        )
        cluster = self.managed_cluster

        self.audit = monitor.DiagnosticSetting(
            f"{name}-audit",
            monitor.DiagnosticSettingArgs(
                name="fleetform-audit",
                resource_uri=cluster.id,
                workspace_id=self.workspace.id,
                # Resource-specific tables (AKSAuditAdmin, AKSControlPlane).
                log_analytics_destination_type="Dedicated",
                logs=[monitor.DiagnosticsLogSettingsArgs(category=c, enabled=True) for c in AUDIT_LOG_CATEGORIES],
            ),
            opts=child,
        )

        # --- user node pools -----------------------------------------------------------------------
        self.node_pools = {}
        for pool in pools:
            self.node_pools[pool.name] = containerservice.AgentPool(
                f"{name}-pool-{pool.name}",
                resource_group_name=rg,
                resource_name_=cluster.name,
                agent_pool_name=aks_pool_name(pool),
                mode="User",
                os_type="Linux",
                vm_size=pool.size,
                enable_auto_scaling=True,
                min_count=pool.min,
                max_count=pool.max,
                count=pool.min,
                availability_zones=zones,
                node_labels=dict(pool.labels),
                node_taints=[_taint(t) for t in pool.taints],
                orchestrator_version=ctx.kubernetes_version,
                os_disk_size_gb=pool.disk_gb,
                os_disk_type="Managed",
                **_pool_security(self.network.node_subnet_id),
                **_spot(pool),
                tags=tags,
                # The cluster autoscaler owns the node count once the pool exists.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
            )

        # --- access for the deployer ---------------------------------------------------------------
        # With Azure RBAC and no local accounts nobody can use the API until a role says so; the
        # identity running `pulumi up` gets cluster admin so it can apply the workloads.
        # principalType: a wrong one is refused ("UnmatchedPrincipalType ... has type
        # 'ServicePrincipal', which is different from specified PrincipalType 'User'",
        # Azure/modern-web-app-pattern-dotnet#129). It is optional in the API (the request in
        # https://learn.microsoft.com/azure/role-based-access-control/role-assignments-rest has
        # none; it only spares a lookup of a principal too new to have replicated), so it is sent
        # where the provider's credential proves the type and omitted for the Azure CLI, signed in
        # as a user or a service principal. Omitting takes an Output resolving to None: the SDK
        # turns a plain None into "User" (pulumi_azure_native/authorization/role_assignment.py,
        # from the REST spec's default, which Azure/azure-rest-api-specs#21664 says is wrong),
        # while the Python SDK sends no property whose value is None (pulumi/runtime/rpc.py,
        # serialize_properties) and the provider adds no default (pulumi-azure-native provider.go,
        # applyDefaults: names, location and API version only).
        admin = authorization.RoleAssignment(
            f"{name}-deployer-admin",
            authorization.RoleAssignmentArgs(
                scope=cluster.id,
                role_definition_id=_role(client.subscription_id, ROLE_AKS_RBAC_CLUSTER_ADMIN),
                principal_id=client.object_id,
                principal_type=login.principal_type or pulumi.Output.from_input(None),
                description=f"AKS {name}: the identity that deploys fleetform's workloads",
            ),
            opts=child,
        )

        # --- kubeconfig and provider ---------------------------------------------------------------
        # The CA is only exposed through listClusterUserCredential. With disableLocalAccounts and
        # Entra ID, that kubeconfig carries no credential, only the CA and an exec stanza
        # (https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad): the
        # deployer needs no long-lived secret. Arguments are names known before deployment and
        # the call waits for the cluster, so it answers (the same CA) during a node-pool or tag
        # update too; the engine only declines it while the cluster is being created.
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=rg_name,
            resource_name=name,
            format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[cluster]),
        )
        ca_data = credentials.apply(ca_from_user_kubeconfig)
        # The public FQDN also names the API server of a private cluster that has one: AKS hands out
        # kubeconfigs for it (listClusterUserCredential's server-fqdn parameter,
        # https://learn.microsoft.com/rest/api/aks/managed-clusters/list-cluster-user-credentials).
        fqdn = cluster.fqdn if public or public_fqdn else cluster.private_fqdn
        self.endpoint = fqdn.apply(lambda host: f"https://{host}:443")
        # The admin role assignment is a dependency (the workloads must wait for it), never a value.
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.endpoint, ca_data, admin.id).apply(
                lambda v: exec_kubeconfig(name, v[0], v[1], login.kubelogin)
            )
        )
        # The provider's first call must find the grant in force: it takes minutes to reach the API
        # server (ADMIN_GRANT_TIMEOUT_SECONDS), so a gate polls with the kubeconfig's own login, where
        # `pulumi up` runs. It runs when created and again when the grant or the endpoint changes.
        admin_ready = command.local.Command(
            f"{name}-deployer-admin-ready",
            create=self.endpoint.apply(lambda url: admin_grant_probe(url, login.kubelogin)),
            interpreter=["/bin/sh", "-c"],
            environment={"FLEETFORM_API_CA": ca_data.apply(lambda ca: base64.b64decode(ca).decode())},
            triggers=[admin.id],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[admin]),
        )
        self.provider = self._make_provider(kubeconfig=self.kubeconfig, depends_on=[admin_ready])

        self.oidc_issuer = cluster.oidc_issuer_profile.apply(lambda p: (p.issuer_url if p else None) or "")
        self.details = {
            "name": name,
            "region": location,
            "resourceGroup": rg_name,
            "oidcIssuer": self.oidc_issuer,
            "nodePools": [SYSTEM_POOL_NAME, *(aks_pool_name(p) for p in pools)],
        }
        self._publish()


def _zones(spec: ClusterSpec) -> list[str]:
    if spec.network.zones > MAX_AZURE_ZONES:
        # Config validation should reject this first (see the proposed check in components/fleetform/config.py).
        raise pulumi.RunError(
            f"cluster {spec.name}: network.zones is {spec.network.zones}; Azure regions have at most "
            f"{MAX_AZURE_ZONES} availability zones"
        )
    return [str(z) for z in range(1, spec.network.zones + 1)]


def _user_pools(spec: ClusterSpec) -> list[NodePoolSpec]:
    pools = spec.effective_node_pools
    seen = {SYSTEM_POOL_NAME: "(fleetform's system pool)"}
    for pool in pools:
        aks = aks_pool_name(pool)
        if not _POOL_NAME.fullmatch(aks) or aks in seen:
            raise pulumi.RunError(
                f"cluster {spec.name}: node pool {pool.name!r} has no distinct AKS pool name "
                f"(AKS: lowercase letters and digits, starting with a letter, at most 12; "
                f"{aks!r} {'is taken by ' + seen[aks] if aks in seen else 'is not valid'})"
            )
        seen[aks] = repr(pool.name)
    return pools


def _pool_security(subnet_id: pulumi.Input[str]) -> dict[str, Any]:
    """Settings every pool shares: private nodes in the node subnet, host encryption."""
    return {
        "vnet_subnet_id": subnet_id,
        "enable_node_public_ip": False,
        # Encrypts the temp disk, OS/data disk caches and flows to storage at the VM host
        # (https://learn.microsoft.com/azure/aks/enable-host-encryption); needs the subscription
        # feature Microsoft.Compute/EncryptionAtHost registered once.
        "enable_encryption_at_host": True,
    }


def _spot(pool: NodePoolSpec) -> dict[str, Any]:
    if not pool.spot:
        return {"scale_set_priority": "Regular"}
    # https://learn.microsoft.com/azure/aks/spot-node-pool: Delete eviction (scale sets reclaim
    # quota), -1 = pay up to the on-demand price. AKS adds the
    # kubernetes.azure.com/scalesetpriority=spot:NoSchedule taint itself.
    return {"scale_set_priority": "Spot", "scale_set_eviction_policy": "Delete", "spot_max_price": -1}
