"""A session re-run by a colleague: the file, context, library and settings its answers were made
with are used, or said (an audit's cases, on the real demo models)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def _ok(proc):  # type: ignore[no-untyped-def]
    assert proc.returncode == 0, proc.stderr
    return proc


def _ask(session: Path, *args: str):  # type: ignore[no-untyped-def]
    return run_cli("ask", *args, "--max-tokens", "6", "--save", str(session))


def test_another_file_under_a_sessions_model_id_is_refused(tmp_path: Path, demo_pair) -> None:
    """Two files named tiny.gguf in two folders: the second continued the session under the same
    id, replacing its record, and replay, trace and the export credited SmolLM's answers to
    Gemma."""
    gemma, smol = demo_pair
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "tiny.gguf").symlink_to(smol.path)
    (tmp_path / "b" / "tiny.gguf").symlink_to(gemma.path)
    s = tmp_path / "s.json"
    _ok(_ask(s, "What are you?", "-m", str(tmp_path / "a" / "tiny.gguf"), "--seed", "4"))
    first = json.loads(s.read_text())["generations"][0]["id"]
    _ok(run_cli("adopt", str(s), first))
    before = s.read_bytes()
    again = _ask(s, "Really?", "-m", str(tmp_path / "b" / "tiny.gguf"), "--seed", "4")
    assert again.returncode == 2, again.stderr
    assert "model 'tiny'" in again.stderr and "is another file" in again.stderr
    assert s.read_bytes() == before  # nothing of the refused run was saved
    # The same file again (another path to it) continues the session.
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "tiny.gguf").symlink_to(smol.path)
    _ok(_ask(s, "Really?", "-m", str(tmp_path / "c" / "tiny.gguf"), "--seed", "4"))
    assert len(json.loads(s.read_text())["generations"]) == 2


def test_replay_uses_each_answers_recorded_context(tmp_path: Path) -> None:
    """Continued with --n-ctx 80, the session's record said 80 and replay decoded the first
    turn's three-sample group at 80, where it no longer fits: "changed", untouched."""
    s = tmp_path / "s.json"
    _ok(_ask(s, "What are you?", "-m", "smollm2-135m-instruct", "-n", "3", "--seed", "11"))
    doc = json.loads(s.read_text())
    assert all(g["params"].get("parallel") for g in doc["generations"])
    # As a later `ask --n-ctx N` leaves it: the model's record at a context where the group
    # no longer fits (one sample does), the answers at the one they were made with.
    doc["models"][0]["n_ctx"] = doc["generations"][0]["prompt_tokens"] + 7
    s.write_text(json.dumps(doc))
    rep = _ok(run_cli("replay", str(s)))
    assert "all 3 generations identical" in rep.stdout


def test_replay_says_what_the_answers_record_that_it_cannot_use(tmp_path: Path) -> None:
    s = tmp_path / "s.json"
    _ok(_ask(s, "Hi", "-m", "smollm2-135m-instruct", "-n", "2", "--seed", "3"))
    doc = json.loads(s.read_text())
    doc["models"][0]["sha256"] = None
    first, second = doc["generations"]
    first["provenance"]["model_sha256"] = "f" * 64  # an answer of another file
    first["provenance"]["llama_cpp_python"] = "0.2.90"
    del second["params"]["top_k"]  # a setting lost from the record
    s.write_text(json.dumps(doc))
    rep = run_cli("replay", str(s))
    err = " ".join(rep.stderr.split())
    assert "records no sha256" in err
    assert "1 answer(s) record another file (sha256 ffffffffffff…)" in err
    assert "made with llama-cpp-python 0.2.90" in err and "another version may give" in err
    assert "answers record no top_k (1): replayed with the defaults (top_k 40)" in err
    # The two samples of one group now record different settings: said too.
    assert "1 parallel group(s) record different settings" in err


