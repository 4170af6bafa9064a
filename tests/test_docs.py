"""The documentation says what the code does: every config key and policy rule is documented,
links lead somewhere, and the examples in docs/ run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.conftest import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
README_MAX_CHARS = 12_500
PAGES = [README, *sorted(DOCS.glob("*.md"))]

_FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FILE_BLOCK = re.compile(r"^```python\n# file: (?P<name>[\w.]+)\n(?P<code>.*?)^```[ \t]*$", re.S | re.M)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# ------------------------------------------------------------------ (a) every config key documented


def _models(annotation: typing.Any, in_list: bool = False) -> Iterator[tuple[bool, type[BaseModel]]]:
    """The models inside a field's annotation (through Optional, Annotated, list, ...), each with
    whether it sits in a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield in_list, annotation
        return
    listy = typing.get_origin(annotation) in (list, tuple, set, frozenset)
    for arg in typing.get_args(annotation):
        yield from _models(arg, in_list or listy)


def _config_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every key path a user can write, as docs/configuration.md spells it: ``fleetform:clusters``
    at the top, ``clusters[].nodePools[].min`` below (field aliases, camelCase)."""
    for name, field in model.model_fields.items():
        alias = field.alias or name
        path = f"{prefix}.{alias}" if prefix else alias
        yield path if prefix else f"fleetform:{alias}"
        for in_list, sub in _models(field.annotation):
            yield from _config_keys(sub, path + ("[]" if in_list else ""))


def test_config_key_walk_reaches_nested_models():
    from fleetform.config import FleetSpec

    keys = set(_config_keys(FleetSpec))
    assert {"fleetform:clusters", "fleetform:sshPrivateKey", "clusters[].nodePools[].taints[].effect",
            "clusters[].controlPlane.apiAllowedCidrs", "clusters[].hosts[].hostKey",
            "services[].egress[].ports", "services[].resources.memoryLimit"} <= keys


def test_every_config_key_is_in_the_configuration_reference():
    from fleetform.config import FleetSpec

    doc = _text(DOCS / "configuration.md")
    missing = [key for key in _config_keys(FleetSpec) if f"`{key}`" not in doc]
    assert not missing, f"docs/configuration.md lacks these keys (add a table row for each): {missing}"


def test_configuration_reference_lists_no_key_that_does_not_exist():
    from fleetform.config import FleetSpec

    keys = set(_config_keys(FleetSpec))
    rows = re.findall(r"^\| `((?:fleetform:|clusters\[\]|services\[\])[^`]*)` \|", _text(DOCS / "configuration.md"), re.M)
    assert rows and not [row for row in rows if row not in keys]


# ------------------------------------------------------------------ (b) every policy rule documented


def _rule_row(rule) -> str:
    settings = "; ".join(
        f"`{name}` ({schema['type']}, default `{json.dumps(schema['default'])}`): {schema['description']}"
        for name, schema in rule.config.items()
    ) or "—"
    return f"| `{rule.name}` | {rule.description} | {rule.severity} | {rule.enforcement} | {rule.source} | {settings} |"


def test_every_policy_rule_is_in_the_policies_page():
    from fleetform_policies.rules import RULES

    doc = _text(DOCS / "policies.md")
    assert not [r.name for r in RULES if r.name not in doc]
    lines = set(doc.splitlines())
    stale = [_rule_row(r) for r in RULES if _rule_row(r) not in lines]
    assert not stale, "docs/policies.md: rows differ from the rules' data; the rows should read:\n" + "\n".join(stale)


def test_policies_page_lists_no_rule_that_does_not_exist():
    from fleetform_policies.rules import RULES

    names = {r.name for r in RULES}
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", _text(DOCS / "policies.md"), re.M)
    assert documented == [r.name for r in RULES] and set(documented) == names


@pytest.mark.parametrize("page", ["policies.md", "plan.md"])
def test_policy_config_examples_are_accepted(page):
    from fleetform_policies.rules import config_problems

    examples = re.findall(r"^```json\n(.*?)^```", _text(DOCS / page), re.S | re.M)
    assert examples
    for example in examples:
        assert config_problems(json.loads(example)) == [], example


# ------------------------------------------------------------------ (c) README size, links


def test_readme_is_a_landing_page():
    text = _text(README)
    assert len(text) <= README_MAX_CHARS, f"README.md has {len(text)} characters; move detail into docs/"
    assert "make test" in text and "make plan" in text  # CI runs "the README's test command"
    assert "v3.186.0" in text


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' dropped,
    spaces as '-'."""
    text = _INLINE_CODE.sub(lambda m: m.group()[1:-1], heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _FENCE.sub("", _text(path)).splitlines():
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if m:
            slug = _slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _relative_links(path: Path) -> list[str]:
    text = _INLINE_CODE.sub("", _FENCE.sub("", _text(path)))
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_lead_somewhere(page):
    broken = []
    for target in _relative_links(page):
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_every_example_stack_is_pointed_at():
    linked = {(page.parent / t.partition("#")[0]).resolve() for page in PAGES for t in _relative_links(page)}
    stacks = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert stacks and not [p.name for p in stacks if p.resolve() not in linked]


def test_project_file_comment_points_at_a_readme_section():
    comment = next(line for line in _text(ROOT / "Pulumi.yaml").splitlines() if "README" in line)
    section = re.search(r'README\.md, section "([^"]+)"', comment)
    assert section, comment
    assert _slug(section.group(1)) in _anchors(README)


# ------------------------------------------------------------------ (d) the examples run


def _file_blocks(path: Path) -> dict[str, str]:
    """The ```python blocks of a page whose first line is ``# file: <name>``, by name."""
    return {m["name"]: m["code"] for m in _FILE_BLOCK.finditer(_text(path))}


def test_testing_page_example_passes(tmp_path):
    blocks = _file_blocks(DOCS / "testing.md")
    assert any(name.startswith("test_") for name in blocks), sorted(blocks)
    for name, code in blocks.items():
        (tmp_path / name).write_text(code)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "components"), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"\b[1-9][0-9]* passed\b", proc.stdout) and "failed" not in proc.stdout, proc.stdout[-2000:]


def test_library_page_program_plans_clean(monkeypatch, tmp_path):
    from fleetform.testing import plan

    code = _file_blocks(DOCS / "library.md")["__main__.py"]
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))

    def program():
        exec(compile(code, "__main__.py", "exec"), {"__name__": "__main__"})

    result = plan(program, stack="dev", project="shop")
    assert result.exit_code == 0, result.problems()
    assert sorted(m.name for m in result.manifests if m.kind == "Deployment") == ["api", "web"]
    assert any(m.kind == "ConfigMap" and m.name == "settings" for m in result.manifests)
