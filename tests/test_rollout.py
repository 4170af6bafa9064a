"""``fleetform rollout``: the rollout file's checks (exact messages), the dry run on the example
stacks, and the engine against an injected stack runner (wave order, the parallel bound, halt and
rollback, resume, approval, lock retries, Ctrl-C, drain and restore). The HTTP and Prometheus gates
are tested against a local server in tests/test_rollout_gates.py."""

from __future__ import annotations

import copy
import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from fleetform.cli import main
from fleetform.config import load_spec
from fleetform.rollout.engine import Engine, Journal, StackLocked, UpFailed
from fleetform.rollout.gates import GateResult
from fleetform.rollout.release import StackConfig, finalized, load_stacks, release_value, with_release
from fleetform.rollout.spec import RolloutError, Target, expand, parse_rollout, rollout_problems, seconds
from tests.conftest import ROOT, cluster, fleet, service

DIGEST = "@sha256:" + "cd" * 32


@pytest.fixture(scope="module")
def stacks() -> dict[str, StackConfig]:
    return load_stacks(ROOT / "stacks")


def problems(data: dict, stacks: dict[str, StackConfig]) -> list[str]:
    try:
        spec = parse_rollout(data)
    except RolloutError as exc:
        return exc.problems
    return rollout_problems(spec, {n: s.spec for n, s in stacks.items()})


def rollout(**kw: Any) -> dict:
    base: dict[str, Any] = {"release": {"images": {"web": "ghcr.io/acme/web:2.4.1"}},
                            "waves": [{"name": "canary", "targets": ["hybrid/hy-dc"]}]}
    base.update(kw)
    return base


# ------------------------------------------------------------------------------ the file

BAD = [
    (rollout(waves=[{"name": "w", "targets": ["nope"]}]),
     ["waves[0].targets[0]: got 'nope'; allowed: STACK or STACK/CLUSTER with a stack of this project: hybrid, local, "
      "onprem, prod-aws, prod-azure, prod-gcp, selfmanaged-aws, selfmanaged-azure, selfmanaged-gcp, staging-aws"]),
    (rollout(waves=[{"name": "w", "targets": ["hybrid/hy-xx"]}]),
     ["waves[0].targets[0]: got 'hybrid/hy-xx'; allowed: a cluster of stack hybrid: hy-aws, hy-gcp, hy-azure, hy-dc"]),
    (rollout(waves=[{"name": "a", "targets": ["hybrid/hy-dc"]}, {"name": "b", "targets": ["hybrid"]}]),
     ["waves[1].targets[0]: got 'hybrid'; allowed: a target in one wave only (hybrid/hy-dc is in waves[0] (a))"]),
    (rollout(release={"images": {"web": "ghcr.io/acme/web:latest"}}),
     ["release.images.web: got \"ghcr.io/acme/web:latest\"; allowed: a pinned image: a digest (@sha256:...) or a tag "
      "other than latest"]),
    (rollout(release={"images": {"api": "ghcr.io/acme/api:2.4.1"}}),
     ["waves[0].targets[0]: got 'hybrid/hy-dc'; allowed: a target that runs a service of the release (api; it runs web)"]),
    (rollout(release={"images": {"web": "ghcr.io/acme/web:2.4.1", "shop": "ghcr.io/acme/shop:1.0.0"}}),
     ["release.images.shop: got 'shop'; allowed: a service of the target stacks"]),
    (rollout(waves=[{"name": "w", "targets": ["hybrid/hy-dc"], "bake": "10 minutes"}]),
     ["waves[0].bake: got \"10 minutes\"; allowed: a duration such as 30s, 10m or 1h30m"]),
    (rollout(gates={"timeout": "soon"}), ["gates.timeout: got \"soon\"; allowed: a duration such as 30s, 10m or 1h30m"]),
    (rollout(waves=[{"name": "w", "targets": ["hybrid/hy-dc"], "maxParallel": 0}]),
     ["waves[0].maxParallel: got 0; allowed: a whole number >= 1"]),
    (rollout(waves=[{"name": "w", "targets": []}]), ["waves[0].targets: got []; allowed: at least 1 item(s)"]),
    (rollout(waves=[]), ["waves: got []; allowed: at least 1 item(s)"]),
    (rollout(onFailure="retry"), ["onFailure: got \"retry\"; allowed: one of halt, rollback"]),
    (rollout(waves=[{"name": "a", "targets": ["hybrid/hy-dc"]}, {"name": "a", "targets": ["hybrid/hy-aws"]}]),
     ["waves[1].name: got 'a'; allowed: a name no earlier wave has"]),
    (rollout(drain=True, waves=[{"name": "w", "targets": ["local"]}]),
     ["drain: got true; allowed: drain with a weighted fleetform:traffic entry for a service of the release on every "
      "cluster of each target (waves[0].targets[0] 'local': none on local); set drain: false or add traffic entries"]),
    (rollout(gates={"prometheus": {"url": "prometheus:9090", "query": "up", "max": 1}}),
     ["gates.prometheus.url: got \"prometheus:9090\"; allowed: an http:// or https:// URL"]),
    (rollout(extra=1), ["extra: unknown key; allowed keys: drain, gates, onFailure, release, waves"]),
]


