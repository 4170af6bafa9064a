"""The AWS clusters' logs as the policy pack's log rules want them, ready to be mandatory:
``log-group-retention-encryption`` (checkov CKV_AWS_338, CKV_AWS_158) and ``lb-access-logs``
(checkov CKV_AWS_91).

Expected values come from the sources, not from the code under test:

- CloudWatch Logs: retention values (365 is one),
  https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html;
  a log group is encrypted with a KMS key whose policy lets the regional service principal
  ``logs.<region>.amazonaws.com`` use it, conditioned on the encryption context
  ``kms:EncryptionContext:aws:logs:arn`` = the log group's ARN
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html); the key must
  exist, with that policy, when the group names it (same page: CreateLogGroup with --kms-key-id).
- KMS: the default key policy statement (the account's root, ``kms:*``) keeps the key manageable
  through IAM (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html);
  ``Resource: "*"`` in a key policy is the key itself
  (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html).
- EKS sends control-plane logs to ``/aws/eks/<cluster>/cluster``
  (https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html).
- NLB access logs: S3 bucket in the load balancer's region, bucket policy for
  ``delivery.logs.amazonaws.com`` (``s3:GetBucketAcl`` on the bucket, ``s3:PutObject`` on
  ``[prefix/]AWSLogs/<account>/*`` with ``s3:x-amz-acl = bucket-owner-full-control``, conditions
  ``aws:SourceAccount`` and ``aws:SourceArn = arn:aws:logs:<region>:<account>:*``), prefix without
  ``AWSLogs`` (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/enable-access-logs.html);
  SSE-S3 or SSE-KMS with a customer managed key; logs only for TLS listeners
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html).
- S3: ``BucketOwnerEnforced`` accepts puts with the ``bucket-owner-full-control`` ACL
  (https://docs.aws.amazon.com/AmazonS3/latest/API/API_OwnershipControlsRule.html); deleting a bucket
  needs it empty, which the provider's ``forceDestroy`` does first (pulumi-aws ``s3.Bucket``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleetform.network.aws import LOG_RETENTION_DAYS, access_log_bucket_policy, logs_key_policy
from fleetform.plan.canned.aws import ACCOUNT
from fleetform.plan.mocks import plain
from tests.conftest import one, planned, regs, stack_config
from tests.test_iam_parliament import EXCEPTIONS, PolicyDoc

AWS_STACKS = ("hybrid", "prod-aws", "selfmanaged-aws", "staging-aws")
RULES = ("log-group-retention-encryption", "lb-access-logs")
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
KMS_KEY = "aws:kms/key:Key"
LB = "aws:lb/loadBalancer:LoadBalancer"
BUCKET = "aws:s3/bucket:Bucket"
LOGS_CONTEXT = "kms:EncryptionContext:aws:logs:arn"
DELIVERY = "delivery.logs.amazonaws.com"  # enable-access-logs.html


def inputs(reg) -> dict[str, Any]:
    return reg.plain_inputs(mask=False)


def aws_cluster(stack: str) -> dict[str, Any]:
    (cluster,) = [c for c in stack_config(stack)["fleetform:clusters"] if c["target"] == "aws"]
    return cluster


@pytest.fixture(scope="module")
def plans() -> dict[str, Any]:
    # The two rules as they will be: mandatory (Pulumi's policy-pack config form, rule: level).
    return {s: planned(s) for s in AWS_STACKS}


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_log_rules_hold_when_mandatory(plans, stack):
    result = plans[stack]
    # Both rules are mandatory by default now (no policy config changes them).
    from fleetform_policies.rules import RULES as ALL_RULES

    assert {r.name: r.enforcement for r in ALL_RULES if r.name in RULES} == {rule: "mandatory" for rule in RULES}
    assert result.exit_code == 0, result.problems()
    for found in (result.violations, result.waived):
        assert [v for v in found if v.policy in RULES] == []
    assert [u for u in result.undecided if any(rule in u for rule in RULES)] == []
    # The rules really looked: the stacks have log groups (and selfmanaged-aws load balancers).
    assert regs(result, LOG_GROUP)
    assert (stack == "selfmanaged-aws") == bool(regs(result, LB))


def _key_policy(result, cluster: str) -> dict[str, Any]:
    return json.loads(inputs(one(result, KMS_KEY, f"{cluster}-network-logs-key"))["policy"])


@pytest.mark.parametrize("stack", AWS_STACKS)
def test_every_log_group_kept_a_year_and_encrypted_with_the_cluster_logs_key(plans, stack):
    result = plans[stack]
    cluster = aws_cluster(stack)
    name, region = cluster["name"], cluster["region"]
    key = one(result, KMS_KEY, f"{name}-network-logs-key")
    key_inputs = inputs(key)
    assert key_inputs["enableKeyRotation"] is True and key_inputs["region"] == region
    groups = regs(result, LOG_GROUP)
    expected = {f"/fleetform/{name}-network/vpc-flow-logs"} | ({f"/aws/eks/{name}/cluster"} if cluster.get("mode") != "self-managed" else set())
    assert {inputs(g)["name"] for g in groups} == expected
    key_arn_prefix = f"arn:aws:kms:{region}:{ACCOUNT}:key/"
    for group in groups:
        g = inputs(group)
        assert g["retentionInDays"] == 365 == LOG_RETENTION_DAYS
        assert g["kmsKeyId"].startswith(key_arn_prefix)
        # The key exists (with its policy) before the group names it; the key's policy needs nothing of a group.
        assert key.urn in group.dependencies
    assert not any(g.urn in key.dependencies for g in groups)

    root, logs = _key_policy(result, name)["Statement"]
    assert root == {"Sid": root["Sid"], "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*", "Resource": "*"}
    assert logs["Principal"] == {"Service": f"logs.{region}.amazonaws.com"} and logs["Effect"] == "Allow"
    assert logs["Resource"] == "*"
    assert set(logs["Action"]) == {"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"}
    # Exactly this cluster's groups, by the ARN CloudWatch Logs puts in the encryption context.
    assert list(logs["Condition"]) == ["StringEquals"] and list(logs["Condition"]["StringEquals"]) == [LOGS_CONTEXT]
    arns = logs["Condition"]["StringEquals"][LOGS_CONTEXT]
    assert sorted(arns) == sorted(f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{n}" for n in expected)


@pytest.mark.parametrize("stack", ["prod-aws", "staging-aws", "hybrid"])
def test_eks_control_plane_group_exists_before_the_cluster(plans, stack):
    """EKS would otherwise create /aws/eks/<name>/cluster itself, unencrypted and kept for ever."""
    result = plans[stack]
    name = aws_cluster(stack)["name"]
    eks = one(result, "aws:eks/cluster:Cluster")
    group = one(result, LOG_GROUP, f"{name}-control-plane-logs")
    assert inputs(group)["name"] == f"/aws/eks/{name}/cluster"
    assert group.urn in eks.dependencies


def test_selfmanaged_nlbs_log_to_the_cluster_bucket(plans):
    result = plans["selfmanaged-aws"]
    cluster = aws_cluster("selfmanaged-aws")
    name, region = cluster["name"], cluster["region"]
    bucket = one(result, BUCKET)
    b = inputs(bucket)
    assert bucket.name == f"{name}-lb-logs" and b["region"] == region
    # No name: Pulumi auto-names it (bucket names are global); the canned plan answers a hashed one.
    assert "bucket" not in b and "bucketPrefix" not in b
    assert b["forceDestroy"] is True
    bucket_name = f"{name}-lb-logs-" + _canned_suffix(f"{name}-lb-logs")
    lbs = regs(result, LB)
    assert {lb.name for lb in lbs} == {f"{name}-api-lb", f"{name}-svc-web-lb", f"{name}-svc-api-lb"}

    settings = {r.type: (r, inputs(r)) for r in result.capture.registrations if r.type.startswith("aws:s3/") and r.type != BUCKET}
    assert set(settings) == {
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "aws:s3/bucketPolicy:BucketPolicy",
    }
    for reg, i in settings.values():
        assert i["bucket"] == bucket_name and i["region"] == region and bucket.urn in reg.dependencies
    _, block = settings["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"]
    assert all(block[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    _, own = settings["aws:s3/bucketOwnershipControls:BucketOwnershipControls"]
    assert own["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    _, sse = settings["aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"]
    assert sse["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    _, life = settings["aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"]
    (rule,) = life["rules"]
    assert rule["status"] == "Enabled" and rule["expiration"] == {"days": 365} and "filter" not in rule and "prefix" not in rule
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}

    policy_reg, policy = settings["aws:s3/bucketPolicy:BucketPolicy"]
    assert json.loads(policy["policy"]) == json.loads(access_log_bucket_policy(f"arn:aws:s3:::{bucket_name}", "aws", ACCOUNT, region))
    ready = {settings[t][0].urn for t in (
        "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")}
    for lb in lbs:
        i = inputs(lb)
        assert i["loadBalancerType"] == "network" and i["region"] == region  # the bucket's region
        assert i["accessLogs"] == {"bucket": bucket_name, "enabled": True}  # no prefix
        assert ready <= set(lb.dependencies), lb.name


def _canned_suffix(logical: str) -> str:
    from fleetform.plan.canned.aws import _hex

    return _hex("bucket", logical, length=7).lower()


def test_access_log_bucket_policy_is_the_documented_one():
    """Statement by statement against enable-access-logs.html (no prefix), plus the TLS-only deny."""
    arn = "arn:aws:s3:::logs-bucket"
    acl, write, deny = json.loads(access_log_bucket_policy(arn, "aws", "111122223333", "eu-west-1"))["Statement"]
    source = {"StringEquals": {"aws:SourceAccount": "111122223333"}, "ArnLike": {"aws:SourceArn": "arn:aws:logs:eu-west-1:111122223333:*"}}
    assert acl == {"Sid": "AWSLogDeliveryAclCheck", "Effect": "Allow", "Principal": {"Service": DELIVERY},
                   "Action": "s3:GetBucketAcl", "Resource": arn, "Condition": source}
    assert write == {"Sid": "AWSLogDeliveryWrite", "Effect": "Allow", "Principal": {"Service": DELIVERY},
                     "Action": "s3:PutObject", "Resource": f"{arn}/AWSLogs/111122223333/*",
                     "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": "111122223333"},
                                   "ArnLike": {"aws:SourceArn": "arn:aws:logs:eu-west-1:111122223333:*"}}}
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [arn, f"{arn}/*"]


def test_logs_key_policy_follows_the_partition():
    doc = json.loads(logs_key_policy("aws-us-gov", "111122223333", "us-gov-west-1", ["/g"]))
    root, logs = doc["Statement"]
    assert root["Principal"] == {"AWS": "arn:aws-us-gov:iam::111122223333:root"}
    assert logs["Condition"]["StringEquals"][LOGS_CONTEXT] == ["arn:aws-us-gov:logs:us-gov-west-1:111122223333:log-group:/g"]


# ------------------------------------------------------------------------------ parliament's exceptions

_KMS_EXCEPTIONS = [e for e in EXCEPTIONS if e.name in ("kms-key-policy-resource-star", "kms-default-key-policy-root-statement")]


def _key_doc(policy: dict[str, Any], resource: str = "aws:kms/key:Key c-network-logs-key") -> PolicyDoc:
    return PolicyDoc("probe", resource, "policy", "resource", json.dumps(policy))


def _covered(doc: PolicyDoc, issue: str) -> bool:
    return any(e.applies(doc, {"issue": issue, "detail": ""}) for e in _KMS_EXCEPTIONS)


def test_kms_exceptions_cover_the_logs_key_policy_only():
    """The two reviewed exceptions hold for the logs key's policy, and stop holding as soon as the
    policy lets anyone but the account administer the key, or is not a KMS key policy."""
    assert len(_KMS_EXCEPTIONS) == 2
    ours = json.loads(logs_key_policy("aws", ACCOUNT, "us-east-1", ["/g"]))
    assert _covered(_key_doc(ours), "RESOURCE_STAR") and _covered(_key_doc(ours), "PERMISSIONS_MANAGEMENT_ACTIONS")

    root, logs = ours["Statement"]
    for widened in (
        {**logs, "Action": [*logs["Action"], "kms:PutKeyPolicy"]},  # the service may rewrite the policy
        {**logs, "Action": "kms:*"},
        {**root, "Principal": {"AWS": "arn:aws:iam::999999999999:root"}},  # another account administers it
        {**root, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}},  # not the default statement
    ):
        changed = {**ours, "Statement": [root, logs, widened]}
        assert not _covered(_key_doc(changed), "PERMISSIONS_MANAGEMENT_ACTIONS"), widened
    scoped = {**ours, "Statement": [root, {**logs, "Resource": "arn:aws:kms:us-east-1:1:key/x"}]}
    assert not _covered(_key_doc(scoped), "RESOURCE_STAR")
    # An identity policy or a bucket policy with the same text is not a key policy.
    for resource, kind in (("aws:iam/rolePolicy:RolePolicy r", "identity"), ("aws:s3/bucketPolicy:BucketPolicy b", "resource")):
        doc = PolicyDoc("probe", resource, "policy", kind, json.dumps(ours))
        assert not _covered(doc, "RESOURCE_STAR") and not _covered(doc, "PERMISSIONS_MANAGEMENT_ACTIONS")


def test_plain_inputs_have_no_unknowns_in_the_logging_resources(plans):
    """Everything the rules and the tests above read is known in a plan (canned outputs), so the
    checks judge values, never "[unknown]"."""
    for stack, result in plans.items():
        for reg in result.capture.registrations:
            if reg.type in (LOG_GROUP, KMS_KEY, LB) or reg.type.startswith("aws:s3/"):
                assert "[unknown]" not in json.dumps(plain(reg.inputs, mask=False)), (stack, reg.name)
