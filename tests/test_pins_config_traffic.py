"""``fleetform.config.traffic`` and ``fleetform.config.release`` pinned where they are made (issue 17).

Every expectation comes from the contract, not from what the code prints today:

- docs/traffic.md, "What each provider can express" (the limits table: TTL 0-2147483647 s,
  failure threshold 1-10, Cloud DNS failover two tiers 1 primary / 2 backup, Route 53 one latency
  cluster per AWS region, Cloud DNS IPv4 endpoints only, Traffic Manager no mix of hostnames and IPs)
  and "Also refused" (a private address, an onprem or existing cluster without ``address``, an AWS
  cluster on clouddns without ``address``), each "one line per problem naming the key";
- a domain name is at most 253 characters in text form (RFC 1035 section 2.3.4: 255 octets on the
  wire), labels of letters, digits and '-' not starting or ending with '-' (RFC 1123 section 2.1);
  a trailing dot only marks the name as absolute;
- IPv6 endpoints are not supported (docs/traffic.md: "IPv4 addresses only" on Cloud DNS, and
  ``address`` is documented as "IPv4, or a hostname" in docs/configuration.md#traffic);
- docs/rollout.md and ``fleetform:release``'s key reference: ``drained`` clusters get weight 0 under
  policy weighted only; ``images`` are pinned like a service's image; the release's image applies
  only where ``clusters`` lists the cluster.

Unit-level on purpose (no stack is planned): each runs in milliseconds, so mutation testing can
run all of them per mutant.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from fleetform.config import FleetConfigError, load_spec
from fleetform.config.release import ReleaseSpec, pinned_images, release_problems
from fleetform.config.traffic import LIMITS, _fqdn_problem, _listed, address_problem, routed, traffic_problems
from tests.conftest import cluster, fleet, service

CLUSTERS = [
    cluster("hy-aws", "aws"), cluster("hy-aws2", "aws", region="eu-west-1"), cluster("hy-gcp", "gcp"),
    cluster("hy-azure", "azure"),
    cluster("hy-dc", "existing", existing={"context": "dc"}, loadBalancer={"provider": "metallb", "publicPool": "p"}),
]
SERVICES = [service("web"), service("api", expose="cluster"), service("two", clusters=["hy-gcp", "hy-azure"])]
T = "fleetform:traffic[0]"
LABELS = ("a lower-case domain name such as shop.example.com: labels of letters, digits and '-', not starting or "
          "ending with '-'")


def _entry(**kw: Any) -> dict:
    base: dict[str, Any] = {"service": "web", "hostname": "shop.example.com",
                            "dns": {"provider": "route53", "zone": "example.com"},
                            "clusters": [{"name": "hy-gcp"}, {"name": "hy-azure"}]}
    base.update(kw)
    return base


def _problems(*entries: dict, services: list[dict] = SERVICES, release: Any = None) -> list[str]:
    extra = {"release": release} if release is not None else {}
    try:
        load_spec(fleet(CLUSTERS, services, traffic=list(entries), **extra))
    except FleetConfigError as exc:
        return exc.problems
    return []


CLOUDDNS = {"provider": "clouddns", "zone": "example.com", "managedZone": "z"}
TM = {"provider": "trafficmanager", "zone": "example.com", "resourceGroup": "rg"}


# (entry, problems): the exact lines; [] where the contract says the entry is fine.
ENTRIES = [
    # The bounds of the limits table are inside it.
    (_entry(ttl=0), []),
    (_entry(ttl=2147483647), []),
    (_entry(ttl=2147483648), [f"{T}.ttl: got 2147483648; allowed: 0-2147483647 seconds on Route 53"]),
    (_entry(healthCheck={"failureThreshold": 1}), []),
    (_entry(healthCheck={"failureThreshold": 10}), []),
    (_entry(healthCheck={"failureThreshold": 0}), [f"{T}.healthCheck.failureThreshold: got 0; allowed: 1-10 on Route 53"]),
    # Failover: Cloud DNS's second tier is priority 2; Route 53 orders any number, up to 1000.
    (_entry(policy="failover", dns=CLOUDDNS, clusters=[{"name": "hy-gcp", "priority": 1},
                                                       {"name": "hy-azure", "priority": 2}]), []),
    (_entry(policy="failover", clusters=[{"name": "hy-gcp", "priority": 1000}, {"name": "hy-azure", "priority": 1}]), []),
    # A key of another provider is refused, whichever provider it belongs to.
    (_entry(dns={"provider": "clouddns", "zone": "example.com", "managedZone": "z", "zoneId": "Z123"}),
     [f"{T}.dns.zoneId: got \"Z123\"; allowed: only with provider route53"]),
    # A bad zone is named as dns.zone, with the zone's value (not the hostname's).
    (_entry(dns={"provider": "route53", "zone": "Example.com"}), [f"{T}.dns.zone: got \"Example.com\"; allowed: {LABELS}"]),
    # A hostname endpoint on Route 53 must be a domain name; IPv6 is not supported.
    (_entry(clusters=[{"name": "hy-dc", "address": "dc_1.example.net"}]),
     [f"{T}.clusters[0].address: got \"dc_1.example.net\"; allowed: a public IPv4 address or {LABELS}"]),
    (_entry(clusters=[{"name": "hy-dc", "address": "2001:db8::1"}]),
     [f"{T}.clusters[0].address: got \"2001:db8::1\"; allowed: an IPv4 address (IPv6 endpoints are not supported yet)"]),
    # Cloud DNS: an AWS cluster without address is one line, the address one (Cloud DNS has no
    # hostname endpoints at all, so there is no mix of kinds to report besides).
    (_entry(dns=CLOUDDNS, clusters=[{"name": "hy-aws"}, {"name": "hy-gcp"}]),
     [f"{T}.clusters[0].address: got null; allowed: an IPv4 address: an AWS network load balancer answers with a "
      "hostname and Cloud DNS routes to IP addresses only (give the NLB Elastic IPs and list one, or use dns.provider "
      "route53 or trafficmanager)"]),
    # ... the same with the clusters omitted: the line names the entry's clusters key.
    (_entry(dns=CLOUDDNS, clusters=None, service="web"),
     [f"{T}.clusters: got null; allowed: list the clusters and give cluster hy-aws an IPv4 address: an AWS network load "
      "balancer answers with a hostname and Cloud DNS routes to IP addresses only (give the NLB Elastic IPs and list "
      "one, or use dns.provider route53 or trafficmanager)",
      f"{T}.clusters: got null; allowed: list the clusters and give cluster hy-aws2 an IPv4 address: an AWS network "
      "load balancer answers with a hostname and Cloud DNS routes to IP addresses only (give the NLB Elastic IPs and "
      "list one, or use dns.provider route53 or trafficmanager)",
      f"{T}.clusters: got null; allowed: list the clusters and give cluster hy-dc the service's public address on this "
      "existing cluster (fleetform does not provision its load balancer, so it cannot know the address)"]),
    # Latency with the clusters omitted: a missing region names the clusters key.
    (_entry(policy="latency", clusters=None, service="two"),
     [f"{T}.clusters: got null; allowed: list the clusters and give cluster hy-gcp the Route 53 region nearest this gcp "
      "cluster for latency routing: an AWS region such as us-east-1",
      f"{T}.clusters: got null; allowed: list the clusters and give cluster hy-azure the Route 53 region nearest this "
      "azure cluster for latency routing: an AWS region such as us-east-1"]),
    # One cluster per region is Route 53's rule only: Cloud DNS groups clusters by region.
    (_entry(policy="latency", dns=CLOUDDNS, clusters=[{"name": "hy-gcp", "region": "europe-west4"},
                                                      {"name": "hy-azure", "region": "europe-west4"}]), []),
    # Traffic Manager does not mix kinds: every hostname and every IP cluster is named, and the
    # AWS clusters without an address are told to get one (plural for two).
    (_entry(dns=TM, clusters=[{"name": "hy-aws"}, {"name": "hy-aws2"}, {"name": "hy-gcp"}, {"name": "hy-azure"}]),
     [f"{T}.clusters: got \"hy-aws, hy-aws2, hy-azure, hy-gcp\"; allowed: clusters of one address kind: Traffic Manager "
      "does not mix hostnames (hy-aws, hy-aws2) and IP addresses (hy-gcp, hy-azure) behind one name; give hy-aws, "
      "hy-aws2 addresses (an NLB with Elastic IPs)"]),
    # An unknown cluster is that one line; the clusters after it are still checked.
    (_entry(clusters=[{"name": "nope"}, {"name": "hy-dc"}]),
     [f"{T}.clusters[0].name: got \"nope\"; allowed: a cluster of this stack: hy-aws, hy-aws2, hy-azure, hy-dc, hy-gcp",
      f"{T}.clusters[1].address: got null; allowed: the service's public address on this existing cluster (fleetform "
      "does not provision its load balancer, so it cannot know the address)"]),
    # An unknown cluster has no address kind: it is not counted as a mix with a hostname endpoint.
    (_entry(clusters=[{"name": "nope"}, {"name": "hy-dc", "address": "dc.example.net"}]),
     [f"{T}.clusters[0].name: got \"nope\"; allowed: a cluster of this stack: hy-aws, hy-aws2, hy-azure, hy-dc, hy-gcp"]),
    # A cluster the service does not run on names the clusters it runs on; the next is still checked.
    (_entry(service="two", clusters=[{"name": "hy-aws"}, {"name": "hy-dc"}]),
     [f"{T}.clusters[0].name: got \"hy-aws\"; allowed: a cluster service two runs on: hy-gcp, hy-azure",
      f"{T}.clusters[1].name: got \"hy-dc\"; allowed: a cluster service two runs on: hy-gcp, hy-azure"]),
]


@pytest.mark.parametrize("entry, expected", ENTRIES, ids=[str(i) for i in range(len(ENTRIES))])
def test_traffic_entries_one_line_per_problem(entry, expected):
    assert _problems(entry) == expected


def test_every_entry_is_checked_after_a_bad_one():
    """One line per problem across entries: an entry invalid on its own, or with a bad service,
    does not hide the problems of the entries after it."""
    bad_alone = _entry(clusters=[{"name": "hy-gcp", "weight": 256}])
    assert _problems(bad_alone, _entry(hostname="b.example.com", service="api"), _entry(hostname="c.example.com",
                                                                                          service="nope")) == [
        f"{T}.clusters[0].weight: got 256; allowed: 0-255 on Route 53 (0 drains the cluster)",
        "fleetform:traffic[1].service: got \"api\"; allowed: a service with expose: public: two, web",
        "fleetform:traffic[2].service: got \"nope\"; allowed: a service with expose: public: two, web",
    ]


def test_a_stack_without_public_services_says_so():
    assert _problems(_entry(service="api"), services=[service("api", expose="cluster")]) == [
        f"{T}.service: got \"api\"; allowed: a service with expose: public: (this stack has none)"]


def test_an_onprem_cluster_needs_its_address():
    """docs/traffic.md: "an onprem or existing cluster without address" is refused (fleetform does
    not provision its load balancer). Called with the stack's parts directly: an onprem cluster's
    own config (hosts, SSH keys) is beside the point here."""
    spec = load_spec(fleet(CLUSTERS, SERVICES, traffic=[_entry()])).traffic[0]
    dc = SimpleNamespace(name="dc", target="onprem", region=None)
    web = SimpleNamespace(name="web", expose="public", clusters=None)
    entry = spec.model_copy(update={"clusters": [spec.clusters[0].model_copy(update={"name": "dc"})]})
    assert traffic_problems([dc], [web], [(None, entry)]) == [
        ("traffic[0].clusters[0].address", None, "the service's public address on this onprem cluster (fleetform does "
         "not provision its load balancer, so it cannot know the address)")]
    with_address = entry.model_copy(update={"clusters": [entry.clusters[0].model_copy(update={"address": "203.0.113.7"})]})
    assert traffic_problems([dc], [web], [(None, with_address)]) == []


@pytest.mark.parametrize("name, problem", [
    ("shop.example.com", None),
    ("shop.example.com.", None),  # absolute form
    ("a.b", None),  # one-letter labels are labels
    ("a.b.", None),
    ("example", LABELS),  # one label is no fully qualified name
    ("-shop.example.com", LABELS),
    (".", "a domain name of at most 253 characters"),
    ("", "a domain name of at most 253 characters"),
    # 253 characters is the longest name, 254 one too long (with or without the trailing dot).
    (".".join(["a" * 63] * 3 + ["a" * 61]), None),
    (".".join(["a" * 63] * 3 + ["a" * 61]) + ".", None),
    (".".join(["a" * 63] * 3 + ["a" * 62]), "a domain name of at most 253 characters"),
])
def test_fqdn_rule(name, problem):
    assert _fqdn_problem(name) == problem


def test_address_rules():
    """A public IPv4 address anywhere; a hostname where the provider takes one; the rest refused."""
    r53, gcp = LIMITS["route53"], LIMITS["clouddns"]
    assert address_problem("203.0.113.80", r53) is None and address_problem("8.8.8.8", gcp) is None
    assert address_problem("dc.example.net", r53) is None
    assert address_problem("dc.example.net.", LIMITS["trafficmanager"]) is None
    assert address_problem("bad_name", r53) == "a public IPv4 address or " + LABELS
    assert address_problem("2001:db8::1", r53) == "an IPv4 address (IPv6 endpoints are not supported yet)"
    assert address_problem("192.168.1.1", r53) == "a public IPv4 address: the provider's health checkers probe it from the internet"


def test_listed_names_a_run_as_a_range():
    """The health check intervals allowed, as the messages show them (docs/traffic.md: Route 53
    "10 or 30 s", Cloud DNS "30-300 s")."""
    assert _listed(LIMITS["route53"].intervals) == "one of 10, 30"
    assert _listed(LIMITS["clouddns"].intervals) == "30-300"


def _spec(policy: str = "weighted", provider: str = "route53", clusters: Any = None) -> Any:
    dns = {"route53": {"provider": "route53", "zone": "example.com"}, "clouddns": CLOUDDNS, "trafficmanager": TM}[provider]
    entry = _entry(policy=policy, dns=dns, clusters=clusters or [{"name": "hy-gcp"}, {"name": "hy-azure"}])
    spec = load_spec(fleet(CLUSTERS, SERVICES, traffic=[entry]))
    return spec, spec.traffic[0], spec.services[0]


@pytest.mark.parametrize("policy", ["weighted", "failover"])
def test_routed_drains_under_policy_weighted_only(policy):
    """docs/traffic.md "Draining a cluster": weight 0 drains a cluster under policy weighted; a
    rollout's drained clusters (fleetform:release.drained) get weight 0 there and nowhere else."""
    spec, entry, web = _spec(policy)
    out = routed(entry, spec.clusters, web, drained=frozenset({"hy-gcp"}))
    if policy == "weighted":
        assert [(r.cluster, r.weight, r.drained) for r in out] == [("hy-gcp", 0, True), ("hy-azure", 1, False)]
    else:
        assert [(r.cluster, r.weight, r.drained) for r in out] == [("hy-gcp", 1, False), ("hy-azure", 1, False)]
    # Outside policy latency there is no region (Routed.region: "None unless policy latency").
    assert [r.region for r in out] == [None, None]


