"""Shared test set-up: no test may reach a real AWS endpoint.

Every test runs with fake credentials and a fixed region; the metadata endpoints are disabled so botocore
never probes the network for credentials.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "amtflow-tests",
    "POWERTOOLS_SERVICE_NAME": "amtflow",
}


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _FAKE_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


# --------------------------------------------------------------------------- spreading the suite over workers
# Under `pytest -n 2`, tests sharing an expensive module- or session-scoped fixture (a demo, a recorded twin
# run, the benchmarks' results) go to one worker as one unit, so the fixture is built once rather than once
# per worker; and the slow tests are sent first, so no worker is left with a long one at the end. (xdist's
# own `--dist loadgroup` names groups by editing test ids, which pytest 9 no longer lets it do: the workers
# hand the groups over in a file instead, and an `xdist_group` mark is honoured here.)
_SHARED_SCOPES = ("session", "package", "module", "class")
_GROUPS_DIR = "amtflow_test_groups"
_GROUPS_DIR_KEY = pytest.StashKey[str]()


def _shared_fixture_group(item: pytest.Item) -> str | None:
    """The group of the test's broadest-scoped fixture defined by this project, if it is shared at all."""
    marked = item.get_closest_marker("xdist_group")
    if marked is not None:
        return str(marked.args[0] if marked.args else marked.kwargs.get("name", "default"))
    info = getattr(item, "_fixtureinfo", None)
    if info is None or getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
        return None  # a property test's fixtures are module-scoped because Hypothesis wants it, not for cost
    best: tuple[int, str] | None = None
    for name in info.names_closure:
        definitions = info.name2fixturedefs.get(name)
        if not definitions:
            continue
        definition = definitions[-1]
        if not definition.baseid or definition.scope not in _SHARED_SCOPES:
            continue  # pytest's and plugins' own fixtures (tmp_path_factory, ...) cost nothing to share
        rank = _SHARED_SCOPES.index(definition.scope)
        # a session or package fixture: everything using it; a module or class fixture: its module
        group = f"{definition.baseid}::{name}" if rank <= 1 else item.nodeid.split("::", 1)[0]
        if best is None or (rank, group) < best:
            best = (rank, group)
    return None if best is None else best[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    groups = {item.nodeid: group for item in items if (group := _shared_fixture_group(item)) is not None}
    # slow tests first, then those sharing a fixture (it is shared because it is costly), the rest in order
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1 if item.nodeid in groups else 2)
    workerinput = getattr(config, "workerinput", None)
    if workerinput and _GROUPS_DIR in workerinput:  # an xdist worker: tell the controller
        target = Path(workerinput[_GROUPS_DIR]) / f"{workerinput['workerid']}.json"
        partial = target.with_suffix(".partial")
        partial.write_text(json.dumps(groups), encoding="utf-8")
        partial.replace(target)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, in the controller: where the workers write the groups."""
    config = node.config
    if _GROUPS_DIR_KEY not in config.stash:
        folder = config.stash[_GROUPS_DIR_KEY] = tempfile.mkdtemp(prefix="pytest-groups-")
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    node.workerinput[_GROUPS_DIR] = config.stash[_GROUPS_DIR_KEY]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`-n N` (xdist's default `--dist load`): schedule by shared-fixture group, in the collection's order."""
    if config.getvalue("dist") != "load":
        return None  # a --dist the command line chose
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def __init__(self, config: pytest.Config, log: Any) -> None:
            super().__init__(config, log)
            config.option.loadscopereorder = False  # keep the collection's order: the slow ones first
            self._groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:  # the workers have all collected by now
                found = sorted(Path(config.stash[_GROUPS_DIR_KEY]).glob("*.json"))
                self._groups = json.loads(found[0].read_text(encoding="utf-8")) if found else {}
            return self._groups.get(nodeid, nodeid)

    return SharedFixtureScheduling(config, log)
