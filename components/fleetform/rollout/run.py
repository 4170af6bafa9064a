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
    """The project's stacks through the Automation API (needs the Pulumi CLI on PATH)."""

    def __init__(self, work_dir: Path):
        self.work_dir = work_dir
        self._children: set[subprocess.Popen] = set()

    def _stack(self, name: str) -> Any:
        from pulumi import automation as auto

        return auto.select_stack(stack_name=name, work_dir=str(self.work_dir))

    def set_release(self, stack: str, value: Optional[dict]) -> None:
        from pulumi import automation as auto

        s = self._stack(stack)
        try:
            s.remove_config(RELEASE_KEY)
        except auto.CommandError:
            pass  # not set yet
        if value is None:
            return
        leaves: dict[str, Any] = {}
        for name, image in value["images"].items():
            leaves[f'{RELEASE_KEY}.images["{name}"]'] = auto.ConfigValue(image)
        for key in ("clusters", "drained"):
            for i, cluster in enumerate(value[key]):
                leaves[f"{RELEASE_KEY}.{key}[{i}]"] = auto.ConfigValue(cluster)
        s.set_all_config(leaves, path=True)

    def finalize(self, stack: str, images: Mapping[str, str]) -> None:
        from pulumi import automation as auto

        from ..config.stackfile import read_stack_file

        own, _ = read_stack_file(self.work_dir / "stacks" / f"Pulumi.{stack}.yaml")
        services = own.get("fleetform:services") or []
        index = {s.get("name"): i for i, s in enumerate(services) if isinstance(s, dict)}
        missing = [name for name in images if name not in index]
        if missing:
            raise UpFailed(f"stack {stack} inherits {', '.join(missing)} (fleetform:extends): set their image in the base "
                           f"stack and remove {RELEASE_KEY} by hand; the release is running everywhere")
        s = self._stack(stack)
        s.set_all_config({f"fleetform:services[{index[n]}].image": auto.ConfigValue(i) for n, i in images.items()},
                         path=True)
        s.remove_config(RELEASE_KEY)

    def up(self, stack: str, stop: threading.Event) -> None:
        child = subprocess.Popen([sys.executable, "-m", "fleetform.rollout.child", stack, str(self.work_dir)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._children.add(child)
        tail: list[str] = []
        try:
            reader = threading.Thread(target=lambda: tail.extend(child.stdout or []), daemon=True)
            reader.start()
            while child.poll() is None:
                if stop.is_set():
                    child.send_signal(signal.SIGINT)  # Pulumi cancels cleanly on SIGINT
                    child.wait(timeout=600)
                    break
                time.sleep(0.5)
            reader.join(timeout=5)
        finally:
            self._children.discard(child)
        if child.returncode == LOCKED_EXIT:
            raise StackLocked(stack)
        if child.returncode != 0:
            raise UpFailed(f"pulumi up of {stack} failed: " + " | ".join(line.strip() for line in tail[-5:]))

    def addresses(self, stack: str) -> dict[str, dict[str, str]]:
        outputs = self._stack(stack).outputs()
        clusters = outputs["clusters"].value if "clusters" in outputs else {}
        return {name: dict(c.get("services", {})) for name, c in clusters.items()}


def service_gates(spec: RolloutSpec):
    """The standard gates: HTTP on each public/internal service of the target's cluster, through
    its load balancer address (from the stack's outputs), then the Prometheus query if any."""

    def gates(stack: StackConfig, target: Target, addresses: dict[str, str], stop: threading.Event) -> list[GateResult]:
        fleet = stack.spec
        assert fleet is not None
        cluster = next(c for c in fleet.clusters if c.name == target.cluster)
        http = spec.gates.http
        # Services with a load balancer: not expose cluster, and not on a cluster with
        # loadBalancer.provider none (no address to reach; Pulumi's wait for the Deployment is its gate).
        fronted = cluster.target not in ("onprem", "existing") or cluster.load_balancer.provider != "none"
        targets = [HttpTarget(s.name, target.cluster, urls_for(addresses.get(s.name, ""), s.service_port, s.health.path))
                   for s in fleet.services_on(cluster) if s.expose != "cluster" and fronted]
        timeout = float(seconds(spec.gates.timeout))
        results = [http_gate(targets, successes=http.successes, timeout=timeout, interval=float(seconds(http.interval)),
                             stop=stop)] if targets else []
        if spec.gates.prometheus is not None:
            p = spec.gates.prometheus
            results.append(prometheus_gate(p.url, p.query, p.max, timeout=timeout))
        return results

    return gates


def run_rollout(spec: RolloutSpec, waves: list[list[Target]], stacks: Mapping[str, StackConfig], *, work_dir: Path,
                journal_dir: Path, resume: Optional[str], approve: frozenset[str], console: Any,
                markdown: Optional[Path] = None) -> Outcome:
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
    runner = AutomationRunner(work_dir)
    engine = Engine(spec, waves, stacks, runner, service_gates(spec), journal, approve=approve, ask=ask, events=event)
    try:
        outcome = engine.run()
    except KeyboardInterrupt:
        engine.stop.set()
        journal.set(status="stopped")
        outcome = Outcome("stopped", rollout_id, message="interrupted")
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
