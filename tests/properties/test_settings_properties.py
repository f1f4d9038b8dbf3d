"""Settings from the environment: any values give :class:`Settings` or a ``ConfigurationError`` naming the
variable to fix."""

from __future__ import annotations

from dataclasses import fields

from hypothesis import given
from hypothesis import strategies as st
from properties_support import FAST, assert_names_a_field, outcome

from amtflow.errors import AmtflowError, ConfigurationError
from amtflow.settings import ENV_PREFIX, Settings, load_settings

VARIABLES = [ENV_PREFIX + f.name.upper() for f in fields(Settings) if f.name != "extra"]


@FAST
@given(
    env=st.dictionaries(st.sampled_from(VARIABLES) | st.text(max_size=12), st.text(max_size=12), max_size=6)
)
def test_any_environment_gives_settings_or_names_the_variable(env: dict[str, str]) -> None:
    result = outcome(lambda: load_settings(env))
    if isinstance(result, AmtflowError):
        assert isinstance(result, ConfigurationError)
        assert_names_a_field(result, *(v for v in VARIABLES if v in env))
        return
    for f in fields(Settings):
        raw = env.get(ENV_PREFIX + f.name.upper())
        if f.name not in ("extra", "region") and raw:
            assert getattr(result, f.name) == expected(f.type, raw), f.name


def expected(kind: object, raw: str) -> object:
    """What a setting of type ``kind`` reads from the non-empty text ``raw``."""
    if kind in ("int", int):
        return int(raw)
    if kind in ("bool", bool):
        return raw.strip().lower() == "true"
    if kind == "tuple[str, ...]":
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    return raw
