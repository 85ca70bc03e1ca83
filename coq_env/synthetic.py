"""Synthetic miniF2F-shaped Rocq theorems with scripted proofs: training data for the steps the hint templates
name (`coq_env.hints`), in many more variants than miniF2F valid holds.

Three kinds, each a handful of statement families with random constants and variable names, as a competition
problem would state them (`forall n : nat, n mod 8 = 7 -> ...` or binders `(n : nat) (h0 : ...)`):

- `mod`: remainders over nat and Z. Proof: intros, the division equation and bound of each `a mod k`
  (`hints.mod_facts`), then lia or nia.
- `field`: rational equations over R whose denominators are nonzero by hypothesis. Proof: intros,
  `field_simplify_eq in h` for each hypothesis equation with a division (its `<> 0` side goals closed by lra),
  `field_simplify_eq` on a goal with one, then lra or nra.
- `abs`: absolute values over R. Proof: intros, `unfold Rabs in *`, `destruct (Rcase_abs e)` for each case
  split the first goal shows, then split and lra.

Every step runs in coqtop; a theorem whose script does not prove is dropped, so every row is a real step of a
real proof. Every template step is one `hints.hint_tactics` proposes for its state (checked), so what the model
learns here is the teacher's choice among the hints.
"""
from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

from coq_env.hints import function_arguments, hint_tactics, mod_facts, mod_in_z, mod_terms, parse_context
from prover.jsonl import atomic_file
from prover.proofsteps import ProofStep
from prover.types import Proved, Theorem

KINDS = ("mod", "field", "abs")
AUTOMATION_STEPS = frozenset(("intros.", "lia.", "nia.", "lra.", "nra.", "split."))
_VARIABLES = {"mod": ["n", "m", "x", "y", "a", "b", "k", "u", "v", "t", "j", "p", "q", "r", "s", "c", "d", "z", "w"],
              "real": ["x", "y", "a", "b", "n", "t", "r", "s", "k", "m", "z", "u", "w", "p", "q"]}
_NAT_HEADER = "Require Import Arith."
_Z_HEADER = "Require Import ZArith.\nOpen Scope Z_scope."
_R_HEADER = "Require Import Reals.\nOpen Scope R_scope."
MAX_STEPS = 30


def _statement(rng: random.Random, name: str, names: list[str], typ: str, hyps: list[str], conclusion: str) -> str:
    """`forall ... , h -> ... -> c` or binders `(x : T) (h0 : h)`, half and half, as miniF2F states them."""
    if not names:
        return f"Theorem {name} :\n  {conclusion}."
    if rng.random() < 0.5:
        body = "".join(f"\n  {h} ->" for h in hyps)
        return f"Theorem {name} :\n  forall {' '.join(names)} : {typ},{body}\n  {conclusion}."
    binders = " ".join(f"({x} : {typ})" for x in names) + "".join(f"\n  (h{k} : {h})" for k, h in enumerate(hyps))
    return f"Theorem {name}\n  {binders} :\n  {conclusion}."


def _number(q) -> str:
    q = Fraction(q)
    if q.denominator == 1:
        return str(q.numerator) if q >= 0 else f"-{-q.numerator}"
    return f"{q.numerator} / {q.denominator}" if q > 0 else f"-{-q.numerator} / {q.denominator}"


def _affine(a: int, v: str, b: int) -> str:
    s = v if a == 1 else f"{a} * {v}"
    return s if b == 0 else f"{s} + {b}" if b > 0 else f"{s} - {-b}"


def _differs(v: str, c: int) -> str:
    return f"{v} <> {c}" if c >= 0 else f"{v} <> -{-c}"


