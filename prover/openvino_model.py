"""An OpenVINO engine of the LM client (prover.lm): the model converted once to OpenVINO's format, sampled by the
same decoding loop semantics as prover.hf_generator.HFModel (temperature and nucleus sampling by
prover.nucleus.choose_tokens, line-break stops per token, `nonblank_start`, per-prompt deadlines and seeds,
log-probs under the model's own distribution), with each decoding step one OpenVINO inference.

The converted model is stateful: the key/values live inside OpenVINO's inference request, and a `beam_idx` input
picks, before each step, which rows of them the step continues (so the prompts' rows are fanned out into their
samples, and finished samples leave the batch, without copying the key/values through Python). Prompts run one by
one (after the shared head's key/values, see `share_prefix`); their key/values are then padded to the longest
and stacked, the padding masked by the attention mask, as HFModel does without shared-prefix attention.

The conversion (transformers -> TorchScript trace -> OpenVINO IR, made stateful by OpenVINO's own pass) happens once
per model folder, into `model_store.conversion_dir(folder, "openvino")` (the cache, named by the folder and its
contents). It needs torch and transformers, which the prover has anyway; openvino is the only extra package.

Speed (issue 24, 2-core AMX Xeon, bf16, one process alternating with HFModel): 1x8 about 1.2-2x HFModel's tokens/s,
8x8 about 0.7-0.8x: OpenVINO's fused attention over the per-row key/value cache costs ~5 ms per layer-step at 64
rows, where HFModel's cascade attention reads each prompt once. openvino_genai's ContinuousBatchingPipeline on this
same IR (logits made 3-D) measured ~2x HFModel on 8x8, and with GenerationConfig.logprobs >= 1 its scores are the
untempered log-probs; it lacks `nonblank_start` and per-prompt deadlines, which is why it is not used here (yet).
"""
from __future__ import annotations

import math
import threading
import time
from pathlib import Path

from model_store import ModelLoadError, built_once, conversion_dir, quiet_loading, resolve_model
from prover.hf_generator import cpu_has_flag
from prover.nucleus import choose_tokens
from prover.sampling_engine import SamplingEngine, prompt_seed
from prover.vocabulary import StopRules, Vocabulary

IR_FILE = "model.xml"
CONVERTED_FILES = (IR_FILE, "kv_shape.txt")
CONVERSION_ESTIMATE = "about 15 s"


def converted_dir(source: str | Path) -> Path:
    """Where the OpenVINO conversion of the model folder `source` is kept."""
    return conversion_dir(source, "openvino")


def _input_names(layers: int) -> list[str]:
    return ["input_ids", "attention_mask", "position_ids", "beam_idx"] + _cache_names("past", layers)


def _cache_names(kind: str, layers: int) -> list[str]:
    return [f"{kind}.{layer}.{kv}" for layer in range(layers) for kv in "kv"]


