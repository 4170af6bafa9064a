"""How a config problem is raised and shown: the one line ``<key path>: got <value>; allowed: <what>``.

Validators raise :func:`_problem` (or :func:`_problems` / :func:`_raise_all` for several at once);
:mod:`.loading` turns them into lines with :func:`_path` (the key path, ``fleetform:clusters[0].nodePools[1].min``)
and :func:`_shown` (the value given: shortened, secrets and URL credentials kept out) and raises
:class:`FleetConfigError` carrying every line.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from pydantic_core import PydanticCustomError

NAMESPACE = "fleetform"
"""The Pulumi config namespace (the project name); every key path starts with it."""


def _problem(allowed: str, *, key: Optional[str] = None, got: Any = None, hide: bool = False,
             entry: Optional[str] = None, shown: Optional[str] = None) -> PydanticCustomError:
    """A config problem: ``allowed`` says what is accepted; ``key`` narrows the path below the
    model being validated (for checks that span several fields) and ``entry`` names a mapping's
    key below that, as it is; ``hide`` keeps the value given out of the message (it may hold
    credentials); ``shown`` is what the message says was given instead of the value."""
    ctx: dict[str, Any] = {"allowed": allowed}
    if key is not None:
        ctx["key"] = key
        ctx["got"] = got
    if entry is not None:
        ctx["entry"] = entry
        ctx["got"] = got
    if hide:
        ctx["hide"] = True
    if shown is not None:
        ctx["shown"] = shown
    return PydanticCustomError("fleetform", "{allowed}", ctx)


def _problems(found: list[tuple[Any, Any, str]]) -> PydanticCustomError:
    """Several problems found by one check, as (key below the model, value given, allowed); a key may
    be a pair (key, entry) for a mapping's key below it, named as it is (see :func:`_problem`)."""
    key, got, allowed = found[0]
    ctx: dict[str, Any] = {"allowed": allowed, "got": got, "more": found[1:]}
    if isinstance(key, tuple):
        ctx["key"], ctx["entry"] = key
    else:
        ctx["key"] = key
    return PydanticCustomError("fleetform", "{allowed}", ctx)


def _raise_all(found: list[tuple[Any, Any, str]]) -> None:
    """Raise every problem in ``found`` at once (nothing when it is empty)."""
    if found:
        raise _problems(found)


class FleetConfigError(ValueError):
    """Invalid fleet config: ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid fleetform config:\n" + "\n".join("  " + p for p in problems))


_HIDDEN = object()
"""Stands for a value a config error must not print (a secret, or what may hold credentials)."""
_USERINFO = re.compile(r"(?<=//)[^/@\s]*@")


class _Shown(str):
    """Text a config error shows as it is, in place of the value given."""


def _shown(value: Any) -> str:
    """A value as a config error shows it: JSON-like, shortened, credentials in URLs masked."""
    if value is _HIDDEN:
        return "(not shown)"
    if isinstance(value, _Shown):
        return str(value)
    if isinstance(value, (dict, list)):
        try:
            text = json.dumps(value, default=str, sort_keys=True)
        except (ValueError, TypeError):  # a structure that contains itself, or mixed-type keys
            text = "(a " + type(value).__name__ + ")"
    elif isinstance(value, str):
        text = json.dumps(value)
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    text = _USERINFO.sub("***@", text)
    # Long values keep their head and their tail: what fails is often at the end (a digest one
    # digit short, a port, a file name), and the head says which value it is.
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_HEAD] + "..." + text[-_SHOWN_TAIL:]


_SHOWN_MAX = 60
_SHOWN_HEAD = 30
_SHOWN_TAIL = _SHOWN_MAX - _SHOWN_HEAD - 3


def _path(loc: tuple[Any, ...]) -> str:
    out = NAMESPACE + ":"
    first = True
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            out += ("" if first else ".") + str(part)
        else:  # a user's key with spaces, newlines or quotes in it: quoted, so the line stays one line
            out += f"[{json.dumps(str(part))}]"
        first = False
    return out


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_./:-]+")


def _split_key(key: str) -> list[Any]:
    """``a.b[2].c`` -> ["a", "b", 2, "c"]; a bracket that holds no index stays part of its name."""
    parts: list[Any] = []
    for piece in key.split("."):
        m = re.fullmatch(r"(.*?)((?:\[[0-9]+\])+)", piece)
        name, indexes = (m.group(1), re.findall(r"[0-9]+", m.group(2))) if m else (piece, [])
        if name:
            parts.append(name)
        parts.extend(int(ix) for ix in indexes)
    return parts
