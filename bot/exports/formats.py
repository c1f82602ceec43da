"""One row builder per export format, and the Parquet schema of its rows.

A builder turns one signed-off label (with its provenance) into zero or more rows.
Label values are read tolerantly: the answer shapes of each task kind are
  label       "billing" or ["billing", "bug"]
  rating      {"helpfulness": 4, "correctness": 5}
  preference  {"choice": <response id> | "tie" | "both_bad", "strength": …, "shown_first": id}
              (a bare response id is accepted too)
  correction  {"text": <corrected reply>, "changed": bool, "diff": …} (or the text itself)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from bot.exports.pseudonyms import People

SET_ASIDE = "set_aside"  # a row kept out of the main file (ties, both-bad pairs)


@dataclass
class Labelled:
    """One signed-off label as the builders see it."""

    id: str
    project: str
    kind: str
    value: Any
    status: str
    method: str
    agreement: float | None
    confidence: float | None
    config_version: int
    signed_off_at: str | None
    signed_off_by: str | None
    metadata: Any
    content_hash: str
    provenance: dict
    content: dict | None = None
    criteria: list[str] = field(default_factory=list)


Row = dict[str, Any]
Builder = Callable[[Labelled, People], Iterator[tuple[str, Row]]]

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)


@dataclass(frozen=True)
class ExportFormat:
    name: str
    kinds: tuple[str, ...]  # project kinds it reads; empty = all
    needs_content: bool
    build: Builder
    schema: pa.Schema
    json_columns: tuple[str, ...] = ()  # heterogeneous values, stored as JSON text in Parquet


# --- labels ---------------------------------------------------------------------------


def label_rows(label: Labelled, people: People) -> Iterator[tuple[str, Row]]:
    yield (
        "row",
        {
            "id": label.id,
            "project": label.project,
            "kind": label.kind,
            "value": label.value,
            "status": label.status,
            "method": label.method,
            "agreement": label.agreement,
            "confidence": label.confidence,
            "config_version": label.config_version,
            "signed_off_at": label.signed_off_at,
            "signed_off_by": label.signed_off_by,
            "metadata": label.metadata,
            "content_hash": label.content_hash,
            "provenance": label.provenance,
        },
    )


LABELS = ExportFormat(
    name="labels",
    kinds=(),
    needs_content=False,
    build=label_rows,
    schema=pa.schema(
        [
            ("id", pa.string()),
            ("project", pa.string()),
            ("kind", pa.string()),
            ("value", pa.string()),
            ("status", pa.string()),
            ("method", pa.string()),
            ("agreement", pa.float64()),
            ("confidence", pa.float64()),
            ("config_version", pa.int64()),
            ("signed_off_at", pa.string()),
            ("signed_off_by", pa.string()),
            ("metadata", pa.string()),
            ("content_hash", pa.string()),
            ("provenance", pa.string()),
        ]
    ),
    json_columns=("value", "metadata", "provenance"),
)


# --- ratings --------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _scores(value: Any) -> dict:
    """{criterion: score} from a rating value (also accepts {"scores": {...}})."""
    if not isinstance(value, dict):
        return {}
    return value["scores"] if isinstance(value.get("scores"), dict) else value


def rating_rows(label: Labelled, people: People) -> Iterator[tuple[str, Row]]:
    """One row per criterion: the signed-off score, every reviewer's score, their mean,
    and the share of reviewers who gave the most common score."""
    final = _scores(label.value)
    responses = [(r["reviewer"], _scores(r.get("value"))) for r in label.provenance["responses"]]
    criteria = list(label.criteria) or sorted(final)
    criteria += [c for c in final if c not in criteria]
    for criterion in criteria:
        scored = [(who, _number(scores.get(criterion))) for who, scores in responses]
        scored = [(who, score) for who, score in scored if score is not None]
        scores = [score for _, score in scored]
        top = Counter(scores).most_common(1)
        yield (
            "row",
            {
                "id": label.id,
                "criterion": criterion,
                "score": _number(final.get(criterion)),
                "mean": sum(scores) / len(scores) if scores else None,
                "scores": scores,
                "reviewers": [who for who, _ in scored],
                "agreement": top[0][1] / len(scores) if top else None,
                "item_agreement": label.agreement,
                "method": label.method,
                "signed_off_at": label.signed_off_at,
            },
        )


RATINGS = ExportFormat(
    name="ratings",
    kinds=("rating",),
    needs_content=False,
    build=rating_rows,
    schema=pa.schema(
        [
            ("id", pa.string()),
            ("criterion", pa.string()),
            ("score", pa.float64()),
            ("mean", pa.float64()),
            ("scores", pa.list_(pa.float64())),
            ("reviewers", pa.list_(pa.string())),
            ("agreement", pa.float64()),
            ("item_agreement", pa.float64()),
            ("method", pa.string()),
            ("signed_off_at", pa.string()),
        ]
    ),
)


# --- dpo ------------------------------------------------------------------------------


def preference_choice(value: Any) -> str | None:
    if isinstance(value, dict):
        choice = value.get("choice", value.get("preferred"))
        return str(choice) if choice is not None else None
    return str(value) if isinstance(value, str) else None


def _turns(turns: Any) -> list[dict]:
    return [{"role": t.get("role"), "content": t.get("content")} for t in turns or []]


def dpo_rows(label: Labelled, people: People) -> Iterator[tuple[str, Row]]:
    """TRL DPOTrainer's conversational format; ties and both-bad pairs are set aside."""
    content = label.content or {}
    responses = {str(r.get("id")): r for r in content.get("responses") or []}
    choice = preference_choice(label.value)
    prompt = _turns(content.get("prompt"))
    if choice in responses and len(responses) == 2:
        other = next(r for key, r in responses.items() if key != choice)
        yield (
            "row",
            {
                "id": label.id,
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": responses[choice].get("content")}],
                "rejected": [{"role": "assistant", "content": other.get("content")}],
            },
        )
    elif choice in ("tie", "both_bad"):
        yield (
            SET_ASIDE,
            {
                "id": label.id,
                "choice": choice,
                "prompt": prompt,
                "responses": [
                    {"id": key, "content": r.get("content"), "model": r.get("model")}
                    for key, r in responses.items()
                ],
            },
        )


