"""The metrics a run emits, as CloudWatch would extract them from the functions' logs: the twin keeps each
invocation's embedded-metric-format lines, and their names, dimensions and functions are the ones
docs/operations.md lists."""

from __future__ import annotations

import re

from sm_stand_in import SageMakerStandIn
from sm_support import MODEL, ROOT
from test_sm_runs import upload_version

from amtflow.local.twin import ExecutionStatus, Twin

DOC = ROOT / "docs" / "operations.md"


def documented() -> dict[str, tuple[frozenset[str], str]]:
    """metric -> (its dimensions, the logical id of the function that emits it), from the doc's table."""
    rows = re.findall(r"^\| `(\w+)` \| \w+ \| ([\w, ]+) \| (\w+) \|", DOC.read_text(), flags=re.M)
    table = {}
    for name, dimensions, function in rows:
        logical = "".join(part.capitalize() for part in function.split("_")) + "Function"
        table[name] = (frozenset(d.strip() for d in dimensions.split(",")), logical)
    return table


def test_a_run_emits_the_documented_metrics(app: Twin, sagemaker: SageMakerStandIn) -> None:
    upload_version(app)
    (execution,) = app.wait_for_executions()
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.cause
    app.advance(15 * 60)  # one reconciler sweep

    table = documented()
    emitted = app.metrics()
    assert emitted, "no embedded-metric-format line was captured"
    for metric in emitted:
        assert metric.namespace == "amtflow"
        assert metric.name in table, f"{metric.name} is emitted but not documented"
        dimensions, function = table[metric.name]
        assert (frozenset(metric.dimensions), metric.function) == (dimensions, function), metric
        assert metric.dimensions["service"] == "amtflow"

    by_name = {m.name: m for m in emitted}
    assert {
        "RunsTriggered",
        "RunsStarted",
        "TuningJobsStarted",
        "JobEvents",
        "BestObjective",
        "TuningRuntime",
        "RunOutcomes",
        "TrialsCompleted",
        "TrialsFailed",
        "DataToNotificationSeconds",
        "RunCostUsd",
        "MonthToDateUsd",
        "ParkedJobsSwept",
    } <= set(by_name)
    assert by_name["RunsStarted"].dimensions["trigger"] == "s3"
    assert by_name["RunOutcomes"].dimensions == {"model": MODEL, "outcome": "succeeded", "service": "amtflow"}
    assert by_name["RunOutcomes"].values == (1.0,)
    assert by_name["BestObjective"].values == (0.95,)
    assert by_name["TuningRuntime"].values == (754.0,)
    assert by_name["TrialsCompleted"].values == (3.0,)
    assert by_name["TuningJobsStarted"].values == (1.0,)
    assert by_name["ParkedJobsSwept"].values == (0.0,)
    # measured on the twin's clock, as the upload's event time is: it did not move between the two (on the
    # machine's clock it would be the weeks between the twin's start date and today)
    assert by_name["DataToNotificationSeconds"].values == (0.0,)
    assert sum(m.values[0] for m in emitted if m.name == "RunsTriggered") == 1.0  # the marker, not the data
