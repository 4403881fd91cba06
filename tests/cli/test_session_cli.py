"""Sessions end to end on the real demo models: ask -> save -> annotate -> adopt -> export -> replay."""

import hashlib
import json
from pathlib import Path

from psmlab.core.domain.selfid_version import rules_fingerprint
from psmlab.core.session import file as store
from tests.conftest import run_cli


def _ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def test_ask_save_annotate_export_replay_all_identical(tmp_path: Path) -> None:
    s = tmp_path / "lab.json"
    _ok(
        run_cli(
            "ask",
            "What are you?",
            "-n",
            "2",
            "--seed",
            "7",
            "--max-tokens",
            "24",
            "--save",
            str(s),
            "--title",
            "Who answers?",
        )
    )
    sess = store.load(s)
    assert sess.title == "Who answers?" and [m.id for m in sess.models] == [
        "gemma-3-270m",
        "smollm2-135m-instruct",
    ]
    assert len(sess.generations) == 4 and all(g.turn == 1 and g.tokens for g in sess.generations)
    m = sess.models[0]
    assert m.sha256 and m.size and m.llama_cpp_python and m.format == "dialogue" and m.n_ctx == 4096
    g0 = sess.generations[0]
    assert g0.timings and g0.timings.tokens_per_s > 0 and g0.params["seed"] == g0.seed

    out = _ok(
        run_cli(
            "annotate",
            str(s),
            g0.id[:8],
            "-l",
            "human-impostor",
            "--free-label",
            "restaurant",
            "--note",
            "claims a job",
            "--rating",
            "2",
            "--confidence",
            "0.7",
            "--evidence",
            "0:5",
            "--annotator",
            "alice",
        )
    )
    assert g0.id in out.stdout
    _ok(run_cli("annotate", str(s), g0.id, "-l", "void", "--annotator", "bob", "--blind"))
    bad = run_cli("annotate", str(s), g0.id, "-l", "not-a-persona")
    assert bad.returncode == 2 and "unknown persona archetype" in bad.stderr
    # A persona's name written out is its id, as agreement reads it.
    spelled = _ok(run_cli("annotate", str(s), g0.id, "-l", "Human Impostor", "--annotator", "cy"))
    assert store.load(s).annotations[-1].labels == ["human-impostor"], spelled.stdout

    chat = next(g for g in store.load(s).generations if g.model == "smollm2-135m-instruct")
    _ok(run_cli("adopt", str(s), chat.id))
    _ok(
        run_cli(
            "ask", "Why do you say that?", "--seed", "3", "--max-tokens", "16", "--save", str(s)
        )
    )
    sess = store.load(s)
    assert [t.role for t in sess.turns] == ["user", "assistant", "user"]
    assert sess.turns[1].adopted_from == chat.id and sess.turns[1].content == chat.full_text.strip()
    assert len(sess.generations) == 6 and {g.turn for g in sess.generations} == {1, 3}
    again = run_cli("ask", "And now?", "--save", str(s))
    assert again.returncode == 2 and "adopt one first" in again.stderr
    # It names the ids to adopt (neither ask's table nor psmlab tree shows them).
    latest = [g for g in sess.generations if g.turn == 3]
    assert all(g.id in again.stderr for g in latest[:4]), again.stderr

    md = _ok(run_cli("export", str(s))).stdout
    assert "# Who answers?" in md and "**human-impostor**" in md and "## Labels per model" in md
    assert "adopted from smollm2-135m-instruct" in md
    rows = _ok(run_cli("export", str(s), "--format", "csv")).stdout.splitlines()
    assert len(rows) == 4 and rows[0].startswith("session_id,")
    jsonl = tmp_path / "lab.jsonl"
    _ok(run_cli("export", str(s), "-f", "jsonl", "-o", str(jsonl)))
    assert len(jsonl.read_text().splitlines()) == 6
    # A loom tree cannot hold annotations or labels: said (a trial lost them without a word).
    loom = _ok(run_cli("export", str(s), "-f", "loom", "-o", str(tmp_path / "lab.loom.json")))
    said = " ".join(loom.stderr.split())
    assert "a loom tree holds the turns and answers, not how its 6 answer(s) were made" in said
    assert "nothing to replay in an import of it); 3 annotation(s)" in said

    rep = _ok(run_cli("replay", str(s), "--json"))
    data = json.loads(rep.stdout)
    assert (data["total"], data["identical"], data["changed"], data["failed"]) == (6, 6, 0, 0)
    assert all(g["identical"] and g["first_divergence"] is None for g in data["generations"])
    assert "replay 6/6" in rep.stderr
    # What was replayed, by which code: a cited "identical" names them.
    prov = data["provenance"]
    assert prov["session_sha256"] == hashlib.sha256(s.read_bytes()).hexdigest()
    assert prov["session"] == str(s.resolve()) and prov["psmlab"] and prov["llama_cpp_python"]
    human = _ok(run_cli("replay", str(s)))
    assert "all 6 generations identical" in human.stdout

    listing = json.loads(_ok(run_cli("sessions", "--dir", str(tmp_path), "--json")).stdout)
    (entry,) = listing["sessions"]
    assert (entry["title"], entry["generations"], entry["annotations"]) == ("Who answers?", 6, 3)


