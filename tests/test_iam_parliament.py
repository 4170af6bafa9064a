"""parliament (duo-labs' IAM policy linter) over every IAM policy document of every example stack.

Every AWS resource of every example stack's plan is searched for policy documents (a JSON object
with a ``Statement``): role trust policies (``assumeRolePolicy``), inline and managed policies
(``RolePolicy``/``Policy`` ``policy``, ``Role`` ``inlinePolicies``), and any resource policy a
component adds later. All of them go to parliament in one subprocess call, with its community
auditors (privilege escalation, credentials exposure, permissions management, ...). A finding
fails the test unless one of :data:`EXCEPTIONS` covers it; each exception says why and cites its
source, and one that no longer matches anything fails too (so the list cannot rot).

parliament lives in a virtualenv of its own (``.tools/parliament``, made by ``make test``, see the
Makefile). It needs no network: its IAM definitions (a copy of AWS's Service Authorization
Reference) ship inside the package. The test is skipped, with a reason, only where that venv is
missing.

Trust policies: parliament analyses a statement only as far as the missing ``Resource`` element
(a trust policy has none, duo-labs/parliament#229), so it checks their principals but not their
actions. The driver checks those actions against parliament's IAM definitions itself.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fleetform.cluster.eks import LBC_POLICY_FILE
from fleetform.plan.canned.aws import ACCOUNT
from tests.conftest import EXAMPLE_STACKS, ROOT, planned, stack_config

PARLIAMENT_PYTHON = ROOT / ".tools" / "parliament" / "bin" / "python"
MISSING = "parliament's venv is missing: run `make test` (it builds .tools/parliament)"


def _pinned_version() -> str:
    """The release the Makefile installs (PARLIAMENT_VERSION): the single place it is pinned."""
    match = re.search(r"^PARLIAMENT_VERSION\s*=\s*(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "Makefile: PARLIAMENT_VERSION not found"
    return match.group(1)


# Runs inside parliament's venv (python -I: nothing of this project on its path). Reads
# [{"id", "kind", "text"}] on stdin, writes {"version", "results": [{"id", "findings"}]}.
_DRIVER = r'''
import json, sys, warnings
warnings.simplefilter("ignore")  # parliament imports pkg_resources, which warns
from pathlib import Path
import parliament
from parliament import (UnknownActionException, UnknownPrefixException, analyze_policy_string,
                        enhance_finding, expand_action, override_config)

# What `parliament --include-community-auditors` does before it analyses anything.
override_config(str(Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"))

def as_list(value):
    return value if isinstance(value, list) else [value]

results = []
for doc in json.load(sys.stdin):
    policy = analyze_policy_string(doc["text"], filepath=doc["id"], include_community_auditors=True)
    findings = []
    for f in policy.findings:
        enhance_finding(f)
        location = {k: v for k, v in (f.location or {}).items() if k in ("string", "line", "column")}
        findings.append(json.loads(json.dumps(
            {"issue": f.issue, "severity": f.severity, "title": f.title, "detail": f.detail, "location": location},
            default=str)))
    if doc["kind"] == "trust":
        statements = as_list(json.loads(doc["text"]).get("Statement", []))
        for statement in statements:
            for action in as_list(statement.get("Action", [])):
                try:
                    expand_action(action)
                except UnknownPrefixException as e:
                    findings.append({"issue": "UNKNOWN_PREFIX", "severity": "LOW", "title": "Unknown prefix",
                                     "detail": str(e), "location": {"string": action}})
                except UnknownActionException as e:
                    findings.append({"issue": "UNKNOWN_ACTION", "severity": "LOW", "title": "Unknown action",
                                     "detail": str(e), "location": {"string": action}})
    results.append({"id": doc["id"], "findings": findings})
json.dump({"version": parliament.__version__, "results": results}, sys.stdout)
'''


@dataclass(frozen=True)
class PolicyDoc:
    """One policy document found in a plan."""

    stack: str
    resource: str
    """``<type> <name>`` of the registration."""
    field: str
    """Where in its inputs: ``assumeRolePolicy``, ``policy``, ``inlinePolicies[0].policy``, ..."""
    kind: str
    """``trust`` (a role's trust policy), ``identity`` (an aws:iam policy) or ``resource``."""
    text: str

    @property
    def id(self) -> str:
        return f"{self.stack}: {self.resource} .{self.field}"


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    else:
        yield path, value


def _as_policy(value: Any) -> str | None:
    """The document's JSON text if ``value`` is a policy document (a JSON object with a Statement)."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return value if isinstance(parsed, dict) and "Statement" in parsed else None
    return None


def policy_documents(stack: str, result) -> list[PolicyDoc]:
    """Every policy document in the inputs of the plan's AWS resources."""
    docs = []
    for reg in result.capture.registrations:
        if not reg.type.startswith("aws:"):
            continue
        inputs = reg.plain_inputs(mask=False)
        # A policy given as an object rather than a JSON string (the SDK serializes it) is one too.
        for key in ("policy", "assumeRolePolicy"):
            if isinstance(inputs.get(key), dict) and "Statement" in inputs[key]:
                inputs = {**inputs, key: json.dumps(inputs[key])}
        for path, value in _walk(inputs, ""):
            text = _as_policy(value)
            if text is None:
                continue
            kind = "trust" if path == "assumeRolePolicy" else "identity" if reg.type.startswith("aws:iam/") else "resource"
            docs.append(PolicyDoc(stack, f"{reg.type} {reg.name}", path, kind, text))
    return docs


# ------------------------------------------------------------------------------ the exceptions


def _lbc_reference_policy() -> Any:
    return json.loads(Path(LBC_POLICY_FILE).read_text())


def _is_lbc_policy(doc: PolicyDoc) -> bool:
    """The AWS Load Balancer Controller's own policy, exactly as AWS publishes it (any change to it
    makes the LBC exceptions stop applying)."""
    return doc.kind == "identity" and json.loads(doc.text) == _lbc_reference_policy()


# An EKS cluster's IAM OIDC provider: arn:<partition>:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com[.cn]/id/<ID>
# (https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html).
EKS_OIDC_PROVIDER = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:oidc-provider/oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/id/[0-9A-F]+$")


def _is_kms_key_policy(doc: PolicyDoc) -> bool:
    """A KMS key's key policy (the ``policy`` of an ``aws:kms/key:Key``)."""
    return doc.kind == "resource" and doc.resource.startswith("aws:kms/key:Key ") and doc.field == "policy"


_ACCOUNT_ROOT_ADMIN = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
"""KMS's default key policy statement, for the plan's account (canned ACCOUNT)."""
_KEY_USE = re.compile(r"^kms:(Encrypt|Decrypt|ReEncrypt|GenerateDataKey)[A-Za-z]*\*?$")


def _key_policy_statements(doc: PolicyDoc) -> list[dict[str, Any]]:
    statements = json.loads(doc.text)["Statement"]
    return [{k: v for k, v in st.items() if k != "Sid"} for st in (statements if isinstance(statements, list) else [statements])]


def _only_root_administers(doc: PolicyDoc) -> bool:
    """Every statement of the key policy either is KMS's default one (the account, kms:*) or grants
    cryptographic use only: so the permissions-management finding can only be the default one's."""
    return _is_kms_key_policy(doc) and all(
        st == _ACCOUNT_ROOT_ADMIN
        or all(_KEY_USE.match(a) for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]))
        for st in _key_policy_statements(doc)
    )


