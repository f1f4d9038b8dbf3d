"""``amtflow profiles validate|compile|push`` as a user runs them."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from amtflow import clients
from amtflow.errors import AmtflowError, ConfigurationError
from amtflow.local import cli
from amtflow.local.cli_profiles import register
from amtflow.profile import ProfileValidationError, parse_profile

BUCKET = "amtflow-data"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="amtflow")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def files(tmp_path: Path, xgb_text: str) -> dict[str, Path]:
    good = tmp_path / "churn-xgb.yaml"
    good.write_text(xgb_text)
    other = tmp_path / "fraud.yml"
    other.write_text(xgb_text.replace("model: churn-xgb", "model: fraud-xgb"))
    bad = tmp_path / "bad" / "broken.yaml"
    bad.parent.mkdir()
    bad.write_text(
        xgb_text.replace("scaling: log", "scaling: logg").replace("max_parallel: 3", "max_paralel: 3")
    )
    return {"good": good, "other": other, "bad": bad}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        clients.reset()
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client
    clients.reset()


def keys(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_the_command_group_is_registered() -> None:
    assert "amtflow.local.cli_profiles" in cli.COMMAND_MODULES


def test_validate_accepts_good_files(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["profiles", "validate", str(files["good"]), str(files["other"])]) == 0
    out = capsys.readouterr().out
    assert f"ok      {files['good']} (model churn-xgb)" in out
    assert "(model fraud-xgb)" in out


def test_validate_prints_each_problem_and_exits_1(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profiles", "validate", str(files["good"]), str(files["bad"])]) == 1
    out = capsys.readouterr().out
    assert f"invalid {files['bad']} is invalid (2 problems)" in out
    assert "tuning.ranges.eta.scaling:" in out
    assert "tuning.limits.max_paralel: unknown key 'max_paralel'; did you mean 'max_parallel'?" in out
    assert "1 of 2 profile(s) invalid" in out
    assert "Traceback" not in out


def test_validate_reports_unreadable_files_and_duplicate_models(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text(files["good"].read_text())
    unreadable = tmp_path / "latin1.yaml"
    unreadable.write_bytes("schema: amtflow/v1\ndescription: caf\xe9\n".encode("latin-1"))
    assert run(["profiles", "validate", str(files["good"]), str(copy), str(unreadable)]) == 1
    out = capsys.readouterr().out
    assert "model 'churn-xgb' is also defined in" in out
    assert "latin1.yaml is invalid (1 problem)" in out
    assert "not UTF-8 text" in out


def test_a_missing_file_is_a_usage_error_on_stderr(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["profiles", "validate", str(files["good"]), str(tmp_path / "nope.yaml")]) == 2
    captured = capsys.readouterr()
    assert f"amtflow: error: {tmp_path / 'nope.yaml'}: no such file or directory" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


NO_GROUP = "regex: 'validation-auc:([0-9\\.]+)'"


def test_validate_runs_the_lint_rules_on_the_compiled_request(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = files["good"].read_text()
    assert NO_GROUP in text
    files["good"].write_text(text.replace(NO_GROUP, "regex: 'validation-auc:[0-9\\.]+'"))
    assert run(["profiles", "validate", str(files["good"])]) == 1
    out = capsys.readouterr().out
    assert (
        "training.metrics[0].regex: [AMT121 error] the regex of 'validation:auc' has 0 capture groups" in out
    )
    assert "1 of 1 profile(s) invalid" in out


def test_validate_reports_every_finding_at_once_as_json(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = files["good"].read_text()
    broken = text.replace(NO_GROUP, "regex: 'validation-auc:[0-9\\.]+'").replace(
        "max_runtime_s: 7200", "max_runtime_s: 7200}\n  x: {y: 1"
    )
    files["good"].write_text(
        broken.replace("max_jobs: 30, max_parallel: 3", "max_jobs: many, max_parallel: 0")
    )
    assert run(["profiles", "validate", str(files["good"]), str(files["other"]), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [r["status"] for r in report] == ["invalid", "ok"]
    keys = {p["key"] for p in report[0]["problems"]}
    assert {"tuning.limits.max_jobs", "tuning.limits.max_parallel", "tuning.x"} <= keys


def test_push_uploads_nothing_a_lint_rule_rejects(
    s3: Any, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files["other"].write_text(files["other"].read_text().replace(NO_GROUP, "regex: 'validation-auc:[0-9]+'"))
    assert run(["profiles", "push", str(files["good"]), str(files["other"]), "--bucket", BUCKET]) == 1
    assert keys(s3) == []
    out = capsys.readouterr().out
    assert "AMT121" in out
    assert "nothing uploaded: 1 of 2 profile(s) invalid" in out


def test_compile_prints_the_request(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["profiles", "compile", str(files["good"]), "--version", "v3", "--bucket", "b"]) == 0
    request = json.loads(capsys.readouterr().out)
    assert request["HyperParameterTuningJobName"].startswith("amtf-churn-xgb-")
    s3_uri = request["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert s3_uri == "s3://b/datasets/churn-xgb/v3/train/"


def test_push_uploads_every_valid_profile(
    s3: Any, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profiles", "push", str(files["good"]), str(files["other"]), "--bucket", BUCKET]) == 0
    assert sorted(keys(s3)) == ["profiles/churn-xgb.yaml", "profiles/fraud-xgb.yaml"]
    out = capsys.readouterr().out
    assert f"uploaded {files['good']} -> s3://{BUCKET}/profiles/churn-xgb.yaml" in out
    body = s3.get_object(Bucket=BUCKET, Key="profiles/churn-xgb.yaml")["Body"].read().decode()
    assert body == files["good"].read_text()


def test_push_uploads_nothing_when_any_profile_is_invalid(
    s3: Any, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profiles", "push", str(files["good"]), str(files["bad"].parent), "--bucket", BUCKET]) == 1
    assert keys(s3) == []
    out = capsys.readouterr().out
    assert "nothing uploaded: 1 of 2 profile(s) invalid" in out
    assert "uploaded" not in out.replace("nothing uploaded", "")


def test_push_takes_directories_and_a_prefix(s3: Any, files: dict[str, Path]) -> None:
    # the broken profile sits in a sub-directory: searching finds it, and nothing is uploaded
    assert run(["profiles", "push", str(files["good"].parent), "--bucket", BUCKET]) == 1
    assert keys(s3) == []
    files["bad"].unlink()
    assert run(["profiles", "push", str(files["good"].parent), "--bucket", BUCKET, "--prefix", "cfg/"]) == 0
    assert sorted(keys(s3)) == ["cfg/churn-xgb.yaml", "cfg/fraud-xgb.yaml"]


def test_push_needs_a_bucket(files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMTFLOW_DATA_BUCKET", raising=False)
    with pytest.raises(ConfigurationError, match="--bucket"):
        run(["profiles", "push", str(files["good"])])


def test_push_reads_the_bucket_from_the_environment(
    s3: Any, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMTFLOW_DATA_BUCKET", BUCKET)
    assert run(["profiles", "push", str(files["good"])]) == 0
    assert keys(s3) == ["profiles/churn-xgb.yaml"]


def test_an_empty_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(AmtflowError, match=r"holds no \.yaml"):
        run(["profiles", "validate", str(tmp_path / "empty")])


def test_directories_are_searched_and_other_yaml_files_skipped(
    s3: Any, tmp_path: Path, xgb_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "examples"
    (root / "xgb").mkdir(parents=True)
    (root / "xgb" / "profile.yaml").write_text(xgb_text)
    (root / "image-map.yaml").write_text("sagemaker-xgboost: python train.py\n")
    assert run(["profiles", "push", str(root), "--bucket", BUCKET]) == 0
    assert keys(s3) == ["profiles/churn-xgb.yaml"]
    out = capsys.readouterr().out
    assert f"skip    {root / 'image-map.yaml'}" in out
    # named explicitly, the same file is checked as a profile
    assert run(["profiles", "validate", str(root / "image-map.yaml")]) == 1
    assert "unknown key 'sagemaker-xgboost'" in capsys.readouterr().out


EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*/profile.yaml"))


def _schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    try:
        import jsonschema
    except ImportError:  # without jsonschema, the models the schema is generated from judge the document
        try:
            parse_profile(document)
        except ProfileValidationError as e:
            return [f"{p.path}: {p.message}" for p in e.problems]
        return []
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_the_printed_schema_accepts_the_shipped_examples(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profiles", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert _schema_errors(schema, yaml.safe_load(path.read_text())) == []


def test_the_printed_schema_rejects_an_unknown_key_and_a_wrong_type(
    xgb_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profiles", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    xgb_doc["tuning"]["limits"]["max_paralel"] = 3
    xgb_doc["training"]["max_runtime_s"] = "soon"
    errors = _schema_errors(schema, xgb_doc)
    assert any(e.startswith("['tuning', 'limits']") and "max_paralel" in e for e in errors)
    assert any(e.startswith("['training', 'max_runtime_s']") for e in errors)


def test_the_printed_schema_asks_for_training_or_algorithms(
    xgb_doc: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["profiles", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    del xgb_doc["training"]
    assert _schema_errors(schema, xgb_doc) != []


def test_validate_reports_a_field_error_and_cross_section_problems_in_one_run(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load(files["good"].read_text())
    document["training"]["instance_count"] = "many"
    document["tuning"]["objective"]["metric"] = "validation:f1"
    range_name = next(iter(document["tuning"]["ranges"]))
    document["training"].setdefault("static_hyperparameters", {})[range_name] = 1
    files["good"].write_text(yaml.safe_dump(document))
    assert run(["profiles", "validate", str(files["good"]), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    keys = [p["key"] for p in report[0]["problems"]]
    assert keys == ["training.instance_count", "tuning.objective.metric", f"tuning.ranges.{range_name}"]


@pytest.mark.parametrize(
    ("section", "key", "rule", "status"),
    [
        ("{instance_type: ml.zz9.huge}", "deployment.instance_type", "AMT501 error", 1),
        ("{endpoint: production-churn}", "deployment.endpoint", "AMT502 error", 1),
        ("{instance_type: ml.p4d.24xlarge}", "deployment.instance_type", "AMT503 warning", 0),
        ("{canary: {size_percent: 10, wait_s: 30}}", "deployment.canary.wait_s", "AMT505 warning", 0),
        (
            "{serverless: {memory_mb: 2048}, instance_type: ml.m5.large}",
            "deployment.instance_type",
            "AMT504 warning",
            0,
        ),
    ],
)
def test_validate_checks_the_deployment_section_naming_its_key(
    files: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    section: str,
    key: str,
    rule: str,
    status: int,
) -> None:
    monkeypatch.setenv("AMTFLOW_JOB_PREFIX", "amtf")
    text = files["good"].read_text()
    assert "max_usd_per_month: 200" in text  # an endpoint of $0.27/hour or more costs more a month
    files["good"].write_text(f"{text}\ndeployment: {section}\n")
    assert run(["profiles", "validate", str(files["good"])]) == status
    out = capsys.readouterr().out
    assert f"{key}: [{rule}]" in out
    assert "Fix: " in out.split(f"{key}: [{rule}]", 1)[1].splitlines()[0]


def test_validate_passes_a_sound_deployment_section(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = files["good"].read_text()
    files["good"].write_text(f"{text}\ndeployment: {{instance_type: ml.m5.large, instance_count: 2}}\n")
    assert run(["profiles", "validate", str(files["good"])]) == 0
    assert "deployment." not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("sections", "warned"),
    [
        ("monitoring: {silent_after: 30}\nnotifications: {outcomes: [promoted, failed]}", True),
        ("monitoring: {silent_after: 30, on_stall: stop}\nnotifications: {outcomes: [failed]}", False),
        ("monitoring: {silent_after: 30}\nnotifications: {outcomes: [failed, stalled]}", False),
        ("monitoring: {silent_after: 30}", True),  # the file lists four outcomes, not stalled
        ("monitoring: {silent_after: 30}\nnotifications: {}", False),  # the default outcomes list stalled
        ("notifications: {outcomes: [failed]}", False),  # no stall watch
    ],
)
def test_validate_warns_of_a_stall_watch_that_tells_no_one(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], sections: str, warned: bool
) -> None:
    text = files["good"].read_text()
    files["good"].write_text(f"{text}\n{sections}\n")
    assert run(["profiles", "validate", str(files["good"])]) == 0  # a warning, not an error
    out = capsys.readouterr().out
    assert ("notifications.outcomes: [AMT601 warning]" in out) is warned
    if warned:
        line = out.split("notifications.outcomes: [AMT601 warning]", 1)[1].splitlines()[0]
        assert "leaves out stalled" in line
        assert "Fix: add stalled to notifications.outcomes, or set monitoring.on_stall: stop" in line


def test_push_uploads_nothing_whose_endpoint_has_no_price(
    s3: Any, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    text = files["good"].read_text()
    files["good"].write_text(f"{text}\ndeployment: {{instance_type: ml.zz9.huge}}\n")
    assert run(["profiles", "push", str(files["good"]), "--bucket", BUCKET]) == 1
    assert keys(s3) == []
    assert "deployment.instance_type: [AMT501 error]" in capsys.readouterr().out


def test_the_shipped_examples_validate_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["profiles", "validate", *map(str, EXAMPLES)]) == 0
