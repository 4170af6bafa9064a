"""The benchmark's reference programs (benchmarks/plan_bench.py) do what they claim on a real plan:
register every resource of the plan's JSON (generic and through the SDK classes) and validate
every manifest. The numbers themselves are the script's output, never asserted here."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("plan_bench", ROOT / "benchmarks" / "plan_bench.py")
assert spec and spec.loader
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


@pytest.fixture(scope="module")
def plan_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "local.json"
    proc = subprocess.run([sys.executable, "-m", "fleetform.cli", "plan", "local", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT / "components")))
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.parametrize("program", ["FLOOR", "TYPED_FLOOR"])
def test_floor_programs_register_every_resource_and_validate_every_manifest(plan_json, program):
    """The count printed is what reached the floor's mocks, not the length of the JSON list."""
    doc = json.loads(plan_json.read_text())
    proc = subprocess.run([sys.executable, "-c", getattr(bench, program), str(plan_json)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT / "components")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(len(doc["resources"])), str(len(doc["manifests"]))]


def test_fixed_costs_time_every_group_the_floor_does_not_import(plan_json):
    """Each group is imported fresh after the floor's own imports (a module the floor had loaded
    already would make its group look free and the budget too small)."""
    costs = bench.fixed_costs(plan_json, dict(os.environ, PYTHONPATH=str(ROOT / "components")), repeat=1)
    assert list(costs) == [group for group, _ in bench.FIXED]
    assert all(secs > 0 for secs in costs.values()), costs


def test_fixed_costs_refuse_a_group_the_floor_imports_anyway(plan_json, monkeypatch):
    monkeypatch.setattr(bench, "BUDGET", bench.BUDGET.replace("('policy pack', [", "('policy pack', ['pulumi', "))
    with pytest.raises(SystemExit, match="floor imports itself: \\['pulumi'\\]"):
        bench.fixed_costs(plan_json, dict(os.environ, PYTHONPATH=str(ROOT / "components")), repeat=1)


def test_floor_handles_the_collector_as_the_console_script_does():
    from fleetform import cli

    assert f"gc.set_threshold(*gc.get_threshold()[:2], {cli.NO_FULL_COLLECTIONS:_})" in bench.FLOOR
    assert bench.FLOOR.index("gc.freeze()") < bench.FLOOR.index("gc.set_threshold(") < bench.FLOOR.index("gc.enable()")


def test_benchmark_measures_the_sources_compiled_as_installed(tmp_path, monkeypatch):
    """Every module of the project has its bytecode before anything is timed (else every timed
    run would compile the plan's own sources, which an installed package never does)."""
    import shutil

    for package in bench.SOURCES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(bench, "ROOT", tmp_path)
    bench.compile_sources()
    sources = [p for package in bench.SOURCES for p in (tmp_path / package).rglob("*.py")]
    assert len(sources) > 30
    missing = [str(p) for p in sources if not os.path.exists(importlib.util.cache_from_source(str(p)))]
    assert not missing, missing


def test_typed_floor_goes_through_the_sdk_classes():
    assert 'CLASSES[r["type"]](r["name"]' in bench.TYPED_FLOOR
    assert "pulumi.CustomResource(" not in bench.TYPED_FLOOR


def test_paired_ratio_is_the_median_of_per_round_ratios():
    runs = {"plan": [(2.0, 1), (3.0, 1), (9.0, 1)], "floor": [(1.0, 1), (2.0, 1), (10.0, 1)]}
    assert bench.paired(runs, "plan") == 1.5


needs_valgrind = pytest.mark.skipif(bench.shutil.which("valgrind") is None, reason="valgrind is not installed here")


@needs_valgrind
def test_instruction_counts_are_repeatable_and_follow_the_work():
    """The count is the program's own work: the same on a second run (hash seed fixed), and more
    for a program that does more."""
    env = dict(os.environ)
    # -I -S: no site-packages scan, a third of the interpreter's start-up under valgrind.
    idle = [bench.instructions([sys.executable, "-I", "-S", "-c", "pass"], env) for _ in range(2)]
    busy = bench.instructions([sys.executable, "-I", "-S", "-c", "sum(i * i for i in range(300_000))"], env)
    assert idle[0] > 10_000_000
    assert abs(idle[0] - idle[1]) / idle[0] < 0.005, idle
    assert busy > idle[0] * 1.5, (busy, idle)


@needs_valgrind
def test_instruction_count_of_a_failing_program_is_refused():
    with pytest.raises(SystemExit, match="under valgrind failed \\(3\\)"):
        bench.instructions([sys.executable, "-I", "-S", "-c", "raise SystemExit(3)"], dict(os.environ))


def test_instructions_section_says_what_it_needs(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit, match="needs valgrind on the PATH"):
        bench.instructions_section(dict(os.environ))


@pytest.mark.parametrize("n", [1, 3, 40])
def test_benchmark_stacks_are_valid_config(n):
    """The generated fleets are stacks fleetform accepts (a config rule that refuses them would
    otherwise surface only when someone runs the benchmark)."""
    from fleetform.config import load_spec

    spec = load_spec(bench.stack_with(n)["config"])
    assert len(spec.services) == n