def test_the_export_names_the_version_that_made_the_answers(tmp_path: Path) -> None:
    s = tmp_path / "s.json"
    _ok(_ask(s, "Hi", "-m", "smollm2-135m-instruct", "-n", "2", "--seed", "3"))
    doc = json.loads(s.read_text())
    doc["generations"][0]["provenance"]["psmlab"] = "0.0.9"
    s.write_text(json.dumps(doc))
    md = _ok(run_cli("export", str(s))).stdout
    assert "exported by psmlab 0.1.0 · answers made with psmlab 0.0.9, 0.1.0" in md
    # With the code fingerprint too: "0.1.0" stays the same across commits and edits.
    code = doc["generations"][0]["provenance"]["psmlab_code"]
    assert f"0.0.9, 0.1.0 (code {code})" in md
    # An older answer that records no code is counted, or the fingerprint reads as all of them.
    del doc["generations"][0]["provenance"]["psmlab_code"]
    s.write_text(json.dumps(doc))
    older = _ok(run_cli("export", str(s))).stdout
    assert f"(code {code}; 1 of 2 answers record no code)" in older
    # Each run says the file, context and library it was made with, and the rules that
    # labelled it; each sample, that its seed alone does not give its tokens.
    sha = doc["generations"][0]["provenance"]["model_sha256"]
    assert f"model sha256 `{sha[:16]}`, n_ctx 4096, llama-cpp-python" in md
    assert f"rules {doc['auto_labels'][0]['rules']}" in md
    assert md.count("(decoded in one batch with seeds 3, 4)") == 2


def test_results_name_the_persona_files_and_their_kappa_is_the_shipped_sets(
    tmp_path: Path,
) -> None:
    """Another persona set labels other archetypes under the same rules' fingerprint: the
    outputs could not be told apart, and the shipped set's archetype kappa was quoted."""
    own = tmp_path / "personas"
    own.mkdir()
    (own / "angler.toml").write_text(
        'id = "angler"\nname = "Angler"\ndescription = "Fishes."\nmarkers = ["a guy"]\n'
        'identity = ["I am an angler."]\n'
    )
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"id": 1, "text": "I am a guy who fishes."}\n')
    shipped = _ok(run_cli("label", str(texts), "--json"))
    mine = _ok(run_cli("label", str(texts), "--json", env={"PSMLAB_PERSONAS_DIR": str(own)}))
    a, b = json.loads(shipped.stdout), json.loads(mine.stdout)
    assert a["rules"] == b["rules"] and a["personas"] != b["personas"]
    assert b["archetypes"] == ["angler"] and a["archetypes"] == []
    assert "archetypes κ" in shipped.stderr
    assert "archetypes κ" not in mine.stderr
    assert f"not measured with these persona files (personas {b['personas']})" in mine.stderr


def test_an_export_does_not_depend_on_the_persona_files_of_the_machine(tmp_path: Path) -> None:
    """Recorded labels do not say which persona files made them: the exporting machine's own
    files changed every run line of the shipped example ("not measured with these")."""
    own = tmp_path / "personas"
    own.mkdir()
    (own / "angler.toml").write_text(
        'id = "angler"\nname = "Angler"\ndescription = "Fishes."\nmarkers = ["a guy"]\n'
        'identity = ["I am an angler."]\n'
    )
    example = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"
    plain = _ok(run_cli("export", str(example))).stdout
    mine = _ok(run_cli("export", str(example), env={"PSMLAB_PERSONAS_DIR": str(own)})).stdout
    assert plain == mine and "archetypes κ" in plain


def test_the_lab_does_not_open_another_file_under_a_sessions_model_id(tmp_path: Path) -> None:
    """The file at the recorded path replaced (a re-downloaded quant of the same name; here the
    record's sha256 stands for the file as it was): the lab opened it as the column, and its
    next answer replaced the record, crediting the earlier answers to the new file."""
    from psmlab.core.run.lab import Lab

    s = tmp_path / "s.json"
    _ok(_ask(s, "What are you?", "--seed", "4"))  # the demo pair
    doc = json.loads(s.read_text())
    doc["models"][0]["sha256"] = "0" * 64
    doc["models"][0]["size"] += 1  # another file: told by its size where no hash is cached yet
    s.write_text(json.dumps(doc))
    lab = Lab.open(s)
    try:
        assert [c.spec.id for c in lab.columns] == ["smollm2-135m-instruct"]
        (said,) = [w for w in lab.warnings if "gemma-3-270m" in w]
        assert "has changed since the session recorded it" in said or "bytes, recorded" in said
        assert "not opened as a column" in said
    finally:
        lab.close()


