"""In-process Lambda: environment applied and restored, errors as Lambda reports them, overruns reported."""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest

from amtflow.local.twin._runtime import DeployedFunction, FunctionRuntime
from amtflow.local.twin._template import FunctionSource

HANDLER = """
import os

class QuotaExceededError(Exception):
    pass

def handler(event, context):
    if event.get("fail"):
        raise QuotaExceededError("no room for " + event["fail"])
    left = context.get_remaining_time_in_millis()
    return {"table": os.environ["TABLE"], "fn": context.function_name, "left": left}
"""


def _runtime(tmp_path: Path, *, step: float = 1.0, timeout: int = 3) -> tuple[FunctionRuntime, list[str]]:
    (tmp_path / "app.py").write_text(HANDLER)
    source = FunctionSource("WorkFunction", tmp_path, "app.handler", timeout=timeout)
    deployed = DeployedFunction(
        source, "stack-WorkFunction-ABC", "arn:aws:lambda:us-east-1:1:function:x", {"TABLE": "t-1"}
    )
    ticks = itertools.count(0.0, step)
    overruns: list[str] = []
    runtime = FunctionRuntime(
        {"WorkFunction": deployed},
        region="us-east-1",
        now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        monotonic=lambda: next(ticks),
        on_overrun=overruns.append,
    )
    return runtime, overruns


def test_the_handler_sees_its_environment_and_context_only_during_the_call(tmp_path: Path) -> None:
    runtime, overruns = _runtime(tmp_path)
    function = runtime.resolve("arn:aws:lambda:us-east-1:1:function:stack-WorkFunction-ABC:$LATEST")
    assert function is not None

    payload, errored = runtime.invoke(function, {}, source="test")

    assert not errored
    result = json.loads(payload)
    assert result["table"] == "t-1"
    assert result["fn"] == "stack-WorkFunction-ABC"
    assert 0 < result["left"] <= 3000
    assert "TABLE" not in os.environ
    assert overruns == []
    (record,) = runtime.invocations()
    assert record.ok
    assert record.result == result


def test_an_exception_becomes_a_function_error_named_by_its_class(tmp_path: Path) -> None:
    runtime, _ = _runtime(tmp_path)
    function = runtime.resolve("WorkFunction")
    assert function is not None

    payload, errored = runtime.invoke(function, {"fail": "a job"}, source="test")

    assert errored
    body = json.loads(payload)
    assert body["errorType"] == "QuotaExceededError"
    assert body["errorMessage"] == "no room for a job"
    assert body["stackTrace"]
    assert runtime.invocations()[0].error_type == "QuotaExceededError"


def test_a_call_longer_than_the_timeout_is_reported(tmp_path: Path) -> None:
    runtime, overruns = _runtime(tmp_path, step=5.0, timeout=3)
    function = runtime.resolve("WorkFunction")
    assert function is not None

    runtime.invoke(function, {}, source="test")

    (message,) = overruns
    assert message.startswith("WorkFunction ran ")
    assert "longer than its Timeout of 3s" in message


def test_a_missing_handler_module_is_reported_as_the_functions_error(tmp_path: Path) -> None:
    runtime, _ = _runtime(tmp_path)
    (tmp_path / "app.py").unlink()
    function = runtime.resolve("WorkFunction")
    assert function is not None

    payload, errored = runtime.invoke(function, {}, source="test")

    assert errored
    body = json.loads(payload)
    assert body["errorType"] == "TwinDeployError"
    assert "Handler 'app.handler' needs" in body["errorMessage"]


@pytest.mark.parametrize("name", ["nope", "arn:aws:lambda:us-east-1:1:function:nope"])
def test_unknown_functions_resolve_to_none(tmp_path: Path, name: str) -> None:
    runtime, _ = _runtime(tmp_path)
    assert runtime.resolve(name) is None


