"""Every cloud-init user data the example stacks render, checked as cloud-init would read it.

The user data is found wherever a VM takes it (:data:`USER_DATA_FIELDS`), decoded as that field
is encoded, uncompressed when gzip-compressed, and split into parts by its format
(https://docs.cloud-init.io/en/latest/explanation/format/index.html):

- ``#cloud-config``: parsed as YAML into a mapping and validated against cloud-init's own JSON
  schema (vendored from cloud-init 26.1, tests/schemas/cloud-init/README.md) with Draft 4, as
  cloud-init validates it; keys the schema marks deprecated count as errors too. Content that
  ``write_files`` decodes (base64, gzip) must decode.
- a user-data script (``#!...``): it is not a cloud-config, so no schema applies. cloud-init runs
  it as it is in its final stage; this test only checks that a ``sh``/``bash`` script parses
  (``sh -n`` / ``bash -n``). fleetform renders none today: its nodes' scripts travel inside
  cloud-configs (``write_files`` + ``runcmd``), and the bootstrap script itself is checked by
  tests/test_bootstrap.py (shellcheck, and run in a sandbox).
- MIME multi-part: each part by its Content-Type, as above.
- anything else (include, jinja, boothook, archive, unknown text): reported, so a new format gets
  a deliberate check rather than none.
"""

from __future__ import annotations

import base64
import binascii
import email
import gzip
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

import jsonschema
import jsonschema.validators
import pytest
import yaml

from tests.conftest import EXAMPLE_STACKS, ROOT, planned

SCHEMA_DIR = ROOT / "tests" / "schemas" / "cloud-init"
SCHEMA_FILE = SCHEMA_DIR / "schema-cloud-config-v1.json"

USER_DATA_FIELDS: dict[tuple[str, str], str] = {
    # https://www.pulumi.com/registry/packages/aws/api-docs/ec2/instance/ (user_data_base64: base64,
    # for gzip-compressed user data; user_data: the text itself)
    ("aws:ec2/instance:Instance", "userDataBase64"): "base64",
    ("aws:ec2/instance:Instance", "userData"): "text",
    # https://www.pulumi.com/registry/packages/aws/api-docs/ec2/launchtemplate/ ("The base64-encoded
    # user data to provide when launching the instance")
    ("aws:ec2/launchTemplate:LaunchTemplate", "userData"): "base64",
    # OSProfile.customData: "a base-64 encoded string of custom data"
    # (https://learn.microsoft.com/en-us/javascript/api/@azure-rest/arm-compute/virtualmachinescalesetupdateosprofile);
    # cloud-init reads it base64-decoded (https://docs.cloud-init.io/en/latest/reference/datasources/azure.html)
    ("azure-native:compute:VirtualMachine", "osProfile.customData"): "base64",
    ("azure-native:compute:VirtualMachineScaleSet", "virtualMachineProfile.osProfile.customData"): "base64",
    # The user-data metadata key, as text unless user-data-encoding says base64
    # (https://docs.cloud-init.io/en/latest/reference/datasources/gce.html)
    ("gcp:compute/instance:Instance", "metadata.user-data"): "gce",
    ("gcp:compute/instanceTemplate:InstanceTemplate", "metadata.user-data"): "gce",
}
"""Where each resource type takes cloud-init user data, and how that field is encoded."""

USER_DATA_KEYS = {"userData", "userDataBase64", "customData", "user-data"}
"""Field names that carry user data on some cloud: any of them outside :data:`USER_DATA_FIELDS`
fails the test until its encoding is added there (with a source)."""

SHELLS = {"/bin/sh": "sh", "/usr/bin/sh": "sh", "/bin/bash": "bash", "/usr/bin/bash": "bash", "/usr/bin/env bash": "bash", "/usr/bin/env sh": "sh"}


@dataclass(frozen=True)
class UserData:
    stack: str
    resource: str
    field: str
    raw: str
    encoding: str
    gce_encoding: Optional[str] = None
    """The ``user-data-encoding`` metadata key beside a GCE ``user-data`` key."""

    @property
    def where(self) -> str:
        return f"{self.stack}: {self.resource} .{self.field}"


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any, dict]]:
    """(path, value, the mapping holding it) for every leaf under ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else key
            if isinstance(item, (dict, list)):
                yield from _walk(item, sub)
            else:
                yield sub, item, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def user_data_of(stack: str, result) -> tuple[list[UserData], list[str]]:
    """The plan's user data, and one problem per user-data-like field of unknown encoding."""
    found, unknown = [], []
    for reg in result.capture.registrations:
        for path, value, holder in _walk(reg.plain_inputs(mask=False)):
            if path.rsplit(".", 1)[-1] not in USER_DATA_KEYS or value in (None, ""):
                continue
            encoding = USER_DATA_FIELDS.get((reg.type, path))
            if encoding is None:
                unknown.append(f"{stack}: {reg.type} {reg.name} .{path}: user data of unknown encoding "
                               "(add it to USER_DATA_FIELDS with its source)")
                continue
            found.append(UserData(stack, f"{reg.type} {reg.name}", path, str(value), encoding,
                                  holder.get("user-data-encoding") if encoding == "gce" else None))
    return found, unknown


