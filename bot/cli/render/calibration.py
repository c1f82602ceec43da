"""What `quorum calibrate` prints: the calibration table, the proposed threshold and the
audited items where people overruled the model."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bot.workflow.feedback import CalibrationReport

MAX_DISAGREEMENTS = 50


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def bucket_table(report: CalibrationReport) -> Table:
    weighted = any(case.weight != 1.0 for case in report.cases)
    table = Table(title=f"Calibration of {report.project} (config v{report.config_version})")
    table.add_column("confidence", no_wrap=True)
    table.add_column("items", justify="right")
    if weighted:
        table.add_column("represents", justify="right")
    table.add_column("mean confidence", justify="right")
    table.add_column("accuracy", justify="right")
    table.add_column("gap", justify="right")
    for bucket in report.buckets:
        closing = "]" if bucket.high >= 1 else ")"
        row: list[str | Text] = [
            f"[{bucket.low:.2f}, {bucket.high:.2f}{closing}",
            str(bucket.items),
        ]
        if weighted:
            row.append(f"{bucket.weight:.0f}")
        gap = bucket.gap
        shown_gap = "–" if gap is None else f"{gap:+.1%}"
        style = "red" if gap is not None and gap < -0.05 else ""
        row += [_pct(bucket.mean_confidence), _pct(bucket.accuracy), Text(shown_gap, style=style)]
        table.add_row(*row)
    return table


def proposal_text(report: CalibrationReport) -> Text:
    p = report.proposal
    lines = [
        f"{len(report.cases)} human-labelled item(s) with a model confidence.",
        "Expected calibration error: "
        + ("–" if report.ece is None else f"{report.ece:.3f}")
        + f" ({report.bins} buckets).",
        f"Current threshold: {report.current_threshold:.2f} (audit rate {report.audit_rate:.1%}).",
    ]
    if p.threshold is None:
        lines.append(
            f"No threshold keeps auto-accepted precision at or above {p.target:.0%} with "
            f"{p.level:.0%} confidence: keep sending items to reviewers, or label more."
        )
    else:
        lines.append(
            f"Proposed threshold: {p.threshold:.3f}: precision {p.precision:.1%} "
            f"({p.level:.0%} lower bound {p.lower_bound:.1%}, target {p.target:.0%}) "
            f"over {p.items} item(s) (effective {p.effective_items:.0f}); "
            f"about {p.coverage:.0%} of items would be auto-accepted."
        )
    return Text("\n".join(lines))


def disagreement_table(report: CalibrationReport) -> Table | Text:
    cases = report.disagreements
    if not cases:
        return Text("No audited item where reviewers overruled the model.")
    table = Table(title=f"Audited items where reviewers overruled the model ({len(cases)})")
    table.add_column("item", no_wrap=True)
    table.add_column("model said")
    table.add_column("confidence", justify="right")
    table.add_column("people said")
    table.add_column("how")
    for case in sorted(cases, key=lambda c: -c.confidence)[:MAX_DISAGREEMENTS]:
        table.add_row(
            case.external_id,
            _show(case.model_value),
            f"{case.confidence:.2f}",
            _show(case.human_value),
            case.method,
        )
    return table


def calibration_renderable(report: CalibrationReport) -> RenderableType:
    return Group(bucket_table(report), proposal_text(report), disagreement_table(report))
