"""Per-reviewer quality and project agreement, from the answers and the final labels.

Per reviewer:
- **accuracy on gold**: share of their answers on gold items that match the gold value
  (the kind's `matches_gold`: exact for labels and preferences, every named criterion for
  ratings);
- **agreement with final labels**: share of their answers equal to the signed-off label of
  the item (any method except gold, which accuracy covers);
- **overturned**: how many of their answers on items a lead decided differ from the lead's
  decision, and the rate over their lead-decided items; likewise **overruled in review**
  for the items a senior reviewer fixed in a review stage;
- **Dawid-Skene reliability**: the model's expected share of their answers that are right,
  fitted on all the project's answers (labels; each rating criterion, averaged; preferences
  as first response / second response / tie / both bad; corrections as unchanged / edited);
- **median seconds per item** (from assignment to answer) and the **answered** count.

For the project: Krippendorff's alpha (nominal; ordinal and interval per rating criterion),
Fleiss' kappa, mean item agreement, position bias for preferences, and daily series of
answers, sign-offs and the mean agreement of the items signed off that day.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.kinds.base import TaskKind
from bot.kinds.registry import kind_of
from bot.quality import (
    dawid_skene,
    encode_labels,
    fleiss_kappa,
    krippendorff_alpha,
    majority_share,
    position_bias,
)
from bot.quality.agreement import PositionBias
from bot.workflow.intake.qualified import requirements_of_stored
from bot.workflow.project_versions import project_config, require_project
from storage import quality_queries
from storage.models import LabelMethod, Project


@dataclass
class AnswerTally:
    """Answers counted against gold and the final labels: a reviewer's, or all those
    given on items with one requirement."""

    answered: int = 0
    gold_answered: int = 0
    gold_correct: int = 0
    final_compared: int = 0
    final_agreed: int = 0
    lead_decided: int = 0
    overturned: int = 0
    review_decided: int = 0  # answers on items a senior reviewer fixed in a review stage
    review_overruled: int = 0

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_correct / self.gold_answered if self.gold_answered else None

    @property
    def agreement_with_final(self) -> float | None:
        return self.final_agreed / self.final_compared if self.final_compared else None

    @property
    def overturn_rate(self) -> float | None:
        return self.overturned / self.lead_decided if self.lead_decided else None

    def count(self, kind: TaskKind, value: Any, content: Any, gold: Any, final: Any) -> None:
        """One answer (`gold`: the item's gold value or _NO_GOLD; `final`: the item's
        signed-off label row, or None)."""
        self.answered += 1
        if gold is not _NO_GOLD:
            self.gold_answered += 1
            self.gold_correct += kind.matches_gold(value, gold, content)
        method = final.method if final is not None else None
        if method is None or method == LabelMethod.GOLD:  # gold accuracy covers those
            return
        agreed = kind.same_answer(value, kind.canonical(final.value, content))
        self.final_compared += 1
        self.final_agreed += agreed
        if method == LabelMethod.LEAD:
            self.lead_decided += 1
            self.overturned += not agreed
        elif method == LabelMethod.REVIEW:
            self.review_decided += 1
            self.review_overruled += not agreed


_NO_GOLD = object()


@dataclass
class ReviewerStats(AnswerTally):
    reviewer: str = ""
    median_seconds: float | None = None
    reliability: float | None = None


@dataclass
class RequirementStats(AnswerTally):
    """The answers on items that require one language or skill (`de`, `cardiology`), or
    nothing (`none`)."""

    requirement: str = ""
    items: int = 0
    reviewers: int = 0


@dataclass(frozen=True)
class DailyPoint:
    day: date
    answers: int
    signed_off: int
    mean_agreement: float | None


@dataclass
class ProjectQuality:
    project: str
    kind: str
    items: int
    answers: int
    labels_by_method: dict[str, int]
    reviewers: list[ReviewerStats]
    by_requirement: list[RequirementStats] = field(default_factory=list)  # empty: none required
    mean_item_agreement: float | None = None
    alpha: dict[str, float] = field(default_factory=dict)  # metric name -> value
    fleiss_kappa: dict[str, float] = field(default_factory=dict)
    position_bias: PositionBias | None = None
    daily: list[DailyPoint] = field(default_factory=list)


# --------------------------------------------------------------------------- coding answers


def _safe(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _fit_reliability(rows: list[tuple[int, str, str]]) -> dict[str, float]:
    """Dawid-Skene reliability per reviewer over (item, reviewer, code) triples."""
    if not rows:
        return {}
    items, _ = encode_labels([r[0] for r in rows])
    raters, rater_names = encode_labels([r[1] for r in rows])
    codes, classes = encode_labels([r[2] for r in rows])
    if len(classes) < 2:
        return {}
    result = dawid_skene(items, raters, codes, n_classes=len(classes), smoothing=0.5)
    return {
        str(name): float(result.reliability[i])
        for i, name in enumerate(rater_names)
        if not math.isnan(result.reliability[i])
    }


# --------------------------------------------------------------------------- the report


def project_quality(session: Session, project: Project) -> ProjectQuality:
    assert project.id is not None  # a project read from the table has its key
    config = project_config(session, project)
    kind = kind_of(config)
    rows = quality_queries.project_answers(session, project.id)
    needs_content = kind.compares_with_content
    gold = quality_queries.gold_values(session, project.id)
    contents = (
        quality_queries.item_contents(session, {r.item_id for r in rows} | set(gold))
        if needs_content or gold
        else {}
    )
    labels = quality_queries.project_labels(session, project.id)
    final = {label.item_id: label for label in labels}

    answers = [
        (row, kind.canonical(row.value, contents.get(row.item_id), row.presentation))
        for row in rows
    ]
    stats: dict[str, ReviewerStats] = {}
    latencies: dict[str, list[float]] = defaultdict(list)
    for row, value in answers:
        reviewer = stats.setdefault(row.reviewer_id, ReviewerStats(reviewer=row.reviewer_id))
        if row.latency_ms is not None:
            latencies[row.reviewer_id].append(row.latency_ms / 1000)
        content = contents.get(row.item_id)
        reviewer.count(
            kind, value, content, gold.get(row.item_id, _NO_GOLD), final.get(row.item_id)
        )
    for reviewer_id, seconds in latencies.items():
        stats[reviewer_id].median_seconds = float(np.median(seconds))

    # Nominal codes per facet, for alpha, kappa and Dawid-Skene.
    coded: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for row, value in answers:
        for facet, code in kind.metric_codes(config, value, contents.get(row.item_id)).items():
            if code is not None:
                coded[facet].append((row.item_id, row.reviewer_id, code))
    reliabilities: dict[str, list[float]] = defaultdict(list)
    for triples in coded.values():
        for reviewer_id, value in _fit_reliability(triples).items():
            reliabilities[reviewer_id].append(value)
    for reviewer_id, values in reliabilities.items():
        stats[reviewer_id].reliability = float(np.mean(values))

    quality = ProjectQuality(
        project=project.name,
        kind=config.kind,
        items=quality_queries.project_item_count(session, project.id),
        answers=len(rows),
        labels_by_method=_count_methods(labels),
        reviewers=sorted(stats.values(), key=lambda s: (-s.answered, s.reviewer)),
    )
    quality.by_requirement = _by_requirement(session, config, answers, contents, gold, final)
    _agreement_metrics(quality, config, coded)
    if kind.randomises_order:
        quality.position_bias = _position_bias(kind, rows, answers)
    quality.daily = _daily(rows, labels)
    return quality


def _by_requirement(
    session: Session,
    config: ProjectConfig,
    answers: list[tuple[quality_queries.AnswerRow, Any]],
    contents: dict[int, dict],
    gold: dict[int, Any],
    final: dict[int, quality_queries.LabelRow],
) -> list[RequirementStats]:
    """The answers by what their items require: one row per language and skill, and one
    for items requiring nothing; empty when no item of the project requires anything."""
    kind = kind_of(config)
    needs = {}
    for item_id, requires, meta in quality_queries.item_requirements(
        session, {r.item_id for r, _ in answers}
    ):
        try:
            wanted = requirements_of_stored(requires, meta, config)
        except ValueError:  # metadata the route rule cannot read: the item failed
            continue
        needs[item_id] = [*wanted.languages, *wanted.skills] or ["none"]
    if all(tags == ["none"] for tags in needs.values()):
        return []
    groups: dict[str, RequirementStats] = {}
    items: dict[str, set[int]] = defaultdict(set)
    people: dict[str, set[str]] = defaultdict(set)
    for row, value in answers:
        for tag in needs.get(row.item_id, []):
            group = groups.setdefault(tag, RequirementStats(requirement=tag))
            group.count(
                kind,
                value,
                contents.get(row.item_id),
                gold.get(row.item_id, _NO_GOLD),
                final.get(row.item_id),
            )
            items[tag].add(row.item_id)
            people[tag].add(row.reviewer_id)
    for tag, group in groups.items():
        group.items, group.reviewers = len(items[tag]), len(people[tag])
    return sorted(
        groups.values(), key=lambda g: (g.requirement == "none", -g.answered, g.requirement)
    )


def _count_methods(labels: list[quality_queries.LabelRow]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for label in labels:
        counts[label.method] += 1
    return dict(counts)


def _agreement_metrics(
    quality: ProjectQuality, config: ProjectConfig, coded: dict[str, list[tuple[int, str, str]]]
) -> None:
    lowest: dict[Any, float] = {}
    for facet, triples in coded.items():
        if not triples:
            continue
        items, item_ids = encode_labels([t[0] for t in triples])
        raters, _ = encode_labels([t[1] for t in triples])
        name = facet if len(coded) > 1 else ""
        suffix = f" ({name})" if name else ""
        scale = kind_of(config).ordinal_range(config)
        if scale is not None:
            scores = np.array([int(t[2]) for t in triples], dtype=np.float64)
            for level in ("ordinal", "interval"):
                value = _safe(krippendorff_alpha(items, raters, scores, level=level))
                if value is not None:
                    quality.alpha[f"{level}{suffix}"] = value
            codes = (scores - scale[0]).astype(np.int64)
        else:
            codes, _ = encode_labels([t[2] for t in triples])
            value = _safe(krippendorff_alpha(items, raters, codes, level="nominal"))
            if value is not None:
                quality.alpha[f"nominal{suffix}"] = value
        kappa = _safe(fleiss_kappa(items, codes))
        if kappa is not None:
            quality.fleiss_kappa[facet] = kappa
        result = majority_share(items, codes)
        for index in np.flatnonzero(result.n_answers >= 2):
            # Ratings: an item's agreement is its lowest criterion, as in the sign-off rule.
            item_id, share = item_ids[index], float(result.share[index])
            lowest[item_id] = min(share, lowest.get(item_id, share))
    if lowest:
        quality.mean_item_agreement = float(np.mean(list(lowest.values())))


def _position_bias(
    kind: TaskKind, rows: list[Any], answers: list[tuple[Any, Any]]
) -> PositionBias | None:
    """Did reviewers put first whichever response they were shown first? Uses the order
    each reviewer saw (`shown_first` / `shown` in the answer, or the assignment's order)."""
    chose_first = []
    for row, value in answers:
        stored = row.value if isinstance(row.value, dict) else {}
        first = stored.get("shown_first") or (stored.get("shown") or [None])[0]
        if first is None:
            first = ((row.presentation or {}).get("order") or [None])[0]
        top = kind.first_choice(value)
        if first is None or top is None:
            continue
        chose_first.append(top == first)
    return position_bias(chose_first) if chose_first else None


def _daily(
    rows: list[quality_queries.AnswerRow], labels: list[quality_queries.LabelRow]
) -> list[DailyPoint]:
    answers: dict[date, int] = defaultdict(int)
    for row in rows:
        answers[row.created_at.date()] += 1
    signed: dict[date, list[float | None]] = defaultdict(list)
    for signed_off in labels:
        if signed_off.method == LabelMethod.AUTO:
            continue  # no people involved: neither throughput of reviewers nor agreement
        signed[signed_off.signed_off_at.date()].append(signed_off.agreement)
    days = sorted(set(answers) | set(signed))
    points = []
    for day in days:
        figures = [a for a in signed.get(day, []) if a is not None]
        points.append(
            DailyPoint(
                day=day,
                answers=answers.get(day, 0),
                signed_off=len(signed.get(day, [])),
                mean_agreement=float(np.mean(figures)) if figures else None,
            )
        )
    return points


def load_project_quality(engine: Engine, name: str) -> ProjectQuality:
    """The quality report of one project (`quorum status --project NAME`);
    UnknownProjectError names the known ones."""
    with Session(engine) as session:
        return project_quality(session, require_project(session, name))
