"""What the in-process engines that choose every token themselves (prover.engines: torch, OpenVINO, ONNX Runtime
GenAI) share around their decoding: `complete` (which prompts to sample for, their tokens and seeds, the stop rules,
the samples' texts), each engine supplying its own `_sample`."""
from __future__ import annotations

import threading
import zlib

from prover.lm import Completion, completions_by_prompt, cut_at_stop, live_prompts
from prover.vocabulary import StopRules, Vocabulary


def prompt_seed(seed: int | None, ids_after_head: list[int]) -> int | None:
    """A prompt's own seed, from the call's `seed` and its tokens after the shared head: the same prompt draws the
    same samples whatever else is in the call (None: unseeded)."""
    return None if seed is None else (seed * 1_000_003 + zlib.crc32(str(ids_after_head).encode())) % 2**63


class SamplingEngine:
    """The shared part of a LanguageModel (prover.lm) run in this process. A subclass sets `vocabulary` and `_lock`
    (all model work is serialised by it, so one model can be shared by threads) and implements `_sample`."""

    vocabulary: Vocabulary
    _lock: threading.RLock

    @property
    def tokenizer(self):
        return self.vocabulary.tokenizer

    def encode(self, prompt: str) -> tuple[int, list[int]]:
        """(tokens of the shared head it starts with, 0 if none; its tokens after that head): Vocabulary.encode."""
        return self.vocabulary.encode(prompt)

    def prompt_ids(self, prompt: str) -> list[int]:
        """Every token the model sees for `prompt`, the shared head's included."""
        return self.vocabulary.prompt_ids(prompt)

    def stop_rules(self, stop: tuple[str, ...]) -> StopRules:
        """How decoding checks these stop sequences."""
        return self.vocabulary.stop_rules(stop)

    def complete(self, prompts, n, max_tokens, temperature, stop, deadline=None, *, top_p=1.0, seed=None,
                 nonblank_start=False) -> list[list[Completion]]:
        """See prover.lm.LanguageModel. Seeded: each prompt draws from its own torch.Generator, seeded from `seed`
        and the prompt's tokens after the shared head (`prompt_seed`)."""
        import torch

        with self._lock:
            # Checked after taking the lock: another thread's call may have used up a prompt's time.
            live = live_prompts(prompts, n, deadline)
            if not live:
                return completions_by_prompt(len(prompts), live, [])
            encoded = [self.vocabulary.encode(p.text) for p in live]
            seeds = [prompt_seed(seed, ids) for _, ids in encoded]
            stops = self.vocabulary.stop_rules(tuple(stop))
            with torch.inference_mode():
                rows = self._sample(encoded, [p.n for p in live], seeds, [p.deadline for p in live], max_tokens,
                                    temperature, top_p, stops, nonblank_start)
            got = [
                [Completion(cut_at_stop(self.vocabulary.decode(tokens), stops.cut)[0], logprob, len(tokens), stopped)
                 for tokens, logprob, stopped, *_ in prompt_rows]
                for prompt_rows in rows
            ]
        return completions_by_prompt(len(prompts), live, got)

    def _sample(self, prompts: list[tuple[int, list[int]]], ns: list[int], seeds: list[int | None],
                deadlines: list[float | None], max_tokens: int, temperature: float, top_p: float, stops: StopRules,
                nonblank_start: bool) -> list[list[tuple]]:
        """For each prompt (as `encode` gives it), its `n` samples, each a tuple starting (token ids, summed
        log-prob, reached a stop). A prompt's samples stop at its deadline (time.monotonic(); None: none),
        unfinished. Run under the lock and torch.inference_mode."""
        raise NotImplementedError
