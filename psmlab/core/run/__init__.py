"""Running models: the interleaving runner, the lab behind both front ends, the session recorder and replay."""
