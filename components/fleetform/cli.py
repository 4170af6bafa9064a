"""The ``fleetform`` command line.

``fleetform plan [STACK] [--json FILE] [--markdown FILE] [--manifests DIR] [--k8s-version X.Y]
[--policy-config FILE]``; ``fleetform check [PATH ...] [--policy-config FILE] [--reports DIR]``

Exit codes: 0 clean; 1 schema errors, mandatory policy violations or clusters that could not be
planned; 2 invalid config or arguments, an output path included (one line per problem, no
traceback).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.text import Text

PLAN_HELP = """\
Plan a stack offline: run the fleetform program under Pulumi's mock engine, validate every
Kubernetes object strictly against the upstream schema of its cluster's version, and run the
policy pack over every resource. It is not `pulumi preview`: no cloud or cluster is contacted,
so it cannot see drift or cloud-side rejections.
"""


PLAN_EXIT_CODES = (
    "exit codes: 0 clean; 1 schema errors, mandatory policy violations or a cluster that could not be "
    "planned; 2 invalid config or arguments (an output path that cannot be written included)"
)

CHECK_HELP = """\
Plan every stack file given (default: every Pulumi.<name>.yaml in the project's stacks/ folder)
offline, as `fleetform plan` does each, with one policy config for all, and print one line per
stack. For a pipeline that gates pull requests on a team's own stacks; it is not the project's
test suite (`make test`), which checks the example stacks fleetform ships.
"""

CHECK_EXIT_CODES = (
    "exit codes: 0 every stack clean; 1 a stack with schema errors, mandatory violations or a cluster not planned; "
    "2 a stack with invalid config (or bad arguments); the worst stack decides"
)

OUTPUT_FILE = "a file path under an existing, writable directory (missing folders are created)"
OUTPUT_DIR = "a new or empty directory, or one fleetform plan wrote before, under an existing, writable directory"


def output_problems(args: argparse.Namespace) -> list[str]:
    """One line per output option that cannot be written (checked before anything is planned, so
    a typo in a path costs no plan). A write that still fails later is reported the same way."""
    problems = []
    for option, path in (("--json", args.json), ("--markdown", args.markdown)):
        if path is None:
            continue
        existing = path.parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if path.is_dir():
            problems.append(f"{option}: got {path}, a directory; allowed: {OUTPUT_FILE}")
        elif not existing.is_dir():
            problems.append(f"{option}: got {path}; {existing} is not a directory; allowed: {OUTPUT_FILE}")
        elif not os.access(existing, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            problems.append(f"{option}: got {path}, which cannot be written; allowed: {OUTPUT_FILE}")
    if getattr(args, "manifests", None) is not None:
        existing = args.manifests
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            problems.append(f"--manifests: got {args.manifests}; {existing} is not a directory; allowed: {OUTPUT_DIR}")
        elif not os.access(existing, os.W_OK | os.X_OK):
            problems.append(f"--manifests: got {args.manifests}; {existing} cannot be written; allowed: {OUTPUT_DIR}")
        else:
            from .plan.render import manifests_dir_problem

            why = manifests_dir_problem(args.manifests)
            if why:
                problems.append(f"--manifests: got {args.manifests}; {why}; allowed: {OUTPUT_DIR}")
    return problems


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(line: str) -> str:
    """A problem line as one line of plain text: control characters from user input (a newline or
    an escape sequence in a path) are shown escaped, not sent to the terminal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), line)


UNCUT_WIDTH = 10_000
"""Width of the report when stdout is not a terminal: its lines are never cut."""

