#!/usr/bin/env python3
"""Ask a running `prover serve` for next-tactic suggestions at the cursor of a Rocq (Coq) file.

    python scripts/rocq_suggest.py proof.v --line 12 --column 3
    python scripts/rocq_suggest.py proof.v --line 12 --column 3 --prefix "apply "
    head -c 1234 proof.v | python scripts/rocq_suggest.py -

The file is read up to the cursor (line and column are 1-based; without them, the whole file), sent to POST
/suggest as `check`, and the server replays it in coqtop to reach the proof state, samples tactics there, runs
each, and answers the ones that work: those that close the goal first. If the cursor is inside an unfinished
sentence, what is typed of it is the prefix. Prints one suggestion per line: `proves-goal\tTACTIC` or
`valid\tTACTIC` (`--plain`: the tactics only). Needs only the Python standard library, so an editor can run it
with any Python 3; the server URL comes from --server or $LLEMMA_SUGGEST_URL (default http://127.0.0.1:6000).
Exit status: 0 (suggestions printed, maybe none), 1 (the server answered an error, or cannot be reached).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request


def text_up_to(text: str, line: int | None, column: int | None) -> str:
    if line is None:
        return text
    lines = text.split("\n")
    if not 1 <= line <= len(lines) + 1:
        raise SystemExit(f"error: line {line} is outside the file (1-{len(lines)})")
    before = "\n".join(lines[: line - 1])
    current = lines[line - 1] if line <= len(lines) else ""
    cut = len(current) if column is None else max(0, column - 1)
    return (before + "\n" if line > 1 else "") + current[:cut]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="the .v file, or - for standard input (already cut at the cursor)")
    parser.add_argument("--line", type=int, help="cursor line, 1-based (default: the end of the file)")
    parser.add_argument("--column", type=int, help="cursor column, 1-based (default: the end of the line)")
    parser.add_argument("--prefix", default="", help="what the suggestions must start with, e.g. 'apply '")
    parser.add_argument("-n", type=int, default=8, help="suggestions to sample (default 8)")
    parser.add_argument("--server", default=os.environ.get("LLEMMA_SUGGEST_URL", "http://127.0.0.1:6000"))
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the answer")
    parser.add_argument("--plain", action="store_true", help="print only the tactics")
    parser.add_argument("--json", action="store_true", help="print the server's JSON answer as is")
    args = parser.parse_args(argv)

    text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
    check = text_up_to(text, args.line, args.column)
    body = json.dumps({"backend": "rocq", "state": "", "prefix": args.prefix, "n": args.n, "check": check}).encode()
    request = urllib.request.Request(args.server.rstrip("/") + "/suggest", data=body,
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        print(f"error: {message}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"error: cannot reach {args.server}: {getattr(exc, 'reason', exc)} (is `prover serve` running?)",
              file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return 0
    for suggestion in answer.get("suggestions", []):
        status = suggestion.get("status", "unchecked")
        print(suggestion["tactic"] if args.plain else f"{status}\t{suggestion['tactic']}")
    if not answer.get("suggestions"):
        print("(no suggestion works here)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
