"""The language-model client protocol: prompt texts in, sampled completions with their log-probabilities out.

Engines implementing it: the in-process ones `--engine` chooses from (prover.engines: transformers, OpenVINO,
ONNX Runtime GenAI), vLLM in this process (prover.vllm_generator.VLLMModel), and an OpenAI-compatible completions
server (prover.openai_generator.OpenAIModel).
What is built on it (tactics: prover.model_generator; free-form sketches: prover.translate) uses nothing else.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, TypeVar, runtime_checkable

T = TypeVar("T")


@dataclass(frozen=True)
class Completion:
    """One sampled continuation of a prompt."""

    text: str  # up to its first stop sequence, which is left out
    logprob: float  # summed log-probability of its tokens (the one holding the stop included), as the model gives it
    num_tokens: int  # how many tokens `logprob` covers (0: the engine gave no log-probabilities)
    stopped: bool = True  # ended at a stop sequence or end-of-text; False: ran out of tokens or of time


@runtime_checkable
class LanguageModel(Protocol):
    name: str  # e.g. "hf:smollm2-135m": what results rows and logs call the model
    tokenizer: Any  # a transformers tokenizer for the model's tokens, or None where they are not known here
    context_length: int | None  # tokens a prompt and its completion may take together (None: not limited here)
    generated_tokens: int  # tokens sampled so far (for tokens/s)

    def complete(
        self,
        prompts: Sequence[str],
        n: int | Sequence[int],
        max_tokens: int,
        temperature: float,
        stop: tuple[str, ...],
        deadline: float | None | Sequence[float | None] = None,
        *,
        top_p: float = 1.0,
        seed: int | None = None,
        nonblank_start: bool = False,
    ) -> list[list[Completion]]:
        """`n` completions of each prompt (`n` and `deadline` either one for all prompts or one per prompt), in the
        order the engine returns them, each cut at the first of the `stop` sequences.

        `deadline` (time.monotonic(); None: none) is when the caller stops waiting for a prompt: it gets what was
        complete by then (possibly nothing). With a `seed`, the same prompt gets the same completions whatever else
        is in the call. `nonblank_start`: the first token may be neither a line break nor end-of-text (an engine
        that cannot do this ignores it; an empty completion is then its caller's to drop)."""
        ...

    def share_prefix(self, text: str) -> None:
        """Every prompt from now on starts with `text`: the engine may run it once and keep its key/values."""
        ...

    def cache_params(self) -> tuple:
        """What besides the call's arguments decides its completions (part of a cache key)."""
        ...


def per_prompt(value: T | Sequence[T], count: int) -> list[T]:
    """A `complete` argument given once for all prompts or once per prompt, as one value per prompt."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"{len(value)} values for {count} prompts")
        return list(value)
    return [value] * count  # type: ignore[list-item]


def expired(deadline: float | None, now: float | None = None) -> bool:
    """Whether `deadline` (time.monotonic(), None: never) has passed."""
    return deadline is not None and (time.monotonic() if now is None else now) >= deadline


def still_wanted(n: int, deadline: float | None, now: float | None = None) -> bool:
    """Whether a prompt (or a request) is worth sampling for: it asks for a completion and its caller still waits."""
    return n > 0 and not expired(deadline, now)


@dataclass(frozen=True)
class LivePrompt:
    """A prompt of a `complete` call that is still to be sampled for."""

    index: int  # its position among the call's prompts
    text: str
    n: int  # completions asked for (at least 1)
    deadline: float | None  # time.monotonic() when its caller stops waiting (None: never)


def live_prompts(prompts: Sequence[str], n: int | Sequence[int], deadline: float | None | Sequence[float | None],
                 now: float | None = None) -> list[LivePrompt]:
    """The prompts of a `complete` call (its `n` and `deadline` as it got them) that ask for a completion and whose
    deadline has not passed at `now` (None: the clock now): the ones an engine samples for."""
    ns, deadlines = per_prompt(n, len(prompts)), per_prompt(deadline, len(prompts))
    now = time.monotonic() if now is None else now
    return [LivePrompt(i, text, k, end) for i, (text, k, end) in enumerate(zip(prompts, ns, deadlines))
            if still_wanted(k, end, now)]


def completions_by_prompt(count: int, live: Sequence[LivePrompt],
                          got: Sequence[list[Completion]]) -> list[list[Completion]]:
    """A `complete` call's answer for its `count` prompts: `got` (in the order of `live`) for the live ones, no
    completions for the others."""
    results: list[list[Completion]] = [[] for _ in range(count)]
    for prompt, completions in zip(live, got):
        results[prompt.index] = completions
    return results


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """The completion up to the first stop sequence, and whether one was found (else it ran out of tokens)."""
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)