def _convert(source: str, target: Path) -> None:
    """The transformers model in `source` as a stateful OpenVINO IR in `target` (a new folder)."""
    import openvino as ov
    import torch
    from openvino._offline_transformations import apply_make_stateful_transformation
    from transformers import AutoModelForCausalLM, DynamicCache

    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, attn_implementation="sdpa",
                                                 local_files_only=True).eval()
    config = model.config
    layers = config.num_hidden_layers
    heads = config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads

    class Step(torch.nn.Module):
        """One model call on explicit key/values, `beam_idx` picking their rows first; last logits out."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, position_ids, beam_idx, *past):
            cache = DynamicCache(config=config)
            # The past's length from the mask, not from the key/values: OpenVINO's CPU plugin fuses the cache
            # (read, `beam_idx` gather, concat, attention, write back) only where the gathered past feeds nothing else.
            past_length = attention_mask.shape[1] - input_ids.shape[1]
            for layer_index, layer in enumerate(cache.layers[:layers]):
                layer.keys = torch.index_select(past[2 * layer_index], 0, beam_idx)
                layer.values = torch.index_select(past[2 * layer_index + 1], 0, beam_idx)
                layer.dtype, layer.device, layer.is_initialized = layer.keys.dtype, layer.keys.device, True
                layer.get_seq_length = lambda: past_length
            output = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                past_key_values=cache, use_cache=True, logits_to_keep=1)
            present = []
            for layer in output.past_key_values.layers[:layers]:
                present += [layer.keys, layer.values]
            return (output.logits[:, -1, :], *present)

    # An example with a past and several new tokens, so the trace keeps the general (masked, cached) path.
    batch, new, past_len = 2, 3, 4
    example = (
        torch.ones(batch, new, dtype=torch.long),
        torch.ones(batch, past_len + new, dtype=torch.long),
        torch.arange(past_len, past_len + new)[None].repeat(batch, 1),
        torch.arange(batch, dtype=torch.int32),  # i32: the type the CPU plugin's cache fusion looks for
        *[torch.zeros(batch, heads, past_len, head_dim) for _ in range(2 * layers)],
    )
    with torch.no_grad():
        converted = ov.convert_model(Step(), example_input=example)
    for port, name in zip(converted.inputs, _input_names(layers)):
        port.get_tensor().set_names({name})
    for port, name in zip(converted.outputs, ["logits"] + _cache_names("present", layers)):
        port.get_tensor().set_names({name})
    apply_make_stateful_transformation(
        converted, dict(zip(_cache_names("past", layers), _cache_names("present", layers))))
    _initialise_states(converted, heads, head_dim)
    ov.save_model(converted, str(target / IR_FILE), compress_to_fp16=False)
    (target / "kv_shape.txt").write_text(f"{layers} {heads} {head_dim}\n")


def _initialise_states(converted, heads: int, head_dim: int) -> None:
    """Give each key/value state its value before the first step, an empty past of the step's batch size (the CPU
    plugin's fused cache expects one)."""
    import numpy as np
    import openvino.opset13 as ops

    input_ids = converted.input("input_ids").get_node()
    batch = ops.gather(ops.shape_of(input_ids), np.array([0]), np.array(0))
    shape = ops.concat([batch, ops.constant(np.array([heads, 0, head_dim], dtype=np.int64))], 0)
    empty = ops.broadcast(ops.constant(np.array(0.0, dtype=np.float32)), shape)
    for node in converted.get_ops():
        if node.get_type_name() == "ReadValue":
            variable = converted.get_variable_by_id(node.get_variable_id())
            initialised = ops.read_value(empty, variable)
            node.output(0).replace(initialised.output(0))
    converted.validate_nodes_and_infer_types()


def ensure_converted(source: str) -> Path:
    """The OpenVINO IR folder of `source`, converted (once, atomically) if not there yet."""
    return built_once(converted_dir(source), lambda folder: all((folder / name).is_file() for name in CONVERTED_FILES),
                      lambda folder: _convert(source, folder),
                      f"converting {Path(source).name} to OpenVINO once ({CONVERSION_ESTIMATE})")


def default_precision() -> str:
    """bf16 where the CPU computes it natively: AMX (as HFModel picks bfloat16 there) or AVX512-BF16, where OpenVINO's
    steps measured 1.4-1.6x faster than in f32 (2-core AMD EPYC, issue 24) and log-probs moved as much as on AMX
    (up to about 0.2); else f32."""
    return "bf16" if cpu_has_flag("amx_bf16") or cpu_has_flag("avx512_bf16") else "f32"