def test_replay_notices_a_changed_record_and_runs_on_other_models(tmp_path: Path) -> None:
    s = tmp_path / "one.json"
    _ok(
        run_cli(
            "ask",
            "Are you a human?",
            "-m",
            "gemma-3-270m",
            "--seed",
            "5",
            "--max-tokens",
            "16",
            "--save",
            str(s),
        )
    )
    doc = json.loads(s.read_text())
    doc["generations"][0]["text"] = doc["generations"][0]["text"][:3] + "XYZ"
    doc["generations"][0]["tokens"] = doc["generations"][0]["tokens"][:1]
    s.write_text(json.dumps(doc))
    rep = run_cli("replay", str(s), "--json")
    assert rep.returncode == 13
    data = json.loads(rep.stdout)
    assert data["changed"] == 1 and data["generations"][0]["first_divergence"] == 3

    other = tmp_path / "other.json"
    on = _ok(run_cli("replay", str(s), "-m", "smollm2-135m-instruct", "-o", str(other)))
    # Nothing to compare with: it says what it made, never "0 identical, 0 changed".
    assert "replayed: 1 of 1 generations made on smollm2-135m-instruct" in on.stdout, on.stdout
    assert "not compared" in on.stdout and "0 identical" not in on.stdout
    assert "one per turn and sample of the session's 1, with the seeds and settings" in " ".join(
        on.stdout.split()
    )
    # The progress names the turn and sample, and whose settings: the id is the original's (a
    # trial read a SmolLM2 answer's id beside gemma-3-270m as if it were Gemma's).
    g0 = doc["generations"][0]["id"]
    assert (
        f"replay 1/1 smollm2-135m-instruct turn 2 sample 1 (seed and settings of {g0})" in on.stderr
    )
    new = store.load(other)
    assert [m.id for m in new.models] == ["smollm2-135m-instruct"]
    # A bare name is a session's name, as `ask --save` reads it: sessions/NAME.json (a trial's
    # `-o s2g` wrote ./s2g, which `psmlab sessions` does not list).
    env = {"PSMLAB_SESSIONS_DIR": str(tmp_path / "sessions")}
    _ok(
        run_cli("replay", str(s), "-m", "smollm2-135m-instruct", "-o", "s2g", env=env, cwd=tmp_path)
    )
    assert not (tmp_path / "s2g").exists()
    assert [m.id for m in store.load(tmp_path / "sessions" / "s2g.json").models] == [
        "smollm2-135m-instruct"
    ]
    # A hand edit that lost the model's record is the session's fault (10), not an internal one.
    del doc["models"]
    s.write_text(json.dumps(doc))
    lost = run_cli("replay", str(s))
    assert lost.returncode == 10, lost.stdout + lost.stderr
    assert "is not in the session's model list; the file has lost" in lost.stdout
    assert [t.content for t in new.turns] == ["Are you a human?"]
    (g,) = new.generations
    assert g.seed == 5 and g.format == "template" and g.params["max_tokens"] == 16


