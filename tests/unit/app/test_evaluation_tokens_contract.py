"""One contract, two implementations: the in-memory tokens of champions' evaluation jobs behave like the
DynamoDB adapter (moto, the state table as template.yaml declares it) on parking, claiming once, and the
expiry the item carries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from app_fakes import T0
from moto import mock_aws
from test_champion_evaluation import Tokens
from test_state_table_contract import table_definition

from amtflow.adapters import DynamoEvaluationTokens
from amtflow.app import ParkedJob
from amtflow.errors import NotFoundError

EXPIRES = int(T0.timestamp()) + 86_400


class World:
    def __init__(self, tokens: Any, expiry: Any) -> None:
        self.tokens = tokens
        self.expiry = expiry
        """``job name -> the expiry (epoch seconds) stored with its token``, ``None`` if none is parked."""


@pytest.fixture(params=["in-memory", "dynamodb"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "in-memory":
        fake = Tokens()
        yield World(fake, lambda name: fake.parked[name][1] if name in fake.parked else None)
        return
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", **table_definition("StateTable"))

        def expiry(name: str) -> int | None:
            key = {"pk": {"S": f"EVALJOB#{name}"}, "sk": {"S": "TOKEN"}}
            item = client.get_item(TableName="state", Key=key).get("Item")
            return int(item["expiresAt"]["N"]) if item else None

        yield World(DynamoEvaluationTokens(client, "state"), expiry)


def job(name: str = "amtf-m-1-ev-0a1b2c3d", token: str = "token-1") -> ParkedJob:
    return ParkedJob(name, token, "cancer-xgb", "run-1", T0)


def test_a_parked_token_is_claimed_once(world: World) -> None:
    world.tokens.park(job(), expires_at=EXPIRES)
    assert world.expiry(job().job_name) == EXPIRES
    assert world.tokens.claim(job().job_name) == job()
    assert world.tokens.claim(job().job_name) is None
    assert world.expiry(job().job_name) is None


def test_parking_again_replaces_the_token_and_its_expiry(world: World) -> None:
    world.tokens.park(job(token="token-1"), expires_at=EXPIRES)
    world.tokens.park(job(token="token-2"), expires_at=EXPIRES + 60)
    assert world.expiry(job().job_name) == EXPIRES + 60
    claimed = world.tokens.claim(job().job_name)
    assert claimed is not None
    assert claimed.task_token == "token-2"


def test_claiming_a_job_never_parked_is_none_not_an_error(world: World) -> None:
    world.tokens.park(job("amtf-m-1-ev-0a1b2c3d"), expires_at=EXPIRES)
    assert world.tokens.claim("amtf-m-2-ev-99999999") is None
    assert world.tokens.claim("amtf-m-1-ev-0a1b2c3d") is not None


def test_a_missing_table_is_not_found() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        with pytest.raises(NotFoundError):
            DynamoEvaluationTokens(client, "state").park(job(), expires_at=EXPIRES)
