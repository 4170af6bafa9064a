"""The Key Vault and key AKS encrypts Secrets with, against what AKS' KMS supports.

The pack's ``key-vault-private`` (CKV_AZURE_189, CKV_AZURE_109) and ``key-vault-key-protection``
(CKV_AZURE_112, rotation policy) findings on ``prod-azure`` and ``hybrid``: what a real AKS
without API Server VNet Integration allows is done (Premium vault, HSM-protected key), what it
does not is kept, each with the documentation's words next to the assertion.

Sources, fetched 2026-12-02:

- KMS (the generally available one, ``securityProfile.azureKeyVaultKms``):
  https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption (MicrosoftDocs/azure-aks-docs
  articles/aks/use-kms-etcd-encryption.md, ms.date 12/22/2025);
- KMS data encryption (preview, Kubernetes 1.33+): https://learn.microsoft.com/azure/aks/kms-data-encryption
  and https://learn.microsoft.com/azure/aks/kms-data-encryption-concepts;
- Key Vault: https://learn.microsoft.com/azure/key-vault/keys/about-keys,
  https://learn.microsoft.com/azure/key-vault/keys/about-keys-details,
  https://learn.microsoft.com/azure/key-vault/keys/how-to-configure-key-rotation,
  https://learn.microsoft.com/azure/key-vault/general/overview-vnet-service-endpoints;
- the KMS plugin AKS runs: https://github.com/Azure/kubernetes-kms.
"""

from __future__ import annotations

import pytest

from fleetform.plan.mocks import plain
from tests.conftest import one, planned, regs

VAULT = "azure-native:keyvault:Vault"
KEY = "azure-native:keyvault:Key"
MC = "azure-native:containerservice:ManagedCluster"
STACKS = {"prod-azure": "prod-azure", "hybrid": "hy-azure"}  # stack -> its AKS cluster


def inputs(reg):
    return plain(reg.inputs, mask=False)


@pytest.fixture(scope="module", params=sorted(STACKS))
def stack(request):
    return request.param, STACKS[request.param], planned(request.param)


def parts(stack):
    """The stack's vault and key registrations and the cluster's KMS settings."""
    _, cluster, result = stack
    vault = one(result, VAULT, f"{cluster}-kv")
    key = one(result, KEY, f"{cluster}-kms-key")
    return vault, key, inputs(one(result, MC))["securityProfile"]["azureKeyVaultKms"]


# ------------------------------------------------------------------------ done: HSM-protected key


def test_the_vault_is_premium_so_it_can_hold_hsm_keys(stack):
    vault, _, _ = parts(stack)
    # "HSM-protected keys (Key Vault Premium)"; vaults hold "Software-protected and HSM-protected
    # (HSM key types in Premium SKU)" (https://learn.microsoft.com/azure/key-vault/keys/about-keys).
    assert inputs(vault)["properties"]["sku"] == {"family": "A", "name": "premium"}


def test_the_kms_key_is_hsm_protected_rsa_for_encrypt_and_decrypt(stack):
    _, key, kms = parts(stack)
    props = inputs(key)["properties"]
    # RSA-HSM: "RSA key | 2048-bit, 3072-bit, 4096-bit" (about-keys, HSM-protected keys).
    assert props["kty"] == "RSA-HSM" and props["keySize"] in (2048, 3072, 4096)
    # AKS: "Ensure encrypt and decrypt key operations are enabled" (use-kms-etcd-encryption). The
    # plugin uses no other operation, and lists "Use a key in Key Vault protected by a Hardware
    # Security Module (HSM)" among its features (Azure/kubernetes-kms README); its KMS v2 algorithm,
    # RSA-OAEP-256 (pkg/plugin/kms_v2_server.go), is among those "supported with RSA and RSA-HSM
    # keys" (https://learn.microsoft.com/azure/key-vault/keys/about-keys-details).
    assert sorted(props["keyOps"]) == ["decrypt", "encrypt"]
    assert kms["enabled"] is True


