"""The cloud rules (``fleetform_policies/rules/cloud.py``) pinned where they are made (issue 17).

One table per rule function: a resource as the Pulumi providers name its properties, and every
message the rule must give for it, whole. The expectations come from the rule's contract, not
from what the code prints:

- the module docstring: a value the provider fills in is judged at its default (a listener without
  ``protocol`` is HTTP, a GCP firewall without a source is open to 0.0.0.0/0); "the internet" is
  address space (CIDRs that together cover it); Azure enums and tags compare case-insensitively;
- each ``Rule``'s description and the sources it cites (checkov checks, provider and cloud docs,
  named next to the tables below);
- the versions table (``fleetform_policies/kubernetes_versions.json``, read through ``offered``):
  the supported minors a version message lists.

The rule functions are called directly (no stack plan), so the whole file runs in well under a
second.
"""

from __future__ import annotations

import json

import pytest

from fleetform_policies.rules import cloud
from fleetform_policies.rules.base import StackResource
from fleetform_policies.versions import offered

CFG = {"allowedPublicCidrs": [], "adminPorts": [22, 3389], "eksLogTypes": list(cloud.EKS_LOG_TYPES),
       "minRetentionDays": 365}
"""Every setting at the default its Rule declares (``config=`` in ``cloud.RULES``)."""

OPEN = "0.0.0.0/0"


def _run(fn, t, props, **config):
    return list(fn(t, props, {**CFG, **config}))


def _res(t, name, props=None, deps=()):
    return StackResource(type=t, urn=f"urn:{name}", name=name, props=props or {}, dependencies=tuple(deps))


# ---------------------------------------------------------------------- _public_to

@pytest.mark.parametrize("cidrs,allowed,bad", [
    # allowedPublicCidrs set: each CIDR outside it, and what is not a CIDR at all.
    (["10.1.0.0/16"], ["10.0.0.0/8"], []),
    (["10.1.0.0/16", "192.168.0.0/16", "not-a-cidr"], ["10.0.0.0/8", "junk"], ["192.168.0.0/16", "not-a-cidr"]),
    (["fd00::/64"], ["10.0.0.0/8"], ["fd00::/64"]),
    # Not set: only the whole internet, in any spelling or split into parts.
    (["10.0.0.0/8"], [], []),
    (["0.0.0.0/1", "128.0.0.0/1"], [], ["0.0.0.0/1 + 128.0.0.0/1 (together 0.0.0.0/0)"]),
])
def test_public_to(cidrs, allowed, bad):
    assert cloud._public_to(cidrs, allowed) == bad


# ---------------------------------------------------------------------- api-endpoint-private
# EKS: publicAccessCidrs defaults to 0.0.0.0/0 while the endpoint is public, and the endpoint is
# public unless endpointPublicAccess is false (https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html).

@pytest.mark.parametrize("t,props,allowed,messages", [
    (cloud.EKS, {}, [], ["EKS API endpoint is public to 0.0.0.0/0", "EKS API endpoint has no private access"]),
    (cloud.EKS, {"vpcConfig": {"endpointPublicAccess": False, "endpointPrivateAccess": True}}, [], []),
    (cloud.EKS, {"vpcConfig": {"endpointPrivateAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}}, ["10.0.0.0/8"],
     ["EKS API endpoint is public to 203.0.113.0/24"]),
    (cloud.GKE, {}, [], ["GKE API endpoint is public with no authorized networks"]),
    (cloud.GKE, {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": OPEN}]}}, [],
     ["GKE API endpoint is public to 0.0.0.0/0"]),
    (cloud.GKE, {"masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": "10.1.0.0/16"},
                                                                   {"cidrBlock": "192.168.0.0/16"}]}},
     ["10.0.0.0/8"], ["GKE API endpoint is public to 192.168.0.0/16"]),
    (cloud.GKE, {"masterAuthorizedNetworksConfig": {"gcpPublicCidrsAccessEnabled": True}}, [],
     ["GKE API endpoint is open to every Google Cloud public IP (gcpPublicCidrsAccessEnabled)"]),
    (cloud.GKE, {"privateClusterConfig": {"enablePrivateEndpoint": True}}, [], []),
    (cloud.GKE, {"controlPlaneEndpointsConfig": {"ipEndpointsConfig": {"enabled": False},
                                                 "dnsEndpointConfig": {"allowExternalTraffic": True}}}, [],
     ["GKE DNS endpoint accepts traffic from the internet (dnsEndpointConfig.allowExternalTraffic)"]),
    (cloud.AKS, {}, [], ["AKS API server is public with no authorized IP ranges"]),
    (cloud.AKS, {"apiServerAccessProfile": {"authorizedIPRanges": [OPEN]}}, [], ["AKS API server is public to 0.0.0.0/0"]),
    (cloud.AKS, {"apiServerAccessProfile": {"authorizedIPRanges": ["203.0.113.0/24"]}}, ["10.0.0.0/8"],
     ["AKS API server is public to 203.0.113.0/24"]),
    (cloud.AKS, {"apiServerAccessProfile": {"enablePrivateCluster": True}}, [], []),
])
def test_api_endpoint(t, props, allowed, messages):
    assert _run(cloud._api_endpoint, t, props, allowedPublicCidrs=allowed) == messages


# ---------------------------------------------------------------------- private-nodes

