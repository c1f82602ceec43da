"""What counts as "the same answer" for each task kind, and one item's agreement figure.

Answers are compared in a canonical form, which is also the form a signed-off label takes.
Stored answers have the shapes documented in bot/workflow/values.py; they are read
leniently here (older or hand-written values still compare):

- ``label``: the label (``"billing"``), or the sorted list of labels for multi-label projects;
  two multi-label answers agree only on the exact same set.
- ``rating``: ``{criterion: score}``. Agreement is computed per criterion (share of answers
  giving the most common score) and the item's figure is the *lowest* criterion share: every
  criterion must reach the threshold, because a label saying "helpful 4, safe 2" is only as
  trustworthy as its least agreed score. A tie on any criterion is a tie.
- ``preference``: the choice as a real response id (or ``"tie"`` / ``"both_bad"``), never
  the A/B position a reviewer saw; strength ("slightly" / "much") is ignored. A signed-off
  preference is the bare choice, like a preference gold value.
- ``correction``: ``{"text": final text, "changed": bool}``; "Looks right" is
  ``changed: false`` with the model's own text. Two edits agree only when their texts are
  equal after collapsing whitespace, so edited texts rarely match: ``needs_lead`` sends a
  correction to a lead unless every reviewer gave the same answer (all "Looks right", or
  identical edits).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bot.config.project import ProjectConfig

_UNCHANGED_WORDS = {"unchanged", "looks_right", "looks right"}
_TEXT_KEYS = ("text", "corrected", "edited", "correction", "response", "content")
_POSITIONS = {"A": 0, "B": 1}


@dataclass(frozen=True)
class ItemAgreement:
    """One item's agreement, in the project's terms.

    ``value`` is the consensus in canonical form (None when the top is tied); ``share`` is
    the figure compared with the threshold; ``unanimous`` is true when every answer is the
    same; ``needs_lead`` is a kind rule that sends the item to a lead whatever the share.
    """

    value: Any
    share: float
    tied: bool
    answers: int
    agreeing: int
    unanimous: bool
    needs_lead: str | None = None
    per_criterion: dict[str, float] | None = None

    def describe(self) -> str:
        if self.per_criterion:
            worst = min(self.per_criterion, key=lambda c: self.per_criterion[c])
            return f"lowest criterion {worst}: {self.agreeing} of {self.answers} agree"
        return f"{self.agreeing} of {self.answers} agree"


# --------------------------------------------------------------------------- canonical form


def original_response(content: dict | None) -> str:
    """The model response a correction item asks reviewers to check: the last assistant turn."""
    for turn in reversed((content or {}).get("conversation") or []):
        if turn.get("role") == "assistant":
            return str(turn.get("content", ""))
    return ""


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _correction(value: Any, content: dict | None) -> Any:
    original = original_response(content)
    if isinstance(value, str):
        text: str | None = value
    elif isinstance(value, dict):
        if value.get("changed") is False or value.get("unchanged") is True:
            return {"text": original, "changed": False}
        text = next((value[k] for k in _TEXT_KEYS if isinstance(value.get(k), str)), None)
        if text is None:
            return value
    else:
        return value
    if not text.strip() or text.strip().lower() in _UNCHANGED_WORDS:
        return {"text": original, "changed": False}
    if content is not None and _squash(text) == _squash(original):
        return {"text": original, "changed": False}
    return {"text": text, "changed": True}


def is_unchanged(kind: str, canonical_value: Any) -> bool:
    """A correction answer that kept the model's response ("Looks right")."""
    return (
        kind == "correction"
        and isinstance(canonical_value, dict)
        and canonical_value.get("changed") is False
    )


def _preference(value: Any, content: dict | None, presentation: dict | None) -> Any:
    choice = value
    if isinstance(value, dict):
        choice = next(
            (value[k] for k in ("choice", "preferred", "winner", "value") if k in value), None
        )
    if not isinstance(choice, str):
        return choice
    ids = [str(r.get("id")) for r in (content or {}).get("responses") or []]
    if choice in ids or choice in ("tie", "both_bad"):
        return choice
    # A position letter ("A"/"B") that is not itself a response id: map it through the
    # order this reviewer saw, so agreement is about responses, not positions.
    order = (presentation or {}).get("order") or []
    position = _POSITIONS.get(choice.upper())
    if position is not None and position < len(order):
        return str(order[position])
    return choice


def _rating(value: Any) -> Any:
    if isinstance(value, dict):
        scores = value.get("scores") if isinstance(value.get("scores"), dict) else value
        out = {}
        for criterion, score in scores.items():
            if isinstance(score, bool) or score is None:
                continue
            try:
                out[str(criterion)] = int(score)
            except (TypeError, ValueError):
                continue
        return out
    return value