# ------------------------------------------------------------------------------ decoding


def decode(item: UserData) -> bytes:
    """The bytes cloud-init receives, uncompressed (https://docs.cloud-init.io/en/latest/explanation/format/gzip.html)."""
    encoding = item.encoding
    if encoding == "gce":
        encoding = "base64" if item.gce_encoding == "base64" else "text"
    data = base64.b64decode(item.raw, validate=True) if encoding == "base64" else item.raw.encode()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def parts(data: bytes) -> list[tuple[str, bytes]]:
    """(content type, payload) of each part, by the format's header
    (https://docs.cloud-init.io/en/latest/explanation/format/mime.html for multi-part)."""
    head = data.lstrip()[:64]
    if head.startswith(b"#cloud-config\n") or head == b"#cloud-config":
        return [("text/cloud-config", data)]
    if head.startswith(b"#!"):
        return [("text/x-shellscript", data)]
    if head.lower().startswith((b"content-type: multipart/", b"mime-version:")):
        message = email.message_from_bytes(data)
        out = []
        for part in message.walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            # cloud-init sorts a text/plain part by its own header, like a whole user data.
            out += parts(payload) if part.get_content_type() == "text/plain" else [(part.get_content_type(), payload)]
        return out
    return [("unknown", data)]


# ------------------------------------------------------------------------------ checking


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def schema_problems(config: Any) -> list[str]:
    """Draft 4 errors of ``config`` against cloud-init's schema, plus every deprecated key it uses.

    cloud-init validates with Draft 4 and a format checker, and reports keys marked
    ``deprecated`` (cloudinit/config/schema.py, get_jsonschema_validator); here a deprecated key is
    an error: the next release may drop it.
    """
    deprecated: list[str] = []

    def record(validator, value, instance, schema):
        if value:
            deprecated.append(f"deprecated since {schema.get('deprecated_version', '?')}: "
                              f"{schema.get('deprecated_description', '')} ({json.dumps(instance)[:80]})")
        return iter(())

    validator_class = jsonschema.validators.extend(jsonschema.Draft4Validator, {"deprecated": record})
    validator = validator_class(_schema(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}" for e in errors] + deprecated


def _write_files_problems(config: dict[str, Any]) -> list[str]:
    """Content ``write_files`` will decode must decode (the schema checks the encoding's name only)."""
    problems = []
    for i, entry in enumerate(config.get("write_files") or []):
        encoding, content = entry.get("encoding", "text/plain"), entry.get("content", "")
        try:
            data = base64.b64decode(content, validate=True) if "b64" in encoding or "base64" in encoding else content.encode()
            if encoding.startswith("gz"):
                gzip.decompress(data)
        except (binascii.Error, OSError, EOFError) as exc:
            problems.append(f"write_files.{i} ({entry.get('path')}): content does not decode as {encoding}: {exc}")
    return problems


def _script_problems(script: bytes) -> list[str]:
    shebang = script.split(b"\n", 1)[0][2:].decode().strip()
    shell = SHELLS.get(shebang)
    if shell is None or shutil.which(shell) is None:
        return []  # another interpreter: cloud-init runs it as is, nothing here can parse it
    proc = subprocess.run([shell, "-n"], input=script, capture_output=True, timeout=30)
    return [] if proc.returncode == 0 else [f"{shell} -n: {proc.stderr.decode().strip()}"]


def problems_of(data: bytes) -> list[str]:
    problems = []
    for ctype, body in parts(data):
        if ctype == "text/cloud-config":
            text = body.decode()
            if text.split("\n", 1)[0].rstrip() != "#cloud-config":
                problems.append("a cloud-config's first line must be exactly #cloud-config")
            try:
                config = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                problems.append(f"cloud-config is not YAML: {exc}")
                continue
            if not isinstance(config, dict):
                problems.append(f"cloud-config is a {type(config).__name__}, not a mapping")
                continue
            problems += schema_problems(config) + _write_files_problems(config)
        elif ctype == "text/x-shellscript":
            problems += _script_problems(body)
        else:
            problems.append(f"{ctype} user data is not checked here (not a cloud-config nor a script): "
                            f"{body[:40]!r}")
    return problems


# ------------------------------------------------------------------------------ the example stacks


@pytest.fixture(scope="module")
def rendered() -> tuple[list[UserData], list[str], dict[str, Any]]:
    found, unknown, specs = [], [], {}
    for stack in EXAMPLE_STACKS:
        result = planned(stack)
        items, problems = user_data_of(stack, result)
        found += items
        unknown += problems
        specs[stack] = result.spec
    return found, unknown, specs


def test_every_rendered_cloud_config_is_valid(rendered):
    found, unknown, _ = rendered
    problems = unknown + [f"{item.where}: {p}" for item in found for p in problems_of(decode(item))]
    assert problems == [], "\n".join(problems)


def test_every_self_managed_cloud_node_gets_checked_user_data(rendered):
    """Each self-managed cluster on a cloud renders user data for each master and each pool (one
    instance template / launch template / scale set), counted from the validated config, and all
    of it is a cloud-config: the check above ran on real content."""
    found, _, specs = rendered
    for stack in EXAMPLE_STACKS:
        clusters = [c for c in specs[stack].clusters if c.mode == "self-managed" and c.target in ("aws", "azure", "gcp")]
        mine = [item for item in found if item.stack == stack]
        expected = sum(c.control_plane.count + len(c.node_pools) for c in clusters)
        assert len(mine) == expected, (stack, [i.resource for i in mine])
        assert all([ctype for ctype, _ in parts(decode(item))] == ["text/cloud-config"] for item in mine)


# ------------------------------------------------------------------------------ the check itself


def test_vendored_schema_is_the_release_its_readme_names():
    readme = (SCHEMA_DIR / "README.md").read_text()
    (noted,) = re.findall(r"\| sha256 \| `([0-9a-f]{64})` \|", readme)
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == noted
    assert "cloud-init **26.1**" in readme


@pytest.mark.parametrize("config, expected", [
    ({"runcmds": [["true"]]}, "'runcmds' was unexpected"),
    ({"write_files": [{"content": "x"}]}, "'path' is a required property"),
    ({"write_files": [{"path": "/x", "encoding": "b64x"}]}, "'b64x' is not one of"),
    ({"write_files": [{"path": "/x", "permissions": 700}]}, "700 is not of type 'string'"),
    ({"runcmd": []}, "runcmd: []"),  # "is too short" / "should be non-empty", by jsonschema release
    ({"system_info": {}}, "deprecated since 24.2"),
])
def test_the_schema_catches_mistakes(config, expected):
    assert any(expected in p for p in schema_problems(config)), schema_problems(config)


def test_a_valid_config_has_no_problem():
    text = "#cloud-config\n" + yaml.safe_dump({
        "write_files": [{"path": "/x", "encoding": "b64", "content": base64.b64encode(b"#!/bin/sh\n").decode(),
                         "owner": "root:root", "permissions": "0700"}],
        "runcmd": [["/bin/sh", "/x"]],
    })
    assert problems_of(text.encode()) == []


def _item(raw: str, encoding: str, gce_encoding: Optional[str] = None) -> UserData:
    return UserData("probe", "probe", "userData", raw, encoding, gce_encoding)


def test_user_data_formats():
    config = b"#cloud-config\nruncmd: [[/bin/true]]\n"
    packed = base64.b64encode(gzip.compress(config)).decode()
    assert decode(_item(packed, "base64")) == config
    assert decode(_item(base64.b64encode(config).decode(), "gce", "base64")) == config
    assert decode(_item(config.decode(), "gce")) == config
    multipart = (
        b'Content-Type: multipart/mixed; boundary="B"\nMIME-Version: 1.0\n\n'
        b'--B\nContent-Type: text/cloud-config\n\n#cloud-config\nruncmd: [[/bin/true]]\n'
        b'--B\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho hi\n'
        b'--B\nContent-Type: application/node.eks.aws\n\nkind: NodeConfig\n--B--\n'
    )
    assert [c for c, _ in parts(multipart)] == ["text/cloud-config", "text/x-shellscript", "application/node.eks.aws"]
    (problem,) = problems_of(multipart)
    assert problem.startswith("application/node.eks.aws user data is not checked here")
    assert problems_of(b"#!/bin/sh\necho ok\n") == []
    assert problems_of(b"#!/bin/sh\nif then fi\n") and problems_of(b"#!/bin/sh\nif then fi\n")[0].startswith("sh -n")
    assert problems_of(b"#include\nhttps://example.invalid/x\n")[0].startswith("unknown user data")
    assert problems_of(b"#cloud-config\n- a list\n") == ["cloud-config is a list, not a mapping"]
    bad_b64 = b"#cloud-config\nwrite_files: [{path: /x, encoding: b64, content: '!!notbase64'}]\n"
    assert problems_of(bad_b64)[0].startswith("write_files.0 (/x): content does not decode as b64")
