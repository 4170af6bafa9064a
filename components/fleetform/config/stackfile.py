"""Reading a stack file as Pulumi's YAML reader reads it: :func:`read_stack_file`.

Used by ``fleetform plan`` (through :func:`fleetform.plan.engine.read_stack_config`) and by the
program itself for a base stack named by ``fleetform:extends`` (:mod:`.extends`), so it lives here,
beside the models, and imports PyYAML only: no Pulumi, no plan machinery. Plain scalars are read as
YAML 1.2's core schema reads them, duplicate keys and what Pulumi config cannot hold are refused,
encrypted values (``secure:``) are replaced by a placeholder and reported as secret keys.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Optional

import yaml

from .errors import FleetConfigError
from .loading import LIST_KEYS, SECRET_KEYS

_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TIMESTAMP, _BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("timestamp", "bool", "int", "float"))


# Numbers as gopkg.in/yaml.v3 (Pulumi's stack-file reader) resolves a plain scalar, resolve.go:
# .inf/.nan in three spellings each; text starting with "." through strconv.ParseFloat; text
# starting with a digit or a sign with every "_" removed, then strconv.ParseInt(text, 0, 64), then
# ParseUint (no sign), then a float of the YAML 1.2 form, then "0b"/"0o" with ParseInt's own sign
# after the prefix. https://github.com/go-yaml/yaml/blob/v3.0.1/resolve.go ("case 'D', 'S'");
# base 0: https://pkg.go.dev/strconv#ParseInt (prefix after the sign, either case: 0b, 0o or 0, 0x).
_SPECIAL_FLOATS = {**{t: math.nan for t in (".nan", ".NaN", ".NAN")},
                   **{s + t: sign * math.inf for s, sign in (("", 1), ("+", 1), ("-", -1)) for t in (".inf", ".Inf", ".INF")}}
_GO_INT = re.compile(r"[-+]?(?:0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+(?:[eE][-+]?[0-9]+)?")  # what ParseFloat takes of text starting with "."
_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT64_MAX = (1 << 64) - 1


def _go_int(text: str, base: int) -> Optional[int]:
    """strconv.ParseInt(text, base, 64) (base 0: the prefix decides), None where it fails."""
    sign = text[:1] if text[:1] in "+-" else ""
    digits = text[len(sign):]
    if base == 0:
        if not _GO_INT.fullmatch(text):
            return None
        lower = digits[:2].lower()
        base, digits = ((2, digits[2:]) if lower == "0b" else (8, digits[2:]) if lower == "0o"
                        else (16, digits[2:]) if lower == "0x" else (8, digits) if digits.startswith("0") else (10, digits))
    if not digits or any(c not in "0123456789abcdef"[:base] for c in digits.lower()):
        return None  # Python's int() would also take a "0b" prefix, "_" or spaces here
    value = int(sign + digits, base)
    return value if _INT64[0] <= value <= _INT64[1] else None


def go_number(text: str) -> Optional[float]:
    """The number Pulumi's YAML reader makes of a plain scalar, or None where it keeps the text."""
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text[:1] == ".":
        return float(text) if _DOT_FLOAT.fullmatch(text) and not math.isinf(float(text)) else None
    if text[:1] not in tuple("+-0123456789"):
        return None
    plain = text.replace("_", "")
    value = _go_int(plain, 0)
    if value is not None:
        return value
    if _GO_INT.fullmatch(plain) and plain[:1] not in "+-" and 0 <= (big := _go_int_unbounded(plain)) <= _UINT64_MAX:
        return big
    if _GO_FLOAT.fullmatch(plain) and not math.isinf(float(plain)):
        return float(plain)
    for prefix, base in (("0b", 2), ("0o", 8)):
        if plain.startswith(prefix) and len(plain) > 2:
            return _go_int(plain[2:], base)
        if plain.startswith("-" + prefix) and len(plain) > 3:
            return _go_int("-" + plain[3:], base)
    return None


def _go_int_unbounded(text: str) -> int:
    """A base-0 integer text (matched by _GO_INT, no sign) as a Python int of any size."""
    lower = text[:2].lower()
    if lower in ("0b", "0o", "0x"):
        return int(text, 0)
    return int(text, 8) if text.startswith("0") else int(text, 10)
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

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        # A plain scalar Pulumi's reader reads as a number is one here (go_number); other plain
        # scalars go on to the resolvers kept above (null, merge keys, true/false).
        if kind is yaml.ScalarNode and implicit[0] and value:
            number = go_number(value)
            if number is not None:
                return _FLOAT if isinstance(number, float) else _INT
        return super().resolve(kind, value, implicit)

    def construct_yaml_int(self, node: Any) -> Any:
        number = go_number(self.construct_scalar(node))
        if not isinstance(number, int):  # `!!int abc`, `!!int 1.5`: yaml.v3 "cannot decode ... as a !!int"
            raise yaml.constructor.ConstructorError(None, None, f"cannot read {node.value!r} as !!int", node.start_mark)
        return number

    def construct_yaml_float(self, node: Any) -> Any:
        number = go_number(self.construct_scalar(node))
        if number is None:  # an integer tagged !!float is a float in yaml.v3 too
            raise yaml.constructor.ConstructorError(None, None, f"cannot read {node.value!r} as !!float", node.start_mark)
        return float(number)

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # PyYAML's constructors of other tags raise plain Python errors on a value their tag cannot
        # hold (`!!bool abc`: KeyError, `!!timestamp abc`: AttributeError): one YAML problem here.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.value!r} as {node.tag.replace('tag:yaml.org,2002:', '!!')}",
                node.start_mark) from None


_YAML_LOADER.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_YAML_LOADER.add_constructor(_INT, _YAML_LOADER.construct_yaml_int)
_YAML_LOADER.add_constructor(_FLOAT, _YAML_LOADER.construct_yaml_float)


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
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:  # a tagged collection PyYAML cannot build
        raise FleetConfigError([f"{path}: not valid YAML: a value its tag cannot hold ({type(exc).__name__})"]) from None
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

