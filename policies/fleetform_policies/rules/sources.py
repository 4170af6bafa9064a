"""Where the checks a rule's ``source`` names live, as URLs (checked against each project's
sources on 2026-12-02: bridgecrewio/checkov, stackrox/kube-linter, zegl/kube-score,
FairwindsOps/polaris). A rule names checks by id; :func:`urls_in` turns those ids into links, and a
test fails when a rule names a check this table does not know."""

from __future__ import annotations

import re

CHECKOV = "https://github.com/bridgecrewio/checkov/blob/main/"
CHECKOV_CHECKS: dict[str, str] = {
    "CKV_AWS_2": "checkov/terraform/checks/resource/aws/ALBListenerHTTPS.py",
    "CKV_AWS_3": "checkov/terraform/checks/resource/aws/EBSEncryption.py",
    "CKV_AWS_7": "checkov/terraform/checks/resource/aws/KMSRotation.py",
    "CKV_AWS_8": "checkov/terraform/checks/resource/aws/LaunchConfigurationEBSEncryption.py",
    "CKV_AWS_24": "checkov/terraform/checks/resource/aws/SecurityGroupUnrestrictedIngress22.py",
    "CKV_AWS_25": "checkov/terraform/checks/resource/aws/SecurityGroupUnrestrictedIngress3389.py",
    "CKV_AWS_37": "checkov/terraform/checks/resource/aws/EKSControlPlaneLogging.py",
    "CKV_AWS_38": "checkov/terraform/checks/resource/aws/EKSPublicAccessCIDR.py",
    "CKV_AWS_58": "checkov/terraform/checks/resource/aws/EKSSecretsEncryption.py",
    "CKV_AWS_62": "checkov/terraform/checks/resource/aws/IAMAdminPolicyDocument.py",
    "CKV_AWS_63": "checkov/terraform/checks/resource/aws/IAMStarActionPolicyDocument.py",
    "CKV_AWS_79": "checkov/terraform/checks/resource/aws/IMDSv1Disabled.py",
    "CKV_AWS_88": "checkov/terraform/checks/resource/aws/EC2PublicIP.py",
    "CKV_AWS_91": "checkov/terraform/checks/resource/aws/ELBv2AccessLogs.py",
    "CKV_AWS_100": "checkov/terraform/checks/resource/aws/EKSNodeGroupRemoteAccess.py",
    "CKV_AWS_103": "checkov/terraform/checks/graph_checks/aws/AppLoadBalancerTLS12.yaml",
    "CKV_AWS_130": "checkov/terraform/checks/resource/aws/SubnetPublicIP.py",
    "CKV_AWS_158": "checkov/terraform/checks/resource/aws/CloudWatchLogGroupKMSKey.py",
    "CKV_AWS_274": "checkov/terraform/checks/resource/aws/IAMManagedAdminPolicy.py",
    "CKV_AWS_338": "checkov/terraform/checks/resource/aws/CloudWatchLogGroupRetentionYear.py",
    "CKV_AWS_341": "checkov/terraform/checks/resource/aws/LaunchTemplateMetadataHop.py",
    "CKV_AWS_355": "checkov/terraform/checks/resource/aws/IAMStarResourcePolicyDocument.py",
    "CKV_AZURE_5": "checkov/terraform/checks/resource/azure/AKSRbacEnabled.py",
    "CKV_AZURE_6": "checkov/terraform/checks/resource/azure/AKSApiServerAuthorizedIpRanges.py",
    "CKV_AZURE_7": "checkov/terraform/checks/resource/azure/AKSNetworkPolicy.py",
    "CKV_AZURE_9": "checkov/terraform/checks/resource/azure/NSGRuleRDPAccessRestricted.py",
    "CKV_AZURE_10": "checkov/terraform/checks/resource/azure/NSGRuleSSHAccessRestricted.py",
    "CKV_AZURE_42": "checkov/terraform/checks/resource/azure/KeyvaultRecoveryEnabled.py",
    "CKV_AZURE_97": "checkov/terraform/checks/resource/azure/VMEncryptionAtHostEnabled.py",
    "CKV_AZURE_109": "checkov/terraform/checks/resource/azure/KeyVaultEnablesFirewallRulesSettings.py",
    "CKV_AZURE_110": "checkov/terraform/checks/resource/azure/KeyVaultEnablesPurgeProtection.py",
    "CKV_AZURE_111": "checkov/terraform/checks/resource/azure/KeyVaultEnablesSoftDelete.py",
    "CKV_AZURE_112": "checkov/terraform/checks/resource/azure/KeyBackedByHSM.py",
    "CKV_AZURE_119": "checkov/terraform/checks/graph_checks/azure/AzureNetworkInterfacePublicIPAddressId.yaml",
    "CKV_AZURE_141": "checkov/terraform/checks/resource/azure/AKSLocalAdminDisabled.py",
    "CKV_AZURE_189": "checkov/terraform/checks/resource/azure/KeyVaultDisablesPublicNetworkAccess.py",
    "CKV_AZURE_227": "checkov/terraform/checks/resource/azure/AKSEncryptionAtHostEnabled.py",
    "CKV_GCP_1": "checkov/terraform/checks/resource/gcp/GKEClusterLogging.py",
    "CKV_GCP_2": "checkov/terraform/checks/resource/gcp/GoogleComputeFirewallUnrestrictedIngress22.py",
    "CKV_GCP_3": "checkov/terraform/checks/resource/gcp/GoogleComputeFirewallUnrestrictedIngress3389.py",
    "CKV_GCP_4": "checkov/terraform/checks/resource/gcp/GoogleComputeSSLPolicy.py",
    "CKV_GCP_7": "checkov/terraform/checks/resource/gcp/GKEDisableLegacyAuth.py",
    "CKV_GCP_9": "checkov/terraform/checks/resource/gcp/GKENodePoolAutoRepairEnabled.py",
    "CKV_GCP_10": "checkov/terraform/checks/resource/gcp/GKENodePoolAutoUpgradeEnabled.py",
    "CKV_GCP_12": "checkov/terraform/checks/resource/gcp/GKENetworkPolicyEnabled.py",
    "CKV_GCP_13": "checkov/terraform/checks/resource/gcp/GKEClientCertificateDisabled.py",
    "CKV_GCP_20": "checkov/terraform/checks/resource/gcp/GKEMasterAuthorizedNetworksEnabled.py",
    "CKV_GCP_26": "checkov/terraform/checks/resource/gcp/GoogleSubnetworkLoggingEnabled.py",
    "CKV_GCP_30": "checkov/terraform/checks/resource/gcp/GoogleComputeDefaultServiceAccount.py",
    "CKV_GCP_32": "checkov/terraform/checks/resource/gcp/GoogleComputeBlockProjectSSH.py",
    "CKV_GCP_35": "checkov/terraform/checks/resource/gcp/GoogleComputeSerialPorts.py",
    "CKV_GCP_39": "checkov/terraform/checks/resource/gcp/GoogleComputeShieldedVM.py",
    "CKV_GCP_41": "checkov/terraform/checks/resource/gcp/GoogleRoleServiceAccountUser.py",
    "CKV_GCP_43": "checkov/terraform/checks/resource/gcp/GoogleKMSRotationPeriod.py",
    "CKV_GCP_68": "checkov/terraform/checks/resource/gcp/GKESecureBootforShieldedNodes.py",
    "CKV_GCP_69": "checkov/terraform/checks/resource/gcp/GKEMetadataServerIsEnabled.py",
    "CKV_GCP_71": "checkov/terraform/checks/resource/gcp/GKEEnableShieldedNodes.py",
    "CKV_GCP_72": "checkov/terraform/checks/resource/gcp/GKEEnsureIntegrityMonitoring.py",
    "CKV_GCP_117": "checkov/terraform/checks/resource/gcp/GoogleProjectBasicRole.py",
    "CKV_K8S_8": "checkov/kubernetes/checks/resource/k8s/LivenessProbe.py",
    "CKV_K8S_9": "checkov/kubernetes/checks/resource/k8s/ReadinessProbe.py",
    "CKV_K8S_10": "checkov/kubernetes/checks/resource/k8s/CPURequests.py",
    "CKV_K8S_11": "checkov/kubernetes/checks/resource/k8s/CPULimits.py",
    "CKV_K8S_12": "checkov/kubernetes/checks/resource/k8s/MemoryRequests.py",
    "CKV_K8S_13": "checkov/kubernetes/checks/resource/k8s/MemoryLimits.py",
    "CKV_K8S_14": "checkov/kubernetes/checks/resource/k8s/ImageTagFixed.py",
    "CKV_K8S_16": "checkov/kubernetes/checks/resource/k8s/PrivilegedContainers.py",
    "CKV_K8S_17": "checkov/kubernetes/checks/resource/k8s/ShareHostPID.py",
    "CKV_K8S_18": "checkov/kubernetes/checks/resource/k8s/ShareHostIPC.py",
    "CKV_K8S_19": "checkov/kubernetes/checks/resource/k8s/SharedHostNetworkNamespace.py",
    "CKV_K8S_20": "checkov/kubernetes/checks/resource/k8s/AllowPrivilegeEscalation.py",
    "CKV_K8S_21": "checkov/kubernetes/checks/resource/k8s/DefaultNamespace.py",
    "CKV_K8S_22": "checkov/kubernetes/checks/resource/k8s/ReadOnlyFilesystem.py",
    "CKV_K8S_23": "checkov/kubernetes/checks/resource/k8s/RootContainers.py",
    "CKV_K8S_26": "checkov/kubernetes/checks/resource/k8s/HostPort.py",
    "CKV_K8S_27": "checkov/kubernetes/checks/resource/k8s/DockerSocketVolume.py",
    "CKV_K8S_28": "checkov/kubernetes/checks/resource/k8s/DropCapabilities.py",
    "CKV_K8S_31": "checkov/kubernetes/checks/resource/k8s/Seccomp.py",
    "CKV_K8S_35": "checkov/kubernetes/checks/resource/k8s/Secrets.py",
    "CKV_K8S_37": "checkov/kubernetes/checks/resource/k8s/MinimizeCapabilities.py",
    "CKV_K8S_38": "checkov/kubernetes/checks/resource/k8s/ServiceAccountTokens.py",
    "CKV_K8S_40": "checkov/kubernetes/checks/resource/k8s/RootContainersHighUID.py",
    "CKV_K8S_41": "checkov/kubernetes/checks/resource/k8s/DefaultServiceAccount.py",
    "CKV_K8S_42": "checkov/kubernetes/checks/resource/k8s/DefaultServiceAccountBinding.py",
    "CKV_K8S_43": "checkov/kubernetes/checks/resource/k8s/ImageDigest.py",
    "CKV_K8S_49": "checkov/kubernetes/checks/resource/k8s/WildcardRoles.py",
    "CKV_K8S_157": "checkov/kubernetes/checks/resource/k8s/RbacBindRoleBindings.py",
    "CKV_K8S_158": "checkov/kubernetes/checks/resource/k8s/RbacEscalateRoles.py",
    "CKV2_AWS_11": "checkov/terraform/checks/graph_checks/aws/VPCHasFlowLog.yaml",
}
"""checkov id -> the file that implements it."""

