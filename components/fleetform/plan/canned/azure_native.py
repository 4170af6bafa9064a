"""Canned outputs of the ``azure-native`` resources and invokes whose results fleetform reads
(offline plan only; no cloud SDK is imported here).

Every value is deterministic and obviously not real: all-zero-prefixed GUIDs derived from names,
documentation IP addresses (RFC 5737), a CA that is not a certificate. Values are derived from the
resources' *names* only, never from tags or node pools, as the real ones are. Under a real
``pulumi up`` none of this exists: the provider returns the real values.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import zlib
from typing import Any

PLAN_SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001"
PLAN_TENANT_ID = "00000000-0000-0000-0000-000000000002"
PLAN_DEPLOYER_OBJECT_ID = "00000000-0000-0000-0000-000000000003"
PLAN_DEPLOYER_CLIENT_ID = "00000000-0000-0000-0000-000000000004"

_NS = uuid.UUID("6f1c5b2e-0000-4000-8000-00000000f1ee")


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _h(*parts: str, n: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def _named(key: str):
    """Outputs of a resource whose Azure name is the input ``key`` (the provider returns it as ``name``)."""

    def outputs(args) -> dict[str, Any]:
        return {"name": args.inputs.get(key) or args.name}

    return outputs


def _public_ip(args) -> dict[str, Any]:
    name = args.inputs.get("publicIpAddressName") or args.name
    return {"name": name, "ipAddress": f"203.0.113.{zlib.crc32(name.encode()) % 254 + 1}"}


def _identity(args) -> dict[str, Any]:
    name = args.inputs.get("resourceName") or args.name
    rg = args.inputs.get("resourceGroupName", "")
    return {
        "name": name,
        "principalId": _guid("principal", rg, name),
        "clientId": _guid("client", rg, name),
        "tenantId": PLAN_TENANT_ID,
    }


def _vault(args) -> dict[str, Any]:
    name = args.inputs.get("vaultName") or args.name
    props = dict(args.inputs.get("properties") or {})
    props["vaultUri"] = f"https://{name}.vault.azure.net/"
    return {"name": name, "properties": props}


def _key(args) -> dict[str, Any]:
    vault = args.inputs.get("vaultName", "vault")
    key = args.inputs.get("keyName") or args.name
    base = f"https://{vault}.vault.azure.net/keys/{key}"
    return {"name": key, "keyUri": base, "keyUriWithVersion": f"{base}/{_h('key-version', vault, key, n=32)}"}


def _workspace(args) -> dict[str, Any]:
    name = args.inputs.get("workspaceName") or args.name
    return {"name": name, "customerId": _guid("workspace", args.inputs.get("resourceGroupName", ""), name)}


def _managed_cluster(args) -> dict[str, Any]:
    inputs = args.inputs
    name = inputs.get("resourceName") or args.name
    rg = inputs.get("resourceGroupName", "")
    location = inputs.get("location", "location")
    prefix = inputs.get("dnsPrefix") or name
    suffix = _h("fqdn", rg, name)
    out: dict[str, Any] = {
        "name": name,
        "fqdn": f"{prefix}-{suffix}.hcp.{location}.azmk8s.io",
        "azurePortalFQDN": f"{prefix}-{suffix}.portal.hcp.{location}.azmk8s.io",
    }
    access = inputs.get("apiServerAccessProfile") or {}
    if access.get("enablePrivateCluster"):
        out["privateFQDN"] = f"{prefix}-{suffix}.{_guid('zone', rg, name)}.privatelink.{location}.azmk8s.io"
    oidc = dict(inputs.get("oidcIssuerProfile") or {})
    if oidc.get("enabled"):
        oidc["issuerURL"] = f"https://{location}.oic.prod-aks.azure.com/{PLAN_TENANT_ID}/{_guid('oidc', rg, name)}/"
    out["oidcIssuerProfile"] = oidc
    identity = inputs.get("identity") or {}
    ids = identity.get("userAssignedIdentities") or []
    # The response shape: a map from identity resource id to its principal/client ids.
    out["identity"] = {
        "type": identity.get("type", "SystemAssigned"),
        "userAssignedIdentities": {i: {"principalId": _guid("principal", i), "clientId": _guid("client", i)} for i in ids},
    }
    out["identityProfile"] = {
        "kubeletidentity": {
            "resourceId": f"/subscriptions/{PLAN_SUBSCRIPTION_ID}/resourceGroups/{inputs.get('nodeResourceGroup', 'MC_' + rg)}"
            f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool",
            "clientId": _guid("kubelet-client", rg, name),
            "objectId": _guid("kubelet-object", rg, name),
        }
    }
    return out


def _identity_map(identity: Any) -> dict[str, Any]:
    """A resource's ``identity`` as the provider returns it: the user-assigned identity ids the
    program sends as a list come back as a map from id to principal/client ids."""
    identity = identity or {}
    ids = identity.get("userAssignedIdentities") or []
    return {
        "type": identity.get("type", "None"),
        "userAssignedIdentities": {
            i: {"principalId": _guid("principal", i), "clientId": _guid("client", i)} for i in ids
        },
    }


def _compute(key: str):
    """Virtual machines and scale sets: their Azure name and the identity map."""

    def outputs(args) -> dict[str, Any]:
        out: dict[str, Any] = {"name": args.inputs.get(key) or args.name}
        if "identity" in args.inputs:
            out["identity"] = _identity_map(args.inputs["identity"])
        return out

    return outputs


def _load_balancer(args) -> dict[str, Any]:
    # Dynamic private frontends get an address from the subnet at creation; the plan cannot know
    # the subnet's range from its id, so it hands out documentation addresses (RFC 5737
    # 192.0.2.0/24), derived from the load balancer's and the frontend's names.
    name = args.inputs.get("loadBalancerName") or args.name
    frontends = []
    for fe in args.inputs.get("frontendIPConfigurations") or []:
        fe = dict(fe)
        if fe.get("subnet") is not None and not fe.get("privateIPAddress"):
            key = f"{name}/{fe.get('name', '')}"
            fe["privateIPAddress"] = f"192.0.2.{zlib.crc32(key.encode()) % 254 + 1}"
        frontends.append(fe)
    return {"name": name, "frontendIPConfigurations": frontends}


OUTPUTS = {
    "azure-native:resources:ResourceGroup": _named("resourceGroupName"),
    "azure-native:network:VirtualNetwork": _named("virtualNetworkName"),
    "azure-native:network:Subnet": _named("subnetName"),
    "azure-native:network:NetworkSecurityGroup": _named("networkSecurityGroupName"),
    "azure-native:network:NatGateway": _named("natGatewayName"),
    "azure-native:network:PublicIPAddress": _public_ip,
    "azure-native:managedidentity:UserAssignedIdentity": _identity,
    "azure-native:keyvault:Vault": _vault,
    "azure-native:keyvault:Key": _key,
    "azure-native:operationalinsights:Workspace": _workspace,
    "azure-native:containerservice:ManagedCluster": _managed_cluster,
    "azure-native:containerservice:AgentPool": _named("agentPoolName"),
    "azure-native:network:LoadBalancer": _load_balancer,
    "azure-native:network:NetworkInterface": _named("networkInterfaceName"),
    "azure-native:compute:VirtualMachine": _compute("vmName"),
    "azure-native:compute:VirtualMachineScaleSet": _compute("vmScaleSetName"),
    "azure-native:monitor:AutoscaleSetting": _named("autoscaleSettingName"),
}


def _client_config(_args) -> dict[str, Any]:
    return {
        "clientId": PLAN_DEPLOYER_CLIENT_ID,
        "objectId": PLAN_DEPLOYER_OBJECT_ID,
        "subscriptionId": PLAN_SUBSCRIPTION_ID,
        "tenantId": PLAN_TENANT_ID,
    }


def plan_ca_data(resource_group: str, cluster: str) -> str:
    """The canned cluster CA (base64 of a PEM-shaped block that is not a certificate)."""
    body = base64.b64encode(f"fleetform offline plan CA {resource_group}/{cluster} {_h('ca', resource_group, cluster, n=32)}".encode()).decode()
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


def _user_credentials(args) -> dict[str, Any]:
    # What listClusterUserCredential returns for an Entra ID cluster without local accounts: a
    # kubeconfig with the CA and an exec stanza, no credential.
    rg = args.args.get("resourceGroupName", "")
    cluster = args.args.get("resourceName", "")
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": f"https://{cluster}-{_h('fqdn', rg, cluster)}.plan.invalid:443",
                    "certificate-authority-data": plan_ca_data(rg, cluster),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": f"clusterUser_{rg}_{cluster}"}}],
        "current-context": cluster,
        "users": [
            {
                "name": f"clusterUser_{rg}_{cluster}",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "kubelogin",
                        "args": ["get-token", "--login", "devicecode", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630"],
                    }
                },
            }
        ],
    }
    value = base64.b64encode(json.dumps(kubeconfig).encode()).decode()
    return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}


INVOKES = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:containerservice:listManagedClusterUserCredentials": _user_credentials,
}
