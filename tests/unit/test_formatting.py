"""ICA / PBA rendering: persona content per mode, persona cutting that never touches post or response, PBA
profiles, determinism, and the chat-template wrapping."""

from __future__ import annotations

import numpy as np
import pytest

from alignx import space
from alignx.config import FormatConfig, SpaceConfig
from alignx.inputs.examples import format_record, format_records, profile_labels
from alignx.inputs.prompts import Persona, fit_persona, render_ica, sample_persona, tokenize_example
from alignx.modeling.tokenizer import corpus_texts, train_tokenizer
from tests.records import record, records

ONLY = {m: {m: 1.0} for m in ("ugc", "pair", "demo", "mixed")}


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(corpus_texts(records(40)), vocab_size=800)


SPACE = SpaceConfig()  # PBA's thresholds: 0.6 / 0.4


def cfg(mode: str | None = None, max_len: int = 2048, seed: int = 0) -> FormatConfig:
    proportions = ONLY[mode] if mode else {"ugc": 0.25, "pair": 0.25, "demo": 0.25, "mixed": 0.25}
    return FormatConfig(seed=seed, max_len=max_len, modes=proportions, pba_train_profile="inferred")


@pytest.mark.parametrize("mode", ["ugc", "pair", "demo"])
def test_each_single_source_mode_shows_exactly_its_persona(tokenizer, mode):
    rec = record(3)
    row = format_record(rec, "ica", tokenizer, cfg(mode), SPACE)
    text = row["prompt_text"]
    ugc_shown = [f"UGC-comment-3-{k}" in text for k in range(4)]
    pair_shown = [f"PAIR-chosen-3-{k}" in text and f"PAIR-rejected-3-{k}" in text for k in range(4)]
    assert all(ugc_shown) == (mode == "ugc") and any(ugc_shown) == (mode == "ugc")
    assert all(pair_shown) == (mode == "pair") and any(pair_shown) == (mode == "pair")
    assert ("DEMO-3" in text) == (mode == "demo")
    assert rec["prompt"] in text and text.index("### Post") > max(text.find("DEMO-3"), text.find("UGC-"), 0)
    assert (row["mode"], row["n_ugc"], row["n_pair"], row["has_demo"]) == (
        mode, 4 * (mode == "ugc"), 4 * (mode == "pair"), mode == "demo"
    )


def test_mixed_mode_shows_what_it_records_and_is_never_empty(tokenizer):
    for i in range(30):
        rec = record(i)
        row = format_record(rec, "ica", tokenizer, cfg("mixed"), SPACE)
        text = row["prompt_text"]
        assert row["mode"] == "mixed" and 0 <= row["n_ugc"] <= 4 and 0 <= row["n_pair"] <= 4
        assert row["n_ugc"] + row["n_pair"] + row["has_demo"] >= 1
        assert text.count("[Comment]") == row["n_ugc"] and text.count("[Comparison]") == row["n_pair"]
        assert ("DEMO-" in text) == row["has_demo"]


def test_modes_follow_the_proportions_and_skip_what_a_record_lacks(tokenizer):
    rng = np.random.default_rng(0)
    draws = [sample_persona(record(1), rng, cfg().modes).mode for _ in range(400)]
    counts = {m: draws.count(m) for m in ("ugc", "pair", "demo", "mixed")}
    assert all(70 <= n <= 130 for n in counts.values()), counts
    no_ugc = record(2, n_ugc=0, demo=False)
    assert {sample_persona(no_ugc, rng, cfg().modes).mode for _ in range(50)} <= {"pair", "mixed"}


def test_formatting_is_deterministic_given_the_seed(tokenizer):
    recs = records(20)
    a = format_records(recs, "ica", tokenizer, cfg(), SPACE)
    b = format_records(list(reversed(recs)), "ica", tokenizer, cfg(), SPACE).iloc[::-1].reset_index(drop=True)
    assert a["prompt_text"].tolist() == b["prompt_text"].tolist()  # independent of order / chunking
    c = format_records(recs, "ica", tokenizer, cfg(seed=1), SPACE)
    assert a["prompt_text"].tolist() != c["prompt_text"].tolist()


def test_cutting_drops_oldest_persona_items_never_the_post_or_the_response(tokenizer):
    rec = record(5)
    full = format_record(rec, "ica", tokenizer, cfg("ugc"), SPACE)
    max_len = full["length"] - 10  # forces at least one item out
    row = format_record(rec, "ica", tokenizer, cfg("ugc", max_len=max_len), SPACE)
    assert row["n_cut"] >= 1 and row["n_ugc"] == 4 - row["n_cut"] and row["length"] <= max_len
    assert "UGC-comment-5-0" not in row["prompt_text"] and "UGC-comment-5-3" in row["prompt_text"]
    assert rec["prompt"] in row["prompt_text"]
    assert tokenizer.decode(row["chosen_ids"]) == rec["chosen"] + tokenizer.eos_token
    assert tokenizer.decode(row["rejected_ids"]) == rec["rejected"] + tokenizer.eos_token