NO_FULL_COLLECTIONS = 1_000_000
"""Oldest-generation threshold of the console script once the SDKs are loaded: collections of
the middle generation before a full one, i.e. none in a plan's lifetime."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fleetform", description="fleetform: Kubernetes fleets on Pulumi.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="plan a stack offline (no cloud, no cluster)", description=PLAN_HELP,
                       epilog=PLAN_EXIT_CODES)
    p.add_argument("stack", nargs="?", default="local", help="stack name in stacks/ or path to a Pulumi.<name>.yaml (default: local)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the plan as JSON (secrets masked)")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="write a PR-comment summary with a Mermaid graph")
    p.add_argument("--manifests", type=Path, metavar="DIR", help="write every Kubernetes object as YAML, one folder per cluster")
    p.add_argument("--k8s-version", metavar="X.Y", help="validate every cluster's objects against this Kubernetes version")
    p.add_argument("--policy-config", type=Path, metavar="FILE",
                   help="policy pack config (JSON, the format of pulumi's --policy-pack-config): enforcement levels and settings")
    c = sub.add_parser("check", help="plan every stack file of a folder offline: the check a pipeline runs on your stacks",
                       description=CHECK_HELP, epilog=CHECK_EXIT_CODES)
    c.add_argument("stacks", nargs="*", type=Path, metavar="PATH",
                   help="stack files (Pulumi.<name>.yaml) or folders of them (default: the project's stacks/)")
    c.add_argument("--policy-config", type=Path, metavar="FILE", help="policy pack config, as for fleetform plan")
    c.add_argument("--reports", type=Path, metavar="DIR",
                   help="write <stack>.json and <stack>.md (the plan's --json and --markdown) for every stack")
    r = sub.add_parser("rollout", help="move a release across clusters and stacks in waves, gated on health",
                       description=ROLLOUT_HELP, epilog=ROLLOUT_EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("file", type=Path, help="the rollout file (YAML: release, waves, gates, drain, onFailure)")
    r.add_argument("--dry-run", action="store_true", help="plan every wave offline and stop (no Pulumi CLI needed)")
    r.add_argument("--json", type=Path, metavar="FILE", help="write the dry run as JSON")
    r.add_argument("--markdown", type=Path, metavar="FILE", help="write a Markdown summary (a CI step summary)")
    r.add_argument("--resume", metavar="ID", help="continue a halted rollout from its journal, skipping finished targets")
    r.add_argument("--approve", action="append", default=[], metavar="WAVE",
                   help="approve a wave with approval: true ahead (repeatable; needed in CI)")
    r.add_argument("--stacks", type=Path, metavar="DIR", help="the stack files' folder (default: the project's stacks/)")
    r.add_argument("--journal-dir", type=Path, metavar="DIR", default=Path(".fleetform/rollouts"),
                   help="where journals and event logs go (default: .fleetform/rollouts)")
    return parser


ROLLOUT_HELP = """Move a release (pinned images per service) across clusters and stacks in waves.

Every intermediate state is an ordinary stack: the rollout only writes fleetform:release in the
stack files (images, the clusters that run them, the clusters drained of traffic) and, after the
last wave, makes the images the services' own. It first plans every wave offline (--dry-run stops
there); a real run then updates each target through the Automation API (the Pulumi CLI must be
installed), checks its gates (HTTP on each service's health path through the cluster's load
balancer, optional Prometheus), bakes, and halts or rolls back on a failure. See docs/rollout.md."""
ROLLOUT_EXIT_CODES = """exit codes: 0 clean (dry run) / completed; 1 a wave's plan fails, or the rollout halted,
rolled back, waits for approval or failed; 2 invalid rollout file, stack config or arguments; 130 interrupted"""


def rollout_command(args: argparse.Namespace, console: Console, err: Console) -> int:
    """``fleetform rollout``: check the file and the stacks, dry-run every wave, then (without
    --dry-run) run it for real."""
    import shutil

    from .plan.engine import project_root
    from .rollout.dryrun import dry_run, markdown
    from .rollout.release import load_stacks
    from .rollout.spec import RolloutError, load_rollout

    problems = output_problems(args)
    stack_dir = args.stacks or project_root() / "stacks"
    if not stack_dir.is_dir():
        problems.append(f"--stacks: got {str(stack_dir)!r}; allowed: a folder of Pulumi.<stack>.yaml files")
    if problems:
        for line in problems:
            err.print(line)
        return 2
    stacks = load_stacks(stack_dir)
    try:
        spec, waves = load_rollout(args.file, {name: s.spec for name, s in stacks.items()})
    except RolloutError as exc:
        named = {t.partition("/")[0] for w in _raw_targets(args.file) for t in w}
        lines = [p for name in sorted(named) if name in stacks for p in stacks[name].problems] + exc.problems
        for line in lines:
            err.print(line)
        return 2
    unknown = sorted(set(args.approve) - {w.name for w in spec.waves})
    if unknown:
        err.print(f"--approve: got {', '.join(unknown)}; allowed: a wave of the rollout: "
                  + ", ".join(w.name for w in spec.waves))
        return 2
    report = dry_run(spec, waves, stacks, progress=lambda line: err.print(line))
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_json(), indent=2, sort_keys=True) + "\n")
    if args.markdown is not None and args.dry_run:
        args.markdown.write_text(markdown(report))
    for wave in report.waves:
        console.print(f"{wave['name']}: {', '.join(wave['targets'])}: {len(wave['changes'])} change(s)")
    for line in report.problems:
        err.print(line)
    if args.dry_run or report.exit_code != 0:
        return report.exit_code
    if shutil.which("pulumi") is None:
        err.print("pulumi: not found on PATH; allowed: the Pulumi CLI installed (a real rollout runs pulumi up; "
                  "--dry-run needs nothing)")
        return 2
    project_stacks = project_root() / "stacks"
    if stack_dir.resolve() != project_stacks.resolve():
        err.print(f"--stacks: got {str(stack_dir)!r}; allowed: the project's own stacks folder ({project_stacks}) for a "
                  "real rollout, where the Pulumi CLI writes stack config (--dry-run takes any folder)")
        return 2
    if args.resume:
        journal = args.journal_dir / f"{args.resume}.json"
        if not journal.is_file():
            err.print(f"--resume: got {args.resume!r}; allowed: the id of a rollout journal in {args.journal_dir}")
            return 2
        recorded = json.loads(journal.read_text()).get("release")
        if recorded is not None and recorded != dict(spec.release.images):
            err.print(f"--resume: got {args.resume!r}, a rollout of other images ({recorded}); allowed: the rollout file "
                      "that rollout ran (a new release is a new rollout)")
            return 2
    from .rollout.run import run_rollout

    outcome = run_rollout(spec, waves, stacks, work_dir=project_root(), journal_dir=args.journal_dir,
                          resume=args.resume, approve=frozenset(args.approve), console=console, markdown=args.markdown)
    if outcome.message:
        err.print(outcome.message)
    return outcome.exit_code


def _raw_targets(path: Path) -> list[list[str]]:
    """The targets as written (to show the config problems of the stacks they name)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
        return [[str(t) for t in w.get("targets", [])] for w in data.get("waves", []) if isinstance(w, dict)]
    except Exception:
        return []


