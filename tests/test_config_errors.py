"""Invalid config: one line per problem, naming the key path, the value given and what is allowed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleetform.config import FleetConfigError, load_spec
from tests.conftest import DIGEST, ROOT, cluster, fleet, service

EX = cluster("local", "existing")
AWS = cluster("c1", "aws")

# (id, config, the exact single line expected)
CASES = [
    ("clusters missing", {"fleetform:services": []},
     "fleetform:clusters: missing; allowed: a list of at least one cluster"),
    ("clusters empty", fleet([], []),
     "fleetform:clusters: got []; allowed: at least 1 item(s)"),
    ("clusters not a list", {"fleetform:clusters": {"name": "x"}},
     'fleetform:clusters: got {"name": "x"}; allowed: a list'),
    ("clusters bad JSON string", {"fleetform:clusters": "[{"},
     'fleetform:clusters: got "[{"; allowed: a list of mappings'),
    ("unknown top-level key", {**fleet([EX], []), "fleetform:regions": ["x"]},
     "fleetform:regions: unknown key; allowed keys: clusters, extends, kubernetesVersion, namespace, release, services, sshPrivateKey, traffic"),
    ("unknown cluster key", fleet([{**EX, "nodepools": []}], []),
     "fleetform:clusters[0].nodepools: unknown key; allowed keys: controlPlane, existing, hosts, install, "
     "kubernetesVersion, loadBalancer, mode, name, network, nodePools, region, ssh, tags, target, vip"),
    ("unknown target", fleet([{"name": "a", "target": "openstack"}], []),
     'fleetform:clusters[0].target: got "openstack"; allowed: one of aws, gcp, azure, onprem, existing'),
    ("cluster name not DNS", fleet([{"name": "Prod_1", "target": "existing"}], []),
     'fleetform:clusters[0].name: got "Prod_1"; allowed: a DNS-1123 label: lower-case letters, digits and '
     "'-', starting and ending with a letter or digit, at most 24 characters"),
    ("duplicate cluster", fleet([EX, EX], []),
     'fleetform:clusters[1].name: got "local"; allowed: a name not used by another entry of clusters'),
    ("bad mode", fleet([{**AWS, "mode": "serverless"}], []),
     'fleetform:clusters[0].mode: got "serverless"; allowed: one of managed, self-managed'),
    ("existing with mode", fleet([{**EX, "mode": "managed"}], []),
     'fleetform:clusters[0].mode: got "managed"; allowed: no mode for target existing (fleetform provisions nothing there)'),
    ("onprem managed", fleet([{"name": "dc", "target": "onprem", "mode": "managed"}], []), (
     'fleetform:clusters[0].mode: got "managed"; allowed: self-managed for target onprem (there is no managed Kubernetes on your hosts)',
     # every problem at once: the hosts and the SSH key are missing too
     "fleetform:clusters[0].hosts: got null; allowed: the cluster's existing machines, at least one with role master "
     "(required for target onprem)",
     "fleetform:sshPrivateKey: got null; allowed: an SSH private key for the hosts of dc, set as a secret "
     "(pulumi config set --secret fleetform:sshPrivateKey < key)")),
    ("cloud without region", fleet([{"name": "c1", "target": "gcp"}], []),
     "fleetform:clusters[0].region: got null; allowed: a GCP region such as europe-west4 (required for target gcp)"),
    ("region of another cloud", fleet([{**AWS, "region": "westeurope"}], []),
     'fleetform:clusters[0].region: got "westeurope"; allowed: an AWS region such as us-east-1'),
    ("bad CIDR", fleet([{**AWS, "network": {"cidr": "10.0.0.0/33"}}], []),
     'fleetform:clusters[0].network.cidr: got "10.0.0.0/33"; allowed: an IPv4 CIDR such as 10.0.0.0/16'),
    ("public CIDR", fleet([{**AWS, "network": {"cidr": "52.0.0.0/16"}}], []),
     'fleetform:clusters[0].network.cidr: got "52.0.0.0/16"; allowed: a private IPv4 CIDR (RFC 1918) with a prefix from /8 to /20, e.g. 10.10.0.0/16'),
    ("one zone", fleet([{**AWS, "network": {"zones": 1}}], []),
     "fleetform:clusters[0].network.zones: got 1; allowed: a whole number >= 2"),
    ("zones not a number", fleet([{**AWS, "network": {"zones": "three"}}], []),
     'fleetform:clusters[0].network.zones: got "three"; allowed: a whole number'),
    ("two masters", fleet([{**AWS, "controlPlane": {"count": 2}}], []),
     "fleetform:clusters[0].controlPlane.count: got 2; allowed: 1 or 3 (embedded etcd needs an odd quorum; "
     "2 masters tolerate no more failures than 1)"),
    ("public endpoint without CIDRs", fleet([{**AWS, "controlPlane": {"publicAccess": True}}], []),
     "fleetform:clusters[0].controlPlane.apiAllowedCidrs: got []; allowed: at least one CIDR when publicAccess "
     "is true (the public endpoint is never open to all by default)"),
    ("node pool min > max", fleet([{**AWS, "nodePools": [{"name": "g", "size": "m6i.large", "min": 5, "max": 3}]}], []),
     "fleetform:clusters[0].nodePools[0].min: got 5; allowed: at most max (3)"),
    ("node pool list empty", fleet([{**AWS, "nodePools": []}], []),
     "fleetform:clusters[0].nodePools: got []; allowed: at least one node pool"),
    ("duplicate node pools", fleet([{**AWS, "nodePools": [{"name": "g", "size": "a"}, {"name": "g", "size": "b"}]}], []),
     'fleetform:clusters[0].nodePools[1].name: got "g"; allowed: a name not used by another pool of this cluster'),
    ("bad taint effect", fleet([{**AWS, "nodePools": [{"name": "g", "size": "a", "taints": [{"key": "k", "effect": "Never"}]}]}], []),
     'fleetform:clusters[0].nodePools[0].taints[0].effect: got "Never"; allowed: one of NoSchedule, PreferNoSchedule, NoExecute'),
    ("metallb pool with servicelb", fleet([{**EX, "loadBalancer": {"publicPool": "pub"}}], []),
     'fleetform:clusters[0].loadBalancer.publicPool: got "pub"; allowed: only with provider: metallb (ServiceLB and cloud load balancers have no MetalLB address pools)'),
    ("unsupported k8s version", fleet([{**EX, "kubernetesVersion": "1.20"}], []),
     'fleetform:clusters[0].kubernetesVersion: got "1.20"; allowed: one of 1.32, 1.33, 1.34, 1.35, 1.36, 1.37 (a quoted minor version)'),
    ("unpinned image (no tag)", fleet([EX], [service(image="nginx")]),
     'fleetform:services[0].image: got "nginx"; allowed: a pinned image: a digest (@sha256:...) or a tag other than latest'),
    ("latest tag", fleet([EX], [service(image="ghcr.io/acme/web:latest")]),
     'fleetform:services[0].image: got "ghcr.io/acme/web:latest"; allowed: a pinned image: a digest (@sha256:...) or a tag other than latest'),
    ("port out of range", fleet([EX], [service(port=70000)]),
     "fleetform:services[0].port: got 70000; allowed: a port from 1024 to 65535 (the container runs as non-root with no capabilities)"),
    ("privileged port", fleet([EX], [service(port=80)]),
     "fleetform:services[0].port: got 80; allowed: a port from 1024 to 65535 (the container runs as non-root with no capabilities)"),
    ("port wrong type", fleet([EX], [service(port="http")]),
     'fleetform:services[0].port: got "http"; allowed: a whole number'),
    ("relative health path", fleet([EX], [service(health={"path": "healthz"})]),
     'fleetform:services[0].health.path: got "healthz"; allowed: an absolute URL path such as /healthz '
     "(starts with '/', no spaces, query or fragment)"),
    ("autoscale min > max", fleet([EX], [service(replicas=2, autoscale={"min": 4, "max": 3})]),
     "fleetform:services[0].autoscale.min: got 4; allowed: at most autoscale.max (3)"),
    ("replicas outside autoscale", fleet([EX], [service(replicas=5, autoscale={"min": 2, "max": 4})]),
     "fleetform:services[0].replicas: got 5; allowed: from autoscale.min (2) to autoscale.max (4)"),
    ("duplicate service", fleet([EX], [service(), service(servicePort=8080)]),
     'fleetform:services[1].name: got "web"; allowed: a name not used by another entry of services'),
    ("bad expose", fleet([EX], [service(expose="world")]),
     'fleetform:services[0].expose: got "world"; allowed: one of public, internal, cluster'),
    ("service on unknown cluster", fleet([EX], [service(clusters=["prod"])]),
     'fleetform:services[0].clusters[0]: got "prod"; allowed: a cluster of this stack: local'),
    ("egress to unknown service", fleet([EX], [service(egress=[{"service": "db"}])]),
     'fleetform:services[0].egress[0].service: got "db"; allowed: a service of this stack: web'),
    ("egress CIDR without ports", fleet([EX], [service(egress=[{"cidr": "10.1.0.0/16"}])]),
     "fleetform:services[0].egress[0].ports: got []; allowed: at least one port with cidr (no all-ports egress)"),
    ("bad CPU quantity", fleet([EX], [service(resources={"cpu": "lots"})]),
     'fleetform:services[0].resources.cpu: got "lots"; allowed: a CPU quantity of at least 1m, such as 250m, 1 or 1.5'),
    ("namespace default", fleet([EX], [], namespace="default"),
     'fleetform:namespace: got "default"; allowed: a namespace of fleetform\'s own, not default or a kube-* system namespace'),
    ("replicas float", fleet([EX], [service(replicas=2.5)]),
     "fleetform:services[0].replicas: got 2.5; allowed: a whole number"),
    # A trailing newline must not slip past an anchored pattern (Python's $ matches before it).
    ("name with trailing newline", fleet([EX], [service("web\n", image="ghcr.io/acme/web:1.2.3")]),
     'fleetform:services[0].name: got "web\\n"; allowed: a DNS-1123 label: lower-case letters, digits and \'-\', '
     "starting and ending with a letter or digit, at most 40 characters"),
    ("env name with trailing newline", fleet([EX], [service(env={"A\n": "x"})]),
     'fleetform:services[0].env: got "A\\n" (names); allowed: environment variable names of letters, digits, \'_\', '
     "'-', '.', not starting with a digit or '..'"),
    # Every bad name, and never a value (it may be a credential):
    ("env names starting with a digit or spaced", fleet([EX], [service(env={"OK": "1", "1ABC": "x", "DB PASS": "PLANTED"})]),
     'fleetform:services[0].env: got "1ABC", "DB PASS" (names); allowed: environment variable names of letters, '
     "digits, '_', '-', '.', not starting with a digit or '..'"),
    ("replicas above autoscale.max", fleet([EX], [service(replicas=5, autoscale={"max": 3})]),
     "fleetform:services[0].replicas: got 5; allowed: at most autoscale.max (3)"),
    ("bad image path", fleet([EX], [service(image="ghcr.io/Acme/web:1.0")]),
     'fleetform:services[0].image: got "ghcr.io/Acme/web:1.0"; allowed: an image reference like registry/repo:1.2.3 '
     "or registry/repo@sha256:<64 hex> (name at most 255 characters)"),
    ("region on existing", fleet([{**EX, "region": "us-east-1"}], []),
     'fleetform:clusters[0].region: got "us-east-1"; allowed: nothing for target existing (fleetform provisions nothing there)'),
    ("control plane on existing", fleet([{**EX, "controlPlane": {"count": 1}}], []),
     'fleetform:clusters[0].controlPlane: got "{...}"; allowed: nothing for target existing (fleetform provisions '
     "nothing there)"),
    ("env value of the wrong type is not shown", fleet([EX], [service(env={"DB_PASSWORD": ["PLANTED"]})]),
     "fleetform:services[0].env.DB_PASSWORD: got (not shown); allowed: a string"),
    ("env name with a .. prefix", fleet([EX], [service(env={"..FOO": "x"})]),
     'fleetform:services[0].env: got "..FOO" (names); allowed: environment variable names of letters, digits, \'_\', '
     "'-', '.', not starting with a digit or '..'"),
    ("image host with IPv4 in brackets", fleet([EX], [service(image="[1.2.3.4]:5000/web:1.0")]),
     'fleetform:services[0].image: got "[1.2.3.4]:5000/web:1.0"; allowed: an image reference like registry/repo:1.2.3 '
     "or registry/repo@sha256:<64 hex> (name at most 255 characters)"),
    ("kubernetesVersion unquoted", fleet([EX], [], kubernetesVersion=1.30),
     'fleetform:kubernetesVersion: got 1.3; allowed: a quoted minor version such as "1.30" (unquoted, 1.30 is the '
     "number 1.3)"),
    ("replicas infinite", fleet([EX], [service(replicas=float("inf"))]),
     "fleetform:services[0].replicas: got inf; allowed: a finite number"),
    ("replicas true", fleet([EX], [service(replicas=True)]),
     "fleetform:services[0].replicas: got true; allowed: a whole number"),
    ("service name starts with a digit", fleet([EX], [service("1web")]),
     'fleetform:services[0].name: got "1web"; allowed: a DNS-1035 label: lower-case letters, digits and \'-\', '
     "starting with a letter and ending with a letter or digit, at most 40 characters"),
    ("service takes the default-deny name", fleet([EX], [service("default-deny")]),
     'fleetform:services[0].name: got "default-deny"; allowed: a DNS-1123 label other than default-deny (the name '
     "of the namespace's default-deny NetworkPolicy)"),
    ("service on no cluster", fleet([EX], [service(clusters=[])]),
     "fleetform:services[0].clusters: got []; allowed: at least 1 item(s)"),
    ("CPU request above its limit", fleet([EX], [service(resources={"cpu": "2"})]),
     'fleetform:services[0].resources.cpu: got "2"; allowed: at most the CPU limit, cpuLimit (1, the default: set '
     "cpuLimit to raise it)"),
    ("CPU request above a set limit", fleet([EX], [service(resources={"cpu": "2", "cpuLimit": "1500m"})]),
     'fleetform:services[0].resources.cpu: got "2"; allowed: at most the CPU limit, cpuLimit (1500m)'),
    ("CPU quantity with a huge exponent", fleet([EX], [service(resources={"cpu": "1e1000000"})]),
     'fleetform:services[0].resources.cpu: got "1e1000000"; allowed: a CPU quantity of at least 1m, such as 250m, 1 '
     "or 1.5"),
    ("tag name with a dot and <", fleet([{**cluster("z1", "azure"), "tags": {"cost.center<": "x"}}], []),
     'fleetform:clusters[0].tags["cost.center<"]: got "x"; allowed: Azure tags: names of 1-256 characters without '
     "< > % & \\ ? /, values of at most 256 characters"),
    ("memory request above its limit", fleet([EX], [service(resources={"memory": "512Mi", "memoryLimit": "256Mi"})]),
     'fleetform:services[0].resources.memory: got "512Mi"; allowed: at most the memory limit, memoryLimit (256Mi)'),
    ("CPU limit zero", fleet([EX], [service(resources={"cpuLimit": "0"})]),
     'fleetform:services[0].resources.cpuLimit: got "0"; allowed: a CPU quantity of at least 1m, such as 250m, 1 or 1.5'),
    ("memory in millibytes", fleet([EX], [service(resources={"memory": "128m"})]),
     'fleetform:services[0].resources.memory: got "128m"; allowed: a memory quantity of at least 1Mi, such as 256Mi, '
     "1Gi or 500M (m would mean thousandths of a byte)"),
    ("memory with an upper-case K", fleet([EX], [service(resources={"memory": "128K"})]),
     'fleetform:services[0].resources.memory: got "128K"; allowed: a memory quantity of at least 1Mi, such as 256Mi, '
     "1Gi or 500M (m would mean thousandths of a byte)"),
    ("kubeconfig content instead of a path",
     fleet([{**EX, "existing": {"kubeconfig": "apiVersion: v1\nusers:\n- user: {token: PLANTED}"}}], []),
     "fleetform:clusters[0].existing.kubeconfig: got (not shown); allowed: a path to a kubeconfig file, not its "
     "content (point $KUBECONFIG or this key at a file)"),
    ("ssh key of the wrong type is not echoed", fleet([EX], [], sshPrivateKey={"value": "-----BEGIN PLANTED"}),
     "fleetform:sshPrivateKey: got (not shown); allowed: a string"),
]


@pytest.mark.parametrize("resources", [
    {"cpu": 2, "cpuLimit": 4}, {"cpu": 0.5}, {"memory": 134217728}, {"memory": "1.5Gi"}, {"memory": "129e6"},
    {"memory": "2000k", "memoryLimit": "1Pi"}, {"cpu": ".5", "cpuLimit": "1."}, {"memory": "1Ei", "memoryLimit": "1Ei"},
    {"cpu": "+1"},
])
def test_kubernetes_quantities_are_accepted(resources):
    """What Kubernetes' quantity grammar takes (numbers, decimal and binary suffixes, exponents)."""
    svc = load_spec(fleet([EX], [service(resources=resources)])).services[0]
    assert all(isinstance(v, str) for v in svc.resources.model_dump().values() if v is not None)


