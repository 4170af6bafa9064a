"""Rules over cloud resources (AWS, GCP, Azure), in the providers' camelCase property names."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..versions import offered
from .base import Rule, StackResource, dig, is_open, items, port_in, port_range_includes

EKS = "aws:eks/cluster:Cluster"
EKS_NODEGROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
SUBNET = "aws:ec2/subnet:Subnet"
SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LB_LISTENER = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
GKE = "gcp:container/cluster:Cluster"
GKE_POOL = "gcp:container/nodePool:NodePool"
GCE_INSTANCE = ("gcp:compute/instance:Instance", "gcp:compute/instanceTemplate:InstanceTemplate",
                "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")
FIREWALL = "gcp:compute/firewall:Firewall"
GCP_HTTP_PROXY = "gcp:compute/targetHttpProxy:TargetHttpProxy"
AKS = "azure-native:containerservice:ManagedCluster"
AKS_POOL = "azure-native:containerservice:AgentPool"
NSG = "azure-native:network:NetworkSecurityGroup"
NSG_RULE = "azure-native:network:SecurityRule"
AZURE_NIC = "azure-native:network:NetworkInterface"
AZURE_VM = "azure-native:compute:VirtualMachine"
AZURE_VMSS = "azure-native:compute:VirtualMachineScaleSet"
DIAGNOSTIC_SETTING = ("azure-native:monitor:DiagnosticSetting",
                      # azure-native v1/v2 token; v3 registers monitor:DiagnosticSetting with this as an alias.
                      "azure-native:insights:DiagnosticSetting")

SUPPORTED_VERSIONS = offered("eks")
"""The minors EKS offers a new cluster (fleetform_policies/kubernetes_versions.json, shared with the config)."""


def _cidrs_outside(cidrs: Iterable[Any], allowed: Sequence[str]) -> list[str]:
    """CIDRs that are open to all, or not inside one of ``allowed``."""
    bad = []
    nets = [ipaddress.ip_network(a, strict=False) for a in allowed]
    for cidr in cidrs:
        text = str(cidr)
        if is_open(text):
            bad.append(text)
            continue
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            bad.append(text)
            continue
        if nets and not any(net.version == a.version and net.subnet_of(a) for a in nets):  # type: ignore[arg-type]
            bad.append(text)
    return bad


# ---------------------------------------------------------------------- network


def _api_endpoint(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    allowed = list(c["allowedPublicCidrs"])
    if t == EKS:
        if dig(p, "vpcConfig", "endpointPublicAccess", default=True) is not False:
            cidrs = items(dig(p, "vpcConfig", "publicAccessCidrs")) or ["0.0.0.0/0"]
            for bad in _cidrs_outside(cidrs, allowed):
                yield f"EKS API endpoint is public to {bad}"
        if dig(p, "vpcConfig", "endpointPrivateAccess") is not True:
            yield "EKS API endpoint has no private access"
    elif t == GKE:
        # The IP endpoint is private (enablePrivateEndpoint) or off altogether
        # (controlPlaneEndpointsConfig.ipEndpointsConfig.enabled, "Defaults to true").
        ip_public = (dig(p, "privateClusterConfig", "enablePrivateEndpoint") is not True
                     and dig(p, "controlPlaneEndpointsConfig", "ipEndpointsConfig", "enabled") is not False)
        if ip_public:
            networks = items(dig(p, "masterAuthorizedNetworksConfig", "cidrBlocks"))
            if dig(p, "masterAuthorizedNetworksConfig") is None:
                yield "GKE API endpoint is public with no authorized networks"
            for bad in _cidrs_outside([dig(n, "cidrBlock") for n in networks], allowed):
                yield f"GKE API endpoint is public to {bad}"
            if dig(p, "masterAuthorizedNetworksConfig", "gcpPublicCidrsAccessEnabled") is True:
                yield "GKE API endpoint is open to every Google Cloud public IP (gcpPublicCidrsAccessEnabled)"
        # The DNS-based endpoint: reachable from the internet when allowExternalTraffic is true,
        # whatever the authorized networks say.
        if dig(p, "controlPlaneEndpointsConfig", "dnsEndpointConfig", "allowExternalTraffic") is True:
            yield "GKE DNS endpoint accepts traffic from the internet (dnsEndpointConfig.allowExternalTraffic)"
    elif t == AKS:
        if dig(p, "apiServerAccessProfile", "enablePrivateCluster") is not True:
            ranges = items(dig(p, "apiServerAccessProfile", "authorizedIPRanges"))
            if not ranges:
                yield "AKS API server is public with no authorized IP ranges"
            for bad in _cidrs_outside(ranges, allowed):
                yield f"AKS API server is public to {bad}"


def _private_nodes(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == LAUNCH_TEMPLATE:
        for i, nic in enumerate(items(dig(p, "networkInterfaces"))):
            if str(dig(nic, "associatePublicIpAddress", default="false")).lower() == "true":
                yield f"launch template networkInterfaces[{i}] associates a public IP"
    elif t == EC2_INSTANCE:
        if dig(p, "associatePublicIpAddress") is True:
            yield "instance has a public IP"
    elif t == SUBNET:
        if dig(p, "mapPublicIpOnLaunch") is True:
            yield "subnet gives instances public IPs on launch (mapPublicIpOnLaunch)"
    elif t == GKE:
        if dig(p, "privateClusterConfig", "enablePrivateNodes") is not True:
            yield "GKE nodes are not private (privateClusterConfig.enablePrivateNodes)"
    elif t == GKE_POOL:
        if dig(p, "networkConfig", "enablePrivateNodes") is False:
            yield "GKE node pool opts out of private nodes"
    elif t in GCE_INSTANCE:
        for i, nic in enumerate(items(dig(p, "networkInterfaces"))):
            if items(dig(nic, "accessConfigs")):
                yield f"networkInterfaces[{i}] has an external IP (accessConfigs)"
    elif t == AKS:
        for pool in items(dig(p, "agentPoolProfiles")):
            if dig(pool, "enableNodePublicIP") is True:
                yield f"AKS pool {dig(pool, 'name')!r} gives nodes public IPs"
    elif t == AKS_POOL:
        if dig(p, "enableNodePublicIP") is True:
            yield "AKS pool gives nodes public IPs"
    elif t == AZURE_NIC:
        for i, ipc in enumerate(items(dig(p, "ipConfigurations"))):
            if dig(ipc, "publicIPAddress") is not None:
                yield f"network interface ipConfigurations[{i}] has a public IP"
    elif t in (AZURE_VM, AZURE_VMSS):
        # A VM's NICs are usually separate NetworkInterface resources (networkInterfaces, ids);
        # inline networkInterfaceConfigurations (a VM with networkApiVersion, every scale set)
        # get a public IP per instance from publicIPAddressConfiguration.
        profile = dig(p, "networkProfile") if t == AZURE_VM else dig(p, "virtualMachineProfile", "networkProfile")
        what = "VM" if t == AZURE_VM else "scale set"
        for i, nic in enumerate(items(dig(profile, "networkInterfaceConfigurations"))):
            for j, ipc in enumerate(items(dig(nic, "ipConfigurations"))):
                if dig(ipc, "publicIPAddressConfiguration") is not None:
                    yield (f"{what} NIC networkInterfaceConfigurations[{i}].ipConfigurations[{j}] has a public IP "
                           "(publicIPAddressConfiguration)")


def _admin_ports(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    ports = [int(x) for x in c["adminPorts"]]

    def open_rules(rules):
        for rule in rules:
            cidrs = [*items(dig(rule, "cidrBlocks")), *items(dig(rule, "ipv6CidrBlocks"))]
            for single in ("cidrIpv4", "cidrIpv6"):
                if dig(rule, single) is not None:
                    cidrs.append(dig(rule, single))
            if not any(is_open(x) for x in cidrs):
                continue
            proto = str(dig(rule, "protocol", default=dig(rule, "ipProtocol", default="tcp"))).lower()
            if proto not in ("tcp", "6", "-1", "all"):
                continue
            for port in ports:
                if port_in(port, dig(rule, "fromPort", default=-1), dig(rule, "toPort", default=-1)):
                    yield f"port {port} is open to the internet"

    if t in (SG, DEFAULT_SG):
        yield from open_rules(items(dig(p, "ingress")))
    elif t == SG_RULE and dig(p, "type") == "ingress":
        yield from open_rules([p])
    elif t == SG_INGRESS:
        yield from open_rules([p])
    elif t == EKS_NODEGROUP:
        remote = dig(p, "remoteAccess")
        if remote is not None and not items(dig(remote, "sourceSecurityGroupIds")):
            yield "node group SSH (remoteAccess) is open to the internet (no sourceSecurityGroupIds)"
    elif t == FIREWALL:
        if dig(p, "direction", default="INGRESS") != "INGRESS" or dig(p, "disabled") is True:
            return
        if not any(is_open(r) for r in items(dig(p, "sourceRanges"))):
            return
        for allow in items(dig(p, "allows")):
            proto = str(dig(allow, "protocol", default="")).lower()
            if proto not in ("tcp", "6", "all"):
                continue
            spec = items(dig(allow, "ports")) or ["*"]
            for port in ports:
                if port_range_includes(spec, port):
                    yield f"port {port} is open to the internet"
    elif t in (NSG, NSG_RULE):
        rules = items(dig(p, "securityRules")) if t == NSG else [p]
        for rule in rules:
            if dig(rule, "direction") != "Inbound" or dig(rule, "access") != "Allow":
                continue
            sources = [dig(rule, "sourceAddressPrefix"), *items(dig(rule, "sourceAddressPrefixes"))]
            if not any(is_open(s) for s in sources if s is not None):
                continue
            spec = [x for x in [dig(rule, "destinationPortRange"), *items(dig(rule, "destinationPortRanges"))] if x]
            for port in ports:
                if port_range_includes(spec or ["*"], port):
                    yield f"rule {dig(rule, 'name')!r}: port {port} is open to the internet"


def _network_policy_on(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == GKE:
        if dig(p, "datapathProvider") != "ADVANCED_DATAPATH" and dig(p, "networkPolicy", "enabled") is not True:
            yield "GKE enforces no NetworkPolicy (enable Dataplane V2 or networkPolicy)"
    elif t == AKS:
        if dig(p, "networkProfile", "networkPolicy") in (None, "none"):
            yield "AKS enforces no NetworkPolicy (networkProfile.networkPolicy)"


# ELB security policies whose lowest protocol is TLS 1.2 (the name gives the range: TLS13-1-0 is
# TLS 1.0 to 1.3, FS-1-2 is TLS 1.2 only); the prefixes checkov CKV_AWS_103 accepts.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
TLS12_POLICY_PREFIXES = ("ELBSecurityPolicy-TLS13-1-2", "ELBSecurityPolicy-TLS13-1-3", "ELBSecurityPolicy-TLS-1-2",
                         "ELBSecurityPolicy-FS-1-2")


def _tls(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t in LB_LISTENER:
        proto = str(dig(p, "protocol", default="")).upper()
        if proto == "HTTP":
            to_https = any(
                dig(a, "type") == "redirect" and str(dig(a, "redirect", "protocol", default="")).upper() == "HTTPS"
                for a in items(dig(p, "defaultActions"))
            )
            if not to_https:
                yield "load balancer listener terminates plain HTTP"
        if proto in ("HTTPS", "TLS") and not str(dig(p, "sslPolicy", default="")).startswith(TLS12_POLICY_PREFIXES):
            yield f"listener TLS policy {dig(p, 'sslPolicy')!r} allows TLS older than 1.2"
    elif t == GCP_HTTP_PROXY:
        yield "HTTP proxy terminates plain HTTP (use a target HTTPS proxy)"


# ---------------------------------------------------------------------- encryption


def _secrets_encryption(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == EKS:
        configs = items(dig(p, "encryptionConfig"))
        if not any("secrets" in [str(r) for r in items(dig(cfg, "resources"))] and dig(cfg, "provider", "keyArn")
                   for cfg in configs):
            yield "EKS secrets are not envelope-encrypted with a KMS key (encryptionConfig)"
    elif t == GKE:
        if dig(p, "databaseEncryption", "state") != "ENCRYPTED" or not dig(p, "databaseEncryption", "keyName"):
            yield "GKE secrets are not encrypted with a Cloud KMS key (databaseEncryption)"
    elif t == AKS:
        kms = dig(p, "securityProfile", "azureKeyVaultKms")
        if dig(kms, "enabled") is not True or not dig(kms, "keyId"):
            yield "AKS secrets are not encrypted with a Key Vault key (securityProfile.azureKeyVaultKms)"


def _disks(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == LAUNCH_TEMPLATE:
        mappings = items(dig(p, "blockDeviceMappings"))
        if not mappings:
            yield "launch template does not set an encrypted root volume"
        for m in mappings:
            ebs = dig(m, "ebs")
            if ebs is not None and str(dig(ebs, "encrypted", default="false")).lower() != "true":
                yield f"volume {dig(m, 'deviceName')!r} is not encrypted"
    elif t == EC2_INSTANCE:
        if dig(p, "rootBlockDevice", "encrypted") is not True:
            yield "instance root volume is not encrypted"
    elif t == AKS:
        for pool in items(dig(p, "agentPoolProfiles")):
            if dig(pool, "enableEncryptionAtHost") is not True:
                yield f"AKS pool {dig(pool, 'name')!r} does not encrypt at host (temp and cache disks unencrypted)"
    elif t == AKS_POOL:
        if dig(p, "enableEncryptionAtHost") is not True:
            yield "AKS pool does not encrypt at host (temp and cache disks unencrypted)"
    elif t == AZURE_VM:
        if dig(p, "securityProfile", "encryptionAtHost") is not True:
            yield "VM does not encrypt at host (securityProfile.encryptionAtHost; temp and cache disks unencrypted)"
    elif t == AZURE_VMSS:
        if dig(p, "virtualMachineProfile", "securityProfile", "encryptionAtHost") is not True:
            yield ("scale set does not encrypt at host (virtualMachineProfile.securityProfile.encryptionAtHost; "
                   "temp and cache disks unencrypted)")


# ---------------------------------------------------------------------- identity and audit


def _workload_identity(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == GKE:
        if not dig(p, "workloadIdentityConfig", "workloadPool"):
            yield "GKE Workload Identity is off (workloadIdentityConfig.workloadPool)"
    elif t == GKE_POOL:
        mode = dig(p, "nodeConfig", "workloadMetadataConfig", "mode")
        if mode != "GKE_METADATA":
            yield f"node pool exposes the node's metadata to pods (workloadMetadataConfig.mode {mode})"
    elif t == AKS:
        if dig(p, "securityProfile", "workloadIdentity", "enabled") is not True:
            yield "AKS workload identity is off"
        if dig(p, "oidcIssuerProfile", "enabled") is not True:
            yield "AKS OIDC issuer is off"


def _eks_oidc(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    has_oidc = any(r.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider" for r in resources)
    for r in resources:
        if r.type == EKS and not has_oidc:
            yield r.urn, "EKS cluster has no IAM OIDC provider: IRSA (workload identity) is off"


def _default_sa(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t in (GKE, GKE_POOL):
        sa = dig(p, "nodeConfig", "serviceAccount")
        if t == GKE and dig(p, "removeDefaultNodePool") is True:
            return
        if sa is None or str(sa) == "default" or str(sa).endswith("-compute@developer.gserviceaccount.com"):
            yield "nodes run as the default compute service account"
    elif t in GCE_INSTANCE:
        for acct in items(dig(p, "serviceAccount")):
            email = str(dig(acct, "email", default="default"))
            if email == "default" or email.endswith("-compute@developer.gserviceaccount.com"):
                yield "instance runs as the default compute service account"


def _legacy_auth(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == GKE:
        if dig(p, "enableLegacyAbac") is True:
            yield "GKE legacy ABAC is on"
        if dig(p, "masterAuth", "clientCertificateConfig", "issueClientCertificate") is True:
            yield "GKE issues a client certificate (legacy auth)"
    elif t == AKS:
        if dig(p, "enableRBAC") is not True:
            yield "AKS Kubernetes RBAC is off"
        if dig(p, "disableLocalAccounts") is not True:
            yield "AKS local accounts are enabled"
        if dig(p, "aadProfile", "managed") is not True:
            yield "AKS has no Entra ID (AAD) integration"


def _imdsv2(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if dig(p, "metadataOptions", "httpEndpoint") == "disabled":
        return  # no instance metadata service at all
    if dig(p, "metadataOptions", "httpTokens") != "required":
        yield "IMDSv2 is not required (metadataOptions.httpTokens)"


def _audit_logs(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    if t == EKS:
        enabled = {str(x) for x in items(dig(p, "enabledClusterLogTypes"))}
        missing = [x for x in c["eksLogTypes"] if x not in enabled]
        if missing:
            yield f"EKS control-plane logs off: {', '.join(missing)}"
    elif t == GKE:
        components = {str(x) for x in items(dig(p, "loggingConfig", "enableComponents"))}
        if dig(p, "loggingService") == "none" or (components and "APISERVER" not in components):
            yield "GKE API server logs are off"


def _aks_audit(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    audited = False
    for r in resources:
        if r.type in DIAGNOSTIC_SETTING:
            cats = {str(dig(log, "category", default=dig(log, "categoryGroup"))) for log in items(dig(r.props, "logs"))
                    if dig(log, "enabled") is not False}
            audited = audited or bool(cats & {"kube-audit", "kube-audit-admin", "audit", "allLogs"})
    for r in resources:
        if r.type == AKS and not audited:
            yield r.urn, "AKS control-plane audit logs are not collected (no diagnostic setting with kube-audit)"


# ---------------------------------------------------------------------- lifecycle


def _lifecycle(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == EKS:
        version = dig(p, "version")
        if version is None:
            yield "EKS version is not pinned"
        elif str(version) not in SUPPORTED_VERSIONS:
            yield f"EKS version {version} is not supported ({', '.join(SUPPORTED_VERSIONS)})"
    elif t == GKE:
        if dig(p, "releaseChannel", "channel") in (None, "UNSPECIFIED"):
            yield "GKE has no release channel"
    elif t == GKE_POOL:
        if dig(p, "management", "autoRepair") is not True:
            yield "GKE node auto-repair is off"
        if dig(p, "management", "autoUpgrade") is not True:
            yield "GKE node auto-upgrade is off"
    elif t == AKS:
        if dig(p, "autoUpgradeProfile", "upgradeChannel") in (None, "none"):
            yield "AKS has no upgrade channel"


ADMIN_PORTS = {"type": "array", "default": [22, 3389], "description": "Ports never open to 0.0.0.0/0."}

RULES = [
    Rule("api-endpoint-private", "The Kubernetes API endpoint is private, or public only to allowed CIDRs.", "high",
         "CIS EKS 5.4.1/5.4.2, GKE 5.6.3; checkov CKV_AWS_38, CKV_AWS_39, CKV_GCP_20, CKV_AZURE_6", "mandatory",
         _api_endpoint, types=(EKS, GKE, AKS),
         config={"allowedPublicCidrs": {"type": "array", "default": [],
                                        "description": "CIDRs a public endpoint may be open to (empty: any but 0.0.0.0/0)."}}),
    Rule("private-nodes", "Nodes have no public IPs.", "high", "CIS EKS 5.4.3, GKE 5.6.5; checkov CKV_AWS_88, CKV_AWS_130, CKV_AZURE_119",
         "mandatory", _private_nodes, types=(LAUNCH_TEMPLATE, EC2_INSTANCE, SUBNET, GKE, GKE_POOL, *GCE_INSTANCE, AKS, AKS_POOL,
                                             AZURE_NIC, AZURE_VM, AZURE_VMSS)),
    Rule("no-admin-ports-from-internet", "No SSH or RDP (or other adminPorts) open to 0.0.0.0/0.", "critical",
         "checkov CKV_AWS_24, CKV_AWS_25, CKV_AWS_100, CKV_GCP_2, CKV_GCP_3, CKV_AZURE_9, CKV_AZURE_10", "mandatory",
         _admin_ports, types=(SG, DEFAULT_SG, SG_RULE, SG_INGRESS, EKS_NODEGROUP, FIREWALL, NSG, NSG_RULE),
         config={"adminPorts": ADMIN_PORTS}),
    Rule("network-policy-enforced", "The cluster enforces Kubernetes NetworkPolicy.", "medium",
         "checkov CKV_GCP_12, CKV_AZURE_7", "mandatory", _network_policy_on, types=(GKE, AKS)),
    Rule("tls-where-terminated", "Where a fleetform load balancer terminates traffic, it uses TLS 1.2+.", "medium",
         "checkov CKV_AWS_2, CKV_AWS_103", "mandatory", _tls, types=(*LB_LISTENER, GCP_HTTP_PROXY)),
    Rule("secrets-envelope-encryption", "Kubernetes secrets are envelope-encrypted with a key the stack owns.", "high",
         "CIS EKS 5.3.1, GKE 5.3.1; checkov CKV_AWS_58", "mandatory", _secrets_encryption,
         types=(EKS, GKE, AKS)),
    Rule("node-disks-encrypted", "Node disks are encrypted.", "high", "checkov CKV_AWS_8, CKV_AWS_3, CKV_AZURE_227, CKV_AZURE_97",
         "mandatory", _disks, types=(LAUNCH_TEMPLATE, EC2_INSTANCE, AKS, AKS_POOL, AZURE_VM, AZURE_VMSS)),
    Rule("workload-identity", "Pods get cloud identities through workload identity, not node credentials.", "high",
         "CIS GKE 5.2.2, EKS 5.2.1 (IRSA); checkov CKV_GCP_69", "mandatory", _workload_identity, types=(GKE, GKE_POOL, AKS)),
    Rule("eks-irsa", "Every EKS cluster has an IAM OIDC provider (IRSA).", "high", "CIS EKS 5.2.1", "mandatory",
         stack_check=_eks_oidc, types=(EKS,)),
    Rule("no-default-compute-sa", "Nodes never run as the default compute service account.", "high",
         "CIS GKE 5.2.1; checkov CKV_GCP_30", "mandatory", _default_sa, types=(GKE, GKE_POOL, *GCE_INSTANCE)),
    Rule("no-legacy-auth", "RBAC only: no legacy ABAC, basic auth, client certificates or local admin accounts.",
         "high", "checkov CKV_GCP_7, CKV_GCP_13, CKV_AZURE_5, CKV_AZURE_141", "mandatory", _legacy_auth, types=(GKE, AKS)),
    Rule("imdsv2-required", "EC2 instance metadata requires IMDSv2 tokens.", "high", "checkov CKV_AWS_79", "mandatory",
         _imdsv2, types=(LAUNCH_TEMPLATE, EC2_INSTANCE)),
    Rule("control-plane-audit-logs", "Control-plane (API and audit) logs are on.", "medium",
         "checkov CKV_AWS_37, CKV_GCP_1", "mandatory", _audit_logs, types=(EKS, GKE),
         config={"eksLogTypes": {"type": "array", "default": ["api", "audit", "authenticator"],
                                 "description": "EKS log types that must be enabled."}}),
    Rule("aks-audit-logs", "AKS audit logs are collected by a diagnostic setting.", "medium", "checkov CKV_AZURE_4",
         "mandatory", stack_check=_aks_audit, types=(AKS,)),
    Rule("cluster-lifecycle", "A supported, pinned Kubernetes version with a release/upgrade channel and node "
         "auto-repair where the cloud has them.", "medium", "checkov CKV_GCP_9, CKV_GCP_10; CIS GKE 5.5.2/5.5.3",
         "mandatory", _lifecycle, types=(EKS, GKE, GKE_POOL, AKS)),
]