class OpenVINOModel(SamplingEngine):
    """A causal LM converted to OpenVINO and run on the CPU in this process (a LanguageModel). All model work is
    serialised by a lock, so one model can be shared by threads."""

    context_length = None  # prompts are fitted by the caller (ModelGenerator's max_prompt_tokens)

    def __init__(self, model: str | Path, precision: str | None = None, threads: int | None = None):
        """`model`: a folder or a hub id in the local cache (model_store.resolve_model). `precision`: OpenVINO's
        inference precision, "f32" or "bf16" (None: `default_precision`). `threads`: inference threads (None:
        OpenVINO's choice)."""
        source = resolve_model(model)
        self.name = f"openvino:{Path(source).name}"
        self.precision = precision or default_precision()
        self.generated_tokens = 0
        self._lock = threading.RLock()
        try:
            with quiet_loading():
                import numpy as np
                import openvino as ov
                import torch  # noqa: F401 - sampling works on torch tensors
                from transformers import AutoTokenizer

                folder = ensure_converted(source)
                self.layers, self.kv_heads, self.head_dim = map(int, (folder / "kv_shape.txt").read_text().split())
                config = {"INFERENCE_PRECISION_HINT": self.precision, "PERFORMANCE_HINT": "LATENCY",
                          "NUM_STREAMS": "1"}
                # The key/value cache in the inference precision: the CPU plugin's default (u8, quantised) moves
                # log-probs by up to ~0.5 here.
                config["KV_CACHE_PRECISION"] = self.precision
                if threads:
                    config["INFERENCE_NUM_THREADS"] = int(threads)
                self._compiled = ov.Core().compile_model(str(folder / IR_FILE), "CPU", config)
                self._request = self._compiled.create_infer_request()
                tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        except ModelLoadError:
            raise
        except Exception as error:  # noqa: BLE001 - any import/convert/load failure becomes one printable line
            raise ModelLoadError.because(f"cannot load {source} with OpenVINO", error) from error
        self._np = np
        self._ov = ov
        self.vocabulary = Vocabulary(tokenizer, source)
        self._head_states = None  # the shared prompt head's key/values (`share_prefix`), one array per state

    def cache_params(self) -> tuple:
        return ("openvino", self.precision)

    # ---- the stateful request -----------------------------------------------------------------------------------

    def _states(self):
        """The request's key/value states in input order (past.0.k, past.0.v, ...)."""
        # A state is named after the input and output it joins ("past.0.kpresent.0.k").
        by_name = {state.name.split("present")[0]: state for state in self._request.query_state()}
        return [by_name[name] for name in _cache_names("past", self.layers)]

    def _set_states(self, arrays) -> None:
        for state, array in zip(self._states(), arrays):
            state.state = self._ov.Tensor(self._np.ascontiguousarray(array))

    def _infer(self, ids, mask, positions, beam_idx):
        np = self._np
        self._request.infer({
            "input_ids": np.asarray(ids, dtype=np.int64),
            "attention_mask": np.asarray(mask, dtype=np.int64),
            "position_ids": np.asarray(positions, dtype=np.int64),
            "beam_idx": np.asarray(beam_idx, dtype=np.int32),
        })
        return self._request.get_tensor("logits").data.copy()

    def _run_alone(self, head: int, prompt: list[int]):
        """Run one prompt after the shared head's `head` tokens of key/values; (its last logits, its key/values)."""
        np = self._np
        if head and self._head_states is not None:
            self._set_states(self._head_states)
        else:
            head = 0
            empty = np.zeros((1, self.kv_heads, 0, self.head_dim), dtype=np.float32)
            self._set_states([empty] * (2 * self.layers))
        logits = self._infer([prompt], np.ones((1, head + len(prompt))), [list(range(head, head + len(prompt)))],
                             [0])
        return logits[0], [np.array(state.state.data, dtype=np.float32) for state in self._states()]

    def share_prefix(self, text: str) -> None:
        """Run `text` through the model once (here) and keep its key/values for every prompt that starts with it."""
        if text == self.vocabulary.head_text:
            return
        with self._lock:
            self.vocabulary.set_head(text)
            self._head_states = None
            head_ids = self.vocabulary.head_ids
            if head_ids:
                np = self._np
                empty = np.zeros((1, self.kv_heads, 0, self.head_dim), dtype=np.float32)
                self._set_states([empty] * (2 * self.layers))
                n = len(head_ids)
                self._infer([head_ids], np.ones((1, n)), [list(range(n))], [0])
                self._head_states = [np.array(state.state.data, dtype=np.float32) for state in self._states()]

    # ---- sampling (`complete`: SamplingEngine's) -------------------------------------------------------------------

    def prefill(self, prompts: list[tuple[int, list[int]]]):
        """Run each prompt (as `encode` gives it) on its own and leave their key/values stacked in the request, padded
        at the end to the longest. Returns (valid: (prompts, longest) bool array, False at padding; the last logits
        (prompts, vocab); each prompt's length)."""
        np = self._np
        logits, states = [], []
        for head, prompt in prompts:
            last, kv = self._run_alone(head, prompt)
            logits.append(last)
            states.append(kv)
        lengths = np.array([kv[0].shape[2] for kv in states])
        longest = int(lengths.max())
        if len(states) > 1:
            stacked = []
            for index in range(2 * self.layers):
                stacked.append(np.concatenate([
                    np.pad(kv[index], ((0, 0), (0, 0), (0, longest - kv[index].shape[2]), (0, 0))) for kv in states
                ]))
            self._set_states(stacked)
        # (With one prompt its key/values are already the request's.)
        valid = np.arange(longest)[None, :] < lengths[:, None]
        return valid, np.stack(logits), lengths

    def _sample(self, prompts, ns, seeds, deadlines, max_tokens, temperature, top_p, stops: StopRules,
                nonblank_start: bool):
        """For each prompt, its `n` samples as (token ids, summed log-prob, reached a stop, each token's log-prob);
        as HFModel._sample."""
        import torch

        np = self._np
        ends = [math.inf if d is None else d for d in deadlines]
        valid, prompt_logits, lengths = self.prefill(prompts)
        row_state = [s for s, k in enumerate(ns) for _ in range(k)]
        logits = torch.from_numpy(prompt_logits[row_state])
        positions = lengths[row_state]
        mask = valid[row_state].astype(np.int64)
        beam_idx = np.array(row_state)  # the first step fans each prompt's key/values out to its samples
        generators = [None if s is None else torch.Generator().manual_seed(s) for s in seeds]

        active = list(range(len(row_state)))
        tokens: list[list[int]] = [[] for _ in row_state]
        logprobs = [0.0] * len(row_state)
        token_logprobs_by_row: list[list[float]] = [[] for _ in row_state]
        stopped = [False] * len(row_state)
        texts = [""] * len(row_state)
        for step in range(max_tokens):
            logits = logits.float()
            token_logprobs = torch.log_softmax(logits, dim=-1)  # the model's own distribution: the score
            if step == 0 and nonblank_start:
                logits[:, self.vocabulary.blank_start] = float("-inf")
            chosen = choose_tokens(logits, temperature, top_p, [row_state[r] for r in active], generators)
            chosen_logprobs = token_logprobs.gather(1, chosen[:, None])[:, 0].tolist()
            now = time.monotonic()
            keep = []
            for j, (row, token) in enumerate(zip(active, chosen.tolist())):
                tokens[row].append(token)
                logprobs[row] += chosen_logprobs[j]
                token_logprobs_by_row[row].append(chosen_logprobs[j])
                stopped[row], texts[row] = self.vocabulary.ends(token, texts[row], stops)
                if not stopped[row] and now < ends[row_state[row]]:
                    keep.append(j)
            if not keep or step == max_tokens - 1:
                break
            chosen = chosen.numpy()
            if len(keep) < len(active):  # finished rows leave the batch
                active = [active[j] for j in keep]
                chosen, positions, mask = chosen[keep], positions[keep], mask[keep]
                beam_idx = beam_idx[keep] if step == 0 else np.array(keep)
            elif step > 0:
                beam_idx = np.arange(len(active))
            mask = np.concatenate([mask, np.ones((len(active), 1), dtype=np.int64)], axis=1)
            logits = torch.from_numpy(self._infer(chosen[:, None], mask, positions[:, None], beam_idx))
            positions = positions + 1
            beam_idx = np.arange(len(active))

        self.generated_tokens += sum(len(t) for t in tokens)
        per_prompt_rows: list[list[tuple]] = [[] for _ in ns]
        for row, state in enumerate(row_state):
            per_prompt_rows[state].append((tokens[row], logprobs[row], stopped[row], token_logprobs_by_row[row]))
        return per_prompt_rows

    def sample_tokens(self, prompts, n, max_tokens, temperature, stop, *, top_p=1.0, seed=None,
                      nonblank_start=False):
        """What `complete` samples, as tokens: for each prompt, its `n` samples as (token ids, summed log-prob,
        reached a stop, each token's log-prob). No deadlines (a tool for tests and measurements)."""
        import torch

        with self._lock:
            encoded = [self.vocabulary.encode(p) for p in prompts]
            seeds = [prompt_seed(seed, ids) for _, ids in encoded]
            with torch.inference_mode():
                return self._sample(encoded, [n] * len(prompts), seeds, [None] * len(prompts), max_tokens,
                                    temperature, top_p, self.vocabulary.stop_rules(tuple(stop)), nonblank_start)