@pytest.mark.parametrize("t,props,messages", [
    # EC2 launch templates model booleans as strings ("true").
    (cloud.LAUNCH_TEMPLATE, {"networkInterfaces": [{"associatePublicIpAddress": "false"},
                                                   {"associatePublicIpAddress": "true"}]},
     ["launch template networkInterfaces[1] associates a public IP"]),
    (cloud.EC2_INSTANCE, {"associatePublicIpAddress": True}, ["instance has a public IP"]),
    (cloud.EC2_INSTANCE, {"associatePublicIpAddress": False}, []),
    (cloud.SUBNET, {"mapPublicIpOnLaunch": True}, ["subnet gives instances public IPs on launch (mapPublicIpOnLaunch)"]),
    (cloud.GKE, {}, ["GKE nodes are not private (privateClusterConfig.enablePrivateNodes)"]),
    (cloud.GKE, {"privateClusterConfig": {"enablePrivateNodes": True}}, []),
    # A pool inherits the cluster's setting unless it opts out.
    (cloud.GKE_POOL, {"networkConfig": {"enablePrivateNodes": False}}, ["GKE node pool opts out of private nodes"]),
    (cloud.GKE_POOL, {"networkConfig": {"enablePrivateNodes": True}}, []),
    (cloud.GKE_POOL, {}, []),
    (cloud.GCE_INSTANCE[0], {"networkInterfaces": [{"network": "n"},
                                                   {"accessConfigs": [{"natIp": ""}], "ipv6AccessConfigs": [{}]}]},
     ["networkInterfaces[1] has an external IP (accessConfigs)",
      "networkInterfaces[1] has an external IPv6 address (ipv6AccessConfigs)"]),
    (cloud.AKS, {"agentPoolProfiles": [{"name": "sys", "enableNodePublicIP": True},
                                       {"name": "user", "enableNodePublicIP": False}]},
     ["AKS pool 'sys' gives nodes public IPs"]),
    (cloud.AKS_POOL, {"enableNodePublicIP": True}, ["AKS pool gives nodes public IPs"]),
    (cloud.AKS_POOL, {}, []),
    (cloud.AZURE_NIC, {"ipConfigurations": [{"name": "a"}, {"name": "b", "publicIPAddress": {"id": "pip"}}]},
     ["network interface ipConfigurations[1] has a public IP"]),
    (cloud.AZURE_VM, {"networkProfile": {"networkInterfaceConfigurations": [
        {"ipConfigurations": [{"name": "a"}, {"name": "b", "publicIPAddressConfiguration": {"name": "p"}}]}]}},
     ["VM NIC networkInterfaceConfigurations[0].ipConfigurations[1] has a public IP (publicIPAddressConfiguration)"]),
    (cloud.AZURE_VMSS, {"virtualMachineProfile": {"networkProfile": {"networkInterfaceConfigurations": [
        {"ipConfigurations": [{"publicIPAddressConfiguration": {"name": "p"}}]}]}}},
     ["scale set NIC networkInterfaceConfigurations[0].ipConfigurations[0] has a public IP (publicIPAddressConfiguration)"]),
])
def test_private_nodes(t, props, messages):
    assert _run(cloud._private_nodes, t, props) == messages


# ---------------------------------------------------------------------- no-admin-ports-from-internet
# AWS: an ingress rule's protocol "-1"/"all" is every protocol and port, "6" is TCP; a rule without a
# protocol is taken as TCP and without ports as every port (the rule judges the default). A security
# group allows the union of its rules' sources. GCP: a firewall's direction defaults to INGRESS, an
# ingress rule without any source is 0.0.0.0/0 (terraform-provider-google#6789), an allow without
# ports is every port. Azure: direction, access and protocol compare case-insensitively; a rule
# without protocol or destination port is "*" (checkov CKV_AZURE_9/10).

def _port(port, how):
    return f"port {port} is open to the internet ({how})"


SSH = {"protocol": "tcp", "fromPort": 22, "toPort": 22}


