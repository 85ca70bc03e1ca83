"""`prover setup isabelle` as a plan of commands: the subprocess runner, the server spawner and the port
probe are injected (no Isabelle here), so each test asserts what would run, in which order, and the one
line a failure gives. The Isabelle server in the `server` driver test is the TEST DOUBLE from
isabelle_server_double.py."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from isabelle_server_double import SessionServerDouble

from isabelle_env.setup import (
    HEAP_SESSIONS,
    ISABELLE_MISSING,
    PISA_LAUNCH,
    Ran,
    SetupError,
    find_isabelle,
    read_record,
    record_path,
    setup_isabelle,
    start_or_find_server,
)

ISABELLE = "/opt/Isabelle2022/bin/isabelle"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


class Plan:
    """Injected runner and spawner: records every command, answers like Isabelle's tools would."""

    def __init__(self, *, fail: dict | None = None, server_line: str | None = None, server_running: bool = True):
        self.ran: list[list[str]] = []
        self.spawned: list[tuple[list[str], Path | None]] = []
        self.fail = fail or {}
        self.server_line = server_line
        self.server_running = server_running

    def run(self, argv, *, cwd=None, env=None):
        self.ran.append(list(argv))
        key = " ".join(argv[1:3])
        if key in self.fail:
            return Ran(1, self.fail[key])
        if argv[1:] == ["version"]:
            return Ran(0, "Isabelle2022\n")
        if argv[1:3] == ["getenv", "-b"]:
            return Ran(0, "/opt/Isabelle2022\n")
        return Ran(0, "Finished HOL-Number_Theory (0:12:34 elapsed time)\n")

    def spawn(self, argv, *, cwd=None, env=None, log):
        self.spawned.append((list(argv), cwd))
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text((self.server_line + "\n") if self.server_line else "")
        running = self.server_running

        class Proc:
            def poll(self):
                return None if running else 0

        return Proc()


def env_with_isabelle_on_path():
    return {"PATH": "/opt/Isabelle2022/bin"}


def which_isabelle(tool):
    return ISABELLE if tool == "isabelle" else None


def test_server_driver_plan_and_record():
    double = SessionServerDouble(lambda text: (True, []))
    with double:
        plan = Plan(server_line=f'server "llemma-prover" = 127.0.0.1:{double.port} (password "{double.password}")')
        record = setup_isabelle("server", jobs=2, run=plan.run, spawn=plan.spawn, which=which_isabelle,
                                env=env_with_isabelle_on_path(), sleep=lambda s: None)
    assert not double.errors
    assert plan.ran == [
        [ISABELLE, "version"],
        [ISABELLE, "getenv", "-b", "ISABELLE_HOME"],
        [ISABELLE, "build", "-b", "-j", "2", "HOL-Library", "HOL-Computational_Algebra", "HOL-Number_Theory"],
    ]
    (argv, _), = plan.spawned
    assert argv[:4] == [ISABELLE, "server", "-n", "llemma-prover"] and argv[4] == "-L"
    assert [name for name, _ in double.commands] == ["session_start", "session_stop"]  # the smoke test
    assert double.commands[0][1]["session"] == "HOL-Number_Theory"
    assert record["server"] == {"name": "llemma-prover", "host": "127.0.0.1", "port": double.port,
                                "password": double.password}
    assert record["version"] == "Isabelle2022" and record["heaps"] == list(HEAP_SESSIONS)
    assert read_record() == record
    assert stat.S_IMODE(record_path().stat().st_mode) == 0o600  # it holds the password


def test_missing_isabelle_is_one_line():
    with pytest.raises(SetupError) as caught:
        setup_isabelle("server", run=Plan().run, which=lambda tool: None, env={"PATH": "/usr/bin"})
    assert str(caught.value) == ISABELLE_MISSING
    with pytest.raises(SetupError, match="/nowhere/bin/isabelle is not there"):
        setup_isabelle("server", run=Plan().run, env={"PATH": "", "ISABELLE_HOME": "/nowhere"})


def test_isabelle_home_wins_over_path(tmp_path):
    home = tmp_path / "Isabelle2022"
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "isabelle").write_text("#!/bin/sh\n")
    assert find_isabelle({"ISABELLE_HOME": str(home)}, which_isabelle) == str(home / "bin" / "isabelle")
    assert find_isabelle({"LLEMMA_PROVER_ISABELLE_HOME": str(home), "ISABELLE_HOME": "/x"}) == str(home / "bin" / "isabelle")
    assert find_isabelle({}, which_isabelle) == ISABELLE


