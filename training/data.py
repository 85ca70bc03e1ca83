"""Reading token shards back, and the stateless data mixture that samples training windows from them.

`training.tokenize` writes one folder per subset (train.bin, eval.bin, index.json). `TokenShards`
memory-maps one split of one subset; `Mixture` draws packed training windows from several subsets by
weight (Llemma: arXiv : OpenWebMath : AlgebraicStack = 2 : 4 : 1) as a pure function of
(seed, step, rank, micro_step), so resuming needs nothing but the step number.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

SPLITS = ("train", "eval")
INDEX = "index.json"
DTYPES = {"uint16": np.dtype("<u2"), "uint32": np.dtype("<u4")}


class DataError(Exception):
    """Bad input data or shards; the message is one printable line."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name if it has none), for a one-line DataError."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --------------------------------------------------------------------------------------------- shards


def _read_index(folder: Path) -> dict:
    path = folder / INDEX
    try:
        index = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"no {INDEX} in {folder} (not a token-shard folder, or an interrupted tokenize)") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {first_line(exc)}") from None
    if not isinstance(index, dict) or index.get("dtype") not in DTYPES or not all(
            isinstance(index.get(split), dict) for split in SPLITS):
        raise DataError(f"{path} is not a token-shard index")
    return index


class TokenShards:
    """One split of one tokenized subset: `.tokens` is a read-only 1-D memmap (an empty array for a
    0-token split), `len()` its token count."""

    def __init__(self, folder: Path | str, split: str = "train"):
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r} (use {' or '.join(SPLITS)})")
        self.folder = Path(folder)
        self.split = split
        self.index = _read_index(self.folder)
        self.name: str = self.index["subset"]
        self.eos_id: int = self.index["eos_id"]
        self.vocab_size: int = self.index["vocab_size"]
        self.documents: int = self.index[split]["documents"]
        dtype = DTYPES[self.index["dtype"]]
        count = self.index[split]["tokens"]
        path = self.folder / f"{split}.bin"
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise DataError(f"{path} is missing") from None
        if size != count * dtype.itemsize:
            raise DataError(f"{path} has {size} bytes but {INDEX} says {count} {dtype.name} tokens")
        # np.memmap cannot map an empty file, and a 0-token split is legal (eval_fraction=0).
        self.tokens = np.memmap(path, dtype=dtype, mode="r", shape=(count,)) if count else np.empty(0, dtype)

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"TokenShards({self.name!r}, {self.split}, {len(self)} tokens)"


