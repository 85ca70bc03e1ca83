"""Reading an Isabelle ROOT file as Isabelle does: its session entries, each with its parent, folder, directories
and theories, and which session holds a given theory file.

An entry reads `session NAME (GROUPS) in DIR = PARENT + description ... options [...] sessions ... directories
... theories [...] A B (global) ... document_files ...`; the groups, `in DIR` and `PARENT +` may be left out (no
parent: a root session, built on Pure alone). A theory is found where Isabelle looks for it: in the session's
folder (the ROOT's, or DIR below it) or one of its `directories`, a name like `"sub/T"` naming a path below them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from isabelle_env.outer_syntax import LexError, Token, code_tokens

ROOT_SESSION_PARENT = "Pure"  # what a session without `PARENT +` is built on
# the keywords that open a part of a session entry's body; `session` and `chapter` start the next entry
_BODY_KEYWORDS = {"description", "options", "sessions", "directories", "theories", "document_theories",
                  "document_files", "export_files", "export_classpath"}
_ENTRY_KEYWORDS = {"session", "chapter"}
_CLOSING = {"(": ")", "[": "]"}


class RootFileError(ValueError):
    """A ROOT file that cannot be read as session entries: one line saying where."""


@dataclass(frozen=True)
class SessionEntry:
    """One `session` of a ROOT file."""

    name: str
    parent: str | None  # None: a root session (ROOT_SESSION_PARENT)
    folder: Path  # the session's folder: the ROOT's, or `in DIR` below it
    directories: tuple[Path, ...]  # its `directories`, below its folder
    theories: tuple[str, ...]  # as written: `Foo`, `sub/Foo`

    def holds(self, theory_file: Path) -> bool:
        """Whether `theory_file` is one of this session's theories, found where Isabelle would look for it."""
        wanted = theory_file.with_suffix("").resolve()
        return any((base / theory).resolve() == wanted for theory in self.theories
                   for base in (self.folder, *self.directories))


def read_root(root_file: Path) -> tuple[SessionEntry, ...]:
    """The session entries of `root_file`, in order. RootFileError where it cannot be read or an entry is not one."""
    try:
        tokens = _joined_names(code_tokens(root_file.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, LexError) as exc:
        raise RootFileError(f"{root_file}: cannot read its sessions: {exc}") from None
    entries, i = [], 0
    while i < len(tokens):
        token = tokens[i]
        if token.text == "session":
            entry, i = _session(tokens, i + 1, root_file)
            entries.append(entry)
        elif token.text == "chapter" and i + 1 < len(tokens):
            i += 2
        else:
            raise RootFileError(f"{root_file}: `{token.text}` where a `session` or `chapter` entry should start")
    return tuple(entries)


def session_holding(root_file: Path, theory_file: Path) -> SessionEntry | None:
    """The first session of `root_file` that holds `theory_file`, or None. RootFileError as read_root."""
    return next((entry for entry in read_root(root_file) if entry.holds(theory_file)), None)


def _session(tokens: list[Token], i: int, root_file: Path) -> tuple[SessionEntry, int]:
    """The entry whose name is at tokens[i] (just after `session`), and where the next entry starts."""
    def where() -> str:
        return f"{root_file}: session entry {name or '?'}"

    name = _name(tokens[i]) if i < len(tokens) else None
    if name is None:
        raise RootFileError(f"{root_file}: `session` without a name")
    i += 1
    if i < len(tokens) and tokens[i].text == "(":  # the groups
        i = _skip_group(tokens, i, where)
    folder = root_file.parent
    if i < len(tokens) and tokens[i].text == "in":
        directory = _name(tokens[i + 1]) if i + 1 < len(tokens) else None
        if directory is None:
            raise RootFileError(f"{where()}: `in` without a folder")
        folder, i = folder / directory, i + 2
    if i >= len(tokens) or tokens[i].text != "=":
        raise RootFileError(f"{where()}: no `=` after its name")
    i += 1
    parent = None
    if i + 1 < len(tokens) and tokens[i + 1].text == "+" and _name(tokens[i]) is not None:
        parent, i = _name(tokens[i]), i + 2
    directories: list[Path] = []
    theories: list[str] = []
    part = None
    while i < len(tokens) and tokens[i].text not in _ENTRY_KEYWORDS:
        token = tokens[i]
        if token.text in _CLOSING:  # options `[...]`, `(global)`, `(in DIR)`: nothing a theory is found by
            i = _skip_group(tokens, i, where)
            continue
        if token.kind == "word" and token.text in _BODY_KEYWORDS:
            part = token.text
        elif token.text == "\\<comment>":  # a marginal comment: its cartouche goes too
            i += 1
        elif part == "directories" and (folder_name := _name(token)) is not None:
            directories.append(folder / folder_name)
        elif part == "theories" and (theory := _name(token)) is not None:
            theories.append(theory)
        i += 1
    return SessionEntry(name, parent, folder, tuple(directories), tuple(theories)), i


def _name(token: Token) -> str | None:
    """A name as ROOT writes it: a word, or a quoted string."""
    if token.kind == "word":
        return token.text
    if token.kind == "string":
        return token.text[1:-1]
    return None


def _skip_group(tokens: list[Token], i: int, where) -> int:
    """The index after the bracket group opening at tokens[i]."""
    closing = _CLOSING[tokens[i].text]
    for j in range(i + 1, len(tokens)):
        if tokens[j].text == closing:
            return j + 1
    raise RootFileError(f"{where()}: `{tokens[i].text}` is never closed")


def _joined_names(tokens: list[Token]) -> list[Token]:
    """The tokens with an unquoted dashed name (HOL-Library, lexed as HOL - Library) made one word again."""
    joined: list[Token] = []
    for token in tokens:
        if (joined and token.kind == "word" and len(joined) >= 2 and joined[-1].text == "-"
                and joined[-2].kind == "word" and joined[-2].end == joined[-1].start and joined[-1].end == token.start):
            dash, head = joined.pop(), joined.pop()
            token = Token("word", head.text + dash.text + token.text, head.start)
        joined.append(token)
    return joined
