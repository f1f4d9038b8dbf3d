"""Least privilege, proven on the IAM that SAM generates from ``template.yaml``.

The table :data:`USES` says, per function, which AWS actions its handler calls (read from the use case it
runs, see ``src/amtflow/wiring.py`` and the adapters) and on which resources (the first one needed, any
other allowed). Every function must be granted what it uses (or it fails in production), and nothing else:
no other action beyond the read-only metadata companions that SAM's policy templates add
(:data:`READ_COMPANIONS`), and no other resource.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from security_support import (
    SAGEMAKER_JOB_ARN,
    cloudformation,
    granted_actions,
    grants,
    local_part,
    render,
    resources_of_type,
    role_of_function,
)

# Resources as the local part of their ARN (see security_support.local_part); '*' is a wildcard.
BUCKET = "${DataBucket}"
PROFILE_OBJECTS = "${DataBucket}/profiles/*"
DATASET_OBJECTS = "${DataBucket}/datasets/*"
STATE_TABLE = "table/${StateTable}"
IDEMPOTENCY_TABLE = "${IdempotencyTable.Arn}"
STATE_MACHINE = "stateMachine:${TuningStateMachine.Name}"
EXECUTIONS = "execution:${AWS::StackName}-tuning:*"  # the state machine's own executions (named, not Ref)
TUNING_JOBS = "hyper-parameter-tuning-job/${JobPrefix}-*"
TRAINING_JOBS = "training-job/${JobPrefix}-*"
TOPIC = "${NotificationTopic.TopicName}"
TRAINING_ROLE = "${SageMakerExecutionRole.Arn}"
FAILED_EVENTS = "${AsyncFailureQueue.Arn}"  # OnFailure destination of the event-driven functions

JOBS = (TUNING_JOBS, TRAINING_JOBS)
PACKAGE_GROUPS = "model-package-group/${JobPrefix}-*"
PACKAGES = "model-package/${JobPrefix}-*"
TRAINING_LOGS = "log-group:/aws/sagemaker/TrainingJobs"
TRAINING_LOG_STREAMS = "log-group:/aws/sagemaker/TrainingJobs:log-stream:${JobPrefix}-*"
DEPLOYMENTS = "stateMachine:${AWS::StackName}-deployment"  # named, not Ref (its functions are its targets)
ENDPOINTS = "endpoint/${JobPrefix}-*"
ENDPOINT_CONFIGS = "endpoint-config/${JobPrefix}-*"
MODELS = "model/${JobPrefix}-*"
HOSTING = (ENDPOINTS, ENDPOINT_CONFIGS, MODELS)
STACK_ALARMS = "alarm:${JobPrefix}-*"
ANY_ALARM = "alarm:*"  # a profile may name any existing alarm as a rollback alarm
# The profile store reads profiles/<model>.yaml; ListBucket (profiles, dataset versions) turns 403 into 404.
_PROFILES = {"s3:GetObject": PROFILE_OBJECTS, "s3:ListBucket": BUCKET}

USES: dict[str, dict[str, str | tuple[str, ...]]] = {
    # trigger router: reads profiles and lists dataset versions, starts executions
    "StartRunFunction": {
        **_PROFILES,
        "states:StartExecution": STATE_MACHINE,
        "sqs:SendMessage": FAILED_EVENTS,
        # Powertools idempotency records, one per EventBridge event id
        "dynamodb:GetItem": IDEMPOTENCY_TABLE,
        "dynamodb:PutItem": IDEMPOTENCY_TABLE,
        "dynamodb:UpdateItem": IDEMPOTENCY_TABLE,
        "dynamodb:DeleteItem": IDEMPOTENCY_TABLE,
    },
    # planner: reads profiles and dataset versions, takes the per-model lock (put, and get on conflict),
    # asks whether the holder of a taken lock still runs (a run aborted from the console never releases);
    # streams the version's training data to profile it, reads and writes the lineage (get, query, puts in a
    # transaction) and releases the lock itself after a skip or a malformed dataset (delete)
    "PlanFunction": {
        **_PROFILES,
        "s3:GetObject": (PROFILE_OBJECTS, DATASET_OBJECTS),
        "dynamodb:PutItem": STATE_TABLE,
        "dynamodb:GetItem": STATE_TABLE,
        "dynamodb:Query": STATE_TABLE,
        "dynamodb:DeleteItem": STATE_TABLE,
        "states:DescribeExecution": EXECUTIONS,
    },
    # start tuning: lints and creates the job (tags need AddTags), parks the token (transaction of puts),
    # claims it back when creation fails (delete), describes an existing job on a retried task
    "StartTuningFunction": {
        **_PROFILES,
        "sagemaker:CreateHyperParameterTuningJob": JOBS,
        "sagemaker:DescribeHyperParameterTuningJob": JOBS,
        "sagemaker:AddTags": JOBS,
        "iam:PassRole": TRAINING_ROLE,
        "dynamodb:PutItem": STATE_TABLE,
        "dynamodb:DeleteItem": STATE_TABLE,
        # the lineage's runs: month-to-date spend and earlier jobs for preflight; a rejection is recorded
        "dynamodb:Query": STATE_TABLE,
        "dynamodb:GetItem": STATE_TABLE,
    },
    # start training (retrain path): creates one training job (tags need AddTags) with the training role,
    # parks the token (transaction of puts), claims it back when creation fails (delete)
    "StartTrainingFunction": {
        **_PROFILES,
        "sagemaker:CreateTrainingJob": TRAINING_JOBS,
        "sagemaker:AddTags": TRAINING_JOBS,
        "iam:PassRole": TRAINING_ROLE,
        "dynamodb:PutItem": STATE_TABLE,
        "dynamodb:DeleteItem": STATE_TABLE,
        "dynamodb:GetItem": STATE_TABLE,  # the run's lineage record: whether its job launched (put)
    },
    # job events: describe the job (tuning or retraining), claim the token (delete), re-park it if the
    # callback fails (put); a finished tuning job's trials (list, describe) give its billable time
    "JobEventsFunction": {
        "sagemaker:DescribeHyperParameterTuningJob": TUNING_JOBS,
        "sagemaker:ListTrainingJobsForHyperParameterTuningJob": TUNING_JOBS,
        "sagemaker:DescribeTrainingJob": TRAINING_JOBS,
        "dynamodb:DeleteItem": STATE_TABLE,
        "dynamodb:PutItem": STATE_TABLE,
        "dynamodb:GetItem": STATE_TABLE,  # the run's lineage record, updated when its job ends
        "states:SendTaskSuccess": STATE_MACHINE,
        "states:SendTaskFailure": STATE_MACHINE,
        "sqs:SendMessage": FAILED_EVENTS,
    },
    # reconciler: as job events, plus listing the parked jobs and the leases (query) and heartbeats
    "ReconcileFunction": {
        "sagemaker:DescribeHyperParameterTuningJob": TUNING_JOBS,
        # a job whose run no longer waits for it (aborted, timed out) is stopped, not left running
        "sagemaker:StopHyperParameterTuningJob": TUNING_JOBS,
        "sagemaker:ListTrainingJobsForHyperParameterTuningJob": TUNING_JOBS,
        "sagemaker:DescribeTrainingJob": TRAINING_JOBS,
        "dynamodb:DeleteItem": STATE_TABLE,
        "dynamodb:PutItem": STATE_TABLE,
        "dynamodb:GetItem": STATE_TABLE,
        "dynamodb:Query": STATE_TABLE,
        "states:SendTaskSuccess": (STATE_MACHINE, DEPLOYMENTS),
        "states:SendTaskFailure": (STATE_MACHINE, DEPLOYMENTS),
        "states:SendTaskHeartbeat": STATE_MACHINE,
        # stalled jobs: the profile's monitoring rules, and the one "stalled" notice
        "s3:GetObject": PROFILE_OBJECTS,
        "sns:Publish": TOPIC,
        "sqs:SendMessage": FAILED_EVENTS,
        # the models' leases: renewed (a conditional put) while their holder's execution still runs
        "states:DescribeExecution": EXECUTIONS,
        # deployments whose endpoint event was lost: the endpoint described, the waiting task completed
        "sagemaker:DescribeEndpoint": ENDPOINTS,
    },
    # evaluate: the leaderboard, the best training job and the champion's evaluation job; the diagnosis reads
    # a trial's log; promotion reads the profile, the lineage (dataset fingerprint, champion) and sets the
    # champion (a transaction of puts); the winner is registered in the model's package group
    "EvaluateFunction": {
        **_PROFILES,
        "sagemaker:DescribeHyperParameterTuningJob": JOBS,
        "sagemaker:ListTrainingJobsForHyperParameterTuningJob": JOBS,
        "sagemaker:DescribeTrainingJob": (TRAINING_JOBS, TUNING_JOBS),
        "sagemaker:DescribeModelPackageGroup": PACKAGE_GROUPS,
        "sagemaker:CreateModelPackageGroup": PACKAGE_GROUPS,
        "sagemaker:CreateModelPackage": (PACKAGES, PACKAGE_GROUPS),
        "logs:DescribeLogStreams": TRAINING_LOGS,
        "logs:GetLogEvents": (TRAINING_LOG_STREAMS, TRAINING_LOGS),
        "dynamodb:GetItem": STATE_TABLE,
        "dynamodb:PutItem": STATE_TABLE,
    },
    # champion evaluation: reads the profile and the champion, parks the token (put; delete when creation
    # fails), creates the evaluation training job (tags need AddTags) with the training role
    "StartChampionEvaluationFunction": {
        **_PROFILES,
        "dynamodb:GetItem": STATE_TABLE,
        "dynamodb:PutItem": STATE_TABLE,
        "dynamodb:DeleteItem": STATE_TABLE,
        "sagemaker:CreateTrainingJob": TRAINING_JOBS,
        "sagemaker:AddTags": TRAINING_JOBS,
        "iam:PassRole": TRAINING_ROLE,
    },
    # champion-evaluation events: describe the evaluation job, claim its token (delete), re-park it if the
    # callback fails (put), complete the task
    "ChampionEvaluationEventsFunction": {
        "sagemaker:DescribeTrainingJob": TRAINING_JOBS,
        "dynamodb:DeleteItem": STATE_TABLE,
        "dynamodb:PutItem": STATE_TABLE,
        "states:SendTaskSuccess": STATE_MACHINE,
        "states:SendTaskFailure": STATE_MACHINE,
        "sqs:SendMessage": FAILED_EVENTS,
    },
    # deployment events: an approval starts the package's deployment (one execution per package); an
    # endpoint's state change: describe it, claim the parked token (delete), re-park it if the callback
    # fails (put), complete the task
    "DeploymentEventsFunction": {
        "states:StartExecution": DEPLOYMENTS,
        "sagemaker:DescribeEndpoint": ENDPOINTS,
        "dynamodb:DeleteItem": STATE_TABLE,
        "dynamodb:PutItem": STATE_TABLE,
        "states:SendTaskSuccess": DEPLOYMENTS,
        "states:SendTaskFailure": DEPLOYMENTS,
        "sqs:SendMessage": FAILED_EVENTS,
    },
    # plan deployment: the package, the profile, the named rollback alarms; the model's deployment lock
    "PlanDeploymentFunction": {
        **_PROFILES,
        "sagemaker:DescribeModelPackage": PACKAGES,
        "cloudwatch:DescribeAlarms": ANY_ALARM,
        "dynamodb:PutItem": STATE_TABLE,
    },
    # deploy: the model (with the SageMaker role) and its endpoint configuration (adopted when they exist,
    # tags need AddTags), the rollback alarms, the token parked (transaction of puts; delete when the
    # endpoint call fails), the endpoint created or updated (a Failed one deleted first, to be created
    # again); an endpoint already settled completes the task
    "DeployModelFunction": {
        "sagemaker:CreateModel": MODELS,
        "sagemaker:DescribeModel": MODELS,
        "sagemaker:CreateEndpointConfig": ENDPOINT_CONFIGS,
        "sagemaker:DescribeEndpointConfig": ENDPOINT_CONFIGS,
        "sagemaker:CreateEndpoint": (ENDPOINTS, ENDPOINT_CONFIGS),
        "sagemaker:UpdateEndpoint": (ENDPOINTS, ENDPOINT_CONFIGS),
        "sagemaker:DescribeEndpoint": ENDPOINTS,
        "sagemaker:DeleteEndpoint": ENDPOINTS,
        "sagemaker:AddTags": HOSTING,
        "cloudwatch:PutMetricAlarm": STACK_ALARMS,
        "iam:PassRole": TRAINING_ROLE,
        "dynamodb:PutItem": STATE_TABLE,
        "dynamodb:DeleteItem": STATE_TABLE,
        "states:SendTaskSuccess": DEPLOYMENTS,
    },
    # finish deployment: the lineage's record (put), old configurations and their models deleted (listed:
    # no resource scope), one notification (the profile read to redact its values)
    "FinishDeploymentFunction": {
        **_PROFILES,
        "dynamodb:PutItem": STATE_TABLE,
        "sagemaker:ListEndpointConfigs": "*",
        "sagemaker:DeleteEndpointConfig": ENDPOINT_CONFIGS,
        "sagemaker:DeleteModel": MODELS,
        "sns:Publish": TOPIC,
    },
    # notify: reads the model's profile to redact its environment values, publishes one message
    # publishes the outcome; reads the run's spend and the model's month to date for its metrics
    "NotifyFunction": {
        **_PROFILES,
        "sns:Publish": TOPIC,
        "dynamodb:GetItem": STATE_TABLE,
        "dynamodb:Query": STATE_TABLE,
    },
}

# Read-only metadata actions that SAM's S3ReadPolicy / DynamoDBCrudPolicy templates add alongside.
READ_COMPANIONS = frozenset(
    {
        "s3:GetBucketLocation",
        "s3:GetObjectVersion",
        "s3:GetLifecycleConfiguration",
        "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem",
    }
)

# Statements allowed on Resource "*": the actions that support no resource-level permissions.
STAR_RESOURCE_ALLOWED = {
    "FinishDeploymentFunctionRole": {"sagemaker:ListEndpointConfigs"},
    "DeploymentStateMachineRole": {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    },
    "TuningStateMachineRole": {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    },
    # the registry login token and the network descriptions of a training job in a VPC support no resource
    # scope; metrics are condition-scoped
    "SageMakerExecutionRole": {
        "ecr:GetAuthorizationToken",
        "cloudwatch:PutMetricData",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    },
}

ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


def test_the_table_covers_every_function_of_the_template() -> None:
    functions = set(resources_of_type(cloudformation(), "AWS::Lambda::Function"))
    assert functions == set(USES), "add the new function's actions to USES (or remove the stale row)"


def _hints(hint: str | tuple[str, ...]) -> tuple[str, ...]:
    return (hint,) if isinstance(hint, str) else hint


@pytest.mark.parametrize("function", sorted(USES))
def test_each_function_is_granted_what_its_handler_uses(function: str) -> None:
    template = cloudformation()
    granted = granted_actions(template, role_of_function(template, function))
    missing = {
        action: _hints(hint)[0]
        for action, hint in USES[function].items()
        if not any(fnmatchcase(_hints(hint)[0], local_part(r)) for r in granted.get(action, ()))
    }
    assert not missing, f"{function} calls these actions but is not granted them on the resource: {missing}"


@pytest.mark.parametrize("function", sorted(USES))
def test_each_function_reaches_only_the_resources_its_handler_uses(function: str) -> None:
    template = cloudformation()
    uses = {action: _hints(hint) for action, hint in USES[function].items()}
    outside: dict[str, list[str]] = {}
    for action, resources in granted_actions(template, role_of_function(template, function)).items():
        service = action.split(":")[0]
        if action in uses:
            allowed = uses[action]
        elif action in READ_COMPANIONS:
            allowed = tuple(h for a, hints in uses.items() if a.startswith(service + ":") for h in hints)
        else:
            continue  # an unused action: see the test below
        wide = sorted(r for r in resources if not any(fnmatchcase(local_part(r), a) for a in allowed))
        if wide:
            outside[action] = wide
    assert not outside, f"{function} is granted actions on resources its handler never touches: {outside}"


@pytest.mark.parametrize("function", sorted(USES))
def test_each_function_is_granted_only_what_its_handler_uses(function: str) -> None:
    template = cloudformation()
    granted = granted_actions(template, role_of_function(template, function))
    excess = sorted(set(granted) - set(USES[function]) - READ_COMPANIONS)
    assert not excess, f"{function} is granted actions its handler never calls: {excess}"


def test_no_statement_allows_a_wildcard_action() -> None:
    for g in grants(cloudformation()):
        assert not g.has_not_action, f"{g.role}/{g.policy}: NotAction grants everything else"
        for action in g.actions:
            assert "*" not in action, f"{g.role}/{g.policy} allows the wildcard action {action!r}"


def test_only_listed_actions_run_on_every_resource() -> None:
    for g in grants(cloudformation()):
        if g.effect != "Allow":
            continue
        assert not g.has_not_resource, f"{g.role}/{g.policy}: NotResource grants everything else"
        if "*" in g.resources:
            allowed = STAR_RESOURCE_ALLOWED.get(g.role, set())
            assert set(g.actions) <= allowed, (
                f"{g.role}/{g.policy} allows {sorted(set(g.actions) - allowed)} on every resource"
            )


def test_sagemaker_actions_only_touch_this_stacks_jobs() -> None:
    seen = 0
    for g in grants(cloudformation()):
        if g.effect != "Allow" or not any(a.startswith("sagemaker:") for a in g.actions):
            continue
        seen += 1
        if g.actions == ("sagemaker:ListEndpointConfigs",):
            continue  # no resource scope (STAR_RESOURCE_ALLOWED); the adapter keeps the endpoint's own
        for resource in g.resources:
            assert SAGEMAKER_JOB_ARN.fullmatch(resource), (
                f"{g.role}/{g.policy}: SageMaker actions on {resource!r}, outside the stack's job prefix"
            )
    assert seen >= 3


def test_pass_role_only_passes_the_training_role_to_sagemaker() -> None:
    passes = [g for g in grants(cloudformation()) if "iam:PassRole" in g.actions]
    assert sorted(g.role for g in passes) == [
        "DeployModelFunctionRole",
        "StartChampionEvaluationFunctionRole",
        "StartTrainingFunctionRole",
        "StartTuningFunctionRole",
    ]
    for g in passes:
        assert g.actions == ("iam:PassRole",), "keep PassRole in a statement of its own"
        assert g.resources == ("${SageMakerExecutionRole.Arn}",)
        assert g.condition == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_state_machine_invokes_only_its_own_functions_and_releases_locks() -> None:
    template = cloudformation()
    granted = granted_actions(template, "TuningStateMachineRole")
    invoked = {r.split(":function:")[1] for r in granted.pop("lambda:InvokeFunction")}
    assert invoked == {
        "${PlanFunction}*",
        "${StartTuningFunction}*",
        "${StartTrainingFunction}*",
        "${EvaluateFunction}*",
        "${StartChampionEvaluationFunction}*",
        "${NotifyFunction}*",
    }
    assert granted.pop("dynamodb:DeleteItem") == {"${StateTable.Arn}"}
    # every notification, the "queued: quota" notice included, goes through NotifyFunction (redacted)
    assert "sns:Publish" not in granted
    assert set(granted) <= STAR_RESOURCE_ALLOWED["TuningStateMachineRole"]


def test_training_role_reads_datasets_and_writes_only_run_output() -> None:
    granted = granted_actions(cloudformation(), "SageMakerExecutionRole")
    writes = {a for a in granted if a.split(":")[1].startswith(("Put", "Delete", "Abort"))}
    s3_writes = {a for a in writes if a.startswith("s3:")}
    for action in s3_writes:
        assert granted[action] == {"${DataBucket.Arn}/runs/*"}, f"{action} on {granted[action]}"
    assert granted["s3:GetObject"] <= {"${DataBucket.Arn}/datasets/*", "${DataBucket.Arn}/runs/*"}


def test_roles_are_assumable_only_by_their_service() -> None:
    expected = {
        "TuningStateMachineRole": "states.amazonaws.com",
        "DeploymentStateMachineRole": "states.amazonaws.com",
        "SageMakerExecutionRole": "sagemaker.amazonaws.com",
    }
    for logical_id, role in resources_of_type(cloudformation(), "AWS::IAM::Role").items():
        service = expected.get(logical_id, "lambda.amazonaws.com")
        statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        principals = [s["Principal"] for s in statements]
        assert all(set(p) == {"Service"} for p in principals), f"{logical_id}: {principals}"
        services = {
            s
            for p in principals
            for s in (p["Service"] if isinstance(p["Service"], list) else [p["Service"]])
        }
        assert services == {service}, f"{logical_id} can be assumed by {services}"


def test_training_role_trust_is_confined_to_this_account() -> None:
    role = cloudformation()["Resources"]["SageMakerExecutionRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert render(statement["Condition"]["StringEquals"]["aws:SourceAccount"]) == "${AWS::AccountId}"


def test_only_basic_logging_and_tracing_managed_policies_are_attached() -> None:
    for logical_id, role in resources_of_type(cloudformation(), "AWS::IAM::Role").items():
        attached = set(role["Properties"].get("ManagedPolicyArns", []))
        assert attached <= ALLOWED_MANAGED_POLICIES, (
            f"{logical_id} attaches {attached - ALLOWED_MANAGED_POLICIES}"
        )


REGION_AND_ACCOUNT = "${AWS::Region}:${AWS::AccountId}:"


def test_training_images_are_pulled_only_from_the_named_repositories() -> None:
    granted = granted_actions(cloudformation(), "SageMakerExecutionRole")
    assert granted["ecr:GetAuthorizationToken"] == {"*"}, "the login token supports no resource scope"
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"):
        resources = granted[action]
        assert {local_part(r) for r in resources} == {"repository/${TrainingImageRepositories}"}, action
        assert all(r.startswith(f"arn:${{AWS::Partition}}:ecr:{REGION_AND_ACCOUNT}") for r in resources)


def test_training_in_a_vpc_creates_interfaces_only_in_the_given_subnets_and_security_groups() -> None:
    template = cloudformation()
    assert template["Resources"]["SageMakerTrainingVpcPolicy"]["Condition"] == "HasTrainingVpc"
    vpc = [g for g in grants(template) if g.policy == "SageMakerTrainingVpcPolicy"]
    assert {g.role for g in vpc} == {"SageMakerExecutionRole"}
    conditions: dict[str, Any] = {}
    for g in vpc:
        changes = [a for a in g.actions if not a.startswith("ec2:Describe")]
        if not changes:
            continue
        (resource,) = g.resources
        assert resource.startswith(f"arn:${{AWS::Partition}}:ec2:{REGION_AND_ACCOUNT}"), resource
        conditions[local_part(resource)] = g.condition
    assert conditions["subnet/*"] == {"StringEquals": {"ec2:SubnetID": {"Ref": "TrainingSubnetIds"}}}
    assert conditions["security-group/*"] == {
        "StringEquals": {"ec2:SecurityGroupID": {"Ref": "TrainingSecurityGroupIds"}}
    }
    assert set(conditions["network-interface/*"]["ArnLike"]) == {"ec2:Subnet"}
    assert set(conditions) == {"subnet/*", "security-group/*", "network-interface/*"}
