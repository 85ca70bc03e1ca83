"""The OpenVINO GenAI engine of the LM client (prover.lm): the model converted once to OpenVINO (prover.openvino_model's
stateful IR) and run by openvino_genai's ContinuousBatchingPipeline, which samples in C++ over a paged key/value
cache with prefix caching (the template head and repeated proof states are computed once and kept).

Semantics as HFModel's: temperature and top-p (no top-k); every sampled token's log-probability under the model's
own, untempered distribution (GenerationConfig.logprobs); a stop at any token holding a line break (stop_token_ids:
the tokens HFModel stops at) or at other stop strings; per-prompt seeds (each request has its own random engine,
seeded from `prompt_seed`). Deadlines are checked between steps: a prompt whose deadline passes before all its
samples have ended gets none, as the pipeline hands a request's samples over only together. `nonblank_start` is the
pipeline's `min_new_tokens=1`, which pushes the stop tokens' logits down to 0 for the first token rather than
removing them (far below a likely token's: on valid root states no sample started blank in 256).

Speed (issue 24, side by side with HFModel on valid root states), tokens/s for 1 state x 8 samples and 8 states x 8,
and an llmstep request's median: 2.2x, 3.2x and 0.49x HFModel's on a 2-core AMX Xeon (both bf16); 4.9x, 5.5x and
0.23x on a 2-core AMD EPYC with AVX512-BF16 (this engine bf16, HFModel f32).
"""
from __future__ import annotations

import itertools
import random
import shutil
import threading
import time
from pathlib import Path

from model_store import ModelLoadError, built_once, conversion_dir, quiet_loading, resolve_model
from prover.openvino_model import IR_FILE, default_precision, ensure_converted
from prover.sampling_engine import SamplingEngine
from prover.vocabulary import StopRules, Vocabulary

PIPELINE_FILES = ("openvino_model.xml", "openvino_tokenizer.xml", "openvino_detokenizer.xml")
KV_CACHE_GB = 1  # the paged key/value cache, about 45k tokens: more is preempted and recomputed, not lost


def pipeline_dir(source: str | Path) -> Path:
    """Where the pipeline's folder for the model folder `source` is kept."""
    return conversion_dir(source, "openvino-genai")


def _build_pipeline_folder(source: str, ir_folder: Path, target: Path) -> None:
    """The folder ContinuousBatchingPipeline reads: the stateful IR with its last-token logits given a sequence axis
    (the pipeline reads logits as (rows, tokens, vocabulary)), and the tokenizer as OpenVINO models (the pipeline
    loads them; it decodes with them only to look for stop strings)."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops
    from openvino_tokenizers import convert_tokenizer
    from transformers import AutoTokenizer

    model = ov.Core().read_model(str(ir_folder / IR_FILE))
    logits = model.output("logits")
    result = logits.get_node()
    with_axis = ops.unsqueeze(result.input_value(0), np.array([1]))
    logits.get_tensor().set_names(set())
    with_axis.output(0).get_tensor().set_names({"logits"})
    result.input(0).replace_source_output(with_axis.output(0))
    model.validate_nodes_and_infer_types()
    ov.save_model(model, str(target / "openvino_model.xml"), compress_to_fp16=False)
    tokenizer, detokenizer = convert_tokenizer(AutoTokenizer.from_pretrained(source, local_files_only=True),
                                               with_detokenizer=True)
    ov.save_model(tokenizer, str(target / "openvino_tokenizer.xml"))
    ov.save_model(detokenizer, str(target / "openvino_detokenizer.xml"))
    for name in ("config.json", "generation_config.json"):
        if (Path(source) / name).is_file():
            shutil.copy(Path(source) / name, target / name)


def _is_pipeline_folder(folder: Path) -> bool:
    return all((folder / name).is_file() for name in PIPELINE_FILES)


def ensure_pipeline_folder(source: str) -> Path:
    """The pipeline's folder for `source`, built (once, atomically, after the OpenVINO conversion) if not there yet."""
    target = pipeline_dir(source)
    if _is_pipeline_folder(target):
        return target
    ir_folder = ensure_converted(source)  # its own stage line, before this one
    return built_once(target, _is_pipeline_folder, lambda folder: _build_pipeline_folder(source, ir_folder, folder),
                      f"preparing {Path(source).name} for OpenVINO GenAI once (about 5 s)")


# Pipelines live as long as the process, one per (folder, precision, threads), with the lock that serialises its use:
# once a ContinuousBatchingPipeline has been destroyed, the next SIGINT (a Ctrl-C) kills the process with a
# segmentation fault (openvino_genai 2026.4), so none is ever let go; sharing them bounds the memory that costs.
_PIPELINES: dict[tuple, tuple] = {}
_PIPELINES_LOCK = threading.Lock()
# Request ids are the pipeline's keys for its per-request state: unique in the process, whoever shares a pipeline.
_REQUEST_IDS = itertools.count()


