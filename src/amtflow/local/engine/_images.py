"""Training images to local commands.

An image map is YAML (or a mapping): keys are image URIs or repository names/prefixes, values the command
that plays the image locally::

    sagemaker-xgboost: python {examples}/xgboost/train.py
    123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-mlp:latest: python {here}/mlp/train.py

Lookup order for a ``TrainingImage``: the exact URI, then the repository (the URI without its registry
host and ``:tag``/``@digest``), then the longest key that is a prefix of the repository. Placeholders:
``{examples}`` is the project's ``examples/`` folder, ``{here}`` the folder holding the map file,
``{python}`` this interpreter; a leading ``python``/``python3`` also runs this interpreter (so trials use
the same virtualenv). SageMaker's built-in XGBoost images (repository ``sagemaker-xgboost``) map to the
bundled ``examples/xgboost/train.py`` unless the map says otherwise.

A value may also be a mapping, to give the trial more of this machine's environment than the default
(``PATH``, ``HOME``, the temporary folder, locale, ``PYTHON*``; never the host's AWS credentials)::

    my-trainer:
      command: python {here}/train.py
      pass_aws_credentials: true        # every AWS_* variable of the host, and ~/.aws as usual
      inherit_env: [HF_HOME, "WANDB_*"] # these names, or names with this prefix
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from amtflow.errors import ConfigurationError
from amtflow.local.engine._model import validation

DEFAULT_IMAGE_MAP: dict[str, str] = {"sagemaker-xgboost": "python {examples}/xgboost/train.py"}

_XGBOOST_METRICS = (
    "accuracy",
    "auc",
    "error",
    "f1",
    "logloss",
    "mae",
    "map",
    "merror",
    "mlogloss",
    "mse",
    "ndcg",
    "rmse",
)
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

#: The metric definitions SageMaker publishes for its built-in algorithms, by image repository. XGBoost
#: prints ``[round]<TAB>train-auc:0.9<TAB>validation-auc:0.8``; CloudWatch Logs shows the tab as ``#011``
#: (the published regexes match ``#011``); both are accepted here, since trials print real tabs.
BUILTIN_METRIC_DEFINITIONS: dict[str, tuple[dict[str, str], ...]] = {
    "sagemaker-xgboost": tuple(
        {
            "Name": f"{channel}:{metric}",
            "Regex": rf".*\[[0-9]+\].*(?:\t|#011){channel}-{metric}:{_NUMBER}.*",
        }
        for channel in ("train", "validation")
        for metric in _XGBOOST_METRICS
    ),
}
_ENTRY_KEYS = ("command", "pass_aws_credentials", "inherit_env")
_INHERIT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\*?$")


@dataclass(frozen=True)
class ImageEntry:
    """One image map value: the command and what of the host's environment its trials get."""

    command: str
    pass_aws_credentials: bool = False
    inherit_env: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageCommand:
    """A resolved image: the argv to run and the environment opt-ins of its entry."""

    argv: list[str]
    pass_aws_credentials: bool = False
    inherit_env: tuple[str, ...] = ()


def image_entry(key: str, value: Any, source: object = "image map") -> ImageEntry | str:
    """An image map value: a command string, or a mapping with ``command`` and the opt-ins."""
    if isinstance(value, str | ImageEntry):
        return value
    if not isinstance(value, Mapping):
        return str(value)
    unknown = sorted(str(k) for k in value if k not in _ENTRY_KEYS)
    command = value.get("command")
    inherit = value.get("inherit_env", [])
    passing = value.get("pass_aws_credentials", False)
    if (
        unknown
        or not isinstance(command, str)
        or not isinstance(passing, bool)
        or not isinstance(inherit, Sequence)
        or isinstance(inherit, str)
        or not all(isinstance(n, str) and _INHERIT.fullmatch(n) for n in inherit)
    ):
        raise ConfigurationError(
            f"{source}: entry {key!r} must be a command string or a mapping with 'command' (a string), "
            "'pass_aws_credentials' (true/false) and 'inherit_env' (variable names, or PREFIX_*)"
            + (f"; unknown key(s): {', '.join(unknown)}" if unknown else "")
            + "."
        )
    return ImageEntry(command, passing, tuple(inherit))


def examples_dir() -> Path:
    """The project's ``examples/`` folder (beside ``src/`` in a checkout, else under the working folder)."""
    import amtflow

    checkout = Path(amtflow.__file__).resolve().parents[2] / "examples"
    return checkout if checkout.is_dir() else Path.cwd() / "examples"


def repository_of(image: str) -> str:
    """``<registry>/<repo>:<tag>`` -> ``<repo>``."""
    rest = image.split("@", 1)[0]
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        rest = remainder
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest = rest[:colon]
    return rest