@pytest.mark.parametrize("t,props,messages", [
    (cloud.SG, {"ingress": [{**SSH, "cidrBlocks": [OPEN]}]}, [_port(22, OPEN)]),
    (cloud.DEFAULT_SG, {"ingress": [{**SSH, "ipv6CidrBlocks": ["::/0"]}]}, [_port(22, "::/0")]),
    (cloud.SG, {"ingress": [{"protocol": "udp", "fromPort": 0, "toPort": 65535, "cidrBlocks": [OPEN]}]}, []),
    # No protocol: TCP. A UDP rule before an open TCP one does not hide it.
    (cloud.SG, {"ingress": [{"fromPort": 22, "toPort": 22, "cidrBlocks": [OPEN]}]}, [_port(22, OPEN)]),
    (cloud.SG, {"ingress": [{"protocol": "udp", "fromPort": 22, "toPort": 22, "cidrBlocks": [OPEN]},
                            {**SSH, "cidrBlocks": [OPEN]}]}, [_port(22, OPEN)]),
    (cloud.SG, {"ingress": [{"protocol": "all", "fromPort": 0, "toPort": 0, "cidrBlocks": [OPEN]}]},
     [_port(22, OPEN), _port(3389, OPEN)]),
    (cloud.SG, {"ingress": [{"protocol": "6", "fromPort": 3389, "toPort": 3389, "cidrBlocks": [OPEN]}]},
     [_port(3389, OPEN)]),
    # Every protocol from port 0 with no toPort: every port.
    (cloud.SG, {"ingress": [{"protocol": "-1", "fromPort": 0, "cidrBlocks": [OPEN]}]},
     [_port(22, OPEN), _port(3389, OPEN)]),
    # Two halves in two rules add up to the internet.
    (cloud.SG, {"ingress": [{**SSH, "cidrBlocks": ["0.0.0.0/1"]}, {**SSH, "cidrBlocks": ["128.0.0.0/1"]}]},
     [_port(22, "0.0.0.0/1 + 128.0.0.0/1 (together 0.0.0.0/0)")]),
    (cloud.SG, {"ingress": [{**SSH, "cidrBlocks": ["10.0.0.0/8"]}]}, []),
    (cloud.SG_RULE, {"type": "ingress", **SSH, "cidrBlocks": [OPEN]}, [_port(22, OPEN)]),
    (cloud.SG_RULE, {"type": "egress", **SSH, "cidrBlocks": [OPEN]}, []),
    # aws.vpc.SecurityGroupIngressRule: ipProtocol, one cidrIpv4 or cidrIpv6.
    (cloud.SG_INGRESS, {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": OPEN}, [_port(22, OPEN)]),
    (cloud.SG_INGRESS, {"ipProtocol": "udp", "fromPort": 22, "toPort": 22, "cidrIpv4": OPEN}, []),
    (cloud.SG_INGRESS, {"ipProtocol": "-1", "cidrIpv6": "::/0"}, [_port(22, "::/0"), _port(3389, "::/0")]),
    (cloud.SG_INGRESS, {"fromPort": 22, "toPort": 22, "cidrIpv4": OPEN}, [_port(22, OPEN)]),
    # EKS remoteAccess without source security groups: SSH from anywhere (API_RemoteAccessConfig).
    (cloud.EKS_NODEGROUP, {"remoteAccess": {"ec2SshKey": "k"}},
     ["node group SSH (remoteAccess) is open to the internet (no sourceSecurityGroupIds)"]),
    (cloud.EKS_NODEGROUP, {"remoteAccess": {"ec2SshKey": "k", "sourceSecurityGroupIds": ["sg-1"]}}, []),
    (cloud.EKS_NODEGROUP, {}, []),
    (cloud.FIREWALL, {"sourceRanges": [OPEN], "allows": [{"protocol": "tcp", "ports": ["22"]}]}, [_port(22, OPEN)]),
    (cloud.FIREWALL, {"direction": "ingress", "sourceRanges": [OPEN], "allows": [{"protocol": "tcp", "ports": ["22"]}]},
     [_port(22, OPEN)]),
    (cloud.FIREWALL, {"direction": "EGRESS", "sourceRanges": [OPEN], "allows": [{"protocol": "tcp"}]}, []),
    (cloud.FIREWALL, {"disabled": True, "sourceRanges": [OPEN], "allows": [{"protocol": "tcp"}]}, []),
    (cloud.FIREWALL, {"disabled": False, "sourceRanges": [OPEN], "allows": [{"protocol": "tcp", "ports": ["22"]}]},
     [_port(22, OPEN)]),
    (cloud.FIREWALL, {"allows": [{"protocol": "tcp"}]},
     [_port(22, "no source: the API defaults it to 0.0.0.0/0"), _port(3389, "no source: the API defaults it to 0.0.0.0/0")]),
    (cloud.FIREWALL, {"sourceTags": ["bastion"], "allows": [{"protocol": "tcp"}]}, []),
    (cloud.FIREWALL, {"sourceServiceAccounts": ["sa@p.iam.gserviceaccount.com"], "allows": [{"protocol": "tcp"}]}, []),
    (cloud.FIREWALL, {"sourceRanges": [OPEN], "allows": [{"protocol": "udp", "ports": ["22"]}]}, []),
    (cloud.FIREWALL, {"sourceRanges": [OPEN], "allows": [{"protocol": "6", "ports": ["3389"]}]}, [_port(3389, OPEN)]),
    (cloud.FIREWALL, {"sourceRanges": [OPEN], "allows": [{"protocol": "tcp", "ports": ["80", "443"]}]}, []),
    (cloud.FIREWALL, {"sourceRanges": [OPEN], "allows": [{"protocol": "all"}]}, [_port(22, OPEN), _port(3389, OPEN)]),
    (cloud.NSG, {"securityRules": [
        {"name": "out", "direction": "Outbound", "access": "Allow", "protocol": "Tcp", "sourceAddressPrefix": "*",
         "destinationPortRange": "22"},
        {"name": "deny", "direction": "Inbound", "access": "Deny", "protocol": "Tcp", "sourceAddressPrefix": "*",
         "destinationPortRange": "22"},
        {"name": "udp", "direction": "Inbound", "access": "Allow", "protocol": "Udp", "sourceAddressPrefix": "*",
         "destinationPortRange": "22"},
        {"name": "vnet", "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
         "sourceAddressPrefix": "VirtualNetwork", "destinationPortRange": "22"},
        {"name": "any", "direction": "inbound", "access": "allow", "sourceAddressPrefix": "Internet"},
    ]}, ["rule 'any': port 22 is open to the internet (Internet)", "rule 'any': port 3389 is open to the internet (Internet)"]),
    (cloud.NSG_RULE, {"name": "r", "direction": "Inbound", "access": "Allow", "protocol": "TCP",
                      "sourceAddressPrefixes": ["0.0.0.0/1", "128.0.0.0/1"], "destinationPortRanges": ["3389", "20-23"]},
     ["rule 'r': port 22 is open to the internet (0.0.0.0/1 + 128.0.0.0/1 (together 0.0.0.0/0))",
      "rule 'r': port 3389 is open to the internet (0.0.0.0/1 + 128.0.0.0/1 (together 0.0.0.0/0))"]),
])
def test_admin_ports(t, props, messages):
    assert _run(cloud._admin_ports, t, props) == messages


def test_admin_ports_reads_the_configured_ports():
    props = {"ingress": [{"protocol": "tcp", "fromPort": 0, "toPort": 65535, "cidrBlocks": [OPEN]}]}
    assert _run(cloud._admin_ports, cloud.SG, props, adminPorts=[2222]) == [_port(2222, OPEN)]


# ---------------------------------------------------------------------- network-policy-enforced
# GKE enforces NetworkPolicy with Dataplane V2 or networkPolicy.enabled; AKS with a networkPolicy
# other than none (compared as Azure reads it, case-insensitively).

@pytest.mark.parametrize("t,props,flagged", [
    (cloud.GKE, {}, True),
    (cloud.GKE, {"networkPolicy": {"enabled": False}}, True),
    (cloud.GKE, {"networkPolicy": {"enabled": True}}, False),
    (cloud.GKE, {"datapathProvider": "ADVANCED_DATAPATH"}, False),
    (cloud.AKS, {}, True),
    (cloud.AKS, {"networkProfile": {"networkPolicy": "None"}}, True),
    (cloud.AKS, {"networkProfile": {"networkPolicy": "calico"}}, False),
])
def test_network_policy_on(t, props, flagged):
    message = {cloud.GKE: "GKE enforces no NetworkPolicy (enable Dataplane V2 or networkPolicy)",
               cloud.AKS: "AKS enforces no NetworkPolicy (networkProfile.networkPolicy)"}[t]
    assert _run(cloud._network_policy_on, t, props) == ([message] if flagged else [])


# ---------------------------------------------------------------------- tls-where-terminated
# ALB listener default protocol HTTP; ELB policies from TLS 1.2 by name prefix
# (describe-ssl-policies); GCP SSL policies: default COMPATIBLE from TLS_1_0, MODERN only from
# TLS_1_2, CUSTOM without checkov CKV_GCP_4's weak suites (ssl-policies-concepts).

HTTPS_PROXY = "gcp:compute/targetHttpsProxy:TargetHttpsProxy"
SSL_POLICY = cloud.GCP_SSL_POLICY[0]


@pytest.mark.parametrize("t,props,messages", [
    (cloud.LB_LISTENER[0], {}, ["load balancer listener terminates plain HTTP (no protocol: HTTP)"]),
    (cloud.LB_LISTENER[0], {"protocol": "HTTP", "defaultActions": [{"type": "redirect", "redirect": {}}]},
     ["load balancer listener terminates plain HTTP"]),
    (cloud.LB_LISTENER[0], {"protocol": "HTTP", "defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTPS"}}]},
     []),
    (cloud.LB_LISTENER[1], {"protocol": "HTTPS"},
     ["listener has no sslPolicy: the default, ELBSecurityPolicy-2016-08, allows TLS 1.0"]),
    (cloud.LB_LISTENER[0], {"protocol": "TLS", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}, []),
    (cloud.LB_LISTENER[0], {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"},
     ["listener TLS policy 'ELBSecurityPolicy-2016-08' allows TLS older than 1.2"]),
    (HTTPS_PROXY, {}, ["TargetHttpsProxy has no sslPolicy: Google's default policy (COMPATIBLE) allows TLS 1.0"]),
    (HTTPS_PROXY, {"sslPolicy": "projects/p/global/sslPolicies/tls12"}, []),
    (SSL_POLICY, {}, ["SSL policy COMPATIBLE from TLS_1_0 allows TLS older than 1.2 or weak ciphers "
                      "(use RESTRICTED, or MODERN from TLS_1_2)"]),
    (SSL_POLICY, {"profile": "MODERN"}, ["SSL policy MODERN from TLS_1_0 allows TLS older than 1.2 or weak ciphers "
                                         "(use RESTRICTED, or MODERN from TLS_1_2)"]),
    (SSL_POLICY, {"profile": "MODERN", "minTlsVersion": "TLS_1_3"}, []),
    (SSL_POLICY, {"profile": "MODERN", "minTlsVersion": "TLS_1_2"}, []),
    (SSL_POLICY, {"profile": "RESTRICTED"}, []),
    (SSL_POLICY, {"profile": "CUSTOM", "minTlsVersion": "TLS_1_3",
                  "customFeatures": ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                     "TLS_RSA_WITH_3DES_EDE_CBC_SHA"]},
     ["SSL policy enables weak cipher suites TLS_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_3DES_EDE_CBC_SHA"]),
    (SSL_POLICY, {"profile": "CUSTOM", "minTlsVersion": "TLS_1_1"}, ["SSL policy allows TLS_1_1 (minTlsVersion)"]),
])
def test_tls(t, props, messages):
    assert _run(cloud._tls, t, props) == messages


