"""Limits and fixed sizes the front ends share: samples per model, lab columns, logprob alternatives."""

from __future__ import annotations

# Samples per model in one headless run (`psmlab ask -n`, an experiment's `samples`).
MAX_SAMPLES = 10_000

# Samples per model in the lab: every sample is a row on screen, so the TUI stays far lower.
MAX_LAB_SAMPLES = 64

# Models side by side in the lab: more columns than this do not fit a terminal.
MAX_LAB_COLUMNS = 8

# How many most-likely alternatives are recorded with each token when token probabilities are on.
LOGPROB_ALTERNATIVES = 5
