"""Request slots per server URL: a bound on concurrent requests, shared by generation and scoring."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class EndpointSlot:
    """The request slots of one server URL, shared by every model and column that talks to it.

    Generations wait their turn (and give up on a cancel); scoring gives way to any generation
    that is waiting, so the lab's many short forced-choice requests never hold up an answer."""

    def __init__(self, url: str, concurrency: int) -> None:
        self.url = url
        self.concurrency = max(1, concurrency)
        self._sem = threading.BoundedSemaphore(self.concurrency)
        self._lock = threading.Lock()
        self._waiting = 0  # generations waiting for a slot

    @property
    def waiting(self) -> int:
        with self._lock:
            return self._waiting

    def acquire(self, cancel: threading.Event | None = None) -> bool:
        """Wait for a free slot for a generation, but not past a cancel (then False)."""
        with self._lock:
            self._waiting += 1
        try:
            while not self._sem.acquire(timeout=0.1):
                if cancel is not None and cancel.is_set():
                    return False
            return True
        finally:
            with self._lock:
                self._waiting -= 1

    def release(self) -> None:
        self._sem.release()

    @contextlib.contextmanager
    def for_scoring(self) -> Iterator[None]:
        """Hold a slot for one scoring request, taken only while no generation is waiting."""
        while True:
            if not self.waiting and self._sem.acquire(timeout=0.05):
                break
            time.sleep(0.02)
        try:
            yield
        finally:
            self.release()


class EndpointSlots:
    """One `EndpointSlot` per server URL; the first model seen for a URL sets its concurrency."""

    def __init__(self) -> None:
        self._slots: dict[str, EndpointSlot] = {}
        self._lock = threading.Lock()

    def get(self, url: str, concurrency: int) -> EndpointSlot:
        with self._lock:
            slot = self._slots.get(url)
            if slot is None:
                slot = self._slots[url] = EndpointSlot(url, concurrency)
            return slot


# Concurrency is per server, not per pool: every pool and every backend built outside a pool
# share these unless given their own.
SHARED = EndpointSlots()
