"""Posterior confidence in an item's consensus, for the sign-off rule's ``min_confidence``.

- **Labels** (and each **rating** criterion, whose scale points are the classes): Dawid-Skene
  over the project's answers gives every reviewer a confusion matrix and the project class
  priors. An item's posterior is then closed-form, ``P(k | answers) ∝ prior_k ·
  Π_reviewers confusion[r, k, answer_r]``, and the confidence is the posterior of the
  consensus class (for ratings, the lowest over criteria). Multi-label answers use each
  distinct label set seen in the project as a class.
- **Preferences** (the kind's ``vote_posterior``): ``preference_confidence`` on the item's own votes (a Beta posterior that
  the majority-preferred response really is better; "Tie" and "Both bad" votes count half
  each way). A consensus of "tie" or "both_bad" has no posterior.
- **Corrections** and **rankings** have none: edits only sign off when unanimous, rankings
  are judged by Kendall's W (bot/kinds/).

Small projects: Dawid-Skene's class priors collapse onto the classes seen in a handful of
items, which would make every posterior ~1, so the priors used here are add-one smoothed
with the number of items fitted, and confusion matrices get a Dirichlet pseudo-count.

Keeping it fast: the fit is cached per project (and per criterion and class list). While a
project has at most ``REFIT_EVERY_DECISION_BELOW`` answers the fit is redone at every
decision, so the item's own answers are in it (about 30 ms at 5,000 answers on SQLite, most
of it reading the answers). Above that, the cached confusion matrices are reused until the
project's answer count has grown by ``REFIT_GROWTH`` since the fit (a decision then costs
one count query, ~15 ms at 60,000 answers; a refit ~0.6 s); a reviewer the cached fit has
not seen gets the average confusion matrix. The cache lives in the process: each bot
process refits on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlmodel import Session

from bot.config.project import ProjectConfig
from bot.kinds.base import Facet
from bot.kinds.registry import kind_of
from bot.quality import dawid_skene
from storage import quality_queries
from storage.models import Project

REFIT_EVERY_DECISION_BELOW = 5000
REFIT_GROWTH = 0.10
SMOOTHING = 0.5  # Dirichlet pseudo-count: tempers reviewers with only a few answers
PRIOR_PSEUDOCOUNT = 1.0


@dataclass(frozen=True)
class _Fit:
    classes: tuple[str, ...]
    raters: dict[str, int]
    log_confusion: np.ndarray  # (raters, true, observed)
    log_mean_confusion: np.ndarray  # (true, observed), for reviewers the fit has not seen
    log_priors: np.ndarray
    n_answers: int
    reliability: dict[str, float]


_cache: dict[tuple, _Fit] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def facets(config: ProjectConfig) -> list[Facet]:
    """The categorical questions Dawid-Skene is fitted on for this project's kind."""
    return kind_of(config).facets(config)


def _fit(facet: Facet, answers: Sequence[tuple[int, str, Any]], n_answers: int) -> _Fit | None:
    coded = [
        (item, rater, code)
        for item, rater, value in answers
        if (code := facet.code(value)) is not None
    ]
    classes = facet.classes or tuple(sorted({code for _, _, code in coded}))
    index = {c: i for i, c in enumerate(classes)}
    coded = [row for row in coded if row[2] in index]
    if not coded or len(classes) < 2:
        return None
    item_ids = {item: i for i, item in enumerate(dict.fromkeys(item for item, _, _ in coded))}
    raters = {rater: i for i, rater in enumerate(dict.fromkeys(rater for _, rater, _ in coded))}
    result = dawid_skene(
        np.fromiter((item_ids[i] for i, _, _ in coded), dtype=np.int64, count=len(coded)),
        np.fromiter((raters[r] for _, r, _ in coded), dtype=np.int64, count=len(coded)),
        np.fromiter((index[c] for _, _, c in coded), dtype=np.int64, count=len(coded)),
        n_classes=len(classes),
        smoothing=SMOOTHING,
    )
    with np.errstate(divide="ignore"):
        log_confusion = np.log(result.confusion)
        log_mean = np.log(result.confusion.mean(axis=0))
        # Add-one smoothing of the class priors: with a handful of items Dawid-Skene's
        # priors collapse onto the classes seen, which would make every posterior ~1.
        n_items = len(item_ids)
        log_priors = np.log(
            (result.priors * n_items + PRIOR_PSEUDOCOUNT)
            / (n_items + PRIOR_PSEUDOCOUNT * len(classes))
        )
    return _Fit(
        classes=classes,
        raters=raters,
        log_confusion=log_confusion,
        log_mean_confusion=log_mean,
        log_priors=log_priors,
        n_answers=n_answers,
        reliability={r: float(result.reliability[i]) for r, i in raters.items()},
    )


