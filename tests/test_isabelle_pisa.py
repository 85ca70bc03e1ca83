"""The PISA client and the Isabelle backend at the protocol level, against a TEST DOUBLE of a PISA server
(tests/isabelle_pisa_double.py: PISA's gRPC service and tagged commands, scripted Isabelle replies).

Nothing here runs Isabelle: these tests show the client speaks PISA's protocol and the backend and search
use it correctly (states, branching, errors, finished proofs, Sledgehammer, timeouts, server death).
tests/test_isabelle_live.py runs against a real Isabelle when there is one.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

pytest.importorskip("grpc")

from isabelle_env.backend import AUTOMATION_TACTICS, SLEDGEHAMMER, IsabelleBackend, apply_form, render_proof
from isabelle_env.bridge import ServerDied, split_header, subgoal_count, theory_header
from isabelle_env.pisa_client import PisaClient, PisaPool
from isabelle_env.pisa_launcher import PisaLauncher
from isabelle_env.pisa_wire import decode_text, encode_text
from prover.backend import Timeouts
from prover.testing import ReplayGenerator
from prover.search import SearchConfig, Status, best_first_search
from prover.types import Advanced, BackendUnavailable, Failed, Proved, StatementError, Theorem, TimedOut

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from isabelle_pisa_double import (  # noqa: E402
    CLOSED_STATEMENT,
    NO_SUBGOALS,
    S0,
    S1,
    S2,
    TOY_HEADER,
    TOY_STATEMENT,
    PisaDouble,
    toy_script,
)

DOUBLE_SCRIPT = Path(__file__).with_name("isabelle_pisa_double.py")
PROTO = Path(__file__).resolve().parent.parent / "isabelle_env" / "pisa" / "server.proto"
HOME = "/opt/Isabelle2022"  # a path on the "server's machine": the double only records it
TOY = Theorem("toy_double", TOY_STATEMENT, TOY_HEADER, "isabelle", split="valid", benchmark="test-double")
FAST = dict(host="127.0.0.1", isabelle_home=HOME, grace=0.1, probe_timeout=2.0, connect_timeout=5.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DoubleLauncher:
    """TEST DOUBLE of a launcher: "starts a PISA server" by starting a PisaDouble on the port in-process.
    Faults in the script (die_on) apply to the first server only, as a crash would not recur."""

    startup_timeout = 10.0

    def __init__(self, script):
        self.script = script
        self.started: list[PisaDouble] = []

    def start(self, port: int) -> PisaDouble:
        script = self.script if not self.started else dataclasses.replace(self.script, die_on=None)
        double = PisaDouble(script, port=port).start()
        self.started.append(double)
        return double

    def stop(self, handle) -> None:
        handle.stop()

    def describe(self, handle) -> str:
        return ""


@pytest.fixture
def double():
    server = PisaDouble(toy_script()).start()
    yield server
    server.stop()


@pytest.fixture
def client(double):
    with PisaClient(double.port, **FAST) as c:
        yield c


@pytest.fixture
def backend(client):
    with IsabelleBackend(client, sledgehammer_timeout=2.0, timeouts=Timeouts(statement=5.0)) as b:
        yield b


@pytest.fixture(autouse=True)
def no_shared_pools():
    yield
    PisaPool.close_shared()


# -- the wire format ----------------------------------------------------------------------------------------
def test_codec_round_trips_and_skips_unknown_fields():
    for text in ["", "by auto", "goal (1 subgoal):\n 1. x ≤ y", "\\<And>n. P n" * 500]:
        assert decode_text(encode_text(text)) == text
    assert encode_text("ab") == b"\x0a\x02ab"
    extra = b"\x10\x96\x01" + b"\x1a\x03xyz" + encode_text("kept") + b"\x25\x00\x00\x00\x00"
    assert decode_text(extra) == "kept"


def _protobuf_classes():
    """PISA's messages built with the protobuf runtime from a descriptor: an encoder independent of ours."""
    descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
    from google.protobuf import descriptor_pool, message_factory

    proto = descriptor_pb2.FileDescriptorProto(name="pisa_check.proto", package="server", syntax="proto3")
    for message, field in [("IsaPath", "path"), ("IsaContext", "context"), ("IsaCommand", "command"),
                           ("IsaMessage", "message"), ("IsaState", "state")]:
        m = proto.message_type.add(name=message)
        m.field.add(name=field, number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                    label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"server.{name}"))
            for name in ("IsaCommand", "IsaState")}