@pytest.mark.parametrize("data, expected", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_rollout_files_get_one_line_each(data, expected, stacks):
    assert problems(data, stacks) == expected


def test_a_good_file_expands_stack_targets_to_their_clusters(stacks):
    data = rollout(waves=[{"name": "canary", "targets": ["hybrid/hy-dc"], "bake": "10m"},
                          {"name": "clouds", "targets": ["hybrid/hy-aws", "local"], "maxParallel": 2},
                          {"name": "rest", "targets": ["hybrid"], "approval": True}],
                   drain=False)
    # "hybrid" in the last wave would repeat hy-dc and hy-aws: refused, so list the rest.
    assert problems(data, stacks)[0].startswith("waves[2].targets[0]: got 'hybrid'; allowed: a target in one wave only")
    data["waves"][2]["targets"] = ["hybrid/hy-gcp", "hybrid/hy-azure"]
    spec = parse_rollout(data)
    assert rollout_problems(spec, {n: s.spec for n, s in stacks.items()}) == []
    waves = expand(spec, {n: s.spec for n, s in stacks.items() if s.spec})
    assert [[str(t) for t in w] for w in waves] == [["hybrid/hy-dc"], ["hybrid/hy-aws", "local/local"],
                                                   ["hybrid/hy-gcp", "hybrid/hy-azure"]]
    assert [seconds(w.bake) for w in spec.waves] == [600, 0, 0] and seconds("1h30m") == 5400


# ------------------------------------------------------------------------ release in config


def test_release_value_and_finalize_are_ordinary_config(stacks):
    hybrid = stacks["hybrid"]
    assert hybrid.spec is not None
    value = release_value({"web": "ghcr.io/acme/web:2.4.1", "shop": "x/shop:1"}, hybrid.spec, ["hy-gcp", "hy-dc"], ["hy-aws"])
    # Only the stack's own services; clusters in the stack's order.
    assert value == {"images": {"web": "ghcr.io/acme/web:2.4.1"}, "clusters": ["hy-gcp", "hy-dc"], "drained": ["hy-aws"]}
    spec = load_spec(with_release(hybrid.config, value))
    web = next(s for s in spec.services if s.name == "web")
    assert {c.name: spec.image_of(web, c) for c in spec.clusters} == {
        "hy-aws": web.image, "hy-gcp": "ghcr.io/acme/web:2.4.1", "hy-azure": web.image, "hy-dc": "ghcr.io/acme/web:2.4.1"}
    assert release_value({"web": "a:1"}, hybrid.spec, [], []) is None
    done = finalized(with_release(hybrid.config, value), {"web": "ghcr.io/acme/web:2.4.1"})
    assert "fleetform:release" not in done
    assert [s["image"] for s in done["fleetform:services"] if s["name"] == "web"] == ["ghcr.io/acme/web:2.4.1"]


def test_a_drained_cluster_gets_weight_zero_in_the_weighted_records():
    cfg = fleet([cluster("dc1", "existing", existing={"context": "a"}), cluster("dc2", "existing", existing={"context": "b"})],
                [service("web")],
                traffic=[{"service": "web", "hostname": "shop.example.com", "dns": {"provider": "route53", "zone": "example.com"},
                          "clusters": [{"name": "dc1", "address": "203.0.113.1", "weight": 5},
                                       {"name": "dc2", "address": "203.0.113.2"}]}])
    from fleetform.plan.engine import plan
    from fleetform.plan.mocks import plain

    def weights(config: dict) -> dict[str, int]:
        result = plan("probe", config=config)
        assert result.exit_code == 0, result.problems()
        return {r.name: plain(r.inputs, mask=False)["weightedRoutingPolicies"][0]["weight"]
                for r in result.capture.registrations if r.type == "aws:route53/record:Record"}

    assert weights(cfg) == {"shop.example.com-dc1": 5, "shop.example.com-dc2": 1}
    drained = with_release(cfg, {"images": {}, "clusters": [], "drained": ["dc1"]})
    assert weights(drained) == {"shop.example.com-dc1": 0, "shop.example.com-dc2": 1}


def test_release_problems_in_stack_config():
    cfg = fleet([cluster("dc1", "existing", existing={"context": "a"})], [service("web")],
                release={"images": {"web": "x/web:1", "nope": "x/n:1"}, "clusters": ["dc9"], "drained": ["dc1"]})
    from fleetform.config import FleetConfigError

    with pytest.raises(FleetConfigError) as exc:
        load_spec(cfg)
    assert exc.value.problems == [
        "fleetform:release.images.nope: got \"nope\"; allowed: a service of this stack: web",
        "fleetform:release.clusters[0]: got \"dc9\"; allowed: a cluster of this stack: dc1",
        "fleetform:release.drained[0]: got \"dc1\"; allowed: a cluster a weighted fleetform:traffic entry routes "
        "(draining sets its weight to 0)",
    ]


# ------------------------------------------------------------------------------ dry run


def test_dry_run_on_the_local_stack_end_to_end(tmp_path):
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump({"release": {"images": {"web": "ghcr.io/acme/web" + DIGEST}},
                                    "waves": [{"name": "all", "targets": ["local"]}]}))
    out, md = tmp_path / "dry.json", tmp_path / "dry.md"
    assert main(["rollout", str(path), "--dry-run", "--json", str(out), "--markdown", str(md)]) == 0
    report = json.loads(out.read_text())
    assert report["release"] == {"web": "ghcr.io/acme/web" + DIGEST}
    assert [w["name"] for w in report["waves"]] == ["all", "(finalize)"]
    assert report["waves"][0]["changes"] == [{"stack": "local", "cluster": "local", "type": "kubernetes:apps/v1:Deployment",
                                              "name": "local-web-deployment", "change": "update"}]
    # Finalizing (the images the services' own, the key gone) changes nothing the last wave did not.
    assert report["waves"][1]["changes"] == []
    assert report["summary"] == {"waves": 2, "changes": 1, "problems": [], "exitCode": 0}
    assert "| all | local/local | 1 Deployment |" in md.read_text()