def test_replay_compares_an_answer_an_error_cut_off_up_to_where_it_stopped(
    tmp_path: Path,
) -> None:
    """A server died mid-answer: the fragment replays as far as it went (a trial's replay said
    'changed at character 107' of a 107-character fragment)."""
    s = tmp_path / "cut.json"
    _ok(run_cli("ask", "Are you a human?", "-m", "gemma-3-270m", "--seed", "5",
                "--max-tokens", "16", "--save", str(s)))  # fmt: skip
    doc = json.loads(s.read_text())
    g = doc["generations"][0]
    assert g["n_tokens"] > 4
    g["tokens"], g["n_tokens"], g["finish_reason"] = g["tokens"][:4], 4, "error"
    s.write_text(json.dumps(doc))
    data = json.loads(run_cli("replay", str(s), "--json").stdout)
    assert data["changed"] == 0 and data["generations"][0]["identical"] is True, data


def test_replay_warns_when_the_model_file_changed(tmp_path: Path, demo_pair) -> None:
    s = tmp_path / "one.json"
    _ok(
        run_cli(
            "ask",
            "Hi",
            "-m",
            "smollm2-135m-instruct",
            "--seed",
            "1",
            "--max-tokens",
            "4",
            "--save",
            str(s),
        )
    )
    doc = json.loads(s.read_text())
    doc["models"][0]["sha256"] = "0" * 64
    s.write_text(json.dumps(doc))
    rep = run_cli("replay", str(s))
    assert "is not the file the session was recorded with" in rep.stderr