def test_codec_matches_protobuf_runtime():
    classes = _protobuf_classes()
    for text in ["", "<apply to top level state> a <apply to top level state> by simp <apply to top level state> b", "∀x. x"]:
        assert encode_text(text) == classes["IsaCommand"](command=text).SerializeToString()
        assert decode_text(classes["IsaState"](state=text).SerializeToString()) == text


def test_proto_file_declares_what_the_client_calls(tmp_path):
    protoc = pytest.importorskip("grpc_tools.protoc")
    assert protoc.main(["protoc", f"-I{PROTO.parent}", f"--python_out={tmp_path}", str(PROTO)]) == 0
    sys.path.insert(0, str(tmp_path))
    try:
        generated = importlib.import_module("server_pb2")
    finally:
        sys.path.remove(str(tmp_path))
    service = generated.DESCRIPTOR.services_by_name["Server"]
    assert service.full_name == "server.Server"
    assert {m.name: (m.input_type.name, m.output_type.name) for m in service.methods} == {
        "InitialiseIsabelle": ("IsaPath", "IsaMessage"),
        "IsabelleContext": ("IsaContext", "IsaMessage"),
        "IsabelleWorkingDirectory": ("IsaPath", "IsaMessage"),
        "IsabelleCommand": ("IsaCommand", "IsaState"),
    }
    assert encode_text("by auto") == generated.IsaCommand(command="by auto").SerializeToString()


# -- headers and states ---------------------------------------------------------------------------------------
def test_header_parsing():
    header = split_header(TOY_HEADER)
    assert header.name == "toy_double" and header.imports == ("Complex_Main",) and header.rest == ""
    assert header.text == "theory toy_double imports Complex_Main begin"
    two = split_header('theory t imports Complex_Main "HOL-Library.Sum_of_Squares"\nbegin\ndefinition "f = 1"')
    assert two.imports == ("Complex_Main", '"HOL-Library.Sum_of_Squares"') and two.rest == 'definition "f = 1"'
    assert split_header("Require Import Reals.") is None
    assert theory_header(["Complex_Main", "HOL-Number_Theory.Number_Theory"]) == (
        'theory Scratch imports Complex_Main "HOL-Number_Theory.Number_Theory" begin')
    assert (subgoal_count(S1), subgoal_count(S2), subgoal_count(NO_SUBGOALS), subgoal_count("")) == (2, 1, 0, None)
    assert apply_form("by (metis foo)") == "apply (metis foo)"
    assert apply_form("using assms by auto") == "using assms apply auto"
    assert apply_form("apply simp") is None


# -- the client -----------------------------------------------------------------------------------------------
def test_client_sets_up_pisa_and_keeps_named_states(client, double):
    thy = client.initialise("thy", header=split_header(TOY_HEADER).text)
    assert thy.ok and thy.proof_level == 0
    assert double.setup == {
        "isabelle": HOME,
        "working_dir": f"{HOME}/src/HOL/Examples",
        "theory_file": f"{HOME}/src/HOL/Examples/Interactive.thy",
    }
    root = client.step("thy", TOY_STATEMENT, "root", 5.0)
    assert (root.state, root.proof_level, root.finished) == (S0, 1, False)
    branch = client.step("root", "apply (induct n)", "b1", 5.0)
    assert branch.state == S1 and client.proof_level("b1") == 1
    again = client.step("root", "apply (induct n)", "b2", 5.0)  # the root is still there: states persist
    assert again.state == S1
    client.clone("b1", "b1_copy")
    client.delete("b2")
    assert set(client.list()) == {"default", "thy", "root", "b1", "b1_copy"}
    refused = client.step("root", "apply nonsense", "x", 5.0)
    assert refused.error.startswith("Step error: Failed to apply initial proof method") and not refused.timed_out
    assert client.step("nowhere", "by simp", "x", 5.0).error.startswith("Didn't find top level state")
    assert client.step("b1", "apply simp", "b3", 5.0).state == S2
    closed = client.step("b3", "by auto", "b4", 5.0)
    assert closed.finished and client.proof_level("b4") == 0
    assert "x" not in client.list()


def test_client_boots_isabelle_once(client, double):
    client.initialise("a", header="theory A imports Complex_Main begin")
    client.initialise("b", imports=["Complex_Main"])
    assert sum(t == "<initialise>" for t in double.log) == 1
    assert client.generation == 0


def test_client_reads_header_and_folder_from_a_theory_file(client, double, tmp_path):
    thy = tmp_path / "Interactive.thy"
    thy.write_text("theory Interactive\n  imports Complex_Main\nbegin\n\nend\n")
    assert client.initialise("thy", theory_file=str(thy)).ok
    assert double.setup["theory_file"] == str(thy) and double.setup["working_dir"] == str(tmp_path)


