"""Target ``gcp``, mode ``self-managed``: how a Compute Engine VM gets its k3s bootstrap (split from
:mod:`.selfmanaged_gcp`): the VM's ``user-data``, the fetcher it runs, the metadata keys every VM
gets, the boot image, and Compute Engine's resource-name rules.

Bootstrap secrets never sit in instance metadata: anyone with ``compute.instances.get`` (the
project Viewer role) can read a VM's metadata, and Compute Engine has no equivalent of AWS's
IMDSv2 hop limit to keep pods off the metadata server. So each node's bootstrap script (join
token, and on the first master the cluster CA keys) is a Secret Manager secret version, readable
only by its node role's service account; ``user-data`` holds a small cloud-config that fetches
that version with the VM's own token and runs it.
"""

from __future__ import annotations

import base64
import hashlib
import shlex
from collections.abc import Sequence

import pulumi
import yaml

from ..bootstrap import NodeBootstrap, config_sha256
from ..bootstrap.script import CLOUD_INIT_SCRIPT

UBUNTU_IMAGES = {
    "amd64": "ubuntu-os-cloud/ubuntu-2404-lts-amd64",
    "arm64": "ubuntu-os-cloud/ubuntu-2404-lts-arm64",
}
"""Ubuntu 24.04 LTS image families (https://cloud.google.com/compute/docs/images/os-details).
Ubuntu's GCE images run cloud-init and read the ``user-data`` metadata key
(https://docs.cloud-init.io/en/latest/reference/datasources/gce.html); Container-Optimized OS's
read-only root file system has no place for the binary k3s's installer puts in /usr/local/bin."""
ARM_MACHINE_SERIES = ("t2a-", "c4a-")
"""Arm machine series (https://cloud.google.com/compute/docs/instances/arm-on-compute)."""

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
"""Google's recommended scope, with IAM deciding access
(https://cloud.google.com/compute/docs/access/service-accounts#scopes_best_practice)."""

FETCHER_PATH = "/var/lib/fleetform/fetch-bootstrap.py"

FETCH_BOOTSTRAP_PY = '''\
"""fleetform: fetch this node's k3s bootstrap from Secret Manager and write it root-only.

Usage: fetch-bootstrap.py SECRET_VERSION DEST. The VM's own service account may read this
secret (and nothing else); its access token comes from the metadata server. IAM grants take
minutes to propagate, so failures are retried until a deadline.
"""
import base64
import json
import os
import sys
import time
import urllib.request

METADATA = os.environ.get("FLEETFORM_METADATA_URL", "http://metadata.google.internal/computeMetadata/v1")
SECRET_MANAGER = os.environ.get("FLEETFORM_SECRET_MANAGER_URL", "https://secretmanager.googleapis.com/v1")
DEADLINE_SECONDS = float(os.environ.get("FLEETFORM_FETCH_DEADLINE", "900"))
RETRY_SECONDS = float(os.environ.get("FLEETFORM_FETCH_RETRY", "10"))


def get_json(url, headers):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def fetch(version):
    token = get_json(METADATA + "/instance/service-accounts/default/token", {"Metadata-Flavor": "Google"})
    answer = get_json(SECRET_MANAGER + "/" + version + ":access", {"Authorization": "Bearer " + token["access_token"]})
    return base64.b64decode(answer["payload"]["data"])


def main(version, dest):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            data = fetch(version)
            break
        except Exception as exc:
            if time.monotonic() >= deadline:
                print("fleetform-bootstrap: giving up on " + version + ": " + str(exc), file=sys.stderr)
                return 1
            print("fleetform-bootstrap: waiting for " + version + ": " + str(exc), file=sys.stderr)
            time.sleep(RETRY_SECONDS)
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    partial = dest + ".fleetform-new"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, dest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
'''
"""The fetcher cloud-init writes and runs (python3 is on every image that runs cloud-init)."""


def secret_cloud_init(
    secret_version: str, node: NodeBootstrap, extra_files: Sequence[dict[str, str]] = (), before: Sequence[str] = ()
) -> str:
    """The node's ``user-data``: fetch ``secret_version`` (the rendered bootstrap script) and run it.

    Holds no secret. Its header names the role, k3s release and configuration hash, so a plan
    shows *that* a node's bootstrap changes although the script itself is secret. Everything k3s
    is started with (``--with-node-id`` on workers, the external cloud provider, the providerID
    read from the metadata server) is in the bootstrap script itself. ``extra_files`` are more
    ``write_files`` entries and ``before`` shell commands run ahead of the bootstrap (the masters'
    node reaper, :mod:`.selfmanaged_gcp_reaper`): the bootstrap's ``exec`` ends cloud-init's
    ``runcmd`` script, so nothing may come after it.
    """
    files = [{
        "path": FETCHER_PATH,
        "owner": "root:root",
        "permissions": "0700",
        "encoding": "b64",
        "content": base64.b64encode(FETCH_BOOTSTRAP_PY.encode()).decode(),
    }, *extra_files]
    doc = {
        "write_files": files,
        "runcmd": [
            *(["/bin/sh", "-c", command] for command in before),
            [
                "/bin/sh", "-c",
                f"python3 {FETCHER_PATH} {shlex.quote(secret_version)} {CLOUD_INIT_SCRIPT} && exec /bin/sh {CLOUD_INIT_SCRIPT}",
            ],
        ],
    }
    header = f"# fleetform k3s bootstrap: role={node.role} k3s={node.version} config={config_sha256(node)}\n"
    return "#cloud-config\n" + header + yaml.safe_dump(doc, sort_keys=False, width=1 << 30)


def gcp_name(*parts: str) -> str:
    """A Compute Engine resource name (at most 63 characters) from ``parts``: joined with '-',
    and when too long, cut and suffixed with a hash of the whole so names stay unique."""
    name = "-".join(parts)
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return name[: 63 - len(digest) - 1].rstrip("-") + "-" + digest


def arch_of(machine_type: str) -> str:
    """``arm64`` for the Arm machine series, else ``amd64``."""
    return "arm64" if machine_type.startswith(ARM_MACHINE_SERIES) else "amd64"


def image_for(machine_type: str) -> str:
    """The Ubuntu 24.04 image family of ``machine_type``'s architecture."""
    return UBUNTU_IMAGES[arch_of(machine_type)]


def instance_metadata(user_data: pulumi.Input[str], **extra: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """Every VM's metadata (https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys):
    ``user-data``, ``extra`` keys, and SSH locked down: only OS Login (IAM) can ever grant SSH,
    project-wide metadata keys are ignored, and no firewall rule admits SSH in the first place."""
    return {
        "user-data": user_data,
        **extra,
        "enable-oslogin": "TRUE",
        "block-project-ssh-keys": "TRUE",
        "serial-port-enable": "FALSE",
    }
