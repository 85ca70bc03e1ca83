"""Test doubles for the prover's protocols: named as such, used by tests and benchmarks, never by production code."""
from __future__ import annotations

import re
import time

from prover.backend import BackendBase
from prover.generators import Candidate
from prover.types import (Advanced, Failed, ProofState, Proved, StatementError, TacticPaths, Theorem, TimedOut,
                          Verdict)


class FixedSketches:
    """Test double for a SketchSource (prover.translate): returns given sketch texts (cycled), at no model cost;
    counts requests."""

    name = "fixed-sketches"

    def __init__(self, texts: list[str] | str):
        self.texts = [texts] if isinstance(texts, str) else list(texts)
        self.requests = 0
        self._next = 0

    def sketches(self, prompt: str, n: int, deadline: float | None = None) -> list[str]:
        self.requests += 1
        out = [self.texts[(self._next + i) % len(self.texts)] for i in range(n)]
        self._next += n
        return out


def score_tactics(generator, theorem, state_text: str, tactics: list[str]):
    """Test/benchmark helper: a transformers generator's (prover.hf_generator.HFGenerator) scores for given tactics
    at a state, in the order given (not deduplicated or sorted).

    A tactic is scored as the completion "tactic + what ends it" (the newline, or "\\n" + the template's stop
    string), as a sampled one is, by one plain batched forward over prompt + tactic per tactic (left-padded so that
    every continuation ends in the last column), no cache reused."""
    import torch

    from prover.generators import Candidate, candidate_score

    if not tactics:
        return []
    lm, stop = generator.lm, generator.template.stop
    suffix = "\n" if any(s.strip("\r\n") == "" for s in stop) else "\n" + next(s for s in stop if s.strip("\r\n"))
    continuations = [lm.tokenizer(t.strip() + suffix, add_special_tokens=False)["input_ids"] for t in tactics]
    prompt = lm.prompt_ids(generator.build_prompt(theorem, state_text))
    rows = [prompt + c for c in continuations]
    longest = max(len(r) for r in rows)
    with torch.inference_mode():
        ids = torch.tensor([[lm.pad_token_id] * (longest - len(r)) + r for r in rows], device=lm.device)
        mask = torch.tensor([[0] * (longest - len(r)) + [1] * len(r) for r in rows], device=lm.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        tail = max(len(c) for c in continuations) + 1
        logits = lm.model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=tail).logits.float()
        logprobs = []
        for i, c in enumerate(continuations):
            # logits[:, -1 - j] predicts the token j from the end; the continuation is the last len(c).
            predicting = torch.log_softmax(logits[i, tail - 1 - len(c): tail - 1], dim=-1)
            index = torch.tensor(c, device=lm.device)
            logprobs.append(float(predicting.gather(1, index[:, None]).sum()))
    return [Candidate(t.strip(), candidate_score(lp, len(c), generator.scoring), lp, len(c))
            for t, c, lp in zip(tactics, continuations, logprobs)]


class ReplayGenerator:
    """Test double for a model (TacticGenerator): proposes fixed tactics (per theorem name, or for every theorem) at
    zero model cost, scored -1, -1.001, ... in the order given."""

    name = "replay"

    def __init__(self, tactics: list[str] | dict[str, list[str]], score: float = -1.0):
        self._tactics = tactics
        self._score = score

    def generate(self, theorem: Theorem, state_text: str, n: int, deadline: float | None = None) -> list[Candidate]:
        tactics = self._tactics.get(theorem.name, []) if isinstance(self._tactics, dict) else self._tactics
        return [Candidate(t, self._score - 1e-3 * i) for i, t in enumerate(tactics[:n])]


_TOY_STATEMENT = re.compile(r"Goal (\d+) = 0\.")


def toy_theorem(start: int, name: str | None = None) -> Theorem:
    """A theorem of the toy backend (ToyBackend): bring `start` down to 0."""
    return Theorem(name or f"toy_{start}", f"Goal {start} = 0.", "", "toy")


