"""The error a `prover` command raises for a user's mistake or a missing tool: one line on stderr, exit code 2.

Backends raise it from the commands they contribute (their plugin's `setup_command`) as the CLI does."""
from __future__ import annotations

import sys
from contextlib import contextmanager

import click


class UserError(click.ClickException):
    """A mistake in what the user asked for (or a tool missing): one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


@contextmanager
def setup_errors(setup_error: type[Exception]):
    """Around a `prover setup NAME` step: its `setup_error` becomes a UserError, and Ctrl-C says that rerunning
    finishes the setup (each step is resumable) and exits 130."""
    try:
        yield
    except setup_error as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("\ninterrupted: rerun the same command to finish the setup", err=True)
        sys.exit(130)
