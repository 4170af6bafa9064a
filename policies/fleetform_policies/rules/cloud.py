"""Rules over cloud resources (AWS, GCP, Azure), in the providers' camelCase property names.

Where a provider fills in a value the program leaves out, the rule judges that default, never
"nothing to see": a listener without ``protocol`` is HTTP, a GCP firewall without a source is open
to 0.0.0.0/0, a GKE cluster without ``loggingConfig`` sends no API server logs. "The internet" is
address space (any CIDRs that together cover it, in any spelling), and Azure's enums and tags are
compared case-insensitively, as Azure reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from ..versions import TARGETS, offered, support_of
from .base import (
    Rule,
    StackResource,
    dig,
    internet_in,
    items,
    network,
    num,
    port_in,
    port_range_includes,
    truthy,
)

EKS = "aws:eks/cluster:Cluster"
EKS_NODEGROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_INSTANCE = "aws:ec2/instance:Instance"
EBS_VOLUME = "aws:ebs/volume:Volume"
SUBNET = "aws:ec2/subnet:Subnet"
VPC = "aws:ec2/vpc:Vpc"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"
SG = "aws:ec2/securityGroup:SecurityGroup"
DEFAULT_SG = "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LB_LISTENER = ("aws:lb/listener:Listener", "aws:alb/listener:Listener")
AWS_LB = ("aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer")
KMS_KEY = "aws:kms/key:Key"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
OIDC_PROVIDER = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"
IAM_POLICY_DOCS = ("aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/userPolicy:UserPolicy",
                   "aws:iam/groupPolicy:GroupPolicy")
IAM_ROLE = "aws:iam/role:Role"
IAM_ATTACHMENTS = ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/userPolicyAttachment:UserPolicyAttachment",
                   "aws:iam/groupPolicyAttachment:GroupPolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment")
GKE = "gcp:container/cluster:Cluster"
GKE_POOL = "gcp:container/nodePool:NodePool"
GCE_INSTANCE = ("gcp:compute/instance:Instance", "gcp:compute/instanceTemplate:InstanceTemplate",
                "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate")
FIREWALL = "gcp:compute/firewall:Firewall"
GCP_SUBNET = "gcp:compute/subnetwork:Subnetwork"
GCP_HTTP_PROXY = ("gcp:compute/targetHttpProxy:TargetHttpProxy", "gcp:compute/regionTargetHttpProxy:RegionTargetHttpProxy")
GCP_TLS_PROXY = ("gcp:compute/targetHttpsProxy:TargetHttpsProxy", "gcp:compute/regionTargetHttpsProxy:RegionTargetHttpsProxy",
                 "gcp:compute/targetSSLProxy:TargetSSLProxy")
GCP_SSL_POLICY = ("gcp:compute/sSLPolicy:SSLPolicy", "gcp:compute/regionSslPolicy:RegionSslPolicy")
GCP_URL_MAP = ("gcp:compute/uRLMap:URLMap", "gcp:compute/regionUrlMap:RegionUrlMap")
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
GCP_IAM = tuple(f"gcp:{scope}/iAM{kind}:IAM{kind}" for scope in ("projects", "folder", "organizations")
                for kind in ("Member", "Binding"))
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
KEY_VAULT = "azure-native:keyvault:Vault"
KEY_VAULT_KEY = "azure-native:keyvault:Key"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"

SUPPORTED_VERSIONS = offered("eks")
"""The minors EKS offers a new cluster (fleetform_policies/kubernetes_versions.json, shared with the config)."""


def _same(a: Any, b: str) -> bool:
    """Azure enums and tags as Azure reads them: case-insensitively."""
    return isinstance(a, str) and a.strip().lower() == b.lower()


def _public_to(cidrs: Sequence[Any], allowed: Sequence[Any]) -> list[str]:
    """What a public endpoint's ``cidrs`` open it to, against the ``allowedPublicCidrs`` setting:
    each CIDR outside ``allowed`` when it is set; else the whole internet when the CIDRs, in any
    spelling and together, cover it."""
    if allowed:
        nets = [n for n in (network(a) for a in allowed) if n is not None]
        bad = []
        for cidr in cidrs:
            net = network(cidr)
            if net is None or not any(net.version == a.version and net.subnet_of(a) for a in nets):  # type: ignore[arg-type]
                bad.append(str(cidr))
        return bad
    whole = internet_in(cidrs)
    return [whole] if whole else []


def _depends_on(resource: StackResource, urn: str) -> bool:
    return urn in resource.dependencies


# ---------------------------------------------------------------------- network


def _api_endpoint(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    allowed = list(items(c["allowedPublicCidrs"]))
    if t == EKS:
        if dig(p, "vpcConfig", "endpointPublicAccess", default=True) is not False:
            # publicAccessCidrs defaults to 0.0.0.0/0 while the endpoint is public.
            cidrs = items(dig(p, "vpcConfig", "publicAccessCidrs")) or ["0.0.0.0/0"]
            for bad in _public_to(cidrs, allowed):
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
            for bad in _public_to([dig(n, "cidrBlock") for n in networks], allowed):
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
            for bad in _public_to(ranges, allowed):
                yield f"AKS API server is public to {bad}"


def _private_nodes(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == LAUNCH_TEMPLATE:
        for i, nic in enumerate(items(dig(p, "networkInterfaces"))):
            if truthy(dig(nic, "associatePublicIpAddress")):
                yield f"launch template networkInterfaces[{i}] associates a public IP"
    elif t == EC2_INSTANCE:
        if dig(p, "associatePublicIpAddress") is True:
            yield "instance has a public IP"
    elif t == SUBNET:
        # Also what keeps a node group without a launch template private: its nodes get public IPs
        # only in subnets that map them.
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
            if items(dig(nic, "ipv6AccessConfigs")):
                yield f"networkInterfaces[{i}] has an external IPv6 address (ipv6AccessConfigs)"
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
    ports = [int(x) for x in items(c["adminPorts"])]

    def aws_rules(rules: Sequence[Any]) -> Iterable[str]:
        # A security group only allows: the sources of every rule that lets a port in add up.
        for port in ports:
            sources: list[Any] = []
            for rule in rules:
                proto = str(dig(rule, "protocol", default=dig(rule, "ipProtocol", default="tcp"))).lower()
                if proto not in ("tcp", "6", "-1", "all"):
                    continue
                if not port_in(port, dig(rule, "fromPort", default=-1), dig(rule, "toPort", default=-1)):
                    continue
                sources += [*items(dig(rule, "cidrBlocks")), *items(dig(rule, "ipv6CidrBlocks")),
                            dig(rule, "cidrIpv4"), dig(rule, "cidrIpv6")]
            how = internet_in(sources)
            if how:
                yield f"port {port} is open to the internet ({how})"

    if t in (SG, DEFAULT_SG):
        yield from aws_rules(items(dig(p, "ingress")))
    elif t == SG_RULE and dig(p, "type") == "ingress":
        yield from aws_rules([p])
    elif t == SG_INGRESS:
        yield from aws_rules([p])
    elif t == EKS_NODEGROUP:
        remote = dig(p, "remoteAccess")
        if remote is not None and not items(dig(remote, "sourceSecurityGroupIds")):
            yield "node group SSH (remoteAccess) is open to the internet (no sourceSecurityGroupIds)"
    elif t == FIREWALL:
        if str(dig(p, "direction", default="INGRESS")).upper() != "INGRESS" or dig(p, "disabled") is True:
            return
        ranges = items(dig(p, "sourceRanges"))
        if ranges:
            how = internet_in(ranges)
        elif not items(dig(p, "sourceTags")) and not items(dig(p, "sourceServiceAccounts")):
            # The API gives an ingress rule without any source 0.0.0.0/0
            # (https://github.com/hashicorp/terraform-provider-google/issues/6789).
            how = "no source: the API defaults it to 0.0.0.0/0"
        else:
            how = None
        if not how:
            return
        for port in ports:
            for allow in items(dig(p, "allows")):
                proto = str(dig(allow, "protocol", default="")).lower()
                if proto in ("tcp", "6", "all") and port_range_includes(items(dig(allow, "ports")) or ["*"], port):
                    yield f"port {port} is open to the internet ({how})"
                    break
    elif t in (NSG, NSG_RULE):
        rules = items(dig(p, "securityRules")) if t == NSG else [p]
        for rule in rules:
            if not _same(dig(rule, "direction"), "Inbound") or not _same(dig(rule, "access"), "Allow"):
                continue
            if str(dig(rule, "protocol", default="*")).strip().lower() not in ("tcp", "*"):
                continue
            how = internet_in([dig(rule, "sourceAddressPrefix"), *items(dig(rule, "sourceAddressPrefixes"))])
            if not how:
                continue
            spec = [x for x in [dig(rule, "destinationPortRange"), *items(dig(rule, "destinationPortRanges"))] if x is not None]
            for port in ports:
                if port_range_includes(spec or ["*"], port):
                    yield f"rule {dig(rule, 'name')!r}: port {port} is open to the internet ({how})"


def _network_policy_on(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == GKE:
        if dig(p, "datapathProvider") != "ADVANCED_DATAPATH" and dig(p, "networkPolicy", "enabled") is not True:
            yield "GKE enforces no NetworkPolicy (enable Dataplane V2 or networkPolicy)"
    elif t == AKS:
        policy = dig(p, "networkProfile", "networkPolicy")
        if policy is None or _same(policy, "none"):
            yield "AKS enforces no NetworkPolicy (networkProfile.networkPolicy)"


# ELB security policies whose lowest protocol is TLS 1.2 (the name gives the range: TLS13-1-0 is
# TLS 1.0 to 1.3, FS-1-2 is TLS 1.2 only); the prefixes checkov CKV_AWS_103 accepts.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
TLS12_POLICY_PREFIXES = ("ELBSecurityPolicy-TLS13-1-2", "ELBSecurityPolicy-TLS13-1-3", "ELBSecurityPolicy-TLS-1-2",
                         "ELBSecurityPolicy-FS-1-2")
# checkov CKV_GCP_4 (GoogleComputeSSLPolicy.py): RESTRICTED, MODERN from TLS 1.2, or CUSTOM without these.
WEAK_GCP_CIPHERS = ("TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA",
                    "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA")


def _tls(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t in LB_LISTENER:
        given = dig(p, "protocol")
        proto = str(given if given is not None else "HTTP").upper()  # an ALB listener's default
        if proto == "HTTP":
            to_https = any(
                str(dig(a, "type")).lower() == "redirect" and str(dig(a, "redirect", "protocol", default="")).upper() == "HTTPS"
                for a in items(dig(p, "defaultActions"))
            )
            if not to_https:
                yield "load balancer listener terminates plain HTTP" + ("" if given is not None else " (no protocol: HTTP)")
        if proto in ("HTTPS", "TLS"):
            policy = dig(p, "sslPolicy")
            if policy is None:
                yield "listener has no sslPolicy: the default, ELBSecurityPolicy-2016-08, allows TLS 1.0"
            elif not str(policy).startswith(TLS12_POLICY_PREFIXES):
                yield f"listener TLS policy {policy!r} allows TLS older than 1.2"
    elif t in GCP_TLS_PROXY:
        if not dig(p, "sslPolicy"):
            yield f"{t.rsplit(':', 1)[-1]} has no sslPolicy: Google's default policy (COMPATIBLE) allows TLS 1.0"
    elif t in GCP_SSL_POLICY:
        profile = str(dig(p, "profile", default="COMPATIBLE")).upper()
        low = str(dig(p, "minTlsVersion", default="TLS_1_0")).upper()
        if profile == "CUSTOM":
            weak = [f for f in (str(x) for x in items(dig(p, "customFeatures"))) if f in WEAK_GCP_CIPHERS]
            if weak:
                yield f"SSL policy enables weak cipher suites {', '.join(weak)}"
            if low not in ("TLS_1_2", "TLS_1_3"):
                yield f"SSL policy allows {low} (minTlsVersion)"
        elif profile == "COMPATIBLE" or (profile == "MODERN" and low not in ("TLS_1_2", "TLS_1_3")):
            yield f"SSL policy {profile} from {low} allows TLS older than 1.2 or weak ciphers (use RESTRICTED, or MODERN from TLS_1_2)"


def _url_map_redirects_only(url_map: Mapping[str, Any]) -> bool:
    return (dig(url_map, "defaultUrlRedirect", "httpsRedirect") is True
            and not items(dig(url_map, "hostRules")) and not items(dig(url_map, "pathMatchers"))
            and dig(url_map, "defaultService") is None)


def _http_redirect_only(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    maps = [r for r in resources if r.type in GCP_URL_MAP]
    for r in resources:
        if r.type not in GCP_HTTP_PROXY:
            continue
        own = [m for m in maps if _depends_on(r, m.urn)]
        if not own:
            target = str(dig(r.props, "urlMap", default=""))
            own = [m for m in maps if target and target.rstrip("/").rsplit("/", 1)[-1] == str(dig(m.props, "name", default=m.name))]
        if not own:
            yield r.urn, "HTTP proxy whose URL map is not in the stack: nothing shows it only redirects to HTTPS"
        elif not all(_url_map_redirects_only(m.props) for m in own):
            yield r.urn, "HTTP proxy serves plain HTTP: its URL map does more than redirect every request to HTTPS (defaultUrlRedirect.httpsRedirect)"


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


NO_LAUNCH_TEMPLATE = "node group without a launch template"


def _disks(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == LAUNCH_TEMPLATE:
        mappings = items(dig(p, "blockDeviceMappings"))
        if not mappings:
            yield "launch template does not set an encrypted root volume"
        for m in mappings:
            ebs = dig(m, "ebs")
            if ebs is not None and not truthy(dig(ebs, "encrypted")):
                yield f"volume {dig(m, 'deviceName')!r} is not encrypted"
    elif t == EC2_INSTANCE:
        if dig(p, "rootBlockDevice", "encrypted") is not True:
            yield "instance root volume is not encrypted"
        for i, device in enumerate(items(dig(p, "ebsBlockDevices"))):
            if dig(device, "encrypted") is not True:
                yield f"instance ebsBlockDevices[{i}] ({dig(device, 'deviceName')}) is not encrypted"
    elif t == EBS_VOLUME:
        if dig(p, "encrypted") is not True:
            yield "EBS volume is not encrypted"
    elif t == EKS_NODEGROUP:
        if dig(p, "launchTemplate") is None:
            yield f"{NO_LAUNCH_TEMPLATE}: nothing encrypts its volumes (only the account's EBS encryption by default would)"
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


_DAY = 86400


def _key_rotation(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == KMS_KEY:
        # Only a symmetric encryption key in KMS's own key store can rotate: "You cannot enable automatic
        # rotation of asymmetric KMS keys, HMAC KMS keys, KMS keys with imported key material, or KMS keys
        # in a custom key store" (https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html;
        # imported material is the separate aws:kms/externalKey:ExternalKey).
        spec = str(dig(p, "customerMasterKeySpec", default="SYMMETRIC_DEFAULT"))
        if spec != "SYMMETRIC_DEFAULT" or dig(p, "customKeyStoreId"):
            return
        if dig(p, "enableKeyRotation") is not True:
            yield "KMS key rotation is off (enableKeyRotation)"
            return
        # A custom period may be 90 to 2560 days; without one it is 365 ("RotationPeriodInDays ...
        # Default: 365", API_EnableKeyRotation; pulumi-aws kms.Key rotation_period_in_days: "Must be
        # a number between 90 and 2560 (inclusive)"). Yearly is what the rule asks: a longer period
        # is rotation in name only.
        period = dig(p, "rotationPeriodInDays")
        if isinstance(period, (int, float)) and not isinstance(period, bool) and period > 365:
            yield f"KMS key rotates every {num(period)} days, not yearly or sooner (rotationPeriodInDays at most 365)"
    elif t == CRYPTO_KEY:
        if str(dig(p, "purpose", default="ENCRYPT_DECRYPT")) != "ENCRYPT_DECRYPT":
            return  # Cloud KMS rotates only symmetric keys automatically
        period = dig(p, "rotationPeriod")
        match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)s", str(period)) if period is not None else None
        if match is None:
            yield "Cloud KMS key has no rotationPeriod: it never rotates"
        elif not _DAY <= float(match.group(1)) <= 90 * _DAY:
            yield f"Cloud KMS key rotates every {num(round(float(match.group(1)) / _DAY, 1))} days, not within 1 to 90 (rotationPeriod)"


def _key_vault_recoverable(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    props = dig(p, "properties", default={})
    if dig(props, "enablePurgeProtection") is not True:
        yield "Key Vault purge protection is off (properties.enablePurgeProtection): a deleted vault or key can be purged at once"
    if dig(props, "enableSoftDelete") is False:
        yield "Key Vault soft delete is off (properties.enableSoftDelete)"


def _aks_kms(cluster: StackResource) -> Optional[Mapping[str, Any]]:
    """The cluster's KMS etcd encryption settings (securityProfile.azureKeyVaultKms) when it is on."""
    kms = dig(cluster.props, "securityProfile", "azureKeyVaultKms")
    return kms if dig(kms, "enabled") is True else None


