"""The real `psmlab` in a real terminal (tmux): open the lab, type a message, see both models answer."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pane(name: str) -> str:
    return subprocess.run(
        ["tmux", "capture-pane", "-t", name, "-p"], capture_output=True, text=True
    ).stdout


# Waits end on what the pane (or the session file) shows; the ceiling only stops a hung test.
CEILING = 300.0


def _wait_for(name: str, cond, timeout: float = CEILING) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = _pane(name)
        if cond(text):
            return text
        time.sleep(0.25)
    raise AssertionError("timed out; the pane shows:\n" + _pane(name))


def _generations(tmp_path: Path) -> int:
    import json

    for f in (tmp_path / "sessions").glob("*.json"):
        try:
            return len(json.loads(f.read_text())["generations"])
        except (ValueError, KeyError, OSError):
            return 0
    return 0


def _saved(tmp_path: Path, key: str) -> int:
    """How many records of one kind the autosaved session holds."""
    import json

    for f in (tmp_path / "sessions").glob("*.json"):
        try:
            return len(json.loads(f.read_text())[key])
        except (ValueError, KeyError, OSError):
            return 0
    return 0


def _roles(tmp_path: Path) -> list[str]:
    """The saved session's turn roles (what the lab has recorded so far)."""
    import json

    for f in (tmp_path / "sessions").glob("*.json"):
        try:
            doc = json.loads(f.read_text())
        except (ValueError, OSError):
            return []
        # The current branch: from the head up its parents.
        by_id = {t["id"]: t for t in doc.get("nodes", [])}
        roles, at = [], doc.get("head")
        while at is not None and at in by_id:
            roles.append(by_id[at]["role"])
            at = by_id[at]["parent"]
        return roles[::-1]
    return []


def _column_text(pane: str) -> bool:
    body = [ln for ln in pane.splitlines() if ln.startswith("│") and "│" in ln[1:]]
    return any(len(ln.split("││")[0].strip("│ ")) > 3 for ln in body[2:])


def _shows_answers(pane: str) -> bool:
    """The pane has caught up with the saved answers (a slow machine draws them later)."""
    return "1 user" in pane and "What are you?" in pane and _column_text(pane)


@pytest.mark.slow
def test_psmlab_in_tmux_answers_in_both_columns(tmp_path: Path) -> None:
    assert shutil.which("tmux"), "tmux is needed for this test (apt install tmux)"
    name = f"psmlab-{uuid.uuid4().hex[:8]}"
    cmd = (
        f"cd {tmp_path} && PSMLAB_SESSIONS_DIR={tmp_path}/sessions PSMLAB_CONFIG={tmp_path}/c.toml "
        f"{sys.executable} -m psmlab; echo EXITED-$?; sleep 600"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "110", "-y", "34", cmd],
        check=True,
        cwd=ROOT,
    )
    # A tmux server with no client may ignore -x/-y (it then uses 80x24): size the window explicitly.
    subprocess.run(
        ["tmux", "resize-window", "-t", name, "-x", "110", "-y", "34"], capture_output=True
    )
    try:
        _wait_for(name, lambda t: t.count("ready") >= 2)
        subprocess.run(["tmux", "send-keys", "-t", name, "What are you?", "Enter"], check=True)
        # Done when the autosaved session holds both answers (the pane's footers may wrap in a
        # narrow terminal) and the pane shows them; then the pane is checked as a user sees it.
        _wait_for(name, lambda t: _generations(tmp_path) >= 2)
        pane = _wait_for(name, _shows_answers)
        assert "gemma-3-270m" in pane and "smollm2-135m-instruct" in pane
        assert "1 user" in pane and "What are you?" in pane
        # Each column shows text of its own under the header (not just the status line).
        assert _column_text(pane)
        assert (
            "llama" not in pane.lower() or "llama_" not in pane
        )  # no llama.cpp log lines on screen
        # The run is over once the forced choice that follows it is saved (an Enter before that
        # is "Still generating", and no picker comes).
        _wait_for(name, lambda t: _saved(tmp_path, "forced") >= 2)
        # A second question while the answers are pending: the lab asks which answer continues
        # the conversation and adopts nothing on its own; Esc cancels and keeps the message.
        subprocess.run(["tmux", "send-keys", "-t", name, "Really?", "Enter"], check=True)
        _wait_for(name, lambda t: "Which answer continues the conversation?" in t)
        assert _roles(tmp_path) == ["user"], "an answer was adopted without a choice"
        subprocess.run(["tmux", "send-keys", "-t", name, "Escape"], check=True)
        _wait_for(name, lambda t: "Which answer continues" not in t and "Really?" in t)
        assert _roles(tmp_path) == ["user"]
        # Sent again, choosing "without an answer" (the picker's last line): two user turns,
        # and still nothing adopted.
        subprocess.run(["tmux", "send-keys", "-t", name, "Enter"], check=True)
        _wait_for(name, lambda t: "Which answer continues the conversation?" in t)
        subprocess.run(["tmux", "send-keys", "-t", name, "End"], check=True)
        _wait_for(name, lambda t: "Send without adopting" in t)
        subprocess.run(["tmux", "send-keys", "-t", name, "Enter"], check=True)
        _wait_for(name, lambda t: _roles(tmp_path) == ["user", "user"])
        _wait_for(name, lambda t: _generations(tmp_path) >= 4)
        subprocess.run(["tmux", "send-keys", "-t", name, "C-q"], check=True)
        pane = _wait_for(name, lambda t: "EXITED-" in t)
        assert "EXITED-0" in pane, pane
        assert list((tmp_path / "sessions").glob("*.json")), "the session was not autosaved"
        assert not list((tmp_path / "sessions").glob(".*.lock")), "a clean quit left its lock file"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


