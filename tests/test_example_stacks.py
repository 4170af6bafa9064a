"""Every example stack in stacks/ plans clean: exit 0, no schema errors, no policy violation,
every cluster planned (none left as "not implemented yet")."""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLE_STACKS, ROOT, planned

STACKS = EXAMPLE_STACKS


@pytest.mark.parametrize("stack", STACKS)
def test_example_stack_plans_clean(stack):
    result = planned(stack)
    assert result.errors == []
    assert result.schema_errors == []
    assert [(v.policy, v.message) for v in result.mandatory_violations] == []
    assert [(v.policy, v.message) for v in result.violations] == []  # advisory ones too
    assert result.exit_code == 0
    clusters = set(result.summary()["clusters"])
    assert clusters == {c.name for c in result.spec.clusters}
    assert result.manifests, "no Kubernetes object planned"
