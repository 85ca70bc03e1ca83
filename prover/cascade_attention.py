"""Cascade attention for transformers models: many rows attend to one shared copy of their prompt's key/values.

`register()` adds an attention function (under ATTENTION) that is plain sdpa unless a call passes
`llemma_prefix=SharedPrefix(...)`; a model switched to it (`model.set_attn_implementation(ATTENTION)`) then serves
both ordinary calls and cascade ones. `supported(config)` says for which models this computes exactly what their
own attention does.
"""
from __future__ import annotations

import threading

ATTENTION = "llemma_prefix_sdpa"
# Architectures whose attention is plain causal softmax attention through transformers' AttentionInterface
# (rotary positions, optional grouped key/value heads, no sliding window, bias or soft-capping), so that
# `SharedPrefix.attend` computes exactly what their "sdpa" attention does.
MODEL_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3"})
_register_lock = threading.Lock()


def supported(config) -> bool:
    """Whether a model with this (transformers) config may use cascade attention."""
    return (
        config.model_type in MODEL_TYPES
        and config._attn_implementation == "sdpa"
        and not getattr(config, "sliding_window", None)
    )


def register() -> None:
    """Register ATTENTION with transformers (once per process)."""
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    with _register_lock:
        if ATTENTION in AttentionInterface._global_mapping:
            return

        def attention(module, query, key, value, attention_mask, scaling=None, llemma_prefix=None, **kwargs):
            if llemma_prefix is None:
                return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, **kwargs)
            return llemma_prefix.attend(module.layer_idx, query, key, value, scaling), None

        AttentionInterface.register(ATTENTION, attention)
        AttentionMaskInterface.register(ATTENTION, sdpa_mask)


class SharedPrefix:
    """Each prompt's key/values, held once, for the several rows (samples, candidates) that continue it.

    Attention of a row = softmax over [its prompt's keys (pads masked), its own continuation keys (causal)],
    computed as one softmax over both score blocks. The prompt block is one batched matmul per prompt covering
    all of that prompt's rows, so the prompt's keys and values are read once per prompt, never copied per row.
    The rows' own keys live in an ordinary (small) DynamicCache that the model updates as usual.
    """

    def __init__(self, cache, valid, row_state: list[int]):
        """`cache`: a cache with one row per prompt; `valid`: (prompts, prompt length) bool, False at padding;
        `row_state[r]`: the prompt row r continues."""
        import torch

        self.keys = [layer.keys for layer in cache.layers]
        self.values = [layer.values for layer in cache.layers]
        self.masked = ~valid[:, None, None, :]  # (prompts, 1, 1, prompt length): True at padding
        self.num_states = valid.shape[0]
        self._torch = torch
        self.set_rows(row_state)

    def set_rows(self, row_state: list[int]) -> None:
        """Which prompt each row continues (rows of one prompt consecutive); call again after dropping rows."""
        torch = self._torch
        slots, seen = [], {}
        for state in row_state:
            slots.append(seen.get(state, 0))
            seen[state] = slots[-1] + 1
        self.num_rows = len(row_state)
        self.slots = max(seen.values(), default=1)
        self.single = self.num_states == 1  # rows are then slots 0..R-1 of the only prompt: no scatter/gather
        device = self.masked.device
        self.row_state = torch.tensor(row_state, dtype=torch.long, device=device)
        self.row_slot = torch.tensor(slots, dtype=torch.long, device=device)

    def _to_states(self, rows):
        """(R, kvh, M, x) per row -> (B, kvh, slots*M, x) per prompt, zero where a prompt has fewer rows."""
        R, kvh, M, x = rows.shape
        if self.single:
            return rows.transpose(0, 1).reshape(1, kvh, R * M, x)
        padded = rows.new_zeros(self.num_states, self.slots, kvh, M, x)
        padded[self.row_state, self.row_slot] = rows
        return padded.transpose(1, 2).reshape(self.num_states, kvh, self.slots * M, x)

    def _to_rows(self, states, M: int):
        """Inverse of `_to_states`."""
        B, kvh, _, x = states.shape
        if self.single:
            return states.view(kvh, self.num_rows, M, x).transpose(0, 1)
        return states.view(B, kvh, self.slots, M, x).transpose(1, 2)[self.row_state, self.row_slot]

    def attend(self, layer: int, query, key, value, scaling: float):
        """query (R, heads, q, d); key/value (R, kv heads, s, d): the rows' own keys, the q newest last."""
        torch = self._torch
        R, heads, q, d = query.shape
        prefix_k, prefix_v = self.keys[layer], self.values[layer]
        kvh, P = prefix_k.shape[1], prefix_k.shape[2]
        M = (heads // kvh) * q  # query rows per kv head: heads sharing it x query positions
        # Query head h uses kv head h // (heads // kvh), as transformers' repeat_kv lays them out.
        grouped = query.reshape(R, kvh, M, d)
        prefix_scores = torch.matmul(self._to_states(grouped), prefix_k.transpose(-1, -2)) * scaling
        prefix_scores = self._to_rows(prefix_scores.masked_fill(self.masked, float("-inf")), M)
        own_scores = torch.matmul(grouped, key.transpose(-1, -2)) * scaling  # (R, kvh, M, s)
        if q > 1:
            s = key.shape[2]
            positions = torch.arange(s - q, s, device=query.device)
            future = torch.arange(s, device=query.device)[None, :] > positions[:, None]  # (q, s)
            own_scores = own_scores.masked_fill(future.repeat(M // q, 1), float("-inf"))
        probs = torch.softmax(torch.cat([prefix_scores, own_scores], dim=-1), dim=-1, dtype=torch.float32)
        probs = probs.to(value.dtype)
        out = torch.matmul(probs[..., P:], value)
        out += self._to_rows(torch.matmul(self._to_states(probs[..., :P]), prefix_v), M)
        return out.view(R, heads, q, d).transpose(1, 2).contiguous()
