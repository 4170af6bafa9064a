"""Rules over fleetform's self-managed k3s bootstrap, wherever it travels: SSH stdin (onprem),
Secret Manager (GCP), EC2 user data (AWS, gzip + base64 cloud-init) and Azure customData."""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from .base import Rule, dig

CARRIERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "command:remote:Command": (("stdin",), ("create",), ("update",)),
    "gcp:secretmanager/secretVersion:SecretVersion": (("secretData",),),
    "aws:ec2/instance:Instance": (("userData",), ("userDataBase64",)),
    "aws:ec2/launchTemplate:LaunchTemplate": (("userData",),),
    "azure-native:compute:VirtualMachine": (("osProfile", "customData"), ("userData",)),
    "azure-native:compute:VirtualMachineScaleSet": (("virtualMachineProfile", "osProfile", "customData"),
                                                   ("virtualMachineProfile", "userData")),
}
"""Where each carrier holds a bootstrap script: the rule reads these properties and no other, so an
unknown value elsewhere (a subnet ID during preview) never leaves it undecided."""
_SERVER = re.compile(r"^# role: (init|join);", re.MULTILINE)
# k3s's flags are urfave/cli booleans: `--secrets-encryption` or `--secrets-encryption=<bool>`
# (Go's strconv.ParseBool); the config file form is `secrets-encryption: <bool>`
# (https://docs.k3s.io/installation/configuration#configuration-file).
_FLAG = re.compile(r"(?:^|[\s'\"])--secrets-encryption(?:=([^\s'\"\\]*))?(?=$|[\s'\"\\])")
_CONFIG = re.compile(r"^\s*[\"']?secrets-encryption[\"']?\s*:\s*[\"']?([^\s\"'#]*)", re.MULTILINE)
_TRUE = ("1", "t", "T", "true", "TRUE", "True")


def _encrypts(script: str) -> bool:
    """Whether the last word on secrets encryption in ``script`` turns it on (shell comment lines
    are not commands)."""
    verdict = False
    for line in script.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for match in _FLAG.finditer(line):
            verdict = match.group(1) is None or match.group(1) in _TRUE
        for match in _CONFIG.finditer(line):
            verdict = match.group(1) in _TRUE
    return verdict


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
        # A carrier the rule cannot read (bad YAML, a document or write_files of another shape, a
        # date PyYAML refuses) carries no script it can judge: cloud-init would not run it either.
        try:
            doc = yaml.safe_load(text)
        except (yaml.YAMLError, ValueError, RecursionError):
            return
        files = doc.get("write_files") if isinstance(doc, dict) else None
        for entry in files if isinstance(files, list) else []:
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
    except (binascii.Error, OSError, EOFError, zlib.error, UnicodeDecodeError):  # not base64, gzip or UTF-8
        return


def _secrets_encryption(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for path in CARRIERS.get(t, ()):
        for text in _strings(dig(p, *path)):
            if len(text) < 16:
                continue
            for script in _decoded(text):
                match = _SERVER.search(script)
                if match and not _encrypts(script):
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
         "k3s hardening guide (secrets-encryption); CIS Kubernetes API server --encryption-provider-config",
         "mandatory", _secrets_encryption, types=tuple(CARRIERS),
         refs=("https://docs.k3s.io/security/secrets-encryption", "https://docs.k3s.io/security/hardening-guide",
               "https://docs.k3s.io/cli/server#cluster-options")),
    Rule("ssh-host-key-verified", "SSH connections to hosts verify the host key (no verifyHostKeys: false outside labs).",
         "high", "CWE-322 (key exchange without entity authentication); OpenSSH StrictHostKeyChecking", "mandatory",
         _host_key, types=("command:remote:Command", "command:remote:CopyToRemote", "command:remote:CopyFile"),
         refs=("https://www.pulumi.com/registry/packages/command/api-docs/remote/command/#connection",
               "https://cwe.mitre.org/data/definitions/322.html")),
]
