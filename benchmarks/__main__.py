"""Run benchmarks (all, or those named) and print one JSON line per metric: {"metric", "value", "target"}."""
from __future__ import annotations

import json
import sys
import traceback

from benchmarks import Skipped
from benchmarks.registry import BENCHMARKS


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = False
    for name in names:
        try:
            value, target = BENCHMARKS[name]()
        except Skipped as skipped:
            print(json.dumps({"metric": name, "value": None, "target": skipped.target, "skipped": skipped.reason}), flush=True)
            continue
        except Exception:  # one broken benchmark should not hide the others' results
            traceback.print_exc(file=sys.stderr)
            failed = True
            continue
        print(json.dumps({"metric": name, "value": round(float(value), 3), "target": target}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
