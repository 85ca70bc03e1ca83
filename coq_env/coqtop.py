"""One sandboxed `coqtop -emacs` process: send a sentence, read back its output and the new state id."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

from coq_env.hammer import child_env
from prover.sandbox import OutputReader, ProcessLimits, Sandbox, kill_group, named_paths, payload_pid
from prover.types import BackendUnavailable

_PROMPT = re.compile(rb"<prompt>(\S+) < (\d+) \|(.*?)\| (\d+) < </prompt>")
_INFOMSG = re.compile(r"</?infomsg>|</?warning>")
_ERROR = re.compile(r"^Error:\s*(.*)", re.M | re.S)


def _prompt_end(output: bytes) -> int | None:
    m = _PROMPT.search(output)
    return m.end() if m else None


@dataclass(frozen=True)
class Reply:
    output: str  # what coqtop printed for the sentence, tags removed
    state_id: int  # coqtop's state number after the sentence (unchanged on error)
    error: str | None  # the error message, if the sentence failed


class CoqtopDied(Exception):
    """The process exited (crash, kill, resource limit)."""


class CoqtopTimeout(Exception):
    """No prompt came back in time."""


# The limits every coqtop/coqc process runs under: 4 GB of address space, an hour of CPU per process lifetime
# (the backend restarts a process killed by it).
SandboxLimits = ProcessLimits


def find_executable(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackendUnavailable(f"{name} not found on PATH: install Coq (apt-get install -y coq libcoq-coquelicot)")
    return path


class Coqtop:
    """A coqtop process in its own sandbox (prover.sandbox: writes only to its private temp dir) under resource
    limits. `readable`: paths under /tmp it must see besides the installation (e.g. a folder given with -Q).
    One sentence in flight at a time."""

    def __init__(self, args: tuple[str, ...] = (), limits: SandboxLimits = SandboxLimits(),
                 readable: tuple[str, ...] = ()):
        # The folders its load-path flags name (-Q, -R, -I) must be visible too, wherever they are.
        self._sandbox = Sandbox("coqtop-", readable=(*readable, *named_paths(args)))
        try:
            self.proc = self._sandbox.popen(
                [find_executable("coqtop"), "-emacs", "-quiet", *args],
                limits,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                bufsize=0,
                env=child_env(),  # with CoqHammer's helpers on PATH
            )
            self._out = OutputReader(self.proc.stdout)
            self.state_id = self._read_prompt(60.0).state_id
        except BaseException:
            if getattr(self, "proc", None) is not None:
                kill_group(self.proc)
            self._sandbox.close()  # a process that dies at start leaves no temp dir behind
            raise

    def send(self, sentence: str, timeout: float) -> Reply:
        """Send one sentence; raise CoqtopTimeout if no prompt within `timeout` seconds."""
        self.write(sentence)
        return self.read(timeout)

    def write(self, *sentences: str) -> None:
        """Queue sentences without waiting: coqtop answers each with one prompt, read in order by `read`."""
        try:
            self.proc.stdin.write("".join(s + "\n" for s in sentences).encode())
        except (BrokenPipeError, OSError) as exc:
            raise CoqtopDied(f"coqtop is gone: {exc}") from exc

    def read(self, timeout: float) -> Reply:
        """The answer to the next queued sentence."""
        reply = self._read_prompt(timeout, self.state_id)
        self.state_id = reply.state_id
        return reply

    def interrupt(self, grace: float) -> Reply | None:
        """SIGINT the running sentence and collect its prompt; None if coqtop does not answer."""
        try:
            os.kill(payload_pid(self.proc), signal.SIGINT)  # coqtop itself: bubblewrap passes no signal on
            reply = self._read_prompt(grace, self.state_id)
        except (CoqtopTimeout, CoqtopDied, ProcessLookupError):
            return None
        time.sleep(0.02)
        self._drain()  # a SIGINT that lands after the prompt makes one more "User interrupt" prompt
        return reply

    def _drain(self) -> None:
        self._out.drain(0.01)
        while _prompt_end(self._out.buffer) is not None:
            self.state_id = int(_PROMPT.search(self._out.read_until(_prompt_end, None)).group(2))

    def _read_prompt(self, timeout: float, before: int | None = None) -> Reply:
        try:
            message = self._out.read_until(_prompt_end, time.monotonic() + timeout)
        except TimeoutError:
            raise CoqtopTimeout(f"no answer from coqtop in {timeout:.1f}s") from None
        except EOFError:
            raise CoqtopDied(f"coqtop exited with code {self.proc.wait()}") from None
        m = _PROMPT.search(message)  # the message ends with its prompt
        output = message[:m.start()].decode(errors="replace")
        if "<" in output:
            output = _INFOMSG.sub("", output)
        output = output.strip()
        state_id = int(m.group(2))
        error = None
        err = _ERROR.search(output) if "Error:" in output else None
        if err and (before is None or state_id == before):
            error = " ".join(err.group(1).split())
        return Reply(output, state_id, error)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        kill_group(self.proc)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._sandbox.close()

    def __enter__(self) -> "Coqtop":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
