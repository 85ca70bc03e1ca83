"""Tokenizing Proof-Pile-2 style rows into token shards, one folder per subset.

`tokenize_files` turns rows (`{"text": ..., "meta": {...}}` in .jsonl or .jsonl.zst) into:

    OUT/<subset folder>/train.bin    flat token ids (uint16 or uint32), each document followed by EOS
    OUT/<subset folder>/eval.bin     the held-out documents, same format
    OUT/<subset folder>/index.json   subset name, dtype, tokenizer, eos_id, vocab_size, counts, sources

`training.data` reads them back (`TokenShards`, `Mixture`).
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import multiprocessing
import os
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import zstandard

from training.data import DTYPES, INDEX, SPLITS, DataError, first_line

EVAL_BUCKETS = 10_000
CHUNK_CHARS = 1 << 15  # text per pool task: small, so that even a small input keeps every worker busy


def subset_folder_name(name: str) -> str:
    """A folder name for a subset: runs of characters other than letters, digits, '.', '_' and '-' become
    '-', and a name that had to change gets a trailing '_' so it cannot equal a name that was already clean
    ("algebraic-stack(mathstack-dev)" -> "algebraic-stack-mathstack-dev_")."""
    folder = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    if folder != name:
        folder += "_"
    return folder


# ------------------------------------------------------------------------------------------ reading input


def _expand_inputs(inputs: list[Path]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and _stem(p) is not None)
            if not found:
                raise DataError(f"no .jsonl or .jsonl.zst files in folder {path}")
            files.extend(found)
        elif not path.exists():
            raise DataError(f"no such file or folder: {path}")
        elif _stem(path) is None:
            raise DataError(f"{path} is not a .jsonl or .jsonl.zst file")
        else:
            files.append(path)
    if not files:
        raise DataError("no input files")
    unique = {}
    for path in files:  # the same file named twice would double its documents
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _stem(path: Path) -> str | None:
    """The file's name without .jsonl / .jsonl.zst, or None for any other file."""
    for suffix in (".jsonl.zst", ".jsonl"):
        if path.name.endswith(suffix) and len(path.name) > len(suffix):
            return path.name[: -len(suffix)]
    return None


@contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    with open(path, "rb") as raw:
        if path.name.endswith(".zst"):
            # read_across_frames: multi-frame files (pzstd, concatenated shards) are valid .zst too
            binary = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        else:
            binary = raw
        with io.TextIOWrapper(binary, encoding="utf-8", newline="\n") as text:
            yield text


def _read_rows(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line number, text, meta.subset or None) for each non-blank line of a JSONL file."""
    line_no = 0
    try:
        with _open_text(path) as lines:
            for line_no, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"not JSON on line {line_no} of {path}: {exc.msg}") from None
                text = row.get("text") if isinstance(row, dict) else None
                if not isinstance(text, str):
                    raise DataError(f'line {line_no} of {path} has no string "text"')
                meta = row.get("meta")
                subset = meta.get("subset") if isinstance(meta, dict) else None
                if subset is not None and (not isinstance(subset, str) or not subset):
                    raise DataError(f"meta.subset on line {line_no} of {path} is not a non-empty string")
                yield line_no, text, subset
    except UnicodeDecodeError:
        raise DataError(f"not UTF-8 text after line {line_no} of {path}") from None
    except (OSError, zstandard.ZstdError) as exc:
        raise DataError(f"cannot read {path}: {first_line(exc)}") from None


def _bucket(text: str) -> tuple[int, int]:
    """(hash bucket in [0, EVAL_BUCKETS), hash): a stable hash of the text, the same in every process."""
    digest = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
    return digest % EVAL_BUCKETS, digest


# -------------------------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True)
class _TokenizerInfo:
    spec: str
    serialized: str  # the fast tokenizer's JSON, which workers rebuild without importing transformers
    eos_id: int
    vocab_size: int

    @property
    def dtype(self) -> str:
        return "uint16" if self.vocab_size < 1 << 16 else "uint32"


@functools.lru_cache(maxsize=4)
def _load_tokenizer(spec: str) -> _TokenizerInfo:
    if spec == "default":
        from model_store import default_model_dir

        try:
            source = str(default_model_dir())
        except Exception as exc:  # noqa: BLE001 - any failure to fetch the default is one line
            raise DataError(f"cannot get the default tokenizer: {first_line(exc)}") from None
    elif Path(spec).expanduser().exists():
        source = str(Path(spec).expanduser())
    elif spec.startswith(("/", ".", "~")):  # a path, so asking the hub (slow retries offline) is pointless
        raise DataError(f"unknown tokenizer {spec!r}: no such folder")
    else:
        source = spec  # a hub id
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except Exception as exc:  # noqa: BLE001 - every loader failure becomes one printable line
        raise DataError(f"unknown tokenizer {spec!r}: {first_line(exc)}") from None
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise DataError(f"tokenizer {spec!r} has no fast (Rust) tokenizer")
    if tokenizer.eos_token_id is None:
        raise DataError(f"tokenizer {spec!r} has no EOS token")
    vocab_size = max(len(tokenizer), tokenizer.vocab_size or 0)
    return _TokenizerInfo(spec, backend.to_str(), int(tokenizer.eos_token_id), int(vocab_size))


_worker: dict = {}


def _init_worker(serialized: str, eos_id: int, dtype: str, ignore_sigint: bool) -> None:
    """Pool initializer (also run in the parent): build the tokenizer once per process."""
    if ignore_sigint:  # Ctrl-C reaches the parent, which stops the pool; no traceback per worker
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _worker.get("serialized") != serialized:  # a forked worker inherits the parent's, saving ~0.2 s
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(serialized)
        # A document that contains "<|endoftext|>" literally must not get an EOS id inside it.
        tokenizer.encode_special_tokens = True
        _worker.update(serialized=serialized, tokenizer=tokenizer)
    _worker.update(eos=eos_id, dtype=DTYPES[dtype])


def _encode_chunk(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(all documents' ids, each followed by EOS, concatenated; per-document lengths)."""
    tokenizer, eos = _worker["tokenizer"], _worker["eos"]
    ids: list[int] = []
    lengths = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        # One document at a time: the pool is the parallelism; the tokenizer's own threads would contend.
        doc = tokenizer.encode(text, add_special_tokens=False).ids
        ids.extend(doc)
        ids.append(eos)
        lengths[i] = len(doc) + 1
    return np.array(ids, dtype=_worker["dtype"]), lengths