def test_client_timeouts(client, double):
    client.initialise("thy", header=split_header(TOY_HEADER).text)
    client.step("thy", TOY_STATEMENT, "root", 5.0)
    slow = client.step("root", "apply slow_method", "late", 0.2)  # the double answers after 5 s
    assert slow.timed_out and slow.error is None
    assert double.log[-1] == "<list states>"  # it checked the server still answers
    limited = client.step("root", "apply pisa_limit", "x", 5.0)  # PISA's own 10 s limit
    assert limited.timed_out
    assert client.step("root", "apply (induct n)", "b1", 5.0).state == S1  # and goes on


def test_client_sledgehammer(client, double):
    client.initialise("thy", header=split_header(TOY_HEADER).text)
    client.step("thy", TOY_STATEMENT, "root", 5.0)
    client.step("root", "apply (induct n)", "s1", 5.0)
    client.step("s1", "apply simp", "s2", 5.0)
    names = set(client.list())
    assert client.sledgehammer("s2", 5.0) == "by (metis mult_2)"
    assert any("normalhammer" in t for t in double.log)
    assert set(client.list()) == names and client.proof_level("s2") == 1  # only the text is taken
    assert client.sledgehammer("root", 5.0) is None


def test_client_without_a_server_says_how_to_get_one():
    with pytest.raises(ServerDied, match="prover setup isabelle") as info:
        PisaClient(free_port(), host="127.0.0.1", isabelle_home=HOME, connect_timeout=5.0)  # refused at once
    assert isinstance(info.value, BackendUnavailable) and "\n" not in str(info.value)


def test_client_needs_the_isabelle_home(double):
    with pytest.raises(BackendUnavailable, match="LLEMMA_PROVER_ISABELLE_HOME"):
        PisaClient(double.port, host="127.0.0.1")


def test_bad_context_file_is_a_clear_error(double):
    with PisaClient(double.port, **FAST, theory_file=f"{HOME}/missing/Interactive.thy") as client:
        with pytest.raises(BackendUnavailable, match="could not start Isabelle"):
            client.initialise("thy", imports=["Complex_Main"])


# -- the backend ----------------------------------------------------------------------------------------------
def test_backend_branches_on_named_states(backend, double):
    root = backend.open(TOY)
    assert root.goals == S0 and root.depth == 0
    induct = backend.run_tactic(root, "apply (induct n)", 5.0)
    assert isinstance(induct, Advanced) and induct.state.goals == S1 and induct.state.depth == 1
    assert isinstance(backend.run_tactic(root, "apply simp", 5.0), Failed)  # back on the root: no replay
    hammered = backend.run_tactic(induct.state, SLEDGEHAMMER, 5.0)
    assert isinstance(hammered, Advanced) and hammered.state.goals == S2  # it proved the first of two goals
    closed = backend.run_tactic(hammered.state, "apply auto", 5.0)
    assert closed == Proved(("apply (induct n)", "apply simp", "apply auto", "done"))  # `done` added
    by_hammer = backend.run_tactic(hammered.state, "sledgehammer", 5.0)
    assert by_hammer == Proved(("apply (induct n)", "apply simp", "by (metis mult_2)"))
    assert backend.replays == 0
    applied = [t.split("<apply to top level state>")[2].strip() for t in double.log if t.startswith("<apply")]
    assert applied.count("apply (induct n)") == 1  # each state was reached once


def test_backend_refuses_fake_proofs_before_sending(backend, double):
    root = backend.open(TOY)
    sent = len(double.log)
    for cheat in ["sorry", "oops", "apply (tactic \\<open>Skip_Proof.cheat_tac @{context} 1\\<close>)", "  "]:
        assert isinstance(backend.run_tactic(root, cheat, 5.0), Failed)
    assert len(double.log) == sent


def test_backend_errors_and_timeouts(backend):
    root = backend.open(TOY)
    failed = backend.run_tactic(root, "apply nonsense", 5.0)
    assert isinstance(failed, Failed) and "Failed to apply initial proof method" in failed.error
    assert "\n" not in failed.error
    assert backend.run_tactic(root, "apply slow_method", 0.2) == TimedOut(0.2)
    assert isinstance(backend.run_tactic(root, "apply pisa_limit", 5.0), TimedOut)
    assert isinstance(backend.run_tactic(root, "apply (induct n)", 5.0), Advanced)


