"""`prover setup isabelle`: find Isabelle, build the heaps miniF2F needs, start (or find) the chosen
driver's server, and record how to reach it in <cache>/isabelle/setup.json.

Isabelle itself is not installed here: it is a 1 GB download from isabelle.in.tum.de (miniF2F-isabelle
was written for Isabelle2021/2022; PISA and Draft-Sketch-Prove used Isabelle2022). The steps, each one
subprocess so that a failure names its step in one line:
  Isabelle ($ISABELLE_HOME/bin/isabelle, else `isabelle` on PATH) -> `isabelle version`
  -> `isabelle build -b -j N HOL-Library HOL-Computational_Algebra HOL-Number_Theory` (heap images:
     Complex_Main is in HOL; the imports of the 488 theories are HOL-Computational_Algebra,
     HOL-Number_Theory and a few HOL-Library theories; HOL-Number_Theory's heap is the checker's session)
  -> driver `server`: `isabelle server -n NAME -L LOG`, which prints `server "NAME" = HOST:PORT
     (password "...")` and either keeps running (started) or exits (one was running already: found);
     then a password exchange and a session start as a smoke test
  -> driver `pisa`: PISA's gRPC server (`sbt "runMain pisa.server.PisaOneStageServer<PORT>"` in a built
     Portal-to-ISAbelle checkout), started unless something already listens on the port
  -> driver `isarepl`: Isa-REPL registered as an Isabelle component (`isabelle components -u DIR`) and
     its `repl_server.sh HOST:PORT SESSION TMPDIR` started unless the port is already taken
  -> the record, readable only by the user (it holds the server password).
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click

from model_store import cache_root
from prover.command import setup_errors

DRIVERS = ("server", "pisa", "isarepl")
HEAP_SESSIONS = ("HOL-Library", "HOL-Computational_Algebra", "HOL-Number_Theory")
CHECK_SESSION = "HOL-Number_Theory"
DEFAULT_SERVER_NAME = "llemma-prover"
DEFAULT_PISA_PORT = 9000  # what isabelle_env.backend uses when LLEMMA_PROVER_PISA_PORTS is unset
DEFAULT_ISAREPL_PORT = 6666
PISA_LAUNCH_TARGET = "runMain pisa.server.PisaOneStageServer{port}"  # PISA's README: sbt "runMain ...9000"
PISA_LAUNCH = f'sbt "{PISA_LAUNCH_TARGET}"'  # as isabelle_env.backend's LLEMMA_PROVER_PISA_LAUNCH wants it
ISABELLE_MISSING = ("Isabelle not found: set ISABELLE_HOME to an Isabelle2022 installation or put its bin/ on PATH "
                    "(download from https://isabelle.in.tum.de), then rerun `prover setup isabelle`")


class SetupError(Exception):
    """A setup step failed; the message is one line naming the step and what went wrong."""


def record_path() -> Path:
    return cache_root() / "isabelle" / "setup.json"


def read_record() -> dict:
    """What `prover setup isabelle` recorded, or {} when nothing usable is there."""
    try:
        record = json.loads(record_path().read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def find_isabelle(env: dict | None = None, which: Callable[[str], str | None] | None = None) -> str | None:
    """<home>/bin/isabelle when LLEMMA_PROVER_ISABELLE_HOME or ISABELLE_HOME is set, else `isabelle` on PATH."""
    env = os.environ if env is None else env
    home = env.get("LLEMMA_PROVER_ISABELLE_HOME") or env.get("ISABELLE_HOME")
    if home:
        candidate = Path(home).expanduser() / "bin" / "isabelle"
        return str(candidate) if candidate.is_file() else None
    which = which or (lambda tool: shutil.which(tool, path=env.get("PATH", "")))
    return which("isabelle")


# -- running things ----------------------------------------------------------------------------------------
@dataclass
class Ran:
    """What a runner reports back: the exit status and the output (stdout and stderr together)."""

    returncode: int
    output: str = ""


Runner = Callable[..., Ran]  # (argv, *, cwd, env) -> Ran


def run_captured(argv: list[str], *, cwd: Path | None = None, env: dict | None = None,
                 echo: Callable[[str], None] | None = None) -> Ran:
    """Run `argv` to the end, passing its output on line by line (a heap build takes many minutes)."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if echo:
            echo("    " + line.rstrip("\n"))
    return Ran(proc.wait(), "\n".join(lines[-200:]))


