"""The holes in an Isabelle theory: lemmas whose proof holds `sorry` or ends in `oops`, and the `sorry` steps of
Isar proofs that can be stated on their own.

For each hole it gives what a prover needs (the statement to search, the theory's text before the lemma, the
`context`/`locale` blocks open there, the lemmas still open before it) and what a writer needs to put a proof in
its place while keeping every other character of the file (the exact span the proof replaces). The text is read
as Isabelle's outer syntax (isabelle_env.outer_syntax): `sorry` in a comment, string or cartouche is no hole.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from isabelle_env.outer_syntax import PROOF_COMMANDS, THEORY_COMMANDS, Token, code_tokens, line_of, statement_end

LEMMA = "lemma"  # the lemma's whole proof is the hole (a bare `sorry`, an `oops`, a proof with unstatable sorries)
STEP = "sorry"  # one `sorry` closing a `have`/`show` whose claim can be stated as a lemma of its own
HOLE_COMMANDS = frozenset({"lemma", "theorem", "corollary", "proposition"})
# blocks a theory opens with `begin` and closes with `end`; facts proved in a named one get its name as qualifier
_BLOCKS = frozenset({"context", "locale", "class", "instantiation", "overloading", "experiment", "bundle"})
_QUALIFYING = frozenset({"context", "locale", "class"})
_OPENS_GOAL = frozenset({"have", "show", "hence", "thus", "obtain", "consider", "interpret", "guess", "subgoal"})
_CLOSES_GOAL = frozenset({"by", ".", "..", "sorry", "done", "qed", "\\<proof>"})
_SKIP = frozenset({"sorry", "oops", "\\<proof>"})
_FACT_MODIFIERS = frozenset({"using", "unfolding", "including", "supply"})
# commands that may stand in a proof although the tables list them with theory commands (diagnostics, text)
_ALSO_IN_PROOFS = frozenset({"text", "txt", "text_raw", "thm", "term", "prop", "typ", "value", "find_theorems",
                             "find_consts", "print_state", "print_facts", "print_context", "print_theorems",
                             "print_statement", "thm_deps", "thm_oracles", "unused_thms", "nitpick", "nunchaku",
                             "quickcheck", "sledgehammer", "try", "try0", "solve_direct", "approximate", "section",
                             "subsection", "subsubsection", "paragraph", "subparagraph"})
_THEORY_ONLY = (THEORY_COMMANDS - _ALSO_IN_PROOFS) - PROOF_COMMANDS


@dataclass(frozen=True)
class Hole:
    """One hole of a theory. Offsets are indices into the file's text as a Python str (characters, not bytes)."""

    name: str | None  # the lemma's name as declared (None: an unnamed lemma)
    qualified_name: str  # as the theory names the fact after its blocks close (`Foo.bar` in `context Foo`)
    kind: str  # LEMMA or STEP
    line: int  # 1-based line of the `sorry` / `oops` (for LEMMA: the first one in the proof)
    statement_line: int  # 1-based line of the lemma's keyword
    statement: str  # the lemma's statement as written, keyword through its last token
    goal: str  # what the search states: the statement (LEMMA), or `lemma [fixes/assumes] shows CLAIM` (STEP)
    start: int  # text[start:end] is what a proof replaces: for LEMMA everything after the statement through
    end: int  # the proof's last word (`sorry`, `oops`, `qed`, `done`); for STEP the `sorry` itself
    replaced: str  # text[start:end] when the file was read (fill_hole refuses a file that changed since)
    context: str  # the file's text before the lemma's keyword
    scopes: tuple[tuple[str, str], ...]  # blocks open at the lemma (after the theory's own), outermost first
    open_before: tuple[str, ...]  # qualified names of earlier lemmas of the file still holding a hole
    ordinal: int = 1  # for STEP: which sorry of its lemma (1-based), as the proof is written
    siblings: int = 0  # for STEP: how many other sorries its lemma still holds
    unsupported: str | None = None  # why the prover cannot work on this hole, or None

    @property
    def label(self) -> str:
        """Names the hole uniquely within its file: the lemma's qualified name (its line when unnamed), with the
        sorry's ordinal for a STEP."""
        base = self.qualified_name or f"line{self.statement_line}"
        return base if self.kind == LEMMA else f"{base}#sorry{self.ordinal}"


@dataclass(frozen=True)
class ProofExtent:
    """Where a proof ends (index after its last token) and how: its sorries and whether `oops` abandons it."""

    end: int
    sorries: tuple[int, ...]
    oops: bool