@dataclass(frozen=True)
class Exemption:
    """A reviewed parliament finding that does not apply, with why and where that is documented."""

    name: str
    reason: str
    sources: tuple[str, ...]
    applies: Callable[[PolicyDoc, dict[str, Any]], bool]


EXCEPTIONS: tuple[Exemption, ...] = (
    Exemption(
        "trust-policy-has-no-resource",
        "A role trust policy is the role's resource-based policy: the role is its resource, and it has "
        "no Resource element. IAM Access Analyzer's MISSING_RESOURCE check exempts trust policies; "
        "parliament reports them as malformed (duo-labs/parliament#229).",
        ("https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html",
         "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html#access-analyzer-reference-policy-checks-error-missing-resource",
         "https://github.com/duo-labs/parliament/issues/229"),
        lambda doc, f: doc.kind == "trust" and f["issue"] == "MALFORMED"
        and f["detail"] == "Statement contains neither Resource nor NotResource",
    ),
    Exemption(
        "irsa-oidc-federated-principal",
        "IRSA trust policies name the cluster's IAM OIDC provider as the Federated principal; "
        "parliament 1.6.4 knows only SAML providers and a few web identity hosts.",
        ("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html",
         "https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html"),
        lambda doc, f: doc.kind == "trust" and f["issue"] == "UNKNOWN_FEDERATION_SOURCE"
        and bool(EKS_OIDC_PROVIDER.match(str(f["detail"]))),
    ),
    Exemption(
        "aws-lbc-reference-policy-resource-star",
        "The AWS Load Balancer Controller's policy is AWS's own reference policy, kept byte-identical to "
        "the release (review of 2026-12-02, part C); it scopes the controller's writes with tag "
        "conditions (elbv2.k8s.aws/cluster) on resources the controller creates, not with ARNs.",
        ("https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/v2.14.1/docs/install/iam_policy.json",),
        lambda doc, f: _is_lbc_policy(doc) and f["issue"] == "RESOURCE_STAR",
    ),
    Exemption(
        "aws-lbc-reference-policy-modify-ip-pools",
        "elasticloadbalancing:ModifyIpPools (ALB IPAM pools) is newer than parliament 1.6.4's copy of the "
        "Service Authorization Reference; the API exists.",
        ("https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ModifyIpPools.html",),
        lambda doc, f: _is_lbc_policy(doc) and f["issue"] == "UNKNOWN_ACTION"
        and f["detail"] == "Unknown action elasticloadbalancing:ModifyIpPools",
    ),
    Exemption(
        "aws-lbc-reference-policy-create-action-condition",
        "elasticloadbalancing:CreateAction is a documented condition key of elasticloadbalancing:AddTags; "
        "parliament 1.6.4's data holds two 'Elastic Load Balancing V2' entries and reads the older one, "
        "which lacks it.",
        ("https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html",),
        lambda doc, f: _is_lbc_policy(doc) and f["issue"] == "UNKNOWN_CONDITION_FOR_ACTION"
        and f["detail"] == "Unknown condition elasticloadbalancing:CreateAction for action elasticloadbalancing:AddTags",
    ),
    Exemption(
        "kms-key-policy-resource-star",
        'A key policy\'s Resource can only be "*": "In a key policy, the value of the Resource element is '
        '\"*\", which means \"this KMS key.\"" (AWS KMS Developer Guide, key policy elements). The cluster\'s '
        "logs key (network/aws.py logs_key_policy) follows it; who may use the key is held by principals "
        "and the encryption-context condition instead.",
        ("https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html",),
        lambda doc, f: _is_kms_key_policy(doc) and f["issue"] == "RESOURCE_STAR"
        and all(st.get("Resource") == "*" for st in _key_policy_statements(doc)),
    ),
    Exemption(
        "kms-default-key-policy-root-statement",
        "KMS's default key policy statement gives the key's own account kms:* (PutKeyPolicy, CreateGrant "
        "included): \"Allows access to the AWS account and enables IAM policies\"; without it the key becomes "
        "unmanageable and IAM policies cannot grant its use (AWS KMS Developer Guide, default key policy). "
        "Held to key policies whose every other statement grants cryptographic use only.",
        ("https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam",),
        lambda doc, f: f["issue"] == "PERMISSIONS_MANAGEMENT_ACTIONS" and _only_root_administers(doc),
    ),
)