# ----------------------------------------------------------------------------------------- tokenizing


@dataclass
class _Plan:
    """What the first pass learns about one subset."""

    name: str
    folder: str
    documents: int = 0
    eval_documents: int = 0
    sources: list[str] = field(default_factory=list)
    lowest: tuple = ()  # (bucket, hash, file index, line) of the document nearest to eval
    highest: tuple = ()  # ... and of the one farthest from it


def _subset_of(given: str | None, meta_subset: str | None, path: Path) -> str:
    return given or meta_subset or _stem(path) or path.name


def _scan(files: list[Path], subset: str | None, threshold: int) -> tuple[dict[str, _Plan], dict, int]:
    """First pass: validate every row (so bad input fails before anything is written), count documents
    per subset and pick the documents whose split the small-subset rule overrides."""
    plans: dict[str, _Plan] = {}
    total_bytes = 0
    for file_index, path in enumerate(files):
        for line_no, text, meta_subset in _read_rows(path):
            name = _subset_of(subset, meta_subset, path)
            plan = plans.get(name)
            if plan is None:
                plan = plans[name] = _Plan(name, subset_folder_name(name))
            if not plan.sources or plan.sources[-1] != str(path):  # files are read one after another
                plan.sources.append(str(path))
            bucket, digest = _bucket(text)
            key = (bucket, digest, file_index, line_no)
            plan.documents += 1
            plan.eval_documents += bucket < threshold
            plan.lowest = min(plan.lowest, key) if plan.lowest else key
            plan.highest = max(plan.highest, key) if plan.highest else key
            total_bytes += len(text.encode("utf-8"))
    if not plans:
        raise DataError(f"no documents in {', '.join(map(str, files))}")
    folders: dict[str, str] = {}
    for plan in plans.values():
        if not plan.folder:
            raise DataError(f"subset name {plan.name!r} has no usable characters for a folder name")
        other = folders.setdefault(plan.folder, plan.name)
        if other != plan.name:
            raise DataError(f"subsets {other!r} and {plan.name!r} would share the folder {plan.folder!r}")
    # Small-subset rule: the hash alone can leave a tiny subset with no eval document (or no train one).
    # A subset with >= 2 documents and eval_fraction > 0 always gets one eval document (the one whose
    # bucket is lowest, i.e. nearest to being chosen) and always keeps one train document (the highest);
    # a single document always trains.
    forced: dict[tuple[int, int], str] = {}
    for plan in plans.values():
        if plan.documents == 1:
            forced[plan.lowest[2:]] = "train"
        elif threshold > 0 and plan.eval_documents == 0:
            forced[plan.lowest[2:]] = "eval"
        elif plan.eval_documents == plan.documents:
            forced[plan.highest[2:]] = "train"
    return plans, forced, total_bytes


def _chunks(files: list[Path], subset: str | None, threshold: int, forced: dict,
            ) -> Iterator[tuple[list[tuple[str, str]], list[str]]]:
    """Second pass: ([(subset, split)] and [text]) for runs of documents of about CHUNK_CHARS."""
    labels: list[tuple[str, str]] = []
    texts: list[str] = []
    size = 0
    for file_index, path in enumerate(files):
        for line_no, text, meta_subset in _read_rows(path):
            split = forced.get((file_index, line_no))
            if split is None:
                split = "eval" if _bucket(text)[0] < threshold else "train"
            labels.append((_subset_of(subset, meta_subset, path), split))
            texts.append(text)
            size += len(text)
            if size >= CHUNK_CHARS:
                yield labels, texts
                labels, texts, size = [], [], 0
    if texts:
        yield labels, texts


