"""Config helpers pinned where they are made (issue 17), each expectation written from what the
message must tell the user, not read back from the code.

Image digests: an OCI digest is ``<algorithm>:<encoded>``, and sha256's encoded part is exactly
64 lower-case hex digits (https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests:
"the encoded portion MUST match /[a-f0-9]{64}/").
"""

from __future__ import annotations

import json
from typing import Optional

import pytest

from fleetform.config.service import _digest_problem

HEX64 = "0123456789abcdef" * 4


@pytest.mark.parametrize("image,problem", [
    ("ghcr.io/acme/web:1.0", None),  # no digest: not a digest problem
    (f"ghcr.io/acme/web@sha256:{HEX64}", None),
    # The digest is what follows the last '@' (a registry user@ in front does not count).
    (f"user@ghcr.io/acme/web@sha256:{HEX64}", None),
    (f"ghcr.io/acme/web@md5:{HEX64}", "digest does not start with sha256: (the only algorithm accepted)"),
    ("ghcr.io/acme/web@sha256:", "sha256 digest is empty, want 64 hex digits"),
    ("ghcr.io/acme/web@sha256:" + "z" * 64, 'sha256 digest has characters that are not hex digits: "z"'),
    # At most five offending characters are shown, sorted, each quoted once.
    ("ghcr.io/acme/web@sha256:" + "uvwxyzuvwxyz" + "a" * 52,
     'sha256 digest has characters that are not hex digits: "u" "v" "w" "x" "y"'),
    # Only the first ':' separates the algorithm; a later one is a bad character of the hex part.
    ("ghcr.io/acme/web@sha256:" + "a" * 32 + ":" + "a" * 31, 'sha256 digest has characters that are not hex digits: ":"'),
    # 'X' is no hex digit; upper-case A-F are, and are not listed among the bad characters.
    ("ghcr.io/acme/web@sha256:" + "X" + "a" * 63, 'sha256 digest has characters that are not hex digits: "X"'),
    ("ghcr.io/acme/web@sha256:" + "Ag" + "a" * 62, 'sha256 digest has characters that are not hex digits: "g"'),
    # Upper-case A-F are hex digits, only in the wrong case.
    ("ghcr.io/acme/web@sha256:" + HEX64.upper(), "sha256 digest has upper-case hex digits, want lower-case"),
    ("ghcr.io/acme/web@sha256:" + "ABCDEF" + "a" * 58, "sha256 digest has upper-case hex digits, want lower-case"),
    ("ghcr.io/acme/web@sha256:" + "a" * 63, "sha256 digest has 63 hex digits, want 64"),
    ("ghcr.io/acme/web@sha256:" + "a" * 65, "sha256 digest has 65 hex digits, want 64"),
])
def test_digest_problem_says_exactly_what_is_wrong(image, problem):
    assert _digest_problem(image) == problem


# --- fleetform.config.naming: each cloud's naming and tagging rules (issue 17) -------------------
# The contract is docs/configuration.md ("Tags:" under Clusters): on aws (EKS) at most 42 tags, keys of
# 1-127 and values of at most 256 letters, digits, spaces and `_ . : / = + - @`, keys not starting
# with `aws:` (any case: https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html says
# aws:, AWS: "or any upper or lowercase combination" is reserved; EC2's Tag API allows keys of at
# most 127 characters); on gcp (GKE) at most 55 labels (fleetform-cluster, pulumi-gcp's
# goog-pulumi-provisioned and GKE's own 7 on nodes take 9 of the 64; tests/test_pins_tag_budget.py
# pins every budget), keys of
# 1-63 lower-case letters, digits, `_` or `-` starting with a letter, values of at most 63 of those
# (https://cloud.google.com/resource-manager/docs/labels-overview#requirements); on azure at most
# (AKS) 14 tags, names of 1-256 characters (the etcd key in Key Vault takes them: 15 tags, names of
# 256, https://learn.microsoft.com/azure/key-vault/keys/about-keys) without `< > % & \ ? /`, values
# of at most 256 characters
# (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations);
# Azure zones at most 3; AKS Linux pool names 1-12 lower-case letters and digits starting with a
# letter (https://learn.microsoft.com/azure/aks/create-node-pools), fleetform drops '-' and keeps
# the name `system` for its own pool.

from fleetform.config.cluster import ClusterSpec  # noqa: E402
from fleetform.config.naming import cloud_naming_problems  # noqa: E402

_AWS_TAGS = ("AWS tags: keys of 1-127 and values of at most 256 letters, digits, spaces and _ . : / = + - @; "
             "keys must not start with aws:")
_GCP_LABELS = ("GCP labels: keys of 1-63 lower-case letters, digits, '_' or '-' starting with a letter; values of "
               "at most 63 of those")
_AZURE_TAGS = "Azure tags: names of 1-256 characters without < > % & \\ ? /, values of at most 256 characters"
_AKS_POOL = ("on AKS, a name that is 1-12 lower-case letters and digits once '-' is dropped, starts with a letter, "
             "is not system and differs from the other pools")
_REGION = {"aws": "us-east-1", "gcp": "europe-west4", "azure": "westeurope"}


def _naming_spec(target: str, name: str = "c1", tags=None, pools=None, zones: int = 3, mode=None) -> ClusterSpec:
    """A valid cluster, then the fields under test set without validation (validation would raise
    the very problems :func:`cloud_naming_problems` is asked to find)."""
    spec = ClusterSpec.model_validate({"name": "c1", "target": target, "region": _REGION[target],
                                       **({"mode": mode} if mode else {})})
    update: dict = {"name": name, "tags": tags or {},
                    "network": spec.network.model_copy(update={"zones": zones})}
    if pools is not None:
        update["node_pools"] = [spec.effective_node_pools[0].model_copy(update={"name": p}) for p in pools]
    return spec.model_copy(update=update)


def _n(count: int, value: str = "v") -> dict:
    return {f"k{i}": value for i in range(count)}


_SPECIAL = "a b_.:/=+-@"
NAMING_CASES = [
    # aws: the tag count, keys, values and their characters
    ("aws 42 tags", "aws", {"tags": _n(42)}, []),
    ("aws 43 tags", "aws", {"tags": _n(43)},
     [("tags", "43 tags", "at most 42 tags on aws (AWS allows 50 per resource; a node carries 8 more, fleetform's "
       "and those EKS propagates from its Auto Scaling group)")]),
    ("aws key of 127", "aws", {"tags": {"k" * 127: "v"}}, []),
    ("aws key of 128", "aws", {"tags": {"k" * 128: "v"}}, [(("tags", "k" * 128), "v", _AWS_TAGS)]),
    ("aws empty key", "aws", {"tags": {"": "v"}}, [(("tags", ""), "v", _AWS_TAGS)]),
    ("aws value of 256", "aws", {"tags": {"k": "v" * 256}}, []),  # EC2 API_Tag: values up to 256
    ("aws value of 257", "aws", {"tags": {"k": "v" * 257}}, [(("tags", "k"), "v" * 257, _AWS_TAGS)]),
    ("aws empty value", "aws", {"tags": {"k": ""}}, []),
    ("aws allowed characters", "aws", {"tags": {_SPECIAL: _SPECIAL}}, []),
    ("aws key with #", "aws", {"tags": {"a#": "v"}}, [(("tags", "a#"), "v", _AWS_TAGS)]),
    ("aws value with #", "aws", {"tags": {"k": "a#"}}, [(("tags", "k"), "a#", _AWS_TAGS)]),
    ("aws key AWS: prefix", "aws", {"tags": {"AWS:x": "v"}}, [(("tags", "AWS:x"), "v", _AWS_TAGS)]),
    ("aws: inside a key", "aws", {"tags": {"team:aws:x": "v"}}, []),
    ("aws every bad tag", "aws", {"tags": {"a#": "v", "ok": "v", "b": "c#"}},
     [(("tags", "a#"), "v", _AWS_TAGS), (("tags", "b"), "c#", _AWS_TAGS)]),
    ("aws pools and names are not gcp's", "aws", {"name": "1c", "pools": ["1p"]}, []),
    # gcp: the cluster name, the label count, keys, values, pool names
    ("gcp name with a digit first", "gcp", {"name": "1c"},
     [("name", "1c", "a name starting with a letter (GKE cluster and service account names must)")]),
    ("gcp 55 labels", "gcp", {"tags": _n(55)}, []),
    ("gcp 56 labels", "gcp", {"tags": _n(56)},
     [("tags", "56 labels", "at most 55 labels on gcp (GCP allows 64 per resource; fleetform adds 2, pulumi-gcp's "
       "goog-pulumi-provisioned included, and GKE up to 7 on its nodes)")]),
    ("gcp key of 63", "gcp", {"tags": {"k" * 63: "v"}}, []),
    ("gcp key of 64", "gcp", {"tags": {"k" * 64: "v"}}, [(("tags", "k" * 64), "v", _GCP_LABELS)]),
    ("gcp key starting with _", "gcp", {"tags": {"_k": "v"}}, [(("tags", "_k"), "v", _GCP_LABELS)]),
    ("gcp key and value of the allowed characters", "gcp", {"tags": {"a0_-": "0a_-"}}, []),
    ("gcp value of 63", "gcp", {"tags": {"k": "v" * 63}}, []),
    ("gcp value of 64", "gcp", {"tags": {"k": "v" * 64}}, [(("tags", "k"), "v" * 64, _GCP_LABELS)]),
    ("gcp empty value", "gcp", {"tags": {"k": ""}}, []),
    ("gcp upper-case value", "gcp", {"tags": {"k": "V"}}, [(("tags", "k"), "V", _GCP_LABELS)]),
    ("gcp pool names", "gcp", {"pools": ["p1", "2p"]},
     [("nodePools[1].name", "2p", "on gcp, a name starting with a letter (GCP resource names must)")]),
    # azure: the tag count, names, values, zones, AKS pool names
    ("azure 14 tags", "azure", {"tags": _n(14)}, []),
    ("azure 15 tags", "azure", {"tags": _n(15)},
     [("tags", "15 tags", "at most 14 tags on azure (the cluster's etcd key in Key Vault takes them and allows 15 "
       "tags; fleetform adds 1)")]),
    ("azure name of 256", "azure", {"tags": {"k" * 256: "v"}}, []),
    ("azure name of 257", "azure", {"tags": {"k" * 257: "v"}}, [(("tags", "k" * 257), "v", _AZURE_TAGS)]),
    ("azure empty name", "azure", {"tags": {"": "v"}}, [(("tags", ""), "v", _AZURE_TAGS)]),
    ("azure value of 256", "azure", {"tags": {"k": "v" * 256}}, []),
    ("azure value of 257", "azure", {"tags": {"k": "v" * 257}}, [(("tags", "k"), "v" * 257, _AZURE_TAGS)]),
    ("azure forbidden characters", "azure", {"tags": {f"a{c}": "v" for c in "<>%&\\?/"}},
     [(("tags", f"a{c}"), "v", _AZURE_TAGS) for c in "<>%&\\?/"]),
    ("azure other characters", "azure", {"tags": {"a b:c#": "<>%"}}, []),
    ("azure 3 zones", "azure", {"zones": 3}, []),
    ("azure 4 zones", "azure", {"zones": 4},
     [("network.zones", 4, "at most 3 (Azure regions have 3 availability zones)")]),
    ("aks pool names", "azure", {"pools": ["general", "a" * 12, "a-b-c", "1pool", "a" * 13, "sys-tem", "abc"]},
     [("nodePools[3].name", "1pool", _AKS_POOL), ("nodePools[4].name", "a" * 13, _AKS_POOL),
      ("nodePools[5].name", "sys-tem", _AKS_POOL), ("nodePools[6].name", "abc", _AKS_POOL)]),
    ("self-managed azure has no AKS pool rule", "azure", {"mode": "self-managed", "pools": ["a" * 13]}, []),
]


