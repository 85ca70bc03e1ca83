"""Sound verification of an Isabelle theory: static refusals first, then the whole theory run by Isabelle
in a fresh session, with `thm_oracles` asked about the theorem.

The static pass reads the text the way Isabelle's outer syntax does: nested `(* *)` comments (their inside
is not lexed further, as in Isabelle), strings `"..."` and alt-strings with backslash escapes, verbatim
`{* *}`, and cartouches `‹...›` / `\\<open>...\\<close>` (nested). Only what lies outside comments, strings,
verbatim text and cartouches is code: commands and proof methods are found there.

Refused always: skipped proofs (`sorry`, `\\<proof>`, `oops`, quick_and_dirty, skip_proof, cheat_tac, ...),
anything that extends the trusted base (axiomatization/axioms, consts+defs, oracle, every ML and setup
command, `tactic` methods, `smt_oracle`), code-generator evaluation (`eval`, `normalization`,
`approximation`: they rest on the oracle Code_Generator.holds_by_evaluation; allowed only when asked),
and `sledgehammer` left in a proof (it is a search, not a proof). Against a benchmark theorem the theory
must be the benchmark's header, the statement unchanged (whitespace aside), a proof made of proof
commands only, and `end`: no extra lemma, definition or declaration, no changed imports, no statement
extended by `if`/`for`.

The live pass (`checker(text) -> (ok, messages)`, e.g. `server_checker()` below) runs the theory with one
`thm_oracles NAME` command added before `end`, and refuses any error, any skipped-proof report, and any
oracle in the theorem's derivation (only the code-evaluation oracle, when allowed). The oracle report is
read only from the message at the line this module added, so the theory cannot print a look-alike.
"""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from prover.types import Theorem, Verdict

NOT_CHECKED_LIVE = "statically clean, but not checked by Isabelle (no checker to run it)"
CODE_EVALUATION_ORACLES = ("holds_by_evaluation", "normalization_by_evaluation")  # last name component

Checker = Callable[[str], "tuple[bool, Sequence]"]  # theory text -> (ok, messages), messages as TheoryMessage


# -- lexing ----------------------------------------------------------------------------------------------
class LexError(ValueError):
    """The text cannot be read as Isabelle outer syntax (an unterminated comment, string or cartouche)."""


@dataclass(frozen=True)
class Token:
    kind: str  # space comment string altstring verbatim cartouche word symbol
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def is_code(self) -> bool:
        return self.kind not in ("space", "comment")


_OPEN = ("\\<open>", "\u2039")
_CLOSE = ("\\<close>", "\u203a")
_SYMBOL_LETTER = r"\\<(?:[A-Za-z][A-Za-z0-9_']*)>"  # \<alpha>, \<AA>, ...: letters in Isabelle identifiers
_SUBSCRIPT = r"\\<\^(?:sub|sup|isub|isup|bold|bsub|esub)>"
_WORD = re.compile(
    rf"(?:[A-Za-z]|{_SYMBOL_LETTER})(?:[A-Za-z0-9_']|{_SYMBOL_LETTER}|{_SUBSCRIPT})*"
    rf"(?:\.(?:[A-Za-z]|{_SYMBOL_LETTER})(?:[A-Za-z0-9_']|{_SYMBOL_LETTER}|{_SUBSCRIPT})*)*")
_NAMED_SYMBOL = re.compile(r"\\<\^?[A-Za-z][A-Za-z0-9_']*>")
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"[0-9]+")
# Isabelle symbols that read as letters in identifiers (Greek and a few more) versus operators: a symbol
# like \<Rightarrow> must not glue onto a word. Greek letters are what miniF2F uses in names.
_LETTER_SYMBOLS = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "mu", "nu", "xi",
    "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Xi", "Pi",
    "Sigma", "Upsilon", "Phi", "Psi", "Omega", "aa", "bb", "cc", "dd", "ee", "ff", "gg", "hh", "ii", "jj", "kk",
    "ll", "mm", "nn", "oo", "pp", "qq", "rr", "ss", "tt", "uu", "vv", "ww", "xx", "yy", "zz", "AA", "BB", "CC",
    "DD", "EE", "FF", "GG", "HH", "II", "JJ", "KK", "LL", "MM", "NN", "OO", "PP", "QQ", "RR", "SS", "TT", "UU",
    "VV", "WW", "XX", "YY", "ZZ", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P",
    "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l",
    "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "x", "y", "z", "lambda"}


