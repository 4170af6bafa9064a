"""Config problems arrive in one run, not in rounds; long values keep the part that fails in view;
``expose: internal`` is refused where the load balancer would make it public."""

from __future__ import annotations

import re

import pytest

from fleetform.config import FleetConfigError, load_spec
from fleetform.config.errors import _shown

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMgKCvDeCFjbxSWnegh4QZ9OtMRv5xD8Iy7tzTeyKNib"
DIGEST_63 = "b11a85b296a90" + "7" * 46 + "9f0e"  # one hex digit short
IMAGE_63 = "registry.example.com/acme/inventory@sha256:" + DIGEST_63
ADVICE = ("set loadBalancer: {provider: metallb, internalPool: <pool>} (or, on an existing cluster with a cloud "
          "controller, {provider: cloud, internalAnnotations: {...}}) on cluster dc, or expose: cluster")
INTERNAL_ON_DC = (
    "internal only where the load balancer has private addresses (on cluster dc, servicelb answers on the nodes' own "
    "addresses for public and internal Services alike); " + ADVICE
)


def _problems(config):
    with pytest.raises(FleetConfigError) as info:
        load_spec(config)
    return info.value.problems


# Field errors in two clusters and two services, cross-field problems inside entries (some in an
# entry that also has field errors, two from one validator), and checks across entries (duplicate
# names, unknown cluster and egress service, internal on ServiceLB, the onprem SSH key).
MANY_MISTAKES = {
    "fleetform:clusters": [
        {"name": "prod", "target": "aws", "region": "us-east-1", "network": {"cidr": "10.10.0.0/16", "zones": 9},
         "controlPlane": {"publicAccess": True}},
        {"name": "Bad_Name", "target": "gcp", "region": "europe-west4",
         "nodePools": [{"name": "general", "size": "e2-standard-4", "min": 5, "max": 2}]},
        {"name": "prod", "target": "aws", "region": "mars", "loadBalancer": {"provider": "metallb"}},
        {"name": "dc", "target": "onprem",
         "hosts": [{"name": "m1", "address": "192.0.2.11", "role": "master", "hostKey": HOST_KEY}]},
    ],
    "fleetform:services": [
        {"name": "web", "image": IMAGE_63, "port": 80},
        {"name": "api", "image": "ghcr.io/acme/api:1.2.3", "port": 9090, "replicas": 0,
         "clusters": ["prod", "ghost"], "egress": [{"service": "nope"}]},
        {"name": "web", "image": "ghcr.io/acme/web:1.0", "port": 8080, "expose": "internal", "clusters": ["dc"],
         "autoscale": {"min": 5, "max": 2}},
        {"name": "db", "image": "ghcr.io/acme/db:16", "port": 5432,
         "resources": {"cpu": "2", "memory": "512Mi", "memoryLimit": "256Mi"}},
    ],
}

EXPECTED = [
    # field errors, cluster 0 and 1
    "fleetform:clusters[0].network.zones: got 9; allowed: a whole number <= 6",
    "fleetform:clusters[1].name: got \"Bad_Name\"; allowed: a DNS-1123 label: lower-case letters, digits and '-', "
    "starting and ending with a letter or digit, at most 24 characters",
    # cross-field, next to the field errors of the same cluster
    "fleetform:clusters[0].controlPlane.apiAllowedCidrs: got []; allowed: at least one CIDR when publicAccess is true "
    "(the public endpoint is never open to all by default)",
    "fleetform:clusters[1].nodePools[0].min: got 5; allowed: at most max (2)",
    # two problems found by one validator
    'fleetform:clusters[2].region: got "mars"; allowed: an AWS region such as us-east-1',
    'fleetform:clusters[2].loadBalancer: got "{...}"; allowed: only for targets onprem and existing (clouds use their '
    "own load balancers)",
    # across entries: the first prod did not validate, its name still counts
    'fleetform:clusters[2].name: got "prod"; allowed: a name not used by another entry of clusters',
    # field errors, service 0 and 1
    'fleetform:services[0].image: got "registry.example.com/acme/inv...77777777777777777777779f0e"; allowed: an image '
    "reference like registry/repo:1.2.3 or registry/repo@sha256:<64 hex> (name at most 255 characters); here the "
    "sha256 digest has 63 hex digits, want 64",
    "fleetform:services[0].port: got 80; allowed: a port from 1024 to 65535 (the container runs as non-root with no "
    "capabilities)",
    "fleetform:services[1].replicas: got 0; allowed: a whole number >= 1",
    # references, read from a service that did not validate
    'fleetform:services[1].clusters[1]: got "ghost"; allowed: a cluster of this stack: Bad_Name, dc, prod',
    'fleetform:services[1].egress[0].service: got "nope"; allowed: a service of this stack: api, db, web',
    # cross-field in a service, and the checks across entries on the same service
    "fleetform:services[2].autoscale.min: got 5; allowed: at most autoscale.max (2)",
    'fleetform:services[2].name: got "web"; allowed: a name not used by another entry of services',
    'fleetform:services[2].expose: got "internal"; allowed: ' + INTERNAL_ON_DC,
    # two problems from one validator
    'fleetform:services[3].resources.cpu: got "2"; allowed: at most the CPU limit, cpuLimit (1, the default: set '
    "cpuLimit to raise it)",
    'fleetform:services[3].resources.memory: got "512Mi"; allowed: at most the memory limit, memoryLimit (256Mi)',
    "fleetform:sshPrivateKey: got null; allowed: an SSH private key for the hosts of dc, set as a secret "
    "(pulumi config set --secret fleetform:sshPrivateKey < key)",
]