def unexcepted(doc: PolicyDoc, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if not any(e.applies(doc, f) for e in EXCEPTIONS)]


# ------------------------------------------------------------------------------ probes

_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
_LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/probe"
PROBES = {
    # The flow-log policy before the fix: logs:DescribeLogGroups scoped to the group's ARN.
    "describe-log-groups-scoped": ("identity", {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogGroups"],
        "Resource": [_LOG_GROUP, f"{_LOG_GROUP}:*"]}]}),
    "trust-typo": ("trust", {**_TRUST, "Statement": [{**_TRUST["Statement"][0], "Action": "sts:AssumeRol"}]}),
    "trust-unknown-principal": ("trust", {**_TRUST, "Statement": [{**_TRUST["Statement"][0], "Principal": {"AWS": "bob"}}]}),
    "iam-star": ("identity", {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}),
}
"""Documents parliament must object to, run in the same call: they prove the check can fail, and
that no exception hides what it should not."""


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def documents() -> list[PolicyDoc]:
    return [doc for stack in EXAMPLE_STACKS for doc in policy_documents(stack, planned(stack))]


@pytest.fixture(scope="module")
def report(documents) -> dict[str, Any]:
    if not PARLIAMENT_PYTHON.exists():
        pytest.skip(MISSING)
    probes = [PolicyDoc("probe", name, "policy", kind, json.dumps(doc)) for name, (kind, doc) in PROBES.items()]
    batch = [{"id": d.id, "kind": d.kind, "text": d.text} for d in [*documents, *probes]]
    proc = subprocess.run([str(PARLIAMENT_PYTHON), "-I", "-c", _DRIVER], input=json.dumps(batch),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    by_id = {r["id"]: r["findings"] for r in out["results"]}
    return {"version": out["version"], "docs": documents, "probes": {d.resource: (d, by_id[d.id]) for d in probes},
            "findings": {d.id: (d, by_id[d.id]) for d in documents}}


# ------------------------------------------------------------------------------ tests


def test_parliament_is_the_pinned_release(report):
    assert report["version"] == _pinned_version(), "stale .tools/parliament: `make test` rebuilds it"


def test_every_policy_document_passes_parliament(report):
    problems = [f"{doc.id}: {f['issue']} ({f['severity']}) {f['title']}: {f['detail']}"
                for doc, findings in report["findings"].values() for f in unexcepted(doc, findings)]
    assert problems == [], "\n".join(problems)


def test_every_exception_is_still_needed(report):
    used = {e.name for doc, findings in report["findings"].values() for f in findings for e in EXCEPTIONS if e.applies(doc, f)}
    assert used == {e.name for e in EXCEPTIONS}, "an exception that matches nothing: remove it"


def test_parliament_catches_what_it_must(report):
    """The probes' findings survive the exceptions: the check can fail, on a trust policy too."""
    issues = {name: {f["issue"] for f in unexcepted(doc, findings)} for name, (doc, findings) in report["probes"].items()}
    assert "RESOURCE_MISMATCH" in issues["describe-log-groups-scoped"]
    assert issues["trust-typo"] == {"UNKNOWN_ACTION"}
    assert issues["trust-unknown-principal"] == {"UNKNOWN_PRINCIPAL"}
    assert {"PRIVILEGE_ESCALATION", "PERMISSIONS_MANAGEMENT_ACTIONS", "RESOURCE_STAR"} <= issues["iam-star"]


def test_lbc_exceptions_hold_only_for_aws_reference_policy(report):
    """A changed copy of the LBC policy is no longer AWS's: its findings count again."""
    (doc, findings), *_ = [(d, f) for d, f in report["findings"].values() if _is_lbc_policy(d)]
    changed = PolicyDoc(doc.stack, doc.resource, doc.field, doc.kind, json.dumps({**json.loads(doc.text), "Id": "x"}))
    assert unexcepted(doc, findings) == []
    assert {f["issue"] for f in unexcepted(changed, findings)} >= {"RESOURCE_STAR", "UNKNOWN_ACTION"}


def test_every_kind_of_policy_is_collected(documents):
    """Every AWS example stack yields documents, of the kinds the components create, so the check
    above cannot pass on nothing."""
    by_stack: dict[str, set[tuple[str, str]]] = {}
    for doc in documents:
        by_stack.setdefault(doc.stack, set()).add((doc.resource.split()[0], doc.field))
    assert set(by_stack) == {"hybrid", "prod-aws", "selfmanaged-aws", "staging-aws"}
    for stack, found in by_stack.items():
        assert {("aws:iam/role:Role", "assumeRolePolicy"), ("aws:iam/rolePolicy:RolePolicy", "policy")} <= found, stack
    assert sum(_is_lbc_policy(d) for d in documents) == 3  # hybrid, prod-aws and staging-aws run EKS with the LBC


# ------------------------------------------------------------------------------ the flow-log role


def _flow_log_docs(documents, cluster: str) -> tuple[dict[str, Any], dict[str, Any]]:
    (trust,) = [json.loads(d.text) for d in documents if d.resource.endswith(f" {cluster}-network-flow-logs-role")]
    (policy,) = [json.loads(d.text) for d in documents if d.resource.endswith(f" {cluster}-network-flow-logs-policy")]
    return trust, policy


@pytest.mark.parametrize("stack", ["hybrid", "prod-aws", "selfmanaged-aws", "staging-aws"])
def test_flow_log_role_least_privilege(documents, stack):
    """https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html lists the actions;
    logs:DescribeLogGroups has no resource type in the Service Authorization Reference, so it needs
    "*" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html);
    everything else stays on the flow log's own log group. The trust policy carries the page's
    confused-deputy conditions."""
    (cluster,) = [c for c in stack_config(stack)["fleetform:clusters"] if c["target"] == "aws"]
    region = cluster["region"]
    trust, policy = _flow_log_docs(documents, cluster["name"])
    describe, rest = policy["Statement"]
    assert describe == {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"}
    group = f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/fleetform/{cluster['name']}-network/vpc-flow-logs"
    assert sorted(rest["Action"]) == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    assert rest["Resource"] == [group, f"{group}:*"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"} and statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{region}:{ACCOUNT}:vpc-flow-log/*"},
    }
