"""The plan's secret masking and mocks pinned where they are made, ``fleetform.plan.mocks`` (issue 17).

Expectations follow the module's contract: a secret (Pulumi's wire form, a dict whose signature key
``4dabf18193072939515e22adb298388d`` holds the secret signature) becomes ``"[secret]"`` when
masked, its value otherwise; an unknown becomes ``"[unknown]"`` (or the marker asked for); numbers
that crossed protobuf as whole doubles become integers again; anything not JSON-like goes through
``json`` with ``str``. The mocks echo inputs (only metadata for Kubernetes objects), give ids
``<name>-id`` and refuse packages and invokes nobody planned for.
"""

from __future__ import annotations

import datetime

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

from fleetform.plan.mocks import (
    KNOWN_PACKAGES,
    SECRET,
    UNKNOWN,
    FleetMocks,
    Registration,
    UnexpectedMockCall,
    _is_secret,
    _plain_marking,
    plain,
)


def secret(value):
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def test_markers():
    assert SECRET == "[secret]" and UNKNOWN == "[unknown]"
    assert KNOWN_PACKAGES == {"kubernetes", "aws", "gcp", "azure-native", "tls", "random", "command", "fleetform"}


def test_is_secret_needs_the_secret_signature():
    assert _is_secret(secret("x"))
    assert not _is_secret({rpc._special_sig_key: rpc._special_asset_sig, "value": "x"})
    assert not _is_secret({"value": "x"}) and not _is_secret("x") and not _is_secret(None)


INPUTS = {"a": secret("pw"), "b": [secret({"k": "v"}), 1.0, 2.5, True, None], "c": ("t", 3), "d": pulumi.output.Unknown()}


def test_plain_masks_every_secret_wherever_it_is():
    assert plain(INPUTS, mask=True) == {"a": SECRET, "b": [SECRET, 1, 2.5, True, None], "c": ["t", 3], "d": UNKNOWN}


def test_plain_unmasked_gives_the_values_and_the_unknown_marker_asked_for():
    got = plain(INPUTS, mask=False, unknown="?")
    assert got == {"a": "pw", "b": [{"k": "v"}, 1, 2.5, True, None], "c": ["t", 3], "d": "?"}
    assert type(got["b"][1]) is int and type(got["b"][2]) is float


def test_plain_nested_secret_in_a_secret_is_unwrapped_and_unknowns_inside_get_the_marker():
    assert plain(secret({"x": secret("y"), "u": pulumi.output.Unknown()}), mask=False, unknown="?") == {"x": "y", "u": "?"}
    assert plain(secret({"x": "y"}), mask=True) == SECRET


def test_plain_other_values_go_through_json_with_str():
    when = datetime.date(2026, 12, 2)
    assert plain({"when": when}, mask=False) == {"when": "2026-12-02"}
    assert plain(7, mask=True) == 7 and plain("s", mask=True) == "s" and plain(False, mask=True) is False


def test_plain_marking_is_plain_unmasked_and_says_what_it_met():
    marks: set[str] = set()
    assert _plain_marking(INPUTS, marks) == plain(INPUTS, mask=False)
    assert marks == {"secret", "unknown"}
    clean: set[str] = set()
    assert _plain_marking({"a": [1.0, ("x",)]}, clean) == {"a": [1, ["x"]]} and clean == set()
    only_unknown: set[str] = set()
    _plain_marking([pulumi.output.Unknown()], only_unknown)
    assert only_unknown == {"unknown"}


def _registration(inputs):
    return Registration(urn="urn:x", type="t", name="n", parent=None, custom=True, provider=None, inputs=inputs)


def test_registration_views():
    r = _registration(INPUTS)
    assert r.plain_inputs(mask=True) == plain(INPUTS, mask=True)
    assert r.plain_inputs(mask=False) == plain(INPUTS, mask=False)
    assert r.plain_inputs(mask=False, unknown="?") == plain(INPUTS, mask=False, unknown="?")
    assert r.plain_inputs(mask=True) is r.plain_inputs(mask=True)  # computed once per view
    assert (r.aliases, r.dependencies, r.ignore_changes, r.deleted_with, r.custom_timeouts) == ([], [], [], "", {})


def test_registration_without_secrets_or_unknowns_shares_one_view():
    r = _registration({"a": 1.0})
    assert r.plain_inputs(mask=True) == {"a": 1}
    assert r.plain_inputs(mask=True) is r.plain_inputs(mask=False) is r.plain_inputs(mask=False, unknown="?")


def test_registration_with_only_an_unknown_keeps_the_marker_asked_for():
    r = _registration({"u": pulumi.output.Unknown()})
    assert r.plain_inputs(mask=True) == {"u": UNKNOWN}
    assert r.plain_inputs(mask=True, unknown="?") == {"u": "?"}


def test_registration_with_only_a_secret_masks_it():
    r = _registration({"s": secret("pw")})
    assert r.plain_inputs(mask=False) == {"s": "pw"}
    assert r.plain_inputs(mask=True) == {"s": SECRET}


# ------------------------------------------------------------------------------ FleetMocks


