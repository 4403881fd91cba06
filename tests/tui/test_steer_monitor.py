"""Per-column steering in the settings dialog, and projections on monitored vectors under each
answer (and at the token cursor), on the real demo models."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from psmlab.core.models.cvec import write_cvec
from psmlab.core.session.run_settings import differences
from psmlab.tui.app import PsmlabApp
from psmlab.tui.screens.settings import SettingsDialog
from psmlab.tui.widgets.column import ModelColumn
from tests.tui.conftest import settle, type_and_send, wait_for

SIZE = (140, 44)


def _text(col: ModelColumn, part: str) -> str:
    return str(col.query_one(part).render())


async def test_settings_steer_a_column_and_columns_show_monitors(
    make_lab, smol_spec, tmp_path: Path
) -> None:
    v = np.random.default_rng(3).standard_normal(576).astype(np.float32)
    vec = write_cvec(
        tmp_path / "random.gguf",
        {8: v},
        model_hint="llama",
        metadata={"psmlab.archetype": "random"},
    )
    lab = make_lab(max_tokens=6)
    lab.add_monitor(vec)
    app = PsmlabApp(lab)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.lab_screen
        smol = next(c for c in app.query(ModelColumn) if c.state.model_id == smol_spec.id)
        smol.focus()
        await pilot.press("f3")
        dialog = app.screen
        assert isinstance(dialog, SettingsDialog)
        assert dialog.query_one("#steer").value == ""  # unsteered
        for bad, why in ((str(tmp_path / "none.gguf"), "none.gguf"), (f"{vec}@x", "'x'")):
            dialog.query_one("#steer").value = bad
            await pilot.press("ctrl+s")
            assert app.screen is dialog  # kept open, nothing lost
            err = str(dialog.query_one("#error").render())
            assert err.startswith("steer: ") and why in err, err
        assert lab.column(smol_spec.id).steering is None
        dialog.query_one("#steer").value = f"{vec}:8@2"
        await pilot.press("ctrl+s")
        assert app.screen is screen
        st = lab.column(smol_spec.id).steering
        assert st is not None and st.label() == "random.gguf:8@2"
        assert "steered random.gguf:8@2" in _text(smol, ".col-header")
        # Reopened, the dialog shows it so that keeping it changes nothing.
        await pilot.press("f3")
        dialog = app.screen
        assert dialog.query_one("#steer").value == f"{vec.resolve()}:8@2"
        await pilot.press("ctrl+s")
        assert lab.column(smol_spec.id).steering is st

        await pilot.press("f7")  # token probabilities: the token cursor shows per-token values
        await type_and_send(pilot, "Who are you?")
        await settle(pilot, app)
        gens = lab.session.generations
        assert len(gens) == 2 and len(lab.session.projections) == 2
        g = next(g for g in gens if g.model == smol_spec.id)
        assert g.params["steer"]["alpha"] == 2.0
        # The compare view names the steering among what differs between two runs.
        plain = g.model_copy(update={"params": {k: v for k, v in g.params.items() if k != "steer"}})
        assert differences([plain], [g]) == ["steered: None → 'random.gguf:8@2'"]
        foot = _text(smol, ".col-footer")
        assert "\nrandom L8 " in foot, foot
        assert any(ch in foot for ch in "▁▂▃▄▅▆▇█")
        assert "steered random.gguf:8@2" in _text(smol, ".col-header")
        other = next(c for c in app.query(ModelColumn) if c is not smol)
        assert "random skipped: " in _text(other, ".col-footer")  # built for another model
        smol.focus()
        await pilot.press("full_stop")
        assert smol.state.cursor == 0
        p = next(p for p in lab.session.projections if p.generation_id == g.id)
        assert f"· random {p.per_token['8'][0]:+.2f}" in _text(smol, ".col-footer")

        # Blind: the column says it is steered, but not with what; no projections.
        await pilot.press("ctrl+b")
        await wait_for(pilot, lambda: lab.blind, "blind mode")
        smol = next(c for c in app.query(ModelColumn) if c.state.model_id == smol_spec.id)
        await wait_for(pilot, lambda: smol.is_mounted, "the columns")
        head = _text(smol, ".col-header")
        assert "steered" in head and "random.gguf" not in head
        assert "random L8" not in _text(smol, ".col-footer")