def test_credentials_in_a_url_are_masked_in_the_message():
    onprem = cluster("dc", "onprem", ssh={"verifyHostKeys": False}, install={"releaseUrl": "https://u:PLANTED@mirror.example/k3s"},
                     hosts=[{"name": "m1", "address": "192.0.2.11", "role": "master"}])
    with pytest.raises(FleetConfigError) as info:
        load_spec(fleet([onprem], [], sshPrivateKey="k"))
    assert len(info.value.problems) == 1
    assert "PLANTED" not in info.value.problems[0]
    assert info.value.problems[0].startswith('fleetform:clusters[0].install.releaseUrl: got "https://***@mirror.example/k3s"')


@pytest.mark.parametrize("config,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_gives_exactly_one_clear_line(config, expected):
    with pytest.raises(FleetConfigError) as info:
        load_spec(config)
    assert info.value.problems == ([expected] if isinstance(expected, str) else list(expected))


def test_table_is_big_enough():
    assert len(CASES) >= 25


def test_several_problems_are_all_reported_one_line_each():
    config = fleet([{"name": "A", "target": "moon"}], [service(port=1, image="x:latest")])
    with pytest.raises(FleetConfigError) as info:
        load_spec(config)
    paths = [line.split(":", 2)[1] for line in info.value.problems]
    assert sorted(paths) == sorted(["clusters[0].name", "clusters[0].target", "services[0].image", "services[0].port"])
    assert all("\n" not in line for line in info.value.problems)


def test_every_unknown_reference_is_reported_not_just_the_first():
    config = fleet([EX], [service(clusters=["nope1"], egress=[{"service": "nope2"}]), service("api", clusters=["nope3"])])
    with pytest.raises(FleetConfigError) as info:
        load_spec(config)
    assert info.value.problems == [
        'fleetform:services[0].clusters[0]: got "nope1"; allowed: a cluster of this stack: local',
        'fleetform:services[0].egress[0].service: got "nope2"; allowed: a service of this stack: api, web',
        'fleetform:services[1].clusters[0]: got "nope3"; allowed: a cluster of this stack: local',
    ]


def test_values_as_engine_json_strings_validate_the_same():
    # The engine hands structured config to programs as JSON strings.
    config = fleet([EX], [service()])
    as_strings = {k: json.dumps(v) for k, v in config.items()}
    assert load_spec(as_strings) == load_spec(config)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.floats(allow_nan=False, width=16)
    | st.sampled_from(["", "aws", "existing", "web", "10.0.0.0/16", "/healthz", "x:1", "a" * 70, "1.32", "public"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "target", "region", "image", "port", "replicas", "nodePools", "min", "max",
                         "network", "cidr", "zones", "autoscale", "health", "path", "expose", "x"]),
        children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    clusters=st.one_of(json_values, st.lists(st.fixed_dictionaries(
        {"name": st.sampled_from(["a", "b", "B"]), "target": st.sampled_from(["aws", "gcp", "existing", "onprem", "x"])},
        optional={"region": json_values, "mode": json_values, "nodePools": json_values, "network": json_values,
                  "controlPlane": json_values, "existing": json_values, "loadBalancer": json_values}), max_size=3)),
    services=st.one_of(json_values, st.lists(st.fixed_dictionaries(
        {"name": st.sampled_from(["web", "api", "Web"]), "image": st.sampled_from(["a/b:1", "a/b", "a/b" + DIGEST, "a:latest"]),
         "port": st.integers(0, 70000)},
        optional={"replicas": json_values, "autoscale": json_values, "health": json_values, "expose": json_values,
                  "egress": json_values, "clusters": json_values, "env": json_values, "resources": json_values}), max_size=3)),
    extra=st.dictionaries(st.sampled_from(["fleetform:namespace", "fleetform:kubernetesVersion", "fleetform:bogus", "aws:region"]),
                          json_values, max_size=2),
)
def test_random_config_raises_only_config_errors(clusters, services, extra):
    config = {"fleetform:clusters": clusters, "fleetform:services": services, **extra}
    try:
        spec = load_spec(config)
    except FleetConfigError as exc:
        assert exc.problems and all(p.startswith("fleetform:") and "\n" not in p for p in exc.problems)
    else:
        assert spec.clusters


