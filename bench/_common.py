"""What the benchmarks share: paths, loading the examples, the command line, writing results."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def load_example(relative: str) -> ModuleType:
    """Import ``examples/<relative>`` by path (the examples are scripts, not a package)."""
    name = "amtflow_example_" + relative.replace("/", "_").removesuffix(".py")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / relative)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {EXAMPLES / relative}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def installed(package: str) -> bool:
    """Whether ``package`` can be imported (a peer whose package is missing is skipped, with a note)."""
    try:
        return importlib.util.find_spec(package) is not None
    except ImportError:
        return False


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a small budget, for CI")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON")
    return parser


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        print(f"figures written to {target}")


def median_interval(
    values: Sequence[float], *, confidence: float = 0.95, resamples: int = 4000, seed: int = 0
) -> dict[str, float]:
    """The median of per-seed figures and a percentile-bootstrap interval for it.

    ``resamples`` resamples of the seeds (with replacement, ``seed`` fixes them so a figure is
    reproducible); the interval is the central ``confidence`` share of their medians. Returns
    ``{"median", "low", "high", "n"}``; with a single value the interval is that value.
    """
    data = np.asarray([float(v) for v in values], dtype=float)
    if not len(data):
        raise ValueError("median_interval needs at least one value")
    draws = np.random.default_rng(seed).integers(len(data), size=(resamples, len(data)))
    medians = np.median(data[draws], axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(medians, [tail, 1.0 - tail])
    return {
        "median": float(np.median(data)),
        "low": float(low),
        "high": float(high),
        "n": len(data),
    }


def show_interval(figure: dict[str, float], fmt: str = "{:.3g}") -> str:
    """``median [low, high] (n)`` for a figure from :func:`median_interval`."""
    low, high = fmt.format(figure["low"]), fmt.format(figure["high"])
    return f"{fmt.format(figure['median'])} [{low}, {high}] (n={int(figure['n'])})"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table with right-aligned numbers."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append(
            "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True))
        )
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4f}"
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
