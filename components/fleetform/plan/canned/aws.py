"""Canned outputs for the AWS resources and invokes whose outputs fleetform reads (EKS and
self-managed targets).

Deterministic: every value is derived from the resource's name, region and inputs, so two plans
of the same config give the same answers. No cloud SDK is imported here (see
``fleetform.plan.canned``). The account and deployer identity are fixed placeholders.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

ACCOUNT = "123456789012"
"""The placeholder AWS account every canned ARN lives in."""
DEPLOYER_ROLE = "fleetform-deployer"
"""The role the canned caller identity (whoever runs `pulumi up`) assumed."""

# Zone-ID prefixes of AWS regions: the country code plus the direction's initials
# (us-east-1 -> use1, ap-southeast-2 -> apse2, ca-central-1 -> cac1).
_DIRECTIONS = {
    "east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
}


def _region(inputs: dict[str, Any]) -> str:
    return str(inputs.get("region") or "us-east-1")


def _hex(*parts: str, length: int = 32) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length].upper()


def _zone_id_prefix(region: str) -> str:
    parts = region.split("-")
    country, number = parts[0], parts[-1]
    direction = "".join(_DIRECTIONS.get(p, p[:1]) for p in parts[1:-1] if p not in ("gov", "iso", "isob"))
    return f"{country}{direction}{number}"


# ------------------------------------------------------------------------------------ resources


def _eks_cluster(args) -> dict[str, Any]:
    name = args.inputs.get("name") or args.name
    region = _region(args.inputs)
    ident = _hex("eks", region, name)
    pem = f"-----BEGIN CERTIFICATE-----\nPLAN-ONLY-CA-{ident}\n-----END CERTIFICATE-----\n"
    vpc_config = dict(args.inputs.get("vpcConfig") or {})
    vpc_config.update({"clusterSecurityGroupId": f"sg-{ident[:17].lower()}", "vpcId": "vpc-plan"})
    return {
        "arn": f"arn:aws:eks:{region}:{ACCOUNT}:cluster/{name}",
        "endpoint": f"https://{ident}.gr7.{region}.eks.amazonaws.com",
        "certificateAuthority": {"data": base64.b64encode(pem.encode()).decode()},
        "identities": [{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{ident}"}]}],
        "vpcConfig": vpc_config,
        "status": "ACTIVE",
    }


def _oidc_provider(args) -> dict[str, Any]:
    url = str(args.inputs.get("url") or args.name).removeprefix("https://")
    return {"arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url}"}


def _kms_key(args) -> dict[str, Any]:
    key_id = _hex("kms", args.name).lower()
    key_id = f"{key_id[:8]}-{key_id[8:12]}-{key_id[12:16]}-{key_id[16:20]}-{key_id[20:32]}"
    return {"arn": f"arn:aws:kms:{_region(args.inputs)}:{ACCOUNT}:key/{key_id}", "keyId": key_id}


def _iam_role(args) -> dict[str, Any]:
    name = args.inputs.get("name") or args.name
    return {"arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "name": name, "uniqueId": "AROA" + _hex("role", name, length=17)}


def _instance_profile(args) -> dict[str, Any]:
    name = args.inputs.get("name") or args.name
    return {"arn": f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}", "name": name,
            "uniqueId": "AIPA" + _hex("instance-profile", name, length=17)}


def _launch_template(args) -> dict[str, Any]:
    return {"latestVersion": 1, "arn": f"arn:aws:ec2:{_region(args.inputs)}:{ACCOUNT}:launch-template/lt-{_hex('lt', args.name, length=17).lower()}"}


def _log_group(args) -> dict[str, Any]:
    name = args.inputs.get("name") or args.name
    return {"arn": f"arn:aws:logs:{_region(args.inputs)}:{ACCOUNT}:log-group:{name}"}


def _load_balancer(args) -> dict[str, Any]:
    """A placeholder ELB in AWS's shape: ``<name>-<id>.elb.<region>.amazonaws.com``, prefixed
    ``internal-`` for internal load balancers so a plan tells the two apart."""
    name = args.inputs.get("name") or args.name
    region = _region(args.inputs)
    kind = "net" if args.inputs.get("loadBalancerType") == "network" else "app"
    ident = _hex("lb", region, name, length=16).lower()
    prefix = "internal-" if args.inputs.get("internal") else ""
    return {
        "arn": f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:loadbalancer/{kind}/{name}/{ident}",
        "arnSuffix": f"{kind}/{name}/{ident}",
        "dnsName": f"{prefix}{name}-{ident}.elb.{region}.amazonaws.com",
        "zoneId": "ZPLAN" + _hex("zone", region, length=9),
    }


def _target_group(args) -> dict[str, Any]:
    name = args.inputs.get("name") or args.name
    region = _region(args.inputs)
    ident = _hex("tg", region, name, length=16).lower()
    return {
        "arn": f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:targetgroup/{name}/{ident}",
        "arnSuffix": f"targetgroup/{name}/{ident}",
    }


def _listener(args) -> dict[str, Any]:
    region = _region(args.inputs)
    return {"arn": f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}:listener/net/{args.name}/{_hex('listener', args.name, length=16).lower()}"}


def _instance(args) -> dict[str, Any]:
    ident = "i-" + _hex("instance", args.name, length=17).lower()
    return {"arn": f"arn:aws:ec2:{_region(args.inputs)}:{ACCOUNT}:instance/{ident}"}


def _eip(args) -> dict[str, Any]:
    """A public address from TEST-NET-3 (RFC 5737), distinct per Elastic IP."""
    return {"publicIp": f"203.0.113.{int(_hex('eip', args.name, length=4), 16) % 254 + 1}"}


def _s3_bucket(args) -> dict[str, Any]:
    """A bucket named as Pulumi auto-names one (logical name, '-', 7 random characters; here a hash
    of the name, so plans are deterministic) unless the program names it."""
    name = args.inputs.get("bucket") or f"{args.name}-{_hex('bucket', args.name, length=7).lower()}"
    return {"bucket": name, "arn": f"arn:aws:s3:::{name}", "bucketDomainName": f"{name}.s3.amazonaws.com"}


OUTPUTS = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:kms/key:Key": _kms_key,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/instanceProfile:InstanceProfile": _instance_profile,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:ec2/instance:Instance": _instance,
    "aws:ec2/eip:Eip": _eip,
    "aws:s3/bucket:Bucket": _s3_bucket,
}


# ------------------------------------------------------------------------------------ invokes


def _availability_zones(args) -> dict[str, Any]:
    """Six zones a-f per region, with zone IDs az1-az6; honours excludeZoneIds and excludeNames."""
    inputs = args.args
    region = _region(inputs)
    prefix = _zone_id_prefix(region)
    zones = [(f"{region}{letter}", f"{prefix}-az{i + 1}") for i, letter in enumerate("abcdef")]
    excluded_ids = set(inputs.get("excludeZoneIds") or [])
    excluded_names = set(inputs.get("excludeNames") or [])
    zones = [(n, z) for n, z in zones if z not in excluded_ids and n not in excluded_names]
    return {
        "id": region,
        "names": [n for n, _ in zones],
        "zoneIds": [z for _, z in zones],
        "groupNames": [region] * len(zones),
        "state": inputs.get("state"),
        "region": region,
    }


def _caller_identity(args) -> dict[str, Any]:
    return {
        "id": ACCOUNT,
        "accountId": ACCOUNT,
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{DEPLOYER_ROLE}/fleetform-plan",
        "userId": f"AROAPLAN:{DEPLOYER_ROLE}",
    }


def _session_context(args) -> dict[str, Any]:
    """IAM's view of an STS ARN: an assumed-role session's issuer is the role itself."""
    arn = str(args.args.get("arn") or "")
    parts = arn.split(":", 5)
    resource = parts[5] if len(parts) == 6 else ""
    if resource.startswith("assumed-role/"):
        _, role, session = resource.split("/", 2)
        issuer = f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
        return {"id": arn, "arn": arn, "issuerArn": issuer, "issuerId": f"AROAPLAN{role.upper()}",
                "issuerName": role, "sessionName": session}
    return {"id": arn, "arn": arn, "issuerArn": arn, "issuerId": "", "issuerName": resource.split("/")[-1], "sessionName": ""}


def _ssm_parameter(args) -> dict[str, Any]:
    """AWS's public AMI parameters (``/aws/service/...``/ami-id) answer an AMI ID derived from
    the region and the parameter; any other parameter is unexpected in a plan."""
    name = str(args.args.get("name") or "")
    region = _region(args.args)
    if not (name.startswith("/aws/service/") and name.endswith("/ami-id")):
        raise ValueError(f"no canned value for SSM parameter {name!r}: only public AMI parameters are planned")
    ami = "ami-" + _hex("ami", region, name, length=17).lower()
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:ssm:{region}::parameter{name}",
        "type": "String",
        "value": ami,
        "insecureValue": ami,
        "version": 1,
        "withDecryption": bool(args.args.get("withDecryption", True)),
        "region": region,
    }


def _hosted_zone(args) -> dict[str, Any]:
    """A public hosted zone looked up by name (global traffic on Route 53): a placeholder ID derived
    from the name; a private zone is unexpected (fleetform asks for public zones only)."""
    name = str(args.args.get("name") or "").rstrip(".")
    if not name or args.args.get("privateZone"):
        raise ValueError(f"no canned value for hosted zone {name!r}: only public zones looked up by name are planned")
    zone_id = "Z" + _hex("zone", name, length=20)
    return {"id": zone_id, "zoneId": zone_id, "name": name + ".", "privateZone": False, "nameServers": [],
            "arn": f"arn:aws:route53:::hostedzone/{zone_id}", "comment": "", "callerReference": "",
            "resourceRecordSetCount": 2, "tags": {}, "linkedServiceDescription": "", "linkedServicePrincipal": "",
            "primaryNameServer": "", "enableAcceleratedRecovery": False}


def _lb_hosted_zone(args) -> dict[str, Any]:
    """The canonical hosted zone of a region's load balancers (alias targets): a placeholder per
    region and load balancer type."""
    region = _region(args.args)
    kind = str(args.args.get("loadBalancerType") or "application")
    return {"id": "Z" + _hex("lb-zone", region, kind, length=13), "region": region, "loadBalancerType": kind}


INVOKES = {
    "aws:route53/getZone:getZone": _hosted_zone,
    "aws:lb/getHostedZoneId:getHostedZoneId": _lb_hosted_zone,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:iam/getSessionContext:getSessionContext": _session_context,
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
}
