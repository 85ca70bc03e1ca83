"""CoqHammer in the Rocq backend, live: `hammer` runs with its helpers found off PATH, the step recorded is the
reconstruction tactic it printed (which replays with coqc and no ATP installed), the checker accepts the
reconstruction library, and the budget holds with the hammer tier on."""
import os
import shutil
import subprocess
import sys

import pytest

from coq_env import hammer
from coq_env.verify import RocqVerifier
from prover.generators import AutomationOnly
from prover.search import SearchConfig, Status, best_first_search
from prover.types import Advanced, Failed, Proved, Theorem

# `length (l1 ++ l2) = length (l2 ++ l1)` needs two stdlib premises (app_length, Nat.add_comm): none of the
# backend's automation list proves it, and hammer does.
LIST_LEMMA = Theorem("length_app_comm", "Lemma length_app_comm (A : Type) (l1 l2 : list A) : "
                     "length (l1 ++ l2) = length (l2 ++ l1).", "Require Import List.", "rocq")
FALSE_LEMMA = Theorem("false_lemma", "Lemma false_lemma (n : nat) : n * 0 = 1.", "", "rocq")


def test_the_replay_tactic_is_read_from_both_layouts_hammer_prints():
    assert hammer.replay_tactic("Replace the hammer tactic with: sfirstorder \nNo more goals.") == "sfirstorder"
    printed = ("Tactic scongruence succeeded.\nReplace the hammer tactic with:\n\tscongruence use: app_length, "
               "PeanoNat.Nat.add_comm.\nNo more goals.")
    assert hammer.replay_tactic(printed) == "scongruence use: app_length, PeanoNat.Nat.add_comm"
    assert hammer.replay_tactic("Hammer failed: ATPs failed to find a proof.") is None


def test_the_helpers_folder_is_appended_to_the_childs_path(tmp_path, monkeypatch):
    monkeypatch.setattr(hammer, "HELPERS_DIR", str(tmp_path))
    assert hammer.child_path("/usr/bin") == f"/usr/bin{os.pathsep}{tmp_path}"
    assert hammer.child_path(f"{tmp_path}") == str(tmp_path)  # not twice


def test_a_missing_helper_is_said_in_one_line_once(tmp_path, monkeypatch, capsys):
    if shutil.which("predict"):
        pytest.skip("predict is on this PATH itself")
    monkeypatch.setattr(hammer, "HELPERS_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv(hammer.ENV_SWITCH, raising=False)
    monkeypatch.setattr(hammer, "_said", False)
    hammer.unavailable_reason.cache_clear()
    try:
        assert hammer.available() is False and hammer.available() is False
    finally:
        hammer.unavailable_reason.cache_clear()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "predict" in err[0] and "apt-get install" in err[0]


def test_the_switch_turns_the_hammer_off(monkeypatch):
    monkeypatch.setenv(hammer.ENV_SWITCH, "0")
    assert hammer.available() is False


@pytest.mark.rocq
def test_our_automation_alone_does_not_prove_the_list_lemma(backend):
    state = backend.open(LIST_LEMMA)
    assert backend.hammer_tactics() == []  # the tests' default: switched off
    for tactic in backend.automation_tactics():
        outcome = backend.run_tactic(state, tactic, 5)
        assert not isinstance(outcome, Proved), tactic


@pytest.mark.rocq
def test_hammer_proves_the_list_lemma_and_its_replay_checks_without_atps(hammer_backend, tmp_path):
    result = best_first_search(LIST_LEMMA, hammer_backend, AutomationOnly(), SearchConfig(budget_seconds=60))
    assert result.status is Status.PROVED, result
    assert result.verdict.accepted and result.verdict.axioms == ()
    assert "hammer" not in " ".join(result.tactics)
    assert any(word in hammer.RECONSTRUCTION_TACTICS for word in result.tactics[-1].replace(".", " ").split())
    # The proof file replays with coqc alone on PATH: no ATP, no predict, no htimeout.
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "coqc").symlink_to(shutil.which("coqc"))
    proof = tmp_path / "Proof.v"
    proof.write_text(result.proof.script)
    assert hammer.TACTICS_IMPORT in result.proof.script
    compiled = subprocess.run(["coqc", str(proof)], cwd=tmp_path, env={"PATH": str(bare)}, capture_output=True,
                              text=True, timeout=120)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


@pytest.mark.rocq
def test_a_failed_hammer_is_a_failure_and_the_state_is_unchanged(hammer_backend):
    state = hammer_backend.open(FALSE_LEMMA)
    outcome = hammer_backend.run_tactic(state, "hammer", 30)
    assert isinstance(outcome, Failed) and "hammer" in outcome.error.lower() or type(outcome).__name__ == "TimedOut"
    after = hammer_backend.run_tactic(state, "intros", 5)
    assert isinstance(after, Advanced) and after.state.depth == 1


@pytest.mark.rocq
def test_the_checker_accepts_the_reconstruction_library(tmp_path):
    text = ("Require Import List.\nFrom Hammer Require Import Tactics.\n"
            f"{LIST_LEMMA.statement}\nProof.\n  scongruence use: app_length, PeanoNat.Nat.add_comm.\nQed.\n")
    if hammer.unavailable_reason():
        pytest.skip(hammer.unavailable_reason())
    assert RocqVerifier().check_text(text).accepted
    assert RocqVerifier().check_text(text, expected=LIST_LEMMA).accepted


