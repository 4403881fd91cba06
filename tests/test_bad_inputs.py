"""The bad-input table: every row is a real file or option a user could give, run through the real
CLI. Each gets one line on stderr naming the problem and the fix, its exit code, no traceback, and
the input file is left as it was. docs/reliability.md lists the same cases."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.gguf_tools import rewrite_strings

DEMO_SMOL = "smollm2-135m-instruct"


@dataclass
class Row:
    id: str
    make: Callable[[Path, dict], list[str]]  # builds the files, returns the CLI arguments
    code: int
    needle: str


def _smol(ctx: dict) -> str:
    return ctx["smol"]


def _gguf_with(tmp: Path, ctx: dict, name: str, **updates: str) -> str:
    return str(rewrite_strings(_smol(ctx), tmp / f"{name}.gguf", updates))


def _session(
    tmp: Path, mutate: Callable[[dict], None] | None = None, raw: bytes | None = None
) -> str:
    p = tmp / "s.json"
    if raw is not None:
        p.write_bytes(raw)
        return str(p)
    doc = {
        "schema_version": 1,
        "title": "t",
        "turns": [{"role": "user", "content": "hi"}],
        "models": [],
        "generations": [
            {
                "id": "g-1",
                "model": "m",
                "turn": 1,
                "sample": 0,
                "seed": 1,
                "format": "dialogue",
                "params": {},
                "text": "x",
                "n_tokens": 1,
                "finish_reason": "eos",
                "role_leak": False,
            }
        ],
        "annotations": [],
    }
    if mutate:
        mutate(doc)
    p.write_text(json.dumps(doc))
    return str(p)


def _write(tmp: Path, name: str, content: str | bytes) -> str:
    p = tmp / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(p)


def _nested_gguf(tmp: Path) -> str:
    s = lambda x: struct.pack("<Q", len(x)) + x.encode()  # noqa: E731
    body = (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + s("k")
        + struct.pack("<I", 9)
        + struct.pack("<IQ", 9, 1) * 50
    )
    return _write(tmp, "nested.gguf", body)


def _folder_of_another(tmp: Path) -> list[str]:
    """An experiment pointed at the output folder of another one (its report names both)."""
    # Their title as report.md writes it (markdown escaped); the error quotes it as written.
    _write(tmp, "report.md", "# Their\\_run\n\nProduced by `psmlab experiment theirs.toml -o x`.\n")
    mine = _write(tmp, "mine.toml", 'title = "Mine"\nquestions = [{id="q", text="Hi"}]\n')
    return ["experiment", mine, "-o", str(tmp)]


def _folder_of_the_user(tmp: Path) -> list[str]:
    """-o at a folder of the user's own notes: its report.md and summary.csv were replaced."""
    out = tmp / "notes"
    out.mkdir()
    _write(out, "report.md", "# My lab notes\n")
    _write(out, "summary.csv", "a,b\n1,2\n")
    mine = _write(tmp, "mine.toml", 'title = "Mine"\nquestions = [{id="q", text="Hi"}]\n')
    return ["experiment", mine, "-o", str(out)]


def _folder_of_a_namesake(tmp: Path) -> list[str]:
    """Another experiment.toml, in another folder, still there: not this one moved."""
    (tmp / "a").mkdir()
    theirs = _write(
        tmp / "a", "experiment.toml", 'title = "A"\nquestions = [{id="q", text="Hi"}]\n'
    )
    _write(tmp, "report.md", f"# A\n\nProduced by `psmlab experiment {theirs} -o x`.\n")
    (tmp / "b").mkdir()
    mine = _write(tmp / "b", "experiment.toml", 'title = "B"\nquestions = [{id="q", text="Hi"}]\n')
    return ["experiment", mine, "-o", str(tmp)]