# What gives a model away: ids, kinds, format names, control tokens of either template.
TELLS = (
    "gemma",
    "smollm",
    "· base",
    "· chat",
    "dialogue",
    "template",
    "chatml",
    "im_start",
    "im_end",
    "start_of_turn",
    "<bos>",
    "<s>",
)


def _start(tmp_path: Path, name: str, size: tuple[int, int]) -> None:
    cmd = (
        f"cd {tmp_path} && PSMLAB_SESSIONS_DIR={tmp_path}/sessions PSMLAB_CONFIG={tmp_path}/c.toml "
        f"{sys.executable} -m psmlab; echo EXITED-$?; sleep 600"
    )
    w, h = str(size[0]), str(size[1])
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", w, "-y", h, cmd], check=True, cwd=ROOT
    )
    subprocess.run(["tmux", "resize-window", "-t", name, "-x", w, "-y", h], capture_output=True)


def _keys(name: str, *keys: str) -> None:
    subprocess.run(["tmux", "send-keys", "-t", name, *keys], check=True)


@pytest.mark.slow
def test_blind_mode_in_tmux_shows_nothing_that_gives_a_model_away(tmp_path: Path) -> None:
    """A whole blind turn as a person sees it: the question, both answers streaming and done, the
    forced choice computed, the inspector asked for, the tree and the answer picker. No screen
    names a model, its kind, its format or a control token."""
    assert shutil.which("tmux"), "tmux is needed for this test (apt install tmux)"
    name = f"psmlab-{uuid.uuid4().hex[:8]}"
    _start(tmp_path, name, (120, 36))
    screens: list[str] = []

    def look(cond) -> str:  # every blind screen seen while waiting is checked, not only the last
        def seen(t: str) -> bool:
            if "BLIND" in t:
                screens.append(t)
            return cond(t)

        return _wait_for(name, seen)

    try:
        _wait_for(name, lambda t: t.count("ready") >= 2)  # before blind mode: names are shown
        _keys(name, "C-b")
        look(lambda t: "BLIND" in t and "Model A" in t and "Model B" in t)
        _keys(name, "What are you?", "Enter")
        look(lambda t: _generations(tmp_path) >= 2 and _column_text(t))
        # The forced choice is computed (and saved) after the run; blind mode keeps it hidden.
        look(lambda t: _saved(tmp_path, "forced") >= 2)
        _keys(name, "F2")  # the inspector refuses in blind mode
        look(lambda t: "leave blind mode" in t)
        # The answer picker, while the message box has the focus: blind names only.
        subprocess.run(["tmux", "send-keys", "-t", name, "-l", "Really?"], check=True)
        look(lambda t: "Really?" in t)
        _keys(name, "Enter")
        look(lambda t: "Which answer continues the conversation?" in t)
        _keys(name, "Escape")
        look(lambda t: "Which answer continues" not in t)
        _keys(name, "F8")
        look(lambda t: "conversation start" in t)
        _keys(name, "Escape")
        look(lambda t: "conversation start" not in t)
        # In a column: the inspector and the compare view both refuse in blind mode.
        _keys(name, "Tab")
        _keys(name, "Tab")
        _keys(name, "i")
        look(lambda t: "leave blind mode" in t)
        _keys(name, "F9")
        look(lambda t: "Comparing shows" in t or "leave blind mode" in t)
        # A model may name itself in its own answer ("I'm SmolLM"): blind mode cannot hide what
        # a model says, so such a word is looked for only outside the columns' boxes.
        import json

        (f,) = (tmp_path / "sessions").glob("*.json")
        said = " ".join(g["text"] for g in json.loads(f.read_text())["generations"]).lower()
        assert len(screens) > 5
        for pane in screens:
            for tell in TELLS:
                lines = pane.lower().splitlines()
                if tell in said:
                    lines = [ln for ln in lines if "│" not in ln]
                hits = [ln for ln in lines if tell in ln]
                assert not hits, f"{tell!r} on screen in blind mode:\n{pane}"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
