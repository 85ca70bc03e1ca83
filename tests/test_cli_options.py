"""Specs of the `prover` command line's shared options: a model or search setting has one default, its dataclass's."""
from prover.cli import main
from prover.models import ModelSettings
from prover.search import SearchConfig


def _option(command: str, flag: str):
    return next(p for p in main.commands[command].params if flag in p.opts)


def test_every_command_is_registered_on_the_group():
    assert set(main.commands) == {"prove", "check", "report", "serve", "translate", "extract", "synth", "curriculum",
                                  "train-data", "stdlib-holes", "iterate", "setup"}


def test_the_model_options_default_to_model_settings_in_every_command():
    for command in ("prove", "serve", "iterate"):
        assert _option(command, "--max-tokens").default == ModelSettings.max_tokens
    assert _option("translate", "--tactic-max-tokens").default == ModelSettings.max_tokens
    for command in ("prove", "serve", "translate", "iterate"):
        assert _option(command, "--temperature").default == ModelSettings.temperature


def test_the_search_options_of_prove_default_to_search_config():
    for flag, field in (("--budget-seconds", "budget_seconds"), ("--max-expansions", "max_expansions"),
                        ("--tactic-timeout", "tactic_timeout"), ("--num-candidates", "num_candidates"),
                        ("--automation", "automation"), ("--automation-score", "automation_score")):
        assert _option("prove", flag).default == getattr(SearchConfig, field)
