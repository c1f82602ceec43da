"""The protocol every task kind implements: everything that differs between a label, a
rating, a preference, a correction and a ranking.

The workflow, the Slack builders, the importer, the exports and the LLM assist ask the
kind of a project (``kind_of(config)``) and never branch on its name. A kind knows nothing
of the workflow or the database: it takes plain values (the project config, the item's
content, a stored answer) and returns plain values or Block Kit blocks.

Stored answers (``Response.value``) are in the kind's *stored* form; answers are compared
in its *canonical* form, which is also a signed-off label's value.
"""

from __future__ import annotations

import json
import random
import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import NotImplementedType
from typing import Any, ClassVar, Protocol

from slack_sdk.models.blocks import Block

from bot.content.base import ContentType, ItemRecord
from bot.kinds.exporting import ExportFormat
from bot.slack.text import escape_mrkdwn

# The leads' "Decide…" modal: the block of the final value (one per criterion for
# ratings) and the action id of every input in it.
DECISION_BLOCK = "decision"
VALUE_ACTION = "value"
TEXT_INPUT_LIMIT = 3000  # Slack's cap for a plain_text_input


class Scale(Protocol):
    @property
    def min(self) -> int: ...
    @property
    def max(self) -> int: ...
    def label_for(self, score: int) -> str: ...


