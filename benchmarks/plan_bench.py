"""Benchmark `fleetform plan` against a floor, measured in one run.

For 1, 10 and 40 services on the local stack it measures, each in a fresh process, the wall
time and peak memory (max RSS) of:

- plan:  `fleetform plan <stack>` (the whole command: program under mocks, schema validation,
  policies, terminal report);
- floor: a program that imports the same SDK classes, registers the same resources flat (same
  types, same inputs) under trivial mocks, and validates the same manifests once.

and prints the ratios plan/floor, plus the growth from 10 to 40 services. Targets (issue 2, with
the floor decided in issue 12): plan <= 1.25x the *typed floor* (below) at 1, 10 and 40 services,
judged on instruction counts (``--only instructions``); memory <= 1.25x floor;
time(40) / time(10) <= 4.4. Wall-time ratios are printed as information.

The floor gets the same process handling as the ``fleetform`` console script (collector paused
during the SDK imports, then their heap frozen and no more full collections; hard exit once
done) and mocks that return no outputs at all, so it stays a lower bound of the plan's work.
Runs are interleaved (each round runs every program once, in a shuffled order) and the time
ratio is the median of each round's plan/floor ratio, so drift in the machine's speed hits both
sides of a ratio alike. A reference row, the *typed floor* (the floor registering each resource
through its provider SDK class, as the program does, instead of the generic
``pulumi.CustomResource``), shows how much of the plan's time those classes take. A last block
times the imports the plan has and the floor does not (pydantic, rich, the components, the
policy pack), a lower bound of the plan's fixed cost over the floor.

It also measures (issue 3) each example single-cloud stack and the hybrid stack against its own
floor, and the SDK import time of one cloud's cluster module against all three clouds' modules.

Wall time on a shared machine swings (here +-15 % per run, +-30 % per single process), so
``--only instructions`` counts, for the same three programs and fleet sizes, the machine
instructions each process executes (valgrind's callgrind, hash seed fixed): the same count on every
run, so its ratios are the ones to compare changes and machines by. It is opt-in (callgrind runs a
program ~60x slower; ~8 minutes on 2 cores) and needs ``valgrind`` on the PATH. Instructions leave
out what a wall clock also sees (cache misses, waiting on the SDK's executor threads), so they
complement the timed ratios and do not replace them.

Usage: python benchmarks/plan_bench.py [--repeat N] [--only services|stacks|imports|instructions]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FLEETFORM = [sys.executable, "-m", "fleetform.cli", "plan"]

FLOOR = r'''
# The same process handling as `fleetform` (fleetform.cli.run): the collector sleeps through the
# SDK imports, their heap is frozen, no full collection afterwards; a hard exit once it is done.
import gc
gc.disable()
import importlib, json, os, sys
import pulumi
from pulumi.runtime.stack import wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await
from fleetform.plan.schema import schema_errors

doc = json.load(open(sys.argv[1]))
# Import the SDK class of every resource type the plan registered (kubernetes:apps/v1:Deployment
# -> pulumi_kubernetes.apps.v1.Deployment), as the program does.
for t in sorted({r["type"] for r in doc["resources"] if r["custom"]}):
    pkg, mod, cls = t.split(":")
    if pkg == "pulumi":  # pulumi:providers:<package>
        importlib.import_module("pulumi_" + cls.replace("-", "_")).Provider
        continue
    top = "pulumi_" + pkg.replace("-", "_")
    if pkg == "kubernetes":
        name = f"{top}.{mod.split('/')[0].split('.')[0]}.{mod.split('/')[1]}"
    else:
        group = mod.split("/")[0]
        name = top if group == "index" else f"{top}.{group}"
    getattr(importlib.import_module(name), cls)
gc.freeze()
gc.set_threshold(*gc.get_threshold()[:2], 1_000_000)  # fleetform.cli.NO_FULL_COLLECTIONS
gc.enable()

class Trivial(pulumi.runtime.Mocks):
    registered = 0
    def new_resource(self, args):  # no outputs at all: the SDK resolves them from the inputs
        Trivial.registered += 1
        return args.name + "-id", {}
    def call(self, args):
        return {}

pulumi.runtime.set_mocks(Trivial(), project="fleetform", stack="floor", preview=False)
for r in doc["resources"]:
    if r["custom"]:
        pulumi.CustomResource(r["type"], r["name"], dict(r["inputs"]))
    else:
        pulumi.ComponentResource(r["type"], r["name"])
_sync_await(wait_for_rpcs())
bad = sum(len(schema_errors(m["object"], m["kubernetesVersion"])) for m in doc["manifests"])
assert bad == 0, bad
print(Trivial.registered, len(doc["manifests"]))
sys.stdout.flush()
os._exit(0)
'''


TYPED_FLOOR = FLOOR.replace(
    'getattr(importlib.import_module(name), cls)',
    'CLASSES[t] = getattr(importlib.import_module(name), cls)',
).replace(
    'importlib.import_module("pulumi_" + cls.replace("-", "_")).Provider',
    'CLASSES[t] = importlib.import_module("pulumi_" + cls.replace("-", "_")).Provider',
).replace(
    "doc = json.load(open(sys.argv[1]))",
    "doc = json.load(open(sys.argv[1]))\nCLASSES = {}",
).replace(
    'pulumi.CustomResource(r["type"], r["name"], dict(r["inputs"]))',
    # The SDK classes take their Python names (camelCase -> snake_case); apiVersion/kind are
    # fixed by a Kubernetes class itself.
    'CLASSES[r["type"]](r["name"], **{re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v for k, v in r["inputs"].items()'
    ' if not (r["type"].startswith("kubernetes:") and k in ("apiVersion", "kind"))})',
).replace("import importlib, json, os, sys", "import importlib, json, os, re, sys")
assert TYPED_FLOOR.count("CLASSES[") == 3 and " re, " in TYPED_FLOOR, "FLOOR changed: update TYPED_FLOOR"

FIXED = [
    # What the plan imports beyond the floor's own imports, in the order the CLI meets them.
    ("pydantic and the config models", ["fleetform.config"]),
    ("rich (terminal report)", ["rich.console", "rich.text", "rich.tree"]),
    ("the program's components", ["fleetform.fleet"]),
    ("plan engine, report, CLI", ["fleetform.plan.engine", "fleetform.plan.render", "fleetform.cli"]),
    ("policy pack", ["fleetform_policies.rules", "pulumi_policy.proxy"]),
]
"""Import groups of the plan that the floor does not have."""

BUDGET = FLOOR.split("gc.freeze()")[0] + r'''
# After the floor's own imports (same process handling): time each import group the plan adds.
import time
spent, preloaded = {}, []
for group, modules in %r:
    preloaded += [m for m in modules if m in sys.modules]
    start = time.perf_counter()
    for module in modules:
        importlib.import_module(module)
    spent[group] = time.perf_counter() - start
print(json.dumps({"spent": spent, "preloaded": preloaded}))
sys.stdout.flush()
os._exit(0)
''' % (FIXED,)


def fixed_costs(doc: Path, env: dict[str, str], repeat: int) -> dict[str, float]:
    """Median seconds of each :data:`FIXED` import group, each run a fresh process that first
    imports what the floor imports for ``doc``."""
    samples: dict[str, list[float]] = {group: [] for group, _ in FIXED}
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", BUDGET, str(doc)], cwd=ROOT, env=env, check=True,
                             capture_output=True, text=True)
        report = json.loads(out.stdout)
        if report["preloaded"]:  # the floor loads them too: their time would not be measured
            raise SystemExit(f"FIXED lists modules the floor imports itself: {report['preloaded']}")
        for group, secs in report["spent"].items():
            samples[group].append(secs)
    return {group: statistics.median(values) for group, values in samples.items()}


def stack_with(n: int) -> dict:
    base = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())["config"]
    template = base["fleetform:services"][0]
    services = []
    for i in range(n):
        svc = dict(template, name=f"svc{i:03d}")
        svc.pop("egress", None)
        svc["expose"] = ("public", "internal", "cluster")[i % 3]
        services.append(svc)
    base["fleetform:services"] = services
    # Internal services need private load-balancer addresses: a MetalLB internal pool.
    for cluster in base["fleetform:clusters"]:
        cluster["loadBalancer"] = {"provider": "metallb", "publicPool": "public", "internalPool": "private"}
    return {"config": base}


def measure(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        raise SystemExit(f"{cmd} failed ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss


def rounds(commands: dict[str, list[str]], env: dict[str, str], repeat: int,
           ok: tuple[int, ...] = (0,)) -> dict[str, list[tuple[float, int]]]:
    """``repeat`` rounds, each running every command once in a fresh process, in an order shuffled
    per round (seeded): whatever favours the first or last run of a round favours no command."""
    runs: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    order = list(commands)
    shuffle = random.Random(20261128).shuffle
    for _ in range(repeat):
        shuffle(order)
        for name in order:
            runs[name].append(measure(commands[name], env, ok=ok))
    return runs


def paired(runs: dict[str, list[tuple[float, int]]], name: str, base: str = "floor") -> float:
    """Median over rounds of this round's time of ``name`` / this round's time of ``base``."""
    return statistics.median(a[0] / b[0] for a, b in zip(runs[name], runs[base]))


def seconds(runs: dict[str, list[tuple[float, int]]], name: str) -> float:
    return statistics.median(t for t, _ in runs[name])


def peak(runs: dict[str, list[tuple[float, int]]], name: str) -> int:
    return max(m for _, m in runs[name])


def compare(stack: str, doc: Path, env: dict[str, str], repeat: int) -> tuple[float, float, float, int, int]:
    """Median plan and floor seconds, paired time ratio and peak RSS KiB for one stack."""
    subprocess.run(FLEETFORM + [stack, "--json", str(doc)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    runs = rounds({"plan": FLEETFORM + [stack], "floor": [sys.executable, "-c", FLOOR, str(doc)]}, env, repeat, ok=(0, 1))
    return seconds(runs, "plan"), seconds(runs, "floor"), paired(runs, "plan"), peak(runs, "plan"), peak(runs, "floor")


def stacks_section(env: dict[str, str], repeat: int) -> None:
    print("\nexample stacks (plan vs floor):")
    print(f"{'stack':>12} {'plan s':>7} {'floor s':>7} {'time x':>6} {'plan MiB':>8} {'floor MiB':>9} {'mem x':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for stack in ("local", "staging-aws", "prod-gcp", "prod-azure", "hybrid"):
            p_t, f_t, ratio, p_m, f_m = compare(stack, Path(tmp) / f"{stack}.json", env, repeat)
            print(f"{stack:>12} {p_t:>7.2f} {f_t:>7.2f} {ratio:>6.2f} {p_m / 1024:>8.0f} {f_m / 1024:>9.0f} {p_m / f_m:>6.2f}")


CLOUD_SDKS = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native")
LOADED = """
import json, sys
from fleetform.plan.engine import plan
plan(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)))
""" % (CLOUD_SDKS,)


def imports_section(env: dict[str, str], repeat: int) -> None:
    """SDK modules each one-cloud stack's plan really loads, timed on their own in a fresh process,
    against the union of all three clouds' (what an eager import of every cloud would cost)."""
    print("\nCloud SDK modules a one-cloud plan loads (fresh process, median import time):")
    loaded: dict[str, list[str]] = {}
    for stack in ("staging-aws", "prod-gcp", "prod-azure"):
        out = subprocess.run([sys.executable, "-c", LOADED, stack], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
        loaded[stack] = json.loads(out.stdout.strip().splitlines()[-1])
    union = sorted({m for mods in loaded.values() for m in mods})

    def import_time(modules: list[str]) -> float:
        code = "import importlib, sys\nfor m in sys.argv[1:]: importlib.import_module(m)"
        base = statistics.median(measure([sys.executable, "-c", "import pulumi"], env)[0] for _ in range(repeat))
        return statistics.median(measure([sys.executable, "-c", code, *modules], env)[0] for _ in range(repeat)) - base

    every = import_time(union)
    for stack, mods in loaded.items():
        clouds = sorted({m.split(".")[0] for m in mods})
        secs = import_time(mods)
        print(f"{stack:>12}: {len(mods):>4} modules of {', '.join(clouds)}; {secs:5.2f} s "
              f"({secs / every:.2f} of all three clouds' {len(union)} modules, {every:.2f} s)")


COLLECTED = re.compile(r"^==\d+== Collected : (\d+)$", re.M)


def instructions(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> int:
    """Machine instructions one fresh process runs (callgrind's "Collected" count of ``cmd``),
    with the hash seed fixed so that set and dict orders, hence the work, are the same each time."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "valgrind.log"
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", f"--log-file={log}", *cmd],
            cwd=ROOT, env=dict(env, PYTHONHASHSEED="0"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        text = log.read_text() if log.exists() else ""
        found = COLLECTED.findall(text)
        if proc.returncode not in ok or len(found) != 1:
            raise SystemExit(f"{cmd[:4]} under valgrind failed ({proc.returncode}): {(proc.stderr + text)[-2000:]}")
        return int(found[0])


def instructions_section(env: dict[str, str]) -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("--only instructions needs valgrind on the PATH (Debian: apt-get install valgrind)")
    print("\ninstructions executed (valgrind callgrind, one run each; deterministic):")
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {n: programs(*prepare(n, Path(tmp), env)) for n in (1, 10, 40)}
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = {(n, name): pool.submit(instructions, cmd, env) for n, cmds in jobs.items() for name, cmd in cmds.items()}
            got = {key: future.result() for key, future in counts.items()}
    print(f"{'services':>8} {'plan G':>7} {'floor G':>8} {'typed G':>8} {'plan/floor':>10} {'plan/typed':>10} {'typed/floor':>11}")
    for n in jobs:
        p, f, t = (got[(n, name)] for name in ("plan", "floor", "typed floor"))
        print(f"{n:>8} {p / 1e9:>7.2f} {f / 1e9:>8.2f} {t / 1e9:>8.2f} {p / f:>10.2f} {p / t:>10.2f} {t / f:>11.2f}")
    per = {name: (got[(40, name)] - got[(10, name)]) / (30 * 1e6) for name in ("plan", "floor", "typed floor")}
    print("per added service (10 -> 40), million instructions: " + ", ".join(f"{k} {v:.0f}" for k, v in per.items()))
    worst = max(got[(n, "plan")] / got[(n, "typed floor")] for n in jobs)
    print(f"verdict (the target): plan <= 1.25x typed floor in instructions at 1, 10 and 40 services: worst "
          f"{worst:.2f}x -> {'met' if worst <= 1.25 else 'NOT met'}")


SOURCES = ("components/fleetform",)
"""The project's own packages (the plan's code; the floor uses ``fleetform.plan.schema``)."""


def compile_sources() -> None:
    """Write the bytecode of the project's own modules, as installing the package does (pip
    compiles at install; an editable install writes it on first import). Where
    ``PYTHONDONTWRITEBYTECODE`` is set (as on the development machines) no run would write it, and
    every run would compile the plan's sources again (~27 ms), which no installed fleetform pays."""
    for package in SOURCES:
        if not compileall.compile_dir(ROOT / package, quiet=1):
            raise SystemExit(f"cannot compile {package}/")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement; the median is reported")
    parser.add_argument("--only", choices=("services", "stacks", "imports", "instructions"),
                        help="one section; 'instructions' (valgrind, ~8 min) runs only when asked for")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "components"))
    compile_sources()
    if args.only in (None, "services"):
        services_section(env, args.repeat)
    if args.only in (None, "stacks"):
        stacks_section(env, args.repeat)
    if args.only in (None, "imports"):
        imports_section(env, args.repeat)
    if args.only == "instructions":
        instructions_section(env)


