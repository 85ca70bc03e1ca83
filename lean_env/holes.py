"""The `sorry` holes in a Lean 4 file: theorems, lemmas and examples whose proof holds a `sorry` (or `admit`).

For each hole it gives what a prover needs (the declaration as written, the file's text before it, the lemmas
still open before it) and what a writer needs to put a proof in its place while keeping the rest of the file
byte-identical (the exact span of text the proof replaces: from the proof's `:=`, or its first `|` equation,
through the end of the proof).

The file is read the way Lean's scanner reads it, as far as finding declarations needs: `--` line comments,
nested `/- -/` block comments (doc comments too), string and character literals and `«»` identifiers are never
read as code. A declaration ends where the next command starts: a line that begins, at the declaration's own
column or left of it, with a command keyword, an attribute or a doc comment (how Lean code is laid out in
practice; Lean's parser ends it at the first token that cannot continue it).
"""
from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Mapping, Sequence

from lean_env.lexing import CHAR_LITERAL, IDENT_CHAR, block_comment_end

SORRY = re.compile(r"(?<![\w'!?.])(sorry|admit)(?![\w'!?])")  # `admit` is core Lean's other name for sorry
HOLE_KINDS = ("theorem", "lemma", "example")
_MODIFIERS = ("private", "protected", "noncomputable", "nonrec", "partial", "unsafe", "scoped", "local")
_COMMAND_WORDS = (
    "theorem", "lemma", "example", "def", "abbrev", "instance", "structure", "class", "inductive", "axiom",
    "opaque", "namespace", "section", "end", "open", "variable", "universe", "set_option", "attribute", "mutual",
    "macro", "macro_rules", "syntax", "notation", "infix", "infixl", "infixr", "prefix", "postfix", "elab",
    "elab_rules", "export", "import", "deriving", "initialize", "omit", "include", "alias", "irreducible_def",
    "register_simp_attr", "add_decl_doc", "declare_syntax_cat", *_MODIFIERS,
)
_WORD_END = r"(?![\w'!?.])"
_COMMAND_START = re.compile(rf"[ \t]*(?:@\[|#[A-Za-z_]|(?:{'|'.join(_COMMAND_WORDS)}){_WORD_END})", re.M)
_DECLARATION = re.compile(rf"(theorem|lemma|example|def|abbrev|instance|structure|class|inductive){_WORD_END}")
_NAME = re.compile(r"\s+((?:[^\s:({\[⦃«»]|«[^»]*»)+)")
_SCOPE = re.compile(rf"(?:noncomputable\s+)?(namespace|section|end){_WORD_END}[ \t]*([^\s]*)")


@dataclass(frozen=True)
class Hole:
    """One hole of a file. Offsets are indices into the file's text as a Python str (characters, not bytes)."""

    kind: str  # "theorem", "lemma" or "example"
    name: str  # as declared ("" for an example)
    qualified_name: str  # with the enclosing namespaces (`_root_.` dropped); "" for an example
    label: str  # names the hole within its file: the qualified name, or `example#N` (N-th example of the file)
    line: int  # 1-based line of the proof's first sorry
    sorry_lines: tuple[int, ...]  # every sorry of the proof (a tactic block may hold several)
    statement_line: int  # 1-based line where the declaration starts (its doc comment or attributes included)
    statement: str  # the declaration as written, up to its proof (attributes, doc comment and binders included)
    keyword_start: int  # text[keyword_start:] starts with the declaration's keyword (`theorem`, `lemma`, `example`)
    start: int  # text[start:end] is what a proof replaces: from `:=` (or the first `|` equation) to the proof's end
    end: int
    replaced: str  # text[start:end] when the file was read (fill_hole refuses a file that changed since)
    context: str  # the file's text before the declaration
    open_before: tuple[str, ...]  # qualified names of earlier theorems and lemmas of the file that still have holes


def code_view(text: str) -> str:
    """`text` with comments and string and character literals blanked (newlines kept, so offsets and lines still
    match) and the insides of `«»` identifiers made `_` (so no keyword is read there). An unterminated comment or
    string blanks the rest of the text."""
    return _scan(text)[0]


