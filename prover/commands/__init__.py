"""The `prover` subcommands, one module per job; prover.cli registers them on the `prover` group."""