def test_a_response_that_cannot_fit_is_left_whole_and_too_long(tokenizer):
    rec = record(6)
    rec["chosen"] = " ".join(["a very long answer"] * 200)
    row = format_record(rec, "ica", tokenizer, cfg("mixed", max_len=64), SPACE)
    assert tokenizer.decode(row["chosen_ids"]) == rec["chosen"] + tokenizer.eos_token
    assert row["length"] > 64  # the format gate rejects it (tests/data/test_training_input_gates.py)
    assert rec["prompt"] in row["prompt_text"]


def test_pba_profile_equals_the_hand_computed_profile(tokenizer):
    rec = record(7, n_ugc=2, n_pair=1)
    neutral = [0.5] * 90
    ugc0, ugc1, pair0 = list(neutral), list(neutral), list(neutral)
    ugc0[16], ugc1[16], pair0[16] = 1.0, 1.0, 0.5  # mean 0.83 -> "Concise communication style"
    ugc0[47], ugc1[47], pair0[47] = 0.0, 0.0, 1.0  # mean 0.33 -> "Dislikes science"
    ugc0[5], ugc1[5], pair0[5] = 1.0, 0.5, 0.0  # mean 0.5  -> neutral
    rec["User-Generated Content"][0]["Preference Direction"] = ugc0
    rec["User-Generated Content"][1]["Preference Direction"] = ugc1
    rec["Pair-wise Comparative Feedback"][0]["Preference Direction"] = pair0
    # All three shown (a mixed draw): 16 -> 0.83 positive, 47 -> 0.33 negative, 5 -> 0.5 neutral.
    mixed = [format_record(rec, "pba", tokenizer, cfg("mixed", seed=s), SPACE) for s in range(40)]
    every = [r for r in mixed if (r["n_ugc"], r["n_pair"]) == (2, 1)]
    assert every and all(r["profile"] == "Concise communication style, Dislikes science" for r in every)
    # The two UGC items only: 5 -> 0.75 positive, 16 -> 1 positive, 47 -> 0 negative.
    ugc = format_record(rec, "pba", tokenizer, cfg("ugc"), SPACE)
    assert ugc["profile"] == "High Agreeableness, Concise communication style, Dislikes science"
    assert ugc["prompt_text"].index("Concise communication style") < ugc["prompt_text"].index(rec["prompt"])
    # The PAIR item only: its own non-neutral labels.
    assert format_record(rec, "pba", tokenizer, cfg("pair"), SPACE)["profile"] == "Low Agreeableness, Likes science"


def test_oracle_train_profile_is_the_records_own_direction_and_only_for_train(tokenizer):
    oracle = FormatConfig(seed=0, max_len=2048, modes=ONLY["mixed"], pba_train_profile="oracle")
    train = record(5, n_ugc=0, n_pair=0)  # no history at all: the oracle profile does not need one
    row = format_record(train, "pba", tokenizer, oracle, SPACE)
    assert row["problem"] == "" and (row["mode"], row["n_ugc"], row["n_pair"]) == ("oracle", 0, 0)
    assert row["profile"] == space.verbalize(train["Preference Direction"])
    # Evaluation splits keep the profile inferred from the history shown, exactly as without the option.
    test = record(5, split="test")
    inferred = format_record(test, "pba", tokenizer, cfg("mixed"), SPACE)["profile"]
    assert format_record(test, "pba", tokenizer, oracle, SPACE)["profile"] == inferred
    assert format_record(record(5), "ica", tokenizer, oracle, SPACE)["mode"] == "mixed"  # ICA is unaffected
    bad = record(6)
    bad["Preference Direction"] = [0.5] * 89 + [0.7]
    assert "record 'train-r6'" in format_record(bad, "pba", tokenizer, oracle, SPACE)["problem"]
    with pytest.raises(ValueError, match="pba_train_profile"):
        FormatConfig(seed=0, max_len=8, modes=ONLY["ugc"], pba_train_profile="judged")


def test_corrected_train_profile_writes_the_records_direction_over_the_inferred_one(tokenizer):
    rec = record(7, n_ugc=1, n_pair=0)
    neutral = [0.5] * 90
    shown, own = list(neutral), list(neutral)
    shown[16], shown[47] = 1.0, 1.0  # inferred: "Concise communication style", "Likes science"
    own[47], own[50] = 0.0, 1.0  # the pair was judged on science (disliked) and cinema (liked)
    rec["User-Generated Content"][0]["Preference Direction"] = shown
    rec["Preference Direction"] = own
    corrected = FormatConfig(seed=0, max_len=2048, modes=ONLY["ugc"], pba_train_profile="corrected")
    row = format_record(rec, "pba", tokenizer, corrected, SPACE)
    assert row["profile"] == "Concise communication style, Dislikes science, Likes cinema"
    assert (row["mode"], row["n_ugc"]) == ("ugc", 1)  # the history the rest of the profile came from


