"""A large tuning job through the real ASL in the twin: every state stays under Step Functions' 256 KiB.

The twin fails a state over the limit with ``States.DataLimitExceeded``, as Step Functions does; a job of
500 trials with 30 long tuned hyperparameters each, ranked with the largest leaderboard the settings allow,
must still run to its notification, carrying the top of the leaderboard and references, not the whole job.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from sm_stand_in import T0, SageMakerStandIn
from sm_support import MODEL, PROFILE, ROOT
from sm_support import T0 as CLOCK_T0
from test_sm_runs import assert_released, upload_version

from amtflow.local.twin import ExecutionStatus, ManualClock, Twin

STATES_LIMIT = 262_144
TRIALS = 500


@dataclass
class LargeJobStandIn(SageMakerStandIn):
    """Every tuning job runs :data:`TRIALS` trials, each with 30 tuned hyperparameters of 200 characters
    (a categorical value may have 256)."""

    def _trials(self, name: str, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        return [
            {
                "TrainingJobName": f"{name}-{i:03d}-{i:08x}",
                "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}-{i:03d}",
                "CreationTime": T0,
                "TrainingJobStatus": "Completed",
                "TunedHyperParameters": {
                    f"option_{p:02d}": f"{i:03d}-{p:02d}-" + "v" * 193 for p in range(30)
                },
                "ObjectiveStatus": "Succeeded",
                "FinalHyperParameterTuningJobObjectiveMetric": {
                    "Type": objective["Type"],
                    "MetricName": objective["MetricName"],
                    "Value": 0.5 + i / (2 * TRIALS),
                },
            }
            for i in range(1, TRIALS + 1)
        ]


@pytest.fixture
def sagemaker() -> LargeJobStandIn:
    return LargeJobStandIn()


@pytest.fixture
def app(sagemaker: LargeJobStandIn) -> Iterator[Twin]:
    with Twin.start(
        ROOT,
        sagemaker=sagemaker.factory,
        clock=ManualClock(CLOCK_T0),
        environment={"AMTFLOW_LEADERBOARD_SIZE": "100"},  # the largest leaderboard the settings allow
    ) as twin:
        twin.put_object(f"profiles/{MODEL}.yaml", PROFILE)
        twin.wait_idle()
        yield twin


def _largest_state(twin: Twin, execution_arn: str) -> tuple[int, str]:
    """The largest input or output any state of the execution had, in UTF-8 bytes, and the event's type."""
    sfn = twin.client("stepfunctions")
    largest = (0, "")
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        for event in page["events"]:
            for details in event.values():
                if isinstance(details, dict):
                    for field in ("input", "output"):
                        if isinstance(details.get(field), str):
                            largest = max(largest, (len(details[field].encode("utf-8")), event["type"]))
        if not page.get("nextToken"):
            return largest
        kwargs["nextToken"] = page["nextToken"]


def test_a_500_trial_job_runs_to_its_notification_with_every_state_under_256_kib(
    app: Twin, sagemaker: LargeJobStandIn
) -> None:
    upload_version(app)
    (execution,) = app.wait_for_executions(timeout=300)

    assert execution.status is ExecutionStatus.SUCCEEDED, (execution.error, execution.cause)
    size, where = _largest_state(app, execution.arn)
    assert size < STATES_LIMIT, f"{where}: {size} bytes"
    (note,) = app.notifications()
    assert len(note.message.encode("utf-8")) < STATES_LIMIT
    evaluation = note.json()["evaluation"]
    assert evaluation["best"]["objectiveValue"] == 1.0  # the best of all 500 trials
    leaderboard = evaluation["leaderboard"]
    assert 1 <= len(leaderboard) < 100  # the top of the ranking, not the whole of it
    assert leaderboard[0]["trainingJobName"] == evaluation["best"]["trainingJobName"]
    values = [t["objectiveValue"] for t in leaderboard]
    assert values == sorted(values, reverse=True)
    assert f"of {TRIALS}" in evaluation["reason"]  # how many there were, and where the whole ranking is
    assert app.errors() == []


def test_a_state_over_the_limit_still_ends_in_a_failure_notification_and_releases_the_lock(
    app: Twin, sagemaker: LargeJobStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # without its byte budget the leaderboard of 100 long trials overflows Evaluate's result; the
    # terminal States.DataLimitExceeded (States.ALL does not catch it) must still reach the failure path
    monkeypatch.setattr("amtflow.app._evaluate.within_budget", list)
    upload_version(app)
    (execution,) = app.wait_for_executions(timeout=300)

    assert execution.status is ExecutionStatus.FAILED
    assert execution.error == "States.DataLimitExceeded"
    assert "NotifyFailure" in execution.states
    assert "ReleaseLockAfterFailure" in execution.states
    (note,) = app.notifications()
    assert note.attributes["outcome"] == "failed"
    assert "States.DataLimitExceeded" in note.message
    assert_released(app)