def _scan(text: str) -> tuple[str, dict[int, int]]:
    """code_view's text, and where each doc comment (`/-- -/`) starts, by the offset where it ends."""
    docs: dict[int, int] = {}
    out = list(text)
    i, n = 0, len(text)

    def blank(start: int, end: int, fill: str = " ") -> None:
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = fill

    while i < n:
        if text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
        elif text.startswith("/-", i):
            closed = block_comment_end(text, i)
            end = n if closed is None else closed
            if text.startswith("/--", i) and closed is not None:
                docs[end] = i
        elif text[i] == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            end = min(end + 1, n)
        elif text[i] == "'" and (i == 0 or not IDENT_CHAR.match(text[i - 1])) and CHAR_LITERAL.match(text, i):
            end = CHAR_LITERAL.match(text, i).end()
        elif text[i] == "«":
            end = text.find("»", i + 1)
            end = n if end < 0 else end
            blank(i + 1, end, "_")
            i = end + 1
            continue
        else:
            i += 1
            continue
        blank(i, end)
        i = end
    return "".join(out), docs


def find_holes(text: str) -> list[Hole]:
    """Every hole of a Lean 4 file's text, in file order: each theorem, lemma or example whose proof holds a
    `sorry` or `admit` outside comments and strings is one hole, however many sorries its proof has (the proof
    found replaces the whole of it). Definitions, instances and other declarations hold no hole."""
    code, docs = _scan(text)
    line_of = _line_finder(text)
    starts = _command_starts(code)
    holes: list[Hole] = []
    examples = 0
    for at, keyword_at, kind, column in _declarations(code, starts):
        at = docs.get(len(text[:at].rstrip()), at)  # a doc comment right before belongs to the declaration
        if kind == "example":
            examples += 1
        if kind not in HOLE_KINDS:
            continue
        following = next((s for s in starts if s > keyword_at and _column(code, s) <= column), len(code))
        end = len(code[:following].rstrip())
        proof_start = _proof_start(code, keyword_at, end)
        if proof_start is None:
            continue
        sorries = [m.start() for m in SORRY.finditer(code, proof_start, end)]
        if not sorries:
            continue
        name, qualified, namespaces = "", "", _namespaces(code, starts, at)
        if kind != "example":
            m = _NAME.match(code, keyword_at + len(kind))
            name = text[m.start(1):m.end(1)] if m else ""
            qualified = _qualified(namespaces, name)
        holes.append(Hole(
            kind=kind, name=name, qualified_name=qualified,
            label=qualified or ".".join([*namespaces, f"example#{examples}"]),
            line=line_of(sorries[0]), sorry_lines=tuple(line_of(s) for s in sorries), statement_line=line_of(at),
            statement=text[at:proof_start].rstrip(), keyword_start=keyword_at, start=proof_start, end=end,
            replaced=text[proof_start:end], context=text[:at],
            open_before=tuple(h.qualified_name for h in holes if h.qualified_name)))
    return holes


def fill_hole(text: str, hole: Hole, proof: str) -> str:
    """`text` with `proof` (from `:=` on: ":= by ...") in place of `hole`'s span, every other character unchanged.
    Raises ValueError if the file no longer has the hole's text at its span."""
    if text[hole.start:hole.end] != hole.replaced:
        raise ValueError(f"{hole.label}: the file changed since its holes were read (line {hole.line})")
    separator = "" if hole.replaced.startswith(":=") else " "  # an equation `|` starts on a line of its own
    return text[:hole.start] + separator + proof + text[hole.end:]


def fill_proofs(text: str, proofs: Mapping[str, Sequence[str]]) -> tuple[str, dict[str, tuple[int, int]]]:
    """`text` with each proof (hole label -> tactics) in place of its hole, every other character kept, and where
    each filled declaration now lies in it (label -> (start, end) offsets). A proof becomes `:= by` and its tactics,
    one per line, indented two columns past the declaration's line (a tactic's own lines keep their relative
    indentation). Raises ValueError for a label that is no hole of `text` or an empty proof."""
    holes = {hole.label: hole for hole in find_holes(text)}
    gone = [label for label in proofs if label not in holes]
    if gone:
        raise ValueError(f"no hole {', '.join(gone)} in the file any more: it changed since its holes were read")
    newline = "\r\n" if "\r\n" in text else "\n"
    chosen = sorted((holes[label] for label in proofs), key=lambda hole: hole.start)
    rendered = {}
    for hole in chosen:
        lines = [line.rstrip() for tactic in proofs[hole.label] for line in tactic.replace("\r\n", "\n").split("\n")]
        if not any(lines):
            raise ValueError(f"{hole.label}: the proof is empty")
        line_start = text.rfind("\n", 0, len(hole.context)) + 1
        indent = text[line_start:len(hole.context)]
        indent = indent[: len(indent) - len(indent.lstrip(" \t"))] + "  "
        rendered[hole.label] = newline.join([":= by", *(indent + line if line else "" for line in lines)])
    filled = text
    for hole in reversed(chosen):  # from the end, so the spans before each hole stay where they were
        filled = fill_hole(filled, hole, rendered[hole.label])
    spans, shift = {}, 0
    for hole in chosen:
        added = len(rendered[hole.label]) + (0 if hole.replaced.startswith(":=") else 1)
        spans[hole.label] = (len(hole.context) + shift, hole.start + shift + added)
        shift += added - len(hole.replaced)
    return filled, spans