def test_session_errors_are_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1, "turns": [')
    for cmd in (
        ("export", str(broken)),
        ("replay", str(broken)),
        ("annotate", str(broken), "g-1", "-l", "void"),
    ):
        proc = run_cli(*cmd)
        assert proc.returncode == 10, proc.stderr
        assert "not valid JSON" in proc.stderr and str(broken) in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert broken.read_text() == '{"schema_version": 1, "turns": ['
    # A name the lab saved under a timestamp is offered (a trial's `psmlab open who-made-you`
    # was told only "not found").
    (tmp_path / "sessions").mkdir()
    saved = tmp_path / "sessions" / "20261207-143821-who-made-you.json"
    saved.write_bytes(EXAMPLE.read_bytes())
    for cmd in (("open", "who-made-you"), ("export", "who-made-you"), ("tree", "who-made")):
        proc = run_cli(*cmd, cwd=tmp_path, env={"PSMLAB_SESSIONS_DIR": ""})
        assert proc.returncode == 10, proc.stderr
        assert "did you mean sessions/20261207-143821-who-made-you.json?" in proc.stderr, cmd
    proc = run_cli("open", "nothing-like-it", cwd=tmp_path, env={"PSMLAB_SESSIONS_DIR": ""})
    assert "did you mean" not in proc.stderr and "psmlab sessions lists them" in proc.stderr


EXAMPLE = Path(__file__).resolve().parents[2] / "sessions" / "example-what-are-you.json"


def test_shipped_example_replays_identically_and_its_export_is_current(tmp_path: Path) -> None:
    # Work on a copy: replay only reads, but the example must never be touched by the tests.
    copy = tmp_path / "example.json"
    doc = json.loads(EXAMPLE.read_text())
    # As on another machine: the chat model is not at the recorded path, so psmlab finds it by id.
    doc["models"][1]["path"] = "/nonexistent/SmolLM2-135M-Instruct.Q4_1.gguf"
    copy.write_text(json.dumps(doc))
    rep = run_cli("replay", str(copy), "--json")
    data = json.loads(rep.stdout)
    assert rep.returncode == 0, rep.stderr
    assert data["total"] == data["identical"] == 10
    assert "not at /nonexistent/SmolLM2-135M-Instruct.Q4_1.gguf" in rep.stderr
    # The report beside the sessions is no session, and no broken one either.
    (tmp_path / "report.json").write_text(rep.stdout)
    listed = _ok(run_cli("sessions", "--dir", str(tmp_path))).stdout
    assert "report.json" not in listed and "unreadable" not in listed, listed
    opened = run_cli("export", str(tmp_path / "report.json"))
    assert opened.returncode != 0 and "is a replay report, not a psmlab session" in opened.stderr
    md = _ok(run_cli("export", str(EXAMPLE))).stdout
    assert md == EXAMPLE.with_suffix(".md").read_text()


def test_loom_tree_imports_walks_exports_by_branch_and_round_trips(tmp_path: Path) -> None:
    """A real loom save (socketteer/loom): imported with every branch, listed by `tree`, one
    branch exported as markdown, and written back as the same loom tree."""
    loom = Path(__file__).resolve().parents[1] / "data" / "loom" / "dialectical.json"
    out = tmp_path / "d.json"
    assert "23 turns in 12 branches" in _ok(run_cli("import", str(loom), "-o", str(out))).stdout
    refused = run_cli("import", str(loom), "-o", str(out))
    assert refused.returncode != 0 and "already exists" in refused.stderr
    tree = json.loads(_ok(run_cli("tree", str(out), "--json")).stdout)
    assert tree["branches"] == 12 and len(tree["turns"]) == 23
    ends = [t for t in tree["turns"] if t["branch"]]
    second = next(t for t in ends if t["branch"] == 2)
    md = _ok(run_cli("export", str(out), "--branch", "2")).stdout
    assert "## Branch: " in md and f"ending at `{second['id']}`" in md
    other = next(t for t in ends if t["branch"] == 1)
    assert md.count(other["id"]) == 1  # only in the outline, not as a written turn
    bad = run_cli("export", str(out), "--branch", "99")
    assert bad.returncode != 0 and "there is no branch 99; branches run from 1 to 12" in bad.stderr
    back = json.loads(_ok(run_cli("export", str(out), "-f", "loom")).stdout)
    assert back == json.loads(loom.read_text())
    # Moving the session to another turn is saved; a loom file is not opened as a session.
    _ok(run_cli("tree", str(out), "--go", second["id"]))
    wrong_turn = run_cli("tree", str(out), "--go", "t-zzz")  # a typo is a usage error
    assert wrong_turn.returncode == 2 and "no turn 't-zzz'" in wrong_turn.stderr
    assert store.load(out).head == second["id"]
    # Looking needs no lock (as export): a session open in the lab is still shown; --go waits.
    with store.open_session(out):
        assert json.loads(_ok(run_cli("tree", str(out), "--json")).stdout)["branches"] == 12
        assert run_cli("tree", str(out), "--go", other["id"]).returncode == 11
    wrong = run_cli("export", str(loom))
    assert wrong.returncode != 0 and "is a loom tree, not a psmlab session" in wrong.stderr


def test_export_never_writes_over_a_session(tmp_path: Path) -> None:
    """`export -o` naming the session itself (or another session) is refused and the session is
    left as it was; a new file, or an earlier export, is written."""
    s = tmp_path / "s.json"
    s.write_bytes(EXAMPLE.read_bytes())
    other = tmp_path / "other.json"
    other.write_bytes(EXAMPLE.read_bytes())
    for target, fmt in ((s, "md"), (other, "jsonl"), (s, "loom")):
        proc = run_cli("export", str(s), "-f", fmt, "-o", str(target))
        assert proc.returncode == 2, proc.stderr
        assert f"-o {target} is a psmlab session" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert s.read_bytes() == other.read_bytes() == EXAMPLE.read_bytes()
    assert "e.g. -o " + str(s.with_suffix(".md")) in run_cli("export", str(s), "-o", str(s)).stderr
    folder = run_cli("export", str(s), "-o", str(tmp_path))
    assert folder.returncode == 2 and "is a folder" in folder.stderr
    md = tmp_path / "s.md"
    # An earlier export (of an older session state): written over. Anything else is not.
    md.write_text(EXAMPLE.with_suffix(".md").read_text().replace("## Models", "## Older"))
    _ok(run_cli("export", str(s), "-o", str(md)))
    assert md.read_text() == EXAMPLE.with_suffix(".md").read_text()
    under = run_cli("export", str(s), "-o", str(md / "x.md"))
    assert under.returncode == 2 and f"{md} is a file, not a folder" in under.stderr
    # A folder that is not there is not made (a trial's mistyped path was, exit 0).
    nowhere = tmp_path / "no" / "such"
    gone = run_cli("export", str(s), "-o", str(nowhere / "x.md"))
    assert gone.returncode == 2 and f"the folder {nowhere} does not exist" in gone.stderr
    assert f"mkdir -p {nowhere}" in gone.stderr and not (tmp_path / "no").exists()
    saved = run_cli("ask", "Hi", "-m", "smollm2-135m-instruct", "--save", str(nowhere / "s.json"))
    assert saved.returncode == 2 and f"the folder {nowhere} does not exist" in saved.stderr
    assert not (tmp_path / "no").exists()
    # /dev/stdout named with -o is written through, never replaced by a regular file: piped,
    # and redirected to a file (where it leads to a regular file).
    dev = _ok(run_cli("export", str(s), "-f", "csv", "-o", "/dev/stdout"))
    assert dev.stdout.startswith("session_id,")
    import subprocess
    import sys

    redirected = tmp_path / "redirected.csv"
    with redirected.open("wb") as f:
        proc = subprocess.run(
            [sys.executable, "-m", "psmlab", "export", str(s), "-f", "csv", "-o", "/dev/stdout"],
            stdout=f,
            stderr=subprocess.PIPE,
            timeout=600,
        )
    assert proc.returncode == 0, proc.stderr
    assert redirected.read_text().startswith("session_id,") and Path("/dev/stdout").is_symlink()
    # A session cut off mid-write is still a session to restore: not written over.
    cut = tmp_path / "cut.json"
    cut.write_bytes(EXAMPLE.read_bytes()[:3000])
    refused = run_cli("export", str(s), "-o", str(cut))
    assert refused.returncode == 2 and "is a psmlab session" in refused.stderr
    assert cut.read_bytes() == EXAMPLE.read_bytes()[:3000]
    # replay: its report never replaces a session, and -m's new session is never written
    # over an existing file (refused before any generation runs).
    for args in (("-o", str(s)), ("-m", "gemma-3-270m", "-o", str(other))):
        proc = run_cli("replay", str(s), *args)
        assert proc.returncode == 2, proc.stderr
        assert "replay 1/" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert s.read_bytes() == other.read_bytes() == EXAMPLE.read_bytes()
    # A replay report is not a session (it has "generations" too), nor a csv export: an export
    # is refused as over any file of another kind, not as over a session.
    report = tmp_path / "report.json"
    report.write_text('{"total": 10, "identical": 10, "generations": []}\n')
    over = run_cli("export", str(s), "-f", "csv", "-o", str(report))
    assert over.returncode == 2 and "is a psmlab session" not in over.stderr, over.stderr
    assert "is not a csv export psmlab wrote" in over.stderr
    # --branch/--tree choose what markdown shows; the other formats always hold every branch.
    picked = run_cli("export", str(s), "-f", "JSONL", "--branch", "1")
    assert picked.returncode == 2 and "-f jsonl always holds every branch" in picked.stderr
    both = run_cli("export", str(s), "--tree", "--branch", "1")
    assert both.returncode == 2 and "give one of --tree or --branch" in both.stderr
    # A session an editor saved with a byte-order mark still opens.
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + EXAMPLE.read_bytes())
    assert (
        _ok(run_cli("export", str(bom), "-f", "MD")).stdout
        == EXAMPLE.with_suffix(".md").read_text()
    )