def test_dry_run_exit_codes(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"release": {"images": {"web": "x/web:latest"}}, "waves": [{"name": "w", "targets": ["local"]}]}))
    assert main(["rollout", str(bad), "--dry-run"]) == 2
    assert "release.images.web" in capsys.readouterr().err
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"release": {"images": {"web": "x/web:2"}}, "waves": [{"name": "w", "targets": ["local"]}]}))
    from fleetform.rollout import dryrun

    real = dryrun.plan

    def failing_after_the_wave(stack, *, config=None):
        result = real(stack, config=config)
        if config and "fleetform:release" in config:
            result.schema_errors.append("Deployment local-web: spec.template: planted")
        return result

    monkeypatch.setattr(dryrun, "plan", failing_after_the_wave)
    assert main(["rollout", str(good), "--dry-run"]) == 1
    assert "local (after wave w): Deployment local-web: spec.template: planted" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the engine


class FakeRunner:
    """Records every config write and up; fails where told."""

    def __init__(self, *, fail_up: frozenset[str] = frozenset(), locked: int = 0, up_seconds: float = 0.0,
                 stop_during: Optional[str] = None, stop: Optional[threading.Event] = None):
        self.calls: list[tuple] = []
        self.values: dict[str, Optional[dict]] = {}
        self.fail_up, self.locked, self.up_seconds = set(fail_up), locked, up_seconds
        self.running = 0
        self.most = 0
        self.per_stack_most: dict[str, int] = {}
        self._in_stack: dict[str, int] = {}
        self._lock = threading.Lock()
        self.stop_during, self.stop = stop_during, stop
        self.missing: set[str] = set()

    def check(self, stack):
        if stack in self.missing:
            raise RuntimeError(f"no stack named '{stack}' found")

    def set_release(self, stack, value):
        with self._lock:
            self.values[stack] = copy.deepcopy(value)
            self.calls.append(("set", stack, copy.deepcopy(value)))

    def finalize(self, stack, images):
        with self._lock:
            self.values[stack] = None  # the images are the services' own now, the key gone
            self.calls.append(("finalize", stack, dict(images)))

    def up(self, stack, stop):
        with self._lock:
            if self.locked:
                self.locked -= 1
                self.calls.append(("locked", stack))
                raise StackLocked(stack)
            self.running += 1
            self._in_stack[stack] = self._in_stack.get(stack, 0) + 1
            self.most = max(self.most, self.running)
            self.per_stack_most[stack] = max(self.per_stack_most.get(stack, 0), self._in_stack[stack])
            self.calls.append(("up", stack, copy.deepcopy(self.values.get(stack))))
        try:
            if self.stop_during == stack and self.stop is not None:
                self.stop.set()
            time.sleep(self.up_seconds)
            clusters = set((self.values.get(stack) or {}).get("clusters", []))
            if clusters & self.fail_up:
                raise UpFailed(f"up of {stack} failed")
        finally:
            with self._lock:
                self.running -= 1
                self._in_stack[stack] -= 1

    def addresses(self, stack):
        return {"c1": {"web": "203.0.113.1"}}