def prepare(n: int, tmp: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """The local stack with ``n`` services, and its plan's JSON (the floors' input)."""
    stack = tmp / f"Pulumi.bench{n}.yaml"
    stack.write_text(yaml.safe_dump(stack_with(n)))
    doc = tmp / f"bench{n}.json"
    subprocess.run(FLEETFORM + [str(stack), "--json", str(doc)], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return stack, doc


def programs(stack: Path, doc: Path) -> dict[str, list[str]]:
    """The plan of ``stack`` and the two floors fed with its JSON ``doc``."""
    return {
        "plan": FLEETFORM + [str(stack)],
        "floor": [sys.executable, "-c", FLOOR, str(doc)],
        "typed floor": [sys.executable, "-c", TYPED_FLOOR, str(doc)],
    }


def services_section(env: dict[str, str], repeat: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 10, 40):
            stack, doc = prepare(n, Path(tmp), env)
            runs = rounds(programs(stack, doc), env, repeat)
            resources = len(json.loads(doc.read_text())["resources"])
            rows.append((n, resources, runs))
            if n == 1:
                fixed = fixed_costs(doc, env, repeat)
    print(f"{'services':>8} {'resources':>9} {'plan s':>7} {'floor s':>7} {'time x':>6} {'plan MiB':>8} {'floor MiB':>9} {'mem x':>6}")
    for n, res, runs in rows:
        p_m, f_m = peak(runs, "plan"), peak(runs, "floor")
        print(f"{n:>8} {res:>9} {seconds(runs, 'plan'):>7.2f} {seconds(runs, 'floor'):>7.2f} {paired(runs, 'plan'):>6.2f} "
              f"{p_m / 1024:>8.0f} {f_m / 1024:>9.0f} {p_m / f_m:>6.2f}")
    print("reference: the floor registering through the provider SDKs' typed classes (time, paired):")
    for n, _, runs in rows:
        print(f"{n:>8} services: typed floor {paired(runs, 'typed floor'):.2f}x floor; "
              f"plan {paired(runs, 'plan', 'typed floor'):.2f}x typed floor")
    t10, t40 = (seconds(runs, "plan") for n, _, runs in rows if n in (10, 40))
    f10, f40 = (seconds(runs, "floor") for n, _, runs in rows if n in (10, 40))
    worst = max(paired(runs, "plan") for _, _, runs in rows)
    worst_mem = max(peak(runs, "plan") / peak(runs, "floor") for _, _, runs in rows)
    print(f"growth 10 -> 40 services: plan {t40 / t10:.2f}x, floor {f40 / f10:.2f}x (target <= 4.4x)")
    worst_typed = max(paired(runs, "plan", "typed floor") for _, _, runs in rows)
    print(f"worst plan/floor ratio: time {worst:.2f}x (information), memory {worst_mem:.2f}x (target <= 1.25x: "
          f"{'met' if worst_mem <= 1.25 else 'NOT met'})")
    print(f"worst plan/typed floor time ratio: {worst_typed:.2f}x (information; the 1.25x target is judged on "
          "instruction counts: --only instructions)")
    floor1 = seconds(rows[0][2], "floor")
    print(f"imports the plan has and the floor does not (after the floor's own imports; median of {repeat}"
          f" fresh processes; share of the {floor1:.2f} s 1-service floor):")
    for group, secs in fixed.items():
        print(f"  {group:<32} {secs * 1000:5.0f} ms {secs / floor1:6.0%}")
    total = sum(fixed.values())
    print(f"  {'together':<32} {total * 1000:5.0f} ms {total / floor1:6.0%}: the 1-service plan, which also does "
          f"all the floor does, cannot come under about {1 + total / floor1:.2f}x the floor")


if __name__ == "__main__":  # noqa: E305
    main()
