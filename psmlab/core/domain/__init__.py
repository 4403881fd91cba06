"""The lab's nouns and pure rules: transcripts, formats, prompts, personas, labels, statistics (no I/O beyond reading shipped data)."""
