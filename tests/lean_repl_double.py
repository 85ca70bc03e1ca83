#!/usr/bin/env python3
"""TEST DOUBLE for the Lean REPL (leanprover-community/repl): not Lean, it replays a recorded transcript.

Usage: lean_repl_double.py TRANSCRIPT [--crash-after N] [--hang-after N] [--garbage-after N] [--fault-once PATH]

TRANSCRIPT names a recorded pair: TRANSCRIPT.in (requests, JSON objects separated by blank lines) and
TRANSCRIPT.expected.out (the REPL's replies, pretty-printed JSON objects each followed by a blank line),
e.g. shared/data/lean-repl-transcripts/proof_step. Like the REPL, it reads a request up to a blank line
from stdin, exits at end of input, and answers each request with one JSON object and a blank line.

A request is answered with the reply recorded for the first not-yet-used recorded request, at or after
the last one used, that equals it as parsed JSON; the reply is written verbatim as recorded (so a driver
parses the REPL's own pretty-printing). A request that matches none gets
{"message": "test double: unrecorded input ..."}. Skipping forward lets a restarted driver go straight
to a later request (a fresh process starts the transcript again, as a fresh REPL starts its ids again).
Input that is not JSON ends the process with an error on stderr, as it does the REPL.

Faults, counted in answered requests, to exercise a driver's recovery:
  --crash-after N    exit with status 1, unanswered, on the request after the N-th
  --hang-after N     never answer the request after the N-th (sleep until killed)
  --garbage-after N  answer the request after the N-th with a block that is not JSON
  --fault-once PATH  fault only if PATH does not exist yet, creating it: a restarted double behaves
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def read_objects(text: str) -> list[tuple[object, str]]:
    """Each JSON object in `text` with its source text, in order."""
    decoder = json.JSONDecoder()
    objects, at = [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return objects
        value, end = decoder.raw_decode(text, at)
        objects.append((value, text[at:end]))
        at = end


def load_transcript(stem: str) -> list[tuple[object, str]]:
    """(request, reply text) pairs of a recorded transcript."""
    if stem.endswith(".in"):
        stem = stem[: -len(".in")]
    with open(stem + ".in", encoding="utf-8") as f:
        requests = [value for value, _ in read_objects(f.read())]
    with open(stem + ".expected.out", encoding="utf-8") as f:
        replies = [source for _, source in read_objects(f.read())]
    if len(requests) != len(replies):
        raise SystemExit(f"test double: {stem}: {len(requests)} requests but {len(replies)} replies")
    return list(zip(requests, replies))


def read_request(stdin) -> str | None:
    """Lines up to a blank line, as the REPL reads them; None at end of input."""
    lines = []
    while True:
        line = stdin.readline()
        if not line:
            return "".join(lines) if lines else None
        if not line.strip():
            if lines:
                return "".join(lines)
            continue
        lines.append(line.decode("utf-8"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("transcript")
    parser.add_argument("--crash-after", type=int)
    parser.add_argument("--hang-after", type=int)
    parser.add_argument("--garbage-after", type=int)
    parser.add_argument("--fault-once")
    args = parser.parse_args(argv)
    pairs = load_transcript(args.transcript)
    used = [False] * len(pairs)
    cursor = 0
    answered = 0
    out = sys.stdout.buffer

    def fault(after: int | None) -> bool:
        if after is None or answered != after:
            return False
        if args.fault_once:
            if os.path.exists(args.fault_once):
                return False
            open(args.fault_once, "w").close()
        return True

    while (text := read_request(sys.stdin.buffer)) is not None:
        try:
            request = json.loads(text)
        except ValueError as exc:
            print(f"uncaught exception: Could not parse JSON: {exc}", file=sys.stderr)
            return 1
        if fault(args.crash_after):
            return 1
        if fault(args.hang_after):
            time.sleep(3600)
            return 1
        if fault(args.garbage_after):
            out.write(b"this is not JSON {\n\n")
            out.flush()
            answered += 1
            continue
        for index in range(cursor, len(pairs)):
            if not used[index] and pairs[index][0] == request:
                used[index], cursor = True, index + 1
                reply = pairs[index][1]
                break
        else:
            reply = json.dumps({"message": f"test double: unrecorded input {json.dumps(request, ensure_ascii=False)}"})
        out.write(reply.encode("utf-8") + b"\n\n")
        out.flush()
        answered += 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
