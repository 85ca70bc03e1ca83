"""What the in-process engines (prover.engines) know of a model's tokens: each token's text, the tokens that end a
text or hold a line break, how a set of stop sequences is checked while decoding, and how a prompt is tokenized
after the shared head (`share_prefix`)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StopRules:
    """How one set of stop sequences is checked while decoding."""

    token_ids: frozenset[int]  # a token that ends a completion by itself: end-of-text, and line breaks for "\n"
    strings: tuple[str, ...]  # stop sequences looked for in the text (every one that is not a line break)
    cut: tuple[str, ...]  # what the decoded text is cut at

    @classmethod
    def of(cls, stop: tuple[str, ...], eos_ids: frozenset[int], newline_ids: frozenset[int]) -> "StopRules":
        """The rules for `stop`, given a model's end-of-text tokens and the tokens holding a line break. A line-break
        stop is checked per token (any token holding a line break ends it), the others on the text."""
        newline = any(s.strip("\r\n") == "" for s in stop)
        return cls(
            token_ids=eos_ids | (newline_ids if newline else frozenset()),
            strings=tuple(s for s in stop if s.strip("\r\n") != ""),
            cut=stop + (("\r",) if newline else ()),
        )


def generation_eos_ids(folder: str | Path):
    """The end-of-text id(s) of the folder's generation config (an int, a list, or None), read as transformers reads
    it when it loads the model: from generation_config.json, else derived from the model's config."""
    from transformers import AutoConfig, GenerationConfig

    try:
        return GenerationConfig.from_pretrained(folder, local_files_only=True).eos_token_id
    except OSError:  # no generation_config.json
        try:
            config = AutoConfig.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError):  # not a transformers model folder: the tokenizer's end-of-text alone
            return None
        return GenerationConfig.from_model_config(config).eos_token_id


class Vocabulary:
    """A model's tokens as decoding sees them, built once from its tokenizer and folder; it also holds the prompts'
    shared head, which every engine tokenizes apart from the rest of a prompt."""

    def __init__(self, tokenizer, folder: str | Path):
        self.tokenizer = tokenizer
        self.token_texts: list[str] = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        eos: set[int] = set()
        for special in (tokenizer.eos_token_id, generation_eos_ids(folder)):
            if isinstance(special, int):
                eos.add(special)
            elif special:
                eos.update(special)
        self.eos_ids = frozenset(eos)
        self.newline_ids = frozenset(i for i, text in enumerate(self.token_texts) if "\n" in text or "\r" in text)
        # What `nonblank_start` rules out as a first token: a line break or end-of-text.
        self.blank_start: list[int] = sorted(self.eos_ids | self.newline_ids)
        self._stop_rules: dict[tuple[str, ...], StopRules] = {}
        self.head_text: str | None = None  # the shared prompt head (`set_head`) and its tokens
        self.head_ids: list[int] = []

    def token_text(self, token: int) -> str:
        """The text of one token ("" for an id past the tokenizer's: a model's embedding may be padded)."""
        return self.token_texts[token] if token < len(self.token_texts) else ""

    def decode(self, tokens: list[int]) -> str:
        """A sample's text, special tokens left out."""
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def stop_rules(self, stop: tuple[str, ...]) -> StopRules:
        """How decoding checks these stop sequences (made once per set)."""
        if stop not in self._stop_rules:
            self._stop_rules[stop] = StopRules.of(stop, self.eos_ids, self.newline_ids)
        return self._stop_rules[stop]

    def ends(self, token: int, text: str, stops: StopRules) -> tuple[bool, str]:
        """Whether `token` ends a sample whose text so far is `text`, and that text with the token's. The text is
        kept only where a stop is looked for in it (`stops.strings`), and only its tail is searched."""
        if token in stops.token_ids:
            return True, text
        if stops.strings:
            piece = self.token_text(token)
            text += piece
            tail = text[-(len(piece) + max(map(len, stops.strings))):]
            return any(s in tail for s in stops.strings), text
        return False, text

    def set_head(self, text: str) -> None:
        """Every prompt from now on may start with `text` (see `encode`)."""
        self.head_text, self.head_ids = text, self.tokenizer(text)["input_ids"]

    def encode(self, prompt: str) -> tuple[int, list[int]]:
        """(tokens of the shared head `prompt` starts with, 0 if none; its tokens after that head). The two are
        tokenized apart, so a head's cached key/values are exactly those of the head's own tokens, in every engine."""
        if self.head_text is not None and prompt.startswith(self.head_text):
            rest = prompt[len(self.head_text):]
            return len(self.head_ids), self.tokenizer(rest, add_special_tokens=False)["input_ids"]
        return 0, self.tokenizer(prompt)["input_ids"]

    def prompt_ids(self, prompt: str) -> list[int]:
        """Every token the model sees for `prompt`, the shared head's included."""
        head, rest = self.encode(prompt)
        return self.head_ids[:head] + rest