def test_new_resource_echoes_inputs_with_a_deterministic_id():
    assert FleetMocks().new_resource(MockResourceArgs("random:index/randomId:RandomId", "r", {"byteLength": 8}, custom=True)) \
        == ("r-id", {"byteLength": 8})


def test_kubernetes_objects_echo_only_their_metadata():
    mocks = FleetMocks()
    args = MockResourceArgs("kubernetes:core/v1:ConfigMap", "c", {"metadata": {"name": "c"}, "data": {"a": "b"}}, custom=True)
    assert mocks.new_resource(args) == ("c-id", {"metadata": {"name": "c"}})
    assert mocks.new_resource(MockResourceArgs("kubernetes:core/v1:ConfigMap", "d", {"data": {}}, custom=True)) == ("d-id", {})
    provider = MockResourceArgs("pulumi:providers:kubernetes", "k", {"kubeconfig": "/p", "metadata": {"x": 1}}, custom=True)
    assert mocks.new_resource(provider) == ("k-id", {"kubeconfig": "/p", "metadata": {"x": 1}})


def test_clusterip_service_gets_no_status():
    args = MockResourceArgs("kubernetes:core/v1:Service", "s", {"metadata": {"name": "s"}, "spec": {"type": "ClusterIP"}},
                            custom=True)
    assert FleetMocks().new_resource(args) == ("s-id", {"metadata": {"name": "s"}})


def test_unknown_packages_are_refused_unless_named_or_components():
    docker = MockResourceArgs("docker:index/container:Container", "c", {}, custom=True)
    with pytest.raises(UnexpectedMockCall) as info:
        FleetMocks().new_resource(docker)
    assert str(info.value) == "unexpected resource type docker:index/container:Container (c): no mock for package 'docker'"
    assert FleetMocks(frozenset({"docker"})).new_resource(docker) == ("c-id", {})
    assert FleetMocks().new_resource(MockResourceArgs("acme:index:Thing", "t", {"a": 1}, custom=False)) == ("t-id", {"a": 1})
    with pytest.raises(UnexpectedMockCall, match="no mock for package 'docker'"):
        FleetMocks().new_resource(MockResourceArgs("pulumi:providers:docker", "p", {}, custom=True))
    assert FleetMocks().new_resource(MockResourceArgs("pulumi:providers:aws", "p", {"region": "x"}, custom=True)) \
        == ("p-id", {"region": "x"})


def test_unknown_invoke_is_refused_with_the_token():
    with pytest.raises(UnexpectedMockCall) as info:
        FleetMocks().call(MockCallArgs("acme:index:getThing", {}, ""))
    assert str(info.value) == "unexpected invoke acme:index:getThing: no canned result (add one to fleetform.plan.canned)"


def test_plain_marking_inside_a_secret_still_marks_what_it_meets():
    marks: set[str] = set()
    assert _plain_marking(secret({"u": pulumi.output.Unknown(), "s": secret("x")}), marks) == {"u": UNKNOWN, "s": "x"}
    assert marks == {"secret", "unknown"}


def test_plain_unknowns_in_lists_get_the_marker_asked_for():
    assert plain([pulumi.output.Unknown(), (pulumi.output.Unknown(),)], mask=True, unknown="?") == ["?", ["?"]]


def test_plain_resource_references_are_named_by_their_class():
    import pulumi_kubernetes as k8s

    resource = object.__new__(k8s.core.v1.ConfigMap)  # a reference only: never registered
    assert plain({"r": resource}, mask=True) == {"r": "[resource ConfigMap]"}


# The canned answers of fleetform.plan.canned.<package> are the mocks' answers (ids and echo aside).

def test_canned_invoke_of_a_package_module_is_the_answer():
    from fleetform.plan.canned import aws

    token = "aws:index/getCallerIdentity:getCallerIdentity"
    args = MockCallArgs(token, {}, "")
    assert FleetMocks().call(args) == (aws.INVOKES[token](args), [])


def test_canned_outputs_of_a_package_module_are_added_to_the_echo():
    from fleetform.plan.canned import aws

    typ = "aws:kms/key:Key"
    args = MockResourceArgs(typ, "k", {"description": "d"}, custom=True)
    expected = {"description": "d", **aws.OUTPUTS[typ](args)}
    assert set(expected) != {"description"}  # the canned module adds outputs
    assert FleetMocks().new_resource(args) == ("k-id", expected)


def test_invoke_tokens_are_looked_up_in_their_own_package():
    """``gcp:...`` tokens are answered by canned.gcp, never by another package's table."""
    from fleetform.plan.canned import gcp

    token = "gcp:compute/getZones:getZones"
    args = MockCallArgs(token, {"region": "europe-west1"}, "")
    assert FleetMocks().call(args) == (gcp.INVOKES[token](args), [])
    with pytest.raises(UnexpectedMockCall):
        FleetMocks().call(MockCallArgs("gcp:index/getClientConfig:nope", {}, ""))


# The plan's LoadBalancer Service status (the docstring's contract): a DNS name for an AWS load
# balancer, else an address of RFC 5737's 198.51.100.0/24, the same on every run.