def test_failed_build_names_the_step():
    plan = Plan(fail={"build -b": "*** HOL-Number_Theory FAILED\n*** Out of memory"})
    with pytest.raises(SetupError, match=r"setup step 'build the heaps' failed \(exit 1\): \*\*\* Out of memory"):
        setup_isabelle("server", run=plan.run, spawn=plan.spawn, which=which_isabelle, env=env_with_isabelle_on_path())
    assert plan.spawned == []


def test_server_that_prints_no_address():
    plan = Plan(server_line="Exception: cannot bind", server_running=False)
    with pytest.raises(SetupError, match="start the Isabelle server' printed no address: Exception: cannot bind"):
        setup_isabelle("server", skip_build=True, run=plan.run, spawn=plan.spawn, which=which_isabelle,
                       env=env_with_isabelle_on_path(), sleep=lambda s: None)
    assert [argv[1] for argv in plan.ran] == ["version", "getenv"]  # skip_build: no build step


def test_start_or_find_reports_a_found_server(tmp_path):
    plan = Plan(server_line='server "x" = 127.0.0.1:4711 (password "pw")', server_running=False)
    address, started = start_or_find_server(ISABELLE, "x", log_dir=tmp_path, spawn=plan.spawn, sleep=lambda s: None)
    assert (address.port, address.password, started) == (4711, "pw", False)


def test_pisa_driver_plan(tmp_path):
    pisa = tmp_path / "Portal-to-ISAbelle"
    pisa.mkdir()
    (pisa / "build.sbt").write_text("")
    plan = Plan()
    probes = iter([False, False, True])  # nothing there yet; listening after one wait
    record = setup_isabelle("pisa", jobs=4, pisa_dir=pisa, run=plan.run, spawn=plan.spawn,
                            which=lambda tool: f"/usr/bin/{tool}" if tool in ("isabelle", "sbt") else None,
                            port_open=lambda host, port: next(probes), env={"PATH": "/usr/bin"}, sleep=lambda s: None)
    assert plan.spawned == [(["sbt", "runMain pisa.server.PisaOneStageServer9000"], pisa)]
    assert record["pisa"] == {"dir": str(pisa), "host": "127.0.0.1", "port": 9000, "started": True}
    assert record["environment"] == {
        "LLEMMA_PROVER_ISABELLE_DRIVER": "pisa", "LLEMMA_PROVER_PISA_PORTS": "9000",
        "LLEMMA_PROVER_PISA_DIR": str(pisa), "LLEMMA_PROVER_ISABELLE_HOME": "/opt/Isabelle2022",
        "LLEMMA_PROVER_PISA_LAUNCH": PISA_LAUNCH}


def test_pisa_driver_finds_a_running_server_and_needs_its_checkout(tmp_path):
    pisa = tmp_path / "pisa"
    pisa.mkdir()
    (pisa / "build.sbt").write_text("")
    plan = Plan()
    record = setup_isabelle("pisa", skip_build=True, pisa_dir=pisa, run=plan.run, spawn=plan.spawn,
                            which=which_isabelle, port_open=lambda host, port: True, env=env_with_isabelle_on_path())
    assert plan.spawned == [] and record["pisa"]["started"] is False
    with pytest.raises(SetupError, match="pass --pisa-dir DIR or set LLEMMA_PROVER_PISA_DIR"):
        setup_isabelle("pisa", skip_build=True, run=plan.run, which=which_isabelle, env=env_with_isabelle_on_path())
    with pytest.raises(SetupError, match="needs sbt, which is not on PATH"):
        setup_isabelle("pisa", skip_build=True, pisa_dir=pisa, run=plan.run, which=which_isabelle,
                       port_open=lambda host, port: False, env=env_with_isabelle_on_path())


def test_isarepl_driver_plan(tmp_path):
    repl = tmp_path / "Isa-REPL"
    repl.mkdir()
    (repl / "repl_server.sh").write_text("#!/bin/sh\n")
    plan = Plan()
    probes = iter([False, True])
    record = setup_isabelle("isarepl", skip_build=True, isarepl_dir=repl, run=plan.run, spawn=plan.spawn,
                            which=which_isabelle, port_open=lambda host, port: next(probes),
                            env=env_with_isabelle_on_path(), sleep=lambda s: None)
    assert plan.ran[-1] == [ISABELLE, "components", "-u", str(repl)]
    (argv, cwd), = plan.spawned
    assert argv[:3] == [str(repl / "repl_server.sh"), "127.0.0.1:6666", "HOL-Number_Theory"] and cwd == repl
    assert record["environment"] == {"LLEMMA_PROVER_ISABELLE_DRIVER": "isarepl",
                                     "LLEMMA_PROVER_ISAREPL_ADDRESS": "127.0.0.1:6666"}
    assert json.loads(record_path().read_text())["isarepl"]["port"] == 6666


def test_unknown_driver():
    with pytest.raises(SetupError, match="unknown driver"):
        setup_isabelle("coqtop")
