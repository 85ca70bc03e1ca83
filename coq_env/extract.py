"""Proofstep rows from real Coq sources: each file's proofs replayed through coqtop (coq_env.replay; the files
from coq_env.sources), in parallel, resumable, with one final pass that orders, splits and guards the rows.

    extract_proofsteps("stdlib", "out.jsonl")          # every .v of the installed standard library
    extract_proofsteps("coquelicot", "out.jsonl")      # an installed library that ships its sources (LIBRARIES)
    extract_proofsteps("path/to/project", "out.jsonl")  # a folder of .v files (built: Requires need the .vo)

Next to the output: `out.jsonl.files.jsonl`, one row per source file as it finishes (status, counts), and
`out.jsonl.partial`, the rows of those files. A rerun skips the files already logged (ExtractOptions(fresh=True)
starts over); the final pass (order, split, dedupe, contamination guard) always rebuilds `out.jsonl` from the
partial rows, so an interrupted run loses at most the files in flight.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from coq_env.replay import FILE_TIMEOUT, SENTENCE_TIMEOUT, replay_file
from coq_env.sources import ExtractError, SourceFile, source_files
from prover.jsonl import BadLine, atomic_file, iter_rows, read_rows
from prover.proofsteps import ExtractOptions, ProofStep, deduplicate, split_of, write_proofsteps
from prover.types import Theorem

SPLITS = ("train", "valid", "test")


def _worker_init() -> None:
    # Ctrl-C is the parent's to handle; a terminated worker still kills its coqtop (the `with` in run()).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))


def _replay_job(job: tuple[SourceFile, float, float, float, float]) -> tuple[dict, list[dict], dict | None]:
    file, sentence_timeout, file_timeout, valid_fraction, test_fraction = job
    result = replay_file(file, sentence_timeout, file_timeout)
    split = split_of(file.relpath, valid_fraction, test_fraction)
    rows, dropped = result.rows(split)
    record = result.theorems_record(split) if split != "train" else None
    return result.log_row(len(rows), dropped), [asdict(r) for r in rows], record


def _read_log(path: Path) -> dict[str, dict]:
    # A file whose log line was cut short by a kill is not in it (the line is cut off): that file is replayed again.
    return {row["source"]: row for row in read_rows(path, ("source",), tail="cut")} if path.exists() else {}


def _compact_partial(path: Path, done: dict[str, dict]) -> None:
    """Keep only the rows of logged files: rows of a file cut off mid-write are replayed, not doubled."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as src, atomic_file(path) as dst:
        for line in src:
            try:
                keep = json.loads(line)["source"] in done
            except (ValueError, KeyError, TypeError):
                keep = False
            if keep:
                dst.write(line)


def _rows_in_file_order(path: Path, order: dict[str, int]) -> Iterator[ProofStep]:
    """The partial rows grouped by source in `order` (files finish in any order), each file's in proof order."""
    offsets: dict[str, list[int]] = {}
    with open(path, "rb") as f:
        while True:
            offset = f.tell()
            line = f.readline()
            if not line:
                break
            source = json.loads(line)["source"]
            if source in order:
                offsets.setdefault(source, []).append(offset)
    with open(path, "rb") as f:
        for source in sorted(offsets, key=order.__getitem__):
            for offset in offsets[source]:
                f.seek(offset)
                yield ProofStep(**json.loads(f.readline()))


