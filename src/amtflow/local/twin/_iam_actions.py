"""Which IAM actions, resources and condition keys a boto3 call is authorised against (the twin's table).

:func:`requests_for` turns one call (botocore service name, operation, parameters) into the
:class:`~._iam.Request`\\ s AWS authorises: usually one, more where AWS checks more than one (SageMaker's
``Create*`` with a role also needs ``iam:PassRole`` on it, with ``iam:PassedToService``, and with tags
``sagemaker:AddTags`` on the new resource; DynamoDB's transactions need each item's own action). A call
this table does not know raises :class:`UnmappedOperationError`: the twin refuses it rather than let it
escape authorisation. To cover a new call, add one entry to :data:`OPERATIONS` (or, for SageMaker's
name-addressed resources, one row to :data:`SAGEMAKER_RESOURCES`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from amtflow.errors import AmtflowError
from amtflow.local.twin._iam import ContextValue, Request


class UnmappedOperationError(AmtflowError):
    """A call made on behalf of a principal whose IAM action and resource the twin does not know."""

    error_type = "UnmappedOperationError"

    def __init__(self, service: str, operation: str) -> None:
        super().__init__(
            f"{service} {operation} was refused by the twin's IAM enforcement: the IAM action, resource and "
            "condition keys of this operation are not mapped, so it cannot be authorised. Add it to "
            "amtflow.local.twin._iam_actions.OPERATIONS (or start the twin with enforce_iam=False)."
        )
        self.service = service
        self.operation = operation


@dataclass(frozen=True)
class Site:
    """Where a call is made: the region and account, and the lookups some mappings need."""

    region: str
    account: str
    task_state_machine: Callable[[str], str | None] = lambda token: None

    def arn(self, service: str, resource: str, *, regional: bool = True, in_account: bool = True) -> str:
        region = self.region if regional else ""
        account = self.account if in_account else ""
        return f"arn:aws:{service}:{region}:{account}:{resource}"


Params = Mapping[str, Any]
Mapper = Callable[[Params, Site], list[Request]]

# --------------------------------------------------------------------------------------------- S3


def _s3_object(action: str) -> Mapper:
    return lambda p, s: [Request(action, f"arn:aws:s3:::{p['Bucket']}/{p['Key']}")]


def _s3_bucket(action: str) -> Mapper:
    def mapper(p: Params, s: Site) -> list[Request]:
        context = {f"s3:{k.lower()}": str(p[k]) for k in ("Prefix", "Delimiter") if k in p}
        return [Request(action, f"arn:aws:s3:::{p['Bucket']}", context)]

    return mapper


def _s3_copy(p: Params, s: Site) -> list[Request]:
    source = p["CopySource"]
    text = f"{source['Bucket']}/{source['Key']}" if isinstance(source, Mapping) else str(source).lstrip("/")
    return [
        Request("s3:GetObject", f"arn:aws:s3:::{text.split('?', 1)[0]}"),
        Request("s3:PutObject", f"arn:aws:s3:::{p['Bucket']}/{p['Key']}"),
    ]


# --------------------------------------------------------------------------------------- DynamoDB


def _table(site: Site, name: str) -> str:
    return name if name.startswith("arn:") else site.arn("dynamodb", f"table/{name}")


def _dynamodb(action: str) -> Mapper:
    def mapper(p: Params, s: Site) -> list[Request]:
        resource = _table(s, p["TableName"])
        if p.get("IndexName"):
            resource = f"{resource}/index/{p['IndexName']}"
        return [Request(action, resource)]

    return mapper


def _dynamodb_batch(actions: Mapping[str, str], items_key: str) -> Mapper:
    """``BatchGetItem``/``BatchWriteItem`` (tables keyed by name) and the transactions (a list of items)."""

    def mapper(p: Params, s: Site) -> list[Request]:
        found: list[Request] = []
        entries = p[items_key]
        if isinstance(entries, Mapping):  # batch: {table: [requests] | {Keys: ...}}
            for table, requests in entries.items():
                kinds = [next(iter(r)) for r in requests] if isinstance(requests, list) else ["Get"]
                found += [Request(actions[k], _table(s, table)) for k in dict.fromkeys(kinds)]
            return found
        for entry in entries:  # transaction: [{Put: {TableName: ...}}, ...]
            kind, body = next(iter(entry.items()))
            found.append(Request(actions[kind], _table(s, body["TableName"])))
        return found

    return mapper


# -------------------------------------------------------------------------------------- SageMaker

SAGEMAKER_RESOURCES: dict[str, tuple[str, str]] = {
    "HyperParameterTuningJob": ("hyper-parameter-tuning-job", "HyperParameterTuningJobName"),
    "TrainingJob": ("training-job", "TrainingJobName"),
    "ProcessingJob": ("processing-job", "ProcessingJobName"),
    "TransformJob": ("transform-job", "TransformJobName"),
    "Model": ("model", "ModelName"),
    "EndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "Endpoint": ("endpoint", "EndpointName"),
    "ModelPackageGroup": ("model-package-group", "ModelPackageGroupName"),
}
"""SageMaker resource → (ARN resource type, the parameter naming it): ``Create``/``Describe``/``Update``/
``Delete``/``Stop`` of it are authorised on ``<type>/<name>`` (SageMaker writes names lower-case in ARNs)."""

_SAGEMAKER_VERBS = ("Create", "Describe", "Update", "Delete", "Stop")
_ROLE_KEYS = ("RoleArn", "ExecutionRoleArn")


def _sagemaker_arn(site: Site, kind: str, name: str) -> str:
    if name.startswith("arn:"):
        return name
    return site.arn("sagemaker", f"{kind}/{name.lower()}")


def _passed_roles(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key in _ROLE_KEYS and isinstance(item, str):
                yield item
            else:
                yield from _passed_roles(item)
    elif isinstance(value, list):
        for item in value:
            yield from _passed_roles(item)


def _sagemaker_named(verb: str, resource: str) -> Mapper:
    kind, name_key = SAGEMAKER_RESOURCES[resource]

    def mapper(p: Params, s: Site) -> list[Request]:
        arn = _sagemaker_arn(s, kind, str(p[name_key]))
        found = [Request(f"sagemaker:{verb}{resource}", arn)]
        if resource == "Endpoint" and verb in ("Create", "Update"):  # on the configuration it moves to too
            found.append(
                Request(
                    f"sagemaker:{verb}{resource}",
                    _sagemaker_arn(s, "endpoint-config", p["EndpointConfigName"]),
                )
            )
        if verb == "Create":
            found += [
                Request("iam:PassRole", role, {"iam:PassedToService": "sagemaker.amazonaws.com"})
                for role in dict.fromkeys(_passed_roles(p))
            ]
            if p.get("Tags"):
                found.append(Request("sagemaker:AddTags", arn))
        return found

    return mapper


def _sagemaker_listed(action: str, resource: str) -> Mapper:
    kind, name_key = SAGEMAKER_RESOURCES[resource]
    return lambda p, s: [Request(action, _sagemaker_arn(s, kind, str(p[name_key])))]


def _sagemaker_model_package(p: Params, s: Site) -> list[Request]:
    group = str(p.get("ModelPackageGroupName") or p.get("ModelPackageName") or "*")
    group_name = group.rsplit("/", 1)[-1].lower()
    found = [Request("sagemaker:CreateModelPackage", s.arn("sagemaker", f"model-package-group/{group_name}"))]
    if p.get("Tags"):
        found.append(Request("sagemaker:AddTags", s.arn("sagemaker", f"model-package/{group_name}")))
    return found


def _sagemaker_by_arn(action: str, key: str) -> Mapper:
    return lambda p, s: [Request(action, str(p[key]))]


def _sagemaker_runtime(p: Params, s: Site) -> list[Request]:
    return [Request("sagemaker:InvokeEndpoint", _sagemaker_arn(s, "endpoint", str(p["EndpointName"])))]


# ---------------------------------------------------------------------------------- Step Functions


def _states(action: str, key: str) -> Mapper:
    return lambda p, s: [Request(action, str(p[key]))]


def _task_token(action: str) -> Mapper:
    def mapper(p: Params, s: Site) -> list[Request]:
        machine = s.task_state_machine(str(p["taskToken"]))
        # a token no task awaits: the service answers TaskDoesNotExist / InvalidToken itself
        return [] if machine is None else [Request(action, machine)]

    return mapper


# --------------------------------------------------------------------------- SNS, SQS, Lambda, logs


def _sns_publish(p: Params, s: Site) -> list[Request]:
    return [Request("sns:Publish", str(p.get("TopicArn") or p.get("TargetArn") or "*"))]


def _queue_arn(site: Site, url: str) -> str:
    parts = url.rstrip("/").split("/")
    if len(parts) < 2:
        return site.arn("sqs", parts[-1])
    return f"arn:aws:sqs:{site.region}:{parts[-2]}:{parts[-1]}"


def _sqs(action: str) -> Mapper:
    def mapper(p: Params, s: Site) -> list[Request]:
        if "QueueUrl" in p:
            return [Request(action, _queue_arn(s, str(p["QueueUrl"])))]
        return [Request(action, s.arn("sqs", str(p["QueueName"])))]

    return mapper


def _function_arn(site: Site, name: str, qualifier: str | None) -> str:
    if name.startswith("arn:"):
        return name
    if ":" in name:  # partial ARN: 123456789012:function:name or name:qualifier
        return (
            f"arn:aws:lambda:{site.region}:{name}"
            if name.split(":")[1] == "function"
            else site.arn("lambda", f"function:{name}")
        )
    return site.arn("lambda", f"function:{name}" + (f":{qualifier}" if qualifier else ""))


def _lambda_invoke(p: Params, s: Site) -> list[Request]:
    return [Request("lambda:InvokeFunction", _function_arn(s, str(p["FunctionName"]), p.get("Qualifier")))]


def _log_group(action: str) -> Mapper:
    return lambda p, s: [Request(action, s.arn("logs", f"log-group:{p['logGroupName']}"))]


def _log_stream(action: str) -> Mapper:
    def mapper(p: Params, s: Site) -> list[Request]:
        group = p.get("logGroupName") or str(p.get("logGroupIdentifier", "")).rsplit(":log-group:", 1)[-1]
        return [Request(action, s.arn("logs", f"log-group:{group}:log-stream:{p['logStreamName']}"))]

    return mapper


def _put_metric_data(p: Params, s: Site) -> list[Request]:
    return [Request("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": str(p.get("Namespace", ""))})]


def _alarm_arn(site: Site, name: str) -> str:
    return site.arn("cloudwatch", f"alarm:{name}")


def _describe_alarms(p: Params, s: Site) -> list[Request]:
    """Authorised on each named alarm; without names (a prefix, or every alarm) on ``alarm:*``."""
    names = [str(n) for n in p.get("AlarmNames") or ()]
    return [Request("cloudwatch:DescribeAlarms", _alarm_arn(s, n)) for n in names or ["*"]]


def _put_metric_alarm(p: Params, s: Site) -> list[Request]:
    """``cloudwatch:PutMetricAlarm`` on the alarm, with the actions it is given (``cloudwatch:AlarmActions``)
    and, with tags, ``aws:TagKeys`` and ``cloudwatch:TagResource`` on the alarm too."""
    arn = _alarm_arn(s, str(p["AlarmName"]))
    actions = [
        str(a) for key in ("AlarmActions", "OKActions", "InsufficientDataActions") for a in p.get(key) or ()
    ]
    context: dict[str, ContextValue] = {"cloudwatch:AlarmActions": actions} if actions else {}
    tags = p.get("Tags") or []
    if tags:
        context["aws:TagKeys"] = [str(t["Key"]) for t in tags]
        context.update({f"aws:RequestTag/{t['Key']}": str(t["Value"]) for t in tags})
    found = [Request("cloudwatch:PutMetricAlarm", arn, context)]
    if tags:
        found.append(Request("cloudwatch:TagResource", arn, context))
    return found


def _put_events(p: Params, s: Site) -> list[Request]:
    found: list[Request] = []
    for entry in p.get("Entries", []):
        bus = str(entry.get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else s.arn("events", f"event-bus/{bus}")
        context = {
            "events:source": str(entry.get("Source", "")),
            "events:detail-type": str(entry.get("DetailType", "")),
        }
        found.append(Request("events:PutEvents", arn, context))
    return found


def _everywhere(action: str) -> Mapper:
    """An action that supports no resource-level permissions (authorised on ``*``)."""
    return lambda p, s: [Request(action, "*")]


def _nothing(p: Params, s: Site) -> list[Request]:
    """A call AWS does not authorise (``sts:GetCallerIdentity`` works even with every action denied)."""
    return []


OPERATIONS: dict[tuple[str, str], Mapper] = {
    ("s3", "GetObject"): _s3_object("s3:GetObject"),
    ("s3", "HeadObject"): _s3_object("s3:GetObject"),
    ("s3", "PutObject"): _s3_object("s3:PutObject"),
    ("s3", "DeleteObject"): _s3_object("s3:DeleteObject"),
    ("s3", "CopyObject"): _s3_copy,
    ("s3", "ListObjectsV2"): _s3_bucket("s3:ListBucket"),
    ("s3", "ListObjects"): _s3_bucket("s3:ListBucket"),
    ("s3", "HeadBucket"): _s3_bucket("s3:ListBucket"),
    ("dynamodb", "GetItem"): _dynamodb("dynamodb:GetItem"),
    ("dynamodb", "PutItem"): _dynamodb("dynamodb:PutItem"),
    ("dynamodb", "UpdateItem"): _dynamodb("dynamodb:UpdateItem"),
    ("dynamodb", "DeleteItem"): _dynamodb("dynamodb:DeleteItem"),
    ("dynamodb", "Query"): _dynamodb("dynamodb:Query"),
    ("dynamodb", "Scan"): _dynamodb("dynamodb:Scan"),
    ("dynamodb", "DescribeTable"): _dynamodb("dynamodb:DescribeTable"),
    ("dynamodb", "BatchGetItem"): _dynamodb_batch({"Get": "dynamodb:BatchGetItem"}, "RequestItems"),
    ("dynamodb", "BatchWriteItem"): _dynamodb_batch(
        {"PutRequest": "dynamodb:BatchWriteItem", "DeleteRequest": "dynamodb:BatchWriteItem"}, "RequestItems"
    ),
    ("dynamodb", "TransactWriteItems"): _dynamodb_batch(
        {
            "Put": "dynamodb:PutItem",
            "Update": "dynamodb:UpdateItem",
            "Delete": "dynamodb:DeleteItem",
            "ConditionCheck": "dynamodb:ConditionCheckItem",
        },
        "TransactItems",
    ),
    ("dynamodb", "TransactGetItems"): _dynamodb_batch({"Get": "dynamodb:GetItem"}, "TransactItems"),
    **{
        ("sagemaker", f"{verb}{resource}"): _sagemaker_named(verb, resource)
        for resource in SAGEMAKER_RESOURCES
        for verb in _SAGEMAKER_VERBS
    },
    ("sagemaker", "ListTrainingJobsForHyperParameterTuningJob"): _sagemaker_listed(
        "sagemaker:ListTrainingJobsForHyperParameterTuningJob", "HyperParameterTuningJob"
    ),
    ("sagemaker", "CreateModelPackage"): _sagemaker_model_package,
    ("sagemaker", "DescribeModelPackage"): _sagemaker_by_arn(
        "sagemaker:DescribeModelPackage", "ModelPackageName"
    ),
    ("sagemaker", "UpdateModelPackage"): _sagemaker_by_arn("sagemaker:UpdateModelPackage", "ModelPackageArn"),
    ("sagemaker", "ListModelPackages"): _everywhere("sagemaker:ListModelPackages"),
    ("sagemaker", "ListHyperParameterTuningJobs"): _everywhere("sagemaker:ListHyperParameterTuningJobs"),
    ("sagemaker", "ListTrainingJobs"): _everywhere("sagemaker:ListTrainingJobs"),
    ("sagemaker", "ListEndpointConfigs"): _everywhere("sagemaker:ListEndpointConfigs"),
    ("sagemaker", "AddTags"): _sagemaker_by_arn("sagemaker:AddTags", "ResourceArn"),
    ("sagemaker", "ListTags"): _sagemaker_by_arn("sagemaker:ListTags", "ResourceArn"),
    ("sagemaker-runtime", "InvokeEndpoint"): _sagemaker_runtime,
    ("stepfunctions", "StartExecution"): _states("states:StartExecution", "stateMachineArn"),
    ("stepfunctions", "ListExecutions"): _states("states:ListExecutions", "stateMachineArn"),
    ("stepfunctions", "DescribeStateMachine"): _states("states:DescribeStateMachine", "stateMachineArn"),
    ("stepfunctions", "DescribeExecution"): _states("states:DescribeExecution", "executionArn"),
    ("stepfunctions", "StopExecution"): _states("states:StopExecution", "executionArn"),
    ("stepfunctions", "GetExecutionHistory"): _states("states:GetExecutionHistory", "executionArn"),
    ("stepfunctions", "SendTaskSuccess"): _task_token("states:SendTaskSuccess"),
    ("stepfunctions", "SendTaskFailure"): _task_token("states:SendTaskFailure"),
    ("stepfunctions", "SendTaskHeartbeat"): _task_token("states:SendTaskHeartbeat"),
    ("sns", "Publish"): _sns_publish,
    ("sqs", "SendMessage"): _sqs("sqs:SendMessage"),
    ("sqs", "ReceiveMessage"): _sqs("sqs:ReceiveMessage"),
    ("sqs", "DeleteMessage"): _sqs("sqs:DeleteMessage"),
    ("sqs", "GetQueueUrl"): _sqs("sqs:GetQueueUrl"),
    ("sqs", "GetQueueAttributes"): _sqs("sqs:GetQueueAttributes"),
    ("lambda", "Invoke"): _lambda_invoke,
    ("logs", "CreateLogGroup"): _log_group("logs:CreateLogGroup"),
    ("logs", "CreateLogStream"): _log_group("logs:CreateLogStream"),
    ("logs", "DescribeLogStreams"): _log_group("logs:DescribeLogStreams"),
    ("logs", "FilterLogEvents"): _log_group("logs:FilterLogEvents"),
    ("logs", "GetLogEvents"): _log_stream("logs:GetLogEvents"),
    ("logs", "PutLogEvents"): _log_stream("logs:PutLogEvents"),
    ("cloudwatch", "PutMetricData"): _put_metric_data,
    ("cloudwatch", "DescribeAlarms"): _describe_alarms,
    ("cloudwatch", "PutMetricAlarm"): _put_metric_alarm,
    ("events", "PutEvents"): _put_events,
    ("xray", "PutTraceSegments"): _everywhere("xray:PutTraceSegments"),
    ("xray", "PutTelemetryRecords"): _everywhere("xray:PutTelemetryRecords"),
    ("sts", "GetCallerIdentity"): _nothing,
}
"""(botocore service name, operation) → the requests AWS authorises for it."""

ACCESS_DENIED: dict[str, tuple[str, int]] = {
    "s3": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
    "cloudwatch": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
}
"""Services whose access-denied error is not ``AccessDeniedException`` (HTTP 400): code and status."""


def access_denied(service: str) -> tuple[str, int]:
    """The error code and HTTP status with which ``service`` refuses an unauthorised call."""
    return ACCESS_DENIED.get(service, ("AccessDeniedException", 400))


def requests_for(service: str, operation: str, params: Params, site: Site) -> list[Request]:
    """The requests AWS authorises for one call; :class:`UnmappedOperationError` if the table lacks it."""
    mapper = OPERATIONS.get((service, operation))
    if mapper is None:
        raise UnmappedOperationError(service, operation)
    return mapper(params, site)
