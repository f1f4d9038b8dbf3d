"""The twin runs a small SAM application end to end: S3 → rule → function → execution → callback → SNS."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from amtflow.errors import NotFoundError
from amtflow.local.twin import (
    ExecutionStatus,
    FunctionError,
    SageMakerFactory,
    Twin,
    TwinDeployError,
    TwinTimeoutError,
    compile_project,
)

FIXTURE = Path(__file__).parent / "fixtures" / "app"


def _items(twin: Twin, prefix: str) -> list[dict[str, Any]]:
    table = twin.physical_id("StateTable")
    items = twin.client("dynamodb").scan(TableName=table)["Items"]
    return [i for i in items if i["pk"]["S"].startswith(prefix)]


def test_s3_upload_runs_the_whole_flow_and_notifies(twin: Twin) -> None:
    twin.put_object("incoming/batch-1.go", b"payload")

    (execution,) = twin.wait_for_executions(timeout=30)

    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.input == {
        "key": "incoming/batch-1.go",
        "trigger": "s3",
        "mode": "ok",
        "at": "2026-11-01T00:10:00Z",
    }
    assert execution.states == ("Route", "Submit", "Notify")
    assert execution.lambda_invocations == 1
    job = execution.output["job"]
    # the worker saw its own environment, resolved from the stack; the callback did not inherit it
    assert job["bucket"] == twin.physical_id("DataBucket") == twin.outputs["DataBucketName"]
    assert job["stage"] == "test"
    assert job["workerFunction"] == twin.physical_id("WorkerFunction")
    # another function's variable is at most empty there (pinned for the twin's lifetime), never its value
    assert job["sawEnvironmentOf"] == "callback"
    assert not os.environ.get("FIXTURE_BUCKET")
    (note,) = twin.notifications()
    assert note.topic_arn == twin.outputs["TopicArn"]
    assert note.subject == "job done"
    assert note.attributes == {"outcome": "done"}
    assert note.json()["jobId"] == "incoming-batch-1.go"
    assert [i.function for i in twin.invocations()] == [
        "RouterFunction",
        "WorkerFunction",
        "CallbackFunction",
    ]
    assert twin.errors() == []


def test_objects_outside_the_rule_start_nothing(twin: Twin) -> None:
    twin.put_object("other/batch-1.go", b"x")
    twin.put_object("incoming/notes.txt", b"x")

    assert twin.wait_for_executions(timeout=30) == []
    assert twin.invocations() == []


def test_a_failing_handler_reaches_the_asl_catch_by_exception_name(twin: Twin) -> None:
    twin.put_object("incoming/reject-me.go", b"x")

    (execution,) = twin.wait_for_executions(timeout=30)

    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "Rejected"
    assert execution.states == ("Route", "Submit", "NotifyRejected", "Rejected")
    (note,) = twin.notifications()
    assert note.subject == "job rejected"
    cause = note.json()
    assert cause["errorType"] == "WorkerRejectedError"
    assert cause["errorMessage"] == "cannot process incoming/reject-me.go"


def test_schedules_fire_on_the_fast_clock(twin: Twin) -> None:
    fired = twin.advance(3 * 3600)

    assert fired == [
        "2026-11-01T00:30:00Z CallbackFunctionSweep",
        "2026-11-01T01:00:00Z CallbackFunctionSweep",
        "2026-11-01T01:10:00Z RouterFunctionHourly",
        "2026-11-01T01:30:00Z CallbackFunctionSweep",
        "2026-11-01T02:00:00Z CallbackFunctionSweep",
        "2026-11-01T02:10:00Z RouterFunctionHourly",
        "2026-11-01T02:30:00Z CallbackFunctionSweep",
        "2026-11-01T03:00:00Z CallbackFunctionSweep",
        "2026-11-01T03:00:00Z FlowStateMachineNightly",
        "2026-11-01T03:10:00Z RouterFunctionHourly",
    ]
    assert twin.now() == datetime(2026, 11, 1, 3, 10, tzinfo=UTC)
    assert len(_items(twin, "tick#")) == 3  # rule schedule: the target's Input replaces the envelope
    assert len(_items(twin, "sweep#")) == 6  # ScheduleV2: the Input as-is
    (nightly,) = twin.executions()
    assert nightly.input == {"trigger": "nightly", "key": "none"}
    assert nightly.status is ExecutionStatus.SUCCEEDED
    assert nightly.states == ("Route", "Skipped")


def test_console_execution_with_a_name(twin: Twin) -> None:
    arn = twin.start_execution({"trigger": "nightly"}, name="manual-1")

    (execution,) = twin.wait_for_executions(timeout=30)

    assert execution.arn == arn
    assert execution.name == "manual-1"
    assert execution.status is ExecutionStatus.SUCCEEDED


def test_direct_invoke_returns_the_result_or_raises_the_handler_error(twin: Twin) -> None:
    assert twin.invoke("CallbackFunction", {"sweep": True}) == {"sweep": True}
    with pytest.raises(FunctionError, match="WorkerRejectedError: cannot process k") as info:
        twin.invoke("WorkerFunction", {"request": {"mode": "reject", "key": "k"}, "taskToken": "t"})
    assert info.value.error_type == "WorkerRejectedError"
    with pytest.raises(NotFoundError, match="no function 'Nope'"):
        twin.invoke("Nope", {})


def test_events_from_the_sagemaker_side_are_routed_and_async_failures_go_to_the_destination() -> None:
    sinks: list[Callable[[Mapping[str, Any]], None]] = []

    @contextlib.contextmanager
    def stand_in(sink: Callable[[Mapping[str, Any]], None]) -> Iterator[None]:
        sinks.append(sink)
        yield

    with Twin.start(FIXTURE, sagemaker=stand_in) as twin:
        (sink,) = sinks
        # an EventBridge event (as the local engine sends them), matched by the rule, transformed,
        # delivered: the callback fails because no job is parked
        sink(
            {
                "version": "0",
                "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                "detail-type": "Job Finished",
                "source": "fixture.worker",
                "account": "123456789012",
                "time": "2026-01-01T00:00:00Z",
                "region": "us-east-1",
                "resources": [],
                "detail": {"jobId": "j9", "status": "Succeeded"},
            }
        )
        # a PutEvents entry, excluded by anything-but
        sink(
            {
                "Source": "fixture.worker",
                "DetailType": "Job Finished",
                "Detail": {"jobId": "j9", "status": "Ignored"},
            }
        )
        twin.wait_idle()

        # EventInvokeConfig: one retry, then the OnFailure destination gets Lambda's failure record
        first, retry = twin.invocations()
        assert first.function == retry.function == "CallbackFunction"
        assert first.error_type == retry.error_type == "KeyError"
        (error,) = twin.errors()
        assert error.startswith("CallbackFunction (rule:")
        assert "2 attempts): KeyError" in error
        sqs = twin.client("sqs")
        (message,) = sqs.receive_message(QueueUrl=twin.physical_id("FailedCallbacksQueue"))["Messages"]
        record = json.loads(message["Body"])
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 2
        assert record["requestPayload"] == {"jobId": "j9", "status": "Succeeded"}
        assert record["responseContext"]["functionError"] == "Unhandled"
        assert record["responsePayload"]["errorType"] == "KeyError"


def test_waiting_for_an_execution_that_never_completes_times_out_naming_it(twin: Twin) -> None:
    # the worker parks its token, but the completion event goes nowhere: drop the callback rule's targets
    events = twin.client("events")
    rule = twin.physical_id("CallbackFunctionJobFinished")
    targets = [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]]
    events.remove_targets(Rule=rule, Ids=targets)
    twin.start_execution({"key": "incoming/x.go", "trigger": "s3", "mode": "ok"}, name="stuck")
    for _ in range(600):  # until the worker has parked the token (the execution then waits at Submit)
        if any(i.function == "WorkerFunction" for i in twin.invocations()):
            break
        time.sleep(0.05)

    with pytest.raises(TwinTimeoutError, match=r"stuck \(at Submit\)"):
        twin.wait_for_executions(timeout=1.5)


def test_unknown_names_are_reported_with_the_known_ones(twin: Twin) -> None:
    with pytest.raises(NotFoundError, match=r"known: .*DataBucket"):
        twin.physical_id("Nope")


def _copy_fixture(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    shutil.copytree(FIXTURE, root)
    return root


def test_compiling_the_template_leaves_no_unpublished_metrics_behind() -> None:
    # The SAM translator's usage metrics, left unpublished in its process-wide object, are reported at the
    # process's exit ("There are unpublished metrics..."): a line in a user's terminal (the benchmarks'
    # worker processes printed it) that says nothing about their stack.
    from samtranslator.metrics.method_decorator import MetricsMethodWrapperSingleton

    compile_project(Path(__file__).resolve().parents[3], region="us-east-1")

    assert MetricsMethodWrapperSingleton.get_instance().metrics_cache == {}


def test_deploy_problems_name_the_resource_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TwinDeployError, match="no SAM template"):
        compile_project(tmp_path)

    root = _copy_fixture(tmp_path)
    template = root / "template.yaml"
    template.write_text(
        template.read_text().replace("CodeUri: functions/worker/", "CodeUri: functions/gone/")
    )
    with pytest.raises(TwinDeployError, match="WorkerFunction: CodeUri 'functions/gone/' is not a folder"):
        compile_project(root)

    root = _copy_fixture(tmp_path / "b")
    template = root / "template.yaml"
    template.write_text(
        template.read_text().replace("TopicArn: !Ref NotificationsTopic\n      Policies", "Policies")
    )
    with pytest.raises(TwinDeployError, match=r"FlowStateMachine: the definition uses \$\{TopicArn\}"):
        compile_project(root)


def test_compiled_template_is_deployable_cloudformation() -> None:
    project = compile_project(FIXTURE)

    kinds = {r["Type"] for r in project.cloudformation["Resources"].values()}
    assert not any(k.startswith(("AWS::Serverless::", "AWS::Scheduler::")) for k in kinds)
    assert "AWS::Lambda::EventInvokeConfig" not in kinds  # served by the twin: retries and destinations
    assert project.async_configs["CallbackFunction"].maximum_retry_attempts == 1
    assert sorted(s.logical_id for s in project.schedules) == [
        "CallbackFunctionSweep",
        "FlowStateMachineNightly",
    ]
    assert project.functions["RouterFunction"].handler == "router.app.handler"
    assert project.functions["RouterFunction"].code_dir == (FIXTURE / "functions").resolve()
    assert project.functions["WorkerFunction"].timeout == 30


def test_lambda_api_invocations_reach_the_handler_or_report_a_missing_function(twin: Twin) -> None:
    from botocore.exceptions import ClientError

    lam = twin.client("lambda")
    name = twin.physical_id("CallbackFunction")
    sync = lam.invoke(FunctionName=name, Payload=json.dumps({"sweep": True}))
    assert json.loads(sync["Payload"].read()) == {"sweep": True}
    failed = lam.invoke(FunctionName=twin.physical_id("WorkerFunction"), Payload=json.dumps({"request": {}}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorType"] == "KeyError"
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"sweep": True}))
    twin.wait_idle()
    assert [i.source for i in twin.invocations()] == ["invoke", "invoke", "invoke:Event"]
    with pytest.raises(ClientError, match="ResourceNotFound"):
        lam.invoke(FunctionName="not-in-the-stack", Payload=b"{}")


def test_events_carry_the_twin_clock(twin: Twin) -> None:
    twin.advance(90 * 60)
    twin.put_object("incoming/timed.go", b"x")

    timed = [e for e in twin.wait_for_executions(timeout=30) if e.input.get("key") == "incoming/timed.go"]

    assert [e.input["at"] for e in timed] == ["2026-11-01T01:40:00Z"]


def test_one_twin_per_process(twin: Twin, no_sagemaker: SageMakerFactory) -> None:
    with pytest.raises(TwinDeployError, match="already running"), Twin.start(FIXTURE, sagemaker=no_sagemaker):
        pass


def test_asl_retries_and_waits_run_on_scaled_time(twin: Twin) -> None:
    twin.put_object("incoming/busy.go", b"x")  # the worker is busy once; Retry waits 100 s (scaled)
    twin.start_execution({"trigger": "wait"}, name="paused")  # a 150 s Wait state (scaled)

    busy, paused = sorted(twin.wait_for_executions(timeout=30), key=lambda e: e.name == "paused")

    assert busy.status is ExecutionStatus.SUCCEEDED
    assert busy.lambda_invocations == 2
    assert [i.error_type for i in twin.invocations() if i.function == "WorkerFunction"] == [
        "WorkerBusyError",
        None,
    ]
    assert paused.status is ExecutionStatus.SUCCEEDED
    assert paused.states == ("Route", "Pause", "Skipped")


def test_send_task_failure_keeps_its_cause_for_the_catch(twin: Twin) -> None:
    twin.put_object("incoming/fail.go", b"x")

    (execution,) = twin.wait_for_executions(timeout=30)

    assert execution.states == ("Route", "Submit", "NotifyRejected", "Rejected")
    (note,) = twin.notifications()
    assert note.message == "job incoming-fail.go failed"


def test_a_callback_that_beats_the_heartbeat_setup_still_completes_the_task(twin: Twin) -> None:
    """moto arms the heartbeat only after the task's Lambda returns; a callback sent before that (an event
    delivered at once) must still complete the task rather than wait out HeartbeatSeconds (600 s here)."""
    from unittest import mock

    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    twins_setup = CallbackEndpoint.setup_heartbeat_endpoint

    def armed_late(endpoint: Any, heartbeat_seconds: int) -> Any:
        for _ in range(400):  # force the race: arm the heartbeat only once the callback has arrived
            if endpoint.get_outcome() is not None:
                break
            time.sleep(0.025)
        return twins_setup(endpoint, heartbeat_seconds)

    with mock.patch.object(CallbackEndpoint, "setup_heartbeat_endpoint", armed_late):
        twin.put_object("incoming/early.go", b"x")
        (execution,) = twin.wait_for_executions(timeout=30)

    assert execution.status is ExecutionStatus.SUCCEEDED
