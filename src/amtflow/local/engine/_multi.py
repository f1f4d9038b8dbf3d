"""Multi-algorithm tuning: one search per training definition, and a rule for which definition runs next.

A tuning job with ``TrainingJobDefinitions`` searches each definition's own ``HyperParameterRanges`` with
its own strategy (the job's ``Strategy``, seeded per definition). The definitions' hyperparameters are
unrelated (XGBoost's ``eta`` and an MLP's ``alpha`` share nothing), so one Gaussian process over their union
with a categorical "definition" dimension would model mostly missing values; separate searches keep every
model on one algorithm's own space. :class:`MultiStrategy` chooses the definition of each suggestion:

- Random, Grid and Hyperband: the definitions take turns (Grid skips a definition whose grid is done and
  ends when every grid is done); every definition gets an equal share of the budget.
- Bayesian: the definitions take turns until each has had ``WARMUP`` trials; after that two suggestions of
  three go to the definition with the best result so far (a definition without one counts as worst) and
  every third one goes to the others in turn, so a definition that starts badly is still explored.

A suggestion is the definition's configuration with its name under :data:`DEFINITION_KEY`; the tuning loop
takes it out before the configuration becomes hyperparameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from amtflow.local.engine._space import Config, SearchSpace
from amtflow.local.engine._strategies import Decision, Strategy, make_strategy

DEFINITION_KEY = "_definition"
WARMUP = 3  # Bayesian: trials per definition before the best one is favoured
_SEED_STRIDE = 7919


def definition_config(config: Mapping[str, Any], definition: Mapping[str, Any]) -> dict[str, Any]:
    """The ``HyperParameterTuningJobConfig`` one definition is searched with: its own ranges and objective."""
    out = {k: v for k, v in config.items() if k != "ParameterRanges"}
    out["ParameterRanges"] = definition.get("HyperParameterRanges") or {}
    if definition.get("TuningObjective"):
        out["HyperParameterTuningJobObjective"] = definition["TuningObjective"]
    return out


class MultiStrategy(Strategy):
    """One strategy per training definition behind the :class:`Strategy` contract (see the module)."""

    def __init__(self, strategies: Mapping[str, Strategy], *, bayesian: bool, seed: int) -> None:
        first = next(iter(strategies.values()))
        super().__init__(SearchSpace([]), maximize=first.maximize, seed=seed)
        self.strategies = dict(strategies)
        self.names = list(strategies)
        self.bayesian = bayesian
        self._turn = 0
        self._launched = dict.fromkeys(self.names, 0)
        self._best: dict[str, float] = {}  # definition -> best loss so far
        self._done: set[str] = set()  # definitions with nothing left to try
        self._trials: dict[str, str] = {}  # trial id -> definition

    @property
    def size(self) -> int:
        """The number of configurations when every definition's space is finite (Grid); AttributeError
        otherwise, as for a single strategy without an end."""
        return sum(int(getattr(s, "size")) for s in self.strategies.values())  # noqa: B009 - may be absent

    def _in_turn(self, candidates: Sequence[str]) -> str:
        name = candidates[self._turn % len(candidates)]
        self._turn += 1
        return name

    def _choose(self) -> str | None:
        open_ = [n for n in self.names if n not in self._done]
        if not open_:
            return None
        warming = [n for n in open_ if self._launched[n] < WARMUP]
        if not self.bayesian or warming:
            return self._in_turn(warming if self.bayesian else open_)
        leader = min(open_, key=lambda n: self._best.get(n, float("inf")))
        if sum(self._launched.values()) % 3 == 2 and len(open_) > 1:
            return self._in_turn([n for n in open_ if n != leader])
        return leader

    def _next(self) -> Config | None:
        while (name := self._choose()) is not None:
            config = self.strategies[name].suggest()
            if config is None:
                self._done.add(name)
                continue
            self._launched[name] += 1
            return {**config, DEFINITION_KEY: name}
        return None

    def on_result(self, config: Mapping[str, Any], value: float | None) -> None:
        super().on_result(config, value)
        name, own = split(config)
        self.strategies[name].on_result(own, value)
        if self.observed and self.observed[-1][0] == dict(config):
            loss = self.observed[-1][1]
            self._best[name] = min(loss, self._best.get(name, loss))

    def on_trial_start(self, trial_id: str, config: Mapping[str, Any]) -> None:
        name, own = split(config)
        self._trials[trial_id] = name
        self.strategies[name].on_trial_start(trial_id, own)

    def on_report(self, trial_id: str, step: int, value: float) -> Decision:
        name = self._trials.get(trial_id)
        return Decision.CONTINUE if name is None else self.strategies[name].on_report(trial_id, step, value)

    def on_trial_end(self, trial_id: str) -> None:
        name = self._trials.pop(trial_id, None)
        if name is not None:
            self.strategies[name].on_trial_end(trial_id)


def split(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(definition name, the definition's own configuration)`` of a multi-definition suggestion."""
    own = dict(config)
    return str(own.pop(DEFINITION_KEY)), own


def make_multi_strategy(
    config: Mapping[str, Any], definitions: Sequence[Mapping[str, Any]], seed: int
) -> MultiStrategy:
    """The strategy of a tuning job with ``TrainingJobDefinitions`` (each with a ``DefinitionName``)."""
    strategies = {
        str(d["DefinitionName"]): make_strategy(
            definition_config(config, d), seed + _SEED_STRIDE * i, d.get("StaticHyperParameters") or {}
        )
        for i, d in enumerate(definitions)
    }
    return MultiStrategy(strategies, bayesian=config.get("Strategy", "Bayesian") == "Bayesian", seed=seed)