class ToyBackend(BackendBase):
    """Test double for a proof assistant (the Backend protocol), in memory and deterministic: a theorem says "bring n
    down to 0" (`toy_theorem`), a state's goals are "⊢ n = 0", and the tactics are

      dec       n -> n - 1                    half   n -> n / 2 (fails on an odd n)
      sub K     n -> n - K (fails if K > n)   idtac  the same state again (merged into itself)
      auto      closes n <= 2, else fails     loop   times out (at once: no time really passes)
      cheat     closes any goal, but `verify` refuses the proof (a kernel refusing what the tactic engine took)

    With `hammer_seconds`, `hammer` is its hammer: after that long (slept; a shorter limit times it out) it closes
    n <= HAMMER_REACH by the step `sub n`, which the proof records, and fails on a larger n.

    Reaching 0 closes the proof; anything else fails as an unknown tactic. `auto` is the automation list. Two ways
    lead to one state almost everywhere (`sub 2` and `dec` twice; `half` and `sub n/2`). Each tactic takes
    `tactic_seconds` and each check `check_seconds` (slept: for budget specs); a check given a timeout below
    `check_seconds` refuses the proof ("did not finish"), as a real checker would; `verify_timeouts` records the
    limit each check was given."""

    name = "toy"
    HAMMER_REACH = 6

    def __init__(self, tactic_seconds: float = 0.0, check_seconds: float = 0.0,
                 automation: tuple[str, ...] = ("auto",), hammer_seconds: float | None = None):
        self.tactic_seconds, self.check_seconds, self.automation = tactic_seconds, check_seconds, list(automation)
        self.hammer_seconds = hammer_seconds
        self.verify_timeouts: list[float | None] = []
        self.tactics_run = 0
        self._paths = TacticPaths()
        self._values: dict[int, int] = {}  # handle -> n

    def open(self, theorem: Theorem) -> ProofState:
        found = _TOY_STATEMENT.fullmatch(theorem.statement)
        if found is None:
            raise StatementError(f"the toy backend cannot state {theorem.statement!r}")
        self._paths, self._values = TacticPaths(), {}
        return self._state((), int(found.group(1)))

    def _state(self, path: tuple[str, ...], n: int) -> ProofState:
        handle = self._paths.handle(path)
        self._values[handle] = n
        return ProofState(handle, f"⊢ {n} = 0", len(path))

    @staticmethod
    def step(n: int, tactic: str) -> int | str | None:
        """The number a tactic leaves, or the error text it fails with; None for `cheat` (closes anything)."""
        word, _, argument = tactic.strip().partition(" ")
        if word == "dec" and not argument:
            return n - 1 if n > 0 else "dec: already 0"
        if word == "half" and not argument:
            return n // 2 if n % 2 == 0 else f"half: {n} is odd"
        if word == "sub" and argument.isdigit():
            return n - int(argument) if int(argument) <= n else f"sub: {argument} > {n}"
        if word == "idtac" and not argument:
            return n
        if word == "auto" and not argument:
            return 0 if n <= 2 else f"auto: cannot close {n} = 0"
        if word == "cheat" and not argument:
            return None
        return f"unknown tactic {tactic!r}"

    def run_tactic(self, state: ProofState, tactic: str, timeout: float):
        if state.handle not in self._values:
            raise ValueError("a state from before the last open")
        self.tactics_run += 1
        time.sleep(self.tactic_seconds)
        if tactic.strip() == "loop":
            return TimedOut(timeout)
        if tactic.strip() == "hammer" and self.hammer_seconds is not None:
            return self._hammer(state, timeout)
        path = self._paths.path(state.handle) + (tactic.strip(),)
        n = self.step(self._values[state.handle], tactic)
        if isinstance(n, str):
            return Failed(n)
        if n is None or n == 0:
            return Proved(path)
        return Advanced(self._state(path, n))

    def render_proof(self, theorem: Theorem, tactics: tuple[str, ...]) -> str:
        return "\n".join([theorem.statement, *tactics, "Qed."])

    def verify(self, theorem: Theorem, tactics: tuple[str, ...], timeout: float | None = None) -> Verdict:
        """Replay `tactics` from the statement: accepted if they reach 0 without `cheat`."""
        self.verify_timeouts.append(timeout)
        if timeout is not None and self.check_seconds > timeout:
            time.sleep(timeout)
            return Verdict(False, f"the check did not finish within {timeout:g}s")
        time.sleep(self.check_seconds)
        n: int | str | None = int(_TOY_STATEMENT.fullmatch(theorem.statement).group(1))
        for number, tactic in enumerate(tactics, 1):
            n = self.step(n, tactic)
            if n is None:
                return Verdict(False, f"step {number}: {tactic!r} is not a proof")
            if isinstance(n, str):
                return Verdict(False, f"step {number}: {n}")
            if n == 0:
                return Verdict(number == len(tactics), "" if number == len(tactics) else "tactics after the proof")
        return Verdict(False, f"{n} = 0 is left")

    def automation_tactics(self) -> list[str]:
        return list(self.automation)

    def hammer_tactics(self) -> list[str]:
        return ["hammer"] if self.hammer_seconds is not None else []

    def _hammer(self, state: ProofState, timeout: float):
        if self.hammer_seconds > timeout:
            time.sleep(timeout)
            return TimedOut(timeout)
        time.sleep(self.hammer_seconds)
        n = self._values[state.handle]
        if n > self.HAMMER_REACH:
            return Failed(f"hammer: no proof of {n} = 0 found")
        step = f"sub {n}"
        return Proved(self._paths.path(state.handle) + (step,), step=step)