def _cache_key(session: Session, project: Project, facet: Facet, config: ProjectConfig) -> tuple:
    bind = session.get_bind()
    return (
        str(bind.engine.url),
        project.id,
        project.created_at.isoformat() if project.created_at else None,
        config.kind,
        facet.name,
        facet.classes,
    )


def project_fits(
    session: Session, project: Project, config: ProjectConfig, *, force: bool = False
) -> dict[str, _Fit]:
    """The project's Dawid-Skene fit per facet, refitted when stale (see module docs)."""
    wanted = facets(config)
    if not wanted:
        return {}
    assert project.id is not None  # a stored project
    count = quality_queries.count_project_answers(session, project.id)
    keys = {f.name: _cache_key(session, project, f, config) for f in wanted}
    with _lock:
        cached = {name: _cache.get(key) for name, key in keys.items()}
    fresh = all(fit is not None and not stale(fit.n_answers, count) for fit in cached.values())
    if fresh and not force:
        return {name: fit for name, fit in cached.items() if fit is not None}
    rows = quality_queries.project_answer_values(session, project.id)
    kind = kind_of(config)
    answers = [(item, reviewer, kind.canonical(value)) for item, reviewer, value in rows]
    fits = fit_answers(config, answers, count)
    with _lock:
        for name, fit in fits.items():
            _cache[keys[name]] = fit
    return fits


def fit_answers(
    config: ProjectConfig, answers: Sequence[tuple[Any, str, Any]], n_answers: int
) -> dict[str, _Fit]:
    """Dawid-Skene per facet on (item, reviewer, canonical value) answers; facets with
    too little to fit on are left out."""
    fits: dict[str, _Fit] = {}
    for facet in facets(config):
        fit = _fit(facet, answers, n_answers)
        if fit is not None:
            fits[facet.name] = fit
    return fits


def stale(fitted_at: int | None, count: int) -> bool:
    """Whether a fit made at `fitted_at` answers is refitted at `count` (see the module's
    docs: at every decision while the project is small, then on growth)."""
    if fitted_at is None or count <= REFIT_EVERY_DECISION_BELOW:
        return True
    return not fitted_at <= count < fitted_at * (1 + REFIT_GROWTH)


def _class_posterior(fit: _Fit, answers: Sequence[tuple[str, str | None]]) -> np.ndarray:
    logp = fit.log_priors.copy()
    index = {c: i for i, c in enumerate(fit.classes)}
    for reviewer, code in answers:
        if code is None or code not in index:
            continue
        rater = fit.raters.get(reviewer)
        table = fit.log_confusion[rater] if rater is not None else fit.log_mean_confusion
        logp = logp + table[:, index[code]]
    logp -= logp.max()
    p = np.exp(logp)
    return p / p.sum()


def consensus_confidence(
    session: Session,
    project: Project,
    config: ProjectConfig,
    *,
    content: dict,
    answers: Sequence[tuple[str, Any]],
    consensus: Any,
) -> float | None:
    """Posterior probability that the consensus (canonical form) is right, or None when
    the kind or the answers give no posterior. ``answers`` are (reviewer, canonical value)."""
    if consensus is None:
        return None
    own = kind_of(config).vote_posterior(consensus, answers, content)
    if own is not NotImplemented:
        return own
    return confidence_from(config, project_fits(session, project, config), answers, consensus)


def confidence_from(
    config: ProjectConfig, fits: dict[str, _Fit], answers: Sequence[tuple[str, Any]], consensus: Any
) -> float | None:
    """The posterior of `consensus` under these fits (the lowest over facets), or None
    when a facet has no fit or does not know the consensus."""
    confidences = []
    for facet in facets(config):
        fit = fits.get(facet.name)
        target = facet.code(consensus)
        if fit is None or target is None or target not in fit.classes:
            return None
        posterior = _class_posterior(fit, [(r, facet.code(v)) for r, v in answers])
        confidences.append(float(posterior[fit.classes.index(target)]))
    return min(confidences) if confidences else None
