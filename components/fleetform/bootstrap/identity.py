"""The identity of a self-managed cluster, minted by Pulumi before any machine exists.

Pulumi creates the cluster's certificate authorities, the admin client certificate and the join
tokens; the first master's bootstrap installs the CAs where k3s looks for custom CAs before its
first start. So the kubeconfig is assembled from Pulumi's own outputs: nothing is ever read back
from a machine, and the Kubernetes provider can be built before the first host is reachable.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Optional

import pulumi
import pulumi_command as command
import pulumi_random as random
import pulumi_tls as tls
import yaml

from .script import CUSTOM_CA_FILES

CA_VALIDITY_HOURS = 10 * 365 * 24
"""Ten years, as k3s's own self-signed CAs (https://docs.k3s.io/cli/certificate)."""
CLIENT_VALIDITY_HOURS = 365 * 24
CLIENT_EARLY_RENEWAL_HOURS = 30 * 24
"""A client certificate within 30 days of expiry is re-issued by the next `pulumi up`."""

# One CA per trust domain, as k3s itself does: a certificate one domain issues is never trusted
# by another (a front-proxy certificate cannot authenticate as a user, and so on).
CAS = ("server-ca", "client-ca", "request-header-ca", "etcd-peer-ca", "etcd-server-ca")
_CA_FILES = {
    "server-ca": "server-ca",
    "client-ca": "client-ca",
    "request-header-ca": "request-header-ca",
    "etcd-peer-ca": "etcd/peer-ca",
    "etcd-server-ca": "etcd/server-ca",
}
_CA_USES = ["cert_signing", "crl_signing", "digital_signature", "key_encipherment"]


def k3s_token(server_ca_pem: str, user: str, password: str) -> str:
    """A k3s token in the secure format ``K10<CA hash>::<user>:<password>``.

    The hash lets a joining node check, before it sends its credentials, that it talks to this
    cluster. For a single self-signed CA certificate it is the SHA-256 of the PEM file exactly as
    stored on disk (https://docs.k3s.io/cli/token#secure), which the bootstrap writes byte for
    byte from ``server_ca_pem``.
    """
    return f"K10{hashlib.sha256(server_ca_pem.encode()).hexdigest()}::{user}:{password}"


def kubeconfig(cluster: str, server: str, ca_pem: str, cert_pem: str, key_pem: str) -> str:
    """An admin kubeconfig with embedded client certificate (YAML)."""
    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    user = f"{cluster}-admin"
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}],
            "users": [{"name": user, "user": {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}}],
            "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
            "current-context": cluster,
        },
        sort_keys=False,
    )


