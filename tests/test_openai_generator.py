"""OpenAIGenerator against a local test double of a completions server: replies, errors, retries, fan-out.

`FakeCompletionsServer` is a test double: a tiny http.server on 127.0.0.1 that answers `/v1/models` and
`/v1/completions` the way vLLM's OpenAI server lays its replies out (or, on purpose, badly). No model runs.
The real server is exercised in tests/test_vllm_generators.py.
"""
from __future__ import annotations

import json
import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prover.batch import prove_batch
from prover.generators import GenerationRequest, TacticGenerator
from prover.openai_generator import ModelServerError, OpenAIGenerator, OpenAIModel, normalise_base_url
from prover.prompts import PROMPTS
from prover.search import SearchConfig, best_first_search
from prover.types import Theorem

THEOREM = Theorem(name="add_0_r", statement="Theorem add_0_r (x : nat) : x + 0 = x.", header="", backend="rocq")
STATE = "1 goal\n  \n  x : nat\n  ============================\n  x + 0 = x"
# Test config: retries and backoff bounded so every failure path ends in well under a second or two.
FAST = dict(timeout_s=2.0, retries=2, backoff_s=0.01)


class FakeCompletionsServer:
    """Test double for an OpenAI-compatible completions server (not a model): replies per `mode`.

    modes: "ok" (n choices per prompt, vLLM's layout, one of them cut by length), "bad_json", "no_choices",
    "no_logprobs", "slow" (sleeps `delay` before answering), "flaky" (HTTP 500 for the first `failures`
    completions requests, then "ok"), "ignore_n" (always exactly one choice, a different tactic each time).
    Every completions request body is kept in `.bodies`.
    """

    def __init__(self, mode: str = "ok", failures: int = 0, delay: float = 0.0, shuffle: bool = False):
        self.mode, self.failures, self.delay, self.shuffle = mode, failures, delay, shuffle
        self.bodies: list[dict] = []
        self.counter = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _send(self, status: int, text: str):
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "fake-model", "object": "model"}]}))
                else:
                    self._send(404, json.dumps({"error": {"message": "not found"}}))

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, text = outer._reply(body)
                self._send(status, text)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True  # a sleeping "slow" handler must not hold up shutdown
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _reply(self, body: dict) -> tuple[int, str]:
        with self._lock:
            self.bodies.append(body)
            self.counter += 1
            count = self.counter
        if self.mode == "slow":
            time.sleep(self.delay)
        if self.mode == "flaky" and count <= self.failures:
            return 500, json.dumps({"error": {"message": "engine overloaded", "code": 500}})
        if self.mode == "bad_json":
            return 200, '{"choices": [ {"text": "intros."'
        if self.mode == "no_choices":
            return 200, json.dumps({"id": "cmpl-1", "object": "text_completion"})
        prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
        n = 1 if self.mode == "ignore_n" else body.get("n", 1)
        choices = []
        for p in range(len(prompts)):
            for j in range(n):
                tactic = f"tac{count}_{p}." if self.mode == "ignore_n" else f"tac{p}_{j}."
                finish = "length" if (self.mode != "ignore_n" and j == n - 1 and n > 1) else "stop"
                choice = {"index": p * n + j, "text": tactic if finish == "stop" else "intros; unfinished",
                          "finish_reason": finish, "stop_reason": "\n" if finish == "stop" else None}
                tokens = [-0.1 * (j + 1), -0.2 * (j + 1), -0.3]  # 3 tokens, the last the stop token
                if self.mode != "no_logprobs" and body.get("logprobs") is not None:
                    choice["logprobs"] = {"tokens": ["t", "ac", "\n"], "token_logprobs": tokens,
                                          "top_logprobs": [{}, {}, {}], "text_offset": [0, 1, 3]}
                else:
                    choice["logprobs"] = None
                choices.append(choice)
        if self.shuffle:
            choices.reverse()
        return 200, json.dumps({"id": "cmpl-1", "object": "text_completion", "model": body.get("model"),
                                "choices": choices, "usage": {"completion_tokens": 3 * len(choices)}})


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there now


def test_well_formed_reply_gives_sorted_scored_candidates():
    with FakeCompletionsServer("ok") as server:
        gen = OpenAIGenerator(OpenAIModel(server.url + "/v1/", **FAST), temperature=0.7)
        assert isinstance(gen, TacticGenerator)
        assert gen.name == "openai:fake-model" and gen.lm.served_name == "fake-model"  # asked /v1/models
        candidates = gen.generate(THEOREM, STATE, 4)
        gen.close()
    body = server.bodies[-1]
    assert body["n"] == 4 and body["temperature"] == 0.7 and body["max_tokens"] == 48
    assert body["stop"] == ["\n"] and body["logprobs"] == 1 and body["model"] == "fake-model"
    assert body["prompt"] == PROMPTS["rocq-proofstep"].render(STATE, THEOREM.statement)
    # the 4th choice ended by length: dropped; the rest scored per token (mean over the 3 returned tokens)
    assert [c.tactic for c in candidates] == ["tac0_0.", "tac0_1.", "tac0_2."]
    first = candidates[0]
    assert first.num_tokens == 3 and first.logprob == pytest.approx(-0.6)
    assert first.score == pytest.approx(-0.2)
    assert all(math.isfinite(c.score) and c.score <= 0 for c in candidates)
    assert gen.calls == 1 and gen.model_seconds > 0


