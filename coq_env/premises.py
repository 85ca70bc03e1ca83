"""Premise retrieval for Rocq: the Search queries a goal asks, the lemmas Coq answers with, and the tactics that
use them, ranked by the names the model made up (a 135M model knows a lemma is needed, rarely its name)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

APPLY, REWRITE = "apply", "rewrite"
# A binary relation at the top of a conclusion, longest spelling first: its sides are what a rewrite works on.
_RELATIONS = ("<->", "<>", "<=", ">=", "==", "=", "<", ">")
_ANSWER = re.compile(r"^([A-Za-z_][\w'.]*):(?:\s|$)")
_NUMBER = re.compile(r"(?<![\w'.])\d+(?![\w'])")
_WORD = re.compile(r"[A-Za-z_][\w']*")
# A pattern made only of holes, brackets and one relation matches nearly every lemma of that shape: not asked.
_EMPTY_PATTERN = re.compile(r"^[\s_()]*(?:<->|<>|<=|>=|==|=|<|>|->)?[\s_()]*$")


@dataclass(frozen=True)
class Lemma:
    """One answer to a Search query: its name as Coq prints it (the shortest that resolves) and its type."""

    name: str
    type: str

    @property
    def hypotheses(self) -> int:
        """Premises the lemma asks for before its conclusion: what an `apply` leaves to prove."""
        return self.type.count("->")


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
    if re.match(r"(?:forall|exists|fun|let)\b", pattern):
        return []
    depth = i = 0
    found: list[tuple[int, str]] = []  # (position, relation) outside brackets
    while i < len(pattern):
        if depth == 0 and pattern.startswith(("\\/", "/\\"), i):
            return []
        if pattern.startswith(("->", "=>", "<-"), i) and not pattern.startswith("<->", i):
            if depth == 0 and pattern.startswith("->", i):
                return []
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
        return []
    at, relation = next(((i, r) for i, r in found if r == "<->"), found[0])
    return [pattern[:at].strip(), pattern[at + len(relation):].strip()]


def searchable(pattern: str) -> bool:
    """Whether a pattern says enough to ask for: some constant, notation or number besides holes and a relation,
    and no existential variable (Search cannot read one)."""
    return bool(pattern) and "?" not in pattern and not _EMPTY_PATTERN.match(pattern)


def queries(conclusion: str, local_names: Iterable[str]) -> list[tuple[str, str]]:
    """(kind, Search sentence): the lemmas whose conclusion fits the goal (to `apply`), then the equations about
    either side of its top relation (to `rewrite` with)."""
    pattern = generalized(conclusion, local_names)
    if not searchable(pattern):
        return []
    asked = [(APPLY, f"SearchPattern ({pattern}).")]
    # A lemma's own variables match only holes: `n == (S ^ p) 0` is an instance of `n == (S ^ p) m`, so ask with
    # the numbers as holes too.
    coarse = _NUMBER.sub("_", pattern)
    if coarse != pattern and searchable(coarse):
        asked.append((APPLY, f"SearchPattern ({coarse})."))
    for side in top_relation_sides(pattern):
        if searchable(side):
            asked.append((REWRITE, f"SearchRewrite ({side})."))
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


def ranked(found: Sequence[tuple[str, Lemma]], hints: Sequence[str], limit: int) -> list[str]:
    """Tactics for `found` (kind, lemma), best first, at most `limit`: the lemmas asking fewest hypotheses (an apply
    of one asking none closes the goal), then those whose name shares most words with the names in the model's
    candidates, then Coq's own order; applies and rewrites take turns so neither crowds the other out."""
    wanted = name_words(" ".join(hints))
    by_kind: dict[str, list[tuple[tuple, str]]] = {APPLY: [], REWRITE: []}
    seen: set[str] = set()
    for order, (kind, lemma) in enumerate(found):
        tactic = f"{kind} {lemma.name}."
        if tactic in seen:
            continue
        seen.add(tactic)
        shared = len(name_words(lemma.name) & wanted)
        by_kind[kind].append(((lemma.hypotheses, -shared, order), tactic))
    lists = [[tactic for _, tactic in sorted(by_kind[kind])] for kind in (APPLY, REWRITE)]
    tactics: list[str] = []
    for i in range(max(map(len, lists), default=0)):
        tactics.extend(tactics_[i] for tactics_ in lists if i < len(tactics_))
    return tactics[:limit]