def open_lemmas_as_axioms(text: str) -> str:
    """`text` with each theorem or lemma that holds a sorry declared as an `axiom` with the same statement instead
    (its proof made blank lines, so every line keeps its number): a proof that uses one then names it among its
    axioms, where Lean would only say `sorryAx`. Examples stay as they are (nothing can use them)."""
    for hole in reversed(find_holes(text)):  # from the end: earlier offsets stay valid
        if hole.kind == "example":
            continue
        blank = "\n" * hole.replaced.count("\n")
        text = (text[:hole.keyword_start] + "axiom" + text[hole.keyword_start + len(hole.kind):hole.start].rstrip()
                + blank + text[hole.end:])
    return text


def _command_starts(code: str) -> list[int]:
    """Offsets where a command (or its modifiers, attributes) starts: the first code on a line, when it is one."""
    return [m.end() - len(m.group().lstrip()) for m in _COMMAND_START.finditer(code)
            if m.start() == 0 or code[m.start() - 1] == "\n"]


def _declarations(code: str, starts: list[int]):
    """(start, keyword offset, keyword, column) of each declaration: it starts where its attributes and modifiers
    begin, which may be lines above its keyword."""
    keyword_at = -1
    for at in starts:
        if at < keyword_at:
            continue  # a later line of the head of the declaration just found
        cursor = at
        while True:  # over attributes and modifiers to the keyword
            if code.startswith("@[", cursor):
                close = _matching_bracket(code, cursor + 1)
                if close is None:
                    break
                cursor = close + 1
            else:
                word = re.match(r"\w+", code[cursor:])
                if not word or word.group() not in _MODIFIERS:
                    break
                cursor += word.end()
            cursor += len(code[cursor:]) - len(code[cursor:].lstrip())
        m = _DECLARATION.match(code, cursor)
        if m is not None:
            keyword_at = cursor
            yield at, cursor, m.group(1), _column(code, at)


def _proof_start(code: str, keyword_at: int, end: int) -> int | None:
    """Where the declaration's proof starts: its first `:=` or `|` outside brackets (the end of its signature)."""
    depth = 0
    for i in range(keyword_at, end):
        c = code[i]
        if c in "([{⦃⟨":
            depth += 1
        elif c in ")]}⦄⟩":
            depth = max(0, depth - 1)
        elif depth == 0 and code.startswith(":=", i):
            return i
        elif depth == 0 and c == "|" and code[i - 1] in " \t\n" and code[i + 1:i + 2] in (" ", "\t", "\n"):
            return len(code[:i].rstrip())
    return None


def _matching_bracket(code: str, open_at: int) -> int | None:
    """The offset of the `]` closing the `[` at `open_at`."""
    depth = 0
    for i in range(open_at, len(code)):
        depth += {"[": 1, "]": -1}.get(code[i], 0)
        if depth == 0:
            return i
    return None


def _namespaces(code: str, starts: list[int], before: int) -> list[str]:
    """The namespace components open at `before` (sections open scopes but add no component)."""
    scopes: list[tuple[str, list[str]]] = []
    for at in starts:
        if at >= before:
            break
        m = _SCOPE.match(code, at)
        if m is None:
            continue
        kind, name = m.group(1), m.group(2)
        if kind == "end":
            if scopes:
                scopes.pop()
        else:
            scopes.append((kind, name.split(".") if kind == "namespace" and name else []))
    return [part for kind, parts in scopes for part in parts]


def _qualified(namespaces: list[str], name: str) -> str:
    if name.startswith("_root_."):
        return name[len("_root_."):]
    return ".".join([*namespaces, name])


def _column(code: str, offset: int) -> int:
    return offset - (code.rfind("\n", 0, offset) + 1)


def _line_finder(text: str):
    """A function from an offset in `text` to its 1-based line."""
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    return lambda offset: bisect_right(line_starts, offset)
