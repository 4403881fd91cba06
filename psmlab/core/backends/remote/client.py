"""A small HTTP client for OpenAI-compatible servers: timeouts, retries with backoff, SSE, cancel.

Standard library only (http.client), because cancellation needs the socket: a watcher thread shuts
it down when the user cancels, which wakes a read that is blocked waiting for the server.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from psmlab.core.errors import ConfigError, RemoteError

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class Endpoint:
    """Where a server is and how patient to be with it. The API key itself is never stored here:
    only the name of the environment variable that holds it, read at request time."""

    url: str  # the API base, e.g. http://127.0.0.1:8000/v1
    api_key_env: str | None = None
    timeout: float = 120.0  # seconds the server may stay silent before psmlab gives up
    connect_timeout: float = 10.0
    retries: int = 3
    backoff_s: float = 0.5

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        value = os.environ.get(self.api_key_env, "")
        # Not the server's failure: this machine's setting (exit 7, as a config error is).
        if not value:
            raise ConfigError(
                f"the environment variable {self.api_key_env} (the API key for {self.url}) is not set",
                f"export {self.api_key_env}=... before starting psmlab",
            )
        value = value.strip()  # a key read from a CRLF .env file ends in "\r"
        # The message names the variable only: an exception quoting the header would carry the key.
        if not value.isprintable() or not value.isascii():
            raise ConfigError(
                f"the environment variable {self.api_key_env} holds characters an API key cannot "
                "have (control characters or non-ASCII, e.g. pasted curly quotes)",
                f"set {self.api_key_env} to the bare key",
            )
        return value

    @property
    def root(self) -> str:
        """The server root (the URL without its /v1), where servers put /version or /props."""
        u = self.url.rstrip("/")
        return u[: -len("/v1")] if u.endswith("/v1") else u


def scrub(text: str, secret: str | None) -> str:
    """Never let a key reach a message, a log or a file, even if a server echoes it back."""
    return text.replace(secret, "***") if secret else text


class Call:
    """One open HTTP response, with a watcher that aborts it when `cancel` is set."""

    def __init__(self, conn: http.client.HTTPConnection, cancel: threading.Event | None) -> None:
        self.conn = conn
        self.resp: http.client.HTTPResponse | None = None
        self.headers: dict[str, str] = {}
        self._done = threading.Event()
        self.aborted = False
        if cancel is not None:
            threading.Thread(target=self._watch, args=(cancel,), daemon=True).start()

    def attach(self, resp: http.client.HTTPResponse) -> None:
        self.resp = resp
        self.headers = {k.lower(): v for k, v in resp.getheaders()}

    def _r(self) -> http.client.HTTPResponse:
        assert self.resp is not None, "no response yet"
        return self.resp

    def _watch(self, cancel: threading.Event) -> None:
        while not self._done.is_set():
            if cancel.wait(0.05):
                self.abort()
                return

    def abort(self) -> None:
        """Close the socket under a blocked read; the server sees the client go away."""
        self.aborted = True
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def json(self) -> Any:
        try:
            body = self._r().read()
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteError(
                f"{self.conn.host}: the answer broke off ({type(exc).__name__})",
                "check the server and try again",
            ) from None
        try:
            return json.loads(body.decode("utf-8", errors="replace"))
        except json.JSONDecodeError:
            raise RemoteError(
                f"{self.conn.host} answered with something that is not JSON: {body[:80]!r}",
                "check that the url points to an OpenAI-compatible API (it usually ends in /v1)",
            ) from None

    @property
    def is_json(self) -> bool:
        """A plain JSON body where a stream was asked for: a server that does not stream."""
        return self.headers.get("content-type", "").startswith("application/json")

    def events(self) -> Iterator[dict[str, Any]]:
        """Server-sent events: one parsed JSON object per `data:` event, until `[DONE]`."""
        data: list[str] = []
        while True:
            raw = self._r().readline()
            if not raw:
                # A stream that ends without [DONE] was cut off (server stopped, network lost).
                raise http.client.IncompleteRead(b"", None)
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if line.startswith(":"):  # a comment, e.g. a keep-alive ping
                continue
            if line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
                continue
            if line == "" and data:
                payload = "\n".join(data)
                data = []
                if payload.strip() == "[DONE]":
                    return
                try:
                    obj = json.loads(payload)
                except json.JSONDecodeError:
                    raise RemoteError(
                        f"the server sent an event that is not JSON: {payload[:120]!r}",
                        "check that the URL points to an OpenAI-compatible API",
                    ) from None
                if isinstance(obj, dict):  # anything else carries nothing psmlab can use
                    yield obj

    def close(self) -> None:
        self._done.set()
        with contextlib.suppress(Exception):
            self.conn.close()

    def __enter__(self) -> Call:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _detail(body: bytes) -> str:
    """The error message inside a server's error body, in whichever shape the server uses."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return text[:200]
    if isinstance(obj, dict):
        err = obj.get("error", obj.get("detail", obj.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            return str(err)[:200]
    return text[:200]


def _connect(ep: Endpoint) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(ep.url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "", parts.port, timeout=ep.connect_timeout)
    conn.connect()
    if conn.sock is not None:
        conn.sock.settimeout(ep.timeout)
    return conn, parts.path.rstrip("/")


def request(
    ep: Endpoint,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    cancel: threading.Event | None = None,
    retries: int | None = None,
    timeout: float | None = None,
) -> Call:
    """Send one request; retry connection failures, 429 and 5xx with exponential backoff.

    A read timeout is not retried: a server that is too slow once is usually too slow again, and
    retrying would multiply the wait. The caller must close the returned `Call` (use `with`)."""
    key = ep.api_key()
    headers = {"Accept": "application/json, text/event-stream", "User-Agent": "psmlab"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    attempts = (ep.retries if retries is None else retries) + 1
    if timeout is not None:
        ep = Endpoint(ep.url, ep.api_key_env, timeout, min(ep.connect_timeout, timeout), 0)
    last, last_status = "", None
    for attempt in range(attempts):
        if cancel is not None and cancel.is_set():
            raise RemoteError(f"the request to {ep.url} was cancelled")
        wait = ep.backoff_s * 2**attempt
        try:
            conn, prefix = _connect(ep)
        except OSError as exc:  # refused, reset, unknown host, connect timeout: worth a retry
            last = f"cannot reach {ep.url}: {scrub(_reason(exc), key)}"
        else:
            call = Call(conn, cancel)  # the watcher also covers a server that never answers
            try:
                conn.request(method, prefix + path, body=payload, headers=headers)
                call.attach(conn.getresponse())
            except (OSError, http.client.HTTPException, ValueError) as exc:
                call.close()
                if call.aborted:
                    raise RemoteError(f"the request to {ep.url} was cancelled") from None
                if isinstance(exc, ssl.SSLError):  # a certificate problem does not go away
                    raise RemoteError(
                        f"TLS with {ep.url} failed: {exc.__class__.__name__}",
                        "check the server's certificate, or the url's scheme",
                    ) from None
                if isinstance(exc, ValueError):  # a header http.client refused; never quote it
                    raise RemoteError(
                        f"the request to {ep.url} could not be sent (a header was refused)",
                        "check the API key's environment variable",
                    ) from None
                if isinstance(exc, TimeoutError):
                    raise RemoteError(
                        f"{ep.url} did not answer within {ep.timeout:g} s",
                        "the server is busy or stuck; raise `timeout` for this model in the config",
                    ) from None
                last = f"cannot reach {ep.url}: {scrub(_reason(exc), key)}"
            else:
                resp = call._r()
                if resp.status < 300:
                    return call
                status = resp.status
                try:
                    detail = scrub(_detail(resp.read()), key)
                except (OSError, http.client.HTTPException):
                    detail = "(the error body broke off)"
                finally:
                    call.close()
                retry_after = resp.getheader("Retry-After")
                if 300 <= status < 400:
                    raise RemoteError(
                        f"{ep.url}{path} redirects ({status} to {resp.getheader('Location')})",
                        "use the final url in the config (e.g. https:// instead of http://)",
                        status=status,
                    )
                if status in (401, 403):
                    raise RemoteError(
                        f"{ep.url} refused the request ({status}: {detail})",
                        f"check the API key in ${ep.api_key_env}"
                        if ep.api_key_env
                        else "this server needs an API key: export PSMLAB_API_KEY for a URL "
                        "given with -m, or set api_key_env for a model in the config",
                        status=status,
                    )
                if status not in RETRY_STATUS:
                    raise RemoteError(
                        f"{ep.url}{path} answered {status}: {detail}",
                        _fix_for(status, detail),
                        status=status,
                    )
                last, last_status = f"{ep.url}{path} answered {status}: {detail}", status
                if retry_after and retry_after.strip().isdigit():
                    wait = max(wait, float(retry_after))
        if attempt + 1 < attempts:
            wait = min(wait, MAX_BACKOFF_S)
            if cancel is not None:
                if cancel.wait(wait):
                    raise RemoteError(f"the request to {ep.url} was cancelled")
            else:
                time.sleep(wait)
    tries = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
    raise RemoteError(
        f"{last} ({tries})", "start the server, or check the url in the config", status=last_status
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    return str(exc) or type(exc).__name__


# A server's "too long" (OpenAI, vLLM and llama-cpp-python's server; llama.cpp's own), with
# its context size where it says it.
_CONTEXT_SAID = re.compile(
    r"maximum context length is (\d+)|context window of (\d+)|exceeds the available context",
    re.IGNORECASE,
)


def _fix_for(status: int, detail: str = "") -> str:
    if status == 404:
        return "check the url (it usually ends in /v1) and the model name after #"
    if status in (400, 422) and (m := _CONTEXT_SAID.search(detail)):
        # psmlab trims and refuses by the context it knows: a server that does not say its
        # own leaves the config's n_ctx (4096 by default) an assumption.
        size = m.group(1) or m.group(2)
        # The prompt and the answer's max tokens together: either can be what does not fit.
        return (
            f"the server's context is {size} tokens: set n_ctx = {size} in this model's config "
            "entry (psmlab then says a prompt is too long before sending it), or shorten the "
            "prompt or lower max tokens"
            if size
            else "the prompt and answer do not fit the server's context: set n_ctx in this "
            "model's config entry to the server's, or shorten the prompt or lower max tokens"
        )
    if status in (400, 422):
        return "the server rejected a parameter; see its message"
    return "see the server's log"


def get_json(
    ep: Endpoint, path: str, *, retries: int | None = None, timeout: float | None = None
) -> Any:
    with request(ep, "GET", path, retries=retries, timeout=timeout) as call:
        return call.json()
