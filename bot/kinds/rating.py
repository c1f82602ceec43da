"""`rating`: a Likert score per criterion for the last assistant turn of a conversation.

Stored and canonical value: ``{criterion: score}``. Agreement is computed per criterion
(share of answers giving the most common score) and the item's figure is the *lowest*
criterion share: every criterion must reach the threshold, because a label saying
"helpful 4, safe 2" is only as trustworthy as its least agreed score. A tie on any
criterion is a tie.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pyarrow as pa
from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.content.conversation import CONVERSATION, ReviewedConversationRecord, reviewed_turn
from bot.content.parts import export_turns
from bot.content.samples import MEDIA_SAMPLES
from bot.kinds.base import (
    DECISION_BLOCK,
    NO_ANSWERS,
    VALUE_ACTION,
    Click,
    Facet,
    InvalidAnswer,
    ItemAgreement,
    KindConfig,
    ReviewView,
    SimulatedReview,
    TaskKind,
    majority,
    show_value,
    stable_key,
)
from bot.kinds.exporting import LEFT_OUT, MESSAGES, ExportFormat, Form, Labelled, Row
from bot.kinds.label import option_text
from bot.slack import ids
from bot.slack.messages import actions, assignment_value, button, control, section
from bot.slack.payloads import encode
from bot.slack.text import escape_mrkdwn
from bot.slack.wording import say

MAX_CRITERIA_AS_BUTTONS = 12  # two blocks each; beyond this one select per criterion
MAX_CRITERIA = 38  # one block each, within the message's 50


def criterion_name(criterion: str) -> str:
    name = criterion.replace("_", " ")
    return name[:1].upper() + name[1:]


def decision_block(criterion: str) -> str:
    return f"{DECISION_BLOCK}:{criterion}"[:255]


def scores_of(value: Any) -> dict[str, int]:
    """{criterion: score} from a rating value, leniently (also {"scores": {...}})."""
    if not isinstance(value, dict):
        return {}
    inner = value.get("scores")
    scores: dict = inner if isinstance(inner, dict) else value
    out = {}
    for criterion, score in scores.items():
        if isinstance(score, bool) or score is None:
            continue
        try:
            out[str(criterion)] = int(score)
        except (TypeError, ValueError):
            continue
    return out


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


def _raw_scores(value: Any) -> dict:
    if not isinstance(value, dict):
        return {}
    return value["scores"] if isinstance(value.get("scores"), dict) else value


class Rating(TaskKind):
    name = "rating"
    content = CONVERSATION
    record = ReviewedConversationRecord
    other_contents = tuple((content, content.record) for content in MEDIA_SAMPLES)
    judges_reviewed_turn = True

    @property
    def export_formats(self) -> tuple[ExportFormat, ...]:
        return (RATINGS, REWARD)

    def config_problem(self, config: KindConfig) -> str | None:
        if not config.criteria:
            return "a rating project needs `criteria`, e.g. [helpfulness, correctness]"
        return None

    def record_problems(self, record: Any, config: KindConfig) -> list[str]:
        gold = record.gold
        if gold is None:
            return []
        if isinstance(gold, dict) and not set(gold) - set(config.criteria):
            return []
        return [f"field `gold`: a mapping of criteria ({', '.join(config.criteria)}) to scores"]

    # --- answering ----------------------------------------------------------------------
    def validate(self, config: KindConfig, value: Any) -> str | None:
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

    def draft_for_change(self, value: Any) -> dict:
        return {"scores": dict(value)} if isinstance(value, dict) else {}

    # --- comparing ----------------------------------------------------------------------
    def canonical(
        self, value: Any, content: dict | None = None, presentation: dict | None = None
    ) -> Any:
        return scores_of(value) if isinstance(value, dict) else value

    def value_columns(self, value: Any) -> dict[str, Any]:
        scores = self.canonical(value)
        if not isinstance(scores, dict):
            return {}
        return {"scores": [{"criterion": str(c), "score": _number(s)} for c, s in scores.items()]}

    def matches_gold(self, canonical_value: Any, gold: Any, content: dict | None = None) -> bool:
        # A rating gold may name only some criteria; the answer must match each it names.
        expected = self.canonical(gold, content)
        if isinstance(expected, dict) and isinstance(canonical_value, dict):
            return bool(expected) and all(canonical_value.get(c) == s for c, s in expected.items())
        return self.same_answer(canonical_value, expected)

    def agreement(self, config: KindConfig, values: list[Any]) -> ItemAgreement:
        if not values:
            return NO_ANSWERS
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
            value, top, is_tied = majority(scores, stable_key)
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

    def facets(self, config: KindConfig) -> list[Facet]:
        points = tuple(str(s) for s in range(config.scale.min, config.scale.max + 1))
        return [Facet(criterion, points, _score_code(criterion)) for criterion in config.criteria]

    def ordinal_range(self, config: KindConfig) -> tuple[int, int] | None:
        return config.scale.min, config.scale.max

    # --- reading ------------------------------------------------------------------------
    def describe(
        self, config: KindConfig, canonical_value: Any, content: dict | None = None
    ) -> str:
        if isinstance(canonical_value, dict):
            return ", ".join(f"{c} {s}" for c, s in canonical_value.items())
        return super().describe(config, canonical_value, content)

    def describe_answer(self, config: KindConfig, value: Any, presentation: dict | None) -> str:
        if not isinstance(value, dict):
            return escape_mrkdwn(str(value))
        scores = [
            (escape_mrkdwn(criterion_name(c)), config.scale.label_for(value[c]))
            for c in config.criteria
            if c in value
        ]
        return say("rating_answer", scores=scores)

    # --- Slack --------------------------------------------------------------------------
    def controls(self, config: KindConfig, view: ReviewView) -> list[Block]:
        if len(config.criteria) > MAX_CRITERIA:
            raise ValueError(
                f"{config.name}: {len(config.criteria)} criteria do not fit in one Slack message "
                f"(at most {MAX_CRITERIA})"
            )
        scores = view.draft.get("scores")
        if scores is None and isinstance(view.changing, dict):
            scores = view.changing
        scores = scores or {}
        assignment_id, change = view.assignment_id, view.change
        points = range(config.scale.min, config.scale.max + 1)
        as_buttons = len(config.criteria) <= MAX_CRITERIA_AS_BUTTONS
        blocks: list[Block] = []
        for index, criterion in enumerate(config.criteria):
            chosen = scores.get(criterion)
            heading = say(
                "criterion",
                name=escape_mrkdwn(criterion_name(criterion)),
                chosen=config.scale.label_for(chosen) if chosen is not None else None,
            )
            block_id = ids.block("rate", assignment_id, index, *(("c",) if change else ()))
            if as_buttons:
                blocks.append(section(heading))
                blocks.append(
                    actions(
                        [
                            button(
                                config.scale.label_for(score),
                                ids.indexed(ids.RATE, score),
                                _rate_value(assignment_id, criterion, score, change),
                                style="primary" if score == chosen else None,
                            )
                            for score in points
                        ],
                        block_id=block_id,
                    )
                )
                continue
            options = [
                Option(value=str(score), text=PlainTextObject(text=config.scale.label_for(score)))
                for score in points
            ]
            initial = next((o for o, s in zip(options, points, strict=True) if s == chosen), None)
            blocks.append(
                SectionBlock(
                    block_id=block_id,
                    text=MarkdownTextObject(text=heading),
                    accessory=StaticSelectElement(
                        action_id=ids.RATE_SELECT,
                        placeholder=control("choose_score"),
                        options=options,
                        initial_option=initial,
                    ),
                )
            )
        if change:
            blocks.append(
                actions(
                    [
                        button(
                            control("save_rating"),
                            ids.SAVE_RATING,
                            assignment_value(assignment_id),
                            style="primary",
                        )
                    ],
                    block_id=ids.block("save", assignment_id),
                )
            )
        return blocks

    def progress_notes(self, config: KindConfig, view: ReviewView) -> list[str]:
        scores = view.draft.get("scores") or {}
        if view.change or not scores:
            return []
        missing = [criterion_name(c) for c in config.criteria if c not in scores]
        return [say("rating_status", missing=missing)]

    def decision_inputs(self, config: KindConfig, content: dict, consensus: Any) -> list[Block]:
        blocks: list[Block] = []
        points = range(config.scale.min, config.scale.max + 1)
        for criterion in config.criteria:
            options = [
                Option(
                    text=PlainTextObject(text=option_text(config.scale.label_for(p))), value=str(p)
                )
                for p in points
            ]
            chosen = (consensus or {}).get(criterion)
            initial = next((o for o in options if o.value == str(chosen)), None)
            blocks.append(
                InputBlock(
                    block_id=decision_block(criterion),
                    label=option_text(criterion.capitalize()),
                    element=StaticSelectElement(
                        action_id=VALUE_ACTION, options=options, initial_option=initial
                    ),
                )
            )
        return blocks

    def read_decision(
        self, config: KindConfig, entry: Callable[[str], Any]
    ) -> tuple[Any, dict[str, str]]:
        value: dict[str, int] = {}
        errors: dict[str, str] = {}
        for criterion in config.criteria:
            block_id = decision_block(criterion)
            chosen = entry(block_id)
            if chosen is None:
                errors[block_id] = f"Choose a score for {criterion}."
            else:
                value[criterion] = int(chosen)
        return value, errors

    def decision_problem(self, config: KindConfig, content: dict, value: Any) -> str | None:
        if not isinstance(value, dict) or set(value) != set(config.criteria):
            return "Give a score for every criterion."
        if any(not config.scale.min <= s <= config.scale.max for s in value.values()):
            return f"Scores go from {config.scale.min} to {config.scale.max}."
        return None

    def decision_error_block(self, config: KindConfig) -> str:
        # Rating modals have one input per criterion; show the problem on the first.
        return decision_block(config.criteria[0])

    # --- LLM assist ---------------------------------------------------------------------
    def prompt_variables(self, config: KindConfig, content: dict) -> dict[str, Any]:
        context, target = CONVERSATION.reviewed(content, kind=self.name, verb="rate")
        return {"context": context, "target": target}

    def llm_value_schema(self, config: KindConfig) -> dict:
        score = {"type": "integer", "minimum": config.scale.min, "maximum": config.scale.max}
        return {
            "type": "object",
            "properties": {criterion: dict(score) for criterion in config.criteria},
            "required": list(config.criteria),
            "additionalProperties": False,
        }

    def llm_value(self, config: KindConfig, content: dict, value: object) -> object:
        if not isinstance(value, dict):
            raise InvalidAnswer("value is not an object of scores per criterion")
        scores: dict[str, int] = {}
        for criterion in config.criteria:
            if criterion not in value:
                raise InvalidAnswer(f"score for {show_value(criterion)} missing")
            score = value[criterion]
            if isinstance(score, float) and score.is_integer():
                score = int(score)
            if not isinstance(score, int) or isinstance(score, bool):
                raise InvalidAnswer(f"score for {show_value(criterion)} is not an integer")
            if not config.scale.min <= score <= config.scale.max:
                raise InvalidAnswer(
                    f"score {score} for {show_value(criterion)} outside "
                    f"{config.scale.min}..{config.scale.max}"
                )
            scores[criterion] = score
        extra = [k for k in value if k not in config.criteria]
        if extra:
            raise InvalidAnswer(f"unknown criterion {show_value(extra[0])}")
        return scores

    # --- simulated reviewers ------------------------------------------------------------
    def demo_truth(self, config: KindConfig, external_id: str, content: dict) -> Any:
        # A stable per-item score per criterion, so simulated reviewers can agree.
        seed = int(hashlib.sha256(external_id.encode()).hexdigest(), 16)
        low, high = config.scale.min, config.scale.max
        return {
            c: low + (seed >> (8 * i)) % (high - low + 1) for i, c in enumerate(config.criteria)
        }

    def simulate(self, config: KindConfig, review: SimulatedReview) -> tuple[Any, list[Click]]:
        truth, rng = review.truth, review.rng
        low, high = config.scale.min, config.scale.max
        scores = {}
        clicks = []
        for index, criterion in enumerate(config.criteria):
            target = (truth or {}).get(criterion, rng.randint(low, high))
            if rng.random() >= review.accuracy:
                target = min(high, max(low, target + rng.choice((-1, 1))))
            scores[criterion] = target
            block = _rate_block(review.message, index)
            if block["type"] == "actions":
                clicks.append(
                    Click(text=config.scale.label_for(target), block_id=block["block_id"])
                )
            else:
                clicks.append(
                    Click(
                        action_id=ids.RATE_SELECT, selected=str(target), block_id=block["block_id"]
                    )
                )
        return scores, clicks


def _score_code(criterion: str) -> Callable[[Any], str | None]:
    def code(value: Any) -> str | None:
        score = value.get(criterion) if isinstance(value, dict) else None
        return None if score is None else str(score)

    return code


def _rate_block(message: dict, index: int) -> dict:
    """The block of the criterion at `index` (block ids are rate:<assignment>:<index>)."""
    for block in message.get("blocks") or []:
        parts = (block.get("block_id") or "").split(":")
        if parts[0] == "rate" and parts[2:3] == [str(index)]:
            return block
    raise LookupError(f"no rating block for criterion {index} in this message")


def _rate_value(assignment_id: int, criterion: str, score: int, change: bool) -> str:
    data: dict[str, Any] = {"a": assignment_id, "k": criterion, "s": score}
    if change:
        data["c"] = 1
    return encode(data)


def rated_turns(content: dict | None) -> tuple[list[dict] | None, list[dict] | None]:
    """(prompt, completion) of a rated conversation in TRL's conversational form: the
    turns before the rated assistant turn, and that turn; (None, None) for an item that
    shows a medium instead."""
    turns = export_turns((content or {}).get("conversation"))
    rated = reviewed_turn(content)
    if rated is None:
        return None, None
    return turns[:rated], [turns[rated]]


def rating_rows(label: Labelled, people: Any) -> Iterator[tuple[str, Row]]:
    """One row per criterion: the rated prompt and response, the signed-off score,
    every reviewer's score, their mean, and the share of reviewers who gave the most
    common score."""
    prompt, completion = rated_turns(label.content)
    final = _raw_scores(label.value)
    responses = [
        (r["reviewer"], _raw_scores(r.get("value"))) for r in label.provenance["responses"]
    ]
    criteria = list(label.criteria) or sorted(final)
    criteria += [c for c in final if c not in criteria]
    for criterion in criteria:
        scored = [(who, _number(scores.get(criterion))) for who, scores in responses]
        present = [(who, score) for who, score in scored if score is not None]
        scores = [score for _, score in present]
        top = Counter(scores).most_common(1)
        yield (
            "row",
            {
                "id": label.id,
                "prompt": prompt,
                "completion": completion,
                "criterion": criterion,
                "score": _number(final.get(criterion)),
                "mean": sum(scores) / len(scores) if scores else None,
                "scores": scores,
                "reviewers": [who for who, _ in present],
                "agreement": top[0][1] / len(scores) if top else None,
                "item_agreement": label.agreement,
                "method": label.method,
                "signed_off_at": label.signed_off_at,
            },
        )


def reward_rows(label: Labelled, people: Any) -> Iterator[tuple[str, Row]]:
    """One row per rated response, for reward models and TRL's KTOTrainer (unpaired
    preferences: `prompt`, `completion`, `label`): the per-criterion scores, their mean
    on 0-1 (`score`, 0 the scale's lowest) and `label` true when that is at least 0.5.
    An item that shows a medium has no text to train on and is left out."""
    prompt, completion = rated_turns(label.content)
    if prompt is None or completion is None:
        yield LEFT_OUT, {"id": label.id, "reason": "no conversation to train on"}
        return
    final = {c: _number(s) for c, s in _raw_scores(label.value).items()}
    scores = [(c, s) for c, s in final.items() if s is not None]
    if not scores:
        yield LEFT_OUT, {"id": label.id, "reason": "no scores"}
        return
    low, high = label.scale or (min(s for _, s in scores), max(s for _, s in scores))
    mean = sum(s for _, s in scores) / len(scores)
    score = None if high == low else round((mean - low) / (high - low), 4)
    yield (
        "row",
        {
            "id": label.id,
            "prompt": prompt,
            "completion": completion,
            "label": None if score is None else score >= 0.5,
            "score": score,
            "scores": [{"criterion": c, "score": s} for c, s in scores],
            "agreement": label.agreement,
            "method": label.method,
        },
    )


class RewardPairs:
    """Chosen/rejected pairs for TRL's RewardTrainer from rated responses to the same
    prompt (one item each): every two with different scores, the better one chosen,
    `margin` the difference of their 0-1 scores. Holds each rated response until the
    end, so its memory grows with the export."""

    def __init__(self) -> None:
        self._by_prompt: dict[bytes, tuple[list, list[Row]]] = {}

    def add(self, row: Row) -> None:
        if row.get("score") is None:
            return
        key = hashlib.sha256(orjson.dumps(row["prompt"])).digest()
        self._by_prompt.setdefault(key, (row["prompt"], []))[1].append(row)

    def rows(self) -> Iterator[Row]:
        for prompt, rated in self._by_prompt.values():
            ranked = sorted(rated, key=lambda r: -r["score"])
            for n, better in enumerate(ranked):
                for worse in ranked[n + 1 :]:
                    same_text = better["completion"] == worse["completion"]
                    if better["score"] == worse["score"] or same_text:
                        continue
                    yield {
                        "id": f"{better['id']}>{worse['id']}",
                        "prompt": prompt,
                        "chosen": better["completion"],
                        "rejected": worse["completion"],
                        "margin": round(better["score"] - worse["score"], 4),
                    }


REWARD_PAIRS = Form(
    "pairs",
    lambda row: row,
    pa.schema(
        [
            ("id", pa.string()),
            ("prompt", MESSAGES),
            ("chosen", MESSAGES),
            ("rejected", MESSAGES),
            ("margin", pa.float64()),
        ]
    ),
    gather=RewardPairs,
)


REWARD = ExportFormat(
    name="reward",
    needs_content=True,
    build=reward_rows,
    forms=(REWARD_PAIRS,),
    form="scores",
    schema=pa.schema(
        [
            ("id", pa.string()),
            ("prompt", MESSAGES),
            ("completion", MESSAGES),
            ("label", pa.bool_()),
            ("score", pa.float64()),
            (
                "scores",
                pa.list_(pa.struct([("criterion", pa.string()), ("score", pa.float64())])),
            ),
            ("agreement", pa.float64()),
            ("method", pa.string()),
        ]
    ),
)


RATINGS = ExportFormat(
    name="ratings",
    needs_content=True,
    build=rating_rows,
    schema=pa.schema(
        [
            ("id", pa.string()),
            ("prompt", MESSAGES),
            ("completion", MESSAGES),
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
