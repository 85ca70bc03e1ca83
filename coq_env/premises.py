"""Premise retrieval for Rocq: the Search queries a goal asks, the lemmas Coq answers with, and the tactics that
use them, ranked by the names the model made up (a 135M model knows a lemma is needed, rarely its name); and the
real names nearest to a made-up one, to offer the model's tactic again with; and the same queries answered from
the lemmas an `Include` brought into the open module, which Coq 8.16's Search does not list."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

APPLY, REWRITE = "apply", "rewrite"
# A binary relation at the top of a conclusion, longest spelling first: its sides are what a rewrite works on.
_RELATIONS = ("<->", "<>", "<=", ">=", "==", "=", "<", ">")
_ANSWER = re.compile(r"^([A-Za-z_][\w'.]*):(?:\s|$)")
_NUMBER = re.compile(r"(?<![\w'.])\d+(?![\w'])")
_WORD = re.compile(r"[A-Za-z_][\w']*")
_TERM_TOKEN = re.compile(r"[\w'.%]+|\S")  # a name, number or hole, or one other character
_SUCCESSORS = ("S", "Z.succ")  # what an induction step puts where the variable was
# coqtop's refusal of a tactic that names a lemma it does not know (the model made the name up)
UNKNOWN_REFERENCE = re.compile(r"The reference ([\w'.]+) was not found in the current environment")
MIN_NAME_WORD = 3  # a made-up name's words shorter than this are not asked for (`le`, `eq` are in thousands)
_STOPS = {"fun", "forall", "exists", "let", "in", "if", "then", "else", "match", "with", "end", "=>", ","}
_LEADING_BINDERS = re.compile(r"^forall\s(?:[^,()]|\([^()]*\))*,")  # a type's leading binders, up to their comma
_BINDER_START = re.compile(r"(?:forall|exists|fun|let)\b")  # a term that binds: its relations are its body's
# A pattern made only of holes, brackets and one relation matches nearly every lemma of that shape: not asked.
_EMPTY_PATTERN = re.compile(r"^[\s_()]*(?:<->|<>|<=|>=|==|=|<|>|->)?[\s_()]*$")


@dataclass(frozen=True)
class Lemma:
    """One answer to a Search query: its name as Coq prints it (the shortest that resolves) and its type."""

    name: str
    type: str

    @property
    def hypotheses(self) -> int:
        """Premises the lemma asks for before its conclusion: what an `apply` leaves to prove. The arrows of its
        binders' types (`forall (f : nat -> R) n, ...`) and of bracketed facts are not premises of their own."""
        return len(_top_arrows(_LEADING_BINDERS.sub("", self.type)))


def _top_arrows(body: str) -> list[int]:
    """Where `body` has an implication `->` outside every bracket (not the tail of an `<->`)."""
    depth, arrows = 0, []
    for i, char in enumerate(body):
        depth += (char in "([{") - (char in ")]}")
        if depth == 0 and body.startswith("->", i) and not body.startswith("<->", i - 1):
            arrows.append(i)
    return arrows


def generalized(conclusion: str, local_names: Iterable[str]) -> str:
    """The conclusion with every local name (a hypothesis or variable of the goal's context) as a hole `_`: the
    pattern lemmas about any such terms match."""
    pattern = " ".join(conclusion.split())
    for name in sorted(set(local_names), key=len, reverse=True):
        pattern = re.sub(rf"(?<![\w'.]){re.escape(name)}(?![\w'])", "_", pattern)
    return pattern


def top_relation_sides(pattern: str) -> list[str]:
    """The two sides of the loosest relation at the top of `pattern` (outside every bracket): an `<->` before any
    other, else the first. [] where there is none, or where a binder, an implication or a connective is at the
    top (the relations are then inside the facts it joins)."""
    top = top_relation(pattern)
    return list(top[1:]) if top else []