def test_an_existing_key_keeps_its_type_and_size(stack):
    _, key, _ = parts(stack)
    # ARM's key PUT, Keys_CreateIfNotExist: "If it already exists, then the existing key is returned
    # without any write operations being performed. This API does not create subsequent versions, and
    # does not update existing keys" (azure-rest-api-specs, Microsoft.KeyVault stable/2024-11-01
    # keys.json), and it answers other creation parameters for an existing key with
    # "KeyCreationParametersDidNotMatchExistingKey" (Azure/bicep-types-az#1906). A stack whose key
    # was created as "RSA" must neither update nor replace it: "Deleting the key or the key vault
    # isn't supported and causes the secrets in the cluster to be unrecoverable" (KMS page).
    assert {"properties.kty", "properties.keySize"} <= set(key.ignore_changes or [])
    assert key.deleted_with  # still goes only with its vault (test_aks_first_deploy)


def test_vault_and_key_keep_their_urns(stack):
    name, cluster, result = stack
    vault, key, _ = parts(stack)
    # No rename, no re-parent: the same logical names under the same AksCluster.
    aks = f"urn:pulumi:{name}::fleetform::fleetform:index:Fleet$fleetform:cluster:AksCluster"
    assert vault.urn == f"{aks}${VAULT}::{cluster}-kv"
    assert key.urn == f"{aks}${KEY}::{cluster}-kms-key"
    assert vault.ignore_changes == ["vaultName"]  # an older vault keeps its name
    assert len(regs(result, VAULT)) == 1 and len(regs(result, KEY)) == 1


# ------------------------------------------------------------------------ kept: what AKS KMS needs


def test_the_vault_stays_reachable_by_the_kms_plugin(stack):
    vault, _, kms = parts(stack)
    props = inputs(vault)["properties"]
    # "Because the firewall blocks traffic from the KMS plugin to Key Vault, two scenarios aren't
    # supported. First, Azure Key Vault can't be configured with the firewall option Allow public
    # access from specific virtual networks and IP addresses. Second, Azure Key Vault can't be
    # configured with Disable public access unless API Server VNet Integration is enabled."
    # (use-kms-etcd-encryption, Limitations). defaultAction Deny with publicNetworkAccess Enabled
    # is the first, bypass or not: AKS is not in the trusted services table
    # (overview-vnet-service-endpoints#trusted-services).
    assert props["publicNetworkAccess"] == "Enabled"
    assert props["networkAcls"]["defaultAction"] == "Allow"
    # "Public means the key vault allows public access from all networks. Private means the key
    # vault disables public access and enables private link" (AzureKeyVaultKms.keyVaultNetworkAccess,
    # containerservice 2025-09-01), and "If a cluster has KMS turned on and has a private key vault,
    # it must use the API Server VNet Integration tunnel" (KMS page, Limitations), which fleetform's
    # clusters do not enable.
    assert kms["keyVaultNetworkAccess"] == "Public" and "keyVaultResourceId" not in kms
    access = inputs(one(stack[2], MC)).get("apiServerAccessProfile", {})
    assert not access.get("enableVnetIntegration")


def test_the_cluster_pins_one_key_version_so_the_key_has_no_rotation_policy(stack):
    vault, key, kms = parts(stack)
    # The cluster names one version: the versioned id of this key.
    prefix = f"https://{inputs(vault)['vaultName']}.vault.azure.net/keys/{inputs(key)['keyName']}/"
    assert kms["keyId"].startswith(prefix) and kms["keyId"] != prefix.rstrip("/")
    # Rotation under this KMS is a cluster update to the new keyId and then "Remember to update all
    # secrets after key rotation" (KMS page, Rotate existing keys); Key Vault's rotation "generates a
    # new key version" and "Target services should use versionless key URI to automatically refresh"
    # (how-to-configure-key-rotation). Only the preview KMS data encryption follows rotations ("the
    # KMS controller detects the rotation periodically (every 6 hours)", kms-data-encryption).
    assert "rotationPolicy" not in inputs(key)["properties"]


def test_the_vault_and_key_plan_clean(stack):
    """key-vault-private and key-vault-key-rotation exempt the vault and key an AKS cluster uses for
    KMS without API Server VNet Integration (the limitations quoted above); key-vault-key-protection
    holds the key to HSM, which it is."""
    result = stack[2]
    vault, key, _ = parts(stack)
    assert [(v.policy, v.message) for v in result.violations if v.urn in (vault.urn, key.urn)] == []
    assert result.undecided == []
