"""An ONNX Runtime GenAI engine of the LM client (prover.lm): the model converted once to ONNX, run by
onnxruntime-genai's Generator on the CPU, with the sampling of prover.hf_generator.HFModel (a LanguageModel).

What the engine's Generator can and cannot do shapes the loop (onnxruntime-genai 0.18, measured here):
  * its own sampling draws from its own random stream and its top-p is not checked against transformers'
    TopPLogitsWarper, so each step's token is chosen here from the step's logits (prover.nucleus.choose_tokens,
    as HFModel does) and handed to the Generator, which then runs the model on it;
  * `num_return_sequences` is for beam search only, and a batch Generator takes `append_tokens` once: `n`
    samples of a prompt are either `n` rows of one Generator (the prompt run `n` times: running a prompt is
    compute-bound, so that costs `n` prompt runs) or one row sampled `n` times over, rewinding to the prompt's
    end between samples (`rewind_to`: the prompt runs once, each sample decodes alone). `rows="batch"` and
    `rows="rewind"` (the default, the faster of the two here) choose;
  * prompts of different lengths in one batch (left-padded with the pad token) do not give the logits each prompt
    gives alone, so each prompt gets its own Generator.

Log-probabilities are the model's own (untempered) log-softmax at each chosen token, from the logits the
Generator returns per step; the line-break stop, `nonblank_start`, seeds and deadlines are HFModel's.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from model_store import ModelLoadError, built_once, conversion_dir, quiet_loading, resolve_model
from prover.errors import first_line
from prover.nucleus import choose_tokens
from prover.sampling_engine import SamplingEngine
from prover.vocabulary import StopRules, Vocabulary

PRECISIONS = ("fp32", "int8", "int4")  # what the converter writes for the CPU (int8/int4: weights only)
CONFIG = "genai_config.json"  # written last by the converter: a folder holding it is complete


def default_precision() -> str:
    """float32: the quantised weights (int8/int4) measured no faster to run a prompt here and move the
    log-probabilities well past HFModel's."""
    return "fp32"


def converted_dir(source: str | Path, precision: str) -> Path:
    """Where the ONNX form of the model folder `source` is kept: beside the converted models in the cache."""
    return conversion_dir(source, f"onnx-genai-{precision}")


