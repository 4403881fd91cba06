"""A model behind an OpenAI-compatible server (llama.cpp's llama-server, llama-cpp-python, vLLM, ...).

Prompts psmlab renders (frames, templates) go to /v1/completions as text; only the server-chat
format uses /v1/chat/completions. Scoring uses prompt log-probabilities (`echo` + `logprobs`) when
the server returns them and says plainly when it does not.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import psmlab
from psmlab.core.backends import http as web
from psmlab.core.backends.base import (
    FinishReason,
    Generation,
    OnToken,
    SamplingParams,
    Score,
    Timings,
    TokenEvent,
    TokenLogprob,
)
from psmlab.core.backends.stops import find_stop, holdback, new_generation_id
from psmlab.core.errors import ModelError, RemoteError
from psmlab.core.models import ModelSpec
from psmlab.core.prompt import PromptPiece, RenderedPrompt

_NO_ECHO_STATUS = frozenset({400, 404, 405, 422, 500, 501})


class _NoPromptLogprobs(RemoteError):
    """The server answered, without prompt log-probabilities."""


_MARKER = re.compile(r"<\|?[A-Za-z_][A-Za-z0-9_]*\|?>")
_SEMAPHORES: dict[str, threading.BoundedSemaphore] = {}
_SEM_LOCK = threading.Lock()


def endpoint_slot(spec: ModelSpec) -> threading.BoundedSemaphore:
    """One bound per server URL, shared by every model and column that talks to it."""
    assert spec.url is not None
    with _SEM_LOCK:
        sem = _SEMAPHORES.get(spec.url)
        if sem is None:
            sem = _SEMAPHORES[spec.url] = threading.BoundedSemaphore(max(1, spec.concurrency))
        return sem


def endpoint_of(spec: ModelSpec) -> web.Endpoint:
    assert spec.url is not None
    return web.Endpoint(spec.url, spec.api_key_env, timeout=spec.timeout, retries=spec.retries)


class TextVocab:
    """For a server model without a local GGUF: psmlab renders text and the server tokenizes it."""

    bos_id: int | None = None
    eos_id: int | None = None
    add_bos = False
    text_only = True  # no vocabulary: markers cannot be checked against control tokens

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def tokenize(self, text: str, *, special: bool) -> list[int]:
        return []

    def is_control(self, token: int) -> bool:
        return False

    def piece(self, token: int) -> str:
        return ""

    def prompt_notes(self, pieces: Sequence[PromptPiece]) -> list[str]:
        notes = [
            f"{self.model_id} is a server model without a local GGUF: the server tokenizes this "
            "text itself, so token counts and context trimming are the server's (set gguf = PATH "
            "in the config for exact tokens)"
        ]
        notes += _marker_notes(pieces)
        return notes


class LocalVocabNotes:
    """A local GGUF's vocabulary for a server model, plus the caveat that the server tokenizes."""

    def __init__(self, vocab: Any) -> None:
        self._v = vocab

    def __getattr__(self, name: str) -> Any:
        return getattr(self._v, name)

    def prompt_notes(self, pieces: Sequence[PromptPiece]) -> list[str]:
        return _marker_notes(pieces)


def _marker_notes(pieces: Sequence[PromptPiece]) -> list[str]:
    found = sorted(
        {m for p in pieces if p.kind in ("content", "prefill") for m in _MARKER.findall(p.text)}
    )
    if not found:
        return []
    return [
        f"message text contains marker-like text ({', '.join(found[:4])}): the server tokenizes "
        "the whole prompt itself and may read it as a control token"
    ]


def vocab_for(spec: ModelSpec) -> tuple[Any, Any]:
    """(tokenizer, owner to close) for a server model: its local GGUF's vocabulary, or text only."""
    if spec.vocab_path:
        from psmlab.core.backends.llama import VocabOnly  # loads llama.cpp only when needed

        owner = VocabOnly(spec)
        return LocalVocabNotes(owner.vocab), owner
    return TextVocab(spec.id), None