# ---------------------------------------------------------------------- tls-http-redirect-only
# An HTTP proxy only redirects when its URL map sends every request to HTTPS: defaultUrlRedirect with
# httpsRedirect, and no host rules, path matchers or default service
# (https://cloud.google.com/load-balancing/docs/https/setting-up-http-https-redirect).

REDIRECT = {"defaultUrlRedirect": {"httpsRedirect": True}}


@pytest.mark.parametrize("url_map,redirects", [
    (REDIRECT, True),
    ({**REDIRECT, "hostRules": [{"hosts": ["a.example"], "pathMatcher": "m"}]}, False),
    ({**REDIRECT, "pathMatchers": [{"name": "m", "defaultService": "svc"}]}, False),
    ({**REDIRECT, "defaultService": "svc"}, False),
    ({"defaultUrlRedirect": {"httpsRedirect": False}}, False),
    ({}, False),
])
def test_url_map_redirects_only(url_map, redirects):
    assert cloud._url_map_redirects_only(url_map) is redirects


HTTP_PROXY = cloud.GCP_HTTP_PROXY[0]
URL_MAP = cloud.GCP_URL_MAP[0]
SELF_LINK = "https://www.googleapis.com/compute/v1/projects/p/global/urlMaps/"


@pytest.mark.parametrize("proxy,maps,flagged", [
    # Tied by dependency (the urlMap input comes from the map).
    ({"deps": ["urn:redirect"]}, [("redirect", REDIRECT)], None),
    ({"deps": ["urn:app"]}, [("redirect", REDIRECT), ("app", {"defaultService": "svc"})], "serves"),
    # Tied by name: the last segment of the urlMap link (a trailing slash ignored) is the map's name,
    # its ``name`` property or else its resource name.
    ({"urlMap": SELF_LINK + "redirect"}, [("redirect", REDIRECT), ("app", {"defaultService": "svc"})], None),
    ({"urlMap": SELF_LINK + "redirect/"}, [("redirect", REDIRECT)], None),
    ({"urlMap": SELF_LINK + "app"}, [("redirect", REDIRECT), ("app", {"defaultService": "svc"})], "serves"),
    ({"urlMap": SELF_LINK + "other"}, [("redirect", REDIRECT)], "missing"),
    ({}, [("redirect", REDIRECT)], "missing"),
])
def test_http_redirect_only(proxy, maps, flagged):
    resources = [_res(URL_MAP, name, props) for name, props in maps]
    resources.append(_res(HTTP_PROXY, "proxy", {k: v for k, v in proxy.items() if k != "deps"}, proxy.get("deps", ())))
    message = {
        None: None,
        "serves": "HTTP proxy serves plain HTTP: its URL map does more than redirect every request to HTTPS "
                  "(defaultUrlRedirect.httpsRedirect)",
        "missing": "HTTP proxy whose URL map is not in the stack: nothing shows it only redirects to HTTPS",
    }[flagged]
    assert list(cloud._http_redirect_only(resources, CFG)) == ([("urn:proxy", message)] if message else [])