def test_backend_statement_errors(backend):
    with pytest.raises(StatementError, match="Bad theory import"):
        backend.open(Theorem("m", TOY_STATEMENT, "theory m imports Missing_Theory begin", "isabelle"))
    with pytest.raises(StatementError, match="statement rejected"):
        backend.open(Theorem("m", 'theorem m: "1 = (2::nat)" and', TOY_HEADER, "isabelle"))
    with pytest.raises(StatementError, match="opens no proof"):
        backend.open(Theorem("closed_already", CLOSED_STATEMENT, TOY_HEADER, "isabelle"))
    with pytest.raises(StatementError, match="theory"):
        backend.open(Theorem("m", TOY_STATEMENT, "Require Import Reals.", "isabelle"))


def test_backend_frees_the_last_theorems_states(backend, client):
    root = backend.open(TOY)
    backend.run_tactic(root, "apply (induct n)", 5.0)
    assert {"t1_0", "t1_1", "t1_theory"} <= set(client.list())
    backend.open(TOY)
    assert not any(n.startswith("t1_") for n in client.list()) and "t2_0" in client.list()


def test_render_and_automation(backend):
    tactics = ("apply (induct n)", "apply simp", "by auto")
    text = backend.render_proof(TOY, tactics)
    assert text == render_proof(TOY, tactics)
    assert text.startswith(TOY_HEADER) and text.endswith("  by auto\n\nend\n") and TOY_STATEMENT in text
    assert backend.automation_tactics() == [*AUTOMATION_TACTICS, SLEDGEHAMMER]
    assert AUTOMATION_TACTICS[0] == "by auto" and AUTOMATION_TACTICS[-1] == "by (auto simp: field_simps)"


def test_verify_checks_the_rendered_theory_with_the_backends_checker(client):
    seen = []

    def checker(text):  # TEST DOUBLE of a fresh-session checker: refuses with an error at line 1
        seen.append(text)
        return False, [{"kind": "error", "message": "double refuses", "pos": {"line": 1}}]

    backend = IsabelleBackend(client, checker=checker)
    verdict = backend.verify(TOY, ("by auto",))
    assert not verdict.accepted and "double refuses" in verdict.reason
    rendered = render_proof(TOY, ("by auto",))
    assert len(seen) == 1 and seen[0].startswith(rendered[:rendered.rindex("end")].rstrip())  # plus the oracle probe
    assert backend.verify(TOY, ("sorry",)).reason.startswith("the proof uses `sorry`") and len(seen) == 1


def test_verify_without_a_live_checker_rejects(client, monkeypatch):
    def no_isabelle(timeout):
        raise BackendUnavailable("statically clean, but cannot check live: no Isabelle")

    monkeypatch.setattr("isabelle_env.checker.live_checker", no_isabelle)
    verdict = IsabelleBackend(client).verify(TOY, ("by auto",))
    assert not verdict.accepted and "cannot check live" in verdict.reason


def test_best_first_search_over_the_double(backend):
    generator = ReplayGenerator(["apply (induct n)", "apply simp"])
    config = SearchConfig(max_expansions=10, budget_seconds=60, tactic_timeout=2.0)
    result = best_first_search(TOY, backend, generator, config, verify=False)
    assert result.status is Status.PROVED
    assert result.tactics == ("apply (induct n)", "apply simp", "by auto")
    assert result.proof.script == render_proof(TOY, result.tactics)
    assert result.expansions == 3 and backend.replays == 0


# -- server death ---------------------------------------------------------------------------------------------
def test_server_death_without_launcher_is_a_clear_error(backend, double):
    root = backend.open(TOY)
    double.stop()
    with pytest.raises(ServerDied, match="no launcher is configured") as info:
        backend.run_tactic(root, "apply (induct n)", 5.0)
    assert isinstance(info.value, BackendUnavailable) and "127.0.0.1" in str(info.value)


def test_server_stopped_mid_run_is_restarted_and_states_replayed():
    launcher = DoubleLauncher(toy_script())
    with PisaClient(free_port(), **FAST, launcher=launcher) as client:
        with IsabelleBackend(client, timeouts=Timeouts(statement=5.0)) as backend:
            root = backend.open(TOY)
            induct = backend.run_tactic(root, "apply (induct n)", 5.0)
            launcher.started[0].stop()  # the server goes away between two tactics
            step = backend.run_tactic(induct.state, "apply simp", 5.0)
            assert isinstance(step, Advanced) and step.state.goals == S2
            assert client.restarts == 1 and client.generation == 1 and backend.replays == 1
            replayed = launcher.started[1].log
            assert any(TOY_STATEMENT in t for t in replayed) and any("apply (induct n)" in t for t in replayed)
            # later states on the same branch need no further replay
            assert isinstance(backend.run_tactic(step.state, "by auto", 5.0), Proved)
            assert backend.replays == 1