def prompt_text(prompt: RenderedPrompt) -> str:
    """The text sent to /v1/completions: without the leading BOS, which the server adds itself."""
    pieces = list(prompt.pieces)
    if pieces and pieces[0].kind == "bos":
        pieces = pieces[1:]
    return "".join(p.text for p in pieces)


class RemoteBackend:
    """A model on a server. Thread-safe: requests are independent; `endpoint_slot` bounds them."""

    def __init__(self, spec: ModelSpec) -> None:
        t0 = time.perf_counter()
        self.spec = spec
        self.ep = endpoint_of(spec)
        self.slot = endpoint_slot(spec)
        self.server: dict[str, Any] = {}
        self.served: list[str] = []
        self.model_name = self._resolve_model()
        self._server_info()
        self.vocab, self._vocab_owner = vocab_for(spec)
        self.n_ctx = int(self.server.get("n_ctx") or spec.n_ctx)
        self._echo_ok: bool | None = None
        self._echo_error = ""
        self._verified: set[str] = set()
        self._server_model: str | None = None
        self.last_fingerprint: str | None = None
        self.load_s = round(time.perf_counter() - t0, 3)

    # --- the server -------------------------------------------------------------------------

    def _resolve_model(self) -> str:
        """GET /models: checks reachability and the key, and which model name to ask for."""
        data = web.get_json(self.ep, "/models")
        items = data.get("data") if isinstance(data, dict) else None
        self.served = [str(m.get("id")) for m in items or [] if isinstance(m, dict) and m.get("id")]
        want = self.spec.remote_model
        if want:
            if self.served and want not in self.served:
                raise ModelError(
                    f"{self.spec.url} does not serve a model named '{want}' "
                    f"(it serves: {', '.join(self.served[:8])})",
                    f"use {self.spec.url}#{self.served[0]}",
                )
            return want
        if len(self.served) == 1:
            return self.served[0]
        raise ModelError(
            f"{self.spec.url} serves {len(self.served)} models "
            f"({', '.join(self.served[:8]) or 'none listed'}) and none was named",
            "name one after # in the URL, or set model = NAME in the config",
        )

    def _server_info(self) -> None:
        """Whatever version information the server gives, best effort (each server differs)."""
        info: dict[str, Any] = {}
        root = web.Endpoint(self.ep.root, self.ep.api_key_env, timeout=5.0, retries=0)
        for path, pick in (
            ("/version", lambda d: {"server_version": d.get("version")}),
            (
                "/props",
                lambda d: {
                    "server_version": d.get("build_info"),
                    "n_ctx": (d.get("default_generation_settings") or {}).get("n_ctx"),
                },
            ),
            (
                "/openapi.json",
                lambda d: {
                    "server_software": (d.get("info") or {}).get("title"),
                    "server_version": (d.get("info") or {}).get("version"),
                },
            ),
        ):
            try:
                data = web.get_json(root, path, retries=0, timeout=5.0)
            except (RemoteError, ValueError):
                continue
            if isinstance(data, dict):
                for k, v in pick(data).items():
                    if v and not info.get(k):
                        info[k] = str(v)[:200] if k != "n_ctx" else v
            if info.get("server_version"):
                break
        self.server = info

    def provenance(self) -> dict[str, Any]:
        return {
            "model_id": self.spec.id,
            "model_path": self.spec.path,
            "model_sha256": None,
            "model_size": 0,
            "kind": self.spec.kind,
            "backend": "openai",
            "endpoint": self.spec.url,
            "remote_model": self.model_name,
            "server_model": self._server_model or self.model_name,
            "server_version": self.server.get("server_version"),
            "server_software": self.server.get("server_software"),
            "system_fingerprint": self.last_fingerprint,
            "llama_cpp_python": None,
            "psmlab": psmlab.__version__,
        }

    def close(self) -> None:
        if self._vocab_owner is not None:
            self._vocab_owner.close()

    def reset_cache(self) -> None:
        """Nothing to reset here: the server keeps its own cache."""

    # --- generation -------------------------------------------------------------------------

    def _body(
        self, prompt: RenderedPrompt, params: SamplingParams, seed: int, logprobs: int
    ) -> tuple[str, dict[str, Any]]:
        room = self.n_ctx - len(prompt.tokens) if prompt.tokens else params.max_tokens
        body: dict[str, Any] = {
            "model": self.model_name,
            "max_tokens": max(1, min(params.max_tokens, room)),
            "temperature": params.temperature,
            "top_p": params.top_p,
            "top_k": params.top_k,
            "min_p": params.min_p,
            "seed": seed,
            "stream": True,
        }
        # Always sent: llama-cpp-python's server defaults repeat_penalty to 1.1, not 1.0.
        # llama.cpp servers call it repeat_penalty, vLLM repetition_penalty.
        body["repeat_penalty"] = body["repetition_penalty"] = params.repeat_penalty
        if prompt.messages:
            body["messages"] = [{"role": r, "content": c} for r, c in prompt.messages]
            if logprobs:
                body.update(logprobs=True, top_logprobs=logprobs)
            return "/chat/completions", body
        body["prompt"] = prompt_text(prompt)
        if logprobs:
            body["logprobs"] = logprobs
        return "/completions", body

    def generate(
        self,
        prompt: RenderedPrompt,
        params: SamplingParams,
        seed: int,
        *,
        sample: int = 0,
        cancel: threading.Event | None = None,
        on_token: OnToken | None = None,
        n_threads: int | None = None,
        logprobs: int = 0,
    ) -> Generation:
        """Stream one continuation; stop strings are found here, as for local models, so a role
        leak is seen and the request is closed as soon as one appears."""
        if not prompt.text and not prompt.messages:
            raise ModelError("the rendered prompt is empty", "add a message to the transcript")
        path, body = self._body(prompt, params, seed, logprobs)
        stops = [s for s in prompt.stop if s]
        longest = max((len(s) for s in stops), default=0)
        text, emitted, chunks = "", 0, 0
        finish: FinishReason = "length"
        stop_hit: str | None = None
        tlps: list[TokenLogprob] = []
        t0 = time.perf_counter()
        t_first = 0.0
        failure: RemoteError | None = None
        got_reason = False
        odd_reason: str | None = None
        if not _acquire(self.slot, cancel):
            return self._finish(prompt, params, seed, sample, "", 0, "cancelled", None, t0, 0.0, [])
        try:
            if self.spec.warm:
                self._warm(path, body, cancel)
            try:
                call = web.request(self.ep, "POST", path, body, cancel=cancel)
            except RemoteError:
                if cancel is not None and cancel.is_set():
                    return self._finish(
                        prompt, params, seed, sample, "", 0, "cancelled", None, t0, 0.0, []
                    )
                raise
            with call:
                try:
                    events = iter([call.json()]) if call.is_json else call.events()
                    for event in events:
                        self._server_model = str(event.get("model") or "") or self._server_model
                        self.last_fingerprint = (
                            event.get("system_fingerprint") or self.last_fingerprint
                        )
                        if isinstance(event.get("error"), dict | str):
                            err = event["error"]
                            msg = err.get("message", err) if isinstance(err, dict) else err
                            raise RemoteError(
                                f"{self.spec.url} reported an error: "
                                f"{web.scrub(str(msg)[:200], self.ep.api_key())}",
                                "see the server's log",
                            )
                        choice = (event.get("choices") or [{}])[0]
                        piece = _choice_text(choice)
                        if piece:
                            chunks += 1
                            t_first = t_first or time.perf_counter()
                            text += piece
                            tlps.extend(_choice_logprobs(choice))
                        reason = choice.get("finish_reason")
                        if stops and piece:
                            cut, stop_hit = find_stop(text, stops, max(0, emitted - longest))
                            if stop_hit is not None:
                                # Leaving `with call` closes the request: the server stops too.
                                text, finish = text[:cut], "stop_string"
                                break
                        safe = len(text) - (holdback(text, stops) if stops else 0)
                        if on_token is not None and safe > emitted:
                            on_token(self._event(sample, text[emitted:safe], chunks, t_first))
                            emitted = safe
                        if reason:
                            got_reason = True
                            finish, odd_reason = _finish_reason(str(reason))
                    else:
                        if cancel is not None and cancel.is_set() and not got_reason:
                            finish = "cancelled"
                        elif not got_reason:
                            # [DONE] without a finish_reason: the server cut the answer short.
                            failure = RemoteError(
                                f"{self.spec.url} ended the answer after {chunks} token(s) without "
                                "saying why (llama-cpp-python's server does this to a stream when "
                                "another request arrives)",
                                "set concurrency = 1 for this server, or start llama-cpp-python's "
                                "server with --interrupt_requests false",
                            )
                            finish = "error"
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    if cancel is not None and cancel.is_set():
                        finish = "cancelled"
                    elif not got_reason:
                        failure = RemoteError(
                            f"{self.spec.url} closed the connection mid-generation after {chunks} "
                            f"token(s) ({type(exc).__name__})",
                            "check the server; the text streamed so far is kept",
                        )
                        finish = "error"
        finally:
            self.slot.release()
        if on_token is not None and len(text) > emitted and finish != "error":
            on_token(self._event(sample, text[emitted:], chunks, t_first))
        g = self._finish(
            prompt, params, seed, sample, text, chunks, finish, stop_hit, t0, t_first, tlps
        )
        if odd_reason is not None:
            g = replace(g, error=f"the server ended with finish_reason {odd_reason!r}")
        if failure is not None:
            failure.partial = g
            raise failure
        return g

    def _warm(self, path: str, body: dict[str, Any], cancel: threading.Event | None) -> None:
        """Have the server evaluate and cache the prompt before the real request.

        Servers with a prompt cache (llama.cpp's) then evaluate only the prompt's last token for
        the real request, whatever they ran before: the same evaluation path psmlab uses in-process.
        Cold, the whole prompt is one batch, and llama.cpp's logits depend on the batch layout,
        so a seed could give another text than in-process or on replay. Costs two tokens."""
        # Two tokens, not one: after a one-token request llama-cpp-python's server keeps the
        # prompt's logits from that batch and would sample the real request from them.
        warm = {**body, "stream": False, "max_tokens": 2, "temperature": 0.0}
        warm.pop("logprobs", None)
        warm.pop("top_logprobs", None)
        try:
            with web.request(self.ep, "POST", path, warm, cancel=cancel) as call:
                call.json()
        except RemoteError:
            if cancel is None or not cancel.is_set():
                raise

    def _finish(
        self,
        prompt: RenderedPrompt,
        params: SamplingParams,
        seed: int,
        sample: int,
        text: str,
        n: int,
        finish: FinishReason,
        stop_hit: str | None,
        t0: float,
        t_first: float,
        tlps: list[TokenLogprob],
    ) -> Generation:
        t_end = time.perf_counter()
        t_first = t_first or t_end
        gen_s = t_end - t_first
        return Generation(
            id=new_generation_id(),
            model=self.spec.id,
            kind=self.spec.kind,
            format=prompt.format,
            sample=sample,
            seed=seed,
            text=text,
            n_tokens=n,  # streamed chunks: one token each on the servers psmlab knows
            finish_reason=finish,
            role_leak=finish == "stop_string",
            params=self.params_record(params, seed),
            stop_string=stop_hit,
            prompt_tokens=len(prompt.tokens),
            prefill=prompt.prefill,
            timings=Timings(
                prompt_s=round(t_first - t0, 4),
                gen_s=round(gen_s, 4),
                tokens_per_s=round(n / gen_s, 2) if gen_s > 0 else 0.0,
                prompt_tokens_evaluated=len(prompt.tokens),
            ),
            provenance=self.provenance(),
            warnings=prompt.warnings,
            error="the server closed the connection mid-generation" if finish == "error" else None,
            token_logprobs=tuple(tlps),
        )

    def params_record(self, params: SamplingParams, seed: int, threads: int = 0) -> dict[str, Any]:
        return {**params.model_dump(), "seed": seed, "n_ctx": self.n_ctx, "endpoint": self.spec.url}

    def _event(self, sample: int, text: str, n: int, t_first: float) -> TokenEvent:
        dt = time.perf_counter() - t_first if t_first else 0.0
        return TokenEvent(self.spec.id, sample, text, n, round(n / dt, 1) if dt > 0 else 0.0)

    # --- scoring ----------------------------------------------------------------------------

    def score(self, prompt: RenderedPrompt, continuations: Sequence[str]) -> list[Score]:
        """log P(continuation | prompt) from the server's prompt log-probabilities (echo)."""
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
        for cont in continuations:
            if not cont:
                out.append(Score(cont, 0.0, 0, ()))
                continue
            full, end = self._echo(text + cont)
            # Offsets are anchored at the end: servers differ in whether control tokens count as
            # text, but the continuation is plain text and is the last thing in the prompt.
            cut = end - len(cont)
            offsets = [o for o, _ in full]
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
        with self.slot, web.request(self.ep, "POST", "/completions", body) as call:
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
                f"{self.spec.url} ({self.model_name}) returns prompt log-probabilities that "
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
                f"{self.spec.url} ({self.model_name}) does not return prompt log-probabilities "
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
        with self.slot, web.request(self.ep, "POST", "/completions", body, retries=retries) as call:
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