_KEY_ID = re.compile(r"^https://([^./]+)\.vault\.[^/]+/keys/([^/]+)(?:/[^/]*)?/?$", re.I)


def _keys_of(cluster: StackResource, keys: Sequence[StackResource]) -> list[StackResource]:
    """The Key Vault keys ``cluster`` encrypts etcd with: the keys it depends on (its keyId comes
    from the key, so the tie holds while the id is unknown), else the key its keyId names
    (https://<vault>.vault.azure.net/keys/<key>/<version>: vault names are global DNS names)."""
    own = [k for k in keys if _depends_on(cluster, k.urn)]
    if own or not keys:
        return own
    match = _KEY_ID.match(str(dig(cluster.props, "securityProfile", "azureKeyVaultKms", "keyId", default="")).strip())
    if match is None:
        return []
    vault, name = match.group(1).lower(), match.group(2).lower()
    return [k for k in keys if str(dig(k.props, "vaultName", default="")).lower() == vault
            and str(dig(k.props, "keyName", default="")).lower() == name]


def _vault_of(key: StackResource, vaults: Sequence[StackResource]) -> list[StackResource]:
    """The vault holding ``key``: the vault it depends on (its vaultName comes from the vault), else
    the vault of that name."""
    own = [v for v in vaults if _depends_on(key, v.urn)]
    if own or not vaults:
        return own
    name = str(dig(key.props, "vaultName", default="")).lower()
    return [v for v in vaults if name and str(dig(v.props, "vaultName", default="")).lower() == name]


