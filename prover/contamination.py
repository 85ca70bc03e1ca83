"""A guard against benchmark contamination of training rows: token n-gram overlap with benchmark statements.

Text is normalised before tokenising: lowercased, scope delimiters (`%Z`, `%nat`) dropped, and brackets and
commas treated as spaces, because the proof assistant prints a statement's goal with its own bracketing
(`(ln a) / (ln 8)` comes back as `ln a / ln 8`) and lists binders as `x, y : R`. Tokens are then runs of
letters/digits/`_`/`'` and runs of other symbols, so `<=`, `->` and `=` count as words.

Why n = 10 and not the 13 of prose decontamination: formal statements are short (miniF2F-rocq's bodies have a
median of 31 tokens as counted here, and 41 of 488 have fewer than 13), and with operators counted as tokens ten of them already make a
specific formula (`x : r h0 : 3 * x = 2`, `5 ^ 2005 mod 100 = 25`), not a common phrase. A statement
body shorter than n tokens (`139 mod 11 = 7`) is itself the n-gram, if it has at least `min_tokens`.

An n-gram made only of structure (operators, one-letter variables like `x`/`h0`, the numerals 0-2, `forall`,
type names) is left out: `: forall x y : nat , x + y =` opens a statement and just as well a commutativity
hypothesis in the standard library. A statement made of nothing else (`a^2 + b^2 = 2 -> a * b <= 1`) is then
not guarded; such formulas are textbook facts as much as benchmark problems.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prover.jsonl import write_atomic
from prover.proofsteps import ProofStep

DEFAULT_N = 10
MIN_TOKENS = 5
MAX_EXAMPLES = 20

_SCOPE = re.compile(r"%[A-Za-z_]\w*")
_SEPARATORS = re.compile(r"[()\[\]{},;]")
_TOKEN = re.compile(r"[\w']+|[^\w'\s]+")
_VARIABLE = re.compile(r"[^\W\d_][\d\u2080-\u2089']*")  # x, h0, h₀, a'
_STRUCTURE_WORDS = frozenset(("forall", "exists", "fun", "let", "in", "if", "then", "else", "match", "with", "end",
                              "as", "return", "nat", "z", "r", "c", "q", "n", "bool", "prop", "type", "set", "true",
                              "false", "0", "1", "2"))
# The declaration keyword and name are not part of what a row could leak.
_DECLARATION = re.compile(r"^\s*(?:theorem|lemma|example|fact|proposition|corollary|remark)\s+[\w'.]+\s*(?::(?!=)\s*)?", re.IGNORECASE)


def tokens(text: str) -> list[str]:
    text = _SEPARATORS.sub(" ", _SCOPE.sub("", text.lower()))
    return _TOKEN.findall(text)


def statement_body(statement: str) -> str:
    """The statement without its declaration keyword, name and final '.'."""
    return _DECLARATION.sub("", statement, count=1).rstrip().removesuffix(".")


def is_structure(gram: tuple[str, ...]) -> bool:
    """Only operators, one-letter variables, small numerals and keywords: evidence of nothing."""
    return all(word in _STRUCTURE_WORDS or not word[0].isalnum() or _VARIABLE.fullmatch(word) for word in gram)


@dataclass(frozen=True)
class Hit:
    field: str  # state | tactic
    ngram: str  # the shared tokens, space-joined
    theorem: str  # the benchmark theorem it comes from


@dataclass
class ContaminationReport:
    benchmark: str
    n: int
    rows_checked: int = 0
    rows_dropped: int = 0
    by_field: Counter = field(default_factory=Counter)
    by_theorem: Counter = field(default_factory=Counter)
    examples: list[dict] = field(default_factory=list)

    def add(self, row: ProofStep, hit: Hit | None) -> None:
        self.rows_checked += 1
        if hit is None:
            return
        self.rows_dropped += 1
        self.by_field[hit.field] += 1
        self.by_theorem[hit.theorem] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append({"source": row.source, "theorem": row.theorem, "field": hit.field,
                                  "ngram": hit.ngram, "benchmark_theorem": hit.theorem,
                                  "tactic": row.tactic, "state": row.state[:500]})

    def to_json(self) -> dict:
        return {"benchmark": self.benchmark, "n": self.n, "rows_checked": self.rows_checked,
                "rows_dropped": self.rows_dropped, "by_field": dict(self.by_field),
                "benchmark_theorems_matched": dict(self.by_theorem.most_common()), "examples": self.examples}

    def write(self, path: str | Path) -> None:
        write_atomic(path, json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")


class NgramGuard:
    """The n-grams of a benchmark's statements; tells whether a text or a proofstep row shares one."""

    def __init__(self, statements: Iterable[tuple[str, str]], n: int = DEFAULT_N, min_tokens: int = MIN_TOKENS,
                 benchmark: str = ""):
        """`statements`: (theorem name, statement text) pairs."""
        if n < 1 or min_tokens < 1:
            raise ValueError("n and min_tokens must be positive")
        self.n, self.benchmark = n, benchmark
        self._grams: dict[tuple[str, ...], str] = {}  # n-gram (or a whole short statement) -> theorem name
        self._lengths: dict[str, set[int]] = {}  # first token -> the lengths of the grams starting with it
        for name, text in statements:
            words = tokens(statement_body(text))
            if len(words) < n:
                if len(words) >= min_tokens:
                    self._add(tuple(words), name)
                continue
            for i in range(len(words) - n + 1):
                self._add(tuple(words[i:i + n]), name)

    @classmethod
    def from_theorems(cls, theorems, n: int = DEFAULT_N, benchmark: str | None = None) -> NgramGuard:
        """From prover.types.Theorem objects (all splits of a benchmark, usually)."""
        theorems = list(theorems)
        name = benchmark or next((t.benchmark for t in theorems if t.benchmark), "")
        return cls(((t.name, t.statement) for t in theorems), n=n, benchmark=name)

    def _add(self, gram: tuple[str, ...], name: str) -> None:
        if is_structure(gram):
            return
        self._grams.setdefault(gram, name)
        self._lengths.setdefault(gram[0], set()).add(len(gram))

    def __len__(self) -> int:
        return len(self._grams)

    def match(self, text: str) -> tuple[str, str] | None:
        """(the shared n-gram, the benchmark theorem) for the first overlap in `text`, or None."""
        words = tokens(text)
        for i, word in enumerate(words):
            for length in self._lengths.get(word, ()):
                name = self._grams.get(tuple(words[i:i + length]))
                if name is not None:
                    return " ".join(words[i:i + length]), name
        return None

    def check(self, row: ProofStep) -> Hit | None:
        for name in ("state", "tactic"):
            found = self.match(getattr(row, name))
            if found:
                return Hit(name, *found)
        return None

    def filter(self, rows: Iterable[ProofStep], report: ContaminationReport | None = None) -> Iterator[ProofStep]:
        """The rows that share no n-gram with the benchmark; every row is counted in `report`."""
        for row in rows:
            hit = self.check(row)
            if report is not None:
                report.add(row, hit)
            if hit is None:
                yield row

    def new_report(self) -> ContaminationReport:
        return ContaminationReport(self.benchmark, self.n)
