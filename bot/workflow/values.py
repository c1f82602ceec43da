"""What an answer looks like for each task kind, how it is checked, and what it is
compared by when answers are counted for agreement.

Stored values (Response.value):
- label: `"billing"`, or `["billing", "bug"]` for multi-label projects
- rating: `{"helpfulness": 4, "correctness": 5}`, one score per criterion
- preference: `{"choice": "<response id>" | "tie" | "both_bad", "strength": "slightly" |
  "much" | None, "shown_first": "<response id shown as A>"}`: in terms of the real
  response ids, so the A/B order a reviewer saw never leaks into the answer, and
  position bias is `choice == shown_first` over the answers that picked a side
- correction: `{"text": final text, "changed": bool, "diff": unified diff or ""}`
"""

from __future__ import annotations

import difflib
from typing import Any

from bot.config.project import ProjectConfig

TIE = "tie"
BOTH_BAD = "both_bad"
STRENGTHS = ("slightly", "much")
FLAG_REASONS = ("unsafe", "unclear", "personal_data", "other")
SIDES = ("A", "B")


# --- building values ----------------------------------------------------------------------


def preference_value(order: list[str], pick: str, strength: str | None) -> dict[str, Any]:
    """A click on "A is much better" as a stored value, given the order shown."""
    if pick in SIDES:
        choice = order[SIDES.index(pick)]
    else:
        choice, strength = pick, None
    return {"choice": choice, "strength": strength, "shown_first": order[0]}


def reviewed_turn(content: dict) -> int | None:
    """Index of the turn a rating or correction is about: the last assistant turn."""
    turns = content.get("conversation") or []
    for index in range(len(turns) - 1, -1, -1):
        if turns[index].get("role") == "assistant":
            return index
    return None


def original_response(content: dict) -> str:
    index = reviewed_turn(content)
    return "" if index is None else str(content["conversation"][index].get("content", ""))


def normalise_text(text: str) -> str:
    """Text as compared for "unchanged": line endings and trailing spaces don't count."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


def text_diff(original: str, corrected: str) -> str:
    """A unified diff of the correction, line by line, as reviewers and exports read it."""
    return "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True),
            corrected.splitlines(keepends=True),
            fromfile="original",
            tofile="corrected",
        )
    )


def correction_value(original: str, corrected: str | None) -> dict[str, Any]:
    """The stored value of a correction; None means "Looks right"."""
    if corrected is None or normalise_text(corrected) == normalise_text(original):
        return {"text": original, "changed": False, "diff": ""}
    return {"text": corrected, "changed": True, "diff": text_diff(original, corrected)}


def diff_size(diff: str) -> tuple[int, int]:
    """(lines added, lines removed) in a unified diff."""
    added = removed = 0
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


# --- checking values ----------------------------------------------------------------------


def validation_problem(config: ProjectConfig, value: Any) -> str | None:
    """Why `value` is not a complete answer for a rating, preference or correction
    project, or None. (Label values are checked in bot.workflow.responses.)"""
    if config.kind == "rating":
        return _rating_problem(config, value)
    if config.kind == "preference":
        return _preference_problem(config, value)
    if config.kind == "correction":
        return _correction_problem(value)
    return None


def _rating_problem(config: ProjectConfig, value: Any) -> str | None:
    if not isinstance(value, dict):
        return "a rating is a score per criterion"
    missing = [c for c in config.criteria if c not in value]
    if missing:
        return f"criteria not rated yet: {', '.join(missing)}"
    unknown = sorted(set(value) - set(config.criteria))
    if unknown:
        return f"not criteria of this project: {', '.join(unknown)}"
    low, high = config.scale.min, config.scale.max
    for criterion, score in value.items():
        if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
            return f"{criterion}: {score!r} is not a score from {low} to {high}"
    return None


def _preference_problem(config: ProjectConfig, value: Any) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("choice"), str):
        return "a preference names the better response, tie or both_bad"
    choice, strength = value["choice"], value.get("strength")
    if choice == TIE and not config.allow_tie:
        return "this project does not allow a tie"
    if choice == BOTH_BAD and not config.allow_both_bad:
        return "this project does not allow 'both bad'"
    if not isinstance(value.get("shown_first"), str):
        return "a preference records which response was shown first"
    if strength is not None and (strength not in STRENGTHS or choice in (TIE, BOTH_BAD)):
        return f"strength {strength!r} is not one of {', '.join(STRENGTHS)}"
    if config.ask_strength and choice not in (TIE, BOTH_BAD) and strength is None:
        return "this project asks how much better (slightly or much)"
    return None


def _correction_problem(value: Any) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return "a correction holds the final text"
    if not value["text"].strip():
        return "a correction cannot be empty"
    if not isinstance(value.get("changed"), bool):
        return "a correction says whether the text changed"
    return None


def preference_problem_for_item(content: dict, value: dict) -> str | None:
    """Preference checks that need the item: the choice and shown_first are its ids."""
    ids = [r["id"] for r in content.get("responses", [])]
    if value["choice"] not in (*ids, TIE, BOTH_BAD):
        return f"{value['choice']!r} is not a response of this item"
    if value["shown_first"] not in ids:
        return f"{value['shown_first']!r} is not a response of this item"
    return None


# --- comparing values ---------------------------------------------------------------------


def agreement_key(kind: str, value: Any) -> Any:
    """What two answers must share to count as agreeing: the side picked (not the
    strength, not the order shown), the corrected text up to whitespace, the labels as a
    set. Applied to an already-keyed value it returns it unchanged, so it also reads
    signed-off labels."""
    if kind == "preference" and isinstance(value, dict):
        return value.get("choice")
    if kind == "correction" and isinstance(value, dict):
        return normalise_text(str(value.get("text", "")))
    if kind == "correction" and isinstance(value, str):
        return normalise_text(value)
    if kind == "label" and isinstance(value, list):
        return sorted(value)
    return value
