"""Pins for the survivors of the ``rules/stack.py`` and ``rules/k3s.py`` mutation run (issue 17).

Of the 26 survivors only the depth bookkeeping of ``k3s._from_base64`` was a gap; the others are
equivalent, or reachable only by calling the rule with a type it does not apply to or with a
carrier text no bootstrap can be. The contract pinned here:

- ``k3s._decoded``'s docstring: it yields the text "and what it carries: base64 (optionally gzip)
  payloads and cloud-config write_files contents, recursively", and
  ``tests/test_pins_policies.py::test_recursion_stops_after_four_levels`` pins where that recursion
  stops: the texts at depths 0 to 4 are read, what the fourth level carries is not. A base64 layer
  is a level like a write_files entry: the bound holds on every path (a chain of base64 layers
  never escapes it) and is never shorter on one path than on another;
- the module docstring: the rule finds the k3s server bootstrap "wherever it travels". A
  bootstrap wrapped inside that bound is reported like an unwrapped one
  (``k3s-secrets-encryption``: "Self-managed k3s servers encrypt Secrets at rest
  (--secrets-encryption)", https://docs.k3s.io/security/secrets-encryption).

cloud-init's write_files encodings: https://cloudinit.readthedocs.io/en/latest/reference/modules.html#write-files.
The functions are called directly (no plan): the whole file runs in milliseconds.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Callable

import pytest
import yaml

from fleetform_policies.rules import k3s

SCRIPT = "#!/bin/sh\n# role: init; k3s: v1.31.4+k3s1; node: m1\nk3s server --write-kubeconfig-mode=0600\n"
"""A server bootstrap (fleetform's role marker) without --secrets-encryption; ``#`` and ``;`` keep
it from reading as base64 itself."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _gz_b64(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()


def _write_files(encoding: str) -> Callable[[str], str]:
    """A cloud-config carrying ``text`` as one write_files entry with ``encoding``."""
    encode = _gz_b64 if encoding.startswith("gz") else _b64

    def wrap(text: str) -> str:
        doc = {"write_files": [{"path": "/next", "encoding": encoding, "content": encode(text)}]}
        return "#cloud-config\n" + yaml.safe_dump(doc, width=1 << 30)
    return wrap


WRAPS: dict[str, Callable[[str], str]] = {
    "bare base64": _b64,  # what Azure customData and a launch template's userData hold
    "bare gzip+base64": _gz_b64,  # EC2 userDataBase64 as fleetform renders it
    "write_files b64": _write_files("b64"),
    "write_files gz+b64": _write_files("gz+b64"),
}


def _chain(wrap: Callable[[str], str], levels: int) -> list[str]:
    """``[outermost, ..., SCRIPT]``: each text is ``wrap`` of the next."""
    texts = [SCRIPT]
    for _ in range(levels):
        texts.insert(0, wrap(texts[0]))
    assert all(len(t) >= 64 for t in texts)  # every bare layer is long enough to be read as base64
    return texts


@pytest.mark.parametrize("kind", list(WRAPS))
def test_base64_layers_count_toward_the_four_level_bound(kind):
    """Each base64 layer is one level of the recursion, as a plain write_files entry is: depths 0
    to 4 are read and what depth 4 carries is not. (A layer counted as two would read only three of
    the texts; one not counted, or a count restarted at each layer, would never stop.)"""
    texts = _chain(WRAPS[kind], 5)  # texts[5] is SCRIPT, five layers down
    assert list(k3s._decoded(texts[0])) == texts[:5]


CARRIER_TYPES = ["aws:ec2/instance:Instance", "azure-native:compute:VirtualMachine"]
"""Two carriers the rule reads (``k3s.CARRIERS``): EC2 user data, Azure's ``osProfile.customData``."""


def _props(t: str, text: str) -> dict:
    return {"userData": text} if t.startswith("aws:") else {"osProfile": {"customData": text}}


@pytest.mark.parametrize("t", CARRIER_TYPES)
@pytest.mark.parametrize("kind", list(WRAPS))
@pytest.mark.parametrize("levels", [1, 2, 3, 4])
def test_a_bootstrap_wrapped_within_the_bound_is_reported(t, kind, levels):
    """Wherever the server bootstrap travels within the bound (up to four layers: two more than
    fleetform's EC2 user data, gzip+base64 around a b64 write_files entry), the rule reads it and
    reports the missing --secrets-encryption; with the flag it is quiet."""
    without = _chain(WRAPS[kind], levels)[0]
    assert list(k3s._secrets_encryption(t, _props(t, without), {})) == [
        "k3s server bootstrap (role init) without --secrets-encryption"]
    encrypted = SCRIPT.replace("k3s server ", "k3s server --secrets-encryption ")
    for _ in range(levels):
        encrypted = WRAPS[kind](encrypted)
    assert list(k3s._secrets_encryption(t, _props(t, encrypted), {})) == []


# --- Malformed carriers: unreadable, not a crash (found by review of the rule) ----------------------

MALFORMED = {
    "corrupt gzip inside base64": base64.b64encode(b"\x1f\x8b\x08\x00" + b"not a deflate stream" * 8).decode(),
    "truncated gzip inside base64": base64.b64encode(gzip.compress(SCRIPT.encode())[:40]).decode(),
    "cloud-config that is a list": "#cloud-config\n- write_files\n- runcmd\n",
    "cloud-config that is a string": "#cloud-config\njust words, no mapping\n",
    "write_files a number": "#cloud-config\nwrite_files: 5\n",
    "write_files a mapping": "#cloud-config\nwrite_files: {path: /x, content: y}\n",
    "a date PyYAML refuses": "#cloud-config\nbootcmd_at: 2001-13-01\n",
    "bad YAML": "#cloud-config\nwrite_files: [\n",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_carrier_is_unreadable_not_a_crash(name):
    """User data cloud-init could not run either carries no script the rule can judge: no
    violation, and no exception (one would break the whole policy run, every other rule with it)."""
    props = {"userData": MALFORMED[name]}
    assert list(k3s._secrets_encryption("aws:ec2/instance:Instance", props, {})) == []


@pytest.mark.parametrize("name", list(MALFORMED))
def test_a_malformed_carrier_hides_no_bootstrap_in_the_next_property(name):
    """EC2 instances carry userData and userDataBase64 (``k3s.CARRIERS``): an unreadable first one
    leaves the second read."""
    props = {"userData": MALFORMED[name], "userDataBase64": _gz_b64(SCRIPT)}
    assert list(k3s._secrets_encryption("aws:ec2/instance:Instance", props, {})) == [
        "k3s server bootstrap (role init) without --secrets-encryption"]
