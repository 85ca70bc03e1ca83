"""Checked suggestions on live coqtop: the server replays an editor's Rocq file up to the cursor, runs each
suggestion there and ranks the proving ones first, within the request's deadline."""
from __future__ import annotations

import time

import httpx
import pytest

from coq_env.editor import read_file
from prover.serve import ServeConfig, SuggestionServer
from prover.testing import ReplayGenerator
from serve_helpers import (ROCQ_FILE, ROCQ_GOAL, asgi_client, default_model, llmstep_request, loopback, post_json,
                           run)


def test_a_rocq_file_up_to_the_cursor_gives_header_statement_tactics_and_a_partial_sentence():
    file = read_file(ROCQ_FILE + "  li")
    assert file.theorem.name == "add_zero_editor" and file.theorem.header.startswith("Require Import Arith.")
    assert file.theorem.statement.endswith("n + 0 = n.") and file.tactics == ["intros n."] and file.partial == "li"


@pytest.mark.rocq
def test_rocq_suggest_with_check_ranks_proving_first_and_drops_invalid():
    generator = ReplayGenerator(["simpl.", "exact no_such_lemma.", "lia.", "sorry."])  # model order: simpl first
    server = SuggestionServer(generator, ServeConfig(backend="rocq"))
    try:
        async def go():
            async with asgi_client(server) as client:
                r = await client.post("/suggest", json={"backend": "rocq", "state": "", "prefix": "", "n": 8,
                                                        "check": ROCQ_FILE})
                body = r.json()
                assert r.status_code == 200, body
                assert body["checked"] is True and "n + 0 = n" in body["state"]
                assert [(s["tactic"], s["status"]) for s in body["suggestions"]] == [("lia.", "proves-goal"),
                                                                                     ("simpl.", "valid")]
                assert body["dropped"] == 1
                r = await client.post("/suggest", json={"backend": "rocq", "check": ROCQ_FILE + "  exact nope.\n"})
                assert r.status_code == 400 and "fails" in r.json()["error"]

        run(go())
    finally:
        server.close()


@pytest.mark.rocq
def test_the_rocq_client_script_prints_checked_suggestions(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("rocq_suggest", Path(__file__).parent.parent / "scripts" / "rocq_suggest.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    source = tmp_path / "editor.v"
    source.write_text(ROCQ_FILE + "  lia.\nQed.\n")  # the cursor goes at line 6, column 3: before `lia.`
    assert script.text_up_to(source.read_text(), 6, 3) == ROCQ_FILE + "  "
    server = SuggestionServer(ReplayGenerator(["exact nope.", "simpl.", "lia."]), ServeConfig(backend="rocq"))
    with loopback(server) as port:
        url = f"http://127.0.0.1:{port}"
        assert script.main([str(source), "--line", "6", "--column", "3", "--server", url]) == 0
        assert capsys.readouterr().out == "proves-goal\tlia.\nvalid\tsimpl.\n"
        assert script.main([str(source), "--line", "6", "--column", "5", "--server", url, "--plain"]) == 0  # "li"
        assert capsys.readouterr().out == "lia.\n"
        assert script.main([str(source), "--line", "1", "--server", url]) == 1
        assert "no Theorem" in capsys.readouterr().err


# ---- the real default model (SmolLM2-135M), end to end -----------------------------------------------------------

@pytest.mark.rocq
def test_the_default_model_serves_prefixed_suggestions_and_rocq_checked_ones():
    generator = default_model(max_new_tokens=24)
    template = generator.template
    server = SuggestionServer(generator, ServeConfig(backend="rocq", num_candidates=8))
    try:
        async def go():
            async with asgi_client(server) as client:
                r = await client.post("/", json=llmstep_request(ROCQ_GOAL, "apply "))
                body = r.json()
                assert r.status_code == 200 and "error" not in body, body
                assert all(s.startswith("apply ") and "sorry" not in s for s in body["suggestions"])
                assert len(set(body["suggestions"])) == len(body["suggestions"])
                r = await client.post("/generate", json={"name": "m", "input": ROCQ_GOAL, "prefix": ""})
                assert r.status_code == 200 and all(0 < o["score"] <= 1 for o in r.json()["outputs"])
                r = await client.post("/suggest", json={"backend": "rocq", "n": 8, "check": ROCQ_FILE})
                body = r.json()
                assert r.status_code == 200 and body["checked"] is True, body
                statuses = [s["status"] for s in body["suggestions"]]
                assert statuses == sorted(statuses, key=lambda s: s != "proves-goal")  # proving ones first
                assert set(statuses) <= {"proves-goal", "valid"}

        run(go())
        assert generator.template is template  # the prefix's template swap was undone
    finally:
        server.close()


@pytest.mark.rocq
def test_a_checked_statement_reaches_the_prompt_cut_to_its_limit():
    seen: list[str] = []

    class StatementRecorder(ReplayGenerator):
        def generate(self, theorem, state_text, n):
            seen.append(theorem.statement)
            return super().generate(theorem, state_text, n)

    server = SuggestionServer(StatementRecorder(["lia."]), ServeConfig(backend="rocq", max_statement_chars=40))
    try:
        async def go():
            async with asgi_client(server) as client:
                r = await post_json(client, "/suggest", {"backend": "rocq", "check": ROCQ_FILE})
                assert r.status_code == 200, r.text

        run(go())
        statement = read_file(ROCQ_FILE).theorem.statement
        assert len(statement) > 40 and seen == [statement[:40]]
    finally:
        server.close()


# ---- a request's deadline stops its check ------------------------------------------------------------------------

SLOW_HEADER = """Fixpoint loop (n : nat) : bool := match n with 0 => true | S m => andb (loop m) (loop m) end.
Compute loop 40.
Theorem slow_header : True.
Proof.
"""  # 2^40 steps: hours, in a few bytes of memory


@pytest.mark.rocq
def test_a_slow_check_header_is_stopped_at_the_deadline_and_the_next_request_is_served():
    server = SuggestionServer(ReplayGenerator(["lia.", "simpl."]), ServeConfig(backend="rocq", request_timeout=10))
    with loopback(server) as port:
        async def go():
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                started = time.monotonic()
                r = await post_json(client, "/suggest", {"backend": "rocq", "check": SLOW_HEADER})
                assert r.status_code == 504, r.text
                # The checker let go of coqtop at the deadline, not at its 120 s header timeout.
                assert server.checker("rocq").lock.acquire(timeout=15)
                server.checker("rocq").lock.release()
                r = await post_json(client, "/suggest", {"backend": "rocq", "check": ROCQ_FILE})
                assert r.status_code == 200 and r.json()["suggestions"][0]["tactic"] == "lia.", r.text
                assert time.monotonic() - started < 60

        run(go())
