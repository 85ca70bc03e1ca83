"""The imports a proof written into a user's file needs: the search loads the automation libraries and CoqHammer's
tactics for every proof, a user's file need not have them, so each library whose tactic the proof names comes along.

The check of a proof in its file's context and the writer that puts it there both use `needed_imports`: what was
checked is what gets written.
"""
from __future__ import annotations

import re
from typing import Sequence

from coq_env.hammer import TACTICS_IMPORT, uses_reconstruction
from coq_env.sentences import split_sentences

# The automation import's libraries (coq_env.verify.AUTOMATION_IMPORT) by the tactics each one brings.
_LIBRARY_OF_TACTIC = {
    "lia": "Lia", "nia": "Lia", "lra": "Lra", "nra": "Lra", "psatz": "Psatz",
    "field": "Field", "field_simplify": "Field", "field_simplify_eq": "Field",
    "ring": "Ring", "ring_simplify": "Ring",
}
_IMPORT = re.compile(r"^(?:From\s+([\w.']+)\s+)?Require\s+(?:Import|Export)\s+([^()]+?)\s*\.$")


def needed_imports(tactics: Sequence[str], context: str) -> tuple[str, ...]:
    """The import sentences to put before a proof of `tactics` whose file says `context` before it: the libraries
    its tactics come from that the context does not already import (none for a proof of plain tactics)."""
    words = {word for tactic in tactics for word in re.findall(r"[A-Za-z_][\w']*", tactic)}
    imported = _imported_libraries(context)
    last_parts = {name.rsplit(".", 1)[-1] for name in imported}
    libraries = sorted({library for word, library in _LIBRARY_OF_TACTIC.items() if word in words} - last_parts)
    sentences = [f"From Coq Require Import {' '.join(libraries)}."] if libraries else []
    if uses_reconstruction(tuple(tactics)) and not any(name.startswith("Hammer.") for name in imported):
        sentences.append(TACTICS_IMPORT)
    return tuple(sentences)


def _imported_libraries(context: str) -> set[str]:
    """Every library the context's Require Import/Export sentences name, with its `From` prefix."""
    found: set[str] = set()
    for sentence in split_sentences(context):
        match = _IMPORT.match(" ".join(sentence.split()))
        if match:
            prefix = f"{match.group(1)}." if match.group(1) else ""
            found.update(prefix + name for name in match.group(2).split())
    return found
