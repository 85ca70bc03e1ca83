"""The `prover` command line: the click group that registers the commands of prover.commands and each installed
backend's `prover setup NAME`."""
from __future__ import annotations

import click

from prover import interrupts
from prover.commands.check import check
from prover.commands.data import curriculum, extract, stdlib_holes, synth, train_data
from prover.commands.iterate import iterate
from prover.commands.prove import prove
from prover.commands.report import report
from prover.commands.serve import serve
from prover.commands.translate import translate
from prover.plugins import UnknownBackend, available_backends, load_plugin


@click.group()
def main() -> None:
    """Best-first formal theorem proving with language-model tactic generators."""
    interrupts.install()


for subcommand in (prove, check, report, serve, translate, extract, synth, curriculum, train_data, stdlib_holes,
                   iterate):
    main.add_command(subcommand)


class _BackendSetupCommands(click.Group):
    """`prover setup NAME`: the setup command of backend NAME's plugin, loaded only when asked for."""

    def list_commands(self, ctx) -> list[str]:
        return [name for name in available_backends() if self.get_command(ctx, name) is not None]

    def get_command(self, ctx, name: str):
        try:
            return load_plugin(name).setup_command
        except UnknownBackend:
            return None


@main.group(cls=_BackendSetupCommands)
def setup() -> None:
    """Install and pin a backend's proof assistant (needs network)."""


if __name__ == "__main__":
    main()
