"""Reading a stack's config: :func:`load_spec`, and pydantic's errors turned into one line each.

:func:`load_spec` takes the ``fleetform:`` keys (as parsed YAML or the engine's JSON strings),
validates them into a :class:`~fleetform.config.fleet.FleetSpec` and raises
:class:`~fleetform.config.errors.FleetConfigError` with every problem as
``<key path>: got <value>; allowed: <what is allowed>``. :data:`SECRET_KEYS` and :data:`LIST_KEYS`
say which top-level keys are secrets and lists (as ``Pulumi.yaml`` declares them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Optional

from pydantic import BaseModel, ValidationError

from .errors import NAMESPACE, FleetConfigError, _HIDDEN, _path, _Shown, _shown, _split_key
from .fleet import FleetSpec

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
        if isinstance(value, str) and _TOP_KEYS[key] in ("clusters", "services"):
            try:
                value = json.loads(value)
            except ValueError:
                problems.append(f"{NAMESPACE}:{key}: got {_shown(value)}; allowed: a list of mappings")
                continue
        raw[key] = value
    if "clusters" not in raw and not problems:
        problems.append(f"{NAMESPACE}:clusters: missing; allowed: a list of at least one cluster")
    if problems:
        raise FleetConfigError(problems)
    try:
        return FleetSpec.model_validate(raw)
    except ValidationError as exc:
        raise FleetConfigError(_format_errors(exc)) from None


def _model_at(loc: tuple[Any, ...]) -> Optional[type[BaseModel]]:
    """The model class that a location inside FleetSpec points into (for 'allowed keys')."""
    model: Any = FleetSpec
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


def _format_errors(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
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
            model = _model_at(loc[:-1])
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
        base = tuple(err["loc"])
        for key, got, more_allowed in ctx.get("more", ()) if etype == "fleetform" else ():
            lines.append(f"{_path(base + tuple(_split_key(key)))}: got {_shown(got)}; allowed: {more_allowed}")
    return lines
