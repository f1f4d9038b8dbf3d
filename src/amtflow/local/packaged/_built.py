"""The functions of template.yaml as ``sam build`` packaged them into ``.aws-sam/build``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amtflow.errors import ConfigurationError

BUILD_DIR = Path(".aws-sam") / "build"
# Where Lambda looks for a layer's Python code once the layer is extracted under /opt (first one first).
LAYER_PATHS = (Path("python") / "lib" / "python3.12" / "site-packages", Path("python"))


@dataclass(frozen=True)
class BuiltLayer:
    """A layer of the template, built into ``.aws-sam/build/<LogicalId>``."""

    logical_id: str
    root: Path

    def python_dirs(self) -> list[Path]:
        """The layer's folders on the function's ``sys.path``, in Lambda's order (those that exist)."""
        return [self.root / p for p in LAYER_PATHS if (self.root / p).is_dir()]


@dataclass(frozen=True)
class BuiltFunction:
    """One function: its built code folder, the handler the template names and its layers."""

    logical_id: str
    code_dir: Path
    handler: str
    runtime: str
    layers: tuple[BuiltLayer, ...]

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    def python_dirs(self) -> list[Path]:
        """Every layer folder the function's code imports from, in Lambda's order."""
        return [d for layer in self.layers for d in layer.python_dirs()]


def built_functions(
    project_root: Path, *, template: str = "template.yaml", build_dir: Path | None = None
) -> dict[str, BuiltFunction]:
    """Every ``AWS::Serverless::Function`` of ``project_root/template``, as built under ``build_dir``.

    ``build_dir`` defaults to ``project_root/.aws-sam/build``. A function or layer that has no built folder
    raises :class:`ConfigurationError` saying to run ``make build``.
    """
    from samtranslator.yaml_helper import yaml_parse

    root = project_root.resolve()
    built = (build_dir or root / BUILD_DIR).resolve()
    path = root / template
    try:
        document = yaml_parse(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigurationError(f"no SAM template at {path}: {e.strerror}") from e
    resources: dict[str, Any] = (document or {}).get("Resources") or {}
    defaults: dict[str, Any] = ((document or {}).get("Globals") or {}).get("Function") or {}
    if not built.is_dir():
        raise ConfigurationError(f"{built} does not exist: run 'make build' (sam build) first")
    functions: dict[str, BuiltFunction] = {}
    for logical_id, props in _functions(resources):
        handler = props.get("Handler", defaults.get("Handler"))
        if not isinstance(handler, str) or "." not in handler:
            raise ConfigurationError(
                f"{logical_id}: Handler must look like 'module.function', got {handler!r}"
            )
        layers = [*(defaults.get("Layers") or []), *(props.get("Layers") or [])]
        functions[logical_id] = BuiltFunction(
            logical_id=logical_id,
            code_dir=_built_dir(built, logical_id, "function"),
            handler=handler,
            runtime=str(props.get("Runtime", defaults.get("Runtime", ""))),
            layers=tuple(_layer(built, logical_id, ref, resources) for ref in layers),
        )
    return functions


def _functions(resources: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in resources.items():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            props: dict[str, Any] = resource.get("Properties") or {}
            if props.get("PackageType") == "Image":
                raise ConfigurationError(
                    f"{logical_id}: PackageType Image is not checked here; use a zip function with CodeUri"
                )
            yield logical_id, props


def _layer(built: Path, function: str, ref: Any, resources: Mapping[str, Any]) -> BuiltLayer:
    name = ref.get("Ref") if isinstance(ref, dict) else None
    resource = resources.get(name) if isinstance(name, str) else None
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::LayerVersion":
        raise ConfigurationError(
            f"{function}: layer {ref!r} is not an AWS::Serverless::LayerVersion of this template, so its "
            "contents cannot be checked; build the layer from the template (!Ref <LayerLogicalId>)"
        )
    assert isinstance(name, str)
    return BuiltLayer(name, _built_dir(built, name, "layer"))


def _built_dir(built: Path, logical_id: str, what: str) -> Path:
    folder = built / logical_id
    if not folder.is_dir():
        raise ConfigurationError(
            f"{logical_id}: the {what} is not built ({folder} does not exist): run 'make build' (sam build)"
        )
    return folder