def _shared_pipeline(folder: Path, precision: str, threads: int | None):
    """The process's ContinuousBatchingPipeline for `folder` at `precision` and `threads`, and its lock."""
    import openvino_genai

    key = (str(folder), precision, threads)
    with _PIPELINES_LOCK:
        if key not in _PIPELINES:
            scheduler = openvino_genai.SchedulerConfig()
            scheduler.cache_size = KV_CACHE_GB
            scheduler.enable_prefix_caching = True
            # The key/value cache in the inference precision: the CPU plugin's default (u8) moves log-probs.
            properties = {"INFERENCE_PRECISION_HINT": precision, "KV_CACHE_PRECISION": precision}
            if threads:
                properties["INFERENCE_NUM_THREADS"] = int(threads)
            pipeline = openvino_genai.ContinuousBatchingPipeline(str(folder), scheduler, "CPU", properties)
            _PIPELINES[key] = (pipeline, threading.RLock())
        return _PIPELINES[key]


class ContinuousBatchingModel(SamplingEngine):
    """A causal LM run by openvino_genai's ContinuousBatchingPipeline on the CPU in this process (a LanguageModel).
    All model work is serialised by the pipeline's lock, so one model can be shared by threads."""

    context_length = None  # prompts are fitted by the caller (ModelGenerator's max_prompt_tokens)

    def __init__(self, model: str | Path, precision: str | None = None, threads: int | None = None):
        """`model`: a folder or a hub id in the local cache (model_store.resolve_model). `precision`: "f32" or "bf16"
        for weights, activations and the key/value cache (None: bf16 where the CPU has AMX). `threads`: inference
        threads (None: OpenVINO's choice)."""
        source = resolve_model(model)
        self.name = f"openvino-genai:{Path(source).name}"
        self.precision = precision or default_precision()
        self.generated_tokens = 0
        try:
            with quiet_loading():
                import numpy as np
                import openvino as ov
                import openvino_genai
                from transformers import AutoTokenizer

                self._pipeline, self._lock = _shared_pipeline(ensure_pipeline_folder(source), self.precision, threads)
                tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        except ModelLoadError:
            raise
        except Exception as error:  # noqa: BLE001 - any import/convert/load failure becomes one printable line
            raise ModelLoadError.because(f"cannot load {source} with OpenVINO GenAI", error) from error
        self._np, self._ov, self._genai = np, ov, openvino_genai
        self.vocabulary = Vocabulary(tokenizer, source)

    def cache_params(self) -> tuple:
        return ("openvino-genai", self.precision)

    def share_prefix(self, text: str) -> None:
        """Tokenize prompts after `text` apart from it, as the other engines do; prefix caching keeps its key/values."""
        self.vocabulary.set_head(text)

    def _config(self, n: int, seed: int | None, max_tokens: int, temperature: float, top_p: float, stops: StopRules,
                nonblank_start: bool):
        config = self._genai.GenerationConfig()
        config.max_new_tokens = max_tokens
        config.num_return_sequences = n if temperature > 0 else 1  # greedy: one sample, copied n times
        config.do_sample = temperature > 0
        if temperature > 0:
            config.temperature = temperature
            config.top_p = top_p
            config.top_k = 0  # off: the distribution is temperature and top-p alone, as HFModel's
        config.logprobs = 1  # each token's log-prob under the untempered distribution (the score)
        # Unseeded requests still need distinct seeds: the pipeline's default is one fixed seed.
        config.rng_seed = seed if seed is not None else random.getrandbits(63)
        config.stop_token_ids = set(stops.token_ids)
        if stops.strings:
            config.stop_strings = set(stops.strings)
        config.min_new_tokens = 1 if nonblank_start else 0
        return config

    def _sample(self, prompts, ns, seeds, deadlines, max_tokens, temperature, top_p, stops: StopRules,
                nonblank_start: bool):
        """For each prompt, its `n` samples as (token ids, summed log-prob, reached a stop, each token's log-prob)."""
        np = self._np
        handles = []
        for (head, ids), n, seed in zip(prompts, ns, seeds):
            tokens = self.vocabulary.head_ids[:head] + ids
            config = self._config(n, seed, max_tokens, temperature, top_p, stops, nonblank_start)
            handles.append(self._pipeline.add_request(next(_REQUEST_IDS),
                                                      self._ov.Tensor(np.array([tokens], dtype=np.int64)), config))
        cancelled: set[int] = set()
        while self._pipeline.has_non_finished_requests():
            now = time.monotonic()
            for index, deadline in enumerate(deadlines):
                if index not in cancelled and deadline is not None and now >= deadline:
                    # The pipeline hands a request's samples over only once all have ended (a stopped request
                    # cannot be read), so a prompt whose time is up gets none.
                    handles[index].cancel()
                    cancelled.add(index)
            self._pipeline.step()
        finished = self._genai.GenerationFinishReason.STOP
        rows = []
        for index, (handle, n) in enumerate(zip(handles, ns)):
            samples = []
            for output in ([] if index in cancelled else handle.read_all()):
                tokens, logprobs = list(output.generated_ids), list(output.generated_log_probs)
                samples.append((tokens, sum(logprobs), output.finish_reason == finished, logprobs))
            if temperature <= 0:
                samples *= n
            self.generated_tokens += sum(len(sample[0]) for sample in samples)
            rows.append(samples)
        return rows
