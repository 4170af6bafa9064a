"""``fleetform rollout FILE``: the command, the real stack runner and the standard gates.

The real runner drives the project's stacks through Pulumi's Automation API (``LocalWorkspace``
on the project folder): config is written with ``pulumi config set --path`` semantics (the stack
file stays the source of truth, its other keys and comments untouched), and every ``up`` runs in
a child process (``python -m fleetform.rollout.child``) because an ``up`` cannot be aborted
in-process: Ctrl-C interrupts the child (Pulumi then stops cleanly) and the journal is written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Mapping, Optional

from .engine import Engine, Journal, Outcome, StackLocked, UpFailed, new_rollout_id
from .gates import GateResult, HttpTarget, http_gate, prometheus_gate, urls_for
from .release import RELEASE_KEY, StackConfig
from .spec import RolloutSpec, Target, seconds

LOCKED_EXIT = 75
"""The child's exit code when the stack is locked by another update (ConcurrentUpdateError)."""


class AutomationRunner:
    """The project's stacks through the Automation API (needs the Pulumi CLI on PATH).

    Every ``pulumi`` command runs from the project folder with ``--stack``, so the CLI reads and
    writes ``stackConfigDir`` (stacks/) as ``pulumi up`` does (pulumi/pulumi
    sdk/go/common/workspace/paths.go)."""

    def __init__(self, work_dir: Path):
        self.work_dir = work_dir
        self._children: set[subprocess.Popen] = set()
        self._addresses: dict[str, dict[str, dict[str, str]]] = {}

    def _stack(self, name: str) -> Any:
        from pulumi import automation as auto

        return auto.select_stack(stack_name=name, work_dir=str(self.work_dir))

    def check(self, stack: str) -> None:
        """Fail now, before any wave, when ``stack`` does not exist in the backend."""
        self._stack(stack)

    def _set_key(self, stack: str, key: str, value: Any) -> None:
        # One `config set-all --json` writes the whole key as an object in one step: no moment
        # without it (a crash between a remove and a set would leave every cluster on the old
        # image), and no --path coercion of "true" or "1" into other types
        # (pulumi/pulumi pkg/cmd/pulumi/config/config.go, set-all --json).
        self._stack(stack).set_all_config_json(json.dumps({key: {"value": json.dumps(value), "objectValue": value,
                                                                 "secret": False}}))

    def set_release(self, stack: str, value: Optional[dict]) -> None:
        if value is None:
            self._stack(stack).remove_config(RELEASE_KEY)  # absent already: the CLI does nothing
        else:
            self._set_key(stack, RELEASE_KEY, value)

    def finalize(self, stack: str, images: Mapping[str, str]) -> None:
        from ..config.stackfile import read_stack_file

        own, _ = read_stack_file(self.work_dir / "stacks" / f"Pulumi.{stack}.yaml")
        services = own.get("fleetform:services") or []
        missing = [name for name in images if name not in {s.get("name") for s in services if isinstance(s, dict)}]
        if missing:
            raise UpFailed(f"stack {stack} inherits {', '.join(missing)} (fleetform:extends): set their image in the base "
                           f"stack and remove {RELEASE_KEY} by hand; the release is running everywhere")
        from pulumi import automation as auto

        # Only each image's own node changes (`config set-all --path`), so the services' other keys
        # and comments stay as written; image references never read as booleans or numbers.
        index = {s.get("name"): i for i, s in enumerate(services) if isinstance(s, dict)}
        self._stack(stack).set_all_config(
            {f"fleetform:services[{index[n]}].image": auto.ConfigValue(i) for n, i in images.items()}, path=True)
        self._stack(stack).remove_config(RELEASE_KEY)

    def up(self, stack: str, stop: threading.Event) -> None:
        # A session of its own: the terminal's Ctrl-C reaches only the rollout, which then
        # signals the child's whole group, the Pulumi CLI included (the Automation API starts
        # the CLI with a plain Popen and forwards no signal: SDK _cmd.py, pulumi/pulumi#9103).
        child = subprocess.Popen([sys.executable, "-m", "fleetform.rollout.child", stack, str(self.work_dir)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._children.add(child)
        self._addresses.pop(stack, None)
        tail: list[str] = []
        try:
            reader = threading.Thread(target=lambda: tail.extend(child.stdout or []), daemon=True)
            reader.start()
            while child.poll() is None:
                if stop.wait(0.5):
                    self._interrupt(child)
                    break
            reader.join(timeout=5)
        finally:
            self._children.discard(child)
        if child.returncode == LOCKED_EXIT:
            raise StackLocked(stack)
        if child.returncode != 0:
            raise UpFailed(f"pulumi up of {stack} failed: " + " | ".join(line.strip() for line in tail[-5:]))

    @staticmethod
    def _interrupt(child: subprocess.Popen, grace: float = 300.0) -> None:
        """SIGINT to the child's group: the CLI cancels cleanly ("^C received; cancelling"); a
        second SIGINT after ``grace`` makes it terminate; SIGKILL as the last resort."""
        for sig, wait_for in ((signal.SIGINT, grace), (signal.SIGINT, 30.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(child.pid, sig)
            except ProcessLookupError:
                return
            try:
                child.wait(timeout=wait_for)
                return
            except subprocess.TimeoutExpired:
                continue

    def kill_all(self) -> None:
        """A second Ctrl-C: end every running update now."""
        for child in list(self._children):
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def addresses(self, stack: str) -> dict[str, dict[str, str]]:
        # Read once per update (each read is several CLI runs), refreshed after the next up.
        if stack not in self._addresses:
            outputs = self._stack(stack).outputs()
            clusters = outputs["clusters"].value if "clusters" in outputs else {}
            self._addresses[stack] = {name: dict(c.get("services", {})) for name, c in clusters.items()}
        return self._addresses[stack]


def service_gates(spec: RolloutSpec):
    """The standard gates: HTTP on each public/internal service of the target's cluster, through
    its load balancer address (from the stack's outputs), then the Prometheus query if any. While
    baking, the HTTP gate has a short timeout (``successes`` probes twice over), so a failure ends
    the bake at once instead of after ``gates.timeout``."""

    def gates(stack: StackConfig, target: Target, addresses: dict[str, str], stop: threading.Event,
              baking: bool = False) -> list[GateResult]:
        fleet = stack.spec
        assert fleet is not None
        cluster = next(c for c in fleet.clusters if c.name == target.cluster)
        http = spec.gates.http
        interval = float(seconds(http.interval))
        timeout = float(seconds(spec.gates.timeout))
        # Services with a load balancer: not expose cluster, and not on a cluster with
        # loadBalancer.provider none (no address to reach; Pulumi's wait for the Deployment is its gate).
        fronted = cluster.target not in ("onprem", "existing") or cluster.load_balancer.provider != "none"
        services = [s for s in fleet.services_on(cluster) if s.expose != "cluster" and fronted]
        missing = [s.name for s in services if addresses.get(s.name, "") in ("", "(pending)")]
        if missing:
            return [GateResult(False, "http", f"no load-balancer address for {', '.join(missing)} on {target.cluster} "
                               "in the stack's outputs")]
        targets = [HttpTarget(s.name, target.cluster, urls_for(addresses[s.name], s.service_port, s.health.path))
                   for s in services]
        http_timeout = min(timeout, 2 * http.successes * interval + 10) if baking else timeout
        results = [http_gate(targets, successes=http.successes, timeout=http_timeout, interval=interval,
                             stop=stop)] if targets else []
        if spec.gates.prometheus is not None and all(r.ok for r in results):
            p = spec.gates.prometheus
            results.append(prometheus_gate(p.url, p.query, p.max, timeout=timeout, stop=stop))
        return results

    return gates


def run_rollout(spec: RolloutSpec, waves: list[list[Target]], stacks: Mapping[str, StackConfig], *, work_dir: Path,
                journal_dir: Path, resume: Optional[str], approve: frozenset[str], console: Any,
                markdown: Optional[Path] = None, runner: Optional[Any] = None) -> Outcome:
    """The real rollout (after a clean dry run): the engine over the Automation runner, with rich
    progress, a JSONL event log beside the journal, and a final summary."""
    rollout_id = resume or new_rollout_id()
    journal = Journal.open(journal_dir, rollout_id) if resume else Journal(journal_dir, rollout_id)
    log = journal_dir / f"{rollout_id}.events.jsonl"
    started = time.monotonic()
    write_lock = threading.Lock()

    def event(e: dict[str, Any]) -> None:
        with write_lock:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as f:
                f.write(json.dumps(e, sort_keys=True) + "\n")
            what = e.get("target") or e.get("wave") or e.get("stack") or ""
            extra = e.get("detail") or e.get("error") or e.get("message") or ""
            console.print(f"[{time.monotonic() - started:7.1f}s] {e['event']:<9} {what} {extra}".rstrip())

    ask = None
    if sys.stdin.isatty() and not os.environ.get("CI"):
        from rich.prompt import Confirm

        ask = lambda question: Confirm.ask(question, console=console)  # noqa: E731
    stacks_runner: Any = runner if runner is not None else AutomationRunner(work_dir)
    engine = Engine(spec, waves, stacks, stacks_runner, service_gates(spec), journal, approve=approve, ask=ask, events=event)

    def on_signal(signum: int, _frame: Any) -> None:
        # First Ctrl-C (or a CI cancel's SIGTERM): no new step starts, running updates are
        # interrupted cleanly, gates and waits end early. A second one ends the updates now.
        if engine.stop.is_set() and hasattr(stacks_runner, "kill_all"):
            stacks_runner.kill_all()
        engine.stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        outcome = engine.run()
    except Exception as exc:  # a failure the engine could not place: recorded, summarized, exit 1
        journal.set(status="error", error=str(exc))
        outcome = Outcome("error", rollout_id, message=f"rollout failed: {exc}")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    summary(journal, console, markdown)
    return outcome


def summary(journal: Journal, console: Any, markdown: Optional[Path]) -> None:
    """The final table (rich) and, with ``markdown``, the same as a CI step summary."""
    from rich.table import Table

    table = Table(title=f"rollout {journal.id}: {journal.data.get('status')}")
    table.add_column("target")
    table.add_column("state")
    for target, phase in journal.data.get("targets", {}).items():
        table.add_row(target, phase)
    console.print(table)
    if markdown is not None:
        lines = [f"## fleetform rollout {journal.id}: {journal.data.get('status')}", "", "| target | state |", "|---|---|"]
        lines += [f"| {t} | {p} |" for t, p in journal.data.get("targets", {}).items()]
        markdown.write_text("\n".join(lines) + "\n")
