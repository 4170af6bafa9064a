"""Run the fleetform program under the Pulumi SDK's mock engine and capture what it registers."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import SETTINGS as _SETTINGS, get_root_resource
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from ..config import FleetConfigError
from .mocks import FleetMocks, RecordingMonitor, Registration, plain

PROJECT = "fleetform"
SETTINGS: Any = _SETTINGS  # its fields are context properties the SDK's type hints do not show


class MocksNotActive(RuntimeError):
    """The program ran but nothing reached the mock engine: every check would pass vacuously."""


@dataclass
class Capture:
    """What one program run registered and exported."""

    stack: str
    registrations: list[Registration]
    outputs: dict[str, Any]
    """Stack outputs, secrets masked as "[secret]"."""
    outputs_raw: dict[str, Any] = field(repr=False, default_factory=dict)
    program_result: Any = None

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}


def config_strings(config: Mapping[str, Any]) -> dict[str, str]:
    """Config values as the engine passes them to a program: strings, structured values as JSON."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


async def _resolve(value: Any) -> tuple[Any, bool]:
    out = pulumi.Output.from_input(value)
    return await out.future(with_unknowns=True), bool(await out.is_secret())


def run_under_mocks(
    stack: str,
    config: Mapping[str, Any],
    program: Callable[[], Any],
    *,
    install_mocks: bool = True,
    secret_keys: tuple[str, ...] = (),
    monitor: Optional[RecordingMonitor] = None,
    project: str = PROJECT,
    packages: frozenset[str] = frozenset(),
) -> Capture:
    """Run ``program`` as the engine would for ``stack`` with ``config``, against mocks.

    Runs in a fresh context so repeated runs in one process do not share Pulumi's globals.
    Raises :class:`MocksNotActive` if nothing was registered (for instance when the mocks are not
    installed), so a caller can never mistake an empty run for a clean one. ``monitor`` lets a
    caller inspect registrations even when the program fails. ``project`` is the Pulumi project
    name (URNs, config namespace); ``packages`` more resource packages the mocks accept.
    """
    ctx = contextvars.Context()
    monitor = monitor or RecordingMonitor(FleetMocks(packages))
    return ctx.run(_run, stack, config, program, install_mocks, secret_keys, monitor, project)


def _cancel_leftovers() -> None:
    """A failed run leaves RPCs and applies scheduled on the shared event loop and output tasks in
    the SDK's process-wide set: the next run in this process would await them and fail with this
    run's error. Forget and cancel them."""
    with SETTINGS.lock:
        SETTINGS.outputs.clear()
    loop = asyncio.get_event_loop()
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _run(stack, config, program, install_mocks, secret_keys, monitor: RecordingMonitor, project: str) -> Capture:
    if install_mocks:
        # preview=False, as in `pulumi up`: every value is known, and the SDK resolves each output
        # the mocks do not return (the spec of a Kubernetes object, say) to the input's value. A
        # preview would leave those unknown.
        pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    # The SDK keeps pending output tasks in a set that every context shares by default: a run that
    # failed would hand its leftovers (and their exception) to the next run in this process.
    SETTINGS.outputs = set()
    SETTINGS.rpc_manager.clear()
    set_all_config(config_strings(config), list(secret_keys))
    try:
        result = program()
        _sync_await(wait_for_rpcs())
    except BaseException as exc:
        _cancel_leftovers()
        if isinstance(exc, Exception) and not isinstance(exc, (pulumi.RunError, FleetConfigError)) and (
            not install_mocks or not monitor.registrations
        ):
            raise MocksNotActive(f"the program did not run against the mock engine: {exc}") from exc
        raise
    if not monitor.registrations:
        raise MocksNotActive("no resource reached the mock engine: mocks not installed, or the program registered nothing")
    root = get_root_resource()
    raw_outputs: dict[str, Any] = {}
    masked: dict[str, Any] = {}
    for name, value in (getattr(root, "outputs", None) or {}).items():
        resolved, secret = _sync_await(_resolve(value))
        raw_outputs[name] = plain(resolved, mask=False)
        masked[name] = "[secret]" if secret else plain(resolved, mask=True)
    # Registration order depends on thread timing; reports are sorted so plans are comparable.
    registrations = sorted(monitor.registrations, key=lambda r: r.urn)
    return Capture(stack, registrations, masked, raw_outputs, result)