@pytest.mark.parametrize("target,given,problems", [c[1:] for c in NAMING_CASES], ids=[c[0] for c in NAMING_CASES])
def test_cloud_naming_problems_follow_each_clouds_rules(target, given, problems):
    assert cloud_naming_problems(_naming_spec(target, **given)) == problems


# --- fleetform.config.errors: how a problem is carried and shown (issue 17) ----------------------
# The contract: docs/configuration.md "Errors" (one line per problem: the key path, what was given,
# what is allowed; a long value shortened in the middle, head and tail visible; never a secret or
# env value; credentials in a URL shown as ***@) and the module's docstrings (the key path
# `fleetform:clusters[0].nodePools[1].min`, `a.b[2].c` read back as its parts, values JSON-like).

from fleetform.config.errors import (  # noqa: E402
    _HIDDEN, FleetConfigError, _path, _problem, _problems, _raise_all, _Shown, _shown, _split_key,
)

_loop: list = []
_loop.append(_loop)
_LONG = "h" * 30 + "m" * 10 + "t" * 27  # 67 characters once quoted: over the 60 shown


@pytest.mark.parametrize("value,shown", [
    (_HIDDEN, "(not shown)"),
    (_Shown("2 masters, as written"), "2 masters, as written"),
    ({"b": 1, "a": [1, None, True]}, '{"a": [1, null, true], "b": 1}'),  # JSON, keys sorted
    ([], "[]"),
    (_loop, "(a list)"),  # a list that contains itself
    ({1: "x", "b": 2}, "(a dict)"),  # keys JSON cannot sort
    # a value JSON has no type for is shown as its text (a program may hand load_spec objects)
    ({"cidr": __import__("ipaddress").IPv4Network("10.0.0.0/16")}, '{"cidr": "10.0.0.0/16"}'),
    ("web\n", '"web\\n"'),  # a string is quoted, its newline escaped: the line stays one line
    (None, "null"), (True, "true"), (False, "false"), (70000, "70000"), (2.5, "2.5"),
    ("https://user:PLANTED@git.example.com/x", '"https://***@git.example.com/x"'),
    (["ftp://me@h/a", "https://h/b"], '["ftp://***@h/a", "https://h/b"]'),
    ("a@b.com", '"a@b.com"'),  # no // before it: no credentials
    ("x" * 58, '"' + "x" * 58 + '"'),  # 60 characters with its quotes: shown whole
    ("x" * 59, '"' + "x" * 29 + "..." + "x" * 26 + '"'),  # 61: head 30, "...", tail 27
    (_LONG, '"' + "h" * 29 + "..." + "t" * 26 + '"'),
])
def test_shown_is_what_a_config_error_prints_for_a_value(value, shown):
    assert _shown(value) == shown
    assert len(_shown(value)) <= 60


@pytest.mark.parametrize("loc,path", [
    ((), "fleetform:"),
    (("clusters",), "fleetform:clusters"),
    (("clusters", 0, "nodePools", 1, "min"), "fleetform:clusters[0].nodePools[1].min"),
    (("services", 2, "env", "aws:owner"), "fleetform:services[2].env.aws:owner"),
    (("clusters", 0, "tags", "cost.center<"), 'fleetform:clusters[0].tags["cost.center<"]'),
    (("clusters", 0, "tags", "a b"), 'fleetform:clusters[0].tags["a b"]'),
    (("clusters", 0, "tags", "a\nb"), 'fleetform:clusters[0].tags["a\\nb"]'),
    (("a b", "c"), 'fleetform:["a b"].c'),
    ((0, "x"), "fleetform:[0].x"),
])
def test_path_is_the_key_path_a_config_error_names(loc, path):
    assert _path(loc) == path


@pytest.mark.parametrize("key,parts", [
    ("a.b[2].c", ["a", "b", 2, "c"]),
    ("nodePools[1][12].name", ["nodePools", 1, 12, "name"]),
    ("tags[x]", ["tags[x]"]),  # a bracket holding no index stays part of the name
    ("[3]", [3]),
    ("min", ["min"]),
    ("a..b", ["a", "b"]),
])
def test_split_key_reads_a_key_path_back_as_its_parts(key, parts):
    assert _split_key(key) == parts


def test_problem_and_problems_carry_what_the_lines_are_made_of():
    err = _problem("1 or 3")
    assert (err.type, err.message(), err.context) == ("fleetform", "1 or 3", {"allowed": "1 or 3"})
    assert _problem("x", key="min", got=5).context == {"allowed": "x", "key": "min", "got": 5}
    assert _problem("x", key="min").context == {"allowed": "x", "key": "min", "got": None}
    assert _problem("x", entry="a b", got="v").context == {"allowed": "x", "entry": "a b", "got": "v"}
    assert _problem("x", hide=True).context == {"allowed": "x", "hide": True}
    assert _problem("x", hide=False).context == {"allowed": "x"}
    assert _problem("x", shown="2 masters").context == {"allowed": "x", "shown": "2 masters"}
    more = [("b", 2, "B")]
    assert _problems([("a", 1, "A")] + more).context == {"allowed": "A", "got": 1, "more": more, "key": "a"}
    assert _problems([(("tags", "k v"), "x", "T")]).context == {"allowed": "T", "got": "x", "more": [],
                                                                 "key": "tags", "entry": "k v"}
    assert _problems([("a", 1, "A")]).message() == "A"
    assert _raise_all([]) is None
    with pytest.raises(Exception) as info:
        _raise_all([("a", 1, "A"), ("b", 2, "B")])
    assert info.value.context == {"allowed": "A", "got": 1, "more": [("b", 2, "B")], "key": "a"}


def test_fleet_config_error_lists_every_problem_one_per_line():
    exc = FleetConfigError(["fleetform:a: got 1; allowed: 2", "fleetform:b: missing; required"])
    assert exc.problems == ["fleetform:a: got 1; allowed: 2", "fleetform:b: missing; required"]
    assert str(exc) == "invalid fleetform config:\n  fleetform:a: got 1; allowed: 2\n  fleetform:b: missing; required"
    assert isinstance(exc, ValueError)


# --- fleetform.config.extends: the merge rules (issue 17) ----------------------------------------
# The contract: docs/configuration.md "Sharing services between stacks (extends)" (services merge by
# name: mappings key by key, lists and plain values replaced, null removes the base's value;
# {name: x, remove: true} leaves x out; other entries after the base's; clusters are the stack's
# own unless it sets none; other keys replace the base's, a key at its Pulumi.yaml default takes
# the base's; secrets and other namespaces are not inherited) and the module docstring.

