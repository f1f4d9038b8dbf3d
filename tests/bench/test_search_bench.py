"""bench/search.py: the JSON shape, the normalised score, the analytic functions, the Optuna space."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from _common import installed
from bench_support import BenchResults, run_bench
from search import (
    NEEDS,
    STRATEGIES,
    best_at,
    branin,
    default_seeds,
    hartmann6,
    optuna_distributions,
    scores,
    tasks,
)

pytestmark = pytest.mark.slow


def test_quick_run_writes_the_documented_json(bench_results: BenchResults) -> None:
    figures = bench_results["search"].figures

    assert set(figures) == {"score", "interval", "seeds"}
    assert figures["seeds"] == {"branin": 2, "hartmann6": 2, "xgboost_cancer": 2, "mlp_digits": 2}
    assert set(figures["score"]) == {"branin", "hartmann6", "xgboost_cancer", "mlp_digits"}
    present = {s for s in STRATEGIES if s not in NEEDS or installed(NEEDS[s])}
    for task, by_strategy in figures["score"].items():
        assert set(by_strategy) == present
        for by_p in figures["interval"][task].values():
            for by_budget in by_p.values():
                for figure in by_budget.values():
                    assert figure["n"] == 2
                    assert figure["low"] <= figure["median"] <= figure["high"]
        for strategy, by_p in by_strategy.items():
            assert set(by_p) == {"p1", "p4"}
            for by_budget in by_p.values():
                assert set(by_budget) == {"b3", "b6"}
                assert all(math.isfinite(v) for v in by_budget.values())
                if strategy == "random":
                    assert set(by_budget.values()) == {0.0}  # the reference of the scale


def test_a_peer_whose_package_is_missing_is_skipped_with_a_note(tmp_path: Path) -> None:
    done = run_bench(
        "search",
        "--quick",
        "--tasks",
        "branin",
        "--seeds",
        "1",
        "--budgets",
        "2",
        "--workers",
        "1",
        cwd=tmp_path,
        hide={"torch"},
    )
    assert done.returncode == 0, done.stderr
    assert "note: optuna_gp skipped: torch is not installed" in done.stdout
    # Bayesian and TPE at p1 and p4; random search once (it ignores what is pending), shown at both levels.
    assert "search quality: 5 runs" in done.stdout
    assert (
        len([line for line in done.stdout.splitlines() if line.startswith("branin") and " random " in line])
        == 2
    )
    assert "optuna_gp" not in done.stdout.split("note:")[1].split("\n", 1)[1]


def test_quick_run_prints_the_table_and_the_verdicts(bench_results: BenchResults) -> None:
    out = bench_results["search"].result.stdout
    assert "task" in out
    assert "score b3" in out
    assert "bayesian" in out
    assert "PASS" in out or "MISS" in out


def test_the_analytic_functions_reach_their_known_minima() -> None:
    assert branin({"x1": math.pi, "x2": 2.275}) == pytest.approx(0.397887, abs=1e-5)
    assert branin({"x1": -math.pi, "x2": 12.275}) == pytest.approx(0.397887, abs=1e-5)
    argmin = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    assert hartmann6({f"x{i + 1}": v for i, v in enumerate(argmin)}) == pytest.approx(-3.32237, abs=1e-4)
    assert tasks()["branin"].optimum == pytest.approx(0.397887)


def test_score_is_100_at_the_optimum_and_0_at_random_search() -> None:
    curves = {
        ("t", "random", 0, 1): [10.0, 6.0, 4.0],
        ("t", "random", 1, 1): [8.0, 8.0, 2.0],
        ("t", "bayesian", 0, 1): [5.0, 1.0, 1.0],
        ("t", "bayesian", 1, 1): [3.0, 1.0, 0.0],
    }
    score, mean_best, interval = scores(curves, {"t": 0.0}, [2, 3])

    # random mean best after 2: (6 + 8) / 2 = 7; bayesian: (1 + 1) / 2 = 1 -> 100 * (7 - 1) / 7
    assert score["t"]["bayesian"]["p1"]["b2"] == pytest.approx(100 * 6 / 7, abs=0.01)
    # after 3: random (4 + 2) / 2 = 3, bayesian (1 + 0) / 2 = 0.5 -> 100 * 2.5 / 3
    assert score["t"]["bayesian"]["p1"]["b3"] == pytest.approx(100 * 2.5 / 3, abs=0.01)
    assert score["t"]["random"]["p1"] == {"b2": 0.0, "b3": 0.0}
    assert mean_best["t"]["bayesian"]["p1"]["b3"] == pytest.approx(0.5)
    # per seed after 3: 100 * (3 - 1) / 3 and 100 * (3 - 0) / 3; their median is their mean
    assert interval["t"]["bayesian"]["p1"]["b3"]["median"] == pytest.approx(100 * 2.5 / 3, abs=0.01)
    assert interval["t"]["bayesian"]["p1"]["b3"]["low"] == pytest.approx(100 * 2 / 3, abs=0.01)
    assert interval["t"]["bayesian"]["p1"]["b3"]["high"] == pytest.approx(100.0, abs=0.01)


def test_real_tasks_use_the_best_value_found_as_the_optimum() -> None:
    curves = {("t", "random", 0, 1): [4.0, 3.0], ("t", "bayesian", 0, 1): [2.0, 1.0]}
    score, _, _ = scores(curves, {"t": None}, [2])
    assert score["t"]["bayesian"]["p1"]["b2"] == 100.0


def test_best_at_only_looks_at_the_first_evaluations() -> None:
    assert best_at([3.0, 2.0, 1.0], 2) == 2.0


def test_optuna_gets_the_same_space_with_auto_scaling_resolved_like_the_engine() -> None:
    distributions = optuna_distributions(
        {
            "ContinuousParameterRanges": [
                {"Name": "eta", "MinValue": "0.001", "MaxValue": "0.5", "ScalingType": "Auto"},
                {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1.0", "ScalingType": "Auto"},
            ],
            "IntegerParameterRanges": [
                {"Name": "units", "MinValue": "16", "MaxValue": "256", "ScalingType": "Logarithmic"}
            ],
            "CategoricalParameterRanges": [{"Name": "act", "Values": ["relu", "tanh"]}],
        }
    )
    assert distributions["eta"].log  # 0.5 / 0.001 >= 100
    assert not distributions["subsample"].log
    assert distributions["units"].log
    assert (distributions["units"].low, distributions["units"].high) == (16, 256)
    assert list(distributions["act"].choices) == ["relu", "tanh"]


def test_the_analytic_tasks_run_30_seeds_and_the_real_ones_10_unless_quick() -> None:
    all_tasks = tasks()
    assert [default_seeds(all_tasks[t], quick=False) for t in ("branin", "hartmann6")] == [30, 30]
    assert [default_seeds(all_tasks[t], quick=False) for t in ("xgboost_cancer", "mlp_digits")] == [10, 10]
    assert {default_seeds(t, quick=True) for t in all_tasks.values()} == {3}


@pytest.mark.parametrize(
    ("argv", "named"), [(["--seeds", "0"], "--seeds"), (["--workers", "0"], "--workers")]
)
def test_a_count_below_one_is_refused_naming_the_option(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from search import main

    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert f"{named} must be at least 1" in capsys.readouterr().err
