"""deploy/template.yaml (AWS SAM), checked offline: cfn-lint, and what the template grants.

The template is read with a loader that understands CloudFormation's short tags (``!Ref``,
``!Sub``, ``!If``, ...). Conditions are evaluated for a set of parameter values, so each
topology's resources and policy statements are checked as CloudFormation would create them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from pixelpipe.settings import ENGINE_ENV, PIPELINE_ENV, Settings

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "template.yaml"
NO_VALUE = object()  # AWS::NoValue: the property or list item disappears


class CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short-form tags, turned into their long forms."""


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template() -> dict[str, Any]:
    with TEMPLATE.open(encoding="utf-8") as f:
        doc = yaml.load(f, Loader=CfnLoader)
    assert isinstance(doc, dict)
    return doc


TPL = load_template()
PARAMS: dict[str, Any] = TPL["Parameters"]
RESOURCES: dict[str, Any] = TPL["Resources"]

# Values for the two parameters without a default.
REQUIRED = {"SourceBucketName": "my-uploads", "ProcessedBucketName": "my-pixelated"}


def parameter_values(**overrides: str) -> dict[str, str]:
    values = {name: str(p["Default"]) for name, p in PARAMS.items() if "Default" in p}
    values.update(REQUIRED)
    values.update(overrides)
    missing = set(PARAMS) - set(values)
    assert not missing, f"parameters without a value: {missing}"
    return values


def _value(node: Any, params: Mapping[str, str], conds: Mapping[str, bool]) -> Any:
    """A condition operand's value."""
    if isinstance(node, dict) and len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return params[arg]
        if fn == "Condition":
            return conds[arg]
        if fn == "Fn::Equals":
            a, b = (_value(x, params, conds) for x in arg)
            return str(a) == str(b)
        if fn == "Fn::Not":
            return not _value(arg[0], params, conds)
        if fn == "Fn::And":
            return all(_value(x, params, conds) for x in arg)
        if fn == "Fn::Or":
            return any(_value(x, params, conds) for x in arg)
    if isinstance(node, str | int | bool):
        return node
    raise AssertionError(f"cannot evaluate condition operand {node!r}")


def conditions(params: Mapping[str, str]) -> dict[str, bool]:
    conds: dict[str, bool] = {}
    pending = dict(TPL["Conditions"])
    while pending:  # conditions may refer to conditions defined later
        for name, expr in list(pending.items()):
            try:
                conds[name] = bool(_value(expr, params, conds))
            except KeyError:
                continue
            del pending[name]
    return conds