def test_sum_scoring_and_named_model_skip_the_models_query():
    with FakeCompletionsServer("ok") as server:
        gen = OpenAIGenerator(OpenAIModel(server.url, served_name="mine", **FAST), scoring="sum")
        cands = gen.generate(THEOREM, STATE, 2)
    assert gen.name == "openai:mine" and server.bodies[-1]["model"] == "mine"
    assert cands[0].score == pytest.approx(cands[0].logprob) == pytest.approx(-0.6)


def test_generate_batch_sends_one_request_and_maps_choices_back_by_index():
    states = [STATE, STATE.replace("x + 0", "0 + x"), STATE.replace("x : nat", "x y : nat")]
    with FakeCompletionsServer("ok", shuffle=True) as server:  # choices out of order: mapped by `index`
        gen = OpenAIGenerator(OpenAIModel(server.url, served_name="m", **FAST))
        out = gen.generate_batch([GenerationRequest(THEOREM, s, 3) for s in states])
    assert len(server.bodies) == 1 and isinstance(server.bodies[0]["prompt"], list)
    assert len(server.bodies[0]["prompt"]) == 3
    assert [[c.tactic for c in cands] for cands in out] == [[f"tac{p}_0.", f"tac{p}_1."] for p in range(3)]
    assert gen.calls == 1


def test_malformed_replies_raise_one_line_errors():
    for mode, expected in [("bad_json", "not JSON"), ("no_choices", "no 'choices' list"),
                           ("no_logprobs", "no logprobs.token_logprobs")]:
        with FakeCompletionsServer(mode) as server:
            gen = OpenAIGenerator(OpenAIModel(server.url, served_name="m", **FAST))
            with pytest.raises(ModelServerError) as info:
                gen.generate(THEOREM, STATE, 2)
        message = str(info.value)
        assert "\n" not in message and server.url in message and expected in message, message
        assert len(server.bodies) == 1  # a malformed reply is not retried


def test_a_slow_server_times_out_after_bounded_retries():
    with FakeCompletionsServer("slow", delay=1.5) as server:
        gen = OpenAIGenerator(OpenAIModel(server.url, served_name="m", timeout_s=0.3, retries=1, backoff_s=0.01))
        started = time.perf_counter()
        with pytest.raises(ModelServerError) as info:
            gen.generate(THEOREM, STATE, 2)
        elapsed = time.perf_counter() - started
    message = str(info.value)
    assert "\n" not in message and "did not answer" in message and "0.3s" in message and "2 attempts" in message
    assert elapsed < 1.5  # two 0.3 s attempts, not the server's 1.5 s
    assert len(server.bodies) == 2


def test_server_errors_are_retried_then_succeed():
    with FakeCompletionsServer("flaky", failures=2) as server:
        gen = OpenAIGenerator(OpenAIModel(server.url, served_name="m", **FAST))  # 1 try + 2 retries
        cands = gen.generate(THEOREM, STATE, 3)
    assert [c.tactic for c in cands] == ["tac0_0.", "tac0_1."]
    assert len(server.bodies) == 3 and gen.lm.requests_sent == 3


def test_persistent_server_errors_give_up_with_the_servers_message():
    with FakeCompletionsServer("flaky", failures=100) as server:
        gen = OpenAIGenerator(OpenAIModel(server.url, served_name="m", **FAST))
        with pytest.raises(ModelServerError) as info:
            gen.generate(THEOREM, STATE, 3)
    message = str(info.value)
    assert "\n" not in message and "HTTP 500" in message and "engine overloaded" in message
    assert "3 attempts" in message and len(server.bodies) == 3


def test_a_server_that_ignores_n_is_fanned_out_with_n_equal_1():
    with FakeCompletionsServer("ignore_n") as server:
        gen = OpenAIGenerator(OpenAIModel(server.url, served_name="m", supports_n=False, **FAST))
        cands = gen.generate(THEOREM, STATE, 6)
        # without the flag the same server yields a single candidate
        plain = OpenAIGenerator(OpenAIModel(server.url, served_name="m", **FAST)).generate(THEOREM, STATE, 6)
    assert len(cands) == 6 and len({c.tactic for c in cands}) == 6
    assert all(body["n"] == 1 for body in server.bodies[:6])
    assert len(plain) == 1


