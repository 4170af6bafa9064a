"""The rollout engine: waves in order, targets in parallel up to ``maxParallel``, gated on health,
with halt, rollback, resume, approval, lock retries and a clean stop.

It talks to Pulumi only through a :class:`StackRunner` (the real one, :mod:`.runner`, drives the
Automation API in a child process per update; tests inject their own), and to the services only
through the gate functions it is given. Every step is written to the :class:`Journal` as it
happens, so ``--resume ID`` continues a halted rollout without redoing a finished target.

Per target: drain (with ``drain: true``: weight 0 in the weighted traffic entries, an ``up``),
``up`` with the release on that cluster (Pulumi waits for the Deployment to be ready), gates (HTTP
on every public/internal service's health path through the cluster's load balancer, then the
optional Prometheus query), bake (the gates again, every HTTP interval, for the wave's bake time),
then restore the traffic (an ``up``). A failed step stops new targets from starting; running ones
finish; then ``halt`` leaves everything as it is and ``rollback`` takes the release off every
target it reached, in reverse order, through the same gates.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Protocol

from .gates import GateResult
from .release import StackConfig, release_value
from .spec import RolloutSpec, Target, seconds


class StackLocked(Exception):
    """Another update holds the stack (Pulumi's ConcurrentUpdateError)."""


class UpFailed(Exception):
    """``pulumi up`` failed (the message is its last lines)."""


class StackRunner(Protocol):
    """What the engine needs of Pulumi."""

    def check(self, stack: str) -> None:
        """Raise when ``stack`` cannot be updated at all (not in the backend): checked before any wave."""

    def set_release(self, stack: str, value: Optional[dict]) -> None:
        """Write ``fleetform:release`` of ``stack`` (None: remove it)."""

    def finalize(self, stack: str, images: Mapping[str, str]) -> None:
        """Make ``images`` the services' own in ``stack`` and remove ``fleetform:release``."""

    def up(self, stack: str, stop: threading.Event) -> None:
        """Update ``stack``; raise :class:`StackLocked` or :class:`UpFailed`; return when done or stopped."""

    def addresses(self, stack: str) -> dict[str, dict[str, str]]:
        """cluster -> service -> load-balancer address, from the stack's outputs."""
        ...


Gates = Callable[[StackConfig, Target, dict[str, str], threading.Event, bool], list[GateResult]]
"""(stack, target, that cluster's service addresses, stop, baking) -> the gate results (all must
pass). While baking a failure must show at once, not after the gates' timeout."""


class Journal:
    """One JSON file per rollout, rewritten after each step (so a crash loses at most a step)."""

    def __init__(self, directory: Path, rollout_id: str, data: Optional[dict] = None):
        self.path = directory / f"{rollout_id}.json"
        self.id = rollout_id
        self.data: dict[str, Any] = data or {"id": rollout_id, "status": "running", "targets": {}, "steps": [],
                                             "stacks": {}}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, directory: Path, rollout_id: str) -> "Journal":
        path = directory / f"{rollout_id}.json"
        if not path.is_file():
            raise FileNotFoundError(f"no rollout journal {path}")
        return cls(directory, rollout_id, json.loads(path.read_text()))

    def step(self, target: Optional[Target], phase: str, **detail: Any) -> None:
        with self._lock:
            entry = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "target": str(target) if target else None,
                     "phase": phase, **detail}
            self.data["steps"].append(entry)
            if target is not None and phase in ("done", "failed", "rolled-back", "rollback-failed", "started"):
                self.data["targets"][str(target)] = phase
            self._write()

    def set(self, **fields: Any) -> None:
        with self._lock:
            self.data.update(fields)
            self._write()

    def set_stack(self, stack: str, clusters: list[str], drained: list[str]) -> None:
        """The release state of ``stack`` (what ``--resume`` starts from)."""
        with self._lock:
            self.data.setdefault("stacks", {})[stack] = {"clusters": list(clusters), "drained": list(drained)}
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True))
        tmp.replace(self.path)


@dataclass
class Outcome:
    """How the rollout ended: ``status`` completed | halted | rolled-back | rollback-failed | stopped |
    awaiting-approval | finalize-failed | error (a stack could not be updated at all)."""

    status: str
    rollout_id: str
    failed: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def exit_code(self) -> int:
        return {"completed": 0, "stopped": 130}.get(self.status, 1)