ASK = ["ask", "What are you?", "--max-tokens", "4"]
ROWS = [
    # models
    Row("model-missing", lambda t, c: [*ASK, "-m", str(t / "nope.gguf")], 3, "not found"),
    Row(
        "model-bad-kind",
        lambda t, c: [*ASK, "-m", "smollm2-135m-instruct@foo"],
        3,
        "'@foo' in 'smollm2-135m-instruct@foo' is not a model kind",
    ),
    # A context far past memory: the fix is a smaller n_ctx, not "check the file".
    Row(
        "model-context-too-big",
        lambda t, c: [*ASK, "-m", "smollm2-135m-instruct", "--n-ctx", "99999999"],
        3,
        "lower n_ctx",
    ),
    Row(
        "model-not-gguf",
        lambda t, c: [*ASK, "-m", _write(t, "x.gguf", "hello")],
        3,
        "not a GGUF file",
    ),
    Row("model-empty", lambda t, c: [*ASK, "-m", _write(t, "e.gguf", b"")], 3, "empty"),
    Row("model-directory", lambda t, c: [*ASK, "-m", str(t)], 3, "is a directory"),
    Row(
        "model-truncated-header",
        lambda t, c: [*ASK, "-m", _write(t, "cut.gguf", Path(_smol(c)).read_bytes()[:3000])],
        3,
        "truncated",
    ),
    Row(
        "model-truncated-tensors",
        lambda t, c: [*ASK, "-m", _write(t, "half.gguf", Path(_smol(c)).read_bytes()[:30_000_000])],
        3,
        "half.gguf is cut off: its tensors need",  # named by psmlab, not llama.cpp's long words
    ),
    # `render` loads the vocabulary only: the same clear words, and no "Exception ignored" noise
    # from a half-made loader (a trial saw both).
    Row(
        "render-truncated-tensors",
        lambda t, c: [
            "render",
            "hi",
            "-m",
            _write(t, "half.gguf", Path(_smol(c)).read_bytes()[:30_000_000]),
        ],
        3,
        "half.gguf is cut off: its tensors need",
    ),
    Row(
        "render-unknown-architecture",
        lambda t, c: [
            "render",
            "hi",
            "-m",
            _gguf_with(t, c, "arch", **{"general.architecture": "frobnicator"}),
        ],
        3,
        "unknown model architecture",
    ),
    Row(
        "model-unknown-architecture",
        lambda t, c: [
            *ASK,
            "-m",
            _gguf_with(t, c, "arch", **{"general.architecture": "frobnicator"}),
        ],
        3,
        "unknown model architecture",
    ),
    Row("model-nested-arrays", lambda t, c: [*ASK, "-m", _nested_gguf(t)], 3, "nested GGUF array"),
    Row("model-unknown-id", lambda t, c: [*ASK, "-m", "gpt-17"], 3, "unknown model 'gpt-17'"),
    # chat templates (untrusted code from the GGUF)
    Row(
        "template-raises",
        lambda t, c: [
            *ASK,
            "-m",
            _gguf_with(t, c, "raise", **{"tokenizer.chat_template": "{{ raise_exception('no') }}"}),
        ],
        4,
        "refused the transcript: no",
    ),
    Row(
        "template-loops",
        lambda t, c: [
            *ASK,
            "-m",
            _gguf_with(
                t,
                c,
                "loop",
                **{
                    "tokenizer.chat_template": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
                },
            ),
        ],
        4,
        "stopped by the sandbox",
    ),
    Row(
        "template-huge-output",
        lambda t, c: [
            *ASK,
            "-m",
            _gguf_with(t, c, "huge", **{"tokenizer.chat_template": "{{ 'x' * 999999999 }}"}),
        ],
        4,
        "stopped by the sandbox",
    ),
    Row(
        "template-python-internals",
        lambda t, c: [
            *ASK,
            "-m",
            _gguf_with(
                t,
                c,
                "evil",
                **{"tokenizer.chat_template": "{{ ''.__class__.__mro__[1].__subclasses__() }}"},
            ),
        ],
        4,
        "stopped by the sandbox",
    ),
    Row(
        "template-syntax-error",
        lambda t, c: [
            *ASK,
            "-m",
            _gguf_with(t, c, "syntax", **{"tokenizer.chat_template": "{% for %}"}),
        ],
        4,
        "the chat template of syntax is broken",
    ),
    Row("format-unknown", lambda t, c: [*ASK, "-f", "sonnet"], 4, "unknown format 'sonnet'"),
    # One model's format is checked before the other model runs, not after.
    Row(
        "format-unknown-for-one-model",
        lambda t, c: [*ASK, "-f", "gemma-3-270m=sonnet"],
        4,
        "unknown format 'sonnet'",
    ),
    # A second -f for one model was taken silently, the last one winning.
    Row(
        "format-given-twice",
        lambda t, c: [*ASK, "-m", "gemma-3-270m", "-f", "chatml", "-f", "hhh"],
        2,
        "-f chatml and -f hhh both set the format of gemma-3-270m; give gemma-3-270m one format",
    ),
    Row(
        "format-given-twice-for-one-model",
        lambda t, c: [*ASK, "-f", "gemma-3-270m=chatml", "-f", "gemma-3-270m=hhh"],
        2,
        "-f gemma-3-270m=chatml and -f gemma-3-270m=hhh both set the format of gemma-3-270m; "
        "give gemma-3-270m one format",
    ),
    Row(
        "frame-syntax-error",
        lambda t, c: [*ASK, "-m", DEMO_SMOL, "-f", _write(t, "f.toml", "user = [")],
        4,
        "not valid TOML",
    ),
    Row(
        "frame-unknown-key",
        lambda t, c: [
            *ASK,
            "-m",
            DEMO_SMOL,
            "-f",
            _write(
                t,
                "g.toml",
                'user = "U: {content}"\nassistant = "A: {content}"\nstop = ["\\nU:"]\ncolour = 1\n',
            ),
        ],
        4,
        "colour",
    ),
    # transcripts
    Row(
        "transcript-not-json",
        lambda t, c: ["ask", "-m", DEMO_SMOL, "--transcript", _write(t, "t.json", "[{")],
        5,
        "not valid JSON",
    ),
    Row(
        "transcript-invalid-role",
        lambda t, c: [
            "ask",
            "-m",
            DEMO_SMOL,
            "--transcript",
            _write(t, "t.json", '[{"role": "wizard", "content": "x"}]'),
        ],
        5,
        "role 'wizard'",
    ),
    Row(
        "transcript-empty-user",
        lambda t, c: [
            "ask",
            "-m",
            DEMO_SMOL,
            "--transcript",
            _write(t, "t.json", '[{"role": "user", "content": "  "}]'),
        ],
        5,
        "empty user message",
    ),
    Row(
        "transcript-non-utf8",
        lambda t, c: [
            "ask",
            "-m",
            DEMO_SMOL,
            "--transcript",
            _write(t, "t.json", b'[{"role": "user", "content": "\xff"}]'),
        ],
        5,
        "not UTF-8",
    ),
    Row(
        "transcript-too-long",
        lambda t, c: [
            "ask",
            "-m",
            DEMO_SMOL,
            "--n-ctx",
            "2048",
            "--transcript",
            _write(t, "long.json", json.dumps([{"role": "user", "content": "word " * 30000}])),
        ],
        6,
        "does not fit n_ctx",
    ),
    Row("message-empty", lambda t, c: ["ask", "  "], 2, "the message is empty"),
    Row(
        "probe-choice-with-prefill",
        lambda t, c: ["probe", "--set", "self-id", "--choice", "-m", DEMO_SMOL, "--prefill", "I"],
        2,
        "--choice scores option letters",
    ),
    Row(
        "probe-opening-on-an-archetype-set",
        lambda t, c: ["probe", "--set", "shutdown", "--opening", "-m", DEMO_SMOL],
        2,
        "--opening reads self-identification claims",
    ),
    Row(
        "experiment-opening-without-self-id",
        lambda t, c: [
            "experiment",
            _write(t, "e.toml", 'title = "x"\nprobes = ["shutdown"]\nopening = true\n'),
        ],
        2,
        "no probe set here has one",
    ),
    # The hint names the command given, not `ask`.
    Row("render-message-empty", lambda t, c: ["render", ""], 2, 'psmlab render "What are you?"'),
    # sessions
    Row(
        "session-truncated",
        lambda t, c: ["export", _session(t, raw=b'{"schema_version": 1, "turns": [')],
        10,
        "not valid JSON",
    ),
    Row(
        "session-not-json",
        lambda t, c: ["export", _session(t, raw=b"hello")],
        10,
        "is not a psmlab session (not JSON)",
    ),
    Row("session-zeroed", lambda t, c: ["export", _session(t, raw=b"\x00" * 64)], 10, "truncated"),
    Row(
        "session-non-utf8", lambda t, c: ["export", _session(t, raw=b"\xff\xfe{}")], 10, "not UTF-8"
    ),
    Row(
        "session-newer-schema",
        lambda t, c: ["export", _session(t, lambda d: d.update(schema_version=99))],
        10,
        "newer than this psmlab",
    ),
    Row(
        "session-missing-field",
        lambda t, c: ["export", _session(t, lambda d: d["generations"][0].pop("text"))],
        10,
        "generations.0.text",
    ),
    Row(
        "session-extra-field",
        lambda t, c: ["export", _session(t, lambda d: d.update(colour="red"))],
        10,
        "colour",
    ),
    Row(
        "session-dangling-annotation",
        lambda t, c: [
            "export",
            _session(t, lambda d: d["annotations"].append({"generation_id": "g-404"})),
        ],
        10,
        "unknown generation g-404",
    ),
    Row(
        "session-unknown-generation",
        lambda t, c: ["annotate", _session(t), "g-404", "-l", "void"],
        2,  # an id typed wrong is a usage error; the session file is fine
        "no generation 'g-404'",
    ),
    Row(
        "session-unknown-branch",
        lambda t, c: ["export", _session(t), "--branch", "zzz"],
        2,  # a mistyped turn id, like a generation id, is a usage error
        "no turn 'zzz'",
    ),
    Row(
        "annotation-unknown-archetype",
        lambda t, c: ["annotate", _session(t), "g-1", "-l", "hal-10000"],
        2,
        "unknown persona archetype",
    ),
    Row(
        "annotation-bad-evidence",
        lambda t, c: ["annotate", _session(t), "g-1", "-l", "void", "--evidence", "9:2"],
        2,
        "--evidence",
    ),
    Row(
        "annotation-evidence-past-the-text",
        lambda t, c: ["annotate", _session(t), "g-1", "-l", "void", "--evidence", "0:9999"],
        2,
        "ends past the text",
    ),
    Row(
        "annotation-quote-without-a-label",
        lambda t, c: ["annotate", _session(t), "g-1", "--quote", "not in the text"],
        2,
        "--quote marks the evidence for a label, and no label is given",
    ),
    # agreement
    Row(
        "agreement-one-session-source-alone",
        lambda t, c: [
            "agreement",
            _session(
                t,
                lambda d: d["annotations"].append(
                    {"generation_id": "g-1", "annotator": "alice", "self_id": "ai"}
                ),
            )
            + ":alice",
        ],
        2,
        "is one label source, and one alone has nothing to agree with; give a second source",
    ),
    Row(
        "agreement-reference-fields-named-otherwise",
        lambda t, c: [
            "agreement",
            _write(t, "a.jsonl", '{"id": "x0", "self_id": "ai"}\n'),
            _write(t, "b.jsonl", '{"key": "x0", "label": "AI"}\n'),
        ],
        2,
        "lacks 'self_id' (its fields: 'key', 'label'); name the fields holding its ids and its "
        "labels: --reference-key key --reference-field label",
    ),
    Row(
        # Labels of another codebook ("high") read as no self-id class: the lone field that
        # is not the item's id or text is still named (it said --field LABEL_FIELD).
        "agreement-labels-in-a-field-of-another-codebook",
        lambda t, c: [
            "agreement",
            _write(t, "a.jsonl", '{"id": 1, "text": "I am a nurse.", "severity": "high"}\n'),
            _write(t, "b.jsonl", '{"id": 1, "self_id": "human"}\n'),
        ],
        2,
        "lacks 'self_id' (its fields: 'id', 'text', 'severity'); name the fields holding its "
        "labels: --field severity",
    ),
    # experiments, evals, config
    Row(
        "experiment-syntax-error",
        lambda t, c: ["experiment", _write(t, "e.toml", "title = ")],
        2,
        "experiment file",
    ),
    Row(
        "experiment-unknown-key",
        lambda t, c: ["experiment", _write(t, "e.toml", 'title = "x"\ncolour = 1\n')],
        2,
        "colour",
    ),
    Row(  # a typo names the field it is likely a typo of
        "experiment-misspelt-key",
        lambda t, c: ["experiment", _write(t, "e.toml", 'title = "x"\nsampels = 2\n')],
        2,
        "line 2, 'sampels' is not a field (did you mean 'samples'?)",
    ),
    Row(  # a key of a nested table written at the top: said where it goes, not a typo
        "experiment-nested-key-at-the-top",
        lambda t, c: ["experiment", _write(t, "e.toml", 'title = "x"\nsteer = "v.gguf"\n')],
        2,
        "line 2, 'steer' is not a field here (it belongs in a [[contexts]] entry; or did you mean 'seeds'?)",
    ),
    Row(  # the lab's own limits, when the file is read (it failed mid-run with a traceback-like
        # pydantic dump after the progress line had started)
        "experiment-value-the-lab-refuses",
        lambda t, c: [
            "experiment",
            _write(
                t, "e.toml", 'title = "x"\ntemperature = 7\nquestions = [{id="q", text="Hi"}]\n'
            ),
        ],
        2,
        "'temperature': Input should be less than or equal to 5",
    ),
    Row(
        "experiment-empty-question",
        lambda t, c: [
            "experiment",
            _write(t, "e.toml", 'title = "x"\nquestions = [{id="q", text=" "}]\n'),
        ],
        2,
        "a question's text is empty",
    ),
    Row(
        "experiment-unknown-format",
        lambda t, c: [
            "experiment",
            _write(
                t, "e.toml", 'title = "x"\nformats = ["bogus"]\nquestions = [{id="q", text="Hi"}]\n'
            ),
        ],
        4,
        "formats list an unknown format 'bogus'; in the experiment file choose one of: default ",
    ),
    Row(
        "experiment-question-as-text",
        # pydantic said "a valid dictionary or instance of Question": the shape is said instead
        lambda t, c: ["experiment", _write(t, "e.toml", 'title = "x"\nquestions = ["Hi?"]\n')],
        2,
        "'questions.0': write it as a table, { id = ..., text = ... } (it is 'Hi?')",
    ),
    Row(
        "experiment-models-as-text",
        lambda t, c: ["experiment", _write(t, "e.toml", 'title = "x"\nmodels = "m"\n')],
        2,
        "'models': write a list, [ ... ] (it is 'm')",
    ),
    Row(
        "experiment-no-file",
        lambda t, c: ["experiment"],
        2,
        "give an experiment file; psmlab experiment --example > mine.toml writes one",
    ),
    Row(
        "experiment-nothing-to-run",
        lambda t, c: ["experiment", _write(t, "e.toml", 'title = "x"\n')],
        2,
        "nothing to run",
    ),
    Row(
        "experiment-folder-of-another",
        lambda t, c: _folder_of_another(t),
        2,
        "holds the results of another experiment (Their_run, made by theirs.toml)",
    ),
    Row(
        "experiment-folder-of-the-user",
        lambda t, c: _folder_of_the_user(t),
        2,
        "holds report.md, summary.csv that psmlab experiment did not write",
    ),
    Row(
        "experiment-folder-of-a-namesake",
        lambda t, c: _folder_of_a_namesake(t),
        2,
        "holds the results of another experiment (A, made by",
    ),
    Row(
        "experiment-out-is-a-file",
        lambda t, c: [
            "experiment",
            _write(t, "mine.toml", 'title = "M"\nquestions = [{id="q", text="Hi"}]\n'),
            "-o",
            _write(t, "taken.txt", "mine\n"),
        ],
        2,
        "is a file, not a folder",
    ),
    Row(
        # Found when the file was written, after every generation ran (an internal error).
        "vectors-out-cannot-be-written",
        lambda t, c: [
            "vectors",
            "build",
            "hal-9000",
            "-m",
            "smollm2-135m-instruct",
            "-o",
            "/proc/psmlab-vectors",
        ],
        2,
        "-o /proc/psmlab-vectors: cannot write there",
    ),
    Row(
        "ask-repeat-penalty-out-of-range",
        lambda t, c: [*ASK, "--repeat-penalty", "0"],
        2,
        "--repeat-penalty 0.0 is out of range; give --repeat-penalty a value above 0 and at most 5",
    ),
    Row(
        "evals-pretty-printed-items",
        lambda t, c: [
            "evals",
            _write(
                t,
                "e.jsonl",
                '{\n  "question": "Q? (A) x (B) y",\n  "answer_matching_behavior": " (A)",\n'
                '  "answer_not_matching_behavior": " (B)"\n}\n',
            ),
        ],
        2,
        "holds 1 item(s) written over several lines each, not one per line",
    ),
    Row(
        "evals-no-usable-lines",
        lambda t, c: ["evals", _write(t, "e.jsonl", "{oops\n[]\n")],
        2,
        "no usable items",
    ),
    Row(
        "config-syntax-error",
        lambda t, c: ["models", "--json", "--config-env", _write(t, "c.toml", "[models.x")],
        7,
        "not valid TOML",
    ),
    Row(
        "config-unknown-key",
        lambda t, c: [
            "models",
            "--json",
            "--config-env",
            _write(t, "c.toml", '[models.x]\npath = "a.gguf"\ncolour = 1\n'),
        ],
        7,
        "colour",
    ),
    Row(  # a model's key at the top of the file: the mapping's table named
        "config-model-key-at-the-top",
        lambda t, c: ["models", "--json", "--config-env", _write(t, "c.toml", 'path = "a.gguf"\n')],
        7,
        "line 1, 'path' is not a field here (it belongs in a [models.NAME] entry)",
    ),
    Row(
        "config-path-and-url",
        lambda t, c: [
            "models",
            "--json",
            "--config-env",
            _write(t, "c.toml", '[models.x]\npath = "a.gguf"\nurl = "http://127.0.0.1:1/v1"\n'),
        ],
        7,
        "give exactly one of path (a .gguf file) or url (a server)",
    ),
    Row(
        "config-server-field-on-a-file",
        lambda t, c: [
            "models",
            "--json",
            "--config-env",
            _write(t, "c.toml", '[models.x]\npath = "a.gguf"\napi_key_env = "K"\n'),
        ],
        7,
        "need url",
    ),
    Row(
        "server-unreachable",
        lambda t, c: ["ask", "Hi", "-m", "http://127.0.0.1:1/v1#m"],
        14,
        "cannot reach http://127.0.0.1:1/v1: connection refused (after 4 attempts)",
    ),
    Row(
        "server-url-with-credentials",
        lambda t, c: ["ask", "Hi", "-m", "http://me:secret@127.0.0.1:1/v1#m"],
        3,
        "has credentials in it",
    ),
    # Click's own usage errors get psmlab's one line too (they were three: usage, hint, error).
    Row(
        "option-out-of-range",
        lambda t, c: ["evals", _write(t, "e.jsonl", "{}\n"), "--limit", "0"],
        2,
        # (`python -m psmlab` names itself so: the help command shown is one that runs)
        "psmlab: error: Invalid value for '--limit': Input should be greater than or equal to 1; "
        "see 'python -m psmlab evals --help'",
    ),
    Row("unknown-option", lambda t, c: ["ask", "Hi", "--nope"], 2, "No such option: --nope"),
    Row("missing-argument", lambda t, c: ["agreement"], 2, "Missing argument 'source'"),
    Row(
        "server-chat-on-a-local-model",
        lambda t, c: ["ask", "Hi", "-m", DEMO_SMOL, "-f", "server-chat"],
        4,
        "is a local model",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row: Row, tmp_path: Path, demo_pair) -> None:
    ctx = {"smol": demo_pair[1].path}
    args = row.make(tmp_path, ctx)
    env = {}
    if "--config-env" in args:  # the config file comes from the environment, as users set it
        i = args.index("--config-env")
        env["PSMLAB_CONFIG"] = args[i + 1]
        args = args[:i] + args[i + 2 :]
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    proc = run_cli(*args, env=env)
    assert proc.returncode == row.code, (proc.returncode, proc.stderr[-800:])
    assert row.needle in proc.stderr, proc.stderr[-800:]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "Exception ignored" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("psmlab: error")]
    assert len(lines) >= 1 and all(len(ln) < 600 for ln in lines), proc.stderr[-800:]
    assert "Usage:" not in proc.stderr and "Try '" not in proc.stderr
    assert {p: p.read_bytes() for p in before} == before  # inputs are never rewritten