DPO = ExportFormat(
    name="dpo",
    kinds=("preference",),
    needs_content=True,
    build=dpo_rows,
    schema=pa.schema(
        [("id", pa.string()), ("prompt", MESSAGES), ("chosen", MESSAGES), ("rejected", MESSAGES)]
    ),
)


# --- sft ------------------------------------------------------------------------------


def corrected_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("text", "corrected", "content"):
            if isinstance(value.get(key), str):
                return value[key]
    return None


def sft_rows(label: Labelled, people: People) -> Iterator[tuple[str, Row]]:
    """The conversation up to the reviewed assistant turn, that turn as signed off."""
    conversation = _turns((label.content or {}).get("conversation"))
    last = max((i for i, t in enumerate(conversation) if t["role"] == "assistant"), default=None)
    if last is None:
        return
    original = conversation[last]["content"]
    text = corrected_text(label.value)
    final = text if text is not None else original
    changed = label.value.get("changed") if isinstance(label.value, dict) else None
    yield (
        "row",
        {
            "id": label.id,
            "messages": conversation[:last] + [{"role": "assistant", "content": final}],
            "changed": bool(changed) if changed is not None else final != original,
        },
    )


SFT = ExportFormat(
    name="sft",
    kinds=("correction",),
    needs_content=True,
    build=sft_rows,
    schema=pa.schema([("id", pa.string()), ("messages", MESSAGES), ("changed", pa.bool_())]),
)


FORMATS: dict[str, ExportFormat] = {f.name: f for f in (LABELS, RATINGS, DPO, SFT)}