def test_routed_keeps_an_unknown_cluster_without_a_target():
    spec = load_spec(fleet(CLUSTERS, SERVICES))
    entry = load_spec(fleet(CLUSTERS, SERVICES, traffic=[_entry()])).traffic[0]
    unknown = entry.model_copy(update={"clusters": [entry.clusters[0].model_copy(update={"name": "gone"})]})
    (r,) = routed(unknown, spec.clusters, spec.services[0])
    assert (r.cluster, r.target) == ("gone", "")


# ------------------------------------------------------------------------------------ release

DIGEST = "@sha256:" + "ab" * 32


def test_release_image_applies_only_on_its_clusters():
    """fleetform:release (docs/rollout.md): the clusters listed run the release's images, every
    other cluster the services' own."""
    release = ReleaseSpec.model_validate({"images": {"web": "x/web:2"}, "clusters": ["a"]})
    assert release.image_for("web", "a") == "x/web:2"
    assert release.image_for("web", "b") is None
    assert release.image_for("api", "a") is None


def test_pinned_images_follow_the_services_rule():
    """A release's images follow the services' rule (a digest or a tag other than latest), each
    unpinned one its own line naming its service; the pinned ones pass unchanged."""
    images = {"web": "x/web:2", "api": "x/api" + DIGEST}
    assert pinned_images(images) == images
    with pytest.raises(FleetConfigError) as exc:
        load_spec(fleet(CLUSTERS, SERVICES, release={"images": {"web": "x/web:latest", "api": "x/api", "ok": "x/ok:1"}}))
    assert exc.value.problems == [
        'fleetform:release.images.web: got "x/web:latest"; allowed: a pinned image: a digest (@sha256:...) or a tag '
        "other than latest",
        'fleetform:release.images.api: got "x/api"; allowed: a pinned image: a digest (@sha256:...) or a tag other '
        "than latest",
    ]