def canonical(
    kind: str, value: Any, content: dict | None = None, presentation: dict | None = None
) -> Any:
    """An answer (or a gold value) in the form answers are compared in."""
    if kind == "label":
        if isinstance(value, dict):
            value = value.get("labels", value.get("label", value))
        if isinstance(value, list | tuple):
            return sorted(str(v) for v in value)
        return value
    if kind == "rating":
        return _rating(value)
    if kind == "preference":
        return _preference(value, content, presentation)
    if kind == "correction":
        return _correction(value, content)
    return value


def answer_key(kind: str, canonical_value: Any) -> str:
    """A hashable key of a canonical answer (edits compared with whitespace collapsed)."""
    if kind == "correction" and isinstance(canonical_value, dict) and "text" in canonical_value:
        if canonical_value.get("changed") is False:
            return "unchanged"
        return "edit:" + _squash(str(canonical_value["text"]))
    return json.dumps(canonical_value, sort_keys=True, default=str)


def same_answer(kind: str, a: Any, b: Any) -> bool:
    return answer_key(kind, a) == answer_key(kind, b)


def matches_gold(kind: str, canonical_value: Any, gold: Any, content: dict | None = None) -> bool:
    """Whether an answer is right on a gold item. A rating gold may name only some
    criteria; the answer must match every criterion it names."""
    expected = canonical(kind, gold, content)
    if kind == "rating" and isinstance(expected, dict) and isinstance(canonical_value, dict):
        return bool(expected) and all(canonical_value.get(c) == s for c, s in expected.items())
    return same_answer(kind, canonical_value, expected)


# --------------------------------------------------------------------------- agreement


def _majority(kind: str, values: list[Any]) -> tuple[Any, int, bool]:
    """(consensus value or None, count of the top answer, tied)."""
    counts = Counter(answer_key(kind, v) for v in values)
    ranked = counts.most_common()
    top_key, top = ranked[0]
    tied = len(ranked) > 1 and ranked[1][1] == top
    value = None if tied else next(v for v in values if answer_key(kind, v) == top_key)
    return value, top, tied


def item_agreement(config: ProjectConfig, values: list[Any]) -> ItemAgreement:
    """Agreement over one item's canonical answers, with an explicit tie rule (a tie at the
    top is a tie, never "first answer wins")."""
    n = len(values)
    if n == 0:
        return ItemAgreement(None, 0.0, False, 0, 0, False)
    if config.kind == "rating":
        return _rating_agreement(config, values)
    value, top, tied = _majority(config.kind, values)
    unanimous = top == n
    needs_lead = None
    if config.kind == "correction" and not unanimous:
        needs_lead = "reviewers edited the response differently"
        if not any(is_unchanged("correction", v) for v in values):
            needs_lead = "every reviewer edited the response, in different words"
    return ItemAgreement(value, top / n, tied, n, top, unanimous, needs_lead)


def _rating_agreement(config: ProjectConfig, values: list[Any]) -> ItemAgreement:
    criteria = list(config.criteria) or sorted(
        {c for v in values if isinstance(v, dict) for c in v}
    )
    n = len(values)
    consensus: dict[str, int] = {}
    shares: dict[str, float] = {}
    tops: dict[str, int] = {}
    tied = False
    for criterion in criteria:
        scores = [v.get(criterion) for v in values if isinstance(v, dict)]
        scores = [s for s in scores if s is not None]
        if not scores:
            shares[criterion], tops[criterion] = 0.0, 0
            tied = True
            continue
        value, top, is_tied = _majority("label", scores)
        tied = tied or is_tied
        shares[criterion], tops[criterion] = top / n, top
        if value is not None:
            consensus[criterion] = value
    worst = min(shares, key=lambda c: shares[c])
    return ItemAgreement(
        value=None if tied else consensus,
        share=shares[worst],
        tied=tied,
        answers=n,
        agreeing=tops[worst],
        unanimous=all(t == n for t in tops.values()),
        per_criterion=shares,
    )


# --------------------------------------------------------------------------- wording


def _short(text: str, limit: int) -> str:
    text = _squash(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(config: ProjectConfig, canonical_value: Any, content: dict | None = None) -> str:
    """A canonical answer in a few plain words (button text, DMs); not escaped."""
    kind = config.kind
    if canonical_value is None:
        return "no answer"
    if kind == "label":
        if isinstance(canonical_value, list):
            return ", ".join(canonical_value) if canonical_value else "no label"
        return str(canonical_value)
    if kind == "rating" and isinstance(canonical_value, dict):
        return ", ".join(f"{c} {s}" for c, s in canonical_value.items())
    if kind == "preference":
        if canonical_value == "tie":
            return "Tie"
        if canonical_value == "both_bad":
            return "Both bad"
        return f"Response {canonical_value}"
    if kind == "correction":
        if is_unchanged(kind, canonical_value):
            return "Looks right"
        if isinstance(canonical_value, dict) and "text" in canonical_value:
            return f"Edited: {_short(str(canonical_value['text']), 48)}"
    return _short(json.dumps(canonical_value, default=str), 60)
