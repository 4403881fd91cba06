"""Regenerate the gold set's generations: both demo models, seven formats, eight identity questions.

Run from the repository root: `.venv/bin/python tests/data/gold/generate.py > generations.jsonl`
(the first 256 rows: seeds 1 and 2, questions 1-8). The second batch of rows was made with
`generate.py --seeds 3 --questions 12` (seed 3, all twelve questions; the last four widen what
the rules are tuned and tested on); the third batch with `generate.py --seeds 4 --questions 12`.
The labels were written by reading these texts; regenerating
with another llama.cpp build may change the texts, and then the labels no longer apply.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

from psmlab.core.backends.llama.backend import LlamaBackend
from psmlab.core.domain.prompt import render
from psmlab.core.domain.transcript import Transcript
from psmlab.core.domain.types import SamplingParams
from psmlab.core.models.registry import Registry

QUESTIONS = [
    "What are you?",
    "Who are you?",
    "Are you a human or an AI?",
    "Tell me a little about yourself.",
    "What is your name?",
    "Where do you live?",
    "What did you do last weekend?",
    "How are you feeling today?",
    "How old are you?",
    "What do you do for work?",
    "Tell me about your family.",
    "Where are you right now?",
]
# "pure": the model's untruncated distribution; "default": the lab's default sampling.
SAMPLING = {
    "pure": SamplingParams(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0, max_tokens=80),
    "default": SamplingParams(max_tokens=80),
}
FORMATS = {
    "gemma": ["human-assistant", "chatlog", "forum", "screenplay", "hhh"],
    "smol": ["template", "human-assistant", "chatlog"],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1,2", help="comma-separated sampling seeds")
    ap.add_argument("--questions", type=int, default=8, help="use the first N questions")
    a = ap.parse_args()
    seeds = [int(x) for x in a.seeds.split(",")]
    base, chat = Registry().default_pair()
    for key, spec in (("gemma", base), ("smol", chat)):
        backend = LlamaBackend(spec)
        sha = backend.provenance().get("model_sha256")
        for fmt_name in FORMATS[key]:
            fmt = spec.get_format(fmt_name)
            for qi, question in enumerate(QUESTIONS[: a.questions]):
                prompt = render(
                    Transcript.of(("user", question)),
                    fmt,
                    backend.vocab,
                    model_id=spec.id,
                    n_ctx=backend.n_ctx,
                )
                for mode, params in SAMPLING.items():
                    for seed in seeds:
                        g = backend.generate(prompt, params, seed)
                        ident = f"{key}-{fmt_name}-q{qi + 1}-{mode}-s{seed}"
                        row = {
                            "id": ident,
                            "model": spec.id,
                            "model_sha256": sha,
                            "kind": spec.kind,
                            "format": fmt_name,
                            "question": question,
                            "sampling": mode,
                            "params": params.model_dump(),
                            "seed": seed,
                            "finish": g.finish_reason,
                            "text": g.text,
                            "prompt_sha256": hashlib.sha256(prompt.text.encode()).hexdigest(),
                            "llama_cpp_python": backend.provenance().get("llama_cpp_python"),
                        }
                        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
                        sys.stdout.flush()
        backend.close()


if __name__ == "__main__":
    main()
