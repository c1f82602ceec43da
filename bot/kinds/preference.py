"""`preference`: which of two responses to a prompt is better (pairwise A/B, with tie and
"both bad" as the project allows, and optionally how much better).

Stored value: ``{"choice": <response id> | "tie" | "both_bad", "strength": "slightly" |
"much" | None, "shown_first": <response id shown as A>}``, in terms of the real response
ids, so the A/B order a reviewer saw never leaks into the answer; position bias is
``choice == shown_first`` over the answers that picked a side. Canonical value: the choice
alone (strength and order ignored), which is also a preference gold value.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field
from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    Option,
    PlainTextObject,
    StaticSelectElement,
)

from bot.content.base import InvalidContent
from bot.content.candidates import (
    CANDIDATES,
    CandidateResponse,
    CandidatesRecord,
    export_response,
    preference_pair,
    response_ids,
    shown_order,
)
from bot.content.parts import export_turns
from bot.kinds.base import (
    DECISION_BLOCK,
    VALUE_ACTION,
    Click,
    InvalidAnswer,
    KindConfig,
    ReviewView,
    SimulatedReview,
    TaskKind,
    show_value,
)
from bot.kinds.exporting import (
    LEFT_OUT,
    MESSAGES,
    SET_ASIDE,
    Builder,
    ExportFormat,
    Form,
    Labelled,
    Row,
)
from bot.kinds.label import option_text
from bot.quality import PREFER_A, PREFER_B, preference_confidence
from bot.quality import TIE as TIE_VOTE
from bot.slack import ids
from bot.slack.messages import actions, answer_value, button, control
from bot.slack.wording import say

TIE = "tie"
BOTH_BAD = "both_bad"
STRENGTHS = ("slightly", "much")
SIDES = ("A", "B")
SIDE_INDEX = {"A": 0, "B": 1}  # position letter -> index in the order shown


class PreferenceRecord(CandidatesRecord):
    responses: list[CandidateResponse] = Field(min_length=2, max_length=2)


def options(config: KindConfig) -> list[str]:
    """The answers a preference project allows, in the order buttons show them."""
    allowed = list(SIDES)
    if config.allow_tie:
        allowed.append(TIE)
    if config.allow_both_bad:
        allowed.append(BOTH_BAD)
    return allowed


def choices(config: KindConfig) -> list[tuple[str, dict[str, Any]]]:
    """(button text, raw choice) in display order; A and B are positions, not ids."""
    shown: list[tuple[str, dict[str, Any]]] = []
    if config.ask_strength:
        for side, strength in (("A", "much"), ("A", "slightly"), ("B", "slightly"), ("B", "much")):
            shown.append(
                (
                    say("prefer_button", side=side, strength=strength),
                    {"pick": side, "strength": strength},
                )
            )
    else:
        for side in SIDES:
            shown.append((say("prefer_button", side=side, strength=None), {"pick": side}))
    if config.allow_tie:
        shown.append((control("tie"), {"pick": TIE}))
    if config.allow_both_bad:
        shown.append((control("both_bad"), {"pick": BOTH_BAD}))
    return shown


def stored_value(order: list[str], pick: str, strength: str | None) -> dict[str, Any]:
    """A click on "A is much better" as a stored value, given the order shown."""
    if pick in SIDES:
        choice = order[SIDES.index(pick)]
    else:
        choice, strength = pick, None
    return {"choice": choice, "strength": strength, "shown_first": order[0]}


def chosen(value: Any) -> str | None:
    """The chosen response id (or tie / both_bad) of a stored or canonical value."""
    if isinstance(value, dict):
        choice = value.get("choice", value.get("preferred"))
        return str(choice) if choice is not None else None
    return str(value) if isinstance(value, str) else None


class Preference(TaskKind):
    name = "preference"
    content = CANDIDATES
    record = PreferenceRecord
    randomises_order = True
    posterior_name = "posterior"
    compares_with_content = True

    def record_problems(self, record: Any, config: KindConfig) -> list[str]:
        problems = []
        if record.responses[0].id == record.responses[1].id:
            problems.append("the two `responses` need different ids")
        if record.gold is not None:
            allowed = [r.id for r in record.responses] + [TIE, BOTH_BAD]
            if record.gold not in allowed:
                problems.append(
                    f"field `gold`: must be one of {', '.join(allowed)} (got {record.gold!r})"
                )
        return problems

    # --- answering ----------------------------------------------------------------------
    def presentation(self, content: dict, rng: random.Random) -> dict | None:
        order = response_ids(content)
        if rng.random() < 0.5:
            order.reverse()
        return {"order": order}

    def decode(self, config: KindConfig, content: dict, presentation: dict | None, raw: Any) -> Any:
        if not isinstance(raw, dict) or raw.get("pick") not in (*SIDES, TIE, BOTH_BAD):
            raise InvalidAnswer("not a choice of this preference item")
        value = stored_value(shown_order(content, presentation), raw["pick"], raw.get("strength"))
        known = response_ids(content)
        if value["choice"] not in (*known, TIE, BOTH_BAD):
            raise InvalidAnswer(f"{value['choice']!r} is not a response of this item")
        if value["shown_first"] not in known:
            raise InvalidAnswer(f"{value['shown_first']!r} is not a response of this item")
        return value

    def validate(self, config: KindConfig, value: Any) -> str | None:
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

    # --- comparing ----------------------------------------------------------------------
    def canonical(
        self, value: Any, content: dict | None = None, presentation: dict | None = None
    ) -> Any:
        choice = value
        if isinstance(value, dict):
            choice = next(
                (value[k] for k in ("choice", "preferred", "winner", "value") if k in value), None
            )
        if not isinstance(choice, str):
            return choice
        if choice in response_ids(content) or choice in (TIE, BOTH_BAD):
            return choice
        # A position letter ("A"/"B") that is not itself a response id: map it through the
        # order this reviewer saw, so agreement is about responses, not positions.
        order = (presentation or {}).get("order") or []
        position = SIDE_INDEX.get(choice.upper())
        if position is not None and position < len(order):
            return str(order[position])
        return choice

    def value_columns(self, value: Any) -> dict[str, Any]:
        choice = chosen(value)
        return {"chosen_id": choice} if choice not in (TIE, BOTH_BAD, None) else {}

    def vote_posterior(
        self, consensus: Any, answers: Sequence[tuple[str, Any]], content: dict
    ) -> float | None:
        """A Beta posterior that the majority-preferred response really is better; "Tie"
        and "Both bad" votes count half each way. A tie or both-bad consensus has none."""
        known = response_ids(content)
        if consensus not in known or len(known) != 2:
            return None
        votes = [
            PREFER_A if v == known[0] else PREFER_B if v == known[1] else TIE_VOTE
            for _, v in answers
        ]
        if not votes:
            return None
        result = preference_confidence(
            np.zeros(len(votes), dtype=np.int64), np.arange(len(votes)), votes
        )
        if int(result.preferred[0]) != known.index(consensus):
            return None
        return float(result.prob_better[0])

    def first_choice(self, canonical_value: Any) -> str | None:
        return None if canonical_value in (TIE, BOTH_BAD, None) else str(canonical_value)

    def metric_codes(
        self, config: KindConfig, value: Any, content: dict | None
    ) -> dict[str, str | None]:
        known = response_ids(content)
        if value in known:
            return {"choice": f"response {known.index(value) + 1}"}
        return {"choice": str(value) if value is not None else None}

    def model_value(self, content: dict, value: Any) -> Any:
        # The LLM answers "A"/"B" for the responses in item order; a label names the
        # response by its id.
        known = response_ids(content)
        if value in SIDE_INDEX and len(known) == 2:
            return known[SIDE_INDEX[value]]
        return value

    def model_agrees(self, content: dict, model_value: Any, human_value: Any) -> bool:
        return super().model_agrees(content, self.model_value(content, model_value), human_value)

    # --- reading ------------------------------------------------------------------------
    def describe(
        self, config: KindConfig, canonical_value: Any, content: dict | None = None
    ) -> str:
        if canonical_value is None:
            return "no answer"
        if canonical_value == TIE:
            return "Tie"
        if canonical_value == BOTH_BAD:
            return "Both bad"
        return f"Response {canonical_value}"

    def describe_answer(self, config: KindConfig, value: Any, presentation: dict | None) -> str:
        if not isinstance(value, dict):
            return super().describe_answer(config, value, presentation)
        choice = value.get("choice")
        if choice == TIE:
            return control("tie")
        if choice == BOTH_BAD:
            return control("both_bad")
        side = "A" if choice == value.get("shown_first") else "B"
        return say("prefer_button", side=side, strength=value.get("strength"))

    # --- Slack --------------------------------------------------------------------------
    def controls(self, config: KindConfig, view: ReviewView) -> list[Block]:
        suffix = ("c",) if view.change else ()
        elements = [
            button_for(text, index, view.assignment_id, raw, view.change)
            for index, (text, raw) in enumerate(choices(config))
        ]
        return [actions(elements, block_id=ids.block("answer", view.assignment_id, *suffix))]

    def decision_inputs(self, config: KindConfig, content: dict, consensus: Any) -> list[Block]:
        shown = []
        for response in content.get("responses") or []:
            model = f" ({response['model']})" if response.get("model") else ""
            text = option_text(f"Response {response['id']} is better{model}")
            shown.append(Option(text=PlainTextObject(text=text), value=response["id"]))
        if config.allow_tie:
            shown.append(Option(text=PlainTextObject(text="Tie"), value=TIE))
        if config.allow_both_bad:
            shown.append(Option(text=PlainTextObject(text="Both bad"), value=BOTH_BAD))
        initial = next((o for o in shown if o.value == consensus), None)
        element = StaticSelectElement(action_id=VALUE_ACTION, options=shown, initial_option=initial)
        return [InputBlock(block_id=DECISION_BLOCK, label="Final choice", element=element)]

    def decision_problem(self, config: KindConfig, content: dict, value: Any) -> str | None:
        allowed = response_ids(content)
        allowed += [TIE] if config.allow_tie else []
        allowed += [BOTH_BAD] if config.allow_both_bad else []
        if value not in allowed:
            return "Choose one of the responses" + (", or tie" if config.allow_tie else "") + "."
        return None

    # --- LLM assist ---------------------------------------------------------------------
    def prompt_variables(self, config: KindConfig, content: dict) -> dict[str, Any]:
        if len(response_ids(content)) != 2:
            raise InvalidContent("a preference item needs exactly two `responses`")
        return {"options": options(config)}

    def llm_value_schema(self, config: KindConfig) -> dict:
        return {"type": "string", "enum": options(config)}

    def llm_value(self, config: KindConfig, content: dict, value: object) -> object:
        allowed = options(config)
        if value not in allowed:
            raise InvalidAnswer(f"{show_value(value)} is not one of {', '.join(allowed)}")
        return value

    # --- exports ------------------------------------------------------------------------
    @property
    def export_formats(self) -> tuple[ExportFormat, ...]:
        return (DPO,)

    # --- simulated reviewers ------------------------------------------------------------
    def simulate(self, config: KindConfig, review: SimulatedReview) -> tuple[Any, list[Click]]:
        content, truth, right, rng = review.content, review.truth, review.right, review.rng
        order = shown_order(content, review.presentation)
        choice = truth if truth is not None else rng.choice(order)
        if not right:
            choice = rng.choice([r for r in order if r != choice] or order)
        if choice == TIE:
            text = control("tie")
        elif choice == BOTH_BAD:
            text = control("both_bad")
        else:
            side = "A" if order[0] == choice else "B"
            strength = rng.choice(STRENGTHS) if config.ask_strength else None
            text = say("prefer_button", side=side, strength=strength)
        return choice, [Click(text=text)]


def button_for(text: str, index: int, assignment_id: int, raw: Any, change: bool) -> Any:
    return button(
        text, ids.indexed(ids.ANSWER, index), answer_value(assignment_id, raw, change=change)
    )


def pair_row(label_id: str, content: dict, better: dict, worse: dict) -> Row | None:
    """One TRL preference row (conversational, or vision when images are in it); None
    when the two responses are the same text (a pair that teaches nothing)."""
    if (
        better.get("content") is not None
        and str(better.get("content")).strip() == str(worse.get("content")).strip()
    ):
        return None
    return {"id": label_id, **preference_pair(content, better, worse)}


# How much a reviewer's pick says, by the strength they gave (None: not asked).
STRENGTH_WEIGHT = {"much": 1.0, "slightly": 0.5, None: 0.75}


def preference_margin(answers: list[Any], better: str) -> tuple[float | None, str | None]:
    """(margin, strength) of a signed-off pair from the reviewers' answers: the mean of
    each answer's weight (STRENGTH_WEIGHT), counted against the pair when the reviewer
    preferred the other response and as nothing for a tie, floored at 0; and the most
    common strength among those who chose `better`. (None, None) without answers (a
    lead's or a gold decision alone)."""
    picks = [a for a in answers if isinstance(a, dict) and a.get("choice") is not None]
    if not picks:
        return None, None
    total = 0.0
    strengths: list[str] = []
    for pick in picks:
        weight = STRENGTH_WEIGHT.get(pick.get("strength"), STRENGTH_WEIGHT[None])
        if pick["choice"] == better:
            total += weight
            if pick.get("strength"):
                strengths.append(pick["strength"])
        elif pick["choice"] not in (TIE, BOTH_BAD):
            total -= weight
    strength = max(set(strengths), key=strengths.count) if strengths else None
    return round(max(total / len(picks), 0.0), 4), strength


def dpo_rows(label: Labelled, people: Any) -> Iterator[tuple[str, Row]]:
    """TRL DPOTrainer's conversational format with the pair's `margin` (reward trainers
    read it), `strength` and `agreement`; ties and both-bad pairs are set aside, a pair
    of two equal texts is left out."""
    content = label.content or {}
    responses = {str(r.get("id")): r for r in content.get("responses") or []}
    choice = chosen(label.value)
    prompt = export_turns(content.get("prompt"))
    if choice in responses and len(responses) == 2:
        other = next(r for key, r in responses.items() if key != choice)
        row = pair_row(label.id, content, responses[choice], other)
        if row is None:
            yield LEFT_OUT, {"id": label.id, "reason": "both responses have the same text"}
            return
        answers = [r.get("value") for r in label.provenance.get("responses") or []]
        margin, strength = preference_margin(answers, choice)
        yield "row", {**row, "margin": margin, "strength": strength, "agreement": label.agreement}
    elif choice in (TIE, BOTH_BAD):
        yield (
            SET_ASIDE,
            {
                "id": label.id,
                "choice": choice,
                "prompt": prompt,
                "responses": [export_response(r) for r in responses.values()],
            },
        )


def implicit_prompt(row: Row) -> Row:
    """TRL's implicit-prompt form: the prompt repeated at the head of `chosen` and
    `rejected`, no `prompt` column."""
    shaped = {k: v for k, v in row.items() if k != "prompt"}
    shaped["chosen"] = [*row["prompt"], *row["chosen"]]
    shaped["rejected"] = [*row["prompt"], *row["rejected"]]
    return shaped


PAIR_FIELDS = [("margin", pa.float64()), ("strength", pa.string()), ("agreement", pa.float64())]
DPO_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("prompt", MESSAGES),
        ("chosen", MESSAGES),
        ("rejected", MESSAGES),
        *PAIR_FIELDS,
    ]
)
DPO_FORMS = (
    Form(
        "implicit",
        implicit_prompt,
        pa.schema(
            [("id", pa.string()), ("chosen", MESSAGES), ("rejected", MESSAGES), *PAIR_FIELDS]
        ),
    ),
)


def dpo_format(build: Builder) -> ExportFormat:
    """The `dpo` format with this kind's pairs (a preference's one, a ranking's many)."""
    return ExportFormat(
        name="dpo",
        needs_content=True,
        build=build,
        schema=DPO_SCHEMA,
        forms=DPO_FORMS,
        form="explicit",
    )


DPO = dpo_format(dpo_rows)
