"""Reading stack files and ``fleetform:extends``, pinned where the mutation run of ``errors``,
``extends`` and ``stackfile`` (staging folder mutants-config-a, 2026-12-03) found gaps (issue 17).

The contract: docs/configuration.md "Sharing services between stacks (extends)" (the base is named by
its stack name in the same folder or a relative path to its file; an unknown name lists the
folder's stacks, ``local, prod-aws, ...``; secrets and other namespaces are not inherited) and "How
stack files are read" (as Pulumi's Go YAML reader, gopkg.in/yaml.v3, reads them: ``0755`` octal;
aliases may not expand past 100,000 values; what Pulumi refuses is one line); stackfile's module
docstring (``_MAX_VALUES``: what a stack file's config may expand to, counted for the whole file).
Integers as Go's ``strconv.ParseInt(text, 0, 64)`` reads them (https://pkg.go.dev/strconv#ParseInt).
A stack file is UTF-8 text (Pulumi reads its bytes as UTF-8, and the refusal says "not UTF-8
text"), whatever the locale of the machine that reads it. Where fleetform reports a YAML problem
that PyYAML itself finds, the line is PyYAML's own wording with the line and column of the node.
Each function is called directly: no stack is planned.
"""

from __future__ import annotations

import locale
from pathlib import Path

import pytest
import yaml

from fleetform.config import FleetConfigError
from fleetform.config.extends import _locate, resolve_extends, stack_config_dir
from fleetform.config.stackfile import read_stack_file

ALLOWED = "allowed: a stack name in the same folder (such as prod-aws) or a relative path to a Pulumi.<name>.yaml"


def _stack(path: Path, body: str) -> Path:
    path.write_text("config:\n" + body, encoding="utf-8")
    return path


def _refusal(path: Path) -> list[str]:
    with pytest.raises(FleetConfigError) as info:
        read_stack_file(path)
    return info.value.problems


# --- fleetform:extends: where the base is ------------------------------------------------------

@pytest.mark.parametrize("given", ["Pulumi.base.yml", "base.yml"])
def test_a_base_named_by_its_yml_file_in_the_same_folder(tmp_path, given):
    """A relative path to the base's file, here in the same folder (no "/"): a name ending in
    .yml is a file name, as one ending in .yaml is (Pulumi reads .yml stack files too), not a stack
    name to look up as Pulumi.<name>.yaml."""
    (tmp_path / given).write_text("config: {}\n")
    assert _locate(given, tmp_path) == tmp_path / given


@pytest.mark.parametrize("sep", ["/", "\\"])
def test_a_base_named_by_a_path_without_an_extension(tmp_path, monkeypatch, sep):
    """A "/" makes the text a path on every system, and so does the system's own separator
    (Windows' backslash): `shared/base` is the file shared/base, not a stack name."""
    import os

    monkeypatch.setattr(os, "sep", sep)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "base").write_text("config: {}\n")
    assert _locate("shared/base", tmp_path) == tmp_path / "shared" / "base"
    if sep != "/":  # a path by its backslash alone: looked for as a file, not refused as a name
        with pytest.raises(FleetConfigError, match="but there is no"):
            _locate("x\\y", tmp_path)


def test_an_unknown_base_lists_the_stacks_of_the_folder_comma_separated(tmp_path):
    """docs/configuration.md's example line ends "(stacks in /src/fleet/stacks: local, prod-aws, ...)":
    the folder's stack names, sorted, ", " between them (Pulumi.yaml is the project, no stack)."""
    for name in ("Pulumi.prod.yaml", "Pulumi.dev.yaml", "Pulumi.yaml"):
        (tmp_path / name).write_text("config: {}\n")
    with pytest.raises(FleetConfigError) as info:
        _locate("qa", tmp_path)
    assert info.value.problems == [f'fleetform:extends: got "qa", but there is no {tmp_path / "Pulumi.qa.yaml"}; '
                                   f"{ALLOWED} (stacks in {tmp_path}: dev, prod)"]