def _word_at(text: str, i: int) -> str | None:
    m = _WORD.match(text, i)
    if m is None:
        return None
    word = m.group(0)
    # cut the word at the first symbol that is not a letter (\<Rightarrow> etc. are operators)
    for sym in re.finditer(r"\\<([A-Za-z][A-Za-z0-9_']*)>", word):
        if sym.group(1) not in _LETTER_SYMBOLS:
            word = word[:sym.start()]
            break
    return word.rstrip(".") or None


def tokenize(text: str) -> list[Token]:
    """Isabelle outer-syntax tokens of `text`; LexError on an unterminated comment/string/cartouche."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            m = _SPACE.match(text, i)
            tokens.append(Token("space", m.group(0), i))
            i = m.end()
        elif text.startswith("(*", i):
            j = _comment_end(text, i)
            tokens.append(Token("comment", text[i:j], i))
            i = j
        elif c in "\"`":
            j = _quoted_end(text, i, c)
            tokens.append(Token("string" if c == '"' else "altstring", text[i:j], i))
            i = j
        elif text.startswith("{*", i):
            j = text.find("*}", i + 2)
            if j < 0:
                raise LexError(f"unterminated verbatim text {{* ... at line {_line_of(text, i)}")
            tokens.append(Token("verbatim", text[i:j + 2], i))
            i = j + 2
        elif text.startswith(_OPEN, i):
            j = _cartouche_end(text, i)
            tokens.append(Token("cartouche", text[i:j], i))
            i = j
        elif text.startswith(_CLOSE, i):
            raise LexError(f"a cartouche closes without opening at line {_line_of(text, i)}")
        elif (word := _word_at(text, i)) is not None:
            tokens.append(Token("word", word, i))
            i += len(word)
        elif c.isdigit():
            m = _NUMBER.match(text, i)
            tokens.append(Token("word", m.group(0), i))
            i = m.end()
        elif c == "\\" and (m := _NAMED_SYMBOL.match(text, i)):
            tokens.append(Token("symbol", m.group(0), i))
            i = m.end()
        elif text.startswith("..", i):
            tokens.append(Token("symbol", "..", i))
            i += 2
        else:
            tokens.append(Token("symbol", c, i))
            i += 1
    return tokens


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _comment_end(text: str, i: int) -> int:
    depth, j = 0, i
    while j < len(text):
        if text.startswith("(*", j):
            depth += 1
            j += 2
        elif text.startswith("*)", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    raise LexError(f"unterminated comment (* ... at line {_line_of(text, i)}")


def _quoted_end(text: str, i: int, quote: str) -> int:
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == quote:
            return j + 1
        else:
            j += 1
    raise LexError(f"unterminated string {quote}... at line {_line_of(text, i)}")


def _cartouche_end(text: str, i: int) -> int:
    depth, j = 0, i
    while j < len(text):
        opener = next((o for o in _OPEN if text.startswith(o, j)), None)
        closer = next((c for c in _CLOSE if text.startswith(c, j)), None)
        if opener:
            depth += 1
            j += len(opener)
        elif closer:
            depth -= 1
            j += len(closer)
            if depth == 0:
                return j
        else:
            j += 1
    raise LexError(f"unterminated cartouche at line {_line_of(text, i)}")


def code_tokens(text: str) -> list[Token]:
    return [t for t in tokenize(text) if t.is_code]


def _key(token: Token) -> tuple[str, str]:
    """What must match for two tokens to say the same thing: whitespace inside quoted text is collapsed."""
    if token.kind in ("string", "altstring", "cartouche", "verbatim"):
        return token.kind, _collapse(token.text)
    return token.kind, token.text


def _collapse(quoted: str) -> str:
    # HOL string literals ''...'' keep their spacing: there whitespace is part of the value
    parts = re.split(r"(''(?:[^'\\]|\\.|'(?!'))*'')", quoted)
    return "".join(p if p.startswith("''") else " ".join(p.split()) for p in parts)


def normalise(text: str) -> str:
    """`text` with comments dropped and whitespace normalised, for comparing statements and headers."""
    return " ".join(" ".join(_key(t)[1].split()) if t.kind == "word" else _key(t)[1] for t in code_tokens(text))


# -- keyword tables ---------------------------------------------------------------------------------------
# Proof commands a proof may use; anything else that is a command ends or escapes the proof.
PROOF_COMMANDS = frozenset({
    "proof", "qed", "by", "apply", "apply_end", "done", "using", "unfolding", "including", "supply", "with",
    "from", "then", "hence", "thus", "have", "show", "obtain", "fix", "assume", "presume", "define", "let",
    "note", "moreover", "ultimately", "also", "finally", "next", "case", "consider", "guess", "defer", "prefer",
    "subgoal", "back", "interpret", "{", "}", ".", "..",
})
PROOF_STARTS = frozenset({"proof", "by", "apply", "using", "unfolding", "including", "supply", ".", ".."})
STATEMENT_COMMANDS = frozenset({"theorem", "lemma", "corollary", "proposition", "schematic_goal"})
# Theory-level commands (Pure and HOL, as of Isabelle2021-2022): never inside a benchmark proof.
THEORY_COMMANDS = STATEMENT_COMMANDS | frozenset({
    "lemmas", "declare", "definition", "abbreviation", "fun", "function", "termination", "primrec", "primcorec",
    "corec", "datatype", "codatatype", "record", "type_synonym", "typedef", "typedecl", "consts", "defs",
    "axiomatization", "axioms", "locale", "context", "class", "subclass", "instantiation", "instance",
    "interpretation", "global_interpretation", "sublocale", "notation", "no_notation", "syntax", "no_syntax",
    "translations", "no_translations", "parse_translation", "print_translation", "parse_ast_translation",
    "print_ast_translation", "typed_print_translation", "setup", "local_setup", "method_setup",
    "attribute_setup", "simproc_setup", "ML", "ML_file", "ML_val", "ML_command", "ML_export", "ML_prf",
    "SML_file", "SML_import", "SML_export", "oracle", "declaration", "syntax_declaration", "code_printing",
    "code_reserved", "code_identifier", "code_datatype", "code_reflect", "code_pred", "code_deps", "code_thms",
    "export_code", "value", "theory", "imports", "begin", "end", "section", "subsection", "subsubsection",
    "chapter", "paragraph", "subparagraph", "text", "txt", "text_raw", "hide_const", "hide_fact", "hide_type",
    "hide_class", "bundle", "unbundle", "named_theorems", "lift_definition", "setup_lifting", "quotient_type",
    "quotient_definition", "inductive", "inductive_set", "coinductive", "coinductive_set", "inductive_cases",
    "inductive_simps", "partial_function", "overloading", "specification", "nitpick_params",
    "sledgehammer_params", "method", "experiment", "notepad", "alias", "type_alias", "judgment",
    "default_sort", "quickcheck_params", "quickcheck_generator", "external_file", "generate_file",
    "export_generated_files", "compile_generated_files", "scala", "nominal_datatype", "free_constructors",
    "simps_of_case", "case_of_simps", "functor", "bnf", "print_bnfs", "adhoc_overloading", "no_adhoc_overloading",
    "consts_code", "types_code", "old_rep_datatype", "realizers", "realizability", "extract", "extract_type",
    "find_theorems", "find_consts", "thm", "term", "prop", "typ", "print_state", "print_facts", "print_context",
    "print_theorems", "print_statement", "thm_deps", "thm_oracles", "unused_thms", "nitpick", "nunchaku",
    "quickcheck", "sledgehammer", "try", "try0", "solve_direct", "smt_status", "approximate", "export_code",
})
# (words, reason) tried in order on every code word (each part of a qualified name counts).
_REFUSED_WORDS: list[tuple[frozenset, str]] = [
    (frozenset({"sorry", "Sorry", "\\<proof>"}), "the proof uses `{}` (a skipped proof)"),
    (frozenset({"oops"}), "`oops` abandons the proof"),
    (frozenset({"quick_and_dirty"}), "sets quick_and_dirty, which lets skipped proofs through"),
    (frozenset({"skip_proof", "skip_proofs", "Skip_Proof", "cheat_tac", "cheat", "cheating"}),
     "skips a proof (`{}`)"),
    (frozenset({"axiomatization", "axioms"}), "declares axioms (`{}`)"),
    (frozenset({"consts", "defs"}), "declares constants with unchecked definitions (`{}`, the consts+defs trick)"),
    (frozenset({"oracle"}), "declares an oracle"),
    (frozenset({"ML", "ML_file", "ML_val", "ML_command", "ML_export", "ML_prf", "SML_file", "SML_import",
                "SML_export", "setup", "local_setup", "method_setup", "attribute_setup", "simproc_setup",
                "declaration", "syntax_declaration", "parse_translation", "print_translation",
                "parse_ast_translation", "print_ast_translation", "typed_print_translation", "code_reflect"}),
     "runs ML code (`{}`), which can extend the trusted base"),
    (frozenset({"tactic", "raw_tactic"}), "runs an ML tactic (`{}`)"),
    (frozenset({"smt_oracle"}), "makes smt trust its solver without proof reconstruction (`smt_oracle`)"),
    (frozenset({"sledgehammer"}), "`sledgehammer` left in the proof is a gap: put the proof it finds there instead"),
]
_CODE_EVALUATION = frozenset({"eval", "normalization", "approximation"})
_CODE_EVALUATION_REASON = ("`{}` trusts the code generator (oracle Code_Generator.holds_by_evaluation), "
                           "not the kernel; allow_code_evaluation=True accepts it")


def _word_problem(words: Iterable[Token], allow_code_evaluation: bool) -> str | None:
    words = list(words)
    for refused, reason in _REFUSED_WORDS:
        for token in words:
            for part in [token.text, *token.text.split(".")]:
                if part in refused:
                    return reason.format(part)
    if not allow_code_evaluation:
        for token in words:
            if token.text in _CODE_EVALUATION:
                return _CODE_EVALUATION_REASON.format(token.text)
    return None


def _quoted_problem(tokens: Iterable[Token]) -> str | None:
    """A few names no honest proof has even inside quoted text (an ML tactic's source, a config string)."""
    for token in tokens:
        if token.kind in ("string", "altstring", "cartouche", "verbatim"):
            m = re.search(r"(?<![\w.])(quick_and_dirty|skip_proofs?|Skip_Proof|cheat_tac|smt_oracle)(?![\w])",
                          token.text)
            if m:
                return f"mentions `{m.group(1)}` (skipped proofs or unchecked solvers)"
    return None


# -- the theory's shape -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TheoryShape:
    """Where the parts of a theory are, as indices into its code tokens."""

    name: str
    imports: tuple[str, ...]
    body_start: int  # first token after `begin`
    end_index: int  # the final `end`


def theory_shape(tokens: list[Token]) -> TheoryShape | str:
    """The theory header and final `end` of code tokens, or why they are not there."""
    if not tokens or tokens[0].text != "theory" or len(tokens) < 2:
        return "the file does not start with `theory NAME imports ... begin`"
    name = _unquote(tokens[1])
    i = 2
    imports: list[str] = []
    if i < len(tokens) and tokens[i].text == "imports":
        i += 1
        while i < len(tokens) and tokens[i].text not in ("begin", "keywords", "abbrevs"):
            imports.append(_unquote(tokens[i]))
            i += 1
    if i >= len(tokens) or tokens[i].text != "begin":
        return "the theory header has no `imports ... begin` (or declares keywords)"
    if tokens[-1].text != "end" or tokens[-1].kind != "word":
        return "the theory does not end with `end`"
    return TheoryShape(name, tuple(imports), i + 1, len(tokens) - 1)


def _unquote(token: Token) -> str:
    return token.text[1:-1] if token.kind == "string" else token.text


def statement_end(tokens: list[Token], start: int) -> int:
    """Index of the first token after the statement that begins at tokens[start] (`theorem NAME: ...`)."""
    i = start + 1
    while i < len(tokens):
        t = tokens[i]
        if t.kind in ("word", "symbol") and (t.text in PROOF_COMMANDS or t.text in THEORY_COMMANDS
                                                    or t.text in ("sorry", "oops", "\\<proof>")):
            return i
        i += 1
    return i


def _declared_name(tokens: list[Token], i: int) -> str | None:
    """The name in `lemma NAME:` / `theorem NAME [attrs]:`, if there is one."""
    if i + 1 < len(tokens) and tokens[i + 1].kind == "word" and tokens[i + 1].text not in ("fixes", "assumes", "shows"):
        j = i + 2
        if j < len(tokens) and tokens[j].text == "[":
            while j < len(tokens) and tokens[j].text != "]":
                j += 1
            j += 1
        if j < len(tokens) and tokens[j].text == ":":
            return tokens[i + 1].text
    return None


def _same(a: list[Token], b: list[Token]) -> bool:
    return len(a) == len(b) and all(_key(x) == _key(y) for x, y in zip(a, b))


def _proof_problem(proof: list[Token], name: str) -> str | None:
    if not proof:
        return f"no proof of {name}"
    first = proof[0]
    if first.text not in PROOF_STARTS:
        return (f"the statement of {name} is extended (`{first.text}` after it) or its proof does not start "
                "with a proof command")
    for token in proof:
        if token.kind != "word" and token.text not in ("\\<proof>",):
            continue
        if token.text in STATEMENT_COMMANDS:
            return f"an extra {token.text} after {name}: the theory may state only the benchmark theorem"
        if token.text == "end":
            return "`end` before the end of the theory"
        if token.text in THEORY_COMMANDS:
            return f"`{token.text}` is not a proof command: only the proof of {name} may follow its statement"
    return None


def static_problem(text: str, expected: Theorem | None = None, *, allow_code_evaluation: bool = False) -> str | None:
    """Why `text` is refused without running Isabelle, or None when it is statically clean (not yet a proof)."""
    try:
        tokens = code_tokens(text)
    except LexError as exc:
        return str(exc)
    words = [t for t in tokens if t.kind == "word" or t.text == "\\<proof>"]
    problem = _word_problem(words, allow_code_evaluation) or _quoted_problem(tokens)
    if problem:
        return problem
    shape = theory_shape(tokens)
    if isinstance(shape, str):
        return shape
    if expected is None:
        return _generic_problem(tokens, shape)
    return _benchmark_problem(tokens, shape, expected)


def _benchmark_problem(tokens: list[Token], shape: TheoryShape, expected: Theorem) -> str | None:
    try:
        header = code_tokens(expected.header)
        statement = code_tokens(expected.statement)
    except LexError as exc:
        raise ValueError(f"benchmark theorem {expected.name} does not lex: {exc}") from None
    want = theory_shape(header + [Token("word", "end", 0)])
    if isinstance(want, str):
        raise ValueError(f"benchmark theorem {expected.name} has no theory header")
    if shape.name != want.name:
        return f"the theory is named {shape.name}, not {want.name} as in the benchmark"
    if shape.imports != want.imports:
        return f"the imports differ from the benchmark's ({' '.join(want.imports)})"
    if not _same(tokens[:len(header)], header):
        extra = next((t.text for t in tokens[want.body_start:len(header)] if t.text in THEORY_COMMANDS), None)
        if extra:
            return f"the header differs from the benchmark's (`{extra}` where the benchmark has something else)"
        return "the header differs from the benchmark's"
    at = len(header)
    if not _same(tokens[at:at + len(statement)], statement):
        here = tokens[at] if at < len(tokens) else None
        if here is not None and here.text in STATEMENT_COMMANDS:
            declared = _declared_name(tokens, at)
            if declared != expected.name:
                return (f"an extra {here.text} {declared or '(unnamed)'} before {expected.name}: the theory may "
                        "state only the benchmark theorem")
        elif here is not None and here.text in THEORY_COMMANDS:
            return f"`{here.text}` before {expected.name}: only the benchmark's header may precede its statement"
        return f"the statement of {expected.name} differs from the benchmark's"
    return _proof_problem(tokens[at + len(statement):shape.end_index], expected.name)


_GENERIC_THEORY_COMMANDS = STATEMENT_COMMANDS | frozenset({
    "definition", "abbreviation", "fun", "function", "termination", "primrec", "datatype", "record",
    "type_synonym", "lemmas", "declare"})


def _generic_problem(tokens: list[Token], shape: TheoryShape) -> str | None:
    """A theory with no benchmark to match: its own lemmas and conservative definitions, each proved."""
    body = tokens[shape.body_start:shape.end_index]
    if not any(t.text in STATEMENT_COMMANDS for t in body if t.kind == "word"):
        return "no theorem in the file"
    for token in body:
        if token.kind == "word" and token.text in THEORY_COMMANDS and token.text not in _GENERIC_THEORY_COMMANDS:
            if token.text == "end":
                return "`end` before the end of the theory"
            return f"`{token.text}` is not allowed in a checked theory"
    return None


def declared_theorems(text: str) -> list[str]:
    tokens = code_tokens(text)
    names = []
    for i, token in enumerate(tokens):
        if token.kind == "word" and token.text in STATEMENT_COMMANDS:
            name = _declared_name(tokens, i)
            if name:
                names.append(name)
    return names


# -- the live check -----------------------------------------------------------------------------------------
_SKIPPED = re.compile(r"\bsorry\b|Skipped proof|quick_and_dirty|Cheating requires|\\<proof>", re.I)


def with_oracle_probes(text: str, names: Sequence[str]) -> tuple[str, dict[str, int]]:
    """`text` with `thm_oracles NAME` before its final `end`, and the line of each probe."""
    tokens = tokenize(text)
    final_end = [t for t in tokens if t.is_code][-1]
    before = text[:final_end.start].rstrip() + "\n\n"
    lines: dict[str, int] = {}
    probes = ""
    for name in names:
        lines[name] = _line_of(before + probes, len(before + probes))
        probes += f"thm_oracles {name}\n"
    return before + probes + "\n" + text[final_end.start:], lines


def _as_message(m) -> tuple[str, str, int | None]:
    """(kind, text, line) of a TheoryMessage, a server message dict, or bare text (no kind, no line: it can
    never be the oracle report, so a checker giving only text has its theories refused, never accepted)."""
    if isinstance(m, str):
        return "", m, None
    if isinstance(m, dict):
        pos = m.get("pos") or {}
        return str(m.get("kind", "")), str(m.get("message", "")), pos.get("line")
    return str(m.kind), str(m.text), m.line


def _oracles_reported(text: str) -> list[str] | None:
    """Oracle names from `thm_oracles` output, None if `text` is not such a report.

    The report is "oracles:" then one item per oracle, a bullet, the name, and for some oracles ": PROP".
    Without bullets every line's first name counts: reading too much only adds names, which refuses.
    """
    text = text.strip()
    if not text.startswith("oracles:"):
        return None
    lines = [line.strip() for line in text[len("oracles:"):].splitlines() if line.strip()]
    bullet = re.compile(r"^(?:\\<bullet>|\u2022|-|\*)\s*")
    if any(bullet.match(line) for line in lines):
        lines = [bullet.sub("", line) for line in lines if bullet.match(line)]
    names = []
    for line in lines:
        m = re.match(r"[A-Za-z][\w'.]*", line)
        names.append(m.group(0) if m else line)
    return names


def _first_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 300 else line[:297] + "..."


def live_verdict(text: str, names: Sequence[str], checker: Checker, *, allow_code_evaluation: bool = False) -> Verdict:
    """Run `text` (plus oracle probes for `names`) through `checker` and judge what Isabelle said."""
    probed, probe_lines = with_oracle_probes(text, names)
    ok, raw_messages = checker(probed)
    messages = [_as_message(m) for m in raw_messages]
    probe_at = {line: name for name, line in probe_lines.items()}
    for kind, message, line in messages:
        if "error" in kind.lower():
            if line in probe_at:
                return Verdict(False, f"the oracle check of {probe_at[line]} failed (thm_oracles needs Isabelle2020 "
                                      f"or later): {_first_line(message)}")
            where = f" (line {line})" if line is not None else ""
            return Verdict(False, f"Isabelle{where}: {_first_line(message)}")
    if not ok:
        return Verdict(False, "Isabelle did not accept the theory (no error message given)")
    for kind, message, line in messages:
        if line not in probe_at and _SKIPPED.search(message):
            return Verdict(False, f"Isabelle reports a skipped proof: {_first_line(message)}")
    allowed, oracles_seen = [], set()
    for name, line in probe_lines.items():
        reports = [_oracles_reported(message) for kind, message, at in messages if at == line]
        reports = [r for r in reports if r is not None]
        if not reports:
            return Verdict(False, f"Isabelle gave no oracle report for {name}")
        for oracle in reports[0]:
            oracles_seen.add(oracle)
            if allow_code_evaluation and oracle.rsplit(".", 1)[-1] in CODE_EVALUATION_ORACLES:
                allowed.append(oracle)
                continue
            return Verdict(False, f"{name} relies on the oracle {oracle}", tuple(sorted(oracles_seen)))
    return Verdict(True, "", tuple(sorted(set(allowed))))


def check_theory_text(text: str, expected: Theorem | None = None, *, checker: Checker | None = None,
                      allow_code_evaluation: bool = False) -> Verdict:
    """Accept `text` only if Isabelle, run fresh on it, proves its theorem(s) without oracles.

    With `expected`, the theory must be that benchmark theorem and its proof only. Without `checker`
    only the static checks run, and a clean theory is still not accepted: Verdict(False, NOT_CHECKED_LIVE).
    """
    problem = static_problem(text, expected, allow_code_evaluation=allow_code_evaluation)
    if problem:
        return Verdict(False, problem)
    if checker is None:
        return Verdict(False, NOT_CHECKED_LIVE)
    names = [expected.name] if expected is not None else declared_theorems(text)
    if not names:
        return Verdict(False, "no named theorem to check (name each lemma: `lemma NAME: ...`)")
    return live_verdict(text, names, checker, allow_code_evaluation=allow_code_evaluation)


# -- a checker through the Isabelle server ---------------------------------------------------------------------
DEFAULT_CHECK_SESSION = "HOL-Number_Theory"  # its heap holds Complex_Main, Computational_Algebra, Number_Theory
DEFAULT_INCLUDE_SESSIONS = ("HOL-Library", "HOL-Computational_Algebra", "HOL-Number_Theory", "HOL-Analysis")


def server_checker(address, *, session: str = DEFAULT_CHECK_SESSION,
                   include_sessions: Sequence[str] = DEFAULT_INCLUDE_SESSIONS, dirs: Sequence[str] = (),
                   timeout: float = 600.0, session_timeout: float = 1800.0, connect=None) -> Checker:
    """A checker that runs each theory in a fresh session of the Isabelle server at `address`.

    Fresh per check: nothing one theory declares can reach the next. The theory goes into a new temporary
    folder as NAME.thy (the server reads theories from files, and a theory's file must carry its name).
    A theory still running after `timeout` seconds is reported as an error; a server that cannot be
    reached raises IsabelleServerError (the caller cannot check, which is not a rejection).
    """
    from isabelle_env.server_client import IsabelleServerClient, IsabelleServerError, ServerTimeout

    open_client = connect or (lambda: IsabelleServerClient.connect(address, timeout=60.0))

    def check(text: str):
        shape = theory_shape(code_tokens(text))
        if isinstance(shape, str):
            return False, [{"kind": "error", "message": shape}]
        with tempfile.TemporaryDirectory(prefix="isabelle-check-") as folder:
            (Path(folder) / f"{shape.name}.thy").write_text(text, encoding="utf-8")
            with open_client() as client:
                started = client.session_start(session, include_sessions=list(include_sessions), dirs=list(dirs),
                                               timeout=session_timeout)
                try:
                    result = client.use_theories(started.session_id, [shape.name], folder,
                                                 watchdog_timeout=timeout, timeout=timeout + 30)
                except ServerTimeout:
                    return False, [{"kind": "error", "message": f"Isabelle did not finish the theory within {timeout:g}s"}]
                finally:
                    try:
                        client.session_stop(started.session_id)
                    except IsabelleServerError:
                        pass  # the session dies with the server at worst; the verdict does not depend on it
        node = result.node(shape.name)
        if node is None:
            return False, [{"kind": "error", "message": f"Isabelle reported nothing for theory {shape.name}"}, *result.errors]
        messages = list(node.messages)
        # errors from imported theories show up only in `errors`; keep every one
        known = {(m.kind, m.text, m.line) for m in messages}
        messages += [e for e in result.errors if (e.kind, e.text, e.line) not in known]
        status = node.status
        finished = (status.get("consolidated") is True and not status.get("unprocessed") and not status.get("running")
                    and not status.get("canceled"))
        if not finished:  # a proof still running or never run is not a proof
            messages.append({"kind": "error", "message": f"theory {shape.name} was not fully processed: {status}"})
        return result.ok and node.ok and finished, messages

    return check
