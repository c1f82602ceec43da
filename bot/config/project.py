"""Project configuration: the YAML schema, its validation and readable errors.

A project file is the single source of truth for an annotation job's rules. Every
error names the file, the field, the bad value and what is allowed, because the
person reading it is editing YAML by hand.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from bot.config.people import (
    SLACK_USER_ID,
    TAG_HINTS,
    Person,
    RouteRule,
    listed_people,
)
from bot.config.stages import (
    MAX_OVERLAP,
    AdaptiveOverlap,
    Stage,
    StageWhen,
    leads_sign_off_all,
    path_problem,
    review_stage,
)
from bot.kinds.rating import MAX_CRITERIA
from bot.kinds.registry import KINDS, kind_named

SLACK_CHANNEL_ID = r"^[CGD][A-Z0-9]{2,}$"
NOT_BLANK = r"\S"
SlackUserId = Annotated[str, Field(pattern=SLACK_USER_ID)]
# Settings with two forms (a reviewer's plain id or entry, a stage's named or ruled `when`,
# a number or an adaptive overlap) are told apart by type, so an error is about the form
# the file meant; these tags are left out of the error's location.
UNION_TAGS = ("id", "entry", "named", "rule", "count", "adaptive")
Reviewer = Annotated[
    Annotated[SlackUserId, Tag("id")] | Annotated[Person, Tag("entry")],
    Discriminator(lambda value: "id" if isinstance(value, str) else "entry"),
]

# Texts of the project file that Slack shows on buttons, options and headings, bounded
# here where the bound is static (the rendered preflight, bot/workflow/intake/preflight.py,
# checks what only the builders know). Slack refuses a message with an empty text or a
# button text over 75 characters, and the whole message with it.
SCALE_LABEL_CHARS = 70  # a score button reads "10 – <label>", 75 characters at most
CRITERION_CHARS = 150
ScaleLabel = Annotated[str, Field(min_length=1, max_length=SCALE_LABEL_CHARS, pattern=NOT_BLANK)]
Criterion = Annotated[str, Field(min_length=1, max_length=CRITERION_CHARS, pattern=NOT_BLANK)]
LabelName = Annotated[str, Field(min_length=1, pattern=NOT_BLANK)]
# Where each bounded text is shown, for the error message (by its top-level field).
SHOWN_IN = {
    "scale": "on a score button (after the score, e.g. '3 – ')",
    "criteria": "in a criterion's heading and score buttons",
    "labels": "on a button or menu option",
    "question": "at the top of every review message",
}


PATTERN_HINTS = {
    SLACK_USER_ID: "must be a Slack member id such as U01ALICE (profile → ⋮ → Copy member ID)",
    SLACK_CHANNEL_ID: "must be a Slack channel id such as C0ESCALATE (channel details → bottom)",
    r"^[a-z0-9][a-z0-9_-]{0,62}$": "must be lowercase letters, digits, - or _ (it is used in commands)",
    NOT_BLANK: "is blank; Slack refuses a message with an empty text",
    **TAG_HINTS,
}


class ProjectConfigError(ValueError):
    """A project file that cannot be used; the message is meant for a person."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scale(_Strict):
    min: int = 1
    max: int = 5
    labels: dict[int, ScaleLabel] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _range(self) -> Scale:
        if self.max <= self.min:
            raise ValueError(f"scale.max ({self.max}) must be greater than scale.min ({self.min})")
        if self.max - self.min + 1 > 11:
            raise ValueError("a scale has at most 11 points (one button each)")
        return self

    def label_for(self, score: int) -> str:
        default = {1: "Poor", 2: "Fair", 3: "Good", 4: "Very good", 5: "Excellent"}
        name = self.labels.get(score) or (default.get(score) if self.max == 5 else None)
        return f"{score} – {name}" if name else str(score)


class Routing(_Strict):
    confidence_below: float = Field(default=1.0, ge=0.0, le=1.0)
    audit_rate: float = Field(default=0.0, ge=0.0, le=1.0)


class SignOff(_Strict):
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    lead_signs_off_all: bool = False
    notify_overruled: bool = True


class Timing(_Strict):
    reminder_after_hours: float = Field(default=24.0, gt=0)
    max_reminders: int = Field(default=2, ge=0)
    reassign_after_hours: float = Field(default=72.0, gt=0)
    escalation_reminder_hours: float = Field(default=24.0, gt=0)
    work_hours: tuple[int, int] = (9, 18)