def _vault_exposure(p: Mapping[str, Any]) -> list[str]:
    props = dig(p, "properties", default={})
    found = []
    access = dig(props, "publicNetworkAccess")
    if not _same(access, "Disabled"):
        found.append(f"Key Vault accepts traffic from the internet (properties.publicNetworkAccess {access or 'unset: Enabled'})")
    action = dig(props, "networkAcls", "defaultAction")
    if not _same(action, "Deny"):
        found.append(f"Key Vault firewall allows every network (properties.networkAcls.defaultAction {action or 'unset: Allow'})")
    return found


def _public_kms_vaults(resources: Sequence[StackResource]) -> set[str]:
    """URNs of the vaults an AKS cluster reaches for KMS over the public network without API Server
    VNet Integration (keyVaultNetworkAccess Public, the API's default), tied cluster -> key -> vault.
    Such a vault cannot be private: "Azure Key Vault can't be configured with Disable public access
    unless API Server VNet Integration is enabled", nor with the firewall ("Because the firewall
    blocks traffic from the KMS plugin to Key Vault"; AKS KMS limitations)."""
    keys = [r for r in resources if r.type == KEY_VAULT_KEY]
    vaults = [r for r in resources if r.type == KEY_VAULT]
    exempt: set[str] = set()
    for cluster in resources:
        if cluster.type != AKS or (kms := _aks_kms(cluster)) is None:
            continue
        if not _same(dig(kms, "keyVaultNetworkAccess", default="Public"), "Public"):
            continue
        if dig(cluster.props, "apiServerAccessProfile", "enableVnetIntegration") is True:
            continue  # it can reach a private vault (keyVaultNetworkAccess Private): no exemption
        exempt.update(v.urn for key in _keys_of(cluster, keys) for v in _vault_of(key, vaults))
    return exempt


