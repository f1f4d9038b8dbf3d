"""What a profile's ``notifications.outcomes`` selects, in the terms of a notification's message attributes.

One table (:data:`ATTRIBUTES`) serves both ends: Notify publishes a run's message only when
:func:`announces` says so, and the e-mail subscriber's SNS filter policy (:func:`filter_policy`) lets
through exactly the messages of this model that the same table selects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from amtflow.profile._enums import NotificationOutcome
from amtflow.vocabulary import PromotionOutcome

#: The message attribute each profile outcome reads and the values it accepts. ``failed`` also stands for a
#: run that finished without a result (``no_result``) and for the interim ``queued`` notice of a run waiting
#: for a SageMaker quota: the one who is told about failures is the one who can act on them. ``stalled`` is
#: the reconciler's notice of a running job that stalled (``monitoring``), not a run's end.
ATTRIBUTES: Mapping[NotificationOutcome, tuple[str, tuple[str, ...]]] = {
    NotificationOutcome.SUCCEEDED: ("outcome", ("succeeded",)),
    NotificationOutcome.PROMOTED: ("promotion", (PromotionOutcome.PROMOTED.value,)),
    NotificationOutcome.NOT_PROMOTED: ("promotion", (PromotionOutcome.KEPT_CHAMPION.value,)),
    NotificationOutcome.SKIPPED: ("outcome", ("skipped",)),
    NotificationOutcome.REJECTED: ("outcome", ("rejected",)),
    NotificationOutcome.FAILED: ("outcome", ("failed", "no_result", "queued")),
    NotificationOutcome.STALLED: ("outcome", ("stalled",)),
}


def _selected(outcomes: Iterable[NotificationOutcome]) -> dict[str, list[str]]:
    """Attribute name -> the values the listed outcomes accept, in the table's order."""
    chosen = set(outcomes)
    selected: dict[str, list[str]] = {}
    for outcome, (name, values) in ATTRIBUTES.items():
        if outcome in chosen:
            selected.setdefault(name, []).extend(values)
    return selected


def announces(outcomes: Iterable[NotificationOutcome], attributes: Mapping[str, str]) -> bool:
    """Whether a message with these attributes is one the listed outcomes ask for: its ``outcome`` or (for
    a run with a result) its ``promotion`` is selected."""
    return any(attributes.get(name) in values for name, values in _selected(outcomes).items())


def filter_policy(model: str, outcomes: Iterable[NotificationOutcome]) -> dict[str, Any] | None:
    """The SNS subscription filter policy (scope ``MessageAttributes``) that lets through this model's
    messages whose ``outcome`` or ``promotion`` the listed outcomes select; ``None`` when none is listed
    (no message would pass)."""
    selected = _selected(outcomes)
    if not selected:
        return None
    policy: dict[str, Any] = {"model": [model]}
    if len(selected) == 1:
        policy.update(selected)
    else:
        policy["$or"] = [{name: values} for name, values in selected.items()]
    return policy
