"""Real OpenAI-compatible servers for the remote-backend tests: llama-cpp-python's own server
(`python -m llama_cpp.server`) on 127.0.0.1 with the demo models, plus a fault-injecting proxy
that sits in front of a real server to produce 429/503, silence and concurrency counts."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from psmlab.core.models.spec import ModelSpec

SMOL_KEY = "psk-test-3f9a1c7e5b2d"  # the key the smol server demands; must never reach a file


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One `python -m llama_cpp.server` process."""

    proc: subprocess.Popen[bytes]
    port: int
    alias: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def wait_idle(self, api_key: str | None = None) -> None:
        """Return once the server has answered a one-token completion: work an earlier test
        left running is done, so a short client timeout measures only the request it is for."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        body = json.dumps({"prompt": "Hi", "max_tokens": 1})
        conn.request("POST", "/v1/completions", body=body, headers=headers)
        conn.getresponse().read()
        conn.close()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def start_server(
    model: str,
    alias: str,
    log: Path,
    *,
    api_key: str | None = None,
    logits_all: bool = True,
    interrupt: bool = False,
    port: int | None = None,
) -> Server:
    port = port or free_port()
    cmd = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", model, "--model_alias", alias,
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "1", "--verbose", "false",
        "--logits_all", "true" if logits_all else "false",
        # Concurrent requests wait for each other instead of cutting the running stream short.
        "--interrupt_requests", "true" if interrupt else "false",
    ]  # fmt: skip
    if api_key:
        cmd += ["--api_key", api_key]
    fh = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(proc, port, alias, log)
    deadline = time.monotonic() + 300  # a ceiling against a hang: the loop ends when it answers
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {api_key or ''}"})
            if conn.getresponse().status == 200:
                conn.close()
                # FastAPI builds its schema on the first ask: asked once here, with no short
                # limit, so psmlab's best-effort 10 s look for the server's version (which the
                # tests check) never meets that first, slow build on a slow machine.
                warm = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
                warm.request("GET", "/openapi.json")
                warm.getresponse().read()
                warm.close()
                return server
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    server.stop(signal.SIGKILL)
    raise RuntimeError(f"llama_cpp.server did not become ready: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def smol_server(smol_spec: ModelSpec, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """SmolLM2 behind an API key, with prompt log-probabilities (logits_all)."""
    log = tmp_path_factory.mktemp("srv") / "smol.log"
    s = start_server(smol_spec.path, "smol", log, api_key=SMOL_KEY)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def gemma_server(
    gemma_spec: ModelSpec, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Gemma without a key and without prompt log-probabilities (logits_all false)."""
    log = tmp_path_factory.mktemp("srv") / "gemma.log"
    s = start_server(gemma_spec.path, "gemma", log, logits_all=False)
    yield s
    s.stop()


@dataclass
class FaultProxy:
    """Forwards to a real server, except for scripted faults: '503', '429', 'hang'."""

    upstream: int
    script: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    busy: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of completions
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    # A 'hang' holds its request until stop(): a test can check the client gave up while the
    # server still had not answered, an event rather than a time budget.
    released: threading.Event = field(default_factory=threading.Event)
    hung: int = 0  # requests being held now
    # Completions are held until `wait_for` is set (another proxy's `arrived`): two proxies
    # given each other's hold their first completions until both have one, so a test of two
    # servers working at once sees them overlap on any machine, not by the luck of timing.
    arrived: threading.Event = field(default_factory=threading.Event)
    wait_for: threading.Event | None = None
    _srv: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> FaultProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                with proxy.lock:
                    proxy.requests.append(self.path)
                    action = (
                        proxy.script.pop(0) if proxy.script and "completions" in self.path else ""
                    )
                if action in ("503", "429"):
                    data = b'{"error": {"message": "injected fault"}}'
                    self.send_response(int(action))
                    if action == "429":
                        self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if action == "hang":
                    with proxy.lock:
                        proxy.hung += 1
                    proxy.released.wait(300)
                    with proxy.lock:
                        proxy.hung -= 1
                    return
                start = time.monotonic()
                counted = "completions" in self.path
                if counted:
                    with proxy.lock:
                        proxy.in_flight += 1
                        proxy.max_in_flight = max(proxy.max_in_flight, proxy.in_flight)
                    proxy.arrived.set()
                    if proxy.wait_for is not None:
                        proxy.wait_for.wait(300)  # a ceiling for a hung test, not a budget
                try:
                    up = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=300)
                    headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    up.request(self.command, self.path, body=body, headers=headers)
                    resp = up.getresponse()
                    data = resp.read()
                    up.close()
                finally:
                    # Counted down before the client gets the answer, so the client's next
                    # request can never overlap this one in the count.
                    if counted:
                        with proxy.lock:
                            proxy.in_flight -= 1
                            proxy.busy.append((start, time.monotonic()))
                self.send_response(resp.status)
                ctype = resp.getheader("Content-Type") or "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _handle
            do_POST = _handle

        self._srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._srv.daemon_threads = True
        self.port = self._srv.server_address[1]
        threading.Thread(target=self._srv.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()


def write_config(path: Path, tables: dict[str, dict[str, object]]) -> Path:
    """A psmlab config file with `[models.NAME]` tables."""
    lines = []
    for name, fields in tables.items():
        lines.append(f"[models.{name}]")
        for k, v in fields.items():
            lines.append(f"{k} = {json.dumps(v)}" if isinstance(v, str) else f"{k} = {v}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
