"""The ranking kind on its own: Kendall's W, Borda consensus with ties, the rank-by-rank
draft (a duplicate refused in place, the last rank filling itself), import checks and
the exports' rows."""

from __future__ import annotations

import random

import pytest
from scipy.stats import friedmanchisquare

from bot.config.project import parse_project
from bot.intake.records import RecordError, validate_record
from bot.kinds.base import InvalidAnswer
from bot.kinds.exporting import Labelled
from bot.kinds.ranking import borda, kendalls_w
from bot.kinds.registry import kind_named

RANKING = kind_named("ranking")
CONFIG = parse_project(
    {
        "name": "rank-demo",
        "kind": "ranking",
        "question": "Order the answers, best first",
        "reviewers": ["U01ALICE", "U02BOB", "U03CARA"],
        "leads": ["U09LEAD"],
        "overlap": 3,
    }
)
CONTENT = {
    "prompt": [{"role": "user", "content": "Explain DNS"}],
    "responses": [
        {"id": "a", "content": "Phone book of the internet."},
        {"id": "b", "content": "Domain Name System."},
        {"id": "c", "content": "It resolves names to addresses via resolvers."},
    ],
}


def test_kendalls_w_matches_friedman_chi_square() -> None:
    rng = random.Random(7)
    for _ in range(20):
        items = list("abcde")
        rankings = []
        for _ in range(4):
            rng.shuffle(items)
            rankings.append(list(items))
        # Friedman's statistic takes each response's rank per reviewer (columns = reviewers).
        per_response = [[r.index(x) + 1 for r in rankings] for x in "abcde"]
        chi2 = friedmanchisquare(*per_response).statistic
        m, n = len(rankings), 5
        assert kendalls_w(rankings) == pytest.approx(chi2 / (m * (n - 1)))


def test_identical_rankings_agree_fully_and_reversed_ones_not_at_all() -> None:
    assert kendalls_w([["a", "b", "c"]] * 3) == pytest.approx(1.0)
    assert kendalls_w([["a", "b", "c"], ["c", "b", "a"]]) == pytest.approx(0.0)


def test_borda_consensus_signs_off_and_a_borda_tie_is_a_tie() -> None:
    agreed = RANKING.agreement(CONFIG, [["a", "c", "b"], ["a", "c", "b"], ["c", "a", "b"]])
    assert agreed.value == ["a", "c", "b"]
    assert not agreed.tied
    assert agreed.agreeing == 2
    assert agreed.statistic is not None and agreed.statistic[0] == "Kendall's W"
    assert borda([["a", "b"], ["b", "a"]]) == {"a": 1, "b": 1}
    tie = RANKING.agreement(CONFIG, [["a", "b", "c"], ["b", "a", "c"]])
    assert tie.tied and tie.value is None


def test_a_response_given_two_ranks_is_refused_in_place_and_the_last_rank_fills_itself() -> None:
    shown = {"order": ["b", "a", "c"]}
    first = RANKING.step(CONFIG, CONTENT, shown, {}, {"slot": 0, "value": "c"})
    assert first.value is None and first.draft["ranks"] == {"0": "c"}
    refused = RANKING.step(CONFIG, CONTENT, shown, first.draft, {"slot": 1, "value": "c"})
    assert refused.value is None and refused.draft == first.draft
    assert refused.notice is not None and "Response C" in refused.notice and "1st" in refused.notice
    done = RANKING.step(CONFIG, CONTENT, shown, first.draft, {"slot": 1, "value": "b"})
    assert done.value == {"order": ["c", "b", "a"], "shown": ["b", "a", "c"]}
    assert RANKING.validate(CONFIG, done.value) is None
    assert RANKING.describe_answer(CONFIG, done.value, shown) == "C > A > B"
    with pytest.raises(InvalidAnswer):
        RANKING.step(CONFIG, CONTENT, shown, {}, {"slot": 5, "value": "a"})