def find_holes(text: str) -> list[Hole]:
    """Every hole of a theory's text, in file order; LexError (outer_syntax) for text that does not lex.

    A lemma/theorem/corollary/proposition is a hole when its proof holds `sorry` or ends in `oops`. When every
    sorry of the proof closes a `have`/`show` of quoted claims (no `?thesis`, no schematic abbreviation), each is
    a STEP hole; otherwise the whole proof is one LEMMA hole. Proofs of other commands (`instance`, `function`,
    `interpretation`, ...) and `notepad` blocks hold no hole. An unnamed lemma's hole is unsupported (a proof is
    checked through the name of the fact it proves)."""
    tokens = code_tokens(text)
    holes: list[Hole] = []
    open_lemmas: list[str] = []
    scopes: list[tuple[str, str]] = []
    pending: tuple[str, str] | None = None  # a block command whose `begin` has not come yet
    i = 0
    while i < len(tokens):
        word = tokens[i].text if tokens[i].kind == "word" else None
        if word == "begin":
            scopes.append(pending or ("theory", ""))
            pending = None
        elif word == "end":
            if scopes:
                scopes.pop()
        elif word == "notepad":
            i = _block_end(tokens, i)
            continue
        elif word in _BLOCKS:
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            pending = (word, after.text if after is not None and after.kind in ("word", "string")
                       and after.text != "begin" else "")
        elif word in THEORY_COMMANDS:
            at_statement_end = statement_end(tokens, i)
            if at_statement_end < len(tokens) and _is_proof_word(tokens[at_statement_end]):
                extent = _proof_extent(tokens, at_statement_end)
                if extent is None:  # unfinished: another theory command comes first
                    i = at_statement_end
                    continue
                if word in HOLE_COMMANDS and (extent.sorries or extent.oops):
                    found = _lemma_holes(text, tokens, i, at_statement_end, extent, tuple(scopes[1:]),
                                         tuple(open_lemmas))
                    holes += found
                    if not extent.oops:  # an abandoned lemma is not a fact later proofs can use
                        open_lemmas.append(found[0].qualified_name)
                i = extent.end
                continue
            i = max(at_statement_end, i + 1)
            continue
        i += 1
    return holes


def fill_hole(text: str, hole: Hole, tactics: tuple[str, ...] | list[str]) -> str:
    """`text` with the proof `tactics` (Isar commands, one per item) in place of `hole`'s span, every other
    character unchanged: a LEMMA's proof starts on a new line indented two more than its statement, a STEP's
    stands where its `sorry` stood. ValueError if the file no longer has the hole's text at its span."""
    if text[hole.start:hole.end] != hole.replaced:
        raise ValueError(f"{hole.label}: the file changed since its holes were read (line {hole.line})")
    if hole.kind == LEMMA:
        indent = _line_indent(text, hole.start - len(hole.statement)) + "  "
        proof = "\n" + indent + ("\n" + indent).join(_reindented(t, indent) for t in tactics)
    else:
        indent = _line_indent(text, hole.start)
        proof = ("\n" + indent).join(_reindented(t, indent) for t in tactics)
    return text[:hole.start] + proof + text[hole.end:]


def proof_extent(tokens: list[Token]) -> ProofExtent | None:
    """How the proof made of `tokens` (code tokens, from its first command) ends; None when it is unfinished or
    a theory command interrupts it."""
    if not tokens or not _is_proof_word(tokens[0]):
        return None
    return _proof_extent(tokens, 0)


def _is_proof_word(token: Token) -> bool:
    return token.kind in ("word", "symbol") and (token.text in PROOF_COMMANDS or token.text in _SKIP)


def _proof_extent(tokens: list[Token], first: int) -> ProofExtent | None:
    """Follow the proof from tokens[first] by the goals it opens and closes (`have` opens one, `by`/`done`/`qed`/
    `sorry` close one, `oops` abandons all) until the lemma's own goal is closed."""
    level, sorries = 1, []
    for k in range(first, len(tokens)):
        token = tokens[k]
        if token.kind not in ("word", "symbol"):
            continue
        word = token.text
        if token.kind == "word" and word in _THEORY_ONLY:
            return None
        if word == "oops":
            return ProofExtent(k + 1, tuple(sorries), True)
        if word in _OPENS_GOAL:
            level += 1
        elif word in _CLOSES_GOAL:
            level -= 1
            if word == "sorry":
                sorries.append(k)
            if level == 0:
                return ProofExtent(_command_end(tokens, k), tuple(sorries), False)
    return None


def _command_end(tokens: list[Token], at: int) -> int:
    """The index after the command starting at tokens[at]: its arguments (`by (simp add: x) auto`, `qed simp`)
    run up to the next command word."""
    k = at + 1
    while k < len(tokens) and not (tokens[k].kind == "word" and (
            tokens[k].text in THEORY_COMMANDS or tokens[k].text in PROOF_COMMANDS or tokens[k].text in _SKIP)):
        k += 1
    return k


