"""Llemma-style continued pretraining and tactic fine-tuning: filled by the training issue."""
