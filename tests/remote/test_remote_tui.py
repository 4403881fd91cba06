"""A server column in the lab, next to the same model in-process (Textual Pilot, real server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from psmlab.core.backends.pool import ModelPool
from psmlab.core.domain.types import SamplingParams
from psmlab.core.models.registry import spec_from_url
from psmlab.core.models.spec import ModelSpec
from psmlab.core.run.lab import Lab
from psmlab.core.session import file as store
from psmlab.tui.app import PsmlabApp
from tests.remote.conftest import Server
from tests.tui.conftest import settle, type_and_send, wait_for


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
            screen = app.lab_screen
            texts = {m: st.samples[0].record.text for m, st in screen.states.items()}
            assert texts["gemma-srv"] and texts[gemma_spec.id]  # (equality: test_remote.py)
            # This server gives no prompt log-probabilities: the panel says so instead of guessing.
            srv = screen.states["gemma-srv"]
            await wait_for(
                pilot,
                lambda: srv.forced is not None or srv.forced_error is not None,
                "a forced-choice verdict for the server column",
            )
            assert srv.forced_error is not None
            assert "does not return prompt log-probabilities" in srv.forced_error
            assert lab.path is not None
            saved = store.load(lab.path)
            rec = saved.model("gemma-srv")
            assert rec is not None and rec.backend == "openai" and rec.server_model == "gemma"
    finally:
        lab.release()
