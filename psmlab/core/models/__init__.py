"""Which models exist: the config file, GGUF headers, sha256 digests and the registry of model specs."""
