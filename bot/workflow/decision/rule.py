"""The sign-off rule itself, apart from the database: what an item's answers make of it.
`decide` applies it to a stored item; `quorum simulate` replays recorded answers through
it, so both decide alike by construction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.config.project import ProjectConfig
from bot.kinds.base import ItemAgreement

LEAD_SIGNS_OFF_ALL = "project asks a lead to sign off every item"  # an escalation reason


def meets_agreement(share: float, threshold: float) -> bool:
    """Compare as the share is shown, to two decimals: "agreement: 0.67" reads as
    "two of three", and 2/3 = 0.6667 must pass it."""
    return round(share, 2) >= threshold


@dataclass(frozen=True)
class Verdict:
    """Sign off the consensus (`signs_off`), or send the item to a lead because of
    `reason`; `confidence` is the posterior when the rule computed one."""

    signs_off: bool
    reason: str
    confidence: float | None = None


def verdict(
    config: ProjectConfig, agreement: ItemAgreement, posterior: Callable[[], float | None]
) -> Verdict:
    """In order: a tie, agreement under the threshold, or a kind rule (an edited
    correction) goes to a lead; with `sign_off.min_confidence` set, a posterior
    (`posterior()`, asked only then) under it does too, and so does a consensus with no
    posterior at all; with `sign_off.lead_signs_off_all`
    everything else does. Otherwise the consensus is signed off."""
    if agreement.tied:
        return Verdict(False, "tie between answers")
    if not meets_agreement(agreement.share, config.agreement):
        return Verdict(False, f"agreement {agreement.share:.2f} < {config.agreement:.2f}")
    if agreement.needs_lead:
        return Verdict(False, agreement.needs_lead)
    confidence = None
    bound = config.sign_off.min_confidence
    if bound is not None:
        confidence = posterior()
        if confidence is None:
            # No posterior (no fit yet, or the consensus is a class the fit has not seen):
            # the gate cannot be shown to hold, so a lead decides rather than nobody.
            return Verdict(False, f"no posterior for the consensus; min_confidence {bound:g}")
        if confidence < bound:
            # The bound as configured, the posterior with as many digits as it takes.
            digits = max(2, len(f"{bound:g}".partition(".")[2]))
            while round(confidence, digits) >= bound and digits < 6:
                digits += 1
            return Verdict(False, f"posterior {confidence:.{digits}f} < {bound:g}", confidence)
    if config.leads_sign_off_all:
        return Verdict(False, LEAD_SIGNS_OFF_ALL, confidence)
    return Verdict(True, agreement.describe(), confidence)


def ask_another(
    config: ProjectConfig, answered: int, judged: Verdict, confidence: float | None
) -> str | None:
    """Why an adaptive overlap asks one more reviewer for an item with `answered`
    answers (its consensus' `confidence`), or None: under `max`, while the answers would
    go to a lead or the confidence is under the target."""
    adaptive = config.adaptive
    if adaptive is None or answered >= adaptive.max or judged.reason == LEAD_SIGNS_OFF_ALL:
        return None
    asking = f"asking reviewer {answered + 1} (at most {adaptive.max})"
    if not judged.signs_off:
        return f"{judged.reason}: {asking}"
    if confidence is None or confidence < adaptive.target_confidence:
        return f"{_under_target(confidence, adaptive.target_confidence)}: {asking}"
    return None


def settled(
    config: ProjectConfig, judged: Verdict, confidence: float | None, answered: int
) -> Verdict:
    """The verdict once nobody more is asked: with an adaptive overlap, a consensus still
    under its target goes to a lead."""
    adaptive = config.adaptive
    if adaptive is None or not judged.signs_off:
        return judged
    if confidence is not None and confidence >= adaptive.target_confidence:
        return Verdict(True, judged.reason, confidence)
    reason = f"{_under_target(confidence, adaptive.target_confidence)} after {answered} reviewers"
    return Verdict(False, reason, confidence)


def _under_target(confidence: float | None, target: float) -> str:
    shown = "no posterior" if confidence is None else f"confidence {confidence:.2f}"
    return f"{shown} < target {target:g}"
