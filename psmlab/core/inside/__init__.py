"""Inside the model: residual-stream capture and control vectors for local GGUF models."""