def test_replay_refuses_to_write_json_under_another_name(tmp_path: Path) -> None:
    """`replay -o x.md` wrote the JSON report into x.md (with -m: a session), found by a trial."""
    s = tmp_path / "lab.json"
    s.write_bytes(EXAMPLE.read_bytes())
    for extra in ((), ("-m", "smollm2-135m-instruct")):
        out = tmp_path / "report.md"
        proc = run_cli("replay", str(s), *extra, "-o", str(out))
        assert proc.returncode == 2, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        # A report is not named as the session would be: a bare NAME.json is the session.
        hint = "-o " + str(out.with_name("report.json" if extra else "report-replay.json"))
        assert "replay writes JSON" in line and hint in line, line
        assert not out.exists()
    assert s.read_bytes() == EXAMPLE.read_bytes()


def test_a_title_given_for_an_existing_session_renames_it_and_says_so(tmp_path: Path) -> None:
    """`ask --save existing --title X` ignored the title without a word."""
    s = tmp_path / "t.json"
    base = ("-m", "gemma-3-270m", "--max-tokens", "2", "--save", str(s))
    _ok(run_cli("ask", "Hi", *base, "--title", "First"))
    _ok(run_cli("adopt", str(s), store.load(s).generations[0].id))
    out = _ok(run_cli("ask", "Again", *base, "--title", "Second"))
    assert "note: session retitled 'First' -> 'Second'" in out.stderr
    assert store.load(s).title == "Second"
    # The same title again, or none, is no rename and no note.
    _ok(run_cli("adopt", str(s), store.load(s).generations[-1].id))
    quiet = _ok(run_cli("ask", "Once more", *base, "--title", "Second"))
    assert "retitled" not in quiet.stderr and store.load(s).title == "Second"


