"""A curriculum of synthetic Rocq theorems across the families competition problems are made of, drawn from a seed
and written as files of holes (`Admitted.`) for `prover prove` to search: no proof is written here.

Each family's generator may know the answer in order to state the theorem (`x = 5` in the conclusion), and checks
in Python that what it states is true: linear systems by exact fractions, identities by exact evaluation at random
points (and sympy's expansion where it is installed), bounded statements by brute force over their range, sums and
recurrences against their closed forms for the first terms. Shapes within a family range from what lia/lra/nia/
ring close alone to what needs a hint step (a square, an induction, a division equation, unfolding a function
given by a hypothesis, a floor lemma), so the search has headroom for the model.

`write_curriculum` writes OUT/<family>/<name>.v (one theorem a file, header first), drops and counts what coqc
rejects (each candidate compiled with `Admitted.` in a sandbox), and writes OUT/manifest.jsonl.
"""
from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from coq_env.assumptions import compile_checked_file
from coq_env.coqtop import SandboxLimits
from coq_env.statement_shapes import benchmark_shapes, statement_shape
from prover.jsonl import atomic_file, read_rows, write_atomic
from prover.sandbox import Sandbox
from prover.types import Theorem

MANIFEST = "manifest.jsonl"
COMPILE_TIMEOUT = 120.0  # seconds for one candidate's coqc (Reals loads in a few)
MAX_DRAWS_PER_THEOREM = 40  # a family's degenerate or repeated draws are redrawn, this many times a theorem at most

R_HEADER = "Require Import Reals.\nOpen Scope R_scope."
R_Z_HEADER = "Require Import Reals.\nRequire Import ZArith.\nOpen Scope R_scope."
R_SUM_HEADER = "Require Import Reals.\nRequire Import Arith.\nOpen Scope R_scope."
Z_HEADER = "Require Import ZArith.\nOpen Scope Z_scope."
Z_DIVIDES_HEADER = "Require Import ZArith.\nRequire Import Znumtheory.\nOpen Scope Z_scope."
NAT_HEADER = "Require Import Arith."
_REAL_NAMES = ["x", "y", "a", "b", "t", "u", "v", "p", "q", "r", "s", "m", "w", "z"]
_INT_NAMES = ["n", "m", "k", "a", "b", "x", "y", "j", "p", "q", "t", "u", "v"]


class Draw(Exception):
    """A degenerate draw (no integer solution, not unique, a zero divisor): the generator draws again."""


def _require(condition: bool) -> None:
    if not condition:
        raise Draw


# -- writing statements ------------------------------------------------------------------------------------------

def _binders(variables: list[tuple[str, str]]) -> list[tuple[list[str], str]]:
    """Consecutive variables of one type grouped: [(names, type)]."""
    groups: list[tuple[list[str], str]] = []
    for name, typ in variables:
        if groups and groups[-1][1] == typ:
            groups[-1][0].append(name)
        else:
            groups.append(([name], typ))
    return groups


def statement(rng: random.Random, name: str, variables: list[tuple[str, str]], hyps: list[str], conclusion: str) -> str:
    """`forall ..., h -> ... -> c` or binders `(x : T) (h0 : h)`, half and half, as miniF2F states them."""
    groups = _binders(variables)
    # `forall x, P -> Q` would swallow what follows: a quantified hypothesis before an arrow gets parentheses
    premises = [f"({h})" if h.startswith("forall ") else h for h in hyps]
    if not groups:
        if not hyps:
            return f"Theorem {name} :\n  {conclusion}."
        return f"Theorem {name} :\n  " + "".join(f"{h} ->\n  " for h in premises) + f"{conclusion}."
    if rng.random() < 0.5:
        quantified = (f"{' '.join(groups[0][0])} : {groups[0][1]}" if len(groups) == 1 else
                      " ".join(f"({' '.join(names)} : {typ})" for names, typ in groups))
        body = "".join(f"\n  {h} ->" for h in premises)
        return f"Theorem {name} :\n  forall {quantified},{body}\n  {conclusion}."
    binders = " ".join(f"({' '.join(names)} : {typ})" for names, typ in groups)
    binders += "".join(f"\n  (h{k} : {h})" for k, h in enumerate(hyps))
    return f"Theorem {name}\n  {binders} :\n  {conclusion}."


def number(q, wrap: bool = False) -> str:
    """A rational as Coq writes it: `5`, `-5` (`(-5)` with `wrap`), `7 / 2`, `(-7 / 2)`."""
    q = Fraction(q)
    text = str(abs(q.numerator)) if q.denominator == 1 else f"{abs(q.numerator)} / {q.denominator}"
    if q < 0:
        return f"(-{text})" if wrap or q.denominator != 1 else f"-{text}"
    return f"({text})" if wrap and q.denominator != 1 else text


def polynomial(terms: list[tuple[int | Fraction, str]]) -> str:
    """`c1 * m1 + c2 * m2 - ...` from (coefficient, monomial) pairs, zero terms left out; monomial "" is a
    constant."""
    parts: list[str] = []
    for coefficient, monomial in terms:
        c = Fraction(coefficient)
        if c == 0:
            continue
        size = abs(c)
        if monomial == "":
            body = number(size)
        elif size == 1:
            body = monomial
        else:
            body = f"{number(size, wrap=size.denominator != 1)} * {monomial}"
        if not parts:
            parts.append(f"-{body}" if c < 0 else body)
        else:
            parts.append(f"- {body}" if c < 0 else f"+ {body}")
    return " ".join(parts) or "0"


_LITERAL = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


def value(expression: str, env: dict[str, Fraction]) -> Fraction:
    """The exact value of a Coq arithmetic expression (+ - * / ^, parentheses, literals, `env`'s variables)."""
    python = _LITERAL.sub(r"F(\1)", expression.replace("^", "**"))
    return Fraction(eval(python, {"__builtins__": {}, "F": Fraction}, dict(env)))  # noqa: S307 - our own text


def identity_holds(lhs: str, rhs: str, names: list[str], rng: random.Random) -> bool:
    """Whether lhs = rhs as polynomials (rational functions) in `names`: sympy's expansion where installed, and
    exact evaluation at random rational points either way."""
    try:
        import sympy
    except ImportError:
        sympy = None
    if sympy is not None:
        symbols = {n: sympy.Symbol(n) for n in names}
        difference = sympy.sympify(lhs.replace("^", "**"), locals=symbols) - sympy.sympify(rhs.replace("^", "**"),
                                                                                          locals=symbols)
        if sympy.simplify(sympy.expand(difference)) != 0:
            return False
    for _ in range(8):
        env = {n: Fraction(rng.randint(-40, 40), rng.randint(1, 7)) for n in names}
        try:
            if value(lhs, env) != value(rhs, env):
                return False
        except ZeroDivisionError:
            continue
    return True


