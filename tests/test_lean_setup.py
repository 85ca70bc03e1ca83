"""`prover setup lean`: the exact command plan and files for a benchmark's pin, with a TEST DOUBLE runner
standing in for the tools; and real failures (no git, an unreachable download) as one clear line, fast."""
import json
import shutil
from pathlib import Path

import pytest

from lean_env import setup as lean_setup
from lean_env.repl import find_project, setup_record
from lean_env.setup import ELAN_INIT_URL, REPL_GIT, Ran, SetupError, setup_lean

MATHLIB = "https://github.com/leanprover-community/mathlib4"


class ToolRunnerTestDouble:
    """TEST DOUBLE for the subprocess runner: records every command and answers as the real tool would when
    it succeeds (elan-init.sh leaves an elan binary; the REPL answers with Lean's version)."""

    def __init__(self, elan_home: Path, version: str = "4.24.0", fail_on: tuple[str, ...] = (), output: str = ""):
        self.elan_home, self.version, self.fail_on, self.output = elan_home, version, fail_on, output
        self.calls = []

    def __call__(self, argv, *, cwd=None, env=None, input=None):
        self.calls.append({"argv": list(argv), "cwd": cwd, "input": input,
                           "no_cache_hook": (env or {}).get("MATHLIB_NO_CACHE_ON_UPDATE")})
        if any(word in " ".join(argv) for word in self.fail_on):
            return Ran(1, self.output)
        if argv[0] == "sh":
            (self.elan_home / "bin").mkdir(parents=True, exist_ok=True)
            for tool in ("elan", "lake", "lean"):
                (self.elan_home / "bin" / tool).write_text("#!/bin/sh\n")
        if argv[1:2] == ["env"]:
            return Ran(0, '{"messages":\n [{"severity": "info", "data": "\\"' + self.version + '\\""}],\n "env": 0}')
        return Ran(0, "ok")

    @property
    def argvs(self):
        return [c["argv"] for c in self.calls]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LLEMMA_PROVER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LLEMMA_PROVER_LEAN_PROJECT", raising=False)
    return tmp_path / "cache"


def no_elan_on_path(tool):
    return None if tool == "elan" else f"/usr/bin/{tool}"


def test_the_v4_24_plan_installs_elan_pins_lean_and_mathlib_builds_the_repl_and_records_it(tmp_path, cache):
    elan_home, project = tmp_path / "elan", tmp_path / "project"
    runner = ToolRunnerTestDouble(elan_home)
    record = setup_lean("v4.24.0", project, run=runner, which=no_elan_on_path, env={"ELAN_HOME": str(elan_home), "PATH": "/usr/bin"})
    elan, lake = str(elan_home / "bin" / "elan"), str(elan_home / "bin" / "lake")
    repl = project / "repl" / ".lake" / "build" / "bin" / "repl"
    assert runner.argvs == [
        ["curl", "-sSfL", ELAN_INIT_URL, "-o", str(project / "elan-init.sh")],
        ["sh", str(project / "elan-init.sh"), "-y", "--default-toolchain", "none"],
        [elan, "toolchain", "install", "leanprover/lean4:v4.24.0"],
        [lake, "update"],
        [lake, "exe", "cache", "get"],
        ["git", "clone", "--depth", "1", "--branch", "v4.24.0", REPL_GIT, str(project / "repl")],
        [lake, "build", "repl"],
        [lake, "env", str(repl)],
    ]
    cwds = [c["cwd"] for c in runner.calls]
    assert cwds[3:5] == [project, project] and cwds[6:] == [project / "repl", project]
    assert runner.calls[3]["no_cache_hook"] == "1"  # the cache is its own step, not Mathlib's update hook
    assert runner.calls[7]["input"] == '{"cmd": "#eval Lean.versionString"}\n\n'
    assert (project / "lean-toolchain").read_text() == "leanprover/lean4:v4.24.0\n"
    lakefile = (project / "lakefile.lean").read_text()
    assert f'require mathlib from git "{MATHLIB}" @ "v4.24.0"' in lakefile
    assert record == {"project": str(project), "toolchain": "leanprover/lean4:v4.24.0", "repl": str(repl),
                      "mathlib": {"git": MATHLIB, "rev": "v4.24.0"}, "repl_rev": "v4.24.0"}
    assert json.loads((cache / "lean" / "project.json").read_text()) == record


def test_the_record_is_what_the_repl_driver_reads(tmp_path, cache):
    project = tmp_path / "project"
    setup_lean("v4.24.0", project, run=ToolRunnerTestDouble(tmp_path / "elan"), which=no_elan_on_path,
               env={"ELAN_HOME": str(tmp_path / "elan"), "PATH": "/usr/bin"})
    assert setup_record()["project"] == str(project)
    assert find_project() == project


def test_an_installed_elan_is_used_as_is(tmp_path, cache):
    runner = ToolRunnerTestDouble(tmp_path / "elan")
    setup_lean("v4.24.0", tmp_path / "p", run=runner, which=lambda tool: f"/opt/elan/bin/{tool}", env={"PATH": "/usr/bin"})
    assert runner.argvs[0] == ["/opt/elan/bin/elan", "toolchain", "install", "leanprover/lean4:v4.24.0"]
    assert not any(argv[0] in ("curl", "sh") for argv in runner.argvs)