def fake_gates(failing: set[str], calls: list[str], fail_on_call: Optional[dict[str, int]] = None,
               runner: Optional[FakeRunner] = None):
    """Gates that fail on the targets in ``failing`` while they run the release (the release is
    what is unhealthy there: with the old images back they pass), or on the n-th call of a target."""
    counts: dict[str, int] = {}

    def gates(stack, target, addresses, stop, baking=False):
        key = str(target)
        counts[key] = counts.get(key, 0) + 1
        calls.append(key)
        released = runner is None or target.cluster in ((runner.values.get(target.stack) or {}).get("clusters", []))
        bad = (key in failing and released) or (fail_on_call or {}).get(key) == counts[key]
        return [GateResult(ok=not bad, gate="http", detail=f"{key} {'unhealthy' if bad else 'healthy'}", per_target={})]

    return gates


def two_stacks() -> dict[str, StackConfig]:
    """Two stacks of existing clusters (fast to validate), each running web."""
    out = {}
    for name, clusters in (("s1", ["a", "b", "c"]), ("s2", ["d", "e"])):
        cfg = fleet([cluster(c, "existing", existing={"context": c}) for c in clusters], [service("web")])
        if name == "s1":
            cfg["fleetform:traffic"] = [{"service": "web", "hostname": "w.example.com",
                                         "dns": {"provider": "route53", "zone": "example.com"},
                                         "clusters": [{"name": c, "address": f"203.0.113.{i + 1}"}
                                                      for i, c in enumerate(clusters)]}]
        out[name] = StackConfig(name, Path(f"Pulumi.{name}.yaml"), cfg, load_spec(cfg))
    return out


def engine(tmp_path, waves: list[dict], runner: FakeRunner, gate_calls: list[str], *, failing: set[str] = set(),
           fail_on_call=None, journal: Optional[Journal] = None, **kw) -> Engine:
    stacks = two_stacks()
    data = {"release": {"images": {"web": "x/web:2"}}, "waves": waves, **kw.pop("file", {})}
    spec = parse_rollout(data)
    assert rollout_problems(spec, {n: s.spec for n, s in stacks.items()}) == []
    sleeps: list[float] = kw.pop("sleeps", [])
    return Engine(spec, expand(spec, {n: s.spec for n, s in stacks.items() if s.spec is not None}), stacks, runner,
                  fake_gates(set(failing), gate_calls, fail_on_call, runner), journal or Journal(tmp_path, "r1"),
                  sleep=sleeps.append, **kw)