from pathlib import Path  # noqa: E402

from fleetform.config.extends import (  # noqa: E402
    _deep_merge, _label, _locate, _merge, _merge_services, _structured, find_project_root, resolve_extends,
    stack_config_dir,
)


@pytest.mark.parametrize("base,over,merged", [
    ({"a": 1, "b": {"x": 1, "y": 2}, "l": [1, 2]}, {"b": {"y": 3}, "l": [9], "c": 4},
     {"a": 1, "b": {"x": 1, "y": 3}, "l": [9], "c": 4}),                     # mappings merged, lists replaced
    ({"a": 1, "b": {"x": 1}}, {"a": None, "b": {"x": None}}, {"b": {}}),    # null removes, at any depth
    ({"a": 1}, {"z": None}, {"a": 1}),                                      # null for a key the base lacks
    ({"a": 1}, {"a": {"x": 1}}, {"a": {"x": 1}}),                           # a mapping over a plain value
    ({"a": {"x": 1}}, {"a": 2}, {"a": 2}),                                  # a plain value over a mapping
    ({"a": {"x": {"p": 1, "q": 2}}}, {"a": {"x": {"q": 3}}}, {"a": {"x": {"p": 1, "q": 3}}}),
])
def test_deep_merge_follows_the_documented_rules(base, over, merged):
    before = repr(base)
    assert _deep_merge(base, over) == merged
    assert repr(base) == before  # the base stack's own config is left as it was


_WEB, _API, _JOB = {"name": "web", "port": 1}, {"name": "api", "port": 2}, {"name": "job", "port": 3}


@pytest.mark.parametrize("own,merged", [
    ([], [_WEB, _API, _JOB]),
    ([{"name": "api", "port": 9}], [_WEB, {"name": "api", "port": 9}, _JOB]),        # merged in place
    ([{"name": "new"}, {"name": "web", "x": 1}], [{**_WEB, "x": 1}, _API, _JOB, {"name": "new"}]),
    ([{"name": "api", "remove": True}], [_WEB, _JOB]),
    ([{"name": "web", "remove": True}, {"name": "job", "remove": True}], [_API]),
    ([{"name": "api", "remove": "yes"}], [_WEB, {**_API, "remove": "yes"}, _JOB]),  # only true removes
    ([{"port": 5}], [_WEB, _API, _JOB, {"port": 5}]),                                # no name: added
    (["text"], [_WEB, _API, _JOB, "text"]),
])
def test_merge_services_by_name(own, merged):
    assert _merge_services([dict(_WEB), dict(_API), dict(_JOB)], own, "prod") == merged


def test_merge_services_refuses_every_remove_of_a_service_the_base_lacks():
    with pytest.raises(FleetConfigError) as info:
        _merge_services([dict(_WEB), "junk", {"name": 3}], [{"name": "a", "remove": True}, {"name": "web", "remove": True},
                                                          {"remove": True}], "prod")
    assert info.value.problems == [
        'fleetform:services[0].remove: got true for "a"; allowed: only on a service base stack prod defines (web) '
        "[fleetform:extends]",
        "fleetform:services[2].remove: got true for null; allowed: only on a service base stack prod defines (web) "
        "[fleetform:extends]",
    ]
    with pytest.raises(FleetConfigError) as info:
        _merge_services([], [{"name": "a", "remove": True}], "base")
    assert info.value.problems == ['fleetform:services[0].remove: got true for "a"; allowed: only on a service base '
                                   "stack base defines (none) [fleetform:extends]"]


_B = {"fleetform:namespace": "shop", "fleetform:kubernetesVersion": "1.33", "fleetform:clusters": ["base-c"],
      "fleetform:services": [dict(_WEB)], "fleetform:x": "base"}


@pytest.mark.parametrize("own,expected", [
    ({}, {**_B}),
    ({"fleetform:namespace": "mine", "fleetform:x": "own"}, {**_B, "fleetform:namespace": "mine", "fleetform:x": "own"}),
    # Pulumi.yaml's defaults (fleetform, 1.35) are what the engine fills in: the base's value wins.
    ({"fleetform:namespace": "fleetform", "fleetform:kubernetesVersion": "1.35"}, {**_B}),
    ({"fleetform:kubernetesVersion": "1.34"}, {**_B, "fleetform:kubernetesVersion": "1.34"}),
    ({"fleetform:clusters": ["own-c"]}, {**_B, "fleetform:clusters": ["own-c"]}),
    ({"fleetform:clusters": []}, {**_B}),
    ({"fleetform:clusters": "[]"}, {**_B}),          # the engine's default, as JSON text
    ({"fleetform:clusters": None}, {**_B}),
    ({"fleetform:clusters": '["own-c"]'}, {**_B, "fleetform:clusters": '["own-c"]'}),
    ({"fleetform:services": '[{"name": "web", "port": 8}]'}, {**_B, "fleetform:services": [{"name": "web", "port": 8}]}),
    ({"fleetform:services": [{"name": "api"}]}, {**_B, "fleetform:services": [dict(_WEB), {"name": "api"}]}),
    ({"fleetform:services": "not json"}, {**_B, "fleetform:services": "not json"}),  # left for load_spec to refuse
])
def test_merge_puts_the_stack_over_its_base(own, expected):
    assert _merge(dict(_B), own, "prod") == expected


def test_merge_keeps_the_stacks_services_when_the_base_has_none():
    own = {"fleetform:services": [{"name": "a"}]}
    assert _merge({"fleetform:services": []}, own, "b") == own
    assert _merge({"fleetform:services": "x"}, own, "b") == own
    assert "fleetform:services" not in _merge({"fleetform:services": []}, {}, "b")


@pytest.mark.parametrize("name,label", [
    ("Pulumi.prod.yaml", "prod"), ("Pulumi.prod-aws.yml", "prod-aws"), ("Pulumi.a.b.yaml", "a.b"),
    ("base.yaml", "base.yaml"), ("Pulumi.yaml", "Pulumi.yaml"),
])
def test_label_is_the_stack_name_of_a_stack_file(name, label):
    assert _label(Path("/x") / name) == label


@pytest.mark.parametrize("value,parsed", [('[{"a": 1}]', [{"a": 1}]), ("[]", []), ("not json", "not json"),
                                          ("", ""), ([1], [1]), (None, None)])
def test_structured_reads_the_engines_json_text(value, parsed):
    assert _structured(value) == parsed


def test_locate_finds_a_base_by_name_or_relative_path(tmp_path):
    (tmp_path / "Pulumi.prod.yaml").write_text("config: {}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Pulumi.b.yml").write_text("config: {}\n")
    (tmp_path / "sub" / "base").write_text("config: {}\n")
    assert _locate("prod", tmp_path) == tmp_path / "Pulumi.prod.yaml"
    assert _locate("Pulumi.prod.yaml", tmp_path) == tmp_path / "Pulumi.prod.yaml"
    assert _locate("sub/Pulumi.b.yml", tmp_path) == tmp_path / "sub" / "Pulumi.b.yml"
    assert _locate("sub/base", tmp_path) == tmp_path / "sub" / "base"
    allowed = "allowed: a stack name in the same folder (such as prod-aws) or a relative path to a Pulumi.<name>.yaml"
    for given, line in [
        (3, f"fleetform:extends: got 3; {allowed}"),
        (" ", f'fleetform:extends: got " "; {allowed}'),
        ("two words", f'fleetform:extends: got "two words"; {allowed}'),
        ("/etc/Pulumi.p.yaml", f'fleetform:extends: got "/etc/Pulumi.p.yaml", an absolute path; {allowed}'),
        ("prdo", f'fleetform:extends: got "prdo", but there is no {tmp_path / "Pulumi.prdo.yaml"}; {allowed} '
                 f"(stacks in {tmp_path}: prod)"),
        ("sub/x.yaml", f'fleetform:extends: got "sub/x.yaml", but there is no {tmp_path / "sub" / "x.yaml"}; {allowed} '
                       f"(stacks in {tmp_path}: prod)"),
    ]:
        with pytest.raises(FleetConfigError) as info:
            _locate(given, tmp_path)
        assert info.value.problems == [line]
    with pytest.raises(FleetConfigError) as info:
        _locate("p", tmp_path / "sub")
    assert info.value.problems[0].endswith(f"(stacks in {tmp_path / 'sub'}: none)")


