"""The error a `prover` command raises for a user's mistake or a missing tool: one line on stderr, exit code 2.

Backends raise it from the commands they contribute (their plugin's `setup_command`) as the CLI does."""
from __future__ import annotations

import click


class UserError(click.ClickException):
    """A mistake in what the user asked for (or a tool missing): one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)
