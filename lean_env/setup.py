"""`prover setup lean`: a Lake project pinned to a benchmark's Lean and Mathlib, with the REPL built for it.

The steps, each one subprocess (so a failure names its step and what was missing, in one line):
  elan (installed with elan-init.sh if absent) -> the pinned toolchain -> lean-toolchain + lakefile.lean
  requiring Mathlib at the pinned rev -> `lake update` -> `lake exe cache get` (Mathlib's prebuilt .oleans)
  -> the REPL cloned at the toolchain's tag and built -> one REPL command as a smoke test -> the project
  recorded in <cache>/lean/project.json, where lean_env.repl finds it.
The REPL is used the way its README describes for another project: `lake env <repl binary>` run in the
Mathlib project, so `import Mathlib` resolves there.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from lean_env.minif2f import MATHLIB_GIT, VARIANTS
from lean_env.repl import cache_root
from prover.command import setup_errors

ELAN_INIT_URL = "https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh"
REPL_GIT = "https://github.com/leanprover-community/repl"
DEFAULT_TOOLCHAIN = "v4.24.0"
LAKEFILE_MARKER = "-- Written by `prover setup lean`"
_RELEASE = re.compile(r"^v\d+\.\d+\.\d+(-rc\d+)?$")
_NETWORK_TROUBLE = re.compile(
    r"could not resolve|failed to connect|connection refused|unable to access|network is unreachable|"
    r"temporary failure in name resolution|timed out|curl: \(\d+\)|ssl", re.IGNORECASE)


class SetupError(Exception):
    """A setup step failed; the message is one line naming the step and what went wrong."""


@dataclass(frozen=True)
class Pin:
    """The versions a benchmark was written for."""

    toolchain: str  # a Lean release, e.g. "v4.24.0"
    mathlib_git: str
    mathlib_rev: str
    repl_rev: str  # leanprover-community/repl is tagged per Lean release (Lean's release checklist)

    @property
    def lean_toolchain(self) -> str:
        return f"leanprover/lean4:{self.toolchain}"


def pin_for(toolchain: str = DEFAULT_TOOLCHAIN, mathlib_rev: str | None = None, mathlib_git: str | None = None,
            repl_rev: str | None = None) -> Pin:
    """The benchmark's pin for `toolchain` (see lean_env.minif2f.VARIANTS), with any override applied."""
    toolchain = toolchain.removeprefix("leanprover/lean4:")
    if not toolchain.startswith("v"):
        toolchain = "v" + toolchain
    if not _RELEASE.match(toolchain):
        raise SetupError(f"--toolchain takes a Lean release such as {DEFAULT_TOOLCHAIN}, not {toolchain!r}")
    known = {v.toolchain: v for v in VARIANTS.values()}.get(toolchain)
    return Pin(
        toolchain=toolchain,
        mathlib_git=mathlib_git or (known.mathlib_git if known else MATHLIB_GIT),
        mathlib_rev=mathlib_rev or (known.mathlib_rev if known else toolchain),  # Mathlib tags each release too
        repl_rev=repl_rev or toolchain,
    )


def record_path() -> Path:
    return cache_root() / "lean" / "project.json"


def default_directory(pin: Pin) -> Path:
    return cache_root() / "lean" / f"mathlib-{pin.toolchain}"


def lakefile_text(pin: Pin) -> str:
    return (
        f"{LAKEFILE_MARKER}: Mathlib pinned to the benchmark's version.\n"
        "import Lake\nopen Lake DSL\n\npackage llemma_prover_lean\n\n"
        f'require mathlib from git "{pin.mathlib_git}" @ "{pin.mathlib_rev}"\n'
    )


@dataclass
class Ran:
    """What a runner reports back: the exit status and the last lines of output."""

    returncode: int
    output: str = ""


Runner = Callable[..., Ran]  # (argv, *, cwd, env, input) -> Ran


def run_streaming(argv: list[str], *, cwd: Path | None, env: dict, input: str | None = None,
                  echo: Callable[[str], None] | None = None) -> Ran:
    """Run `argv`, passing its output on line by line (cache downloads take minutes) and keeping the tail."""
    tail: deque[str] = deque(maxlen=40)
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    if input is not None:
        proc.stdin.write(input)
        proc.stdin.close()
    for line in proc.stdout:
        tail.append(line.rstrip("\n"))
        if echo:
            echo("    " + line.rstrip("\n"))
    return Ran(proc.wait(), "\n".join(tail))