def mod_theorem(rng: random.Random, name: str) -> Theorem | None:
    family, in_z = rng.randrange(8), rng.random() < 0.3
    modulus = rng.choice([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 19, 20, 23, 25, 29, 31, 37, 100])
    v, w = rng.sample(_VARIABLES["mod"], 2)
    hyps: list[str] = []
    if family == 0:  # n mod A = R -> (C n + D) mod A = ?
        r, c, d = rng.randrange(modulus), rng.randrange(1, 12), rng.randrange(0, 20)
        hyps = [f"{v} mod {modulus} = {r}"]
        conclusion = f"({_affine(c, v, d)}) mod {modulus} = {(c * r + d) % modulus}"
    elif family == 1:  # n mod (A B) = R -> n mod A = R mod A
        b = rng.choice([2, 3, 4, 5])
        r = rng.randrange(modulus * b)
        hyps = [f"{v} mod {modulus * b} = {r}"]
        conclusion = f"{v} mod {modulus} = {r % modulus}"
    elif family == 2:  # C n mod A = R -> n < A -> n = X   (C invertible mod A)
        while True:
            c = rng.randrange(2, 40)
            if math.gcd(c, modulus) == 1:
                break
        x = rng.randrange(modulus)
        r = (c * x) % modulus
        hyps = [f"{c} * {v} mod {modulus} = {r}" if rng.random() < 0.5 else f"({v} * {c}) mod {modulus} = {r}",
                f"{v} < {modulus}"]
        if in_z:
            hyps.insert(1, f"0 <= {v}")
        conclusion = f"{v} = {x}"
    elif family == 3:  # a mod A = R -> b mod A = S -> (C a + D b) mod A = ?
        r, s, c, d = rng.randrange(modulus), rng.randrange(modulus), rng.randrange(1, 6), rng.randrange(1, 6)
        hyps = [f"{v} mod {modulus} = {r}", f"{w} mod {modulus} = {s}"]
        conclusion = f"({_affine(c, v, 0)} + {_affine(d, w, 0)}) mod {modulus} = {(c * r + d * s) % modulus}"
    elif family == 4:  # (n + C) mod A = R -> n mod A = ?
        c, r = rng.randrange(1, 50), rng.randrange(modulus)
        hyps = [f"({v} + {c}) mod {modulus} = {r}"]
        conclusion = f"{v} mod {modulus} = {(r - c) % modulus}"
    elif family == 5:  # (A k + R) mod A = R
        r = rng.randrange(modulus)
        conclusion = f"({modulus} * {v} + {r}) mod {modulus} = {r}"
    elif family == 6:  # n mod A = R -> n = A (n / A) + R
        r = rng.randrange(modulus)
        hyps = [f"{v} mod {modulus} = {r}"]
        conclusion = f"{v} = {modulus} * ({v} / {modulus}) + {r}"
    else:  # n mod A = R -> (n n) mod A = R^2 mod A   (nonlinear: nia)
        r = rng.randrange(modulus)
        hyps = [f"{v} mod {modulus} = {r}"]
        conclusion = f"({v} * {v}) mod {modulus} = {(r * r) % modulus}"
    names = [v, w] if family == 3 else [v]
    statement = _statement(rng, name, names, "Z" if in_z else "nat", hyps, conclusion)
    return Theorem(name, statement, _Z_HEADER if in_z else _NAT_HEADER, "rocq", split="train", benchmark="synthetic")


