"""The in-process Hugging Face transformers engine of the LM client (prover.lm), and the tactic generator on it.

Sampling runs its own decoding loop rather than `model.generate`, for three reasons that matter on a CPU:
  * the prompts' shared head (a template's instruction and examples, see `share_prefix`) is run through the model
    once and its key/value cache is reused by every call;
  * each prompt is run once, and its `n` samples attend to that one copy of its key/values (cascade attention,
    prover.cascade_attention) instead of `n` copies: decoding reads a prompt once per step, not once per sample,
    and nothing prompt-sized is copied while the samples grow;
  * a sample that has reached its stop sequence leaves the batch at once instead of riding along as padding.
Several prompts go through one call: each prompt runs on its own after the shared head (running a prompt is
compute-bound, so batching it would only add padding), then all their samples decode as one batch, which is where
batching pays: a decoding step costs about the same for 1 row as for dozens.

Deadlines: a prompt whose deadline has passed before the call (or while it waited for the model's lock) is not
sampled for; during decoding the clock is read once per step, and a prompt's samples leave the batch at its
deadline, unfinished. A call thus returns within one decoding step of the latest deadline among its prompts (or, if
that passes while the prompts run, once they have run: a prompt's run is not cut); earlier deadlines do not
shorten the others'.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Unpack

from model_store import ModelLoadError, quiet_loading, resolve_model
from prover import cascade_attention
from prover.cpu_threads import set_torch_threads
from prover.errors import first_line
from prover.model_generator import GeneratorSettings, ModelGenerator
from prover.nucleus import choose_tokens
from prover.sampling_engine import SamplingEngine
from prover.vocabulary import StopRules, Vocabulary


@lru_cache(maxsize=1)
def cpu_has_flag(flag: str) -> bool:
    """Whether /proc/cpuinfo lists `flag` among this CPU's flags."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any(line.startswith("flags") and flag in line.split() for line in cpuinfo)
    except OSError:
        return False


def cpu_has_amx_bf16() -> bool:
    """Whether this CPU has AMX bfloat16 matrix units."""
    return cpu_has_flag("amx_bf16")


def default_dtype(device):
    """bfloat16 where matrix units make it fast (GPUs; CPUs with AMX: batched calls measured 1.5x faster than
    float32 here); float32 on other CPUs, where bfloat16 is emulated and slower."""
    import torch

    if device.type != "cpu" or cpu_has_amx_bf16():
        return torch.bfloat16
    return torch.float32


# An in-process model's generator settings unless given (any engine of prover.engines).
IN_PROCESS_SETTINGS = {"top_p": 0.95, "max_prompt_tokens": 1500}