@dataclass
class Engine:
    """Runs a validated rollout. ``approve``: wave names approved ahead (``--approve``); ``ask``:
    asks on a terminal (None in CI, where an unapproved wave stops the rollout); ``events``: gets
    every event (progress, the JSONL log)."""

    spec: RolloutSpec
    waves: list[list[Target]]
    stacks: Mapping[str, StackConfig]
    runner: StackRunner
    gates: Gates
    journal: Journal
    approve: frozenset[str] = frozenset()
    ask: Optional[Callable[[str], bool]] = None
    events: Callable[[dict[str, Any]], None] = lambda event: None
    sleep: Optional[Callable[[float], None]] = None
    """How the engine waits (lock backoff, bake); default: on ``stop``, so Ctrl-C cuts a wait short."""
    clock: Callable[[], float] = time.monotonic
    lock_retries: int = 5
    lock_backoff: float = 10.0
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        state = self.journal.data.setdefault("stacks", {})
        self._clusters: dict[str, list[str]] = {s: list(v.get("clusters", [])) for s, v in state.items()}
        self._drained: dict[str, list[str]] = {s: list(v.get("drained", [])) for s, v in state.items()}
        self._stack_locks: dict[str, threading.Lock] = {}
        self._state_lock = threading.Lock()
        self._failed = threading.Event()
        if self.sleep is None:
            self.sleep = self._wait_or_stop

    def _wait_or_stop(self, seconds: float) -> None:
        self.stop.wait(seconds)

    # ------------------------------------------------------------------ the run

    def run(self) -> Outcome:
        """Every wave in order; the journal says what was already done (resume)."""
        done = {t for t, phase in self.journal.data["targets"].items() if phase == "done"}
        for stack in dict.fromkeys(t.stack for wave in self.waves for t in wave):
            try:
                self.runner.check(stack)
            except Exception as exc:  # nothing has changed yet: say which stack and stop
                message = f"stack {stack} cannot be updated ({str(exc).splitlines()[-1] if str(exc) else exc}); nothing was changed"
                self._event("error", stack=stack, message=message)
                return Outcome("error", self.journal.id, message=message)
        self.journal.set(status="running", release=dict(self.spec.release.images))
        failed: list[str] = []
        for wave, targets in zip(self.spec.waves, self.waves):
            todo = [t for t in targets if str(t) not in done]
            if not todo:
                continue
            if wave.approval and wave.name not in self.approve:
                if self.ask is None or not self.ask(f"start wave {wave.name} ({', '.join(map(str, todo))})?"):
                    message = f"wave {wave.name} needs approval: run again with --resume {self.journal.id} --approve {wave.name}"
                    self._event("approval", wave=wave.name, message=message)
                    self.journal.set(status="awaiting-approval")
                    return Outcome("awaiting-approval", self.journal.id, message=message)
            self._event("wave", wave=wave.name, targets=[str(t) for t in todo])
            failed = self._wave(wave.name, todo, wave.max_parallel, seconds(wave.bake))
            if failed or self.stop.is_set():
                break
        if self.stop.is_set():
            self.journal.set(status="stopped")
            return Outcome("stopped", self.journal.id, failed, "stopped: the journal says what finished")
        if failed:
            if self.spec.on_failure == "rollback":
                unreverted = self._rollback()
                status = "rollback-failed" if unreverted else "rolled-back"
                self.journal.set(status=status)
                return Outcome(status, self.journal.id, failed,
                               f"rollback did not finish on {', '.join(unreverted)}: see the journal" if unreverted else "")
            self.journal.set(status="halted")
            return Outcome("halted", self.journal.id, failed,
                           f"halted: fix the cause, then --resume {self.journal.id}")
        for stack in dict.fromkeys(t.stack for wave in self.waves for t in wave):
            try:
                self._locked_up(stack, lambda s=stack: self.runner.finalize(s, self.spec.release.images), None, "finalize")
            except Exception as exc:  # every cluster runs the release; only the tidy-up is left
                self.journal.set(status="finalize-failed")
                return Outcome("finalize-failed", self.journal.id, [],
                               f"every target runs the release, but finalizing {stack} failed: {exc}")
        self.journal.set(status="completed")
        self._event("completed")
        return Outcome("completed", self.journal.id)

    def _wave(self, name: str, targets: list[Target], parallel: int, bake: int) -> list[str]:
        failed: list[str] = []
        pending = list(targets)
        running: dict[Future, Target] = {}
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            while pending or running:
                while pending and len(running) < parallel and not self._failed.is_set() and not self.stop.is_set():
                    target = pending.pop(0)
                    running[pool.submit(self._target, target, bake)] = target
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    target = running.pop(future)
                    error = future.exception()
                    if error is not None or future.result() is False:
                        failed.append(str(target))
                        self._failed.set()
                        if error is not None:
                            self.journal.step(target, "failed", error=str(error))
                            self._event("failed", target=str(target), error=str(error))
        return failed

    # ------------------------------------------------------------------ one target

    def _target(self, target: Target, bake: int) -> bool:
        self.journal.step(target, "started")
        stack = self.stacks[target.stack]
        if self.spec.drain:
            self._change(target, "drain", drained=True)
        self._change(target, "update", cluster=True)
        if not self._gates(target, stack, "gates"):
            return False
        deadline = self.clock() + bake
        interval = seconds(self.spec.gates.http.interval)
        while bake and self.clock() < deadline and not self.stop.is_set():
            assert self.sleep is not None
            self.sleep(min(interval, max(0.0, deadline - self.clock())))
            if not self._gates(target, stack, "bake"):
                return False
        if self.stop.is_set():
            return False
        if self.spec.drain:
            self._change(target, "restore", drained=False)
        self.journal.step(target, "done")
        self._event("done", target=str(target))
        return True

    def _gates(self, target: Target, stack: StackConfig, phase: str) -> bool:
        addresses = self.runner.addresses(target.stack).get(target.cluster, {})
        results = self.gates(stack, target, addresses, self.stop, phase == "bake")
        ok = all(r.ok for r in results)
        detail = "; ".join(r.detail for r in results)
        self.journal.step(target, phase, ok=ok, detail=detail)
        self._event(phase, target=str(target), ok=ok, detail=detail)
        if not ok:
            self.journal.step(target, "failed", error=f"{phase}: {detail}")
        return ok

    def _change(self, target: Target, phase: str, *, cluster: Optional[bool] = None, drained: Optional[bool] = None) -> None:
        """Move ``target`` in or out of the release / the drained clusters, write it, ``up`` its stack."""

        def write() -> None:
            with self._state_lock:
                for names, on in ((self._clusters, cluster), (self._drained, drained)):
                    if on is None:
                        continue
                    current = names.setdefault(target.stack, [])
                    if on and target.cluster not in current:
                        current.append(target.cluster)
                    if not on and target.cluster in current:
                        current.remove(target.cluster)
                value = self._value(target.stack)
                in_release = list(self._clusters.get(target.stack, []))
                without_traffic = list(self._drained.get(target.stack, []))
            self.journal.set_stack(target.stack, in_release, without_traffic)
            self.runner.set_release(target.stack, value)

        self._locked_up(target.stack, write, target, phase)

    def _value(self, stack: str) -> Optional[dict]:
        spec = self.stacks[stack].spec
        assert spec is not None
        return release_value(self.spec.release.images, spec, self._clusters.get(stack, []), self._drained.get(stack, []))

    def _locked_up(self, stack: str, write: Callable[[], None], target: Optional[Target], phase: str) -> None:
        """One config write and ``up`` at a time per stack; a stack locked by another update is
        retried with backoff (``lock_retries`` times), then reported."""
        with self._state_lock:
            lock = self._stack_locks.setdefault(stack, threading.Lock())
        with lock:
            write()
            self.journal.step(target, phase, stack=stack)
            self._event(phase, target=str(target) if target else stack)
            for attempt in range(self.lock_retries + 1):
                try:
                    self.runner.up(stack, self.stop)
                    break
                except StackLocked:
                    if attempt == self.lock_retries:
                        raise UpFailed(f"stack {stack} stayed locked by another update after {attempt + 1} tries "
                                       "(pulumi cancel clears a stale lock)") from None
                    wait_for = self.lock_backoff * 2 ** attempt
                    self._event("locked", stack=stack, retryIn=wait_for)
                    assert self.sleep is not None
                    self.sleep(wait_for)
            if self.stop.is_set():
                raise UpFailed(f"stopped during {phase} of {stack}")

    def _rollback(self) -> list[str]:
        """The previous images back (and traffic restored) on every target the release reached or
        drained, in reverse order, each through the same gates. Returns the targets it could not
        revert (it goes on past them)."""
        reached = {Target(s, c) for state in (self._clusters, self._drained) for s, names in state.items() for c in names}
        order = [t for wave in self.waves for t in wave]
        unreverted: list[str] = []
        for target in sorted(reached, key=lambda t: order.index(t) if t in order else -1, reverse=True):
            self._event("rollback", target=str(target))
            try:
                self._change(target, "rollback", cluster=False, drained=False)
                ok = self._gates(target, self.stacks[target.stack], "rollback-gates")
            except Exception as exc:
                self.journal.step(target, "failed", error=f"rollback: {exc}")
                ok = False
            self.journal.step(target, "rolled-back" if ok else "rollback-failed")
            if not ok:
                unreverted.append(str(target))
        return unreverted

    def _event(self, kind: str, **detail: Any) -> None:
        self.events({"event": kind, "at": time.time(), **detail})


def new_rollout_id() -> str:
    """A rollout's id: the UTC time and a random suffix (sortable, unique)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
