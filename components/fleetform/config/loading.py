"""Reading a stack's config: :func:`load_spec`, and pydantic's errors turned into one line each.

:func:`load_spec` takes the ``fleetform:`` keys (as parsed YAML or the engine's JSON strings),
validates them into a :class:`~fleetform.config.fleet.FleetSpec` and raises
:class:`~fleetform.config.errors.FleetConfigError` with every problem as
``<key path>: got <value>; allowed: <what is allowed>``, all in one run: each cluster and service
is validated on its own, and the checks across them run on what could be read.
:data:`SECRET_KEYS` and :data:`LIST_KEYS` say which top-level keys are secrets and lists (as
``Pulumi.yaml`` declares them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Optional

from pydantic import BaseModel, ValidationError

from .errors import NAMESPACE, FleetConfigError, _HIDDEN, _path, _Shown, _shown, _split_key
from .cluster import ClusterSpec
from .fleet import FleetSpec, _read, _text, fleet_problems
from .service import ServiceSpec
from .traffic import TrafficSpec, traffic_problems

_TOP_KEYS = {f.alias or n: n for n, f in FleetSpec.model_fields.items()}
SECRET_KEYS = frozenset(
    f"{NAMESPACE}:{f.alias or n}" for n, f in FleetSpec.model_fields.items() if "SecretStr" in str(f.annotation)
)
"""Top-level keys whose value is a secret (declared ``secret: true`` in Pulumi.yaml)."""
LIST_KEYS = frozenset(
    f"{NAMESPACE}:{f.alias or n}" for n, f in FleetSpec.model_fields.items() if str(f.annotation).startswith("list[")
)
"""Top-level keys declared ``type: array`` in Pulumi.yaml."""


def load_spec(config: Mapping[str, Any]) -> FleetSpec:
    """Validate a stack's config into a :class:`FleetSpec`.

    ``config`` maps full keys (``fleetform:clusters``) to values, either as parsed YAML or as the
    JSON strings the Pulumi engine hands to programs. Keys of other namespaces are ignored.
    Raises :class:`FleetConfigError` listing every problem.
    """
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for full_key, value in config.items():
        ns, _, key = full_key.partition(":")
        if not key:
            ns, key = NAMESPACE, full_key
        if ns != NAMESPACE:
            continue
        if key not in _TOP_KEYS:
            problems.append(f"{NAMESPACE}:{key}: unknown key; allowed keys: {', '.join(sorted(_TOP_KEYS))}")
            continue
        if isinstance(value, str) and _TOP_KEYS[key] in ("clusters", "services", "traffic", "release"):
            try:
                value = json.loads(value)
            except ValueError:
                problems.append(f"{NAMESPACE}:{key}: got {_shown(value)}; allowed: "
                                + ("a mapping" if key == "release" else "a list of mappings"))
                continue
        raw[key] = value
    if "clusters" not in raw:
        if not problems:
            problems.append(f"{NAMESPACE}:clusters: missing; allowed: a list of at least one cluster")
        raise FleetConfigError(problems)
    # Each cluster and service on its own, so one bad entry hides no other entry's problems; then
    # the rest of the namespace and the checks across entries, on what could be read.
    entries: dict[str, list[tuple[Any, Any]]] = {}
    for key, model in (("clusters", ClusterSpec), ("services", ServiceSpec), ("traffic", TrafficSpec)):
        value = raw.get(key, [])
        if not isinstance(value, list):
            continue
        read: list[tuple[Any, Any]] = []
        for i, item in enumerate(value):
            try:
                read.append((item, model.model_validate(item)))
            except ValidationError as exc:
                problems += _format_errors(exc.errors(include_url=False), (key, i))
                read.append((item, None))
        entries[key] = read
    if not any(spec is None for read in entries.values() for _, spec in read):
        try:
            spec = FleetSpec.model_validate({**raw, **{k: [spec for _, spec in read] for k, read in entries.items()}})
        except ValidationError as exc:
            problems += _format_errors(exc.errors(include_url=False))
        else:
            if not problems:
                return spec
        raise FleetConfigError(_in_order(problems))
    # Some entry did not validate: FleetSpec's own checks cannot run; run them on what was read.
    # A list with entries stands in as [] (its entries have their own lines); a list the user gave
    # empty keeps its own line ("at least 1 item").
    stand_ins = {k for k, read in entries.items() if read}
    try:
        FleetSpec.model_validate({**raw, **{k: [] for k in entries}})
    except ValidationError as exc:
        problems += _format_errors([e for e in exc.errors(include_url=False) if e["loc"][:1] not in {(k,) for k in stand_ins}])
    found = fleet_problems(entries.get("clusters", []), entries.get("services", []), _ssh_key_given(raw))
    if not any(spec is None for _, spec in entries.get("clusters", [])):
        # Traffic entries are checked against the clusters and the services that could be read;
        # an entry naming a service that could not is left to that service's own lines.
        unread = {_text(_read(raw_svc, "name", "name")) for raw_svc, spec in entries.get("services", []) if spec is None}
        found += traffic_problems([c for _, c in entries.get("clusters", [])],
                                  [s for _, s in entries.get("services", []) if s is not None],
                                  [(t, spec if spec is None or spec.service not in unread else None)
                                   for t, spec in entries.get("traffic", [])])
    for key, got, allowed in found:
        path = _path(tuple(_split_key(key)))
        if not any(line.startswith(path + ":") for line in problems):  # a bad name is one line, not two
            problems.append(f"{path}: got {_shown(got)}; allowed: {allowed}")
    raise FleetConfigError(_in_order(problems))


def _ssh_key_given(raw: Mapping[str, Any]) -> bool:
    value = raw.get("sshPrivateKey")
    return value is not None and not (isinstance(value, str) and not value.strip())


_TOP_ORDER = {NAMESPACE + ":" + (f.alias or n): i for i, (n, f) in enumerate(FleetSpec.model_fields.items())}


def _in_order(lines: list[str]) -> list[str]:
    """Lines by key path: unknown keys first, then clusters, services and the rest in the order of
    FleetSpec's fields, entries by index; lines of one entry keep the order they were found in."""
    def rank(line: str) -> tuple[int, int]:
        m = _ENTRY.match(line)
        if m is None or m["top"] not in _TOP_ORDER:
            return (-1, 0)
        return (_TOP_ORDER[m["top"]], int(m["index"]) if m["index"] is not None else -1)
    return sorted(lines, key=rank)