class LLMAssist(_Strict):
    enabled: bool = False
    model: str = "gpt-4o-mini"
    prompt: str = "prelabel.j2"
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    timeout_s: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=4, ge=1, le=64)
    max_retries: int = Field(default=3, ge=0, le=10)
    show_suggestion: bool = True
    summarize_escalations: bool = False
    send_images: bool = Field(
        default=True,
        description=(
            "Send a media item's images to the model with its pre-label request: the "
            "renditions reviewers see (an image, a document's first pages, a time series' "
            "chart, a recording's waveform, a video's poster frame), at most 4, as OpenAI "
            "`image_url` content parts. Needs a vision model; set false for a text-only "
            "model, which then gets the text alone (the item's text, a document's text "
            "layer, a series' summary)."
        ),
    )


class ProjectConfig(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    kind: str
    question: str = Field(min_length=1, max_length=2000)
    description: str | None = None
    labels: list[LabelName] = Field(default_factory=list)
    multi_label: bool = False
    # One block per criterion (two while they fit as buttons) within a message's 50.
    criteria: list[Criterion] = Field(default_factory=list, max_length=MAX_CRITERIA)
    scale: Scale = Field(default_factory=Scale)
    allow_tie: bool = True
    allow_both_bad: bool = False
    ask_strength: bool = False
    # Plain ids, or entries with languages, skills and max_open (bot/config/people.py).
    reviewers: list[Reviewer] = Field(default_factory=list)
    reviewer_group: str | None = Field(default=None, pattern=r"^S[A-Z0-9]{2,31}$")
    # Check a sample of what the reviewers agreed on, in a review stage (`stages`).
    senior_reviewers: list[Reviewer] = Field(default_factory=list)
    leads: list[SlackUserId] = Field(default_factory=list)
    # Read everything of the project (status, provenance, the audit check), change nothing.
    auditors: list[SlackUserId] = Field(default_factory=list)
    # See the project as its leads do (escalations, flags, status) without resolving.
    owners: list[SlackUserId] = Field(default_factory=list)
    # Reviewers per item: a number, or {min, max, target_confidence} (adaptive).
    overlap: Annotated[
        Annotated[int, Field(ge=1, le=MAX_OVERLAP), Tag("count")]
        | Annotated[AdaptiveOverlap, Tag("adaptive")],
        Discriminator(
            lambda value: "adaptive" if isinstance(value, dict | AdaptiveOverlap) else "count"
        ),
    ] = 3
    agreement: float = Field(default=0.67, gt=0.0, le=1.0)
    escalation_channel: str | None = Field(default=None, pattern=SLACK_CHANNEL_ID)
    digest_channel: str | None = Field(default=None, pattern=SLACK_CHANNEL_ID)
    routing: Routing = Field(default_factory=Routing)
    route: RouteRule | None = None  # requirements read from an item's metadata
    stages: list[Stage] = Field(default_factory=list)  # the review path (bot/config/stages.py)
    sign_off: SignOff = Field(default_factory=SignOff)
    timing: Timing = Field(default_factory=Timing)
    llm: LLMAssist = Field(default_factory=LLMAssist)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"must be one of {', '.join(KINDS)}")
        return kind

    @model_validator(mode="before")
    @classmethod
    def _first_stage_overlap(cls, data: object) -> object:
        """A stage's own overlap wins over the project's: the first stage's is `overlap`."""
        if isinstance(data, dict) and isinstance(data.get("stages"), list) and data["stages"]:
            first = data["stages"][0]
            if isinstance(first, dict) and isinstance(first.get("overlap"), int):
                data = {**data, "overlap": first["overlap"]}
        return data

    @model_validator(mode="after")
    def _kind_fields(self) -> ProjectConfig:
        problem = kind_named(self.kind).config_problem(self)
        if problem:
            raise ValueError(problem)
        if not self.reviewers and not self.reviewer_group:
            raise ValueError("set `reviewers` (Slack user ids) or `reviewer_group`")
        ids = [p if isinstance(p, str) else p.id for p in self.reviewers]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"reviewers: {', '.join(twice)} listed more than once")
        problem = path_problem(self.stages)
        if problem:
            raise ValueError(problem)
        seniors = list(listed_people(self.senior_reviewers))
        if review_stage(self.stages) and not seniors:
            raise ValueError("stages: a review stage needs `senior_reviewers`")
        acting = set(ids) | set(seniors) | set(self.leads) | set(self.owners)
        both = sorted(set(self.auditors) & acting)
        if both:
            raise ValueError(
                f"auditors: {', '.join(both)} also review, lead or own the project; "
                "an auditor reads everything and changes nothing"
            )
        # With a user group the pool is only known at run time (intake/staffing.py).
        most = self.max_overlap
        if self.reviewers and not self.reviewer_group and most > len(self.reviewers):
            raise ValueError(
                f"overlap is {most} but only {len(self.reviewers)} reviewers are listed; "
                "an item is never given to the same reviewer twice"
            )
        return self

    @cached_property
    def people(self) -> dict[str, Person]:
        """The listed reviewers by id, with their attributes (none for a plain id)."""
        return listed_people(self.reviewers)

    @property
    def reviewer_ids(self) -> list[str]:
        return list(self.people)

    @cached_property
    def seniors(self) -> dict[str, Person]:
        """The senior reviewers by id, with their attributes."""
        return listed_people(self.senior_reviewers)

    @property
    def initial_overlap(self) -> int:
        """Reviewers an item is given first (all it gets, unless overlap is adaptive)."""
        return self.overlap if isinstance(self.overlap, int) else self.overlap.min

    @property
    def max_overlap(self) -> int:
        return self.overlap if isinstance(self.overlap, int) else self.overlap.max

    @property
    def adaptive(self) -> AdaptiveOverlap | None:
        return None if isinstance(self.overlap, int) else self.overlap

    @property
    def leads_sign_off_all(self) -> bool:
        return self.sign_off.lead_signs_off_all or leads_sign_off_all(self.stages)

    @property
    def version_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def field_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a person reads it in YAML: criteria[3], scale.labels[5]."""
    path = ""
    for part in loc:
        if part in UNION_TAGS:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _slack_bound(error: ErrorDetails, where: str) -> str | None:
    """A text or list the file holds that Slack could not show, in Slack's terms."""
    loc, ctx, bad = error["loc"], error.get("ctx") or {}, error.get("input")
    shown = SHOWN_IN.get(str(loc[0]) if loc else "", "in a Slack message")
    if error["type"] == "string_too_long" and isinstance(bad, str):
        return (
            f"`{where}`: {len(bad):,} characters; Slack shows at most {ctx['max_length']} {shown}"
        )
    if error["type"] == "string_too_short":
        return f"`{where}`: empty; Slack refuses a message with an empty text ({shown})"
    if error["type"] == "too_long" and where == "criteria":
        return (
            f"`{where}`: {ctx.get('actual_length')} criteria; one review message holds at "
            f"most {ctx['max_length']} (Slack's limit is 50 blocks per message)"
        )
    return None


