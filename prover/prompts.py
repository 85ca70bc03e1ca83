"""Prompt templates, selectable by name or loaded from a user's template file; each backend's plugin names its
default."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt with a `{goals}` slot (and optionally `{statement}`), and where a proposed tactic ends."""

    name: str
    text: str
    stop: tuple[str, ...] = ("\n",)  # a completion is cut at the first of these

    def render(self, goals: str, statement: str = "") -> str:
        return self.text.replace("{statement}", statement).replace("{goals}", goals)

    @property
    def prefix(self) -> str:
        """The text before the first slot: the same for every state, so its model cache can be shared."""
        cut = min(i for i in (self.text.find("{goals}"), self.text.find("{statement}")) if i >= 0)
        return self.text[:cut]


def _fewshot_lean() -> str:
    # Llemma's few-shot layout: an instruction, three solved examples, then the query; tactics between '---'.
    examples = [
        ("a b : ℕ\nh : a = b\n⊢ b = a", "exact h.symm"),
        ("x : ℝ\nhx : 0 < x\n⊢ 0 < x ^ 2 + x", "positivity"),
        ("n : ℕ\nh₀ : n % 5 = 3\n⊢ 2 * n % 5 = 1", "omega"),
    ]
    shots = "".join(f"Tactic state:\n---\n{state}\n---\nNext tactic:\n---\n{tactic}\n---\n\n" for state, tactic in examples)
    return "Given the Lean 4 tactic state, suggest a next tactic.\nHere are some examples:\n\n" + shots + (
        "Tactic state:\n---\n{goals}\n---\nNext tactic:\n---\n"
    )


_ROCQ_PROOFSTEP = (
    "Each example shows a Rocq (Coq) proof state after [GOAL] and, after [PROOFSTEP],"
    " the single next tactic that makes progress on it.\n\n"
    "[GOAL]\n1 goal\n  \n  ============================\n  forall a b : nat, a + b = b + a\n[PROOFSTEP]\nintros a b.\n\n"
    "[GOAL]\n1 goal\n  \n  P, Q : Prop\n  HP : P\n  HQ : Q\n  ============================\n  P /\\ Q\n[PROOFSTEP]\nsplit.\n\n"
    "[GOAL]\n1 goal\n  \n  n, m : nat\n  H : n <= m\n  ============================\n  n < S m\n[PROOFSTEP]\nlia.\n\n"
    "[GOAL]\n{goals}\n[PROOFSTEP]\n"
)

PROMPTS: dict[str, PromptTemplate] = {
    t.name: t
    for t in [
        PromptTemplate("rocq-proofstep", _ROCQ_PROOFSTEP),
        # The bare format `python -m training finetune` trains on (prover.proofsteps), for any backend; a model
        # folder that was trained on it names it in its llemma_prover.json, so it is picked by default.
        PromptTemplate("proofstep", "[GOAL]\n{goals}\n[PROOFSTEP]\n"),
        # The proofstep formats Llemma was trained on (Proof-Pile-2's Lean and Isabelle step data).
        PromptTemplate("lean-proofstep", "[GOAL]\n{goals}\n[PROOFSTEP]\n"),
        PromptTemplate("isabelle-proofstep", "[STATEMENT]\n{statement}\n[PROOF STATE]\n{goals}\n[PROOF STEP]\n"),
        PromptTemplate("llemma-fewshot-lean", _fewshot_lean(), stop=("---",)),
    ]
}


def default_prompt(backend: str) -> str:
    """The prompt name used for `backend` when none is given: its plugin's (an unknown backend's: the default
    backend's, as for a theorem of no installed backend)."""
    from prover.plugins import DEFAULT_BACKEND, UnknownBackend, cached_plugin

    try:
        return cached_plugin(backend).default_prompt
    except UnknownBackend:
        return cached_plugin(DEFAULT_BACKEND).default_prompt


def load_prompt(spec: str) -> PromptTemplate:
    """A template by name, or from a file (its text, with `{goals}`; completions stop at a newline)."""
    if spec in PROMPTS:
        return PROMPTS[spec]
    path = Path(spec)
    if not path.is_file():
        raise ValueError(f"unknown prompt {spec!r}: not one of {', '.join(PROMPTS)} nor a readable file")
    text = path.read_text()
    if "{goals}" not in text:
        raise ValueError(f"prompt file {spec} has no {{goals}} slot")
    return PromptTemplate(path.stem, text)


def resolve_template(prompt: str | PromptTemplate) -> PromptTemplate:
    """A usable template from a PromptTemplate, a name in PROMPTS, a template text with {goals}, or a template
    file; ValueError (naming the choices) for anything else, or a template without exactly one {goals} slot or
    with an empty stop sequence."""
    if isinstance(prompt, PromptTemplate):
        template = prompt
    elif prompt in PROMPTS:
        template = PROMPTS[prompt]
    elif "{goals}" in prompt:  # a template text given inline
        template = PromptTemplate("custom", prompt)
    else:
        template = load_prompt(prompt)
    if template.text.count("{goals}") != 1:
        raise ValueError(f"prompt {template.name!r} needs exactly one {{goals}} slot")
    if not template.stop or not all(template.stop):
        raise ValueError(f"prompt {template.name!r} needs non-empty stop sequences")
    return template