def convert(source: str | Path, precision: str) -> Path:
    """The ONNX form of `source` (a transformers model folder), converted once (onnxruntime_genai.models.builder,
    in a child process) into a temp folder and renamed into place."""
    target = converted_dir(source, precision)

    def build(folder: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="onnx-builder-cache-") as cache:
            command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(source),
                       "-o", str(folder), "-p", precision, "-e", "cpu", "-c", cache]
            done = subprocess.run(command, capture_output=True, text=True,
                                  env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
        if done.returncode != 0 or not (folder / CONFIG).is_file():
            lines = [line for line in done.stderr.splitlines() if line.strip() and "%|" not in line]
            raise ModelLoadError(f"cannot convert {source} to ONNX: {lines[-1] if lines else 'no model written'}")

    try:
        return built_once(target, lambda folder: (folder / CONFIG).is_file(), build,
                          f"converting {Path(source).name} to ONNX ({precision}) once")
    except OSError as error:
        raise ModelLoadError.because(f"cannot write the ONNX model to {target}", error) from error


@dataclass(frozen=True)
class Sample:
    """One sampled continuation as tokens."""

    tokens: list[int]
    logprobs: list[float]  # each token's log-probability under the model (untempered)
    stopped: bool  # reached a stop; False: ran out of tokens or of time


class OrtGenAIModel(SamplingEngine):
    """A causal LM converted to ONNX and run by onnxruntime-genai in this process (a LanguageModel). Model work is
    serialised by a lock, so one model can be shared by threads."""

    context_length = None  # prompts are fitted by the caller (ModelGenerator's max_prompt_tokens)

    def __init__(self, model: str | Path, precision: str | None = None, rows: str = "rewind"):
        """`model`: a transformers model folder (model_store.resolve_model). `precision`: one of PRECISIONS (None:
        `default_precision`). `rows`: how a prompt's samples run, "rewind" or "batch" (see the module's doc)."""
        if rows not in ("rewind", "batch"):
            raise ValueError(f"rows must be 'rewind' or 'batch', not {rows!r}")
        precision = precision or default_precision()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        source = resolve_model(model)
        try:
            import onnxruntime_genai as og
        except ImportError as error:
            raise ModelLoadError.because("onnxruntime-genai is not installed (pip install '.[onnx]')", error) from error
        folder = convert(source, precision)
        try:
            with quiet_loading():
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
                self._og = og
                self._model = og.Model(str(folder))
        except Exception as error:  # noqa: BLE001 - any loader failure becomes one printable line
            raise ModelLoadError(f"cannot load the ONNX model {folder}: {first_line(error)}") from error
        self.name = f"ort-genai:{Path(source).name}"
        self.precision, self.rows, self.folder = precision, rows, folder
        self.generated_tokens = 0
        self._lock = threading.RLock()
        self.vocabulary = Vocabulary(tokenizer, source)

    def cache_params(self) -> tuple:
        return ("onnx-genai", self.precision)

    def share_prefix(self, text: str) -> None:
        """Prompts starting with `text` are tokenized as HFModel tokenizes them (the head apart from the rest), so
        both engines see the same tokens; the head is run with each prompt (a Generator keeps no cache across
        prompts)."""
        with self._lock:
            self.vocabulary.set_head(text)

    # ---- sampling (`complete`: SamplingEngine's) -------------------------------------------------------------------

    def _sample(self, prompts, ns, seeds, deadlines, max_tokens, temperature, top_p, stops: StopRules,
                nonblank_start: bool) -> list[list[tuple]]:
        """For each prompt, its `n` samples as (token ids, summed log-prob, reached a stop): `sample` on each prompt
        in turn, the shared head's tokens included."""
        head_ids = self.vocabulary.head_ids
        rows = []
        for (head, rest), n, seed, deadline in zip(prompts, ns, seeds, deadlines):
            samples = self.sample(head_ids[:head] + rest, n, max_tokens, temperature, stops, deadline, top_p=top_p,
                                  seed=seed, nonblank_start=nonblank_start)
            rows.append([(s.tokens, math.fsum(s.logprobs), s.stopped) for s in samples])
        return rows

    def sample(self, ids: list[int], n: int, max_tokens: int, temperature: float, stops: StopRules,
               deadline: float | None = None, *, top_p: float = 1.0, seed: int | None = None,
               nonblank_start: bool = False) -> list[Sample]:
        """`n` samples after the prompt tokens `ids`. At `deadline` (time.monotonic()) the samples stop, unfinished;
        each has at least its first token, drawn from the prompt's logits (as HFModel's)."""
        import torch

        with self._lock:
            generator = None if seed is None else torch.Generator().manual_seed(seed)
            end = math.inf if deadline is None else deadline
            run = self._sample_rewind if self.rows == "rewind" else self._sample_batch
            samples = run(ids, n, max_tokens, temperature, top_p, stops, end, generator, nonblank_start)
            self.generated_tokens += sum(len(s.tokens) for s in samples)
            return samples

    def _generator(self, rows: int, length: int):
        og = self._og
        params = og.GeneratorParams(self._model)
        params.set_search_options(batch_size=rows, max_length=length, do_sample=False)
        return og.Generator(self._model, params)

    def _choose(self, logits, temperature, top_p, generator, first: bool, nonblank_start: bool):
        """Tokens for the rows of `logits` (numpy, rows x vocab) and their untempered log-probabilities."""
        import torch

        scores = torch.from_numpy(logits).float()
        logprobs = torch.log_softmax(scores, dim=-1)
        if first and nonblank_start:
            scores = scores.clone()
            scores[:, self.vocabulary.blank_start] = float("-inf")
        chosen = choose_tokens(scores, temperature, top_p, [0] * len(scores), [generator])
        return chosen.tolist(), logprobs.gather(1, chosen[:, None])[:, 0].tolist()

    def _sample_rewind(self, ids, n, max_tokens, temperature, top_p, stops, end, generator, nonblank_start):
        """One row: the prompt runs once; each sample decodes alone, then the Generator rewinds to the prompt."""
        import numpy as np

        gen = self._generator(1, len(ids) + max_tokens)
        gen.append_tokens(np.asarray([ids], dtype=np.int32))
        prompt_logits = gen.get_logits()[:, -1, :].copy()
        # Every sample's first token comes from the prompt's logits: drawn together, as HFModel draws them.
        firsts, first_logprobs = self._choose(np.repeat(prompt_logits, n, axis=0), temperature, top_p, generator,
                                              True, nonblank_start)
        samples = []
        for k in range(n):
            tokens, logprobs, text = [firsts[k]], [first_logprobs[k]], ""
            stopped, text = self.vocabulary.ends(firsts[k], text, stops)
            if k and not stopped and len(tokens) < max_tokens and time.monotonic() < end:
                gen.rewind_to(len(ids))
            while not stopped and len(tokens) < max_tokens and time.monotonic() < end:
                gen.append_tokens(np.asarray([[tokens[-1]]], dtype=np.int32))
                (token,), (logprob,) = self._choose(gen.get_logits()[:, -1, :], temperature, top_p, generator,
                                                    False, nonblank_start)
                tokens.append(token)
                logprobs.append(logprob)
                stopped, text = self.vocabulary.ends(token, text, stops)
            samples.append(Sample(tokens, logprobs, stopped))
        return samples

    def _sample_batch(self, ids, n, max_tokens, temperature, top_p, stops, end, generator, nonblank_start):
        """`n` rows of one Generator, the prompt run on each; a finished row rides along (the Generator keeps its
        rows) until every row has finished."""
        import numpy as np

        gen = self._generator(n, len(ids) + max_tokens)
        gen.append_tokens(np.asarray([ids] * n, dtype=np.int32))
        tokens: list[list[int]] = [[] for _ in range(n)]
        logprobs: list[list[float]] = [[] for _ in range(n)]
        texts, stopped = [""] * n, [False] * n
        active = list(range(n))
        forced = np.full((n, gen.get_logits().shape[-1]), -1e9, dtype=np.float32)
        for step in range(max_tokens):
            logits = gen.get_logits()[:, -1, :]
            chosen, chosen_logprobs = self._choose(logits[active], temperature, top_p, generator, step == 0,
                                                   nonblank_start)
            now = time.monotonic()
            for row, token, logprob in zip(active, chosen, chosen_logprobs):
                tokens[row].append(token)
                logprobs[row].append(logprob)
                stopped[row], texts[row] = self.vocabulary.ends(token, texts[row], stops)
            active = [row for row in active if not stopped[row]]
            if not active or now >= end or step == max_tokens - 1:
                break
            forced.fill(-1e9)
            for row in range(n):  # the Generator takes its (greedy) pick from these: each row's own token
                forced[row, tokens[row][-1]] = 0.0
            gen.set_logits(forced)
            gen.generate_next_token()
        return [Sample(t, lp, s) for t, lp, s in zip(tokens, logprobs, stopped)]
