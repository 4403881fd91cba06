"""Backends run a rendered prompt on a model: llama.cpp in-process (and later OpenAI-compatible HTTP)."""