def test_every_mistake_is_reported_in_one_run():
    problems = _problems(MANY_MISTAKES)
    assert len(EXPECTED) >= 10
    for line in EXPECTED:
        assert line in problems, line
    assert sorted(problems) == sorted(EXPECTED)  # nothing else, and each once


def test_lines_are_in_key_path_order():
    problems = _problems(MANY_MISTAKES)
    order = {"clusters": 0, "services": 1, "sshPrivateKey": 2}

    def rank(line):
        m = re.match(r"fleetform:([A-Za-z]+)(?:\[([0-9]+)\])?", line)
        assert m, line
        return order[m[1]], int(m[2] or -1)

    assert [rank(line) for line in problems] == sorted(rank(line) for line in problems)


def test_checks_across_valid_entries_report_every_problem_at_once():
    config = {
        "fleetform:clusters": [
            {"name": "dc", "target": "onprem",
             "hosts": [{"name": "m1", "address": "192.0.2.11", "role": "master", "hostKey": HOST_KEY}]},
            {"name": "dc", "target": "existing", "loadBalancer": {"provider": "metallb", "internalPool": "private"}},
        ],
        "fleetform:services": [
            {"name": "web", "image": "ghcr.io/acme/web:1.0", "port": 8080, "clusters": ["nowhere"]},
            {"name": "web", "image": "ghcr.io/acme/web:1.0", "port": 8080, "expose": "internal",
             "egress": [{"service": "ghost"}]},
        ],
    }
    assert _problems(config) == [
        'fleetform:clusters[1].name: got "dc"; allowed: a name not used by another entry of clusters',
        'fleetform:services[0].clusters[0]: got "nowhere"; allowed: a cluster of this stack: dc',
        'fleetform:services[1].name: got "web"; allowed: a name not used by another entry of services',
        'fleetform:services[1].egress[0].service: got "ghost"; allowed: a service of this stack: web',
        'fleetform:services[1].expose: got "internal"; allowed: ' + INTERNAL_ON_DC,
        "fleetform:sshPrivateKey: got null; allowed: an SSH private key for the hosts of dc, set as a secret "
        "(pulumi config set --secret fleetform:sshPrivateKey < key)",
    ]


def test_independent_onprem_problems_come_together():
    config = {
        "fleetform:sshPrivateKey": "[secret]",
        "fleetform:clusters": [{
            "name": "dc", "target": "onprem", "region": "us-east-1", "tags": {"a": "b"},
            "hosts": [{"name": "m1", "address": "192.0.2.11", "role": "master"},
                      {"name": "m1", "address": "192.0.2.11", "role": "worker", "hostKey": HOST_KEY}],
        }],
    }
    assert _problems(config) == [
        'fleetform:clusters[0].region: got "us-east-1"; allowed: nothing for target onprem',
        'fleetform:clusters[0].tags: got "{...}"; allowed: nothing for target onprem (a cloud setting: the hosts are yours)',
        "fleetform:clusters[0].hosts[0].hostKey: got null; allowed: the host's SSH public key (ssh-keyscan -t ed25519 "
        "<address>), or ssh.verifyHostKeys: false",
        'fleetform:clusters[0].hosts[1].name: got "m1"; allowed: a name not used by another host of this cluster',
        'fleetform:clusters[0].hosts[1].address: got "192.0.2.11"; allowed: an address not used by another host of '
        "this cluster",
    ]


# --- expose: internal on onprem / existing clusters ----------------------------------------------

