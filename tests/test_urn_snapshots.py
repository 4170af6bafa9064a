"""URNs are a public contract: a rename or re-parent without an alias replaces resources.

The committed snapshot lists every URN each example stack plans. A change fails this test
unless the snapshot is regenerated on purpose:

    FLEETFORM_UPDATE_SNAPSHOTS=1 python -m pytest tests/test_urn_snapshots.py
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import EXAMPLE_STACKS, ROOT, planned

SNAPSHOTS = ROOT / "tests" / "snapshots"
STACKS = EXAMPLE_STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_urns_match_snapshot(stack):
    urns = sorted(r.urn for r in planned(stack).capture.registrations)
    path = SNAPSHOTS / f"{stack}.urns"
    if os.environ.get("FLEETFORM_UPDATE_SNAPSHOTS") == "1":
        path.write_text("\n".join(urns) + "\n")
    assert path.is_file(), f"no snapshot for {stack}: run with FLEETFORM_UPDATE_SNAPSHOTS=1 once and commit it"
    expected = path.read_text().split()
    added = sorted(set(urns) - set(expected))
    removed = sorted(set(expected) - set(urns))
    assert not added and not removed, f"URNs changed for {stack}: added {added}, removed {removed}"


def test_urns_follow_the_engine_qualification():
    """URNs carry the parent's whole type chain (as the engine makes them), not the SDK mock's
    last link only, so the snapshot is what `pulumi up` will create."""
    urns = {r.name: r.urn for r in planned("local").capture.registrations}
    assert urns["fleet"] == "urn:pulumi:local::fleetform::fleetform:index:Fleet::fleet"
    assert urns["local-web-deployment"] == (
        "urn:pulumi:local::fleetform::fleetform:index:Fleet$fleetform:cluster:ExistingCluster$"
        "fleetform:workloads:Microservice$kubernetes:apps/v1:Deployment::local-web-deployment"
    )
