"""Image maps: lookup order, placeholders, defaults and the errors a user sees."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from amtflow.errors import ConfigurationError
from amtflow.local.engine import ImageMap, ServiceError, load_image_map
from amtflow.local.engine._images import examples_dir, repository_of

XGB = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        (XGB, "sagemaker-xgboost"),
        ("123.dkr.ecr.eu-west-1.amazonaws.com/team/model@sha256:abc", "team/model"),
        ("localhost:5000/trainer:dev", "trainer"),
        ("trainer:dev", "trainer"),
        ("trainer", "trainer"),
    ],
)
def test_repository_of(image: str, repo: str) -> None:
    assert repository_of(image) == repo


def test_the_builtin_xgboost_image_maps_to_the_bundled_script_by_default() -> None:
    argv = load_image_map(None).resolve(XGB)
    assert argv == [sys.executable, str(examples_dir() / "xgboost" / "train.py")]


def test_lookup_prefers_the_exact_uri_then_the_repository_then_the_longest_prefix() -> None:
    m = ImageMap(
        {
            "team/": "python a.py",
            "team/model": "python b.py",
            "x.io/team/model:2": "python c.py",
            "team/mo": "python d.py",
        }
    )
    assert m.resolve("x.io/team/model:2")[1] == "c.py"
    assert m.resolve("x.io/team/model:1")[1] == "b.py"
    assert m.resolve("x.io/team/modelx:1")[1] == "b.py"  # "team/model" is the longest prefix
    assert m.resolve("x.io/team/mod:1")[1] == "d.py"
    assert m.resolve("x.io/team/other:1")[1] == "a.py"


def test_placeholders_and_map_files(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text('trainer: "{python} {here}/train.py --fast"\nother: "python3 -m pkg"\n')
    m = load_image_map(path)
    assert m.resolve("trainer:1") == [sys.executable, str(tmp_path / "train.py"), "--fast"]
    assert m.resolve("other")[:2] == [sys.executable, "-m"]
    assert m.resolve(XGB)[1].endswith("xgboost/train.py")  # defaults stay unless overridden


def test_an_unmapped_image_names_the_image_and_the_fix() -> None:
    with pytest.raises(ServiceError) as err:
        load_image_map({}).resolve("1.dkr.ecr.us-east-1.amazonaws.com/mystery:3")
    assert err.value.code == "ValidationException"
    assert "'1.dkr.ecr.us-east-1.amazonaws.com/mystery:3'" in err.value.message
    assert "mystery: python path/to/train.py" in err.value.message


@pytest.mark.parametrize(
    ("text", "words"),
    [("[1, 2]", "mapping of image"), ("a: [1]", "mapping of image"), ("a: {", "not valid YAML")],
)
def test_bad_map_files_are_configuration_errors(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=words):
        load_image_map(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_image_map(tmp_path / "missing.yaml")
