"""The functions of template.yaml and their layers, found where ``sam build`` put them."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaged_support import GOOD_HANDLER, write_project

from amtflow.errors import ConfigurationError
from amtflow.local.packaged import built_functions

ROOT = Path(__file__).resolve().parents[3]


def test_each_function_gets_its_built_folder_the_handler_and_the_layers_the_template_gives(
    tmp_path: Path,
) -> None:
    root = write_project(
        tmp_path,
        {"AFunction": GOOD_HANDLER, "BFunction": GOOD_HANDLER},
        {"corelib/__init__.py": ""},
        handlers={"BFunction": "main.run"},
    )

    functions = built_functions(root)

    build = (root / ".aws-sam" / "build").resolve()
    assert sorted(functions) == ["AFunction", "BFunction"]
    a, b = functions["AFunction"], functions["BFunction"]
    assert (a.code_dir, a.handler, a.runtime) == (build / "AFunction", "app.lambda_handler", "python3.12")
    assert (b.module, b.attribute) == ("main", "run")
    assert [layer.logical_id for layer in a.layers] == ["CoreLayer"]
    assert a.python_dirs() == [build / "CoreLayer" / "python"]


def test_a_layer_that_is_not_built_from_the_template_is_refused_by_name(tmp_path: Path) -> None:
    root = write_project(tmp_path, {"AFunction": GOOD_HANDLER}, {"corelib/__init__.py": ""})
    text = (root / "template.yaml").read_text()
    (root / "template.yaml").write_text(text.replace("- !Ref CoreLayer", "- arn:aws:lambda:eu:1:layer:x:1"))

    with pytest.raises(ConfigurationError, match=r"AFunction: layer 'arn:aws:lambda:eu:1:layer:x:1'"):
        built_functions(root)


def test_every_function_of_the_project_template_is_found(tmp_path: Path) -> None:
    # discovery follows template.yaml, so a function added there is checked without a list to update
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text(encoding="utf-8"))
    declared = {k for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
    build = tmp_path / "build"
    for logical_id in [*declared, "CoreLayer"]:
        (build / logical_id).mkdir(parents=True)

    functions = built_functions(ROOT, build_dir=build)

    assert set(functions) == declared
    assert all(f.runtime == "python3.12" for f in functions.values())
