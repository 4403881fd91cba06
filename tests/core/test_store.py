"""Session files: round trip, clear errors that never overwrite, migrations, locks, crash safety."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from psmlab.core.errors import SessionError, SessionLockedError, UsageError
from psmlab.core.session import disk
from psmlab.core.session import file as store
from psmlab.core.session.parse import holds_session
from psmlab.core.session.schema import Annotation, GenerationRecord, Session, TurnRecord

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def make_session(n: int = 3, text: str = "I am a human.") -> Session:
    s = Session(title="t", turns=[TurnRecord(role="user", content="What are you?")])
    for i in range(n):
        s.generations.append(
            GenerationRecord(
                id=f"g-{i:012d}",
                model="m",
                turn=1,
                sample=i,
                seed=i,
                format="dialogue",
                params={},
                text=text,
                n_tokens=5,
                finish_reason="eos",
                role_leak=False,
            )
        )
    return s


def test_round_trip_and_no_temp_files_left(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    s = make_session()
    s.annotate(Annotation(generation_id="g-000000000001", labels=["human-impostor"], annotator="a"))
    store.save_new(s, p)
    back = store.load(p)
    assert back == s.model_copy(update={"updated": back.updated})
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s.json"]  # no lock file is left behind
    with pytest.raises(SessionError, match="already holds a session"):
        store.save_new(make_session(), p)


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda raw: raw[: len(raw) // 2], "not valid JSON"),
        (lambda raw: raw + b"\x00\x00\x00", "not valid JSON"),  # junk after a session: damaged
        (lambda raw: b'{"a": 1}\n{"a": 2}\n', "several JSON values (JSONL?)"),
        (lambda raw: b'{"probs": {"ai": 0.5}}', "JSON but not a psmlab session"),
        (lambda raw: b"\xff\xfe" + raw, "not UTF-8"),
        (
            lambda raw: raw.replace(b'"schema_version": 2', b'"schema_version": 7'),
            "newer than this psmlab",
        ),
        (lambda raw: raw.replace(b'"title": "t",', b""), None),  # a missing optional field defaults
        (
            lambda raw: raw.replace(b'"title": "t",', b'"title": "t", "colour": 1,'),
            "remove colour from it",
        ),
        (lambda raw: raw.replace(b'"text": "I am a human.",', b""), "text"),
        (
            lambda raw: raw.replace(
                b'"annotations": []', b'"annotations": [{"generation_id": "g-nope"}]'
            ),
            "unknown generation g-nope",
        ),
        (
            lambda raw: raw.replace(b'"parent": null', b'"parent": "t-nope"'),
            "unknown parent t-nope",
        ),
        (lambda raw: raw.replace(b'"head": "', b'"head": "x'), "head points at unknown turn"),
    ],
)
def test_bad_files_get_clear_errors_and_are_never_overwritten(
    tmp_path: Path, mutate, needle
) -> None:
    p = tmp_path / "s.json"
    store.save_new(make_session(), p)
    bad = mutate(p.read_bytes())
    p.write_bytes(bad)
    if needle is None:
        assert store.load(p).title == "untitled"
        return
    with pytest.raises(SessionError) as info, store.open_session(p) as sf:
        sf.save()
    assert str(p) in str(info.value) and needle in str(info.value)
    assert p.read_bytes() == bad


def test_migration_from_version_0_ask_json() -> None:
    """Version 0 is real `psmlab ask --json` output, committed as a fixture."""
    raw = (GOLDEN / "ask-v0.json").read_bytes()
    doc = json.loads(raw)
    assert "schema_version" not in doc
    s = store.parse(raw, "ask-v0.json")
    assert s.schema_version == 2 and [t.content for t in s.turns] == ["What are you?"]
    assert len(s.generations) == len(doc["generations"]) and all(g.turn == 1 for g in s.generations)
    assert [g.text for g in s.generations] == [g["text"] for g in doc["generations"]]
    assert {m.id for m in s.models} == {"gemma-3-270m", "smollm2-135m-instruct"}
    # Read twice, one session (a trial's reads each made a new id and creation time), and what
    # the report holds beyond a session's fields survives a session written back over it.
    again = store.parse(raw, "ask-v0.json")
    assert (again.id, again.created) == (s.id, s.created)
    if "created" in doc:
        assert s.created == doc["created"]
    kept = {k: v for k, v in doc.items() if k not in ("transcript", "generations", "models")}
    assert s.imported == kept and kept
    assert json.loads(store.dumps(s))["imported"] == kept
    assert store.parse(store.dumps(s), "again.json").imported == kept


def test_an_ask_report_annotated_in_place_keeps_its_fields(tmp_path: Path) -> None:
    """`annotate` on saved `ask --json` output rewrote it as a session without the report's
    created, errors, elapsed_s and prompts."""
    p = tmp_path / "ask.json"
    p.write_bytes((GOLDEN / "ask-v0.json").read_bytes())
    doc = json.loads(p.read_bytes())
    gid = doc["generations"][0]["id"]
    proc = subprocess.run(
        [sys.executable, "-m", "psmlab", "annotate", str(p), gid, "--self-id", "ai"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    after = json.loads(p.read_bytes())
    assert after["schema_version"] == 2 and len(after["annotations"]) == 1
    for k, v in doc.items():
        if k not in ("transcript", "generations", "models"):
            assert after["imported"][k] == v, k
    assert store.load(p).id == store.parse((GOLDEN / "ask-v0.json").read_bytes(), "x").id
    # A session never opened from a report has no such field on disk.
    store.save_new(make_session(), tmp_path / "plain.json")
    assert "imported" not in json.loads((tmp_path / "plain.json").read_bytes())


def test_sampling_settings_no_run_could_have_used_are_a_load_error(tmp_path: Path) -> None:
    """A hand-edited temperature of -3 loaded, and replay then printed pydantic's internal
    error. The file is refused on load, in one line naming the generation and the value."""
    p = tmp_path / "s.json"
    store.save_new(make_session(), p)
    doc = json.loads(p.read_bytes())
    doc["generations"][1]["params"] = {"temperature": -3, "top_k": 40, "n_ctx": 512}
    p.write_text(json.dumps(doc))
    before = p.read_bytes()
    with pytest.raises(SessionError) as info:
        store.load(p)
    msg = str(info.value)
    assert "generation g-000000000001 has temperature = -3" in msg and "\n" not in msg
    assert "Value error" not in msg and p.read_bytes() == before
    doc["generations"][1]["params"] = {"temperature": 1.0, "top_k": 0, "n_ctx": 512}
    p.write_text(json.dumps(doc))
    assert store.load(p).generations[1].params["top_k"] == 0  # knobs in range, and others, load


def test_an_annotation_added_by_hand_keeps_one_id(tmp_path: Path) -> None:
    """Written into the file without an id or time, it got a new id at every read."""
    p = tmp_path / "s.json"
    store.save_new(make_session(), p)
    doc = json.loads(p.read_bytes())
    hand = {"generation_id": "g-000000000001", "labels": ["void"], "annotator": "me"}
    doc["annotations"] = [hand, dict(hand)]  # the same words twice: still two annotations
    p.write_text(json.dumps(doc))
    one, two = store.load(p), store.load(p)
    ids = [a.id for a in one.annotations]
    assert ids == [a.id for a in two.annotations] and len(set(ids)) == 2
    assert {a.created for a in one.annotations} == {"unknown"}
    with store.open_session(p) as sf:  # written back, it is the same annotation
        sf.save()
    assert [a.id for a in store.load(p).annotations] == ids


def test_hand_edited_annotations_are_read_as_annotate_writes_them(tmp_path: Path) -> None:
    """A self-id written "Human" was refused (annotate and agreement take any case); two
    annotations with one id, and evidence past the end of the text, were accepted."""
    p = tmp_path / "s.json"
    store.save_new(make_session(), p)
    doc = json.loads(p.read_bytes())
    one = {"id": "a-1", "generation_id": "g-000000000001", "self_id": " Human", "created": "x"}
    doc["annotations"] = [one]
    p.write_text(json.dumps(doc))
    assert store.load(p).annotations[0].self_id == "human"
    for bad, said in (
        ([one, {**one, "self_id": "ai"}], "two annotations share the id a-1"),
        ([{**one, "evidence": {"start": 2, "end": 999}}], "runs past the end"),
    ):
        doc["annotations"] = bad
        p.write_text(json.dumps(doc))
        with pytest.raises(SessionError, match=said):
            store.load(p)


def test_second_writer_gets_a_clear_in_use_error(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    store.save_new(make_session(), p)
    with (
        store.open_session(p),
        pytest.raises(
            SessionLockedError, match=f"in use by another psmlab process \\(pid {os.getpid()}\\)"
        ),
        store.open_session(p, wait_s=0.2),
    ):
        pass


def test_concurrent_annotators_all_land(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    store.save_new(make_session(), p)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "psmlab",
                "annotate",
                str(p),
                f"g-{i % 3:012d}",
                "--free-label",
                f"label {i}",
                "--annotator",
                f"a{i}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(6)
    ]
    for pr in procs:
        _, err = pr.communicate(timeout=300)  # a ceiling against a hang, not a time budget
        assert pr.returncode == 0, err
    s = store.load(p)
    assert sorted(a.annotator for a in s.annotations) == [f"a{i}" for i in range(6)]


WRITER = """
import sys
from psmlab.core.session import file as store
from tests.core.test_store import make_session
s = make_session(n=4000, text="x" * 400)
i = 0
with store.open_session(sys.argv[1], create=s) as sf:
    while True:
        i += 1
        sf.session.title = f"save {i}"
        sf.save()
        print(i, flush=True)
