"""`ranking`: order three to six responses to one prompt from best to worst (reward-model
data; Argilla and Label Studio call it ranking).

A reviewer sees the responses as A, B, C… in an order drawn for them, and picks one
response per rank from a menu ("1st", "2nd", …); a response already given a rank is
refused in place, and the last rank fills itself, so three responses take two taps.

Stored value: ``{"order": [response ids, best first], "shown": [ids in the order shown]}``.
Canonical value: the order alone. Agreement is Kendall's W (coefficient of concordance)
over the item's rankings, compared with the project's `agreement`; the consensus is the
Borda count (a response scores n-1 for first place … 0 for last), and any tie in the
Borda order sends the item to a lead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from itertools import combinations
from typing import Any

import pyarrow as pa
from pydantic import Field, model_validator
from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.content.candidates import (
    CANDIDATES,
    LETTERS,
    CandidateResponse,
    CandidatesRecord,
    export_response,
    response_ids,
    shown_order,
    shuffled_order,
)
from bot.content.parts import export_turns
from bot.kinds.base import (
    DECISION_BLOCK,
    NO_ANSWERS,
    VALUE_ACTION,
    Click,
    DraftStep,
    InvalidAnswer,
    ItemAgreement,
    KindConfig,
    ReviewView,
    SimulatedReview,
    TaskKind,
    show_value,
)
from bot.kinds.exporting import LEFT_OUT, ExportFormat, Labelled, Row
from bot.kinds.label import option_text
from bot.kinds.preference import dpo_format, pair_row
from bot.slack import ids
from bot.slack.text import escape_mrkdwn
from bot.slack.wording import say

MIN_RESPONSES = 3
MAX_RESPONSES = 6


class RankingRecord(CandidatesRecord):
    responses: list[CandidateResponse] = Field(min_length=MIN_RESPONSES, max_length=MAX_RESPONSES)

    @model_validator(mode="after")
    def _distinct_ids(self) -> RankingRecord:
        if len({r.id for r in self.responses}) != len(self.responses):
            raise ValueError("the `responses` need different ids")
        return self


def rank_name(slot: int) -> str:
    """ "1st", "2nd", … for slot 0, 1, …"""
    return say("rank_name", rank=slot + 1)


def order_of(value: Any) -> list[str] | None:
    """The ranking (ids, best first) of a stored or canonical value, or None."""
    if isinstance(value, dict):
        value = value.get("order")
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def borda(rankings: list[list[str]]) -> dict[str, int]:
    """Borda points per response: n-1 for each first place … 0 for each last."""
    points: dict[str, int] = {}
    for ranking in rankings:
        n = len(ranking)
        for position, response in enumerate(ranking):
            points[response] = points.get(response, 0) + (n - 1 - position)
    return points


def kendalls_w(rankings: list[list[str]]) -> float:
    """Kendall's coefficient of concordance over full rankings of the same responses:
    1 when every reviewer gave the same order, 0 when their orders cancel out."""
    m = len(rankings)
    if m < 2:
        return 1.0
    n = len(rankings[0])
    if n < 2:
        return 1.0
    totals = {r: 0 for r in rankings[0]}
    for ranking in rankings:
        for position, response in enumerate(ranking):
            totals[response] = totals.get(response, 0) + position + 1
    mean = m * (n + 1) / 2
    spread = sum((total - mean) ** 2 for total in totals.values())
    return 12 * spread / (m**2 * (n**3 - n))


def _letter(order: list[str], response_id: str) -> str:
    return LETTERS[order.index(response_id)] if response_id in order else response_id


class Ranking(TaskKind):
    name = "ranking"
    content = CANDIDATES
    record = RankingRecord
    randomises_order = True
    compares_with_content = True
    posterior_name = "posterior"

    def record_problems(self, record: Any, config: KindConfig) -> list[str]:
        if record.gold is None:
            return []
        known = sorted(r.id for r in record.responses)
        gold = order_of(record.gold)
        if gold is None or sorted(gold) != known:
            return [f"field `gold`: the response ids ordered best first ({', '.join(known)})"]
        return []

    # --- answering ----------------------------------------------------------------------
    def presentation(self, content: dict, rng: random.Random) -> dict | None:
        return shuffled_order(content, rng)

    def decode(self, config: KindConfig, content: dict, presentation: dict | None, raw: Any) -> Any:
        raise InvalidAnswer("a ranking is given rank by rank")

    def step(
        self, config: KindConfig, content: dict, presentation: dict | None, draft: dict, raw: Any
    ) -> DraftStep:
        """One rank: raw is {"slot": rank index, "value": response id}. A response given
        another rank already is refused in place; the last rank fills itself."""
        shown = shown_order(content, presentation)
        slot = raw.get("slot") if isinstance(raw, dict) else None
        picked = raw.get("value") if isinstance(raw, dict) else None
        if not isinstance(slot, int) or not 0 <= slot < len(shown) or picked not in shown:
            raise InvalidAnswer("not a rank of this item")
        ranks = {int(k): v for k, v in (draft.get("ranks") or {}).items()}
        taken = next((s for s, r in ranks.items() if r == picked and s != slot), None)
        if taken is not None:
            notice = say("rank_taken", response=_letter(shown, picked), rank=rank_name(taken))
            return DraftStep(draft, None, notice)
        ranks[slot] = picked
        left = [r for r in shown if r not in ranks.values()]
        free = [s for s in range(len(shown)) if s not in ranks]
        if len(left) == 1 and len(free) == 1:
            ranks[free[0]] = left[0]
        new_draft = {**draft, "ranks": {str(s): r for s, r in sorted(ranks.items())}}
        if len(ranks) < len(shown):
            return DraftStep(new_draft)
        order = [ranks[s] for s in range(len(shown))]
        return DraftStep(new_draft, {"order": order, "shown": shown})

    def step_repeats(self, value: Any, raw: Any) -> bool:
        order = order_of(value) or []
        slot = raw.get("slot") if isinstance(raw, dict) else None
        return isinstance(slot, int) and 0 <= slot < len(order) and order[slot] == raw.get("value")

    def validate(self, config: KindConfig, value: Any) -> str | None:
        order = order_of(value)
        if order is None:
            return "a ranking orders the responses, best first"
        if len(set(order)) != len(order):
            return "a ranking names each response once"
        if not MIN_RESPONSES <= len(order) <= MAX_RESPONSES:
            return f"a ranking orders {MIN_RESPONSES} to {MAX_RESPONSES} responses"
        return None

    # --- comparing ----------------------------------------------------------------------
    def canonical(
        self, value: Any, content: dict | None = None, presentation: dict | None = None
    ) -> Any:
        order = order_of(value)
        return order if order is not None else value

    def value_columns(self, value: Any) -> dict[str, Any]:
        order = order_of(value)
        return {"ranking": order, "chosen_id": order[0]} if order else {}

    def agreement(self, config: KindConfig, values: list[Any]) -> ItemAgreement:
        rankings = [v for v in (order_of(v) for v in values) if v]
        if not rankings:
            return NO_ANSWERS
        points = borda(rankings)
        ordered = sorted(points, key=lambda r: -points[r])
        scores = [points[r] for r in ordered]
        tied = len(set(scores)) != len(scores)
        w = kendalls_w(rankings)
        consensus = None if tied else ordered
        agreeing = sum(1 for r in rankings if r == ordered)
        return ItemAgreement(
            value=consensus,
            share=w,
            tied=tied,
            answers=len(rankings),
            agreeing=agreeing,
            unanimous=all(r == rankings[0] for r in rankings),
            statistic=("Kendall's W", w),
        )

    def first_choice(self, canonical_value: Any) -> str | None:
        order = order_of(canonical_value)
        return order[0] if order else None

    def model_agrees(self, content: dict, model_value: Any, human_value: Any) -> bool:
        return order_of(self.model_value(content, model_value)) == order_of(human_value)

    # --- reading ------------------------------------------------------------------------
    def describe(
        self, config: KindConfig, canonical_value: Any, content: dict | None = None
    ) -> str:
        order = order_of(canonical_value)
        if order is None:
            return super().describe(config, canonical_value, content)
        # Ids may be long and share a prefix ("resp-1", "resp-2"); leads' buttons hold 75
        # characters, so a long id keeps its end, where such ids differ.
        width = max(4, 60 // len(order) - 3)
        return " > ".join(r if len(r) <= width else "…" + r[-(width - 1) :] for r in order)

    def describe_answer(self, config: KindConfig, value: Any, presentation: dict | None) -> str:
        order = order_of(value)
        if order is None:
            return super().describe_answer(config, value, presentation)
        shown = (value.get("shown") if isinstance(value, dict) else None) or (
            (presentation or {}).get("order") or order
        )
        return " > ".join(escape_mrkdwn(_letter(list(shown), r)) for r in order)

    # --- Slack --------------------------------------------------------------------------
    def controls(self, config: KindConfig, view: ReviewView) -> list[Block]:
        shown = shown_order(view.content, view.presentation)
        # Changing a ranking starts from empty menus (the recorded order is shown above
        # them): moving one response would otherwise collide with the rank it holds.
        ranks = dict(view.draft.get("ranks") or {})
        options = [
            Option(
                value=response,
                text=PlainTextObject(text=say("response_title", letter=LETTERS[index])),
            )
            for index, response in enumerate(shown)
        ]
        by_value = {o.value: o for o in options}
        suffix = ("c",) if view.change else ()
        blocks: list[Block] = []
        for slot in range(len(shown)):
            blocks.append(
                SectionBlock(
                    block_id=ids.block("answer", view.assignment_id, slot, *suffix),
                    text=MarkdownTextObject(text=f"*{rank_name(slot)}*"),
                    accessory=StaticSelectElement(
                        action_id=ids.indexed(ids.STEP, slot),
                        placeholder=say("rank_placeholder"),
                        options=options,
                        initial_option=by_value.get(ranks.get(str(slot), "")),
                    ),
                )
            )
        return blocks

    def progress_notes(self, config: KindConfig, view: ReviewView) -> list[str]:
        ranks = view.draft.get("ranks") or {}
        shown = shown_order(view.content, view.presentation)
        if not ranks or len(ranks) >= len(shown):
            return []
        missing = [rank_name(s) for s in range(len(shown)) if str(s) not in ranks]
        return [say("rank_status", missing=missing)]

    def decision_inputs(self, config: KindConfig, content: dict, consensus: Any) -> list[Block]:
        known = response_ids(content)
        models = {str(r.get("id")): r.get("model") for r in content.get("responses") or []}
        options = [
            Option(
                value=r,
                text=PlainTextObject(
                    text=option_text(f"Response {r}" + (f" ({models[r]})" if models.get(r) else ""))
                ),
            )
            for r in known
        ]
        by_value = {o.value: o for o in options}
        order = order_of(consensus) or []
        return [
            InputBlock(
                block_id=f"{DECISION_BLOCK}:{slot}",
                label=rank_name(slot),
                element=StaticSelectElement(
                    action_id=VALUE_ACTION,
                    options=options,
                    initial_option=by_value.get(order[slot]) if slot < len(order) else None,
                ),
            )
            for slot in range(len(known))
        ]

    def read_decision(
        self, config: KindConfig, entry: Callable[[str], Any]
    ) -> tuple[Any, dict[str, str]]:
        # Every rank input is required, so Slack submits a value for each one the modal has.
        order: list[str] = []
        errors: dict[str, str] = {}
        for slot in range(MAX_RESPONSES):
            chosen = entry(f"{DECISION_BLOCK}:{slot}")
            if chosen is None:
                break
            if chosen in order:
                errors[f"{DECISION_BLOCK}:{slot}"] = (
                    f"Response {chosen} is ranked {rank_name(order.index(chosen))} already."
                )
            order.append(str(chosen))
        return order, errors

    def decision_problem(self, config: KindConfig, content: dict, value: Any) -> str | None:
        order = order_of(value)
        if order is None or sorted(order) != sorted(response_ids(content)):
            return "Rank every response once, best first."
        return None

    def decision_error_block(self, config: KindConfig) -> str:
        return f"{DECISION_BLOCK}:0"

    # --- LLM assist ---------------------------------------------------------------------
    def llm_value_schema(self, config: KindConfig) -> dict:
        return {
            "type": "array",
            "items": {"type": "string", "enum": list(LETTERS[:MAX_RESPONSES])},
            "minItems": MIN_RESPONSES,
            "maxItems": MAX_RESPONSES,
            "description": "every response letter once, best first",
        }

    def llm_value(self, config: KindConfig, content: dict, value: object) -> object:
        letters = list(LETTERS[: len(response_ids(content))])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidAnswer("value is not a list of response letters")
        if sorted(value) != letters:
            raise InvalidAnswer(
                f"{show_value(value)} does not rank each response once ({', '.join(letters)})"
            )
        return value

    def model_value(self, content: dict, value: Any) -> Any:
        # The model ranks by letters in item order; a label names response ids.
        known = response_ids(content)
        letters = order_of(value)
        if letters and all(letter in LETTERS[: len(known)] for letter in letters):
            return [known[LETTERS.index(letter)] for letter in letters]
        return value

    # --- exports ------------------------------------------------------------------------
    @property
    def export_formats(self) -> tuple[ExportFormat, ...]:
        return (RANKING, DPO_PAIRS)

    # --- simulated reviewers ------------------------------------------------------------
    def demo_truth(self, config: KindConfig, external_id: str, content: dict) -> Any:
        return response_ids(content)  # the order the pipeline listed them in

    def simulate(self, config: KindConfig, review: SimulatedReview) -> tuple[Any, list[Click]]:
        content, truth, right, rng = review.content, review.truth, review.right, review.rng
        order = order_of(truth) or response_ids(content)
        if not right:
            i = rng.randrange(len(order) - 1)
            order = [*order[:i], order[i + 1], order[i], *order[i + 2 :]]
        clicks = []
        for slot, response in enumerate(order[:-1]):  # the last rank fills itself
            block = next(
                b
                for b in review.message.get("blocks") or []
                if (b.get("accessory") or {}).get("action_id") == ids.indexed(ids.STEP, slot)
            )
            clicks.append(
                Click(
                    action_id=ids.indexed(ids.STEP, slot),
                    selected=response,
                    block_id=block["block_id"],
                )
            )
        return order, clicks


def ranking_rows(label: Labelled, people: Any) -> Iterator[tuple[str, Row]]:
    """One row per ranked item: the prompt, the responses best first with their rank."""
    content = label.content or {}
    by_id = {str(r.get("id")): r for r in content.get("responses") or []}
    order = order_of(label.value) or []
    yield (
        "row",
        {
            "id": label.id,
            "prompt": export_turns(content.get("prompt")),
            "responses": [
                {**export_response({"id": r, **by_id.get(r, {})}), "rank": position + 1}
                for position, r in enumerate(order)
            ],
            "agreement": label.agreement,
            "method": label.method,
            "signed_off_at": label.signed_off_at,
        },
    )


def pairwise_rows(label: Labelled, people: Any) -> Iterator[tuple[str, Row]]:
    """A signed-off ranking as its pairwise preferences, in TRL's conversational format:
    for responses ranked a > b > c, the pairs (a, b), (a, c) and (b, c)."""
    content = label.content or {}
    by_id = {str(r.get("id")): r for r in content.get("responses") or []}
    order = [r for r in order_of(label.value) or [] if r in by_id]
    last = max(len(order) - 1, 1)
    for better, worse in combinations(order, 2):
        pair_id = f"{label.id}:{better}>{worse}"
        row = pair_row(pair_id, content, by_id[better], by_id[worse])
        if row is None:
            yield LEFT_OUT, {"id": pair_id, "reason": "both responses have the same text"}
            continue
        # Ranks apart over the most they can be: adjacent responses of three are 0.5.
        margin = (order.index(worse) - order.index(better)) / last
        yield (
            "row",
            {**row, "margin": round(margin, 4), "strength": None, "agreement": label.agreement},
        )


RESPONSE = pa.struct(
    [
        ("id", pa.string()),
        ("rank", pa.int64()),
        ("content", pa.string()),
        ("image", pa.string()),
        ("model", pa.string()),
    ]
)
RANKING = ExportFormat(
    name="ranking",
    needs_content=True,
    build=ranking_rows,
    schema=pa.schema(
        [
            ("id", pa.string()),
            ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("responses", pa.list_(RESPONSE)),
            ("agreement", pa.float64()),
            ("method", pa.string()),
            ("signed_off_at", pa.string()),
        ]
    ),
)
DPO_PAIRS = dpo_format(pairwise_rows)