def argument_problems(args: argparse.Namespace) -> tuple[list[str], Optional[dict]]:
    """One line per bad option (output paths, ``--k8s-version``, ``--policy-config``), and the
    policy config read from its file (its path and SHA-256 kept in ``args.policy_source`` for the
    reports). Cheap: checked before the SDKs are imported or anything is planned."""
    from .plan.schema import available_versions

    problems = output_problems(args)
    if args.k8s_version is not None and args.k8s_version not in available_versions():
        problems.append(f"--k8s-version: got {args.k8s_version!r}; allowed: one of {', '.join(available_versions())}")
    if args.policy_config is None:
        return problems, None
    try:
        data = args.policy_config.read_bytes()
        args.policy_source = (str(args.policy_config), hashlib.sha256(data).hexdigest())
        policy_config = json.loads(data)
        if not isinstance(policy_config, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        problems.append(f"--policy-config: cannot use {args.policy_config}: {exc}; allowed: a JSON object "
                        '{"<policy>": "advisory|mandatory|disabled" | {"enforcementLevel": ..., <settings>}}')
        return problems, None
    from fleetform_policies.rules import config_problems

    problems += [f"--policy-config {args.policy_config}: {line}" for line in config_problems(policy_config)]
    return problems, policy_config


def _mkdirs(path: Path) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    return True


def plan_command(args: argparse.Namespace, console: Console, err: Console, *, standalone: bool = False) -> int:
    if standalone:
        # A process of its own: importing the provider SDKs builds a large heap of classes and
        # almost no garbage, so the collector sleeps through the imports and that heap is then
        # frozen out of every later pass (GC time at 40 services: 0.30 s -> 0.10 s, memory
        # unchanged). Not done for an in-process caller, whose garbage it would freeze for good.
        gc.disable()
    problems, policy_config = argument_problems(args)
    if problems:
        for line in problems:
            err.print(printable(line))
        return 2
    from . import fleet  # noqa: F401 (the program and the SDK classes it registers, imported up front)
    from .config import FleetConfigError
    from .plan.engine import StackNotFound, plan
    from .plan.render import markdown, print_report, write_json, write_manifests

    if standalone:
        gc.freeze()
        # The run still imports what a stack's clouds need (their SDK modules load lazily with
        # the cluster modules), and that and every registration lives until the process exits:
        # young generations are still collected (the run's short-lived cycles), but no more full
        # passes over that growing heap (hybrid stack 5.1 s -> 4.0 s, peak memory unchanged).
        # A collector that ignores the third threshold (an incremental one) is left as it is.
        gc.set_threshold(*gc.get_threshold()[:2], NO_FULL_COLLECTIONS)
        gc.enable()
    try:
        result = plan(args.stack, kubernetes_version=args.k8s_version, policy_config=policy_config,
                      policy_source=getattr(args, "policy_source", None))
    except (FleetConfigError, StackNotFound) as exc:
        problems = exc.problems if isinstance(exc, FleetConfigError) else [str(exc)]
        err.print(printable(f"invalid config for stack {args.stack}:"))
        for line in problems:
            err.print(printable(f"  {line}"))
        return 2
    print_report(result, console)
    writes = (
        ("--json", args.json, lambda: _mkdirs(args.json) and write_json(result, args.json), OUTPUT_FILE),
        ("--markdown", args.markdown, lambda: _mkdirs(args.markdown) and args.markdown.write_text(markdown(result)),
         OUTPUT_FILE),
        ("--manifests", args.manifests, lambda: write_manifests(result, args.manifests), OUTPUT_DIR),
    )
    for option, path, write, allowed in writes:
        if path is None:
            continue
        try:
            write()
        except OSError as exc:  # checked up front; still possible (a full disk, a path that changed)
            err.print(printable(f"{option}: cannot write {exc.filename or path}: {exc.strerror or exc}; allowed: {allowed}"))
            return 2
    return result.exit_code


def stack_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The stack files ``paths`` names (folders expanded to their Pulumi.<name>.yaml files), and
    one problem line per path that names none."""
    from .plan.engine import project_root

    found: list[Path] = []
    problems: list[str] = []
    for path in paths or [project_root() / "stacks"]:
        if path.is_dir():
            files = sorted(f for f in path.glob("Pulumi.*.y*ml") if f.suffix in (".yaml", ".yml"))
            if not files:
                problems.append(f"{path}: no stack files (Pulumi.<name>.yaml) in this folder")
            found += files
        elif path.is_file():
            found.append(path)
        else:
            problems.append(f"{path}: no such file or folder; allowed: stack files or folders of them")
    return found, problems


def check_command(args: argparse.Namespace, console: Console, err: Console) -> int:
    args.json = args.markdown = args.manifests = None
    args.k8s_version = None
    problems, policy_config = argument_problems(args)
    files, missing = stack_files(args.stacks)
    problems += missing
    if args.reports is not None and args.reports.exists() and not args.reports.is_dir():
        problems.append(f"--reports: got {args.reports}, not a folder; allowed: a folder (created if missing)")
    if problems:
        for line in problems:
            err.print(printable(line))
        return 2
    from rich.table import Table

    from .config import FleetConfigError
    from .plan.engine import StackNotFound, plan, policy_in_effect
    from .plan.render import markdown, policy_lines, write_json

    table = Table("stack", "resources", "schema errors", "mandatory", "advisory", "waived", "result", box=None)
    worst = 0
    for path in files:
        try:
            result = plan(str(path), policy_config=policy_config, policy_source=getattr(args, "policy_source", None))
        except (FleetConfigError, StackNotFound) as exc:
            for line in exc.problems if isinstance(exc, FleetConfigError) else [str(exc)]:
                err.print(printable(f"{path}: {line}"))
            table.add_row(str(path), "-", "-", "-", "-", "-", "invalid config (2)")
            worst = 2
            continue
        s = result.summary()
        for line in result.problems():
            err.print(printable(f"{path}: {line}"))
        table.add_row(result.stack, str(s["resources"]), str(s["schemaErrors"]), str(s["violations"]["mandatory"]),
                      str(s["violations"]["advisory"]), str(s["waived"]),
                      "clean" if result.exit_code == 0 else f"not clean ({result.exit_code})")
        worst = max(worst, result.exit_code) if worst != 2 else 2
        if args.reports is not None:
            args.reports.mkdir(parents=True, exist_ok=True)
            write_json(result, args.reports / f"{result.stack}.json")
            (args.reports / f"{result.stack}.md").write_text(markdown(result))
    console.print(table)
    for line in policy_lines(policy_in_effect(policy_config, getattr(args, "policy_source", None))):
        console.print(Text(line))
    return worst


def main(argv: Optional[list[str]] = None, *, standalone: bool = False) -> int:
    """Run the command line; ``standalone`` when this process exists only for it (the console
    script), which lets the plan tune the garbage collector for a short-lived process."""
    args = _parser().parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        # Piped or in CI there is no screen to fit: rich would cut the tree's lines at 80 columns
        # (or $COLUMNS, which CI runners often set).
        console.width = UNCUT_WIDTH
    # Problems name user input (paths, values): printed as they are, one line each however long.
    err = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)
    if args.command == "plan":
        return plan_command(args, console, err, standalone=standalone)
    if args.command == "check":
        return check_command(args, console, err)
    if args.command == "rollout":
        return rollout_command(args, console, err)
    return 2  # pragma: no cover (argparse rejects unknown commands)


def run() -> None:
    """The ``fleetform`` console script: :func:`main`, then a hard exit.

    Once the report is written nothing is left to clean up, yet a normal exit spends 0.15-0.3 s
    freeing the thousands of classes the provider SDKs define (measured on a 2-core machine).
    Like mypy's ``hard_exit``, flush the streams and leave with ``os._exit``. An exception still
    takes the normal path (traceback, cleanup).
    """
    code = main(standalone=True)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # stream closed under us (rich itself exits 1 on a broken pipe)
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