def _service(name, annotations=None, type_="LoadBalancer", namespace="apps"):
    meta = {"name": name, "namespace": namespace, **({"annotations": annotations} if annotations else {})}
    return MockResourceArgs("kubernetes:core/v1:Service", f"{name}-service", {"metadata": meta, "spec": {"type": type_}},
                            custom=True)


def _ingress(args):
    return FleetMocks().new_resource(args)[1]["status"]["loadBalancer"]["ingress"]


def test_aws_load_balancer_services_get_a_hostname():
    args = _service("web", {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"})
    assert _ingress(args) == [{"hostname": "web.apps.lb.plan.invalid"}]


def test_other_load_balancer_services_get_a_stable_documentation_address():
    import ipaddress

    first = _ingress(_service("web", {"metallb.io/address-pool": "pub"}))
    assert first == _ingress(_service("web", {"metallb.io/address-pool": "pub"}))
    (entry,) = first
    assert set(entry) == {"ip"}
    address = ipaddress.ip_address(entry["ip"])
    assert address in ipaddress.ip_network("198.51.100.0/24") and entry["ip"] not in ("198.51.100.0", "198.51.100.255")


def test_load_balancer_hostname_defaults_to_the_resource_name_and_namespace_default():
    aws = {"service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}
    args = MockResourceArgs("kubernetes:core/v1:Service", "svc", {"metadata": {"annotations": aws}, "spec": {"type": "LoadBalancer"}},
                            custom=True)
    assert _ingress(args) == [{"hostname": "svc.default.lb.plan.invalid"}]
    bare = MockResourceArgs("kubernetes:core/v1:Service", "svc", {"spec": {"type": "LoadBalancer"}}, custom=True)
    assert set(_ingress(bare)[0]) == {"ip"}


def test_the_witness_hands_transforms_to_the_mocks_it_wraps():
    import threading

    from fleetform.plan.mocks import _Witness

    class Wrapped(FleetMocks):
        def __init__(self):
            super().__init__()
            self.got: list = []

        def register_transform(self, transform):
            self.got.append(("resource", transform))

        def register_invoke_transform(self, transform):
            self.got.append(("invoke", transform))

    wrapped = Wrapped()
    witness = _Witness(wrapped, threading.local())
    witness.register_transform("t1")
    witness.register_invoke_transform("t2")
    assert wrapped.got == [("resource", "t1"), ("invoke", "t2")]


# ------------------------------------------------------------------------------ RecordingMonitor


def test_the_recorder_keeps_aliases_dependencies_ignore_changes_deleted_with_and_timeouts():
    import pulumi_kubernetes as k8s

    from fleetform.testing import plan

    def program():
        first = k8s.core.v1.ConfigMap("first", metadata={"name": "first"}, data={"a": "b"})
        k8s.core.v1.ConfigMap("second", metadata={"name": "second"}, data={"a": "b"},
                              opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name="old-second")], depends_on=[first],
                                                          ignore_changes=["data"], deleted_with=first,
                                                          custom_timeouts=pulumi.CustomTimeouts(create="2m", delete="1h")))
        provider = k8s.Provider("k", kubeconfig="/nonexistent/kubeconfig")
        k8s.core.v1.ConfigMap("third", metadata={"name": "third"}, opts=pulumi.ResourceOptions(provider=provider))

    result = plan(program, stack="dev", project="p")
    by_name = {r.name: r for r in result.capture.registrations}
    first, second = by_name["first"], by_name["second"]
    assert (first.aliases, first.dependencies, first.ignore_changes, first.deleted_with) == ([], [], [], "")
    assert second.aliases == ["old-second"]
    assert second.dependencies == [first.urn]
    assert second.ignore_changes == ["data"]
    assert second.deleted_with == first.urn
    assert second.custom_timeouts == {"create": "2m", "delete": "1h"} and first.custom_timeouts == {}  # unset ones left out
    # An explicit provider is recorded as the engine's reference, <provider URN>::<its id>; none given, none recorded.
    assert by_name["third"].provider == by_name["k"].urn + "::k-id"
    assert first.provider is None and second.provider is None
    assert second.urn == "urn:pulumi:dev::p::kubernetes:core/v1:ConfigMap::second"
    assert second.parent == "urn:pulumi:dev::p::pulumi:pulumi:Stack::p-dev"  # the root stack, named <project>-<stack>
    assert second.custom is True and second.type == "kubernetes:core/v1:ConfigMap"
    assert "pulumi:pulumi:Stack" not in {r.type for r in result.capture.registrations}


def test_a_remote_component_is_refused_with_what_to_do_instead():
    from fleetform.testing import plan

    class Remote(pulumi.ComponentResource):
        def __init__(self, name):
            super().__init__("acme:index:Chart", name, None, None, remote=True)

    with pytest.raises(Exception) as info:
        plan(lambda: Remote("chart"))
    assert ("acme:index:Chart (chart) is a component its provider builds at deploy time: its resources cannot be "
            "planned offline (use pulumi preview, or resources the program registers itself)") in str(info.value)
