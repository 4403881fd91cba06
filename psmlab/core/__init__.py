"""The lab itself: models, transcripts, formats, prompts, backends and runs, with no UI imports.

Everything here runs without a terminal; the Textual TUI and the Typer CLI are thin front ends over it.
"""
