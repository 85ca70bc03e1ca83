"""Rocq (Coq 8.16) backend: coqtop-driven proof states, coqc verification, miniF2F-rocq."""
