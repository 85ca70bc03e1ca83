"""Adapters merged into the default model: the merge is cached by the adapter's hash, carries its prompt
format, and changes what the model says."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model_store import MODEL_INFO, default_model_dir, model_prompt
from prover.adapters import adapter_digest, merged_model_dir, shipped_adapter
from prover.hf_generator import HFGenerator
from prover.models import ModelSettings, load_generator
from prover.testing import score_tactics
from prover.types import Theorem

THEOREM = Theorem(name="t", statement="Theorem t (x : R) : x + 0 = x.", header="Require Import Reals.", backend="rocq")
STATE = "1 goal\n  \n  x : R\n  ============================\n  x + 0 = x"
TACTICS = ["lra.", "ring.", "intros x."]


@pytest.fixture(scope="module")
def random_adapter(tmp_path_factory) -> Path:
    """A LoRA adapter with random (not zero) B matrices, so merging it must change the model's scores."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(default_model_dir(), dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                  init_lora_weights=False, task_type="CAUSAL_LM"))
    folder = tmp_path_factory.mktemp("adapters") / "rocq"
    peft_model.save_pretrained(folder)
    (folder / MODEL_INFO).write_text(json.dumps({"prompt": "proofstep"}))
    return folder


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch) -> Path:
    """An empty cache for merges, holding only a link to the default model already converted (a conversion in
    every test would take about 30 s)."""
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    (cache / "models" / default_model_dir().name).symlink_to(default_model_dir(), target_is_directory=True)
    monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(cache))
    return cache


def test_a_merged_adapter_is_cached_by_hash_and_changes_the_scores(random_adapter, fresh_cache):
    base = default_model_dir()
    merged = merged_model_dir(base, random_adapter)
    assert merged.name.endswith(adapter_digest(random_adapter)) and (merged / MODEL_INFO).is_file()
    assert merged_model_dir(base, random_adapter) == merged  # the second call reuses the merge
    assert model_prompt(merged) == "proofstep"
    tuned = HFGenerator(merged, dtype="float32", prompt="proofstep")
    plain = HFGenerator(base, dtype="float32", prompt="proofstep")
    tuned_scores = [c.logprob for c in score_tactics(tuned, THEOREM, STATE, TACTICS)]
    plain_scores = [c.logprob for c in score_tactics(plain, THEOREM, STATE, TACTICS)]
    assert max(abs(a - b) for a, b in zip(tuned_scores, plain_scores)) > 1e-2


def test_a_model_folder_names_its_prompt_and_an_explicit_prompt_wins(random_adapter, fresh_cache):
    merged = merged_model_dir(default_model_dir(), random_adapter)
    # torch: the prompt is chosen the same for every engine, and torch loads without a conversion.
    torch = ModelSettings(engine="torch")
    assert load_generator(f"hf:{merged}", "rocq", torch).template.name == "proofstep"
    explicit = ModelSettings(prompt="rocq-proofstep", engine="torch")
    assert load_generator(f"hf:{merged}", "rocq", explicit).template.name == "rocq-proofstep"
    assert load_generator("base", "rocq", torch).template.name == "rocq-proofstep"  # the untuned model: few-shot


def test_a_changed_adapter_gets_a_new_merge(random_adapter, tmp_path, monkeypatch):
    monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(tmp_path / "cache"))
    changed = tmp_path / "rocq"
    shutil.copytree(random_adapter, changed)
    config = json.loads((changed / "adapter_config.json").read_text())
    (changed / "adapter_config.json").write_text(json.dumps({**config, "lora_alpha": 16}))
    assert adapter_digest(changed) != adapter_digest(random_adapter)


def test_the_shipped_rocq_adapter_is_small_and_default_loads_it():
    adapter = shipped_adapter("rocq")
    if adapter is None:
        pytest.skip("no Rocq adapter ships in prover/adapters/rocq yet")
    size = sum(p.stat().st_size for p in adapter.iterdir())
    assert size < 30 * 2**20, f"{size / 2**20:.1f} MiB: too big to ship in the repo"
    # torch: score_tactics scores with a transformers forward pass.
    generator = load_generator("default", "rocq", ModelSettings(dtype="float32", engine="torch"))
    assert generator.template.name == "proofstep"
    base = load_generator("base", "rocq", ModelSettings(dtype="float32", prompt="proofstep", engine="torch"))
    tuned = [c.logprob for c in score_tactics(generator, THEOREM, STATE, TACTICS)]
    plain = [c.logprob for c in score_tactics(base, THEOREM, STATE, TACTICS)]
    assert max(abs(a - b) for a, b in zip(tuned, plain)) > 1e-2