def test_stack_config_dir_and_project_root(tmp_path, monkeypatch):
    assert stack_config_dir(tmp_path) == tmp_path  # no Pulumi.yaml
    for text, folder in [("name: p\nstackConfigDir: stacks\n", tmp_path / "stacks"), ("name: p\n", tmp_path),
                         ("stackConfigDir: ''\n", tmp_path), ("stackConfigDir: 3\n", tmp_path), ("- a\n", tmp_path),
                         ("a: [\n", tmp_path), ("", tmp_path)]:
        (tmp_path / "Pulumi.yaml").write_text(text)
        assert stack_config_dir(tmp_path) == folder, text
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")
    assert find_project_root() == tmp_path
    assert find_project_root(str(tmp_path / "deep")) == tmp_path  # a hint without Pulumi.yaml is not the root
    (tmp_path / "deep" / "Pulumi.yaml").write_text("name: q\n")
    assert find_project_root(str(tmp_path / "deep")) == tmp_path / "deep"
    assert find_project_root("") == tmp_path / "deep"
    # A hint beside the current folder, not above it: only the hint can name it.
    (tmp_path / "side").mkdir()
    (tmp_path / "side" / "Pulumi.yaml").write_text("name: s\n")
    assert find_project_root(str(tmp_path / "side")) == tmp_path / "side"
    # No Pulumi.yaml here or above: the current folder.
    (tmp_path / "side" / "Pulumi.yaml").unlink()
    (tmp_path / "deep" / "Pulumi.yaml").unlink()
    (tmp_path / "Pulumi.yaml").unlink()
    assert find_project_root() == tmp_path / "deep" / "er"
    assert find_project_root(str(tmp_path / "side")) == tmp_path / "deep" / "er"


def test_resolve_drops_extends_and_what_is_not_inherited(tmp_path):
    assert resolve_extends({"fleetform:extends": "", "a:b": 1}, tmp_path) == {"a:b": 1}
    assert resolve_extends({"fleetform:extends": None}, tmp_path) == {}
    (tmp_path / "Pulumi.prod.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  fleetform:namespace: shop\n"
        "  fleetform:clusters: [{name: c, target: existing}]\n"
        "  fleetform:sshPrivateKey:\n    secure: v1:abc\n")
    assert resolve_extends({"fleetform:extends": "prod"}, tmp_path) == {
        "fleetform:namespace": "shop", "fleetform:clusters": [{"name": "c", "target": "existing"}]}
    own = tmp_path / "Pulumi.prod.yaml"
    with pytest.raises(FleetConfigError) as info:
        resolve_extends({"fleetform:extends": "prod"}, tmp_path, own=own)
    assert info.value.problems == ["fleetform:extends: a cycle, prod -> prod; allowed: a base that does not extend this "
                                   "stack, directly or through others"]


# --- fleetform.config.stackfile: a stack file read as Pulumi reads it (issue 17) -----------------
# The contract: docs/configuration.md "How stack files are read" (only true/false are booleans; dates
# and 10:30 stay text; 1e3 is a number and 0755 octal; number keys become text; merge keys work;
# aliases may not expand past 100,000 values nor contain themselves; refused: a key given twice, a
# key without its namespace, a string for an array key, !!binary/!!set, a plain-text secret).
# Integers as gopkg.in/yaml.v3's resolve.go reads them: every "_" removed, then Go's
# strconv.ParseInt(text, 0, 64) (https://pkg.go.dev/strconv#ParseInt: base 0 takes the 0x, 0o, 0b
# prefixes and a leading "0" for octal; https://github.com/go-yaml/yaml/blob/v3.0.1/resolve.go), floats as YAML 1.2's core
# schema (https://yaml.org/spec/1.2.2/#1023-core-schema: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?,
# .inf, .nan in three spellings each).

import math  # noqa: E402

from fleetform.config.stackfile import _key_text, _plain, _yaml_problem, _yaml_type, read_stack_file  # noqa: E402


def _read_value(tmp_path, text: str):
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text(f"config:\n  myapp:v: {text}\n")
    return read_stack_file(path)[0]["myapp:v"]


@pytest.mark.parametrize("text,value", [
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
    ("tRue", "tRue"), ("yes", "yes"), ("on", "on"), ("off", "off"), ("n", "n"),
    ("12", 12), ("+12", 12), ("-12", -12), ("0", 0), ("-0", 0), ("007", 7), ("0755", 493), ("-0755", -493),
    ("0x1F", 31), ("0x1f", 31), ("0o17", 15), ("0b101", 5), ("089", 89.0), ("08", 8.0),
    ("1e3", 1000.0), ("1E3", 1000.0), ("-1.5e-2", -0.015), (".5", 0.5), ("1.", 1.0), ("+.5", 0.5),
    ("10:30", "10:30"), ("2001-12-14", "2001-12-14"), ("0x", "0x"), ("1_000", 1000), ("0o8", "0o8"),
    ("e3", "e3"), ("1.2.3", "1.2.3"), ("~", None), ("null", None),
])
def test_plain_scalars_are_read_as_pulumi_reads_them(tmp_path, text, value):
    got = _read_value(tmp_path, text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("text,check", [
    (".inf", lambda v: v == math.inf), ("-.Inf", lambda v: v == -math.inf), ("+.INF", lambda v: v == math.inf),
    (".nan", math.isnan), (".NaN", math.isnan), (".NAN", math.isnan),
])
def test_infinities_and_nans_are_floats(tmp_path, text, check):
    assert check(_read_value(tmp_path, text))


def test_read_stack_file_returns_the_config_and_its_secret_keys(tmp_path):
    path = tmp_path / "Pulumi.s.yaml"
    path.write_text("config:\n  fleetform:sshPrivateKey:\n    secure: v1:abc\n  myapp:pw:\n    secure: v1:def\n"
                    "  myapp:keys: {1: a, 1.5: b}\n  myapp:bools: {true: c, false: d}\n  fleetform:namespace: shop\n"
                    "  myapp:notsecure: {secure: a, other: b}\n  fleetform:sshPrivateKey2: x\n")
    config, secret = read_stack_file(path, secret_placeholder="P")
    assert secret == ("fleetform:sshPrivateKey", "myapp:pw")
    assert config == {"fleetform:sshPrivateKey": "P", "myapp:pw": "P",
                      "myapp:keys": {"1": "a", "1.5": "b"}, "myapp:bools": {"true": "c", "false": "d"},
                      "fleetform:namespace": "shop", "myapp:notsecure": {"secure": "a", "other": "b"},
                      "fleetform:sshPrivateKey2": "x"}
    assert read_stack_file(path)[0]["myapp:pw"] == "[secret]"
    for text in ("", "config:\n", "config: {}\n", "other: 1\n"):
        path.write_text(text)
        assert read_stack_file(path) == ({}, ())
    path.write_text("config:\n  fleetform:sshPrivateKey: null\n  fleetform:clusters: []\n")
    assert read_stack_file(path) == ({"fleetform:sshPrivateKey": None, "fleetform:clusters": []}, ())


def test_read_stack_file_refusals_are_one_line(tmp_path):
    path = tmp_path / "Pulumi.s.yaml"
    path.write_bytes(b"config:\n  myapp:a: \xff\n")
    with pytest.raises(FleetConfigError) as info:
        read_stack_file(path)
    assert info.value.problems == [f"{path}: not UTF-8 text (byte offset 19); allowed: a YAML stack file"]
    with pytest.raises(FleetConfigError) as info:
        read_stack_file(tmp_path / "absent.yaml")
    assert info.value.problems == [f"{tmp_path / 'absent.yaml'}: cannot be read: No such file or directory"]
    for text, line in [
        ("- a\n", "expected a mapping with a config: key"),
        ("config: [a]\n", "config: must be a mapping of key: value"),
        ("config:\n  a: {b: 1, b: 2}\n", "not valid YAML: key 'b' appears twice in one mapping; Pulumi refuses that "
                                          "(line 2, column 13)"),
        ("config:\n  fleetform:services: 'x'\n", None),
        ("config:\n  myapp:m: {[1]: a}\n", None),
    ]:
        path.write_text(text)
        with pytest.raises(FleetConfigError) as info:
            read_stack_file(path)
        if line is not None:
            assert info.value.problems == [f"{path}: {line}"]
    # A duplicate key inside a merged anchor counts once: the merge is no duplicate.
    path.write_text("config:\n  myapp:a: &a {x: 1}\n  myapp:b: {<<: *a, x: 2}\n  myapp:c: {<<: *a}\n")
    assert read_stack_file(path)[0] == {"myapp:a": {"x": 1}, "myapp:b": {"x": 2}, "myapp:c": {"x": 1}}


@pytest.mark.parametrize("value,problem", [
    ({(1, 2): "a"}, "holds a mapping key that is a list"),
    ({"a": {None: 1}}, "holds a mapping key that is null (in a)"),
    ({"a": [{b"k": 1}]}, "holds a mapping key that is a !!binary (in a[0])"),
    ([1, {"x": {1, 2}}], "holds a YAML !!set value (at [1].x)"),
    (b"raw", "holds a YAML !!binary value"),
])
def test_plain_refuses_what_pulumi_config_cannot_hold(value, problem):
    with pytest.raises(ValueError) as info:
        _plain(value)
    assert str(info.value) == problem


def test_plain_counts_every_value_against_the_budget():
    assert _plain({"a": [1, {"b": None}], 2: 2.5, True: "t"}) == {"a": [1, {"b": None}], "2": 2.5, "true": "t"}
    budget = [5]
    assert _plain([1, [2, 3]], budget=budget) == [1, [2, 3]] and budget == [0]  # 5 values: the lists count too
    with pytest.raises(ValueError) as info:
        _plain([1, [2, 3]], budget=[4])
    assert str(info.value) == "expands to more than 100,000 values through aliases"
    shared = [1]
    assert _plain([shared, shared]) == [[1], [1]]  # the same list twice is no loop
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ValueError) as info:
        _plain(loop)
    assert str(info.value) == "holds an alias that contains itself (at self)"
    top: list = []
    top.append(top)
    with pytest.raises(ValueError) as info:
        _plain(top)
    assert str(info.value) == "holds an alias that contains itself (at [0])"


