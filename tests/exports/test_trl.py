"""The training exports go into TRL as they are: its own data utilities (is_conversational,
maybe_extract_prompt, maybe_apply_chat_template) accept every DPO, SFT and reward row,
in every form, and a tokenizer with a chat template tokenises the result. The tokenizer
is built here (no hub download): a word-level vocabulary and a ChatML template."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
from sqlmodel import Session, select
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
from trl.data_utils import (
    apply_chat_template,
    extract_prompt,
    is_conversational,
    maybe_apply_chat_template,
    maybe_extract_prompt,
)

from bot.intake.importer import ImportRejected
from storage.models import Item
from tests.exports.conftest import export_file
from tests.factories import apply, example_config, import_file, write_items

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}{% if not (loop.last and continue_final_message) %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["[UNK]", "[PAD]", "<|im_start|>", "<|im_end|>"]


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    words = ["user", "assistant", "system", "the", "a", "list", "of", "to", "and", "is", "it", "in"]
    vocab = {token: n for n, token in enumerate(SPECIAL + words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    made = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        pad_token="[PAD]",
        eos_token="<|im_end|>",
        additional_special_tokens=SPECIAL[2:],
    )
    made.chat_template = CHATML
    return made


def exported(exports, tmp_path: Path, project: str, fmt: str, form: str | None = None):
    target = export_file(exports, project, fmt, tmp_path, form=form)
    return datasets.load_dataset(
        "json", data_files=str(target), split="train", cache_dir=str(tmp_path / "hf")
    )


CASES = [
    ("code-preference", "dpo", None),
    ("code-preference", "dpo", "implicit"),
    ("answer-ranking", "dpo", None),
    ("answer-ranking", "dpo", "implicit"),
    ("legal-correction", "sft", None),
    ("legal-correction", "sft", "prompt-completion"),
    ("triage-rating", "reward", None),
    ("triage-rating", "reward", "pairs"),
    ("triage-rating", "ratings", None),
]


@pytest.mark.parametrize(("project", "fmt", "form"), CASES)
def test_trl_takes_every_training_row_and_tokenises_it(
    exports, tmp_path, tokenizer, project, fmt, form
):
    dataset = exported(exports, tmp_path, project, fmt, form)
    assert dataset.num_rows > 0
    assert all(is_conversational(row) for row in dataset)
    templated = dataset.map(maybe_extract_prompt).map(
        maybe_apply_chat_template, fn_kwargs={"processing_class": tokenizer}
    )
    text_columns = [
        c
        for c in ("prompt", "chosen", "rejected", "completion", "text")
        if c in templated.column_names
    ]
    assert text_columns
    for row in templated:
        for column in text_columns:
            assert isinstance(row[column], str) and row[column]
            assert tokenizer(row[column])["input_ids"]
    if "prompt" in templated.column_names:  # every prompt ends asking the assistant
        assert all(row["prompt"].endswith("<|im_start|>assistant\n") for row in templated)


def test_the_implicit_form_extracts_to_the_explicit_rows(exports, tmp_path):
    explicit = list(exported(exports, tmp_path, "code-preference", "dpo"))
    implicit = list(exported(exports, tmp_path, "code-preference", "dpo", "implicit"))
    assert "prompt" not in implicit[0]
    for wide, narrow in zip(explicit, implicit, strict=True):
        extracted = extract_prompt(narrow)
        assert (extracted["prompt"], extracted["chosen"], extracted["rejected"]) == (
            wide["prompt"],
            wide["chosen"],
            wide["rejected"],
        )


def test_dpo_rows_carry_a_margin_from_strength_and_agreement(exports, tmp_path):
    rows = {row["id"]: row for row in exported(exports, tmp_path, "code-preference", "dpo")}
    # cp-1: b much (+1), b slightly (+0.5), a (-0.75: no strength given): 0.25 on average.
    assert rows["cp-1"]["margin"] == pytest.approx(0.25)
    assert rows["cp-1"]["strength"] in ("much", "slightly")
    assert rows["cp-1"]["agreement"] == pytest.approx(2 / 3)
    assert rows["cp-2"]["margin"] == 1.0 and rows["cp-2"]["strength"] == "much"
    pairs = {row["id"]: row for row in exported(exports, tmp_path, "answer-ranking", "dpo")}
    assert pairs["ar-1:b>c"]["margin"] == 1.0 and pairs["ar-1:b>a"]["margin"] == 0.5


def test_sft_prompt_completion_trains_only_the_signed_off_turn(exports, tmp_path):
    rows = list(exported(exports, tmp_path, "legal-correction", "sft", "prompt-completion"))
    messages = list(exported(exports, tmp_path, "legal-correction", "sft"))
    for row, whole in zip(rows, messages, strict=True):
        assert row["completion"] == whole["messages"][-1:]
        assert row["prompt"] == whole["messages"][:-1]
        assert row["prompt"][-1]["role"] == "user"


def test_reward_rows_hold_the_rated_text_and_a_kto_label(exports, tmp_path):
    rows = {row["id"]: row for row in exported(exports, tmp_path, "triage-rating", "reward")}
    first = rows["tr-1"]
    assert first["prompt"] == [{"role": "user", "content": "Chest pain for 20 minutes"}]
    assert first["completion"] == [{"role": "assistant", "content": "Call 911 now."}]
    assert {s["criterion"] for s in first["scores"]} == {"helpfulness", "correctness", "safety"}
    assert 0 <= first["score"] <= 1 and first["label"] == (first["score"] >= 0.5)
    ratings = list(exported(exports, tmp_path, "triage-rating", "ratings"))
    assert all(r["prompt"] and r["completion"] for r in ratings)
    assert json.dumps(first["completion"]) == json.dumps(
        next(r for r in ratings if r["id"] == "tr-1")["completion"]
    )


PAIR = [{"id": "a", "content": "Use a set."}, {"id": "b", "content": "Use dict.fromkeys."}]


@pytest.mark.parametrize(
    ("prompt", "found"),
    [
        ([{"role": "system", "content": "You are terse."}], "it is the system's"),
        (
            [
                {"role": "user", "content": "Dedupe a list"},
                {"role": "assistant", "content": "Sure, here is"},
            ],
            "it is the assistant's",
        ),
    ],
)
def test_a_prompt_trl_cannot_train_on_is_refused_at_import_with_its_line(
    engine, tmp_path, tokenizer, prompt, found
):
    with pytest.raises(ValueError, match="Invalid role in the last message: system"):
        apply_chat_template(
            {"prompt": [{"role": "system", "content": "x"}], "chosen": [], "rejected": []},
            tokenizer,
        )  # what TRL does with a system-only prompt
    apply(engine, example_config("code-preference"))
    good = {"id": "p-1", "prompt": [{"role": "user", "content": "Dedupe"}], "responses": PAIR}
    bad = {"id": "p-2", "prompt": prompt, "responses": PAIR}
    path = write_items(tmp_path / "pairs.jsonl", [good, bad])
    with pytest.raises(ImportRejected, match=f"line 2: field `prompt`: .*{found}"):
        import_file(engine, path, "code-preference")
    with Session(engine) as session:
        assert session.exec(select(Item)).all() == []  # the import landed whole or not at all


def test_two_responses_with_the_same_text_are_refused_at_import(engine, tmp_path):
    apply(engine, example_config("code-preference"))
    same = [{"id": "a", "content": "Use a set."}, {"id": "b", "content": "Use a set. "}]
    path = write_items(
        tmp_path / "pairs.jsonl",
        [{"id": "p-1", "prompt": [{"role": "user", "content": "Dedupe"}], "responses": same}],
    )
    with pytest.raises(
        ImportRejected, match="line 1: field `responses`: 'b' has the same text as 'a'"
    ):
        import_file(engine, path, "code-preference")


def test_reward_pairs_come_from_rated_responses_to_the_same_prompt(exports, tmp_path):
    pairs = list(exported(exports, tmp_path, "triage-rating", "reward", "pairs"))
    # tr-1 and tr-3 answer the same prompt; tr-2's prompt has one rated response.
    assert [p["id"] for p in pairs] == ["tr-1>tr-3"]
    (pair,) = pairs
    assert pair["chosen"] == [{"role": "assistant", "content": "Call 911 now."}]
    assert pair["rejected"] == [{"role": "assistant", "content": "Rest and see how it goes."}]
    scores = {r["id"]: r["score"] for r in exported(exports, tmp_path, "triage-rating", "reward")}
    assert pair["margin"] == pytest.approx(scores["tr-1"] - scores["tr-3"], abs=1e-4)
