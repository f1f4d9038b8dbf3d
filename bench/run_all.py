"""Run every benchmark and print one table of the headline figures against their targets.

Each benchmark runs as its own process (``--quick`` is passed through) and writes its JSON into
``--out`` (default ``bench-results/``); the table is built from those files: each figure with the median
of its per-seed values and their 95 % bootstrap interval (``_common.median_interval``).

    python bench/run_all.py              # the full benchmarks (tens of minutes on 2 cores)
    python bench/run_all.py --quick      # the CI sizes
    python bench/run_all.py --table-only # the table again, from the last results in --out
    python bench/run_all.py --quick --only overhead -- --trials 1   # arguments after -- go to each benchmark
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _common import REPO, base_parser, table

BENCHMARKS = ("search", "early_stopping", "warm_start", "overhead")


def _interval(figure: dict[str, Any] | None, fmt: str) -> str:
    """``median [low, high]`` of a per-seed figure (empty when a result predates the intervals)."""
    if not figure:
        return ""
    return f"{fmt.format(figure['median'])} [{fmt.format(figure['low'])}, {fmt.format(figure['high'])}]"


def _search_rows(data: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    intervals = data.get("interval", {})
    for task, by_strategy in sorted(data["score"].items()):
        bayes = by_strategy.get("bayesian", {})
        for p, by_budget in sorted(bayes.items(), key=lambda kv: int(kv[0][1:])):
            for b, value in sorted(by_budget.items(), key=lambda kv: int(kv[0][1:])):
                peers = [
                    f"{peer} {by_strategy[peer][p][b]:.1f}"
                    for peer in ("optuna_default", "optuna_gp")
                    if b in by_strategy.get(peer, {}).get(p, {})
                ]
                figure = intervals.get(task, {}).get("bayesian", {}).get(p, {}).get(b)
                rows.append(
                    [
                        "search",
                        f"{task} bayesian {p} {b}",
                        f"{value:.1f}",
                        _interval(figure, "{:.1f}"),
                        ", ".join(peers),
                    ]
                )
    return rows


def _early_stopping_rows(data: dict[str, Any]) -> list[list[object]]:
    return [
        [
            "early_stopping",
            f"{method} epochs saved / relative loss",
            f"{f['epochs_saved_fraction']:.0%} / {f['relative_loss']:+.2%}",
            " / ".join(
                x
                for x in (
                    _interval(f.get("epochs_saved_interval"), "{:.0%}"),
                    _interval(f.get("relative_loss_interval"), "{:+.2%}"),
                )
                if x
            ),
            ">= 50% at <= 1% (mean)" if method in ("auto", "hyperband") else "reference",
        ]
        for method, f in sorted(data["by_method"].items())
    ]


def _warm_start_rows(data: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = [
        [
            "warm_start",
            "trials ratio (TransferLearning / cold)",
            f"{data['trials_ratio']:.2f}",
            _interval(data.get("interval"), "{:.2f}"),
            "<= 0.5",
        ]
    ]
    for task, f in sorted(data.get("tasks", {}).items()):
        rows.append(
            [
                "warm_start",
                f"{task} moderate: warm / cold trials",
                "",
                _interval(f["ratio"], "{:.2f}"),
                "<= 0.5",
            ]
        )
        if "peer_ratio" in f:
            rows.append(
                [
                    "warm_start",
                    f"{task} moderate: optuna peer / cold",
                    "",
                    _interval(f["peer_ratio"], "{:.2f}"),
                    "peer",
                ]
            )
        if "ratio_within_noise" in f:
            rows.append(
                [
                    "warm_start",
                    f"{task} moderate, second figure: within validation noise",
                    "",
                    _interval(f["ratio_within_noise"], "{:.2f}"),
                    "",
                ]
            )
        rows.append(
            [
                "warm_start",
                f"{task} severe: warm vs cold best",
                "",
                _interval(f["severe_regret"], "{:+.1%}"),
                "interval reaches 0",
            ]
        )
    return rows


def _overhead_rows(data: dict[str, Any]) -> list[list[object]]:
    return [
        [
            "overhead",
            "engine vs bare Optuna loop",
            f"{data['overhead_fraction']:+.1%}",
            _interval(data.get("interval"), "{:+.1%}"),
            "<= 5%",
        ]
    ]


ROWS: dict[str, Callable[[dict[str, Any]], list[list[object]]]] = {
    "search": _search_rows,
    "early_stopping": _early_stopping_rows,
    "warm_start": _warm_start_rows,
    "overhead": _overhead_rows,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="bench-results", help="folder for each benchmark's JSON")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    parser.add_argument(
        "--table-only", action="store_true", help="run nothing: print the table from the JSON files in --out"
    )
    parser.add_argument(
        "bench_args",
        nargs="*",
        metavar="ARG",
        help="after --: passed on to each benchmark (e.g. smaller sizes)",
    )
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        parser.error(f"--only: unknown {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    summary: dict[str, Any] = {}
    for name in chosen:
        target = out / f"{name}.json"
        if args.table_only:
            if target.exists():
                summary[name] = json.loads(target.read_text())
            else:
                failed.append(name)
            continue
        command = [sys.executable, str(REPO / "bench" / f"{name}.py"), "--json", str(target)]
        command += ["--quick"] if args.quick else []
        command += args.bench_args
        print(f"== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(command, check=False)
        print(f"== {name}: exit {done.returncode} after {time.perf_counter() - start:.0f}s", flush=True)
        if done.returncode != 0 or not target.exists():
            failed.append(name)
            continue
        summary[name] = json.loads(target.read_text())
    rows = [row for name, data in summary.items() for row in ROWS[name](data)]
    print()
    print(table(["benchmark", "figure", "measured", "median [95% interval]", "target / reference"], rows))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
