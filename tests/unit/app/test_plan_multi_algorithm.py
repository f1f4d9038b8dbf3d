"""PlanRun with a multi-algorithm profile (examples/xgboost-vs-mlp): cold starts only, retrain timeouts."""

from __future__ import annotations

from pathlib import Path

from app_fakes import MODEL, csv_rows
from test_plan_decisions import World

from amtflow.messages import Action, WarmStartMode

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "xgboost-vs-mlp" / "profile.yaml"


def multi_world() -> World:
    world = World()
    world.profile = EXAMPLE.read_text().replace("model: cancer-multi", f"model: {MODEL}")
    first = world.plan("v1")
    assert first.action is Action.TUNE
    assert first.warm_start is WarmStartMode.COLD
    world.finish(first)
    return world


def test_drift_never_warm_starts_several_algorithms() -> None:
    world = multi_world()
    world.files.put("v2", csv_rows(shift=0.4, seed=2))
    plan = world.plan("v2")
    assert plan.action is Action.TUNE
    assert plan.warm_start is WarmStartMode.COLD
    assert plan.parents == []


def test_a_retrain_waits_for_the_longest_of_the_algorithms_stopping_conditions() -> None:
    world = multi_world()
    world.files.put("v2", csv_rows(seed=7))
    plan = world.plan("v2")
    assert plan.action is Action.RETRAIN
    # xgboost may run 1800 s, the mlp 900 s: a retrain may be either, so it waits for the longer
    assert plan.timeout_seconds == 1800 + 3600
