"""Anti-drift: the template, the state machine, the handlers and the settings agree with each other."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import fields
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from amtflow.local.twin import matches
from amtflow.profile import TrainingNetwork
from amtflow.settings import ENV_PREFIX, Settings, load_settings
from amtflow.wiring import training_network

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
ASL_TEXT = (ROOT / "statemachine" / "tuning.asl.json").read_text()
ASL: dict[str, Any] = json.loads(ASL_TEXT)
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
MACHINE = RESOURCES["TuningStateMachine"]["Properties"]
EVENTS = ROOT / "events"
ARCHITECTURE_ENV = {
    "AMTFLOW_DATA_BUCKET",
    "AMTFLOW_STATE_TABLE",
    "AMTFLOW_IDEMPOTENCY_TABLE",
    "AMTFLOW_TOPIC_ARN",
    "AMTFLOW_SAGEMAKER_ROLE_ARN",
    "AMTFLOW_STATE_MACHINE_ARN",
    "AMTFLOW_JOB_PREFIX",
    "AMTFLOW_RECONCILE_SCHEDULE",
}


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())  # type: ignore[no-any-return]


def walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def resolve(pattern: Any, values: dict[str, str]) -> Any:
    """Replace ``!Ref X`` / ``!Sub '${X}-'`` in an event pattern with test values."""
    if isinstance(pattern, dict):
        if set(pattern) == {"Ref"}:
            return values[pattern["Ref"]]
        if set(pattern) == {"Fn::Sub"}:
            return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], pattern["Fn::Sub"])
        return {k: resolve(v, values) for k, v in pattern.items()}
    if isinstance(pattern, list):
        return [resolve(v, values) for v in pattern]
    return pattern


# --- the state machine ------------------------------------------------------------------------------------


def test_every_placeholder_in_the_asl_has_a_substitution_and_vice_versa() -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_TEXT))
    assert placeholders == set(MACHINE["DefinitionSubstitutions"])
    assert MACHINE["DefinitionUri"] == "statemachine/tuning.asl.json"


def test_substitutions_are_keyed_logical_id_and_attribute() -> None:
    for key, value in MACHINE["DefinitionSubstitutions"].items():
        if key == "Partition":
            assert value == {"Ref": "AWS::Partition"}
        elif "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            assert key == f"{logical}{attribute}"
        else:
            # Ref gives a name, or an ARN for resources such as SNS topics (NotificationTopicArn)
            assert key in (f"{value['Ref']}Name", f"{value['Ref']}Arn")


def test_every_transition_target_exists_and_every_state_is_reachable() -> None:
    states = ASL["States"]
    targets = {ASL["StartAt"]}
    for node in walk(states):
        if isinstance(node, dict):
            for key in ("Next", "Default"):
                if isinstance(node.get(key), str):
                    assert node[key] in states, f"{key} -> {node[key]} does not exist"
                    targets.add(node[key])
    assert set(states) == targets


def test_the_asl_is_jsonpath_with_no_hard_coded_partition_or_account() -> None:
    assert ASL["QueryLanguage"] == "JSONPath"
    assert "arn:aws:" not in ASL_TEXT
    assert not re.search(r"\d{12}", ASL_TEXT)


def test_start_tuning_waits_for_a_callback_bounded_by_the_plan() -> None:
    task = ASL["States"]["StartTuning"]
    assert task["Resource"] == "arn:${Partition}:states:::lambda:invoke.waitForTaskToken"
    assert task["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
    assert task["TimeoutSecondsPath"] == "$.plan.timeoutSeconds"
    assert task["HeartbeatSecondsPath"] == "$.plan.heartbeatSeconds"


def test_every_task_retries_transient_errors_with_jitter_and_catches_the_rest() -> None:
    for name, state in ASL["States"].items():
        if state["Type"] != "Task":
            continue
        assert state.get("Catch"), f"{name} has no Catch"
        assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), name
        assert all(r.get("JitterStrategy") == "FULL" for r in state["Retry"]), name
        if "Function" in json.dumps(state):
            retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
            assert {"TransientError", "Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= retried


def test_a_payload_over_the_state_limit_still_notifies_and_releases_the_lock() -> None:
    # States.ALL does not catch States.DataLimitExceeded (a terminal error): each failure path names it
    for name, state in ASL["States"].items():
        catches = state.get("Catch", [])
        catch_all = [c for c in catches if c["ErrorEquals"] == ["States.ALL"]]
        if not catch_all or catch_all[0]["Next"] not in ("NotifyFailure", "HasLockAfterFailure"):
            continue
        limit = [c for c in catches if c["ErrorEquals"] == ["States.DataLimitExceeded"]]
        assert limit, f"{name}: no Catch for States.DataLimitExceeded"
        assert catches.index(limit[0]) < catches.index(catch_all[0]), name
        assert (limit[0]["Next"], limit[0]["ResultPath"]) == (
            catch_all[0]["Next"],
            catch_all[0]["ResultPath"],
        )


def test_every_failure_path_notifies_and_releases_the_lock() -> None:
    states = ASL["States"]
    for name, state in states.items():
        for catch in state.get("Catch", []):
            if name == "EvaluateChampion":
                # a failed evaluation of the champion is not the run's failure: promotion keeps the champion
                assert catch["Next"] == "Promote"
                assert catch["ResultPath"] == "$.championEvaluation"
            elif name == "StartTuning" and catch["ErrorEquals"] == ["QuotaExceededError"]:
                # an exhausted quota queues the run (notify once, wait, try again) instead of failing it
                assert catch["Next"] == "QueuedForQuota"
            elif name == "NotifyQueuedForQuota":
                assert catch["Next"] == "StartQuotaWaits"  # a lost interim notice does not fail the run
            elif name not in ("NotifyFailure", "ReleaseLock", "ReleaseLockAfterFailure"):
                assert catch["Next"] == "NotifyFailure", name
    assert states["QuotaStillExhausted"]["Next"] == "NotifyFailure"
    assert states["NotifyFailure"]["Next"] == "HasLockAfterFailure"
    assert states["HasLockAfterFailure"]["Choices"][0]["Next"] == "ReleaseLockAfterFailure"
    assert states["Notify"]["Next"] == "HasLock"
    assert states["HasLock"]["Choices"][0]["Next"] == "ReleaseLock"
    release = states["ReleaseLock"]
    assert release["Parameters"]["ConditionExpression"] == "#owner = :owner"
    assert release["Parameters"]["TableName"] == "${StateTableName}"


# --- functions ------------------------------------------------------------------------------------------


def test_functions_are_conventional_and_their_code_exists() -> None:
    globals_ = TEMPLATE["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.12"
    assert globals_["Handler"] == "app.lambda_handler"
    assert globals_["Layers"] == [{"Ref": "CoreLayer"}]
    assert RESOURCES["CoreLayer"]["Type"] == "AWS::Serverless::LayerVersion"
    for logical, resource in FUNCTIONS.items():
        code = resource["Properties"]["CodeUri"]
        assert re.fullmatch(r"functions/[a-z_]+/", code), logical
        source = (ROOT / code / "app.py").read_text()
        assert "def lambda_handler(event: dict[str, Any], context: LambdaContext)" in source, logical
    on_disk = {p.parent.name for p in (ROOT / "functions").glob("*/app.py")}
    assert on_disk == {r["Properties"]["CodeUri"].split("/")[1] for r in FUNCTIONS.values()}


def test_the_environment_is_the_documented_one_and_settings_read_it() -> None:
    env = dict(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    env.update(FUNCTIONS["StartRunFunction"]["Properties"]["Environment"]["Variables"])
    amtflow_env = {k for k in env if k.startswith(ENV_PREFIX)}
    assert amtflow_env == ARCHITECTURE_ENV
    known = {ENV_PREFIX + f.name.upper() for f in fields(Settings)}
    assert amtflow_env <= known
    assert env["AMTFLOW_STATE_TABLE"] == {"Ref": "StateTable"}
    assert env["AMTFLOW_JOB_PREFIX"] == {"Ref": "JobPrefix"}


def handler_sources() -> list[Path]:
    return sorted((ROOT / "functions").glob("*/app.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "amtflow":
            names.update(f"amtflow.{alias.name}" for alias in node.names)  # from amtflow import wiring
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", handler_sources(), ids=lambda p: p.parent.name)
def test_handlers_are_thin(path: Path) -> None:
    modules = imported_modules(path)
    assert not {m for m in modules if m.split(".")[0] in ("boto3", "botocore", "os")}, path
    assert {m for m in modules if m.startswith("amtflow")} <= {
        "amtflow.wiring",
        "amtflow.app",
        "amtflow.messages",
        "amtflow.log_format",
    }, path
    tree = ast.parse(path.read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "environ"]
    assert calls == []
    handler = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler")
    assert len(handler.body) <= 14, "handlers parse, call one use case and serialise"


def lambda_code() -> list[Path]:
    core = [
        p
        for p in (ROOT / "src" / "amtflow").rglob("*.py")
        if "local" not in p.relative_to(ROOT / "src").parts
    ]
    return sorted(core) + handler_sources()


def test_nothing_shipped_to_lambda_imports_the_local_side() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in lambda_code()
        if any(m == "amtflow.local" or m.startswith("amtflow.local.") for m in imported_modules(p))
    ]
    assert offenders == []


# --- events and rules -----------------------------------------------------------------------------------


def rule(function: str, name: str) -> dict[str, Any]:
    return FUNCTIONS[function]["Properties"]["Events"][name]  # type: ignore[no-any-return]


VALUES = {"DataBucket": "amtflow-data", "JobPrefix": "amtf"}


@pytest.mark.parametrize(
    ("fixture", "function", "rule_name", "matched"),
    [
        ("s3_marker_created.json", "StartRunFunction", "DatasetMarkerCreated", True),
        ("s3_channel_object_created.json", "StartRunFunction", "DatasetMarkerCreated", True),
        ("drift_detected.json", "StartRunFunction", "DriftDetected", True),
        ("tuning_job_completed.json", "JobEventsFunction", "TuningJobEnded", True),
        ("tuning_job_failed.json", "JobEventsFunction", "TuningJobEnded", True),
        ("tuning_job_in_progress.json", "JobEventsFunction", "TuningJobEnded", False),
        ("tuning_job_not_ours.json", "JobEventsFunction", "TuningJobEnded", False),
        ("scheduled_event.json", "StartRunFunction", "DatasetMarkerCreated", False),
        ("training_job_completed.json", "JobEventsFunction", "TrainingJobEnded", True),
        # a tuning job's trial (it carries TuningJobArn): its tuning job closes the run, not this rule
        ("training_job_trial_completed.json", "JobEventsFunction", "TrainingJobEnded", False),
        ("tuning_job_completed.json", "JobEventsFunction", "TrainingJobEnded", False),
    ],
)
def test_rules_match_the_shared_event_fixtures(
    fixture: str, function: str, rule_name: str, matched: bool
) -> None:
    pattern = resolve(rule(function, rule_name)["Properties"]["Pattern"], VALUES)
    assert matches(pattern, event(fixture)) is matched


def test_every_event_target_has_a_retry_policy_and_a_dead_letter_queue() -> None:
    for logical, resource in FUNCTIONS.items():
        for name, source in resource["Properties"].get("Events", {}).items():
            props = source["Properties"]
            assert props.get("DeadLetterConfig") == {
                "Arn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
            }, name
            assert props["RetryPolicy"]["MaximumRetryAttempts"] >= 1, f"{logical}.{name}"


# --- security -------------------------------------------------------------------------------------------


def statements(logical: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in FUNCTIONS[logical]["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    return found


def test_sagemaker_permissions_are_scoped_to_the_job_prefix_and_pass_role_to_sagemaker_only() -> None:
    seen_pass_role = False
    for logical in FUNCTIONS:
        for statement in statements(logical):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            if actions == ["sagemaker:ListEndpointConfigs"]:  # List* take no resource scope
                assert resources == ["*"]
            elif any(a.startswith("sagemaker:") for a in actions):
                for resource in resources:
                    assert resource["Fn::Sub"].endswith(
                        (
                            "-job/${JobPrefix}-*",
                            "training-job/${JobPrefix}-*",
                            "model-package-group/${JobPrefix}-*",
                            "model-package/${JobPrefix}-*",
                            ":endpoint/${JobPrefix}-*",
                            ":endpoint-config/${JobPrefix}-*",
                            ":model/${JobPrefix}-*",
                        )
                    )
            if "iam:PassRole" in actions:
                seen_pass_role = True
                assert resources == [{"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}]
                assert statement["Condition"] == {
                    "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
                }
    assert seen_pass_role


def test_the_bucket_is_private_encrypted_tls_only_and_emits_eventbridge_events() -> None:
    bucket = RESOURCES["DataBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    (deny,) = RESOURCES["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_tables_are_on_demand_with_ttl_and_the_documented_keys() -> None:
    state = RESOURCES["StateTable"]["Properties"]
    assert [k["AttributeName"] for k in state["KeySchema"]] == ["pk", "sk"]
    idempotency = RESOURCES["IdempotencyTable"]["Properties"]
    assert [k["AttributeName"] for k in idempotency["KeySchema"]] == ["id"]
    assert idempotency["TimeToLiveSpecification"]["AttributeName"] == "expiration"
    for table in (state, idempotency):
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["TimeToLiveSpecification"]["Enabled"] is True


def test_the_email_subscription_is_optional_and_the_job_prefix_constrained() -> None:
    assert RESOURCES["NotificationEmailSubscription"]["Condition"] == "HasNotificationEmail"
    pattern = TEMPLATE["Parameters"]["JobPrefix"]["AllowedPattern"]
    assert re.fullmatch(pattern, "amtf")
    assert not re.fullmatch(pattern, "Amtf-Too-Long")
    assert set(TEMPLATE["Outputs"]) >= {"DataBucketName", "StateMachineArn", "NotificationTopicArn"}


def test_event_driven_functions_send_their_failures_to_a_queue() -> None:
    for logical in ("StartRunFunction", "JobEventsFunction", "ReconcileFunction"):
        config = FUNCTIONS[logical]["Properties"]["EventInvokeConfig"]
        assert config["DestinationConfig"]["OnFailure"] == {
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": ["AsyncFailureQueue", "Arn"]},
        }, logical


def test_queues_are_encrypted_and_only_this_accounts_rules_may_dead_letter() -> None:
    for logical in ("EventsDeadLetterQueue", "AsyncFailureQueue"):
        assert RESOURCES[logical]["Properties"]["SqsManagedSseEnabled"] is True
    (statement,) = RESOURCES["EventsDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_plan_reads_the_profiles_and_the_dataset_versions_it_profiles() -> None:
    s3 = [st for st in statements("PlanFunction") if str(st["Action"]).startswith("s3:")]
    assert sorted((st["Action"], str(st["Resource"])) for st in s3) == sorted(
        [
            ("s3:GetObject", str({"Fn::Sub": "${DataBucket.Arn}/profiles/*"})),
            ("s3:GetObject", str({"Fn::Sub": "${DataBucket.Arn}/datasets/*"})),
            ("s3:ListBucket", str({"Fn::GetAtt": ["DataBucket", "Arn"]})),
        ]
    )


def test_state_table_access_is_granted_action_by_action() -> None:
    for logical, resource in FUNCTIONS.items():
        for policy in resource["Properties"].get("Policies", []):
            assert "DynamoDBCrudPolicy" not in policy, logical


def test_functions_read_only_the_profiles_and_list_the_bucket() -> None:
    for logical in ("StartRunFunction", "StartTuningFunction", "StartTrainingFunction"):
        s3 = [st for st in statements(logical) if str(st["Action"]).startswith("s3:")]
        assert {st["Action"]: st["Resource"] for st in s3} == {
            "s3:GetObject": {"Fn::Sub": "${DataBucket.Arn}/profiles/*"},
            "s3:ListBucket": {"Fn::GetAtt": ["DataBucket", "Arn"]},
        }, logical


# --- logs, retention, network and the data's lifetime ---------------------------------------------------

PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
JOB_CREATORS = ("StartTuningFunction", "StartTrainingFunction", "StartChampionEvaluationFunction")


def test_every_function_logs_to_its_own_group_kept_for_the_retention_parameter() -> None:
    for logical, resource in FUNCTIONS.items():
        group = resource["Properties"]["LoggingConfig"]["LogGroup"]
        assert group == {"Ref": f"{logical}LogGroup"}, logical
        props = RESOURCES[f"{logical}LogGroup"]["Properties"]
        assert RESOURCES[f"{logical}LogGroup"]["Type"] == "AWS::Logs::LogGroup"
        assert props["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}/{logical}"}
        assert props["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    groups = {k for k, v in RESOURCES.items() if v["Type"] == "AWS::Logs::LogGroup"}
    assert groups == {f"{f}LogGroup" for f in FUNCTIONS} | {"StateMachineLogGroup", "TrainingJobsLogGroup"}
    assert PARAMETERS["LogRetentionInDays"]["Default"] in PARAMETERS["LogRetentionInDays"]["AllowedValues"]


def test_the_account_wide_training_log_group_is_created_only_on_request_and_never_deleted() -> None:
    group = RESOURCES["TrainingJobsLogGroup"]
    assert group["Condition"] == "CreatesTrainingJobsLogGroup"
    assert TEMPLATE["Conditions"]["CreatesTrainingJobsLogGroup"] == {
        "Fn::Equals": [{"Ref": "CreateTrainingJobsLogGroup"}, "true"]
    }
    assert PARAMETERS["CreateTrainingJobsLogGroup"]["Default"] == "false"
    assert "exists already" in PARAMETERS["CreateTrainingJobsLogGroup"]["Description"]
    assert group["Properties"] == {
        "LogGroupName": "/aws/sagemaker/TrainingJobs",
        "RetentionInDays": {"Ref": "LogRetentionInDays"},
    }
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"


def training_role_statements() -> dict[str, dict[str, Any]]:
    (policy,) = RESOURCES["SageMakerExecutionRole"]["Properties"]["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def test_training_images_are_pulled_only_from_the_repositories_the_parameter_names() -> None:
    statements = training_role_statements()
    login = statements["RegistryLogin"]
    assert (login["Action"], login["Resource"]) == ("ecr:GetAuthorizationToken", "*")
    pull = statements["PullTrainingImages"]
    assert "ecr:GetAuthorizationToken" not in pull["Action"]
    assert pull["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/"
        "${TrainingImageRepositories}"
    }
    actions = {
        sid: s["Action"] if isinstance(s["Action"], list) else [s["Action"]] for sid, s in statements.items()
    }
    assert [sid for sid, a in actions.items() if any(x.startswith("ecr:") for x in a)] == [
        "RegistryLogin",
        "PullTrainingImages",
    ]


# SageMaker pulls its built-in algorithms' images with its own credentials (AlgorithmSpecification docs).
BUILT_IN_ALGORITHM_REPOSITORIES = {"sagemaker-xgboost"}


@pytest.mark.parametrize(
    "profile", sorted((ROOT / "examples").glob("*/profile.yaml")), ids=lambda p: p.parent.name
)
def test_the_default_repositories_allow_every_example_image(profile: Path) -> None:
    document = yaml_parse(profile.read_text())
    trainings = document.get("algorithms") or [document["training"]]  # every algorithm of the profile
    default = PARAMETERS["TrainingImageRepositories"]["Default"]
    assert re.fullmatch(PARAMETERS["TrainingImageRepositories"]["AllowedPattern"], default)
    for training in trainings:
        image = training["image"]
        repository = image.split("/", 1)[1].rsplit(":", 1)[0]
        assert fnmatchcase(repository, default) or repository in BUILT_IN_ALGORITHM_REPOSITORIES, image


def test_training_jobs_write_only_to_the_training_jobs_log_group() -> None:
    logs = training_role_statements()["TrainingLogs"]
    head = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/sagemaker/TrainingJobs"
    # CloudWatch Logs evaluates a group as its bare ARN or the ARN with :* (which also covers its streams)
    assert logs["Resource"] == [{"Fn::Sub": head}, {"Fn::Sub": head + ":*"}]


def test_the_network_parameters_reach_the_functions_that_create_jobs_and_settings_read_them() -> None:
    expected = {
        "AMTFLOW_TRAINING_NETWORK_ISOLATION": {"Ref": "TrainingNetworkIsolation"},
        "AMTFLOW_TRAINING_SUBNET_IDS": {"Fn::Join": [",", {"Ref": "TrainingSubnetIds"}]},
        "AMTFLOW_TRAINING_SECURITY_GROUP_IDS": {"Fn::Join": [",", {"Ref": "TrainingSecurityGroupIds"}]},
    }
    known = {ENV_PREFIX + f.name.upper() for f in fields(Settings)}
    assert set(expected) <= known
    for logical, resource in FUNCTIONS.items():
        env = resource["Properties"].get("Environment", {}).get("Variables", {})
        network = {k: v for k, v in env.items() if k in expected}
        assert network == (expected if logical in JOB_CREATORS else {}), logical


def test_with_the_defaults_no_job_is_isolated_or_in_a_vpc() -> None:
    assert PARAMETERS["TrainingNetworkIsolation"] == {
        **PARAMETERS["TrainingNetworkIsolation"],
        "Default": "false",
        "AllowedValues": ["true", "false"],
    }
    for name in ("TrainingSubnetIds", "TrainingSecurityGroupIds"):
        assert (PARAMETERS[name]["Type"], PARAMETERS[name]["Default"]) == ("CommaDelimitedList", "")
    # the environment the defaults render to (Join of an empty list is ""), read as the settings
    settings = load_settings(
        {
            "AMTFLOW_TRAINING_NETWORK_ISOLATION": PARAMETERS["TrainingNetworkIsolation"]["Default"],
            "AMTFLOW_TRAINING_SUBNET_IDS": PARAMETERS["TrainingSubnetIds"]["Default"],
            "AMTFLOW_TRAINING_SECURITY_GROUP_IDS": PARAMETERS["TrainingSecurityGroupIds"]["Default"],
        }
    )
    assert training_network(settings) == TrainingNetwork()


def test_the_vpc_permissions_exist_only_with_subnets_and_security_groups() -> None:
    policy = RESOURCES["SageMakerTrainingVpcPolicy"]
    assert policy["Condition"] == "HasTrainingVpc"
    assert policy["Properties"]["Roles"] == [{"Ref": "SageMakerExecutionRole"}]
    assert TEMPLATE["Conditions"]["HasTrainingVpc"] == {
        "Fn::And": [
            {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "TrainingSubnetIds"}]}, ""]}]},
            {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "TrainingSecurityGroupIds"}]}, ""]}]},
        ]
    }
    (rule,) = TEMPLATE["Rules"].values()
    assert "together" in rule["Assertions"][0]["AssertDescription"]


def test_tables_and_buckets_outlive_the_stack_and_its_replacement() -> None:
    for logical in ("StateTable", "IdempotencyTable", "DataBucket", "AccessLogsBucket"):
        assert RESOURCES[logical]["DeletionPolicy"] == "Retain", logical
        assert RESOURCES[logical]["UpdateReplacePolicy"] == "Retain", logical


def test_the_data_bucket_logs_every_access_to_a_private_encrypted_bucket() -> None:
    logging = RESOURCES["DataBucket"]["Properties"]["LoggingConfiguration"]
    assert logging == {"DestinationBucketName": {"Ref": "AccessLogsBucket"}, "LogFilePrefix": "data-bucket/"}
    target = RESOURCES["AccessLogsBucket"]["Properties"]
    assert target["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert all(target["PublicAccessBlockConfiguration"].values())
    (expire,) = target["LifecycleConfiguration"]["Rules"]
    assert expire["ExpirationInDays"] == {"Ref": "AccessLogRetentionInDays"}
    policy = RESOURCES["AccessLogsBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "AccessLogsBucket"}
    (grant,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert grant["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert grant["Action"] == "s3:PutObject"
    assert grant["Resource"] == {"Fn::Sub": "${AccessLogsBucket.Arn}/data-bucket/*"}
    assert grant["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::GetAtt": ["DataBucket", "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }


def test_the_checkov_exceptions_no_longer_include_bucket_access_logging() -> None:
    checkov = yaml_parse((ROOT / ".checkov.yaml").read_text())
    assert "CKV_AWS_18" not in checkov.get("soft-fail-on", []) + checkov.get("skip-check", [])


def test_noncurrent_versions_expire_and_incomplete_uploads_are_aborted() -> None:
    (rule,) = RESOURCES["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert not {"Prefix", "Filter"} & set(rule), "the rule covers the whole bucket"
    assert rule["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": {"Ref": "NoncurrentVersionExpirationInDays"}
    }
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1
    assert "ExpirationInDays" not in rule, "current objects stay"
    assert PARAMETERS["NoncurrentVersionExpirationInDays"]["Default"] >= 1