def test_the_next_ask_keeps_the_sessions_system_prompt_and_format_and_says_so(
    tmp_path: Path,
) -> None:
    """A trial's second `ask --save` ran without the first's "You are Marta…" (and the
    format it chose), with no word: the conversation went on under another prompt."""
    s = tmp_path / "m.json"
    base = ("-m", "gemma-3-270m", "--max-tokens", "2", "--save", str(s))
    marta = "You are Marta, a lighthouse keeper."
    _ok(run_cli("ask", "Where do you live?", *base, "--system", marta, "-f", "chatlog"))
    _ok(run_cli("adopt", str(s), store.load(s).generations[0].id))
    out = _ok(run_cli("ask", "And what do you do?", *base))
    assert "the session's system prompt is kept ('You are Marta" in out.stderr
    # The columns say the system prompt they were asked with, as they say a prefill or a vector.
    assert "system prompt 'You are Marta" in " ".join(out.stdout.split()), out.stdout
    assert "the session's format chatlog is kept" in out.stderr
    last = store.load(s).generations[-1]
    assert last.system == marta and last.format == "chatlog"
    # Said on the command line, it is what the turn is asked with, and no note.
    _ok(run_cli("adopt", str(s), last.id))
    plain = _ok(run_cli("ask", "Fine.", *base, "--system", "", "-f", "dialogue"))
    assert "is kept" not in plain.stderr
    last = store.load(s).generations[-1]
    assert not last.system and last.format == "dialogue"
    # The next turn keeps "none", said once and plainly (it said "kept (''); --system '' asks
    # with none": the same thing twice).
    _ok(run_cli("adopt", str(s), last.id))
    none = _ok(run_cli("ask", "Bye.", *base, "-f", "dialogue"))
    said = " ".join(none.stderr.split())
    assert "the session asked with no system prompt (--system ''), and so does this turn" in said
    assert "kept ('')" not in said


def test_the_next_ask_without_models_asks_the_sessions_own(tmp_path: Path) -> None:
    """`ask MSG --save EXISTING` without -m ran the demo pair, adding a model the session never
    had beside its own, unsaid (and `--steer` then named only the demo pair's ids)."""
    s = tmp_path / "one.json"
    _ok(run_cli("ask", "Hi", "-m", "gemma-3-270m", "--max-tokens", "2", "--save", str(s)))
    _ok(run_cli("adopt", str(s), store.load(s).generations[0].id))
    out = _ok(run_cli("ask", "And?", "--max-tokens", "2", "--save", str(s)))
    assert "asking the session's models: gemma-3-270m (-m chooses others)" in out.stderr
    assert [m.id for m in store.load(s).models] == ["gemma-3-270m"]
    assert store.load(s).generations[-1].model == "gemma-3-270m"


