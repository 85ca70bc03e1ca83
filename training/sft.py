"""Proofstep fine-tuning batches: prompt `[GOAL] state [PROOFSTEP]`, loss on the tactic only.

Like the pretraining mixture, a batch is a pure function of (seed, step, rank, micro-step): the global
position of each row picks an epoch and a place in that epoch's permutation, so resuming needs only the step.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model_store.proofsteps import ProofStepFormatError, read_proofsteps

IGNORE = -100  # label of a position that carries no loss (the prompt, padding)


class SFTDataError(ValueError):
    pass


def encode_rows(rows, tokenizer, seq_len: int) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, completion ids) per row; rows longer than seq_len are dropped, not cut: a state without
    its first hypotheses would teach tactics that name things the model was not shown."""
    if not rows:
        return []
    prompts = tokenizer([r.prompt() for r in rows], add_special_tokens=False)["input_ids"]
    completions = tokenizer([r.completion() for r in rows], add_special_tokens=False)["input_ids"]
    return [(p, c) for p, c in zip(prompts, completions) if len(p) + len(c) <= seq_len]


class ProofstepBatches:
    def __init__(self, paths: str | list, tokenizer, seq_len: int, splits=("train",), pad_id: int | None = None):
        if isinstance(paths, str):
            paths = [p for p in paths.split(",") if p]
        rows = []
        for path in paths:
            if not Path(path).is_file():
                raise SFTDataError(f"no proofstep file {path}")
            try:
                rows.extend(r for r in read_proofsteps(path) if r.split in splits)
            except ProofStepFormatError as exc:
                raise SFTDataError(str(exc)) from None
        self.examples = encode_rows(rows, tokenizer, seq_len)
        if not self.examples:
            raise SFTDataError(f"no {'/'.join(splits)} proofstep rows in {', '.join(map(str, paths))}")
        self.pad_id = tokenizer.eos_token_id if pad_id is None else pad_id
        self._perms: dict[tuple[int, int], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def _index(self, seed: int, position: int) -> int:
        epoch, offset = divmod(position, len(self.examples))
        perm = self._perms.get((seed, epoch))
        if perm is None:
            perm = np.random.default_rng(np.random.SeedSequence([seed, epoch])).permutation(len(self.examples))
            self._perms = {(seed, epoch): perm}  # only the current epoch's permutation is kept
        return int(perm[offset])

    def batch(self, seed: int, step: int, rank: int, micro_step: int, batch_size: int, world_size: int, accum: int):
        """(inputs, targets) for one rank's micro-step; targets are IGNORE except on the tactic tokens.

        The rank's rows for the whole optimizer step are sorted by length and dealt out in that order, so a
        micro-batch holds rows of similar length and little of it is padding (the step's rows are the same)."""
        indices = []
        for micro in range(accum):
            first = ((step * accum + micro) * world_size + rank) * batch_size
            indices.extend(self._index(seed, first + i) for i in range(batch_size))
        indices.sort(key=lambda i: (sum(map(len, self.examples[i])), i))
        chosen = indices[micro_step * batch_size : (micro_step + 1) * batch_size]
        return self.collate([self.examples[i] for i in chosen])

    def collate(self, examples):
        width = max(len(p) + len(c) for p, c in examples) - 1
        inputs = torch.full((len(examples), width), self.pad_id, dtype=torch.long)
        targets = torch.full((len(examples), width), IGNORE, dtype=torch.long)
        for row, (prompt, completion) in enumerate(examples):
            ids = prompt + completion
            inputs[row, : len(ids) - 1] = torch.tensor(ids[:-1])
            targets[row, len(prompt) - 1 : len(ids) - 1] = torch.tensor(completion)
        return inputs, targets

    def eval_batches(self, batch_size: int, max_batches: int):
        """Fixed consecutive batches of the rows, for a held-out loss that compares across steps."""
        count = min(max_batches * batch_size, len(self.examples))
        return [self.collate(self.examples[i : i + batch_size]) for i in range(0, count, batch_size)]
