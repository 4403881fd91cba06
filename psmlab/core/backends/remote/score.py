"""Scoring on a server: prompt log-probabilities from `echo` + `logprobs`, checked before use."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from psmlab.core.backends.remote import client as web
from psmlab.core.backends.remote.slots import EndpointSlot
from psmlab.core.backends.remote.vocab import prompt_text
from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.types import Score
from psmlab.core.errors import ModelError, RemoteError, ScoringCancelled

_NO_ECHO_STATUS = frozenset({400, 404, 405, 422, 500, 501})


class _NoPromptLogprobs(RemoteError):
    """The server answered, without prompt log-probabilities."""


class EchoScorer:
    """Scores continuations for one model on one server; its requests take `slot` for scoring."""

    def __init__(self, ep: web.Endpoint, slot: EndpointSlot, model_name: str) -> None:
        self.ep = ep
        self.slot = slot
        self.model_name = model_name
        self._echo_ok: bool | None = None  # whether the server returns prompt log-probabilities
        self._echo_error = ""
        self._verified: set[str] = set()  # prompt openings whose log-probabilities were checked

    # --- scoring ----------------------------------------------------------------------------

    def score(
        self,
        prompt: RenderedPrompt,
        continuations: Sequence[str],
        *,
        cancel: threading.Event | None = None,
    ) -> list[Score]:
        """log P(continuation | prompt) from the server's prompt log-probabilities (echo)."""
        if cancel is not None and cancel.is_set():
            raise ScoringCancelled("scoring was cancelled")
        if prompt.messages:
            raise RemoteError(
                f"format {prompt.format} cannot be scored: the chat API returns no prompt log-probabilities",
                "score with a format psmlab renders (template, chatml, a frame)",
            )
        self._check_echo()
        text = prompt_text(prompt)
        self._verify(text)
        base: tuple[list[tuple[int, float | None]], int] | None = None
        out = []
        # A prompt ending in spaces is scored from before them for every continuation, as
        # locally (`scoring.split_continuation`): the model writes a word with its space.
        spaces = len(text) - len(text.rstrip(" ")) if text.strip(" ") else 0
        for cont in continuations:
            if cancel is not None and cancel.is_set():
                raise ScoringCancelled("scoring was cancelled")
            if not cont:
                out.append(Score(cont, 0.0, 0, ()))
                continue
            full, end = self._echo(text + cont)
            # Offsets are anchored at the end: servers differ in whether control tokens count as
            # text, but the continuation is plain text and is the last thing in the prompt.
            cut = end - len(cont)
            offsets = [o for o, _ in full]
            if spaces and (cut - spaces) in offsets:
                lps = [lp or 0.0 for o, lp in full if cut - spaces <= o < end]
                out.append(
                    Score(
                        cont,
                        float(sum(lps)),
                        len(lps),
                        tuple(lps),
                        merged=True,
                        merged_with=text[len(text) - spaces :],
                    )
                )
                continue
            if cut in offsets or not any(o < cut for o in offsets):
                lps = [lp or 0.0 for o, lp in full if cut <= o < end]
                out.append(Score(cont, float(sum(lps)), len(lps), tuple(lps)))
                continue
            # A token that begins in the prompt and ends in the continuation: they merged.
            # Then log P(prompt + continuation) - log P(prompt) from that token on, as locally.
            start = max(o for o in offsets if o < cut)
            if base is None:
                base = self._echo(text)
            b_full, b_end = base
            b_start = b_end - (cut - start)
            joint = [lp for o, lp in full if start <= o < end]
            alone = [lp for o, lp in b_full if b_start <= o < b_end]
            if any(v is None for v in joint + alone):
                raise ModelError(
                    "cannot score: the continuation merges with the prompt's first token",
                    "add text before the continuation",
                )
            j = [float(v or 0.0) for v in joint]
            out.append(
                Score(
                    cont,
                    sum(j) - sum(float(v or 0.0) for v in alone),
                    len(j),
                    tuple(j),
                    merged=True,
                    merged_with=text[len(text) - (cut - start) :],
                )
            )
        return out

    def _verify(self, text: str) -> None:
        """Check the server's prompt log-probabilities against its own sampling log-probabilities
        on this very prompt: greedy-generate one token, then echo prompt + token. They must agree
        (llama-cpp-python 0.3.36's server, for one, is off by one token when a model adds no BOS)."""
        # Whether they agree depends on how the prompt begins (BOS or not), not on the rest: one
        # check per prompt opening keeps evals from doubling their requests.
        key = text[:64]
        if key in self._verified:
            return
        body = {
            "model": self.model_name,
            "prompt": text,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": 1,
        }
        with self.slot.for_scoring(), web.request(self.ep, "POST", "/completions", body) as call:
            data = call.json()
        try:
            lp = data["choices"][0]["logprobs"]
            token, value = str(lp["tokens"][0]), float(lp["token_logprobs"][0])
        except (KeyError, IndexError, TypeError, ValueError):
            token, value = "", 0.0
        if not token:
            return  # nothing to compare this time (e.g. the end of text): check again next time
        full, end = self._echo(text + token)
        last = [v for o, v in full if o >= end - len(token)]
        if len(last) != 1 or last[0] is None:
            return  # the token merged with the prompt when echoed: not comparable, not cached
        if abs(last[0] - value) > 0.3:
            raise RemoteError(
                f"{self.ep.url} ({self.model_name}) returns prompt log-probabilities that "
                f"disagree with its own sampling ones on this prompt ({last[0]:.2f} vs "
                f"{value:.2f} for {token!r}), so its scores would be wrong",
                "psmlab does not guess scores: use a format whose prompt starts with the BOS "
                "token, another server (vLLM), or a local GGUF",
            )
        self._verified.add(key)

    def _check_echo(self) -> None:
        if self._echo_ok is None:
            try:
                self._echo("Hello, world", retries=0)
                self._echo_ok = True
            except RemoteError as exc:
                # Only a lasting answer is remembered; a busy or restarting server is asked again.
                if exc.status not in _NO_ECHO_STATUS and not isinstance(exc, _NoPromptLogprobs):
                    raise
                self._echo_ok = False
                self._echo_error = exc.problem
        if not self._echo_ok:
            raise RemoteError(
                f"{self.ep.url} ({self.model_name}) does not return prompt log-probabilities "
                f"(echo + logprobs), which probes and evals need [{self._echo_error}]",
                "psmlab does not guess scores: use a server that returns them (vLLM; "
                "llama-cpp-python's server started with --logits_all true) or a local GGUF",
            )

    def _echo(
        self, text: str, retries: int | None = None
    ) -> tuple[list[tuple[int, float | None]], int]:
        """Every prompt token's (offset, log-probability), the first without one, and where the
        prompt ends in the server's offsets."""
        body = {
            "model": self.model_name,
            "prompt": text,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        with (
            self.slot.for_scoring(),
            web.request(self.ep, "POST", "/completions", body, retries=retries) as call,
        ):
            data = call.json()
        try:
            lp = data["choices"][0]["logprobs"]
            offsets, values, pieces = lp["text_offset"], lp["token_logprobs"], lp["tokens"]
            pairs = [
                (int(o), None if v is None else float(v))
                for o, v in zip(offsets, values, strict=True)
            ]
            echoed = str(data["choices"][0].get("text") or "")
        except (KeyError, IndexError, TypeError, ValueError):
            raise _NoPromptLogprobs("the answer has no prompt log-probabilities") from None
        # Servers differ in whether the generated token is in the list, so find the prompt's end
        # from the generated text: the tokens that spell it are dropped from the end.
        generated = echoed[len(text) :] if echoed.startswith(text) else ""
        strs = [str(x) for x in pieces]
        n_prompt = len(pairs)
        for k in (1, 2, 3):
            rest = len(pairs) - k
            if (
                generated
                and rest >= 1
                and "".join(strs[rest:]) == generated
                and "".join(strs[:rest]).endswith(text[-3:])
            ):
                n_prompt = rest  # the generated token is listed: drop it
                break
        if n_prompt < 1 or not any(v is not None for _, v in pairs[:n_prompt]):
            # Only the generated token came back: the server ignored echo.
            raise _NoPromptLogprobs("the server did not return the prompt's log-probabilities")
        last_end = pairs[-1][0] + len(str(pieces[-1]))
        end = pairs[n_prompt][0] if n_prompt < len(pairs) else last_end
        return pairs[:n_prompt], end
