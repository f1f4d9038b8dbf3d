"""Operations, on the template as CloudFormation deploys it: every alarm notifies the operations topic, every
failure the runbook covers has its alarm, the dashboard shows only metrics the functions emit, and
docs/operations.md lists exactly those metrics."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
from metrics_support import ROOT, SERVICE_DIMENSION, Emitted, emitted_metrics

from amtflow.local.twin import compile_project

OPERATIONS_DOC = ROOT / "docs" / "operations.md"
TOPIC = {"Ref": "OperationsTopic"}
# What the dashboard must show (the run's figures Notify and Evaluate emit per model).
DASHBOARD_MUST_SHOW = {
    "RunOutcomes",
    "BestObjective",
    "RunCostUsd",
    "MonthToDateUsd",
    "TrialsCompleted",
    "TrialsFailed",
    "DataToNotificationSeconds",
}


@cache
def cloudformation() -> dict[str, Any]:
    template: dict[str, Any] = compile_project(ROOT, region="us-east-1").cloudformation
    return template


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in cloudformation()["Resources"].items() if v["Type"] == kind}


def alarms() -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in of_type("AWS::CloudWatch::Alarm").items()}


def dimensions(alarm: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def alarms_on(namespace: str, metric: str) -> list[dict[str, Any]]:
    found = []
    for alarm in alarms().values():
        if alarm.get("Namespace") == namespace and alarm.get("MetricName") == metric:
            found.append(alarm)
        for query in alarm.get("Metrics", []):
            stat = query.get("MetricStat", {}).get("Metric", {})
            if stat.get("Namespace") == namespace and stat.get("MetricName") == metric:
                found.append({**alarm, "Dimensions": stat.get("Dimensions", [])})
    return found


def globals_environment() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    variables: dict[str, Any] = template["Globals"]["Function"]["Environment"]["Variables"]
    return variables


# --- alarms ----------------------------------------------------------------------------------------------


def test_every_alarm_notifies_the_operations_topic_and_chose_its_missing_data() -> None:
    # two per function; three for runs that failed, one for slow runs, one per queue, one for the reconciler,
    # one for stalled jobs
    expected = 2 * len(of_type("AWS::Lambda::Function")) + 3 + 1 + len(of_type("AWS::SQS::Queue")) + 1 + 1
    assert len(alarms()) == expected
    for name, alarm in alarms().items():
        assert alarm["AlarmActions"] == [TOPIC], name
        assert alarm["OKActions"] == [TOPIC], name
        assert alarm.get("TreatMissingData") in {"breaching", "notBreaching", "ignore", "missing"}, name
        # the key and topic policies let alarms named <stack>-* publish
        assert alarm["AlarmName"]["Fn::Sub"].startswith("${AWS::StackName}-"), name


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_failed_timed_out_and_aborted_runs_raise_an_alarm(metric: str) -> None:
    (alarm,) = alarms_on("AWS/States", metric)
    assert dimensions(alarm) == {"StateMachineArn": {"Ref": "TuningStateMachine"}}
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Sum", "GreaterThanOrEqualToThreshold")
    assert alarm["Threshold"] == {"Ref": "FailedRunsAlarmThreshold"}
    assert alarm["TreatMissingData"] == "notBreaching"


def test_a_run_longer_than_expected_raises_an_alarm_in_minutes() -> None:
    (alarm,) = alarms_on("AWS/States", "ExecutionTime")
    assert dimensions(alarm) == {"StateMachineArn": {"Ref": "TuningStateMachine"}}
    (shown,) = [q for q in alarm["Metrics"] if q.get("ReturnData")]
    assert shown["Expression"] == "executionTime / 60000"  # ExecutionTime is in milliseconds
    assert alarm["Threshold"] == {"Ref": "RunDurationAlarmMinutes"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_every_queue_that_collects_lost_events_raises_an_alarm_when_not_empty() -> None:
    queues = set(of_type("AWS::SQS::Queue"))
    assert queues >= {"EventsDeadLetterQueue", "AsyncFailureQueue"}
    watched = {}
    for alarm in alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible"):
        queue = dimensions(alarm)["QueueName"]
        assert queue == {"Fn::GetAtt": [queue["Fn::GetAtt"][0], "QueueName"]}
        watched[queue["Fn::GetAtt"][0]] = alarm
    assert set(watched) == queues
    for alarm in watched.values():
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Threshold"] == {"Ref": "DeadLetterMessagesAlarmThreshold"}
        assert alarm["TreatMissingData"] == "ignore"
    assert cloudformation()["Parameters"]["DeadLetterMessagesAlarmThreshold"]["Default"] == 0


@pytest.mark.parametrize(
    ("metric", "threshold"),
    [("Errors", "FunctionErrorsAlarmThreshold"), ("Throttles", "FunctionThrottlesAlarmThreshold")],
)
def test_every_function_has_its_errors_and_throttles_alarm(metric: str, threshold: str) -> None:
    functions = set(of_type("AWS::Lambda::Function"))
    assert len(functions) == len(list((ROOT / "functions").glob("*/app.py")))
    watched = [dimensions(a)["FunctionName"] for a in alarms_on("AWS/Lambda", metric)]
    assert sorted(w["Ref"] for w in watched) == sorted(functions)
    for alarm in alarms_on("AWS/Lambda", metric):
        assert alarm["Threshold"] == {"Ref": threshold}
        assert (alarm["Statistic"], alarm["TreatMissingData"]) == ("Sum", "notBreaching")


def test_the_reconciler_not_running_raises_an_alarm_over_more_than_its_schedule() -> None:
    (alarm,) = alarms_on("AWS/Lambda", "Invocations")
    assert dimensions(alarm) == {"FunctionName": {"Ref": "ReconcileFunction"}}
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["TreatMissingData"] == "breaching"  # a schedule that stopped produces no data at all
    assert alarm["Period"] == {"Ref": "ReconcileNotRunAlarmPeriodSeconds"}
    parameters = cloudformation()["Parameters"]
    schedule = re.fullmatch(r"rate\((\d+) (minute|hour)s?\)", parameters["ReconcileSchedule"]["Default"])
    assert schedule is not None
    every = int(schedule[1]) * (60 if schedule[2] == "minute" else 3600)
    period = parameters["ReconcileNotRunAlarmPeriodSeconds"]
    assert int(period["Default"]) >= 2 * every
    assert all(int(p) % 60 == 0 and int(p) <= 86400 for p in period["AllowedValues"])


def test_stalled_jobs_raise_an_alarm_on_the_metric_the_reconciler_emits() -> None:
    (alarm,) = alarms_on("amtflow", "StalledJobs")
    assert dimensions(alarm) == {SERVICE_DIMENSION: globals_environment()["POWERTOOLS_SERVICE_NAME"]}
    assert (alarm["Statistic"], alarm["ComparisonOperator"]) == ("Sum", "GreaterThanOrEqualToThreshold")
    assert alarm["Threshold"] == {"Ref": "StalledJobsAlarmThreshold"}
    assert alarm["TreatMissingData"] == "notBreaching"
    assert cloudformation()["Parameters"]["StalledJobsAlarmThreshold"]["Default"] == 1
    (emitted,) = [e for e in emitted_metrics() if e.name == "StalledJobs"]
    assert (emitted.function, emitted.dimensions) == ("reconcile", frozenset({SERVICE_DIMENSION}))


def test_the_operations_topic_is_encrypted_with_a_key_the_alarms_may_use() -> None:
    topic = of_type("AWS::SNS::Topic")["OperationsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "OperationsTopicKey"}
    key = of_type("AWS::KMS::Key")["OperationsTopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (grant,) = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(grant["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert grant["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    subscription = of_type("AWS::SNS::Subscription")["OperationsEmailSubscription"]
    assert subscription["Condition"] == "HasOperationsEmail"
    assert subscription["Properties"]["TopicArn"] == TOPIC


# --- the dashboard --------------------------------------------------------------------------------------

SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}\s+MetricName=\"([^\"]+)\"")


def dashboard_metrics() -> list[tuple[str, str, frozenset[str], dict[str, str]]]:
    """``(namespace, metric, dimension names, dimension values)`` of every graph of the dashboard, the
    ``${...}`` of its ``Fn::Sub`` body replaced by their names."""
    body = of_type("AWS::CloudWatch::Dashboard")["OperationsDashboard"]["Properties"]["DashboardBody"]
    text = re.sub(r"\$\{([^}]+)\}", lambda m: f"<{m[1]}>", body["Fn::Sub"])
    out = []
    for widget in json.loads(text)["widgets"]:
        for row in widget["properties"]["metrics"]:
            if isinstance(row[0], dict):
                found = SEARCH.search(row[0]["expression"])
                assert found is not None, row
                namespace, *names = [n.strip() for n in found[1].split(",")]
                out.append((namespace, found[2], frozenset(names), {}))
            else:
                values = [v for v in row if isinstance(v, str)]
                pairs = dict(zip(values[2::2], values[3::2], strict=True))
                out.append((values[0], values[1], frozenset(pairs), pairs))
    return out


def test_the_functions_emit_in_the_namespace_and_service_the_dashboard_reads() -> None:
    assert globals_environment()["POWERTOOLS_METRICS_NAMESPACE"] == "amtflow"
    assert globals_environment()["POWERTOOLS_SERVICE_NAME"] == "amtflow"


def test_every_dashboard_metric_is_one_the_functions_emit_with_its_dimensions() -> None:
    namespace = globals_environment()["POWERTOOLS_METRICS_NAMESPACE"]
    emitted = {(e.name, e.dimensions) for e in emitted_metrics()}
    shown = [m for m in dashboard_metrics() if m[0] == namespace]
    for _, name, names, values in shown:
        assert (name, names) in emitted, f"the dashboard shows {name} {sorted(names)}, no function emits it"
        if SERVICE_DIMENSION in values:
            assert values[SERVICE_DIMENSION] == globals_environment()["POWERTOOLS_SERVICE_NAME"]
    assert {name for _, name, _, _ in shown} >= DASHBOARD_MUST_SHOW


def test_the_dashboards_aws_metrics_name_resources_of_the_template() -> None:
    resources = cloudformation()["Resources"]
    others = [m for m in dashboard_metrics() if m[0].startswith("AWS/")]
    assert {m[0] for m in others} == {"AWS/SQS", "AWS/States"}
    for _, _, _, values in others:
        for value in values.values():
            assert re.fullmatch(r"<(\w+)(\.\w+)?>", value), value
            assert value[1:-1].split(".")[0] in resources, value
    queues = {v["QueueName"] for ns, _, _, v in others if ns == "AWS/SQS"}
    assert queues == {f"<{q}.QueueName>" for q in of_type("AWS::SQS::Queue")}


# --- the catalogue --------------------------------------------------------------------------------------


def catalogue() -> set[tuple[str, str, frozenset[str], str]]:
    text = OPERATIONS_DOC.read_text(encoding="utf-8")
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in section.splitlines():
        found = re.match(r"\| `(\w+)` \| (\w+) \| ([\w, ]+) \| (\w+) \|", line)
        if found:
            names = frozenset(n.strip() for n in found[3].split(","))
            rows.add((found[1], found[2], names, found[4]))
    return rows


def as_row(e: Emitted) -> tuple[str, str, frozenset[str], str]:
    return (e.name, e.unit, e.dimensions, e.function)


def test_the_catalogue_lists_exactly_the_emitted_metrics_with_unit_dimensions_and_function() -> None:
    emitted = {as_row(e) for e in emitted_metrics()}
    listed = catalogue()
    assert listed - emitted == set(), "listed in docs/operations.md but not emitted"
    assert emitted - listed == set(), "emitted but not listed in docs/operations.md"


def test_the_catalogue_gives_every_alarms_threshold_parameter() -> None:
    text = OPERATIONS_DOC.read_text(encoding="utf-8")
    for alarm in alarms().values():
        threshold = alarm["Threshold"]
        period = alarm.get("Period")
        for value in (threshold, period):
            if isinstance(value, dict):
                assert f"`{value['Ref']}`" in text, value["Ref"]
        suffix = alarm["AlarmName"]["Fn::Sub"].split("-", 1)[1]
        function = next((f for f in of_type("AWS::Lambda::Function") if suffix.startswith(f"{f}-")), None)
        assert f"`{suffix}`" in text or (function and f"`<Function>-{suffix.split('-')[-1]}`" in text), suffix


def test_the_scan_sees_dimensions_added_after_a_metric_and_a_single_metric_flush() -> None:
    notify = {e.name: e.dimensions for e in emitted_metrics() if e.function == "notify"}
    assert notify["RunOutcomes"] == {"model", "outcome", "service"}
    assert notify["RunCostUsd"] == {"model", "service"}
    assert notify["QueuedForQuota"] == {"service"}  # its path returns before the model is added
