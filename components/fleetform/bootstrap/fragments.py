"""Shell fragments of the k3s bootstrap that depend on the moment the node boots, not on the
config: waiting for the server a node joins, and reading the node's providerID from the cloud's
instance metadata service. :mod:`.script` places them in the one script it renders (POSIX ``sh``,
``set -eu``, a ``log`` function defined; shellchecked by tests/test_bootstrap.py).
"""

from __future__ import annotations

import shlex

PING_PATH = "/ping"
"""The k3s supervisor (the API port, 6443) answers ``GET /ping`` with 200 ``pong``, unauthenticated,
as soon as it listens (k3s-io/k3s pkg/server/handlers/router.go, ``router.Handle("/ping", Ping())``;
pkg/server/handlers/handlers.go, ``Ping``)."""


def join_wait(server_url: str, timeout_seconds: int, retry_seconds: int, fatal: bool) -> list[str]:
    """Wait, bounded and logged, until ``server_url`` answers ``/ping``.

    A joining master that starts before the server it registers with answers makes k3s exit and
    the installer's ``systemctl restart`` fail, so cloud-init reports a failed boot although
    systemd joins the node later. Waiting first turns that into log lines. When the bound passes,
    ``fatal`` ends the bootstrap with one clear line (over SSH: the next ``pulumi up`` runs it
    again); otherwise the node says so and installs anyway, because cloud-init runs the script
    only once, and an installed k3s keeps retrying its server while one never installed never
    joins. Certificates are not verified (``-k``): the node has only the CA's hash (in its token,
    which k3s itself checks), the request carries no secret, and the only thing learnt from the
    answer is that the server listens.
    """
    url = shlex.quote(server_url + PING_PATH)
    timeout, retry = int(timeout_seconds), int(retry_seconds)
    if fatal:
        give_up = [f'    log "giving up: $ping_url did not answer within {timeout} s ($attempt attempts)"', "    exit 1"]
    else:
        give_up = [
            f'    log "$ping_url did not answer within {timeout} s ($attempt attempts); installing anyway: k3s keeps retrying it"',
            "    break",
        ]
    return [
        "# Wait until the server this node registers with answers (k3s supervisor /ping).",
        f"ping_url={url}",
        f"deadline=$(( $(date +%s) + {timeout} ))",
        "attempt=1",
        "while :; do",
        '  if [ "$(curl -sk --max-time 5 "$ping_url" 2>/dev/null || true)" = pong ]; then',
        '    log "$ping_url answers (attempt $attempt)"',
        "    break",
        "  fi",
        '  if [ "$(date +%s)" -ge "$deadline" ]; then',
        *give_up,
        "  fi",
        f'  log "waiting for $ping_url (attempt $attempt); next try in {retry} s"',
        "  attempt=$((attempt + 1))",
        f"  sleep {retry}",
        "done",
        "",
    ]


# Metadata endpoints. AWS IMDSv2: a session token from PUT /latest/api/token, sent back in
# X-aws-ec2-metadata-token (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html);
# categories instance-id and placement/availability-zone
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html).
# GCE: the Metadata-Flavor: Google header, keys project/project-id, instance/zone
# ("projects/<number>/zones/<zone>") and instance/name
# (https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys).
AWS_IMDS = "http://169.254.169.254/latest"
GCE_METADATA = "http://metadata.google.internal/computeMetadata/v1"

# Azure's Instance Metadata Service: the Metadata: true header, no proxy, a leaf read with
# format=text (https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service);
# compute/resourceId, compute/subscriptionId and compute/resourceGroupName, the fields
# cloud-provider-azure reads (pkg/provider/azure_instance_metadata.go, ComputeMetadata), at the
# API version it asks for (pkg/consts/consts.go, ImdsInstanceAPIVersion = "2021-10-01").
AZURE_IMDS = "http://169.254.169.254/metadata/instance/compute"
AZURE_IMDS_API_VERSION = "2021-10-01"

