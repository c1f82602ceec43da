"""Dawid-Skene: parity with crowd-kit 1.4.2, accuracy, and edge cases."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from bot.quality.dawid_skene import dawid_skene


def synthetic(
    n_items: int = 3000,
    answers: int = 5,
    n_raters: int = 25,
    k: int = 4,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Items answered by `answers` distinct raters of accuracy 0.35-0.95, errors uniform."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_items)
    accuracy = rng.uniform(0.35, 0.95, n_raters)
    raters = np.argsort(rng.random((n_items, n_raters)), axis=1)[:, :answers].ravel()
    items = np.repeat(np.arange(n_items), answers)
    correct = rng.random(items.size) < accuracy[raters]
    wrong = (truth[items] + rng.integers(1, k, items.size)) % k
    labels = np.where(correct, truth[items], wrong)
    return items, raters, labels, truth, accuracy


def _crowdkit(items, raters, labels, **kwargs):
    pd = importlib.import_module("pandas")
    ds_cls = importlib.import_module("crowdkit.aggregation").DawidSkene
    df = pd.DataFrame({"task": items, "worker": raters, "label": labels})
    model = ds_cls(**kwargs)
    probas = model.fit_predict_proba(df).sort_index()
    return model, probas


def test_posteriors_match_crowdkit_for_same_iterations() -> None:
    items, raters, labels, _, _ = synthetic(n_items=600, k=3, seed=1)
    model, probas = _crowdkit(items, raters, labels, n_iter=8, tol=-np.inf)
    ours = dawid_skene(items, raters, labels, max_iter=8, tol=-np.inf, smoothing=0)
    assert ours.n_iter == len(model.loss_history_) == 8
    # crowd-kit clips its returned posteriors at 1e-10, hence the tolerance
    np.testing.assert_allclose(ours.posteriors, probas[[0, 1, 2]].to_numpy(), atol=1e-9, rtol=0)
    np.testing.assert_allclose(ours.priors, model.priors_.sort_index().to_numpy(), atol=1e-12)
    errors = model.errors_
    for (worker, observed), row in errors.iterrows():
        np.testing.assert_allclose(
            ours.confusion[worker, :, observed], row[[0, 1, 2]].to_numpy(), atol=1e-12
        )


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_accuracy_at_least_crowdkit(seed: int) -> None:
    items, raters, labels, truth, _ = synthetic(n_items=2000, seed=seed)
    _, probas = _crowdkit(items, raters, labels)
    ck_labels = probas.idxmax(axis=1).to_numpy()
    ours = dawid_skene(items, raters, labels)
    ck_acc = float(np.mean(ck_labels == truth))
    our_acc = float(np.mean(ours.labels == truth))
    assert our_acc >= ck_acc - 0.001
    # crowd-kit's bound adds log-priors per answer, so it may run a few more iterations;
    # the labels still agree almost everywhere
    assert np.mean(ours.labels == ck_labels) >= 0.99
    assert ours.converged and ours.n_iter < 100
    # and DS beats plain majority vote on raters of uneven skill
    counts = np.zeros((truth.size, 4))
    np.add.at(counts, (items, labels), 1)
    assert our_acc > np.mean(counts.argmax(axis=1) == truth)


def test_reliability_tracks_true_accuracy() -> None:
    items, raters, labels, _, accuracy = synthetic(n_items=4000, seed=3)
    res = dawid_skene(items, raters, labels)
    assert np.corrcoef(res.reliability, accuracy)[0, 1] > 0.95
    np.testing.assert_allclose(res.confusion.sum(axis=2), 1.0, atol=1e-12)
    np.testing.assert_allclose(res.posteriors.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(res.confidence, res.posteriors.max(axis=1))
    assert res.priors.sum() == pytest.approx(1.0)


def test_answer_order_does_not_matter() -> None:
    items, raters, labels, _, _ = synthetic(n_items=800, seed=4)
    perm = np.random.default_rng(0).permutation(items.size)
    a = dawid_skene(items, raters, labels)
    b = dawid_skene(items[perm], raters[perm], labels[perm])
    np.testing.assert_allclose(a.posteriors, b.posteriors, atol=1e-12)
    assert a.n_iter == b.n_iter


def test_unanswered_items_and_idle_raters() -> None:
    items = np.array([0, 0, 0, 2, 2, 2])
    raters = np.array([0, 1, 2, 0, 1, 2])
    labels = np.array([1, 1, 0, 0, 0, 0])
    res = dawid_skene(items, raters, labels, n_classes=3, n_items=4, n_raters=5)
    assert res.posteriors.shape == (4, 3) and res.confusion.shape == (5, 3, 3)
    assert res.labels[1] == -1 and res.labels[3] == -1
    assert np.isnan(res.confidence[1])
    np.testing.assert_allclose(res.posteriors[1], res.priors)
    np.testing.assert_allclose(res.confusion[3:], 1.0 / 3)
    assert np.isnan(res.reliability[3:]).all()
    assert res.labels[0] == 1 and res.labels[2] == 0


def test_single_rater_and_unanimous_answers_are_finite() -> None:
    res = dawid_skene([0, 1, 2, 3], [0, 0, 0, 0], [0, 1, 1, 0])
    assert res.labels.tolist() == [0, 1, 1, 0]
    res = dawid_skene([0, 0, 1, 1], [0, 1, 0, 1], [2, 2, 2, 2], n_classes=3)
    assert res.labels.tolist() == [2, 2]
    assert np.isfinite(res.posteriors).all() and np.isfinite(res.lower_bound)


def test_tied_majority_start_is_resolved_by_rater_skill() -> None:
    # raters 0-2 agree with each other everywhere; rater 3 is noise. On item 9 the vote is
    # 1-1: rater 0 (reliable) says 1, rater 3 says 0, so DS should pick 1.
    rng = np.random.default_rng(8)
    truth = rng.integers(0, 2, 9)
    items, raters, labels = [], [], []
    for i, t in enumerate(truth):
        for r in range(3):
            items.append(i), raters.append(r), labels.append(int(t))
        items.append(i), raters.append(3), labels.append(int(rng.integers(0, 2)))
    items += [9, 9]
    raters += [0, 3]
    labels += [1, 0]
    res = dawid_skene(items, raters, labels, smoothing=0.5)
    assert res.labels[9] == 1
    assert res.reliability[0] > res.reliability[3]


def test_smoothing_keeps_small_data_moderate() -> None:
    items, raters, labels, _, _ = synthetic(n_items=30, n_raters=10, seed=6)
    raw = dawid_skene(items, raters, labels)
    smooth = dawid_skene(items, raters, labels, smoothing=1.0)
    assert smooth.confusion.min() > 0
    assert smooth.confidence.mean() <= raw.confidence.mean()


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="no answers"):
        dawid_skene([], [], [])
    with pytest.raises(ValueError, match="same length"):
        dawid_skene([0, 1], [0], [0, 1])
    with pytest.raises(ValueError, match="n_classes"):
        dawid_skene([0, 1], [0, 0], [0, 3], n_classes=2)
    with pytest.raises(ValueError, match="integer codes"):
        dawid_skene([0, 1], [0, 0], ["a", "b"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="non-negative"):
        dawid_skene([0, -1], [0, 0], [0, 1])


def test_max_iter_zero_returns_majority_vote() -> None:
    res = dawid_skene([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [1, 1, 0, 0, 1], max_iter=0)
    np.testing.assert_allclose(res.posteriors, [[1 / 3, 2 / 3], [0.5, 0.5]])
    assert res.n_iter == 0 and not res.converged


def test_chunked_gather_matches_one_shot(monkeypatch: pytest.MonkeyPatch) -> None:
    ds_module = importlib.import_module("bot.quality.dawid_skene")  # the package re-exports
    items, raters, labels, _, _ = synthetic(n_items=700, answers=4, seed=9)
    # uneven answer counts so that items straddle chunk cuts
    keep = np.random.default_rng(1).random(items.size) < 0.8
    items, raters, labels = items[keep], raters[keep], labels[keep]
    monkeypatch.setattr(ds_module._SlotSum, "worthwhile", staticmethod(lambda c, n: False))
    one_shot = dawid_skene(items, raters, labels)
    monkeypatch.setattr(ds_module._GatherSum, "chunk_elements", 300)
    chunked = dawid_skene(items, raters, labels)
    np.testing.assert_allclose(chunked.posteriors, one_shot.posteriors, atol=1e-12)
    np.testing.assert_allclose(chunked.confusion, one_shot.confusion, atol=1e-12)
    assert chunked.n_iter == one_shot.n_iter


@pytest.mark.parametrize("drop", [0.0, 0.2])
def test_slot_and_segment_paths_agree(monkeypatch: pytest.MonkeyPatch, drop: float) -> None:
    """Per-item sums by answer slots (near-regular designs) equal the reduceat path."""
    ds_module = importlib.import_module("bot.quality.dawid_skene")
    items, raters, labels, _, _ = synthetic(n_items=500, answers=4, seed=10)
    keep = np.random.default_rng(2).random(items.size) >= drop
    items, raters, labels = items[keep], raters[keep], labels[keep]
    slots = dawid_skene(items, raters, labels)
    monkeypatch.setattr(ds_module._SlotSum, "worthwhile", staticmethod(lambda c, n: False))
    segments = dawid_skene(items, raters, labels)
    np.testing.assert_allclose(slots.posteriors, segments.posteriors, atol=1e-12)
    assert slots.n_iter == segments.n_iter


def skewed(seed: int, n_items: int = 20_000) -> tuple[np.ndarray, ...]:
    """1% positives, three raters per item of sensitivity 0.5-0.95, specificity 0.9-0.999."""
    rng = np.random.default_rng(seed)
    truth = (rng.random(n_items) < 0.01).astype(np.int64)
    sensitivity, specificity = rng.uniform(0.5, 0.95, 30), rng.uniform(0.9, 0.999, 30)
    raters = np.argsort(rng.random((n_items, 30)), axis=1)[:, :3].ravel()
    items = np.repeat(np.arange(n_items), 3)
    positive = np.where(truth[items] == 1, sensitivity[raters], 1 - specificity[raters])
    labels = (rng.random(items.size) < positive).astype(np.int64)
    return items, raters, labels, truth


@pytest.mark.parametrize("seed", [0, 3])
def test_skewed_data_runs_until_it_has_caught_up_with_crowdkit(seed: int) -> None:
    items, raters, labels, truth = skewed(seed)
    _, probas = _crowdkit(items, raters, labels)
    crowdkit = float(np.mean(probas.idxmax(axis=1).to_numpy() == truth))
    ours = dawid_skene(items, raters, labels)
    early = dawid_skene(items, raters, labels, tol=1e-5, smoothing=0)  # the old defaults
    assert float(np.mean(ours.labels == truth)) >= crowdkit - 0.0005
    assert float(np.mean(early.labels == truth)) < crowdkit - 0.0005  # stopped too soon
    assert ours.n_iter > early.n_iter


def test_a_class_nobody_chose_is_never_the_answer() -> None:
    # Raters split between classes 0 and 1 of four; without smoothing, classes 2 and 3
    # had confusion rows uniform over the two labels given and won 4 of 30 items.
    rng = np.random.default_rng(6)
    items = np.repeat(np.arange(30), 3)
    raters = np.concatenate([rng.choice(5, 3, replace=False) for _ in range(30)])
    labels = rng.integers(0, 2, items.size)
    assert set(dawid_skene(items, raters, labels, n_classes=4).labels) <= {0, 1}
    assert set(dawid_skene(items, raters, labels, n_classes=4, smoothing=0).labels) > {0, 1}
