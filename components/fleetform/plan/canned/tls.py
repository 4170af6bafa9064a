"""Canned outputs for ``pulumi_tls`` resources (no SDK import).

The plan never holds real key material: every "PEM" here is an obviously fake placeholder,
derived from the resource name so plans are deterministic and each resource's value is
distinguishable (a test can tell the minted CA from the admin certificate in a kubeconfig).
Private keys use a non-standard PEM label so no scanner mistakes them for keys.
"""

from __future__ import annotations

import base64
from typing import Any


def _pem(label: str, what: str, name: str) -> str:
    body = base64.b64encode(f"fleetform plan placeholder {what} for {name}; not real key material".encode()).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def placeholder_certificate(name: str) -> str:
    """The certificate PEM the plan gives resource ``name``."""
    return _pem("CERTIFICATE", "certificate", name)


def placeholder_private_key(name: str) -> str:
    """The private key "PEM" the plan gives resource ``name``."""
    return _pem("FLEETFORM PLAN PLACEHOLDER KEY", "private key", name)


def _private_key(args) -> dict[str, Any]:
    return {
        "privateKeyPem": placeholder_private_key(args.name),
        "privateKeyPemPkcs8": placeholder_private_key(args.name + "-pkcs8"),
        "privateKeyOpenssh": placeholder_private_key(args.name + "-openssh"),
        "publicKeyPem": _pem("PUBLIC KEY", "public key", args.name),
        "publicKeyOpenssh": f"ssh-placeholder {args.name}",
        "publicKeyFingerprintMd5": "00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00",
        "publicKeyFingerprintSha256": "SHA256:fleetform-plan-placeholder",
    }


def _certificate(args) -> dict[str, Any]:
    return {
        "certPem": placeholder_certificate(args.name),
        "validityStartTime": "2000-01-01T00:00:00Z",
        "validityEndTime": "2000-01-01T00:00:00Z",
        "readyForRenewal": False,
    }


def _cert_request(args) -> dict[str, Any]:
    return {"certRequestPem": _pem("CERTIFICATE REQUEST", "certificate request", args.name)}


OUTPUTS = {
    "tls:index/privateKey:PrivateKey": _private_key,
    "tls:index/selfSignedCert:SelfSignedCert": _certificate,
    "tls:index/locallySignedCert:LocallySignedCert": _certificate,
    "tls:index/certRequest:CertRequest": _cert_request,
}
INVOKES: dict = {}
