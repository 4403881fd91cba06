"""The OpenAI-compatible server backend: HTTP client, request slots, generation, echo scoring, vocabulary."""