# providerID formats the CCMs parse: kubernetes/cloud-provider-aws pkg/providers/v1/instances.go
# (KubernetesInstanceID: aws:///<zone>/<instance id>); kubernetes/cloud-provider-gcp
# providers/gce/gce_util.go (providerIDRE: gce://<project>/<zone>/<instance name>).
# Azure: what the cloud-node-manager would set, so the kubelet's and the node manager's agree
# (kubernetes-sigs/cloud-provider-azure, the same at v1.32.20 ... v1.36.5): pkg/node/node.go
# IMDSNodeProvider.InstanceID returns "azure://" + Cloud.InstanceID, which for the local instance is
# pkg/provider/azure_instances_v1.go getLocalInstanceProviderID: the resource id with every
# occurrence of the subscription id, then of the resource group name, replaced by its lower case
# (strings.ReplaceAll; the rest keeps its case). A scale set instance's resource id is
# .../virtualMachineScaleSets/<scale set>/virtualMachines/<instance id>, a VM's
# .../virtualMachines/<name>.
#
# _AZURE_LOWER_ALL does that replacement literally (index/substr, not a regular expression: a
# resource group name may hold "." and "(").
_AZURE_LOWER_ALL = (
    "function lower_all(s, x,   out, i) { out = \"\"; while ((i = index(s, x)) > 0) "
    "{ out = out substr(s, 1, i - 1) tolower(x); s = substr(s, i + length(x)) } return out s } "
    "BEGIN { printf \"%s\", lower_all(lower_all(id, subscription), group) }"
)


def provider_id(source: str) -> list[str]:
    """Set ``PROVIDER_ID`` from the instance metadata service of ``source`` ("aws", "gcp" or
    "azure"), or fail saying which value was missing."""
    if source == "aws":
        lines = [
            "# providerID from the EC2 instance metadata service (IMDSv2).",
            "imds_token=\"$(curl -sSf --max-time 5 --retry 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "
            f"{AWS_IMDS}/api/token)\" || imds_token=\"\"",
            "imds() {",
            f'  curl -sSf --max-time 5 --retry 5 -H "X-aws-ec2-metadata-token: $imds_token" "{AWS_IMDS}/meta-data/$1"',
            "}",
            'md_zone="$(imds placement/availability-zone)" || md_zone=""',
            'md_instance="$(imds instance-id)" || md_instance=""',
            'PROVIDER_ID="aws:///$md_zone/$md_instance"',
        ]
        needed = ("md_zone", "md_instance")
    elif source == "gcp":
        lines = [
            "# providerID from the Compute Engine metadata server.",
            "gce_md() {",
            f'  curl -sSf --max-time 5 --retry 5 -H \'Metadata-Flavor: Google\' "{GCE_METADATA}/$1"',
            "}",
            'md_project="$(gce_md project/project-id)" || md_project=""',
            'md_zone="$(gce_md instance/zone)" || md_zone=""',
            'md_zone="${md_zone##*/}"',
            'md_instance="$(gce_md instance/name)" || md_instance=""',
            'PROVIDER_ID="gce://$md_project/$md_zone/$md_instance"',
        ]
        needed = ("md_project", "md_zone", "md_instance")
    elif source == "azure":
        lines = [
            "# providerID from the Azure Instance Metadata Service, formed as cloud-provider-azure's",
            "# cloud-node-manager forms it (fleetform.bootstrap.fragments). curl retries any failure",
            "# (early in boot the network may still be unreachable: --retry-all-errors, curl 7.71+), at",
            "# most 5 times per value.",
            "azure_md() {",
            "  curl -sSf --noproxy '*' --max-time 5 --retry 5 --retry-connrefused --retry-all-errors -H 'Metadata: true' "
            f'"{AZURE_IMDS}/$1?api-version={AZURE_IMDS_API_VERSION}&format=text"',
            "}",
            'md_resourceId="$(azure_md resourceId)" || md_resourceId=""',
            'md_subscriptionId="$(azure_md subscriptionId)" || md_subscriptionId=""',
            'md_resourceGroupName="$(azure_md resourceGroupName)" || md_resourceGroupName=""',
        ]
        needed = ("md_resourceId", "md_subscriptionId", "md_resourceGroupName")
    else:
        raise ValueError(f"no providerID source {source!r}; known: aws, gcp, azure")
    for var in needed:
        lines += [
            f'if [ -z "${var}" ]; then',
            f'  log "instance metadata gave no {var.removeprefix("md_")}; cannot register the node with its providerID"',
            "  exit 1",
            "fi",
        ]
    if source == "azure":
        lines += [
            'case "$md_resourceId" in',
            "  /subscriptions/*) ;;",
            "  *)",
            '    log "instance metadata gave resourceId \'$md_resourceId\', not a resource id; cannot register the node with its providerID"',
            "    exit 1;;",
            "esac",
            'PROVIDER_ID="azure://$(awk -v id="$md_resourceId" -v subscription="$md_subscriptionId" '
            f"-v group=\"$md_resourceGroupName\" '{_AZURE_LOWER_ALL}')\"",
        ]
    return lines + ['log "providerID: $PROVIDER_ID"', ""]
