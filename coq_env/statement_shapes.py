"""The shape of a Rocq theorem statement: the same problem whatever its names and however it binds them.

Why: a synthetic family drawn from seeds can draw a benchmark problem itself, renamed (`forall f : R -> R,
(forall x y, f (x + y) = f x + f y) -> f 1 = 3 -> f 5 = 15` and `(g : R -> R) (h0 : forall u t, g (u + t) = ...)`
are one problem). The n-gram guard does not see it: such a statement is made only of one-letter names, small
numerals and operators, which it leaves out as structure. The curriculum skips a draw whose shape is a benchmark
problem's.

A shape is the hypotheses and the conclusion, in order, with the theorem's name, hypothesis names, binder style,
binder types of inner quantifiers, scope delimiters and spacing around brackets dropped, and every bound name renamed by first
occurrence.
"""
from __future__ import annotations

import functools
import re

_HEAD = re.compile(r"^\s*(?:Theorem|Lemma|Example|Fact|Remark|Corollary|Proposition)\s+[^\s(:]+\s*", re.S)
_VARIABLE_TYPE = re.compile(r"^(?:R|nat|Z|Q|C|Prop|bool)(?:\s*->\s*(?:R|nat|Z|Q|C|Prop|bool))*$")
_SCOPE = re.compile(r"%[A-Za-z_]\w*")
_INNER_BINDER = re.compile(r"\b(forall|exists|fun)\s+((?:\(?[^\W\d][\w']*\s*)+?)(?::\s*[^,]+?)?\)?\s*,")
_IDENT = re.compile(r"[^\W\d][\w']*")


def _group(text: str, start: int) -> int:
    """The index just past the parenthesised group opening at `start`."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    return len(text)


def _split_top(text: str, separator: str) -> list[str]:
    parts, depth, last, i = [], 0, 0, 0
    while i < len(text):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0 and text.startswith(separator, i):
            parts.append(text[last:i])
            last = i = i + len(separator)
            continue
        i += 1
    return parts + [text[last:]]


def _unwrap(formula: str) -> str:
    formula = formula.strip()
    while formula.startswith("(") and _group(formula, 0) == len(formula):
        formula = formula[1:-1].strip()
    return formula


def _declared(names_and_type: str) -> list[str]:
    names, _, _ = names_and_type.partition(":")
    return names.split()


def statement_shape(statement: str) -> str:
    """The canonical shape of `Theorem name binders : body.` (see the module's doc)."""
    text = _SCOPE.sub("", _HEAD.sub("", statement.strip(), count=1)).rstrip().rstrip(".")
    variables: list[str] = []
    hyps: list[str] = []
    while text.startswith("("):  # binders: `(x y : R)` declares variables, `(h0 : P)` a hypothesis
        end = _group(text, 0)
        inner, text = text[1:end - 1], text[end:].lstrip()
        names, _, typ = inner.partition(":")
        if _VARIABLE_TYPE.match(typ.strip()):
            variables += names.split()
        else:
            hyps.append(typ)
    text = text.lstrip(":").strip()
    while text.startswith("forall "):  # leading quantifiers over variables
        head, _, text = text[len("forall "):].partition(",")
        for group in re.findall(r"\(([^()]*)\)", head) or [head]:
            variables.extend(_declared(group))
        text = text.strip()
    *premises, conclusion = _split_top(text, "->")
    formulas = [_unwrap(h) for h in hyps + premises + [conclusion]]
    joined = " ; ".join(_INNER_BINDER.sub(lambda m: f"{m.group(1)} {m.group(2).replace('(', ' ')},", f)
                        for f in formulas)
    bound = set(variables) | {n for m in _INNER_BINDER.finditer(joined) for n in m.group(2).split()}
    names: dict[str, str] = {}
    renamed = _IDENT.sub(lambda m: names.setdefault(m.group(), f"v{len(names)}") if m.group() in bound
                         else m.group(), joined)
    return re.sub(r"\s*([(),;])\s*", r"\1", re.sub(r"\s+", " ", renamed)).strip()


@functools.lru_cache(maxsize=1)
def benchmark_shapes() -> frozenset[str]:
    """The shapes of every Rocq benchmark problem shipped: miniF2F-rocq and competition-rocq, all splits."""
    from coq_env.competition import load_competition
    from coq_env.minif2f import SPLITS, load_split

    theorems = [t for split in SPLITS for t in load_split(split)] + list(load_competition("all"))
    return frozenset(statement_shape(t.statement) for t in theorems)
