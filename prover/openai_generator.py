"""The OpenAI-compatible completions server engine of the LM client (prover.lm), and the tactic generator on it.

Servers: vLLM's `api_server`, llama.cpp, TGI, ...

It asks `POST {base_url}/v1/completions` for `n` sampled continuations of the rendered prompt, stopping at
the template's stop sequences, with `logprobs=1` so that each choice carries its tokens' log-probabilities,
and scores each choice as the search expects (per token, Llemma's "mean", or summed, ReProver's "sum").

Servers differ; two flags say what this one can do:
  supports_n=False        the server ignores `n` (returns one choice): send n requests with n=1, concurrently.
  echo_logprobs_ok=False  the server gives no usable log-probabilities: do not ask for them, and score each
                          candidate in-process with `scorer` (e.g. `TransformersScorer`) if given, else 0.0.

Every failure to get an answer becomes a `ModelServerError` whose message is one line naming the server.

Deadlines: each HTTP attempt's time limit is the time left before the request's deadline (at most `timeout_s`;
httpx applies it to connecting and to each wait for data, which for a completions reply that comes
whole is the wait for the answer), and no retry starts after it. A request whose deadline passes unanswered gets
no candidates (not an error): the caller has stopped waiting for them.
"""
from __future__ import annotations

import json
import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Unpack

from prover.errors import one_line
from prover.generators import latest_deadline, seconds_left
from prover.lm import Completion, LivePrompt, completions_by_prompt, cut_at_stop, expired, live_prompts
from prover.model_generator import GeneratorSettings, ModelGenerator

# scorer(prompt, continuation) -> (summed log-probability, number of tokens) of `continuation` after `prompt`.
Scorer = Callable[[str, str], "tuple[float, int]"]


class ModelServerError(RuntimeError):
    """The model server could not be used; the message is one line a CLI or a results row can show."""


def normalise_base_url(base_url: str) -> str:
    """`http://host:port` whether given as that, with a trailing slash, or with the `/v1` suffix."""
    url = base_url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    if "://" not in url:
        url = "http://" + url
    return url


# --- transport: httpx (connection pooling, a thread-safe client) -----------------------------------------------


class _Unreachable(Exception):
    """No connection (refused, reset, DNS, ...): the message says which."""


class _Timeout(Exception):
    """Connected (or tried to) but no complete answer within the time limit."""


class OutOfTime(Exception):
    """The request's deadline passed before an answer came: its caller gets no completions."""


def _is_loopback(base_url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(base_url).hostname or "") in ("127.0.0.1", "localhost", "::1")


class _HttpxTransport:
    def __init__(self, timeout_s: float, headers: dict[str, str], base_url: str):
        import httpx

        self._httpx = httpx
        self._client = httpx.Client(
            timeout=timeout_s,
            headers=headers,
            # A proxy configured for the internet must not intercept a server on this machine.
            trust_env=not _is_loopback(base_url),
            # Plain http needs no certificates (loading the CA bundle costs ~0.5 s per client).
            verify=base_url.startswith("https://"),
        )

    def request(self, method: str, url: str, body: dict | None, timeout: float | None = None) -> tuple[int, str]:
        httpx = self._httpx
        # httpx reads timeout=None as "no limit": leave the client's own unless one is given.
        limit = {} if timeout is None else {"timeout": timeout}
        try:
            reply = self._client.request(method, url, json=body, **limit)
        except httpx.TimeoutException as error:
            raise _Timeout(str(error)) from error
        except (httpx.TransportError, OSError) as error:
            raise _Unreachable(_connection_reason(error)) from error
        return reply.status_code, reply.text

    def close(self) -> None:
        self._client.close()


def _connection_reason(error: BaseException) -> str:
    text = str(error)
    lowered = text.lower()
    for marker, reason in (
        ("refused", "connection refused"),
        ("reset", "connection reset"),
        ("name or service not known", "unknown host"),
        ("nodename nor servname", "unknown host"),
        ("no route", "no route to host"),
        ("disconnected", "server closed the connection"),
    ):
        if marker in lowered:
            return reason
    return one_line(text or type(error).__name__, 120)