def test_secrets_of_other_namespaces_in_the_base_are_no_problem(tmp_path):
    """Neither the base's secrets nor its keys of other namespaces are inherited: a base holding an
    encrypted aws: or myapp: key (common: cloud credentials) gives its fleetform keys only."""
    _stack(tmp_path / "Pulumi.prod.yaml",
           "  aws:secretKey:\n    secure: v1:abc\n  fleetform:namespace: shop\n"
           "  myapp:token:\n    secure: v1:def\n  fleetform:clusters: [{name: c, target: existing}]\n"
           "  fleetform:sshPrivateKey:\n    secure: v1:ghi\n")
    assert resolve_extends({"fleetform:extends": "prod", "aws:region": "eu-west-1"}, tmp_path) == {
        "aws:region": "eu-west-1", "fleetform:namespace": "shop",
        "fleetform:clusters": [{"name": "c", "target": "existing"}]}


# --- Stack files are UTF-8, whatever the locale --------------------------------------------------

@pytest.fixture
def ascii_locale():
    """The C locale's character set (ASCII) for the test: a stand-in for any machine whose locale is
    not UTF-8 (Windows' cp1252, a Latin-1 locale)."""
    before = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, "C")
    except locale.Error:
        pytest.skip("the C locale cannot be set here")
    try:
        if locale.getpreferredencoding(False).lower().replace("-", "") == "utf8":
            pytest.skip("Python's UTF-8 mode: the locale's character set is not used")
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, before)


def test_a_stack_file_is_read_as_utf8_under_any_locale(tmp_path, ascii_locale):
    path = _stack(tmp_path / "Pulumi.s.yaml", "  myapp:greeting: grüezi café\n")
    assert read_stack_file(path) == ({"myapp:greeting": "grüezi café"}, ())


def test_pulumi_yaml_is_read_as_utf8_under_any_locale(tmp_path, ascii_locale):
    """A Pulumi.yaml with a non-ASCII description still names its stackConfigDir."""
    (tmp_path / "Pulumi.yaml").write_text("name: shop\ndescription: Läden\nstackConfigDir: stacks\n", encoding="utf-8")
    assert stack_config_dir(tmp_path) == tmp_path / "stacks"


# --- Aliases: at most 100,000 values for the whole file -----------------------------------------

def _levels() -> str:
    """Four anchored mappings, each of ten entries that are the level below: level n expands to
    1 + 10 * (level n-1) values, 11, 111, 1,111 and 11,111; 12,344 values in all."""
    lines = ["  myapp:l1: &l1 {" + ", ".join(f"k{i}: 1" for i in range(10)) + "}"]
    for n in (2, 3, 4):
        lines.append(f"  myapp:l{n}: &l{n} {{" + ", ".join(f"k{i}: *l{n - 1}" for i in range(10)) + "}")
    return "\n".join(lines) + "\n"


def test_one_value_built_of_nested_mappings_counts_every_level(tmp_path):
    """A mapping of ten level-4 mappings is 111,111 values once its aliases are expanded (each level-4
    one under 100,000 on its own): refused, the values inside nested mappings count."""
    path = _stack(tmp_path / "Pulumi.s.yaml",
                  _levels() + "  myapp:bomb: {" + ", ".join(f"k{i}: *l4" for i in range(10)) + "}\n")
    problems = _refusal(path)
    assert len(problems) == 1 and problems[0].startswith("myapp:bomb: expands to more than 100,000 values")


@pytest.mark.parametrize("keys, refused", [(7, False), (8, True)])
def test_the_alias_budget_is_for_the_whole_file(tmp_path, keys, refused):
    """Keys each under the limit, the file over it: 12,344 values of the levels plus 11,111 per key
    that is a level-4 alias, 90,121 with seven keys (read), 101,232 with eight (refused)."""
    path = _stack(tmp_path / "Pulumi.s.yaml", _levels() + "".join(f"  myapp:k{i}: *l4\n" for i in range(keys)))
    if not refused:
        config, _ = read_stack_file(path)
        assert len(config) == 4 + keys
        return
    problems = _refusal(path)
    assert len(problems) == 1 and problems[0].startswith("myapp:k7: expands to more than 100,000 values")


# --- YAML problems PyYAML finds: its wording, the node's line and column ------------------------

