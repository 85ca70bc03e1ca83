"""Sound verification of an Isabelle theory: static refusals first, then the whole theory run by Isabelle
in a fresh session, with `thm_oracles` asked about the theorem.

The static pass reads the text the way Isabelle's outer syntax does (isabelle_env.outer_syntax: nested `(* *)`
comments, strings and alt-strings, verbatim `{* *}`, nested cartouches). Only what lies outside comments,
strings, verbatim text and cartouches is code: commands and proof methods are found there.

Refused always: skipped proofs (`sorry`, `\\<proof>`, `oops`, quick_and_dirty, skip_proof, cheat_tac, ...),
anything that extends the trusted base (axiomatization/axioms, consts+defs, oracle, every ML and setup
command, `tactic` methods, `smt_oracle`), code-generator evaluation (`eval`, `normalization`,
`approximation`: they rest on the oracle Code_Generator.holds_by_evaluation; allowed only when asked),
and `sledgehammer` left in a proof (it is a search, not a proof). Against a benchmark theorem the theory
must be the benchmark's header, the statement unchanged (whitespace aside), a proof made of proof
commands only, and `end`: no extra lemma, definition or declaration, no changed imports, no statement
extended by `if`/`for`.

The live pass (`checker(text) -> (ok, messages)`, e.g. isabelle_env.checker.server_checker) runs the theory
with one `thm_oracles NAME` command added before `end`, and refuses any error, any skipped-proof report, and any
oracle in the theorem's derivation (only the code-evaluation oracle, when allowed). The oracle report is
read only from the message at the line this module added, so the theory cannot print a look-alike.
"""
from __future__ import annotations

import re
from typing import Callable, Iterable, Sequence

from isabelle_env.outer_syntax import (
    LexError,
    PROOF_STARTS,
    STATEMENT_COMMANDS,
    THEORY_COMMANDS,
    TheoryShape,
    Token,
    code_tokens,
    declared_name,
    declared_theorems,
    line_of,
    same_tokens,
    theory_shape,
    tokenize,
)
from prover.errors import one_line
from prover.types import Theorem, Verdict

NOT_CHECKED_LIVE = "statically clean, but not checked by Isabelle (no checker to run it)"
CODE_EVALUATION_ORACLES = ("holds_by_evaluation", "normalization_by_evaluation")  # last name component

Checker = Callable[[str], "tuple[bool, Sequence]"]  # theory text -> (ok, messages), messages as TheoryMessage


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
    if not same_tokens(tokens[:len(header)], header):
        extra = next((t.text for t in tokens[want.body_start:len(header)] if t.text in THEORY_COMMANDS), None)
        if extra:
            return f"the header differs from the benchmark's (`{extra}` where the benchmark has something else)"
        return "the header differs from the benchmark's"
    at = len(header)
    if not same_tokens(tokens[at:at + len(statement)], statement):
        here = tokens[at] if at < len(tokens) else None
        if here is not None and here.text in STATEMENT_COMMANDS:
            declared = declared_name(tokens, at)
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
        lines[name] = line_of(before + probes, len(before + probes))
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
                                      f"or later): {one_line(message, 300)}")
            where = f" (line {line})" if line is not None else ""
            return Verdict(False, f"Isabelle{where}: {one_line(message, 300)}")
    if not ok:
        return Verdict(False, "Isabelle did not accept the theory (no error message given)")
    for kind, message, line in messages:
        if line not in probe_at and _SKIPPED.search(message):
            return Verdict(False, f"Isabelle reports a skipped proof: {one_line(message, 300)}")
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