def field_theorem(rng: random.Random, name: str) -> Theorem | None:
    family = rng.randrange(5)
    v = rng.choice(_VARIABLES["real"])
    x0 = rng.randint(-12, 15)
    names = [v]
    if family == 0:  # v <> c -> (a v + b) / (v - c) = d -> v = x0
        c = rng.choice([k for k in range(-9, 10) if k != x0])
        a, b = rng.randint(1, 9), rng.randint(-20, 20)
        d = Fraction(a * x0 + b, x0 - c)
        if d == a:
            return None
        hyps = [_differs(v, c), f"({_affine(a, v, b)}) / ({_affine(1, v, -c)}) = {_number_signed(rng, d)}"]
        conclusion = f"{v} = {_number_signed(rng, x0)}"
    elif family == 1:  # v <> 0 -> a + b / v = c / v -> v = x0
        if x0 == 0:
            return None
        a, b = rng.randint(1, 9), rng.randint(1, 12)
        c = a * x0 + b
        hyps = [f"{v} <> 0", f"{a} + {b} / {v} = {_number_signed(rng, c)} / {v}" if c > 0 else
                f"{a} + {b} / {v} = -{-c} / {v}"]
        conclusion = f"{v} = {_number_signed(rng, x0)}"
    elif family == 2:  # v <> c1 -> v <> c2 -> (v + p) / (v - c1) = (v + q) / (v - c2) -> v = x
        p, q, c1, c2 = (rng.randint(-9, 9) for _ in range(4))
        denominator = p - c2 - q + c1
        if denominator == 0 or c1 == c2:
            return None
        x = Fraction(p * c2 - q * c1, denominator)
        if x in (c1, c2) or x.denominator != 1:
            return None
        hyps = [_differs(v, c1), _differs(v, c2),
                f"({_affine(1, v, p)}) / ({_affine(1, v, -c1)}) = ({_affine(1, v, q)}) / ({_affine(1, v, -c2)})"]
        conclusion = f"{v} = {_number_signed(rng, x)}"
    elif family == 3:  # w <> 0 -> u = k w -> u / w = k
        w = rng.choice([c for c in _VARIABLES["real"] if c != v])
        k = rng.randint(2, 12)
        hyps = [f"{w} <> 0", f"{v} = {k} * {w}"]
        conclusion = f"{v} / {w} = {k}"
        names = [v, w]
    else:  # v <> 0 -> a / v = b -> v = a / b
        a, b = rng.randint(1, 30), rng.randint(1, 12)
        hyps = [f"{v} <> 0", f"{a} / {v} = {b}"]
        conclusion = f"{v} = {_number_signed(rng, Fraction(a, b))}"
    return Theorem(name, _statement(rng, name, names, "R", hyps, conclusion), _R_HEADER, "rocq", split="train",
                   benchmark="synthetic")


def _number_signed(rng: random.Random, q) -> str:
    """A negative integer written `-5` or `(-5)` at random, as statements do both."""
    q = Fraction(q)
    if q.denominator == 1 and q < 0 and rng.random() >= 0.5:
        return f"({q.numerator})"
    return _number(q)


def _shift(v: str, c: int) -> str:
    return v if c == 0 else f"{v} - {c}" if c > 0 else f"{v} + {-c}"