KUBE_LINTER = "https://github.com/stackrox/kube-linter/blob/main/pkg/builtinchecks/yamls/"
KUBE_LINTER_CHECKS: dict[str, str] = {
    "access-to-secrets": "access-to-secrets.yaml",
    "cluster-admin-role-binding": "cluster-admin-role-binding.yaml",
    "default-service-account": "default-service-account.yaml",
    "env-var-secret": "env-var-secret.yaml",
    "exposed-services": "servicetype.yaml",
    "host-network": "hostnetwork.yaml",
    "no-anti-affinity": "no-anti-affinity.yaml",
    "pdb-max-unavailable": "pdbs-max-unavailable.yaml",
    "pdb-min-available": "pdbs-min-available.yaml",
    "read-secret-from-env-var": "read-secret-from-env-var.yaml",
    "wildcard-in-rules": "wildcard-use-in-rules.yaml",
}

KUBE_SCORE = "https://github.com/zegl/kube-score/blob/master/"
KUBE_SCORE_CHECKS: dict[str, str] = {
    "deployment-has-poddisruptionbudget": "score/disruptionbudget/disruptionbudget.go",
    "deployment-replicas": "score/deployment/deployment.go",
    "pod-networkpolicy": "score/networkpolicy/networkpolicy.go",
    "pod-probes-identical": "score/probes/probes.go",
}