def test_key_text_yaml_type_and_yaml_problem():
    assert [_key_text(k, "") for k in (True, False, 1, 1.5, "k")] == ["true", "false", "1", "1.5", "k"]
    assert [_yaml_type(v) for v in (b"", {1}, (1,), 1.5)] == ["!!binary", "!!set", "list", "float"]
    import yaml as _yaml

    try:
        _yaml.safe_load("a: [\n")
    except _yaml.YAMLError as exc:
        assert _yaml_problem(exc) == f"while parsing a flow node: {exc.problem} (line 2, column 1)"
    assert _yaml_problem(_yaml.YAMLError("first line\nsecond")) == "first line"
    marked = _yaml.MarkedYAMLError(problem="bad thing")
    assert _yaml_problem(marked) == "bad thing"


# --- fleetform.config.fleet: the checks across clusters and services (issue 17) ------------------
# The contract: docs/configuration.md: services[].nodePort ("The derived NodePort is 30000 + CRC-32(name)
# mod 2768 ... Two exposed services that derive the same port on one self-managed cloud cluster are a
# config error that asks you to set nodePort on one of them"), "expose: internal is accepted only where
# the load balancer can have private addresses" (Load balancers), "Errors" (unique names, every wrong
# reference reported), and an onprem cluster needs fleetform:sshPrivateKey.

import zlib  # noqa: E402

from fleetform.config.fleet import FleetSpec, _read, _text, _unique, fleet_problems  # noqa: E402
from fleetform.config.service import ServiceSpec  # noqa: E402
from tests.conftest import cluster as _cluster, service as _service  # noqa: E402


def _c(name, target, **kw):
    raw = _cluster(name, target, **kw)
    return raw, ClusterSpec.model_validate(raw)


def _s(name, **kw):
    raw = _service(name, **kw)
    return raw, ServiceSpec.model_validate(raw)


@pytest.mark.parametrize("name", ["web", "api", "s15", "a" * 40])
def test_derived_node_port_is_the_documented_crc(name):
    spec = ServiceSpec.model_validate(_service(name))
    assert FleetSpec.node_port_of(spec) == 30000 + zlib.crc32(name.encode()) % 2768
    assert 30000 <= FleetSpec.node_port_of(spec) <= 32767
    assert FleetSpec.node_port_of(spec.model_copy(update={"node_port": 31000})) == 31000


_SM = ("sm", "aws")
_CLASH = ("a NodePort not used by service s15 on cluster {c} (set nodePort explicitly, 30000-32767)")


def test_node_port_clashes_only_where_fleetforms_load_balancer_forwards():
    # s15 and s43 derive the same port (32010): found by the formula above.
    assert FleetSpec.node_port_of(_s("s15")[1]) == FleetSpec.node_port_of(_s("s43")[1]) == 32010
    sm = _c("sm", "aws", mode="self-managed")
    sm2 = _c("sm2", "gcp", mode="self-managed")
    clash = [("services[1].nodePort", 32010, _CLASH.format(c="sm"))]
    assert fleet_problems([sm], [_s("s15"), _s("s43")], False) == clash
    assert fleet_problems([sm, sm2], [_s("s15"), _s("s43")], False) == clash  # one line per service
    # a service that is not exposed, listed first, does not end the check for the ones after it
    assert fleet_problems([sm], [_s("c", expose="cluster"), _s("s15"), _s("s43")], False) == [
        ("services[2].nodePort", 32010, _CLASH.format(c="sm"))]
    # a managed or unread cluster listed first does not end the check for the ones after it
    assert fleet_problems([_c("m", "aws"), (_cluster("u", "aws"), None), sm], [_s("s15"), _s("s43")], False) == clash
    assert fleet_problems([sm2, sm], [_s("s15"), _s("s43")], False) == [
        ("services[1].nodePort", 32010, _CLASH.format(c="sm2"))]
    # Not on managed, existing or onprem clusters; not for services that are not exposed or not there.
    assert fleet_problems([_c("m", "aws")], [_s("s15"), _s("s43")], False) == []
    assert fleet_problems([_c("x", "existing")], [_s("s15"), _s("s43", servicePort=8080)], False) == []
    assert fleet_problems([sm], [_s("s15"), _s("s43", expose="cluster")], False) == []
    assert fleet_problems([sm, sm2], [_s("s15"), _s("s43", clusters=["sm2"])], False) == [
        ("services[1].nodePort", 32010, _CLASH.format(c="sm2"))]  # s15 runs on every cluster, sm2 too
    assert fleet_problems([sm, sm2], [_s("s15", clusters=["sm"]), _s("s43", clusters=["sm2"])], False) == []
    assert fleet_problems([sm], [_s("s15"), _s("s43", nodePort=31000)], False) == []
    # A service that did not validate is left to its own lines.
    assert fleet_problems([sm], [_s("s15"), (_service("s43"), None)], False) == []
    assert fleet_problems([(_cluster("sm", "aws"), None)], [_s("s15"), _s("s43")], False) == []
    # Three services on one port: each later one is reported, naming the first.
    three = fleet_problems([sm], [_s("s15"), _s("s43"), _s("t", nodePort=32010)], False)
    assert [f[0] for f in three] == ["services[1].nodePort", "services[2].nodePort"]
    assert all("service s15 on cluster sm" in f[2] for f in three)


_PORT_CLASH = ("a port not used by service {first} on cluster {c}: ServiceLB gives each public service a host port "
               "of its own on the nodes, and two Services on one port compete for it (one stays pending, or each "
               "answers on only some nodes)")
_HOST_KEY_ED = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMgKCvDeCFjbxSWnegh4QZ9OtMRv5xD8Iy7tzTeyKNib"


def _onprem(name, **kw):
    kw.setdefault("hosts", [{"name": "m1", "address": "192.0.2.11", "role": "master", "hostKey": _HOST_KEY_ED}])
    return _c(name, "onprem", **kw)


def test_public_services_on_one_port_clash_under_servicelb_on_onprem():
    """k3s pkg/cloudprovider/servicelb.go (HostPort: port.Port) and the k3s-io/klipper-lb README:
    ServiceLB "works by using a host port for each service load balancer ... If there are no free
    host ports, the service load balancer will stay in pending"."""
    slb = _onprem("k")  # servicelb is the default load balancer
    assert slb[1].load_balancer.provider == "servicelb"
    clash = [("services[1].servicePort", 80, _PORT_CLASH.format(first="a", c="k"))]
    assert fleet_problems([slb], [_s("a"), _s("b")], True) == clash
    assert fleet_problems([slb], [_s("a", servicePort=443), _s("b", servicePort=443)], True) == [
        ("services[1].servicePort", 443, _PORT_CLASH.format(first="a", c="k"))]
    # Different ports, or a service that is not public (no LoadBalancer Service), do not clash.
    assert fleet_problems([slb], [_s("a"), _s("b", servicePort=8080)], True) == []
    assert fleet_problems([slb], [_s("a", expose="cluster"), _s("b")], True) == []
    assert fleet_problems([slb], [_s("a"), _s("b", expose="cluster")], True) == []
    # Neither under MetalLB (an address per Service) nor where the services do not meet.
    metallb = _onprem("k", loadBalancer={"provider": "metallb"})
    assert fleet_problems([metallb], [_s("a"), _s("b")], True) == []
    other = _onprem("o")
    assert fleet_problems([slb, other], [_s("a", clusters=["k"]), _s("b", clusters=["o"])], True) == []
    assert fleet_problems([metallb, other], [_s("a"), _s("b")], True) == [
        ("services[1].servicePort", 80, _PORT_CLASH.format(first="a", c="o"))]
    # A service that is not public or not on the cluster, listed first, does not end the check.
    assert fleet_problems([slb, other], [_s("z", expose="cluster"), _s("y", clusters=["o"], servicePort=9000), _s("a"), _s("b")],
                          True) == [("services[3].servicePort", 80, _PORT_CLASH.format(first="a", c="k"))]
    assert fleet_problems([slb, other], [_s("a", clusters=["k"]), _s("b", clusters=["k"])], True) == clash
    # One line per service even when it clashes on two clusters; each later one names the first.
    three = fleet_problems([slb, _onprem("o")], [_s("a"), _s("b"), _s("c")], True)
    assert three == [("services[1].servicePort", 80, _PORT_CLASH.format(first="a", c="k")),
                     ("services[2].servicePort", 80, _PORT_CLASH.format(first="a", c="k"))]
    # A service or cluster that did not validate is left to its own lines.
    assert fleet_problems([slb], [_s("a"), (_service("b"), None)], True) == []
    assert fleet_problems([(_cluster("k", "onprem"), None)], [_s("a"), _s("b")], True) == []
    # existing: servicelb only means "no annotations" (kind, minikube give each Service an address).
    assert fleet_problems([_c("x", "existing")], [_s("a"), _s("b")], True) == []
    # Cloud clusters: each Service gets a load balancer of its own (or fleetform's, by NodePort).
    assert fleet_problems([_c("m", "aws")], [_s("a"), _s("b")], True) == []


