"""Benchmark: the share of a theorem's time the model takes in a batch run with the default model.

value = the rows' summed `model_seconds` / their summed `seconds` over one `prover prove` run on the first
THEOREMS theorems of miniF2F-rocq valid with the README's first command's settings (`--model default`,
`--budget-seconds 30`, every other setting its default); target <= 0.5. The rest of a theorem's time is the proof
assistant's (tactics, the hammer) and the search's own. Totals per run go to stderr.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = "<=0.5"
THEOREMS = 20
BUDGET_S = 30


def model_share() -> tuple[float, str]:
    from benchmarks import Skipped

    try:
        from model_store import default_model_dir

        default_model_dir()  # converted before the clock matters
    except Exception as error:  # noqa: BLE001 - no default model: nothing to measure
        raise Skipped(f"default model unavailable: {error}", TARGET) from None
    with tempfile.TemporaryDirectory(prefix="model-share-") as folder:
        out = Path(folder) / "run"
        command = [sys.executable, "-c", "from prover.cli import main; main()", "prove", "--split", "valid",
                   "--limit", str(THEOREMS), "--model", "default", "--budget-seconds", str(BUDGET_S),
                   "--no-trees", "--out", str(out)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=THEOREMS * (BUDGET_S + 90))
        if done.returncode != 0:
            raise RuntimeError(f"prove failed: {done.stderr.strip()[-400:]}")
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    model = sum(row.get("model_seconds", 0.0) for row in rows)
    total = sum(row.get("seconds", 0.0) for row in rows)
    proved = sum(row.get("status") == "proved" for row in rows)
    print(f"model_share: {len(rows)} theorems, {proved} proved, model {model:.1f} s of {total:.1f} s", file=sys.stderr)
    return model / total, TARGET