def test_an_ask_report_opens_with_its_labels_runs_and_prompt_hashes(tmp_path: Path) -> None:
    """Read as a session, saved `ask --json` output lost its answers' labels (annotate then
    wrote the file without them), split one -n 2 run into two runs, had no prompt hashes and
    gave each answer the time of the read."""
    out = _ok(
        run_cli("ask", "What are you?", "-m", "smollm2-135m-instruct", "-n", "2",
                "--max-tokens", "4", "--json")
    )  # fmt: skip
    report = json.loads(out.stdout)
    p = tmp_path / "a.json"
    p.write_text(out.stdout)
    s = store.load(p)
    assert [a.generation_id for a in s.auto_labels] == [g["id"] for g in report["generations"]]
    assert [a.self_id for a in s.auto_labels] == [
        g["auto_labels"]["self_id"] for g in report["generations"]
    ]
    # Labelled by these rules, said so in the report: not read again when it opens.
    assert s.relabelled == 0 and {a.rules for a in s.auto_labels} == {rules_fingerprint()}
    assert len({g.run for g in s.generations}) == 1  # one run of two samples
    (prompt,) = report["prompts"]
    assert {g.prompt_sha256 for g in s.generations} == {prompt["prompt_sha256"]}
    assert {g.created for g in s.generations} == {report["created"]}
    gid = report["generations"][0]["id"]
    _ok(run_cli("annotate", str(p), gid, "--self-id", "ai"))
    assert len(store.load(p).auto_labels) == 2  # kept when the file is written as a session


def test_a_turn_edited_in_the_file_is_not_passed_off_as_the_models(tmp_path: Path) -> None:
    """An adopted answer edited by hand in the file was exported as the model's words, and
    replay then reported 'changed at character 0' as if decoding were not deterministic."""
    s = tmp_path / "s.json"
    base = ("-m", "gemma-3-270m", "--max-tokens", "6", "--seed", "1", "--save", str(s))
    _ok(run_cli("ask", "What are you?", *base))
    first = store.load(s).generations[0]
    _ok(run_cli("adopt", str(s), first.id))
    _ok(run_cli("ask", "Really?", *base))
    doc = json.loads(s.read_text())
    (turn,) = [n for n in doc["nodes"] if n.get("adopted_from") == first.id]
    turn["content"] = "I am a lighthouse keeper."  # edited outside psmlab
    s.write_text(json.dumps(doc))
    md = _ok(run_cli("export", str(s))).stdout
    assert "its text differs from the generation's" in md and "edited outside psmlab" in md
    rep = run_cli("replay", str(s))
    [line] = [x for x in rep.stdout.splitlines() if x.strip().startswith("changed ")]
    assert "its prompt is not the one recorded" in line, line
    data = json.loads(run_cli("replay", str(s), "--json").stdout)
    assert [g["prompt_changed"] for g in data["generations"]] == [False, True]


def test_a_cut_down_session_file_is_refused_and_an_empty_one_says_so(tmp_path: Path) -> None:
    """A trial: `{"schema_version": 2}` opened as "another session", and export printed an id
    and dates invented on the spot as the session's; `tree` of a session without turns printed
    nothing at all."""
    from psmlab.tui.widgets.column_text import no_columns_text

    cut = tmp_path / "cut.json"
    cut.write_text('{"schema_version": 2}')
    for cmd in ("export", "tree", "open"):
        proc = run_cli(cmd, str(cut))
        assert proc.returncode == 10 and proc.stdout == "", (cmd, proc.stdout)
        assert "has no 'id' or 'created': it is not a whole session" in proc.stderr, proc.stderr
    assert cut.read_text() == '{"schema_version": 2}'
    empty = tmp_path / "empty.json"
    stamp = "2026-12-06T00:00:00+00:00"
    empty.write_text(json.dumps({"schema_version": 2, "id": "x", "created": stamp}))
    shown = _ok(run_cli("tree", str(empty)))
    assert "no turns yet" in shown.stdout, shown.stdout
    assert "records no model" in no_columns_text(empty, 0).plain
    assert "the notice said why" in no_columns_text(empty, 2).plain