def test_server_dying_during_a_call_is_restarted():
    script = toy_script()
    script.die_on = "apply simp"
    launcher = DoubleLauncher(script)
    with PisaClient(free_port(), **FAST, launcher=launcher) as client:
        with IsabelleBackend(client, timeouts=Timeouts(statement=5.0)) as backend:
            root = backend.open(TOY)
            induct = backend.run_tactic(root, "apply (induct n)", 5.0)
            step = backend.run_tactic(induct.state, "apply simp", 5.0)
            assert isinstance(step, Advanced) and step.state.goals == S2
            assert len(launcher.started) == 2 and client.restarts == 1


def test_wedged_server_is_replaced_after_a_timeout():
    launcher = DoubleLauncher(toy_script())
    options = {**FAST, "probe_timeout": 0.3}
    with PisaClient(free_port(), **options, launcher=launcher) as client:
        with IsabelleBackend(client, timeouts=Timeouts(statement=5.0)) as backend:
            root = backend.open(TOY)
            launcher.started[0].wedge()
            assert backend.run_tactic(root, "apply (induct n)", 0.2) == TimedOut(0.2)
            step = backend.run_tactic(root, "apply (induct n)", 5.0)
            assert isinstance(step, Advanced) and step.state.goals == S1
            assert len(launcher.started) == 2 and client.restarts == 1


def test_launcher_restarts_a_killed_server_process(tmp_path):
    port = free_port()
    launcher = PisaLauncher(f"{sys.executable} {DOUBLE_SCRIPT} --port {{port}}", startup_timeout=30.0,
                            log_dir=str(tmp_path))
    with PisaClient(port, **FAST, launcher=launcher) as client:
        first = client.process
        with IsabelleBackend(client, timeouts=Timeouts(statement=5.0)) as backend:
            root = backend.open(TOY)
            os.killpg(first.pid, signal.SIGKILL)  # the server crashes
            first.wait()
            step = backend.run_tactic(root, "apply (induct n)", 5.0)
            assert isinstance(step, Advanced) and step.state.goals == S1
            second = client.process
            assert second.pid != first.pid and second.poll() is None and client.restarts == 1
    assert second.poll() is not None  # closing the client ended the server it started
    assert "test double: PISA protocol" in (tmp_path / f"pisa-{port}-{os.getpid()}.log").read_text()


# -- several servers and the settings ------------------------------------------------------------------------
def test_pool_hands_out_each_server_once():
    doubles = [PisaDouble(toy_script()).start() for _ in range(2)]
    try:
        pool = PisaPool([free_port(), *(d.port for d in doubles)], **FAST)
        first, second = pool.acquire(), pool.acquire()  # the port with no server is skipped
        assert {first.port, second.port} == {d.port for d in doubles}
        with pytest.raises(BackendUnavailable):
            pool.acquire()
        pool.release(first)
        with pool.lease() as again:
            assert again is first
        pool.close()
    finally:
        for d in doubles:
            d.stop()


def test_backend_from_environment(double, monkeypatch):
    monkeypatch.setenv("LLEMMA_PROVER_PISA_PORTS", str(double.port))
    monkeypatch.setenv("LLEMMA_PROVER_PISA_HOST", "127.0.0.1")
    monkeypatch.setenv("LLEMMA_PROVER_ISABELLE_HOME", HOME)
    with IsabelleBackend(timeouts=Timeouts(statement=5.0)) as backend:
        assert backend.open(TOY).goals == S0
    with IsabelleBackend(timeouts=Timeouts(statement=5.0)) as backend:  # the port was given back on close
        assert backend.open(TOY).goals == S0


def test_backend_without_server_is_unavailable(monkeypatch):
    monkeypatch.setenv("LLEMMA_PROVER_PISA_PORTS", str(free_port()))
    monkeypatch.setenv("LLEMMA_PROVER_PISA_HOST", "127.0.0.1")
    monkeypatch.setenv("LLEMMA_PROVER_ISABELLE_HOME", HOME)
    monkeypatch.delenv("LLEMMA_PROVER_PISA_LAUNCH", raising=False)
    with pytest.raises(BackendUnavailable, match="prover setup isabelle"):
        IsabelleBackend(connect_timeout=5.0)
    with pytest.raises(BackendUnavailable, match="unknown Isabelle driver"):
        IsabelleBackend(driver="hol-light")
