"""A rule-based tactic proposer for Rocq goals (`--model hints`): no network, no weights.

It reads the goal's context and instantiates a few templates that competition algebra needs and the fixed
automation list cannot express because they name things in the goal: rewriting with an equation or a
function's defining hypothesis (with `by lia`/`by lra` for its side conditions), splitting a conjunction,
case-splitting an absolute value (`unfold Rabs in *`, then `destruct (Rcase_abs e)`), clearing a hypothesis' or
the goal's denominators (`field_simplify_eq`, whose nonzero side goals lra closes), positivity of `sqrt` and `exp` terms, the
division equation and bound of each `a mod k` (what `lia` needs to reason about remainders), instances of a
functional equation at the numbers the goal is about (whose arguments the automation then matches), and
Positivstellensatz-style hints for `nra`/`lra` (a square of a difference or weighted difference of variables is
non-negative).
Its use is as the teacher of expert iteration's round 0 (`prover iterate --model hints`): the proofs it finds
on the valid split become fine-tuning rows, so the trained model learns to propose such steps itself.
"""
from __future__ import annotations

import itertools
import re
from fractions import Fraction

from coq_env.backend import GOAL_BAR
from prover.generators import Candidate
from prover.types import Theorem

# one context line of coqtop's goal display: `x, y : R` or `h0 : f 2 = 3`
_DECL = re.compile(r"^\s{2}([^\s:,][^:,]*(?:, [^\s:,][^:,]*)*) : (.+)$")
NUMBER_TYPES = ("R", "Z", "nat", "Q", "C")
MAX_SQUARE_VARIABLES = 4  # pairs grow quadratically; larger contexts get no square hints
MAX_WEIGHTED_SQUARE_VARIABLES = 3
MAX_INSTANCE_NUMBERS = 4  # instances of a two-variable equation grow with the square of the numbers tried
MAX_AIMED_INSTANCES = 8  # per equation, beside the tuples of numbers: each is a child state of the search
_BINDERS = re.compile(r"^forall ((?:[A-Za-z_][\w']* ?)+)(?:: [^,]+)?, (.*)$")
_NUMERAL = re.compile(r"(?<![\w'.])-?\d+(?![\w'.])")
GOAL_TACTICS = ("field_simplify.", "unfold Rdiv.", "apply Rle_ge.", "apply Rge_le.", "unfold Rge.", "unfold Rgt.",
                "repeat split.", "intuition nra.", "intuition lia.")
SCORE = -1.0  # every proposal alike: the search then runs breadth-first over them
AIMED_SCORE = -0.25  # but a chain of aimed instances goes four times as deep: f 16 from f 2 takes three


def parse_context(state: str) -> tuple[list[tuple[str, str]], dict[str, str], str]:
    """(hypotheses as (name, type), number variables as name -> type, the first goal's conclusion)."""
    hyps: list[tuple[str, str]] = []
    variables: dict[str, str] = {}
    if GOAL_BAR not in state:
        return hyps, variables, ""
    context, rest = state.split(GOAL_BAR, 1)
    conclusion = rest.split("\ngoal ", 1)[0].strip()
    for line in context.splitlines():
        match = _DECL.match(line)
        if not match:
            if hyps and line.startswith("    "):  # a long hypothesis wraps onto indented lines
                name, typ = hyps[-1]
                hyps[-1] = (name, f"{typ} {line.strip()}")
            continue
        names = [n.strip() for n in match.group(1).split(",")]
        typ = match.group(2).strip()
        if typ in NUMBER_TYPES:
            variables.update((n, typ) for n in names)
        else:
            hyps.extend((n, typ) for n in names)
    return hyps, variables, conclusion


def function_arguments(function: str, text: str, names: bool = True) -> list[str]:
    """The arguments of `function (...)` in a term, parentheses balanced; with `names`, also of `function x`
    where x is a name or a numeral."""
    found = []
    for match in re.finditer(rf"(?<![\w']){function} \(", text):
        i, depth = match.end(), 1
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            found.append(text[match.end():i - 1])
    if names:
        found += [m.group(1) for m in re.finditer(rf"(?<![\w']){function} ([A-Za-z_][\w']*|\d+)(?![\w'])", text)]
    return found


