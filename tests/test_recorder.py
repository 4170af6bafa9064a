"""The plan's recorder (fleetform.plan.mocks.RecordingMonitor) keeps what the engine would see.

It reuses the inputs the SDK's MockMonitor deserialized for the mocks instead of deserializing
each registration a second time; these tests hold it to the inputs a full deserialization of the
wire request gives, unknowns and secrets included.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc

from fleetform.fleet import program
from fleetform.plan.mocks import SECRET, UNKNOWN, FleetMocks, RecordingMonitor
from fleetform.plan.runner import run_under_mocks
from tests.conftest import stack_config


class _Reference(RecordingMonitor):
    """Also deserializes every request in full (keeping unknowns), as the engine receives it."""

    def __init__(self):
        super().__init__(FleetMocks())
        self.wire: dict[str, dict] = {}
        self.reused: list[bool] = []  # (appended from the SDK's executor threads: list.append is atomic)

    def _inputs(self, request):
        inputs = super()._inputs(request)
        self.reused.append(inputs is self._seen.inputs)
        return inputs

    def RegisterResource(self, request):  # noqa: N802
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.wire[response.urn] = rpc.deserialize_properties(request.object, keep_unknowns=True)
        return response


# hybrid: Kubernetes, AWS, GCP, Azure and an existing cluster; onprem: tls, random, command.
@pytest.mark.parametrize("stack", ["hybrid", "onprem"])
def test_recorded_inputs_are_the_wire_inputs(stack):
    monitor = _Reference()
    config = stack_config(stack)
    encrypted = tuple(k for k, v in config.items() if isinstance(v, dict) and set(v) == {"secure"})  # as the engine marks them
    capture = run_under_mocks(stack, config, lambda: program(skip_unimplemented=True), monitor=monitor, secret_keys=encrypted)
    assert len(capture.registrations) > 50 and len(monitor.wire) == len(capture.registrations)
    for r in capture.registrations:
        assert r.inputs == monitor.wire[r.urn], r.urn
    # Known inputs were not deserialized a second time.
    assert monitor.reused == [True] * len(capture.registrations)


def test_unknown_and_secret_inputs_are_kept():
    """An unknown value, which MockMonitor's own deserialization drops, is recorded as unknown;
    a secret stays marked."""
    import asyncio

    import pulumi
    import pulumi_kubernetes as k8s

    def prog():
        # An output whose value is not known (as one computed by a provider during a preview).
        loop = asyncio.get_event_loop()
        value, known = loop.create_future(), loop.create_future()
        value.set_result(None)
        known.set_result(False)
        unknown = pulumi.Output(set(), value, known)
        k8s.core.v1.ConfigMap("cm", metadata={"name": "cm", "namespace": "n"}, data={"later": unknown, "now": "1"})
        k8s.core.v1.Secret("s", metadata={"name": "s", "namespace": "n"}, string_data={"token": pulumi.Output.secret("t0k3n")})

    monitor = _Reference()
    capture = run_under_mocks("t", {}, prog, monitor=monitor)
    by_name = {r.name: r for r in capture.registrations}
    assert by_name["cm"].plain_inputs(mask=True)["data"] == {"later": UNKNOWN, "now": "1"}
    assert by_name["s"].plain_inputs(mask=True)["stringData"] == SECRET  # (the SDK marks the whole map)
    assert by_name["s"].plain_inputs(mask=False)["stringData"] == {"token": "t0k3n"}
    # The unknown one was deserialized again (keeping the unknown); the secret one was not.
    assert sorted(monitor.reused) == [False, True]



def test_the_monitor_hands_every_mocks_call_to_the_mocks_it_was_given():
    """The witness in between forwards each method of pulumi's Mocks (a method it left to the
    base class would silently swallow the given mocks' own)."""
    import inspect

    import pulumi

    seen = []

    class Spy(FleetMocks):
        def new_resource(self, args):
            seen.append("new_resource")
            return super().new_resource(args)

        def call(self, args):
            seen.append("call")
            return {}, []

        def register_transform(self, transform):
            seen.append("register_transform")

        def register_invoke_transform(self, transform):
            seen.append("register_invoke_transform")

    witness = RecordingMonitor(Spy()).mocks
    methods = sorted(n for n, f in inspect.getmembers(pulumi.runtime.Mocks, inspect.isfunction) if not n.startswith("_"))
    assert methods == ["call", "new_resource", "register_invoke_transform", "register_transform"]
    from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

    witness.new_resource(MockResourceArgs("kubernetes:core/v1:Namespace", "n", {}))
    witness.call(MockCallArgs("x:y:z", {}, ""))
    transform: Any = object()
    witness.register_transform(transform)
    witness.register_invoke_transform(transform)
    assert seen == ["new_resource", "call", "register_transform", "register_invoke_transform"]
