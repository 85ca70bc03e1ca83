"""Choosing each row's next token: temperature and nucleus (top-p) sampling as transformers does it, or greedy."""
from __future__ import annotations

NUCLEUS_K = 256  # the top-p nucleus is looked for among this many likeliest tokens first


def choose_tokens(logits, temperature: float, top_p: float, row_states: list[int], generators: list):
    """One token per row of `logits` (rows, vocab). `row_states[r]` is the prompt row r samples for (rows of one
    prompt consecutive) and `generators[s]` that prompt's torch.Generator (None: unseeded).

    The nucleus is transformers' TopPLogitsWarper's (keep a token while the mass ranked above it is below
    top_p), found among the NUCLEUS_K likeliest tokens when they hold top_p of the mass (nearly always),
    which spares a sort of the whole vocabulary per row; else by sorting it all."""
    import torch

    if temperature <= 0:
        return logits.argmax(dim=-1)
    scores = logits / temperature
    index = None
    if top_p < 1.0:
        top, index = torch.topk(scores, min(NUCLEUS_K, scores.shape[-1]), dim=-1)
        weights = (top - torch.logsumexp(scores, dim=-1, keepdim=True)).exp()
        wide = (weights.sum(dim=-1) < top_p).nonzero()[:, 0]  # rows whose nucleus is wider
        weights = weights.masked_fill(weights.cumsum(dim=-1) - weights >= top_p, 0.0)
        if len(wide):
            ordered, order = torch.sort(scores[wide], dim=-1, descending=True)
            probs = ordered.softmax(dim=-1)
            probs = probs.masked_fill(probs.cumsum(dim=-1) - probs >= top_p, 0.0)
            width = int((probs > 0).sum(dim=-1).max())
            if width > weights.shape[1]:
                grow = width - weights.shape[1]
                weights = torch.nn.functional.pad(weights, (0, grow))
                index = torch.nn.functional.pad(index, (0, grow))
            weights[wide], index[wide] = 0.0, 0
            weights[wide, :width], index[wide, :width] = probs[:, :width], order[:, :width]
    else:
        weights = torch.softmax(scores, dim=-1)
    if all(g is None for g in generators):
        picked = torch.multinomial(weights, 1)
    else:
        # Seeded: each prompt draws from its own generator, so its samples do not depend on the batch around it.
        picked = torch.empty(len(row_states), 1, dtype=torch.long, device=logits.device)
        start = 0
        while start < len(row_states):
            end = start
            while end < len(row_states) and row_states[end] == row_states[start]:
                end += 1
            picked[start:end] = torch.multinomial(weights[start:end], 1, generator=generators[row_states[start]])
            start = end
    return (picked if index is None else index.gather(1, picked))[:, 0]