class _Writer:
    """Appends each subset's splits to temp files, then moves them into place with a fresh index.json."""

    def __init__(self, out: Path, plans: dict[str, _Plan]):
        self.out, self.plans = out, plans
        self.files: dict[tuple[str, str], object] = {}
        self.counts = {(name, split): [0, 0] for name in plans for split in SPLITS}  # [documents, tokens]
        try:
            for name, plan in plans.items():
                folder = out / plan.folder
                folder.mkdir(parents=True, exist_ok=True)
                for split in SPLITS:
                    self.files[name, split] = open(self._temp(folder, split), "wb")  # noqa: SIM115 - see abort
        except OSError:
            self.abort()
            raise

    @staticmethod
    def _temp(folder: Path, split: str) -> Path:
        return folder / f".{split}.bin.tmp-{os.getpid()}"

    def write(self, labels: list[tuple[str, str]], ids: np.ndarray, lengths: np.ndarray) -> None:
        offset = 0
        for label, length in zip(labels, lengths.tolist()):
            self.files[label].write(memoryview(ids[offset:offset + length]))
            count = self.counts[label]
            count[0] += 1
            count[1] += length
            offset += length

    def commit(self, info: _TokenizerInfo) -> None:
        for handle in self.files.values():
            handle.close()
        for name, plan in self.plans.items():
            folder = self.out / plan.folder
            # No index.json while the .bin files change, so no index ever describes a partial .bin.
            (folder / INDEX).unlink(missing_ok=True)
            for split in SPLITS:
                os.replace(self._temp(folder, split), folder / f"{split}.bin")
            index = {
                "subset": name,
                "dtype": info.dtype,
                "tokenizer": info.spec,
                "eos_id": info.eos_id,
                "vocab_size": info.vocab_size,
                **{split: dict(zip(("documents", "tokens"), self.counts[name, split])) for split in SPLITS},
                "sources": plan.sources,
            }
            temp = folder / f".{INDEX}.tmp-{os.getpid()}"
            temp.write_text(json.dumps(index, indent=2) + "\n")
            os.replace(temp, folder / INDEX)

    def abort(self) -> None:
        for (name, split), handle in self.files.items():
            handle.close()
            self._temp(self.out / self.plans[name].folder, split).unlink(missing_ok=True)


def tokenize_files(inputs: list[Path], out: Path, tokenizer: str = "default", subset: str | None = None,
                   eval_fraction: float = 0.02, workers: int | None = None) -> dict:
    """Tokenize JSONL(.zst) documents into OUT/<subset>/{train,eval}.bin + index.json; returns a summary.

    Every document becomes its token ids followed by EOS. A document is held out for eval when a hash of
    its text falls below eval_fraction, so the split is stable across runs, machines and worker counts.
    """
    started = time.perf_counter()
    if not 0 <= eval_fraction < 1:
        raise DataError(f"eval_fraction must be in [0, 1), not {eval_fraction}")
    if subset is not None and not subset:
        raise DataError("the subset name is empty")
    threshold = max(1, round(eval_fraction * EVAL_BUCKETS)) if eval_fraction > 0 else 0
    files = _expand_inputs(list(inputs))
    plans, forced, total_bytes = _scan(files, subset, threshold)
    info = _load_tokenizer(str(tokenizer))
    workers = max(1, workers or os.cpu_count() or 1)
    workers = min(workers, max(1, math.ceil(total_bytes / CHUNK_CHARS)))

    out = Path(out)
    try:
        writer = _Writer(out, plans)
    except OSError as exc:
        raise DataError(f"cannot write token shards under {out}: {first_line(exc)}") from None
    try:
        chunks = _chunks(files, subset, threshold, forced)
        _init_worker(info.serialized, info.eos_id, info.dtype, ignore_sigint=False)
        if workers == 1:
            for labels, texts in chunks:
                writer.write(labels, *_encode_chunk(texts))
        else:
            # fork starts workers without re-importing anything; spawn where fork is not the safe default
            context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            with context.Pool(workers, _init_worker, (info.serialized, info.eos_id, info.dtype, True)) as pool:
                # apply_async with a bounded queue instead of imap: imap would read the whole input ahead
                # into memory; results are still consumed in submission order, so output is deterministic.
                pending: deque = deque()
                for labels, texts in chunks:
                    pending.append((labels, pool.apply_async(_encode_chunk, (texts,))))
                    if len(pending) >= 4 * workers:
                        labels, result = pending.popleft()
                        writer.write(labels, *result.get())
                while pending:
                    labels, result = pending.popleft()
                    writer.write(labels, *result.get())
        writer.commit(info)
    except BaseException as exc:
        writer.abort()
        if isinstance(exc, OSError):  # reading errors are DataErrors already, so this is the output side
            raise DataError(f"cannot write token shards under {out}: {first_line(exc)}") from None
        raise
    seconds = time.perf_counter() - started
    return {
        "out": str(out),
        "subsets": {
            name: {
                "folder": plan.folder,
                "train_tokens": writer.counts[name, "train"][1],
                "eval_tokens": writer.counts[name, "eval"][1],
                "documents": plan.documents,
            }
            for name, plan in plans.items()
        },
        "bytes": total_bytes,
        "seconds": round(seconds, 3),
        "mb_per_s": round(total_bytes / 1e6 / seconds, 3),
    }
