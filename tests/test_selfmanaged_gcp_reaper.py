"""Self-managed k3s on GCP: the masters' stale-Node reaper (cluster/selfmanaged_gcp_reaper.py).

Why it exists (review 14, P1-1), with the sources its module cites:

- a managed instance group repairs a failed VM, and recreates a preempted Spot VM, under its old
  name (https://cloud.google.com/compute/docs/instance-groups/about-repair); with ``--with-node-id``
  the new boot disk registers a second Node with the same providerID;
- cloud-provider-gcp deletes a Node only when ``InstanceExistsByProviderID`` finds no instance, and
  ``InstanceShutdownByProviderID`` is ``NotImplemented`` (providers/gce/gce_instances.go, v32.2.4
  to v36.0.7), so the old Node would stay;
- the other way out, a group that never repairs, is not available or not safe: pulumi-gcp 10.2.0
  (terraform-provider-google ``StringInSlice{"REPAIR", "DO_NOTHING"}``) offers ``REPAIR`` and
  ``DO_NOTHING`` only; ``DELETE`` is in Compute Engine's v1beta API alone.

Proved offline: the planned user data installs the script and its timer on every master and on
no worker, the units pass ``systemd-analyze verify``, the script deletes exactly the Nodes the rule
names (run against a stand-in ``k3s kubectl``), and its user may only get, list and delete Nodes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys

import pulumi_gcp as gcp
import pytest
import yaml

from fleetform.cluster import selfmanaged_gcp_reaper as reaper
from fleetform.plan.mocks import plain
from tests.conftest import one, planned, regs

STACK = CLUSTER = "selfmanaged-gcp"
INSTANCE = "gcp:compute/instance:Instance"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"
RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
SERVICE = f"/etc/systemd/system/{reaper.REAPER_UNIT}.service"
TIMER = f"/etc/systemd/system/{reaper.REAPER_UNIT}.timer"


def raw(reg):
    return plain(reg.inputs, mask=False)


@pytest.fixture(scope="module")
def result():
    return planned(STACK)


def written(reg) -> dict[str, tuple[str, str]]:
    """path -> (permissions, decoded content) of a VM's cloud-config write_files."""
    doc = yaml.safe_load(raw(reg)["metadata"]["user-data"])
    return {f["path"]: (f["permissions"], base64.b64decode(f["content"]).decode()) for f in doc["write_files"]}


# ------------------------------------------------------------------------------ where it runs


def test_every_master_and_no_worker_gets_the_reaper_and_its_timer(result):
    masters = regs(result, INSTANCE)
    assert len(masters) == 3
    for reg in masters:
        files = written(reg)
        assert files[reaper.REAPER_PATH] == ("0700", reaper.NODE_REAPER_PY)
        assert files[SERVICE] == ("0644", reaper.SERVICE_UNIT) and files[TIMER] == ("0644", reaper.TIMER_UNIT)
        runcmd = yaml.safe_load(raw(reg)["metadata"]["user-data"])["runcmd"]
        # Enabled before the bootstrap, whose `exec` is the last thing cloud-init's runcmd does.
        assert runcmd[0] == ["/bin/sh", "-c", "systemctl daemon-reload && systemctl enable --now fleetform-node-reaper.timer"]
        assert runcmd[-1][2].endswith("exec /bin/sh /var/lib/fleetform/bootstrap.sh") and len(runcmd) == 2
    for reg in regs(result, TEMPLATE):
        assert set(written(reg)) == {"/var/lib/fleetform/fetch-bootstrap.py"}, reg.name


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_planned_units_pass_systemd_analyze_verify(result, tmp_path):
    files = written(one(result, INSTANCE, f"{CLUSTER}-master-0"))
    for path in (SERVICE, TIMER):
        (tmp_path / os.path.basename(path)).write_text(files[path][1])
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / os.path.basename(TIMER))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "fleetform" not in proc.stderr, proc.stderr
    timer = files[TIMER][1]
    # Every minute, far inside the autoscaler's 20-minute scale-down-unready-time (FAQ.md flag table).
    assert "OnUnitActiveSec=60s" in timer and "WantedBy=timers.target" in timer
    assert f"ExecStart=/usr/bin/python3 {reaper.REAPER_PATH}" in files[SERVICE][1]