def instances(name: str, typ: str, functions: dict[str, str], named: list[str], given: list[str],
              applied: tuple[str, ...]) -> tuple[list[str], set[str]]:
    """`pose proof (h 1 2).` for an equation `h : forall x y, ...` about a function variable, at each tuple of the
    numbers `named` (the goal's, then the hypotheses') and the smallest, then at the values aimed at the named
    numbers (`aimed_values`, with `given` and `applied`); side conditions (`x <> 0 -> ...`) are discharged with
    lra. The equal-arguments sentence of the automation then matches `f (1 + 2)` with `f 3`. `functions` maps each
    function variable to its domain type. Returns the instances, and which of them are aimed."""
    match = _BINDERS.match(typ)
    if not match:
        return [], set()
    binders, body = match.groups()
    about = [f for f in functions if re.search(rf"(?<![\w']){f} ", body)]
    if not about:
        return [], set()
    variables, conditions = binders.split(), body.count("->")
    if len(variables) > 2 or conditions > 2 or "=" not in body:
        return [], set()
    side = " ltac:(lra)" * conditions
    numbers = list(dict.fromkeys([*named, "1", "2", "0"]))
    tried = numbers[:MAX_INSTANCE_NUMBERS]
    # where the equation relates f x to f (- x) or f (1 / x), the instance at the opposite number closes the loop
    if "(- " in body:
        tried += [n[1:] if n.startswith("-") else f"(-{n})" for n in numbers[:2] if n != "0"]
    if "(1 / " in body:
        tried += [f"(1 / {n})" for n in numbers[:2] if n not in ("0", "1")]
    aimed = [t for f in about for t in aimed_values(variables, function_arguments(f, body), named, functions[f],
                                                      given, applied)]
    # a numeral is read in the open scope (R in a real-number theorem): a nat or Z argument says its own
    scope = f"%{functions[about[0]]}" if functions[about[0]] in ("nat", "Z") else ""

    def tactic(args: tuple[str, ...]) -> str:
        return f"pose proof ({name} {' '.join(_argument(n, scope) for n in args)}{side})."

    tuples = itertools.product(dict.fromkeys(tried), repeat=len(variables))
    return [tactic(args) for args in dict.fromkeys([*tuples, *aimed])], {tactic(args) for args in aimed}


def _argument(number: str, scope: str) -> str:
    wrapped = f"({number})" if number.startswith("-") else number
    return f"{wrapped}{scope}" if scope and not number.startswith("(") else wrapped


