"""An editor suggestion server: one async HTTP server speaking llmstep's and LeanCopilot's protocols, and ours.

    prover serve --backend rocq --port 6000

Routes (every answer is JSON):

* ``POST /`` — llmstep (wellecks/llmstep): ``{"tactic_state", "prefix", "context"}`` in, ``{"suggestions": [...]}``
  out, each suggestion starting with the prefix, best first. Errors (bad JSON, a timeout, a model failure) are
  HTTP 200 with ``{"suggestions": [], "error": "..."}``, which llmstep's client shows as "no suggestions".
* ``POST /generate`` — LeanCopilot's external-model API: ``{"name", "input", "prefix"}`` in,
  ``{"outputs": [{"output", "score"}]}`` out, score = exp(mean token log-probability) in (0, 1].
  ``POST /encode`` (premise retrieval) answers 501: this server has no encoder.
* ``POST /suggest`` — ours: ``{"backend", "state", "prefix", "n", "check", "hammer"}``. Where the backend can check (its
  plugin's editor syntax says how; Rocq's does), ``check`` carries the file up to the cursor (imports, a statement,
  the tactics so far): the server replays it in the proof assistant to reach the state, runs each suggestion
  there, marks it ``proves-goal`` / ``valid`` and drops the ``invalid`` ones, proving ones first.
* ``POST /prove-hole`` — the hole at an editor's cursor in a file under ``--files-under``: prover.hole_at_cursor.
* ``GET /health``.

The edges: a POST must be ``Content-Type: application/json`` (415), a browser ``Origin`` must be loopback or
allowed by ``--allow-origin`` (403), and no CORS header is ever sent, so a web page cannot drive the server. A
``check`` text may hold only what the backend's editor syntax allows (nothing that reaches outside the proof
assistant), and its proof-assistant work ends at the request's deadline. Bad input fails before batching, one request
at a time; an unexpected error is logged and answered as just "internal error". What a request may be:
prover.serve_requests; running the server on uvicorn: prover.serve_runners.

Concurrent requests go through one GeneratorService, so they are coalesced into the model's batched calls, and
its LRU cache answers a repeated (state, prefix) without a model call. How a prefix starts every suggestion:
prover.prefixing; how a check text's suggestions are checked: prover.editor_checker.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.batching import GeneratorService
from prover.editor_checker import CheckError, EditorChecker
from prover.generators import Candidate
from prover.hole_at_cursor import HoleProver, HoleRequestError, read_hole_request
from prover.plugins import DEFAULT_BACKEND, available_backends, cached_plugin
from prover.prefixing import MAX_N, PrefixingGenerator, encode_state
from prover.search_types import USER_FILE_PREMISES, SearchConfig
from prover.serve_requests import RequestError, read_body, refusal, string_field, valid_text
from prover.syntax import DeadlinePassed, EditorSyntax, EditorTextError
from prover.types import Theorem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeConfig:
    backend: str = DEFAULT_BACKEND  # the default backend of requests (and the one the model's prompt was chosen for)
    num_candidates: int = 8  # suggestions per request unless the request says n
    request_timeout: float = 60.0  # seconds for a whole request (model and checking)
    max_body_bytes: int = 1 << 20  # larger bodies get 413
    max_context_chars: int = 16_000  # llmstep's `context` (the file) is cut to its last this many characters
    max_state_chars: int = 64_000  # a state (or check text) longer than this is refused (400)
    max_prefix_chars: int = 1000  # a prefix is the start of one tactic: a longer one is refused (400)
    max_statement_chars: int = 4000  # a checked theorem's statement is cut to this for the prompt
    allow_origins: tuple[str, ...] = ()  # web origins besides loopback ones whose requests are served
    tactic_timeout: float = 5.0  # seconds per tactic when checking
    # A checked request none of whose suggestions proves the goal gets the backend's hammer too (its reproducible
    # step, as one more suggestion), within hammer_timeout and the request's time; a request may say "hammer": false.
    hammer: bool = True
    hammer_timeout: float = 20.0
    max_batch: int = 16  # the GeneratorService's batch size
    max_wait_ms: float = 20.0  # how long it waits for each next request to join a batch (a lone one: once)
    cache_size: int = 4096  # (state, prefix) answers kept
    files_under: tuple[str, ...] = ()  # folders /prove-hole may read and write in; empty: the current one at start


def exp_mean_logprob(c: Candidate) -> float:
    """LeanCopilot's score: exp(mean token log-probability), in (0, 1]."""
    mean = c.logprob / c.num_tokens if c.num_tokens > 0 else c.score
    return max(sys.float_info.min, min(1.0, math.exp(min(0.0, mean))))