def _theorem(name: str, text: str, header: str) -> Theorem:
    return Theorem(name, text, header, "rocq", split="train", benchmark="curriculum")


# -- the families ------------------------------------------------------------------------------------------------

def polynomial_theorem(rng: random.Random, name: str) -> Theorem:
    """Identities and factoring: expansions (ring), Vieta-style power sums from a sum and product (a square or cube
    of the sum as the hint), factoring out a known root, reciprocal powers (field)."""
    shape = rng.randrange(5)
    x, y = rng.sample(_REAL_NAMES, 2)
    over_z = rng.random() < 0.3 and shape in (0, 1, 3)
    header = Z_HEADER if over_z else R_HEADER
    typ = "Z" if over_z else "R"
    hyps: list[str] = []
    if shape == 0:  # (a x + b)(c x + d) = ...
        a, b, c, d = rng.randint(1, 9), rng.randint(-12, 12), rng.randint(1, 9), rng.randint(-12, 12)
        _require(b != 0 and d != 0)
        lhs = f"({polynomial([(a, x), (b, '')])}) * ({polynomial([(c, x), (d, '')])})"
        rhs = polynomial([(a * c, f"{x} ^ 2"), (a * d + b * c, x), (b * d, "")])
        names, variables = [x], [(x, typ)]
    elif shape == 1:  # (x + k y)^2 or ^3
        k, power = rng.choice([k for k in range(-6, 7) if k not in (0, 1)]), rng.choice([2, 2, 3])
        lhs = f"({polynomial([(1, x), (k, y)])}) ^ {power}"
        if power == 2:
            rhs = polynomial([(1, f"{x} ^ 2"), (2 * k, f"{x} * {y}"), (k * k, f"{y} ^ 2")])
        else:
            rhs = polynomial([(1, f"{x} ^ 3"), (3 * k, f"{x} ^ 2 * {y}"), (3 * k * k, f"{x} * {y} ^ 2"),
                              (k ** 3, f"{y} ^ 3")])
        names, variables = [x, y], [(x, typ), (y, typ)]
    elif shape == 2:  # x + y = s -> x y = p -> x^2 + y^2 = ... (or x^3 + y^3)
        s, power = rng.randint(-9, 12), rng.choice([2, 2, 3])
        p = rng.randint(-20, s * s // 4)  # real x, y with that sum and product exist: the premises are not vacuous
        hyps = [f"{x} + {y} = {number(s)}", f"{x} * {y} = {number(p)}"]
        lhs = f"{x} ^ {power} + {y} ^ {power}"
        rhs = number(s * s - 2 * p if power == 2 else s ** 3 - 3 * p * s)
        # true for every x, y with that sum and product: x^2+y^2 = (x+y)^2 - 2xy, x^3+y^3 = (x+y)^3 - 3xy(x+y)
        _require(identity_holds(f"{x} ^ {power} + {y} ^ {power}",
                                f"({x} + {y}) ^ {power} - {2 if power == 2 else 3} * {x} * {y}"
                                + ("" if power == 2 else f" * ({x} + {y})"), [x, y], rng))
        statement_text = statement(rng, name, [(x, "R"), (y, "R")], hyps, f"{lhs} = {rhs}")
        return _theorem(name, statement_text, R_HEADER)
    elif shape == 3:  # a cubic with a known root r: p(x) = (x - r) * q(x)
        r, e, f = rng.randint(-6, 6), rng.randint(-8, 8), rng.randint(-15, 15)
        _require(r != 0)
        lhs = polynomial([(1, f"{x} ^ 3"), (e - r, f"{x} ^ 2"), (f - r * e, x), (-r * f, "")])
        rhs = f"({polynomial([(1, x), (-r, '')])}) * ({polynomial([(1, f'{x} ^ 2'), (e, x), (f, '')])})"
        names, variables = [x], [(x, typ)]
    else:  # x <> 0 -> x + 1/x = k -> x^2 + 1/x^2 = k^2 - 2 (or x^3 + 1/x^3 = k^3 - 3k)
        k, power = rng.randint(2, 9), rng.choice([2, 3])
        hyps = [f"{x} <> 0", f"{x} + 1 / {x} = {k}"]
        conclusion = f"{x} ^ {power} + 1 / {x} ^ {power} = {k * k - 2 if power == 2 else k ** 3 - 3 * k}"
        return _theorem(name, statement(rng, name, [(x, "R")], hyps, conclusion), R_HEADER)
    _require(identity_holds(lhs, rhs, names, rng))
    return _theorem(name, statement(rng, name, variables, hyps, f"{lhs} = {rhs}"), header)


def _solve(matrix: list[list[Fraction]], rhs: list[Fraction]) -> list[Fraction] | None:
    """The unique solution of a square linear system by Gauss-Jordan over fractions; None where it is singular."""
    size = len(matrix)
    rows = [list(map(Fraction, row)) + [Fraction(b)] for row, b in zip(matrix, rhs)]
    for col in range(size):
        pivot = next((r for r in range(col, size) if rows[r][col] != 0), None)
        if pivot is None:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(size):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col])]
    return [rows[i][size] / rows[i][i] for i in range(size)]


def linear_system_theorem(rng: random.Random, name: str) -> Theorem:
    """Two or three linear equations with a unique (integer) solution, stated over Z or R, the conclusion one
    unknown, both, a combination, or (harder) their product; some with fractional coefficients."""
    size = rng.choice([2, 2, 2, 3])
    names = rng.sample(_REAL_NAMES, size)
    solution = [rng.randint(-12, 15) for _ in range(size)]
    over_z = rng.random() < 0.35
    fractional = not over_z and rng.random() < 0.3
    matrix, constants, hyps = [], [], []
    for _ in range(size):
        if fractional and rng.random() < 0.6:
            row = [Fraction(rng.randint(-5, 5), rng.choice([2, 3, 4, 5])) for _ in range(size)]
        else:
            row = [Fraction(rng.randint(-7, 7)) for _ in range(size)]
        constant = sum(c * s for c, s in zip(row, solution))
        matrix.append(row)
        constants.append(constant)
        terms = [(c, n) for c, n in zip(row, names)]
        _require(any(c != 0 for c in row))
        hyps.append(f"{polynomial(terms)} = {number(constant)}")
    solved = _solve(matrix, constants)
    _require(solved is not None and solved == [Fraction(s) for s in solution])
    for hyp in hyps:  # the stated text at the solution, as Coq will read it
        lhs, rhs = hyp.split(" = ")
        env = dict(zip(names, map(Fraction, solution)))
        _require(value(lhs, env) == value(rhs, env))
    shape = rng.randrange(4)
    if shape == 0:
        conclusion = f"{names[0]} = {number(solution[0])}"
    elif shape == 1:
        conclusion = " /\\ ".join(f"{n} = {number(s)}" for n, s in zip(names, solution))
    elif shape == 2:
        c = rng.randint(2, 6)
        conclusion = f"{polynomial([(c, names[0]), (-1, names[1])])} = {number(c * solution[0] - solution[1])}"
    else:
        conclusion = f"{names[0]} * {names[1]} = {number(solution[0] * solution[1])}"
    typ = "Z" if over_z else "R"
    return _theorem(name, statement(rng, name, [(n, typ) for n in names], hyps, conclusion),
                    Z_HEADER if over_z else R_HEADER)