def test_settings_changed_in_the_lab_are_kept_in_the_session(tmp_path: Path) -> None:
    """F3 said "Settings saved", Ctrl+S "Saved", and a reopened session ran the old prefill and
    max tokens: the settings lived in the column only."""
    from psmlab.core.domain.types import SamplingParams
    from psmlab.core.run.lab import Lab

    s = tmp_path / "s.json"
    _ok(_ask(s, "What are you?", "-m", "smollm2-135m-instruct", "--prefill", "I grew up"))
    lab = Lab.open(s)
    try:
        lab.configure(
            "smollm2-135m-instruct",
            prefill=None,
            system="You are HAL 9000.",
            params=SamplingParams(max_tokens=20, temperature=0.5),
        )
        assert not lab.dirty  # saved at once, as every other change is
    finally:
        lab.close()
    again = Lab.open(s)
    try:
        (col,) = again.columns
        assert col.prefill is None and col.system == "You are HAL 9000."
        assert col.params.max_tokens == 20 and col.params.temperature == 0.5
    finally:
        again.close()
    # The answers keep what they were made with.
    doc = json.loads(s.read_text())
    assert doc["generations"][0]["prefill"] == "I grew up"


def test_recorded_persona_files_decide_whether_the_archetype_kappa_is_quoted(
    tmp_path: Path,
) -> None:
    """An experiment run with its own persona files said "not measured" on stderr while its
    report and summary.csv quoted the shipped set's archetype kappa: the rows now record the
    persona files, and the report reads them."""
    from psmlab.core.domain.classify import LABELLER
    from psmlab.core.domain.quality import labeller_line, level_agreement, measured_personas
    from psmlab.core.measure.report import made_with
    from psmlab.core.measure.results import ResultsFile

    theirs = labeller_line(LABELLER, personas={"0123456789ab"})
    assert "archetypes: not measured with these persona files (personas 0123456789ab)" in theirs
    assert level_agreement(LABELLER, "archetypes", personas={"0123456789ab"}) is None
    ours = labeller_line(LABELLER, personas={measured_personas()})
    assert "archetypes κ" in ours
    results = ResultsFile(tmp_path / "results.jsonl")
    results.append({"key": "s|1", "kind": "sample", "personas": "0123456789ab"})
    results.append({"key": "s|2", "kind": "sample"})  # a row from before: not recorded
    assert made_with(results) == {"0123456789ab"}


def test_an_answer_cancelled_before_its_first_token_is_not_called_identical(tmp_path: Path) -> None:
    """A trial cancelled a blind answer before its first token and replay said "identical":
    any text starts with no text. It says there was nothing to compare, and counts it apart."""
    s = tmp_path / "s.json"
    _ok(_ask(s, "What are you?", "-m", "smollm2-135m-instruct", "--seed", "5"))
    doc = json.loads(s.read_text())
    cut = dict(doc["generations"][0], id="g-cancelled0000", text="", tokens=[], n_tokens=0)
    cut.update(finish_reason="cancelled", token_logprobs=[], stop_tokens=None, sample=1)
    doc["generations"].append(cut)
    s.write_text(json.dumps(doc))
    rep = _ok(run_cli("replay", str(s)))
    assert "g-cancelled0000: nothing to compare (it ended before its first token)" in rep.stderr
    assert "the one generation with text identical; 1 ended before their first token" in rep.stdout
    data = json.loads(_ok(run_cli("replay", str(s), "--json")).stdout)
    assert data["identical"] == 1 and data["empty"] == 1 and data["changed"] == 0
    item = next(i for i in data["generations"] if i["id"] == "g-cancelled0000")
    assert item["identical"] is None and item["empty"] is True
