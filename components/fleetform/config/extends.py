"""``fleetform:extends``: a stack built on another stack's fleetform config.

:func:`resolve_extends` takes a stack's own config (as the stack file or the engine gives it) and
returns its effective config: the base stack's ``fleetform:*`` keys with this stack's on top, and no
``fleetform:extends`` key left (so resolving twice changes nothing). The rules:

- ``fleetform:services`` merge by ``name``: an entry naming a base service is a deep merge over it
  (mappings merged key by key, lists and scalars replaced, ``null`` removes the base's value so the
  key takes its default); ``{name: x, remove: true}`` drops base service ``x``; other entries are
  appended after the base's services. Error lines count entries in that merged list.
- ``fleetform:clusters`` are this stack's own; only a stack that sets none takes the base's.
- Other ``fleetform:`` keys replace the base's. A key left at its ``Pulumi.yaml`` default
  (``namespace``, ``kubernetesVersion``) takes the base's value: under ``pulumi up`` the engine
  fills in project defaults, so "not set" and "set to the default" cannot be told apart there,
  and the plan does the same.
- Secrets of the base (``secure:`` values) are not inherited: they are encrypted for the base
  stack only. Keys of other namespaces (``aws:region``) are not inherited either.
- A base may extend another; a cycle is refused. The base must be a valid stack on its own.

Every problem with the base (none found, a cycle, not a valid stack) is a :class:`FleetConfigError`
line starting with ``fleetform:extends``. Imports PyYAML (through :mod:`.stackfile`), nothing of Pulumi.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

from .errors import NAMESPACE, FleetConfigError, _shown
from .fleet import FleetSpec
from .stackfile import STACK_NAME

EXTENDS_KEY = f"{NAMESPACE}:extends"
_SERVICES, _CLUSTERS = f"{NAMESPACE}:services", f"{NAMESPACE}:clusters"
_ALLOWED = "a stack name in the same folder (such as prod-aws) or a relative path to a Pulumi.<name>.yaml"
_DEFAULTS = {
    f"{NAMESPACE}:{f.alias or n}": f.default
    for n, f in FleetSpec.model_fields.items()
    if isinstance(f.default, str)
}
"""Top-level keys with a plain default in Pulumi.yaml (the engine hands these to every stack)."""


def resolve_extends(config: Mapping[str, Any], stack_dir: Path, own: Optional[Path] = None) -> dict[str, Any]:
    """``config`` merged over the base stack its ``fleetform:extends`` names (a name or a relative
    path, looked up in ``stack_dir``); ``own`` is this stack's file, if known, to catch a base that
    extends it back. Without ``fleetform:extends`` it returns ``config`` as it is."""
    return _resolve(dict(config), stack_dir, [own.resolve()] if own is not None else [])


def stack_config_dir(root: Path) -> Path:
    """Where a project's stack files are: ``stackConfigDir`` of ``root/Pulumi.yaml``, else ``root``."""
    import yaml

    try:
        project = yaml.safe_load((root / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        project = {}
    folder = project.get("stackConfigDir") if isinstance(project, dict) else None
    return root / folder if isinstance(folder, str) and folder else root


def find_project_root(hint: Optional[str] = None) -> Path:
    """The project's folder: ``hint`` (the engine's root directory) if it holds ``Pulumi.yaml``
    (under mocks it is a placeholder), else the current folder or one above that holds it, else the
    current folder."""
    if hint and (Path(hint) / "Pulumi.yaml").is_file():
        return Path(hint)
    here = Path.cwd()
    return next((c for c in (here, *here.parents) if (c / "Pulumi.yaml").is_file()), here)


def _resolve(config: dict[str, Any], stack_dir: Path, chain: list[Path]) -> dict[str, Any]:
    if EXTENDS_KEY not in config:
        return config
    given = config.pop(EXTENDS_KEY)
    if given in ("", None):  # Pulumi.yaml's default: extends nothing
        return config
    path = _locate(given, stack_dir)
    if path.resolve() in chain:
        names = [_label(p) for p in chain] + [_label(path)]
        raise FleetConfigError([f"{EXTENDS_KEY}: a cycle, {' -> '.join(names)}; allowed: a base that does not "
                                "extend this stack, directly or through others"])
    from .loading import load_spec
    from .stackfile import read_stack_file

    where = f"base stack {_label(path)} ({path})"
    try:
        read, secret_keys = read_stack_file(path)
    except FleetConfigError as exc:
        raise FleetConfigError([f"{EXTENDS_KEY}: {where} is not a valid stack file: {line}" for line in exc.problems]) from None
    base = {k: v for k, v in read.items() if k.partition(":")[0] == NAMESPACE}
    try:
        base = _resolve(base, path.parent, chain + [path.resolve()])
        load_spec(base)  # the base is a stack of its own: refuse it here, not as lines about the merge
    except FleetConfigError as exc:
        lines = [line if line.startswith(EXTENDS_KEY + ":") else f"{EXTENDS_KEY}: {where}: {line}" for line in exc.problems]
        raise FleetConfigError(lines) from None
    for key in secret_keys:  # encrypted for the base stack only
        base.pop(key, None)
    return _merge(base, config, _label(path))


def _locate(given: Any, stack_dir: Path) -> Path:
    if not isinstance(given, str) or not given.strip():
        raise FleetConfigError([f"{EXTENDS_KEY}: got {_shown(given)}; allowed: {_ALLOWED}"])
    if given.endswith((".yaml", ".yml")) or "/" in given or os.sep in given:
        if Path(given).is_absolute():
            raise FleetConfigError([f"{EXTENDS_KEY}: got {_shown(given)}, an absolute path; allowed: {_ALLOWED}"])
        path = stack_dir / given
    elif STACK_NAME.fullmatch(given):
        path = stack_dir / f"Pulumi.{given}.yaml"
    else:
        raise FleetConfigError([f"{EXTENDS_KEY}: got {_shown(given)}; allowed: {_ALLOWED}"])
    if not path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in stack_dir.glob("Pulumi.*.yaml"))
        raise FleetConfigError([f"{EXTENDS_KEY}: got {_shown(given)}, but there is no {path}; allowed: {_ALLOWED} "
                                f"(stacks in {stack_dir}: {', '.join(known) or 'none'})"])
    return path


def _label(path: Path) -> str:
    name = path.name
    return name[len("Pulumi."):].rsplit(".", 1)[0] if name.startswith("Pulumi.") and name.count(".") >= 2 else name


def _structured(value: Any) -> Any:
    """A list the engine hands over as JSON text, parsed (text that is no JSON stays as it is)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _merge(base: dict[str, Any], own: dict[str, Any], base_name: str) -> dict[str, Any]:
    out = dict(own)
    for key, value in base.items():
        if key == _SERVICES:
            continue
        if key == _CLUSTERS:
            # A stack's clusters are its own; none (or the engine's default, []) takes the base's.
            if _structured(out.get(key, [])) in ([], None):
                out[key] = value
        elif key not in out or (key in _DEFAULTS and str(out[key]) == _DEFAULTS[key]):
            out[key] = value
    base_services = base.get(_SERVICES)
    if isinstance(base_services, list) and base_services:
        own_services = _structured(own.get(_SERVICES, []))
        if isinstance(own_services, list):
            out[_SERVICES] = _merge_services(base_services, own_services, base_name)
    return out


def _merge_services(base: list[Any], own: list[Any], base_name: str) -> list[Any]:
    merged: list[Any] = list(base)
    index = {s["name"]: i for i, s in enumerate(base) if isinstance(s, Mapping) and isinstance(s.get("name"), str)}
    dropped: set[int] = set()
    problems = []
    for i, entry in enumerate(own):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if isinstance(entry, Mapping) and entry.get("remove") is True:
            if name in index:
                dropped.add(index[name])
            else:
                problems.append(f"{NAMESPACE}:services[{i}].remove: got true for {_shown(name)}; allowed: only on a "
                                f"service base stack {base_name} defines ({', '.join(index) or 'none'}) "
                                f"[{EXTENDS_KEY}]")
        elif isinstance(name, str) and name in index:
            merged[index[name]] = _deep_merge(merged[index[name]], entry)
        else:
            merged.append(entry)
    if problems:
        raise FleetConfigError(problems)
    return [s for i, s in enumerate(merged) if i not in dropped]


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