def quadratic_theorem(rng: random.Random, name: str) -> Theorem:
    """Quadratics with integer roots: the other root given one excluded or a sign, both roots as a disjunction, a
    square root over Z, and a quadratic bounded below by completing the square."""
    x = rng.choice(_REAL_NAMES)
    r1, r2 = rng.sample([k for k in range(-9, 13) if k != 0], 2)
    b, c = -(r1 + r2), r1 * r2
    quadratic = f"{polynomial([(1, f'{x} ^ 2'), (b, x), (c, '')])}"
    shape = rng.randrange(5)
    if shape == 0:  # q(x) = 0 -> x <> r1 -> x = r2
        hyps, conclusion, typ = [f"{quadratic} = 0", f"{x} <> {number(r1)}"], f"{x} = {number(r2)}", "R"
    elif shape == 1:  # q(x) = 0 -> 0 < x -> x = the positive root
        r1, r2 = -rng.randint(1, 9), rng.randint(1, 12)
        b, c = -(r1 + r2), r1 * r2
        quadratic = f"{polynomial([(1, f'{x} ^ 2'), (b, x), (c, '')])}"
        hyps, conclusion = [f"0 < {x}", f"{quadratic} = 0"], f"{x} = {number(r2)}"
        typ = rng.choice(["R", "Z"])
    elif shape == 2:  # q(x) = 0 -> x = r1 \/ x = r2
        hyps, conclusion, typ = [f"{quadratic} = 0"], f"{x} = {number(r1)} \\/ {x} = {number(r2)}", "R"
    elif shape == 3:  # x^2 = k^2 (Z) -> 0 <= x -> x = k
        k = rng.randint(2, 40)
        hyps, conclusion, typ = [f"0 <= {x}", f"{x} ^ 2 = {k * k}"], f"{x} = {k}", "Z"
        r1 = r2 = k
        _require(all(v * v != k * k or v == k for v in range(0, 2 * k)))
    else:  # x^2 - 2 h x + (h^2 + m) >= m, stated expanded
        h, m = rng.randint(-9, 9), rng.randint(1, 20)
        _require(h != 0)
        conclusion = f"{polynomial([(1, f'{x} ^ 2'), (-2 * h, x), (h * h + m, '')])} >= {m}"
        _require(all(value(conclusion.split(' >= ')[0], {x: Fraction(v, 3)}) >= m for v in range(-90, 90)))
        return _theorem(name, statement(rng, name, [(x, "R")], [], conclusion), R_HEADER)
    for root in (r1, r2):
        _require(value(quadratic, {x: Fraction(root)}) == 0 or shape == 3)
    header = Z_HEADER if typ == "Z" else R_HEADER
    return _theorem(name, statement(rng, name, [(x, typ)], hyps, conclusion), header)


