"""Isabelle backend (PISA-style bridge, Sledgehammer): filled by the Isabelle issue."""