def _key_vault_private(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    exempt: Optional[set[str]] = None
    for r in resources:
        if r.type != KEY_VAULT:
            continue
        found = _vault_exposure(r.props)
        if not found:
            continue
        if exempt is None:  # read the clusters only when a vault is exposed
            exempt = _public_kms_vaults(resources)
        if r.urn not in exempt:
            yield from ((r.urn, message) for message in found)


def _key_vault_hsm(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    kty = str(dig(p, "properties", "kty", default="?"))
    if kty.upper() not in ("RSA-HSM", "EC-HSM"):
        yield f"Key Vault key is not HSM-backed (properties.kty {kty})"


def _key_vault_rotation(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    kms_keys: Optional[set[str]] = None
    for r in resources:
        if r.type != KEY_VAULT_KEY:
            continue
        actions = [str(dig(a, "action", "type", default="")).lower()
                   for a in items(dig(r.props, "properties", "rotationPolicy", "lifetimeActions"))]
        if "rotate" in actions:
            continue
        if kms_keys is None:  # read the clusters only when a key has no rotation
            keys = [k for k in resources if k.type == KEY_VAULT_KEY]
            kms_keys = {k.urn for c in resources if c.type == AKS and _aks_kms(c) is not None for k in _keys_of(c, keys)}
        # AKS' KMS pins one key version (keyId); a rotation is a cluster update plus rewriting every
        # Secret, which auto-rotation (new versions for versionless consumers) does not do.
        if r.urn not in kms_keys:
            yield r.urn, "Key Vault key has no rotation policy that rotates it (properties.rotationPolicy.lifetimeActions)"


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
    providers = [r for r in resources if r.type == OIDC_PROVIDER]
    for r in resources:
        if r.type != EKS:
            continue
        # Its own provider: one built from this cluster's issuer (a dependency in the program, or
        # the same URL once the cluster exists), never just any provider in the stack.
        if any(_depends_on(o, r.urn) for o in providers):
            continue
        issuers = {str(dig(oidc, "issuer")) for identity in items(dig(r.props, "identities"))
                   for oidc in items(dig(identity, "oidcs"))} if providers else set()
        if not any(str(dig(o.props, "url")) in issuers for o in providers):
            yield r.urn, "EKS cluster has no IAM OIDC provider of its own: IRSA (workload identity) is off"


def _default_sa(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    def default(sa: Any) -> bool:
        return sa is None or str(sa) == "default" or str(sa).endswith("-compute@developer.gserviceaccount.com")

    if t in (GKE, GKE_POOL):
        if t == GKE and dig(p, "clusterAutoscaling", "enabled") is True:
            # Node auto-provisioning creates pools of its own, as this account ("default" unless set).
            if default(dig(p, "clusterAutoscaling", "autoProvisioningDefaults", "serviceAccount")):
                yield "node auto-provisioning creates nodes as the default compute service account"
        if t == GKE and dig(p, "removeDefaultNodePool") is True:
            return
        if default(dig(p, "nodeConfig", "serviceAccount")):
            yield "nodes run as the default compute service account"
    elif t in GCE_INSTANCE:
        for acct in items(dig(p, "serviceAccount")):
            if default(dig(acct, "email", default="default")):
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
    if t == EKS_NODEGROUP:
        if dig(p, "launchTemplate") is None:
            yield f"{NO_LAUNCH_TEMPLATE}: nothing requires IMDSv2 (the template EKS generates leaves it to the AMI)"
        return
    if dig(p, "metadataOptions", "httpEndpoint") == "disabled":
        return  # no instance metadata service at all
    if dig(p, "metadataOptions", "httpTokens") != "required":
        yield "IMDSv2 is not required (metadataOptions.httpTokens)"


EKS_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def _audit_logs(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    if t == EKS:
        enabled = {str(x) for x in items(dig(p, "enabledClusterLogTypes"))}
        missing = [str(x) for x in items(c["eksLogTypes"]) if str(x) not in enabled]
        if missing:
            yield f"EKS control-plane logs off: {', '.join(missing)}"
    elif t == GKE:
        if dig(p, "loggingService") == "none":
            yield "GKE logging is off (loggingService none)"
        # Without loggingConfig GKE collects SYSTEM_COMPONENTS and WORKLOADS only: no API server logs.
        components = {str(x) for x in items(dig(p, "loggingConfig", "enableComponents"))}
        if "APISERVER" not in components:
            yield "GKE API server logs are off (loggingConfig.enableComponents has no APISERVER)"


AUDIT_CATEGORIES = frozenset({"kube-audit", "kube-audit-admin", "audit", "alllogs"})


def _audited(setting: StackResource) -> bool:
    return any(str(dig(log, "category", default=dig(log, "categoryGroup"))).lower() in AUDIT_CATEGORIES
               for log in items(dig(setting.props, "logs")) if dig(log, "enabled") is not False)


def _aks_arm_id(cluster: StackResource) -> Optional[str]:
    """The cluster's ARM id, lower-cased, from its own inputs (None without a resourceName)."""
    name, group = dig(cluster.props, "resourceName"), dig(cluster.props, "resourceGroupName")
    if name is None or group is None:
        return None
    return f"/resourcegroups/{str(group).lower()}/providers/microsoft.containerservice/managedclusters/{str(name).lower()}"


def _aks_audit(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    settings = [r for r in resources if r.type in DIAGNOSTIC_SETTING]
    for r in resources:
        if r.type != AKS:
            continue
        # A setting of this cluster: its resourceUri comes from the cluster (a dependency, even
        # while the ID is unknown), or names the cluster's ARM id. Never a setting of another resource.
        if any(_depends_on(s, r.urn) and _audited(s) for s in settings):
            continue
        arm = _aks_arm_id(r)
        own = [s for s in settings if not _depends_on(s, r.urn) and arm is not None
               and str(dig(s.props, "resourceUri", default="")).lower().rstrip("/").endswith(arm)]
        if not any(_audited(s) for s in own):
            yield r.urn, "AKS control-plane audit logs are not collected (no diagnostic setting of this cluster with kube-audit or kube-audit-admin)"


# ---------------------------------------------------------------------- cloud IAM

ADMIN_POLICY_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
GCP_BASIC_ROLES = ("roles/owner", "roles/editor", "roles/viewer")
GCP_IMPERSONATION_ROLES = ("roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator")
# Built-in Azure roles that administer everything in their scope, access included
# (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
AZURE_ADMIN_ROLES = {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
                     "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
                     "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator"}


def _statements(document: Any) -> list[Any]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    return items(dig(document, "Statement"))


def _policy_problems(document: Any, where: str) -> Iterable[str]:
    for i, st in enumerate(_statements(document)):
        if str(dig(st, "Effect", default="Allow")) != "Allow":
            continue
        actions = [str(a) for a in items(dig(st, "Action")) or [dig(st, "Action")] if a is not None]
        resources = [str(r) for r in items(dig(st, "Resource")) or [dig(st, "Resource")] if r is not None]
        if "*" in actions:
            yield f"{where}Statement[{i}] allows every action (Action \"*\")"
        elif "*" in resources:
            wild = [a for a in actions if a.endswith(":*")]
            if wild:
                yield f"{where}Statement[{i}] allows every action of {', '.join(wild)} on every resource (Resource \"*\")"
        if dig(st, "NotAction") is not None:
            yield f"{where}Statement[{i}] allows everything but its NotAction"


def _cloud_iam(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t in IAM_POLICY_DOCS:
        yield from _policy_problems(dig(p, "policy"), "policy ")
    elif t == IAM_ROLE:
        for inline in items(dig(p, "inlinePolicies")):
            yield from _policy_problems(dig(inline, "policy"), f"inline policy {dig(inline, 'name')!r} ")
        if ADMIN_POLICY_ARN in [str(a) for a in items(dig(p, "managedPolicyArns"))]:
            yield "role has AdministratorAccess (managedPolicyArns)"
    elif t in IAM_ATTACHMENTS:
        if str(dig(p, "policyArn", default="")) == ADMIN_POLICY_ARN:
            yield "attaches AdministratorAccess"
    elif t in GCP_IAM:
        role = str(dig(p, "role", default=""))
        if role in GCP_BASIC_ROLES:
            yield f"grants the basic role {role} (use predefined or custom roles)"
        elif role in GCP_IMPERSONATION_ROLES and t.startswith("gcp:projects/"):
            yield f"grants {role} on the whole project: it can act as every service account in it"
    elif t == ROLE_ASSIGNMENT:
        role = str(dig(p, "roleDefinitionId", default="")).rstrip("/").rsplit("/", 1)[-1].lower()
        if role in AZURE_ADMIN_ROLES:
            yield f"assigns {AZURE_ADMIN_ROLES[role]}: it can grant any access in its scope"


# ---------------------------------------------------------------------- node hardening


def _shielded(config: Any, where: str) -> Iterable[str]:
    shielded = dig(config, "shieldedInstanceConfig")
    if dig(shielded, "enableSecureBoot") is not True:
        yield f"{where}Secure Boot is off (shieldedInstanceConfig.enableSecureBoot)"
    if dig(shielded, "enableIntegrityMonitoring") is False:
        yield f"{where}integrity monitoring is off (shieldedInstanceConfig.enableIntegrityMonitoring)"


def _node_hardening(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t in (GKE, GKE_POOL):
        if t == GKE and dig(p, "enableShieldedNodes") is False:
            yield "GKE Shielded Nodes are off (enableShieldedNodes)"
        if t == GKE and dig(p, "removeDefaultNodePool") is True:
            return
        node = dig(p, "nodeConfig", default={})
        yield from _shielded(node, "nodes: ")
        image = dig(node, "imageType")
        if image is not None and not str(image).upper().startswith("COS"):
            yield f"nodes run {image}, not Container-Optimized OS (nodeConfig.imageType)"
    elif t in GCE_INSTANCE:
        if dig(p, "shieldedInstanceConfig") is None:
            yield "instance is not a Shielded VM (no shieldedInstanceConfig)"
        else:
            yield from _shielded(p, "")
            if dig(p, "shieldedInstanceConfig", "enableVtpm") is False:
                yield "vTPM is off (shieldedInstanceConfig.enableVtpm)"
        metadata = dig(p, "metadata", default={})
        if not truthy(dig(metadata, "block-project-ssh-keys")):
            yield "project-wide SSH keys reach the instance (metadata block-project-ssh-keys is not true)"
        if truthy(dig(metadata, "serial-port-enable")) or str(dig(metadata, "serial-port-enable", default="")) == "1":
            yield "the interactive serial console is on (metadata serial-port-enable)"
    elif t in (LAUNCH_TEMPLATE, EC2_INSTANCE):
        hops = dig(p, "metadataOptions", "httpPutResponseHopLimit")
        if hops is not None and int(hops) > 1:
            yield f"instance metadata answers {num(hops)} hops away: containers reach the node's credentials (httpPutResponseHopLimit 1)"


# ---------------------------------------------------------------------- logging


def _flow_logs(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    flow_logs: Optional[list[StackResource]] = None
    for r in resources:
        if r.type == VPC:
            if flow_logs is None:
                flow_logs = [f for f in resources if f.type == FLOW_LOG]
            # Its own flow log: one whose vpcId comes from this VPC (never just any flow log).
            if not any(_depends_on(f, r.urn) for f in flow_logs):
                yield r.urn, "VPC has no flow log"
        elif r.type == GCP_SUBNET:
            # Proxy-only and Private Service Connect subnets carry no VM traffic and take no logConfig.
            if str(dig(r.props, "purpose", default="PRIVATE")) not in ("PRIVATE", "PRIVATE_RFC_1918", "PRIVATE_NAT"):
                continue
            if dig(r.props, "logConfig") is None:
                yield r.urn, "subnetwork has no VPC Flow Logs (logConfig)"


def _lb_access_logs(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if str(dig(p, "loadBalancerType", default="application")) == "gateway":
        return
    if dig(p, "accessLogs", "enabled") is not True:
        yield f"{dig(p, 'loadBalancerType', default='application')} load balancer writes no access logs (accessLogs.enabled)"


def _log_groups(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    days = dig(p, "retentionInDays")
    least = int(c["minRetentionDays"])
    if days is None:
        yield f"log group has no retentionInDays (set 0 to keep for ever, or at least {least})"
    elif int(days) != 0 and int(days) < least:
        yield f"log group keeps logs {num(days)} days, fewer than {least} (retentionInDays)"
    if not dig(p, "kmsKeyId"):
        yield "log group is not encrypted with a KMS key of the stack (kmsKeyId)"


# ---------------------------------------------------------------------- lifecycle

_MINOR = re.compile(r"^v?([0-9]+)\.([0-9]+)")


def _minor(version: Any) -> Optional[str]:
    match = _MINOR.match(str(version).strip())
    return f"{int(match.group(1))}.{int(match.group(2))}" if match else None


def _offered(target: str, what: str, version: Any) -> Iterable[str]:
    minor = _minor(version)
    if minor is None or minor not in offered(target):
        yield f"{what} {version} is not supported ({', '.join(offered(target))})"


def _lifecycle(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == EKS:
        version = dig(p, "version")
        if version is None:
            yield "EKS version is not pinned"
        else:
            yield from _offered("eks", "EKS version", version)
    elif t == GKE:
        if dig(p, "releaseChannel", "channel") in (None, "UNSPECIFIED"):
            yield "GKE has no release channel"
        version = dig(p, "minMasterVersion")
        if version is not None and str(version) != "latest":
            yield from _offered("gke", "GKE version", version)
    elif t == GKE_POOL:
        # Explicitly on, as checkov CKV_GCP_9/10 want it (the API's default is on too).
        if dig(p, "management", "autoRepair") is not True:
            yield "GKE node auto-repair is off"
        if dig(p, "management", "autoUpgrade") is not True:
            yield "GKE node auto-upgrade is off"
        version = dig(p, "version")
        if version is not None and str(version) != "latest":
            yield from _offered("gke", "GKE node version", version)
    elif t == AKS:
        channel = dig(p, "autoUpgradeProfile", "upgradeChannel")
        if channel is None or _same(channel, "none"):
            yield "AKS has no upgrade channel"
        version = dig(p, "kubernetesVersion")
        if version is not None:
            yield from _offered("aks", "AKS version", version)
        for pool in items(dig(p, "agentPoolProfiles")):
            if dig(pool, "orchestratorVersion") is not None:
                yield from _offered("aks", f"AKS pool {dig(pool, 'name')!r} version", dig(pool, "orchestratorVersion"))
    elif t == AKS_POOL:
        if dig(p, "orchestratorVersion") is not None:
            yield from _offered("aks", "AKS pool version", dig(p, "orchestratorVersion"))


def _standard_support(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    minor = _minor(dig(p, "version", default=""))
    if minor is not None and support_of("eks", minor) == "extended":
        entry = TARGETS["eks"]["minors"][minor]
        standard = [m for m in offered("eks") if support_of("eks", m) == "standard"]
        yield (f"EKS {minor} is in extended support (billed from {entry['endOfStandardSupport']}, ends "
               f"{entry['endOfSupport']}): upgrade to {' or '.join(standard)}")


ADMIN_PORTS = {"type": "array", "default": [22, 3389], "description": "Ports never open to 0.0.0.0/0."}

CIS_EKS = "https://www.cisecurity.org/benchmark/kubernetes"
EKS_LOGS = "https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html"

RULES = [
    Rule("api-endpoint-private", "The Kubernetes API endpoint is private, or public only to allowed CIDRs (never to "
         "CIDRs that together cover the internet).", "high",
         "CIS EKS 5.4.1, GKE 5.6.3; checkov CKV_AWS_38, CKV_GCP_20, CKV_AZURE_6", "mandatory",
         _api_endpoint, types=(EKS, GKE, AKS),
         config={"allowedPublicCidrs": {"type": "array", "default": [],
                                        "description": "CIDRs a public endpoint may be open to (empty: any that do not "
                                                       "together cover the internet)."}},
         refs=("https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html",
               "https://cloud.google.com/kubernetes-engine/docs/concepts/network-isolation",
               "https://learn.microsoft.com/azure/aks/api-server-authorized-ip-ranges")),
    Rule("private-nodes", "Nodes have no public IPs (IPv4 or IPv6).", "high",
         "CIS EKS 5.4.3, GKE 5.6.5; checkov CKV_AWS_88, CKV_AWS_130, CKV_AZURE_119", "mandatory", _private_nodes,
         types=(LAUNCH_TEMPLATE, EC2_INSTANCE, SUBNET, GKE, GKE_POOL, *GCE_INSTANCE, AKS, AKS_POOL, AZURE_NIC, AZURE_VM,
                AZURE_VMSS)),
    Rule("no-admin-ports-from-internet", "No SSH or RDP (or other adminPorts) open to the internet: any sources that "
         "together cover it, Azure's Internet/*/Any tags in any case, and a GCP firewall with no source.", "critical",
         "checkov CKV_AWS_24, CKV_AWS_25, CKV_AWS_100, CKV_GCP_2, CKV_GCP_3, CKV_AZURE_9, CKV_AZURE_10", "mandatory",
         _admin_ports, types=(SG, DEFAULT_SG, SG_RULE, SG_INGRESS, EKS_NODEGROUP, FIREWALL, NSG, NSG_RULE),
         config={"adminPorts": ADMIN_PORTS},
         refs=("https://github.com/hashicorp/terraform-provider-google/issues/6789",
               "https://docs.aws.amazon.com/eks/latest/APIReference/API_RemoteAccessConfig.html")),
    Rule("network-policy-enforced", "The cluster enforces Kubernetes NetworkPolicy.", "medium",
         "checkov CKV_GCP_12, CKV_AZURE_7", "mandatory", _network_policy_on, types=(GKE, AKS)),
    Rule("tls-where-terminated", "Where a load balancer terminates traffic it uses TLS 1.2+: no plain-HTTP listener "
         "(the ALB default), an ELB policy from TLS 1.2, GCP HTTPS/SSL proxies with an SSL policy from TLS 1.2.",
         "medium", "checkov CKV_AWS_2, CKV_AWS_103, CKV_GCP_4", "mandatory", _tls,
         types=(*LB_LISTENER, *GCP_TLS_PROXY, *GCP_SSL_POLICY),
         refs=("https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html",
               "https://cloud.google.com/load-balancing/docs/ssl-policies-concepts")),
    Rule("tls-http-redirect-only", "A GCP HTTP proxy (global or regional) only redirects to HTTPS: its URL map, in the "
         "stack, redirects every request (defaultUrlRedirect.httpsRedirect).", "medium",
         "checkov CKV_AWS_2 (the same test for GCP's HTTP front ends)", "mandatory",
         stack_check=_http_redirect_only, types=(*GCP_HTTP_PROXY, *GCP_URL_MAP),
         refs=("https://cloud.google.com/load-balancing/docs/https/setting-up-http-https-redirect",)),
    Rule("secrets-envelope-encryption", "Kubernetes secrets are envelope-encrypted with a key the stack owns.", "high",
         "CIS EKS 5.3.1, GKE 5.3.1; checkov CKV_AWS_58", "mandatory", _secrets_encryption,
         types=(EKS, GKE, AKS)),
    Rule("node-disks-encrypted", "Node disks and EBS volumes are encrypted (root and every block device; EKS node "
         "groups through a launch template).", "high",
         "checkov CKV_AWS_8, CKV_AWS_3, CKV_AZURE_227, CKV_AZURE_97", "mandatory", _disks,
         types=(LAUNCH_TEMPLATE, EC2_INSTANCE, EBS_VOLUME, EKS_NODEGROUP, AKS, AKS_POOL, AZURE_VM, AZURE_VMSS),
         refs=("https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html",)),
    Rule("kms-key-rotation", "Customer-managed keys rotate: AWS KMS symmetric keys yearly or sooner (rotation on, rotationPeriodInDays at most 365; not HMAC keys or keys in a custom key store, which cannot rotate), Cloud KMS keys within 90 days.",
         "medium", "checkov CKV_AWS_7, CKV_GCP_43", "mandatory", _key_rotation, types=(KMS_KEY, CRYPTO_KEY),
         refs=("https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html",
               "https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html",
               "https://cloud.google.com/kms/docs/key-rotation")),
    Rule("key-vault-recoverable", "Key Vaults keep deleted keys recoverable: soft delete and purge protection.", "high",
         "checkov CKV_AZURE_42, CKV_AZURE_110, CKV_AZURE_111", "mandatory", _key_vault_recoverable, types=(KEY_VAULT,),
         refs=("https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview",)),
    # AKS KMS limitations: "Azure Key Vault can't be configured with Disable public access unless API
    # Server VNet Integration is enabled", and "Because the firewall blocks traffic from the KMS plugin
    # to Key Vault", it "can't be configured with the firewall option Allow public access from specific
    # virtual networks and IP addresses". With VNet Integration the cluster reaches a private vault
    # (keyVaultNetworkAccess Private), so the exemption ends there.
    Rule("key-vault-private", "Key Vaults accept no traffic from the internet (public network access disabled, "
         "firewall default deny), except a vault an AKS cluster in the stack reaches for KMS etcd encryption over "
         "the public network without API Server VNet Integration (keyVaultNetworkAccess Public), which AKS requires "
         "to stay public with its firewall open.", "high", "checkov CKV_AZURE_189, CKV_AZURE_109", "mandatory",
         stack_check=_key_vault_private, types=(KEY_VAULT, KEY_VAULT_KEY, AKS),
         refs=("https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption#limitations",
               "https://learn.microsoft.com/azure/key-vault/general/network-security")),
    Rule("key-vault-key-protection", "Key Vault keys are HSM-backed (kty RSA-HSM or EC-HSM).", "medium",
         "checkov CKV_AZURE_112", "mandatory", _key_vault_hsm, types=(KEY_VAULT_KEY,),
         refs=("https://learn.microsoft.com/azure/key-vault/keys/about-keys",)),
    # AKS KMS calls one key version, the keyId of the cluster; rotating is `az aks update` to the new
    # version, then "Remember to update all secrets after key rotation" (use-kms-etcd-encryption,
    # Rotate the existing keys). Key Vault's auto-rotation only adds a version, and "Target services
    # should use versionless key URI to automatically refresh" (how-to-configure-key-rotation): it
    # rotates nothing AKS reads. Mandatory like kms-key-rotation (AWS, GCP): other consumers that pin a
    # version take a waiver with their reason.
    Rule("key-vault-key-rotation", "Key Vault keys are rotated by a rotation policy, except a key an AKS cluster in "
         "the stack encrypts etcd with (securityProfile.azureKeyVaultKms): AKS pins one key version in keyId, and "
         "a rotation is a cluster update followed by rewriting every Secret, which Key Vault's auto-rotation (new "
         "versions for versionless consumers) does not do.", "medium",
         "PSRule Azure.KeyVault.AutoRotationPolicy; Azure Key Vault key auto-rotation", "mandatory",
         stack_check=_key_vault_rotation, types=(KEY_VAULT_KEY, AKS),
         refs=("https://azure.github.io/PSRule.Rules.Azure/en/rules/Azure.KeyVault.AutoRotationPolicy/",
               "https://learn.microsoft.com/azure/key-vault/keys/how-to-configure-key-rotation",
               "https://learn.microsoft.com/azure/aks/use-kms-etcd-encryption#rotate-the-existing-keys")),
    Rule("workload-identity", "Pods get cloud identities through workload identity, not node credentials.", "high",
         "CIS GKE 5.2.2, EKS 5.2.1 (IRSA); checkov CKV_GCP_69", "mandatory", _workload_identity, types=(GKE, GKE_POOL, AKS)),
    Rule("eks-irsa", "Every EKS cluster has an IAM OIDC provider of its own (IRSA).", "high", "CIS EKS 5.2.1",
         "mandatory", stack_check=_eks_oidc, types=(EKS, OIDC_PROVIDER),
         refs=("https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html",)),
    Rule("no-default-compute-sa", "Nodes never run as the default compute service account (node auto-provisioning "
         "included).", "high", "CIS GKE 5.2.1; checkov CKV_GCP_30", "mandatory", _default_sa,
         types=(GKE, GKE_POOL, *GCE_INSTANCE)),
    Rule("no-legacy-auth", "RBAC only: no legacy ABAC, basic auth, client certificates or local admin accounts.",
         "high", "checkov CKV_GCP_7, CKV_GCP_13, CKV_AZURE_5, CKV_AZURE_141", "mandatory", _legacy_auth, types=(GKE, AKS)),
    Rule("cloud-iam-least-privilege", "No cloud-wide admin grants: no IAM policy allowing * (or a whole service on "
         "every resource, or NotAction), no AdministratorAccess, no GCP basic roles or project-wide service account "
         "impersonation, no Azure Owner / access-admin assignments.", "high",
         "checkov CKV_AWS_62, CKV_AWS_63, CKV_AWS_355, CKV_AWS_274, CKV_GCP_117, CKV_GCP_41", "mandatory", _cloud_iam,
         types=(*IAM_POLICY_DOCS, IAM_ROLE, *IAM_ATTACHMENTS, *GCP_IAM, ROLE_ASSIGNMENT),
         refs=("https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
               "https://cloud.google.com/iam/docs/roles-overview#basic",
               "https://learn.microsoft.com/azure/role-based-access-control/best-practices")),
    Rule("imdsv2-required", "EC2 instance metadata requires IMDSv2 tokens (EKS node groups through a launch template).",
         "high", "checkov CKV_AWS_79", "mandatory", _imdsv2, types=(LAUNCH_TEMPLATE, EC2_INSTANCE, EKS_NODEGROUP),
         refs=("https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html",)),
    Rule("node-hardening", "Nodes boot verified and keep metadata to themselves: GKE Shielded Nodes with Secure Boot "
         "and integrity monitoring on Container-Optimized OS, GCE Shielded VMs without project SSH keys or serial "
         "console, EC2 metadata one hop away.", "medium",
         "checkov CKV_GCP_71, CKV_GCP_68, CKV_GCP_72, CKV_GCP_39, CKV_GCP_32, CKV_GCP_35, CKV_AWS_341; CIS GKE 5.5.1",
         "mandatory", _node_hardening, types=(GKE, GKE_POOL, *GCE_INSTANCE, LAUNCH_TEMPLATE, EC2_INSTANCE),
         refs=("https://cloud.google.com/kubernetes-engine/docs/how-to/shielded-gke-nodes",
               "https://cloud.google.com/compute/shielded-vm/docs/shielded-vm")),
    Rule("control-plane-audit-logs", "Control-plane logs are on: every EKS log type, GKE API server logs.", "medium",
         "checkov CKV_AWS_37, CKV_GCP_1; CIS EKS 2.1.1", "mandatory", _audit_logs, types=(EKS, GKE),
         config={"eksLogTypes": {"type": "array", "default": EKS_LOG_TYPES,
                                 "description": "EKS log types that must be enabled."}},
         refs=(EKS_LOGS, "https://cloud.google.com/kubernetes-engine/docs/how-to/view-logs#control_plane_logs")),
    Rule("aks-audit-logs", "Every AKS cluster's audit logs (kube-audit or kube-audit-admin) are collected by a "
         "diagnostic setting of that cluster.", "medium", "CIS AKS 2.1.1; PSRule Azure.AKS.AuditLogs",
         "mandatory", stack_check=_aks_audit, types=(AKS, *DIAGNOSTIC_SETTING),
         refs=("https://azure.github.io/PSRule.Rules.Azure/en/rules/Azure.AKS.AuditLogs/",
               "https://learn.microsoft.com/azure/aks/monitor-aks-reference#resource-logs")),
    Rule("flow-logs", "Network traffic is logged: every AWS VPC has a flow log of its own, every GCP subnetwork "
         "(proxy-only ones aside) has VPC Flow Logs.", "medium", "checkov CKV2_AWS_11, CKV_GCP_26", "mandatory",
         stack_check=_flow_logs, types=(VPC, FLOW_LOG, GCP_SUBNET),
         refs=("https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs.html",
               "https://cloud.google.com/vpc/docs/using-flow-logs")),
    # An NLB writes access logs for its TLS listeners only (the page below); fleetform's TCP NLBs
    # still turn them on, as the check asks, and their traffic is in the VPC flow logs.
    Rule("lb-access-logs", "AWS load balancers write access logs.", "low", "checkov CKV_AWS_91", "mandatory",
         _lb_access_logs, types=AWS_LB,
         refs=("https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html",)),
    Rule("log-group-retention-encryption", "CloudWatch log groups keep logs at least minRetentionDays (or for ever) "
         "and are encrypted with a KMS key.", "low", "checkov CKV_AWS_338, CKV_AWS_158", "mandatory", _log_groups,
         types=(LOG_GROUP,),
         config={"minRetentionDays": {"type": "integer", "default": 365,
                                      "description": "Fewest days a log group may keep logs (0, never expire, passes)."}},
         refs=("https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",)),
    Rule("cluster-lifecycle", "A Kubernetes version the target offers (fleetform's version table), a release/upgrade "
         "channel and node auto-repair where the cloud has them.", "medium",
         "checkov CKV_GCP_9, CKV_GCP_10; CIS GKE 5.5.2/5.5.3; fleetform kubernetes_versions.json", "mandatory",
         _lifecycle, types=(EKS, GKE, GKE_POOL, AKS, AKS_POOL),
         refs=tuple(u for t in ("eks", "gke", "aks") for u in TARGETS[t]["sources"][:1])),
    Rule("cluster-standard-support", "EKS clusters run a minor in standard support, not the billed extended support.",
         "low", "fleetform kubernetes_versions.json (EKS version calendar)", "advisory", _standard_support, types=(EKS,),
         refs=(TARGETS["eks"]["sources"][0],)),
]