def _rel(**kw: Any) -> ReleaseSpec:
    return ReleaseSpec.model_validate({"images": {}, "clusters": [], "drained": [], **kw})


C = [SimpleNamespace(name="a"), None, SimpleNamespace(name="b")]
S = [SimpleNamespace(name="web"), None, SimpleNamespace(name="api")]


def _traffic(policy: str, names: Any) -> Any:
    clusters = None if names is None else [SimpleNamespace(name=n) for n in names]
    return SimpleNamespace(policy=policy, clusters=clusters)


@pytest.mark.parametrize("release, traffic, expected", [
    (None, [], []),
    (_rel(images={"web": "x/web:2"}, clusters=["a", "b"]), [], []),
    # Unknown services and clusters, each named with what this stack has (sorted).
    (_rel(images={"nope": "x/n:1", "web": "x/web:2"}), [],
     [("release.images.nope", "nope", "a service of this stack: api, web")]),
    (_rel(clusters=["a", "z"], drained=["y"]), [_traffic("weighted", None)],
     [("release.clusters[1]", "z", "a cluster of this stack: a, b"),
      ("release.drained[0]", "y", "a cluster of this stack: a, b")]),
    # Drained needs a weighted entry routing that cluster: listed, or every cluster (clusters omitted).
    (_rel(drained=["a", "b"]), [_traffic("weighted", ["a"])],
     [("release.drained[1]", "b", "a cluster a weighted fleetform:traffic entry routes (draining sets its weight to 0)")]),
    (_rel(drained=["a", "b"]), [None, _traffic("failover", None), _traffic("weighted", ["b"])],
     [("release.drained[0]", "a", "a cluster a weighted fleetform:traffic entry routes (draining sets its weight to 0)")]),
    (_rel(drained=["a", "b"]), [_traffic("weighted", None)], []),
    # Each weighted entry adds the clusters it routes.
    (_rel(drained=["a", "b"]), [_traffic("weighted", ["a"]), _traffic("weighted", ["b"])], []),
    (_rel(drained=["a"]), [_traffic("failover", ["a"]), _traffic("latency", None)],
     [("release.drained[0]", "a", "a cluster a weighted fleetform:traffic entry routes (draining sets its weight to 0)")]),
])
def test_release_problems(release, traffic, expected):
    assert release_problems(release, C, S, traffic) == expected
