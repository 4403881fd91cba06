"""Data shipped inside the package: base-model frames, chat templates, probe sets and persona archetypes."""
