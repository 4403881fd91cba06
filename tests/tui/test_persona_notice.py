"""The lab says a persona file is broken (its labels are made without that persona)."""

from __future__ import annotations

from pathlib import Path

from psmlab.tui.app import PsmlabApp
from tests.tui.conftest import notices, wait_for


async def test_a_broken_persona_file_is_said_in_the_lab(
    make_lab, tmp_path: Path, monkeypatch
) -> None:
    mine = tmp_path / "personas"
    mine.mkdir()
    (mine / "broken.toml").write_text('id = "broken"\nname = \n')
    monkeypatch.setenv("PSMLAB_PERSONAS_DIR", str(mine))
    app = PsmlabApp(make_lab())
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(
            pilot, lambda: any("broken.toml" in n for n in notices(app)), "the persona notice"
        )
        (said,) = [n for n in notices(app) if "broken.toml" in n]
        assert said.startswith("persona file") and "line 2" in said, said
