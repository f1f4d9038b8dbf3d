"""One pair per rule: a case that triggers it and a near miss that does not, for every ID in the catalogue.

The service and practice pairs live beside their rules' other tests (``CASES`` in
``test_preflight_service.py`` and ``test_preflight_practice.py``); this module adds the pairs of the rules
that need evidence (parents, the lineage, sample logs, a canary, budget caps, a finished run, a profile's
deployment or monitoring section) and checks
that the catalogue has no rule without a pair.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from preflight_requests import base_request, parent_description
from test_preflight_practice import CASES as PRACTICE_CASES
from test_preflight_service import CASES as SERVICE_CASES

from amtflow.drift import Action, Decision, Rule, TuningJobSignature, TuningJobStatus, WarmStartType
from amtflow.lineage import RunRecord, Trigger
from amtflow.preflight import (
    Finding,
    LintContext,
    Severity,
    catalogue,
    deployment_findings,
    diagnose,
    lineage_evidence,
    monitoring_evidence,
    run_rules,
)
from amtflow.profile import Budget, DeploymentSpec, ModelProfile

Request = dict[str, Any]
PROFILE_DOCUMENT: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parents[3] / "examples" / "xgboost" / "profile.yaml").read_text(encoding="utf-8")
)
Findings = Callable[[], list[Finding]]


@dataclass(frozen=True)
class Pair:
    rule: str
    trigger: Findings
    near_miss: Findings
    label: str = ""
    severity: Severity | None = None
    """The severity the trigger's finding has, when not the rule's own (a rule may also warn)."""


def lint(request: Request, **context: Any) -> list[Finding]:
    return run_rules(LintContext(request=request, **context), tags={"service", "practice", "budget"})


def deploy(section: dict[str, Any], budget: Budget | None = None) -> list[Finding]:
    """The deployment rules on a profile's ``deployment`` section, in the stack of job prefix ``amtf``."""
    spec = DeploymentSpec.model_validate(section)
    return deployment_findings(spec, model="churn", job_prefix="amtf", budget=budget or Budget())


def watch(monitoring: dict[str, Any], outcomes: list[str] | None = None) -> list[Finding]:
    """The monitoring rules on a profile with this ``monitoring`` section (and ``notifications.outcomes``)."""
    document = {**PROFILE_DOCUMENT, "monitoring": monitoring}
    if outcomes is not None:
        document["notifications"] = {"outcomes": outcomes}
    profile = ModelProfile.model_validate(document)
    return run_rules(LintContext(request={}, extra=monitoring_evidence(profile)), tags={"monitoring"})


def mutated(fn: Callable[[Request], object]) -> Request:
    req = base_request()
    fn(req)
    return req


def config(req: Request) -> Request:
    return req["HyperParameterTuningJobConfig"]  # type: ignore[no-any-return]


def definition(req: Request) -> Request:
    return req["TrainingJobDefinition"]  # type: ignore[no-any-return]


def warm(parents: Sequence[str], req: Request | None = None) -> Request:
    req = req or base_request()
    req["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in parents],
        "WarmStartType": "TransferLearning",
    }
    return req


def with_regex(regex: str, metric: int = 0) -> Request:
    req = base_request()
    definition(req)["AlgorithmSpecification"]["MetricDefinitions"][metric]["Regex"] = regex
    return req


def with_static(static: dict[str, str]) -> Request:
    req = base_request()
    definition(req)["StaticHyperParameters"] = static
    return req


LOG = [
    "[0]\ttrain-auc:0.81\tvalidation-auc:0.78",
    "[1]\ttrain-auc:0.85\tvalidation-auc:0.80",
    "[2]\ttrain-auc:0.88\tvalidation-auc:0.83",
]
LOG_RENAMED = [line.replace("validation-auc", "valid-auc") for line in LOG]


# --- the lineage -------------------------------------------------------------------------------------------

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


def lineage_run(
    job: str,
    *,
    days: int = 0,
    status: TuningJobStatus = TuningJobStatus.COMPLETED,
    request: Request | None = None,
    parents: tuple[str, ...] = (),
    consumed_runtime_s: int | None = None,
    training_jobs: int = 30,
) -> RunRecord:
    """A run of the model recorded in the lineage, whose tuning job ``job`` ran ``request``."""
    decision = Decision(
        Action.TUNE,
        Rule.MODERATE_DRIFT if parents else Rule.NO_CHAMPION,
        "test",
        max_jobs=training_jobs,
        warm_start_type=WarmStartType.TRANSFER_LEARNING if parents else None,
        parents=parents,
    )
    return RunRecord(
        model="churn-xgb",
        run_id=f"run-{job}",
        started_at=T0 + timedelta(days=days),
        trigger=Trigger.S3,
        dataset_version=f"v{days}",
        data_fingerprint=f"fp{days}",
        decision=decision,
        tuning_job=job,
        signature=TuningJobSignature.from_request(request or base_request()),
        job_status=status,
        consumed_runtime_s=consumed_runtime_s,
        training_jobs=training_jobs,
        best_training_job=f"{job}-001-abcdef12",
    )


