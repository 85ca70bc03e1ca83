"""Proofstep rows (prover.proofsteps, backend "isabelle") from Isabelle theories, replayed PISA-style.

    extract_proofsteps("Foo.thy", "out.jsonl")            # one theory
    extract_proofsteps("path/to/theories", "out.jsonl")   # every .thy below a folder

Each theory is cut into Isar commands (isabelle_env.outer_syntax) and run command by command
through an IsabelleBridge (a PISA server by default, as `prover prove --backend isabelle` uses), each result a
new named state. Every command run inside a proof gives a row: the state before it, as Isabelle printed it
(what IsabelleBackend shows the model), and the command. A proof that fails, times out or uses what the search
refuses (sorry, oops, ML tactics) gives no rows, and the theory goes on from the state before its statement.
Splits are by a stable hash of the theory's path: a theory's rows never straddle splits.
"""
from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from isabelle_env.backend import refusal
from isabelle_env.bridge import IsabelleBridge, ServerDied
from isabelle_env.outer_syntax import (
    PROOF_COMMANDS,
    STATEMENT_COMMANDS,
    THEORY_COMMANDS,
    LexError,
    code_tokens,
    declared_name,
    theory_shape,
)
from prover.proofsteps import ExtractOptions, ProofStep, split_of
from prover.train_data import write_rows

BACKEND = "isabelle"
SENTENCE_TIMEOUT = 60.0
THEORY_COMMAND_FACTOR = 6  # a definition or a statement may load more than one proof step does
FILE_TIMEOUT = 3600.0
_COMMANDS = (PROOF_COMMANDS | THEORY_COMMANDS | {"sorry", "oops"}) - {"imports", "begin"}
_BRACKETS = {"(": 1, "[": 1, ")": -1, "]": -1}