def test_http_redirect_only_a_map_named_by_its_name_property():
    resources = [_res(URL_MAP, "resource-name", {**REDIRECT, "name": "web-redirect"}),
                 _res(HTTP_PROXY, "proxy", {"urlMap": SELF_LINK + "web-redirect"})]
    assert list(cloud._http_redirect_only(resources, CFG)) == []


# ---------------------------------------------------------------------- secrets-envelope-encryption

EKS_SECRETS = "EKS secrets are not envelope-encrypted with a KMS key (encryptionConfig)"


@pytest.mark.parametrize("configs,flagged", [
    ([{"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}}], False),
    ([{"resources": ["configmaps"], "provider": {"keyArn": "arn:aws:kms:eu-west-1:1:key/k"}}], True),
    ([{"resources": ["secrets"], "provider": {"keyId": "k"}}], True),
    ([], True),
])
def test_eks_secrets_encryption(configs, flagged):
    assert _run(cloud._secrets_encryption, cloud.EKS, {"encryptionConfig": configs}) == ([EKS_SECRETS] if flagged else [])


def test_launch_template_without_block_devices():
    assert _run(cloud._disks, cloud.LAUNCH_TEMPLATE, {}) == ["launch template does not set an encrypted root volume"]


# ---------------------------------------------------------------------- kms-key-rotation
# AWS: "Automatic key rotation is supported only on symmetric encryption KMS keys. You cannot enable
# automatic rotation of asymmetric KMS keys, HMAC KMS keys, KMS keys with imported key material, or
# KMS keys in a custom key store" (KMS API reference, EnableKeyRotation,
# https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html). The rule asks
# rotation of the keys that can rotate, and only of those (a mandatory rule nobody can satisfy is
# a bug). Cloud KMS: symmetric (ENCRYPT_DECRYPT) keys rotate on rotationPeriod, a duration in
# seconds ("7776000s"), here within 1 to 90 days (https://cloud.google.com/kms/docs/key-rotation).

KMS_OFF = "KMS key rotation is off (enableKeyRotation)"


@pytest.mark.parametrize("props,messages", [
    ({}, [KMS_OFF]),
    ({"customerMasterKeySpec": "SYMMETRIC_DEFAULT"}, [KMS_OFF]),
    ({"enableKeyRotation": True}, []),
    ({"customerMasterKeySpec": "RSA_2048"}, []),
    ({"customerMasterKeySpec": "HMAC_256"}, []),
    ({"customKeyStoreId": "cks-1234567890abcdef0"}, []),
    # rotationPeriodInDays: 90 to 2560 (pulumi-aws kms.Key), 365 when absent (API_EnableKeyRotation).
    ({"enableKeyRotation": True, "rotationPeriodInDays": 90}, []),
    ({"enableKeyRotation": True, "rotationPeriodInDays": 365}, []),
    ({"enableKeyRotation": True, "rotationPeriodInDays": 366}, [
        "KMS key rotates every 366 days, not yearly or sooner (rotationPeriodInDays at most 365)"]),
    ({"enableKeyRotation": True, "rotationPeriodInDays": 2560}, [
        "KMS key rotates every 2560 days, not yearly or sooner (rotationPeriodInDays at most 365)"]),
    ({"enableKeyRotation": False, "rotationPeriodInDays": 2560}, [KMS_OFF]),
    ({"customerMasterKeySpec": "HMAC_256", "rotationPeriodInDays": 2560}, []),
])
def test_aws_kms_key_rotation(props, messages):
    assert _run(cloud._key_rotation, cloud.KMS_KEY, props) == messages


def _rotates(days):
    return f"Cloud KMS key rotates every {days} days, not within 1 to 90 (rotationPeriod)"


@pytest.mark.parametrize("props,messages", [
    ({}, ["Cloud KMS key has no rotationPeriod: it never rotates"]),
    ({"purpose": "ASYMMETRIC_SIGN"}, []),
    ({"rotationPeriod": "86400s"}, []),
    ({"rotationPeriod": "7776000s"}, []),
    ({"rotationPeriod": "7862400s"}, [_rotates("91")]),
    ({"rotationPeriod": "43200s"}, [_rotates("0.5")]),
    ({"rotationPeriod": "8000000s"}, [_rotates("92.6")]),
    ({"rotationPeriod": "90d"}, ["Cloud KMS key has no rotationPeriod: it never rotates"]),
])
def test_cloud_kms_key_rotation(props, messages):
    assert _run(cloud._key_rotation, cloud.CRYPTO_KEY, props) == messages


# ---------------------------------------------------------------------- Key Vault

def test_key_vault_key_kty_unset_is_named():
    assert _run(cloud._key_vault_hsm, cloud.KEY_VAULT_KEY, {}) == ["Key Vault key is not HSM-backed (properties.kty ?)"]


def _aks(name, key_id=None, deps=(), network_access=None, vnet=None):
    kms = {"enabled": True}
    if key_id:
        kms["keyId"] = key_id
    if network_access:
        kms["keyVaultNetworkAccess"] = network_access
    props = {"securityProfile": {"azureKeyVaultKms": kms}}
    if vnet is not None:
        props["apiServerAccessProfile"] = {"enableVnetIntegration": vnet}
    return _res(cloud.AKS, name, props, deps)


@pytest.mark.parametrize("key_id,key_props,found", [
    # https://<vault>.vault.azure.net/keys/<key>/<version>: vault names are global DNS names, case-insensitive.
    ("https://Kv1.vault.azure.net/keys/Etcd/0123", {"vaultName": "kv1", "keyName": "etcd"}, True),
    ("https://kv1.vault.azure.net/keys/etcd", {"vaultName": "kv2", "keyName": "etcd"}, False),
    # A key whose vaultName or keyName is unknown/unset matches no vault, whatever the URL says.
    ("https://none.vault.azure.net/keys/etcd", {"keyName": "etcd"}, False),
    ("https://xxxx.vault.azure.net/keys/etcd", {"keyName": "etcd"}, False),
    ("https://kv1.vault.azure.net/keys/none", {"vaultName": "kv1"}, False),
    ("https://kv1.vault.azure.net/keys/xxxx", {"vaultName": "kv1"}, False),
])
def test_keys_of_by_key_id(key_id, key_props, found):
    key = _res(cloud.KEY_VAULT_KEY, "key", key_props)
    assert cloud._keys_of(_aks("aks", key_id), [key]) == ([key] if found else [])


@pytest.mark.parametrize("key_props,vault_props,found", [
    ({"vaultName": "KV1"}, {"vaultName": "kv1"}, True),
    ({"vaultName": "kv1"}, {"vaultName": "kv2"}, False),
    ({}, {"vaultName": "None"}, False),
    ({}, {"vaultName": "xxxx"}, False),
    ({"vaultName": "None"}, {}, False),
    ({"vaultName": "xxxx"}, {}, False),
])
def test_vault_of_by_name(key_props, vault_props, found):
    vault = _res(cloud.KEY_VAULT, "vault", vault_props)
    assert cloud._vault_of(_res(cloud.KEY_VAULT_KEY, "key", key_props), [vault]) == ([vault] if found else [])


PUBLIC_VAULT = {"properties": {"publicNetworkAccess": "Enabled", "networkAcls": {"defaultAction": "Allow"}}}


def test_key_vault_private_exempts_each_public_kms_vault_whatever_clusters_come_first():
    # AKS KMS limitations: without API Server VNet Integration the KMS vault must stay public.
    resources = [
        _aks("private-access", deps=("urn:k1",), network_access="Private"),
        _aks("vnet", deps=("urn:k1",), vnet=True),
        _aks("public", deps=("urn:k2",)),
        _res(cloud.KEY_VAULT, "v1", PUBLIC_VAULT),
        _res(cloud.KEY_VAULT, "v2", PUBLIC_VAULT),
        _res(cloud.KEY_VAULT_KEY, "k1", {"vaultName": "v1"}, ("urn:v1",)),
        _res(cloud.KEY_VAULT_KEY, "k2", {"vaultName": "v2"}, ("urn:v2",)),
    ]
    found = list(cloud._key_vault_private(resources, CFG))
    assert [urn for urn, _ in found] == ["urn:v1", "urn:v1"]


def test_key_vault_rotation_judges_every_key():
    rotates = {"properties": {"rotationPolicy": {"lifetimeActions": [{"action": {"type": "Rotate"}}]}}}
    resources = [_res(cloud.KEY_VAULT_KEY, "k1", rotates), _res(cloud.KEY_VAULT_KEY, "k2", {})]
    assert list(cloud._key_vault_rotation(resources, CFG)) == [
        ("urn:k2", "Key Vault key has no rotation policy that rotates it (properties.rotationPolicy.lifetimeActions)")]


# ---------------------------------------------------------------------- identity and audit

def test_gke_workload_identity_pool_unset():
    assert _run(cloud._workload_identity, cloud.GKE, {"workloadIdentityConfig": {"workloadPool": None}}) == [
        "GKE Workload Identity is off (workloadIdentityConfig.workloadPool)"]


def test_eks_oidc_judges_every_cluster():
    resources = [
        _res(cloud.VPC, "vpc"),
        _res(cloud.EKS, "a"),
        _res(cloud.OIDC_PROVIDER, "oidc-a", {"url": "https://oidc.eks/a"}, ("urn:a",)),
        _res(cloud.EKS, "b", {"identities": [{"oidcs": [{"issuer": "https://oidc.eks/b"}]}]}),
        _res(cloud.EKS, "c"),
    ]
    assert list(cloud._eks_oidc(resources, CFG)) == [
        ("urn:b", "EKS cluster has no IAM OIDC provider of its own: IRSA (workload identity) is off"),
        ("urn:c", "EKS cluster has no IAM OIDC provider of its own: IRSA (workload identity) is off")]


def test_node_auto_provisioning_without_service_account_uses_the_default():
    props = {"clusterAutoscaling": {"enabled": True, "autoProvisioningDefaults": {"oauthScopes": ["x"]}},
             "removeDefaultNodePool": True}
    assert _run(cloud._default_sa, cloud.GKE, props) == [
        "node auto-provisioning creates nodes as the default compute service account"]


@pytest.mark.parametrize("props,messages", [
    ({"loggingService": "none"}, ["GKE logging is off (loggingService none)",
                                  "GKE API server logs are off (loggingConfig.enableComponents has no APISERVER)"]),
    ({"loggingService": "logging.googleapis.com/kubernetes",
      "loggingConfig": {"enableComponents": ["SYSTEM_COMPONENTS", "APISERVER"]}}, []),
])
def test_gke_audit_logs(props, messages):
    assert _run(cloud._audit_logs, cloud.GKE, props) == messages


AKS_AUDIT = ("AKS control-plane audit logs are not collected (no diagnostic setting of this cluster with "
             "kube-audit or kube-audit-admin)")
ARM = "/subscriptions/s/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/AKS1"
AUDIT = {"logs": [{"category": "kube-audit", "enabled": True}]}


@pytest.mark.parametrize("settings,flagged", [
    ([_res(cloud.DIAGNOSTIC_SETTING[0], "d", AUDIT, ("urn:aks1",))], False),
    ([_res(cloud.DIAGNOSTIC_SETTING[0], "d", {"logs": [{"category": "kube-audit", "enabled": False}]}, ("urn:aks1",))],
     True),
    ([_res(cloud.DIAGNOSTIC_SETTING[1], "d", {**AUDIT, "resourceUri": ARM + "/"})], False),
    ([_res(cloud.DIAGNOSTIC_SETTING[0], "d", {**AUDIT, "resourceUri": ARM.replace("AKS1", "AKS2")})], True),
])
def test_aks_audit(settings, flagged):
    aks = [_res(cloud.AKS, "aks0", {"resourceName": "aks0", "resourceGroupName": "rg"}, ()),
           _res(cloud.AKS, "aks1", {"resourceName": "aks1", "resourceGroupName": "rg"}, ())]
    # aks0 has an audited setting of its own, first: it must not end the search for aks1's.
    own0 = _res(cloud.DIAGNOSTIC_SETTING[0], "d0", AUDIT, ("urn:aks0",))
    found = list(cloud._aks_audit([*aks, own0, *settings], CFG))
    assert found == ([("urn:aks1", AKS_AUDIT)] if flagged else [])


def test_aks_arm_id_needs_both_name_and_group():
    assert cloud._aks_arm_id(_res(cloud.AKS, "a", {"resourceName": "a"})) is None
    assert cloud._aks_arm_id(_res(cloud.AKS, "a", {"resourceGroupName": "rg"})) is None


# ---------------------------------------------------------------------- cloud-iam-least-privilege
# IAM JSON policy grammar: Action and Resource are a string or a list of strings
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html). Every statement
# must carry Effect; the rule judges one without it as an Allow (it fails closed, never open).

ALL = 'allows every action (Action "*")'


@pytest.mark.parametrize("statements,messages", [
    ([{"Action": "*", "Resource": "*"}], [f"policy Statement[0] {ALL}"]),
    ([{"Effect": "Deny", "Action": "*", "Resource": "*"}, {"Effect": "Allow", "Action": ["*"], "Resource": ["*"]}],
     [f"policy Statement[1] {ALL}"]),
    ([{"Effect": "Allow", "Action": ["s3:*", "ec2:*", "iam:GetRole"], "Resource": "*"}],
     ['policy Statement[0] allows every action of s3:*, ec2:* on every resource (Resource "*")']),
    ([{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}], []),
    ([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"}],
     ["policy Statement[0] allows everything but its NotAction"]),
])
def test_policy_documents(statements, messages):
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    assert _run(cloud._cloud_iam, cloud.IAM_POLICY_DOCS[0], {"policy": document}) == messages


def test_role_inline_policies_and_managed_arns():
    props = {"inlinePolicies": [{"name": "ok", "policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                                                   "Resource": "*"}]})},
                                {"name": "admin", "policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "*",
                                                                                      "Resource": "*"}]})}],
             "managedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", cloud.ADMIN_POLICY_ARN]}
    assert _run(cloud._cloud_iam, cloud.IAM_ROLE, props) == [
        f"inline policy 'admin' Statement[0] {ALL}", "role has AdministratorAccess (managedPolicyArns)"]
    assert _run(cloud._cloud_iam, cloud.IAM_ROLE, {"managedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}) == []


OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"  # built-in-roles: Owner


@pytest.mark.parametrize("role_id,messages", [
    (f"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{OWNER}",
     ["assigns Owner: it can grant any access in its scope"]),
    (f"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{OWNER.upper()}/",
     ["assigns Owner: it can grant any access in its scope"]),
    (OWNER, ["assigns Owner: it can grant any access in its scope"]),
    ("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7", []),
])
def test_azure_role_assignment(role_id, messages):
    assert _run(cloud._cloud_iam, cloud.ROLE_ASSIGNMENT, {"roleDefinitionId": role_id}) == messages


# ---------------------------------------------------------------------- node-hardening

def test_gce_serial_port_enabled_as_1():
    # GCE metadata serial-port-enable takes "TRUE" or "1" (checkov CKV_GCP_35).
    props = {"shieldedInstanceConfig": {"enableSecureBoot": True}, "metadata": {"block-project-ssh-keys": "true",
                                                                                 "serial-port-enable": "1"}}
    assert _run(cloud._node_hardening, cloud.GCE_INSTANCE[0], props) == [
        "the interactive serial console is on (metadata serial-port-enable)"]


# ---------------------------------------------------------------------- logging

def test_flow_logs_every_subnetwork_that_carries_vm_traffic():
    # Proxy-only and Private Service Connect subnets take no logConfig.
    resources = [_res(cloud.GCP_SUBNET, "proxy", {"purpose": "REGIONAL_MANAGED_PROXY"}),
                 _res(cloud.GCP_SUBNET, "rfc1918", {"purpose": "PRIVATE_RFC_1918"}),
                 _res(cloud.GCP_SUBNET, "nat", {"purpose": "PRIVATE_NAT"}),
                 _res(cloud.GCP_SUBNET, "logged", {"logConfig": {"aggregationInterval": "INTERVAL_5_SEC"}})]
    assert [urn for urn, _ in cloud._flow_logs(resources, CFG)] == ["urn:rfc1918", "urn:nat"]


@pytest.mark.parametrize("props,messages", [
    ({}, ["application load balancer writes no access logs (accessLogs.enabled)"]),
    ({"loadBalancerType": "network"}, ["network load balancer writes no access logs (accessLogs.enabled)"]),
    ({"loadBalancerType": "gateway"}, []),
    ({"accessLogs": {"enabled": True, "bucket": "b"}}, []),
])
def test_lb_access_logs(props, messages):
    assert _run(cloud._lb_access_logs, cloud.AWS_LB[0], props) == messages


# ---------------------------------------------------------------------- cluster-lifecycle

@pytest.mark.parametrize("version,minor", [("1.36.2-gke.100", "1.36"), ("v1.35.0", "1.35"), ("latest", None), ("", None)])
def test_minor(version, minor):
    assert cloud._minor(version) == minor


def _unsupported(what, version, target):
    return f"{what} {version} is not supported ({', '.join(offered(target))})"


NEWEST = {t: offered(t)[-1] for t in ("eks", "gke", "aks")}


@pytest.mark.parametrize("t,props,messages", [
    (cloud.EKS, {}, ["EKS version is not pinned"]),
    (cloud.EKS, {"version": "1.20"}, [_unsupported("EKS version", "1.20", "eks")]),
    (cloud.GKE, {"releaseChannel": {"channel": "UNSPECIFIED"}}, ["GKE has no release channel"]),
    (cloud.GKE, {"releaseChannel": {}}, ["GKE has no release channel"]),
    (cloud.GKE, {"releaseChannel": {"channel": "REGULAR"}, "minMasterVersion": "latest"}, []),
    (cloud.GKE, {"releaseChannel": {"channel": "REGULAR"}, "minMasterVersion": "1.20.1-gke.1"},
     [_unsupported("GKE version", "1.20.1-gke.1", "gke")]),
    (cloud.GKE_POOL, {"management": {"autoRepair": True, "autoUpgrade": False}}, ["GKE node auto-upgrade is off"]),
    (cloud.GKE_POOL, {"management": {"autoUpgrade": True}}, ["GKE node auto-repair is off"]),
    (cloud.GKE_POOL, {"management": {"autoRepair": True, "autoUpgrade": True}, "version": "1.20.1-gke.1"},
     [_unsupported("GKE node version", "1.20.1-gke.1", "gke")]),
    (cloud.GKE_POOL, {"management": {"autoRepair": True, "autoUpgrade": True}, "version": "latest"}, []),
    (cloud.GKE_POOL, {"management": {"autoRepair": True, "autoUpgrade": True}, "version": f"{NEWEST['gke']}.1-gke.2"}, []),
    (cloud.AKS, {"autoUpgradeProfile": {"upgradeChannel": "None"}}, ["AKS has no upgrade channel"]),
    (cloud.AKS, {"autoUpgradeProfile": {"upgradeChannel": "stable"}, "kubernetesVersion": "1.20.0",
                 "agentPoolProfiles": [{"name": "sys", "orchestratorVersion": "1.21.0"}, {"name": "user"}]},
     [_unsupported("AKS version", "1.20.0", "aks"), _unsupported("AKS pool 'sys' version", "1.21.0", "aks")]),
    (cloud.AKS_POOL, {"orchestratorVersion": "1.20.0"}, [_unsupported("AKS pool version", "1.20.0", "aks")]),
    (cloud.AKS_POOL, {"orchestratorVersion": f"{NEWEST['aks']}.0"}, []),
    (cloud.AKS_POOL, {}, []),
    (cloud.EKS_NODEGROUP, {"version": "1.20"}, []),
])
def test_lifecycle(t, props, messages):
    assert _run(cloud._lifecycle, t, props) == messages


def test_key_vault_private_judges_every_vault_after_a_private_one():
    private = {"properties": {"publicNetworkAccess": "Disabled", "networkAcls": {"defaultAction": "Deny"}}}
    resources = [_res(cloud.KEY_VAULT, "private", private), _res(cloud.KEY_VAULT, "public", PUBLIC_VAULT)]
    assert [urn for urn, _ in cloud._key_vault_private(resources, CFG)] == ["urn:public", "urn:public"]


def test_aks_audit_judges_clusters_after_other_resources():
    resources = [_res(cloud.DIAGNOSTIC_SETTING[0], "d", {"logs": []}), _res(cloud.AKS, "aks", {})]
    assert list(cloud._aks_audit(resources, CFG)) == [("urn:aks", AKS_AUDIT)]