def _setting_of(loc: tuple[int | str, ...]) -> tuple[type[BaseModel], str]:
    """The settings model an unknown key was found in, and what a person calls it."""
    if "entry" in loc:
        return Person, "reviewer"
    if "adaptive" in loc:
        return AdaptiveOverlap, "adaptive overlap"
    if loc[:1] == ("stages",):
        return (StageWhen, "stage `when`") if "rule" in loc else (Stage, "stage")
    return ProjectConfig, "project"


def _describe(error: ErrorDetails) -> str:
    where = field_path(tuple(error["loc"])) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    bound = _slack_bound(error, where)
    if bound:
        return f"field {bound}"
    if error["type"] == "extra_forbidden":
        model, what = _setting_of(error["loc"])
        allowed = ", ".join(sorted(f.alias or name for name, f in model.model_fields.items()))
        article = "an" if what[0] in "aeiou" else "a"
        return f"field `{where}` is not {article} {what} setting (allowed: {allowed})"
    if error["type"] == "model_type" and error["loc"][-1:] == ("entry",):
        message = "must be a Slack member id or an entry {id, languages, skills, max_open}"
    if error["type"] == "missing":
        return f"field `{where}` is required"
    bad = error.get("input")
    shown = json.dumps(bad, default=str) if not isinstance(bad, dict) else "{…}"
    if error["type"] == "string_pattern_mismatch":
        message = PATTERN_HINTS.get(error["ctx"]["pattern"], message)
    return f"field `{where}`: {message} (got {shown[:80]})"


def parse_project(data: object, *, source: str = "<config>") -> ProjectConfig:
    """Validate a parsed YAML document; raise ProjectConfigError naming every problem."""
    if not isinstance(data, dict):
        raise ProjectConfigError(f"{source}: a project file must be a YAML mapping of settings")
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: invalid project configuration"]
        lines += [f"  - {_describe(err)}" for err in exc.errors()]
        raise ProjectConfigError("\n".join(lines)) from None


def load_project_file(path: str | Path) -> ProjectConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectConfigError(f"{path}: cannot read project file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ProjectConfigError(f"{path}:{where} is not valid YAML ({exc})") from None
    return parse_project(data, source=str(path))