class HFModel(SamplingEngine):
    """A causal LM run by transformers in this process (a LanguageModel). All model work is serialised by a lock,
    so one model can be shared by threads (see prover.batching)."""

    context_length = None  # prompts are fitted by the caller (ModelGenerator's max_prompt_tokens)

    def __init__(self, model: str | Path, device: str | None = None, dtype: str | None = None,
                 shared_prefix: bool | None = None, threads: int | None = None):
        """`model`: a folder or a hub id in the local cache (model_store.resolve_model). `dtype`: a torch dtype name
        (None or "auto": `default_dtype`). `shared_prefix`: use cascade attention over shared prompt key/values
        (None: where the architecture is known to support it). `threads`: torch's CPU threads (None:
        prover.cpu_threads.model_threads(), the cores this process may use)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        source = resolve_model(model)
        self.name = f"hf:{Path(source).name}"
        self.threads = set_torch_threads(threads)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.generated_tokens = 0  # tokens sampled, each sample counted up to its stop (or its last token)
        self._lock = threading.RLock()
        torch_dtype = getattr(torch, dtype) if dtype and dtype != "auto" else default_dtype(self.device)
        hf_logging.disable_progress_bar()  # a per-load weights bar would break the batch's own progress line
        try:
            with quiet_loading():
                tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
                self.model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, local_files_only=True)
        except Exception as error:  # noqa: BLE001 - any loader failure becomes one printable line
            raise ModelLoadError(f"cannot load model from {source}: {first_line(error)}") from error
        self.model.to(self.device).eval()

        supported = cascade_attention.supported(self.model.config)
        self.shared_prefix = supported if shared_prefix is None else bool(shared_prefix)
        if self.shared_prefix:
            if not supported:
                raise ValueError(f"shared-prefix attention is not supported for {self.model.config.model_type} ({source})")
            cascade_attention.register()  # plain sdpa for every other caller of this model
            self.model.set_attn_implementation(cascade_attention.ATTENTION)

        self.vocabulary = Vocabulary(tokenizer, source)
        # With `nonblank_start`: the first token is neither a line break nor end-of-text.
        self.blank_start = torch.tensor(self.vocabulary.blank_start, dtype=torch.long, device=self.device)
        pad = tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else self.vocabulary.blank_start[0]
        self._head_cache = None  # the key/values of the shared prompt head (`share_prefix`)

    def cache_params(self) -> tuple:
        return (str(self.model.dtype),)

    def share_prefix(self, text: str) -> None:
        """Run `text` through the model once (here) and keep its key/values for every prompt that starts with it."""
        import torch

        if text == self.vocabulary.head_text:
            return
        with self._lock:
            self.vocabulary.set_head(text)
            self._head_cache = None
            if self.vocabulary.head_ids:
                with torch.inference_mode():
                    ids = torch.tensor([self.vocabulary.head_ids], device=self.device)
                    self._head_cache = self.model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values

    # ---- sampling (`complete`: SamplingEngine's) -------------------------------------------------------------------

    def _head_cache_for(self, rows: int):
        if self._head_cache is None:
            return None
        cache = copy.deepcopy(self._head_cache)
        if rows > 1:
            cache.batch_repeat_interleave(rows)
        return cache

    def prefill(self, prompts: list[tuple[int, list[int]]]):
        """Run each prompt's tokens (as `encode` gives them) after the shared head's cached key/values.

        Returns (a cache with a row per prompt, its key/values padded at the end to the longest prompt; valid:
        (prompts, prompt length) bool, False at that padding; the last logits (prompts, vocab); each prompt's number
        of tokens, which is the position of its first generated token). Each prompt runs on its own: a padded batch
        would spend as much compute on padding as the prompts' lengths differ, and running a prompt is
        compute-bound, so batching it saves nothing.
        """
        import torch
        import torch.nn.functional as F
        from transformers import DynamicCache

        caches, logits = [], []
        for head, prompt in prompts:
            output = self.model(
                input_ids=torch.tensor([prompt], device=self.device),
                position_ids=torch.arange(head, head + len(prompt), device=self.device)[None],
                past_key_values=self._head_cache_for(1) if head else None,
                use_cache=True,
                logits_to_keep=1,
            )
            caches.append(output.past_key_values)
            logits.append(output.logits[:, -1, :])
        lengths = torch.tensor([head + len(p) for head, p in prompts], device=self.device)
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

    def _sample(self, prompts, ns: list[int], seeds: list[int | None], deadlines: list[float | None],
                max_tokens: int, temperature: float, top_p: float, stops: StopRules,
                nonblank_start: bool) -> list[list[tuple]]:
        """For each prompt, its `n` samples as (token ids, summed log-prob, reached a stop). A prompt's samples stop
        at its deadline (time.monotonic(); None: none), unfinished: the clock is read once per decoding step."""
        import torch
        from transformers import DynamicCache

        ends = [math.inf if d is None else d for d in deadlines]
        cache, valid, logits, lengths = self.prefill(prompts)
        row_state = [s for s, n in enumerate(ns) for _ in range(n)]
        rows = torch.tensor(row_state, device=self.device)
        logits, positions = logits[rows], lengths[rows]
        if self.shared_prefix:
            prefix, own_cache, mask = cascade_attention.SharedPrefix(cache, valid, row_state), DynamicCache(), None
        else:  # every row gets its own copy of its prompt's cache, padding masked
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
        for step in range(max_tokens):
            logits = logits.float()
            token_logprobs = torch.log_softmax(logits, dim=-1)  # the model's own distribution: the score
            if step == 0 and nonblank_start:
                logits[:, self.blank_start] = float("-inf")
            chosen = choose_tokens(logits, temperature, top_p, [row_state[r] for r in active], generators)
            chosen_logprobs = token_logprobs.gather(1, chosen[:, None])[:, 0].tolist()
            now = time.monotonic()  # once per step (also right after the prompts ran): rows past their deadline leave
            keep = []
            for j, (row, token) in enumerate(zip(active, chosen.tolist())):
                tokens[row].append(token)
                logprobs[row] += chosen_logprobs[j]
                stopped[row], texts[row] = self.vocabulary.ends(token, texts[row], stops)
                if not stopped[row] and now < ends[row_state[row]]:
                    keep.append(j)
            if not keep or step == max_tokens - 1:
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
        per_prompt_rows: list[list[tuple]] = [[] for _ in ns]
        for row, state in enumerate(row_state):
            per_prompt_rows[state].append((tokens[row], logprobs[row], stopped[row]))
        return per_prompt_rows


class HFGenerator(ModelGenerator):
    """The tactic generator (ModelGenerator) on a transformers model run in this process (HFModel)."""

    def __init__(
        self,
        model: str | Path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        shared_prefix: bool | None = None,
        threads: int | None = None,
        max_new_tokens: int | None = None,
        **settings: Unpack[GeneratorSettings],
    ):
        """See HFModel for `model`, `device`, `dtype`, `shared_prefix`, `threads`, and ModelGenerator for the `settings`; here
        `top_p` is 0.95 and `max_prompt_tokens` 1500 unless given. `max_new_tokens`: another name for `max_tokens`."""
        settings = {**IN_PROCESS_SETTINGS, **settings}
        if max_new_tokens is not None:
            settings["max_tokens"] = max_new_tokens
        super().__init__(lambda: HFModel(model, device=device, dtype=dtype, shared_prefix=shared_prefix,
                                         threads=threads), **settings)

    @property
    def model(self):
        """The torch model (the torch engine's)."""
        return self.lm.model

    @property
    def max_new_tokens(self) -> int:
        return self.max_tokens