@pytest.mark.parametrize("port,what", [(6443, "the Kubernetes API"), (10250, "the kubelet"), (2379, "etcd"),
                                       (2380, "etcd"), (5001, "Spegel"), (22, "SSH"), (30000, "the NodePort range"),
                                       (32767, "the NodePort range")])
def test_a_public_port_the_onprem_nodes_serve_themselves_is_refused(port, what):
    """https://docs.k3s.io/installation/requirements ("Inbound Rules for K3s Nodes"): ServiceLB's host
    port would take that port over on every node (the CNI's portmap rule redirects it)."""
    line = [("services[0].servicePort", port, f"a port the nodes of cluster k do not serve themselves ({port} is "
                                              f"{what}'s; ServiceLB would take it over on every node)")]
    assert fleet_problems([_onprem("k")], [_s("a", servicePort=port)], True) == line
    # once per service, not also as a clash with a later one
    assert fleet_problems([_onprem("k")], [_s("a", servicePort=port), _s("b", servicePort=port)], True)[0] == line[0]
    # once per service across clusters; the services after it are still checked
    assert fleet_problems([_onprem("k"), _onprem("o")], [_s("a", servicePort=port)], True) == line
    assert fleet_problems([_onprem("k")], [_s("a", servicePort=port), _s("b"), _s("c")], True) == [
        line[0], ("services[2].servicePort", 80, _PORT_CLASH.format(first="b", c="k"))]
    # the hosts' own SSH port, whatever it is
    assert fleet_problems([_onprem("k", ssh={"port": 2222})], [_s("a", servicePort=2222)], True) == [
        ("services[0].servicePort", 2222, "a port the nodes of cluster k do not serve themselves (2222 is SSH's; "
                                          "ServiceLB would take it over on every node)")]
    for fine in (22 if port != 22 else 80, 29999, 32768, 8443):
        if fine != port:
            assert fleet_problems([_onprem("k", ssh={"port": 2222})], [_s("a", servicePort=fine)], True) == []
    # not under MetalLB, nor on existing clusters
    assert fleet_problems([_onprem("k", loadBalancer={"provider": "metallb"})], [_s("a", servicePort=port)], True) == []
    assert fleet_problems([_c("x", "existing")], [_s("a", servicePort=port)], True) == []


def test_fleet_problems_reads_names_and_references_from_raw_entries():
    raw_clusters = [({"name": "b", "target": "existing"}, None), ({"name": "a"}, None), ({"name": "b"}, None),
                    ({"name": 3}, None), ("junk", None)]
    raw_services = [
        ({"name": "web", "clusters": ["a", "zz", 4, "b"], "egress": [{"service": "api"}, {"service": "nope"},
                                                                   {"cidr": "10.0.0.0/8"}, "junk"]}, None),
        ({"name": "api", "clusters": "a"}, None),
        ({"name": "web", "egress": {"service": "x"}}, None),
    ]
    assert fleet_problems(raw_clusters, raw_services, False) == [
        ("clusters[2].name", "b", "a name not used by another entry of clusters"),
        ("services[2].name", "web", "a name not used by another entry of services"),
        ("services[0].clusters[1]", "zz", "a cluster of this stack: a, b"),
        ("services[0].egress[1].service", "nope", "a service of this stack: api, web"),
    ]


def test_an_onprem_cluster_needs_the_ssh_key():
    onprem = [({"name": "dc", "target": "onprem"}, None), ({"name": "dc2", "target": "onprem"}, None),
              ({"name": "x", "target": "existing"}, None), ({"target": "onprem"}, None)]
    line = ("sshPrivateKey", None, "an SSH private key for the hosts of dc, dc2, set as a secret "
                                   "(pulumi config set --secret fleetform:sshPrivateKey < key)")
    assert fleet_problems(onprem, [], False) == [line]
    assert fleet_problems(onprem, [], True) == []
    assert fleet_problems(onprem[2:3], [], False) == []
    # the target of a validated cluster is the model's
    ex_raw, ex = _c("x", "existing")
    assert fleet_problems([({**ex_raw, "target": "onprem"}, ex)], [], False) == []


_LB_FIX = ("set loadBalancer: {provider: metallb, internalPool: <pool>} (or, on an existing cluster with a cloud "
           "controller, {provider: cloud, internalAnnotations: {...}}) on ")


def test_expose_internal_needs_private_addresses_on_every_cluster_it_runs_on():
    slb = _c("a", "existing")
    metal = _c("b", "existing", loadBalancer={"provider": "metallb", "publicPool": "p"})
    ok = _c("c", "existing", loadBalancer={"provider": "metallb", "internalPool": "i"})
    cloud_ok = _c("d", "existing", loadBalancer={"provider": "cloud", "internalAnnotations": {"k": "v"}})
    aws = _c("e", "aws")
    why_a = "servicelb answers on the nodes' own addresses for public and internal Services alike"
    why_b = "metallb has no internalPool, so internal Services get addresses from the public pools"
    assert fleet_problems([slb, metal, ok, cloud_ok, aws], [_s("web", expose="internal")], False) == [
        ("services[0].expose", "internal",
         f"internal only where the load balancer has private addresses (on cluster a, {why_a}; on cluster b, "
         f"{why_b}); {_LB_FIX}clusters a, b, or expose: cluster")]
    assert fleet_problems([slb, ok], [_s("api", expose="public"), _s("web", expose="internal", clusters=["a"])],
                          False) == [
        ("services[1].expose", "internal",
         f"internal only where the load balancer has private addresses (on cluster a, {why_a}); {_LB_FIX}cluster a, "
         "or expose: cluster")]
    assert fleet_problems([slb, ok], [_s("web", expose="internal", clusters=["c"])], False) == []
    # clusters skipped (a cloud one, one the service is not on) do not end the check for the ones after them
    only_a = ("services[0].expose", "internal",
              f"internal only where the load balancer has private addresses (on cluster a, {why_a}); {_LB_FIX}cluster a, "
              "or expose: cluster")
    assert fleet_problems([aws, slb], [_s("web", expose="internal")], False) == [only_a]
    assert fleet_problems([ok, slb], [_s("web", expose="internal", clusters=["a"])], False) == [only_a]
    # onprem clusters are checked as existing ones are
    from tests.conftest import stack_config
    from fleetform.config.cluster import LoadBalancerSpec
    from fleetform.config import load_spec

    dc = next(c for c in load_spec(stack_config("onprem")).clusters if c.target == "onprem")
    dc = dc.model_copy(update={"load_balancer": LoadBalancerSpec()})
    assert fleet_problems([(dc, dc)], [_s("web", expose="internal")], True) == [
        ("services[0].expose", "internal",
         f"internal only where the load balancer has private addresses (on cluster {dc.name}, {why_a}); {_LB_FIX}"
         f"cluster {dc.name}, or expose: cluster")]
    assert fleet_problems([ok, cloud_ok, aws], [_s("web", expose="internal")], False) == []
    assert fleet_problems([(_cluster("a", "existing"), None)], [_s("web", expose="internal")], False) == []
    assert fleet_problems([slb], [({"name": "web", "expose": "internal"}, None)], False)[0][0] == "services[0].expose"


def test_read_text_unique_and_the_fleets_helpers():
    spec = ServiceSpec.model_validate(_service("web"))
    assert _read(spec, "name", "x") == "web"
    assert _read({"nodePort": 1, "node_port": 2}, "node_port", "nodePort") == 1
    assert _read({"node_port": 2}, "node_port", "nodePort") == 2
    assert _read({}, "a", "b") is None and _read("text", "a", "b") is None and _read(None, "a", "b") is None
    assert (_text("a"), _text(3), _text(None)) == ("a", None, None)
    assert _unique(["a", None, "a", "b", "a", None], "k") == [
        ("k[2].name", "a", "a name not used by another entry of k"), ("k[4].name", "a", "a name not used by another entry of k")]
    fleet = load_spec_fleet()
    a, b = fleet.clusters
    assert [s.name for s in fleet.services_on(a)] == ["all", "on-a"]
    assert [s.name for s in fleet.services_on(b)] == ["all"]
    assert fleet.version_of(a) == "1.34" and fleet.version_of(b) == "1.33"
    assert fleet.image_of(fleet.services[0], a) == fleet.services[0].image
    assert fleet.drained() == frozenset()


def load_spec_fleet():
    from fleetform.config import load_spec

    return load_spec({"fleetform:clusters": [{"name": "a", "target": "existing", "kubernetesVersion": "1.34"},
                                             {"name": "b", "target": "existing"}],
                      "fleetform:services": [_service("all"), _service("on-a", clusters=["a"], servicePort=8080)],
                      "fleetform:kubernetesVersion": "1.33"})


