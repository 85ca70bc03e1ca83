"""One sandboxed Lean REPL process (leanprover-community/repl): JSON commands in, typed replies out.

Protocol, as the REPL implements it: each request is one JSON object followed by a blank line; each
reply is one JSON object (pretty-printed over several lines, never containing an empty line) followed
by a blank line. Requests:
  {"cmd": str, "env"?: int, "allTactics"?, "rootGoals"?, "infotree"?}  -> CommandReply
  {"tactic": str, "proofState": int}                                   -> TacticReply
  {"pickleTo": path, "env": int}        -> CommandReply (same env)
  {"unpickleEnvFrom": path}             -> CommandReply (new env)
  {"pickleTo": path, "proofState": int} -> TacticReply  (new proof state)
  {"unpickleProofStateFrom": path, "env"?: int} -> TacticReply
and any of them may be answered {"message": str} instead (unknown env/proof state, a Lean exception).
The REPL has no per-request time limit, so a request past its limit costs the process.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from lean_env.messages import CommandReply, ReplCrashed, ReplError, ReplTimeout, TacticReply
from prover.backend import Timeouts
from model_store import cache_root
from prover.sandbox import OutputReader, ProcessLimits, Sandbox, kill_group, named_paths
from prover.types import BackendUnavailable

PROJECT_ENV_VAR = "LLEMMA_PROVER_LEAN_PROJECT"
SETUP_HINT = "run `prover setup lean` (or set LLEMMA_PROVER_LEAN_PROJECT to a Lake project with Mathlib and the REPL)"
# Where `lake build` leaves the REPL binary: the project's own build, or the REPL as a Lake dependency.
_REPL_BINARIES = ("repl/.lake/build/bin/repl", ".lake/build/bin/repl", ".lake/packages/REPL/.lake/build/bin/repl", ".lake/packages/repl/.lake/build/bin/repl")
_STDERR_TAIL = 2000  # characters of the REPL's stderr quoted when it dies
# The Lean backend's one timeout policy (prover.backend.Timeouts), for the pool, the backend and the verifier. The
# REPL cannot interrupt a request, so every limit is also the process's: one past it is killed and replaced.
DEFAULT_TIMEOUTS = Timeouts(
    header=600.0,  # a cold `import Mathlib` reads ~5 GB of .olean files
    statement=120.0,  # elaborating `statement := by sorry` on the header's env
    replay_factor=2.0,
    verify=600.0,  # one whole-file check in a fresh process: a cold `import Mathlib` alone can take minutes
)


@dataclass(frozen=True)
class ReplLimits:
    """Resource limits every REPL process runs under (None: no limit)."""

    # Address space. A Mathlib REPL grows to ~6.5 GB resident after many proofs, plus mapped .olean files.
    memory_mb: int | None = 8192
    cpu_seconds: int | None = None  # per process lifetime; the pool recycles processes long before


def scratch_root() -> Path:
    """The one folder outside its private temp dir a sandboxed REPL may write: pickled environments live here,
    so one process can write what its successor reads."""
    root = Path(tempfile.gettempdir()) / f"llemma-prover-lean-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


# -- finding a Lean project ----------------------------------------------------------------------
def setup_record() -> dict:
    """What `prover setup lean` recorded (lean/project.json), or {} if nothing usable is there."""
    try:
        record = json.loads((cache_root() / "lean" / "project.json").read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def find_project() -> Path:
    """The Lake project to run Lean in: $LLEMMA_PROVER_LEAN_PROJECT, else the one setup recorded."""
    configured = os.environ.get(PROJECT_ENV_VAR)
    source = PROJECT_ENV_VAR
    if not configured:
        configured = setup_record().get("project")
        source = "the path `prover setup lean` recorded"
    if not configured or not isinstance(configured, str):
        raise BackendUnavailable(f"no Lean project configured: {SETUP_HINT}")
    project = Path(configured).expanduser()
    if not project.is_dir():
        raise BackendUnavailable(f"Lean project {project} ({source}) does not exist: {SETUP_HINT}")
    return project


def find_lake() -> str:
    lake = shutil.which("lake")
    if lake is None:
        # where elan installs it, when the shell that installed it has not put it on our PATH
        elan_home = Path(os.environ.get("ELAN_HOME") or "~/.elan").expanduser()
        if (elan_home / "bin" / "lake").is_file():
            return str(elan_home / "bin" / "lake")
        raise BackendUnavailable(f"lake not found on PATH: {SETUP_HINT}")
    return lake


def default_repl_command(project: Path) -> list[str]:
    """`lake env <repl>` for a built REPL binary (no rebuild check per start), else `lake exe repl`."""
    lake = find_lake()
    record = setup_record()
    recorded = record.get("repl")
    # The recorded binary only for the recorded project: another project may pin another Lean.
    same_project = isinstance(record.get("project"), str) and Path(record["project"]).expanduser().resolve() == project.resolve()
    candidates = ([Path(recorded).expanduser()] if isinstance(recorded, str) and same_project else []) + [
        project / rel for rel in _REPL_BINARIES
    ]
    for binary in candidates:
        if binary.is_file() and os.access(binary, os.X_OK):
            return [lake, "env", str(binary)]
    return [lake, "exe", "repl"]


def _block_end(output: bytes) -> int | None:
    """Where the first reply block (with the blank line after it) ends, once one is complete."""
    end = output.find(b"\n\n")
    return end + 2 if end >= 0 else None


# -- the process -----------------------------------------------------------------------------------
class LeanRepl:
    """A REPL process in its own session under resource limits. One request in flight at a time.

    Any failure that leaves the stream in doubt (EOF, non-JSON, a request past its time limit) kills the
    process; `alive` then reads False and every later request raises ReplCrashed.
    """

    def __init__(
        self,
        project: str | os.PathLike | None = None,
        command: Sequence[str] | None = None,
        *,
        limits: ReplLimits = ReplLimits(),
        timeout: float | None = None,
    ):
        """`command` defaults to the project's REPL (see default_repl_command); it runs in `project`
        (default: find_project() when the command is defaulted, else the current directory).
        `timeout` is the limit for requests that give none (None: wait indefinitely)."""
        if command is None:
            project = Path(project) if project is not None else find_project()
            command = default_repl_command(project)
        self.argv = list(command)
        self.cwd = None if project is None else str(project)
        self.default_timeout = timeout
        self.commands = 0  # requests sent so far: REPLs die after many hundreds, the pool recycles on this
        self.replies = 0
        self._stderr = tempfile.TemporaryFile()  # a file, not a pipe: a chatty REPL can never block on it
        # The sandbox (prover.sandbox): the project and the files the command names are readable, and only its
        # private dir and the pickle folder are writable. The process group holds lake and the REPL it starts.
        self._sandbox = Sandbox("lean-repl-", readable=[*([self.cwd] if self.cwd else []), *named_paths(self.argv)],
                                writable=[scratch_root()])
        try:
            self.proc = self._sandbox.popen(
                self.argv,
                ProcessLimits(limits.memory_mb, limits.cpu_seconds),
                cwd=self.cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                bufsize=0,
            )
        except OSError as exc:  # no such executable, no such directory
            self._sandbox.close()
            self._stderr.close()
            raise BackendUnavailable(f"cannot start the Lean REPL ({' '.join(self.argv)}): {exc}; {SETUP_HINT}") from exc
        self._out = OutputReader(self.proc.stdout)

    # -- requests ---------------------------------------------------------------------------------
    def command(self, code: str, env: int | None = None, timeout: float | None = None, **extra) -> CommandReply:
        """Elaborate `code` (a whole file's worth of commands) on top of `env` (None: a fresh environment,
        where `import` is allowed). `extra` goes into the request as is, e.g. allTactics=True, rootGoals=True."""
        request: dict = {"cmd": code}
        if env is not None:
            request["env"] = env
        request.update(extra)
        return self._command_reply(self.request(request, timeout))

    def tactic(self, tactic: str, proof_state: int, timeout: float | None = None) -> TacticReply:
        """Run `tactic` on proof state `proof_state`; any earlier state may be used again (native branching)."""
        return self._tactic_reply(self.request({"tactic": tactic, "proofState": proof_state}, timeout))

    def pickle_env(self, env: int, path: str | os.PathLike, timeout: float | None = None) -> CommandReply:
        """Write environment `env` to `path` (relative to the REPL's directory); the reply names the same env."""
        return self._command_reply(self.request({"pickleTo": str(path), "env": env}, timeout))

    def unpickle_env(self, path: str | os.PathLike, timeout: float | None = None) -> CommandReply:
        """Load an environment written by pickle_env (the REPL re-imports its imports): a new env id."""
        return self._command_reply(self.request({"unpickleEnvFrom": str(path)}, timeout))

    def pickle_proof_state(self, proof_state: int, path: str | os.PathLike, timeout: float | None = None) -> TacticReply:
        return self._tactic_reply(self.request({"pickleTo": str(path), "proofState": proof_state}, timeout))

    def unpickle_proof_state(
        self, path: str | os.PathLike, env: int | None = None, timeout: float | None = None
    ) -> TacticReply:
        request: dict = {"unpickleProofStateFrom": str(path)}
        if env is not None:
            request["env"] = env
        return self._tactic_reply(self.request(request, timeout))

    def request(self, request: dict, timeout: float | None = None) -> dict:
        """Send one request and return the reply object; {"message": ...} raises ReplError."""
        if self.proc.poll() is not None or self.proc.stdin is None or self.proc.stdin.closed:
            raise ReplCrashed(f"the Lean REPL is not running{self._exit_note()}")
        timeout = self.default_timeout if timeout is None else timeout
        # Raw UTF-8 rather than \\u escapes: the REPL's JSON parser need not pair surrogates of non-BMP symbols.
        data = (json.dumps(request, ensure_ascii=False) + "\n\n").encode()
        self.commands += 1
        try:
            view = memoryview(data)
            while view:  # an unbuffered pipe may take a long command in pieces
                view = view[os.write(self.proc.stdin.fileno(), view):]
        except (BrokenPipeError, OSError) as exc:
            self._kill()
            raise ReplCrashed(f"the Lean REPL is gone ({exc}){self._exit_note()}") from exc
        reply = self._read_reply(timeout)
        if "message" in reply and len(reply) == 1:
            raise ReplError(str(reply["message"]))
        return reply

    # -- reading --------------------------------------------------------------------------------
    def _read_reply(self, timeout: float | None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                block = self._out.read_until(_block_end, deadline)[:-2]
            except TimeoutError:
                self._kill()
                raise ReplTimeout(f"no answer from the Lean REPL in {timeout:.1f}s (process killed)") from None
            except EOFError:
                self._kill()
                raise ReplCrashed(f"the Lean REPL closed its output{self._exit_note()}") from None
            if not block.strip():
                continue
            if not self.replies and not block.lstrip().startswith(b"{") and b"\n{" not in block:
                continue  # chatter before the first reply (`lake exe` building, a wrapper's banner)
            reply = self._parse(block)
            self.replies += 1
            return reply

    def _parse(self, block: bytes) -> dict:
        text = block.decode("utf-8", errors="replace")
        try:
            reply = json.loads(text)
        except ValueError:
            # Some REPL builds print progress lines before the object: start at the first line that opens one.
            at = text.find("\n{")
            reply = None
            if at >= 0:
                try:
                    reply = json.loads(text[at + 1:])
                except ValueError:
                    pass
        if not isinstance(reply, dict):
            self._kill()
            raise ReplCrashed(f"the Lean REPL wrote something that is not a JSON object: {text[:200]!r}")
        return reply

    def _command_reply(self, reply: dict) -> CommandReply:
        try:
            return CommandReply.from_json(reply)
        except (KeyError, TypeError, ValueError) as exc:
            self._kill()
            raise ReplCrashed(f"unexpected reply to a command: {json.dumps(reply)[:200]}") from exc

    def _tactic_reply(self, reply: dict) -> TacticReply:
        try:
            return TacticReply.from_json(reply)
        except (KeyError, TypeError, ValueError) as exc:
            self._kill()
            raise ReplCrashed(f"unexpected reply to a tactic: {json.dumps(reply)[:200]}") from exc

    # -- lifetime -------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr_tail(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - _STDERR_TAIL))
            return self._stderr.read().decode("utf-8", errors="replace").strip()
        except (OSError, ValueError):
            return ""

    def _exit_note(self) -> str:
        code = self.proc.poll()
        tail = self.stderr_tail()
        note = "" if code is None else f", exit code {code}"
        return note + (f"; stderr: {tail[-500:]}" if tail else "")

    def _kill(self) -> None:
        kill_group(self.proc)  # the whole group, even when the leader is gone: `lake env` runs the REPL as its child

    def close(self) -> None:
        self._kill()
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._sandbox.close()

    def __enter__(self) -> "LeanRepl":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LeanRepl(pid={self.proc.pid}, commands={self.commands}, alive={self.alive})"
