"""A model behind an OpenAI-compatible server (llama.cpp's llama-server, llama-cpp-python, vLLM, ...)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psmlab
from psmlab.core.backends import generate_each
from psmlab.core.backends.remote import client as web
from psmlab.core.backends.remote.score import EchoScorer
from psmlab.core.backends.remote.slots import SHARED, EndpointSlots
from psmlab.core.backends.remote.vocab import prompt_text, vocab_for
from psmlab.core.backends.remote.wire import choice_logprobs, choice_text, finish_reason
from psmlab.core.backends.stream import Piece, SourceReport, generation_from, params_record
from psmlab.core.domain.code_version import code_fingerprint
from psmlab.core.domain.prompt import RenderedPrompt
from psmlab.core.domain.types import (
    Generation,
    OnToken,
    SamplingParams,
    Score,
)
from psmlab.core.errors import ModelError, RemoteError, UsageError
from psmlab.core.models.hashing import file_sha256
from psmlab.core.models.spec import ModelSpec
from psmlab.core.models.steering import Steering


def endpoint_of(spec: ModelSpec) -> web.Endpoint:
    assert spec.url is not None
    return web.Endpoint(spec.url, spec.api_key_env, timeout=spec.timeout, retries=spec.retries)


class RemoteBackend:
    """A model on a server. Thread-safe: requests are independent; the server's slot bounds them.

    Prompts psmlab renders (frames, templates) go to /v1/completions as text; only the
    server-chat format uses /v1/chat/completions. Scoring uses prompt log-probabilities (`echo` +
    `logprobs`) when the server returns them and says plainly when it does not (`EchoScorer`)."""

    def __init__(self, spec: ModelSpec, *, slots: EndpointSlots | None = None) -> None:
        t0 = time.perf_counter()
        assert spec.url is not None
        self.spec = spec
        self.ep = endpoint_of(spec)
        # Concurrency is per server URL: every model on it shares one slot.
        self.slot = (slots or SHARED).get(spec.url, spec.concurrency)
        self.server: dict[str, Any] = {}
        self.served: list[str] = []
        self.model_name = self._resolve_model()
        self._server_info()
        self.vocab, self._vocab_owner = vocab_for(spec)
        # llama-cpp-python's server does not say its context size (llama.cpp's /props does):
        # the config's n_ctx is then an assumption, and the record says which it was.
        self.n_ctx = int(self.server.get("n_ctx") or spec.n_ctx)
        self.n_ctx_source = "server" if self.server.get("n_ctx") else "config"
        self.scorer = EchoScorer(self.ep, self.slot, self.model_name)
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
        # Best effort: not cut short on a slow machine, nor long on a server that holds unknown
        # routes open (three paths are asked): the request's own timeout, at most 10 s each.
        wait = min(self.ep.timeout, 10.0)
        root = web.Endpoint(self.ep.root, self.ep.api_key_env, timeout=wait, retries=0)
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
                data = web.get_json(root, path, retries=0, timeout=wait)
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
            "model_size": None,  # the weights are on the server; their size is not known here
            "kind": self.spec.kind,
            "backend": "openai",
            "endpoint": self.spec.url,
            "remote_model": self.model_name,
            "server_model": self._server_model or self.model_name,
            "server_version": self.server.get("server_version"),
            "server_software": self.server.get("server_software"),
            "system_fingerprint": self.last_fingerprint,
            # The local GGUF that renders its prompts and counts its tokens (the config's
            # `gguf`): another file renders another prompt, and replay says which changed.
            "vocab_path": self.spec.vocab_path,
            "vocab_sha256": file_sha256(self.spec.vocab_path) if self.spec.vocab_path else None,
            "llama_cpp_python": None,
            "psmlab": psmlab.__version__,
            "psmlab_code": code_fingerprint(),
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
        steering: Steering | None = None,
    ) -> Generation:
        """Stream one continuation; stop strings are found here, as for local models, so a role
        leak is seen and the request is closed as soon as one appears."""
        _no_steering(self.spec.id, steering)
        if not prompt.text and not prompt.messages:
            raise ModelError("the rendered prompt is empty", "add a message to the transcript")
        path, body = self._body(prompt, params, seed, logprobs)
        report = SourceReport(evaluated=len(prompt.tokens))
        return generation_from(
            self._pieces(path, body, cancel, report),
            report,
            origin=self,
            prompt=prompt,
            seed=seed,
            sample=sample,
            params=params_record(
                params, seed, self.n_ctx, endpoint=self.spec.url, n_ctx_source=self.n_ctx_source
            ),
            t0=time.perf_counter(),
            cancel=cancel,
            on_token=on_token,
        )

    def generate_many(
        self,
        prompt: RenderedPrompt,
        params: SamplingParams,
        seeds: Sequence[int],
        **kwargs: Any,
    ) -> list[Generation]:
        """One request per sample, one after another (the server decides its own batching)."""
        kwargs.pop("group", None)
        return generate_each(self, prompt, params, seeds, **kwargs)

    def _pieces(
        self,
        path: str,
        body: dict[str, Any],
        cancel: threading.Event | None,
        report: SourceReport,
    ) -> Iterator[Piece]:
        """One piece per streamed chunk of text (one token each on the servers psmlab knows),
        inside a request slot. Closing it closes the request: the server stops too."""
        if not self.slot.acquire(cancel):
            report.finish = "cancelled"
            return
        chunks = 0
        try:
            if self.spec.warm:
                self._warm(path, body, cancel)
            try:
                call = web.request(self.ep, "POST", path, body, cancel=cancel)
            except RemoteError:
                if cancel is not None and cancel.is_set():
                    report.finish = "cancelled"
                    return
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
                        text = choice_text(choice)
                        if text:
                            chunks += 1
                            yield Piece(text, None, choice_logprobs(choice))
                        reason = choice.get("finish_reason")
                        if reason:
                            report.finish, odd = finish_reason(str(reason))
                            report.error = odd and f"the server ended with finish_reason {odd!r}"
                    else:
                        if cancel is not None and cancel.is_set() and report.finish is None:
                            report.finish = "cancelled"
                        elif report.finish is None:
                            # [DONE] without a finish_reason: the server cut the answer short.
                            self._failed(
                                report,
                                f"{self.spec.url} ended the answer after {chunks} token(s) "
                                "without saying why (llama-cpp-python's server does this to a "
                                "stream when another request arrives)",
                                "set concurrency = 1 for this server, or start llama-cpp-python's "
                                "server with --interrupt_requests false",
                            )
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    if cancel is not None and cancel.is_set():
                        report.finish = "cancelled"
                    elif report.finish is None:
                        self._failed(
                            report,
                            f"{self.spec.url} closed the connection mid-generation after "
                            f"{chunks} token(s) ({type(exc).__name__})",
                            "check the server; the text streamed so far is kept",
                        )
        finally:
            self.slot.release()

    @staticmethod
    def _failed(report: SourceReport, problem: str, fix: str) -> None:
        """The stream broke: an `error` generation, raised with what streamed so far."""
        report.finish = "error"
        report.error = "the server closed the connection mid-generation"
        report.failure = RemoteError(problem, fix)

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

    # --- scoring ----------------------------------------------------------------------------

    def score(
        self,
        prompt: RenderedPrompt,
        continuations: Sequence[str],
        *,
        cancel: threading.Event | None = None,
        steering: Steering | None = None,
    ) -> list[Score]:
        """log P(continuation | prompt) from the server's prompt log-probabilities (echo)."""
        _no_steering(self.spec.id, steering)
        return self.scorer.score(prompt, continuations, cancel=cancel)


def _no_steering(model_id: str, steering: Steering | None) -> None:
    if steering is not None:
        # A server computes the forward pass where psmlab cannot add to the residual stream.
        raise UsageError(
            f"{model_id} runs on a server and cannot be steered",
            "steer a local GGUF model, or drop --steer for this one",
        )