def render(node: Any, conds: Mapping[str, bool]) -> Any:
    """Resolve Fn::If and AWS::NoValue; show Ref/GetAtt/Sub as readable ``${...}`` strings."""
    if isinstance(node, list):
        items = (render(x, conds) for x in node)
        return [x for x in items if x is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else f"${{{arg}}}"
        if fn == "Fn::GetAtt":
            return f"${{{arg[0]}.{arg[1]}}}"
        if fn == "Fn::Sub" and isinstance(arg, str):
            return arg
        if fn == "Fn::If":
            name, yes, no = arg
            return render(yes if conds[name] else no, conds)
    out = {k: render(v, conds) for k, v in node.items()}
    return {k: v for k, v in out.items() if v is not NO_VALUE}


def stack(**overrides: str) -> tuple[dict[str, Any], dict[str, bool]]:
    """The resources CloudFormation would create for these parameter values, rendered."""
    conds = conditions(parameter_values(**overrides))
    created = {
        name: render(res, conds)
        for name, res in RESOURCES.items()
        if "Condition" not in res or conds[res["Condition"]]
    }
    return created, conds


def role_statements(**overrides: str) -> list[dict[str, Any]]:
    resources, _ = stack(**overrides)
    role = resources["FunctionRole"]["Properties"]
    assert "ManagedPolicyArns" not in role, "managed policies grant more than pixelpipe needs"
    statements: list[dict[str, Any]] = []
    for policy in role["Policies"]:
        statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for st in statements:
        assert st["Effect"] == "Allow"
        assert "NotAction" not in st
        assert "NotResource" not in st
        for action in as_list(st["Action"]):
            for resource in as_list(st["Resource"]):
                pairs.add((action, resource))
    return pairs


SOURCE_OBJECTS = "arn:${AWS::Partition}:s3:::${SourceBucketName}/${SourcePrefix}*"
SOURCE_BUCKET = "arn:${AWS::Partition}:s3:::${SourceBucketName}"
PROCESSED_OBJECTS = "${ProcessedBucket.Arn}/*"
PROCESSED_BUCKET = "${ProcessedBucket.Arn}"
LOG_STREAMS = (
    "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${FunctionLogGroup}:*"
)
COMMON_GRANTS = {
    ("s3:GetObject", SOURCE_OBJECTS),
    # ListBucket: a HEAD/GET of a missing key must answer 404, not 403 (manifests that do not
    # exist yet, a deleted source object is "gone", delete sync).
    ("s3:ListBucket", SOURCE_BUCKET),
    ("s3:GetObject", PROCESSED_OBJECTS),  # manifests, failure records, HEAD of outputs
    ("s3:PutObject", PROCESSED_OBJECTS),
    ("s3:DeleteObject", PROCESSED_OBJECTS),
    ("s3:ListBucket", PROCESSED_BUCKET),
    ("logs:CreateLogStream", LOG_STREAMS),
    ("logs:PutLogEvents", LOG_STREAMS),
}


def test_cfn_lint_is_clean() -> None:
    exe = Path(sys.executable).parent / "cfn-lint"
    if not exe.exists():
        pytest.skip("cfn-lint is not installed in this environment")
    proc = subprocess.run(
        [str(exe), str(TEMPLATE)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_template_is_sam_with_all_sections() -> None:
    assert TPL["Transform"] == "AWS::Serverless-2016-10-31"
    for section in ("Parameters", "Rules", "Mappings", "Conditions", "Resources", "Outputs"):
        assert TPL[section], section


def test_function_policy_sqs_topology_is_exact() -> None:
    queue = "${EventQueue.Arn}"
    assert grants(role_statements(Topology="sqs")) == COMMON_GRANTS | {
        ("sqs:ReceiveMessage", queue),
        ("sqs:DeleteMessage", queue),
        ("sqs:GetQueueAttributes", queue),
    }


def test_function_policy_direct_topology_is_exact() -> None:
    assert grants(role_statements(Topology="direct")) == COMMON_GRANTS | {
        ("sqs:SendMessage", "${DeadLetterQueue.Arn}"),  # the on-failure destination
    }


def test_source_prefix_narrows_the_read_grant() -> None:
    # The Sub keeps ${SourcePrefix}: with a prefix the grant is .../photos/*, without .../*.
    source = [s for s in role_statements() if "s3:GetObject" in as_list(s["Action"])]
    assert SOURCE_OBJECTS in [s["Resource"] for s in source]


@pytest.mark.parametrize("topology", ["sqs", "direct"])
def test_function_policy_has_no_wildcards_or_acl_actions(topology: str) -> None:
    for action, resource in grants(role_statements(Topology=topology)):
        assert "*" not in action, action
        assert action.lower() not in {"s3:*", "sqs:*", "logs:*"}
        assert "acl" not in action.lower(), action
        assert "cloudwatch:" not in action, "EMF metrics go through the logs"
        assert resource != "*", action
        assert "${" in resource, f"{action} on {resource}: not tied to this stack's resources"


def test_visibility_timeout_is_derived_and_at_least_six_times_the_function_timeout() -> None:
    table = TPL["Mappings"]["VisibilityTimeouts"]
    timeouts = [str(v) for v in PARAMS["FunctionTimeout"]["AllowedValues"]]
    windows = [str(v) for v in PARAMS["MaxBatchingWindow"]["AllowedValues"]]
    assert sorted(table) == sorted(timeouts)
    for timeout, row in table.items():
        assert sorted(row) == sorted(windows), timeout
        for window, visibility in row.items():
            assert visibility == 6 * int(timeout) + int(window), (timeout, window)
            assert visibility <= 43200  # SQS's maximum
    queue = RESOURCES["EventQueue"]["Properties"]
    assert queue["VisibilityTimeout"] == {
        "Fn::FindInMap": [
            "VisibilityTimeouts",
            {"Ref": "FunctionTimeout"},
            {"Ref": "MaxBatchingWindow"},
        ]
    }
    assert RESOURCES["Function"]["Properties"]["Timeout"] == {"Ref": "FunctionTimeout"}
    defaults = parameter_values()
    visibility = table[defaults["FunctionTimeout"]][defaults["MaxBatchingWindow"]]
    assert visibility >= 6 * int(defaults["FunctionTimeout"])


def _bucket_locked_down(resources: Mapping[str, Any], bucket: str, policy: str) -> None:
    props = resources[bucket]["Properties"]
    block = props["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"],
        True,
    )
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    doc = resources[policy]["Properties"]
    assert doc["Bucket"] == f"${{{bucket}}}"
    statements = doc["PolicyDocument"]["Statement"]
    tls = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        and s["Principal"] == "*"
        and as_list(s["Action"]) == ["s3:*"]
    ]
    assert tls, f"{policy} has no TLS-only statement"
    assert set(as_list(tls[0]["Resource"])) == {f"${{{bucket}.Arn}}", f"${{{bucket}.Arn}}/*"}


def test_buckets_block_public_access_encrypt_and_require_tls() -> None:
    resources, _ = stack()
    _bucket_locked_down(resources, "SourceBucket", "SourceBucketPolicy")
    _bucket_locked_down(resources, "ProcessedBucket", "ProcessedBucketPolicy")
    for bucket in ("SourceBucket", "ProcessedBucket"):
        assert RESOURCES[bucket]["DeletionPolicy"] == "Retain"


def test_existing_source_bucket_is_not_created() -> None:
    resources, _ = stack(CreateSourceBucket="false")
    assert "SourceBucket" not in resources
    assert "SourceBucketPolicy" not in resources
    assert "ProcessedBucket" in resources
    # The queue policy and the grants name the bucket, so attaching it is one manual step.
    statement = resources["EventQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == SOURCE_BUCKET


def test_rules_refuse_source_equal_to_processed() -> None:
    (assertion,) = TPL["Rules"]["BucketsDiffer"]["Assertions"]
    assert assertion["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SourceBucketName"}, {"Ref": "ProcessedBucketName"}]}]
    }


