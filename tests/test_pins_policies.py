"""The policy pack's helpers pinned where they are made (issue 17): what they must find, written
from the formats they read, not read back from the code.

cloud-init ``write_files`` entries carry ``content`` and an optional ``encoding``: ``b64``/``base64``,
or ``gz+b64``/``gzip+base64`` (https://cloudinit.readthedocs.io/en/latest/reference/modules.html#write-files).
k3s's ``--secrets-encryption`` is a urfave/cli boolean flag (https://docs.k3s.io/cli/server); a
shell line starting with ``#`` (after indentation) is a comment, not a command.
"""

from __future__ import annotations

import base64
import gzip

import pytest
import yaml

from fleetform_policies.rules.k3s import _decoded, _encrypts, _strings

PAYLOAD = "k3s server --secrets-encryption"  # short: only its encoding tells that it is base64


def _cloud_config(entries: list) -> str:
    return "#cloud-config\n" + yaml.safe_dump({"write_files": entries})


@pytest.mark.parametrize("encoding,compress", [("b64", False), ("base64", False), ("gz+b64", True), ("gzip+base64", True)])
def test_each_cloud_init_encoding_is_decoded(encoding, compress):
    payload = "k3s --x" if compress else PAYLOAD  # gzip's header costs 20 bytes
    raw = payload.encode()
    content = base64.b64encode(gzip.compress(raw, mtime=0) if compress else raw).decode()
    assert len(content) < 64  # so only the encoding key can lead to it
    found = list(_decoded(_cloud_config([{"path": "/x", "content": content, "encoding": encoding}])))
    assert payload in found


def test_an_unknown_encoding_and_plain_content():
    short = base64.b64encode(PAYLOAD.encode()).decode()
    found = list(_decoded(_cloud_config([{"path": "/x", "content": short, "encoding": "text/plain"},
                                         {"path": "/y", "content": "plain words"},
                                         "not an entry", {"path": "/z", "content": 42}])))
    assert PAYLOAD not in found and "plain words" in found and short in found


def _nest(levels: int) -> list[str]:
    """Cloud-configs each carrying the next as plain write_files content; the last one is a mark."""
    texts = ["MARK"]
    for _ in range(levels):
        texts.insert(0, _cloud_config([{"path": "/next", "content": texts[0]}]))
    return texts


def test_recursion_stops_after_four_levels():
    texts = _nest(5)  # texts[0] carries texts[1] ... texts[5] == "MARK"
    found = list(_decoded(texts[0]))
    assert found == texts[:5]  # depth 0..4 are read; what depth 4 carries is not


def test_bare_base64_from_64_characters_on_with_line_breaks():
    payload = "#!/bin/sh\n# role: init; k3s server --x\n" + "y" * 9  # 48 bytes -> 64 base64 characters
    assert len(payload.encode()) == 48
    text = base64.b64encode(payload.encode()).decode()
    assert len(text) == 64
    assert payload in list(_decoded(text))
    wrapped = text[:30] + "\n" + text[30:]  # as base64 tools wrap lines; still the same payload
    assert payload in list(_decoded(wrapped))
    short = base64.b64encode(b"k3s server").decode()  # valid base64, but under 64 characters
    assert list(_decoded(short)) == [short]


@pytest.mark.parametrize("script,on", [
    ("k3s server --secrets-encryption", True),
    ("k3s server", False),
    ("k3s server --secrets-encryption=false", False),
    ("k3s server --secrets-encryption=true", True),
    ("   # k3s server --secrets-encryption\nk3s server", False),  # an indented comment
    ("k3s server --secrets-encryption\nk3s server --secrets-encryption=0", False),  # the last word wins
    ("secrets-encryption: true", True),
    ("secrets-encryption: false", False),
])
def test_encrypts_reads_flags_config_and_comments(script, on):
    assert _encrypts(script) is on


def test_strings_walks_mappings_and_lists():
    assert list(_strings({"a": ["x", {"b": "y"}], "c": 3})) == ["x", "y"]