def ups(runner: FakeRunner) -> list[tuple[str, list[str]]]:
    return [(c[1], (c[2] or {}).get("clusters", [])) for c in runner.calls if c[0] == "up"]


def test_waves_run_in_order_and_finalize_after_the_last(tmp_path):
    runner, gates = FakeRunner(), []
    outcome = engine(tmp_path, [{"name": "one", "targets": ["s1/a"]}, {"name": "two", "targets": ["s2", "s1/b"]},
                                {"name": "three", "targets": ["s1/c"]}], runner, gates).run()
    assert outcome.status == "completed" and outcome.exit_code == 0
    assert ups(runner) == [("s1", ["a"]), ("s2", ["d"]), ("s2", ["d", "e"]), ("s1", ["a", "b"]), ("s1", ["a", "b", "c"]),
                           # finalized: the images the services' own, the key gone, each stack updated once more
                           ("s1", []), ("s2", [])]
    assert gates == ["s1/a", "s2/d", "s2/e", "s1/b", "s1/c"]
    assert [c for c in runner.calls if c[0] == "finalize"] == [("finalize", "s1", {"web": "x/web:2"}),
                                                              ("finalize", "s2", {"web": "x/web:2"})]
    journal = json.loads((tmp_path / "r1.json").read_text())
    assert journal["status"] == "completed" and set(journal["targets"].values()) == {"done"}


def test_parallel_bound_and_one_update_per_stack_at_a_time(tmp_path):
    runner, gates = FakeRunner(up_seconds=0.05), []
    engine(tmp_path, [{"name": "all", "targets": ["s1", "s2"], "maxParallel": 2}], runner, gates).run()
    assert runner.most == 2  # two at once, never three
    assert runner.per_stack_most == {"s1": 1, "s2": 1}  # a stack's updates never overlap
    runner1 = FakeRunner(up_seconds=0.02)
    engine(tmp_path, [{"name": "all", "targets": ["s1", "s2"], "maxParallel": 1}], runner1, []).run()
    assert runner1.most == 1


def test_halt_stops_new_targets_and_leaves_the_rest(tmp_path):
    runner, gates = FakeRunner(), []
    outcome = engine(tmp_path, [{"name": "one", "targets": ["s1/a"]}, {"name": "two", "targets": ["s1/b", "s1/c"]},
                                {"name": "three", "targets": ["s2"]}], runner, gates, failing={"s1/b"}).run()
    assert outcome.status == "halted" and outcome.failed == ["s1/b"] and outcome.exit_code == 1
    assert ups(runner) == [("s1", ["a"]), ("s1", ["a", "b"])]  # c and s2 never started
    assert "--resume r1" in outcome.message
    assert not [c for c in runner.calls if c[0] == "finalize"]


def test_rollback_reverts_exactly_the_changed_targets_in_reverse_order(tmp_path):
    runner, gates = FakeRunner(), []
    outcome = engine(tmp_path, [{"name": "one", "targets": ["s1/a", "s2/d"], "maxParallel": 1},
                                {"name": "two", "targets": ["s1/b"]}, {"name": "three", "targets": ["s1/c"]}],
                     runner, gates, failing={"s1/b"}, file={"onFailure": "rollback"}).run()
    assert outcome.status == "rolled-back"
    assert ups(runner) == [("s1", ["a"]), ("s2", ["d"]), ("s1", ["a", "b"]),
                           # reverse order: b (the failed one was changed too), then d, then a
                           ("s1", ["a"]), ("s2", []), ("s1", [])]
    assert gates[-3:] == ["s1/b", "s2/d", "s1/a"]  # the same gates after each revert
    journal = json.loads((tmp_path / "r1.json").read_text())
    assert journal["targets"] == {"s1/a": "rolled-back", "s2/d": "rolled-back", "s1/b": "rolled-back"}
    assert journal["stacks"] == {"s1": {"clusters": [], "drained": []}, "s2": {"clusters": [], "drained": []}}