def abs_theorem(rng: random.Random, name: str) -> Theorem | None:
    family = rng.randrange(5)
    v, w = rng.sample(_VARIABLES["real"], 2)
    c = rng.randint(-9, 12)
    names = [v]
    hyps: list[str] = []
    if family == 0:  # v < c -> Rabs (v - c) = w -> v = c - w   (or v > c -> ... -> v = c + w)
        names = [v, w]
        if rng.random() < 0.5:
            hyps = [f"{v} < {_number(c)}", f"Rabs ({_shift(v, c)}) = {w}"]
            conclusion = rng.choice([f"{v} = {_number(c)} - {w}", f"{v} - {w} = {_number(c)} - 2 * {w}",
                                     f"{v} + {w} = {_number(c)}"])
        else:
            hyps = [f"{v} > {_number(c)}", f"Rabs ({_shift(v, c)}) = {w}"]
            conclusion = rng.choice([f"{v} = {_number(c)} + {w}", f"{v} - {w} = {_number(c)}"])
    elif family == 1:  # Rabs (a v + b) < d -> lo < v /\ v < hi
        a, b, d = rng.randint(1, 5), rng.randint(-12, 12), rng.randint(1, 15)
        lo, hi = Fraction(-d - b, a), Fraction(d - b, a)
        inner = (v if a == 1 else f"{a} * {v}") + (f" + {b}" if b > 0 else f" - {-b}" if b < 0 else "")
        op = rng.choice(["<", "<="])
        hyps = [f"Rabs ({inner}) {op} {d}"]
        conclusion = f"{_number(lo)} {op} {v} /\\ {v} {op} {_number(hi)}"
    elif family == 2:  # a constant: Rabs (p1 k1 - p2 k2) = value
        names = []
        k1, k2 = rng.randint(2, 40), rng.randint(2, 40)
        p1, p2 = Fraction(rng.randint(1, 150), 100), Fraction(rng.randint(1, 150), 100)
        value = abs(p1 * k1 - p2 * k2)
        conclusion = (f"Rabs ({p1.numerator} / {p1.denominator} * {k1} - {p2.numerator} / {p2.denominator} * {k2})"
                      f" = {_number(value)}")
    elif family == 3:  # Rabs (v - c) <= d -> v <= c + d
        d = rng.randint(1, 20)
        hyps = [f"Rabs ({_shift(v, c)}) <= {d}"]
        conclusion = rng.choice([f"{v} <= {_number(c + d)}", f"{_number(c - d)} <= {v}"])
    else:  # c <= v -> Rabs (c - v) = v - c
        hyps = [f"{_number(c)} <= {v}"]
        conclusion = rng.choice([f"Rabs ({_number(c)} - {v}) = {_shift(v, c)}", f"Rabs ({_shift(v, c)}) = {_shift(v, c)}"])
    return Theorem(name, _statement(rng, name, names, "R", hyps, conclusion), _R_HEADER, "rocq", split="train",
                   benchmark="synthetic")


GENERATORS: dict[str, Callable[[random.Random, str], Theorem | None]] = {
    "mod": mod_theorem, "field": field_theorem, "abs": abs_theorem}


class _Script:
    """Runs steps from a theorem's root in one backend, recording (state shown, tactic) for each."""

    def __init__(self, backend, theorem: Theorem):
        self.backend, self.state, self.rows = backend, backend.open(theorem), []

    def text(self) -> str:
        return self.backend.render_state(self.state)

    def goals(self) -> int:
        head = self.text().split(" goal", 1)[0]
        return int(head) if head.isdigit() else 1

    def step(self, tactic: str, timeout: float = 10.0) -> str:
        """'open', 'proved' or 'failed' (a failed step is not recorded and leaves the state as it was)."""
        text = self.text()
        result = self.backend.run_tactic(self.state, tactic, timeout)
        if isinstance(result, Proved):
            self.rows.append((text, tactic))
            return "proved"
        if hasattr(result, "state"):
            self.rows.append((text, tactic))
            self.state = result.state
            return "open"
        return "failed"

    def template(self, tactic: str) -> str:
        if tactic not in hint_tactics(self.text()):  # the generator must teach a choice among the hints
            raise AssertionError(f"{tactic!r} is not among the hints for its state")
        return self.step(tactic)

    def intros(self) -> bool:
        return "forall" not in self.text().split("====")[-1] or self.step("intros.") == "open"

    def close_side_goals(self, before: int) -> bool:
        while self.goals() > before:
            if self.step("lra.") != "open":
                return False
        return True


def _prove_mod(script: _Script) -> bool:
    done: set[tuple[str, str]] = set()
    for _ in range(MAX_STEPS):
        hyps, variables, goal = parse_context(script.text())
        todo = [(term, text) for text in [t for _, t in hyps if "/" not in t] + [goal] for term in mod_terms(text)
                if term not in done]
        if not todo:
            break
        (operand, modulus), text = todo[0]
        done.add((operand, modulus))
        integers = [x for x, t in variables.items() if t == "Z"]
        if script.template(mod_facts(operand, modulus, mod_in_z(operand, text, integers))) != "open":
            return False
    return any(script.step(finisher) == "proved" for finisher in ("lia.", "nia."))