def test_the_deepseek_toolchain_pins_its_mathlib_fork_and_the_matching_repl_tag(tmp_path, cache):
    runner = ToolRunnerTestDouble(tmp_path / "elan", version="4.9.0")
    record = setup_lean("v4.9.0", tmp_path / "p", run=runner, which=lambda tool: f"/opt/elan/bin/{tool}", env={"PATH": ""})
    lakefile = (tmp_path / "p" / "lakefile.lean").read_text()
    assert 'require mathlib from git "https://github.com/xinhjBrant/mathlib4" @ "2f65ba7f1a9144b20c8e7358513548e317d26de1"' in lakefile
    assert ["git", "clone", "--depth", "1", "--branch", "v4.9.0", REPL_GIT, str(tmp_path / "p" / "repl")] in runner.argvs
    assert record["toolchain"] == "leanprover/lean4:v4.9.0"


def test_a_mathlib_rev_can_be_given(tmp_path, cache):
    setup_lean("v4.24.0", tmp_path / "p", "abc123", run=ToolRunnerTestDouble(tmp_path / "e"),
               which=lambda tool: f"/x/{tool}", env={"PATH": ""})
    assert '@ "abc123"' in (tmp_path / "p" / "lakefile.lean").read_text()


def test_a_failed_step_is_one_line_naming_it_and_suspecting_the_network(tmp_path, cache):
    runner = ToolRunnerTestDouble(tmp_path / "e", fail_on=("cache get",),
                                  output="Downloading...\ncurl: (6) Could not resolve host: lakecache.blob.core.windows.net")
    with pytest.raises(SetupError) as failure:
        setup_lean("v4.24.0", tmp_path / "p", run=runner, which=lambda tool: f"/x/{tool}", env={"PATH": ""})
    message = str(failure.value)
    assert "\n" not in message
    assert "download Mathlib's build cache" in message and "network" in message and "Could not resolve host" in message
    assert not (cache / "lean" / "project.json").exists()  # nothing is recorded for a half-made project


def test_a_repl_that_is_not_the_pinned_lean_fails_the_smoke_check(tmp_path, cache):
    runner = ToolRunnerTestDouble(tmp_path / "e", version="4.23.0")
    with pytest.raises(SetupError, match="check the REPL.*4.24.0"):
        setup_lean("v4.24.0", tmp_path / "p", run=runner, which=lambda tool: f"/x/{tool}", env={"PATH": ""})


def test_a_project_it_did_not_write_is_left_alone(tmp_path, cache):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "lakefile.lean").write_text("import Lake\npackage mine\n")
    with pytest.raises(SetupError, match="not written by `prover setup lean`"):
        setup_lean("v4.24.0", tmp_path / "p", run=ToolRunnerTestDouble(tmp_path / "e"), which=lambda t: f"/x/{t}",
                   env={"PATH": ""})


def test_a_toolchain_that_is_not_a_release_is_refused():
    with pytest.raises(SetupError, match="Lean release"):
        setup_lean("stable", run=ToolRunnerTestDouble(Path("/nonexistent")))


# -- real runs: the first step fails fast, with the reason in one line ---------------------------------
def test_without_git_on_path_setup_says_so(tmp_path, cache):
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(SetupError) as failure:
        setup_lean("v4.24.0", tmp_path / "p", env={"PATH": str(empty), "HOME": str(tmp_path)})
    assert str(failure.value) == ("setup step 'fetch Mathlib' needs git, which is not on PATH "
                                  "(Lake fetches Mathlib and the REPL with it): install git and rerun")


def test_without_curl_elan_cannot_be_installed(tmp_path, cache):
    if shutil.which("git") is None:
        pytest.skip("git is not on this machine")
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "git").symlink_to(shutil.which("git"))
    with pytest.raises(SetupError, match="'install elan' needs curl"):
        setup_lean("v4.24.0", tmp_path / "p", env={"PATH": str(tools), "ELAN_HOME": str(tmp_path / "elan")})


def test_an_unreachable_download_fails_in_one_line(tmp_path, cache, monkeypatch):
    if shutil.which("git") is None or shutil.which("curl") is None:
        pytest.skip("git and curl are needed to reach the download step")
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("git", "curl"):
        (tools / tool).symlink_to(shutil.which(tool))
    monkeypatch.setattr(lean_setup, "ELAN_INIT_URL", "http://127.0.0.1:9/elan-init.sh")  # nothing listens there
    with pytest.raises(SetupError) as failure:
        setup_lean("v4.24.0", tmp_path / "p", env={"PATH": str(tools), "ELAN_HOME": str(tmp_path / "elan")})
    message = str(failure.value)
    assert message.startswith("setup step 'install elan' failed (exit 7) (is the network reachable?): curl: (7)")
    assert "\n" not in message