def test_cli_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text(
        "config:\n  fleetform:clusters:\n    - name: x\n      target: existing\n"
        "  fleetform:services:\n    - {name: web, image: nginx, port: 8080}\n"
    )
    proc = subprocess.run([sys.executable, "-m", "fleetform.cli", "plan", str(bad)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert 'fleetform:services[0].image: got "nginx"; allowed: a pinned image' in proc.stderr


def test_program_raises_run_error_before_registering(tmp_path):
    """Under the engine, invalid config stops the program with RunError (printed without a
    traceback by the Pulumi language host) and nothing is registered."""
    import pulumi

    from fleetform.fleet import program
    from fleetform.plan.mocks import FleetMocks, RecordingMonitor
    from fleetform.plan.runner import run_under_mocks

    monitor = RecordingMonitor(FleetMocks())
    with pytest.raises(pulumi.RunError, match=r"fleetform:services\[0\]\.port: got 80"):
        run_under_mocks("bad", fleet([EX], [service(port=80)]), program, monitor=monitor)
    assert monitor.registrations == []
    # ...while the same monitor does record a valid program's resources:
    ok = RecordingMonitor(FleetMocks())
    run_under_mocks("good", fleet([EX], [service()]), program, monitor=ok)
    assert len(ok.registrations) > 5


CLOUD_CASES = [
    ("aws tag key reserved", fleet([{**AWS, "tags": {"aws:owner": "x"}}], []),
     'fleetform:clusters[0].tags.aws:owner: got "x"; allowed: AWS tags: keys of 1-127 and values of at most 256 letters, '
     "digits, spaces and _ . : / = + - @; keys must not start with aws:"),
    ("gcp label upper case", fleet([{**cluster("g1", "gcp"), "tags": {"Team": "a"}}], []),
     'fleetform:clusters[0].tags.Team: got "a"; allowed: GCP labels: keys of 1-63 lower-case letters, digits, \'_\' or '
     "'-' starting with a letter; values of at most 63 of those"),
    ("gcp name starts with digit", fleet([cluster("1prod", "gcp")], []),
     'fleetform:clusters[0].name: got "1prod"; allowed: a name starting with a letter (GKE cluster and service account names must)'),
    ("azure four zones", fleet([{**cluster("z1", "azure"), "network": {"zones": 4}}], []),
     "fleetform:clusters[0].network.zones: got 4; allowed: at most 3 (Azure regions have 3 availability zones)"),
    ("gcp pool name starts with a digit", fleet([{**cluster("g1", "gcp"), "nodePools": [{"name": "1pool", "size": "s"}]}], []),
     'fleetform:clusters[0].nodePools[0].name: got "1pool"; allowed: on gcp, a name starting with a letter (GCP '
     "resource names must)"),
    ("gcp 64 labels", fleet([{**cluster("g1", "gcp"), "tags": {f"l{i}": "v" for i in range(64)}}], []),
     'fleetform:clusters[0].tags: got "64 labels"; allowed: at most 55 labels on gcp (GCP allows 64 per resource; '
     "fleetform adds 2, pulumi-gcp's goog-pulumi-provisioned included, and GKE up to 7 on its nodes)"),
    ("azure 50 tags", fleet([{**cluster("z1", "azure"), "tags": {f"t{i}": "v" for i in range(50)}}], []),
     'fleetform:clusters[0].tags: got "50 tags"; allowed: at most 14 tags on azure (the cluster\'s etcd key in Key '
     "Vault takes them and allows 15 tags; fleetform adds 1)"),
    ("azure tag name with <", fleet([{**cluster("z1", "azure"), "tags": {"a<b": "x"}}], []),
     'fleetform:clusters[0].tags["a<b"]: got "x"; allowed: Azure tags: names of 1-256 characters without < > % & \\ ? /, '
     "values of at most 256 characters"),
    ("azure tag name with brackets", fleet([{**cluster("z1", "azure"), "tags": {"a[b]/c": "x"}}], []),
     'fleetform:clusters[0].tags["a[b]/c"]: got "x"; allowed: Azure tags: names of 1-256 characters without < > % & '
     "\\ ? /, values of at most 256 characters"),
    ("azure tag value too long", fleet([{**cluster("z1", "azure"), "tags": {"team": "v" * 257}}], []),
     'fleetform:clusters[0].tags.team: got "' + "v" * 29 + "..." + "v" * 26 + '"; allowed: Azure tags: names of 1-256 characters '
     "without < > % & \\ ? /, values of at most 256 characters"),
    ("aks pool name too long", fleet([{**cluster("z1", "azure"), "nodePools": [{"name": "general-purpose-pool", "size": "s"}]}], []),
     'fleetform:clusters[0].nodePools[0].name: got "general-purpose-pool"; allowed: on AKS, a name that is 1-12 lower-case '
     "letters and digits once '-' is dropped, starts with a letter, is not system and differs from the other pools"),
]


@pytest.mark.parametrize("config,expected", [c[1:] for c in CLOUD_CASES], ids=[c[0] for c in CLOUD_CASES])
def test_bad_cloud_config(config, expected):
    with pytest.raises(FleetConfigError) as info:
        load_spec(config)
    assert info.value.problems == [expected]


def test_self_managed_cloud_cidr_must_not_overlap_k3s_networks():
    cfg = fleet([{**cluster("sm", "gcp", mode="self-managed"), "network": {"cidr": "10.40.0.0/14"}}], [])
    with pytest.raises(FleetConfigError) as info:
        load_spec(cfg)
    assert info.value.problems == [
        'fleetform:clusters[0].network.cidr: got "10.40.0.0/14"; allowed: a CIDR that does not overlap k3s\'s pod and '
        "service networks (10.42.0.0/16, 10.43.0.0/16)"
    ]
    managed = fleet([{**cluster("m", "gcp"), "network": {"cidr": "10.40.0.0/14"}}], [])
    assert load_spec(managed).clusters[0].network.cidr.prefixlen == 14  # managed clusters use their own pod ranges