def spawn_detached(argv: list[str], *, cwd: Path | None = None, env: dict | None = None, log: Path) -> subprocess.Popen:
    """Start a long-lived server in its own session, its output going to `log` (not to a pipe we would
    have to keep draining), so it outlives this command."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# -- the isabelle server: start or find --------------------------------------------------------------------
def start_or_find_server(isabelle: str, name: str = DEFAULT_SERVER_NAME, *, log_dir: Path | None = None,
                         env: dict | None = None, spawn=spawn_detached, wait_seconds: float = 120.0,
                         sleep: Callable[[float], None] = time.sleep):
    """`isabelle server -n NAME`: the address of the running server of that name, starting one if needed.

    Returns (ServerAddress, started: bool). The first output line is the address; a process that is still
    running after printing it is the new server, one that exited had found an existing server.
    """
    log_dir = log_dir or cache_root() / "isabelle"
    out = log_dir / f"server-{name}.out"
    argv = [isabelle, "server", "-n", name, "-L", str(log_dir / f"server-{name}.log")]
    try:
        proc = spawn(argv, env=env, log=out)
    except OSError as exc:
        raise SetupError(f"setup step 'start the Isabelle server' could not run {isabelle}: {exc.strerror or exc}") from None
    deadline = time.monotonic() + wait_seconds
    while True:
        address = _address_in(out)
        if address is not None:
            for _ in range(10):  # a process that found a running server exits right after printing
                if proc.poll() is not None:
                    break
                sleep(0.1)
            return address, proc.poll() is None
        exited = proc.poll()
        if exited is not None:
            address = _address_in(out)  # printed just before exiting
            if address is not None:
                return address, False
            text = out.read_text(errors="replace") if out.is_file() else ""
            how = f"failed (exit {exited})" if exited else "printed no address"
            raise SetupError(f"setup step 'start the Isabelle server' {how}: {_last_line(text)}")
        if time.monotonic() > deadline:
            raise SetupError(f"setup step 'start the Isabelle server' printed no address within {wait_seconds:g}s "
                             f"(see {out})")
        sleep(0.2)


def _address_in(out: Path):
    from isabelle_env.server_client import parse_server_line

    text = out.read_text(errors="replace") if out.is_file() else ""
    for line in text.splitlines():
        if line.startswith("server "):
            try:
                return parse_server_line(line)
            except ValueError:
                continue
    return None


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    line = lines[-1] if lines else "no output"
    return line if len(line) <= 300 else line[:297] + "..."


# -- the setup ------------------------------------------------------------------------------------------------
@dataclass
class IsabelleSetup:
    """One run of the setup; run/spawn/connect/port_open/which are injectable so the plan is testable."""

    driver: str = "pisa"
    sessions: tuple[str, ...] = HEAP_SESSIONS
    jobs: int = max(1, min(8, (os.cpu_count() or 2) // 2))
    skip_build: bool = False
    server_name: str = DEFAULT_SERVER_NAME
    check_session: str = CHECK_SESSION
    pisa_dir: Path | None = None
    pisa_port: int = DEFAULT_PISA_PORT
    isarepl_dir: Path | None = None
    isarepl_port: int = DEFAULT_ISAREPL_PORT
    run: Runner | None = None
    spawn: Callable | None = None
    connect: Callable | None = None  # ServerAddress -> IsabelleServerClient
    port_open: Callable[[str, int], bool] = port_open
    which: Callable[[str], str | None] | None = None
    log: Callable[[str], None] = lambda line: None
    echo_output: bool = False
    env: dict = field(default_factory=lambda: dict(os.environ))
    sleep: Callable[[float], None] = time.sleep
    wait_seconds: float = 600.0  # for a PISA/Isa-REPL server to listen (sbt compiles first)

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise SetupError(f"unknown driver {self.driver!r} (choose from {', '.join(DRIVERS)})")
        if self.which is None:
            self.which = lambda tool: shutil.which(tool, path=self.env.get("PATH", ""))
        if self.run is None:
            self.run = lambda argv, **kw: run_captured(argv, echo=self.log if self.echo_output else None, **kw)
        if self.spawn is None:
            self.spawn = spawn_detached
        if self.connect is None:
            from isabelle_env.server_client import IsabelleServerClient

            self.connect = lambda address: IsabelleServerClient.connect(address, timeout=60.0)

    def execute(self) -> dict:
        isabelle = find_isabelle(self.env, self.which)
        if isabelle is None:
            home = self.env.get("LLEMMA_PROVER_ISABELLE_HOME") or self.env.get("ISABELLE_HOME")
            if home:
                raise SetupError(f"the Isabelle home is {home}, but {home}/bin/isabelle is not there: point it at an "
                                 "Isabelle2022 installation, then rerun `prover setup isabelle`")
            raise SetupError(ISABELLE_MISSING)
        version = _last_line(self._step("ask Isabelle its version", [isabelle, "version"]).output)
        self.log(f"found {isabelle} ({version})")
        if not version.startswith(("Isabelle2021", "Isabelle2022")):
            self.log(f"note: miniF2F-isabelle was written for Isabelle2021/2022; {version} may reject some statements")
        home = _last_line(self._step("ask Isabelle where it lives", [isabelle, "getenv", "-b", "ISABELLE_HOME"]).output)
        self._home = home
        if not self.skip_build:
            self._step("build the heaps", [isabelle, "build", "-b", "-j", str(self.jobs), *self.sessions])
        record = {"driver": self.driver, "isabelle": isabelle, "isabelle_home": home, "version": version,
                  "heaps": [] if self.skip_build else list(self.sessions), "check_session": self.check_session}
        record.update(getattr(self, f"_driver_{self.driver}")(isabelle))
        self._write(record)
        return record

    # -- drivers ------------------------------------------------------------------------------------
    def _driver_server(self, isabelle: str) -> dict:
        from isabelle_env.server_client import IsabelleServerError

        self.log(f"==> start the Isabelle server: {isabelle} server -n {self.server_name}")
        address, started = start_or_find_server(isabelle, self.server_name, log_dir=record_path().parent,
                                                env=self.env, spawn=self.spawn, sleep=self.sleep)
        self.log(f"{'started' if started else 'found'} server {address.name!r} at {address.host}:{address.port}")
        self.log(f"==> start a session: {self.check_session}")
        try:
            with self.connect(address) as client:
                session = client.session_start(self.check_session, timeout=3600.0)
                client.session_stop(session.session_id)
        except IsabelleServerError as exc:
            raise SetupError(f"setup step 'start a session' failed: {exc}") from None
        return {"server": address.as_record(), "server_started": started, "environment": {}}

    def _driver_pisa(self, isabelle: str) -> dict:
        pisa_dir = self._checkout(self.pisa_dir, "LLEMMA_PROVER_PISA_DIR", "build.sbt", "--pisa-dir",
                                  "a built Portal-to-ISAbelle checkout (github.com/albertqjiang/Portal-to-ISAbelle)")
        found = self.port_open("127.0.0.1", self.pisa_port)
        if not found:
            self._need("sbt", "start the PISA server", "PISA runs under sbt")
            argv = ["sbt", PISA_LAUNCH_TARGET.format(port=self.pisa_port)]
            self._serve("start the PISA server", argv, pisa_dir, self.pisa_port, "pisa.log")
        return {"pisa": {"dir": str(pisa_dir), "host": "127.0.0.1", "port": self.pisa_port, "started": not found},
                "environment": {"LLEMMA_PROVER_ISABELLE_DRIVER": "pisa", "LLEMMA_PROVER_PISA_PORTS": str(self.pisa_port),
                                "LLEMMA_PROVER_PISA_DIR": str(pisa_dir), "LLEMMA_PROVER_ISABELLE_HOME": self._home,
                                "LLEMMA_PROVER_PISA_LAUNCH": PISA_LAUNCH}}

    def _driver_isarepl(self, isabelle: str) -> dict:
        repl_dir = self._checkout(self.isarepl_dir, "LLEMMA_PROVER_ISAREPL_DIR", "repl_server.sh", "--isarepl-dir",
                                  "an Isa-REPL checkout (github.com/xqyww123/Isa-REPL)")
        self._step("register Isa-REPL as an Isabelle component", [isabelle, "components", "-u", str(repl_dir)])
        found = self.port_open("127.0.0.1", self.isarepl_port)
        if not found:
            tmp = record_path().parent / "isarepl-tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            argv = [str(repl_dir / "repl_server.sh"), f"127.0.0.1:{self.isarepl_port}", self.check_session, str(tmp)]
            self._serve("start the Isa-REPL server", argv, repl_dir, self.isarepl_port, "isarepl.log")
        return {"isarepl": {"dir": str(repl_dir), "host": "127.0.0.1", "port": self.isarepl_port,
                            "session": self.check_session, "started": not found},
                "environment": {"LLEMMA_PROVER_ISABELLE_DRIVER": "isarepl",
                                "LLEMMA_PROVER_ISAREPL_ADDRESS": f"127.0.0.1:{self.isarepl_port}"}}

    def _checkout(self, given: Path | None, env_var: str, marker: str, option: str, what: str) -> Path:
        folder = given or (Path(self.env[env_var]) if self.env.get(env_var) else None)
        if folder is None:
            raise SetupError(f"driver {self.driver} needs {what}: pass {option} DIR or set {env_var}")
        folder = Path(folder).expanduser().absolute()
        if not (folder / marker).is_file():
            raise SetupError(f"{folder} is not {what} (no {marker} there)")
        return folder

    def _serve(self, step: str, argv: list[str], cwd: Path, port: int, log_name: str) -> None:
        log = record_path().parent / log_name
        self.log(f"==> {step}: {' '.join(argv)} (log: {log})")
        try:
            proc = self.spawn(argv, cwd=cwd, env=self.env, log=log)
        except OSError as exc:
            raise SetupError(f"setup step '{step}' could not start {argv[0]}: {exc.strerror or exc}") from None
        waited = 0.0
        while not self.port_open("127.0.0.1", port):
            exited = proc.poll()
            if exited is not None:
                tail = log.read_text(errors="replace") if log.is_file() else ""
                raise SetupError(f"setup step '{step}' failed (exit {exited}): {_last_line(tail)}")
            if waited >= self.wait_seconds:
                raise SetupError(f"setup step '{step}': nothing listens on port {port} after {self.wait_seconds:g}s "
                                 f"(see {log})")
            self.sleep(1.0)
            waited += 1.0

    # -- running ----------------------------------------------------------------------------------------
    def _need(self, tool: str, step: str, why: str = "") -> None:
        if self.which(tool) is None:
            because = f" ({why})" if why else ""
            raise SetupError(f"setup step '{step}' needs {tool}, which is not on PATH{because}: install {tool} and rerun")

    def _step(self, name: str, argv: list[str], *, cwd: Path | None = None) -> Ran:
        self.log(f"==> {name}: {' '.join(argv)}")
        try:
            ran = self.run(argv, cwd=cwd, env=self.env)
        except FileNotFoundError:
            raise SetupError(f"setup step '{name}' needs {argv[0]}, which is not there") from None
        except OSError as exc:
            raise SetupError(f"setup step '{name}' could not start {argv[0]}: {exc.strerror or exc}") from None
        if ran.returncode != 0:
            raise SetupError(f"setup step '{name}' failed (exit {ran.returncode}): {_last_line(ran.output)}")
        return ran

    def _write(self, record: dict) -> None:
        path = record_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the server password
            with os.fdopen(fd, "w") as out:
                out.write(json.dumps(record, indent=2) + "\n")
            os.chmod(path, 0o600)
        except OSError as exc:
            raise SetupError(f"setup cannot write {path}: {exc.strerror or exc}") from None
        self.log(f"recorded {path}")


def setup_isabelle(driver: str = "pisa", **kwargs) -> dict:
    """Find Isabelle, build the heaps, bring up the driver's server, record it; returns the record."""
    return IsabelleSetup(driver=driver, **kwargs).execute()


