"""Benchmark: the Lean driver's own cost per tactic step, in microseconds (reported, no target).

value = median over steps of (LeanRepl.tactic round trip - raw round trip of the same step), in us.

Both sides talk to the test double (tests/lean_repl_double.py), each to its own process, over a
synthesised transcript: a `def f : Nat := by sorry` command, then STEPS tactic steps along one linear
path, each request {"tactic": "have t : Nat := 42", "proofState": i} answered with the reply the real
REPL recorded for it (proof_step transcript), its proofState renumbered to i + 1.

Raw: a minimal client that writes the pre-encoded request bytes and reads until the blank line that ends
the reply, parsing nothing. Its round trip is the double's own time (reading, matching, writing) plus
the pipes. Driver: LeanRepl.tactic, which also encodes the request, waits with select, splits and
parses the reply and builds a TacticReply. The difference is what the driver adds to a step; with a real
Lean the step's Lean time replaces the double's time and this difference stays.

The two run interleaved step by step, alternating which goes first, so load from other processes hits
both alike; the median of the paired differences ignores the steps a busy machine stalls.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lean_env.repl import LeanRepl

TARGET = "report"
STEPS = 2000
TACTIC = "have t : Nat := 42"
DOUBLE = Path(__file__).resolve().parents[1] / "tests" / "lean_repl_double.py"
# The real REPL's replies (proof_step transcript, toolchain v4.33.0-rc2), as it pretty-prints them.
ROOT_REPLY = (
    '{"sorries":\n [{"proofState": 0,\n   "pos": {"line": 1, "column": 18},\n   "goal": "⊢ Nat",\n'
    '   "endPos": {"line": 1, "column": 23}}],\n "messages":\n [{"severity": "warning",\n'
    '   "pos": {"line": 1, "column": 4},\n   "endPos": {"line": 1, "column": 5},\n'
    '   "data": "declaration uses `sorry`"}],\n "env": 0}'
)
STEP_REPLY = '{"proofStatus": "Incomplete: open goals remain",\n "proofState": %d,\n "goals": ["t : Nat\\n⊢ Nat"]}'


def _write_transcript(folder: Path) -> str:
    requests = [{"cmd": "def f : Nat := by sorry"}] + [{"tactic": TACTIC, "proofState": i} for i in range(STEPS)]
    replies = [ROOT_REPLY] + [STEP_REPLY % (i + 1) for i in range(STEPS)]
    (folder / "steps.in").write_text("\n\n".join(json.dumps(r, ensure_ascii=False) for r in requests), encoding="utf-8")
    (folder / "steps.expected.out").write_text("".join(r + "\n\n" for r in replies), encoding="utf-8")
    return str(folder / "steps")


class _RawClient:
    """Writes bytes, reads to the blank line: the least any client must do."""

    def __init__(self, command: list[str]):
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self._buf = b""

    def round_trip(self, data: bytes) -> None:
        os.write(self.proc.stdin.fileno(), data)
        fd = self.proc.stdout.fileno()
        while (end := self._buf.find(b"\n\n")) < 0:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise RuntimeError("the test double exited")
            self._buf += chunk
        self._buf = self._buf[end + 2:]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def lean_replay_step_us() -> tuple[float, str]:
    with tempfile.TemporaryDirectory(prefix="lean-step-bench-") as folder:
        command = [sys.executable, str(DOUBLE), _write_transcript(Path(folder))]
        raw = _RawClient(command)
        repl = LeanRepl(command=command, timeout=30)
        try:
            raw.round_trip((json.dumps({"cmd": "def f : Nat := by sorry"}) + "\n\n").encode())
            if repl.command("def f : Nat := by sorry").sorries[0].proof_state != 0:
                raise RuntimeError("unexpected root proof state")
            requests = [(json.dumps({"tactic": TACTIC, "proofState": i}, ensure_ascii=False) + "\n\n").encode() for i in range(STEPS)]
            raw_times, driver_times = [], []
            for i in range(STEPS):
                for side in ("raw", "driver") if i % 2 == 0 else ("driver", "raw"):
                    if side == "raw":
                        t0 = time.perf_counter()
                        raw.round_trip(requests[i])
                        raw_times.append(time.perf_counter() - t0)
                    else:
                        t0 = time.perf_counter()
                        reply = repl.tactic(TACTIC, i)
                        driver_times.append(time.perf_counter() - t0)
                        if reply.proof_state != i + 1:
                            raise RuntimeError(f"step {i}: unexpected reply {reply}")
        finally:
            raw.close()
            repl.close()
    differences = [(d - r) * 1e6 for d, r in zip(driver_times, raw_times)]
    value = statistics.median(differences)
    print(
        f"lean_replay_step_us: {STEPS} steps; median round trip raw {statistics.median(raw_times) * 1e6:.0f} us, "
        f"LeanRepl {statistics.median(driver_times) * 1e6:.0f} us; median paired difference {value:.0f} us "
        f"(mean {statistics.fmean(differences):.0f} us)",
        file=sys.stderr,
    )
    return round(value, 1), TARGET


if __name__ == "__main__":
    print(lean_replay_step_us())