def test_import_needs_three_to_six_distinct_responses_and_a_full_gold_order() -> None:
    record = validate_record({"id": "r-1", **CONTENT, "gold": ["c", "a", "b"]}, CONFIG)
    assert record.id == "r-1"
    with pytest.raises(RecordError, match="responses"):
        validate_record({"id": "r-2", **CONTENT, "responses": CONTENT["responses"][:2]}, CONFIG)
    with pytest.raises(RecordError, match="different ids"):
        twice = [*CONTENT["responses"][:2], {"id": "a", "content": "again"}]
        validate_record({"id": "r-3", "prompt": CONTENT["prompt"], "responses": twice}, CONFIG)
    with pytest.raises(RecordError, match="field `gold`"):
        validate_record({"id": "r-4", **CONTENT, "gold": ["a", "b"]}, CONFIG)


def _labelled(order: list[str]) -> Labelled:
    return Labelled(
        id="r-1",
        project="rank-demo",
        kind="ranking",
        value=order,
        status="signed_off",
        method="consensus",
        agreement=0.78,
        confidence=None,
        config_version=1,
        signed_off_at="2026-12-01T10:00:00+00:00",
        signed_off_by=None,
        metadata=None,
        content_hash="x",
        provenance={"responses": []},
        content=CONTENT,
    )


def test_exports_keep_the_order_and_expand_it_into_pairwise_preferences() -> None:
    formats = {f.name: f for f in RANKING.export_formats}
    ((_, row),) = formats["ranking"].build(_labelled(["c", "a", "b"]), None)
    assert [(r["id"], r["rank"]) for r in row["responses"]] == [("c", 1), ("a", 2), ("b", 3)]
    pairs = [row for _, row in formats["dpo"].build(_labelled(["c", "a", "b"]), None)]
    assert [p["id"] for p in pairs] == ["r-1:c>a", "r-1:c>b", "r-1:a>b"]
    assert pairs[0]["chosen"][0]["content"] == CONTENT["responses"][2]["content"]
    assert pairs[0]["rejected"][0]["content"] == CONTENT["responses"][0]["content"]
    assert pairs[0]["prompt"] == [{"role": "user", "content": "Explain DNS"}]


def test_a_model_ranking_is_checked_against_the_item_and_read_as_response_ids() -> None:
    assert RANKING.llm_value(CONFIG, CONTENT, ["C", "A", "B"]) == ["C", "A", "B"]
    for wrong in (["A", "B", "F"], ["A", "B"], ["A", "A", "B"], "ABC"):
        with pytest.raises(InvalidAnswer):
            RANKING.llm_value(CONFIG, CONTENT, wrong)
    # Letters are positions in the item's own order: what auto-acceptance signs off.
    assert RANKING.model_value(CONTENT, ["C", "A", "B"]) == ["c", "a", "b"]
    assert RANKING.model_agrees(CONTENT, ["C", "A", "B"], ["c", "a", "b"])
    assert not RANKING.model_agrees(CONTENT, ["A", "C", "B"], ["c", "a", "b"])


def test_whole_orders_from_a_button_are_refused_and_only_ranks_are_answers() -> None:
    with pytest.raises(InvalidAnswer, match="rank by rank"):
        RANKING.decode(CONFIG, CONTENT, None, {"order": ["x", "y", "z"]})
    done = {"order": ["c", "b", "a"], "shown": ["b", "a", "c"]}
    assert RANKING.step_repeats(done, {"slot": 1, "value": "b"})
    assert not RANKING.step_repeats(done, {"slot": 1, "value": "a"})


def test_the_response_put_first_is_what_position_bias_counts() -> None:
    assert RANKING.first_choice(["c", "b", "a"]) == "c"
    preference = kind_named("preference")
    assert preference.first_choice("resp-1") == "resp-1"
    assert preference.first_choice("tie") is None


def test_leads_buttons_stay_readable_with_long_response_ids() -> None:
    ids = [f"response-with-a-very-long-identifier-{n}" for n in range(6)]
    text = RANKING.describe(CONFIG, ids)
    assert len(f"Accept: {text}") <= 75 + 30  # each id shortened, the order still visible
    assert text.count(" > ") == 5
    assert RANKING.describe(CONFIG, list(reversed(ids))) != text
