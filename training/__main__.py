"""`python -m training tokenize | mix | pretrain | finetune | export`: Llemma-style continued pretraining and tactic fine-tuning."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click


class UserError(click.ClickException):
    """Bad input: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


@click.group()
def main() -> None:
    """Continued pretraining (Proof-Pile-2 mixtures) and proofstep fine-tuning of causal language models."""


@main.command()
@click.option("--input", "inputs", multiple=True, required=True, type=click.Path(path_type=Path),
              help="A .jsonl or .jsonl.zst file of {\"text\", \"meta\"} rows, or a folder of them (repeatable).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the token shards (one subfolder per subset).")
@click.option("--tokenizer", default="default", show_default=True, help="default (SmolLM2-135M), or a Hugging Face folder or id.")
@click.option("--subset", default=None, help="Put every row in this subset (default: each row's meta.subset, else the file's name).")
@click.option("--eval-fraction", default=0.02, show_default=True, type=click.FloatRange(0, 0.5),
              help="Share of documents held out for eval loss (chosen by a hash of the text, so stable).")
@click.option("--workers", default=None, type=click.IntRange(1), help="Tokenizer processes (default: CPU count).")
def tokenize(inputs, out, tokenizer, subset, eval_fraction, workers) -> None:
    """Tokenize documents into binary token shards with EOS between documents."""
    from training.data import DataError
    from training.tokenize import tokenize_files

    try:
        summary = tokenize_files(list(inputs), out, tokenizer=tokenizer, subset=subset,
                                 eval_fraction=eval_fraction, workers=workers)
    except DataError as exc:
        raise UserError(str(exc)) from None
    click.echo(json.dumps(summary))


@main.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The mixed proofstep rows (.jsonl).")
def mix(recipe, out) -> None:
    """Mix proofstep rows from several files as a YAML recipe says (see training/mix.py); prints a JSON summary."""
    from training.data import DataError
    from training.mix import mix as mix_rows

    try:
        summary = mix_rows(recipe, out)
    except DataError as exc:
        raise UserError(str(exc)) from None
    click.echo(json.dumps(summary))


def _train_command(kind: str):
    @click.option("--config", "config_spec", required=True, help="A config name (see training/configs) or a YAML file.")
    @click.option("--steps", default=None, type=click.IntRange(1), help="Stop after this many optimizer steps (default: the config's).")
    @click.option("--out", default=None, type=click.Path(path_type=Path), help="Run folder (default: the config's out).")
    @click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in --out.")
    @click.option("--stop-after", default=None, type=click.IntRange(1),
                  help="Checkpoint and stop after this step, keeping the schedule of --steps (preemptible jobs).")
    @click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config field (repeatable).")
    def command(config_spec, steps, out, resume, stop_after, overrides) -> None:
        from training.config import ConfigError, load_config
        from training.train import TrainingError, run_training

        try:
            config = load_config(config_spec, overrides, kind=kind)
            if steps is not None:
                config.steps = steps
            if out is not None:
                config.out = str(out)
            summary = run_training(config, resume=resume, stop_after=stop_after)
        except (ConfigError, TrainingError) as exc:
            raise UserError(str(exc)) from None
        if summary is not None:
            click.echo(json.dumps(summary))

    return command


main.command("pretrain", help="Continued pretraining on a token-shard mixture; writes OUT/metrics.jsonl.")(_train_command("pretrain"))
main.command("finetune", help="Fine-tune on proofstep rows (`prover train-data` / `prover extract`); writes OUT/metrics.jsonl.")(
    _train_command("finetune"))


@main.command()
@click.option("--ckpt", required=True, type=click.Path(path_type=Path), help="A run folder or one of its checkpoints.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The Hugging Face folder to write.")
@click.option("--dtype", default="bfloat16", show_default=True, type=click.Choice(["float32", "bfloat16", "float16"]))
@click.option("--adapter-only", is_flag=True, help="A LoRA run: write only the adapter (megabytes), not the merged model.")
def export(ckpt, out, dtype, adapter_only) -> None:
    """Write a checkpoint as a Hugging Face folder that `prover prove --model hf:OUT` loads."""
    from training.checkpoint import CheckpointError
    from training.export import export_checkpoint

    try:
        path = export_checkpoint(ckpt, out, dtype=dtype, adapter_only=adapter_only)
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    click.echo(str(path))


if __name__ == "__main__":
    sys.exit(main())