def test_while_pinned_another_thread_copying_the_environment_never_sees_a_name_vanish(tmp_path: Path) -> None:
    # botocore copies os.environ whenever it builds a client; a name popped mid-copy raised KeyError
    runtime, _ = _runtime(tmp_path)
    function = runtime.resolve("WorkFunction")
    assert function is not None
    assert "TABLE" not in os.environ
    errors: list[BaseException] = []
    stop = threading.Event()

    def copy_forever() -> None:
        while not stop.is_set():
            try:
                dict(os.environ)
            except BaseException as e:  # any failure is the finding
                errors.append(e)
                return

    with runtime.pin_environment():
        assert os.environ["TABLE"] == ""  # a name the process lacked is present, empty (unset to settings)
        copier = threading.Thread(target=copy_forever)
        copier.start()
        try:
            for _ in range(300):
                payload, errored = runtime.invoke(function, {}, source="test")
                assert not errored
                assert json.loads(payload)["table"] == "t-1"
                assert os.environ["TABLE"] == ""
        finally:
            stop.set()
            copier.join()

    assert errors == []
    assert "TABLE" not in os.environ  # the block leaves the process as it found it
    assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ


def test_pinning_keeps_the_values_the_process_had_and_a_usable_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE", "outer")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    runtime, _ = _runtime(tmp_path)
    function = runtime.resolve("WorkFunction")
    assert function is not None

    with runtime.pin_environment():
        # an empty region would break every boto3 client built between invocations
        assert os.environ["AWS_REGION"] == os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
        payload, _ = runtime.invoke(function, {}, source="test")
        assert json.loads(payload)["table"] == "t-1"
        assert os.environ["TABLE"] == "outer"

    assert os.environ["TABLE"] == "outer"
    assert "AWS_REGION" not in os.environ


OUTER = """
import os
import twin_nested_call

def handler(event, context):
    inner = twin_nested_call.invoke()
    own = os.environ.get("OUTER_ONLY")
    return {"inner": inner, "own_after": own, "fn": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}
"""

INNER = """
import os

def handler(event, context):
    return {"outer_seen": os.environ.get("OUTER_ONLY"), "fn": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}
"""


def test_a_nested_call_sees_only_its_own_variables_and_the_caller_gets_its_own_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a handler that invokes another function synchronously (the twin's Lambda Invoke) re-enters the runtime
    functions = {}
    for logical, code, env in (("OuterFunction", OUTER, {"OUTER_ONLY": "o-1"}), ("InnerFunction", INNER, {})):
        code_dir = tmp_path / logical
        code_dir.mkdir()
        (code_dir / f"{logical.lower()}.py").write_text(code)
        source = FunctionSource(logical, code_dir, f"{logical.lower()}.handler", timeout=3)
        functions[logical] = DeployedFunction(
            source, f"stack-{logical}", f"arn:aws:lambda:us-east-1:1:function:{logical}", env
        )
    runtime = FunctionRuntime(
        functions, region="us-east-1", now=lambda: datetime(2026, 1, 1, tzinfo=UTC), monotonic=lambda: 0.0
    )
    hook = types.ModuleType("twin_nested_call")
    hook.invoke = lambda: json.loads(runtime.invoke(functions["InnerFunction"], {}, source="test")[0])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "twin_nested_call", hook)

    with runtime.pin_environment():
        payload, errored = runtime.invoke(functions["OuterFunction"], {}, source="test")

    assert not errored
    result = json.loads(payload)
    assert result["inner"] == {"outer_seen": "", "fn": "stack-InnerFunction"}
    assert result["own_after"] == "o-1"
    assert result["fn"] == "stack-OuterFunction"
    assert "OUTER_ONLY" not in os.environ


SETTINGS_HANDLER = """
import os
import twin_settings_call
from amtflow.settings import load_settings

def handler(event, context):
    inner = twin_settings_call.invoke() if event.get("call") else None
    return {
        "bucket": load_settings().data_bucket,
        "in_process_environment": os.environ.get("AMTFLOW_DATA_BUCKET"),
        "inner": inner,
    }
"""


