"""Test your own Pulumi program offline, with the engine behind ``fleetform plan``.

:func:`plan` runs any program function (a callable that registers resources, such as the body of
your ``__main__.py``) under fleetform's mocks, with the real Pulumi SDK and the real provider
SDKs, and returns what ``fleetform plan --json`` reports for a stack::

    import pulumi_kubernetes as k8s
    from fleetform import Microservice, ServiceSpec
    from fleetform.testing import plan

    def program():
        provider = k8s.Provider("dev", kubeconfig="~/.kube/config")
        Microservice("web", ServiceSpec(name="web", image="ghcr.io/acme/web:1.2.3", port=8080),
                     opts=pulumi.ResourceOptions(provider=provider))

    def test_my_program():
        result = plan(program)
        assert result.exit_code == 0, result.problems()
        assert {m.kind for m in result.manifests} >= {"Deployment", "Service"}

What you get: :class:`~fleetform.plan.engine.PlanResult` — ``resources()`` (type, name, parent,
inputs; secrets as ``"[secret]"``), ``manifests`` (every Kubernetes object, checked strictly
against the Kubernetes schema of its version), ``violations`` (fleetform's policy pack over every
resource), ``schema_errors``, ``summary()``, ``report()`` (the whole ``--json`` document) and
``exit_code`` (0 clean; 1 schema errors, mandatory violations or objects declared twice).

What it is not: ``pulumi preview``. Nothing talks to a cloud or a cluster. Cloud resources echo
their inputs as outputs (fleetform's own canned outputs where its program reads one); an invoke
(``get_*`` data source) with no canned result is an error, never an empty answer; a run in which
nothing reached the mocks raises instead of passing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional

from .plan.engine import PlanResult, plan_program
from .plan.mocks import UnexpectedMockCall
from .plan.runner import MocksNotActive

__all__ = ["MocksNotActive", "PlanResult", "UnexpectedMockCall", "plan"]


def plan(
    program: Callable[[], Any],
    *,
    stack: str = "test",
    project: str = "fleetform",
    config: Optional[Mapping[str, Any]] = None,
    secret_keys: Iterable[str] = (),
    kubernetes_version: Optional[str] = None,
    policy_config: Optional[Mapping[str, Any]] = None,
    packages: Iterable[str] = (),
) -> PlanResult:
    """Run ``program`` offline as stack ``stack`` of project ``project`` and check it.

    - ``config``: the stack's config, as in a stack file (``{"myapp:replicas": 3}``; a key
      without a namespace gets ``project``'s). Structured values are handed to the program as
      JSON, as the engine does; ``secret_keys`` names the keys the engine would mark secret.
    - ``kubernetes_version``: the schema version Kubernetes objects are validated against
      (default: fleetform's default version, or each fleetform cluster's own).
    - ``policy_config``: the policy pack's config, as given to ``--policy-pack-config``
      (``{"k8s-replicas": "disabled"}``).
    - ``packages``: resource packages your program uses besides those fleetform's mocks know
      (kubernetes, aws, gcp, azure-native, tls, random, command); their custom resources echo
      their inputs.

    Raises :class:`UnexpectedMockCall` (wrapped by the SDK in its error) for an invoke with no
    canned result or a resource of an unknown package, and :class:`MocksNotActive` when nothing
    was registered.
    """
    full: dict[str, Any] = {}
    for key, value in (config or {}).items():
        full[key if ":" in key else f"{project}:{key}"] = value
    secrets = tuple(key if ":" in key else f"{project}:{key}" for key in secret_keys)
    return plan_program(
        program,
        stack=stack,
        config=full,
        project=project,
        secret_keys=secrets,
        kubernetes_version=kubernetes_version,
        policy_config=policy_config,
        packages=frozenset(packages),
    )
