"""Informal-to-formal translation, Draft-Sketch-Prove style (Jiang et al. 2023; Llemma §3.5).

A few-shot prompt shows (informal statement, informal proof, formal statement) -> formal sketch, the informal
steps as comments and the hard-to-write steps left as gaps (the backend's gap word: `admit.` in Rocq, `sorry` in
Lean, `sledgehammer` in Isabelle). K sketches are sampled; each is run step by step from the theorem's root state;
at each gap the backend's automation tactics are tried alone, then a small best-first search (prover.search) from
the gap's state; the completed proof is checked as a whole in a fresh process (backend.verify). The first verified
sketch wins.

A problem's budget (`TranslateConfig.budget_seconds`) bounds everything up to the final check, as the search's
does: loading the theorem, sampling sketches (each model call gets the time left), driving them and closing
their gaps (a gap's search gets at most the time left; every tactic at most the time left, and no less than half
a second). A sketch completed in time is then checked within `verify_timeout`. So a problem takes at most about
budget_seconds + tactic_timeout + verify_timeout.

Where a problem has no informal proof (or `redraft` asks), a draft source (prover.drafts) first writes up to
`drafts` of them from the informal statement, within the same budget; sketch i is then sampled from draft
i mod D, so the K sketch samples are spread over the drafts (K drafts: one sketch each, as in DSP) and a problem
costs K sketches whether or not its proof was drafted. The row records the drafts and each sketch's `draft`.

Everything language-specific comes from the backend plugin's SketchSyntax (prover.syntax): the prompt's layout,
how a sketch is parsed, and, where the backend can drive sketches live (its `focus`: Rocq's), how a gap maps to a
focused goal. Other backends' sketches are parsed and prompted for, but not driven here (--sketch-only).
A sketch whose own (non-gap) step fails is discarded, not repaired.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterator, Protocol

from prover.backend import Backend, BackendBase, BackendWrapper
from prover.batch import RESULTS, read_rows
from prover.drafts import DraftSource
from prover.jsonl import append_row, write_atomic
from prover.generators import AutomationOnly, TacticGenerator, expired, seconds_left, takes_keyword
from prover.plugins import UnknownBackend, available_backends, cached_plugin
from prover.search import HAMMER_MIN_SECONDS, SearchConfig, Status, best_first_search, verify_within
from prover.syntax import GapFocus, SketchSyntax
from prover.types import (
    Advanced,
    Failed,
    ProofState,
    Proved,
    StatementError,
    Theorem,
    TimedOut,
    Verdict,
)

_MAX_INFORMAL_CHARS = 1500  # per informal text in a prompt: some informal proofs run to pages


class TranslateError(ValueError):
    """A problem that cannot be translated as given (no informal proof, no formal statement); one line."""


def sketch_syntax(backend: str) -> SketchSyntax:
    """The backend's sketch syntax (its plugin's); TranslateError where it has none."""
    try:
        syntax = cached_plugin(backend).sketch
    except UnknownBackend:
        syntax = None
    if syntax is None:
        raise TranslateError(f"no sketch syntax for backend {backend!r}")
    return syntax


def sketch_stops(backend: str) -> tuple[str, ...]:
    """Where a sampled sketch for the backend ends (at least where the next problem's informal text starts)."""
    try:
        return sketch_syntax(backend).stops
    except TranslateError:
        return ("\nInformal:",)


@dataclass(frozen=True)
class Problem:
    """What a translation needs: the formal theorem (statement fixed) and its informal statement and proof."""

    theorem: Theorem
    informal_statement: str
    informal_proof: str


@dataclass(frozen=True)
class TranslateConfig:
    samples: int = 4  # sketches sampled per problem (K)
    max_tokens: int = 384  # per sketch
    temperature: float = 0.8
    tactic_timeout: float = 5.0  # per sketch step and per gap tactic
    gap_search: SearchConfig = SearchConfig(max_expansions=8, budget_seconds=15.0, num_candidates=8)
    search_gaps: bool = True  # after automation, search from the gap's state
    budget_seconds: float = 300.0  # wall clock per problem, all samples together
    drive: bool = True  # False: only sample and parse sketches (no proof assistant needed; any backend)
    verify_timeout: float = 60.0  # the final check of a completed sketch, on top of the budget (as SearchConfig's)
    drafts: int | None = None  # informal proofs drafted where drafting (at most `samples`; None: `samples`)
    redraft: bool = False  # draft even where a human informal proof exists (given a draft source)


# -- sketch sources -------------------------------------------------------------------------------------------
class SketchSource(Protocol):
    name: str

    def sketches(self, prompt: str, n: int, deadline: float | None = None) -> list[str]:
        """`n` sampled completions of `prompt` (formal sketches, free-form, several lines); at `deadline`
        (time.monotonic()) those complete by then. A source may leave `deadline` out (see `_sketches_within`)."""
        ...


def _sketches_within(source: SketchSource, prompt: str, n: int, deadline: float | None) -> list[str]:
    """`source.sketches`, given the deadline where it takes one; nothing once the deadline has passed."""
    if expired(deadline):
        return []
    if deadline is not None and takes_keyword(source.sketches, "deadline"):
        return source.sketches(prompt, n, deadline=deadline)
    return source.sketches(prompt, n)


class ModelSketches:
    """Free-form sketch sampling from the model a tactic generator already loaded (its LanguageModel, `.lm`)."""

    def __init__(self, generator, backend: str, max_tokens: int = 384, temperature: float = 0.8, seed: int | None = None):
        self.generator = generator
        self.name = getattr(generator, "name", "model")
        self.stop = sketch_stops(backend)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed

    def sketches(self, prompt: str, n: int, deadline: float | None = None) -> list[str]:
        """Sampled sketches, each cut before its stop; at `deadline` (time.monotonic()) those complete by then (an
        OpenAI server's reply is waited for until then, transformers stops sampling then; vLLM's offline engine has
        no time limit per call, so it is not called once the deadline has passed)."""
        if expired(deadline):
            return []
        lm = getattr(self.generator, "lm", None)
        if lm is None:
            raise TranslateError(f"model {self.name} cannot sample free-form sketches")
        t0 = time.perf_counter()
        try:
            completions = lm.complete([prompt], n, self.max_tokens, self.temperature, self.stop, deadline, top_p=0.95,
                                      seed=self.seed)[0]
        finally:
            self.generator.model_seconds += time.perf_counter() - t0
        # One the clock stopped (neither a stop nor its token limit) may end mid-step.
        return [c.text for c in completions if c.stopped or not expired(deadline)]


# -- prompts --------------------------------------------------------------------------------------------------
def example_set(backend: str, name: str = "") -> str:
    """Which shipped few-shot set (prover/sketch_examples) the problem `name` uses, as its backend says."""
    return sketch_syntax(backend).example_set(name)


def load_examples(set_name: str) -> list[dict]:
    text = resources.files("prover").joinpath("sketch_examples", f"{set_name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _MAX_INFORMAL_CHARS else text[:_MAX_INFORMAL_CHARS].rsplit(" ", 1)[0] + " ..."


def _informal_block(syntax: SketchSyntax, statement: str, proof: str) -> str:
    open_, close = syntax.comment
    return f"Informal:\n{open_}### Problem\n\n{_clip(statement)}\n\n### Solution\n\n{_clip(proof)}{close}\n\n"


def build_prompt(problem: Problem, examples: list[dict] | None = None) -> str:
    """The few-shot prompt; the model continues right after the formal statement (and the backend's proof opening,
    e.g. `Proof.` in Rocq)."""
    syntax = sketch_syntax(problem.theorem.backend)
    examples = load_examples(syntax.example_set(problem.theorem.name)) if examples is None else examples
    examples = [ex for ex in examples if ex.get("name") != problem.theorem.name]  # never its own solution
    parts = [f"Translate each informal proof into a formal proof sketch. Keep the informal steps as comments and "
             f"leave each step that automation can finish as `{syntax.gap_word}`.\n\n"]
    for ex in examples:
        parts.append(_informal_block(syntax, ex["informal_statement"], ex["informal_proof"]) +
                     f"Formal:\n{ex['formal_statement']}\n{syntax.proof_opening}{ex['formal_proof']}"
                     f"{syntax.proof_closing}\n\n\n")
    parts.append(_informal_block(syntax, problem.informal_statement, problem.informal_proof) +
                 f"Formal:\n{syntax.formal_statement(problem.theorem)}\n{syntax.proof_opening}")
    return "".join(parts)


# -- parsing --------------------------------------------------------------------------------------------------
def parse_sketch(text: str, theorem: Theorem) -> tuple[list[str], list[int]]:
    """(steps, gap indices) for a sketch of `theorem`; raises SketchRefused (a ValueError) if unusable."""
    return sketch_syntax(theorem.backend).parse(text, theorem)


# -- driving a sketch (backends with a GapFocus) ----------------------------------------------------------------------------------
@dataclass
class GapClosure:
    index: int  # the gap's step index in the sketch
    by: str  # "automation" | "hammer" | "search"
    tactics: tuple[str, ...]
    seconds: float = 0.0


@dataclass
class SketchOutcome:
    text: str
    status: str  # verified | rejected | refused | step_failed | gap_unclosed | open_goals | timeout
    reason: str = ""
    steps: list[str] = field(default_factory=list)
    gaps: list[GapClosure] = field(default_factory=list)
    tactics: tuple[str, ...] | None = None
    verdict: Verdict | None = None
    seconds: float = 0.0

    def as_row(self) -> dict:
        row = {"text": self.text, "status": self.status, "steps": self.steps,
               "gaps": [{**asdict(g), "tactics": list(g.tactics)} for g in self.gaps], "seconds": round(self.seconds, 3)}
        if self.reason:
            row["reason"] = self.reason
        if self.tactics is not None:
            row["proof"] = list(self.tactics)
        return row


class _GapView(BackendWrapper):
    """The backend seen from one gap: `open` gives the focused goal's state; a tactic path that proves the focused
    goal is `Proved` (its tactics relative to the gap). Lets prover.search run unchanged on a gap."""

    def __init__(self, backend: Backend, root: ProofState, focus: GapFocus):
        super().__init__(backend)
        self._root = root
        self._closed, self._normalize = focus.closed, focus.normalize
        self._rel: dict[int, tuple[str, ...]] = {root.handle: ()}

    def open(self, theorem: Theorem) -> ProofState:
        return self._root

    def run_tactic(self, state: ProofState, tactic: str, timeout: float):
        outcome = self.inner.run_tactic(state, tactic, timeout)
        # A hammer's recorded step (its replay tactic), not the hammer call.
        step = (outcome.step if isinstance(outcome, (Advanced, Proved)) else None) or tactic
        rel = self._rel.get(state.handle, ()) + (self._normalize(step),)
        if isinstance(outcome, Proved):  # the whole theorem: drop the braces the backend closed after it
            return Proved(rel)
        if isinstance(outcome, Advanced):
            if self._closed(outcome.state.goals):
                return Proved(rel)
            self._rel.setdefault(outcome.state.handle, rel)
        return outcome

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        return " ".join(tactics)

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        return Verdict(True, "a gap's tactics: checked with the whole proof")

    # A gap's search merges states by their goals up to whitespace, as it always has, not by the backend's key.
    state_key = BackendBase.state_key

    def close(self) -> None:
        pass  # the backend is the sketch's, which goes on after the gap


def _tactic_time(config: TranslateConfig, deadline: float) -> float:
    """A tactic's time limit: the time left, within [0.5 s, tactic_timeout] (as the search's)."""
    return max(0.5, seconds_left(deadline, config.tactic_timeout))


def _focus(theorem: Theorem) -> GapFocus:
    focus = sketch_syntax(theorem.backend).focus
    if focus is None:
        raise TranslateError(f"sketches for backend {theorem.backend!r} are not driven live")
    return focus


def close_gap(theorem: Theorem, backend: Backend, state: ProofState, index: int, generator: TacticGenerator,
              config: TranslateConfig, deadline: float) -> GapClosure | None:
    """Tactics that prove the first goal of `state` (the goal the gap's `admit` would have closed)."""
    focus = _focus(theorem)
    t0 = time.monotonic()
    focused = backend.run_tactic(state, focus.open, _tactic_time(config, deadline))
    if not isinstance(focused, Advanced):
        return None
    view = _GapView(backend, focused.state, focus)
    for tactic in backend.automation_tactics():
        if time.monotonic() >= deadline:
            return None
        if isinstance(view.run_tactic(focused.state, tactic, _tactic_time(config, deadline)), Proved):
            return GapClosure(index, "automation", (focus.normalize(tactic),), round(time.monotonic() - t0, 3))
    # Then the hammer (Sledgehammer's part in Draft-Sketch-Prove): the step recorded is what it found.
    for tactic in backend.hammer_tactics() if config.gap_search.hammer else []:
        limit = min(config.gap_search.hammer_timeout, deadline - time.monotonic())
        if limit < HAMMER_MIN_SECONDS:
            break
        closed = view.run_tactic(focused.state, tactic, limit)
        if isinstance(closed, Proved):
            return GapClosure(index, "hammer", closed.tactics, round(time.monotonic() - t0, 3))
    if not config.search_gaps or isinstance(generator, AutomationOnly):
        return None
    budget = min(config.gap_search.budget_seconds, deadline - time.monotonic())
    if budget <= 0.5:
        return None
    search = SearchConfig(**{**asdict(config.gap_search), "budget_seconds": budget, "tactic_timeout": config.tactic_timeout,
                             "hammer": False})  # the hammer had the gap's goal; the search's other nodes are smaller
    result = best_first_search(theorem, view, generator, search, verify=False)
    if result.status is Status.PROVED and result.tactics:
        return GapClosure(index, "search", result.tactics, round(time.monotonic() - t0, 3))
    return None


def run_sketch(text: str, theorem: Theorem, backend: Backend, generator: TacticGenerator, config: TranslateConfig,
               deadline: float) -> SketchOutcome:
    """Parse, drive and check one sketch."""
    focus = _focus(theorem)
    t0 = time.monotonic()
    outcome = SketchOutcome(text=text, status="refused")
    try:
        try:
            steps, gaps = parse_sketch(text, theorem)
        except ValueError as exc:
            outcome.reason = str(exc)
            return outcome
        outcome.steps = steps
        state = backend.open(theorem)
        proved: tuple[str, ...] | None = None
        for i, step in enumerate(steps):
            if time.monotonic() >= deadline:
                outcome.status, outcome.reason = "timeout", f"budget spent at step {i}"
                return outcome
            if i in gaps:
                closure = close_gap(theorem, backend, state, i, generator, config, deadline)
                if closure is None:
                    outcome.status, outcome.reason = "gap_unclosed", f"gap {gaps.index(i) + 1} (step {i}) not closed"
                    return outcome
                outcome.gaps.append(closure)
                sequence = [focus.open, *closure.tactics, focus.close]
            else:
                sequence = [step]
            for tactic in sequence:
                result = backend.run_tactic(state, tactic, _tactic_time(config, deadline))
                if isinstance(result, Proved):
                    proved = result.tactics
                    break
                if isinstance(result, (Failed, TimedOut)):
                    why = result.error if isinstance(result, Failed) else f"timed out after {result.seconds:g}s"
                    outcome.status = "step_failed"
                    outcome.reason = f"step {i} {step!r} failed: {' '.join(why.split())[:200]}"
                    return outcome
                state = result.state
            if proved is not None:
                break
        if proved is None:
            outcome.status, outcome.reason = "open_goals", "the sketch ends with goals left"
            return outcome
        outcome.tactics = proved
        outcome.verdict = verify_within(backend, theorem, proved, config.verify_timeout)  # on top of the budget
        outcome.status = "verified" if outcome.verdict.accepted else "rejected"
        if not outcome.verdict.accepted:
            outcome.reason = outcome.verdict.reason
        return outcome
    finally:
        outcome.seconds = time.monotonic() - t0


# -- one problem, a batch -------------------------------------------------------------------------------------
def check_problem(problem: Problem, can_draft: bool = False) -> None:
    """Raise TranslateError for input that cannot be translated (before any model or proof-assistant work); a
    missing informal proof is fine where one can be drafted."""
    if not problem.informal_statement.strip():
        raise TranslateError(f"{problem.theorem.name}: no informal statement")
    if not problem.informal_proof.strip() and not can_draft:
        raise TranslateError(f"{problem.theorem.name}: no informal proof; give one, or draft one with "
                             f"--draft-model SPEC")
    if not problem.theorem.statement.strip():
        raise TranslateError(f"{problem.theorem.name}: no formal statement")


def _drivable(backend: str) -> bool:
    try:
        syntax = cached_plugin(backend).sketch
    except UnknownBackend:
        return False
    return syntax is not None and syntax.drivable


def _loads_and_drives(backend: str) -> bool:
    """For the message only: a backend package that fails to load (a broken install) drives nothing."""
    try:
        return _drivable(backend)
    except Exception:  # noqa: BLE001 - naming the others must not hide the user's own mistake
        return False


def check_drivable(backend: str) -> None:
    if not _drivable(backend):
        drivable = ", ".join(name for name in available_backends() if _loads_and_drives(name))
        raise TranslateError(f"translation drives sketches live only on {drivable} in this version "
                             f"(not {backend}); use --sketch-only to sample and parse sketches")


def translate_one(problem: Problem, backend: Backend, source: SketchSource, generator: TacticGenerator,
                  config: TranslateConfig, drafter: DraftSource | None = None) -> tuple[dict, str | None]:
    """Draft informal proofs where needed (and a `drafter` is given), sample up to K sketches (one at a time),
    stop at the first verified; the row and the proof file text."""
    theorem = problem.theorem
    row = {"name": theorem.name, "split": theorem.split, "model": source.name, "proof": None, "samples": 0,
           "sketches": []}
    t0 = time.monotonic()
    deadline = t0 + config.budget_seconds
    try:
        check_problem(problem, can_draft=drafter is not None)
        if config.drive:
            check_drivable(theorem.backend)
            backend.open(theorem)  # a statement the assistant rejects is `unsupported`, before any sampling
    except TranslateError as exc:
        return {**row, "status": "error", "reason": str(exc), "seconds": 0.0}, None
    except StatementError as exc:
        return {**row, "status": "unsupported", "reason": str(exc), "seconds": round(time.monotonic() - t0, 3)}, None
    proofs = [problem.informal_proof]
    row["informal_proof_source"] = "human"
    if drafter is not None and (config.redraft or not problem.informal_proof.strip()):
        proofs = _draft(problem, drafter, config, deadline, row)
        if not proofs:
            status, reason = ((Status.TIMEOUT.value, "budget spent while drafting") if expired(deadline) else
                              (Status.FAILED.value, "the draft model wrote no draft"))
            return {**row, "status": status, "reason": reason, "seconds": round(time.monotonic() - t0, 3)}, None
    prompts = [build_prompt(dataclasses.replace(problem, informal_proof=proof)) for proof in proofs]
    if not config.drive:
        return _sketch_only(problem, prompts, source, config, row, t0), None
    script = None
    status = Status.FAILED.value
    for i in range(config.samples):
        if time.monotonic() >= deadline:
            status = Status.TIMEOUT.value
            break
        which = i % len(prompts)
        texts = _sketches_within(source, prompts[which], 1, deadline)
        if not texts and expired(deadline):  # the budget ran out while the model sampled
            status = Status.TIMEOUT.value
            break
        row["samples"] += 1
        outcome = run_sketch(texts[0] if texts else "", theorem, backend, generator, config, deadline)
        row["sketches"].append(_from_draft(outcome.as_row(), row, which))
        if outcome.status == "verified":
            status = Status.PROVED.value
            row["proof"] = list(outcome.tactics)
            row["axioms"] = list(outcome.verdict.axioms)
            script = backend.render_proof(theorem, outcome.tactics)
            break
    else:
        if row["sketches"] and row["sketches"][-1]["status"] == "timeout":
            status = Status.TIMEOUT.value
    row.update(status=status, seconds=round(time.monotonic() - t0, 3))
    return row, script


def _draft(problem: Problem, drafter: DraftSource, config: TranslateConfig, deadline: float, row: dict) -> list[str]:
    """Up to `drafts` informal proofs of the problem, recorded in the row; within the problem's deadline."""
    t0 = time.monotonic()
    wanted = min(config.drafts or config.samples, config.samples)  # a draft no sketch is sampled from is wasted
    texts = drafter.drafts(problem.informal_statement, wanted, deadline, problem.theorem.name)
    row.update(informal_proof_source="draft", draft_seconds=round(time.monotonic() - t0, 3),
               drafts=[{"text": text, "model": drafter.name, "template": drafter.template.name} for text in texts])
    return texts


def _from_draft(sketch: dict, row: dict, which: int) -> dict:
    """The sketch's row, saying which draft it was sampled from where the proofs were drafted."""
    return {**sketch, "draft": which} if "drafts" in row else sketch


def _sketch_only(problem: Problem, prompts: list[str], source: SketchSource, config: TranslateConfig, row: dict,
                 t0: float) -> dict:
    """Sample K sketches (spread over the prompts as the driven loop does) and record their steps and gaps,
    without a proof assistant."""
    deadline = t0 + config.budget_seconds
    for which, prompt in enumerate(prompts):
        count = len(range(which, config.samples, len(prompts)))
        for text in _sketches_within(source, prompt, count, deadline) if count else []:
            row["samples"] += 1
            try:
                steps, gaps = parse_sketch(text, problem.theorem)
                sketch = {"text": text, "status": "parsed", "steps": steps, "gap_steps": gaps}
            except ValueError as exc:
                sketch = {"text": text, "status": "refused", "reason": str(exc)}
            row["sketches"].append(_from_draft(sketch, row, which))
    return {**row, "status": "sketched", "seconds": round(time.monotonic() - t0, 3)}


def translate_batch(problems: list[Problem | tuple[Theorem, str]], backend: Backend, source: SketchSource,
                    generator: TacticGenerator, config: TranslateConfig, out: Path, suffix: str = ".v",
                    progress: bool = False, drafter: DraftSource | None = None) -> Iterator[dict]:
    """Translate each problem not already in out/results.jsonl (drafting informal proofs with `drafter` where
    needed); a problem given as (theorem, error) gets an error row. Rows are appended as soon as known, proofs
    written to out/proofs/ first."""
    done = {row["name"] for row in read_rows(out / RESULTS)}
    todo = [p for p in problems if (p.theorem.name if isinstance(p, Problem) else p[0].name) not in done]
    from tqdm import tqdm

    for item in tqdm(todo, disable=not progress, unit="problem", dynamic_ncols=True):
        if isinstance(item, Problem):
            try:
                row, script = translate_one(item, backend, source, generator, config, drafter)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # one broken problem must not end the batch
                row, script = {"name": item.theorem.name, "split": item.theorem.split, "model": source.name,
                               "proof": None, "status": "error", "reason": f"{type(exc).__name__}: {exc}"}, None
        else:
            theorem, reason = item
            row, script = {"name": theorem.name, "split": theorem.split, "model": source.name, "proof": None,
                           "status": "error", "reason": reason}, None
        if script is not None:
            write_atomic(out / "proofs" / f"{row['name']}{suffix}", script)
        append_row(out / RESULTS, row)
        yield row


def benchmark_problems(theorems: list[Theorem]) -> list[Problem | tuple[Theorem, str]]:
    """Each benchmark theorem with the informal statement and proof its loader gave it, or (theorem, why not)."""
    return [Problem(t, t.informal_statement, t.informal_proof) if t.informal_statement or t.informal_proof
            else (t, f"no informal statement for {t.name!r} in its benchmark") for t in theorems]


def single_problem(backend: str, informal_statement: str, informal_proof: str, formal_statement: str,
                   header: str | None = None, can_draft: bool = False) -> Problem:
    """A Problem from user text; TranslateError (one line) if the formal statement is not a declaration, or a text
    it needs is missing (the informal proof may be, where one can be drafted)."""
    formal = formal_statement.strip()
    if not formal:
        raise TranslateError("no formal statement")
    syntax = sketch_syntax(backend)
    try:
        theorem_name = syntax.statement_name(formal)
    except ValueError as exc:
        raise TranslateError(str(exc)) from None
    theorem = Theorem(name=theorem_name, statement=formal, header=(header if header is not None else
                      syntax.default_header).strip(), backend=backend)
    problem = Problem(theorem, informal_statement or "", informal_proof or "")
    check_problem(problem, can_draft)
    return problem