def _prove_field(script: _Script) -> bool:
    done: set[str] = set()
    for _ in range(MAX_STEPS):
        hyps, _, _ = parse_context(script.text())
        todo = [name for name, t in hyps if "/" in t and "=" in t and "<>" not in t and name not in done]
        if not todo:
            break
        done.add(todo[0])
        before = script.goals()
        if script.template(f"field_simplify_eq in {todo[0]}.") != "open" or not script.close_side_goals(before):
            return False
    if any(script.step(finisher) == "proved" for finisher in ("lra.", "nra.")):
        return True
    _, _, goal = parse_context(script.text())
    if "/" not in goal:
        return False
    before = script.goals()
    if script.template("field_simplify_eq.") != "open" or not script.close_side_goals(before):
        return False
    return any(script.step(finisher) == "proved" for finisher in ("lra.", "nra."))


def _prove_abs(script: _Script) -> bool:
    if script.template("unfold Rabs in *.") != "open":
        return False
    for _ in range(MAX_STEPS):
        first_goal = script.text().split("\ngoal 2 is")[0]
        cases = function_arguments("Rcase_abs", first_goal)
        if cases:
            if script.template(f"destruct (Rcase_abs ({cases[0]}))." ) != "open":
                return False
            continue
        for tactic in ("lra.", "split."):
            outcome = script.step(tactic)
            if outcome == "proved":
                return True
            if outcome == "open":
                break
        else:
            return False
    return False


PROVERS = {"mod": _prove_mod, "field": _prove_field, "abs": _prove_abs}


def scripted_proof(backend, theorem: Theorem, kind: str) -> list[tuple[str, str]] | None:
    """The (state, tactic) steps of `kind`'s script for `theorem`, if it proves it; None if it does not."""
    script = _Script(backend, theorem)
    if not script.intros():
        return None
    return script.rows if PROVERS[kind](script) else None


def synthesize(backend, kind: str, count: int, seed: int = 0) -> Iterator[tuple[Theorem, list[tuple[str, str]] | None]]:
    """`count` attempts at `kind` theorems (a family that draws a degenerate case yields nothing), each with
    its scripted proof or None. The same seed gives the same theorems."""
    if kind not in GENERATORS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    rng = random.Random(seed)
    for i in range(count):
        theorem = GENERATORS[kind](rng, f"synth_{kind}_{i}")
        if theorem is not None:
            yield theorem, scripted_proof(backend, theorem, kind)


def write_synthetic_proofsteps(out: str | Path, kinds: list[str], count: int, seed: int = 0, guard=None,
                               include_automation: bool = True, backend_factory=None, progress=None) -> dict:
    """Proofstep rows of `count` synthetic theorems of each kind to `out` (JSON lines, written to a temporary
    file and renamed: all or nothing). Rows that share an n-gram with the guard's benchmark are dropped.
    Returns counts per kind."""
    from dataclasses import asdict

    from coq_env.backend import RocqBackend

    for kind in kinds:
        if kind not in GENERATORS:
            raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    out = Path(out)
    summary: dict = {"out": str(out), "kinds": {}}
    with (backend_factory or RocqBackend)() as backend, atomic_file(out) as f:
        for kind in kinds:
            counts = {"theorems": 0, "proved": 0, "rows": 0, "rows_dropped_by_guard": 0}
            for theorem, steps in synthesize(backend, kind, count, seed):
                counts["theorems"] += 1
                if progress is not None:
                    progress(kind)
                if steps is None:
                    continue
                counts["proved"] += 1
                for state, tactic in steps:
                    if not include_automation and tactic in AUTOMATION_STEPS:
                        continue
                    row = ProofStep(state, tactic, theorem.name, f"synthetic:{kind}", "train")
                    if guard is not None and guard.check(row):
                        counts["rows_dropped_by_guard"] += 1
                        continue
                    f.write(json.dumps(asdict(row) | {"backend": "rocq"}, ensure_ascii=False) + "\n")
                    counts["rows"] += 1
            summary["kinds"][kind] = counts
    return summary
