"""Cutting and paging sample text for Slack: limits kept, escapes whole, code blocks
closed and reopened, lists cut between items."""

from __future__ import annotations

import random

from bot.slack.conversation import (
    FENCE,
    SECTION_CHARS,
    Part,
    cut,
    pages,
    preview_blocks,
    split,
)
from bot.slack.text import escape_mrkdwn

CODE = "```\n" + "\n".join(f"line_{n} = compute({n}) & check" for n in range(400)) + "\n```"
LIST = "\n".join(f"- item {n}: keep this whole" for n in range(300))


def test_short_text_is_not_cut():
    assert cut("hello", 100) == ("hello", False)


def test_cut_closes_an_open_code_block_and_marks_the_cut():
    text, was_cut = cut(escape_mrkdwn("intro\n" + CODE), 500)
    assert was_cut and len(text) <= 500
    assert text.count(FENCE) % 2 == 0
    assert text.endswith("…")


def test_cut_never_splits_an_escape():
    text = escape_mrkdwn("<" * 1000)  # "&lt;" repeated
    for limit in range(40, 80):
        cut_text, _ = cut(text, limit)
        body = cut_text.rstrip(" …")
        assert body.endswith("&lt;") and len(cut_text) <= limit


def test_cut_keeps_list_items_whole():
    text, _ = cut(LIST, 1000)
    lines = text.rstrip(" …").split("\n")
    assert all(line.endswith("keep this whole") for line in lines)


def test_split_keeps_everything_within_the_limit():
    text = escape_mrkdwn("Intro <b>\n" + LIST + "\n" + CODE + "\nOutro")
    chunks = split(text, 1500)
    assert len(chunks) > 5
    assert all(len(chunk) <= 1500 for chunk in chunks)
    assert all(chunk.count(FENCE) % 2 == 0 for chunk in chunks)
    joined = "\n".join(chunks)
    for n in (0, 150, 299):
        assert f"- item {n}: keep this whole" in joined
    for n in (0, 200, 399):
        assert f"line_{n} = compute({n}) &amp; check" in joined


def test_split_hard_splits_a_line_without_breaks():
    line = escape_mrkdwn("&" * 10_000)
    chunks = split(line, 1000)
    assert all(len(chunk) <= 1000 for chunk in chunks)
    assert "".join(chunks) == line  # every "&amp;" whole, nothing lost


def test_split_random_text_never_exceeds_the_limit():
    rng = random.Random(7)
    words = ["word", "```", "- item", "&", "<x>", "\n", "long" * 50]
    for _ in range(50):
        text = escape_mrkdwn(" ".join(rng.choice(words) for _ in range(rng.randint(100, 2000))))
        assert all(len(chunk) <= SECTION_CHARS for chunk in split(text))


def test_preview_keeps_the_turn_under_review_and_counts_the_rest():
    turns = [{"role": "user", "content": f"question {n} " * 100} for n in range(30)]
    turns.append({"role": "assistant", "content": "THE ANSWER"})
    preview = preview_blocks([Part(None, turns)], max_blocks=20)
    texts = [b.to_dict() for b in preview.blocks]
    joined = str(texts)
    assert preview.truncated and len(preview.blocks) <= 20
    assert "THE ANSWER" in joined and "question 0" in joined
    assert "turns not shown here" in joined


def test_pages_respect_block_and_character_budgets():
    turns = [{"role": "user", "content": LIST}, {"role": "assistant", "content": CODE * 3}]
    result = pages([Part(None, turns)], max_blocks=10, max_chars=8000)
    assert len(result) > 1
    for page in result:
        assert len(page) <= 10
        assert sum(len(b.to_dict()["text"]["text"]) for b in page) <= 8000