@dataclass(frozen=True)
class ImageMap:
    entries: Mapping[str, str | ImageEntry] = field(default_factory=lambda: dict(DEFAULT_IMAGE_MAP))
    base_dir: Path | None = None

    def lookup(self, image: str) -> ImageEntry | None:
        key: str | None = None
        repo = repository_of(image)
        if image in self.entries:
            key = image
        elif repo in self.entries:
            key = repo
        else:
            prefixes = [k for k in self.entries if repo.startswith(k) or image.startswith(k)]
            key = max(prefixes, key=len) if prefixes else None
        if key is None:
            return None
        entry = self.entries[key]
        return entry if isinstance(entry, ImageEntry) else ImageEntry(str(entry))

    def builtin_metric_definitions(self, image: str) -> list[dict[str, str]]:
        """The published metric definitions of a built-in algorithm image this map knows (else ``[]``)."""
        if self.lookup(image) is None:
            return []
        return [dict(d) for d in BUILTIN_METRIC_DEFINITIONS.get(repository_of(image).rsplit("/", 1)[-1], ())]

    def with_builtin_metrics(self, definition: Mapping[str, Any]) -> dict[str, Any]:
        """A training definition of a built-in algorithm image, with the algorithm's metric definitions.

        SageMaker knows its built-in algorithms' metrics, so a tuning job may name ``validation:auc``
        without ``MetricDefinitions``; definitions the request gives keep precedence. Other definitions
        come back unchanged (as a copy).
        """
        out = dict(definition)
        spec = out.get("AlgorithmSpecification")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("TrainingImage"), str):
            return out
        builtin = self.builtin_metric_definitions(spec["TrainingImage"])
        if builtin:
            given = list(spec.get("MetricDefinitions") or [])
            names = {m.get("Name") for m in given if isinstance(m, Mapping)}
            extra = [m for m in builtin if m["Name"] not in names]
            if extra:
                out["AlgorithmSpecification"] = {**spec, "MetricDefinitions": given + extra}
        return out

    def resolve(self, image: str, *, field: str = "AlgorithmSpecification.TrainingImage") -> list[str]:
        """The command (argv) for ``image``; a ValidationException naming the image when it is unmapped."""
        return self.command(image, field=field).argv

    def command(self, image: str, *, field: str = "AlgorithmSpecification.TrainingImage") -> ImageCommand:
        """The command for ``image`` with its entry's environment opt-ins."""
        entry = self.lookup(image)
        if entry is None:
            raise validation(
                f"{field} {image!r} has no local command. Map it in an image map (YAML, passed as image_map= "
                f"or --image-map, or named by AMTFLOW_IMAGE_MAP), e.g. '{repository_of(image)}: "
                "python path/to/train.py'."
            )
        here = str(self.base_dir or Path.cwd())
        text = entry.command.replace("{examples}", str(examples_dir())).replace("{here}", here)
        text = text.replace("{python}", sys.executable)
        argv = shlex.split(text)
        if argv and argv[0] in ("python", "python3"):
            argv[0] = sys.executable
        if not argv:
            raise validation(f"{field} {image!r} maps to an empty command; give the command to run.")
        return ImageCommand(argv, entry.pass_aws_credentials, entry.inherit_env)


def load_image_map(source: str | Path | Mapping[str, Any] | ImageMap | None) -> ImageMap:
    """An :class:`ImageMap` from a YAML file, a mapping, or None (the defaults only)."""
    if source is None:
        return ImageMap()
    if isinstance(source, ImageMap):
        return source
    if isinstance(source, Mapping):
        return ImageMap({**DEFAULT_IMAGE_MAP, **{str(k): image_entry(str(k), v) for k, v in source.items()}})
    path = Path(source)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigurationError(f"image map {path}: cannot read it ({e.strerror}); check the path.") from e
    except yaml.YAMLError as e:
        raise ConfigurationError(f"image map {path}: not valid YAML ({e}).") from e
    if isinstance(data, Mapping) and isinstance(data.get("images"), Mapping):
        data = data["images"]
    if not isinstance(data, Mapping) or not all(isinstance(v, str | Mapping) for v in data.values()):
        raise ConfigurationError(
            f"image map {path}: expected a mapping of image URI or repository to a command string, "
            "e.g. 'sagemaker-xgboost: python {examples}/xgboost/train.py'."
        )
    entries = {str(k): image_entry(str(k), v, f"image map {path}") for k, v in data.items()}
    return ImageMap({**DEFAULT_IMAGE_MAP, **entries}, base_dir=path.resolve().parent)
