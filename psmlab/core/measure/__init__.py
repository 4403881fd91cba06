"""Measuring personas: forced-choice probes, multiple-choice evals, experiment sweeps and their reports."""
