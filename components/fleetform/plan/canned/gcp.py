"""Canned outputs of the ``gcp`` resources and invokes whose results fleetform reads (offline plan
only; no cloud SDK is imported here).

Every value is deterministic and obviously not real: documentation IP ranges (RFC 5737), a
project id and number that no GCP project has, a CA that is not a certificate. Under a real
``pulumi up`` none of this exists: the provider returns the real values.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

PLAN_PROJECT_ID = "fleetform-offline-plan"
"""Stands for the provider's default project when ``gcp:project`` is not set (plan only)."""
PLAN_PROJECT_NUMBER = "000000000000"

COMPUTE = "https://www.googleapis.com/compute/v1"


def _configured_project() -> str:
    from pulumi.runtime.config import get_config

    return get_config("gcp:project") or PLAN_PROJECT_ID


def _project(inputs: dict[str, Any]) -> str:
    return inputs.get("project") or _configured_project()


def _octet(name: str) -> int:
    """1-254, stable for a name (a different cluster gets a different canned address)."""
    return zlib.crc32(name.encode()) % 254 + 1


def _name(args) -> str:
    return args.inputs.get("name") or args.name


def _network(args) -> dict[str, Any]:
    return {"name": _name(args), "selfLink": f"{COMPUTE}/projects/{_project(args.inputs)}/global/networks/{_name(args)}"}


def _regional(kind: str):
    def outputs(args) -> dict[str, Any]:
        region = args.inputs.get("region", "region")
        return {
            "name": _name(args),
            "selfLink": f"{COMPUTE}/projects/{_project(args.inputs)}/regions/{region}/{kind}/{_name(args)}",
        }

    return outputs


def _router_nat(args) -> dict[str, Any]:
    return {"name": _name(args)}


def _service_account(args) -> dict[str, Any]:
    return {"email": f"{args.inputs.get('accountId', args.name)}@{_project(args.inputs)}.iam.gserviceaccount.com"}


def _cluster(args) -> dict[str, Any]:
    name = _name(args)
    ca_pem = f"-----BEGIN CERTIFICATE-----\nfleetform offline plan: canned CA of {name}\n-----END CERTIFICATE-----\n"
    private_cfg = dict(args.inputs.get("privateClusterConfig") or {})
    private_cfg.update(privateEndpoint=f"192.0.2.{_octet(name)}", publicEndpoint=f"198.51.100.{_octet(name)}")
    master_auth = dict(args.inputs.get("masterAuth") or {})
    master_auth["clusterCaCertificate"] = base64.b64encode(ca_pem.encode()).decode()
    return {"endpoint": f"198.51.100.{_octet(name)}", "masterAuth": master_auth, "privateClusterConfig": private_cfg}


def _host(name: str) -> int:
    """1-254, stable for a name, from a different hash than :func:`_octet` (fewer collisions
    between the handful of addresses one stack reserves)."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 254 + 1


def _address(args) -> dict[str, Any]:
    """A reserved address: the one asked for, else internal ones from 192.0.2.0/24 and external
    ones from 203.0.113.0/24 (RFC 5737 documentation ranges)."""
    name = _name(args)
    region = args.inputs.get("region", "region")
    internal = args.inputs.get("addressType") == "INTERNAL"
    ip = args.inputs.get("address") or (f"192.0.2.{_host(name)}" if internal else f"203.0.113.{_host(name)}")
    return {"address": ip, "selfLink": f"{COMPUTE}/projects/{_project(args.inputs)}/regions/{region}/addresses/{name}"}


def _zonal(kind: str):
    def outputs(args) -> dict[str, Any]:
        zone = args.inputs.get("zone", "zone")
        return {"name": _name(args), "selfLink": f"{COMPUTE}/projects/{_project(args.inputs)}/zones/{zone}/{kind}/{_name(args)}"}

    return outputs


def _instance_template(args) -> dict[str, Any]:
    name = _name(args)
    link = f"{COMPUTE}/projects/{_project(args.inputs)}/global/instanceTemplates/{name}"
    return {"name": name, "selfLink": link, "selfLinkUnique": f"{link}?uniqueId={zlib.crc32(name.encode())}"}


def _region_instance_group_manager(args) -> dict[str, Any]:
    name = _name(args)
    region = args.inputs.get("region", "region")
    base = f"{COMPUTE}/projects/{_project(args.inputs)}/regions/{region}"
    return {"name": name, "instanceGroup": f"{base}/instanceGroups/{name}", "selfLink": f"{base}/instanceGroupManagers/{name}"}


def _secret(args) -> dict[str, Any]:
    return {"name": f"projects/{PLAN_PROJECT_NUMBER}/secrets/{args.inputs.get('secretId', args.name)}"}


def _instance_group_manager(args) -> dict[str, Any]:
    """A zonal managed instance group: its group's URL is what the Cluster Autoscaler's ``--nodes`` names."""
    name = _name(args)
    base = f"{COMPUTE}/projects/{_project(args.inputs)}/zones/{args.inputs.get('zone', 'zone')}"
    return {"name": name, "instanceGroup": f"{base}/instanceGroups/{name}", "selfLink": f"{base}/instanceGroupManagers/{name}"}


def _custom_role(args) -> dict[str, Any]:
    return {"name": f"projects/{_project(args.inputs)}/roles/{args.inputs.get('roleId', args.name)}"}


def _secret_version(args) -> dict[str, Any]:
    # fleetform names a secret version's resource like its secret (and the secret id).
    return {"name": f"projects/{PLAN_PROJECT_NUMBER}/secrets/{args.name}/versions/1", "version": "1"}


OUTPUTS = {
    "gcp:compute/network:Network": _network,
    "gcp:compute/subnetwork:Subnetwork": _regional("subnetworks"),
    "gcp:compute/router:Router": _regional("routers"),
    "gcp:compute/routerNat:RouterNat": _router_nat,
    "gcp:serviceaccount/account:Account": _service_account,
    "gcp:container/cluster:Cluster": _cluster,
    "gcp:compute/address:Address": _address,
    "gcp:compute/instance:Instance": _zonal("instances"),
    "gcp:compute/instanceGroup:InstanceGroup": _zonal("instanceGroups"),
    "gcp:compute/instanceTemplate:InstanceTemplate": _instance_template,
    "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager": _region_instance_group_manager,
    "gcp:secretmanager/secret:Secret": _secret,
    "gcp:secretmanager/secretVersion:SecretVersion": _secret_version,
    "gcp:compute/instanceGroupManager:InstanceGroupManager": _instance_group_manager,
    "gcp:projects/iAMCustomRole:IAMCustomRole": _custom_role,
}


def _get_project(args) -> dict[str, Any]:
    project = args.args.get("projectId") or _configured_project()
    return {"id": f"projects/{project}", "projectId": project, "number": PLAN_PROJECT_NUMBER, "name": project}


def _get_zones(args) -> dict[str, Any]:
    """Three zones, listed out of order (the program sorts them)."""
    region = args.args.get("region") or "region"
    project = args.args.get("project") or _configured_project()
    return {
        "id": f"projects/{project}/regions/{region}",
        "names": [f"{region}-{z}" for z in ("c", "a", "b")],
        "project": project,
        "region": region,
    }


INVOKES = {
    "gcp:organizations/getProject:getProject": _get_project,
    "gcp:compute/getZones:getZones": _get_zones,
}
