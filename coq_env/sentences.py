"""Splitting Coq text into sentences, and telling a tactic sentence from a vernacular command."""
from __future__ import annotations

import re
from functools import lru_cache

_BULLET = re.compile(r"(-+|\++|\*+|\{|\})")


def split_sentences(text: str) -> list[str]:
    """Split Coq source into sentences: dot-terminated commands, bullets and braces.

    Comments and strings are kept inside their sentence; a '.' ends a sentence only when followed by
    whitespace or the end of the text (so `Nat.add` and `..` do not).
    """
    sentences: list[str] = []
    i, n = 0, len(text)
    start = 0
    depth = 0  # comment nesting
    in_string = False
    at_start = True  # no non-blank, non-comment character yet in this sentence
    while i < n:
        c = text[i]
        if in_string:
            if c == '"':
                in_string = False
            i += 1
            continue
        if text.startswith("(*", i):
            depth += 1
            i += 2
            continue
        if depth:
            if c == '"':  # Coq lexes strings inside comments: a "*)" in one does not close the comment
                i = _string_end(text, i)
            elif text.startswith("*)", i):
                depth -= 1
                i += 2
            else:
                i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if at_start:
            m = _BULLET.match(text, i)
            # A bullet/brace is a sentence of its own, but `{|` opens a record and `-1` is a number.
            if m and not text.startswith("{|", i) and not (c == "-" and i + 1 < n and text[i + 1].isdigit()):
                sentences.append(text[start:m.end()].strip())
                i = start = m.end()
                continue
            at_start = False
        if c == '"':
            in_string = True
        elif c == "." and (i + 1 == n or text[i + 1].isspace()) and not (i > 0 and text[i - 1] == "."):
            sentences.append(text[start:i + 1].strip())
            start = i + 1
            at_start = True
        i += 1
    rest = text[start:].strip()
    if rest and not _only_comments(rest):
        sentences.append(rest)  # unterminated: the caller decides
    return [s for s in sentences if s and not _only_comments(s)]


def _only_comments(text: str) -> bool:
    return not strip_comments(text).strip()


def _string_end(text: str, i: int) -> int:
    """Index just past the string opening at text[i] (a doubled quote is two adjacent strings here)."""
    j = text.find('"', i + 1)
    return len(text) if j < 0 else j + 1


def strip_comments(text: str) -> str:
    """Comments removed the way Coq's lexer reads them: strings are kept whole, in code and in comments."""
    out, depth, i = [], 0, 0
    while i < len(text):
        if text[i] == '"':
            end = _string_end(text, i)
            if not depth:
                out.append(text[i:end])
            i = end
        elif text.startswith("(*", i):
            depth += 1
            i += 2
        elif depth and text.startswith("*)", i):
            depth -= 1
            i += 2
        else:
            if not depth:
                out.append(text[i])
            i += 1
    return "".join(out)


def normalize(text: str) -> str:
    """Comments dropped and whitespace collapsed: what 'the same text' means for statements."""
    return " ".join(strip_comments(text).split())


def is_bullet(sentence: str) -> bool:
    return bool(_BULLET.fullmatch(sentence.strip()))


# Tactics that leave a hole instead of a proof.
_CHEATING_TACTICS = {"admit", "give_up"}
_SELECTOR = re.compile(r"^(\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*|all|par|\[\s*\w+\s*\]|!)\s*:\s*")


def tactic_problem(sentence: str) -> str | None:
    """Why `sentence` is not acceptable as one proof step, or None if it is a tactic.

    Vernacular commands (Qed, Admitted, Abort, Axiom, Require, Set/Unset, Lemma, Ltac...) all start with
    a capital letter; tactics do not. That rule refuses anything that ends, aborts or leaves the proof,
    or declares things.
    """
    s = normalize(sentence)
    if not s:
        return "empty tactic"
    if is_bullet(s):
        return None
    if not s.endswith("."):
        return "a tactic must end with '.'"
    body = _SELECTOR.sub("", s)
    body = re.sub(r"^\{\s*", "", body)  # `1: {` ends a sentence for Coq: what follows is a sentence of its own
    word = re.match(r"[#\w']*", body).group(0)
    if re.match(r"[A-Z][\w']*\.[A-Za-z_]", body):  # a qualified tactic name (`Z.div_mod_to_equations`)
        word = re.match(r"[\w'.]*", body).group(0)
    elif body.startswith("#[") or (word[:1].isupper()) or not re.match(r"[a-z_(\[]", body):
        return f"not a tactic: '{word or body[:10]}' is a command"
    if word in _CHEATING_TACTICS or re.search(r"(?<![\w'.])(admit|give_up)(?![\w'])", body):
        return f"'{word if word in _CHEATING_TACTICS else 'admit'}' leaves the goal unproved"
    return None


@lru_cache(maxsize=65536)  # the search proposes the same automation tactics at every node
def as_single_tactic(text: str) -> tuple[str | None, str | None]:
    """(sentence, None) if `text` is exactly one acceptable proof step (a missing final '.' is added)."""
    text = text.strip()
    if not text:
        return None, "empty tactic"
    sentences = split_sentences(text)
    if len(sentences) == 1 and not is_bullet(sentences[0]) and not sentences[0].endswith("."):
        sentences = [sentences[0] + "."]
    if len(sentences) != 1:
        return None, f"not a single sentence ({len(sentences)} sentences)"
    problem = tactic_problem(sentences[0])
    return (None, problem) if problem else (sentences[0], None)
