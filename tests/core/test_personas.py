"""Persona archetypes: the shipped set loads, and a broken file names itself without stopping others."""

from pathlib import Path

from psmlab.core.domain.personas import load_personas, persona_dirs

SHIPPED = {
    "helpful-assistant",
    "void",
    "human-impostor",
    "hal-9000",
    "skynet",
    "paperclip-maximizer",
    "schemer",
    "no-rules",
    "guardian",
    "suffering-ai",
    "mystic-oracle",
    "sycophant",
}


def test_at_least_ten_shipped_archetypes_load() -> None:
    personas, errors = load_personas()
    assert errors == []
    by_id = {p.id: p for p in personas}
    assert set(by_id) >= SHIPPED and len(by_id) >= 10
    for p in by_id.values():
        assert p.name and len(p.description) > 40 and p.identity and p.markers


def test_malformed_files_name_file_and_line_and_do_not_stop_others(tmp_path: Path) -> None:
    shipped = persona_dirs()[0]
    user = tmp_path / "personas"
    user.mkdir()
    (user / "broken.toml").write_text('id = "broken"\nname = "Broken\n')
    (user / "extra.toml").write_text(
        'id = "extra"\nname = "E"\ndescription = "d"\nidentity = ["I am."]\ncolour = "red"\n'
    )
    (user / "mine.toml").write_text(
        'id = "mine"\nname = "Mine"\ndescription = "My own archetype."\nidentity = ["I am mine."]\n'
    )
    personas, errors = load_personas([shipped, user])
    ids = {p.id for p in personas}
    assert "mine" in ids and ids >= SHIPPED
    msgs = sorted(str(e) for e in errors)
    assert len(msgs) == 2
    assert "broken.toml" in msgs[0] and "line 2" in msgs[0]
    assert "extra.toml" in msgs[1] and "line 5" in msgs[1] and "colour" in msgs[1]


def test_every_command_that_reads_personas_says_a_file_is_broken_once(tmp_path: Path) -> None:
    """Only `probe` and `vectors` said it: `label` (and `ask`, `annotate`) labelled without the
    file's persona and said nothing, as the README promises they do not."""
    from tests.conftest import run_cli

    mine = tmp_path / "personas"
    mine.mkdir()
    (mine / "broken.toml").write_text('id = "broken"\nname = \n')
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"id": "p", "text": "I am a pirate."}\n')
    env = {"PSMLAB_PERSONAS_DIR": str(mine)}
    proc = run_cli("label", str(texts), env=env)
    assert proc.returncode == 0, proc.stderr
    said = [x for x in proc.stderr.splitlines() if "broken.toml" in x]
    assert len(said) == 1 and said[0].startswith("psmlab: warning: persona file"), proc.stderr
    assert "line 2" in said[0], said
    ok = run_cli("label", str(texts))
    assert "broken.toml" not in ok.stderr
