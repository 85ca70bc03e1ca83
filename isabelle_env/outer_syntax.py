"""Isabelle's outer syntax, as far as checking and replaying theories need it: tokens (comments, strings,
cartouches and verbatim text kept whole, their inside not lexed further, as in Isabelle), the command keyword
tables, and a theory's shape (name, imports, body, final `end`) and declared theorems."""
from __future__ import annotations

import re
from dataclasses import dataclass


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
                raise LexError(f"unterminated verbatim text {{* ... at line {line_of(text, i)}")
            tokens.append(Token("verbatim", text[i:j + 2], i))
            i = j + 2
        elif text.startswith(_OPEN, i):
            j = _cartouche_end(text, i)
            tokens.append(Token("cartouche", text[i:j], i))
            i = j
        elif text.startswith(_CLOSE, i):
            raise LexError(f"a cartouche closes without opening at line {line_of(text, i)}")
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


def line_of(text: str, offset: int) -> int:
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
    raise LexError(f"unterminated comment (* ... at line {line_of(text, i)}")


def _quoted_end(text: str, i: int, quote: str) -> int:
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == quote:
            return j + 1
        else:
            j += 1
    raise LexError(f"unterminated string {quote}... at line {line_of(text, i)}")


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
    raise LexError(f"unterminated cartouche at line {line_of(text, i)}")


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


def declared_name(tokens: list[Token], i: int) -> str | None:
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


def same_tokens(a: list[Token], b: list[Token]) -> bool:
    return len(a) == len(b) and all(_key(x) == _key(y) for x, y in zip(a, b))


def declared_theorems(text: str) -> list[str]:
    tokens = code_tokens(text)
    names = []
    for i, token in enumerate(tokens):
        if token.kind == "word" and token.text in STATEMENT_COMMANDS:
            name = declared_name(tokens, i)
            if name:
                names.append(name)
    return names
