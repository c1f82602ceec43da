"""Bradley-Terry strengths and per-pair preference confidence."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

from bot.quality.bradley_terry import (
    PREFER_A,
    PREFER_B,
    TIE,
    _betainc_half,
    _gammaln,
    bradley_terry,
    preference_confidence,
)


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation without scipy (no ties in continuous data)."""
    ra = np.argsort(np.argsort(a))
    rb = np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _comparisons(n_items: int, n: int, seed: int, spread: float = 1.5):
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, spread, n_items)
    i = rng.integers(0, n_items, n)
    j = (i + rng.integers(1, n_items, n)) % n_items
    i_wins = rng.random(n) < 1.0 / (1.0 + np.exp(strength[j] - strength[i]))
    return strength, i, j, np.where(i_wins, i, j), np.where(i_wins, j, i)


def test_recovers_true_ordering() -> None:
    strength, _, _, winners, losers = _comparisons(40, 30_000, seed=0)
    res = bradley_terry(winners, losers)
    assert res.converged
    assert _rank_corr(res.scores, strength) > 0.98
    # scores are on the log-odds scale of the generating model
    slope = np.polyfit(strength - strength.mean(), res.scores - res.scores.mean(), 1)[0]
    assert slope == pytest.approx(1.0, abs=0.1)
    assert res.ranking()[0] == int(np.argmax(res.scores))


def test_ranking_agrees_with_crowdkit() -> None:
    pd = importlib.import_module("pandas")
    bt_cls = importlib.import_module("crowdkit.aggregation").BradleyTerry
    _, left, right, winners, losers = _comparisons(25, 8_000, seed=1)
    df = pd.DataFrame({"worker": 0, "left": left, "right": right, "label": winners})
    # crowd-kit 1.4.2 aliases p_old to p_new, so it always stops after two MM steps; its
    # ranking is still close to the optimum on well-mixed data.
    ck = bt_cls(n_iter=100).fit_predict(df).sort_index().to_numpy()
    ours = bradley_terry(winners, losers)
    assert _rank_corr(np.log(ck), ours.scores) > 0.97


def test_mle_satisfies_score_equations() -> None:
    """With prior=0 the fit is the MLE: each item's expected wins equal its observed wins."""
    _, _, _, winners, losers = _comparisons(15, 5_000, seed=2)
    res = bradley_terry(winners, losers, prior=0.0, tol=1e-12)
    p = 1.0 / (1.0 + np.exp(res.scores[losers] - res.scores[winners]))
    expected = np.bincount(winners, weights=p, minlength=15) + np.bincount(
        losers, weights=1.0 - p, minlength=15
    )
    np.testing.assert_allclose(expected, res.wins, atol=1e-6)
    assert abs(res.scores.mean()) < 1e-12


def test_map_is_stationary_on_chain_graph() -> None:
    """Sparse chain-like graphs are where plain MM crawls; the accelerated fit must still
    land on the MAP: wins - expected wins + prior (1 - 2 sigmoid(s)) = 0 for every item."""
    rng = np.random.default_rng(4)
    n = 300
    strength = np.cumsum(rng.normal(0, 0.3, n))
    i = rng.integers(0, n - 3, 6000)
    j = i + rng.integers(1, 4, 6000)  # only near neighbours are compared: a long chain
    i_wins = rng.random(i.size) < 1.0 / (1.0 + np.exp(strength[j] - strength[i]))
    winners, losers = np.where(i_wins, i, j), np.where(i_wins, j, i)
    for prior in (0.5, 0.0):
        res = bradley_terry(winners, losers, prior=prior, tol=1e-12, max_iter=20_000)
        assert res.converged
        p = 1.0 / (1.0 + np.exp(res.scores[losers] - res.scores[winners]))
        expected = np.bincount(winners, weights=p, minlength=n) + np.bincount(
            losers, weights=1.0 - p, minlength=n
        )
        grad = res.wins - expected + prior * (1.0 - 2.0 / (1.0 + np.exp(-res.scores)))
        np.testing.assert_allclose(grad, 0.0, atol=1e-7)
    # the MLE recovers the chain; the prior shrinks it (weakly determined far apart)
    assert _rank_corr(res.scores, strength) > 0.9