def test_a_rollback_whose_gates_fail_is_reported_not_hidden(tmp_path):
    runner, gates = FakeRunner(), []
    outcome = engine(tmp_path, [{"name": "one", "targets": ["s1/a"]}, {"name": "two", "targets": ["s1/b"]}],
                     runner, gates, fail_on_call={"s1/b": 1, "s1/a": 2}, file={"onFailure": "rollback"}).run()
    # b failed its gates; a's gates fail again after its revert: reported, and b was still reverted
    assert outcome.status == "rollback-failed" and outcome.exit_code == 1 and "s1/a" in outcome.message
    journal = json.loads((tmp_path / "r1.json").read_text())
    assert journal["targets"] == {"s1/a": "rollback-failed", "s1/b": "rolled-back"}


def test_a_target_that_failed_while_drained_gets_its_traffic_back(tmp_path):
    runner = FakeRunner(fail_up=frozenset({"a"}))  # the update itself fails, after the drain
    outcome = engine(tmp_path, [{"name": "one", "targets": ["s1/a"]}], runner, [],
                     file={"onFailure": "rollback", "drain": True}).run()
    assert outcome.status == "rolled-back"
    assert runner.values["s1"] is None  # neither in the release nor drained any more


def test_a_stack_missing_from_the_backend_stops_before_anything_changes(tmp_path):
    runner = FakeRunner()
    runner.missing = {"s2"}
    outcome = engine(tmp_path, [{"name": "one", "targets": ["s1/a"]}, {"name": "two", "targets": ["s2"]}], runner, []).run()
    assert outcome.status == "error" and "stack s2 cannot be updated" in outcome.message
    assert runner.calls == []


def test_resume_after_a_halt_redoes_no_finished_target(tmp_path):
    waves = [{"name": "one", "targets": ["s1/a"]}, {"name": "two", "targets": ["s1/b", "s2/d"]}]
    first = FakeRunner()
    assert engine(tmp_path, waves, first, [], failing={"s1/b"}).run().status == "halted"
    again = FakeRunner()
    gates: list[str] = []
    outcome = engine(tmp_path, waves, again, gates, journal=Journal.open(tmp_path, "r1")).run()
    assert outcome.status == "completed"
    # a is not updated again; b is retried (its release value already holds a), then d; then finalized.
    assert ups(again) == [("s1", ["a", "b"]), ("s2", ["d"]), ("s1", []), ("s2", [])]
    assert gates == ["s1/b", "s2/d"]
    # Resuming a completed rollout is a no-op apart from finalizing again (idempotent).
    third = FakeRunner()
    assert engine(tmp_path, waves, third, [], journal=Journal.open(tmp_path, "r1")).run().status == "completed"
    assert ups(third) == [("s1", []), ("s2", [])]


def test_bake_rechecks_the_gates_and_fails_on_a_flap(tmp_path):
    runner, gates = FakeRunner(), []
    clock = iter(range(0, 10_000, 5))
    outcome = engine(tmp_path, [{"name": "one", "targets": ["s1/a"], "bake": "20s"}], runner, gates,
                     fail_on_call={"s1/a": 3}, clock=lambda: float(next(clock))).run()
    assert outcome.status == "halted" and gates == ["s1/a", "s1/a", "s1/a"]


def test_approval(tmp_path):
    waves = [{"name": "one", "targets": ["s1/a"]}, {"name": "two", "targets": ["s1/b"], "approval": True}]
    runner = FakeRunner()
    outcome = engine(tmp_path, waves, runner, []).run()  # CI: nobody to ask
    assert outcome.status == "awaiting-approval" and "--approve two" in outcome.message
    assert ups(runner) == [("s1", ["a"])]
    asked: list[str] = []
    runner2 = FakeRunner()
    outcome = engine(tmp_path, waves, runner2, [], journal=Journal.open(tmp_path, "r1"),
                     ask=lambda q: asked.append(q) or True).run()
    assert outcome.status == "completed" and asked and ups(runner2) == [("s1", ["a", "b"]), ("s1", [])]
    runner3 = FakeRunner()
    assert engine(tmp_path / "x", waves, runner3, [], approve=frozenset({"two"})).run().status == "completed"


