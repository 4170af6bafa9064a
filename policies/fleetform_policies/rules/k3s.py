"""Rules over fleetform's self-managed k3s bootstrap, wherever it travels: SSH stdin (onprem),
Secret Manager (GCP), EC2 user data (AWS, gzip + base64 cloud-init) and Azure customData."""

from __future__ import annotations

import base64
import binascii
import gzip
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from .base import Rule, dig

CARRIERS = (
    "command:remote:Command",
    "gcp:secretmanager/secretVersion:SecretVersion",
    "aws:ec2/instance:Instance",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "azure-native:compute:VirtualMachine",
    "azure-native:compute:VirtualMachineScaleSet",
)
_SERVER = re.compile(r"^# role: (init|join);", re.MULTILINE)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in value:
            yield from _strings(value[key])
    elif isinstance(value, Sequence):
        for i in range(len(value)):
            yield from _strings(value[i])


def _decoded(text: str, depth: int = 0) -> Iterable[str]:
    """``text`` and what it carries: base64 (optionally gzip) payloads and cloud-config
    write_files contents, recursively."""
    yield text
    if depth > 3:
        return
    if text.startswith("#cloud-config"):
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError:
            return
        for entry in doc.get("write_files") or []:
            if isinstance(entry, dict) and isinstance(entry.get("content"), str):
                content = entry["content"]
                if str(entry.get("encoding", "")) in ("b64", "base64", "gz+b64", "gzip+base64"):
                    yield from _from_base64(content, depth)
                else:
                    yield from _decoded(content, depth + 1)
        return
    if len(text) >= 64 and re.fullmatch(r"[A-Za-z0-9+/=\s]+", text):
        yield from _from_base64(text, depth)


def _from_base64(text: str, depth: int) -> Iterable[str]:
    try:
        raw = base64.b64decode(text, validate=False)
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        yield from _decoded(raw.decode("utf-8"), depth + 1)
    except (binascii.Error, OSError, EOFError, UnicodeDecodeError):
        return


def _secrets_encryption(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for text in _strings(p):
        if len(text) < 64:
            continue
        for script in _decoded(text):
            match = _SERVER.search(script)
            if match and "--secrets-encryption" not in script:
                yield f"k3s server bootstrap (role {match.group(1)}) without --secrets-encryption"
                return


def _host_key(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    # pulumi-command's remote Connection: "hostKey: The expected host key to verify the server's
    # identity. If not provided, the host key will be ignored."
    # (https://www.pulumi.com/registry/packages/command/api-docs/remote/command/#connection)
    # fleetform leaves it out only with an onprem cluster's ssh.verifyHostKeys: false.
    connection = dig(p, "connection")
    if connection is None:
        return
    if not dig(connection, "hostKey"):
        yield ("SSH connection without hostKey: the host's identity is never checked, so whoever answers on its "
               "address gets the bootstrap and its secrets (set hosts[].hostKey, ssh.verifyHostKeys: true)")
    proxy = dig(connection, "proxy")
    if proxy is not None and not dig(proxy, "hostKey"):
        yield "SSH proxy (bastion) connection without hostKey: the bastion's identity is never checked"


RULES = [
    Rule("k3s-secrets-encryption", "Self-managed k3s servers encrypt Secrets at rest (--secrets-encryption).", "high",
         "k3s hardening guide (secrets-encryption); CIS Kubernetes API server --encryption-provider-config", "mandatory", _secrets_encryption,
         types=CARRIERS),
    Rule("ssh-host-key-verified", "SSH connections to hosts verify the host key (no verifyHostKeys: false outside labs).",
         "high", "CWE-322 (key exchange without entity authentication); OpenSSH StrictHostKeyChecking", "mandatory",
         _host_key, types=("command:remote:Command", "command:remote:CopyToRemote", "command:remote:CopyFile")),
]
