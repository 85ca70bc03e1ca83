"""What the in-process engines' tests share: two real Rocq states, the default generator's settings, the float32
torch generator their log-probs are compared with (as pytest fixtures), and that comparison."""
from __future__ import annotations

import pytest

from prover.adapters import default_model_for
from prover.hf_generator import HFGenerator
from prover.plugins import load_plugin
from prover.types import Theorem

THEOREMS = [
    (Theorem(name="add_0_r", statement="Theorem add_0_r (x : nat) : x + 0 = x.", header="", backend="rocq"),
     "1 goal\n  \n  x : nat\n  ============================\n  x + 0 = x"),
    (Theorem(name="mul_comm", statement="Theorem mul_comm (a b : nat) : a * b = b * a.", header="", backend="rocq"),
     "1 goal\n  \n  a, b : nat\n  ============================\n  a * b = b * a"),
]
ARGS = dict(max_tokens=24, temperature=0.8, stop=("\n",))


@pytest.fixture(scope="module")
def hf_generator():
    # float32: the reference the engines' log-probs are compared with.
    return HFGenerator(default_model_for("rocq"), dtype="float32", first_goal=load_plugin("rocq").first_goal)


@pytest.fixture(scope="module")
def prompts(hf_generator):
    return [hf_generator.build_prompt(theorem, state) for theorem, state in THEOREMS]


def largest_logprob_difference(hf, prompt_ids: list[int], samples) -> float:
    """The largest difference between an engine's per-token log-probs and the torch model's for the same tokens.
    `samples`: (token ids, summed log-prob, stopped, per-token log-probs) after `prompt_ids`."""
    import torch

    worst = 0.0
    for tokens, total, _, per_token in samples:
        assert total == pytest.approx(sum(per_token), abs=1e-4)
        with torch.inference_mode():
            logits = hf.model(input_ids=torch.tensor([prompt_ids + tokens])).logits[0, len(prompt_ids) - 1:-1]
        reference = torch.log_softmax(logits.float(), dim=-1).gather(1, torch.tensor(tokens)[:, None])[:, 0]
        worst = max(worst, max(abs(a - b) for a, b in zip(per_token, reference.tolist())))
    return worst
