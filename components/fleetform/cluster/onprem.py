"""Target ``onprem``: k3s on existing hosts, provisioned over SSH.

Pulumi mints the cluster's identity (:class:`~fleetform.bootstrap.identity.ClusterIdentity`),
renders each host's bootstrap (:mod:`fleetform.bootstrap.script`) and runs it on the host with
``pulumi_command.remote.Command``; the kubeconfig is assembled from Pulumi's own outputs, and the
Kubernetes provider waits for a readiness gate that polls the API.

Lifecycle of a host (documented in the README's onprem section):

- **first up**: the masters are bootstrapped one after the other (the first initialises
  embedded etcd, each next one joins through the registration address), then the workers;
- **re-run**: a host whose rendered bootstrap did not change is not touched (no input of its
  command changed); one whose bootstrap changed runs it again, and the script itself skips the
  install when the pinned release already runs that configuration. The command is *updated*,
  never replaced: a replacement would run the delete command, which uninstalls k3s;
- **removed from the config**: its ``-drain`` command, run on the first master, drains the node
  and deletes its Node object (for a master this also removes its etcd member), then its own
  command's delete runs k3s's uninstall script on the host. The first master is the cluster's
  anchor and is not removed this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Optional

import warnings

import pulumi
import pulumi_kubernetes as k8s

with warnings.catch_warnings():
    # Importing pulumi_command.remote warns about its deprecated CopyFile resource, which
    # fleetform never uses; the warning would only be noise in every plan and test run.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pulumi_command\.remote\.copy_file")
    import pulumi_command as command

    # The SDK loads its submodules lazily, on first attribute access: load them here.
    _ = (command.local.Command, command.remote.Command)

from ..bootstrap import (
    InstallSource,
    NodeBootstrap,
    api_url,
    config_sha256,
    drain_command,
    k3s_release,
    readiness_probe,
    render_script,
    ssh_command,
    uninstall_command,
)
from ..bootstrap.identity import ClusterIdentity, api_access
from ..config import ClusterSpec, HostSpec, SshSpec
from .base import Cluster, ClusterContext

READY_TIMEOUT_SECONDS = 900
"""How long the readiness gate waits for the API before failing the deployment."""

# k3s's documented taint for servers that run no workloads ("dedicated control plane"); the
# packaged components (CoreDNS, metrics-server, ServiceLB) tolerate it.
DEDICATED_MASTER_TAINT = "CriticalAddonsOnly=true:NoExecute"


def _taint(t) -> str:
    return f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"


class OnPremCluster(Cluster):
    """A k3s cluster on existing hosts (target ``onprem``, always self-managed).

    Builds: the cluster identity (CAs, admin and probe certificates, join tokens), one
    ``<name>-master-<host>`` / ``<name>-worker-<host>`` remote command per host that runs its
    bootstrap over SSH (the script on standard input, as root), a ``-drain`` command per host but
    the first master (drains and deletes the node when the host leaves the config), the
    ``<name>-api-ready`` gate, and the Kubernetes provider, which waits for the gate.

    Secure defaults: SSH host keys verified; secrets (SSH key, tokens, CA keys, kubeconfig) only
    ever in Pulumi secrets and root-only files; secure-format join tokens (a joining node checks
    the cluster CA before sending credentials); separate agent token; secrets encrypted at rest,
    audit log, Pod Security "restricted" by default, anonymous API access off, kernel defaults
    protected; masters tainted for control-plane only when there are workers.
    """

    def __init__(
        self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__("fleetform:cluster:OnPremCluster", name, opts)
        self.target = "onprem"
        self.self_managed = True
        self.kubernetes_version = ctx.kubernetes_version
        version = k3s_release(ctx.kubernetes_version)
        address = spec.registration_address
        if address is None:  # config validation guarantees one; this guards the invariant
            raise pulumi.RunError(f"cluster {name}: no registration address (vip or a single master)")
        url = api_url(address)
        ssh_key = pulumi.Output.secret(pulumi.Config("fleetform").get_secret("sshPrivateKey") or "")

        identity = ClusterIdentity(f"{name}-identity", name, opts=pulumi.ResourceOptions(parent=self))

        metallb = spec.load_balancer.provider == "metallb"
        # What every node of this cluster shares; each host's node is this with its own role.
        template = NodeBootstrap(
            role="agent",
            version=version,
            install=InstallSource.from_spec(spec.install),
            # ServiceLB and MetalLB must not both answer for LoadBalancer Services.
            disable=("traefik", "servicelb") if metallb else ("traefik",),
            pod_security_exempt_namespaces=("kube-system", "metallb-system") if metallb else ("kube-system",),
            # Over SSH a bootstrap that fails is run again by the next `pulumi up` (the command
            # is kept with initialization errors, which the engine retries:
            # https://github.com/pulumi/pulumi/pull/1836), so a host whose server never answered
            # fails with one clear line instead of installing k3s that cannot join.
            join_wait_fatal=True,
        )
        masters_dedicated = bool(spec.workers)

        master_cmds: list[command.remote.Command] = []
        master_nodes: list[NodeBootstrap] = []
        first_connection = self._connection(spec.masters[0], spec.ssh, ssh_key)
        for i, host in enumerate(spec.masters):
            node = replace(
                template,
                role="init" if i == 0 else "join",
                server_url=None if i == 0 else url,
                tls_sans=(address,),
                node_name=host.name,
                node_ip=str(host.address),
                labels=tuple(sorted(host.labels.items())),
                taints=tuple(_taint(t) for t in host.taints) + ((DEDICATED_MASTER_TAINT,) if masters_dedicated else ()),
            )
            secrets = [identity.server_token, identity.agent_password, identity.tls_files if i == 0 else {}]
            cmd = self._host_command(
                f"{name}-master-{host.name}", host, spec.ssh, ssh_key, node, secrets,
                # One master at a time: etcd admits one new member at a time.
                depends_on=master_cmds[-1:],
            )
            if i > 0:
                self._drain(f"{name}-master-{host.name}-drain", host, first_connection, cmd, master_cmds[0])
            master_cmds.append(cmd)
            master_nodes.append(node)

        for host in spec.workers:
            node = replace(
                template,
                server_url=url,
                node_name=host.name,
                node_ip=str(host.address),
                labels=tuple(sorted(host.labels.items())),
                taints=tuple(_taint(t) for t in host.taints),
            )
            cmd = self._host_command(
                f"{name}-worker-{host.name}", host, spec.ssh, ssh_key, node, [identity.agent_token, "", {}],
                depends_on=master_cmds,
            )
            self._drain(f"{name}-worker-{host.name}-drain", host, first_connection, cmd, master_cmds[0])

        # Workloads must not be applied before the API answers: the gate polls /readyz with the
        # minted CA and the probe certificate (https://kubernetes.io/docs/reference/using-api/health-checks/;
        # system:public-info-viewer lets any authenticated user read it:
        # https://kubernetes.io/docs/reference/access-authn-authz/rbac/#discovery-roles).
        # Re-checked whenever a master's bootstrap changes (an upgrade restarts the API).
        self.ready, self.kubeconfig = api_access(
            self, name, identity, url,
            timeout_seconds=READY_TIMEOUT_SECONDS,
            triggers=[version, *(config_sha256(n) for n in master_nodes)],
            depends_on=list(master_cmds),
        )
        self.endpoint = pulumi.Output.from_input(url)
        self.provider = self._make_provider(kubeconfig=self.kubeconfig, depends_on=[self.ready])
        self.identity = identity
        self.details = {
            "registrationAddress": address,
            "k3sVersion": version,
            "masters": [h.name for h in spec.masters],
            "workers": [h.name for h in spec.workers],
        }
        self._publish()

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _connection(host: HostSpec, ssh: SshSpec, key: pulumi.Output[str]) -> command.remote.ConnectionArgs:
        return command.remote.ConnectionArgs(
            host=str(host.address),
            port=host.port or ssh.port,
            user=host.user or ssh.user,
            private_key=key,
            # Without a host key the provider accepts any server: only when the config says so.
            host_key=host.host_key if ssh.verify_host_keys else None,
            dial_error_limit=10,
            per_dial_timeout=15,
        )

    def _host_command(self, resource_name, host, ssh, key, node: NodeBootstrap, secrets, depends_on):
        token, agent_password, tls_files = secrets
        script = pulumi.Output.all(token, agent_password, tls_files).apply(
            lambda v: render_script(
                replace(node, token=v[0], agent_token=v[1], tls_files=tuple(sorted((v[2] or {}).items())))
            )
        )
        return command.remote.Command(
            resource_name,
            connection=self._connection(host, ssh, key),
            # The script (secrets included) goes on standard input, never on a command line;
            # the command itself names the release and configuration hash, so plans show changes.
            create=ssh_command(node),
            stdin=pulumi.Output.secret(script),
            delete=uninstall_command(node),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )

    def _drain(self, resource_name, host: HostSpec, first_master, host_cmd, first_master_cmd) -> command.remote.Command:
        # Runs nothing on create; on delete (the host left the config, or destroy) it drains the
        # node from the first master. It depends on the host's command, so it is deleted first:
        # drain, then uninstall.
        return command.remote.Command(
            resource_name,
            connection=first_master,
            create=f"# fleetform: {host.name} is drained through this master when it leaves the config\ntrue",
            delete=drain_command(host.name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[host_cmd, first_master_cmd]),
        )