def with_lineage(request: Request, runs: Sequence[RunRecord]) -> list[Finding]:
    """Lint ``request`` with the evidence the lineage ``runs`` give (as StartTuning and ``lint`` do)."""
    evidence = lineage_evidence(request, runs)
    return lint(
        request,
        extra={
            "compatible_parents": list(evidence.compatible_parents),
            "parent_warm_starts": {k: list(v) for k, v in evidence.parent_warm_starts.items()},
        },
    )


def other_objective() -> Request:
    req = base_request()
    config(req)["HyperParameterTuningJobObjective"]["MetricName"] = "train:auc"
    return req


# --- a finished run ----------------------------------------------------------------------------------------


def trial(i: int, status: str = "Completed", value: float | None = None, **extra: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "TrainingJobName": f"churn-xgb-2026-11-{i:03d}-abcdef12",
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"eta": "0.1", "max_depth": "5", "subsample": "0.8", "tree_method": "hist"},
    }
    if value is not None:
        job["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": "validation:auc", "Value": value}
    job.update(extra)
    return job


def timed(i: int, start_minute: int, end_minute: int) -> dict[str, Any]:
    return trial(
        i,
        value=0.8,
        TrainingStartTime=(T0 + timedelta(minutes=start_minute)).isoformat(),
        TrainingEndTime=(T0 + timedelta(minutes=end_minute)).isoformat(),
    )


def run(jobs: list[dict[str, Any]], log: Sequence[str] = LOG, **describe: Any) -> Findings:
    return lambda: diagnose(
        parent_description("churn-xgb-2026-11", base_request(), **describe), jobs, lambda _: list(log)
    )


def best_with(eta: str) -> dict[str, Any]:
    best = trial(2, value=0.9)
    best["TunedHyperParameters"]["eta"] = eta
    return best


def xgb_log(train: Sequence[float], validation: Sequence[float]) -> list[str]:
    return [
        f"[{i}]\ttrain-auc:{t}\tvalidation-auc:{v}"
        for i, (t, v) in enumerate(zip(train, validation, strict=True))
    ]


RISING = [0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99]
VALIDATION_PEAKS = [0.7, 0.78, 0.82, 0.84, 0.85, 0.84, 0.82, 0.8, 0.78]
VALIDATION_RISES = [0.7, 0.76, 0.8, 0.83, 0.85, 0.86, 0.87, 0.875, 0.88]


# --- the pairs ---------------------------------------------------------------------------------------------