def test_a_locked_stack_is_retried_with_backoff_then_reported(tmp_path):
    sleeps: list[float] = []
    runner = FakeRunner(locked=2)
    assert engine(tmp_path, [{"name": "one", "targets": ["s1/a"]}], runner, [], sleeps=sleeps).run().status == "completed"
    assert sleeps == [10.0, 20.0]
    stuck = FakeRunner(locked=100)
    outcome = engine(tmp_path / "y", [{"name": "one", "targets": ["s1/a"]}], stuck, [], sleeps=[], lock_retries=3).run()
    assert outcome.status == "halted"
    journal = json.loads((tmp_path / "y" / "r1.json").read_text())
    assert "stayed locked by another update after 4 tries" in journal["steps"][-1]["error"]


def test_ctrl_c_stops_cleanly_and_writes_the_journal(tmp_path):
    stop = threading.Event()
    runner = FakeRunner(stop_during="s2", stop=stop)
    outcome = engine(tmp_path, [{"name": "one", "targets": ["s1/a"]}, {"name": "two", "targets": ["s2/d", "s1/b"]}],
                     runner, [], stop=stop).run()
    assert outcome.status == "stopped" and outcome.exit_code == 130
    assert ups(runner) == [("s1", ["a"]), ("s2", ["d"])]  # nothing started after the stop
    journal = json.loads((tmp_path / "r1.json").read_text())
    assert journal["status"] == "stopped" and journal["targets"]["s1/a"] == "done"


def test_drain_then_update_then_restore(tmp_path):
    runner, gates = FakeRunner(), []
    outcome = engine(tmp_path, [{"name": "one", "targets": ["s1/a"]}], runner, gates, file={"drain": True}).run()
    assert outcome.status == "completed"
    assert [(c[1], c[2]["clusters"], c[2]["drained"]) for c in runner.calls if c[0] == "up" and c[2]] == [
        ("s1", [], ["a"]),      # drained first: weight 0 before anything changes
        ("s1", ["a"], ["a"]),   # then updated while drained
        ("s1", ["a"], []),      # traffic back after its gates
    ]


# ------------------------------------------------------------------------------ real CLI


@pytest.mark.skipif(shutil.which("pulumi") is None, reason="the Pulumi CLI is not installed here (no pulumi on PATH): "
                    "a real rollout runs pulumi up on the local stack")
def test_real_rollout_on_the_local_stack(tmp_path):  # pragma: no cover (needs the CLI and a cluster)
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump({"release": {"images": {"web": "ghcr.io/traefik/whoami:v1.11.0"}},
                                    "waves": [{"name": "all", "targets": ["local"]}], "gates": {"timeout": "5m"}}))
    assert main(["rollout", str(path), "--journal-dir", str(tmp_path / "j")]) == 0


def test_ctrl_c_in_the_command_reaches_the_running_targets(tmp_path, monkeypatch):
    """A real SIGINT while a target updates: the handler sets the engine's stop, so no bake runs on
    and no restore update starts after it (the interrupt must not wait for the workers)."""
    import os
    import signal as sig

    from rich.console import Console

    from fleetform.rollout import run as run_module
    from fleetform.rollout.run import run_rollout

    monkeypatch.setattr(run_module, "service_gates", lambda spec: fake_gates(set(), []))  # healthy
    stacks = two_stacks()
    spec = parse_rollout({"release": {"images": {"web": "x/web:2"}}, "drain": True,
                          "waves": [{"name": "one", "targets": ["s1/a"], "bake": "1h"}, {"name": "two", "targets": ["s2"]}],
                          "gates": {"http": {"interval": "1s"}}})
    runner = FakeRunner(up_seconds=0.2)
    threading.Timer(1.0, lambda: os.kill(os.getpid(), sig.SIGINT)).start()
    start = time.monotonic()
    outcome = run_rollout(spec, expand(spec, {n: s.spec for n, s in stacks.items() if s.spec}), stacks, work_dir=tmp_path,
                          journal_dir=tmp_path, resume=None, approve=frozenset(), console=Console(file=open(os.devnull, "w")),
                          runner=runner)
    assert outcome.status == "stopped" and time.monotonic() - start < 10
    # drained, updated, then baking when the signal came: no restore, nothing of wave two
    assert [(c[1], c[2]["clusters"], c[2]["drained"]) for c in runner.calls if c[0] == "up"] == [
        ("s1", [], ["a"]), ("s1", ["a"], ["a"])]
    assert sig.getsignal(sig.SIGINT) is sig.default_int_handler  # the handler is put back