# --- the model client -------------------------------------------------------------------------------------


class OpenAIModel:
    """A model behind an OpenAI-compatible `/v1/completions` server (a LanguageModel)."""

    tokenizer = None  # the server's tokens are not known here: prompts go as they are
    context_length = None

    def __init__(
        self,
        base_url: str,
        served_name: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        supports_n: bool = True,
        echo_logprobs_ok: bool = True,
        api_key: str | None = None,
        scorer: Scorer | None = None,
        max_concurrency: int = 8,
    ):
        """`served_name`: the model's name on the server (None: the first /v1/models lists). See the module's
        doc for `supports_n`, `echo_logprobs_ok` and `scorer`."""
        self.base_url = normalise_base_url(base_url)
        self.timeout_s = timeout_s
        self.retries = max(0, retries)  # extra attempts after the first
        self.backoff_s = backoff_s
        self.supports_n = supports_n
        self.echo_logprobs_ok = echo_logprobs_ok
        self.scorer = scorer
        self.max_concurrency = max(1, max_concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._transport = _HttpxTransport(timeout_s, headers, self.base_url)
        self.requests_sent = 0  # HTTP attempts, retries included
        self._count_lock = threading.Lock()  # fanned-out requests count from several threads
        self.generated_tokens = 0  # as the server's `usage.completion_tokens` reports them (for tokens/s)
        self.served_name = served_name or self._first_served_model()
        self.name = f"openai:{self.served_name}"

    def close(self) -> None:
        self._transport.close()

    def cache_params(self) -> tuple:
        return (self.base_url,)

    def share_prefix(self, text: str) -> None:
        """Nothing to do: a server caches shared prompt prefixes itself, if it can."""

    # --- HTTP with retries ---

    def request(self, method: str, path: str, body: dict | None = None, deadline: float | None = None) -> Any:
        """The parsed JSON reply; retries connection errors, timeouts, 429 and 5xx with exponential backoff.
        With a `deadline` (time.monotonic()), each attempt gets only the time left, and `OutOfTime` is raised
        once it has passed."""
        url = self.base_url + path
        where = f"model server at {self.base_url}"
        attempts = self.retries + 1
        problem = ""
        for attempt in range(attempts):
            if attempt:
                # Exponential backoff with a little jitter, so fanned-out requests do not retry in lockstep.
                pause = self.backoff_s * (2 ** (attempt - 1)) * (1 + 0.1 * random.random())
                time.sleep(seconds_left(deadline, pause))
            if expired(deadline):
                raise OutOfTime(problem)
            limit = seconds_left(deadline, self.timeout_s)
            with self._count_lock:
                self.requests_sent += 1
            try:
                status, text = self._transport.request(method, url, body, limit if deadline is not None else None)
            except _Unreachable as error:
                problem = f"{where} is not reachable: {error}"
                continue
            except _Timeout:
                if expired(deadline):
                    raise OutOfTime(problem) from None
                problem = f"{where} did not answer {path} within {limit:g}s"
                continue
            if status == 429 or status >= 500:
                problem = f"{where} failed on {path}: HTTP {status}: {_error_detail(text)}"
                continue
            if status >= 400:
                # The request itself is wrong (e.g. prompt longer than the model's context): retrying won't help.
                raise ModelServerError(f"{where} refused {path}: HTTP {status}: {_error_detail(text)}")
            try:
                return json.loads(text)
            except ValueError:
                raise ModelServerError(
                    f"{where} sent a malformed reply to {path}: not JSON: {one_line(text, 80)!r}"
                ) from None
        suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
        raise ModelServerError(problem + suffix)

    def _first_served_model(self) -> str:
        reply = self.request("GET", "/v1/models")
        try:
            models = [entry["id"] for entry in reply["data"]]
        except (TypeError, KeyError) as error:
            raise ModelServerError(
                f"model server at {self.base_url} sent a malformed reply to /v1/models: no data[].id ({error!r})"
            ) from None
        if not models or not isinstance(models[0], str):
            raise ModelServerError(f"model server at {self.base_url} serves no model (empty /v1/models)")
        return models[0]

    # --- completions ---

    def complete(self, prompts, n, max_tokens, temperature, stop, deadline=None, *, top_p=1.0, seed=None,
                 nonblank_start=False) -> list[list[Completion]]:
        """See prover.lm.LanguageModel (`nonblank_start` is not honoured). One HTTP request in all where the server
        honours `n` and the prompts share it; a prompt whose deadline passes unanswered gets no completions."""
        live = live_prompts(prompts, n, deadline)
        if not live:
            return completions_by_prompt(len(prompts), live, [])
        stop = tuple(stop)
        sampling = {"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p, "seed": seed}
        if self.supports_n:
            choices = self._batched_choices(live, stop, sampling)
        else:
            choices = self._fanned_out_choices(live, stop, sampling)
        got = [[self._completion(p.text, stop, choice) for choice in prompt_choices]
               for p, prompt_choices in zip(live, choices)]
        return completions_by_prompt(len(prompts), live, got)

    def _body(self, prompt: str | list[str], stop: tuple[str, ...], n: int, sampling: dict) -> dict:
        body: dict[str, Any] = {
            "model": self.served_name,
            "prompt": prompt,
            "n": n,
            "temperature": sampling["temperature"],
            "max_tokens": sampling["max_tokens"],
            "stop": list(stop)[:4],  # the OpenAI API takes at most 4; the text is cut at all of them here
        }
        if sampling["top_p"] < 1.0:
            body["top_p"] = sampling["top_p"]
        if self.echo_logprobs_ok:
            body["logprobs"] = 1  # the sampled token's log-probability (plus the top 1) at every position
        if sampling["seed"] is not None:
            body["seed"] = sampling["seed"]
        return body

    def _batched_choices(self, asks: list[LivePrompt], stop: tuple[str, ...], sampling: dict) -> list[list[dict]]:
        # One request carries every prompt when they share n; otherwise one request per n.
        groups: dict[int, list[int]] = {}
        for k, ask in enumerate(asks):
            groups.setdefault(ask.n, []).append(k)
        out: list[list[dict]] = [[] for _ in asks]
        for n, members in groups.items():
            batch = [asks[k].text for k in members]
            # A shared HTTP request waits as long as its most patient member (None: the plain `timeout_s`).
            deadline = latest_deadline(asks[k].deadline for k in members)
            try:
                reply = self.request("POST", "/v1/completions",
                                     self._body(batch if len(batch) > 1 else batch[0], stop, n, sampling), deadline)
            except OutOfTime:
                continue  # nobody waits for this group any more: no completions
            choices = self._choices(reply)
            # OpenAI's layout (and vLLM's): choice `index` = prompt_position * n + sample; map back by index.
            for position, choice in enumerate(choices):
                index = choice.get("index", position)
                if not isinstance(index, int) or not 0 <= index < n * len(members):
                    raise ModelServerError(
                        f"model server at {self.base_url} sent a malformed reply to /v1/completions:"
                        f" choice index {index!r} outside 0..{n * len(members) - 1}"
                    )
                out[members[index // n]].append(choice)
        return out

    def _fanned_out_choices(self, asks: list[LivePrompt], stop: tuple[str, ...], sampling: dict) -> list[list[dict]]:
        # The server ignores n: ask each prompt n times with n=1, a few requests in flight at once.
        jobs = [k for k, ask in enumerate(asks) for _ in range(ask.n)]

        def ask(k: int):
            try:
                return self.request("POST", "/v1/completions", self._body(asks[k].text, stop, 1, sampling),
                                    asks[k].deadline)
            except OutOfTime:
                return None  # this sample came too late: the others still count

        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(jobs))) as pool:
            replies = list(pool.map(ask, jobs))
        out: list[list[dict]] = [[] for _ in asks]
        for k, reply in zip(jobs, replies):
            if reply is not None:
                out[k].extend(self._choices(reply)[:1])
        return out

    def _choices(self, reply: Any) -> list[dict]:
        choices = reply.get("choices") if isinstance(reply, dict) else None
        usage = reply.get("usage") if isinstance(reply, dict) else None
        if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
            self.generated_tokens += usage["completion_tokens"]
        if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
            raise ModelServerError(
                f"model server at {self.base_url} sent a malformed reply to /v1/completions: no 'choices' list"
            )
        return choices

    def _completion(self, prompt: str, stop: tuple[str, ...], choice: dict) -> Completion:
        text = choice.get("text")
        if not isinstance(text, str):
            raise ModelServerError(
                f"model server at {self.base_url} sent a malformed reply to /v1/completions: a choice has no 'text'"
            )
        # Servers do not include the stop sequence in `text` (vLLM does not); cut anyway for those that do.
        text, _ = cut_at_stop(text, stop)
        if choice.get("finish_reason") == "length":
            return Completion(text, 0.0, 0, stopped=False)  # unfinished: not worth scoring
        if self.echo_logprobs_ok:
            logprob, num_tokens = self._server_logprob(choice)
        elif self.scorer is not None:
            logprob, num_tokens = self.scorer(prompt, text + (stop[0] if stop else ""))
        else:
            logprob, num_tokens = 0.0, 0
        return Completion(text, logprob, num_tokens)

    def _server_logprob(self, choice: dict) -> tuple[float, int]:
        logprobs = choice.get("logprobs")
        token_logprobs = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
        if not isinstance(token_logprobs, list):
            raise ModelServerError(
                f"model server at {self.base_url} sent no logprobs.token_logprobs"
                " (if it cannot, pass echo_logprobs_ok=False)"
            )
        # We count what the server returns. vLLM returns the tokens it sampled up to and including the one in
        # which the stop sequence appeared (so the stop token's log-probability is counted, as the HF
        # engine counts its newline token) but never the stop text itself in `text`.
        values = [v for v in token_logprobs if isinstance(v, (int, float)) and math.isfinite(v)]
        if len(values) != len(token_logprobs):
            bad = next(v for v in token_logprobs if v not in values)
            raise ModelServerError(
                f"model server at {self.base_url} sent a non-numeric token log-probability: {bad!r}"
            )
        return float(sum(values)), len(values)


class OpenAIGenerator(ModelGenerator):
    """The tactic generator (ModelGenerator) on a model behind an OpenAI-compatible server (OpenAIModel)."""

    def __init__(self, model: OpenAIModel | Callable[[], OpenAIModel], **settings: Unpack[GeneratorSettings]):
        """`model`: the server's client, or a function that makes it (ModelGenerator's `lm`). See ModelGenerator for
        the `settings`; here `temperature` is 1.0 unless given (no prompt fitting: the server's tokens are not known
        here)."""
        super().__init__(model, **{"temperature": 1.0, **settings})


class TransformersScorer:
    """A `scorer` for servers without log-probabilities: scores a continuation with a local transformers model.

    Returns the summed log-probability of the continuation's tokens after the prompt, and their number.
    """

    def __init__(self, model: str | Path, dtype: str = "float32"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model), local_files_only=True)
        self.model = AutoModelForCausalLM.from_pretrained(
            str(model), dtype=getattr(torch, dtype), local_files_only=True
        ).eval()

    def __call__(self, prompt: str, continuation: str) -> tuple[float, int]:
        torch = self._torch
        prompt_ids = self.tokenizer(prompt)["input_ids"]
        full_ids = self.tokenizer(prompt + continuation)["input_ids"]
        # Token boundaries may merge across the seam; score from the first token that differs.
        start = next((i for i, (a, b) in enumerate(zip(prompt_ids, full_ids)) if a != b), len(prompt_ids))
        start = max(1, min(start, len(full_ids)))
        if start >= len(full_ids):
            return 0.0, 0
        with torch.inference_mode():
            logits = self.model(input_ids=torch.tensor([full_ids])).logits[0, start - 1 : -1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        targets = torch.tensor(full_ids[start:])
        picked = logprobs.gather(1, targets[:, None])[:, 0]
        return float(picked.sum()), len(targets)


def _error_detail(text: str) -> str:
    """The server's error message out of its JSON error body, else the body's first line."""
    try:
        body = json.loads(text)
    except ValueError:
        return one_line(text or "(empty body)", 160)
    if isinstance(body, dict):
        error = body.get("error", body.get("message", body.get("detail")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return one_line(error, 160)
    return one_line(text, 160)
