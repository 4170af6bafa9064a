"""fleetform as a library: the public API, components on their own in a user's program, and
``fleetform.testing.plan`` on a program that is not fleetform's."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pulumi
import pulumi_kubernetes as k8s
import pytest

from tests.conftest import DIGEST, ROOT

PUBLIC = ["AppNamespace", "ClusterSpec", "Fleet", "FleetSpec", "Microservice", "ServiceSpec", "build_cluster", "load_spec"]
CLUSTER_CLASSES = ["ExistingCluster", "EksCluster", "GkeCluster", "AksCluster", "OnPremCluster",
                   "SelfManagedAwsCluster", "SelfManagedGcpCluster", "SelfManagedAzureCluster"]


def test_public_api_names_are_the_real_objects():
    import fleetform
    from fleetform import cluster, config, fleet, workloads

    for name in PUBLIC:
        assert name in fleetform.__all__
    assert fleetform.Fleet is fleet.Fleet and fleetform.FleetSpec is config.FleetSpec
    assert fleetform.load_spec is config.load_spec and fleetform.ServiceSpec is config.ServiceSpec
    assert fleetform.ClusterSpec is config.ClusterSpec and fleetform.build_cluster is cluster.build_cluster
    assert fleetform.Microservice is workloads.Microservice and fleetform.AppNamespace is workloads.AppNamespace
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        fleetform.Nope  # noqa: B018


def test_import_fleetform_is_free_and_cluster_classes_load_their_cloud_only():
    """`import fleetform` imports neither Pulumi nor pydantic (the policy pack's venv has neither
    pydantic nor the providers); a cluster class brings its own cloud's SDK and no other."""
    code = textwrap.dedent("""
        import json, sys
        import fleetform
        before = sorted({m.split('.')[0] for m in sys.modules if m.startswith(('pulumi', 'pydantic'))})
        from fleetform.cluster import ExistingCluster, GkeCluster
        after = sorted({m.split('.')[0] for m in sys.modules if m.startswith('pulumi_')})
        print(json.dumps([before, after, ExistingCluster.__name__, GkeCluster.__name__]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    before, after, *names = json.loads(proc.stdout)
    assert before == []
    assert after == ["pulumi_gcp", "pulumi_kubernetes"]
    assert names == ["ExistingCluster", "GkeCluster"]


@pytest.mark.parametrize("name", CLUSTER_CLASSES)
def test_cluster_classes_exported(name):
    import fleetform.cluster

    cls = getattr(fleetform.cluster, name)
    assert issubclass(cls, fleetform.cluster.Cluster) and name in fleetform.cluster.__all__


# ------------------------------------------------------------------------------ testing.plan


def _spec(name: str, **extra):
    from fleetform import ServiceSpec

    return ServiceSpec.model_validate({"name": name, "image": f"ghcr.io/acme/{name}{DIGEST}", "port": 8080, **extra})


def _kubeconfig(tmp_path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Config
        clusters: [{name: dev, cluster: {server: "https://dev.example.com:6443"}}]
        users: [{name: dev, user: {token: not-a-real-token}}]
        contexts: [{name: dev, context: {cluster: dev, user: dev}}]
        current-context: dev
    """))
    return str(path)


def _users_program(kubeconfig: str):
    """A user's own program: an existing cluster, fleetform's namespace and two services, and
    resources of the user's own (a ConfigMap, a Secret with a secret value)."""
    from fleetform import AppNamespace, ClusterSpec, Microservice
    from fleetform.cluster import ClusterContext, ExistingCluster

    def program():
        cluster = ExistingCluster(
            "dev",
            ClusterSpec.model_validate({"name": "dev", "target": "existing", "existing": {"kubeconfig": kubeconfig}}),
            ClusterContext(kubernetes_version="1.32", stack=pulumi.get_stack()),
        )
        opts = pulumi.ResourceOptions(provider=cluster.provider)
        ns = AppNamespace("apps", "shop", opts=opts)
        api = _spec("api")
        web = _spec("web", expose="public", egress=[{"service": "api"}])
        peers = {"api": api, "web": web}
        after_ns = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[ns]))
        Microservice("web", web, namespace="shop", peers=peers, opts=after_ns)
        Microservice("api", api, namespace="shop", peers=peers, opts=after_ns)
        k8s.core.v1.ConfigMap("settings", metadata={"name": "settings", "namespace": "shop"},
                              data={"mode": pulumi.Config().get("mode") or "unset"}, opts=opts)
        k8s.core.v1.Secret("db", metadata={"name": "db", "namespace": "shop"},
                           string_data={"password": pulumi.Output.secret("hunter2-plain")}, opts=opts)
        pulumi.export("password", pulumi.Output.secret("hunter2-plain"))

    return program