POLARIS = "https://github.com/FairwindsOps/polaris/blob/master/checks/"
POLARIS_CHECKS = ("deploymentMissingReplicas", "pdbDisruptionsIsZero", "topologySpreadConstraint")

_CHECKOV_ID = re.compile(r"\bCKV2?_[A-Z0-9]+_[0-9]+\b")
_TOOL = re.compile(r"\b(kube-linter|kube-score|Polaris) ([A-Za-z0-9, -]+?)(?=;|\(|$)")


def checks_in(source: str) -> list[tuple[str, str]]:
    """Every (tool, check) ``source`` names: ``checkov CKV_AWS_2``, ``kube-linter host-network, ...``."""
    found = [("checkov", m) for m in _CHECKOV_ID.findall(source)]
    for tool, names in _TOOL.findall(source):
        found += [(tool, n.strip()) for n in names.split(",") if n.strip()]
    return found


def url_of(tool: str, check: str) -> str:
    """The URL of one check; KeyError for a check the table does not know."""
    if tool == "checkov":
        return CHECKOV + CHECKOV_CHECKS[check]
    if tool == "kube-linter":
        return KUBE_LINTER + KUBE_LINTER_CHECKS[check]
    if tool == "kube-score":
        return KUBE_SCORE + KUBE_SCORE_CHECKS[check]
    if check not in POLARIS_CHECKS:
        raise KeyError(check)
    return f"{POLARIS}{check}.yaml"


def urls_in(source: str) -> list[str]:
    """The URLs of the checks ``source`` names, once each, in order."""
    urls: list[str] = []
    for tool, check in checks_in(source):
        url = url_of(tool, check)
        if url not in urls:
            urls.append(url)
    return urls