def _fleet(load_balancer, expose="internal", target="existing", clusters=None):
    cluster = {"name": "dc", "target": target}
    if load_balancer is not None:
        cluster["loadBalancer"] = load_balancer
    if target == "onprem":
        cluster["hosts"] = [{"name": "m1", "address": "192.0.2.11", "role": "master", "hostKey": HOST_KEY}]
    service = {"name": "api", "image": "ghcr.io/acme/api:1.2.3", "port": 9090, "expose": expose}
    if clusters is not None:
        service["clusters"] = clusters
    return {"fleetform:clusters": [cluster, {"name": "eks", "target": "aws", "region": "us-east-1"}],
            "fleetform:services": [service], "fleetform:sshPrivateKey": "[secret]"}


@pytest.mark.parametrize("target", ["existing", "onprem"])
def test_internal_on_servicelb_is_refused(target):
    for lb in (None, {"provider": "servicelb"}):
        assert _problems(_fleet(lb, target=target)) == ['fleetform:services[0].expose: got "internal"; allowed: ' + INTERNAL_ON_DC]


def test_internal_on_metallb_without_internal_pool_is_refused():
    assert _problems(_fleet({"provider": "metallb", "publicPool": "pub"})) == [
        'fleetform:services[0].expose: got "internal"; allowed: internal only where the load balancer has private '
        "addresses (on cluster dc, metallb has no internalPool, so internal Services get addresses from the public "
        "pools); " + ADVICE
    ]


def test_internal_on_a_cloud_controller_needs_internal_annotations():
    assert _problems(_fleet({"provider": "cloud"})) == [
        'fleetform:services[0].expose: got "internal"; allowed: internal only where the load balancer has private '
        "addresses (on cluster dc, the cloud's load balancer is internet-facing unless internalAnnotations make it "
        "internal); " + ADVICE
    ]
    load_spec(_fleet({"provider": "cloud", "internalAnnotations": {"networking.gke.io/load-balancer-type": "Internal"}}))
    assert _problems(_fleet({"provider": "cloud", "internalAnnotations": {"a": "b"}}, target="onprem")) == [
        'fleetform:clusters[0].loadBalancer.provider: got "cloud"; allowed: servicelb or metallb for target onprem '
        "(no cloud controller serves your hosts)"
    ]
    assert _problems(_fleet({"provider": "metallb", "internalPool": "p", "internalAnnotations": {"a": "b"}})) == [
        'fleetform:clusters[0].loadBalancer.internalAnnotations: got "{...}"; allowed: only with provider: cloud'
    ]


@pytest.mark.parametrize("config", [
    _fleet({"provider": "metallb", "internalPool": "private"}),
    _fleet(None, expose="cluster"),
    _fleet(None, expose="public"),
    _fleet(None, clusters=["eks"]),  # internal only on the cloud cluster
], ids=["metallb internal pool", "cluster", "public", "not on dc"])
def test_internal_where_it_stays_internal_is_accepted(config):
    load_spec(config)


# --- long values keep head and tail --------------------------------------------------------------

def test_long_values_keep_their_head_and_tail():
    text = "registry.example.com/acme/inventory@sha256:" + DIGEST_63
    shown = _shown(text)
    assert len(shown) == 60
    assert shown == '"registry.example.com/acme/inv...' + text[-26:] + '"'
    assert shown.endswith('9f0e"') and shown.startswith('"registry.example.com/acme/inv')
    assert _shown("x" * 58) == '"' + "x" * 58 + '"'  # 60 characters: shown whole


def test_a_short_digest_says_how_many_digits_it_has():
    for digest, why in [
        (DIGEST_63, "sha256 digest has 63 hex digits, want 64"),
        (DIGEST_63 + "aa", "sha256 digest has 65 hex digits, want 64"),
        (DIGEST_63.upper() + "A", "sha256 digest has upper-case hex digits, want lower-case"),
        ("g" * 64, 'sha256 digest has characters that are not hex digits: "g"'),
    ]:
        (line,) = _problems({"fleetform:clusters": [{"name": "l", "target": "existing"}],
                             "fleetform:services": [{"name": "web", "image": "ghcr.io/acme/web@sha256:" + digest,
                                                     "port": 8080}]})
        assert line.startswith("fleetform:services[0].image: got ")
        assert line.endswith("(name at most 255 characters); here the " + why), line
    (line,) = _problems({"fleetform:clusters": [{"name": "l", "target": "existing"}],
                         "fleetform:services": [{"name": "web", "image": "ghcr.io/acme/web@md5:abc", "port": 8080}]})
    assert line.endswith("here the digest does not start with sha256: (the only algorithm accepted)")