def test_testing_plan_runs_a_users_program(tmp_path):
    from fleetform.testing import plan

    result = plan(_users_program(_kubeconfig(tmp_path)), stack="dev", project="shop", config={"mode": "blue"})
    assert result.exit_code == 0, result.problems()
    by_kind: dict[str, list[str]] = {}
    for m in result.manifests:
        by_kind.setdefault(m.kind, []).append(m.name)
        assert m.cluster == "dev" and m.kubernetes_version == "1.35"
    assert sorted(by_kind["Deployment"]) == ["api", "web"]
    assert sorted(by_kind["ConfigMap"]) == ["settings"] and by_kind["Secret"] == ["db"]
    assert sorted(by_kind["NetworkPolicy"]) == ["api", "default-deny", "web"]
    resources = {r["name"]: r for r in result.resources()}
    assert resources["settings"]["inputs"]["data"] == {"mode": "blue"}  # the program's config, namespaced by project
    assert resources["settings"]["urn"] == "urn:pulumi:dev::shop::kubernetes:core/v1:ConfigMap::settings"
    assert resources["web-deployment"]["parent"] == "urn:pulumi:dev::shop::fleetform:workloads:Microservice::web"
    # Secrets stay secret in every view of the report.
    assert resources["db"]["inputs"]["stringData"] == "[secret]" or resources["db"]["inputs"]["stringData"] == {"password": "[secret]"}
    report = json.dumps(result.report())
    assert "hunter2-plain" not in report and "not-a-real-token" not in report
    assert result.report()["outputs"]["password"] == "[secret]"
    assert result.summary()["manifests"] == len(result.manifests) and result.summary()["exitCode"] == 0


def test_testing_plan_reports_policy_violations_and_schema_errors():
    from fleetform.testing import plan

    def program():
        provider = k8s.Provider("kind", kubeconfig="/nonexistent/kubeconfig")
        k8s.apps.v1.Deployment(
            "root-app",
            metadata={"name": "root-app", "namespace": "apps"},
            spec={"selector": {"match_labels": {"app": "r"}},
                  "template": {"metadata": {"labels": {"app": "r"}},
                               "spec": {"containers": [{"name": "r", "image": "nginx:1.27",
                                                        "security_context": {"privileged": True}}]}}},
            opts=pulumi.ResourceOptions(provider=provider),
        )
        k8s.core.v1.ConfigMap("bad", metadata={"name": "bad"}, data={"retries": 5},  # type: ignore[dict-item]
                              opts=pulumi.ResourceOptions(provider=provider))

    result = plan(program)
    assert result.exit_code == 1
    policies = {v.policy for v in result.violations}
    assert "k8s-no-privilege" in policies
    mandatory = [v for v in result.mandatory_violations if v.policy == "k8s-no-privilege"]
    assert mandatory and "root-app" in mandatory[0].urn
    assert all(m.cluster == "kind" for m in result.manifests)  # named after the program's own provider
    assert [line for line in result.schema_errors if "ConfigMap /bad" in line and "5 is not of type 'string'" in line], \
        result.schema_errors
    disabled = plan(program, policy_config={"k8s-no-privilege": "disabled"})
    assert "k8s-no-privilege" not in {v.policy for v in disabled.violations}


def test_testing_plan_unknown_invoke_fails():
    from fleetform.testing import plan

    def program():
        k8s.core.v1.ConfigMap("c", data={"a": "b"})
        pulumi.runtime.invoke("acme:index:getThing", {})

    with pytest.raises(Exception, match="unexpected invoke acme:index:getThing"):
        plan(program)