def test_pba_never_draws_demo_and_matches_space_inference(tokenizer):
    for i in range(15):
        rec = record(i)
        row = format_record(rec, "pba", tokenizer, cfg(), SPACE)
        assert row["mode"] != "demo" and not row["has_demo"] and row["n_ugc"] + row["n_pair"] >= 1
        persona = sample_persona(rec, np.random.default_rng(0), ONLY["ugc"], allow_demo=False)
        assert persona == Persona("ugc", ugc=(0, 1, 2, 3))
    rec = record(9)
    row = format_record(rec, "pba", tokenizer, cfg("pair"), SPACE)
    vectors = [item["Preference Direction"] for item in rec["Pair-wise Comparative Feedback"]]
    assert row["profile"] == ", ".join(profile_labels(space.infer_profile(vectors, 0.6, 0.4)))


def test_pba_uses_a_benchmark_profile_and_flags_a_record_with_none(tokenizer):
    rec = record(4, n_ugc=0)
    for item in rec["Pair-wise Comparative Feedback"]:
        item["Preference Direction"] = None
    rec["profile"] = "Concise communication style, Likes science"
    row = format_record(rec, "pba", tokenizer, cfg(), SPACE)
    assert row["profile"] == rec["profile"] and row["problem"] == ""
    rec["profile"] = ""
    row = format_record(rec, "pba", tokenizer, cfg(), SPACE)
    assert "record 'train-r4'" in row["problem"] and "profile" in row["problem"]


def test_a_record_with_no_persona_is_flagged(tokenizer):
    row = format_record(record(8, n_ugc=0, n_pair=0, demo=False), "ica", tokenizer, cfg(), SPACE)
    assert "record 'train-r8': no persona to show" in row["problem"]


def test_chat_template_wraps_the_user_text(tokenizer):
    chat = train_tokenizer(corpus_texts(records(10)), vocab_size=600)
    chat.chat_template = (
        "{% for m in messages %}<|bos|>{{ m['role'] }}: {{ m['content'] }}<|eos|>{% endfor %}"
        "{% if add_generation_prompt %}<|bos|>assistant: {% endif %}"
    )
    rec = record(2)
    example = fit_persona(chat, lambda p: render_ica(rec, p), Persona("demo", demo=True), rec["chosen"], rec["rejected"], 512)
    assert example.prompt_text.startswith("<|bos|>user: ### About the user")
    assert example.prompt_text.endswith("<|bos|>assistant: ")
    assert example.prompt_ids[0] == chat.bos_token_id and example.prompt_ids.count(chat.bos_token_id) == 2
    plain = tokenize_example(tokenizer, "### Post\nhello", "yes", "no", max_len=512)
    assert plain.prompt_text.endswith("### Response\n") and plain.fits


def test_pba_cuts_profile_labels_from_the_end_to_fit(tokenizer):
    rec = record(10)
    full = format_record(rec, "pba", tokenizer, cfg("ugc"), SPACE)
    labels = full["profile"].split(", ")
    assert len(labels) >= 2
    row = format_record(rec, "pba", tokenizer, cfg("ugc", max_len=full["length"] - 3), SPACE)
    assert row["n_cut"] >= 1 and row["length"] <= full["length"] - 3
    assert labels[: len(labels) - row["n_cut"]] == (row["profile"].split(", ") if row["profile"] else [])
    assert tokenizer.decode(row["chosen_ids"]) == rec["chosen"] + tokenizer.eos_token and rec["prompt"] in row["prompt_text"]


def test_one_label_share_shows_a_single_judged_label_of_the_pair(tokenizer):
    one = FormatConfig(seed=0, max_len=2048, modes=ONLY["mixed"], pba_train_profile="oracle", pba_one_label_share=1.0)
    rows = [(record(i), format_record(record(i), "pba", tokenizer, one, SPACE)) for i in range(12)]
    for rec, row in rows:
        labels = profile_labels(rec["Preference Direction"])
        assert row["problem"] == "" and row["profile"] in labels  # exactly one of the pair's own labels
    assert len({row["profile"] for _, row in rows}) > 1
    # Off by default; never on evaluation splits.
    oracle = FormatConfig(seed=0, max_len=2048, modes=ONLY["mixed"], pba_train_profile="oracle")
    assert format_record(record(3), "pba", tokenizer, oracle, SPACE)["profile"] == space.verbalize(record(3)["Preference Direction"])
    test = record(3, split="test")
    assert format_record(test, "pba", tokenizer, one, SPACE)["profile"] == format_record(test, "pba", tokenizer, cfg("mixed"), SPACE)["profile"]