def test_queue_policy_lets_only_the_source_bucket_send() -> None:
    resources, _ = stack(Topology="sqs")
    doc = resources["EventQueuePolicy"]["Properties"]
    assert doc["Queues"] == ["${EventQueue}"]
    allows = [s for s in doc["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    (allow,) = allows
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert as_list(allow["Action"]) == ["sqs:SendMessage"]
    assert allow["Resource"] == "${EventQueue.Arn}"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": SOURCE_BUCKET},
        "StringEquals": {"aws:SourceAccount": "${AWS::AccountId}"},
    }


def test_queues_redrive_into_an_encrypted_dlq() -> None:
    resources, _ = stack(Topology="sqs")
    queue = resources["EventQueue"]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": "${DeadLetterQueue.Arn}",
        "maxReceiveCount": "${MaxReceiveCount}",
    }
    assert queue["MessageRetentionPeriod"] == "${MessageRetentionSeconds}"
    dlq = resources["DeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 1209600  # longer than any source retention
    for props in (queue, dlq):
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props


def test_event_source_mapping_reports_batch_item_failures() -> None:
    resources, _ = stack(Topology="sqs")
    esm = resources["EventSourceMapping"]["Properties"]
    assert esm["EventSourceArn"] == "${EventQueue.Arn}"
    assert esm["FunctionName"] == "${Function.Alias}"  # the published version (SnapStart)
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["BatchSize"] == "${BatchSize}"
    assert esm["MaximumBatchingWindowInSeconds"] == "${MaxBatchingWindow}"
    assert "ScalingConfig" not in esm  # MaxConcurrency 0 = no limit
    limited, _ = stack(Topology="sqs", MaxConcurrency="20")
    scaling = limited["EventSourceMapping"]["Properties"]["ScalingConfig"]
    assert scaling == {"MaximumConcurrency": "${MaxConcurrency}"}


def test_source_bucket_notifies_the_queue_or_the_function() -> None:
    resources, _ = stack(Topology="sqs")
    notify = resources["SourceBucket"]["Properties"]["NotificationConfiguration"]
    assert "LambdaConfigurations" not in notify
    events = {(c["Event"], c["Queue"]) for c in notify["QueueConfigurations"]}
    queue = "${EventQueue.Arn}"
    assert events == {("s3:ObjectCreated:*", queue), ("s3:ObjectRemoved:*", queue)}
    resources, _ = stack(Topology="direct", DeleteSync="false", SourcePrefix="photos/")
    notify = resources["SourceBucket"]["Properties"]["NotificationConfiguration"]
    assert "QueueConfigurations" not in notify
    (config,) = notify["LambdaConfigurations"]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Function"] == "${Function.Alias}"
    assert config["Filter"] == {
        "S3Key": {"Rules": [{"Name": "prefix", "Value": "${SourcePrefix}"}]}
    }


def test_direct_topology_has_an_on_failure_destination() -> None:
    resources, _ = stack(Topology="direct")
    assert not {"EventQueue", "EventQueuePolicy", "EventSourceMapping"} & set(resources)
    invoke = resources["DirectInvokeConfig"]["Properties"]
    assert invoke["FunctionName"] == "${Function}"
    assert invoke["Qualifier"] == "live"
    assert resources["S3InvokePermission"]["Properties"]["FunctionName"] == "${Function.Alias}"
    assert invoke["DestinationConfig"] == {"OnFailure": {"Destination": "${DeadLetterQueue.Arn}"}}
    permission = resources["S3InvokePermission"]["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com"
    assert permission["SourceArn"] == SOURCE_BUCKET
    assert permission["SourceAccount"] == "${AWS::AccountId}"


def test_function_runtime_architecture_and_limits() -> None:
    resources, _ = stack()
    fn = resources["Function"]
    assert fn["Type"] == "AWS::Serverless::Function"
    props = fn["Properties"]
    assert props["Handler"] == "pixelpipe.handler.lambda_handler"
    assert props["CodeUri"] == "../dist/pixelpipe-lambda.zip"
    m = re.fullmatch(r"python(\d+)\.(\d+)", props["Runtime"])
    assert m is not None
    assert (int(m[1]), int(m[2])) >= (3, 13)
    assert props["Architectures"] == ["${Architecture}"]
    assert PARAMS["Architecture"]["Default"] == "arm64"
    assert set(PARAMS["Architecture"]["AllowedValues"]) == {"arm64", "x86_64"}
    assert props["MemorySize"] == "${MemorySize}"
    assert props["RecursiveLoop"] == "Terminate"
    assert props["Role"] == "${FunctionRole.Arn}"
    assert "Policies" not in props  # SAM policy templates grant more than needed
    assert "ReservedConcurrentExecutions" not in props  # 0 = unreserved
    reserved, _ = stack(ReservedConcurrency="10")
    assert reserved["Function"]["Properties"]["ReservedConcurrentExecutions"] == (
        "${ReservedConcurrency}"
    )
    assert props["LoggingConfig"] == {"LogGroup": "${FunctionLogGroup}"}
    assert resources["FunctionLogGroup"]["Properties"]["RetentionInDays"] == ("${LogRetentionDays}")


def test_environment_mirrors_the_handler_settings() -> None:
    env = RESOURCES["Function"]["Properties"]["Environment"]["Variables"]
    plain = {plain for plain, _ in [*ENGINE_ENV.values(), *PIPELINE_ENV.values()]}
    assert plain - {"AWS_ENDPOINT_URL"} <= set(env), plain - set(env)
    for name in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"):
        assert name in env
    assert "AWS_ENDPOINT_URL" not in env


def test_parameter_defaults_are_a_valid_configuration() -> None:
    """The handler would start with the defaults (Settings validates like at cold start)."""
    values = parameter_values()
    values["ProcessedBucket"] = values["ProcessedBucketName"]  # Ref of the bucket: its name
    env: dict[str, str] = {}
    for name, value in RESOURCES["Function"]["Properties"]["Environment"]["Variables"].items():
        env[name] = values[value["Ref"]] if isinstance(value, dict) else str(value)
    settings = Settings.from_env(env)
    assert settings.processed_bucket == "my-pixelated"
    assert settings.source_bucket == "my-uploads"
    # PixelSizes is empty: not given, so whole images get 8..64 and areas the anonymising 3, 5.
    assert settings.engine.sizes == ()
    assert settings.engine.grid_sizes == (8, 16, 32, 48, 64)
    assert settings.engine.replace(faces=True).grid_sizes == (3, 5)


@pytest.mark.parametrize("topology", ["sqs", "direct"])
def test_alarms(topology: str) -> None:
    resources, _ = stack(Topology=topology)
    alarms = {
        (r["Properties"]["Namespace"], r["Properties"]["MetricName"]): r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    age = "ApproximateAgeOfOldestMessage" if topology == "sqs" else "AsyncEventAge"
    namespace = "AWS/SQS" if topology == "sqs" else "AWS/Lambda"
    assert set(alarms) == {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        (namespace, age),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
    }
    dlq = alarms["AWS/SQS", "ApproximateNumberOfMessagesVisible"]
    assert dlq["Dimensions"] == [{"Name": "QueueName", "Value": "${DeadLetterQueue.QueueName}"}]
    assert dlq["Threshold"] == 0
    assert dlq["ComparisonOperator"] == "GreaterThanThreshold"
    for alarm in alarms.values():
        assert "AlarmActions" not in alarm  # no topic given
    notified, _ = stack(Topology=topology, AlarmTopicArn="arn:aws:sns:us-east-1:1:ops")
    for r in notified.values():
        if r["Type"] == "AWS::CloudWatch::Alarm":
            assert r["Properties"]["AlarmActions"] == ["${AlarmTopicArn}"]


def test_outputs() -> None:
    outputs = TPL["Outputs"]
    for name in (
        "SourceBucketName",
        "ProcessedBucketName",
        "EventQueueUrl",
        "EventQueueArn",
        "DeadLetterQueueUrl",
        "DeadLetterQueueArn",
        "FunctionArn",
        "FunctionName",
        "FunctionLogGroupName",
    ):
        assert name in outputs, name
    assert outputs["FunctionArn"]["Value"] == {"Ref": "Function.Alias"}
    assert outputs["EventQueueUrl"]["Value"] == {"Ref": "EventQueue"}


def test_snapstart_is_offered_on_published_versions() -> None:
    """Issue 14: SnapStart for Python, opt-in; the function is always called through its
    alias, so turning it on changes nothing else."""
    assert PARAMS["SnapStart"]["Default"] == "false"
    assert set(PARAMS["SnapStart"]["AllowedValues"]) == {"false", "true"}
    off, _ = stack()
    props = off["Function"]["Properties"]
    assert props["AutoPublishAlias"] == "live"
    assert "SnapStart" not in props
    on, _ = stack(SnapStart="true")
    assert on["Function"]["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}


def test_the_readme_aws_path_needs_only_installed_commands_and_packages_for_real(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """Issue 14: the README's AWS path names no command that nothing installs (no `sam`), and
    its `aws cloudformation package` step runs (against moto's S3: the zip is uploaded and
    CodeUri rewritten)."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## On AWS") :]
    block = section[section.index("```sh") + 5 : section.index("```", section.index("```sh") + 5)]
    commands = [line.split()[0] for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    assert commands, block
    bin_dir = Path(sys.executable).parent
    for command in commands:
        assert command.startswith(".venv/bin/"), command
        assert (bin_dir / command.removeprefix(".venv/bin/")).exists(), command
    work = tmp_path / "checkout"
    (work / "deploy").mkdir(parents=True)
    (work / "dist").mkdir()
    (work / "deploy" / "template.yaml").write_text((ROOT / "deploy" / "template.yaml").read_text())
    (work / "dist" / "pixelpipe-lambda.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="readme-artifacts")
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_endpoint, "AWS_DEFAULT_REGION": "us-east-1"}
    args = ["--template-file", "deploy/template.yaml", "--s3-bucket", "readme-artifacts"]
    args += ["--output-template-file", "dist/packaged.yaml"]
    done = subprocess.run(
        [str(bin_dir / "aws"), "cloudformation", "package", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    packaged = (work / "dist" / "packaged.yaml").read_text()
    uri = re.search(r"CodeUri: (s3://readme-artifacts/\S+)", packaged)
    assert uri is not None, packaged[:2000]
    key = uri[1].removeprefix("s3://readme-artifacts/")
    assert s3.head_object(Bucket="readme-artifacts", Key=key)["ContentLength"] == 22