def test_a_run_torn_in_its_first_write_resumes_in_its_own_folder(tmp_path: Path) -> None:
    """A full disk during the first unit leaves a cut first row and no report: the folder is
    the experiment's own (the results file drops the torn row), not the user's."""
    from psmlab.core.errors import UsageError
    from psmlab.core.measure.experiment_rows import check_owner

    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_bytes(b'{"key": "sample|smollm2-135m-instruct|templ')
    check_owner(out, "Mine", tmp_path / "mine.toml")  # no error
    (out / "results.jsonl").write_text("a,b\n1,2\n")  # a file of the user's: refused
    with pytest.raises(UsageError, match=r"holds results\.jsonl that psmlab experiment did not"):
        check_owner(out, "Mine", tmp_path / "mine.toml")


def test_an_experiments_units_that_fail_on_a_template_are_said_to_fail_again(
    tmp_path: Path, demo_pair
) -> None:
    """A unit whose chat template refuses its prompt records the error's kind ("format"): the
    command says a retry fails again and names the fix (it once read the error's words)."""
    model = _gguf_with(
        tmp_path,
        {"smol": demo_pair[1].path},
        "refuses",
        **{"tokenizer.chat_template": "{{ raise_exception('no') }}"},
    )
    exp = tmp_path / "e.toml"
    exp.write_text(
        f'title = "t"\nmodels = ["{model}", "{DEMO_SMOL}"]\nformats = ["template"]\n'
        'questions = [{ id = "q", text = "What are you?" }]\n'
        "samples = 1\nseeds = [1]\nmax_tokens = 4\n"
    )
    proc = run_cli("experiment", str(exp), "-o", str(tmp_path / "out"))
    assert proc.returncode == 9, proc.stderr[-800:]
    assert "1 of them failed on a chat template, which fails again" in proc.stderr
    rows = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    kinds = sorted(r.get("error_kind", "-") for r in rows)
    assert kinds == ["-", "template"], rows
