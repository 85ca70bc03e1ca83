"""The tactic generator over any language model: a proof state in, scored candidate tactics out.

It renders the prompt (the state fitted to the prompt's token budget), asks the model (prover.lm) for `n`
completions, and turns them into candidates: unfinished ones dropped, stripped, forbidden ones dropped,
duplicates merged, scored by the model's log-probability per token ("mean", Llemma's) or summed ("sum").
The engines' own modules only build the model it runs on (HFGenerator, VLLMGenerator, OpenAIGenerator) and pass
the generator's settings (GeneratorSettings) on as they are.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable, TypedDict

from prover.generators import (
    CHEAT_TACTICS,
    Candidate,
    GenerationRequest,
    candidate_score,
    clean_candidates,
    forbidden_pattern,
)
from prover.lm import Completion, LanguageModel, still_wanted
from prover.prompts import PromptTemplate, resolve_template
from prover.types import Theorem


class GeneratorSettings(TypedDict, total=False):
    """ModelGenerator's settings as keywords, which an engine's generator passes on (see ModelGenerator.__init__)."""

    prompt: PromptTemplate | str
    temperature: float
    top_p: float
    max_tokens: int
    seed: int | None
    scoring: str
    max_prompt_tokens: int | None
    first_goal: Callable[[str], str] | None
    forbidden_tactics: Iterable[str]


class ModelGenerator:
    """Sampled tactics from a `LanguageModel`, for one prompt template; meets the TacticGenerator protocol.

    Deadlines: a request past its deadline before the call is not sent; the model stops working on one at its
    deadline and the candidates complete by then come back (see each engine for how closely it keeps to it).
    """

    def __init__(
        self,
        lm: LanguageModel | Callable[[], LanguageModel],
        prompt: PromptTemplate | str = "rocq-proofstep",
        *,
        temperature: float = 0.8,
        top_p: float = 1.0,
        max_tokens: int = 48,
        seed: int | None = None,
        scoring: str = "mean",
        max_prompt_tokens: int | None = None,
        first_goal: Callable[[str], str] | None = None,
        forbidden_tactics: Iterable[str] = CHEAT_TACTICS,
    ):
        """`lm`: the model, or a function that loads it, called once the settings are known to be good (a bad
        scoring or prompt fails before a model loads). `prompt`: see prover.prompts.resolve_template.
        `max_prompt_tokens`: what the prompt may take (None: what the model's context leaves beside `max_tokens`; no
        limit where the model has none). `first_goal`: the first goal of a state text (None: the state is one goal),
        what a state too long for the prompt is cut to first; what is still too long keeps its end (the conclusion
        and the nearest hypotheses)."""
        candidate_score(0.0, 1, scoring)  # raises ValueError for an unknown scoring, before any model call
        self.template = resolve_template(prompt)
        self.lm = lm if hasattr(lm, "complete") else lm()
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.seed = seed
        self.scoring = scoring
        self.max_prompt_tokens = max_prompt_tokens
        self.first_goal = first_goal or (lambda goals: goals)
        self.forbidden = forbidden_pattern(forbidden_tactics)
        self.name = self.lm.name
        self.model_seconds = 0.0  # cumulative wall time of model calls
        self.calls = 0  # model calls: one per generate / generate_batch that had something to ask
        self.states = 0  # states asked for, over all calls
        # Tokens the goals may take, per (template, statement where the template shows it).
        self._goal_budgets: dict[tuple[PromptTemplate, str], int | None] = {}
        self.lm.share_prefix(self.template.prefix)

    @property
    def generated_tokens(self) -> int:
        """Tokens the model has sampled (for tokens/s)."""
        return self.lm.generated_tokens

    def cache_params(self) -> tuple:
        """Everything besides the request that decides what this generator returns (a cache key's part)."""
        return (self.name, self.template, self.temperature, self.top_p, self.max_tokens, self.seed,
                self.max_prompt_tokens, self.scoring, *self.lm.cache_params())

    # ---- prompts -------------------------------------------------------------------------------------------------

    def _budget(self, statement: str) -> int | None:
        """Tokens the goals may take in the prompt, given what else it holds (the statement, if it has a slot)."""
        template = self.template
        key = (template, statement if "{statement}" in template.text else "")
        if key not in self._goal_budgets:
            if len(self._goal_budgets) >= 256:  # many templates (a server's prefixes) or statements: start over
                self._goal_budgets.clear()
            limit = self.max_prompt_tokens
            if self.lm.context_length is not None:
                room = self.lm.context_length - self.max_tokens
                limit = room if limit is None else min(limit, room)
            if limit is None or self.lm.tokenizer is None:
                self._goal_budgets[key] = None
            else:
                tokenizer = self.lm.tokenizer
                rest = template.render("", key[1])[len(template.prefix):]
                fixed = len(tokenizer(template.prefix)["input_ids"]) + len(
                    tokenizer(rest, add_special_tokens=False)["input_ids"])
                self._goal_budgets[key] = max(64, limit - fixed)
        return self._goal_budgets[key]

    def fit_goals(self, goals: str, statement: str = "") -> str:
        """The state text cut to the prompt's token budget, keeping what a tactic acts on."""
        budget = self._budget(statement)
        if budget is None:
            return goals
        tokenizer = self.lm.tokenizer
        ids = tokenizer(goals, add_special_tokens=False)["input_ids"]
        if len(ids) <= budget:
            return goals
        # Tactics act on the first goal: drop the goals after it.
        first = self.first_goal(goals)
        if first != goals:
            ids = tokenizer(first, add_special_tokens=False)["input_ids"]
            if len(ids) <= budget:
                return first
        # Still too long: keep the conclusion and the nearest (latest) hypotheses, dropping from the left.
        return tokenizer.decode(ids[-budget:])

    def build_prompt(self, theorem: Theorem, state_text: str) -> str:
        """The full prompt text the model sees for a state of `theorem`."""
        goals = self.fit_goals(state_text.strip("\n"), theorem.statement)
        return self.template.render(goals, theorem.statement)

    # ---- sampling ------------------------------------------------------------------------------------------------

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        """Up to `n` distinct tactics for the state, best first; at `deadline`, those complete by then."""
        return self.generate_batch([GenerationRequest(theorem, state_text, n, deadline)])[0]

    def generate_batch(self, requests: list[GenerationRequest]) -> list[list[Candidate]]:
        """Candidates for several states from one model call: each state gets its own `n` samples."""
        now = time.monotonic()
        live = [i for i, r in enumerate(requests) if still_wanted(r.n, r.deadline, now)]
        results: list[list[Candidate]] = [[] for _ in requests]
        if not live:
            return results  # no model call
        started = time.perf_counter()
        try:
            asks = [requests[i] for i in live]
            completions = self.lm.complete(
                [self.build_prompt(r.theorem, r.state_text) for r in asks], [r.n for r in asks], self.max_tokens,
                self.temperature, self.template.stop, [r.deadline for r in asks], top_p=self.top_p, seed=self.seed,
                nonblank_start=True,  # a tactic never starts with a line break
            )
            for i, request, got in zip(live, asks, completions):
                results[i] = clean_candidates(self._candidates(got), request.n, self.forbidden)
            self.states += len(asks)
            return results
        finally:
            self.model_seconds += time.perf_counter() - started
            self.calls += 1

    def _candidates(self, completions: list[Completion]) -> list[Candidate]:
        return [
            Candidate(c.text.strip(), candidate_score(c.logprob, c.num_tokens, self.scoring), c.logprob, c.num_tokens)
            # One that ran out of tokens (or time) before its stop is an unfinished tactic: it would only waste a
            # prover call.
            for c in completions if c.stopped
        ]

    def close(self) -> None:
        """Release the model (an engine's memory, a server connection)."""
        close = getattr(self.lm, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> "ModelGenerator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