# --- fleetform.config.loading: pydantic's errors as one line each (issue 17) ----------------------
# The contract: docs/configuration.md "Errors" (one line per problem, `<key path>: got <value>;
# allowed: <what>`, unknown keys listing the allowed ones, sorted by key path, no secret or env
# value printed), Pulumi.yaml's declarations (sshPrivateKey `secret: true`; clusters, services,
# traffic `type: array`) and the docstrings of load_spec and _in_order (unknown keys first, then
# clusters, services and the rest in FleetSpec's field order, entries by index, one entry's lines
# in the order found).

from fleetform.config.cluster import NodePoolSpec  # noqa: E402
from fleetform.config.loading import (  # noqa: E402
    LIST_KEYS, SECRET_KEYS, _format_errors, _in_order, _inner_model, _model_at, _ssh_key_given, load_spec,
)


def test_secret_and_list_keys_are_pulumi_yamls():
    assert SECRET_KEYS == {"fleetform:sshPrivateKey"}
    assert LIST_KEYS == {"fleetform:clusters", "fleetform:services", "fleetform:traffic"}


@pytest.mark.parametrize("raw,given", [({}, False), ({"sshPrivateKey": None}, False), ({"sshPrivateKey": ""}, False),
                                       ({"sshPrivateKey": " \n"}, False), ({"sshPrivateKey": "k"}, True),
                                       ({"sshPrivateKey": {"secure": "v1:x"}}, True)])
def test_ssh_key_given(raw, given):
    assert _ssh_key_given(raw) is given


def test_in_order_sorts_lines_by_key_path():
    lines = ["fleetform:namespace: got x", "fleetform:services[10].a: x", "fleetform:services[2].b: x",
             "fleetform:services[2].a: x", "fleetform:clusters[1]: x", "fleetform:clusters: x", "fleetform:regions: unknown key",
             "fleetform:traffic[0].x: y", "fleetform:sshPrivateKey: got", "fleetform:extends: got", "free text"]
    assert _in_order(lines) == [
        "fleetform:regions: unknown key", "free text", "fleetform:clusters: x", "fleetform:clusters[1]: x",
        "fleetform:services[2].b: x", "fleetform:services[2].a: x", "fleetform:services[10].a: x",
        "fleetform:traffic[0].x: y", "fleetform:namespace: got x", "fleetform:sshPrivateKey: got", "fleetform:extends: got"]


def test_model_at_finds_the_model_a_location_points_into():
    assert _model_at(()) is FleetSpec
    assert _model_at(("clusters",)) is ClusterSpec
    assert _model_at(("clusters", 0)) is ClusterSpec
    assert _model_at(("clusters", 0, "nodePools", 1)) is NodePoolSpec
    assert _model_at(("clusters", 0, "nodePools", 1, "name")) is None   # a str
    assert _model_at(("clusters", 0, "nodepools")) is None              # no such key
    assert _model_at(("namespace", "x")) is None                        # below a str
    assert _model_at(("clusters", 0, "node_pools")) is None             # the alias is what config names
    assert _inner_model(int) is None and _inner_model(Optional[list[NodePoolSpec]]) is NodePoolSpec


def _err(etype, loc, ctx=None, inp="IN", msg="pydantic says"):
    return {"type": etype, "loc": loc, "ctx": ctx, "input": inp, "msg": msg}


@pytest.mark.parametrize("err,line", [
    (_err("int_type", ("a",)), 'fleetform:a: got "IN"; allowed: a whole number'),
    (_err("int_parsing", ("a",)), 'fleetform:a: got "IN"; allowed: a whole number'),
    (_err("int_from_float", ("a",), inp=2.5), "fleetform:a: got 2.5; allowed: a whole number"),
    (_err("bool_type", ("a",)), 'fleetform:a: got "IN"; allowed: true or false'),
    (_err("bool_parsing", ("a",)), 'fleetform:a: got "IN"; allowed: true or false'),
    (_err("string_type", ("a",), inp=3), "fleetform:a: got 3; allowed: a string"),
    (_err("list_type", ("a",)), 'fleetform:a: got "IN"; allowed: a list'),
    (_err("dict_type", ("a",)), 'fleetform:a: got "IN"; allowed: a mapping of key: value'),
    (_err("model_type", ("a",)), 'fleetform:a: got "IN"; allowed: a mapping of key: value'),
    (_err("model_attributes_type", ("a",)), 'fleetform:a: got "IN"; allowed: a mapping of key: value'),
    (_err("ip_v4_network", ("a",)), 'fleetform:a: got "IN"; allowed: an IPv4 CIDR such as 10.0.0.0/16'),
    (_err("ip_v4_address", ("a",)), 'fleetform:a: got "IN"; allowed: an IPv4 address such as 192.0.2.10'),
    (_err("finite_number", ("a",)), 'fleetform:a: got "IN"; allowed: a finite number'),
    (_err("something_new", ("a",)), 'fleetform:a: got "IN"; allowed: pydantic says'),
    (_err("missing", ("clusters", 0, "name")), "fleetform:clusters[0].name: missing; required"),
    (_err("extra_forbidden", ("clusters", 0, "nodePools", 0, "x")),
     "fleetform:clusters[0].nodePools[0].x: unknown key; allowed keys: diskGb, labels, max, min, name, size, spot, taints"),
    (_err("extra_forbidden", ("namespace", "x")), "fleetform:namespace.x: unknown key; allowed keys: "),
    (_err("literal_error", ("t",), {"expected": "'a', 'b' or 'c'"}), 'fleetform:t: got "IN"; allowed: one of a, b, c'),
    (_err("literal_error", ("t",), {}), 'fleetform:t: got "IN"; allowed: one of '),
    (_err("greater_than_equal", ("n",), {"ge": 2}, 1), "fleetform:n: got 1; allowed: a whole number >= 2"),
    (_err("less_than_equal", ("n",), {"le": 6}, 7), "fleetform:n: got 7; allowed: a whole number <= 6"),
    (_err("greater_than", ("n",), {"gt": 0}, 0), "fleetform:n: got 0; allowed: a whole number > 0"),
    (_err("less_than", ("n",), {"lt": 9}, 9), "fleetform:n: got 9; allowed: a whole number < 9"),
    (_err("too_short", ("l",), {"min_length": 1}, []), "fleetform:l: got []; allowed: at least 1 item(s)"),
    (_err("string_too_short", ("s",), {"min_length": 2}, "a"), 'fleetform:s: got "a"; allowed: at least 2 character(s)'),
    (_err("too_long", ("l",), {"max_length": 3}, [1]), "fleetform:l: got [1]; allowed: at most 3 item(s)"),
    (_err("string_too_long", ("s",), {"max_length": 4}, "a"), 'fleetform:s: got "a"; allowed: at most 4 character(s)'),
    # Never a secret's value, nor an env value of the wrong type (it may be a credential):
    (_err("string_type", ("sshPrivateKey",), inp={"v": "PLANTED"}), "fleetform:sshPrivateKey: got (not shown); allowed: a string"),
    (_err("string_type", ("sshPrivateKey",), inp=None), "fleetform:sshPrivateKey: got null; allowed: a string"),
    (_err("string_type", ("services", 0, "env", "PW"), inp=["PLANTED"]),
     "fleetform:services[0].env.PW: got (not shown); allowed: a string"),
    (_err("string_type", ("services", 0, "env"), inp=["x"]), 'fleetform:services[0].env: got ["x"]; allowed: a string'),
    (_err("string_type", ("services", 0, "envy", "PW"), inp="x"), 'fleetform:services[0].envy.PW: got "x"; allowed: a string'),
    # fleetform's own problems: the key below, the entry of a mapping, hidden or shown values
    (_err("fleetform", ("clusters", 0), {"allowed": "A", "key": "nodePools[1].min", "got": 5}),
     "fleetform:clusters[0].nodePools[1].min: got 5; allowed: A"),
    (_err("fleetform", ("clusters", 0, "tags"), {"allowed": "A", "entry": "a b", "got": "v"}),
     'fleetform:clusters[0].tags["a b"]: got "v"; allowed: A'),
    (_err("fleetform", ("clusters", 0), {"allowed": "A", "key": "tags", "entry": "k", "got": "v"}),
     'fleetform:clusters[0].tags.k: got "v"; allowed: A'),
    (_err("fleetform", ("x",), {"allowed": "A", "hide": True}, "PLANTED"), "fleetform:x: got (not shown); allowed: A"),
    (_err("fleetform", ("x",), {"allowed": "A", "hide": False}, "v"), 'fleetform:x: got "v"; allowed: A'),
    (_err("fleetform", ("x",), {"allowed": "A", "shown": "2 masters"}, "v"), "fleetform:x: got 2 masters; allowed: A"),
    (_err("fleetform", ("services", 0, "env"), {"allowed": "A"}, "v"), 'fleetform:services[0].env: got "v"; allowed: A'),
])
def test_format_errors_one_line_per_error(err, line):
    assert _format_errors([err]) == [line]


