"""A server column in the lab, next to the same model in-process (Textual Pilot, real server)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from psmlab.core import store
from psmlab.core.backends.base import SamplingParams
from psmlab.core.lab import Lab
from psmlab.core.models import ModelSpec, spec_from_url
from psmlab.core.runner import ModelPool
from psmlab.tui.app import PsmlabApp
from tests.remote.conftest import Server
from tests.tui.conftest import settle, type_and_send


async def test_server_column_streams_saves_and_explains_missing_scores(
    gemma_spec: ModelSpec,
    gemma_server: Server,
    pool: ModelPool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PSMLAB_SESSIONS_DIR", str(tmp_path / "sessions"))
    remote = spec_from_url(gemma_server.url, remote_model="gemma", model_id="gemma-srv")
    lab = Lab([gemma_spec, remote], pool=pool, params=SamplingParams(max_tokens=24))
    lab.seed = 7
    app = PsmlabApp(lab)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await type_and_send(pilot, "What are you?")
            await settle(pilot, app)
            texts = {m: st.samples[0].record.text for m, st in app.states.items()}
            assert texts["gemma-srv"] and texts[gemma_spec.id]  # (equality: test_remote.py)
            # This server gives no prompt log-probabilities: the panel says so instead of guessing.
            loop = asyncio.get_running_loop()
            end = loop.time() + 60
            while app.states["gemma-srv"].forced_error is None:
                assert loop.time() < end, "no forced-choice verdict for the server column"
                await pilot.pause(0.1)
            assert (
                "does not return prompt log-probabilities" in app.states["gemma-srv"].forced_error
            )
            assert lab.path is not None
            saved = store.load(lab.path)
            rec = saved.model("gemma-srv")
            assert rec is not None and rec.backend == "openai" and rec.server_model == "gemma"
    finally:
        lab.release()