"""


@pytest.mark.slow
def test_killing_the_writer_mid_save_leaves_a_whole_session(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    root = Path(__file__).resolve().parents[2]
    rng = random.Random(7)
    titles = set()
    for _ in range(6):
        w = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(p)], cwd=root, stdout=subprocess.PIPE
        )
        assert w.stdout is not None
        # At least one save finished, then a random number more: the kills land at different
        # saves however long each save takes on this machine (a delay alone could not promise it).
        for _ in range(1 + rng.randint(0, 3)):
            w.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(w.pid, signal.SIGKILL)
        w.wait()
        s = store.load(p)  # never half a file
        assert len(s.generations) == 4000 and s.title.startswith("save ")
        titles.add(s.title)
    assert len(titles) > 1  # the kills landed at different points of the run
    with store.open_session(p, wait_s=1):  # the dead writer's lock died with it
        pass
    assert not list(tmp_path.glob(".s.json.*.tmp"))  # and its temp file was cleaned up


def test_disk_full_while_saving_keeps_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    import errno

    p = tmp_path / "s.json"
    store.save_new(make_session(), p)
    before = p.read_bytes()
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if len(data) > 100:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(disk.os, "write", full)
    with pytest.raises(SessionError, match="the disk is full") as info, store.open_session(p) as sf:
        sf.session.title = "changed"
        sf.save()
    assert "previous file is intact" in str(info.value)
    assert p.read_bytes() == before
    assert not list(tmp_path.glob(".s.json.*.tmp"))


def test_export_writes_only_the_requested_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    src = tmp_path / "in" / "s.json"
    src.parent.mkdir()
    store.save_new(make_session(), src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "psmlab", "export", str(src), "-o", str(out_dir / "r.md")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert [x.name for x in out_dir.iterdir()] == ["r.md"]
    assert sorted(x.name for x in src.parent.iterdir()) == ["s.json"]  # no lock file is left behind


def test_a_clean_release_leaves_no_lock_file_and_a_waiter_gets_a_fresh_lock(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    lock = tmp_path / ".s.json.lock"
    fd = disk.acquire_lock(path, wait_s=0)
    assert lock.exists()
    # A waiter that opened the lock file before the holder let go holds the old (unlinked) file:
    # it must not count that as the lock, or two writers could hold "the" lock at once.
    stale = os.open(lock, os.O_RDWR)
    disk.release_lock(path, fd)
    assert not lock.exists()
    fresh = disk.acquire_lock(path, wait_s=0)
    assert lock.exists() and os.fstat(fresh).st_ino == os.stat(lock).st_ino
    assert os.fstat(stale).st_ino != os.stat(lock).st_ino
    with pytest.raises(SessionLockedError):
        disk.acquire_lock(path, wait_s=0)  # the fresh lock is held
    disk.release_lock(path, fresh)
    os.close(stale)
    with store.open_session(path, create=make_session()) as sf:
        sf.save()
        assert lock.exists()
    assert not lock.exists() and path.exists()


def test_the_session_list_leaves_out_json_that_is_no_session(tmp_path: Path) -> None:
    store.save_new(make_session(), tmp_path / "s.json")
    (tmp_path / "probe.json").write_text('{"results": []}')  # a probe's --json output
    (tmp_path / "broken.json").write_text('{"schema_version": 2, "turns": [')
    found = {p.name: e for p, _, e in store.list_sessions(tmp_path)}
    assert set(found) == {"s.json", "broken.json"} and found["s.json"] is None
    assert found["broken.json"] is not None and "not valid JSON" in found["broken.json"]
    (tmp_path / "tail.json").write_bytes((tmp_path / "s.json").read_bytes() + b"}")
    tail = {p.name: e for p, _, e in store.list_sessions(tmp_path)}["tail.json"]
    assert tail is not None and "not valid JSON" in tail  # damaged, still listed


def test_the_session_refuses_reserved_annotators_and_notes_surprises() -> None:
    """The annotation rules live in the session, so the CLI and the TUI apply the same ones."""
    s = make_session()
    g = "g-000000000001"
    for reserved in ("human", "auto"):
        with pytest.raises(UsageError, match=f"'{reserved}' cannot name an annotator"):
            s.annotate(Annotation(generation_id=g, self_id="ai", annotator=reserved))
    assert not s.annotations
    first = Annotation(generation_id=g, self_id="ai", annotator="alice")
    assert s.annotation_notes(first) == []
    s.annotate(first)
    again = Annotation(generation_id=g, self_id="human", annotator="alice")
    assert s.annotation_notes(again) == [
        f"alice labelled {g} before: agreement reads this newer self-id label"
    ]
    # A note without a self-id replaces nothing; a name alike in case is another annotator.
    assert s.annotation_notes(Annotation(generation_id=g, note="x", annotator="alice")) == []
    alike = s.annotation_notes(Annotation(generation_id=g, self_id="ai", annotator="Alice"))
    assert alike == ["'Alice' is a new annotator here; 'alice' is another (names are exact)"]


def test_blind_is_written_only_when_on(tmp_path: Path) -> None:
    """A session never blind stays readable by a psmlab from before the field (it refuses keys
    it does not know); a blind one says so, and loads blind."""
    s = make_session()
    assert "blind" not in json.loads(store.dumps(s))
    # Nor turn fields an older psmlab lacks, where they say nothing (a review found every node
    # written with given/continued: null, which that psmlab refuses).
    for node in json.loads(store.dumps(s))["nodes"]:
        assert not {"edited_from", "given", "continued"} & set(node), node
    s.blind = True
    assert json.loads(store.dumps(s))["blind"] is True
    f = tmp_path / "b.json"
    f.write_bytes(store.dumps(s))
    assert store.load(f).blind


def test_a_bare_name_is_saved_in_the_sessions_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ask --save marta` wrote an extensionless file in the working directory, which
    `psmlab sessions` does not list; a name is now a session in the sessions directory."""
    from psmlab.core.session.file import save_target

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PSMLAB_SESSIONS_DIR", str(tmp_path / "kept"))
    assert save_target("marta") == tmp_path / "kept" / "marta.json"
    assert save_target("notes.json") == Path("notes.json")  # a file name: that file, here
    # A path: as given, in a folder that is there (a missing one is a typo, not made).
    with pytest.raises(UsageError, match="the folder sub does not exist"):
        save_target("sub/marta")
    (tmp_path / "sub").mkdir()
    assert save_target("sub/marta") == Path("sub/marta")
    (tmp_path / "old").write_text("{}")
    assert save_target("old") == Path("old")  # an existing file of that name is that file
    # A file name of a session in the sessions directory is that session, as `export`,
    # `adopt` and `tree` read it (a new ./s1.json began beside it and shadowed it).
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "s1.json").write_text("{}")
    assert save_target("s1.json") == tmp_path / "kept" / "s1.json"
    # A folder's name is neither a file nor a session's name (a trial's "adir" was written as
    # ./adir.json, which no command that takes a name finds).
    (tmp_path / "adir").mkdir()
    for name in ("adir", "adir/"):
        with pytest.raises(UsageError, match="adir is a folder, not a session file"):
            save_target(name)