def test_testing_plan_refuses_a_run_that_registered_nothing():
    from fleetform.testing import MocksNotActive, plan

    with pytest.raises(MocksNotActive):
        plan(lambda: None)


def test_testing_plan_unknown_package_needs_naming():
    from fleetform.testing import plan

    def program():
        pulumi.CustomResource("docker:index/container:Container", "c", {"image": "nginx:1.27"})

    with pytest.raises(Exception, match="no mock for package 'docker'"):
        plan(program)
    result = plan(program, packages=["docker"])
    assert [r["type"] for r in result.resources()] == ["docker:index/container:Container"]


# ------------------------------------------------------------------------------ Microservice alone


def test_microservice_with_defaults_only():
    """A name, a ServiceSpec and a provider: existing-cluster behaviour, valid objects, no violations."""
    from fleetform import AppNamespace, Microservice
    from fleetform.testing import plan

    def program():
        provider = k8s.Provider("kind", kubeconfig="/nonexistent/kubeconfig")
        AppNamespace("ns", opts=pulumi.ResourceOptions(provider=provider))
        Microservice("web", _spec("web", expose="public"), opts=pulumi.ResourceOptions(provider=provider))

    result = plan(program)
    assert result.exit_code == 0, result.problems()
    assert result.violations == []
    objects = {(m.kind, m.name): m.object for m in result.manifests}
    assert {m.namespace for m in result.manifests if m.kind != "Namespace"} == {"fleetform"}
    service = objects[("Service", "web")]
    assert service["spec"]["type"] == "LoadBalancer" and service["spec"]["externalTrafficPolicy"] == "Local"
    assert "nodePort" not in service["spec"]["ports"][0]
    # The service's own NetworkPolicy allows its port in and DNS out, nothing else.
    egress = objects[("NetworkPolicy", "web")]["spec"]["egress"]
    assert egress == [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]


def test_microservice_egress_to_unknown_peer_is_a_clear_error():
    from fleetform import Microservice

    with pytest.raises(ValueError, match=r"egress to service 'api', which is not among the peers given \(web\)"):
        Microservice("web", _spec("web", egress=[{"service": "api"}]))


def test_microservice_unknown_target_is_a_clear_error():
    from fleetform import Microservice

    with pytest.raises(ValueError, match=r"target 'kind'; allowed: aws, gcp, azure, onprem, existing"):
        Microservice("web", _spec("web", expose="public"), target="kind")


# ------------------------------------------------------------------------------ packaging


def test_stack_entry_point_finds_the_package_without_install():
    """stacks/__main__.py puts components/ on the path (a plain checkout, as the language host
    runs it): the program imports with nothing installed but the SDKs."""
    code = ("import sys; "
            "sys.meta_path = [f for f in sys.meta_path if 'editable' not in getattr(f, '__module__', '').lower()]; "
            "src = open('stacks/__main__.py').read().replace('program()', ''); "
            "exec(compile(src, 'stacks/__main__.py', 'exec'), {'__file__': 'stacks/__main__.py', '__name__': 'x'}); "
            "import fleetform.fleet; print(fleetform.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(ROOT / "components" / "fleetform" / "__init__.py")

def test_all_lists_exactly_the_lazy_exports():
    import fleetform

    assert sorted(fleetform.__all__) == sorted(fleetform._EXPORTS)
    for name in fleetform.__all__:
        assert getattr(fleetform, name).__name__ == name


def test_testing_plan_refuses_remote_components():
    """A component its provider builds at deploy time (Helm Chart v4, yaml/v2 ConfigGroup) has
    children nothing offline can see: an error, never a clean plan of nothing."""
    from fleetform.testing import plan

    def program():
        k8s.yaml.v2.ConfigGroup("raw", objs=[{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                               "spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                                                                         "securityContext": {"privileged": True}}]}}])

    with pytest.raises(Exception, match=r"kubernetes:yaml/v2:ConfigGroup \(raw\) is a component its provider builds"):
        plan(program)