def aimed_values(variables: list[str], patterns: list[str], numbers: list[str], domain: str,
                 given: list[str], applied: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Values of an equation's variables that turn one of its function's arguments into a number of `numbers`:
    `x + 3` at m - 3, `S (S n)` at m - 2, `x * 4` at m / 4, `- x` at - m; with two variables, `x + y` is aimed at m
    as m - a and a for a number a of `given` (those the hypotheses apply the function to; any number where none is),
    and `x * y` as m / a and a, each part smaller than m, so that a chain of instances walks down from the goal's
    number to the ones the hypotheses give. A tuple that makes an argument already in `applied` (those the
    hypotheses apply the function to; two values either way round) was posed before: it is skipped, which keeps the
    chain's next number among the first MAX_AIMED_INSTANCES tuples."""
    values = [Fraction(n) for n in numbers]
    others = [Fraction(n) for n in given] or values
    aimed: list[tuple[Fraction, ...]] = []
    for pattern in patterns:
        if len(variables) == 1:
            v = variables[0]
            successors = re.fullmatch(rf"((?:S \()*)S {v}\)*", pattern)
            if successors and pattern.count("(") == pattern.count(")"):
                aimed += [(m - pattern.count("S "),) for m in values]
            elif pattern == f"- {v}":  # an odd function's rule at the opposite of each number
                aimed += [(-m,) for m in values]
            elif linear := re.fullmatch(rf"{v} ([+*-]) (\d+)|(\d+) ([+*]) {v}", pattern):
                op, c = linear.group(1, 2) if linear.group(1) else linear.group(4, 3)
                c = Fraction(c)
                aimed += [({"+": n - c, "-": n + c, "*": n / c if c else None}[op],) for n in values]
        elif re.fullmatch(rf"{variables[0]} ([+*]) {variables[1]}", pattern):
            times = "*" in pattern
            for m, a in itertools.product(values, others):
                if a in (0, m) or (times and abs(a) == 1):
                    continue
                rest = m / a if times else m - a
                if 0 < abs(rest) < abs(m) and abs(a) < abs(m):
                    aimed += [(rest, a), (a, rest)]
    integral = domain in ("nat", "Z")
    keep = [t for t in aimed if None not in t and not _posed(t, variables, patterns, applied)
            and all(x.denominator == 1 or not integral for x in t) and all(x >= 0 or domain != "nat" for x in t)]
    return [tuple(_number(x) for x in t) for t in dict.fromkeys(keep)][:MAX_AIMED_INSTANCES]


def _posed(values: tuple[Fraction, ...], variables: list[str], patterns: list[str], applied: tuple[str, ...]) -> bool:
    """Whether an instance at `values` is already among the hypotheses: one of the rule's arguments, written with
    these values (either way round for two), is an argument the function is applied to there."""
    for order in {values, values[::-1]}:
        at = dict(zip(variables, map(_number, order)))
        if any(re.sub(r"[A-Za-z_][\w']*", lambda v: at.get(v.group(), v.group()), p) in applied
               for p in patterns if p not in variables):  # `f x` at 3 is `f 3`: known, not posed
            return True
    return False


def _number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"({value.numerator} / {value.denominator})"


def abs_arguments(text: str) -> list[str]:
    """The arguments of `Rabs (...)` in a term, parentheses balanced."""
    return function_arguments("Rabs", text, names=False)


_TOKEN = re.compile(r"[\w'.%]+|\(|\)|\^|\*|/\\|\\/|<>|<=|>=|->|<->|[-+=<>,:/]|\S")
_OPERAND_OPERATORS = {"*", "/", "^", "mod"}  # what binds at least as tightly as `mod` (level 40, left)


def mod_terms(text: str) -> list[tuple[str, str]]:
    """`(operand, modulus)` of every `a mod k` in a term whose modulus is a numeral, as coqtop prints them:
    `27 * u mod 40` is `(27 * u) mod 40`, `f n mod 7` is `(f n) mod 7`."""
    tokens = _TOKEN.findall(text)
    found = []
    for i, token in enumerate(tokens):
        if token != "mod" or i + 1 >= len(tokens) or not re.fullmatch(r"\d+(%\w+)?", tokens[i + 1]):
            continue
        j, depth = i, 0
        while j > 0:  # back over atoms, applications and tighter operators, to a looser operator or `(`
            previous = tokens[j - 1]
            if previous == ")":
                depth += 1
            elif previous == "(":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and not (previous in _OPERAND_OPERATORS or re.fullmatch(r"[\w'.%]+", previous)):
                break
            j -= 1
        if j < i:
            operand = " ".join(tokens[j:i]).replace("( ", "(").replace(" )", ")")
            found.append((operand, tokens[i + 1].split("%")[0]))
    return list(dict.fromkeys(found))


def mod_facts(operand: str, modulus: str, integer: bool) -> str:
    """One step that gives `lia`/`nia` what `operand mod modulus` means: the division equation and the bound."""
    if " " in operand and not _one_group(operand):
        operand = f"({operand})"
    if integer:
        return f"pose proof (Z.div_mod {operand} {modulus}); pose proof (Z.mod_pos_bound {operand} {modulus})."
    return f"pose proof (Nat.div_mod_eq {operand} {modulus}); pose proof (Nat.mod_upper_bound {operand} {modulus})."


def mod_in_z(operand: str, text: str, integers) -> bool:
    """Whether `operand mod k` in `text` is over Z (it names a Z variable, or the text is in %Z) rather than nat."""
    return bool(set(re.findall(r"[A-Za-z_][\w']*", operand)) & set(integers)) or "%Z" in text


def _one_group(text: str) -> bool:
    """Whether `text` is one parenthesized group: `(a + b)`, not `(a) * (b)`."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and i < len(text) - 1:
            return False
    return True


def hint_tactics(state: str) -> list[str]:
    return _hints(state)[0]


def _hints(state: str) -> tuple[list[str], set[str]]:
    """The hint tactics for `state`, and the aimed instances among them (which the generator ranks first)."""
    hyps, variables, conclusion = parse_context(state)
    tactics, aimed = [], set()
    for name, typ in hyps:
        if "/\\" in typ:
            tactics.append(f"destruct {name}.")
        is_equation = "=" in typ and not any(op in typ for op in ("<=", ">=", "<>"))
        if is_equation:
            tactics.append(f"rewrite {name} in *.")
            if not typ.startswith("forall"):
                tactics.append(f"rewrite <- {name} in *.")
            elif "->" in typ:  # a conditional equation: its side conditions are arithmetic
                tactics += [f"rewrite {name} by lia.", f"rewrite {name} by lra."]
        if "/" in typ:
            tactics.append(f"field_simplify in {name}.")
            if is_equation:  # clears the denominators; their `<> 0` come first as goals lra closes
                tactics.append(f"field_simplify_eq in {name}.")
    texts = [conclusion] + [typ for _, typ in hyps]
    functions, named, given, applied = _functions_and_numbers(hyps, conclusion)
    for name, typ in hyps:
        found, aimed_here = instances(name, typ, functions, named, given, applied)
        tactics += found
        aimed |= aimed_here
    # `unfold Rabs in *` turns each `Rabs e` into a match on `Rcase_abs e`; destructing that gives lra both cases
    if any("Rabs" in text for text in texts):
        tactics.append("unfold Rabs in *.")
    tactics += [f"destruct (Rcase_abs ({term}))." for text in texts
                for term in abs_arguments(text) + function_arguments("Rcase_abs", text)]
    reals = [v for v, t in variables.items() if t == "R"]
    if len(reals) <= MAX_SQUARE_VARIABLES:
        tactics += [f"pose proof (pow2_ge_0 {x})." for x in reals]
        for x, y in itertools.combinations(reals, 2):
            tactics += [f"pose proof (pow2_ge_0 ({x} - {y})).", f"pose proof (pow2_ge_0 ({x} + {y})).",
                        f"pose proof (pow2_ge_0 ({x} * {y} - 1))."]
        for x in reals:
            tactics += [f"pose proof (pow2_ge_0 ({x} - 1)).", f"pose proof (pow2_ge_0 ({x} + 1))."]
    if len(reals) <= MAX_WEIGHTED_SQUARE_VARIABLES:  # squares with a coefficient: 36az - 9a^2 <= 36z^2 is (2z - a)^2
        for x, y in itertools.permutations(reals, 2):
            tactics += [f"pose proof (pow2_ge_0 (2 * {x} - {y})).", f"pose proof (pow2_ge_0 (3 * {x} - {y})).",
                        f"pose proof (pow2_ge_0 ({x} * {y} + 1)).", f"pose proof (pow2_ge_0 ({x} ^ 2 - {y}))."]
        for x, y, z in itertools.combinations(reals, 3):
            tactics += [f"pose proof (pow2_ge_0 ({x} + {y} - {z})).", f"pose proof (pow2_ge_0 ({x} + {y} + {z}))."]
    integers = [v for v, t in variables.items() if t == "Z"]
    for text in texts:  # `n mod 8 = 7 -> n mod 4 = 3`: lia knows `mod` only through these facts
        for operand, modulus in mod_terms(text):
            tactics.append(mod_facts(operand, modulus, mod_in_z(operand, text, integers)))
    if len(integers) <= MAX_SQUARE_VARIABLES:
        tactics += [f"pose proof (Z.square_nonneg {x})." for x in integers]
        tactics += [f"pose proof (Z.square_nonneg ({x} - {y}))." for x, y in itertools.combinations(integers, 2)]
    for function, fact in (("sqrt", "sqrt_pos"), ("exp", "exp_pos")):  # positivity `nra`/`lra` cannot derive
        tactics += [f"pose proof ({fact} ({e}))." for text in texts for e in function_arguments(function, text)]
    if "forall" not in conclusion:
        tactics += [f"induction {v}." for v, t in variables.items() if t == "nat"]
    if "/" in conclusion and "=" in conclusion and not any(op in conclusion for op in ("<=", ">=", "<>")):
        tactics.append("field_simplify_eq.")
    tactics += GOAL_TACTICS + ("subst.",)
    if "R" not in variables.values():  # computing a real-number goal unfolds the reals' definitions: noise
        tactics.append("vm_compute.")
    return list(dict.fromkeys(tactics)), aimed


def _functions_and_numbers(hyps: list[tuple[str, str]], conclusion: str
                           ) -> tuple[dict[str, str], list[str], list[str], tuple[str, ...]]:
    """The function variables (name -> domain type); the numbers they are applied to outside an equation for
    every argument, the goal's first (`f 5`), then the hypotheses'; the hypotheses' numbers alone; and every
    argument the hypotheses apply them to (`f (9 + 3)` gives `9 + 3`), numbers or not."""
    functions = {name: typ.split(" -> ")[0] for name, typ in hyps if re.fullmatch(r"[A-Za-z]+ -> [A-Za-z]+", typ)}

    def arguments(text: str) -> list[str]:
        return [] if text.startswith("forall") else [a for f in functions for a in function_arguments(f, text)]
    applied = tuple(a for _, typ in hyps for a in arguments(typ))
    given = list(dict.fromkeys(a for a in applied if _NUMERAL.fullmatch(a)))
    named = list(dict.fromkeys([a for a in arguments(conclusion) if _NUMERAL.fullmatch(a)] + given))
    return functions, named, given, applied


class HintGenerator:
    """`TacticGenerator` over `hint_tactics`; `n` is ignored (every template that applies is proposed)."""

    name = "rocq-hints"

    def generate(self, theorem: Theorem, state_text: str, n: int) -> list[Candidate]:
        tactics, aimed = _hints(state_text)
        return [Candidate(t, AIMED_SCORE if t in aimed else SCORE) for t in tactics]
