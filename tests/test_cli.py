"""`fleetform plan`: options, outputs and exit codes (DESIGN §5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from fleetform.cli import main
from tests.conftest import ROOT, cluster, fleet, service


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "fleetform.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def local_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan")
    proc = run_cli("plan", "--json", str(out / "p.json"), "--markdown", str(out / "p.md"), "--manifests", str(out / "m"))
    return proc, out


def test_default_stack_is_local_and_clean(local_outputs):
    proc, _ = local_outputs
    assert proc.returncode == 0, proc.stderr
    assert "stack local" in proc.stdout
    assert "local-web-deployment" in proc.stdout
    text = " ".join(run_cli("plan", "--help").stdout.replace("`", "").split())
    assert "It is not pulumi preview" in text
    assert "exit codes: 0 clean; 1 schema errors, mandatory policy violations or a cluster that could not be" \
        " planned; 2 invalid config or arguments" in text


def test_json_shape(local_outputs):
    _, out = local_outputs
    doc = json.loads((out / "p.json").read_text())
    assert doc["stack"] == "local"
    assert {"stack", "resources", "manifests", "violations", "summary"} <= set(doc)
    for r in doc["resources"]:
        assert set(r) == {"urn", "type", "name", "parent", "custom", "inputs"}
    deployment = next(r for r in doc["resources"] if r["type"] == "kubernetes:apps/v1:Deployment")
    assert deployment["parent"].endswith("::local-web") or deployment["parent"].endswith("::local-api")
    assert doc["summary"]["exitCode"] == 0 and doc["summary"]["manifests"] == len(doc["manifests"])


def test_markdown_has_mermaid_graph(local_outputs):
    _, out = local_outputs
    md = (out / "p.md").read_text()
    assert "```mermaid" in md and "graph TD" in md
    assert "local-web" in md and "-->" in md


def test_manifests_one_folder_per_cluster(local_outputs):
    _, out = local_outputs
    folders = [p.name for p in (out / "m").iterdir() if p.is_dir()]
    assert folders == ["local"]
    files = sorted(p.name for p in (out / "m" / "local").iterdir())
    assert "deployment-fleetform-web.yaml" in files and "namespace-fleetform.yaml" in files
    dep = yaml.safe_load((out / "m" / "local" / "deployment-fleetform-web.yaml").read_text())
    assert dep["kind"] == "Deployment" and dep["spec"]["replicas"] == 2


def test_stack_by_path_and_unknown_stack(tmp_path):
    path = tmp_path / "Pulumi.mine.yaml"
    path.write_text(yaml.safe_dump({"config": fleet([cluster("mine", "existing")], [service()])}))
    proc = run_cli("plan", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "stack mine" in proc.stdout
    proc = run_cli("plan", "nosuchstack")
    assert proc.returncode == 2 and "no stack 'nosuchstack'" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_k8s_version_is_exit_2():
    proc = run_cli("plan", "--k8s-version", "1.12")
    assert proc.returncode == 2
    assert "--k8s-version: got '1.12'; allowed: one of" in proc.stderr


FILE_ALLOWED = "allowed: a file path under an existing, writable directory (missing folders are created)"
DIR_ALLOWED = "allowed: a new or empty directory, or one fleetform plan wrote before, under an existing, writable directory"


def test_unwritable_outputs_are_exit_2_before_anything_is_planned(tmp_path, capsys, monkeypatch):
    """Every output path that cannot be written gets one line (however long), and the plan does
    not run at all."""
    import fleetform.plan.engine as engine
    from fleetform.plan.schema import available_versions

    monkeypatch.setattr(engine, "plan", lambda *a, **k: pytest.fail("planned despite bad output paths"))
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    missing = a_file / ("no-such-directory-" + "x" * 80)
    code = main(["plan", "--json", str(missing / "p.json"), "--markdown", str(tmp_path),
                 "--manifests", str(a_file / "sub"), "--k8s-version", "1.12"])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"--json: got {missing / 'p.json'}; {a_file} is not a directory; {FILE_ALLOWED}",
        f"--markdown: got {tmp_path}, a directory; {FILE_ALLOWED}",
        f"--manifests: got {a_file / 'sub'}; {a_file} is not a directory; {DIR_ALLOWED}",
        "--k8s-version: got '1.12'; allowed: one of " + ", ".join(available_versions()),
    ]


def test_json_and_markdown_create_their_folders_as_manifests_does(tmp_path):
    proc = run_cli("plan", "--json", str(tmp_path / "a" / "b" / "p.json"), "--markdown", str(tmp_path / "c" / "p.md"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "a" / "b" / "p.json").read_text())["stack"] == "local"
    assert (tmp_path / "c" / "p.md").read_text().startswith("## fleetform plan: `local`")


def test_manifests_directory_may_not_exist_yet(tmp_path):
    proc = run_cli("plan", "--manifests", str(tmp_path / "new" / "deeper"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "new" / "deeper").iterdir()) == [".fleetform-manifests", "local"]


def test_manifests_into_a_used_directory_leave_no_stale_file(tmp_path):
    """A second plan into the same --manifests directory replaces what the first wrote: an object
    no longer planned leaves no file behind (kubectl apply -f would apply it); files fleetform
    did not write are kept."""
    out = tmp_path / "m"
    two = tmp_path / "Pulumi.two.yaml"
    two.write_text(yaml.safe_dump({"config": fleet([cluster("local", "existing")], [service("web"), service("api", servicePort=8080)])}))
    one = tmp_path / "Pulumi.one.yaml"
    one.write_text(yaml.safe_dump({"config": fleet([cluster("other", "existing")], [service("api")])}))
    assert run_cli("plan", str(two), "--manifests", str(out)).returncode == 0
    assert (out / "local" / "deployment-fleetform-web.yaml").is_file()
    (out / "local" / "mine.txt").write_text("kept")
    proc = run_cli("plan", str(one), "--manifests", str(out))
    assert proc.returncode == 0, proc.stderr
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert "local/mine.txt" in left and not any(f.startswith("local/") and f.endswith(".yaml") for f in left)
    assert "other/deployment-fleetform-api.yaml" in left
    listed = (out / ".fleetform-manifests").read_text().split()
    assert sorted(listed) == sorted(f for f in left if f.endswith(".yaml")) and len(listed) == 8  # 2 + 6 of api


def test_a_planted_marker_removes_nothing_outside_the_plans_files(tmp_path):
    """The marker is user-writable input: what it lists is removed only if it is a plain
    <cluster>/<file>.yaml one folder down, reached without a symbolic link."""
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "important.txt").write_text("keep")
    (victim / "x.yaml").write_text("keep")
    outside = tmp_path / "outside" / "sub"
    outside.mkdir(parents=True)
    (outside / "b.yaml").write_text("keep")
    out = tmp_path / "m"
    out.mkdir()
    (out / "lnk").symlink_to(tmp_path / "outside")
    (out / "local").mkdir()
    (out / "local" / "deployment-fleetform-web.yaml").symlink_to(victim / "x.yaml")
    (out / "mine").mkdir()
    (out / "mine" / "notes.txt").write_text("keep")
    listed = [str(victim / "important.txt"), str(victim / "x.yaml"), "lnk/sub/b.yaml", "lnk/b.yaml", "../victim/x.yaml",
              "local/deployment-fleetform-web.yaml", "mine/notes.txt", "mine", ""]
    (out / ".fleetform-manifests").write_bytes("\n".join(listed).encode() + b"\n\xff\xfe\n")
    proc = run_cli("plan", "--manifests", str(out))
    # The plan's own path is a symbolic link into victim: refused, not written through.
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"--manifests: cannot write {out / 'local' / 'deployment-fleetform-web.yaml'}: a "
                                   "symbolic link where "
                                   f"the plan writes a manifest; {DIR_ALLOWED}")
    assert (victim / "important.txt").read_text() == "keep" and (victim / "x.yaml").read_text() == "keep"
    assert (outside / "b.yaml").read_text() == "keep" and (out / "mine" / "notes.txt").read_text() == "keep"
    (out / "local" / "deployment-fleetform-web.yaml").unlink()
    proc = run_cli("plan", "--manifests", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (victim / "x.yaml").read_text() == "keep" and (outside / "b.yaml").read_text() == "keep"
    assert (out / "local" / "deployment-fleetform-web.yaml").is_file()


def test_a_marker_that_is_a_symbolic_link_is_refused(tmp_path):
    target = tmp_path / "list.txt"
    target.write_text("local/a.yaml\n")
    out = tmp_path / "m"
    out.mkdir()
    (out / ".fleetform-manifests").symlink_to(target)
    proc = run_cli("plan", "--manifests", str(out))
    assert proc.returncode == 2 and "holds no .fleetform-manifests list" in proc.stderr
    assert target.read_text() == "local/a.yaml\n"


def test_no_manifest_or_list_is_written_through_a_hard_link(tmp_path):
    import os

    other = tmp_path / "other.txt"
    other.write_text("keep\n")
    out = tmp_path / "m"
    (out / "local").mkdir(parents=True)
    os.link(other, out / ".fleetform-manifests")
    os.link(other, out / "local" / "deployment-fleetform-web.yaml")
    assert run_cli("plan", "--manifests", str(out)).returncode == 0
    assert other.read_text() == "keep\n"
    assert "local/deployment-fleetform-web.yaml" in (out / ".fleetform-manifests").read_text()


def test_manifests_refuse_a_directory_fleetform_did_not_write(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "app.yaml").write_text("kind: ConfigMap\n")
    proc = run_cli("plan", "--manifests", str(out))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"--manifests: got {out}; {out} is not empty and holds no .fleetform-manifests list of an earlier fleetform "
        f"plan (a directory from a fleetform without that list has to be emptied once); {DIR_ALLOWED}"
    )
    assert sorted(p.name for p in out.iterdir()) == ["app.yaml"]


def test_a_write_that_fails_after_the_plan_is_exit_2_with_one_line(tmp_path, capsys, monkeypatch):
    import errno

    import fleetform.plan.render as render

    def full_disk(result, directory):
        raise OSError(errno.ENOSPC, "No space left on device", str(directory / "local" / "x.yaml"))

    monkeypatch.setattr(render, "write_manifests", full_disk)
    code = main(["plan", "--manifests", str(tmp_path / "m")])
    assert code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"--manifests: cannot write {tmp_path / 'm' / 'local' / 'x.yaml'}: No space left on device; {DIR_ALLOWED}"
    ]


@pytest.mark.parametrize("content,problem", [
    (b"config:\n  fleetform:clusters: [\n",
     "not valid YAML: while parsing a flow node: did not find expected node content (line 3, column 1)"),
    (b"config:\n  fleetform:name: \xff\xfe\n", "not UTF-8 text (byte offset 26); allowed: a YAML stack file"),
    (b"- a\n- b\n", "expected a mapping with a config: key"),
    (b"config: 5\n", "config: must be a mapping of key: value"),
    # What Pulumi itself refuses in a stack file (its YAML reader, ParseKey, the declared types):
    (b"config:\n  fleetform:services: []\n  fleetform:services: []\n",
     "not valid YAML: key 'fleetform:services' appears twice in one mapping; Pulumi refuses that (line 3, column 3)"),
])
def test_unreadable_stack_file_is_one_line_and_exit_2(tmp_path, capsys, content, problem):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_bytes(content)
    assert main(["plan", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [f"invalid config for stack {path}:", f"  {path}: {problem}"]


EXISTING = "  fleetform:clusters:\n  - {name: a, target: existing}\n"


@pytest.mark.parametrize("content,problem", [
    ("config:\n  clusters: []\n",
     "clusters: a key without a namespace; allowed: <namespace>:<name> keys, such as fleetform:clusters (Pulumi "
     "refuses others)"),
    ('config:\n  fleetform:clusters: \'[{"name": "a", "target": "existing"}]\'\n',
     "fleetform:clusters: got a string; allowed: a YAML list (Pulumi checks the type Pulumi.yaml declares, array)"),
    ("config:\n  fleetform:sshPrivateKey: '-----BEGIN PLANTED'\n" + EXISTING,
     "fleetform:sshPrivateKey: set in plain text in Pulumi.bad.yaml; allowed: an encrypted value only (pulumi config "
     "set --secret fleetform:sshPrivateKey ...; then remove the plain-text key from the file)"),
    ("config:\n  myapp:blob: !!binary aGVsbG8=\n" + EXISTING,
     "myapp:blob: holds a YAML !!binary value; allowed: plain YAML values (strings, numbers, true/false, lists and "
     "mappings), as Pulumi config holds"),
    ("config:\n  fleetform:clusters: !!set {a: null}\n",
     "fleetform:clusters: holds a YAML !!set value; allowed: plain YAML values (strings, numbers, true/false, lists "
     "and mappings), as Pulumi config holds"),
    ("config:\n  fleetform:clusters: &a\n  - {name: a, target: existing}\n  - *a\n",
     "fleetform:clusters: holds an alias that contains itself (at [1]); allowed: plain YAML values (strings, numbers, "
     "true/false, lists and mappings), as Pulumi config holds"),
    ("config:\n  fleetform:clusters:\n  - {name: a, target: existing, <<: {x: 1}, <<: {y: 2}}\n",
     "{path}: not valid YAML: key '<<' appears twice in one mapping; Pulumi refuses that (line 3, column 45)"),
    ("config:\n  myapp:l0: &l0 [x,x,x,x,x,x,x,x,x,x]\n"
     + "".join(f"  myapp:l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 8)),
     "myapp:l4: expands to more than 100,000 values through aliases; allowed: plain YAML values (strings, numbers, "
     "true/false, lists and mappings), as Pulumi config holds"),
])
def test_stack_file_pulumi_would_refuse_is_one_line_and_exit_2(tmp_path, capsys, content, problem):
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(content)
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"invalid config for stack {path}:", "  " + problem.replace("{path}", str(path))]
    assert "PLANTED" not in err


def test_yaml_pulumi_reads_is_read_the_same(tmp_path):
    """Merge keys, number and boolean mapping keys, and on/yes (text in Pulumi's YAML 1.2, not
    booleans) in a stack file: accepted, as the Pulumi CLI accepts them."""
    from fleetform.plan.engine import read_stack_config

    path = tmp_path / "Pulumi.yamlish.yaml"
    path.write_text(
        "x-common: &svc {port: 8080, replicas: 2, expose: cluster}\n"
        "config:\n"
        "  myapp:ports: {8080: web, true: yes, on: off}\n"
        + EXISTING +
        "  fleetform:services:\n"
        "  - <<: *svc\n"
        "    name: web\n"
        "    image: ghcr.io/acme/web:1.2.3\n"
        "    resources: {<<: [{cpu: 100m}], memory: 256Mi}\n"
    )
    config, _ = read_stack_config(path)
    assert config["myapp:ports"] == {"8080": "web", "true": "yes", "on": "off"}
    assert config["fleetform:services"][0] == {"port": 8080, "replicas": 2, "expose": "cluster", "name": "web",
                                               "image": "ghcr.io/acme/web:1.2.3",
                                               "resources": {"cpu": "100m", "memory": "256Mi"}}
    assert main(["plan", str(path)]) == 0


def test_scalars_and_merges_are_read_as_pulumi_reads_them(tmp_path):
    """YAML 1.2 as Go reads it: 10:30 is text, 1e3 a number, 0755 octal, yes text; a merged
    anchor whose own mapping overrides a merged key is no duplicate, wherever it sits."""
    from fleetform.plan.engine import read_stack_config

    path = tmp_path / "Pulumi.scalars.yaml"
    path.write_text(
        "config:\n"
        "  myapp:a: &a {image: 'ghcr.io/acme/web:1.2.3', port: 8080}\n"
        "  myapp:x: {inner: {deep: &b {<<: *a, port: 9090}}}\n"
        "  myapp:v: {start: 10:30, n: 1e3, mode: 0755, h: 0x1F, t: yes}\n"
        + EXISTING +
        "  fleetform:services: [{<<: *b, name: web}]\n"
    )
    config, _ = read_stack_config(path)
    assert config["myapp:v"] == {"start": "10:30", "n": 1000.0, "mode": 493, "h": 31, "t": "yes"}
    assert config["fleetform:services"] == [{"image": "ghcr.io/acme/web:1.2.3", "port": 9090, "name": "web"}]


def test_the_project_file_is_not_a_stack(capsys):
    assert main(["plan", str(ROOT / "Pulumi.yaml")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"  {ROOT / 'Pulumi.yaml'} is the project file; allowed: a stack file, Pulumi.<stack>.yaml")


def test_control_characters_in_a_stack_path_are_escaped(tmp_path, capsys):
    path = tmp_path / "Pulumi.a\nb\x1b[31m.yaml"
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and len(err.splitlines()) == 2 and "\\n" in err and "\\x1b" in err


def test_dates_in_other_namespaces_are_plain_text(tmp_path, capsys):
    """An unquoted date in another program's key stays text (it was a traceback in config_strings)."""
    path = tmp_path / "Pulumi.dated.yaml"
    path.write_text("config:\n  myapp:since: 2024-01-01\n" + EXISTING)
    assert main(["plan", str(path)]) == 0, capsys.readouterr()


