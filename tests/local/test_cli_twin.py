"""``amtflow local up`` and ``amtflow --help`` as a user meets them (the twin itself is stood in for)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amtflow.local.apps.shell import COMMANDS, Shell, split_command
from amtflow.local.cli import build_parser, main
from amtflow.local.twin import Twin


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_speaks_to_users_not_to_the_cli_s_developers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = " ".join(_help(["--help"], capsys).split())
    assert "register(subparsers)" not in text
    assert "argparse" not in text
    assert "Exit status: 0 ok, 1 findings or a failed job, 2 a usage or configuration error" in text


def test_command_help_shows_no_markup(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(["lint", "--help"], capsys)
    assert "run the preflight catalogue on a model profile" in text
    assert "``" not in text


def test_local_up_help_lists_the_commands_of_the_loop(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(["local", "up", "--help"], capsys)
    for name, _ in COMMANDS:
        assert f"\n  {name} " in text
    assert 'start {"model": "churn-xgb"}' in text
    assert "--verbose" in text


def test_start_takes_json_without_quoting() -> None:
    assert split_command(
        'start {"model": "churn-xgb", "overrides": {"tuning": {"limits": {"max_jobs": 4}}}} r1'
    ) == [
        "start",
        '{"model": "churn-xgb", "overrides": {"tuning": {"limits": {"max_jobs": 4}}}}',
        "r1",
    ]
    # the quoted form still works, and other commands are split as shell words
    assert split_command("""start '{"model": "a b"}'""") == ["start", '{"model": "a b"}']
    assert split_command("put k --text 'a b'") == ["put", "k", "--text", "a b"]
    # not JSON as typed: left to the command to explain
    assert split_command("start {model}") == ["start", "{model}"]


class _FakeTwin:
    outputs: dict[str, str] = {}


@pytest.fixture
def fake_twin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """``Twin.start`` stood in for by one whose function logs as Powertools does: through a handler bound
    to the process's stdout at the time the function's logger is created."""
    logger = logging.getLogger("amtflow-test-function")
    logger.propagate = False

    @contextlib.contextmanager
    def start(root: Path, **_: Any) -> Iterator[_FakeTwin]:
        handler = logging.StreamHandler(sys.stdout)
        logger.addHandler(handler)
        try:
            logger.warning("a function's log line")
            print("moto: no support for AWS::CloudWatch::Alarm", file=sys.stderr)
            yield _FakeTwin()
            logger.warning("a function's last line")
        finally:
            logger.removeHandler(handler)

    monkeypatch.setattr(Twin, "start", start)
    monkeypatch.setattr(sys, "stdin", io.StringIO("help\nquit\n"))
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    return tmp_path


def test_local_up_sends_the_function_logs_to_a_file(
    fake_twin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = fake_twin / "logs" / "up.log"
    assert main(["local", "up", "--project", str(fake_twin), "--log-file", str(log)]) == 0
    captured = capsys.readouterr()
    assert "a function's log line" not in captured.out + captured.err
    assert "AWS::CloudWatch::Alarm" not in captured.err
    assert "put KEY FILE" in captured.out  # the loop's own output stays on the terminal
    assert f"function logs go to {log}" in captured.out
    text = log.read_text()
    assert "a function's log line" in text
    assert "a function's last line" in text


def test_local_up_verbose_shows_the_function_logs(
    fake_twin: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = fake_twin / "up.log"
    assert main(["local", "up", "--project", str(fake_twin), "--log-file", str(log), "--verbose"]) == 0
    assert "a function's log line" in capsys.readouterr().out
    assert not log.exists()


def test_every_command_that_prints_results_has_a_format_option() -> None:
    parser = build_parser()
    for argv in (["lint", "f"], ["lineage", "m"], ["describe", "n"], ["jobs"], ["tune", "f"], ["demo"]):
        assert parser.parse_args([*argv, "--format", "json"]).format == "json"
    for argv in (["describe", "n"], ["jobs"]):
        assert parser.parse_args([*argv, "--format", "csv"]).format == "csv"
    assert parser.parse_args(["profiles", "validate", "f", "--format", "json"]).format == "json"


class _RecordingTwin:
    outputs: dict[str, str] = {}

    def __init__(self) -> None:
        self.started: list[tuple[Any, str | None]] = []

    def start_execution(self, document: Any, *, name: str | None = None) -> str:
        self.started.append((document, name))
        return "arn:aws:states:us-east-1:123456789012:execution:amtflow-tuning:r1"


def test_the_loop_starts_an_execution_from_unquoted_json() -> None:
    twin = _RecordingTwin()
    out = io.StringIO()
    shell = Shell(twin, out)  # type: ignore[arg-type]
    assert shell.handle(
        'start {"model": "churn-xgb", "overrides": {"tuning": {"limits": {"max_jobs": 4}}}} r1'
    )
    assert twin.started == [
        ({"model": "churn-xgb", "overrides": {"tuning": {"limits": {"max_jobs": 4}}}}, "r1")
    ]
    assert "started arn:" in out.getvalue()
    assert "error" not in out.getvalue()


def test_demo_json_prints_a_summary_and_tells_the_story_on_stderr(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import amtflow.local.apps.demo as demo
    from amtflow.local.apps.report import Trial, TuningRun

    def run_demo(options: Any, *, out: Any) -> Any:
        print("10:00 dataset lands", file=out)
        run = TuningRun(
            "amtf-cancer-xgb-1", "Bayesian", "validation:auc", "Maximize", "Completed", "t-2", 0.98
        )
        run.trials.extend([Trial("t-1", "Completed", 0.9, {}, 1.0), Trial("t-2", "Completed", 0.98, {}, 1.0)])
        return demo.DemoResult(tmp_path / "report", [], [{"m": 1}], [run], "skipped", [("tuned", True)])

    monkeypatch.setattr(demo, "run_demo", run_demo)
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    assert main(["demo", "--project", str(tmp_path), "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert "dataset lands" in captured.err
    summary = json.loads(captured.out)
    assert summary["succeeded"] is True
    assert summary["runs"][0]["best_objective"] == 0.98
    assert summary["runs"][0]["trials"] == 2
