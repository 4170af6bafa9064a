"""Reading a stack file as Pulumi's YAML reader reads it: :func:`read_stack_file`.

Used by ``fleetform plan`` (through :func:`fleetform.plan.engine.read_stack_config`) and by the
program itself for a base stack named by ``fleetform:extends`` (:mod:`.extends`), so it lives here,
beside the models, and imports PyYAML only: no Pulumi, no plan machinery. Plain scalars are read as
YAML 1.2's core schema reads them, duplicate keys and what Pulumi config cannot hold are refused,
encrypted values (``secure:``) are replaced by a placeholder and reported as secret keys.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Optional

import yaml

from .errors import FleetConfigError
from .loading import LIST_KEYS, SECRET_KEYS

_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP, _BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("timestamp", "bool", "int", "float"))


_INT_12 = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|0b[01]+)$")
_FLOAT_12 = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
"""Pulumi's rule for a stack name: letters, digits, hyphens, underscores and periods, at most 100."""

_MAX_VALUES = 100_000
"""Values a stack file's config may expand to through aliases (Pulumi's YAML reader refuses
"excessive aliasing" too); a few aliases nested can otherwise expand to billions."""


class _YAML_LOADER(_BASE_LOADER):  # noqa: N801
    """libyaml's safe loader where PyYAML was built with it (ten times faster on a large stack
    file), reading plain scalars as Pulumi's YAML reader (YAML 1.2 core schema) does: only
    true/false are booleans (on, yes, off, no stay text), 1:30 and dates stay text, 1e3 is a
    number. A key written twice in one mapping is refused, as Pulumi does (PyYAML would keep the
    last one); merge keys (``<<: *anchor``) work."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_TIMESTAMP, _BOOL, _INT, _FLOAT)]
        for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._checked: set[int] = set()

    def _no_duplicate_keys(self, node: Any) -> None:
        # Checked once per node, before a merge flattens other mappings' keys into it.
        if id(node) in self._checked:
            return
        self._checked.add(id(node))
        seen: set[str] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key_node.value!r} appears twice in one mapping; Pulumi refuses that",
                    key_node.start_mark)
            seen.add(key_node.value)

    def flatten_mapping(self, node: Any) -> None:
        # Every mapping passes here before it is built, and before it is merged into another.
        self._no_duplicate_keys(node)
        super().flatten_mapping(node)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        # Pulumi's reader keeps a mapping's keys apart by their text: `{1: a, true: b}` holds two
        # keys there, but one in a Python dict (True == 1, False == 0), the later value winning. A
        # boolean key is kept as the text Pulumi gives it (:func:`_key_text` writes it so anyway).
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep=deep)  # PyYAML's own error
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, bool):
                key = "true" if key else "false"
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                        "found unhashable key", key_node.start_mark)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_int(self, node: Any) -> Any:
        # As Go's strconv.ParseInt(text, 0, 64), which Pulumi's YAML reader uses: 0x, 0o and 0b
        # prefixes, and a leading 0 for octal (0755 is 493); a leading 0 before an 8 or 9 is no
        # octal number, and the reader falls back to a float.
        text = self.construct_scalar(node)
        digits = text.lstrip("+-")
        if digits[:2] in ("0x", "0o", "0b"):
            return int(text, 0)
        if len(digits) > 1 and digits.startswith("0"):
            return int(text, 8) if set(digits) <= set("01234567") else float(text)
        return int(text, 10)


_YAML_LOADER.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_YAML_LOADER.add_implicit_resolver(_INT, _INT_12, list("-+0123456789"))
_YAML_LOADER.add_implicit_resolver(_FLOAT, _FLOAT_12, list("-+0123456789."))
_YAML_LOADER.add_constructor(_INT, _YAML_LOADER.construct_yaml_int)


def read_stack_file(path: Path, secret_placeholder: Any = "[secret]") -> tuple[dict[str, Any], tuple[str, ...]]:
    """A stack file's ``config:`` map. Encrypted values (``secure:``) cannot be decrypted offline:
    they are replaced by ``secret_placeholder`` and reported as secret keys."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise FleetConfigError([f"{path}: not UTF-8 text (byte offset {exc.start}); allowed: a YAML stack file"]) from None
    except OSError as exc:
        raise FleetConfigError([f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    try:
        doc = yaml.load(text, Loader=_YAML_LOADER) or {}
    except yaml.YAMLError as exc:
        raise FleetConfigError([f"{path}: not valid YAML: {_yaml_problem(exc)}"]) from None
    if not isinstance(doc, dict):
        raise FleetConfigError([f"{path}: expected a mapping with a config: key"])
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise FleetConfigError([f"{path}: config: must be a mapping of key: value"])
    secret_keys = []
    out: dict[str, Any] = {}
    budget = [_MAX_VALUES]  # for the whole file: aliases can spread the expansion over many keys
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.append(str(key))
            value = secret_placeholder
        elif key in SECRET_KEYS and value is not None:
            # Pulumi refuses a stack whose value for a `secret: true` key is plain text; the value
            # itself is never shown.
            raise FleetConfigError([
                f"{key}: set in plain text in {path.name}; allowed: an encrypted value only "
                f"(pulumi config set --secret {key} ...; then remove the plain-text key from the file)"
            ])
        if ":" not in str(key):
            raise FleetConfigError([f"{key}: a key without a namespace; allowed: <namespace>:<name> keys, "
                                    f"such as fleetform:{key} (Pulumi refuses others)"])
        if key in LIST_KEYS and isinstance(value, str):
            raise FleetConfigError([f"{key}: got a string; allowed: a YAML list (Pulumi checks the type Pulumi.yaml "
                                    "declares, array)"])
        try:
            value = _plain(value, budget=budget)
        except _NotPlain as exc:
            raise FleetConfigError([f"{key}: {exc}; allowed: plain YAML values (strings, numbers, true/false, "
                                    "lists and mappings), as Pulumi config holds"]) from None
        out[str(key)] = value
    return out, tuple(secret_keys)


class _NotPlain(ValueError):
    """A config value Pulumi config cannot hold; the message says what and where in it."""


def _plain(value: Any, where: str = "", within: frozenset[int] = frozenset(), budget: Optional[list[int]] = None) -> Any:
    """A stack file's config value as Pulumi hands it on: mapping keys that are numbers or
    booleans become their text (Pulumi formats every key as a string). Raises :class:`_NotPlain`
    for what Pulumi config cannot hold: a YAML-only type (``!!binary``, ``!!set``, an explicit
    ``!!timestamp``), a key that is a list, mapping or null, an alias that contains itself, more
    than :data:`_MAX_VALUES` values once aliases are expanded."""
    budget = budget if budget is not None else [_MAX_VALUES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _NotPlain(f"expands to more than {_MAX_VALUES:,} values through aliases")
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, dict)):
        if id(value) in within:
            raise _NotPlain(f"holds an alias that contains itself{where and ' (at ' + where + ')'}")
        inner = within | {id(value)}
        if isinstance(value, list):
            return [_plain(v, f"{where}[{i}]", inner, budget) for i, v in enumerate(value)]
        out = {}
        for k, v in value.items():
            key = _key_text(k, where)
            out[key] = _plain(v, f"{where}.{key}" if where else key, inner, budget)
        return out
    raise _NotPlain(f"holds a YAML {_yaml_type(value)} value{where and ' (at ' + where + ')'}")


def _key_text(key: Any, where: str) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (str, int, float)):
        return str(key)
    what = "null" if key is None else "a " + _yaml_type(key)
    raise _NotPlain(f"holds a mapping key that is {what}{where and ' (in ' + where + ')'}")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's problem with its line and column (its first line is often only the context)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None:
        return str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    text = f"{context}: {problem}" if context else problem
    return text + (f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else "")


def _yaml_type(value: Any) -> str:
    return {bytes: "!!binary", set: "!!set", tuple: "list"}.get(type(value), type(value).__name__)