_ENTRY = re.compile(r"(?P<top>[^:\s\[.]+:[A-Za-z0-9_]+)(?:\[(?P<index>[0-9]+)\])?[:.\[]")


def _model_at(loc: tuple[Any, ...], root: type[BaseModel] = FleetSpec) -> Optional[type[BaseModel]]:
    """The model class that a location inside ``root`` (FleetSpec) points into (for 'allowed keys')."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


_ALLOWED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping of key: value",
    "model_type": "a mapping of key: value",
    "model_attributes_type": "a mapping of key: value",
    "ip_v4_network": "an IPv4 CIDR such as 10.0.0.0/16",
    "ip_v4_address": "an IPv4 address such as 192.0.2.10",
    "missing": "required",
    "finite_number": "a finite number",
}


def _format_errors(errors: list[Any], prefix: tuple[Any, ...] = (), root: type[BaseModel] = FleetSpec) -> list[str]:
    """pydantic's errors as lines; ``prefix`` is where the validated value sits in ``root`` (FleetSpec,
    or another model read the same way, such as a rollout file)."""
    lines: list[str] = []
    for err in errors:
        loc = prefix + tuple(err["loc"])
        etype = err["type"]
        ctx = err.get("ctx") or {}
        given = err.get("input")
        if etype == "fleetform":
            if "key" in ctx:
                loc = loc + tuple(_split_key(ctx["key"]))
                given = ctx["got"]
            if "entry" in ctx:
                loc = loc + (ctx["entry"],)
                given = ctx["got"]
            if ctx.get("hide"):
                given = _HIDDEN
            if "shown" in ctx:
                given = _Shown(ctx["shown"])
            allowed = ctx["allowed"]
        elif etype == "extra_forbidden":
            model = _model_at(loc[:-1], root)
            keys = sorted((f.alias or n) for n, f in model.model_fields.items()) if model else []
            lines.append(f"{_path(loc)}: unknown key; allowed keys: {', '.join(keys)}")
            continue
        elif etype == "missing":
            lines.append(f"{_path(loc)}: missing; required")
            continue
        elif etype == "literal_error":
            allowed = "one of " + str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        elif etype in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            op = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}[etype]
            bound = next(iter(ctx.values()))
            allowed = f"a whole number {op} {bound}"
        elif etype in ("too_short", "string_too_short"):
            allowed = f"at least {ctx.get('min_length')} {'item' if etype == 'too_short' else 'character'}(s)"
        elif etype in ("too_long", "string_too_long"):
            allowed = f"at most {ctx.get('max_length')} {'item' if etype == 'too_long' else 'character'}(s)"
        else:
            allowed = _ALLOWED.get(etype, err["msg"])
        if given is not None and f"{NAMESPACE}:{loc[0] if loc else ''}" in SECRET_KEYS:
            given = _HIDDEN
        if etype != "fleetform" and "env" in loc[:-1]:  # an env value of the wrong type: it may be a credential
            given = _HIDDEN
        # pydantic reports unions per branch; keep the first line for a location.
        line = f"{_path(loc)}: got {_shown(given)}; allowed: {allowed}"
        if not any(existing.startswith(_path(loc) + ":") for existing in lines):
            lines.append(line)
        base = prefix + tuple(err["loc"])
        for key, got, more_allowed in ctx.get("more", ()) if etype == "fleetform" else ():
            below = tuple(_split_key(key[0])) + (key[1],) if isinstance(key, tuple) else tuple(_split_key(key))
            lines.append(f"{_path(base + below)}: got {_shown(got)}; allowed: {more_allowed}")
    return lines