def test_a_function_does_not_see_another_functions_amtflow_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMTFLOW_DATA_BUCKET", raising=False)
    functions = {}
    for logical, env in (("OwnerFunction", {"AMTFLOW_DATA_BUCKET": "owners-bucket"}), ("OtherFunction", {})):
        code_dir = tmp_path / logical
        code_dir.mkdir()
        (code_dir / "app.py").write_text(SETTINGS_HANDLER)
        source = FunctionSource(logical, code_dir, "app.handler", timeout=3)
        functions[logical] = DeployedFunction(
            source, f"stack-{logical}", f"arn:aws:lambda:us-east-1:1:function:{logical}", env
        )
    runtime = FunctionRuntime(
        functions, region="us-east-1", now=lambda: datetime(2026, 1, 1, tzinfo=UTC), monotonic=lambda: 0.0
    )
    hook = types.ModuleType("twin_settings_call")
    hook.invoke = lambda: json.loads(runtime.invoke(functions["OtherFunction"], {}, source="test")[0])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "twin_settings_call", hook)

    with runtime.pin_environment():
        assert "AMTFLOW_DATA_BUCKET" not in os.environ  # settings are not pinned into the process
        owner = json.loads(runtime.invoke(functions["OwnerFunction"], {"call": True}, source="test")[0])
        other = json.loads(runtime.invoke(functions["OtherFunction"], {}, source="test")[0])

    # the owner reads its setting through load_settings, without it ever entering os.environ
    assert owner["bucket"] == "owners-bucket"
    assert owner["in_process_environment"] is None
    # another function (called on its own, or synchronously from the owner's handler) sees none of it
    assert owner["inner"] == {"bucket": "", "in_process_environment": None, "inner": None}
    assert other == {"bucket": "", "in_process_environment": None, "inner": None}
    assert "AMTFLOW_DATA_BUCKET" not in os.environ


LOGGING_HANDLER = """
from aws_lambda_powertools import Logger

logger = Logger()

def handler(event, context):
    logger.debug("debug line")
    return {"level": logger.log_level, "info": logger.isEnabledFor(20), "debug": logger.isEnabledFor(10)}
"""


def _logging_runtime(tmp_path: Path, environment: dict[str, str]) -> tuple[FunctionRuntime, DeployedFunction]:
    """A fresh runtime (a twin) whose one function builds its Powertools Logger as the handlers do."""
    code_dir = tmp_path / f"fn-{len(list(tmp_path.iterdir()))}"
    code_dir.mkdir()
    (code_dir / "app.py").write_text(LOGGING_HANDLER)
    source = FunctionSource("LogFunction", code_dir, "app.handler", timeout=3)
    function = DeployedFunction(
        source, "stack-LogFunction", "arn:aws:lambda:us-east-1:1:function:l", environment
    )
    runtime = FunctionRuntime(
        {"LogFunction": function},
        region="us-east-1",
        now=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        monotonic=lambda: 0.0,
    )
    return runtime, function


def test_the_powertools_log_level_follows_each_invocations_environment_not_the_first_twins(
    tmp_path: Path,
) -> None:
    import logging

    service = f"twin-level-{tmp_path.name}"
    stdlib = logging.getLogger(service)
    try:
        levels = []
        for level in ("WARNING", "DEBUG", None):
            environment = {"POWERTOOLS_SERVICE_NAME": service}
            if level:
                environment["POWERTOOLS_LOG_LEVEL"] = level
            runtime, function = _logging_runtime(tmp_path, environment)
            payload, errored = runtime.invoke(function, {}, source="test")
            assert not errored, payload
            levels.append(json.loads(payload))
        assert levels == [
            {"level": logging.WARNING, "info": False, "debug": False},  # a quiet twin
            {"level": logging.DEBUG, "info": True, "debug": True},  # a later twin is not left quiet
            {"level": logging.INFO, "info": True, "debug": False},  # nor is one that sets no level
        ]
        assert stdlib.level == logging.NOTSET  # the process's logger is as the twins found it
    finally:
        for handler in list(stdlib.handlers):
            stdlib.removeHandler(handler)