@pytest.mark.parametrize("name", ["a::b", "a`|b", "x" * 101])
def test_stack_name_pulumi_refuses_is_exit_2(tmp_path, capsys, name):
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text("config:\n" + EXISTING)
    assert main(["plan", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"invalid config for stack {path}:",
        f"  {path}: the stack name from the file name is {name!r}; allowed: letters, digits, '-', '_' and '.' "
        "(at most 100), as Pulumi requires",
    ]


def test_report_lines_are_not_cut_when_piped():
    """Piped (CI) output has no terminal width to fit: rich used to cut the tree at 80 columns."""
    proc = run_cli("plan", "local")
    line = next(ln for ln in proc.stdout.splitlines() if "local-namespace-default-deny " in ln)
    assert line.endswith("local-namespace-default-deny kubernetes:networking.k8s.io/v1:NetworkPolicy") and len(line) > 80


def test_unimplemented_target_is_exit_1_with_error_for_that_cluster_only(tmp_path, capsys, monkeypatch):
    from fleetform.cluster import IMPLEMENTED

    # Every target may have its module by now: point onprem at one that does not exist.
    monkeypatch.setitem(IMPLEMENTED, ("onprem", "self-managed"), "fleetform.cluster.not_built_yet:Nothing")
    path = tmp_path / "Pulumi.mixed.yaml"
    onprem = cluster("dc", "onprem", ssh={"verifyHostKeys": False},
                     hosts=[{"name": "m1", "address": "192.0.2.11", "role": "master"}])
    path.write_text(yaml.safe_dump({"config": fleet(
        [cluster("here", "existing"), onprem], [service()], sshPrivateKey={"secure": "v1:c2FsdA==:a2V5"})}))
    code = main(["plan", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "fleetform:clusters[1].target: target 'onprem' (mode self-managed) is not implemented yet" in out
    assert "here-web-deployment" in out  # the other cluster was planned


def test_two_resources_declaring_one_object_is_exit_1(monkeypatch, capsys):
    """If two resources declare the same Kubernetes object on a cluster (here: the namespace's
    deny-all policy renamed onto a service's), the plan fails and names both."""
    from fleetform.workloads import microservice

    monkeypatch.setattr(microservice, "DEFAULT_DENY_POLICY", "web")
    code = main(["plan", "local"])
    out = capsys.readouterr().out
    assert code == 1
    assert ("error local: NetworkPolicy fleetform/web is declared by two resources, local-namespace-default-deny and "
            "local-web-netpol: the second would take over the first") in out


def test_schema_error_is_exit_1(monkeypatch, capsys, tmp_path):
    """A program bug producing an invalid object makes the plan fail (exit 1)."""
    from fleetform.workloads import pod

    original = pod.container

    def broken(svc):
        c = original(svc)
        c["termination_message_policy"] = 3  # type: ignore[typeddict-item]  # the schema wants a string
        return c

    monkeypatch.setattr(pod, "container", broken)
    code = main(["plan", "local"])
    assert code == 1
    assert "terminationMessagePolicy" in capsys.readouterr().out


def test_console_script_leaves_with_mains_exit_code_after_flushing(monkeypatch):
    """`fleetform` (fleetform.cli:run) hard-exits with main()'s code once the streams are flushed."""
    import tomllib

    import fleetform.cli as cli

    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["fleetform"] == "fleetform.cli:run"
    events: list = []

    class Stream:
        def __init__(self, name):
            self.name = name

        def flush(self):
            events.append(("flush", self.name))

    class Exited(Exception):
        pass

    def fake_exit(code):
        events.append(("exit", code))
        raise Exited

    monkeypatch.setattr(cli, "main", lambda standalone=False: 1 if standalone else 0)
    monkeypatch.setattr(cli.sys, "stdout", Stream("stdout"))
    monkeypatch.setattr(cli.sys, "stderr", Stream("stderr"))
    monkeypatch.setattr(cli.os, "_exit", fake_exit)
    with pytest.raises(Exited):
        cli.run()
    assert events == [("flush", "stdout"), ("flush", "stderr"), ("exit", 1)]


def test_piped_report_is_complete_despite_the_hard_exit():
    proc = run_cli("plan")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().endswith("(use pulumi preview for those).")


def test_in_process_main_leaves_the_garbage_collector_alone(tmp_path):
    """Only the console script (a process of its own) pauses and freezes the collector."""
    import gc

    frozen, thresholds = gc.get_freeze_count(), gc.get_threshold()
    assert main(["plan", "--json", str(tmp_path / "p.json")]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen and gc.get_threshold() == thresholds


def test_console_script_freezes_the_sdks_and_stops_full_collections():
    """In a process of its own: the SDKs' heap frozen, young generations still collected, no full
    collection for the rest of the plan."""
    probe = (
        "import gc, sys\n"
        "from fleetform import cli\n"
        "before = gc.get_threshold()\n"
        "gc.set_threshold(*before[:2], 12345)\n"
        "honoured = gc.get_threshold()[2] == 12345  # an incremental collector ignores the third value\n"
        "gc.set_threshold(*before)\n"
        "code = cli.main(['plan'], standalone=True)\n"
        "print(code, gc.isenabled(), gc.get_freeze_count() > 10_000, gc.get_threshold()[:2] == before[:2],"
        " gc.get_threshold()[2] == cli.NO_FULL_COLLECTIONS or not honoured, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(ROOT / "components")))
    assert proc.stderr.split() == ["0", "True", "True", "True", "True"], proc.stderr[-2000:]


def test_markdown_stays_a_comment_github_takes_and_a_graph_mermaid_draws(monkeypatch):
    """Past Mermaid's text limit the graph shows the clusters only (each counting what is under
    it); past GitHub's comment limit the findings are cut, with a pointer to the JSON."""
    import fleetform.plan.render as render
    from fleetform.plan.engine import Violation, plan

    result = plan("local")
    full = render.markdown(result)
    assert "local-web<br/>" in full and "clusters only" not in full
    monkeypatch.setattr(render, "MERMAID_MAX_TEXT", 500)
    small = render.markdown(result)
    graph = small.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert "clusters only" in small and "local-web<br/>" not in graph
    nodes = [ln for ln in graph.splitlines() if ln.startswith("  n") and "[" in ln]
    ids = {n.split('"')[1].split("<br/>")[0]: n.split("[")[0].strip() for n in nodes}
    assert sorted(ids) == ["fleet", "local"]
    assert "2 Microservice" in graph and "2 Deployment" in graph and f"  {ids['fleet']} --> {ids['local']}" in graph
    result.violations = [Violation("k8s-x", "mandatory", f"urn:pulumi:s::p::t::res{i}", "m" * 100) for i in range(2000)]
    md = render.markdown(result)
    assert len(md) <= render.COMMENT_MAX
    assert "- **mandatory** `k8s-x` on `res0`: " + "m" * 100 in md
    kept = md.count("- **mandatory** `k8s-x`")
    assert 100 < kept < 2000 and f"- _... {2000 - kept} more findings: see `fleetform plan --json`_" in md


def test_undecided_policy_checks_are_reported_everywhere_without_failing_the_plan():
    import io

    from rich.console import Console

    from fleetform.plan.engine import plan
    from fleetform.plan.render import markdown, print_report, to_json

    result = plan("local")
    result.undecided = ["k8s-image-pinned: urn:x: string value at .spec.image can't be known during preview"]
    out = io.StringIO()
    print_report(result, Console(file=out, width=400))
    assert "cannot judge yet k8s-image-pinned: urn:x" in out.getvalue()
    assert "cannot judge yet: 1 -> clean" in out.getvalue()
    doc = to_json(result)
    assert doc["undecided"] == result.undecided and doc["summary"]["undecided"] == 1
    assert "- **cannot judge yet** k8s-image-pinned: urn:x" in markdown(result)
    assert result.exit_code == 0


def test_report_prints_messages_verbatim():
    """No rich markup or emoji codes are read out of names, URNs or messages."""
    import io

    from rich.console import Console

    from fleetform.plan.engine import Violation, plan
    from fleetform.plan.render import print_report

    result = plan("local")
    text = "image tag :x: not pinned in [bold]web[/bold] (spec.containers[0])"
    result.violations = [Violation("k8s-image-pinned", "mandatory", "urn:pulumi:ok::fleetform::x", text)]
    result.undecided = [text]
    out = io.StringIO()
    print_report(result, Console(file=out, width=400))
    assert out.getvalue().count(text) == 2


def test_bad_arguments_are_rejected_before_the_sdks_load():
    """A typo in an option costs no SDK import (about a second), let alone a plan."""
    code = ("import sys; from fleetform.cli import main; "
            "rc = main(['plan', '--json', '/etc/hostname/p.json', '--k8s-version', '1.12']); "
            "print(rc, sorted(m for m in ('pulumi', 'pulumi_kubernetes', 'pydantic') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout.split("\n")[0] == "2 []", proc.stdout + proc.stderr
    assert len(proc.stderr.splitlines()) == 2


def test_problems_print_user_input_verbatim(tmp_path, capsys):
    """A path with rich markup or an emoji code in it is printed as it is, in every problem line."""
    odd = tmp_path / "[bold]x:smile:"
    odd.mkdir()
    stack = odd / "Pulumi.odd.yaml"
    stack.write_text("config: 5\n")
    assert main(["plan", str(stack)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"invalid config for stack {stack}:", f"  {stack}: config: must be a mapping of key: value"]
    assert main(["plan", "--json", str(stack / "no" / "p.json")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"--json: got {stack / 'no' / 'p.json'}; {stack} is not a directory; {FILE_ALLOWED}"]