@pytest.mark.rocq
def test_a_reconstruction_proof_may_rest_on_a_standard_axiom_its_file_imports_and_on_no_other():
    if hammer.unavailable_reason():
        pytest.skip(hammer.unavailable_reason())
    statement = "Lemma em (P : Prop) : P \\/ ~ P."
    proof = f"From Hammer Require Import Tactics.\n{statement}\nProof.\n  sauto use: classic.\nQed.\n"
    standard = RocqVerifier().check_text("Require Import Classical.\n" + proof)
    assert standard.accepted and standard.axioms == ("Coq.Logic.Classical_Prop.classic",)
    assert not RocqVerifier().check_text(proof).accepted  # `classic` not imported: it does not compile
    own = RocqVerifier().check_text("Axiom classic : forall P : Prop, P \\/ ~ P.\n" + proof)
    assert not own.accepted


@pytest.mark.rocq
def test_prove_with_the_hammer_keeps_to_the_budget(tmp_path, monkeypatch):
    if hammer.unavailable_reason():
        pytest.skip(hammer.unavailable_reason())
    monkeypatch.delenv(hammer.ENV_SWITCH)
    budget, tactic_timeout = 12.0, 5.0
    done = subprocess.run([sys.executable, "-m", "prover.cli", "prove", "--model", "none", "--names",
                           "aime_1983_p9,aime_1988_p4", "--budget-seconds", str(budget), "--out",
                           str(tmp_path / "run"), "--hammer"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    import json
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert row["seconds"] - row["verify_seconds"] <= budget + tactic_timeout + 5, row
        assert row.get("hammer_seconds", 0) <= budget / 2 + tactic_timeout, row


LIST_FILE = f"{LIST_LEMMA.header}\n{LIST_LEMMA.statement}\nProof.\n"


@pytest.mark.rocq
def test_suggest_adds_the_hammers_step_when_no_suggestion_proves_the_goal(monkeypatch):
    if hammer.unavailable_reason():
        pytest.skip(hammer.unavailable_reason())
    monkeypatch.delenv(hammer.ENV_SWITCH)
    from prover.serve import ServeConfig, SuggestionServer
    from prover.testing import ReplayGenerator
    from serve_helpers import asgi_client, post_json, run

    server = SuggestionServer(ReplayGenerator(["intros.", "exact nope."]),
                              ServeConfig(backend="rocq", request_timeout=90))
    try:
        async def go():
            async with asgi_client(server) as client:
                r = await post_json(client, "/suggest", {"backend": "rocq", "check": LIST_FILE})
                body = r.json()
                assert r.status_code == 200, body
                first = body["suggestions"][0]
                assert first["by"] == "hammer" and first["status"] == "proves-goal", body
                assert "hammer" not in first["tactic"]
                assert [s["tactic"] for s in body["suggestions"][1:]] == ["intros."]
                r = await post_json(client, "/suggest", {"backend": "rocq", "check": LIST_FILE, "hammer": False})
                assert [s["tactic"] for s in r.json()["suggestions"]] == ["intros."]
                r = await post_json(client, "/suggest", {"backend": "rocq", "check": LIST_FILE, "hammer": "yes"})
                assert r.status_code == 400 and "hammer" in r.json()["error"]

        run(go())
    finally:
        server.close()


@pytest.mark.rocq
def test_a_sketch_gap_automation_cannot_close_is_closed_by_the_hammer(hammer_backend):
    from prover.search import SearchConfig
    from prover.testing import FixedSketches
    from prover.translate import Problem, TranslateConfig, translate_one

    theorem = Theorem("gap_hammer", "Theorem gap_hammer (A : Type) (l1 l2 : list A) : "
                      "length (l1 ++ l2) = length (l2 ++ l1) /\\ 0 = 0.", "Require Import List.", "rocq")
    problem = Problem(theorem, "Lengths of appended lists commute.", "Both are the sum of the two lengths.")
    sketch = "split.\n- (* length of an append is the sum *)\n  admit.\n- admit.\nQed."
    config = TranslateConfig(samples=1, gap_search=SearchConfig(max_expansions=2, budget_seconds=10, num_candidates=2),
                             budget_seconds=90)
    row, script = translate_one(problem, hammer_backend, FixedSketches(sketch), AutomationOnly(), config)
    assert row["status"] == "proved", row
    gaps = row["sketches"][0]["gaps"]
    assert gaps[0]["by"] == "hammer" and "hammer" not in gaps[0]["tactics"][0]
    assert gaps[1]["by"] == "automation"
    assert hammer.TACTICS_IMPORT in script and "hammer." not in script
    off = TranslateConfig(**{**config.__dict__, "gap_search": SearchConfig(max_expansions=2, budget_seconds=10,
                                                                            num_candidates=2, hammer=False)})
    assert translate_one(problem, hammer_backend, FixedSketches(sketch), AutomationOnly(), off)[0]["status"] == "failed"
