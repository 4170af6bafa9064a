"""Pins where the invariant is made: behaviours whose loss no other test noticed.

Each test below was written from what the object must be (the Kubernetes API, the kubelet's
source, DESIGN §3/§4), never from the code's output, and each was checked to fail with the bug it
guards against planted (see docs/mutation-testing.md):

- a service-to-service egress rule losing its destination (the peer's port open to anywhere);
- a sysctl ``--protect-kernel-defaults`` requires missing from the bootstrap;
- the ``existing`` cluster's provider given the kubeconfig's content (its inputs, and every
  workload's, would change whenever credentials rotate);
- the container's security context weakened (before, only the policy pack noticed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from tests.conftest import DIGEST

# ------------------------------------------------------------------------------ helpers


def _spec(name: str, **extra):
    from fleetform import ServiceSpec

    return ServiceSpec.model_validate({"name": name, "image": f"ghcr.io/acme/{name}{DIGEST}", "port": 8080, **extra})


def _selector(name: str) -> dict[str, str]:
    """The pod labels DESIGN §4 gives a service's pods (workloads/pod.py `labels`), by hand."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "fleetform"}


DNS = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]


# ------------------------------------------------------------------------------ 1. NetworkPolicy egress


def _netpol_program():
    api = _spec("api", port=9090)
    db_cidr = "10.20.0.0/16"
    web = _spec("web", egress=[{"service": "api"}, {"cidr": db_cidr, "ports": [5432, 6432]}])
    peers = {"api": api, "web": web}

    def program():
        from fleetform import Microservice

        provider = k8s.Provider("dev", kubeconfig="/nonexistent/kubeconfig")
        opts = pulumi.ResourceOptions(provider=provider)
        Microservice("web", web, namespace="shop", peers=peers, opts=opts)
        Microservice("api", api, namespace="shop", peers=peers, opts=opts)

    return program


def test_network_policy_egress_to_a_peer_names_the_peer_pods_and_only_its_port():
    """The registered NetworkPolicy of `web` (egress to service `api` on 9090, and to a CIDR on two
    ports): every egress rule has a destination, except DNS, whose destination may be kube-dns pods
    or a node-local cache address (so only port 53 is allowed). A rule without `to` would allow
    the port to ANY destination (networking.k8s.io/v1 NetworkPolicyEgressRule: "If this field is
    empty or missing, this rule matches all destinations")."""
    from fleetform.testing import plan

    result = plan(_netpol_program())
    assert result.exit_code == 0, result.problems()
    netpols = {r["name"]: r["inputs"] for r in result.resources() if r["type"] == "kubernetes:networking.k8s.io/v1:NetworkPolicy"}
    web = netpols["web-netpol"]["spec"]
    assert web["podSelector"] == {"matchLabels": _selector("web")}
    assert web["policyTypes"] == ["Ingress", "Egress"]
    assert web["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    assert web["egress"] == [
        {"ports": DNS},
        # The peer's own port, then its Service port (80 by default): the EKS VPC CNI matches the
        # ClusterIP's port (https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html).
        {"to": [{"podSelector": {"matchLabels": _selector("api")}}],
         "ports": [{"port": 9090, "protocol": "TCP"}, {"port": 80, "protocol": "TCP"}]},
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}],
         "ports": [{"port": 5432, "protocol": "TCP"}, {"port": 6432, "protocol": "TCP"}]},
    ]
    # The service without egress config may reach DNS only; its ingress is its own port.
    api = netpols["api-netpol"]["spec"]
    assert api["egress"] == [{"ports": DNS}]
    assert api["ingress"] == [{"ports": [{"port": 9090, "protocol": "TCP"}]}]
    assert api["podSelector"] == {"matchLabels": _selector("api")}