EVIDENCE_PAIRS: list[Pair] = [
    # warm start against the parents' descriptions
    Pair(
        "AMT032",
        lambda: lint(
            warm(["p1"]), parents={"p1": parent_description("p1", HyperParameterTuningJobStatus="InProgress")}
        ),
        lambda: lint(
            warm(["p1"]), parents={"p1": parent_description("p1", HyperParameterTuningJobStatus="Stopped")}
        ),
        "parent still running",
    ),
    Pair(
        "AMT032",
        lambda: lint(warm(["p1", "p2"]), parents={"p1": parent_description("p1")}),
        lambda: lint(
            warm(["p1", "p2"]), parents={"p1": parent_description("p1"), "P2": parent_description("p2")}
        ),
        "parent missing (names are case-insensitive)",
    ),
    Pair(
        "AMT033",
        lambda: lint(warm(["p1"]), parents={"p1": parent_description("p1", other_objective())}),
        lambda: lint(warm(["p1"]), parents={"p1": parent_description("p1")}),
    ),
    Pair(
        "AMT034",
        lambda: lint(
            warm(["p1"]),
            parents={
                "p1": parent_description(
                    "p1", with_static({"objective": "x", "num_round": "9", "gamma": "1"})
                )
            },
        ),
        lambda: lint(
            warm(["p1"]),
            parents={"p1": parent_description("p1", with_static({"objective": "x", "num_round": "9"}))},
        ),
    ),
    Pair(
        "AMT035",
        lambda: lint(
            warm(["p1"], with_static({f"s{i}": "1" for i in range(11)})),
            parents={"p1": parent_description("p1", with_static({f"s{i}": "2" for i in range(11)}))},
        ),
        lambda: lint(
            warm(["p1"], with_static({f"s{i}": "1" for i in range(11)})),
            parents={
                "p1": parent_description("p1", with_static({f"s{i}": "2" if i else "1" for i in range(11)}))
            },
        ),
    ),
    Pair(
        "AMT036",
        lambda: lint(
            warm(["p1"]),
            parents={"p1": parent_description("p1", TrainingJobStatusCounters={"Completed": 721})},
        ),
        lambda: lint(
            warm(["p1"]),
            parents={"p1": parent_description("p1", TrainingJobStatusCounters={"Completed": 720})},
        ),
    ),
    Pair(
        "AMT037",
        lambda: lint(
            warm(["p1"], mutated(lambda r: definition(r).update(Environment={"OMP_NUM_THREADS": "4"}))),
            parents={"p1": parent_description("p1")},
        ),
        lambda: lint(
            warm(
                ["p1"], mutated(lambda r: definition(r).update(Environment={}, EnableNetworkIsolation=False))
            ),
            parents={"p1": parent_description("p1")},
        ),
        "an absent member equals its empty value",
    ),
    # warm start against the lineage
    Pair(
        "AMT111",
        lambda: with_lineage(base_request(), [lineage_run("churn-xgb-v1")]),
        lambda: with_lineage(base_request(), [lineage_run("churn-xgb-v1", request=other_objective())]),
        "lineage: an incompatible earlier job is no reason to warm-start",
    ),
    Pair(
        "AMT111",
        lambda: with_lineage(base_request(), [lineage_run("churn-xgb-v1", status=TuningJobStatus.STOPPED)]),
        lambda: with_lineage(
            base_request(), [lineage_run("churn-xgb-v1", status=TuningJobStatus.IN_PROGRESS)]
        ),
        "lineage: a job still running cannot be a parent",
    ),
    Pair(
        "AMT111",
        lambda: with_lineage(base_request(), [lineage_run("churn-xgb-v1")]),
        lambda: with_lineage(warm(["churn-xgb-v1"]), [lineage_run("churn-xgb-v1")]),
        "lineage: warm-started from it",
    ),
    Pair(
        "AMT112",
        lambda: with_lineage(
            warm(["churn-xgb-v2"]),
            [lineage_run("churn-xgb-v1"), lineage_run("churn-xgb-v2", days=7, parents=("churn-xgb-v1",))],
        ),
        lambda: with_lineage(
            warm(["churn-xgb-v2", "churn-xgb-v1"]),
            [lineage_run("churn-xgb-v1"), lineage_run("churn-xgb-v2", days=7, parents=("churn-xgb-v1",))],
        ),
        "lineage: the grandparent listed too",
    ),
    Pair(
        "AMT112",
        lambda: lint(
            warm(["p1"]),
            parents={"p1": parent_description("p1", WarmStartConfig=warm(["p0"])["WarmStartConfig"])},
        ),
        lambda: lint(warm(["p1"]), parents={"p1": parent_description("p1")}),
        "descriptions: a parent started cold has nothing to inherit",
    ),
    # metric definitions
    Pair(
        "AMT120",
        lambda: lint(with_regex(r"validation-auc:([0-9\.]+")),
        lambda: lint(with_regex(r"validation-auc:([0-9\.]+)")),
    ),
    Pair(
        "AMT121",
        lambda: lint(with_regex(r"validation-auc:[0-9\.]+")),
        lambda: lint(with_regex(r"validation-auc:(?:v=)?([0-9\.]+)")),
    ),
    Pair(
        "AMT122",
        lambda: lint(with_regex(r"validation-auc:([a-z]+)")),
        lambda: lint(with_regex(r"validation-auc:([a-z0-9\.]+)")),
    ),
    Pair(
        "AMT122",
        lambda: lint(with_regex(r"validation-auc:(\S+)"), sample_logs={"log": ["validation-auc:0.9,"]}),
        lambda: lint(with_regex(r"validation-auc:([^,\s]+)"), sample_logs={"log": ["validation-auc:0.9,"]}),
        "captured text on a sample line",
    ),
    Pair(
        "AMT123",
        lambda: lint(base_request(), sample_logs={"log": LOG_RENAMED}),
        lambda: lint(base_request(), sample_logs={"log": LOG}),
    ),
    Pair(
        "AMT124",
        lambda: lint(
            base_request(),
            sample_logs={"log": [line.split("\ttrain")[0] + "\t" + line.split("\t")[2] for line in LOG]},
        ),
        lambda: lint(base_request(), sample_logs={"log": LOG}),
    ),
    Pair(
        "AMT125",
        lambda: lint(
            mutated(lambda r: config(r).update(TrainingJobEarlyStoppingType="Auto")),
            sample_logs={"log": LOG[-1:]},
        ),
        lambda: lint(
            mutated(lambda r: config(r).update(TrainingJobEarlyStoppingType="Auto")), sample_logs={"log": LOG}
        ),
    ),
    Pair(
        "AMT126",
        lambda: lint(
            base_request(), extra={"canary": {"job": "c1", "status": "Failed", "failure_reason": "boom"}}
        ),
        lambda: lint(base_request(), extra={"canary": {"job": "c1", "status": "Stopped", "lines": 3}}),
        "a canary stopped at its cap is no failure",
    ),
    Pair(
        "AMT126",
        lambda: lint(base_request(), extra={"canary": {"job": "c1", "status": "Completed", "lines": 0}}),
        lambda: lint(base_request(), extra={"canary": {"job": "c1", "status": "Completed", "lines": 1}}),
        "a canary that printed nothing tested nothing",
        Severity.WARNING,
    ),
    # budget: the base request costs $3.45 expected and $6.90 at most (see test_preflight_budget.py)
    Pair(
        "AMT201",
        lambda: lint(
            mutated(lambda r: definition(r)["ResourceConfig"].update(InstanceType="ml.trn1.2xlarge"))
        ),
        lambda: lint(
            mutated(lambda r: definition(r)["ResourceConfig"].update(InstanceType="ml.trn1.2xlarge")),
            extra={"prices": {"ml.trn1.2xlarge": 1.5}},
        ),
    ),
    Pair(
        "AMT202",
        lambda: lint(base_request(), extra={"max_usd_per_run": 3.40}),
        lambda: lint(base_request(), extra={"max_usd_per_run": 3.50}),
    ),
    Pair(
        "AMT203",
        lambda: lint(base_request(), extra={"max_usd_per_run": 6.80}),
        lambda: lint(base_request(), extra={"max_usd_per_run": 7.00}),
    ),
    Pair(
        "AMT204",
        lambda: lint(base_request(), extra={"max_usd_per_month": 10.0, "month_to_date_usd": 6.6}),
        lambda: lint(base_request(), extra={"max_usd_per_month": 10.0, "month_to_date_usd": 6.5}),
    ),
    Pair(
        "AMT205",
        lambda: lint(base_request(), extra={"max_usd_per_month": 10.0, "month_to_date_usd": 3.2}),
        lambda: lint(base_request(), extra={"max_usd_per_month": 10.0, "month_to_date_usd": 3.0}),
    ),
    Pair(
        "AMT206",
        lambda: lint(
            mutated(
                lambda r: [
                    config(r)["ResourceLimits"].pop(k)
                    for k in ("MaxNumberOfTrainingJobs", "MaxRuntimeInSeconds")
                ]
            )
        ),
        lambda: lint(mutated(lambda r: config(r)["ResourceLimits"].pop("MaxNumberOfTrainingJobs"))),
    ),
    # the deployment section (one ml.m5.large: $0.115/hour, about $84 a month)
    Pair(
        "AMT501",
        lambda: deploy({"instance_type": "ml.zz9.huge"}),
        lambda: deploy({"instance_type": "ml.zz9.huge"}, Budget(prices={"ml.zz9.huge": 1.0})),
        "an unpriced instance type against one priced in budget.prices",
    ),
    Pair(
        "AMT502",
        lambda: deploy({"endpoint": "prod-churn"}),
        lambda: deploy({"endpoint": "amtf-churn-live"}),
    ),
    Pair(
        "AMT503",
        lambda: deploy({}, Budget(max_usd_per_month=80.0)),
        lambda: deploy({}, Budget(max_usd_per_month=90.0)),
        "$84 a month against caps of $80 and $90",
    ),
    Pair(
        "AMT505",
        lambda: deploy({"canary": {"size_percent": 10, "wait_s": 59}}),
        lambda: deploy({"canary": {"size_percent": 10, "wait_s": 60}}),
    ),
    Pair(
        "AMT504",
        lambda: deploy({"serverless": {}, "instance_type": "ml.m5.large"}),
        lambda: deploy({"serverless": {}}),
    ),
    # the monitoring section
    Pair(
        "AMT601",
        lambda: watch({"silent_after": 30}, ["promoted", "failed"]),
        lambda: watch({"silent_after": 30, "on_stall": "stop"}, ["promoted", "failed"]),
        "a notify-only stall watch whose outcomes leave out stalled, against one that stops the job",
    ),
    Pair(
        "AMT601",
        lambda: watch({"stall_after": {"trials": 5}}, []),
        lambda: watch({"stall_after": {"trials": 5}}, ["failed", "stalled"]),
        "no outcome listed, against a list with stalled",
    ),
    # training health after a run
    Pair(
        "AMT301",
        run([trial(1, value=0.8)], xgb_log(RISING, VALIDATION_PEAKS)),
        run([trial(1, value=0.8)], xgb_log(RISING, VALIDATION_RISES)),
        "train AUC rising while validation AUC falls from its best",
    ),
    Pair(
        "AMT302",
        run([trial(1, value=0.8)], xgb_log(RISING, [0.8, 0.81, 0.8, 0.79, 0.8, 0.8, 0.81, 0.79, 0.8])),
        run([trial(1, value=0.8)], xgb_log(RISING, [0.8, 0.81, 0.8, 0.79, 0.8, 0.8, 0.81, 0.8, 0.82])),
        "validation AUC flat within noise against a last third 0.1% better",
    ),
    Pair(
        "AMT303",
        run([trial(1, value=0.8)], xgb_log(RISING, [0.8] * 9)),
        run([trial(1, value=0.8)], xgb_log(RISING, [0.8] * 8 + [0.81])),
        "a constant validation metric",
    ),
    Pair(
        "AMT304",
        run([timed(1, 0, 5), timed(2, 0, 5), timed(3, 0, 6), timed(4, 0, 5), timed(5, 0, 16)]),
        run([timed(1, 0, 5), timed(2, 0, 5), timed(3, 0, 6), timed(4, 0, 5), timed(5, 0, 14)]),
        "3.2x the median trial against 2.8x",
    ),
    # diagnosis after a run
    Pair(
        "AMT401",
        run([trial(1), trial(2, "Stopped")], LOG_RENAMED),
        run([trial(1), trial(2, value=0.8)], LOG_RENAMED),
    ),
    Pair(
        "AMT402",
        run([trial(1, "Failed", FailureReason="AlgorithmError: x"), trial(2, "Failed")]),
        run([trial(1, "Failed", FailureReason="AlgorithmError: x"), trial(2, value=0.8)]),
    ),
    Pair(
        "AMT403",
        run([best_with("0.5")], BestTrainingJob=best_with("0.5")),
        run([best_with("0.45")], BestTrainingJob=best_with("0.45")),
    ),
    Pair(
        "AMT404",
        run([timed(1, 0, 30), timed(2, 1, 31), timed(3, 2, 32)]),
        run([timed(1, 0, 30), timed(2, 1, 31), timed(3, 31, 60)]),
    ),
]


