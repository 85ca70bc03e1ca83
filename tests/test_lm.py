"""The LM client's per-prompt rules (prover.lm), which every engine applies to a `complete` call alike."""
from __future__ import annotations

import pytest

from prover.lm import Completion, completions_by_prompt, live_prompts


def test_a_prompt_is_sampled_for_only_if_it_asks_for_something_and_its_caller_still_waits():
    live = live_prompts(["a", "b", "c", "d"], [2, 0, 3, 1], [None, None, 10.0, 20.0], now=15.0)
    assert [(p.index, p.text, p.n, p.deadline) for p in live] == [(0, "a", 2, None), (3, "d", 1, 20.0)]


def test_one_n_and_one_deadline_stand_for_every_prompt():
    assert [p.index for p in live_prompts(["a", "b"], 4, 10.0, now=5.0)] == [0, 1]
    assert live_prompts(["a", "b"], 4, 10.0, now=10.0) == []  # a deadline reached is a deadline passed


def test_a_value_per_prompt_must_have_one_for_each():
    with pytest.raises(ValueError, match="2 values for 3 prompts"):
        live_prompts(["a", "b", "c"], [1, 1], None)


def test_prompts_not_sampled_for_get_no_completions_and_the_rest_keep_their_place():
    live = live_prompts(["a", "b", "c"], [1, 0, 1], None)
    got = [[Completion("x", -1.0, 1)], [Completion("z", -2.0, 2)]]
    assert completions_by_prompt(3, live, got) == [got[0], [], got[1]]
