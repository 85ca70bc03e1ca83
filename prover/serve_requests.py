"""What an editor request to prover.serve may be: the origins and media type let through, a bounded body, text fields.

A browser adds `Origin` to a page's cross-site requests, and may send a "simple" cross-site POST (a text/plain body,
no CORS pre-flight) without asking: so `refusal` turns away a request from a non-loopback origin that
--allow-origin does not name, and a POST that does not say it is JSON. The server answers no CORS pre-flight
(OPTIONS gets 405) and sends no Access-Control-* header, so a page can never read an answer either.
"""
from __future__ import annotations

import re

_LOOPBACK_ORIGIN = re.compile(r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?/?", re.IGNORECASE)


class RequestError(Exception):
    """Something wrong with the request itself (HTTP 400)."""


def refusal(headers, method: str, allow_origins: tuple[str, ...]) -> tuple[int, str] | None:
    """(status, message) for a request no route may see, or None."""
    origin = headers.get("origin")
    if origin is not None and not loopback_origin(origin) and \
            origin.rstrip("/").lower() not in {o.rstrip("/").lower() for o in allow_origins}:
        return 403, f"origin {origin[:100]!r} is not allowed (loopback only, or prover serve --allow-origin)"
    if method == "POST":
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return 415, "Content-Type must be application/json"
    return None


def loopback_origin(origin: str) -> bool:
    """Whether a browser's `Origin` is a page served from this machine (http://localhost:8080 and the like)."""
    return _LOOPBACK_ORIGIN.fullmatch(origin.strip()) is not None


async def read_body(request, limit: int) -> bytes | None:
    """The body, or None when it is over `limit` bytes (told by Content-Length, or found while reading)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def string_field(body: dict, key: str, default):
    """`body[key]` if it is valid text, `default` where it is missing or null; RequestError for anything else."""
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise RequestError(f"{key} must be a string")
    return valid_text(value, key)


def valid_text(value: str, key: str) -> str:
    """`value`, if it is text a tokenizer or coqtop can take: JSON's \\ud800 escapes make lone surrogates."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(f"{key} is not valid Unicode text (it holds a lone surrogate)") from None
    return value
