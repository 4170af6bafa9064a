"""Target ``aws``, mode ``self-managed``: fleetform's own k3s masters and workers on EC2, in the
same VPC the EKS target builds (:class:`~fleetform.network.aws.AwsNetwork`), behind the common
cluster face.

The bootstrap is the one every self-managed cluster shares (:mod:`fleetform.bootstrap`), handed
to the machines as cloud-init user data; Pulumi mints the cluster's identity, so the kubeconfig is
assembled from Pulumi's own outputs and nothing is read back from a machine.

Lifecycle (also in :class:`SelfManagedAwsCluster`'s docstring):

- **masters** are long-lived etcd members. cloud-init runs user data once per instance, and a
  stopped instance whose user data changes does not run it again
  (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html), so a
  changed bootstrap or a newer AMI is *ignored* on existing masters instead of stopping (or
  replacing) all of them at once; upgrade masters with k3s's system-upgrade-controller
  (https://docs.k3s.io/upgrades/automated). Never replace the first master: its bootstrap
  initialises etcd (``--cluster-init``);
- **workers** are cattle: a changed launch template (k3s release, labels, taints, size) rolls each
  pool's Auto Scaling group through an instance refresh, launching before terminating;
- **Nodes follow EC2** (:mod:`.selfmanaged_aws_addons`): cloud-provider-aws gives each Node its
  providerID and zone/region labels and deletes the Node of a terminated instance; the Cluster
  Autoscaler moves each pool between ``min`` and ``max``. Worker pools are in
  :mod:`.selfmanaged_aws_workers`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import replace
from typing import Optional

import pulumi
import pulumi_aws as aws
import pulumi_command as command

from ..bootstrap import NodeBootstrap, api_url, config_sha256, k3s_release, readiness_probe, render_cloud_init
from ..bootstrap.identity import ClusterIdentity, api_access
from ..bootstrap.script import API_PORT
from ..config import ClusterSpec
from ..network.aws import AccessLogBucket, AwsNetwork, AwsNetworkArgs
from . import selfmanaged_aws_addons as lifecycle
from .base import Cluster, ClusterContext, FrontedService
from .eks import cluster_tags, partition_of
from .selfmanaged_aws_workers import (  # noqa: F401  (re-exported: the module's names before the split)
    ROOT_DEVICE, UBUNTU_RELEASE, WORKER_WARMUP_SECONDS, imds_options, ubuntu_ami_parameter, worker_pool,
)

MASTER_SIZE = "m6i.large"
"""Default master size: 2 vCPU / 8 GiB, k3s's sizing row for up to 350 agents
(https://docs.k3s.io/installation/requirements#server-sizing-guide)."""
MASTER_DISK_GB = 50
"""Masters' encrypted gp3 root volume (etcd lives on it)."""
USER_DATA_LIMIT = 16 * 1024
"""EC2 takes at most 16 KB of user data before base64
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html)."""
READY_TIMEOUT_SECONDS = 1200
"""How long the readiness gate waits for the API (instances boot, then k3s installs)."""
HEALTH_CHECK_INTERVAL, HEALTHY_THRESHOLD, UNHEALTHY_THRESHOLD = 10, 3, 3
"""Load balancer health check cadence (the same numbers the EKS target's NLB annotations use)."""

# k3s's documented taint for servers that run no workloads ("dedicated control plane"); the
# packaged components (CoreDNS, metrics-server) tolerate it. Every cloud cluster has worker pools.
DEDICATED_MASTER_TAINT = "CriticalAddonsOnly=true:NoExecute"

# Inbound rules between k3s nodes (https://docs.k3s.io/installation/requirements#inbound-rules-for-k3s-nodes):
# (protocol, from port, to port, what). Flannel's default backend is VXLAN; no WireGuard, no
# Spegel, so their ports stay closed. Everything else reaches nodes only from a load balancer.
ALL_NODES_PORTS = (("udp", 8472, 8472, "Flannel VXLAN"), ("tcp", 10250, 10250, "kubelet metrics and API"))
MASTER_PORTS = (("tcp", 2379, 2380, "embedded etcd (servers only)"),)


def elb_name(*parts: str) -> str:
    """A load balancer / target group name: at most 32 characters of letters, digits and '-', not
    starting with ``internal-`` (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html).

    Pulumi's auto-naming does not shorten names past that limit, so fleetform names them: the
    parts joined, or a prefix plus a hash of the whole when longer. Deterministic, so a plan shows it.
    """
    name = "-".join(parts)
    if name.startswith("internal-"):
        name = "ff-" + name
    if len(name) <= 32:
        return name
    return f"{name[:23].rstrip('-')}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def user_data(cloud_config: str, what: str) -> str:
    """Cloud-init user data as EC2 takes it: gzip-compressed, then base64.

    The first master's cloud-config carries the cluster CAs twice base64-encoded and is larger
    than EC2's 16 KB limit as plain text; cloud-init uncompresses gzip user data itself
    (https://github.com/canonical/cloud-init/blob/20.2/doc/rtd/topics/format.rst#gzip-compressed-content).
    ``mtime=0`` keeps the bytes identical between runs, so an unchanged bootstrap is no diff.
    """
    packed = gzip.compress(cloud_config.encode(), compresslevel=9, mtime=0)
    if len(packed) > USER_DATA_LIMIT:
        raise ValueError(f"{what}: cloud-init user data is {len(packed)} bytes compressed; EC2 allows {USER_DATA_LIMIT}")
    return base64.b64encode(packed).decode()


def _health_check(protocol: str, path: Optional[str] = None) -> aws.lb.TargetGroupHealthCheckArgs:
    """A target group health check on the traffic port (for HTTP: 2xx/3xx on ``path``)."""
    return aws.lb.TargetGroupHealthCheckArgs(
        protocol=protocol,
        path=path,
        port="traffic-port",
        matcher="200-399" if protocol == "HTTP" else None,
        interval=HEALTH_CHECK_INTERVAL,
        healthy_threshold=HEALTHY_THRESHOLD,
        unhealthy_threshold=UNHEALTHY_THRESHOLD,
    )


def _cidr_label(cidr: str) -> str:
    return cidr.replace(".", "-").replace("/", "-")


class SelfManagedAwsCluster(Cluster):
    """A k3s cluster of EC2 masters and Auto Scaling workers (``fleetform:cluster:SelfManagedAwsCluster``).

    Builds, with secure defaults:

    - the network (:class:`~fleetform.network.aws.AwsNetwork`): private subnets per zone with NAT
      egress, public subnets only for NAT and internet-facing load balancers;
    - the cluster identity (:class:`~fleetform.bootstrap.identity.ClusterIdentity`): CAs, admin
      and probe certificates, join tokens, all minted by Pulumi;
    - ``controlPlane.count`` masters (EC2 instances, ``controlPlane.size``, default ``m6i.large``)
      spread over the private subnets: no public IP, IMDSv2 required with hop limit 1, encrypted
      gp3 root volume, no SSH key and no SSH rule; the first master initialises embedded etcd, the
      others join; dedicated to the control plane (``CriticalAddonsOnly`` taint); the cluster's
      only AWS identity, an instance role for cloud-provider-aws and the Cluster Autoscaler with
      their documented least-privilege actions (writes only on this cluster's tagged groups);
    - an S3 bucket for the load balancers' access logs (:class:`~fleetform.network.aws.AccessLogBucket`:
      private, SSE-S3, expiring after a year, emptied on destroy); every NLB below logs to it (NLBs log
      TLS listeners only: with TCP listeners it stays empty, and the VPC flow logs carry the traffic);
    - the API load balancer: an NLB, internal unless ``controlPlane.publicAccess`` (then
      internet-facing), TCP 6443 to the masters; its security group admits 6443 only from the VPC
      and ``apiAllowedCidrs`` (and, when public, the NAT addresses the nodes register from); its
      DNS name is the registration address every node joins and is in the API certificate;
    - one Auto Scaling group per node pool with a launch template (same hardening as the masters,
      no public IP on the network interface, no identity), min/max from config, labels and taints
      passed to the k3s agent (and as the autoscaler's node-template tags), node names made unique
      by ``--with-node-id``, spot through a mixed instances policy, rolling instance refresh on changes;
    - per public/internal service (``ClusterContext.services``): an NLB (internet-facing in the
      public subnets, or internal), a TCP listener on the service port forwarding to a target group
      of every pool's workers on the service's NodePort, HTTP health check on its health path;
    - security groups: nodes talk to each other only on k3s's ports (VXLAN, kubelet; etcd between
      masters), masters take 6443 from the API load balancer and the nodes, workers take each
      NodePort only from that service's load balancer; the only rule open to 0.0.0.0/0 is a public
      service load balancer's listener port;
    - the readiness gate (``<name>-api-ready``) polling ``/readyz`` through the API load balancer;
    - on a provider that waits for the gate (``<name>-k8s-system``): cloud-provider-aws (service and
      route controllers off: fleetform owns the load balancers) and the Cluster Autoscaler, pinned
      per Kubernetes minor; the workloads' provider waits for the CCM. Kubernetes 1.37 is refused
      (neither has a 1.37 release yet).

    The kubeconfig (secret) uses the minted CA and admin certificate against
    ``https://<API NLB>:6443``; the provider is built from it alone (name, address, CA), so node
    pool or tag changes never replace it or the workloads on it.

    Operating notes: with the API internal (the default), ``pulumi up`` must run where the VPC is
    reachable (a runner inside it, VPN or peering listed in ``apiAllowedCidrs``). Masters are never
    replaced by a changed bootstrap or AMI (see the module docstring); lowering ``controlPlane.count``
    terminates the last masters without removing their etcd members first (delete their Node
    objects beforehand: k3s then removes the members). Worker replacement does not drain nodes (the
    CCM deletes a terminated worker's Node). A cluster deployed before cloud-provider-aws was added
    keeps k3s's embedded CCM on its masters (they never re-run their bootstrap): recreate it.
    """

    network: AwsNetwork
    identity: ClusterIdentity
    api_address: pulumi.Output[str]

    def __init__(self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None):
        allowed = [str(c) for c in spec.control_plane.api_allowed_cidrs]
        open_to_all = [c for c in allowed if ipaddress.ip_network(c).prefixlen == 0]
        if open_to_all:  # before anything is registered
            raise pulumi.RunError(
                f"cluster {name}: controlPlane.apiAllowedCidrs contains {open_to_all[0]}; the API is never open to everyone"
            )
        ccm_image, ca_image = lifecycle.check_kubernetes_version(name, ctx.kubernetes_version)
        super().__init__("fleetform:cluster:SelfManagedAwsCluster", name, opts)
        assert spec.region is not None  # config validation requires a region on clouds
        region = spec.region
        tags = cluster_tags(spec, ctx)
        child = pulumi.ResourceOptions(parent=self)
        pools = spec.effective_node_pools
        public_api = spec.control_plane.public_access
        vpc_cidr = str(spec.network.cidr)
        self.target = "aws"
        self.self_managed = True
        self.kubernetes_version = ctx.kubernetes_version
        self._name, self._region, self._tags = name, region, tags
        version = k3s_release(ctx.kubernetes_version)

        network = AwsNetwork(
            f"{name}-network",
            AwsNetworkArgs(cidr=spec.network.cidr, zones=spec.network.zones, region=region, tags=tags,
                           routes=[(str(r.cidr), r.target()) for r in spec.network.routes]),
            opts=child,
        )
        self.network = network
        self._access_logs = AccessLogBucket(self, name, region, tags)
        identity = ClusterIdentity(f"{name}-identity", name, opts=child)
        self.identity = identity

        # ---------------------------------------------------------------- security groups
        # No inline rules: the rules below are resources of their own (groups reference each
        # other), and the provider drops AWS's default allow-all egress from a new group.
        nodes_sg = self._group("nodes", "k3s nodes: traffic between cluster nodes", network.vpc_id)
        masters_sg = self._group("masters", "k3s masters: API from its load balancer and the nodes, etcd between masters", network.vpc_id)
        workers_sg = self._group("workers", "k3s workers: each NodePort from its service load balancer only", network.vpc_id)
        api_lb_sg = self._group("api-lb", "Kubernetes API load balancer: TCP 6443 from the VPC and allowed CIDRs", network.vpc_id)

        for proto, lo, hi, what in ALL_NODES_PORTS:
            self._ingress(f"nodes-{lo}-from-nodes", nodes_sg, proto, lo, hi, what, source_sg=nodes_sg)
        for proto, lo, hi, what in MASTER_PORTS:
            self._ingress(f"masters-{lo}-from-masters", masters_sg, proto, lo, hi, what, source_sg=masters_sg)
        # Agents and joining servers register with the supervisor on 6443; pods reach the API
        # through the kubernetes Service (the masters' addresses), masqueraded to their node's.
        self._ingress("masters-api-from-nodes", masters_sg, "tcp", API_PORT, API_PORT, "k3s supervisor and API from the nodes", source_sg=nodes_sg)
        self._ingress("masters-api-from-lb", masters_sg, "tcp", API_PORT, API_PORT, "Kubernetes API from its load balancer", source_sg=api_lb_sg)
        # Nodes reach the internet through the NAT gateways (k3s release, images); what pods may
        # reach is each service's NetworkPolicy.
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-nodes-egress", security_group_id=nodes_sg.id, ip_protocol="-1", cidr_ipv4="0.0.0.0/0",
            description="Nodes to anywhere (NAT egress; pods are limited by NetworkPolicy)",
            region=region, tags=tags, opts=child,
        )

        # Who may reach the API: the VPC (nodes, CI runners inside it) and the configured CIDRs;
        # through an internet-facing NLB the nodes come from the NAT gateways' addresses.
        for cidr in dict.fromkeys([vpc_cidr, *allowed]):
            self._ingress(f"api-lb-from-{_cidr_label(cidr)}", api_lb_sg, "tcp", API_PORT, API_PORT,
                          "Kubernetes API from the VPC" if cidr == vpc_cidr else "Kubernetes API from an allowed CIDR", cidr=cidr)
        if public_api:
            for n, ip in enumerate(network.nat_public_ips, start=1):
                self._ingress(f"api-lb-from-nat-{n}", api_lb_sg, "tcp", API_PORT, API_PORT,
                              "Kubernetes API from the nodes through NAT", cidr=ip.apply(lambda a: f"{a}/32"))
        # Health checks are subject to the load balancer's outbound rules
        # (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html).
        self._egress("api-lb-to-masters", api_lb_sg, API_PORT, masters_sg, "Kubernetes API to the masters")

        # ---------------------------------------------------------------- API load balancer
        subnets_for = lambda public: network.public_subnet_ids if public else network.private_subnet_ids  # noqa: E731
        api_lb = self._nlb("api", public_api, subnets_for(public_api), api_lb_sg)
        api_tg = aws.lb.TargetGroup(
            f"{name}-api-tg",
            name=elb_name(name, "api", str(API_PORT)),
            port=API_PORT,
            protocol="TCP",
            target_type="instance",
            vpc_id=network.vpc_id,
            # Masters see the NLB's address, not the client's: a master that reaches the API through
            # its own load balancer would otherwise time out (no hairpinning with client IP
            # preservation: https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-troubleshooting.html#loopback-timeout).
            # Who may connect is decided by the NLB's security group.
            preserve_client_ip="false",
            # anonymous-auth is off, so /readyz answers 401 to an unauthenticated check: TCP.
            health_check=_health_check("TCP"),
            region=region,
            tags={**tags, "Name": f"{name}-api"},
            opts=child,
        )
        api_listener = aws.lb.Listener(
            f"{name}-api-listener",
            load_balancer_arn=api_lb.arn,
            port=API_PORT,
            protocol="TCP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=api_tg.arn)],
            region=region,
            tags=tags,
            opts=child,
        )
        self.api_address = api_lb.dns_name
        url = api_lb.dns_name.apply(api_url)

        # ---------------------------------------------------------------- masters
        master_size = spec.control_plane.size or MASTER_SIZE
        ami = aws.ssm.get_parameter_output(
            name=ubuntu_ami_parameter(master_size), region=region, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        masters_identity = lifecycle.MastersIdentity(self, name, region, partition_of(region), tags)
        # cloud-provider-aws initialises every Node (see selfmanaged_aws_addons.py): k3s without its
        # own CCM, kubelets in external mode, each Node registered with its providerID read from
        # the instance metadata (aws:///<zone>/<instance id>), which the CCM looks up first
        # (getProviderID in pkg/providers/v1/instances_v2.go), whatever the node's name.
        template = NodeBootstrap(role="agent", version=version, disable=("traefik", "servicelb"),
                                 cloud_provider_external=True, provider_id_from="aws")
        masters: list[aws.ec2.Instance] = []
        attachments: list[aws.lb.TargetGroupAttachment] = []
        master_hashes: list[pulumi.Output[str]] = []
        for i in range(spec.control_plane.count):
            n = i + 1
            role = "init" if i == 0 else "join"
            node = replace(template, role=role, taints=(DEDICATED_MASTER_TAINT,))
            secrets = [identity.server_token, identity.agent_password, identity.tls_files if i == 0 else {}]

            def server(address: str, token: str, agent_password: str, tls_files: dict, node=node) -> NodeBootstrap:
                return replace(
                    node,
                    server_url=None if node.role == "init" else api_url(address),
                    tls_sans=(address,),
                    token=token,
                    agent_token=agent_password,
                    tls_files=tuple(sorted((tls_files or {}).items())),
                )

            data = pulumi.Output.all(api_lb.dns_name, *secrets).apply(
                lambda v, n=n, server=server: self._user_data(render_cloud_init(server(*v)), f"master {n}")
            )
            master_hashes.append(api_lb.dns_name.apply(lambda a, server=server: config_sha256(server(a, "", "", {}))))
            instance = aws.ec2.Instance(
                f"{name}-master-{n}",
                ami=ami.insecure_value,
                instance_type=master_size,
                subnet_id=network.private_subnet_ids[i % spec.network.zones],
                vpc_security_group_ids=[nodes_sg.id, masters_sg.id],
                associate_public_ip_address=False,
                # The only AWS identity of the cluster (selfmanaged_aws_addons.MastersIdentity).
                iam_instance_profile=masters_identity.profile.name,
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(**imds_options()),
                root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                    volume_size=MASTER_DISK_GB, volume_type="gp3", encrypted=True, delete_on_termination=True
                ),
                user_data_base64=pulumi.Output.secret(data),
                volume_tags={**tags, "Name": f"{name}-master-{n}"},
                region=region,
                tags={**tags, "Name": f"{name}-master-{n}", "fleetform:role": "master", **lifecycle.cluster_tag(name)},
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # One master after the other (k3s retries joining until the API answers):
                    # etcd admits one new member at a time, and a lowered count removes the last
                    # masters last-first.
                    depends_on=masters[-1:],
                    # See the module docstring: a master is never stopped or replaced for a new
                    # bootstrap or AMI; cloud-init would not run the new user data anyway.
                    ignore_changes=["ami", "userDataBase64"],
                ),
            )
            masters.append(instance)
            attachments.append(
                aws.lb.TargetGroupAttachment(
                    f"{name}-master-{n}-api", target_group_arn=api_tg.arn, target_id=instance.id, port=API_PORT,
                    region=region, opts=child,
                )
            )

        # ---------------------------------------------------------------- service load balancers
        service_groups: list[aws.lb.TargetGroup] = []
        service_addresses: dict[str, pulumi.Output[str]] = {}
        for svc in ctx.services:
            tg, address = self._service_load_balancer(svc, network, vpc_cidr, workers_sg, subnets_for(svc.expose == "public"))
            service_groups.append(tg)
            service_addresses[svc.name] = address

        # ---------------------------------------------------------------- workers
        for pool in pools:
            worker_pool(self, name, region, tags, pool, url, identity, version, network, nodes_sg, workers_sg,
                        service_groups, self._user_data)

        # ---------------------------------------------------------------- readiness, kubeconfig, provider
        # Workloads must not be applied before the API answers: the gate polls /readyz through
        # the API load balancer with the minted CA and the probe certificate
        # (https://kubernetes.io/docs/reference/using-api/health-checks/).
        self.ready, self.kubeconfig = api_access(
            self, name, identity, url,
            timeout_seconds=READY_TIMEOUT_SECONDS,
            triggers=[version, *master_hashes],
            depends_on=[*masters, *attachments, api_listener],
        )
        self.endpoint = url
        system = lifecycle.system_provider(self, name, self.kubeconfig, self.ready)
        ccm = lifecycle.ccm_release(self, name, ccm_image, system, depends_on=[masters_identity.policy])
        # The autoscaler waits for the CCM: it runs on the masters, which are tainted uninitialised until then.
        lifecycle.cluster_autoscaler_release(self, name, region, ca_image, system, depends_on=[masters_identity.policy, ccm])
        self.provider = self._make_provider(kubeconfig=self.kubeconfig, depends_on=[self.ready, ccm])
        self.details = {
            "name": name,
            "region": region,
            "apiAddress": api_lb.dns_name,
            "k3sVersion": version,
            "masters": spec.control_plane.count,
            "nodePools": [p.name for p in pools],
        }
        self.service_addresses = dict(service_addresses)
        self._publish()

    # ------------------------------------------------------------------------------ pieces

    def _user_data(self, cloud_config: str, what: str) -> str:
        try:
            return user_data(cloud_config, f"cluster {self._name}, {what}")
        except ValueError as exc:
            # Known only once the secrets are (a late check on outputs); RunError prints the one
            # line without a traceback (the Python SDK has no ResourceError).
            raise pulumi.RunError(str(exc)) from None

    def _group(self, role: str, description: str, vpc_id: pulumi.Input[str]) -> aws.ec2.SecurityGroup:
        return aws.ec2.SecurityGroup(
            f"{self._name}-{role}-sg",
            vpc_id=vpc_id,
            description=f"{description} ({self._name})",
            region=self._region,
            tags={**self._tags, "Name": f"{self._name}-{role}"},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _ingress(
        self, rule: str, group: aws.ec2.SecurityGroup, protocol: str, lo: int, hi: int, description: str, *,
        source_sg: Optional[aws.ec2.SecurityGroup] = None, cidr: Optional[pulumi.Input[str]] = None,
    ) -> aws.vpc.SecurityGroupIngressRule:
        return aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-{rule}",
            security_group_id=group.id,
            ip_protocol=protocol,
            from_port=lo,
            to_port=hi,
            referenced_security_group_id=source_sg.id if source_sg is not None else None,
            cidr_ipv4=cidr,
            description=description,
            region=self._region,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _egress(self, rule: str, group: aws.ec2.SecurityGroup, port: int, target: aws.ec2.SecurityGroup, description: str) -> None:
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-{rule}",
            security_group_id=group.id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=target.id,
            description=description,
            region=self._region,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _nlb(self, role: str, public: bool, subnets: Sequence[pulumi.Input[str]], group: aws.ec2.SecurityGroup) -> aws.lb.LoadBalancer:
        """A Network Load Balancer with a security group (NLBs take security groups only at creation:
        https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-security-groups.html),
        writing access logs to the cluster's bucket (no prefix: ELB adds ``AWSLogs/<account>/...`` and
        names each file after its load balancer,
        https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html).
        Enabling logs on an existing NLB is an attribute change (``access_logs.s3.*`` of
        https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_LoadBalancerAttribute.html,
        set by ModifyLoadBalancerAttributes), not a replacement."""
        logs = self._access_logs
        return aws.lb.LoadBalancer(
            f"{self._name}-{role}-lb",
            # The scheme is in the name: switching it replaces the load balancer, and the new one
            # must not collide with the old one's name while both exist.
            name=elb_name(self._name, role, "pub" if public else "int"),
            load_balancer_type="network",
            internal=not public,
            subnets=list(subnets),
            security_groups=[group.id],
            # Targets are not one per zone (a pool of 2 over 3 zones): every NLB node serves all of them.
            enable_cross_zone_load_balancing=True,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=logs.bucket.bucket, enabled=True),
            region=self._region,
            tags={**self._tags, "Name": f"{self._name}-{role}"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=logs.ready),
        )

    def _service_load_balancer(
        self, svc: FrontedService, network: AwsNetwork, vpc_cidr: str, workers_sg: aws.ec2.SecurityGroup,
        subnets: Sequence[pulumi.Input[str]],
    ) -> tuple[aws.lb.TargetGroup, pulumi.Output[str]]:
        """The NLB fronting one service: listener on its service port -> every worker's NodePort."""
        name, region, tags = self._name, self._region, self._tags
        public = svc.expose == "public"
        role = f"svc-{svc.name}"
        group = self._group(f"{role}-lb", f"Load balancer of service {svc.name}: its listener port only", network.vpc_id)
        # The one place anything is open to the internet: a public service's listener port.
        self._ingress(
            f"{role}-lb-from-{'internet' if public else 'vpc'}", group, "tcp", svc.service_port, svc.service_port,
            f"Service {svc.name} from {'the internet' if public else 'the VPC'}", cidr="0.0.0.0/0" if public else vpc_cidr,
        )
        self._egress(f"{role}-lb-to-workers", group, svc.node_port, workers_sg, f"Service {svc.name} to the workers' NodePort")
        self._ingress(f"{role}-workers-from-lb", workers_sg, "tcp", svc.node_port, svc.node_port,
                      f"NodePort of service {svc.name} from its load balancer", source_sg=group)
        lb = self._nlb(role, public, subnets, group)
        tg = aws.lb.TargetGroup(
            f"{name}-{role}-tg",
            # The NodePort is in the name: a new port replaces the group without a name clash.
            name=elb_name(name, svc.name, str(svc.node_port)),
            port=svc.node_port,
            protocol="TCP",
            target_type="instance",
            vpc_id=network.vpc_id,
            # With externalTrafficPolicy Cluster kube-proxy replaces the client address anyway;
            # without preservation a worker can reach its own service through the NLB (see the API group).
            preserve_client_ip="false",
            health_check=_health_check("HTTP", svc.health_path),
            region=region,
            tags={**tags, "Name": f"{name}-{svc.name}", "fleetform:service": svc.name},
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.lb.Listener(
            f"{name}-{role}-listener",
            load_balancer_arn=lb.arn,
            port=svc.service_port,
            protocol="TCP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=tg.arn)],
            region=region,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return tg, lb.dns_name
