"""`quorum simulate`: recorded answers replayed through the sign-off rule, to choose a
project's rules before going live and to measure what they buy.

Each item gets its answers in their file order (by `time` when given) as the project's
rules ask for them: `overlap` answers, then the rule of bot/workflow/decision/rule.py
decides, with the posterior the bot would compute (Dawid-Skene over every answer seen so
far, refitted as bot/workflow/decision/posterior.py refits). An item with fewer recorded
answers than the rules ask for is decided on those it has, as the bot decides an item
nobody else can take (the one release rule); one with none goes to a lead. A lead's
decision is taken as the gold value when the file has one.

The confidence reported for a consensus label is that posterior, computed for every
label (the bot stores it when `sign_off.min_confidence` is set); calibration is measured
on it against the gold values.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.config.project import ProjectConfig
from bot.kinds.registry import kind_of
from bot.quality.calibration import expected_calibration_error, reliability_table
from bot.runtime.errors import UserError
from bot.workflow.decision.posterior import confidence_from, fit_answers, stale
from bot.workflow.decision.rule import ask_another, settled, verdict

# Column names read as each field (the first found), so published crowd data loads as is.
COLUMNS = {
    "item": ("item", "item_id", "orig_id", "task", "question"),
    "reviewer": ("reviewer", "reviewer_id", "worker", "worker_id", "!amt_worker_ids", "annotator"),
    "value": ("value", "response", "answer", "label"),
    "gold": ("gold", "truth", "true_label"),
    "time": ("time", "timestamp", "created_at"),
}
BINS = 10


class AnswersFileError(UserError, ValueError):
    """An answers file that cannot be replayed; says which line and field."""


@dataclass(frozen=True)
class Answer:
    item: str
    reviewer: str
    value: Any
    gold: Any = None
    time: str | None = None


def _column(header: Sequence[str], name: str, path: Path) -> str | None:
    found = next((c for c in COLUMNS[name] if c in header), None)
    if found is None and name in ("item", "reviewer", "value"):
        raise AnswersFileError(
            f"{path}: no `{name}` column (looked for {', '.join(COLUMNS[name])}; "
            f"the file has {', '.join(header)})"
        )
    return found


def read_answers(path: Path) -> list[Answer]:
    """CSV, TSV (`.tsv`) or JSONL answers; refused with the line of the first bad one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnswersFileError(f"{path}: cannot read it ({exc})") from None
    rows: Iterable[tuple[int, dict]]
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        parsed = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    parsed.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise AnswersFileError(f"{path}: line {number}: not JSON ({exc.msg})") from None
        header = sorted({k for _, row in parsed for k in row})
        rows = parsed
    else:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
        header = list(reader.fieldnames or [])
        rows = ((n + 2, row) for n, row in enumerate(reader))
    names = {name: _column(header, name, path) for name in COLUMNS}
    answers = []
    for number, row in rows:
        values = {name: row.get(column) if column else None for name, column in names.items()}
        for required in ("item", "reviewer", "value"):
            if values[required] in (None, ""):
                raise AnswersFileError(f"{path}: line {number}: field `{names[required]}` is empty")
        gold = values["gold"]
        answers.append(
            Answer(
                item=str(values["item"]),
                reviewer=str(values["reviewer"]),
                value=values["value"],
                gold=None if gold in (None, "") else gold,
                time=str(values["time"]) if values["time"] not in (None, "") else None,
            )
        )
    if not answers:
        raise AnswersFileError(f"{path}: no answers in it")
    return answers


@dataclass
class Decision:
    item: str
    method: str  # consensus or lead
    value: Any
    confidence: float | None  # the posterior of a consensus label
    used: list[Answer]  # the answers the rules asked for
    reason: str
    gold: Any = None

    @property
    def answers(self) -> int:
        return len(self.used)

    @property
    def correct(self) -> bool | None:
        return None if self.gold is None else self.value == self.gold


@dataclass
class Report:
    config: dict
    items: int
    auto_signed_share: float
    auto_signed_accuracy: float | None
    signed_accuracy: float | None
    answers_per_item: float
    lead_share: float
    ece: float | None
    reliability: list[dict]
    reviewers: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        return asdict(self)


def _items(answers: Sequence[Answer]) -> dict[str, list[Answer]]:
    """Answers per item, each item's in time (else file) order, items by their first."""
    by_item: dict[str, list[Answer]] = {}
    timed = any(a.time for a in answers)
    for answer in sorted(answers, key=lambda a: a.time or "") if timed else answers:
        by_item.setdefault(answer.item, []).append(answer)
    return by_item


