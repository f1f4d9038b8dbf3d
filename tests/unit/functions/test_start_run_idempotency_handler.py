"""StartRunFunction as deployed: the same EventBridge event delivered twice is answered once."""

from __future__ import annotations

from handler_support import event

from amtflow.local.twin import Twin


def test_the_same_event_delivered_twice_starts_one_execution_and_answers_alike(twin: Twin) -> None:
    bucket = twin.outputs["DataBucketName"]
    marker = event("s3_marker_created.json", bucket={"name": bucket})
    marker["id"] = "0f6d4f4e-idempotency-test"
    marker["detail"]["object"]["key"] = "datasets/unprofiled-idempotent/v7/_READY"
    first = twin.invoke("StartRunFunction", marker)
    again = twin.invoke("StartRunFunction", marker)

    assert first == again
    assert [e["outcome"] for e in again["executions"]] == ["started"]  # the stored answer, not a new start
    twin.wait_for_executions()
    name = first["executions"][0]["name"]
    assert [e.name for e in twin.executions()].count(name) == 1
    records = twin.client("dynamodb").scan(TableName=twin.physical_id("IdempotencyTable"))["Items"]
    assert [r["status"]["S"] for r in records if r["id"]["S"].endswith(tuple("0123456789abcdef"))].count(
        "COMPLETED"
    ) >= 1
