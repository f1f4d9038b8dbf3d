"""The demo's training-health run: a second model whose trees are deep and unregularised, so every trial's
train loss keeps falling while its validation loss turns and rises; the run's notification names the
overfitting rule (AMT301) and its fix."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Protocol

from amtflow.local.twin import Execution, ExecutionStatus, Twin

#: XGBoost settings that overfit the breast-cancer data within 20 rounds (validation logloss bottoms out
#: near round 8, then climbs while the train logloss falls towards 0).
OVERFITTING = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "num_round": 20,
    "eta": 0.3,
    "max_depth": 12,
    "min_child_weight": 0,
    "lambda": 0,
}


class Story(Protocol):
    """What the demo's story offers this step (``amtflow.local.apps.demo._story._Story``)."""

    twin: Twin

    def step(self, text: str) -> None: ...

    def check(self, text: str, ok: bool) -> None: ...

    def put_profile(self, profile: Mapping[str, Any]) -> None: ...

    def land_version(self, model: str, version: str, *, seed: int) -> Execution | None: ...


def overfitting_profile(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The demo's profile as a second model that overfits: logloss metrics, the settings above fixed, only
    ``colsample_bytree`` tuned (narrowly), two trials."""
    deep: dict[str, Any] = copy.deepcopy(dict(profile))
    deep["model"] = f"{profile['model']}-deep"
    deep["description"] = "The breast-cancer model with deep, unregularised trees: it overfits on purpose."
    deep["training"]["metrics"] = [
        {"name": "validation:logloss", "regex": r"validation-logloss:([0-9\.]+)"},
        {"name": "train:logloss", "regex": r"train-logloss:([0-9\.]+)"},
    ]
    deep["training"]["static_hyperparameters"] = dict(OVERFITTING)
    deep["training"]["checkpoints"] = False
    deep["tuning"]["objective"] = {"metric": "validation:logloss", "goal": "Minimize"}
    deep["tuning"]["ranges"] = {"colsample_bytree": {"min": 0.9, "max": 1.0}}
    deep["tuning"]["limits"] = {**deep["tuning"]["limits"], "max_jobs": 2, "max_parallel": 2}
    deep["tuning"]["early_stopping"] = "Off"
    deep["tuning"].pop("completion", None)
    deep.pop("schedule", None)
    deep["sample_log_lines"] = ["[0]\ttrain-logloss:0.47336\tvalidation-logloss:0.51006"]
    return deep


def overfitting_run(story: Story, profile: Mapping[str, Any], *, seed: int) -> None:
    """Put the overfitting model's profile, land its first dataset version and check that the run's
    notification names AMT301."""
    deep = overfitting_profile(profile)
    model = str(deep["model"])
    story.step(f"{model}: deep trees without regularisation -> the notification names the overfitting")
    story.put_profile(deep)
    run = story.land_version(model, "v1", seed=seed)
    findings: list[Mapping[str, Any]] = []
    for note in story.twin.notifications():
        if note.attributes.get("model") != model:
            continue
        document = json.loads(note.message)
        findings.extend((document.get("evaluation") or {}).get("diagnosis") or [])
    story.check(
        f"{model}: the run succeeds and its notification names AMT301 (overfitting) with the fix",
        run is not None
        and run.status is ExecutionStatus.SUCCEEDED
        and any(f.get("rule") == "AMT301" and f.get("fix") for f in findings),
    )