def test_format_errors_prefix_more_and_first_line_per_location():
    more = {"allowed": "A", "key": "a", "got": 1, "more": [("b.c[1]", 2, "B"), (("tags", "x y"), 3, "C")]}
    assert _format_errors([_err("fleetform", ("x",), more)], prefix=("clusters", 2)) == [
        "fleetform:clusters[2].x.a: got 1; allowed: A",
        "fleetform:clusters[2].x.b.c[1]: got 2; allowed: B",
        'fleetform:clusters[2].x.tags["x y"]: got 3; allowed: C']
    # pydantic reports a union per branch: the first line for a location stays, others go.
    assert _format_errors([_err("int_type", ("a",)), _err("string_type", ("a",)), _err("int_type", ("ab",))]) == [
        'fleetform:a: got "IN"; allowed: a whole number', 'fleetform:ab: got "IN"; allowed: a whole number']
    # "more" belongs to fleetform's own problems only
    assert _format_errors([_err("int_type", ("a",), {"more": [("b", 1, "B")]})]) == ['fleetform:a: got "IN"; allowed: a whole number']
    # another root model names its keys
    assert _format_errors([_err("extra_forbidden", ("z",))], root=NodePoolSpec) == [
        "fleetform:z: unknown key; allowed keys: diskGb, labels, max, min, name, size, spot, taints"]


def test_load_spec_reads_keys_as_the_engine_and_the_stack_file_give_them():
    ex = {"name": "a", "target": "existing"}
    assert load_spec({"clusters": [ex]}).clusters[0].name == "a"               # no namespace: fleetform's
    assert load_spec({"fleetform:clusters": json.dumps([ex]), "aws:region": "x", "other:clusters": 5,
                      "fleetform:release": None}).clusters[0].name == "a"
    for config, lines in [
        ({}, ["fleetform:clusters: missing; allowed: a list of at least one cluster"]),
        ({"fleetform:x": 1}, ["fleetform:x: unknown key; allowed keys: clusters, extends, kubernetesVersion, namespace, "
                              "release, services, sshPrivateKey, traffic"]),
        ({"fleetform:clusters": [ex], "fleetform:release": "{"}, ['fleetform:release: got "{"; allowed: a mapping']),
        ({"fleetform:clusters": [ex], "fleetform:traffic": "["}, ['fleetform:traffic: got "["; allowed: a list of mappings']),
        ({"fleetform:clusters": [ex], "fleetform:services": "["}, ['fleetform:services: got "["; allowed: a list of mappings']),
        ({"fleetform:clusters": [ex], "fleetform:namespace": "["}, ['fleetform:namespace: got "["; allowed: a DNS-1123 '
                                                                    "label: lower-case letters, digits and '-', starting "
                                                                    "and ending with a letter or digit, at most 63 characters"]),
        ({"fleetform:clusters": "[", "fleetform:services": [{"name": "web"}, 3]},
         ['fleetform:clusters: got "["; allowed: a list of mappings']),
        ({"fleetform:clusters": [ex, {"name": "b"}], "fleetform:services": [{"name": "web", "clusters": ["zz"]}],
          "fleetform:namespace": "default"},
         # every problem in one run: the entries' own, the checks across them on what could be read
         # (the cluster names), the rest of the namespace; sorted by key path
         ["fleetform:clusters[1].target: missing; required",
          "fleetform:services[0].image: missing; required",
          "fleetform:services[0].port: missing; required",
          "fleetform:services[0].clusters[0]: got \"zz\"; allowed: a cluster of this stack: a, b",
          "fleetform:namespace: got \"default\"; allowed: a namespace of fleetform's own, not default or a kube-* "
          "system namespace"]),
    ]:
        with pytest.raises(FleetConfigError) as info:
            load_spec(config)
        assert info.value.problems == lines, config


def test_image_of_and_drained_follow_the_release():
    """docs/configuration.md "Release": the clusters listed run the release's images, the others the
    services' own (drained() holds release.drained only; none here)."""
    from fleetform.config import load_spec

    new = "registry.example.com/acme/web:2.0.0"
    fleet = load_spec({"fleetform:clusters": [{"name": "a", "target": "existing"}, {"name": "b", "target": "existing"}],
                       "fleetform:services": [_service("web"), _service("api", servicePort=8080)],
                       "fleetform:release": {"images": {"web": new}, "clusters": ["a"]}})
    a, b = fleet.clusters
    web, api = fleet.services
    assert [fleet.image_of(web, a), fleet.image_of(web, b)] == [new, web.image]
    assert [fleet.image_of(api, a), fleet.image_of(api, b)] == [api.image, api.image]
    assert fleet.drained() == frozenset()


def test_number_and_boolean_keys_of_one_mapping_stay_apart(tmp_path):
    """Pulumi formats every mapping key as its text, so `{1: a, true: b}` holds two keys, "1" and
    "true" (docs/configuration.md "How stack files are read": number keys become text). In a Python
    dict True == 1 and False == 0: read naively, the boolean key's value replaced the number's and
    the "true" key was lost (a bug found while pinning stackfile.py, fixed in its loader)."""
    assert _read_value(tmp_path, "{1: a, true: b}") == {"1": "a", "true": "b"}
    assert _read_value(tmp_path, "{false: a, 0: b, 2: c}") == {"false": "a", "0": "b", "2": "c"}
    assert _read_value(tmp_path, "[{<<: {1: a}, true: b}]") == [{"1": "a", "true": "b"}]


def test_version_problems_name_every_cluster_and_where_its_minor_comes_from():
    """docs/targets.md "Kubernetes versions" (the table fleetform_policies/kubernetes_versions.json):
    a cluster's minor must be one its target offers a new cluster; the fleet default is named as such,
    per cluster; every cluster is checked (docs/configuration.md: every problem in one run)."""
    from fleetform.config import load_spec
    from fleetform_policies.versions import TARGETS, described

    config = {"fleetform:kubernetesVersion": "1.33",
              "fleetform:clusters": [{"name": "x", "target": "existing"},
                                     _cluster("ok", "aws", kubernetesVersion="1.36"),
                                     _cluster("eu", "azure"),
                                     _cluster("us", "aws", kubernetesVersion="1.37"),
                                     _cluster("g", "gcp")]}
    with pytest.raises(FleetConfigError) as info:
        load_spec(config)
    assert info.value.problems == [
        f'fleetform:clusters[3].kubernetesVersion: got "1.37"; allowed: a minor {TARGETS["eks"]["name"]} offers: '
        f"{described('eks')}",
        f'fleetform:kubernetesVersion: got "1.33"; allowed: a minor {TARGETS["aks"]["name"]} offers (the default, '
        f"for cluster eu): {described('aks')}",
        f'fleetform:kubernetesVersion: got "1.33"; allowed: a minor {TARGETS["gke"]["name"]} offers (the default, '
        f"for cluster g): {described('gke')}",
    ]


def test_drained_is_the_releases_drained_clusters():
    """docs/configuration.md "Release": release.drained are the clusters the weighted fleetform:traffic
    entries route nothing to while a rollout updates them."""
    from fleetform.config import load_spec

    fleet = load_spec({
        "fleetform:clusters": [_cluster("a", "aws"), _cluster("b", "aws", region="us-west-2")],
        "fleetform:services": [_service("web")],
        "fleetform:traffic": [{"service": "web", "hostname": "shop.example.com",
                               "dns": {"provider": "route53", "zone": "example.com"}, "policy": "weighted",
                               "clusters": [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}]}],
        "fleetform:release": {"drained": ["b"]}})
    assert fleet.drained() == frozenset({"b"})


def test_the_onprem_example_validates_and_needs_its_ssh_key():
    """stacks/Pulumi.onprem.yaml is a valid onprem stack; without fleetform:sshPrivateKey the one line
    names its onprem clusters (docs/configuration.md: an onprem cluster needs fleetform:sshPrivateKey)."""
    from fleetform.config import load_spec
    from tests.conftest import stack_config

    config = stack_config("onprem")
    names = [c.name for c in load_spec(config).clusters if c.target == "onprem"]
    assert names
    with pytest.raises(FleetConfigError) as info:
        load_spec({k: v for k, v in config.items() if k != "fleetform:sshPrivateKey"})
    assert info.value.problems == [
        f"fleetform:sshPrivateKey: got null; allowed: an SSH private key for the hosts of {', '.join(names)}, set as a "
        "secret (pulumi config set --secret fleetform:sshPrivateKey < key)"]


def test_a_base_is_refused_for_any_key_of_the_fleetform_namespace(tmp_path):
    """The base must be a valid stack on its own (docs/configuration.md, extends): its fleetform:
    keys are every key whose namespace, the part before the first ':' (Pulumi's <namespace>:<name>),
    is fleetform; one with a ':' in its name is an unknown key of the base, not a key of another
    namespace."""
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  fleetform:clusters: [{name: c, target: existing}]\n"
                                               "  fleetform:x:y: 1\n")
    with pytest.raises(FleetConfigError) as info:
        resolve_extends({"fleetform:extends": "prod"}, tmp_path)
    assert info.value.problems == [
        f"fleetform:extends: base stack prod ({tmp_path / 'Pulumi.prod.yaml'}): fleetform:x:y: unknown key; allowed "
        "keys: clusters, extends, kubernetesVersion, namespace, release, services, sshPrivateKey, traffic"]