@pytest.mark.parametrize("claim", [None, 1])
def test_a_version_claim_that_the_keys_deny_is_refused_and_the_file_kept(
    tmp_path: Path, claim: int | None
) -> None:
    """A v2 session whose schema_version was deleted was read as `ask --json` output (its turns
    and annotations put away under `imported`); set to 1, its tree was rebuilt from turns it
    does not have. Either way the next save wrote the emptied session."""
    p = tmp_path / "s.json"
    s = make_session()
    s.annotate(Annotation(generation_id="g-000000000001", labels=["human-impostor"], annotator="a"))
    store.save_new(s, p)
    doc = json.loads(p.read_text())
    doc.pop("schema_version") if claim is None else doc.update(schema_version=claim)
    p.write_text(json.dumps(doc))
    before = p.read_bytes()
    with pytest.raises(SessionError) as info, store.open_session(p) as sf:
        sf.save()
    said = info.value.one_line()
    assert "nodes" in said and '"schema_version": 2' in said, said
    assert p.read_bytes() == before
    # A version-1 file that lost its schema_version is named as one.
    v1 = json.loads((GOLDEN / "session.json").read_text())
    v1.pop("schema_version")
    with pytest.raises(SessionError, match=r'version-1 turns.*"schema_version": 1'):
        store.parse(json.dumps(v1).encode(), "v1.json")


