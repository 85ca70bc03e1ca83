"""Starting PISA servers: the Launcher protocol PisaClient uses to bring a dead server back, and PisaLauncher,
which runs one as a sandboxed subprocess in its own process group."""
from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import Protocol

from prover.sandbox import ProcessLimits, Sandbox, kill_group, named_paths

DEFAULT_LAUNCH = 'sbt "runMain pisa.server.PisaOneStageServer{port}"'


# -- starting servers ---------------------------------------------------------------------------------------
class Launcher(Protocol):
    """Starts and stops PISA servers; PisaClient uses it to bring a dead server back."""

    startup_timeout: float

    def start(self, port: int) -> object: ...

    def stop(self, handle: object) -> None: ...

    def describe(self, handle: object) -> str:
        """What the started server said (for error messages)."""
        ...


@dataclass
class PisaLauncher:
    """Runs a PISA server as a subprocess in its own process group, e.g. `sbt "runMain
    pisa.server.PisaOneStageServer{port}"` in a Portal-to-ISAbelle checkout (`{port}` is filled in)."""

    command: str = DEFAULT_LAUNCH
    cwd: str | None = None
    startup_timeout: float = 600.0  # sbt compiles on a first start
    stop_grace: float = 5.0
    env: dict[str, str] | None = None
    log_dir: str = field(default_factory=tempfile.gettempdir)

    def start(self, port: int) -> subprocess.Popen:
        log_path = os.path.join(self.log_dir, f"pisa-{port}-{os.getpid()}.log")
        argv = shlex.split(self.command.format(port=port))
        # The sandbox (prover.sandbox), with the network the gRPC port needs: it may write only its checkout
        # (sbt's build), Isabelle's and the JVM tools' user folders, and its private temp dir.
        home = os.path.expanduser("~")
        writable = [p for p in (self.cwd, *(os.path.join(home, d) for d in (".isabelle", ".sbt", ".ivy2", ".cache")))
                    if p and os.path.isdir(p)]
        sandbox = Sandbox("pisa-", readable=named_paths(argv), writable=writable, network=True)
        with open(log_path, "ab") as log:  # a file, not a pipe: nobody reads it until something goes wrong
            proc = sandbox.popen(  # its own process group: stopped as a group, by its id only
                argv,
                ProcessLimits(memory_mb=None, cpu_seconds=None),  # a JVM reserves far more address space than it uses
                cwd=self.cwd,
                env=None if self.env is None else {**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc.log_path = log_path  # type: ignore[attr-defined]
        proc.sandbox = sandbox  # type: ignore[attr-defined]
        return proc

    def stop(self, handle: object) -> None:
        proc: subprocess.Popen = handle  # type: ignore[assignment]
        kill_group(proc, grace=self.stop_grace)  # the group sbt, java and Isabelle's poly run in
        sandbox = getattr(proc, "sandbox", None)
        if sandbox is not None:
            sandbox.close()

    def describe(self, handle: object) -> str:
        path = getattr(handle, "log_path", None)
        if not path or not os.path.exists(path):
            return ""
        with open(path, "rb") as f:
            tail = f.read()[-2000:].decode(errors="replace")
        return f"server log {path}: ...{tail}"
