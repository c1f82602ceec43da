"""Majority and agreement over the answers of one item, with an explicit tie rule."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Consensus:
    value: Any  # the majority answer, None when the top is tied
    share: float  # share of answers agreeing with the majority
    tied: bool
    answers: int


def _key(value: Any) -> str:
    if isinstance(value, list):
        value = sorted(value)
    return json.dumps(value, sort_keys=True)


def majority(values: list[Any]) -> Consensus:
    """Most common answer and its share. A tie at the top is reported as such, never
    resolved by order: a tied item needs a lead."""
    if not values:
        return Consensus(None, 0.0, False, 0)
    counts = Counter(_key(v) for v in values)
    ranked = counts.most_common()
    top_key, top = ranked[0]
    tied = len(ranked) > 1 and ranked[1][1] == top
    value = None if tied else json.loads(top_key)
    return Consensus(value, top / len(values), tied, len(values))
