"""Benchmark: `python -m training tokenize` throughput, in MB of input text per second (reported, no target).

value = median over ROUNDS of (UTF-8 bytes of the documents' text / wall seconds of one `tokenize_files` call)
tokenizing the Proof-Pile-2 shaped sample (.jsonl.zst, 53 documents, 0.36 MB of text) with the default
tokenizer into a temp folder, workers = CPU count. Each call pays for both passes (validating and hashing
every row, then tokenizing), the worker pool's start and the writes; a warm-up call first pays for the
one-time transformers import and tokenizer load, which a real run over gigabytes amortises.

The sample is small, so the pool's start (tens of ms) weighs more here than on Proof-Pile-2's shards; the
number is a floor for big inputs, not a ceiling.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import Skipped

TARGET = "report"
ROUNDS = 5
SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "proof-pile-2-sample" / "pp2_shaped_sample.jsonl.zst"


def tokenize_mb_per_s() -> tuple[float, str]:
    if not SAMPLE.is_file():
        raise Skipped(f"no sample data at {SAMPLE}", TARGET)
    from training.tokenize import tokenize_files

    workers = os.cpu_count() or 1
    rates, tokens = [], 0
    with tempfile.TemporaryDirectory(prefix="tokenize-bench-") as temp:
        tokenize_files([SAMPLE], Path(temp) / "warm-up", workers=workers)
        for i in range(ROUNDS):
            t0 = time.perf_counter()
            summary = tokenize_files([SAMPLE], Path(temp) / f"round-{i}", workers=workers)
            seconds = time.perf_counter() - t0
            rates.append(summary["bytes"] / 1e6 / seconds)
            tokens = sum(s["train_tokens"] + s["eval_tokens"] for s in summary["subsets"].values())
    value = statistics.median(rates)
    print(
        f"tokenize_mb_per_s: {summary['bytes'] / 1e6:.3f} MB, {tokens} tokens, {workers} workers, {ROUNDS} rounds; "
        f"MB/s min {min(rates):.3f} median {value:.3f} max {max(rates):.3f} "
        f"({value * 1e6 / summary['bytes'] * tokens / 1e3:.0f}k tokens/s at the median)",
        file=sys.stderr,
    )
    return round(value, 3), TARGET


if __name__ == "__main__":  # the same line `python -m benchmarks tokenize_mb_per_s` prints once registered
    value, target = tokenize_mb_per_s()
    print(json.dumps({"metric": "tokenize_mb_per_s", "value": value, "target": target}))