def replay(config: ProjectConfig, answers: Sequence[Answer]) -> list[Decision]:
    """Every item decided as the bot would, in order."""
    kind = kind_of(config)
    seen: list[tuple[str, str, Any]] = []  # (item, reviewer, canonical) so far
    fits: dict = {}
    fitted_at: int | None = None
    decisions = []
    for item, given in _items(answers).items():
        taken = given[: config.initial_overlap]
        gold = kind.canonical(given[0].gold) if given[0].gold is not None else None
        if not taken:
            decisions.append(Decision(item, "lead", gold, None, [], "no reviewer left", gold))
            continue
        mine = [(a.reviewer, kind.canonical(a.value)) for a in taken]
        seen.extend((item, reviewer, value) for reviewer, value in mine)
        while True:  # an adaptive overlap asks one more while its rule says so
            agreement = kind.agreement(config, [value for _, value in mine])

            def posterior(mine: list = mine, consensus: Any = agreement.value) -> float | None:
                nonlocal fits, fitted_at
                if consensus is None:
                    return None
                if stale(fitted_at, len(seen)):
                    fits, fitted_at = fit_answers(config, seen, len(seen)), len(seen)
                return confidence_from(config, fits, mine, consensus)

            judged = verdict(config, agreement, posterior)
            if config.adaptive is None:
                break
            known = judged.confidence
            confidence = known if known is not None or agreement.value is None else posterior()
            more = ask_another(config, len(taken), judged, confidence)
            if more is None or len(taken) == len(given):  # nobody left: the one release rule
                judged = settled(config, judged, confidence, len(taken))
                break
            taken = given[: len(taken) + 1]
            added = (taken[-1].reviewer, kind.canonical(taken[-1].value))
            mine = [*mine, added]
            seen.append((item, *added))
        if judged.signs_off:
            confidence = judged.confidence if judged.confidence is not None else posterior()
            decisions.append(
                Decision(item, "consensus", agreement.value, confidence, taken, judged.reason, gold)
            )
        else:
            decisions.append(Decision(item, "lead", gold, None, taken, judged.reason, gold))
    return decisions


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _accuracy(decisions: Sequence[Decision]) -> float | None:
    judged = [d.correct for d in decisions if d.correct is not None]
    return sum(judged) / len(judged) if judged else None


def report(config: ProjectConfig, answers: Sequence[Answer], overrides: dict) -> Report:
    decisions = replay(config, answers)
    n = len(decisions)
    auto = [d for d in decisions if d.method == "consensus"]
    # A lead's decision is the gold value: signed-off accuracy counts it as right.
    signed = [d for d in decisions if d.value is not None]
    calibrated = [d for d in auto if d.confidence is not None and d.correct is not None]
    confidence = [float(d.confidence or 0.0) for d in calibrated]
    correct = [bool(d.correct) for d in calibrated]
    ece = expected_calibration_error(confidence, correct, bins=BINS) if calibrated else None
    table = reliability_table(confidence, correct, bins=BINS) if calibrated else []
    kind = kind_of(config)
    # Per reviewer, each answer the rules used: (its value, the item's decision).
    theirs: dict[str, list[tuple[Any, Decision]]] = {}
    for decision in decisions:
        for answer in decision.used:
            theirs.setdefault(answer.reviewer, []).append((kind.canonical(answer.value), decision))
    reviewers = []
    for reviewer, given in sorted(theirs.items()):
        right = [value == d.gold for value, d in given if d.gold is not None]
        agree = [value == d.value for value, d in given if d.value is not None]
        reviewers.append(
            {
                "reviewer": reviewer,
                "answers": len(given),
                "accuracy": sum(right) / len(right) if right else None,
                "agreement_with_final": sum(agree) / len(agree) if agree else None,
            }
        )
    return Report(
        config=overrides,
        items=n,
        auto_signed_share=_share(len(auto), n),
        auto_signed_accuracy=_accuracy(auto),
        signed_accuracy=_accuracy(signed),
        answers_per_item=sum(d.answers for d in decisions) / n if n else 0.0,
        lead_share=_share(n - len(auto), n),
        ece=ece,
        reliability=[
            {
                "low": b.low,
                "high": b.high,
                "count": b.items,
                "mean_confidence": b.mean_confidence,
                "accuracy": b.accuracy,
            }
            for b in table
        ],
        reviewers=reviewers,
    )


# --- rule grids ---------------------------------------------------------------------------
GRID_KEYS = ("agreement", "min_confidence", "overlap")


def parse_grid(terms: Sequence[str]) -> list[dict[str, Any]]:
    """`agreement=0.5,0.67 min_confidence=none,0.99` as every combination of overrides."""
    axes: list[list[tuple[str, Any]]] = []
    for term in terms:
        key, sep, values = term.partition("=")
        if not sep or key not in GRID_KEYS or not values:
            raise AnswersFileError(
                f"--grid {term!r}: write KEY=V1,V2 with KEY one of {', '.join(GRID_KEYS)}"
            )
        axis = []
        for raw in values.split(","):
            try:
                value: Any = None if raw.lower() == "none" else float(raw)
            except ValueError:
                raise AnswersFileError(
                    f"--grid {term!r}: {raw!r} is not a number or none"
                ) from None
            if key == "overlap":
                if value is None or value < 1 or value != int(value):
                    raise AnswersFileError(f"--grid {term!r}: overlap is a whole number >= 1")
                value = int(value)
            axis.append((key, value))
        axes.append(axis)
    return [dict(combination) for combination in itertools.product(*axes)] or [{}]


def configured(config: ProjectConfig, overrides: dict[str, Any]) -> ProjectConfig:
    """The project config with a grid point's overrides, checked as a project file is."""
    data = config.model_dump()
    for key, value in overrides.items():
        if key == "min_confidence":
            data["sign_off"]["min_confidence"] = value
        else:
            data[key] = value
    # The answers file says who reviewed: a group stands for them, so no pool bounds overlap.
    data["reviewers"], data["reviewer_group"] = [], "S0SIMULATED"
    try:
        return type(config).model_validate(data)
    except ValueError as exc:
        raise AnswersFileError(f"--grid {overrides}: {exc}") from None


def simulate(
    config: ProjectConfig, answers: Sequence[Answer], grid: Sequence[str] = ()
) -> list[Report]:
    return [
        report(configured(config, overrides), answers, overrides) for overrides in parse_grid(grid)
    ]