class SuggestionServer:
    """The HTTP application (an ASGI app at `.app`) over one generator."""

    def __init__(self, generator, config: ServeConfig = ServeConfig()):
        self.config = config
        self.generator = generator
        self.service = GeneratorService(PrefixingGenerator(generator), max_batch=config.max_batch,
                                        max_wait_ms=config.max_wait_ms, cache_size=config.cache_size)
        self.backends = available_backends()
        self._checkers: dict[str, EditorChecker] = {}  # backend name -> its checker, made on first use
        self._checkers_lock = threading.Lock()
        self._installed: dict[str, bool] = {}
        self.file_roots = tuple(Path(root).resolve() for root in config.files_under or (".",))
        self.hole_prover = HoleProver(self.service, SearchConfig(
            num_candidates=config.num_candidates, tactic_timeout=config.tactic_timeout, hammer=config.hammer,
            hammer_timeout=config.hammer_timeout, premises=USER_FILE_PREMISES))
        self.app = self._build_app()

    def close(self) -> None:
        self.service.close()
        with self._checkers_lock:
            checkers = list(self._checkers.values())
        for checker in checkers:
            checker.close()

    def checker(self, backend: str) -> EditorChecker | None:
        """The backend's checker (one per backend, made on first use), or None where its plugin cannot check."""
        editor = _editor(backend)
        if editor is None or not editor.checks:
            return None
        with self._checkers_lock:
            if backend not in self._checkers:
                self._checkers[backend] = EditorChecker(editor.checking_backend, self.config.tactic_timeout)
            return self._checkers[backend]

    def _checking_backends(self) -> list[str]:
        return [name for name in self.backends if getattr(_editor(name), "checks", False)]

    def _copilot_backend(self) -> str:
        """The backend LeanCopilot's requests are for: the one whose editor syntax speaks its protocol."""
        for name in self.backends:
            editor = _editor(name)
            if editor is not None and "leancopilot" in editor.protocols:
                return name
        return self.config.backend

    # -- the core ----------------------------------------------------------------------------------------------

    async def candidates(self, backend: str, state: str, prefix: str, n: int, statement: str = "",
                         deadline: float | None = None) -> list[Candidate]:
        prefix = self._valid_prefix(prefix)  # here, before batching: a bad prefix fails only its own request
        theorem = Theorem(name="editor", statement=statement, header="", backend=backend)
        # The model stops when the request's answer is due (default: request_timeout from now), not after it.
        deadline = self._request_deadline() if deadline is None else deadline
        return await self.service.agenerate(theorem, encode_state(state, prefix), n, deadline=deadline)

    async def suggest(self, body: dict) -> dict:
        backend = string_field(body, "backend", self.config.backend)
        if backend not in self.backends:
            raise RequestError(f"unknown backend {backend!r} (choose from {', '.join(self.backends)})")
        prefix = string_field(body, "prefix", "")
        n = body.get("n", self.config.num_candidates)
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_N:
            raise RequestError(f"n must be an integer from 1 to {MAX_N}")
        check = body.get("check")
        if check is not None and not isinstance(check, str):
            raise RequestError("check must be a string (the file text up to the cursor)")
        if check:
            valid_text(check, "check")
        hammer = body.get("hammer", self.config.hammer)
        if not isinstance(hammer, bool):
            raise RequestError("hammer must be true or false")
        if check and self.checker(backend) is not None:
            return await self._suggest_checked(backend, check, prefix, n, hammer and self.config.hammer)
        state = string_field(body, "state", None)
        if state is None:
            raise RequestError(f"state is required (or check, for backend {' or '.join(self._checking_backends())})")
        self._limit(state, "state")
        found = await self.candidates(backend, state, prefix, n)
        reply: dict[str, Any] = {"suggestions": [_row(c, None) for c in found], "checked": False}
        if check:
            reply["note"] = (f"suggestions for {backend} are not checked: this server checks only "
                             f"{', '.join(self._checking_backends())} "
                             f"({'installed' if self._backend_installed(backend) else 'not installed'} here)")
        return reply

    async def _suggest_checked(self, backend: str, check: str, prefix: str, n: int, hammer: bool = False) -> dict:
        deadline = self._request_deadline()
        self._limit(check, "check")
        try:
            file = _editor(backend).read(check)
        except EditorTextError as exc:
            raise RequestError(f"check: {exc}") from None
        if file.partial and not prefix:
            prefix = self._valid_prefix(file.partial)  # the cursor is inside a sentence: what is typed of it is the prefix
        # One thread does the whole check under the checker's lock (the proof assistant serves one request at a
        # time). At the request's deadline the checker stops its work and the thread lets the lock go.
        goals, marked, hammered = await _in_thread(self._check, backend, file.theorem, file.tactics, prefix, n,
                                                   deadline, hammer)
        order = {"proves-goal": 0, "valid": 1}
        kept = sorted([(c, s) for c, s in marked if s in order], key=lambda cs: order[cs[1]])  # stable: by score
        rows = [_row(c, s) for c, s in kept]
        if hammered is not None:
            rows.insert(0, {**_row(*hammered), "by": "hammer"})
        return {"suggestions": rows, "checked": True, "state": goals,
                "dropped": sum(1 for _, s in marked if s not in order)}

    def _check(self, backend: str, theorem: Theorem, tactics: list[str], prefix: str, n: int,
               deadline: float | None = None, hammer: bool = False):
        checker = self.checker(backend)
        with checker.lock:
            state, goals = checker.reach(theorem, tactics, deadline)
            statement = theorem.statement[:self.config.max_statement_chars]  # bounded: a prompt may have its slot
            request = Theorem(name="editor", statement=statement, header="", backend=backend)
            found = self.service.generate(request, encode_state(goals, prefix), n, deadline=deadline)
            marked = checker.classify(state, found, deadline)
            hammered = None
            if hammer and not prefix and not any(status == "proves-goal" for _, status in marked):
                hammered = checker.hammer(state, self.config.hammer_timeout, deadline)
            return goals, marked, hammered

    def _request_deadline(self) -> float:
        """When this request's answer is due (time.monotonic()), as `_handle` times it."""
        return time.monotonic() + self.config.request_timeout

    def _backend_installed(self, backend: str) -> bool:
        if backend not in self._installed:
            import shutil

            executable = cached_plugin(backend).executable
            self._installed[backend] = bool(executable) and shutil.which(executable) is not None
        return self._installed[backend]

    def _limit(self, text: str, field: str) -> None:
        if len(text) > self.config.max_state_chars:
            raise RequestError(f"{field} is longer than {self.config.max_state_chars} characters")

    def _valid_prefix(self, prefix: str) -> str:
        """The prefix, if the prompt may take it: bounded (its head goes into the prompt uncut) and slot-free."""
        if len(prefix) > self.config.max_prefix_chars:
            raise RequestError(f"prefix is longer than {self.config.max_prefix_chars} characters "
                               "(a prefix is the start of one tactic)")
        if "{goals}" in prefix or "{statement}" in prefix:
            raise RequestError("prefix may not contain '{goals}' or '{statement}'")
        return prefix

    # -- HTTP --------------------------------------------------------------------------------------------------

    def _build_app(self):
        from starlette.applications import Starlette
        from starlette.exceptions import HTTPException
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def health(request):
            return JSONResponse({"status": "ok", "model": self.generator.name, "backend": self.config.backend,
                                 "stats": self.service.stats()})

        async def llmstep(request):
            async def answer(body):
                if not isinstance(body, dict):
                    raise RequestError("the body must be a JSON object")
                state = string_field(body, "tactic_state", None)
                if state is None:
                    raise RequestError("tactic_state is required")
                self._limit(state, "tactic_state")
                prefix = string_field(body, "prefix", "")
                context = string_field(body, "context", "") or ""
                context = context[-self.config.max_context_chars:]  # accepted; our prompts have no slot
                found = await self.candidates(self.config.backend, state, prefix, self.config.num_candidates)
                return {"suggestions": [c.tactic for c in found]}

            return await self._handle(request, answer, llmstep_style=True)

        async def generate(request):
            async def answer(body):
                if not isinstance(body, dict):
                    raise RequestError("the body must be a JSON object")
                state = string_field(body, "input", None)
                if state is None:
                    raise RequestError("input is required")
                self._limit(state, "input")
                prefix = string_field(body, "prefix", "") or ""
                string_field(body, "name", "")
                found = await self.candidates(self._copilot_backend(), state, prefix, self.config.num_candidates)
                return {"outputs": [{"output": c.tactic, "score": exp_mean_logprob(c)} for c in found]}

            return await self._handle(request, answer)

        async def encode(request):
            return JSONResponse({"error": "this server has no encoder (premise retrieval is not supported)"},
                                status_code=501)

        async def suggest(request):
            async def answer(body):
                if not isinstance(body, dict):
                    raise RequestError("the body must be a JSON object")
                return await self.suggest(body)

            return await self._handle(request, answer)

        async def prove_hole(request):
            async def answer(body):
                deadline = self._request_deadline()
                hole = read_hole_request(body, self.config.backend, self.file_roots, self.config.request_timeout)
                return await _in_thread(self.hole_prover.prove, hole, deadline)

            # Not cut at request_timeout: the search keeps to the deadline, and a write cut off unseen would hide it.
            return await self._handle(request, answer, cut_at_timeout=False)

        async def http_error(request, exc):
            messages = {404: "no such route", 405: "method not allowed"}
            return JSONResponse({"error": messages.get(exc.status_code, str(exc.detail))}, status_code=exc.status_code)

        async def server_error(request, exc):
            log.error("internal error answering %s %s", request.method, request.url.path, exc_info=exc)
            return JSONResponse({"error": "internal error"}, status_code=500)

        routes = [
            Route("/", llmstep, methods=["POST"]),
            Route("/generate", generate, methods=["POST"]),
            Route("/encode", encode, methods=["POST"]),
            Route("/suggest", suggest, methods=["POST"]),
            Route("/prove-hole", prove_hole, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
        @contextlib.asynccontextmanager
        async def lifespan(app):
            yield
            self.close()

        routed = Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error},
                           lifespan=lifespan)

        async def app(scope, receive, send):
            # Before any route: a web page the user visits must not drive the server (prover.serve_requests).
            if scope["type"] == "http":
                from starlette.datastructures import Headers

                refused = refusal(Headers(scope=scope), scope["method"], self.config.allow_origins)
                if refused is not None:
                    status, message = refused
                    body = {"error": message}
                    if scope["path"] == "/":
                        body["suggestions"] = []  # llmstep's client reads `suggestions` from whatever comes back
                    await JSONResponse(body, status_code=status)(scope, receive, send)
                    return
            await routed(scope, receive, send)

        return app

    async def _handle(self, request, answer, llmstep_style: bool = False,
                      cut_at_timeout: bool = True):
        from starlette.responses import JSONResponse

        def failure(status: int, message: str):
            if llmstep_style:  # llmstep's client reads `suggestions` from whatever comes back
                return JSONResponse({"suggestions": [], "error": message}, status_code=200 if status != 413 else 413)
            return JSONResponse({"error": message}, status_code=status)

        from starlette.requests import ClientDisconnect
        from starlette.responses import Response

        try:
            raw = await read_body(request, self.config.max_body_bytes)
        except ClientDisconnect:  # the client went away mid-body: nobody to answer, nothing to report
            log.debug("client disconnected before its request body arrived")
            return Response(status_code=400)
        if raw is None:
            return failure(413, f"request body over {self.config.max_body_bytes} bytes")
        try:
            body = json.loads(raw)
        except RecursionError:
            return failure(400, "malformed JSON: nested too deeply")
        except (ValueError, UnicodeDecodeError) as exc:
            return failure(400, f"malformed JSON: {exc}")
        try:
            result = await asyncio.wait_for(answer(body), self.config.request_timeout if cut_at_timeout else None)
        except (RequestError, CheckError) as exc:
            return failure(400, str(exc))
        except HoleRequestError as exc:
            return failure(exc.status, str(exc))
        except (asyncio.TimeoutError, TimeoutError, DeadlinePassed):
            return failure(504, f"no answer within {self.config.request_timeout:g}s")
        except Exception:  # noqa: BLE001 - a model or checker failure is the request's answer, not a crash
            log.exception("internal error answering %s", request.url.path)
            return failure(500, "internal error")  # the details are for the server's log, not for the client
        return JSONResponse(result)


def _editor(backend: str) -> EditorSyntax | None:
    return cached_plugin(backend).editor


async def _in_thread(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _row(c: Candidate, status: str | None) -> dict:
    row = {"tactic": c.tactic, "score": c.score}
    if status is not None:
        row["status"] = status
    return row
