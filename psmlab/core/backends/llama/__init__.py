"""The in-process llama.cpp backend: the model and context, its vocabulary, and llama.cpp's log."""