class ClusterIdentity(pulumi.ComponentResource):
    """The CAs, admin and probe client certificates and join tokens of one self-managed cluster.

    Builds, as children named ``<name>-<role>``: an ECDSA P-256 key and self-signed CA per k3s
    trust domain (server, client, request-header, etcd peer, etcd server), the RSA service-account
    signing key, an admin client certificate (``O=system:masters``) and a readiness-probe client
    certificate (no groups: it can read ``/readyz`` and nothing else), both issued by the client
    CA, and two random join secrets (servers, agents). Every private key and token is a Pulumi
    secret.

    Outputs: ``server_ca_pem`` (public), ``tls_files`` (secret; what the first master installs),
    ``server_token`` / ``agent_token`` (secret, secure format), ``agent_password`` (secret; the
    masters' ``--agent-token-file``), ``admin_cert_pem`` / ``admin_key_pem`` and
    ``probe_cert_pem`` / ``probe_key_pem`` (the keys secret).
    """

    server_ca_pem: pulumi.Output[str]
    tls_files: pulumi.Output[dict]
    server_token: pulumi.Output[str]
    agent_token: pulumi.Output[str]
    agent_password: pulumi.Output[str]
    admin_cert_pem: pulumi.Output[str]
    admin_key_pem: pulumi.Output[str]
    probe_cert_pem: pulumi.Output[str]
    probe_key_pem: pulumi.Output[str]

    def __init__(self, name: str, cluster: str, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("fleetform:bootstrap:ClusterIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        certs: dict[str, tls.SelfSignedCert] = {}
        keys: dict[str, tls.PrivateKey] = {}
        for ca in CAS:
            keys[ca] = tls.PrivateKey(f"{name}-{ca}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
            certs[ca] = tls.SelfSignedCert(
                f"{name}-{ca}",
                private_key_pem=keys[ca].private_key_pem,
                is_ca_certificate=True,
                set_subject_key_id=True,
                validity_period_hours=CA_VALIDITY_HOURS,
                allowed_uses=_CA_USES,
                subject=tls.SelfSignedCertSubjectArgs(common_name=f"fleetform-{cluster}-{ca}", organization="fleetform"),
                opts=child,
            )
        service_key = tls.PrivateKey(f"{name}-service-account-key", algorithm="RSA", rsa_bits=2048, opts=child)

        admin_cert, admin_key = self._client(name, "admin", "fleetform-admin", "system:masters", certs, keys, child)
        probe_cert, probe_key = self._client(name, "probe", "fleetform-readiness-probe", None, certs, keys, child)

        server_password = random.RandomPassword(f"{name}-server-token", length=48, special=False, opts=child)
        agent_password = random.RandomPassword(f"{name}-agent-token", length=48, special=False, opts=child)

        # Private keys and passwords are wrapped as secrets here, whatever the engine does with
        # the providers' additionalSecretOutputs, so every value derived from them is secret too.
        secret = pulumi.Output.secret
        file_values: dict[str, pulumi.Output[str]] = {}
        for ca in CAS:
            file_values[f"{_CA_FILES[ca]}.crt"] = certs[ca].cert_pem
            file_values[f"{_CA_FILES[ca]}.key"] = secret(keys[ca].private_key_pem)
        file_values["service.key"] = secret(service_key.private_key_pem)
        assert set(file_values) == set(CUSTOM_CA_FILES)

        self.server_ca_pem = certs["server-ca"].cert_pem
        self.tls_files = secret(pulumi.Output.all(**file_values))
        self.server_token = secret(
            pulumi.Output.all(self.server_ca_pem, server_password.result).apply(lambda v: k3s_token(v[0], "server", v[1]))
        )
        self.agent_password = secret(agent_password.result)
        self.agent_token = secret(
            pulumi.Output.all(self.server_ca_pem, agent_password.result).apply(lambda v: k3s_token(v[0], "node", v[1]))
        )
        self.admin_cert_pem, self.admin_key_pem = admin_cert, secret(admin_key)
        self.probe_cert_pem, self.probe_key_pem = probe_cert, secret(probe_key)
        self.register_outputs({
            "serverCaPem": self.server_ca_pem,
            "tlsFiles": self.tls_files,
            "serverToken": self.server_token,
            "agentToken": self.agent_token,
            "adminCertPem": self.admin_cert_pem,
            "probeCertPem": self.probe_cert_pem,
        })

    @staticmethod
    def _client(name, role, common_name, organization, certs, keys, child):
        key = tls.PrivateKey(f"{name}-{role}-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        csr = tls.CertRequest(
            f"{name}-{role}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=common_name, organization=organization),
            opts=child,
        )
        cert = tls.LocallySignedCert(
            f"{name}-{role}-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_cert_pem=certs["client-ca"].cert_pem,
            ca_private_key_pem=keys["client-ca"].private_key_pem,
            validity_period_hours=CLIENT_VALIDITY_HOURS,
            early_renewal_hours=CLIENT_EARLY_RENEWAL_HOURS,
            allowed_uses=["digital_signature", "key_encipherment", "client_auth"],
            opts=child,
        )
        return cert.cert_pem, key.private_key_pem


def api_access(
    cluster: pulumi.Resource,
    name: str,
    identity: ClusterIdentity,
    url: pulumi.Input[str],
    *,
    timeout_seconds: int,
    triggers: list,
    depends_on: list,
) -> tuple[command.local.Command, pulumi.Output[str]]:
    """What every self-managed cluster needs to hand the API to Pulumi: the ``<name>-api-ready``
    gate (a local command polling ``/readyz`` with the minted CA and probe certificate, bounded by
    ``timeout_seconds``; re-run when ``triggers`` change) and the kubeconfig assembled from ``url``
    and the minted CA and admin certificate, as a secret. The provider must depend on the gate.
    (https://kubernetes.io/docs/reference/using-api/health-checks/)"""
    from .script import readiness_probe

    url_out = pulumi.Output.from_input(url)
    ready = command.local.Command(
        f"{name}-api-ready",
        create=url_out.apply(lambda u: readiness_probe(u, timeout_seconds)),
        interpreter=["/bin/sh", "-c"],
        environment={
            "FLEETFORM_API_CA": identity.server_ca_pem,
            "FLEETFORM_API_CERT": identity.probe_cert_pem,
            "FLEETFORM_API_KEY": identity.probe_key_pem,
        },
        triggers=triggers,
        opts=pulumi.ResourceOptions(parent=cluster, depends_on=depends_on),
    )
    config = pulumi.Output.secret(
        pulumi.Output.all(url_out, identity.server_ca_pem, identity.admin_cert_pem, identity.admin_key_pem).apply(
            lambda v: kubeconfig(name, v[0], v[1], v[2], v[3])
        )
    )
    return ready, config