def test_the_groups_keep_repairing_because_the_provider_offers_no_safe_alternative(result):
    for reg in regs(result, MIG):
        policy = raw(reg).get("instanceLifecyclePolicy") or {}
        assert policy.get("defaultActionOnFailure", "REPAIR") == "REPAIR", reg.name
    # pulumi-gcp 10.2.0's own documentation of the field: two values, no DELETE.
    doc = gcp.compute.InstanceGroupManagerInstanceLifecyclePolicyArgs.__init__.__doc__ or ""
    assert "Valid options are: `DO_NOTHING`, `REPAIR`" in doc and "DELETE" not in doc


# ------------------------------------------------------------------------------ what it may do


def test_the_reaper_user_may_only_get_list_and_delete_nodes(result):
    role = raw(one(result, f"{RBAC}:ClusterRole", f"{CLUSTER}-node-reaper-role"))
    assert role["rules"] == [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "delete"]}]
    binding = raw(one(result, f"{RBAC}:ClusterRoleBinding", f"{CLUSTER}-node-reaper-binding"))
    assert binding["subjects"] == [{"kind": "User", "name": reaper.REAPER_USER, "apiGroup": "rbac.authorization.k8s.io"}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]}
    system = one(result, "pulumi:providers:kubernetes", f"{CLUSTER}-k8s-system")
    for name in ("role", "binding"):
        reg = one(result, f"{RBAC}:ClusterRole" + ("Binding" if name == "binding" else ""), f"{CLUSTER}-node-reaper-{name}")
        assert reg.provider.startswith(system.urn)
    assert not [v for v in result.violations if "node-reaper" in v.urn]


# ------------------------------------------------------------------------------ what it deletes


def node(name: str, provider_id: str, created: str, ready: "str | None" = "True") -> dict:
    conditions = [] if ready is None else [{"type": "Ready", "status": ready}]
    metadata: dict[str, str] = {"name": name}
    if created:
        metadata["creationTimestamp"] = created
    return {"metadata": metadata, "spec": {"providerID": provider_id} if provider_id else {},
            "status": {"conditions": conditions}}


GCE = "gce://acme-prod/europe-west1-b/"
NODES = [
    # The case itself: fleet-general-x7 recreated; the old Node is Unknown, the new one Ready.
    node("fleet-general-x7-0a1b2c3d", GCE + "fleet-general-x7", "2026-12-01T08:00:00Z", "Unknown"),
    node("fleet-general-x7-4e5f6a7b", GCE + "fleet-general-x7", "2026-12-02T09:30:00Z", "True"),
    # Recreated twice: both older Nodes go, the newest stays even while it is not Ready yet.
    node("fleet-spot-k2-11111111", GCE + "fleet-spot-k2", "2026-12-01T01:00:00Z", "False"),
    node("fleet-spot-k2-22222222", GCE + "fleet-spot-k2", "2026-12-01T05:00:00Z", None),
    node("fleet-spot-k2-33333333", GCE + "fleet-spot-k2", "2026-12-02T10:00:00Z", "False"),
    # An older Node that is Ready is never touched (nothing recreated its machine).
    node("fleet-general-q1-aaaaaaaa", GCE + "fleet-general-q1", "2026-12-01T00:00:00Z", "True"),
    node("fleet-general-q1-bbbbbbbb", GCE + "fleet-general-q1", "2026-12-02T00:00:00Z", "True"),
    # A lone NotReady Node is the CCM's (it deletes it once the instance is gone), not the reaper's.
    node("fleet-general-z9-cccccccc", GCE + "fleet-general-z9", "2026-12-01T00:00:00Z", "False"),
    # Same creation second: which is newer is unknown, so neither is deleted.
    node("fleet-general-t3-dddddddd", GCE + "fleet-general-t3", "2026-12-01T00:00:00Z", "False"),
    node("fleet-general-t3-eeeeeeee", GCE + "fleet-general-t3", "2026-12-01T00:00:00Z", "True"),
    # Not a gce:// providerID, none at all, or no creation time: left alone.
    node("other-1", "aws:///eu-west-1a/i-0abc", "2026-12-01T00:00:00Z", "False"),
    node("other-2", "aws:///eu-west-1a/i-0abc", "2026-12-02T00:00:00Z", "True"),
    node("bare-1", "", "2026-12-01T00:00:00Z", "False"),
    node("bare-2", "", "2026-12-02T00:00:00Z", "True"),
    node("undated", GCE + "fleet-general-u1", "", "False"),
    node("fleet-general-u1-ffffffff", GCE + "fleet-general-u1", "2026-12-02T00:00:00Z", "True"),
]