_EOS_REASONS = frozenset({"stop", "eos", "eos_token", "end_turn", "stop_sequence"})


def _finish_reason(raw: str) -> tuple[FinishReason, str | None]:
    """The server's finish_reason in psmlab's terms; an unknown one is an error, kept verbatim."""
    if raw in _EOS_REASONS:
        return "eos", None
    if raw in ("length", "max_tokens"):
        return "length", None
    return "error", raw


def _acquire(slot: threading.BoundedSemaphore, cancel: threading.Event | None) -> bool:
    """Wait for a free request slot on this server, but not past a cancel."""
    while not slot.acquire(timeout=0.1):
        if cancel is not None and cancel.is_set():
            return False
    return True


def _choice_text(choice: dict[str, Any]) -> str:
    if "text" in choice:
        return str(choice.get("text") or "")
    delta = choice.get("delta") or choice.get("message") or {}
    return str(delta.get("content") or "") if isinstance(delta, dict) else ""


def _choice_logprobs(choice: dict[str, Any]) -> list[TokenLogprob]:
    lp = choice.get("logprobs")
    if not isinstance(lp, dict):
        return []
    out: list[TokenLogprob] = []
    if isinstance(lp.get("content"), list):  # chat shape
        for item in lp["content"]:
            if not isinstance(item, dict) or item.get("logprob") is None:
                continue
            top = tuple(
                (str(t.get("token")), float(t["logprob"]))
                for t in item.get("top_logprobs") or []
                if isinstance(t, dict) and t.get("logprob") is not None
            )
            out.append(TokenLogprob(-1, str(item.get("token", "")), float(item["logprob"]), top))
        return out
    toks, vals, tops = (
        lp.get("tokens") or [],
        lp.get("token_logprobs") or [],
        lp.get("top_logprobs") or [],
    )
    for i, (t, v) in enumerate(zip(toks, vals, strict=False)):
        if v is None:
            continue
        alts = tops[i] if i < len(tops) and isinstance(tops[i], dict) else {}
        top = tuple(sorted(((str(k), float(x)) for k, x in alts.items()), key=lambda kv: -kv[1]))
        out.append(TokenLogprob(-1, str(t), float(v), top))
    return out