def _lemma_holes(text: str, tokens: list[Token], at: int, proof_start: int, extent: ProofExtent,
                 scopes: tuple[tuple[str, str], ...], open_before: tuple[str, ...]) -> list[Hole]:
    keyword = tokens[at]
    name, target = _declared(tokens, at)
    qualifier = target or next((scope for kind, scope in reversed(scopes) if kind in _QUALIFYING and scope), "")
    qualified = f"{qualifier}.{name}" if name and qualifier else (name or "")
    statement_stop = tokens[proof_start - 1].end
    statement = text[keyword.start:statement_stop]
    first_skip = next(k for k in range(proof_start, extent.end) if tokens[k].text in _SKIP or k == extent.end - 1)
    shared = dict(name=name, qualified_name=qualified, statement_line=line_of(text, keyword.start),
                  statement=statement, context=text[:keyword.start], scopes=scopes, open_before=open_before,
                  unsupported=None if name else "an unnamed lemma: name it (`lemma NAME: ...`) so its proof can be "
                                                "checked")
    claims = None if extent.oops else [_stated_claim(text, tokens, at, proof_start, s) for s in extent.sorries]
    if claims and all(claims):
        return [Hole(kind=STEP, line=line_of(text, tokens[s].start), goal=claim, start=tokens[s].start,
                     end=tokens[s].end, replaced=tokens[s].text, ordinal=n, siblings=len(claims) - 1, **shared)
                for n, (s, claim) in enumerate(zip(extent.sorries, claims), 1)]
    end = tokens[extent.end - 1].end
    return [Hole(kind=LEMMA, line=line_of(text, tokens[first_skip].start), goal=statement, start=statement_stop,
                 end=end, replaced=text[statement_stop:end], **shared)]


def _declared(tokens: list[Token], at: int) -> tuple[str | None, str]:
    """(the name in `lemma (in T) NAME [attrs]: ...` or None, the target T or "")."""
    i, target = at + 1, ""
    if i + 3 < len(tokens) and tokens[i].text == "(" and tokens[i + 1].text == "in" and tokens[i + 3].text == ")":
        target, i = tokens[i + 2].text, i + 4
    if i < len(tokens) and tokens[i].kind == "word" and tokens[i].text not in ("fixes", "assumes", "shows", "obtains"):
        j = _after_attributes(tokens, i + 1)
        if j < len(tokens) and tokens[j].text == ":":
            return tokens[i].text, target
    return None, target


def _after_attributes(tokens: list[Token], j: int) -> int:
    """The index after an attribute list `[...]` starting at tokens[j] (brackets nest), or j when there is none."""
    if j >= len(tokens) or tokens[j].text != "[":
        return j
    depth = 0
    for k in range(j, len(tokens)):
        depth += {"[": 1, "]": -1}.get(tokens[k].text, 0)
        if depth == 0:
            return k + 1
    return len(tokens)


def _stated_claim(text: str, tokens: list[Token], at: int, proof_start: int, sorry: int) -> str | None:
    """The lemma that states what tokens[sorry] closes, or None when it cannot be stated: a `have`/`show` (with
    an optional `label [attrs]:`) of quoted claims joined by `and`, under the lemma's own fixes and assumptions."""
    opener = next((k for k in range(sorry - 1, proof_start - 1, -1)
                   if tokens[k].kind == "word" and tokens[k].text in PROOF_COMMANDS - _FACT_MODIFIERS), None)
    if opener is None or tokens[opener].text not in ("have", "show", "hence", "thus"):
        return None
    claim = tokens[opener + 1:sorry]
    claim = claim[:next((k for k, t in enumerate(claim) if t.kind == "word" and t.text in _FACT_MODIFIERS),
                        len(claim))]  # `have "P" using h sorry`: the facts are the proof's, not the claim's
    if claim and claim[0].kind == "word":  # a label: `have h1 [simp]: "..."`
        j = _after_attributes(claim, 1)
        if j < len(claim) and claim[j].text == ":":
            claim = claim[j + 1:]
    quoted = claim[::2]
    if not claim or any(t.kind not in ("string", "cartouche") or "?" in t.text for t in quoted) \
            or any(t.text != "and" for t in claim[1::2]) or len(claim) % 2 == 0:
        return None
    claims = text[claim[0].start:claim[-1].end]
    body = tokens[at + 1:proof_start]
    name, target = _declared(tokens, at)
    if name is not None:  # the statement after `NAME [attrs]:`
        start = next(k for k, t in enumerate(body) if t.text == ":") + 1
        body = body[start:]
    elif target:
        body = body[4:]
    words = {t.text for t in body if t.kind == "word"}
    if "obtains" in words or "if" in words or "for" in words or "when" in words:
        return None
    shows = next((k for k, t in enumerate(body) if t.kind == "word" and t.text == "shows"), None)
    if shows is None:
        return None if words & {"fixes", "assumes"} else f"lemma {claims}"
    return f"lemma {text[body[0].start:body[shows].start]}shows {claims}"


def _block_end(tokens: list[Token], at: int) -> int:
    """The index after the `end` matching the `begin` that follows tokens[at] (a notepad)."""
    depth = 0
    for k in range(at + 1, len(tokens)):
        if tokens[k].kind == "word" and tokens[k].text in ("begin", "end"):
            depth += 1 if tokens[k].text == "begin" else -1
            if depth == 0:
                return k + 1
    return len(tokens)


def _line_indent(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    return re.match(r"[ \t]*", text[line_start:]).group(0)


def _reindented(tactic: str, indent: str) -> str:
    """A multi-line tactic's later lines indented to stand under its first."""
    return tactic.strip().replace("\n", "\n" + indent)
