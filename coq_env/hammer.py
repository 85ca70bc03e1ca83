"""CoqHammer for the Rocq backend: whether it works here, what a coqtop needs to run it, and the replay tactic a
`hammer` call prints, which is what a proof records (a `hammer` call depends on ATP timing; its replay does not).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Debian installs hammer's helper programs (`predict`, `htimeout`) here, off PATH; without them every ATP "fails".
HELPERS_DIR = "/usr/libexec/coq-hammer"
HAMMER_IMPORT = "From Hammer Require Import Hammer."
# The reconstruction tactics alone (sauto, hauto, scongruence, ...): what a file replaying a hammer proof needs.
TACTICS_IMPORT = "From Hammer Require Import Tactics."
HAMMER_TACTIC = "hammer"
INSTALL_HINT = "apt-get install -y libcoq-hammer eprover cvc4"

# The tactics `From Hammer Require Import Tactics.` defines that a replay may start with.
RECONSTRUCTION_TACTICS = frozenset({
    "sauto", "hauto", "qauto", "lauto", "sfirstorder", "hfcrush", "fcrush", "ecrush", "crush", "scrush",
    "scongruence", "sintuition", "strivial", "sdone", "ssimpl", "srun", "best", "sblast", "qblast", "qsimpl",
    "qcrush", "qforwarding", "sinit", "sdestruct", "sinduction", "sinversion", "sdepcases",
})
# hammer's ATP switches and the program each runs (Debian has no Vampire, and its z3 lacks z3_tptp).
_ATPS = {"Vampire": "vampire", "Eprover": "eprover", "CVC4": "cvc4", "Z3": "z3_tptp"}
_REPLAY = re.compile(r"Replace the hammer tactic with:[ \t]*")


def child_path(path: str | None = None) -> str:
    """PATH for a coqtop that may run hammer: `path` (default: ours) with the helpers' folder appended."""
    path = os.environ.get("PATH", "") if path is None else path
    if os.path.isdir(HELPERS_DIR) and HELPERS_DIR not in path.split(os.pathsep):
        return f"{path}{os.pathsep}{HELPERS_DIR}" if path else HELPERS_DIR
    return path


def child_env() -> dict[str, str]:
    return {**os.environ, "PATH": child_path()}


@dataclass(frozen=True)
class HammerLimits:
    """hammer's own limits inside one call (the search bounds the whole call by its time slice). Measured on
    2 cores: ATP runs share them, so a few short parallel strategies beat CoqHammer's 8 x 20 s defaults."""

    atp_seconds: int = 5
    reconstruction_seconds: int = 3
    parallel_strategies: int = 4  # `Set Hammer GSMode N`

    def sentences(self) -> list[str]:
        """What a coqtop runs after HAMMER_IMPORT: the limits, and no ATP that is not installed (each would take a
        strategy slot only to fail)."""
        switches = [f"Unset Hammer {name}." for name, program in _ATPS.items()
                    if shutil.which(program, path=child_path()) is None]
        return [f"Set Hammer ATPLimit {self.atp_seconds}.", f"Set Hammer ReconstrLimit {self.reconstruction_seconds}.",
                f"Set Hammer GSMode {self.parallel_strategies}.", *switches]


def _user_contrib() -> Path | None:
    try:
        where = subprocess.run(["coqc", "-where"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(where) / "user-contrib" if where else None


@lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """None where hammer can run here; else one line saying what is missing and how to install it."""
    contrib = _user_contrib()
    if contrib is None or not (contrib / "Hammer" / "Plugin" / "Hammer.vo").is_file():
        return f"CoqHammer is not installed ({INSTALL_HINT})"
    path = child_path()
    missing = [p for p in ("predict", "htimeout") if shutil.which(p, path=path) is None]
    if missing:
        return f"CoqHammer's helpers {' and '.join(missing)} are not in {HELPERS_DIR} nor on PATH ({INSTALL_HINT})"
    if not any(shutil.which(program, path=path) for program in _ATPS.values()):
        return f"no ATP for CoqHammer is installed ({INSTALL_HINT})"
    return None


_said = False


ENV_SWITCH = "LLEMMA_PROVER_HAMMER"  # "0" (or false/no/off): no hammer anywhere, as `--no-hammer` on every command


def switched_off() -> bool:
    return os.environ.get(ENV_SWITCH, "").strip().lower() in ("0", "false", "no", "off")


def available() -> bool:
    """Whether hammer can run here (and is not switched off); says why not once on stderr (it is then simply not
    tried)."""
    global _said
    if switched_off():
        return False
    reason = unavailable_reason()
    if reason is not None and not _said:
        _said = True
        print(f"note: no hammer tier: {reason}", file=sys.stderr)
    return reason is None


def is_hammer(sentence: str) -> bool:
    return sentence.strip().rstrip(".").strip() == HAMMER_TACTIC


def replay_tactic(output: str) -> str | None:
    """The tactic a successful `hammer` printed to replace it ("sauto use: Nat.add_comm"), or None. The message is
    `Replace the hammer tactic with: TACTIC` or the tactic on the indented lines below it."""
    match = _REPLAY.search(output)
    if match is None:
        return None
    lines = output[match.end():].split("\n")
    parts = [lines[0].strip()] if lines[0].strip() else []
    for line in lines[1:]:
        if not line[:1].isspace() or not line.strip():
            break
        parts.append(line.strip())
    tactic = " ".join(parts).strip()
    return tactic[:-1].rstrip() if tactic.endswith(".") else tactic or None


def uses_reconstruction(tactics: tuple[str, ...]) -> bool:
    """Whether a proof's tactics may need TACTICS_IMPORT (a word of theirs names a reconstruction tactic; an
    identifier that happens to be one costs only the import)."""
    return any(word in RECONSTRUCTION_TACTICS for t in tactics for word in re.findall(r"[A-Za-z_][\w']*", t))