def _from_cases(
    cases: Sequence[tuple[str, Callable[[Request], object], Callable[[Request], object]]],
) -> list[Pair]:
    return [
        Pair(rule, lambda t=trigger: lint(mutated(t)), lambda n=near: lint(mutated(n)), "request mutation")
        for rule, trigger, near in cases
    ]


PAIRS: list[Pair] = [*_from_cases(SERVICE_CASES), *_from_cases(PRACTICE_CASES), *EVIDENCE_PAIRS]


def test_every_rule_in_the_catalogue_has_a_trigger_and_a_near_miss() -> None:
    paired = {p.rule for p in PAIRS}
    missing = sorted(spec.id for spec in catalogue() if spec.id not in paired)
    assert not missing, f"rules without a trigger/near-miss pair: {', '.join(missing)}"
    assert paired <= {spec.id for spec in catalogue()}, "a pair names a rule that is not in the catalogue"


@pytest.mark.parametrize("pair", EVIDENCE_PAIRS, ids=[f"{p.rule}-{i}" for i, p in enumerate(EVIDENCE_PAIRS)])
def test_the_rule_fires_on_its_trigger_and_not_on_its_near_miss(pair: Pair) -> None:
    found = [f for f in pair.trigger() if f.rule == pair.rule]
    assert found, f"{pair.rule} did not fire on its trigger ({pair.label or 'no label'})"
    spec = next(s for s in catalogue() if s.id == pair.rule)
    for f in found:
        assert f.field
        assert f.message
        assert f.why
        assert f.fix
    assert any(f.severity is (pair.severity or spec.severity) for f in found)
    assert pair.rule not in {f.rule for f in pair.near_miss()}, f"{pair.rule} fired on its near miss"
