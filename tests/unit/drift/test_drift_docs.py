"""docs/drift.md shows the decision table that the code applies."""

from __future__ import annotations

import re
from pathlib import Path

from amtflow.drift import DECISION_TABLE

DOC = Path(__file__).parents[3] / "docs" / "drift.md"


def test_documented_table_matches_the_code_row_for_row() -> None:
    rows = re.findall(r"^\| (\d+) \| `([a-z-]+)` \| (.+?) \| (.+?) \|$", DOC.read_text(), flags=re.MULTILINE)
    documented = [(rule, when, then) for _, rule, when, then in rows]
    assert documented == [(r.value, when, then) for r, when, then in DECISION_TABLE]
    assert [int(n) for n, *_ in rows] == list(range(1, len(DECISION_TABLE) + 1))