# -- `prover setup isabelle` ------------------------------------------------------------------------------------------
@click.command("isabelle")
@click.option("--driver", type=click.Choice(["pisa", "isarepl", "server"]), default="pisa", show_default=True,
              help="the search's bridge (PISA or Isa-REPL), or only the Isabelle server `check` uses")
@click.option("--sessions", help="comma-separated heaps to build "
                                 "(default: HOL-Library,HOL-Computational_Algebra,HOL-Number_Theory)")
@click.option("--jobs", type=click.IntRange(min=1), help="parallel build jobs (isabelle build -j)")
@click.option("--skip-build", is_flag=True, help="do not build heaps (they are built already)")
@click.option("--server-name", default="llemma-prover", show_default=True, help="driver server: isabelle server -n NAME")
@click.option("--pisa-dir", type=click.Path(file_okay=False, path_type=Path),
              help="driver pisa: a built Portal-to-ISAbelle checkout (default: $LLEMMA_PROVER_PISA_DIR)")
@click.option("--pisa-port", type=click.IntRange(1, 65535), default=9000, show_default=True)
@click.option("--isarepl-dir", type=click.Path(file_okay=False, path_type=Path),
              help="driver isarepl: an Isa-REPL checkout (default: $LLEMMA_PROVER_ISAREPL_DIR)")
@click.option("--isarepl-port", type=click.IntRange(1, 65535), default=6666, show_default=True)
@click.option("--quiet", is_flag=True, help="do not pass on the tools' own output")
def setup_isabelle_command(driver, sessions, jobs, skip_build, server_name, pisa_dir, pisa_port, isarepl_dir,
                           isarepl_port, quiet):
    """Find Isabelle, build the heaps miniF2F needs, start the driver's server; recorded for `prove`/`check`."""
    options = {"skip_build": skip_build, "server_name": server_name, "pisa_dir": pisa_dir, "pisa_port": pisa_port,
               "isarepl_dir": isarepl_dir, "isarepl_port": isarepl_port}
    if sessions:
        options["sessions"] = tuple(s.strip() for s in sessions.split(",") if s.strip())
    if jobs:
        options["jobs"] = jobs
    with setup_errors(SetupError):
        record = setup_isabelle(driver, log=lambda line: click.echo(line, err=True), echo_output=not quiet, **options)
    click.echo(f"Isabelle ready: {record['version']}, driver {record['driver']}; recorded in {record_path()}")
    for name, value in record.get("environment", {}).items():
        click.echo(f"export {name}={shlex.quote(value)}")