def square_hint_theorem(rng: random.Random, name: str) -> Theorem:
    """Real inequalities whose proof is a square's nonnegativity (`pow2_ge_0 (a - b)`): AM-GM in two and three
    variables, a bounded product from a fixed sum or fixed sum of squares, a positive quadratic, x + k^2/x >= 2k."""
    a, b, c = rng.sample(_REAL_NAMES, 3)
    shape = rng.randrange(6)
    hyps: list[str] = []
    if shape == 0:  # k^2 a^2 + b^2 >= 2 k a b
        k = rng.randint(2, 9)
        variables, conclusion = [a, b], f"{k * k} * {a} ^ 2 + {b} ^ 2 >= {2 * k} * {a} * {b}"
        check = lambda e: k * k * e[a] ** 2 + e[b] ** 2 >= 2 * k * e[a] * e[b]  # noqa: E731
    elif shape == 1:  # a + b = s -> a b <= s^2 / 4
        s = rng.randint(2, 30)
        variables, hyps = [a, b], [f"{a} + {b} = {s}"]
        conclusion = f"{a} * {b} <= {number(Fraction(s * s, 4))}"
        return _checked_inequality(rng, name, [(a, "R"), (b, "R")], hyps, conclusion,
                                   lambda e: e[a] * (s - e[a]) <= Fraction(s * s, 4), [a])
    elif shape == 2:  # a^2 + b^2 + c^2 >= ab + bc + ca (scaled by k)
        k = rng.randint(1, 5)
        lhs = polynomial([(k, f"{a} ^ 2"), (k, f"{b} ^ 2"), (k, f"{c} ^ 2")])
        rhs = polynomial([(k, f"{a} * {b}"), (k, f"{b} * {c}"), (k, f"{c} * {a}")])
        variables, conclusion = [a, b, c], f"{rhs} <= {lhs}"
        check = lambda e: e[a] ** 2 + e[b] ** 2 + e[c] ** 2 >= e[a] * e[b] + e[b] * e[c] + e[c] * e[a]  # noqa: E731
    elif shape == 3:  # 0 < x -> x + k^2 / x >= 2 k
        k = rng.randint(1, 12)
        variables, hyps = [a], [f"0 < {a}"]
        conclusion = f"{a} + {k * k} / {a} >= {2 * k}"
        return _checked_inequality(rng, name, [(a, "R")], hyps, conclusion,
                                   lambda e: e[a] <= 0 or e[a] + k * k / e[a] >= 2 * k, [a])
    elif shape == 4:  # x^2 + p x + q > 0 with p^2 < 4q
        p = rng.randint(-12, 12)
        q = rng.randint(p * p // 4 + 1, p * p // 4 + 15)
        _require(p * p < 4 * q)
        variables, conclusion = [a], f"{polynomial([(1, f'{a} ^ 2'), (p, a), (q, '')])} > 0"
        check = lambda e: e[a] ** 2 + p * e[a] + q > 0  # noqa: E731
    else:  # a^2 + b^2 = s -> a b <= s / 2
        s = rng.randint(1, 50)
        variables, hyps = [a, b], [f"{a} ^ 2 + {b} ^ 2 = {s}"]
        conclusion = f"{a} * {b} <= {number(Fraction(s, 2))}"
        check = lambda e: e[a] * e[b] <= (e[a] ** 2 + e[b] ** 2) / 2  # noqa: E731  (for every a, b)
    return _checked_inequality(rng, name, [(v, "R") for v in variables], hyps, conclusion, check, variables)


def _checked_inequality(rng, name, variables, hyps, conclusion, check, names) -> Theorem:
    """The inequality stated, once `check` holds at many random rational points (a cheap guard on a statement that
    is true by construction)."""
    for _ in range(200):
        env = {n: Fraction(rng.randint(-60, 60), rng.randint(1, 6)) for n in names}
        _require(check(env))
    return _theorem(name, statement(rng, name, variables, hyps, conclusion), R_HEADER)


def induction_sum_theorem(rng: random.Random, name: str) -> Theorem:
    """Sums (`sum_f_R0`) and recurrences whose closed form needs an induction: arithmetic, geometric and odd-number
    sums with constants, linear and geometric recurrences over Z, and a Bernoulli bound over nat."""
    shape = rng.randrange(5)
    n = rng.choice(["n", "m", "k"])
    if shape == 0:  # sum_{i<=n} (a + d i) = (n + 1) a + d n (n + 1) / 2
        a, d = rng.randint(-9, 12), rng.randint(1, 9)
        term = polynomial([(a, ""), (d, "INR i")])
        closed = f"(INR {n} + 1) * {number(a, wrap=True)} + {d} * INR {n} * (INR {n} + 1) / 2"
        check = lambda m: (sum(a + d * i for i in range(m + 1)), Fraction((m + 1) * a) + Fraction(d * m * (m + 1), 2))  # noqa: E731
    elif shape == 1:  # sum_{i<=n} c r^i = c (r^(n+1) - 1) / (r - 1)
        c, r = rng.randint(1, 9), rng.randint(2, 6)
        _require(c > 1 or r > 2)  # c = 1, r = 2 is the textbook's own
        term = f"{c} * {r} ^ i" if c != 1 else f"{r} ^ i"
        closed = f"{c} * ({r} ^ ({n} + 1) - 1) / {r - 1}" if r != 2 else f"{c} * (2 ^ ({n} + 1) - 1)"
        check = lambda m: (sum(c * r ** i for i in range(m + 1)), Fraction(c * (r ** (m + 1) - 1), r - 1))  # noqa: E731
    elif shape == 2:  # sum_{i<=n} c (2 i + 1) = c (n + 1)^2
        c = rng.randint(2, 9)
        term, closed = f"{c} * (2 * INR i + 1)", f"{c} * (INR {n} + 1) ^ 2"
        check = lambda m: (sum(c * (2 * i + 1) for i in range(m + 1)), c * (m + 1) ** 2)  # noqa: E731
    elif shape == 3:  # a 0 = c0 -> a (S n) = r a n + d -> a n = closed form (Z)
        a_name = rng.choice(["a", "u", "f"])
        c0, r = rng.randint(-5, 9), rng.choice([1, 1, 2, 3])
        d = rng.randint(1, 9) if r == 1 else 0
        hyps = [f"{a_name} 0%nat = {number(c0)}",
                f"forall {n}, {a_name} (S {n}) = {polynomial([(r, f'{a_name} {n}'), (d, '')])}"]
        closed = (polynomial([(c0, ""), (d, f"Z.of_nat {n}")]) if r == 1
                  else f"{r} ^ Z.of_nat {n}" if c0 == 1 else f"{number(c0, wrap=True)} * {r} ^ Z.of_nat {n}")
        _require(c0 != 0 or r == 1)
        sequence = [c0]
        for _ in range(25):
            sequence.append(r * sequence[-1] + d)
        _require(all(sequence[m] == (c0 + d * m if r == 1 else c0 * r ** m) for m in range(26)))
        text = statement(rng, name, [(a_name, "nat -> Z")], hyps, f"forall {n}, {a_name} {n} = {closed}")
        return _theorem(name, text, Z_HEADER)
    else:  # c ^ n >= (c - 1) n + 1 over nat (Bernoulli)
        c = rng.randint(3, 9)
        _require(all(c ** m >= (c - 1) * m + 1 for m in range(40)))
        text = statement(rng, name, [(n, "nat")], [], f"{c} ^ {n} >= {c - 1} * {n} + 1")
        return _theorem(name, text, NAT_HEADER)
    for m in range(25):
        total, expected = check(m)
        _require(Fraction(total) == Fraction(expected))
    conclusion = f"sum_f_R0 (fun i => {term}) {n} = {closed}"
    return _theorem(name, statement(rng, name, [(n, "nat")], [], conclusion), R_SUM_HEADER)


def divisibility_theorem(rng: random.Random, name: str) -> Theorem:
    """Divisibility and gcd over Z: linear combinations of multiples, a product's factor, a gcd of constants, the
    one multiple of two numbers in a range (brute-forced), and parity of a product of neighbours."""
    shape = rng.randrange(5)
    x, y = rng.sample(_INT_NAMES, 2)
    if shape == 0:  # (k | x) -> (k | y) -> (k | c1 x + c2 y)
        k, c1, c2 = rng.randint(2, 15), rng.randint(1, 9), rng.randint(-9, 9)
        _require(c2 != 0)
        hyps = [f"({k} | {x})", f"({k} | {y})"]
        text = statement(rng, name, [(x, "Z"), (y, "Z")], hyps, f"({k} | {polynomial([(c1, x), (c2, y)])})")
    elif shape == 1:  # (k | k c x + k m)
        k, c, m = rng.randint(2, 15), rng.randint(1, 9), rng.randint(-20, 20)
        _require(m != 0)
        text = statement(rng, name, [(x, "Z")], [], f"({k} | {polynomial([(k * c, x), (k * m, '')])})")
    elif shape == 2:  # Z.gcd A B = g, constants
        g = rng.randint(2, 40)
        p, q = rng.randint(2, 60), rng.randint(2, 60)
        _require(math.gcd(p, q) == 1 and p != q)
        text = statement(rng, name, [], [], f"Z.gcd {g * p} {g * q} = {g}")
    elif shape == 3:  # 0 < x < B -> (d | x) -> (e | x) -> x = the one common multiple below B
        d, e = rng.sample(range(2, 13), 2)
        lcm = d * e // math.gcd(d, e)
        bound = rng.randint(lcm + 1, 2 * lcm)
        multiples = [v for v in range(1, bound) if v % d == 0 and v % e == 0]
        _require(multiples == [lcm])
        hyps = [f"0 < {x}", f"{x} < {bound}", f"({d} | {x})", f"({e} | {x})"]
        text = statement(rng, name, [(x, "Z")], hyps, f"{x} = {lcm}")
    else:  # (2 | x (x + c)) for odd c
        c = rng.choice([1, 3, 5, 7, 9, -1, -3])
        _require(all((v * (v + c)) % 2 == 0 for v in range(-50, 50)))
        text = statement(rng, name, [(x, "Z")], [], f"(2 | {x} * ({polynomial([(1, x), (c, '')])}))")
    return _theorem(name, text, Z_DIVIDES_HEADER)


def digits_theorem(rng: random.Random, name: str) -> Theorem:
    """Digits and bases: a constant's digits by division and remainder (nat), a two-digit number from conditions
    on its digits (brute-forced unique), a base from a number's digits, and digit arithmetic for every n."""
    shape = rng.randrange(4)
    if shape == 0:  # digits of a constant
        number_ = rng.randint(100, 9999)
        kind = rng.randrange(3)
        if kind == 0:
            conclusion = f"({number_} / 10) mod 10 = {(number_ // 10) % 10}"
        elif kind == 1:
            conclusion = f"{number_} / 100 mod 10 + {number_} mod 10 = {(number_ // 100) % 10 + number_ % 10}"
        else:
            s = sum(map(int, str(number_)))
            conclusion = (f"{number_} mod 10 + ({number_} / 10) mod 10 + ({number_} / 100) mod 10 + "
                          f"{number_} / 1000 = {s}")
        return _theorem(name, statement(rng, name, [], [], conclusion), NAT_HEADER)
    if shape == 1:  # a two-digit number 10 a + b from conditions on a and b
        a, b = rng.sample(_INT_NAMES, 2)
        a0, b0 = rng.randint(1, 9), rng.randint(0, 9)
        conditions = []
        for kind in rng.sample(range(4), 2):
            if kind == 0:
                conditions.append((f"{a} + {b} = {a0 + b0}", lambda p, q: p + q == a0 + b0))
            elif kind == 1:
                t = 9 * (b0 - a0)
                conditions.append((f"10 * {b} + {a} = 10 * {a} + {b} + {number(t, wrap=True)}" if t else
                                   f"10 * {b} + {a} = 10 * {a} + {b}", lambda p, q, t=t: 10 * q + p == 10 * p + q + t))
            elif kind == 2:
                conditions.append((f"{a} * {b} = {a0 * b0}", lambda p, q: p * q == a0 * b0))
            else:
                k = Fraction(10 * a0 + b0, a0 + b0)
                _require(k.denominator == 1)
                conditions.append((f"10 * {a} + {b} = {k} * ({a} + {b})", lambda p, q, k=k: 10 * p + q == k * (p + q)))
        found = [(p, q) for p in range(1, 10) for q in range(10) if all(test(p, q) for _, test in conditions)]
        _require(found == [(a0, b0)])
        hyps = [f"1 <= {a} <= 9", f"0 <= {b} <= 9"] + [text for text, _ in conditions]
        return _theorem(name, statement(rng, name, [(a, "Z"), (b, "Z")], hyps, f"10 * {a} + {b} = {10 * a0 + b0}"),
                        Z_HEADER)
    if shape == 2:  # d2 b^2 + d1 b + d0 = N with digits < b -> b = B
        base_name = rng.choice(["b", "k", "t"])
        base = rng.randint(3, 12)
        digits = [rng.randint(1, base - 1), rng.randint(0, base - 1), rng.randint(0, base - 1)]
        total = digits[0] * base * base + digits[1] * base + digits[2]
        largest = max(digits)
        found = [v for v in range(largest + 1, total + 2) if digits[0] * v * v + digits[1] * v + digits[2] == total]
        _require(found == [base])
        expression = polynomial([(digits[0], f"{base_name} ^ 2"), (digits[1], base_name), (digits[2], "")])
        hyps = [f"{largest} < {base_name}", f"{expression} = {total}"]
        return _theorem(name, statement(rng, name, [(base_name, "Z")], hyps, f"{base_name} = {base}"), Z_HEADER)
    n = rng.choice(["n", "m", "k"])  # digit arithmetic for every n (nat)
    d1, d0 = rng.randint(0, 9), rng.randint(0, 9)
    if rng.random() < 0.5:
        conclusion = f"(10 * {n} + {d0}) mod 10 = {d0}"
        _require(all((10 * v + d0) % 10 == d0 for v in range(100)))
    else:
        conclusion = f"(100 * {n} + {10 * d1 + d0}) / 10 = 10 * {n} + {d1}"
        _require(all((100 * v + 10 * d1 + d0) // 10 == 10 * v + d1 for v in range(100)))
    return _theorem(name, statement(rng, name, [(n, "nat")], [], conclusion), NAT_HEADER)


def floor_theorem(rng: random.Random, name: str) -> Theorem:
    """Floor and ceiling: Z division as floor (a quotient with its remainder, nested division, a lower bound) and
    `Int_part` over R (of a fraction, between two integers, x + floor x = c)."""
    shape = rng.randrange(5)
    if shape == 0:  # (a n + r) / a = n over Z
        n, a = rng.choice(_INT_NAMES), rng.randint(2, 20)
        r = rng.randint(0, a - 1)
        _require(all((a * v + r) // a == v for v in range(-60, 60)))
        text = statement(rng, name, [(n, "Z")], [], f"({polynomial([(a, n), (r, '')])}) / {a} = {n}")
        return _theorem(name, text, Z_HEADER)
    if shape == 1:  # 0 <= n -> (n / a) / b = n / (a b)
        n, a, b = rng.choice(_INT_NAMES), rng.randint(2, 12), rng.randint(2, 12)
        _require(all((v // a) // b == v // (a * b) for v in range(0, 500)))
        text = statement(rng, name, [(n, "Z")], [f"0 <= {n}"], f"{n} / {a} / {b} = {n} / {a * b}")
        return _theorem(name, text, Z_HEADER)
    if shape == 2:  # Int_part (p / q) = floor
        p, q = rng.randint(-200, 200), rng.randint(2, 13)
        _require(p % q != 0)
        floor = math.floor(Fraction(p, q))
        text = statement(rng, name, [], [], f"Int_part ({'-' if p < 0 else ''}{abs(p)} / {q}) = {_z_literal(floor)}")
        return _theorem(name, text, R_Z_HEADER)
    if shape == 3:  # k <= x < k + 1 -> Int_part x = k
        x, k = rng.choice(_REAL_NAMES), rng.randint(-20, 30)
        hyps = [f"{number(k)} <= {x}", f"{x} < {number(k + 1)}"]
        return _theorem(name, statement(rng, name, [(x, "R")], hyps, f"Int_part {x} = {_z_literal(k)}"), R_Z_HEADER)
    x = rng.choice(_REAL_NAMES)  # x + floor x = c -> x = m + f
    m, f = rng.randint(-10, 25), Fraction(rng.randint(1, 9), 10)
    f = Fraction(f.numerator, f.denominator)
    x0, c = m + f, 2 * m + f
    solutions = [m2 + (c - 2 * m2) for m2 in range(-60, 60) if 0 <= c - 2 * m2 < 1]
    _require(solutions == [x0])
    text = statement(rng, name, [(x, "R")], [f"{x} + IZR (Int_part {x}) = {number(c, wrap=True)}"],
                     f"{x} = {number(x0, wrap=True)}")
    return _theorem(name, text, R_Z_HEADER)


def _z_literal(k: int) -> str:
    """An integer read in Z_scope inside an R statement: `3%Z`, `(-3)%Z`."""
    return f"{k}%Z" if k >= 0 else f"({k})%Z"


def remainder_theorem(rng: random.Random, name: str) -> Theorem:
    """Remainders: of an affine expression given n's, of a constant's power, the Chinese remainder theorem on a
    range (brute-forced), a power's remainder for every n, and a residue no square has."""
    shape = rng.randrange(5)
    n = rng.choice(_INT_NAMES)
    if shape == 0:  # n mod A = r -> (c n + d) mod A = ?
        modulus, over_z = rng.randint(3, 30), rng.random() < 0.5
        r, c, d = rng.randrange(modulus), rng.randint(2, 15), rng.randint(0, 40)
        target = (c * r + d) % modulus
        _require(all((c * v + d) % modulus == target for v in range(r, 400, modulus)))
        text = statement(rng, name, [(n, "Z" if over_z else "nat")], [f"{n} mod {modulus} = {r}"],
                         f"({polynomial([(c, n), (d, '')])}) mod {modulus} = {target}")
        return _theorem(name, text, Z_HEADER if over_z else NAT_HEADER)
    if shape == 1:  # b ^ e mod m, constants
        base, exponent, modulus = rng.randint(2, 13), rng.randint(10, 80), rng.randint(5, 100)
        return _theorem(name, statement(rng, name, [], [], f"{base} ^ {exponent} mod {modulus} = "
                                        f"{pow(base, exponent, modulus)}"), Z_HEADER)
    if shape == 2:  # 0 <= n < a b -> n mod a = r1 -> n mod b = r2 -> n = x
        a, b = rng.sample([3, 4, 5, 7, 8, 9, 11, 13], 2)
        _require(math.gcd(a, b) == 1)
        x = rng.randrange(a * b)
        found = [v for v in range(a * b) if v % a == x % a and v % b == x % b]
        _require(found == [x])
        hyps = [f"0 <= {n}", f"{n} < {a * b}", f"{n} mod {a} = {x % a}", f"{n} mod {b} = {x % b}"]
        return _theorem(name, statement(rng, name, [(n, "Z")], hyps, f"{n} = {x}"), Z_HEADER)
    if shape == 3:  # 0 <= n -> c ^ (k n) mod m = 1, where c^k = 1 mod m
        modulus = rng.choice([5, 7, 8, 9, 10, 11, 13])
        c = rng.choice([v for v in range(2, 20) if math.gcd(v, modulus) == 1 and v % modulus != 1])
        k = next(e for e in range(1, modulus + 1) if pow(c, e, modulus) == 1)
        _require(all(pow(c, k * v, modulus) == 1 for v in range(30)))
        text = statement(rng, name, [(n, "Z")], [f"0 <= {n}"], f"{c} ^ ({k} * {n}) mod {modulus} = 1")
        return _theorem(name, text, Z_HEADER)
    modulus = rng.choice([3, 4, 5, 7, 8, 9, 11])  # (n * n) mod m <> r for a non-residue r
    non_residues = sorted(set(range(modulus)) - {v * v % modulus for v in range(modulus)})
    r = rng.choice(non_residues)
    _require(all((v * v) % modulus != r for v in range(-100, 100)))
    return _theorem(name, statement(rng, name, [(n, "Z")], [], f"({n} * {n}) mod {modulus} <> {r}"), Z_HEADER)


def function_values_theorem(rng: random.Random, name: str) -> Theorem:
    """Functions given by equations: a value of a linear or quadratic rule (unfold the hypothesis), the rule from two
    values, a composition, and a value from a step rule f (x + 1) = f x + d."""
    shape = rng.randrange(5)
    f, g = rng.sample(["f", "g", "h", "p"], 2)
    over_z = shape in (0, 1) and rng.random() < 0.3
    typ = "Z" if over_z else "R"
    header = Z_HEADER if over_z else R_HEADER
    x = rng.choice(["x", "t", "y"] if not over_z else ["n", "x", "k"])
    if shape == 0:  # f x = a x + b -> f c = ?
        a, b, c = rng.randint(-9, 9), rng.randint(-20, 20), rng.randint(-9, 12)
        _require(a != 0)
        hyps = [f"forall {x}, {f} {x} = {polynomial([(a, x), (b, '')])}"]
        conclusion = f"{f} {number(c, wrap=True)} = {number(a * c + b)}"
        variables = [(f, f"{typ} -> {typ}")]
    elif shape == 1:  # f x = a x^2 + b x + c -> f u - f w = ?
        a, b, c = rng.randint(1, 6), rng.randint(-9, 9), rng.randint(-9, 9)
        u, w = rng.sample(range(-6, 9), 2)
        rule = polynomial([(a, f"{x} ^ 2"), (b, x), (c, "")])
        evaluate = lambda v: a * v * v + b * v + c  # noqa: E731
        hyps = [f"forall {x}, {f} {x} = {rule}"]
        conclusion = f"{f} {number(u, wrap=True)} - {f} {number(w, wrap=True)} = {number(evaluate(u) - evaluate(w))}"
        variables = [(f, f"{typ} -> {typ}")]
    elif shape == 2:  # f x = a x + b (a b unknown) -> f u = v1 -> f w = v2 -> f t = ?
        a, b = rng.randint(-6, 6), rng.randint(-15, 15)
        _require(a != 0)
        u, w, t = rng.sample(range(-5, 10), 3)
        p, q = rng.sample(["a", "b", "c", "m", "k"], 2)
        hyps = [f"forall {x}, {f} {x} = {p} * {x} + {q}", f"{f} {number(u, wrap=True)} = {number(a * u + b)}",
                f"{f} {number(w, wrap=True)} = {number(a * w + b)}"]
        _require(_solve([[Fraction(u), Fraction(1)], [Fraction(w), Fraction(1)]],
                        [Fraction(a * u + b), Fraction(a * w + b)]) == [a, b])
        conclusion = f"{f} {number(t, wrap=True)} = {number(a * t + b)}"
        variables = [(p, "R"), (q, "R"), (f, "R -> R")]
    elif shape == 3:  # f (g c)
        a, b, c, d = rng.randint(1, 6), rng.randint(-9, 9), rng.randint(-9, 9), rng.randint(-4, 5)
        hyps = [f"forall {x}, {f} {x} = {polynomial([(a, x), (b, '')])}",
                f"forall {x}, {g} {x} = {polynomial([(1, f'{x} ^ 2'), (c, '')])}"]
        inner = d * d + c
        conclusion = f"{f} ({g} {number(d, wrap=True)}) = {number(a * inner + b)}"
        variables = [(f, "R -> R"), (g, "R -> R")]
    else:  # f (x + 1) = f x + d -> f 0 = c -> f k = c + k d
        d, c, k = rng.randint(-9, 9), rng.randint(-20, 20), rng.randint(2, 4)
        _require(d != 0)
        hyps = [f"forall {x}, {f} ({x} + 1) = {f} {x} + {number(d, wrap=True)}", f"{f} 0 = {number(c)}"]
        conclusion = f"{f} {k} = {number(c + k * d)}"
        variables = [(f, "R -> R")]
    return _theorem(name, statement(rng, name, variables, hyps, conclusion), header)


def logarithm_like_rule(f: str, x: str, y: str) -> str:
    """`f (x * y) = f x + f y` for positive x and y only: for every x and y, the instance at 0 gives
    f 0 = f a + f 0, so f a = 0, and a theorem that also gives f a <> 0 would be vacuous."""
    return f"forall {x} {y}, 0 < {x} -> 0 < {y} -> {f} ({x} * {y}) = {f} {x} + {f} {y}"


def functional_equation_theorem(rng: random.Random, name: str) -> Theorem:
    """Functions given by an equation for every argument, a value asked: additive (`f (x + y) = f x + f y`),
    logarithm-like (`f (x * y) = f x + f y`), odd and periodic, and a substitution `x` to `1 / x`. Each is proved by
    instances of the equation at chosen numbers, then arithmetic."""
    shape = rng.randrange(4)
    f = rng.choice(["f", "g", "h", "p"])
    x, y = rng.sample(["x", "y", "t", "u"], 2)
    if shape == 0:  # f a = c -> f (k a) = k c
        a, c, k = rng.randint(1, 4), rng.randint(-9, 9), rng.randint(2, 3)
        _require(c != 0)
        hyps = [f"forall {x} {y}, {f} ({x} + {y}) = {f} {x} + {f} {y}", f"{f} {a} = {number(c)}"]
        conclusion = f"{f} {k * a} = {number(k * c)}"
    elif shape == 1:  # f a = c -> f (a ^ k) = k c
        a, c, k = rng.randint(2, 5), rng.randint(-6, 6), rng.randint(2, 3)
        _require(c != 0)
        hyps = [logarithm_like_rule(f, x, y), f"{f} {a} = {number(c)}"]
        conclusion = f"{f} {a ** k} = {number(k * c)}"
    elif shape == 2:  # odd with period 2 k: f k = f (-k + 2 k) = f (-k) = - f k
        k = rng.randint(1, 4)
        hyps = [f"forall {x}, {f} (- {x}) = - {f} {x}", f"forall {x}, {f} ({x} + {2 * k}) = {f} {x}"]
        conclusion = f"{f} {k} = 0"
    else:  # f x + a f (1 / x) = b x: the instances at c and 1 / c are two equations in f c and f (1 / c)
        a, b, c = rng.randint(2, 4), rng.randint(1, 6), rng.randint(2, 4)
        value = (Fraction(b * c) - Fraction(a * b, c)) / (1 - a * a)
        hyps = [f"forall {x}, {x} <> 0 -> {f} {x} + {a} * {f} (1 / {x}) = {b} * {x}"]
        conclusion = f"{f} {c} = {number(value)}"
    return _theorem(name, statement(rng, name, [(f, "R -> R")], hyps, conclusion), R_HEADER)


def instance_chain_theorem(rng: random.Random, name: str) -> Theorem:
    """Functional equations whose proof is a chain of instances, each aimed at a number the last one brought in:
    an additive function several multiples away, a logarithm-like one at a power, a sequence by a two-term
    recurrence (forward, or between two given values), and a shifted argument (`f (x + c)` asked at d: the instance
    at d - c)."""
    shape = rng.randrange(4)
    f = rng.choice(["f", "g", "h", "p"])
    x, y = rng.sample(["x", "y", "t", "u"], 2)
    if shape == 0:  # f a = c -> f (k a) = k c, by k - 1 instances
        a, c, k = rng.randint(1, 3), rng.randint(-9, 9), rng.randint(3, 5)
        _require(c != 0)
        hyps = [f"forall {x} {y}, {f} ({x} + {y}) = {f} {x} + {f} {y}", f"{f} {a} = {number(c)}"]
        conclusion = f"{f} {k * a} = {number(k * c)}"
        variables = [(f, "R -> R")]
    elif shape == 1:  # f a = c -> f (a ^ k) = k c
        a, c, k = rng.randint(2, 3), rng.randint(-6, 6), rng.randint(3, 4)
        _require(c != 0)
        hyps = [logarithm_like_rule(f, x, y), f"{f} {a} = {number(c)}"]
        conclusion = f"{f} {a ** k} = {number(k * c)}"
        variables = [(f, "R -> R")]
    elif shape == 2:  # s (n + 2) = p s (n + 1) + q s n, two values given, a third asked
        p, q = rng.choice([(1, 1), (2, -1), (1, 2), (3, -2), (2, 1)])
        i, first, second = rng.randint(0, 5), rng.randint(-5, 9), rng.randint(-5, 9)
        terms = [Fraction(first), Fraction(second)]
        for _ in range(4):
            terms.append(p * terms[-1] + q * terms[-2])
        n = rng.choice(["n", "k", "m"])
        rule = polynomial([(p, f"{f} (S {n})"), (q, f"{f} {n}")])
        if rng.random() < 0.5:  # forward: s i, s (i + 1) -> s (i + j)
            known, asked = [0, 1], rng.randint(2, 4)
        else:  # between: s i, s (i + 2) -> s (i + 1); or s i, s (i + 3) -> s (i + 2)
            gap = rng.randint(2, 3)
            known, asked = [0, gap], gap - 1
            _require(p != 0 and (gap == 2 or p * p + q != 0))
        hyps = [f"forall {n}, {f} (S (S {n})) = {rule}"] + [f"{f} {i + j}%nat = {number(terms[j])}" for j in known]
        conclusion = f"{f} {i + asked}%nat = {number(terms[asked])}"
        variables = [(f, "nat -> R")]
    else:  # f (x + c) = a x + b -> f d = a (d - c) + b
        a, b, c, d = rng.randint(-5, 5), rng.randint(-9, 9), rng.randint(1, 5), rng.randint(-4, 9)
        _require(a != 0 and d != c)
        hyps = [f"forall {x}, {f} ({x} + {c}) = {polynomial([(a, x), (b, '')])}"]
        conclusion = f"{f} {number(d, wrap=True)} = {number(a * (d - c) + b)}"
        variables = [(f, "R -> R")]
    return _theorem(name, statement(rng, name, variables, hyps, conclusion), R_HEADER)


FAMILIES: dict[str, Callable[[random.Random, str], Theorem]] = {
    "polynomial": polynomial_theorem,
    "linear_system": linear_system_theorem,
    "quadratic": quadratic_theorem,
    "square_hint": square_hint_theorem,
    "induction_sum": induction_sum_theorem,
    "divisibility": divisibility_theorem,
    "digits": digits_theorem,
    "floor": floor_theorem,
    "remainder": remainder_theorem,
    "function_values": function_values_theorem,
    "functional_equation": functional_equation_theorem,
    "instance_chain": instance_chain_theorem,
}


def theorem_name(family: str, seed: int, index: int) -> str:
    return f"cur_{family}_{seed}_{index}"


def _unnamed(theorem: Theorem) -> str:
    """The statement without its name: two draws that differ only there are the same theorem."""
    return theorem.header + "\n" + theorem.statement.replace(theorem.name, "", 1)


def draw_family(family: str, count: int, seed: int) -> list[Theorem]:
    """`count` distinct theorems of `family` for `seed` (fewer only where the family keeps repeating itself). Each
    family draws from its own stream, so the same seed gives the same theorems whatever other families are drawn.
    A draw that is a shipped benchmark's problem, renamed (coq_env.statement_shapes), is skipped."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: one of {', '.join(FAMILIES)}")
    rng = random.Random(f"curriculum:{family}:{seed}")
    theorems: list[Theorem] = []
    seen: set[str] = set()
    for _ in range(count * MAX_DRAWS_PER_THEOREM):
        if len(theorems) == count:
            break
        name = theorem_name(family, seed, len(theorems))
        try:
            theorem = FAMILIES[family](rng, name)
        except Draw:
            continue
        key = _unnamed(theorem)
        if statement_shape(theorem.statement) in benchmark_shapes():  # a benchmark problem, renamed: never train on it
            continue
        if key not in seen:
            seen.add(key)
            theorems.append(theorem)
    return theorems


def file_text(theorem: Theorem) -> str:
    """The hole as a file of its own: header, statement, `Proof.` and `Admitted.`."""
    return f"{theorem.header}\n\n{theorem.statement}\nProof.\nAdmitted.\n"


def compile_problem(box: Sandbox, text: str, timeout: float = COMPILE_TIMEOUT) -> str | None:
    """Why coqc rejects `text` as a file (one line), or None where it compiles."""
    (Path(box.dir) / "Proof.v").write_text(text, encoding="utf-8")
    return compile_checked_file(box, SandboxLimits(), timeout)


def _clear_previous(out: Path) -> None:
    """Make `out` ready for a curriculum: new, empty, or a previous curriculum (its manifest's files and the
    manifest removed: a rerun overwrites cleanly). ValueError for a folder holding anything else."""
    manifest = out / MANIFEST
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder")
    if not out.exists() or not any(out.iterdir()):
        return
    if not manifest.is_file():
        raise ValueError(f"{out} is not empty and holds no {MANIFEST}: give a new or empty folder (or a previous "
                         "curriculum's, which is overwritten)")
    for row in read_rows(manifest):
        path = out / str(row.get("file", ""))
        if path.is_file() and path.parent != out and path.is_relative_to(out):
            path.unlink()
            if not any(path.parent.iterdir()):
                path.parent.rmdir()
    manifest.unlink()


def write_curriculum(out: str | Path, families: list[str], count: int, seed: int = 0,
                     progress: Callable[[str], None] | None = None) -> dict:
    """OUT/<family>/<name>.v for `count` theorems of each family drawn from `seed`, each compiled by coqc with
    `Admitted.` in a sandbox and dropped (counted, with coqc's reason) where it is rejected; then OUT/manifest.jsonl
    (name, family, seed, file), written last and atomically. A previous curriculum in OUT is replaced whole.
    Returns per-family counts. ValueError for an unknown family or an OUT that is not ours to overwrite."""
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown family {', '.join(unknown)}: one of {', '.join(FAMILIES)}")
    out = Path(out)
    _clear_previous(out)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"out": str(out), "seed": seed, "families": {}, "written": 0, "rejected": 0}
    manifest_rows = []
    with Sandbox("curriculum-") as box:
        for family in families:
            counts: dict = {"drawn": 0, "written": 0, "rejected": 0}
            for theorem in draw_family(family, count, seed):
                counts["drawn"] += 1
                text = file_text(theorem)
                problem = compile_problem(box, text)
                if progress is not None:
                    progress(family)
                if problem is not None:
                    counts["rejected"] += 1
                    counts.setdefault("rejections", []).append(f"{theorem.name}: {problem}")
                    continue
                relative = f"{family}/{theorem.name}.v"
                (out / family).mkdir(exist_ok=True)
                write_atomic(out / relative, text)
                manifest_rows.append({"name": theorem.name, "family": family, "seed": seed, "file": relative})
                counts["written"] += 1
            summary["families"][family] = counts
            summary["written"] += counts["written"]
            summary["rejected"] += counts["rejected"]
    with atomic_file(out / MANIFEST) as f:
        for row in manifest_rows:
            f.write(json.dumps(row) + "\n")
    summary["manifest"] = str(out / MANIFEST)
    return summary