class KindConfig(Protocol):
    """The project settings a kind reads (bot.config.project.ProjectConfig has them all)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def question(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def labels(self) -> list[str]: ...
    @property
    def multi_label(self) -> bool: ...
    @property
    def criteria(self) -> list[str]: ...
    @property
    def scale(self) -> Scale: ...
    @property
    def allow_tie(self) -> bool: ...
    @property
    def allow_both_bad(self) -> bool: ...
    @property
    def ask_strength(self) -> bool: ...


class InvalidAnswer(ValueError):
    """A click, a modal or an LLM output that is not an answer of this kind; the message
    says why, for a person."""


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
    statistic: tuple[str, float] | None = None  # e.g. ("Kendall's W", 0.81)

    def describe(self) -> str:
        if self.statistic:
            name, figure = self.statistic
            return f"{name} {figure:.2f}; {self.agreeing} of {self.answers} agree exactly"
        if self.per_criterion:
            shares = self.per_criterion
            worst = min(shares, key=lambda c: shares[c])
            return f"lowest criterion {worst}: {self.agreeing} of {self.answers} agree"
        return f"{self.agreeing} of {self.answers} agree"


NO_ANSWERS = ItemAgreement(None, 0.0, False, 0, 0, False)


@dataclass(frozen=True)
class Facet:
    """One categorical question inside an answer: the label, or one rating criterion.
    Dawid-Skene is fitted per facet."""

    name: str
    classes: tuple[str, ...] | None  # None: the distinct values seen in the project
    code: Callable[[Any], str | None]


@dataclass(frozen=True)
class DraftStep:
    """The result of one partial step (a score, a tick, a rank): the new draft, the
    complete answer once the draft holds one, and a notice to show in place."""

    draft: dict
    value: Any = None
    notice: str | None = None


@dataclass(frozen=True)
class Click:
    """One interaction a simulated reviewer performs on a review DM (bot.sandbox)."""

    text: str | None = None
    action_id: str | None = None
    selected: str | None = None
    block_id: str | None = None  # press within this block only
    values: dict | None = None  # the state of inputs sent with the click
    modal_text: str | None = None  # the click opens a modal: fill its text inputs, submit


@dataclass(frozen=True)
class SimulatedReview:
    """A review DM as a simulated reviewer meets it (bot.sandbox): `truth` is what a
    careful expert would answer, `right` whether this answer should be it (drawn with
    probability `accuracy`)."""

    content: dict
    presentation: dict | None
    message: dict
    truth: Any
    right: bool
    accuracy: float
    rng: random.Random


@dataclass(frozen=True)
class ReviewView:
    """What a review request knows about the reviewer's progress, for the controls."""

    assignment_id: int
    content: dict
    presentation: dict | None
    draft: dict = field(default_factory=dict)
    changing: Any = None  # the recorded value, when "Change my answer" re-opened the choices

    @property
    def change(self) -> bool:
        return self.changing is not None


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def show_value(value: object) -> str:
    """A value quoted in an error message, at most 40 characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


def short(text: str, limit: int) -> str:
    text = squash(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stable_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def majority(values: Sequence[Any], key: Callable[[Any], str]) -> tuple[Any, int, bool]:
    """(the most common value or None when the top is tied, its count, tied). A tie at the
    top is a tie, never "first answer wins"."""
    counts = Counter(key(v) for v in values)
    ranked = counts.most_common()
    top_key, top = ranked[0]
    tied = len(ranked) > 1 and ranked[1][1] == top
    value = None if tied else next(v for v in values if key(v) == top_key)
    return value, top, tied


class TaskKind(ABC):
    """Defaults shared by the kinds; each kind module overrides what differs."""

    name: ClassVar[str]
    content: ClassVar[ContentType]  # what an item shows unless it holds another type
    record: ClassVar[type[ItemRecord]]  # what an imported item of this kind looks like
    # Other content types the kind accepts, each with its record (an image to label).
    other_contents: ClassVar[tuple[tuple[ContentType, type[ItemRecord]], ...]] = ()
    # An AI suggestion is shown to reviewers only where it does not anchor a judgement
    # of quality (labels, corrections), unless the project turns it off.
    shows_suggestion: ClassVar[bool] = False
    # Whether reviewers see candidates in a per-reviewer order (position bias is measured).
    randomises_order: ClassVar[bool] = False
    # The kind's posterior is the Beta/vote posterior of the item's own answers, not
    # Dawid-Skene over the project (see vote_posterior).
    posterior_name: ClassVar[str] = "Dawid-Skene posterior"
    # Judges the last assistant turn (the DM marks it and keeps it in view).
    judges_reviewed_turn: ClassVar[bool] = False
    # Needs the item content to compare answers (ids of responses, the original text).
    compares_with_content: ClassVar[bool] = False

    # --- content -------------------------------------------------------------------------
    def content_for(self, content: dict | None) -> ContentType:
        """The content type of an item (or of a record being imported)."""
        for content_type, _ in self.other_contents:
            if content_type.key in (content or {}):
                return content_type
        return self.content

    def record_for(self, data: dict) -> type[ItemRecord]:
        for content_type, record in self.other_contents:
            if content_type.key in data:
                return record
        return self.record

    # --- the project file ---------------------------------------------------------------
    def config_problem(self, config: KindConfig) -> str | None:
        """Why the project's kind-specific settings cannot be used, or None."""
        return None

    # --- import -------------------------------------------------------------------------
    def record_problems(self, record: Any, config: KindConfig) -> list[str]:
        """Checks of an imported record against the project (labels, gold shape)."""
        return []

    # --- answering ----------------------------------------------------------------------
    def presentation(self, content: dict, rng: random.Random) -> dict | None:
        """Per-reviewer presentation choices recorded with the assignment (A/B order)."""
        return None

    def decode(self, config: KindConfig, content: dict, presentation: dict | None, raw: Any) -> Any:
        """The stored value for what was clicked; InvalidAnswer says why it is not one."""
        return raw

    def validate(self, config: KindConfig, value: Any) -> str | None:
        """Why `value` is not a complete stored answer for this project, or None."""
        return None

    def draft_for_change(self, value: Any) -> dict:
        """The draft that re-opens the controls with a recorded answer filled in."""
        return {}

    def step(
        self, config: KindConfig, content: dict, presentation: dict | None, draft: dict, raw: Any
    ) -> DraftStep:
        """One partial step of an answer (kinds with several controls per answer)."""
        raise InvalidAnswer(f"a {self.name} answer has no partial steps")

    def step_repeats(self, value: Any, raw: Any) -> bool:
        """Whether a step repeats what the recorded answer already holds (a retry of
        the step that completed it)."""
        return False

    # --- comparing ----------------------------------------------------------------------
    def canonical(
        self, value: Any, content: dict | None = None, presentation: dict | None = None
    ) -> Any:
        """An answer (or a gold value) in the form answers are compared in."""
        return value

    def answer_key(self, canonical_value: Any) -> str:
        """A hashable key of a canonical answer: equal keys are the same answer."""
        return stable_key(canonical_value)

    def same_answer(self, a: Any, b: Any) -> bool:
        return self.answer_key(a) == self.answer_key(b)

    def matches_gold(self, canonical_value: Any, gold: Any, content: dict | None = None) -> bool:
        return self.same_answer(canonical_value, self.canonical(gold, content))

    def agreement(self, config: KindConfig, values: list[Any]) -> ItemAgreement:
        """Agreement over one item's canonical answers, with an explicit tie rule."""
        if not values:
            return NO_ANSWERS
        value, top, tied = majority(values, self.answer_key)
        n = len(values)
        return ItemAgreement(value, top / n, tied, n, top, top == n)

    def is_unchanged(self, canonical_value: Any) -> bool:
        """An answer that kept the model's output as it was ("Looks right")."""
        return False

    def facets(self, config: KindConfig) -> list[Facet]:
        """The categorical questions Dawid-Skene is fitted on; none for kinds without one."""
        return []

    def vote_posterior(
        self, consensus: Any, answers: Sequence[tuple[str, Any]], content: dict
    ) -> float | None | NotImplementedType:
        """A posterior from the item's own votes, for kinds not fitted by Dawid-Skene."""
        return NotImplemented

    def first_choice(self, canonical_value: Any) -> str | None:
        """The response an answer puts first, for kinds that show candidates in a
        per-reviewer order (position bias); None when it picks none (a tie)."""
        return None

    def metric_codes(
        self, config: KindConfig, value: Any, content: dict | None
    ) -> dict[str, str | None]:
        """Each canonical answer as one nominal code per agreement facet (alpha, kappa)."""
        codes = {f.name: f.code(value) for f in self.facets(config)}
        return codes or {"answer": self.answer_key(value)}

    def ordinal_range(self, config: KindConfig) -> tuple[int, int] | None:
        """(min, max) when answers are scores (ordinal and interval alpha apply)."""
        return None

    def model_agrees(self, content: dict, model_value: Any, human_value: Any) -> bool:
        """Whether a model's value (a pipeline prediction or pre-label) is the human label."""
        return stable_key(_orderless(model_value)) == stable_key(_orderless(human_value))

    # --- reading ------------------------------------------------------------------------
    def describe(
        self, config: KindConfig, canonical_value: Any, content: dict | None = None
    ) -> str:
        """A canonical answer in a few plain words (leads' buttons, DMs, CLI); not escaped."""
        if canonical_value is None:
            return "no answer"
        return short(stable_key(canonical_value), 60)

    def describe_answer(self, config: KindConfig, value: Any, presentation: dict | None) -> str:
        """A stored answer as mrkdwn a reviewer recognises: the button they pressed."""
        return escape_mrkdwn(str(value))

    def edited_text(self, canonical_value: Any) -> str | None:
        """The text of an answer that is an edit (shown in full to leads), else None."""
        return None

    def suggestion_text(self, config: KindConfig, value: Any) -> str:
        """An AI pre-label as the reviewer's DM shows it (mrkdwn)."""
        return self.describe_answer(config, value, None)

    # --- Slack --------------------------------------------------------------------------
    def context_blocks(self, config: KindConfig, content: dict) -> list[Block]:
        """Extra context above the controls (the pipeline's prediction)."""
        return []

    def channel_context(self, content: dict) -> list[str]:
        """Context lines under the sample in the leads' channel (the model's prediction)."""
        return []

    @abstractmethod
    def controls(self, config: KindConfig, view: ReviewView) -> list[Block]:
        """The answer controls of a review request."""

    def progress_notes(self, config: KindConfig, view: ReviewView) -> list[str]:
        """Context lines about a partial answer ("not rated yet: safety")."""
        return []

    def answered_blocks(self, config: KindConfig, value: Any) -> list[Block]:
        """Blocks that repeat a recorded answer in full (an edited response)."""
        return []

    @abstractmethod
    def decision_inputs(self, config: KindConfig, content: dict, consensus: Any) -> list[Block]:
        """The inputs of the leads' "Decide…" modal, prefilled with the consensus."""

    def read_decision(
        self, config: KindConfig, entry: Callable[[str], Any]
    ) -> tuple[Any, dict[str, str]]:
        """(raw final value, errors by block id) from the submitted "Decide…" modal;
        `entry(block_id)` is what the input of that block holds."""
        value = entry(DECISION_BLOCK)
        if value in (None, [], "") or (isinstance(value, str) and not value.strip()):
            return value, {DECISION_BLOCK: "Choose the final answer."}
        return value, {}

    def decision_value(self, config: KindConfig, content: dict, raw: Any) -> Any:
        """A lead's raw final value in canonical form."""
        return self.canonical(raw, content)

    def decision_problem(self, config: KindConfig, content: dict, value: Any) -> str | None:
        """Why a lead's final value cannot be signed off, or None when it can."""
        return None

    def decision_error_block(self, config: KindConfig) -> str:
        """The modal block that shows a problem with the final value."""
        return DECISION_BLOCK

    # --- LLM assist ---------------------------------------------------------------------
    def prompt_variables(self, config: KindConfig, content: dict) -> dict[str, Any]:
        """Kind-specific variables of the pre-label prompt (InvalidAnswer if unusable)."""
        return {}

    @abstractmethod
    def llm_value_schema(self, config: KindConfig) -> dict:
        """The JSON schema of a pre-label's `value` for this project."""

    @abstractmethod
    def llm_value(self, config: KindConfig, content: dict, value: object) -> object:
        """The LLM's `value` checked against the project and the item and normalised;
        InvalidAnswer says what is wrong."""

    def model_value(self, content: dict, value: Any) -> Any:
        """A model's answer (a pre-label) as a label value: what an auto-accepted item
        signs off (position letters become response ids)."""
        return value

    # --- exports ------------------------------------------------------------------------
    @property
    def export_formats(self) -> tuple[ExportFormat, ...]:
        """The training-data formats this kind exports besides `labels`."""
        return ()

    def value_columns(self, value: Any) -> dict[str, Any]:
        """A signed-off value in the `labels` export's typed columns (VALUE_COLUMNS of
        bot.kinds.exporting) that this kind fills; the others stay null."""
        return {}

    # --- simulated reviewers (bot.sandbox) ----------------------------------------------
    def demo_truth(self, config: KindConfig, external_id: str, content: dict) -> Any:
        """What a careful expert would answer an example item, when it has no gold."""
        return None

    @abstractmethod
    def simulate(self, config: KindConfig, review: SimulatedReview) -> tuple[Any, list[Click]]:
        """(what the simulated reviewer means, the clicks that answer it)."""


def _orderless(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(stable_key(v) for v in value)
    return value