@dataclass
class LeanSetup:
    """One run of the setup; `run` and `which` are injectable so the plan can be tested without Lean."""

    pin: Pin
    directory: Path
    run: Runner | None = None
    which: Callable[[str], str | None] | None = None  # default: shutil.which on `env`'s PATH
    log: Callable[[str], None] = lambda line: None
    echo_output: bool = False
    env: dict = field(default_factory=lambda: dict(os.environ))

    def __post_init__(self) -> None:
        if self.which is None:
            self.which = lambda tool: shutil.which(tool, path=self.env.get("PATH", ""))
        if self.run is None:
            self.run = lambda argv, **kw: run_streaming(argv, echo=self.log if self.echo_output else None, **kw)
        self.directory = Path(self.directory).expanduser().absolute()
        self.elan_home = Path(self.env.get("ELAN_HOME") or Path.home() / ".elan").expanduser()

    # -- the steps ------------------------------------------------------------------------------
    def execute(self) -> dict:
        self._need("git", "fetch Mathlib", "Lake fetches Mathlib and the REPL with it")
        self._prepare_directory()
        elan = self._elan()
        bin_dir = Path(elan).parent
        lake = str(bin_dir / "lake")
        self.env["PATH"] = str(bin_dir) + os.pathsep + self.env.get("PATH", "")
        self._step("install the Lean toolchain", [elan, "toolchain", "install", self.pin.lean_toolchain])
        self._write_project()
        # Mathlib's post-update hook would fetch the cache itself; one explicit step reports failures better.
        self._step("fetch Mathlib", [lake, "update"], cwd=self.directory, extra_env={"MATHLIB_NO_CACHE_ON_UPDATE": "1"})
        self._step("download Mathlib's build cache", [lake, "exe", "cache", "get"], cwd=self.directory)
        repl_dir = self.directory / "repl"
        if not (repl_dir / "lean-toolchain").is_file():
            self._need("git", "fetch the REPL")
            self._step("fetch the REPL", ["git", "clone", "--depth", "1", "--branch", self.pin.repl_rev, REPL_GIT,
                                          str(repl_dir)])
        self._step("build the REPL", [lake, "build", "repl"], cwd=repl_dir)
        repl = repl_dir / ".lake" / "build" / "bin" / "repl"
        self._check_repl(lake, repl)
        record = {"project": str(self.directory), "toolchain": self.pin.lean_toolchain, "repl": str(repl),
                  "mathlib": {"git": self.pin.mathlib_git, "rev": self.pin.mathlib_rev}, "repl_rev": self.pin.repl_rev}
        path = record_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=2) + "\n")
        except OSError as exc:
            raise SetupError(f"setup step 'record the project' cannot write {path}: {exc.strerror or exc}") from None
        self.log(f"recorded {path}")
        return record

    def _prepare_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SetupError(f"setup cannot create {self.directory}: {exc.strerror or exc}") from None
        for name in ("lakefile.lean", "lakefile.toml"):
            existing = self.directory / name
            if existing.is_file() and LAKEFILE_MARKER not in existing.read_text(errors="replace"):
                raise SetupError(f"{existing} was not written by `prover setup lean`: choose another --dir")

    def _elan(self) -> str:
        """elan's path, installing it (elan-init.sh, no default toolchain) when it is nowhere to be found."""
        on_path = self.which("elan")
        if on_path:
            return on_path
        installed = self.elan_home / "bin" / "elan"  # installed before, without PATH set for this shell
        if installed.is_file():
            return str(installed)
        self._need("curl", "install elan", "it downloads elan-init.sh")
        script = self.directory / "elan-init.sh"
        self._step("install elan", ["curl", "-sSfL", ELAN_INIT_URL, "-o", str(script)])
        self._step("install elan", ["sh", str(script), "-y", "--default-toolchain", "none"])
        script.unlink(missing_ok=True)
        elan = self.elan_home / "bin" / "elan"
        if not elan.is_file():
            raise SetupError(f"setup step 'install elan' finished but {elan} is not there (is ELAN_HOME set elsewhere?)")
        return str(elan)

    def _write_project(self) -> None:
        try:
            (self.directory / "lean-toolchain").write_text(self.pin.lean_toolchain + "\n")
            (self.directory / "lakefile.lean").write_text(lakefile_text(self.pin))
        except OSError as exc:
            raise SetupError(f"setup step 'write the project' cannot write in {self.directory}: {exc.strerror or exc}") from None
        self.log(f"wrote {self.directory / 'lean-toolchain'} and lakefile.lean (Mathlib {self.pin.mathlib_rev})")

    def _check_repl(self, lake: str, repl: Path) -> None:
        """One command through `lake env <repl>` in the project: the REPL starts and is the pinned Lean."""
        version = self.pin.toolchain.removeprefix("v")
        ran = self._step("check the REPL", [lake, "env", str(repl)], cwd=self.directory,
                         input='{"cmd": "#eval Lean.versionString"}\n\n')
        if version not in ran.output:
            raise SetupError(f"setup step 'check the REPL' did not report Lean {version}: {_last_line(ran.output)}")

    # -- running ----------------------------------------------------------------------------------
    def _need(self, tool: str, step: str, why: str = "") -> None:
        if self.which(tool) is None:
            because = f" ({why})" if why else ""
            raise SetupError(f"setup step '{step}' needs {tool}, which is not on PATH{because}: install {tool} and rerun")

    def _step(self, name: str, argv: list[str], *, cwd: Path | None = None, extra_env: dict | None = None,
              input: str | None = None) -> Ran:
        self.log(f"==> {name}: {' '.join(argv)}")
        env = dict(self.env, **(extra_env or {}))
        try:
            ran = self.run(argv, cwd=cwd, env=env, input=input)
        except FileNotFoundError:
            raise SetupError(f"setup step '{name}' needs {argv[0]}, which is not there") from None
        except OSError as exc:
            raise SetupError(f"setup step '{name}' could not start {argv[0]}: {exc.strerror or exc}") from None
        if ran.returncode != 0:
            detail = _last_line(ran.output)
            hint = " (is the network reachable?)" if _NETWORK_TROUBLE.search(ran.output) else ""
            raise SetupError(f"setup step '{name}' failed (exit {ran.returncode}){hint}: {detail}")
        return ran


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    line = lines[-1] if lines else "no output"
    return line if len(line) <= 300 else line[:297] + "..."