def test_network_policy_function_every_non_dns_egress_rule_has_a_destination():
    """The same invariant on the function that makes the rule, for any mix of destinations."""
    from fleetform.workloads.microservice import _network_policy

    api, auth = _spec("api", port=9090, servicePort=9090), _spec("auth", port=7000, servicePort=8443)
    web = _spec("web", egress=[{"service": "auth"}, {"cidr": "192.168.4.0/24", "ports": [443]}, {"service": "api"}])
    spec: Any = _network_policy(web, {"api": api, "auth": auth, "web": web})
    assert spec["egress"] == [
        {"ports": DNS},
        {"to": [{"pod_selector": {"match_labels": _selector("auth")}}],
         "ports": [{"port": 7000, "protocol": "TCP"}, {"port": 8443, "protocol": "TCP"}]},
        {"to": [{"ip_block": {"cidr": "192.168.4.0/24"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
        {"to": [{"pod_selector": {"match_labels": _selector("api")}}], "ports": [{"port": 9090, "protocol": "TCP"}]},
    ]
    assert spec["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    assert spec["policy_types"] == ["Ingress", "Egress"]
    assert spec["pod_selector"] == {"match_labels": _selector("web")}
    assert set(spec) == {"pod_selector", "policy_types", "ingress", "egress"}


def test_network_policy_unknown_peer_is_refused_with_the_names_given():
    from fleetform.workloads.microservice import _network_policy

    web = _spec("web", egress=[{"service": "api"}])
    with pytest.raises(ValueError) as exc:
        _network_policy(web, {"web": web, "cache": _spec("cache")})
    assert str(exc.value) == (
        "service web: egress to service 'api', which is not among the peers given (cache, web); "
        "pass its ServiceSpec in peers={name: spec}"
    )
    with pytest.raises(ValueError, match=r"among the peers given \(none\)"):
        _network_policy(web, {})


# ------------------------------------------------------------------------------ 3. kubelet sysctls

# The kubelet's desired kernel state, from kubernetes/kubernetes
# pkg/kubelet/cm/container_manager_linux.go `setupKernelTunables` (with ProtectKernelDefaults the
# behaviour is KernelTunableError: any value that differs stops the kubelet) and the constants in
# staging/src/k8s.io/component-helpers/node/util/sysctl/sysctl.go:
#   VMOvercommitMemory "vm/overcommit_memory" = VMOvercommitMemoryAlways 1
#   VMPanicOnOOM       "vm/panic_on_oom"      = VMPanicOnOOMInvokeOOMKiller 0
#   KernelPanic        "kernel/panic"         = KernelPanicRebootTimeout 10
#   KernelPanicOnOops  "kernel/panic_on_oops" = KernelPanicOnOopsAlways 1
#   RootMaxKeys        "kernel/keys/root_maxkeys"  = 1000000
#   RootMaxBytes       "kernel/keys/root_maxbytes" = 25000000
# The k3s hardening guide (https://docs.k3s.io/security/hardening-guide#ensure-protect-kernel-defaults-is-set)
# lists the first four; the kubelet checks all six, and an older kernel may hold lower keyring
# quotas, so the bootstrap sets all six.
KUBELET_PROTECTED = {
    "vm.overcommit_memory": "1",
    "vm.panic_on_oom": "0",
    "kernel.panic": "10",
    "kernel.panic_on_oops": "1",
    "kernel.keys.root_maxkeys": "1000000",
    "kernel.keys.root_maxbytes": "25000000",
}


def _sysctl_file(script: str) -> dict[str, str]:
    from fleetform.bootstrap.script import SYSCTL_FILE
    from tests.bootstrap_parsing import files_of

    text = files_of(script)[SYSCTL_FILE]
    assert text.endswith("\n")  # sysctl.d(5): one assignment per line
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    out = {k.strip(): v.strip() for k, v in pairs}
    assert len(out) == len(pairs), f"a key set twice: {text!r}"
    return out


@pytest.mark.parametrize("role", ["init", "join", "agent"])
def test_bootstrap_writes_exactly_the_sysctls_the_kubelet_protects(role):
    """Every node (masters run a kubelet too) writes the six tunables with the kubelet's values
    to /etc/sysctl.d and loads them before k3s starts with --protect-kernel-defaults."""
    from fleetform.bootstrap.script import CUSTOM_CA_FILES, SYSCTL_FILE, NodeBootstrap, k3s_args, render_script

    node = NodeBootstrap(
        role=role, version="v1.32.5+k3s1", server_url=None if role == "init" else "https://192.0.2.10:6443",
        node_name="n1", node_ip="192.0.2.11", token="K10" + "a" * 64 + "::server:x", agent_token="y",
        tls_files=tuple((p, "pem") for p in CUSTOM_CA_FILES) if role == "init" else (),
    )
    assert "--protect-kernel-defaults" in k3s_args(node)
    script = render_script(node)
    assert _sysctl_file(script) == KUBELET_PROTECTED
    # Loaded (not only written) before the installer starts the kubelet.
    load = script.index(f"sysctl -p \"$ROOT\"{SYSCTL_FILE}")
    assert load < script.index('sh "$INSTALLER"')


# ------------------------------------------------------------------------------ 4. existing provider


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{{name: dev, cluster: {{server: "https://dev.example.com:6443"}}}}]
users: [{{name: dev, user: {{token: {token}}}}}]
contexts: [{{name: dev, context: {{cluster: dev, user: dev}}}}]
current-context: dev
"""


def _existing_program(kubeconfig: str, context: str | None):
    from fleetform import AppNamespace, ClusterSpec, Microservice
    from fleetform.cluster import ClusterContext, ExistingCluster

    existing = {"kubeconfig": kubeconfig, **({"context": context} if context else {})}

    def program():
        cluster = ExistingCluster(
            "dev",
            ClusterSpec.model_validate({"name": "dev", "target": "existing", "existing": existing}),
            ClusterContext(kubernetes_version="1.32", stack=pulumi.get_stack()),
        )
        opts = pulumi.ResourceOptions(provider=cluster.provider)
        AppNamespace("apps", "shop", opts=opts)
        api = _spec("api")
        web = _spec("web", expose="public", egress=[{"service": "api"}])
        peers = {"api": api, "web": web}
        Microservice("web", web, namespace="shop", peers=peers, opts=opts)
        Microservice("api", api, namespace="shop", peers=peers, opts=opts)

    return program


def _plan_with_token(path: Path, token: str, context: str | None):
    from fleetform.testing import plan

    path.write_text(KUBECONFIG.format(token=token))
    result = plan(_existing_program(str(path), context), stack="dev")
    assert result.exit_code == 0, result.problems()
    return result


@pytest.mark.parametrize("context", [None, "dev"])
def test_existing_cluster_inputs_do_not_change_when_the_token_rotates(tmp_path, context):
    """DESIGN §3: the provider is built from inputs that change only when the cluster is another
    cluster; a credential rotation in the kubeconfig must not touch the provider (a changed
    provider input replaces every object on it: pulumi-kubernetes #1148, #2745)."""
    path = tmp_path / "kubeconfig"
    first = _plan_with_token(path, "token-before-rotation-1111", context)
    second = _plan_with_token(path, "token-after-rotation-2222", context)

    def k8s_inputs(result):
        return {r.urn: r.plain_inputs(mask=False) for r in result.capture.registrations if r.type.startswith("kubernetes:")}

    providers = [r for r in first.capture.registrations if r.type == "pulumi:providers:kubernetes"]
    assert len(providers) == 1
    (provider,) = [r for r in first.resources() if r["type"] == "pulumi:providers:kubernetes"]
    inputs = provider["inputs"]
    assert inputs["kubeconfig"] == str(path)  # the path, never the content
    assert inputs["clusterIdentifier"] == "dev"
    assert inputs.get("context") == context
    report = str(first.report()) + str(second.report())
    assert "token-before-rotation-1111" not in report and "token-after-rotation-2222" not in report

    (provider2,) = [r for r in second.resources() if r["type"] == "pulumi:providers:kubernetes"]
    assert provider2 == provider
    objects = k8s_inputs(first)
    assert len(objects) >= 13  # namespace, default deny, and six objects per service
    assert k8s_inputs(second) == objects


# ------------------------------------------------------------------------------ 5. pod security


def test_container_security_context_is_locked_down_on_the_registered_deployment():
    """DESIGN §4, on the Deployment as registered (camelCase, as the API server sees it): the
    container runs as non-root on a read-only root filesystem, cannot escalate, holds no
    capabilities, runs under the runtime's default seccomp profile and is not privileged.
    The pod-level context sets the same non-root identity and seccomp profile. (PSA `restricted`
    requires all but the read-only root; the policy pack is the second net, not the first.)"""
    from fleetform.testing import plan

    result = plan(_netpol_program())
    deployments = {r["name"]: r["inputs"] for r in result.resources() if r["type"] == "kubernetes:apps/v1:Deployment"}
    assert set(deployments) == {"web-deployment", "api-deployment"}
    for inputs in deployments.values():
        pod = inputs["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}  # nothing added back
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert sc.get("privileged", False) is False
        assert sc["runAsUser"] >= 10000 and sc["runAsGroup"] >= 10000  # clear of host system users
        assert "procMount" not in sc and "seLinuxOptions" not in sc and "windowsOptions" not in sc
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["securityContext"]["runAsUser"] == sc["runAsUser"]
        assert pod["automountServiceAccountToken"] is False
        assert pod.get("hostNetwork", False) is False and pod.get("hostPID", False) is False
        assert pod.get("hostIPC", False) is False
        # The read-only root needs a writable scratch dir, and only that one, bounded.
        assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
        assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]


def test_container_function_security_context():
    """The same on the unit that builds it (workloads/pod.py `container`)."""
    from fleetform.workloads.pod import container

    built: Any = container(_spec("web"))
    sc = built["security_context"]
    assert sc == {
        "allow_privilege_escalation": False,
        "privileged": False,
        "read_only_root_filesystem": True,
        "run_as_non_root": True,
        "run_as_user": 10001,
        "run_as_group": 10001,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }

