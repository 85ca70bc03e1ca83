"""Benchmark: the share of a theorem's budget the hammer tier takes under the default settings.

value = the largest `hammer_seconds` / budget over the rows of one `prover prove` run with the defaults (`--model
default`, a 60 s budget, the hammer on) on THEOREMS theorems of miniF2F-rocq valid that neither the automation
nor the hammer proves, so each search runs its whole budget; target <= 0.55: SearchConfig.hammer_share (0.5)
bounds the hammer's calls together, and a call is cut at that bound (plus the interrupt's grace).

Per-row details go to stderr: the hammer's seconds, the row's seconds and the hammer's share of its wall time.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = "<=0.55"
THEOREMS = ("aimeII_2001_p3", "aime_1983_p9", "aime_1988_p4")  # valid; no proof by automation or hammer here


def hammer_share() -> tuple[float, str]:
    from benchmarks import Skipped
    from coq_env import hammer
    from prover.search import SearchConfig

    env = {k: v for k, v in os.environ.items() if k != hammer.ENV_SWITCH}
    if hammer.unavailable_reason():
        raise Skipped(hammer.unavailable_reason(), TARGET)
    try:
        from model_store import default_model_dir

        default_model_dir()  # converted before the clock matters
    except Exception as error:  # noqa: BLE001 - no default model: nothing to measure
        raise Skipped(f"default model unavailable: {error}", TARGET) from None
    budget = SearchConfig().budget_seconds
    with tempfile.TemporaryDirectory(prefix="hammer-share-") as folder:
        out = Path(folder) / "run"
        command = [sys.executable, "-c", "from prover.cli import main; main()", "prove", "--names", ",".join(THEOREMS),
                   "--no-trees", "--out", str(out)]
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for row in rows:
        spent = row.get("hammer_seconds", 0.0)
        print(f"{row['name']}: {row['status']}, hammer {spent:.1f} s of {row['seconds']:.1f} s "
              f"({spent / max(row['seconds'], 1e-9):.0%} of its wall time)", file=sys.stderr)
    return round(max(row.get("hammer_seconds", 0.0) for row in rows) / budget, 3), TARGET
