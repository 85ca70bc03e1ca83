"""Lean 4 backend (Lean REPL protocol, LeanDojo adapter): filled by the Lean issue."""
