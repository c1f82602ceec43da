"""Which implementation a project's `kind` names. The only place that maps a kind's name
to code; everything else asks `kind_of(config)`."""

from __future__ import annotations

from typing import Protocol

from bot.kinds.base import TaskKind
from bot.kinds.correction import Correction
from bot.kinds.label import Label
from bot.kinds.preference import Preference
from bot.kinds.ranking import Ranking
from bot.kinds.rating import Rating

KINDS: dict[str, TaskKind] = {
    kind.name: kind for kind in (Label(), Rating(), Preference(), Correction(), Ranking())
}


class HasKind(Protocol):
    @property
    def kind(self) -> str: ...


def kind_named(name: str) -> TaskKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown task kind {name!r} (known: {', '.join(KINDS)})") from None


def kind_of(config: HasKind) -> TaskKind:
    """The task kind of a project config (or anything with a `kind` name)."""
    return kind_named(config.kind)