FAKE_K3S = """\
import json, os, sys
log = os.environ["REAPER_TEST_LOG"]
with open(log, "a") as out:
    out.write(json.dumps(sys.argv[1:]) + "\\n")
args = sys.argv[1:]
if "get" in args:
    if os.environ.get("REAPER_TEST_FAIL_LIST"):
        sys.stderr.write("The connection to the server 127.0.0.1:6443 was refused\\n")
        sys.exit(1)
    sys.stdout.write(open(os.environ["REAPER_TEST_NODES"]).read())
elif "delete" in args:
    sys.stdout.write("node deleted\\n")
"""


def run_reaper(tmp_path, nodes, **env_extra):
    fake = tmp_path / "k3s"
    fake.write_text(f"#!{sys.executable}\n" + FAKE_K3S)
    fake.chmod(0o755)
    (tmp_path / "nodes.json").write_text(json.dumps({"kind": "NodeList", "items": nodes}))
    script = tmp_path / "node-reaper.py"
    script.write_text(reaper.NODE_REAPER_PY)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "FLEETFORM_K3S": str(fake),
           "REAPER_TEST_LOG": str(tmp_path / "calls.log"), "REAPER_TEST_NODES": str(tmp_path / "nodes.json"), **env_extra}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
    log = tmp_path / "calls.log"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return proc, calls


def test_the_reaper_deletes_exactly_the_not_ready_nodes_a_newer_node_replaced(tmp_path):
    proc, calls = run_reaper(tmp_path, NODES)
    assert proc.returncode == 0, proc.stderr
    common = ["kubectl", "--kubeconfig", "/etc/rancher/k3s/k3s.yaml", "--as", "fleetform:node-reaper", "--request-timeout=30s"]
    assert calls[0] == common + ["get", "nodes", "-o", "json"]
    deleted = [c[len(common) + 2] for c in calls[1:]]
    assert all(c[: len(common) + 2] == common + ["delete", "node"] and c[-2:] == ["--ignore-not-found", "--wait=false"]
               for c in calls[1:])
    assert deleted == ["fleet-general-x7-0a1b2c3d", "fleet-spot-k2-11111111", "fleet-spot-k2-22222222"]
    # Each deletion is logged with its reason (journald keeps the timer's output).
    assert ("deleting Node fleet-general-x7-0a1b2c3d: not Ready, and its providerID "
            f"{GCE}fleet-general-x7 is held by the newer Node fleet-general-x7-4e5f6a7b") in proc.stdout


def test_the_reaper_does_nothing_on_a_healthy_cluster_and_fails_loudly_without_the_api(tmp_path):
    healthy = [n for n in NODES if n["metadata"]["name"].startswith(("fleet-general-q1", "fleet-general-z9"))]
    proc, calls = run_reaper(tmp_path, healthy)
    assert proc.returncode == 0 and len(calls) == 1 and proc.stdout == ""
    proc, calls = run_reaper(tmp_path, NODES, REAPER_TEST_FAIL_LIST="1")
    assert proc.returncode == 1 and "cannot list Nodes" in proc.stderr
    assert [c for c in calls if "delete" in c] == []


def test_the_rule_itself(tmp_path):
    namespace: dict = {}
    exec(compile(reaper.NODE_REAPER_PY, "node-reaper.py", "exec"), namespace)  # the shipped script itself
    stale = namespace["stale"]
    assert stale([]) == []
    old, new = NODES[0], NODES[1]
    assert stale([new, old]) == [(old["metadata"]["name"], GCE + "fleet-general-x7", new["metadata"]["name"])]
    # Ready again (a kubelet that came back) -> kept.
    back = json.loads(json.dumps(old))
    back["status"]["conditions"][0]["status"] = "True"
    assert stale([back, new]) == []