def extract_proofsteps(source: str | Path, out: str | Path, options: ExtractOptions = ExtractOptions()) -> dict:
    """Replay `source` (`stdlib`, an installed library's name such as `coquelicot`, a .v file or a folder) and write
    its proofstep rows to `out`; returns the summary.

    `options.guard` (a prover.contamination.NgramGuard) drops rows that share an n-gram with a benchmark statement
    and reports them in `out.contamination.json`. Files already in `out.files.jsonl` are not replayed again
    unless `options.fresh`. The held-out files' top-level theorems go to `out.theorems.jsonl`
    (`load_heldout_theorems`): tasks for a prover trained on the rest.
    """
    workers, limit, fresh, progress, guard = options.workers, options.limit, options.fresh, options.progress, options.guard
    valid_fraction, test_fraction = options.valid_fraction, options.test_fraction
    sentence_timeout = SENTENCE_TIMEOUT if options.sentence_timeout is None else options.sentence_timeout
    file_timeout = FILE_TIMEOUT if options.file_timeout is None else options.file_timeout
    started = time.monotonic()
    files = source_files(source)[:limit] if limit else source_files(source)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    log_path, partial_path = Path(f"{out}.files.jsonl"), Path(f"{out}.partial")
    theorems_partial = Path(f"{out}.theorems.partial")
    if fresh:
        for path in (log_path, partial_path, theorems_partial):
            path.unlink(missing_ok=True)
    labels = {f.label for f in files}
    done = _read_log(log_path)
    if done and not labels & done.keys():
        raise ExtractError(f"{log_path} logs files of another source: pass --fresh or choose another --out")
    _compact_partial(partial_path, done)
    _compact_partial(theorems_partial, done)
    resumed = sum(label in labels for label in done)
    todo = [f for f in files if f.label not in done]
    jobs = [(f, sentence_timeout, file_timeout, valid_fraction, test_fraction) for f in todo]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    rows_replayed = 0  # by this run, not the files it resumed: its throughput
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), initial=resumed, unit="file", file=sys.stderr)
    # Spawned, not forked: a fork of a process whose other threads hold locks (a loaded model's, a logger's) can
    # leave the worker waiting on one forever.
    pool = multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_init) if workers > 1 else None
    finished = False
    try:
        results = pool.imap_unordered(_replay_job, jobs) if pool else map(_replay_job, jobs)
        with open(partial_path, "a", encoding="utf-8") as partial, open(log_path, "a", encoding="utf-8") as log, \
                open(theorems_partial, "a", encoding="utf-8") as theorems:
            for log_row, rows, record in results:
                partial.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
                partial.flush()  # rows before their log line: a logged file's rows are always whole
                rows_replayed += len(rows)
                if record is not None:
                    theorems.write(json.dumps(record, ensure_ascii=False) + "\n")
                    theorems.flush()
                log.write(json.dumps(log_row) + "\n")
                log.flush()
                done[log_row["source"]] = log_row
                if bar:
                    bar.update()
                    bar.set_postfix_str(log_row["file"][-40:])
        finished = True
    finally:
        if pool:
            # Done: the workers leave by themselves. Terminated (SIGTERM) while idle, one could be left waiting on
            # the task queue's lock forever, and join with it; terminate only on an interrupt or an error.
            if finished:
                pool.close()
            else:
                pool.terminate()
            pool.join()
        if bar:
            bar.close()
    summary = _finish(files, done, out, partial_path, valid_fraction, test_fraction, guard, resumed, started)
    # Throughput: rows this run replayed (before dedupe) per second of its wall time, the final pass included.
    summary["rows_replayed"] = rows_replayed
    summary["rows_per_second"] = round(rows_replayed / max(time.monotonic() - started, 1e-3), 1)
    summary["heldout_theorems"] = _write_heldout_theorems(files, theorems_partial, Path(f"{out}.theorems.jsonl"),
                                                          valid_fraction, test_fraction, guard)
    return summary


def _write_heldout_theorems(files, partial: Path, out: Path, valid_fraction, test_fraction, guard) -> dict:
    """`out.theorems.jsonl`: the held-out files' records (a file's split can change with the fractions: a file
    replayed while it was in train has none), each name once, statements the guard flags dropped."""
    relpath = {f.label: f.relpath for f in files}
    names: set[str] = set()
    counts = Counter()
    records = []
    for record in read_rows(partial) if partial.exists() else []:
        if record.get("source") not in relpath:
            continue
        split = split_of(relpath[record["source"]], valid_fraction, test_fraction)
        if split == "train":
            continue
        lemmas = []
        for lemma in record["lemmas"]:
            if lemma["name"] in names:
                counts["duplicate_names"] += 1
            elif guard is not None and guard.match(lemma["statement"]):
                counts["dropped_contamination"] += 1
            else:
                names.add(lemma["name"])
                lemmas.append(lemma)
                counts[split] += 1
        if lemmas:
            records.append({**record, "split": split, "lemmas": lemmas})
    with atomic_file(out) as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    return {"valid": counts["valid"], "test": counts["test"], "duplicate_names": counts["duplicate_names"],
            "dropped_contamination": counts["dropped_contamination"], "out": str(out)}