def setup_lean(toolchain: str = DEFAULT_TOOLCHAIN, directory: str | os.PathLike | None = None,
               mathlib_rev: str | None = None, *, mathlib_git: str | None = None, repl_rev: str | None = None,
               run: Runner | None = None, which: Callable[[str], str | None] | None = None,
               log: Callable[[str], None] = lambda line: None, echo_output: bool = False,
               env: dict | None = None) -> dict:
    """Create (or bring up to date) the pinned Lean project and record it; returns the record."""
    pin = pin_for(toolchain, mathlib_rev, mathlib_git, repl_rev)
    target = Path(directory) if directory is not None else default_directory(pin)
    return LeanSetup(pin, target, run=run, which=which, log=log, echo_output=echo_output,
                     env=dict(os.environ) if env is None else dict(env)).execute()


# -- `prover setup lean` ------------------------------------------------------------------------------------------
@click.command("lean")
@click.option("--toolchain", default="v4.24.0", show_default=True,
              help="Lean release to pin (minif2f-lean4: v4.24.0, minif2f-lean4-deepseek: v4.9.0)")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="where to create the Lake project (default: in the cache, one per toolchain)")
@click.option("--mathlib-rev", help="Mathlib git revision (default: the benchmark's pin for this toolchain)")
@click.option("--mathlib-git", help="Mathlib repository (default: the benchmark's, usually leanprover-community/mathlib4)")
@click.option("--repl-rev", help="leanprover-community/repl tag or branch (default: the toolchain's tag)")
@click.option("--quiet", is_flag=True, help="do not pass on the tools' own output")
def setup_lean_command(toolchain, directory, mathlib_rev, mathlib_git, repl_rev, quiet):
    """A Lake project pinned to the benchmark's Lean and Mathlib, with the REPL built; recorded for `prove`."""
    with setup_errors(SetupError):
        record = setup_lean(toolchain, directory, mathlib_rev, mathlib_git=mathlib_git, repl_rev=repl_rev,
                            log=lambda line: click.echo(line, err=True), echo_output=not quiet)
    click.echo(f"Lean project ready: {record['project']} ({record['toolchain']}); recorded in {record_path()}")