def top_relation(pattern: str) -> tuple[str, str, str] | None:
    """(relation, left side, right side) of the loosest relation at the top of `pattern`, as top_relation_sides
    finds it; None where there is none."""
    if _BINDER_START.match(pattern):
        return None
    depth = i = 0
    found: list[tuple[int, str]] = []  # (position, relation) outside brackets
    while i < len(pattern):
        if depth == 0 and pattern.startswith(("\\/", "/\\"), i):
            return None
        if pattern.startswith(("->", "=>", "<-"), i) and not pattern.startswith("<->", i):
            if depth == 0 and pattern.startswith("->", i):
                return None
            i += 2  # an arrow, not a relation
            continue
        char = pattern[i]
        depth += (char in "([{") - (char in ")]}")
        relation = next((r for r in _RELATIONS if pattern.startswith(r, i)), None) if depth == 0 else None
        if relation:
            found.append((i, relation))
            i += len(relation)
            continue
        i += 1
    if not found:
        return None
    at, relation = next(((i, r) for i, r in found if r == "<->"), found[0])
    return relation, pattern[:at].strip(), pattern[at + len(relation):].strip()


def _is_name(token: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z][\w'.]*", token)) and token not in _STOPS


def successor_subterms(pattern: str) -> list[str]:
    """Patterns for each application of a named function to a successor of a local in `pattern`, its other arguments
    as holes: `sum_f_R0 (fun i => ...) (S _)` gives `sum_f_R0 _ (S _)`, `INR (S _)` itself, `2 ^ S _` gives
    `_ ^ (S _)`, and a power whose exponent is a sum `_ ^ (_ + _)`. An induction's step goal has them where the
    variable was, and the equations that unfold a function at a successor (`tech5`, `S_INR`, `Nat2Z.inj_succ`,
    `pow_add`) are what it needs before the induction hypothesis can be used."""
    tokens = _TERM_TOKEN.findall(pattern)
    found: list[str] = []

    def group_end(i: int) -> int:  # the index after the argument starting at i
        if tokens[i] != "(":
            return i + 1
        depth = 0
        for j in range(i, len(tokens)):
            depth += (tokens[j] == "(") - (tokens[j] == ")")
            if depth == 0:
                return j + 1
        return len(tokens)

    def group_start(i: int) -> int:  # the index where the argument ending at i - 1 starts
        if tokens[i - 1] != ")":
            return i - 1
        depth = 0
        for j in range(i - 1, -1, -1):
            depth += (tokens[j] == ")") - (tokens[j] == "(")
            if depth == 0:
                return j
        return 0

    def is_argument(i: int) -> bool:
        return tokens[i] == "(" or (tokens[i] not in _STOPS and bool(re.fullmatch(r"[\w'.%]+", tokens[i])))

    for i, token in enumerate(tokens):
        if token == "^" and tokens[i + 1:i + 2] == ["("]:
            exponent = tokens[i + 2:group_end(i + 1) - 1]
            if "+" in exponent and "_" in exponent:
                found.append("_ ^ (_ + _)")  # `x ^ (n + 1)`, the successor an exponent is written as
            continue
        if token not in _SUCCESSORS or i + 1 >= len(tokens) or "_" not in tokens[i + 1:group_end(i + 1)]:
            continue  # a successor of a number, not of a term with a local in it
        start, end = i, group_end(i + 1)
        if i and tokens[i - 1] == "(" and tokens[end:end + 1] == [")"]:  # `(S _)`, bracketed alone
            start, end = i - 1, end + 1
        successor = f"({token} _)"
        if start > 0 and tokens[start - 1] == "^":  # a power's exponent: about any base
            found.append(f"_ ^ {successor}")
            continue
        arguments = [successor]
        while start > 0 and (tokens[start - 1] == ")" or is_argument(start - 1) and tokens[start - 1] != "("):
            start = group_start(start)
            arguments.insert(0, "_")
        while end < len(tokens) and is_argument(end):
            end = group_end(end)
            arguments.append("_")
        if len(arguments) > 1 and _is_name(tokens[start]) and tokens[start] not in _SUCCESSORS:
            found.append(" ".join([tokens[start], *arguments[1:]]))
    return list(dict.fromkeys(found))


def searchable(pattern: str) -> bool:
    """Whether a pattern says enough to ask for: some constant, notation or number besides holes and a relation,
    and no existential variable (Search cannot read one)."""
    return bool(pattern) and "?" not in pattern and not _EMPTY_PATTERN.match(pattern)


def queries(conclusion: str, local_names: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, Search sentence): the lemmas whose conclusion fits the goal (to `apply`), then the equations about
    a function at a successor (`successor_subterms`, to `rewrite` with), then those about either side of its top
    relation, setoid ones (`==`) too where the goal has them."""
    pattern = generalized(conclusion, local_names)
    if not searchable(pattern):
        return []
    asked = [(APPLY, f"SearchPattern ({pattern}).")]
    # A lemma's own variables match only holes: `n == (S ^ p) 0` is an instance of `n == (S ^ p) m`, so ask with
    # the numbers as holes too.
    coarse = _NUMBER.sub("_", pattern)
    if coarse != pattern and searchable(coarse):
        asked.append((APPLY, f"SearchPattern ({coarse})."))
    # Where the goal's `==` is a notation (QArith, the Numbers functors, setoids), its equations are asked for
    # too: SearchRewrite lists only `=` ones.
    setoid = "==" in pattern
    for term in [*successor_subterms(pattern), *filter(searchable, top_relation_sides(pattern))]:
        asked.append((REWRITE, f"SearchRewrite ({term})."))
        if setoid and not _BINDER_START.match(term):
            asked += [(REWRITE, f"SearchPattern ({term} == _)."), (REWRITE, f"SearchPattern (_ == {term}).")]
    return asked


def parse_answers(output: str) -> list[Lemma]:
    """The lemmas a Search printed: `name: type`, a long type continuing on indented lines (or starting on the next
    one)."""
    lemmas: list[tuple[str, list[str]]] = []
    for line in output.splitlines():
        match = _ANSWER.match(line)
        if match:
            lemmas.append((match.group(1), [line[match.end():].strip()]))
        elif lemmas and line[:1].isspace():
            lemmas[-1][1].append(line.strip())
    return [Lemma(name, " ".join(part for part in parts if part)) for name, parts in lemmas]


def name_words(text: str) -> set[str]:
    """The lowercase words of identifiers (split at `_` and `.`), two letters or more: `le`, `add`, `comm`."""
    return {word for identifier in _WORD.findall(text) for word in identifier.lower().split("_") if len(word) > 1}


def ranked(found: Sequence[tuple[str, Lemma]], hints: Sequence[str], limit: int, goal: str | None = None) -> list[str]:
    """Tactics for `found` (kind, lemma), best first, at most `limit`: the lemmas asking fewest hypotheses (an apply
    of one asking none closes the goal), then those whose name shares most words with the names in the model's
    candidates, then Coq's own order; applies and rewrites take turns so neither crowds the other out. Given the
    `goal`'s conclusion, a rewrite whose left side does not occur in it is left out (rewrites_the_goal)."""
    wanted = name_words(" ".join(hints))
    by_kind: dict[str, list[tuple[tuple, str]]] = {APPLY: [], REWRITE: []}
    seen: set[str] = set()
    for order, (kind, lemma) in enumerate(found):
        tactic = f"{kind} {lemma.name}."
        if tactic in seen or (kind == REWRITE and goal is not None and not rewrites_the_goal(lemma, goal)):
            continue
        seen.add(tactic)
        shared = len(name_words(lemma.name) & wanted)
        by_kind[kind].append(((lemma.hypotheses, -shared, order), tactic))
    lists = [[tactic for _, tactic in sorted(by_kind[kind])] for kind in (APPLY, REWRITE)]
    tactics: list[str] = []
    for i in range(max(map(len, lists), default=0)):
        tactics.extend(tactics_[i] for tactics_ in lists if i < len(tactics_))
    return tactics[:limit]


def name_query(name: str) -> str | None:
    """The Search for lemmas whose names contain the two longest words of a made-up `name` (its last component,
    split at `_`): `Z.div_mod_eq` asks `Search "div" "mod".`, which finds `Z.div_mod`. None where its words are
    too short to narrow the search."""
    words = [w for w in name.rsplit(".", 1)[-1].split("_") if len(w) >= MIN_NAME_WORD and w.isidentifier()]
    if not words:
        return None
    chosen = sorted(dict.fromkeys(words), key=len, reverse=True)[:2]  # a stable sort: ties keep the name's order
    return "Search " + " ".join(f'"{word}"' for word in chosen) + "."


def repaired(tactic: str, name: str, lemmas: Sequence[Lemma], limit: int) -> list[str]:
    """`tactic` with the made-up `name` replaced by the `limit` real names nearest to it: the same qualifier
    (`Z.`, `Nat.`) first, then the most similar spelling of the last component; none where the name stands where a
    tactic does (`Proper_instance_0 H.`): Coq read it as a tactic, and no lemma's name fits there."""
    if re.match(rf"\s*{re.escape(name)}(?![\w'.])", tactic):
        return []
    qualifier, _, base = name.rpartition(".")

    def nearness(lemma: Lemma) -> tuple:
        their_qualifier, _, their_base = lemma.name.rpartition(".")
        return (their_qualifier != qualifier, -difflib.SequenceMatcher(None, base, their_base).ratio())

    pattern = re.compile(rf"(?<![\w'.]){re.escape(name)}(?![\w'])")
    names = list(dict.fromkeys(lemma.name for lemma in sorted(lemmas, key=nearness) if lemma.name != name))
    return [pattern.sub(lambda _: real, tactic) for real in names[:limit]]


# -- lemmas an `Include` brought into the open module ----------------------------------------------------------------
# Coq before 8.20 has Search skip them (rocq-prover/rocq#18657): inside `Module M (N : S). Include P N.` the lemmas
# of P are in scope and usable, but no Search lists them, so the queries above are matched against them here.
_INCLUDE = re.compile(r"(?m)^\s*Include\s+(?:Type\s+)?([^.]+?)\s*\.(?:\s|$)")
_MODULE_FIELD = re.compile(r"^\s*(?:Parameter|Definition|Theorem|Lemma|Axiom)\s+([A-Za-z_][\w']*)\s*:", re.M)
_QUERY_PATTERN = re.compile(r"^Search(Pattern|Rewrite) \((.*)\)\.$", re.S)
_NAME_QUERY_WORDS = re.compile(r'"([^"]+)"')
_MATCH_TOKEN = re.compile(r"<->|->|<=|>=|==|<>|/\\|\\/|[\w'.%]+|\S")
# What a hole never spans at its own bracket depth: a relation, an implication, a connective or a binder's comma.
_HOLE_STOPS = {"=", "==", "<", "<=", ">", ">=", "<>", "<->", "->", "/\\", "\\/", ",", "=>", ":"}
REWRITE_RELATIONS = ("=", "==", "<->")  # what `rewrite` rewrites with (`==`: a setoid equality, as in Numbers)


def included_modules(header: str) -> list[str]:
    """The modules and functors the header's `Include` sentences name, first use first: `Include A N <+ B N.`
    names A and B."""
    names = [part.split()[0] for body in _INCLUDE.findall(header) for part in body.split("<+") if part.split()]
    return list(dict.fromkeys(name for name in names if re.fullmatch(r"[A-Za-z_][\w'.]*", name)))


def module_field_names(printed: str) -> list[str]:
    """The names of the lemmas and definitions a `Print Module` shows (its `Parameter`s and `Definition`s)."""
    return list(dict.fromkeys(_MODULE_FIELD.findall(printed)))


def checked_type(printed: str) -> str | None:
    """The type a `Check name.` printed (`name` then `: type` on the next lines), on one line."""
    match = re.match(r"\s*\S+\s*:\s*(.*)", printed, re.S)
    return " ".join(match.group(1).split()) if match else None


def conclusion(lemma_type: str) -> str:
    """A lemma type's conclusion: what is left past its leading binders and its hypotheses (top-level `->`)."""
    body = " ".join(lemma_type.split())
    while True:
        binders = _LEADING_BINDERS.match(body)
        if binders:
            body = body[binders.end():].strip()
            continue
        arrows = _top_arrows(body)
        if not arrows:
            return body
        body = body[arrows[-1] + 2:].strip()


def _tokens(text: str) -> list[str]:
    return _MATCH_TOKEN.findall(text)


def pattern_matches(pattern: str, term: str) -> bool:
    """Whether `term` is `pattern` with each hole `_` filled by a bracket-balanced run of the term's tokens that
    holds no relation, arrow or connective of its own: Search's matching, on printed text, where both come from
    the same printer at the same place."""
    return _matches(_tokens(pattern), _tokens(term), whole=True, start=0)


def pattern_occurs(pattern: str, term: str) -> bool:
    """Whether some run of `term`'s tokens matches `pattern` (as pattern_matches): where a rewrite could apply."""
    want, have = _tokens(pattern), _tokens(term)
    return any(_matches(want, have, whole=False, start=j) for j in range(len(have)))


def _matches(want: list[str], have: list[str], whole: bool, start: int) -> bool:
    memo: dict[tuple[int, int], bool] = {}

    def match(i: int, j: int) -> bool:
        if (i, j) in memo:
            return memo[i, j]
        if i == len(want):
            result = j == len(have) or not whole
        elif want[i] != "_":
            result = j < len(have) and want[i] == have[j] and match(i + 1, j + 1)
        else:
            result, depth = False, 0
            for k in range(j, len(have)):
                token = have[k]
                depth += (token in "([{") - (token in ")]}")
                if depth < 0 or (depth == 0 and token in _HOLE_STOPS):
                    break
                if depth == 0 and match(i + 1, k + 1):
                    result = True
                    break
        memo[i, j] = result
        return result

    return match(0, start)


def binder_names(lemma_type: str) -> list[str]:
    """The names a lemma type binds with `forall` (`forall n (H : P n) {A : Type}, ...` gives n, H, A)."""
    names: list[str] = []
    for binders in re.findall(r"\bforall\s((?:[^,()]|\([^()]*\))*),", lemma_type):
        groups = re.findall(r"[({]([^(){}]*)[)}]", binders)
        bare = re.sub(r"[({][^(){}]*[)}]", " ", binders)
        for part in [bare, *groups]:
            names += _WORD.findall(part.split(":")[0])
    return names


def rewrites_the_goal(lemma: Lemma, goal: str) -> bool:
    """Whether `rewrite lemma.` could change `goal`: its conclusion is an equation or an iff whose left side, with
    the lemma's own variables as holes, occurs in the goal. SearchRewrite answers with lemmas whose either side fits,
    and a left-to-right rewrite by one whose left side is not there only fails."""
    top = top_relation(conclusion(lemma.type))
    if not top or top[0] not in REWRITE_RELATIONS:
        return True  # not read here: left to coqtop
    return pattern_occurs(generalized(top[1], binder_names(lemma.type)), goal)


def included_answers(query: str, lemmas: Sequence[Lemma]) -> list[Lemma]:
    """The lemmas among `lemmas` that `query` (one of `queries`' or `name_query`'s sentences) would have found, had
    Search seen them: a SearchPattern's conclusion, a SearchRewrite's side of an equation (`=`, `==`) or an `<->`,
    a name query's words."""
    words = _NAME_QUERY_WORDS.findall(query) if query.startswith("Search \"") else []
    if words:
        return [lemma for lemma in lemmas if all(word in lemma.name for word in words)]
    asked = _QUERY_PATTERN.match(query)
    if not asked:
        return []
    kind, pattern = asked.groups()
    found = []
    for lemma in lemmas:
        goal = conclusion(lemma.type)
        if kind == "Pattern":
            hit = pattern_matches(pattern, goal)
        else:
            top = top_relation(goal)
            hit = bool(top) and top[0] in REWRITE_RELATIONS and any(pattern_matches(pattern, s) for s in top[1:])
        if hit:
            found.append(lemma)
    return found