def load_heldout_theorems(path: str | Path, split: str = "valid") -> tuple[Theorem, ...]:
    """The theorems `extract_proofsteps` wrote to OUT.theorems.jsonl for `split` (valid or test), each with
    the sentences before it in its file as its header. Raises ExtractError for a file that is not one."""
    path = Path(path)
    if not path.is_file():
        raise ExtractError(f"no such theorems file: {path} (`prover extract` writes OUT.theorems.jsonl)")
    theorems = []
    try:
        for number, record in iter_rows(path, strict=True):
            try:
                if record["split"] != split:
                    continue
                for lemma in record["lemmas"]:
                    theorems.append(Theorem(name=lemma["name"], statement=lemma["statement"],
                                            header="\n".join(record["sentences"][:lemma["at"]]), backend="rocq",
                                            split=split, benchmark=f"corpus:{record['source']}"))
            except (KeyError, TypeError) as exc:
                raise ExtractError(f"{path}:{number}: not a held-out theorems row ({type(exc).__name__}: {exc})") from None
    except BadLine as exc:
        raise ExtractError(f"{path}:{exc.number}: not a held-out theorems row ({exc.problem})") from None
    return tuple(theorems)


def _finish(files, done, out, partial_path, valid_fraction, test_fraction, guard, resumed, started) -> dict:
    """Order, split, deduplicate and guard the partial rows; write `out` atomically; the summary."""
    order = {f.label: i for i, f in enumerate(files)}
    relpath = {f.label: f.relpath for f in files}
    counts = Counter()

    def rows() -> Iterator[ProofStep]:
        if not partial_path.exists():
            return
        for row in _rows_in_file_order(partial_path, order):
            counts["rows"] += 1
            split = split_of(relpath[row.source], valid_fraction, test_fraction)
            yield row if row.split == split else ProofStep(**{**asdict(row), "split": split})

    def unique(stream: Iterator[ProofStep]) -> Iterator[ProofStep]:
        for row in deduplicate(stream):
            counts["unique"] += 1
            yield row

    stream = unique(rows())
    report = guard.new_report() if guard is not None else None
    if guard is not None:
        stream = guard.filter(stream, report)
    per_split = Counter()

    def counted(stream: Iterator[ProofStep]) -> Iterator[ProofStep]:
        for row in stream:
            per_split[row.split] += 1
            yield row

    written = write_proofsteps(out, counted(stream))
    logged = [done[f.label] for f in files if f.label in done]
    skipped = [r for r in logged if r["status"] != "ok"]
    dropped = Counter()
    for r in logged:
        dropped.update(r.get("rows_dropped", {}))
    summary = {
        "source_files": len(files),
        "files_logged": len(logged),
        "files_resumed": resumed,
        "files_replayed_fully": len(logged) - len(skipped),
        "files_skipped": len(skipped),
        "skip_reasons": dict(Counter(r["reason"] for r in skipped).most_common()),
        "lemmas": sum(r["lemmas"] for r in logged),
        "lemmas_kept": sum(r["lemmas_kept"] for r in logged),
        "lemmas_failed": sum(r["lemmas_failed"] for r in logged),
        "lemmas_admitted": sum(r["lemmas_admitted"] for r in logged),
        "steps_dropped": dict(dropped),
        "rows_before_dedupe": counts["rows"],
        "rows_after_dedupe": counts["unique"],
        "rows_dropped_contamination": report.rows_dropped if report is not None else None,
        "rows_written": written,
        "rows_per_split": {s: per_split[s] for s in SPLITS},
        "replay_seconds": round(sum(r["seconds"] for r in logged), 1),
        "seconds": round(time.monotonic() - started, 1),
        "out": str(out),
    }
    if report is not None:
        report.write(Path(f"{out}.contamination.json"))
    return summary