def test_prior_keeps_extremes_finite() -> None:
    # item 0 always wins, item 2 always loses, item 4 never compared
    res = bradley_terry([0, 0, 0, 1, 3], [1, 2, 1, 2, 1], n_items=5)
    assert np.isfinite(res.scores).all()
    assert res.scores[4] == pytest.approx(0.0, abs=1e-9)
    assert res.scores[0] > res.scores[1] > res.scores[2]
    assert res.comparisons.tolist() == [3, 4, 2, 1, 0]
    p = res.win_probability(0, 2)
    assert 0.5 < p < 1.0
    assert res.win_probability(2, 0) == pytest.approx(1.0 - p)
    np.testing.assert_allclose(res.win_probability([0, 1], [1, 0]).sum(), 1.0)


def test_ties_count_half_and_are_symmetric() -> None:
    res = bradley_terry([0, 1], [1, 0], ties=[True, True])
    assert res.wins.tolist() == [1.0, 1.0]
    assert res.scores[0] == pytest.approx(res.scores[1])
    res = bradley_terry([0, 0], [1, 1], ties=[True, False])
    assert res.wins.tolist() == [1.5, 0.5]


def test_bradley_terry_validation() -> None:
    with pytest.raises(ValueError, match="itself"):
        bradley_terry([0], [0])
    with pytest.raises(ValueError, match="same length"):
        bradley_terry([0, 1], [1])
    with pytest.raises(ValueError, match="n_items"):
        bradley_terry([0], [5], n_items=3)
    empty = bradley_terry([], [], n_items=3)
    assert empty.scores.tolist() == [0.0, 0.0, 0.0]


# --------------------------------------------------------------------------- per-pair votes


def test_preference_confidence_beta_binomial_values() -> None:
    items = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3]
    raters = [0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 2]
    votes = [
        PREFER_A, PREFER_A, PREFER_A,
        PREFER_A, PREFER_B, PREFER_A,
        PREFER_A, PREFER_B,
        PREFER_B, PREFER_B, TIE,
    ]  # fmt: skip
    res = preference_confidence(items, raters, votes)
    assert res.preferred.tolist() == [PREFER_A, PREFER_A, -1, PREFER_B]
    assert res.votes_a.tolist() == [3.0, 2.0, 1.0, 0.5]
    assert res.votes_b.tolist() == [0.0, 1.0, 1.0, 2.5]
    # uniform prior: 3/3 -> 1 - 0.5^4, 2/3 -> 11/16, tie -> 0.5
    assert res.prob_better[0] == pytest.approx(0.9375, abs=1e-12)
    assert res.prob_better[1] == pytest.approx(0.6875, abs=1e-12)
    assert res.prob_better[2] == 0.5
    special = importlib.import_module("scipy.special")
    assert res.prob_better[3] == pytest.approx(special.betainc(1.5, 3.5, 0.5), abs=1e-12)


def test_reviewer_agreement_plain_and_leave_one_out() -> None:
    items = [0, 0, 0, 1, 1, 1, 2, 2]
    raters = [0, 1, 2, 0, 1, 2, 0, 1]
    votes = [0, 0, 0, 0, 1, 0, 0, 1]
    plain = preference_confidence(items, raters, votes)
    # item 2 is tied, so it does not count
    np.testing.assert_allclose(plain.reviewer_agreement, [1.0, 0.5, 1.0])
    assert plain.reviewer_items.tolist() == [2, 2, 2]
    loo = preference_confidence(items, raters, votes, leave_one_out=True)
    np.testing.assert_allclose(loo.reviewer_agreement, [0.5, 1 / 3, 1.0])
    assert loo.reviewer_items.tolist() == [2, 3, 1]
    none = preference_confidence([0], [0], [0], n_raters=2)
    assert math.isnan(none.reviewer_agreement[1])


def test_preference_confidence_validation() -> None:
    with pytest.raises(ValueError, match="votes"):
        preference_confidence([0], [0], [3])
    with pytest.raises(ValueError, match="prior"):
        preference_confidence([0], [0], [0], prior=(0.0, 1.0))


def test_special_functions_match_scipy() -> None:
    special = importlib.import_module("scipy.special")
    x = np.array([0.5, 1.0, 1.5, 2.0, 3.7, 7.99, 8.0, 10.0, 55.5, 1000.25, 1e5])
    np.testing.assert_allclose(_gammaln(x), special.gammaln(x), rtol=0, atol=1e-12)
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.uniform(0.5, 300, 500), np.arange(1, 40, 0.5)])
    b = np.concatenate([rng.uniform(0.5, 300, 500), np.arange(1, 40, 0.5)[::-1]])
    np.testing.assert_allclose(_betainc_half(a, b), special.betainc(a, b, 0.5), atol=1e-12)
