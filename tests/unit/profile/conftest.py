"""Shared fixtures: the complete example profile, as text and as a mutable document."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).parent / "data"
XGB_PATH = DATA / "churn-xgb.yaml"

# A small but complete profile for Hyperband over an epoch-based script.
MLP_DOC: dict[str, Any] = {
    "schema": "amtflow/v1",
    "model": "fraud-mlp",
    "dataset": {"channels": {"train": "application/x-npy", "validation": "application/x-npy"}},
    "training": {
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fraud-mlp:3",
        "input_mode": "FastFile",
        "instance_type": "ml.c5.2xlarge",
        "metrics": [{"name": "val_loss", "regex": r"epoch=\d+ val_loss=([0-9.eE+-]+)"}],
        "static_hyperparameters": {"epochs": 27, "batch_size": 256, "amp": True},
        "environment": {"OMP_NUM_THREADS": 4},
    },
    "tuning": {
        "strategy": "Hyperband",
        "objective": {"metric": "val_loss", "goal": "minimize"},
        "ranges": {
            "lr": {"min": 1e-5, "max": 1e-1, "scaling": "Logarithmic"},
            "hidden": {"min": 16, "max": 256, "scaling": "log"},
            "dropout": {"min": 0.0, "max": 0.5},
            "optimizer": {"values": ["adam", "sgd"]},
        },
        "limits": {"max_jobs": 40, "max_parallel": 4},
        "hyperband": {"min_resource": 1, "max_resource": 27},
        "random_seed": 7,
    },
}

# Grid search over categorical values only.
GRID_DOC: dict[str, Any] = {
    "schema": "amtflow/v1",
    "model": "grid-demo",
    "dataset": {"channels": {"train": None}},
    "training": {
        "image": "grid-demo:latest",
        "metrics": [{"name": "score", "regex": "score=([0-9.]+)"}],
    },
    "tuning": {
        "strategy": "grid",
        "objective": {"metric": "score", "goal": "Maximize"},
        "ranges": {"depth": {"values": [2, 4, 6]}, "booster": {"values": ["gbtree", "dart"]}},
        "limits": {"max_parallel": 2},
    },
}


@pytest.fixture
def xgb_text() -> str:
    return XGB_PATH.read_text()


@pytest.fixture
def xgb_doc(xgb_text: str) -> dict[str, Any]:
    return yaml.safe_load(xgb_text)  # type: ignore[no-any-return]


@pytest.fixture
def mlp_doc() -> dict[str, Any]:
    return copy.deepcopy(MLP_DOC)


@pytest.fixture
def grid_doc() -> dict[str, Any]:
    return copy.deepcopy(GRID_DOC)