def _pyyaml_says(text: str) -> str:
    """How PyYAML's own safe loader words the problem with ``text``, with 1-based line and column."""
    with pytest.raises(yaml.MarkedYAMLError) as info:
        yaml.safe_load(text)
    exc, mark = info.value, info.value.problem_mark
    assert mark is not None
    head = f"{exc.context}: {exc.problem}" if exc.context else exc.problem
    return f"{head} (line {mark.line + 1}, column {mark.column + 1})"


@pytest.mark.parametrize("body, where", [
    ("  myapp:m: {? [1]: a}\n", "line 2, column 15"),          # the key [1]
    ("  myapp:m:\n    ok: 1\n    ? {a: 1}\n    : b\n", "line 4, column 7"),
])
def test_a_key_that_is_a_list_or_mapping_is_one_line_at_the_key(tmp_path, body, where):
    """Pulumi config keys are text: a list or mapping as a key is refused, worded as PyYAML words
    it ("while constructing a mapping: found unhashable key"), at the key's line and column."""
    path = _stack(tmp_path / "Pulumi.s.yaml", body)
    line = f"while constructing a mapping: found unhashable key ({where})"
    assert _pyyaml_says(path.read_text()) == line
    assert _refusal(path) == [f"{path}: not valid YAML: {line}"]


@pytest.mark.parametrize("tag", ["!!map", "!!set"])
def test_a_mapping_tag_on_a_list_is_one_line(tmp_path, tag):
    """``!!map [1, 2]``: PyYAML's own refusal ("expected a mapping node, but found sequence") at the
    tagged node, not a traceback."""
    path = _stack(tmp_path / "Pulumi.s.yaml", f"  myapp:v: {tag} [1, 2]\n")
    line = "expected a mapping node, but found sequence (line 2, column 12)"
    assert _pyyaml_says(path.read_text()) == line
    assert _refusal(path) == [f"{path}: not valid YAML: {line}"]


# --- Integers as strconv.ParseInt(text, 0, 64) ---------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("01234567", 0o1234567), ("-01234567", -0o1234567), ("001234567", 0o1234567), ("076543210", 0o76543210),
])
def test_a_leading_zero_with_every_octal_digit_is_octal(tmp_path, text, value):
    """Base 0 reads a leading "0" as octal: 01234567 uses each of the eight octal digits (342,391)."""
    path = _stack(tmp_path / "Pulumi.s.yaml", f"  myapp:v: {text}\n")
    got = read_stack_file(path)[0]["myapp:v"]
    assert got == value and type(got) is int


# --- Numbers as gopkg.in/yaml.v3 resolves them (found by this file's review of the reader) --------
# resolve.go (https://github.com/go-yaml/yaml/blob/v3.0.1/resolve.go, "case 'D', 'S'"): a plain
# scalar starting with a digit or a sign has every "_" removed, then strconv.ParseInt(plain, 0, 64)
# (a sign, then the prefix in either case: 0b, 0o, 0x, or 0 for octal), then ParseUint (no sign,
# up to 2^64-1), then ParseFloat if it has YAML 1.2's float form (a float out of range is an error
# there: the text stays text), then "0b"/"-0b" and "0o"/"-0o" with ParseInt(rest, 2 or 8) (which
# takes its own sign). Anything else is text.

@pytest.mark.parametrize("text, value", [
    ("1_000", 1000), ("1_", 1), ("1__0", 10), ("0x_1F", 31), ("1_000.5", 1000.5), ("-1_0", -10),
    ("0X1F", 31), ("+0x1F", 31), ("-0x1F", -31), ("0O17", 15), ("-0o17", -15), ("0B101", 5), ("-0b101", -5),
    ("9223372036854775807", 2**63 - 1), ("-9223372036854775808", -2**63),
    ("18446744073709551615", 2**64 - 1),                      # ParseUint's range
    ("18446744073709551616", 1.8446744073709552e19),          # past it: a float
    ("-9223372036854775809", -9.223372036854775809e18),       # below ParseInt's: a float
    ("+18446744073709551615", 1.8446744073709552e19),         # ParseUint takes no sign: a float
    ("0b+1", 1), ("0o-7", -7),                                # the prefix fallbacks' ParseInt sign
    ("0b+10", 2), ("0b+" + "1" * 63, 2**63 - 1),              # ... in base 2, up to int64's top
    ("+0B101", 5), ("+0o17", 15),                             # base 0: a sign, then the prefix
    ("0b" + "1" * 64, 2**64 - 1), ("0O1" + "7" * 21, 2**64 - 1), ("01" + "7" * 21, 2**64 - 1),  # ParseUint, base 0
    ("0bX1", "0bX1"),                                         # no digits of the base after the prefix
    ("_1", "_1"), ("1e400", "1e400"), ("0x1FFFFFFFFFFFFFFFFF", "0x1FFFFFFFFFFFFFFFFF"),
    ("0b0b1", "0b0b1"), ("0x", "0x"), (".5_0", ".5_0"), ("1_000e", "1_000e"),
])
def test_numbers_are_read_as_yaml_v3_resolves_them(tmp_path, text, value):
    path = _stack(tmp_path / "Pulumi.s.yaml", f"  myapp:v: {text}\n  myapp:l: [{text}]\n")
    config = read_stack_file(path)[0]
    for got in (config["myapp:v"], config["myapp:l"][0]):
        assert got == value and type(got) is type(value), (text, got)


