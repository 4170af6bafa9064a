"""The mocks cannot make a test pass vacuously."""

from __future__ import annotations

import ipaddress

import pytest

from fleetform.fleet import program
from fleetform.plan.mocks import FleetMocks, UnexpectedMockCall
from fleetform.plan.runner import MocksNotActive, run_under_mocks
from tests.conftest import stack_config


def test_without_mocks_the_run_fails_instead_of_passing_empty():
    with pytest.raises(MocksNotActive):
        run_under_mocks("local", stack_config("local"), program, install_mocks=False)


def test_program_that_registers_nothing_is_an_error():
    with pytest.raises(MocksNotActive):
        run_under_mocks("local", {}, lambda: None)


def test_apply_callbacks_ran():
    """Outputs computed in apply() (the LB address from Service status) resolved to real values."""
    capture = run_under_mocks("local", stack_config("local"), program)
    services = capture.outputs["clusters"]["local"]["services"]
    assert services["api"] == "api.fleetform.svc.cluster.local:80"
    # ServiceLB answers with an address (no AWS annotations): one of RFC 5737's documentation range.
    assert ipaddress.ip_address(services["web"]) in ipaddress.ip_network("198.51.100.0/24")


def test_unexpected_invoke_raises():
    from pulumi.runtime.mocks import MockCallArgs

    with pytest.raises(UnexpectedMockCall, match="unexpected invoke aws:index/getRegion:getRegion"):
        FleetMocks().call(MockCallArgs("aws:index/getRegion:getRegion", {}, ""))


def test_unexpected_package_raises():
    from pulumi.runtime.mocks import MockResourceArgs

    with pytest.raises(UnexpectedMockCall, match="no mock for package 'docker'"):
        FleetMocks().new_resource(MockResourceArgs("docker:index/container:Container", "c", {}))


def test_invoke_from_a_program_fails_the_run():
    import pulumi

    def prog():
        import pulumi_kubernetes as k8s

        k8s.core.v1.Namespace("ns", metadata={"name": "x"})
        pulumi.runtime.invoke("kubernetes:yaml:decode", {"text": "a: 1"})

    with pytest.raises(Exception, match="unexpected invoke kubernetes:yaml:decode"):
        run_under_mocks("t", {}, prog)


def test_a_failed_run_does_not_poison_the_next_one():
    """Pending outputs of a run that failed must not be awaited (and re-raised) by the next run in
    the same process (the SDK keeps them in a set shared across contexts)."""
    import pulumi

    def failing():
        import pulumi_kubernetes as k8s

        first = k8s.core.v1.Namespace("ns0", metadata={"name": "ns0"})

        def boom(_):
            raise pulumi.RunError("boom from apply")

        name = first.metadata.apply(boom)
        # Registrations still waiting on the failed output when the error surfaces:
        for i in range(1, 5):
            k8s.core.v1.Namespace(f"ns{i}", metadata={"name": name})

    with pytest.raises(pulumi.RunError, match="boom from apply"):
        run_under_mocks("t", {}, failing)
    capture = run_under_mocks("local", stack_config("local"), program)
    assert len(capture.registrations) > 10


def test_canned_answers_are_looked_up_once_per_package():
    """Kubernetes has no canned module: without the per-package cache every registration would
    search the import path for it again."""
    import sys

    searched = []

    class Spy:
        def find_spec(self, name, path=None, target=None):
            if name == "fleetform.plan.canned.kubernetes":
                searched.append(name)
            return None

    spy = Spy()
    sys.meta_path.insert(0, spy)
    try:
        capture = run_under_mocks("local", stack_config("local"), program)
    finally:
        sys.meta_path.remove(spy)
    assert sum(r.type.startswith("kubernetes:") for r in capture.registrations) > 5
    assert len(searched) <= 1, searched