def test_without_server_logprobs_the_scorer_scores_candidates():
    seen = []

    def scorer(prompt, continuation):  # test double for an in-process scoring model
        seen.append((prompt, continuation))
        return -float(len(continuation)), len(continuation)

    with FakeCompletionsServer("no_logprobs") as server:
        scored = OpenAIGenerator(OpenAIModel(server.url, served_name="m", echo_logprobs_ok=False, scorer=scorer,
                                             **FAST), scoring="sum").generate(THEOREM, STATE, 3)
        unscored = OpenAIGenerator(OpenAIModel(server.url, served_name="m", echo_logprobs_ok=False, **FAST)).generate(
            THEOREM, STATE, 3)
    assert "logprobs" not in server.bodies[0]
    assert {c.tactic for c in scored} == {"tac0_0.", "tac0_1."}
    assert all(c.logprob == -len(c.tactic + "\n") for c in scored)
    assert seen[0][0].endswith("[PROOFSTEP]\n") and seen[0][1].endswith("\n")
    assert all(c.score == 0.0 and c.num_tokens == 0 for c in unscored) and len(unscored) == 2


def test_a_down_server_raises_a_one_line_error_quickly():
    url = closed_port_url()
    started = time.perf_counter()
    with pytest.raises(ModelServerError) as info:
        OpenAIModel(url, **FAST)  # no served_name: asks /v1/models at once
    assert str(info.value) == f"model server at {url} is not reachable: connection refused (after 3 attempts)"
    gen = OpenAIGenerator(OpenAIModel(url, served_name="m", **FAST))
    with pytest.raises(ModelServerError, match="not reachable: connection refused"):
        gen.generate(THEOREM, STATE, 4)
    assert time.perf_counter() - started < 2.0


def test_client_errors_are_not_retried():
    with FakeCompletionsServer("ok") as server:
        gen = OpenAIGenerator(OpenAIModel(server.url, served_name="m", **FAST))
        with pytest.raises(ModelServerError, match="refused /v1/nothing: HTTP 404: not found"):
            gen.lm.request("GET", "/v1/nothing")
    assert gen.lm.requests_sent == 1


def test_base_url_forms_and_bad_scoring():
    assert normalise_base_url("127.0.0.1:8000/v1/") == "http://127.0.0.1:8000"
    assert normalise_base_url("https://h/v1") == "https://h"
    with pytest.raises(ValueError, match="unknown scoring"):
        OpenAIGenerator(OpenAIModel("http://127.0.0.1:9", served_name="m"), scoring="max")


@pytest.mark.rocq
def test_search_with_a_down_server_fails_cleanly_and_the_batch_records_an_error_row(backend, valid, tmp_path):
    gen = OpenAIGenerator(OpenAIModel(closed_port_url(), served_name="m", **FAST))
    config = SearchConfig(automation=False, budget_seconds=20)
    with pytest.raises(ModelServerError) as info:
        best_first_search(valid["mathd_algebra_10"], backend, gen, config)
    assert "\n" not in str(info.value) and "not reachable" in str(info.value)
    # The batch runner turns it into an `error` row per theorem and goes on to the next one.
    theorems = [valid["mathd_algebra_10"], valid["mathd_numbertheory_32"]]
    rows = list(prove_batch(theorems, backend, gen, config, tmp_path, progress=False))
    assert [r["status"] for r in rows] == ["error", "error"]
    assert all(r["reason"].startswith("ModelServerError: model server at") and "\n" not in r["reason"] for r in rows)


def test_a_call_waits_only_for_the_time_left_and_a_late_answer_gives_no_candidates():
    with FakeCompletionsServer("slow", delay=3.0) as server:
        gen = OpenAIGenerator(OpenAIModel(server.url, served_name="m", timeout_s=30.0, retries=3, backoff_s=0.01))
        started = time.monotonic()
        cands = gen.generate(THEOREM, STATE, 2, deadline=started + 0.3)
        elapsed = time.monotonic() - started
    assert cands == []  # not an error: the caller has stopped waiting
    assert elapsed < 0.3 + 1.0  # the request's time left, not timeout_s and its retries
    assert len(server.bodies) == 1  # no retry after the deadline


def test_a_fanned_out_call_sends_nothing_once_the_deadline_has_passed():
    with FakeCompletionsServer("ignore_n") as server:
        gen = OpenAIGenerator(OpenAIModel(server.url, served_name="m", supports_n=False, **FAST))
        assert len(gen.generate(THEOREM, STATE, 3, deadline=time.monotonic() + 10)) == 3
        assert gen.generate(THEOREM, STATE, 3, deadline=time.monotonic() - 1) == []  # past it: nothing sent
    assert len(server.bodies) == 3