@pytest.mark.parametrize("error", [ValueError, TypeError, KeyError, AttributeError, OverflowError])
def test_an_error_past_the_constructors_own_wrapping_is_still_one_line(tmp_path, monkeypatch, error):
    """The reader's last net: construct_object turns these into a YAML error with a position; one
    raised anywhere else while the document is built is still one line naming the file."""
    from fleetform.config import stackfile

    def broken(self, node):
        raise error("x")

    monkeypatch.setattr(stackfile._YAML_LOADER, "construct_document", broken)
    path = _stack(tmp_path / "Pulumi.s.yaml", "  myapp:v: 1\n")
    assert _refusal(path) == [f"{path}: not valid YAML: a value its tag cannot hold ({error.__name__})"]


def test_a_quoted_number_is_text(tmp_path):
    """Only plain scalars are resolved (resolve.go: a quoted scalar is !!str)."""
    path = _stack(tmp_path / "Pulumi.s.yaml", "  myapp:a: \"12\"\n  myapp:b: '0x1F'\n  myapp:c: 12\n")
    assert read_stack_file(path)[0] == {"myapp:a": "12", "myapp:b": "0x1F", "myapp:c": 12}


def test_a_number_key_is_the_text_of_the_number_pulumi_reads(tmp_path):
    """Pulumi formats every key as text: `{1_0: a, 0x1F: b}` holds the keys "10" and "31"."""
    path = _stack(tmp_path / "Pulumi.s.yaml", "  myapp:m: {1_0: a, 0x1F: b}\n")
    assert read_stack_file(path)[0]["myapp:m"] == {"10": "a", "31": "b"}


@pytest.mark.parametrize("text, tag", [
    ("!!int abc", "!!int"), ("!!int 1.5", "!!int"), ("!!float abc", "!!float"), ("!!bool abc", "!!bool"),
    ("!!timestamp abc", "!!timestamp"), ("!!int 0x", "!!int"),
])
def test_a_tagged_value_its_tag_cannot_hold_is_one_line(tmp_path, text, tag):
    """yaml.v3 refuses it ("cannot decode !!str `abc` as a !!int", resolve.go's failf), so Pulumi
    refuses the file: one "not valid YAML" line at the value's line and column, never a traceback."""
    path = _stack(tmp_path / "Pulumi.s.yaml", f"  myapp:ok: 1\n  myapp:v: {text}\n")
    value = text.split(" ", 1)[1]
    assert _refusal(path) == [f"{path}: not valid YAML: cannot read {value!r} as {tag} (line 3, column 12)"]


@pytest.mark.parametrize("text, value", [("!!float 1", 1.0), ("!!float 0x10", 16.0), ("!!int 1_0", 10), ("!!str 12", "12")])
def test_a_tagged_value_its_tag_can_hold_is_read(tmp_path, text, value):
    """An integer tagged !!float is a float in yaml.v3 too (resolve.go's deferred check); !!str keeps text."""
    path = _stack(tmp_path / "Pulumi.s.yaml", f"  myapp:v: {text}\n")
    got = read_stack_file(path)[0]["myapp:v"]
    assert got == value and type(got) is type(value)
