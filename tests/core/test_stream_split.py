"""The stream's record of how many pieces hold the stop string (`stop_tokens`) agrees with the
rule that reads activations (`answer_token_count`) for any way the text is cut into pieces."""

from __future__ import annotations

import random
from typing import Any

from psmlab.core.backends.stream import SourceReport, answer_token_count, generation_from
from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.models.spec import ModelSpec

STOPS = ("\nUser:", "\n\n")
SPEC = ModelSpec(
    id="fake", kind="base", path="fake.gguf", size=0, has_chat_template=False, source="test"
)


class _Origin:
    spec = SPEC

    def provenance(self) -> dict[str, Any]:
        return {}


def _prompt() -> RenderedPrompt:
    return RenderedPrompt(
        model_id="fake",
        format="dialogue",
        format_kind="base",
        text="",
        tokens=(),
        pieces=(),
        stop=STOPS,
        warnings=(),
        prefill=None,
        n_ctx=512,
    )


def _generate(chunks: list[str]):  # type: ignore[no-untyped-def]
    pieces = iter([(c, i, None) for i, c in enumerate(chunks)])
    return generation_from(
        pieces,
        SourceReport(),
        origin=_Origin(),
        prompt=_prompt(),
        seed=1,
        sample=0,
        params={},
        t0=0.0,
    )


def _cuts(text: str, rng: random.Random) -> list[str]:
    """`text` cut at random places into pieces of 1 to 4 characters."""
    out, i = [], 0
    while i < len(text):
        k = rng.randint(1, 4)
        out.append(text[i : i + k])
        i += k
    return out


def test_stop_tokens_agree_with_the_activation_rule_for_any_cut() -> None:
    rng = random.Random(7)
    texts = [
        " I'm a teacher.\nUser: and you?",
        "\nUser: hi",
        " Hi.\n\nUser:",
        " a\nUs\ner:\nUser:x",
    ]
    seen = 0
    for text in texts:
        for _ in range(200):
            chunks = _cuts(text, rng)
            g = _generate(chunks)
            if g.finish_reason != "stop_string":
                continue  # the stop string's text never came whole (cut before the end)
            seen += 1
            k = answer_token_count([c.encode() for c in chunks], list(STOPS))
            assert g.stop_tokens == len(g.tokens) - k, (chunks, g.stop_tokens, k)
            assert g.answer_tokens() == k == g.n_tokens - g.stop_tokens
            assert g.text == text[: text.find(g.stop_string)]
    assert seen >= 700


def test_no_stop_string_no_split() -> None:
    g = _generate([" I", " am", " here"])
    assert g.finish_reason == "length" and g.stop_tokens is None
    assert g.token_words() == "3 tok"
    assert _generate(["\nUs", "er:"]).token_words() == "0 tok + 2 of the stop string"