class NotATheory(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    keyword: str
    text: str
    line: int
    name: str | None = None  # the declared name of a statement (`lemma NAME: ...`)


def theory_commands(text: str) -> tuple[str, list[Command]]:
    """The theory's name and its body as Isar commands, in order, without the final `end`."""
    try:
        tokens = code_tokens(text)
    except LexError as exc:
        raise NotATheory(str(exc)) from None
    shape = theory_shape(tokens)
    if isinstance(shape, str):  # why it is not a theory
        raise NotATheory(shape)
    body = tokens[shape.body_start:shape.end_index]
    starts, depth = [], 0
    for i, token in enumerate(body):
        if token.kind == "symbol":
            depth += _BRACKETS.get(token.text, 0)
        if depth == 0 and token.kind in ("word", "symbol") and token.text in _COMMANDS:
            starts.append(i)
    if body and (not starts or starts[0] != 0):
        raise NotATheory(f"line {text.count(chr(10), 0, body[0].start) + 1}: text before the first command")
    commands = []
    for i, start in enumerate(starts):
        first = body[start]
        end = body[starts[i + 1] - 1 if i + 1 < len(starts) else -1].end  # trailing comments left out
        name = declared_name(body, start) if first.text in STATEMENT_COMMANDS else None
        commands.append(Command(first.text, text[first.start:end].strip(), text.count("\n", 0, first.start) + 1,
                                name))
    return shape.name, commands


@dataclass
class TheoryReplay:
    source: str
    status: str = "ok"  # ok | failed (the header or the server) | timeout (the whole theory's)
    reason: str = ""
    proofs: int = 0
    proofs_kept: int = 0
    proofs_failed: int = 0
    proofs_refused: int = 0
    rows: list[ProofStep] = field(default_factory=list)


class _Replay:
    """One theory through the bridge: named states `x{n}_{i}`; only the current state and the last one outside a
    proof (where the theory goes on after a failed proof) are kept in the server."""

    def __init__(self, bridge: IsabelleBridge, prefix: str, sentence_timeout: float):
        self.bridge, self.prefix, self.timeout = bridge, prefix, sentence_timeout
        self.names = itertools.count()

    def fresh(self) -> str:
        return f"{self.prefix}_{next(self.names)}"

    def forget(self, *names: str) -> None:
        for name in set(names):
            self.bridge.delete(name)

    def run(self, path: Path, label: str, split: str, deadline: float) -> TheoryReplay:
        replay = TheoryReplay(label)
        try:
            theory, commands = theory_commands(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            replay.status, replay.reason = "failed", f"not a theory: {exc}"
            return replay
        checkpoint = current = self.fresh()
        result = self.bridge.initialise(current, theory_file=str(path), timeout=max(1.0, deadline - time.monotonic()))
        if not result.ok:
            replay.status, replay.reason = "failed", f"header: {result.error or 'timed out'}"
            return replay
        state, level, skipping = result.state, 0, False
        proof: list[ProofStep] = []
        theorem = ""
        for command in commands:
            if time.monotonic() > deadline:
                replay.status, replay.reason = "timeout", f"stopped at line {command.line}"
                break
            if skipping:  # the rest of a proof given up on: to the next theory-level command
                if command.keyword not in THEORY_COMMANDS:
                    continue
                skipping = False
            if level > 0 and refusal(command.text):
                replay.proofs_refused += 1
                skipping = True
            if level == 0:
                theorem = f"{theory}.{command.name}" if command.name else f"{theory}:{command.line}"
                proof = []
                replay.proofs += command.keyword in STATEMENT_COMMANDS
            if not skipping:
                new = self.fresh()
                factor = 1 if level > 0 else THEORY_COMMAND_FACTOR
                result = self.bridge.step(current, command.text, new, self.timeout * factor)
                if result.ok:
                    if level > 0:
                        proof.append(ProofStep(state=state, tactic=command.text, theorem=theorem, source=label,
                                               split=split, backend=BACKEND))
                    elif result.proof_level > 0 and command.keyword not in STATEMENT_COMMANDS:
                        replay.proofs += 1  # a proof some other command opens (instance, termination)
                    if current != checkpoint:
                        self.forget(current)
                    current, state, level = new, result.state, result.proof_level
                    if level == 0:
                        if proof:
                            replay.proofs_kept += 1
                            replay.rows += proof
                            proof = []
                        if checkpoint != current:
                            self.forget(checkpoint)
                        checkpoint = current
                    continue
                replay.proofs_failed += level > 0 or command.keyword in STATEMENT_COMMANDS
                skipping = True
            if current != checkpoint:  # back to before the proof given up on
                self.forget(current)
            current, level, proof = checkpoint, 0, []
        self.forget(current, checkpoint)
        return replay


def theory_files(source: str | Path) -> list[tuple[Path, str]]:
    """(path, label) of each theory: the file itself, or every .thy below a folder (label: its relative path)."""
    source = Path(source)
    if source.is_file():
        return [(source, source.name)]
    if source.is_dir():
        return [(p, p.relative_to(source).as_posix()) for p in sorted(source.rglob("*.thy"))]
    raise ValueError(f"{source}: no such theory file or folder")


def replay_theories(files: list[tuple[Path, str]], bridge: IsabelleBridge, *, valid_fraction: float = 0.02,
                    test_fraction: float = 0.02, sentence_timeout: float = SENTENCE_TIMEOUT,
                    file_timeout: float = FILE_TIMEOUT, progress: bool = False) -> Iterator[TheoryReplay]:
    """Each theory's replay, in order. A server that dies costs the theory in flight; the bridge is restarted
    (ServerDied, a BackendUnavailable, when it cannot be)."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="thy", file=sys.stderr)
    try:
        for number, (path, label) in enumerate(files):
            replay = _Replay(bridge, f"x{number}", sentence_timeout)
            split = split_of(label, valid_fraction, test_fraction)
            try:
                yield replay.run(path, label, split, time.monotonic() + file_timeout)
            except ServerDied as exc:
                bridge.restart()
                yield TheoryReplay(label, status="failed", reason=f"server died: {exc}")
            if bar:
                bar.update()
    finally:
        if bar:
            bar.close()


def extract_proofsteps(source: str | Path, out: str | Path, options: ExtractOptions = ExtractOptions(), *,
                       bridge: IsabelleBridge | None = None) -> dict:
    """Replay `source` (a .thy or a folder of them) and write its proofstep rows to `out`; returns the summary.

    `bridge`: the Isabelle to replay on (default: isabelle_env.backend.make_bridge's, from the settings `prover
    setup isabelle` recorded); one is used, so `options.workers` has nothing to act on, and each run starts over
    (`options.fresh` neither)."""
    limit = options.limit
    sentence_timeout = SENTENCE_TIMEOUT if options.sentence_timeout is None else options.sentence_timeout
    file_timeout = FILE_TIMEOUT if options.file_timeout is None else options.file_timeout
    started = time.monotonic()
    files = theory_files(source)[:limit] if limit else theory_files(source)
    give_back = None
    if bridge is None:
        from isabelle_env.backend import make_bridge

        bridge, give_back = make_bridge()
    replays: list[TheoryReplay] = []
    try:
        def rows() -> Iterator[ProofStep]:
            for replay in replay_theories(files, bridge, valid_fraction=options.valid_fraction,
                                          test_fraction=options.test_fraction, sentence_timeout=sentence_timeout,
                                          file_timeout=file_timeout, progress=options.progress):
                replays.append(replay)
                yield from replay.rows

        written = write_rows(out, rows(), options.guard)
    finally:
        if give_back is not None:
            give_back()
    skipped = [r for r in replays if r.status != "ok"]
    return {
        "source": str(source),
        "theories": len(files),
        "theories_replayed_fully": len(replays) - len(skipped),
        "theories_skipped": {r.source: f"{r.status}: {r.reason}" for r in skipped},
        "proofs": sum(r.proofs for r in replays),
        "proofs_kept": sum(r.proofs_kept for r in replays),
        "proofs_failed": sum(r.proofs_failed for r in replays),
        "proofs_refused": sum(r.proofs_refused for r in replays),
        **written,
        "seconds": round(time.monotonic() - started, 1),
    }
