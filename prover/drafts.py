"""Drafting informal proofs with a math language model: the "Draft" of Draft-Sketch-Prove (Jiang et al. 2023).

Where a problem has no informal proof (or `--redraft` asks for fresh ones), a math model writes K of them from
the informal statement, and prover.translate sketches from each. Templates:
- `alpaca` (also `metamath`): the zero-shot Alpaca layout MetaMath-Llemma-7B was fine-tuned on. The default: it
  is the prompt of the Llemma derivative tuned for exactly this, and being zero-shot it is short (cheap on a CPU).
- `minerva`: a Minerva-style few-shot chain of thought (Problem:/Solution:), for Llemma itself; the worked
  examples (prover/draft_examples/minerva.json) are our own solutions of miniF2F *valid* problems.
- a path to a template file holding `{instruction}`, where the informal statement goes.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

from prover.generators import expired

ALPACA = ("Below is an instruction that describes a task. Write a response that appropriately completes the request."
          "\n\n### Instruction:\n{instruction}\n\n### Response: Let's think step by step.")
MINERVA = "Problem:\n{instruction}\n\nSolution:\n"
TEMPLATE_NAMES = ("alpaca", "metamath", "minerva")
# Where a draft ends: the model starting the next instruction or problem of its prompt's layout.
_ALPACA_STOPS = ("\n### Instruction", "\n### Response")
_MINERVA_STOPS = ("\nProblem:",)


class DraftError(ValueError):
    """A draft template that cannot be used (unknown name, unreadable file, no `{instruction}`); one line."""


@dataclass(frozen=True)
class DraftTemplate:
    """A drafting prompt: worked examples (if any) in front of `text`, whose `{instruction}` is the statement."""

    name: str  # alpaca | minerva | the template file's path
    text: str
    stops: tuple[str, ...]
    examples: tuple[tuple[str, str], ...] = ()  # (miniF2F problem name, its worked example as the prompt shows it)

    def render(self, statement: str, problem_name: str = "") -> str:
        """The prompt for one informal statement; a problem's own worked example is never shown to it.
        (`replace`, not `format`: statements are LaTeX, full of braces.)"""
        shown = "".join(example for name, example in self.examples if name != problem_name)
        return shown + self.text.replace("{instruction}", statement.strip())


def minerva_examples() -> tuple[tuple[str, str], ...]:
    text = resources.files("prover").joinpath("draft_examples", "minerva.json").read_text(encoding="utf-8")
    return tuple((ex["name"], MINERVA.replace("{instruction}", ex["problem"]) + ex["solution"] + "\n\n")
                 for ex in json.loads(text))


def load_template(spec: str) -> DraftTemplate:
    """The template a `--draft-template` value names: alpaca | metamath | minerva | PATH."""
    if spec in ("alpaca", "metamath"):
        return DraftTemplate("alpaca", ALPACA, _ALPACA_STOPS)
    if spec == "minerva":
        return DraftTemplate("minerva", MINERVA, _MINERVA_STOPS, minerva_examples())
    try:
        text = Path(spec).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DraftError(f"draft template {spec!r} is neither {', '.join(TEMPLATE_NAMES)} nor a readable file "
                         f"({getattr(exc, 'strerror', None) or exc})") from None
    if "{instruction}" not in text:
        raise DraftError(f"draft template file {spec} has no {{instruction}} (where the informal statement goes)")
    return DraftTemplate(spec, text, _ALPACA_STOPS + _MINERVA_STOPS)


@dataclass(frozen=True)
class DraftSettings:
    template: str = "alpaca"
    max_tokens: int = 256  # per draft: a short chain of thought
    temperature: float = 0.6  # K drafts must differ; DSP sampled Minerva's drafts at 0.6


class DraftSource(Protocol):
    name: str
    template: DraftTemplate

    def drafts(self, statement: str, n: int, deadline: float | None = None, problem_name: str = "") -> list[str]:
        """Up to `n` informal proofs of `statement`; at `deadline` (time.monotonic()) those written by then."""
        ...


class ModelDrafts:
    """Drafts sampled from the model a generator already loaded (its LanguageModel, `.lm`): any --model spec."""

    def __init__(self, generator, settings: DraftSettings = DraftSettings(), seed: int | None = None):
        if getattr(generator, "lm", None) is None:
            raise DraftError(f"model {getattr(generator, 'name', generator)} cannot write free-form drafts")
        self.generator = generator
        self.name = generator.name
        self.template = load_template(settings.template)
        self.settings = settings
        self.seed = seed

    def drafts(self, statement: str, n: int, deadline: float | None = None, problem_name: str = "") -> list[str]:
        """The non-empty drafts of `n` samples in one model call (a draft cut by its token limit is kept: an
        unfinished chain of thought still guides a sketch)."""
        if n < 1 or expired(deadline):
            return []
        prompt = self.template.render(statement, problem_name)
        t0 = time.perf_counter()
        try:
            completions = self.generator.lm.complete([prompt], n, self.settings.max_tokens, self.settings.temperature,
                                                     self.template.stops, deadline, top_p=0.95, seed=self.seed)[0]
        finally:
            self.generator.model_seconds += time.perf_counter() - t0
        return [c.text.strip() for c in completions if c.text.strip()]