def available_subsets(root: Path | str) -> dict[str, Path]:
    """{subset name: folder} of the token-shard folders directly under root."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"no token shards at {root} (run `python -m training tokenize --out {root}`)")
    found = {}
    for folder in sorted(p for p in root.iterdir() if (p / INDEX).is_file()):
        found[_read_index(folder)["subset"]] = folder
    return found


class Mixture:
    """Weighted sampling of packed windows from several subsets, with no loader state.

    Every row of `batch(seed, step, rank, micro_step, ...)` is a function of those arguments and the data
    alone, so a run resumed at step k sees exactly the batches it would have seen.
    """

    def __init__(self, root: Path | str, weights: dict[str, float], split: str = "train"):
        self.root = Path(root)
        available = available_subsets(self.root)
        by_folder = {folder.name: name for name, folder in available.items()}
        listing = ", ".join(f"{name} ({folder.name})" if folder.name != name else name
                            for name, folder in available.items()) or "none"
        chosen: dict[str, float] = {}
        for key, weight in weights.items():
            name = key if key in available else by_folder.get(key)
            if name is None:
                raise DataError(f"unknown subset {key!r} under {self.root}; available: {listing}")
            if name in chosen:
                raise DataError(f"subset {name!r} is weighted twice")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                    or weight < 0:
                raise DataError(f"the weight of subset {key!r} must be a number >= 0, not {weight!r}")
            if weight > 0:  # a zero weight turns a subset off
                chosen[name] = float(weight)
        if not chosen:
            raise DataError("the mixture has no subset with a positive weight")
        total = sum(chosen.values())
        # Sorted so that reordering the weights in a config cannot change the data a resumed run sees.
        self.subsets: list[str] = sorted(chosen)
        self.weights: dict[str, float] = {name: chosen[name] / total for name in self.subsets}
        self._cumulative = np.cumsum([self.weights[name] for name in self.subsets])
        self._folders = [available[name] for name in self.subsets]
        self.shards = [TokenShards(folder, split) for folder in self._folders]
        for shard in self.shards:
            if len(shard) == 0:
                raise DataError(f"subset {shard.name!r} has no {split} tokens")
        first = self.shards[0]
        for shard in self.shards[1:]:
            if (shard.eos_id, shard.vocab_size) != (first.eos_id, first.vocab_size):
                raise DataError(f"subsets {first.name!r} and {shard.name!r} were tokenized with different "
                                f"tokenizers (eos {first.eos_id} vs {shard.eos_id}, vocab {first.vocab_size} "
                                f"vs {shard.vocab_size})")
        self.eos_id: int = first.eos_id
        self.vocab_size: int = first.vocab_size

    def _row(self, seed: int, step: int, rank: int, micro_step: int, row: int) -> tuple[int, np.random.Generator]:
        rng = np.random.default_rng(np.random.SeedSequence([seed, step, rank, micro_step, row]))
        choice = int(np.searchsorted(self._cumulative, rng.random() * self._cumulative[-1], side="right"))
        return min(choice, len(self.subsets) - 1), rng

    def choose_subsets(self, seed: int, step: int, rank: int, micro_step: int, batch_size: int) -> list[str]:
        """The subset each row of the matching `batch` call draws from."""
        return [self.subsets[self._row(seed, step, rank, micro_step, i)[0]] for i in range(batch_size)]

    def batch(self, seed: int, step: int, rank: int, micro_step: int, batch_size: int, seq_len: int):
        """A LongTensor (batch_size, seq_len + 1): inputs are [:, :-1], targets [:, 1:]. Each row is a
        uniformly placed window of one subset's token stream (running across documents, whose ends the
        EOS tokens mark); a stream shorter than the window is tiled."""
        import torch  # here, so that `python -m training tokenize` does not pay for importing torch

        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be >= 1, not {batch_size} and {seq_len}")
        length = seq_len + 1
        rows = np.empty((batch_size, length), dtype=np.int64)
        for i in range(batch_size):
            choice, rng = self._row(seed, step, rank, micro_step, i)
            tokens = self.shards[choice].tokens
            n = len(tokens)
            if n >= length:
                start = int(rng.integers(0, n - length + 1))
                rows[i] = tokens[start:start + length]
            else:
                start = int(rng.integers(0, n))
                rows[i] = tokens[(start + np.arange(length)) % n]
        return torch.from_numpy(rows)

    def eval_batches(self, batch_size: int, seq_len: int, max_batches: int) -> list:
        """Fixed held-out batches from each subset's eval split: consecutive windows of seq_len + 1 tokens
        whose targets do not overlap (stride seq_len, so every token is predicted once), taken round-robin
        over the subsets in order so that a small max_batches still covers every subset. A split shorter
        than one window gives one tiled window; the last batch may be smaller; [] if no eval tokens."""
        import torch

        if batch_size < 1 or seq_len < 1 or max_batches < 0:
            raise ValueError(f"bad eval batch shape: {batch_size}, {seq_len}, {max_batches}")
        length = seq_len + 1
        streams, counts = [], []
        for folder in self._folders:
            tokens = TokenShards(folder, "eval").tokens
            streams.append(tokens)
            n = len(tokens)
            counts.append(0 if n == 0 else 1 if n < length else (n - length) // seq_len + 1)
        windows = []
        for position in range(max(counts, default=0)):
            for tokens, count in zip(streams, counts):
                if position < count and len(windows) < max_batches * batch_size:
                    if len(tokens) < length:
                        windows.append(tokens[np.arange(length) % len(tokens)])
                    else:
                        windows.append(tokens[position * seq_len:position * seq_len + length])
        return [torch.from_numpy(np.stack(windows[i:i + batch_size]).astype(np.int64))
                for i in range(0, len(windows), batch_size)]