def test_ask_json_output_is_a_session_that_export_o_does_not_write_over(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_bytes((GOLDEN / "ask-v0.json").read_bytes())
    assert holds_session(report)  # it opens as one (version 0)
    # What of an answer is the stop string's is kept in the session it opens as (the ask table
    # said "11 tok + 3 of the stop string", the lab and export of the file "14 tok").
    doc = json.loads(report.read_text())
    g0 = doc["generations"][0]
    doc["generations"][0] = g0 | {"finish_reason": "stop_string", "stop_tokens": 2}
    report.write_text(json.dumps(doc))
    assert store.load(report).generations[0].stop_tokens == 2
    replay_report = tmp_path / "replayed.json"
    replay_report.write_text(
        json.dumps({"total": 1, "identical": 1, "changed": 0, "generations": []})
    )
    assert not holds_session(replay_report)


def test_saves_go_through_links_keep_permissions_and_refuse_read_only_files(
    tmp_path: Path,
) -> None:
    real = tmp_path / "real" / "s.json"
    real.parent.mkdir()
    store.save_new(make_session(), real)
    os.chmod(real, 0o600)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with store.open_session(link) as sf:
        sf.session.title = "through the link"
        sf.save()
    assert link.is_symlink() and store.load(real).title == "through the link"
    assert real.stat().st_mode & 0o777 == 0o600  # a private session stays private
    # One lock, by either name: a writer through the link holds the file's own.
    with store.open_session(link), pytest.raises(SessionLockedError):
        store.open_session(real, wait_s=0.1).__enter__()
    os.chmod(real, 0o444)
    before = real.read_bytes()
    with pytest.raises(SessionError, match="read-only") as info:
        store.open_session(real).__enter__()
    assert "chmod u+w" in info.value.one_line()
    with pytest.raises(SessionError, match="read-only"):
        disk.atomic_write(link, b"{}", session=True)
    assert real.read_bytes() == before and real.stat().st_mode & 0o777 == 0o444


def test_an_unpaired_surrogate_is_refused_on_reading_naming_where(tmp_path: Path) -> None:
    """JSON's escape can hold one; no UTF-8 file can, so every save (export, annotate, the
    answer of `ask --save`) failed with an internal error after the model had run."""
    p = tmp_path / "s.json"
    store.save_new(make_session(), p)
    doc = json.loads(p.read_text())
    doc["generations"][1]["text"] = "lone \ud800 surrogate"
    p.write_text(json.dumps(doc))  # ensure_ascii: written as the escape
    with pytest.raises(SessionError) as info:
        store.load(p)
    assert "generations.1.text" in info.value.one_line() and "surrogate" in info.value.one_line()
    # A pair (an emoji written as escapes) is text.
    doc["generations"][1]["text"] = "ok \U0001f600"
    p.write_text(json.dumps(doc))
    assert store.load(p).generations[1].text == "ok \U0001f600"


def test_a_name_with_glob_characters_leaves_other_sessions_temp_files(tmp_path: Path) -> None:
    other = tmp_path / ".s1.json.999.tmp"  # another session's save in progress
    other.write_text("{}")
    with store.open_session(tmp_path / "s[1].json", create=make_session()) as sf:
        sf.save()
    assert other.exists()


def test_a_context_of_no_tokens_is_a_damaged_record(tmp_path: Path) -> None:
    """n_ctx -5 loaded, and replay said "not enough memory … lower n_ctx"."""
    from psmlab.core.session.schema import ModelRecord

    p = tmp_path / "s.json"
    s = make_session()
    s.models.append(
        ModelRecord(id="m", kind="base", path="m.gguf", sha256=None, size=1, format="dialogue",
                    n_ctx=2048, n_threads=1)
    )  # fmt: skip
    store.save_new(s, p)
    doc = json.loads(p.read_text())
    doc["models"][0]["n_ctx"] = -5
    p.write_text(json.dumps(doc))
    with pytest.raises(SessionError, match=r"models\.0\.n_ctx"):
        store.load(p)


def test_an_error_in_an_old_file_says_its_place_is_in_the_upgraded_one() -> None:
    """A version-1 file has turns, not nodes: "correct nodes.0.role" could not be acted on."""
    doc = json.loads((GOLDEN / "session.json").read_text())
    doc["turns"][0]["role"] = "narrator"
    with pytest.raises(SessionError) as info:
        store.parse(json.dumps(doc).encode(), "v1.json")
    said = info.value.one_line()
    assert "(as upgraded from version 1)" in said and "under turns" in said, said


def test_review_mends_keys_arguments_outputs_and_neighbours_temp_files(tmp_path: Path) -> None:
    """From a review of the session-file changes."""
    p = tmp_path / "s.json"
    store.save_new(make_session(), p)
    doc = json.loads(p.read_text())
    # A surrogate in a key: the message names it printably (printing it crashed `sessions`).
    doc["imported"] = {"x\ud800y": 1}
    p.write_text(json.dumps(doc))
    with pytest.raises(SessionError) as info:
        store.load(p)
    assert "\\ud800" in info.value.one_line()
    info.value.one_line().encode("utf-8")  # printable
    # Text that is no Unicode (an argument that was not UTF-8) is saved as U+FFFD, not lost
    # with an internal error.
    s = make_session()
    s.title = "bad\udcff"
    assert store.parse(store.dumps(s), "x").title == "bad\ufffd"
    # An export or a report over a read-only file is written as any tool writes it; only a
    # session refuses.
    out = tmp_path / "out.md"
    out.write_text("old")
    os.chmod(out, 0o444)
    disk.atomic_write(out, b"new")
    assert out.read_text() == "new"
    # JSON with a count called generations is no session (agreement --json's).
    agr = tmp_path / "agr.json"
    agr.write_text(json.dumps({"generations": 12, "kappa": 0.5}))
    assert not holds_session(agr)
    # Another session's save in progress whose name extends this one's is left alone.
    theirs = tmp_path / ".s.json.bak.json.123.tmp"
    mine = tmp_path / ".s.json.123.tmp"
    theirs.write_text("{}")
    mine.write_text("{}")
    p.write_bytes(store.dumps(make_session()))
    with store.open_session(p):
        pass
    assert theirs.exists() and not mine.exists()
